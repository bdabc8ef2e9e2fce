"""Investment specs (Python, TOML, YAML, JSON, CSV) and the finance report (HTML + CSV)."""

from __future__ import annotations

import json
import shutil
import subprocess
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
    load_investments,
    select_portfolio,
    sensitivity,
    write_report,
    write_tables,
)

TOML = """
[[investments]]
name = "Faster support"
cost = 250000
ramp_periods = 8
target = "contacted == 1"
shifts = [{column = "wait_minutes", mode = "relative", amount = -0.3, sd = 0.05}]

[[investments]]
name = "Complaint recovery"
cost = {0 = 100000, 12 = 50000}
shifts = [{column = "complaints", mode = "relative", amount = -0.5}]
[investments.evidence]
kind = "experiment"
source = "AB-2025-07"
coefficients = {"dropout[complaints]" = [0.3, 0.1]}
"""

CSV = """name,cost,column,mode,amount,sd,target,evidence_kind,coefficient,coefficient_mean,\
coefficient_se
Faster support,250000,wait_minutes,relative,-0.3,0.05,contacted == 1,,,,
Complaint recovery,100000,complaints,relative,-0.5,,,experiment,dropout[complaints],0.3,0.1
"""


def test_investment_files_round_trip(tmp_path: Path) -> None:
    (tmp_path / "inv.toml").write_text(TOML)
    invs = load_investments(tmp_path / "inv.toml")
    assert [i.name for i in invs] == ["Faster support", "Complaint recovery"]
    assert invs[0].shifts[0] == Shift("wait_minutes", "relative", -0.3, 0.05)
    assert invs[1].cost_schedule == {0: 100000.0, 12: 50000.0}
    assert invs[1].grade == "A" and invs[0].grade == "C"
    (tmp_path / "inv.json").write_text(json.dumps({"investments": [i.to_dict() for i in invs]}))
    assert load_investments(tmp_path / "inv.json") == invs
    yaml = pytest.importorskip("yaml")
    (tmp_path / "inv.yaml").write_text(yaml.safe_dump({"investments": [i.to_dict() for i in invs]}))
    assert load_investments(tmp_path / "inv.yaml") == invs
    (tmp_path / "inv.csv").write_text(CSV)
    from_csv = load_investments(tmp_path / "inv.csv")
    assert from_csv[0].shifts == invs[0].shifts and from_csv[0].target == invs[0].target
    assert from_csv[1].evidence.coefficients == {"dropout[complaints]": (0.3, 0.1)}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cost": -5}, "cost periods must be whole numbers >= 0 and amounts finite"),
        ({"cost": 0}, "total cost must be > 0"),
        ({"shifts": []}, "non-empty list of Shift"),
        ({"ramp_periods": -1}, "ramp_periods must be a whole number"),
        ({"duration": 0}, "duration must be a whole number >= 1"),
        ({"target": 3}, "target must be"),
        ({"cost_sd": -0.1}, "cost_sd must be >= 0"),
    ],
)
def test_investment_validation(kwargs: dict, message: str) -> None:
    base = {"name": "x", "cost": 1.0, "shifts": [Shift("a", "add", 1.0)]}
    with pytest.raises(ValueError, match=message):
        Investment(**{**base, **kwargs})


def test_shift_and_evidence_validation() -> None:
    with pytest.raises(ValueError, match="mode"):
        Shift("a", "multiply", 2.0)
    with pytest.raises(ValueError, match="finite"):
        Shift("a", "add", float("nan"))
    with pytest.raises(ValueError, match="needs coefficients"):
        Evidence("experiment")
    with pytest.raises(ValueError, match="uses the fitted coefficients"):
        Evidence("observational", {"dropout[a]": (0.1, 0.1)})
    with pytest.raises(ValueError, match="se >= 0"):
        Evidence.assumption({"dropout[a]": (0.1, -1.0)})


def test_bad_files_name_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("name,cost,column,mode,amount\n,5,a,add,1\n")
    with pytest.raises(ValueError, match=r"bad\.csv line 2: column 'name' is empty"):
        load_investments(bad)
    dup = tmp_path / "dup.toml"
    dup.write_text(TOML.replace("Complaint recovery", "Faster support"))
    with pytest.raises(ValueError, match="unique"):
        load_investments(dup)
    unknown = tmp_path / "x.txt"
    unknown.write_text("")
    with pytest.raises(ValueError, match="unknown investment file type"):
        load_investments(unknown)
    typo = tmp_path / "typo.toml"
    typo.write_text(TOML.replace("ramp_periods", "ramp"))
    with pytest.raises(ValueError, match=r"typo\.toml: unknown investment field"):
        load_investments(typo)


@pytest.fixture(scope="module")
def result():
    data = load_cdnow_summary_with_spend().copy()
    gen = np.random.default_rng(5)
    data["wait_minutes"] = gen.gamma(2.0, 3.0, len(data))
    data["complaints"] = gen.poisson(0.3, len(data)).astype(float)
    invs = [
        Investment(
            "Faster support",
            cost=300.0,
            shifts=[Shift("wait_minutes", "relative", -0.3)],
            evidence=Evidence.assumption({"dropout[wait_minutes]": (0.05, 0.02)}),
        ),
        Investment(
            "Complaint recovery",
            cost=200.0,
            shifts=[Shift("complaints", "relative", -0.5)],
            evidence=Evidence.experiment({"dropout[complaints]": (0.3, 0.1)}, source="AB-1"),
        ),
    ]
    return evaluate_investments(
        invs,
        transaction_model=ParetoNBDModel().fit(data),
        spend_model=GammaGammaModel().fit(data),
        data=data,
        horizon=26,
        discount_rate=0.002,
        margin=0.3,
        n_draws=20,
    )


