"""``clv roi --time-varying yes``: a small dated-change world from CSV files, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from clv.cli.main import main
from clv.synth.dated_change import DatedChangeParams, simulate_dated_change_world

# the static driver table's Pareto/NBD draws on this small world can give NaN P(alive)
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")


@pytest.mark.slow  # the weekly time-varying fit with the default CX features: minutes here
def test_roi_time_varying_runs_from_files_and_writes_its_outputs(tmp_path: Path) -> None:
    world = simulate_dated_change_world(250, seed=2, params=DatedChangeParams(hazard_sdlogit=1.0))
    world.transactions.to_csv(tmp_path / "tx.csv", index=False)
    world.cx_events.to_csv(tmp_path / "events.csv", index=False)
    world.customers.to_csv(tmp_path / "customers.csv", index=False)
    change = world.change_date.date()
    (tmp_path / "inv.toml").write_text(
        '[[investments]]\nname = "fix_vendor"\ncost = 2000.0\ntarget = {region = "south"}\n'
        f'[[investments.shifts]]\ncolumn = "wait_minutes"\nmode = "restore"\namount = 1.0\n'
        f"before = {change}\n"
    )
    as_of = (world.cutoff - pd.Timedelta(days=1)).date()
    out = tmp_path / "out"
    args = [
        str(tmp_path / "tx.csv"),
        "--cx-events",
        str(tmp_path / "events.csv"),
        "--customers",
        str(tmp_path / "customers.csv"),
        "--investments",
        str(tmp_path / "inv.toml"),
        "--as-of",
        str(as_of),
        "--horizon",
        "6",
        "--draws",
        "4",
        "--out",
        str(out),
        "--quiet",
        "--time-varying",
        "yes",
        "--path-group",
        "region",
    ]
    assert main(["roi", *args]) == 0
    names = {p.name for p in out.iterdir()}
    assert {"roi.csv", "drivers.csv", "drivers_time_varying.csv", "run.json"} <= names
    table = pd.read_csv(out / "roi.csv")
    assert list(table["investment"]) == ["fix_vendor"]
    assert table["customers_affected"].iloc[0] > 0
    tv = pd.read_csv(out / "drivers_time_varying.csv")
    assert tv["model"].str.contains("time-varying").all()
    record = json.loads((out / "run.json").read_text())
    assert record["parameters"]["time_varying"] == "yes"
    assert record["models"]["time_varying"]["used"] is True
    # without --time-varying the restore shift is refused with the fix named (exit 2 or 3)
    code = main(["roi", *args[:-4], "--out", str(tmp_path / "static")])
    assert code != 0
