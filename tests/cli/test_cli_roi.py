"""``clv roi`` / ``clv report``: the CX-to-ROI job from files, its outputs and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from clv.cli.main import main
from clv.cx.analysis import run_cx_roi
from clv.roi.examples import example_investments
from clv.synth import simulate_cx_world

N = 3000


@pytest.fixture(scope="module")
def world_files(tmp_path_factory) -> tuple[Path, object]:
    world = simulate_cx_world(N, seed=3)
    d = tmp_path_factory.mktemp("world")
    world.transactions.to_csv(d / "tx.csv", index=False)
    world.cx_events.to_parquet(d / "events.parquet", index=False)
    world.customers.to_csv(d / "customers.csv", index=False)
    invs = example_investments(N)[:3]
    (d / "inv.json").write_text(json.dumps({"investments": [i.to_dict() for i in invs]}))
    return d, world


def _args(d: Path, out: Path, *extra: str) -> list[str]:
    return [str(d / "tx.csv"), "--cx-events", str(d / "events.parquet"), "--customers",
            str(d / "customers.csv"), "--investments", str(d / "inv.json"), "--as-of",
            "2024-12-29", "--draws", "20", "--out", str(out), "--quiet", *extra]


def test_report_writes_every_output_and_matches_the_api(world_files, tmp_path) -> None:
    d, world = world_files
    out = tmp_path / "out"
    assert main(["report", *_args(d, out, "--holdout-end", "2025-06-29")]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"report.html", "roi.csv", "roi_cash_flows.csv", "roi_sensitivity.csv",
            "roi_portfolio.csv", "drivers.csv", "cx_holdout.csv", "run.json"} <= names
    table = pd.read_csv(out / "roi.csv", index_col="rank")
    api = run_cx_roi(world.transactions, world.cx_events, world.customers,
                     example_investments(N)[:3], cutoff=world.calibration_end,
                     observation_end=world.truth.observation_end, n_draws=20,
                     with_sensitivity=False).roi.table()
    pd.testing.assert_series_equal(table["investment"], api["investment"])
    pd.testing.assert_series_equal(table["npv_mean"], api["npv_mean"], rtol=1e-3)
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "ok" and record["parameters"]["draws"] == 20
    assert len(record["results"]["table"]) == 3


def test_roi_reruns_identically_and_has_no_html(world_files, tmp_path) -> None:
    d, _ = world_files
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["roi", *_args(d, a)]) == 0
    assert main(["roi", *_args(d, b)]) == 0
    assert not (a / "report.html").exists()
    assert (a / "roi.csv").read_bytes() == (b / "roi.csv").read_bytes()


def test_roi_errors_have_exit_codes(world_files, tmp_path, capsys) -> None:
    d, _ = world_files
    out = tmp_path / "out"
    no_inv = [a for a in _args(d, out) if a not in ("--investments", str(d / "inv.json"))]
    assert main(["roi", *no_inv]) == 2
    assert "--investments is required" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text('[[investments]]\nname = "x"\ncost = -1\nshifts = []\n')
    args = _args(d, out)
    args[args.index(str(d / "inv.json"))] = str(bad)
    assert main(["roi", *args]) == 2
    assert "bad.toml" in capsys.readouterr().err
    events = pd.read_parquet(d / "events.parquet")
    events.loc[events["signal"] == "nps", "value"] = 42.0
    broken = tmp_path / "events.csv"
    events.to_csv(broken, index=False)
    args = _args(d, out)
    args[args.index(str(d / "events.parquet"))] = str(broken)
    assert main(["roi", *args]) == 3
    err = capsys.readouterr().err
    assert "nps" in err and "Traceback" not in err
    assert not out.exists()  # nothing written on failure


def test_investment_target_payload_runs_nothing_and_exits_2(world_files, tmp_path, capsys,
                                                            monkeypatch) -> None:
    """A target that tried to reach os.system through pandas' eval is refused before any work."""
    d, _ = world_files
    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "evil.toml"
    evil.write_text(
        '[[investments]]\nname = "Faster support"\ncost = 7000\n'
        "target = \"(@pd.io.common.os.system('touch PWNED') == 0) | (wait_minutes == "
        "wait_minutes)\"\n"
        'shifts = [{column = "wait_minutes", mode = "relative", amount = -0.3}]\n')
    out = tmp_path / "out"
    args = _args(d, out)
    args[args.index(str(d / "inv.json"))] = str(evil)
    assert main(["report", *args]) == 2
    err = capsys.readouterr().err
    assert "unexpected character '@'" in err and "Traceback" not in err
    assert not (tmp_path / "PWNED").exists()
    assert not (out / "report.html").exists()