def test_report_and_tables(result, tmp_path: Path, close_figures) -> None:
    sens = sensitivity(result)
    pf = select_portfolio(result, 400.0)
    path = write_report(
        result, tmp_path / "out" / "report.html", sensitivity=sens, portfolio=pf, currency="USD"
    )
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>")
    assert "http://" not in text and "https://" not in text and "<script" not in text
    assert text.count("data:image/png;base64,") == 4 + 2  # 4 charts + one tornado each
    for name in ("Faster support", "Complaint recovery", "AB-1", "Evidence grade", "Payback"):
        assert name in text
    files = write_tables(result, tmp_path / "out", sensitivity=sens, portfolio=pf)
    assert sorted(p.name for p in files) == [
        "roi.csv",
        "roi_cash_flows.csv",
        "roi_portfolio.csv",
        "roi_sensitivity.csv",
    ]
    table = pd.read_csv(tmp_path / "out" / "roi.csv", index_col="rank")
    np.testing.assert_allclose(table["npv_mean"], result.table()["npv_mean"], rtol=1e-5)
    assert list(tmp_path.glob("out/.*")) == []  # no temporary files left


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(
    _chromium() is None,
    reason="headless Chromium is not installed (.ci/run installs Debian's chromium package)",
)
def test_report_renders_in_headless_chromium(result, tmp_path: Path, close_figures) -> None:
    path = write_report(result, tmp_path / "report.html", sensitivity=sensitivity(result))
    # chromium keeps a profile in HOME; give it a private one
    proc = subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-extensions",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert dom.count("<table") >= 2
    assert dom.count("<img") == 6
    assert "The decision" in dom and "Complaint recovery" in dom
    # the browser decoded the embedded figures: an image that fails to load has no natural size
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={tmp_path / 'profile2'}",
            f"--screenshot={shot}",
            "--window-size=1200,2000",
            path.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert shot.exists() and shot.stat().st_size > 10_000


REFERRAL_TOML = """
[[investments]]
name = "Referral programme"
cost = 12000
duration = 12
description = "Referral rewards: +10 points (±3) of promoter share for a year."
shifts = [{column = "promoter_share", mode = "add", amount = 0.10, sd = 0.03}]

[[investments]]
name = "Referral (tested)"
cost = 12000
duration = 12
shifts = [{column = "promoter_share", mode = "add", amount = 0.10}]

[investments.evidence]
kind = "experiment"
source = "market test"
coefficients = {"acquisition[promoter_share]" = [0.8, 0.2]}
"""

REFERRAL_CSV = (
    "name,cost,column,mode,amount,sd,duration,evidence_kind,evidence_source,coefficient,"
    "coefficient_mean,coefficient_se\n"
    "Referral programme,12000,promoter_share,add,0.10,0.03,12,,,,,\n"
    "Referral (tested),12000,promoter_share,add,0.10,,12,experiment,market test,"
    "acquisition[promoter_share],0.8,0.2\n"
)


def test_investment_files_express_acquisition_shifts(tmp_path: Path) -> None:
    """A shift of an acquisition covariate and an acquisition[...] coefficient, in every format."""
    (tmp_path / "inv.toml").write_text(REFERRAL_TOML)
    invs = load_investments(tmp_path / "inv.toml")
    assert list(invs[0].shifts) == [Shift("promoter_share", "add", 0.10, sd=0.03)]
    assert invs[0].duration == 12
    assert invs[1].evidence.coefficients == {"acquisition[promoter_share]": (0.8, 0.2)}
    assert invs[1].grade == "A"
    (tmp_path / "inv.csv").write_text(REFERRAL_CSV)
    from_csv = load_investments(tmp_path / "inv.csv")
    for a, b in zip(from_csv, invs, strict=True):
        assert (a.shifts, a.duration, a.evidence.coefficients) == (
            b.shifts,
            b.duration,
            b.evidence.coefficients,
        )
    (tmp_path / "inv.json").write_text(json.dumps({"investments": [i.to_dict() for i in invs]}))
    assert load_investments(tmp_path / "inv.json") == invs
    yaml = pytest.importorskip("yaml")
    (tmp_path / "inv.yaml").write_text(yaml.safe_dump({"investments": [i.to_dict() for i in invs]}))
    assert load_investments(tmp_path / "inv.yaml") == invs


def test_investment_names_that_look_like_formulas_are_written_as_text(tmp_path: Path) -> None:
    data = load_cdnow_summary_with_spend().copy()
    data["complaints"] = np.random.default_rng(2).poisson(0.3, len(data)).astype(float)
    names = ["=cmd|' /C calc'!A0", "@SUM(1+1)"]
    invs = [
        Investment(
            name,
            cost=100.0,
            shifts=[Shift("complaints", "relative", -0.5)],
            evidence=Evidence.assumption({"dropout[complaints]": (0.3, 0.1)}),
        )
        for name in names
    ]
    result = evaluate_investments(
        invs,
        transaction_model=ParetoNBDModel().fit(data),
        spend_model=GammaGammaModel().fit(data),
        data=data,
        horizon=6,
        discount_rate=0.002,
        margin=0.3,
        n_draws=5,
    )
    files = write_tables(result, tmp_path)
    for path in files:
        cells = {c for row in path.read_text().splitlines() for c in row.split(",")}
        assert not any(c.startswith(("=", "@")) for c in cells), path.name
    table = pd.read_csv(tmp_path / "roi.csv")
    assert set(table["investment"]) == {"'" + n for n in names}
