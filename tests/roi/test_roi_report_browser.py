"""The finance report in a headless browser: the decision on the first screen, no injection."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clv.data.datasets import load_cdnow_summary_with_spend
from clv.models import GammaGammaModel, ParetoNBDModel
from clv.roi import (
    Evidence,
    Investment,
    Shift,
    evaluate_investments,
    select_portfolio,
    sensitivity,
    write_report,
)
from clv.roi._report_view import format_money

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(1)>"
WIDTH, HEIGHT = 1280, 800


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


needs_chromium = pytest.mark.skipif(
    _chromium() is None,
    reason="headless Chromium is not installed (.ci/run installs Debian's chromium package)",
)


def _browser(page: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess:
    # chromium keeps a profile in HOME; give it a private one per call
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    return subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-extensions",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            f"--window-size={WIDTH},{HEIGHT}",
            "--virtual-time-budget=5000",
            *args,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class _Tags(HTMLParser):
    """Every element and attribute of a document, as the parser sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(doc: str) -> _Tags:
    parser = _Tags()
    parser.feed(doc)
    return parser


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    data = load_cdnow_summary_with_spend().copy()
    gen = np.random.default_rng(5)
    data["wait_minutes"] = gen.gamma(2.0, 3.0, len(data))
    data["complaints"] = gen.poisson(0.3, len(data)).astype(float)
    return data


@pytest.fixture(scope="module")
def models(data):
    return ParetoNBDModel().fit(data), GammaGammaModel().fit(data)


INVESTMENTS = [
    Investment(
        "Faster support",
        cost=80.0,
        shifts=[Shift("wait_minutes", "relative", -0.3)],
        target="wait_minutes > 2",
        ramp_periods=4,
        evidence=Evidence.assumption({"dropout[wait_minutes]": (0.05, 0.02)}),
    ),
    Investment(
        "Complaint recovery",
        cost=50.0,
        shifts=[Shift("complaints", "relative", -0.5)],
        evidence=Evidence.experiment({"dropout[complaints]": (0.3, 0.1)}, source="AB-1"),
    ),
    Investment(
        "Loyalty mailing",
        cost=150.0,
        shifts=[Shift("complaints", "add", -0.1)],
        evidence=Evidence.assumption({"dropout[complaints]": (0.1, 0.1)}),
    ),
]


@pytest.fixture(scope="module")
def result(data, models):
    tm, sm = models
    return evaluate_investments(
        INVESTMENTS,
        transaction_model=tm,
        spend_model=sm,
        data=data,
        horizon=26,
        discount_rate=0.0018,
        margin=0.3,
        n_draws=20,
    )


MEASURE = """<script>
const box = e => {
  const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom];
};
const out = {viewport: [innerWidth, innerHeight], scrollY: scrollY};
for (const id of ["funded", "npv", "recommendations", "caveats"]) {
  const e = document.getElementById(id);
  out[id] = {box: box(e), text: e.textContent};
}
out.items = Array.from(document.querySelectorAll("#recommendations li")).map(
  e => ({box: box(e), text: e.textContent}));
const pre = document.createElement("pre"); pre.id = "measured";
pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
</script>"""


