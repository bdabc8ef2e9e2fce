"""Every Python snippet of README.md runs as written, on the bundled data.

A snippet is skipped only when an HTML comment ``<!-- readme-test: skip -->``
(e.g. it needs your own files) precedes it; ``<!-- readme-test: slow -->``
marks one that belongs to the slow tier.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

from clv.exceptions import DataWarning

README = Path(__file__).resolve().parents[1] / "README.md"
_BLOCK = re.compile(
    r"(?:<!--\s*readme-test:\s*(?P<mark>\w+)[^>]*-->\s*\n)?```python\n(?P<code>.*?)```", re.DOTALL
)


def _snippets() -> list:
    params = []
    for m in _BLOCK.finditer(README.read_text(encoding="utf-8")):
        mark = m.group("mark")
        marks = {
            "skip": [pytest.mark.skip(reason="the README marks it as needing external files")],
            "slow": [pytest.mark.slow],
        }.get(mark or "", [])
        line = README.read_text(encoding="utf-8")[: m.start("code")].count("\n") + 1
        params.append(pytest.param(m.group("code"), id=f"README.md:{line}", marks=marks))
    return params


def test_readme_has_python_snippets():
    assert len(_snippets()) >= 2


@pytest.mark.parametrize("code", _snippets())
def test_readme_snippet_runs(code, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # snippets that write files write them here
    namespace: dict = {"__name__": "__readme__"}
    compiled = compile(code, str(README), "exec")
    with warnings.catch_warnings():
        # the bundled data has exact duplicate rows and customers first seen on the last
        # day: rfm_summary says so with DataWarnings, which the README does not silence
        warnings.simplefilter("ignore", DataWarning)
        exec(compiled, namespace)  # the project's own README, not user input
