"""The library never imports its command line (the full layer contract is `lint-imports`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import clv

ROOT = Path(clv.__file__).parents[1]


def _cli_modules_after(statement: str) -> list[str]:
    """``clv.cli`` modules in ``sys.modules`` after running ``statement`` in a fresh interpreter."""
    code = (
        f"import sys; {statement}; "
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('clv.cli'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return out.stdout.split()


@pytest.mark.parametrize(
    "statement",
    [
        "import clv",
        "import clv.scoring.bundle, clv.scoring.tables, clv.scoring.posterior, "
        "clv.scoring.posterior_scores, clv.spark",
    ],
)
def test_library_imports_no_cli_module(statement: str) -> None:
    assert _cli_modules_after(statement) == []


def test_the_probe_sees_cli_modules() -> None:
    # the check above can fail: importing the command line shows up
    assert "clv.cli.main" in _cli_modules_after("import clv.cli.main")