def _measure(report: Path, tmp: Path) -> dict:
    """Element positions at 1280x800: a copy of the report with a measuring script (the
    report's own policy forbids scripts, so the copy drops it)."""
    doc = report.read_text(encoding="utf-8")
    doc = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", doc)
    probe = tmp / "probe.html"
    probe.write_text(doc.replace("</body>", MEASURE + "</body>"), encoding="utf-8")
    proc = _browser(probe, tmp, "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = re.search(r'<pre id="measured">(.*?)</pre>', proc.stdout, re.S)
    assert m, proc.stdout[-2000:]
    return json.loads(html.unescape(m.group(1)))


def _visible(box: list[float]) -> bool:
    left, top, right, bottom = box
    return left >= 0 and top >= 0 and right <= WIDTH and top < bottom <= HEIGHT


@needs_chromium
def test_first_screen_shows_the_decision(result, tmp_path, close_figures) -> None:
    pf = select_portfolio(result, 140.0, eligible="all")
    assert pf.chosen  # the budget funds something
    plain = result.table().drop(columns=["recommendation", "reason"])  # the funded/not view
    report = write_report(
        result,
        tmp_path / "report.html",
        portfolio=pf,
        table=plain,
        sensitivity=sensitivity(result),
        currency="EUR",
    )
    m = _measure(report, tmp_path)
    # the window's chrome takes some height in --dump-dom mode; the layout depends on the width
    # only (no viewport-height units), so page positions above 800 px are the first screen
    assert m["viewport"][0] == WIDTH and m["scrollY"] == 0
    for part in ("funded", "npv", "recommendations", "caveats"):
        assert _visible(m[part]["box"]), (part, m[part]["box"])
    for name in pf.chosen:
        assert name in m["funded"]["text"]
    s = pf.summary()
    for value in (s["npv_mean"], s["npv_p05"], s["npv_p95"]):
        assert format_money(value, "EUR") in m["npv"]["text"]
    assert len(m["items"]) == len(INVESTMENTS)
    for inv in INVESTMENTS:
        item = next(i for i in m["items"] if inv.name in i["text"])
        assert _visible(item["box"]), (inv.name, item["box"])
        badge = "funded" if inv.name in pf.chosen else "not funded"
        assert item["text"].startswith(badge) and "expected NPV" in item["text"]
    assert m["caveats"]["text"].count("\n") >= 3
    # the screenshot a reader sees first
    shot = tmp_path / "first_screen.png"
    proc = _browser(report, tmp_path, f"--screenshot={shot}")
    assert proc.returncode == 0 and shot.stat().st_size > 20_000


@needs_chromium
def test_first_screen_shows_recommendations_and_grade_split(
    result, tmp_path, close_figures
) -> None:
    table = result.table()
    table["recommendation"] = ["fund", "test first", "do not fund"][: len(table)]
    table["reason"] = [
        "pays back in every draw",
        "effect is an assumption",
        "loses money in most draws",
    ][: len(table)]
    for g in "ABC":
        table[f"npv_grade_{g}"] = table["npv_mean"] / 3
    report = write_report(result, tmp_path / "report.html", table=table, currency="USD")
    m = _measure(report, tmp_path)
    assert "No budget was given" in m["funded"]["text"]
    assert _visible(m["funded"]["box"]) and _visible(m["recommendations"]["box"])
    texts = [i["text"] for i in m["items"]]
    for (_, row), text in zip(table.iterrows(), texts, strict=True):
        assert row["recommendation"] in text and row["reason"] in text
    doc = report.read_text(encoding="utf-8")
    assert "Expected NPV by evidence grade" in doc and ">Recommendation<" in doc


def test_report_without_optional_columns_and_budget(result, tmp_path, close_figures) -> None:
    """No recommendation column, no budget: the report says so, computes neither; the
    NPV split by evidence grade (always in the finance table) is shown."""
    plain = result.table().drop(columns=["recommendation", "reason"])
    doc = write_report(result, tmp_path / "r.html", table=plain).read_text(encoding="utf-8")
    assert "No budget was given" in doc
    assert ">Recommendation<" not in doc and "by evidence grade" in doc
    assert "half the total cost" not in doc
    text = " ".join(_parse(doc).text).replace("\u00a0", " ")
    assert (result.table()["p_roi_positive"] == 0).any()  # a finite-draw 0 % ...
    assert "< 1 % chance of a positive return" in text  # ... is shown as "< 1 %"
    assert not re.search(r"(?<![<>] )\b(0|100) % chance", text)
    assert "currency units" in doc  # no currency given: said so
    assert "a year" in doc and "a month" not in doc  # 26 weeks: annual rate with weekly rate
    assert "wait_minutes > 2" not in doc and "wait time (minutes) is above 2" in doc


def test_payloads_render_as_text(data, models, tmp_path, close_figures) -> None:
    tm, sm = models
    frame = data.copy()
    frame[IMG] = frame["complaints"]
    frame[SCRIPT] = np.where(np.arange(len(frame)) % 2 == 0, IMG, "plain")
    invs = [
        Investment(
            f"Support {SCRIPT}",
            cost=300.0,
            shifts=[Shift(IMG, "relative", -0.3)],
            target={SCRIPT: [IMG]},
            description=f"desc {IMG}",
            evidence=Evidence.assumption({f"dropout[{IMG}]": (0.2, 0.05)}, source=SCRIPT),
        ),
        Investment(
            f"Other {IMG}",
            cost=200.0,
            shifts=[Shift(IMG, "add", -0.2)],
            label=f"Label {SCRIPT}",
            evidence=Evidence.experiment(
                {f"dropout[{IMG}]": (0.3, 0.1)}, source="'\"><svg onload=alert(1)>"
            ),
        ),
    ]
    res = evaluate_investments(
        invs,
        transaction_model=tm,
        spend_model=sm,
        data=frame,
        horizon=12,
        discount_rate=0.002,
        margin=0.3,
        n_draws=8,
    )
    table = res.table()
    table["recommendation"] = [SCRIPT, "fund"]
    table["reason"] = [IMG, f"because {SCRIPT}"]
    table[f"npv_grade_{IMG}"] = 1.0
    report = write_report(
        res,
        tmp_path / "evil.html",
        sensitivity=sensitivity(res),
        portfolio=select_portfolio(res, 1e6),
        currency=SCRIPT,
        title=f"Title {SCRIPT}",
        notes=[IMG],
        model_notes=[SCRIPT],
        table=table,
        data_period=IMG,
        settings={SCRIPT: IMG},
    )
    doc = report.read_text(encoding="utf-8")
    _assert_inert(doc)
    text = "".join(_parse(doc).text)
    for payload in (SCRIPT, IMG, f"Support {SCRIPT}", f"Label {SCRIPT}", f"desc {IMG}"):
        assert payload in text, payload
    if _chromium() is not None:  # the browser's parse of the file, not only Python's
        proc = _browser(report, tmp_path, "--dump-dom")
        assert proc.returncode == 0, proc.stderr[-2000:]
        _assert_inert(proc.stdout)
        assert SCRIPT in "".join(_parse(proc.stdout).text)


def _assert_inert(doc: str) -> None:
    parsed = _parse(doc)
    tags = [t for t, _ in parsed.tags]
    assert "script" not in tags and "svg" not in tags and "iframe" not in tags
    for tag, attrs in parsed.tags:
        assert not any(a.lower().startswith("on") for a in attrs), (tag, attrs)
        if tag == "img":
            assert (attrs.get("src") or "").startswith("data:image/png;base64,"), attrs
