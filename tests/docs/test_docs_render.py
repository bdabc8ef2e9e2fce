"""The built documentation renders its equations offline (slow: builds the site)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KATEX = ROOT / "docs" / "_vendor" / "katex" / "katex.min.js"


def _chromium() -> str | None:
    return next(
        (
            p
            for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome"))
            if p
        ),
        None,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    if not KATEX.exists():
        pytest.skip("KaTeX is not vendored yet: run `make docs` once (it copies the npm package)")
    out = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    return out


@pytest.mark.slow
def test_site_loads_nothing_from_the_network(site):
    external = set()
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        external |= set(re.findall(r'(?:src|href)="(https?://[^"]+\.(?:js|css))"', text))
    assert not external, sorted(external)


@pytest.mark.slow
def test_equations_render_in_headless_chromium(site):
    browser = _chromium()
    if browser is None:
        pytest.skip("no Chromium (apt-get install chromium)")
    page = site / "clv" / "index.html"
    raw = page.read_text(encoding="utf-8")
    assert 'class="arithmatex"' in raw and "katex" not in raw.split("<body", 1)[1][:200]
    dom = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--allow-file-access-from-files",
            "--virtual-time-budget=5000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    rendered = dom.count('class="katex"')
    # every inline and display equation of the page is typeset by KaTeX, without errors
    assert rendered >= raw.count('class="arithmatex"') > 0
    assert "katex-error" not in dom
    assert dom.count('class="katex-display"') >= 1
