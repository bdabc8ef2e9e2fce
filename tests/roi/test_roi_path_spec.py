"""Investment start dates and the path modes (restore, prevent): specs, files and errors."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from clv.roi import Investment, Shift, load_investments
from clv.roi.engine import CounterfactualEngine


def test_start_and_restore_round_trip_through_dict_toml_and_csv(tmp_path: Path) -> None:
    inv = Investment(
        "fix vendor",
        cost=1000.0,
        shifts=[Shift("wait_minutes", "restore", 1.0, before=dt.date(2025, 10, 6))],
        target={"region": "south"},
        start="2026-01-05",
    )
    assert inv.start == "2026-01-05" and inv.shifts[0].before == "2025-10-06"
    assert inv.uses_paths and Investment.from_dict(inv.to_dict()) == inv
    toml = tmp_path / "inv.toml"
    toml.write_text(
        '[[investments]]\nname = "fix vendor"\ncost = 1000.0\nstart = 2026-01-05\n'
        'target = {region = "south"}\n[[investments.shifts]]\ncolumn = "wait_minutes"\n'
        'mode = "restore"\namount = 1.0\nbefore = 2025-10-06\n'
    )
    assert load_investments(toml) == [inv]
    csv = tmp_path / "inv.csv"
    csv.write_text(
        "name,cost,column,mode,amount,before,start\n"
        "prevent,500,wait_minutes,prevent,5.0,,3\n"
        "fix,900,wait_minutes,restore,0.5,2025-10-06,\n"
    )
    prevent, fix = load_investments(csv)
    assert prevent.start == 3 and prevent.start_periods == 3 and prevent.shifts[0].mode == "prevent"
    assert fix.start is None and fix.shifts[0].before == "2025-10-06"
    assert fix.shifts[0].amount == 0.5


def test_bad_starts_and_modes_say_what_is_wrong(tmp_path: Path) -> None:
    shift = [Shift("wait_minutes", "add", -1.0)]
    with pytest.raises(ValueError, match="before the cutoff"):
        Investment("early", cost=1.0, shifts=shift, start=-2)
    with pytest.raises(ValueError, match="must be a date"):
        Investment("vague", cost=1.0, shifts=shift, start="next spring")
    with pytest.raises(ValueError, match="must be one of"):
        Shift("wait_minutes", "undo", 1.0)
    with pytest.raises(ValueError, match="needs before="):
        Shift("wait_minutes", "restore", 1.0)
    with pytest.raises(ValueError, match=r"in \(0, 1\]"):
        Shift("wait_minutes", "restore", 1.5, before="2025-01-01")
    with pytest.raises(ValueError, match="only used by mode 'restore'"):
        Shift("wait_minutes", "set", 1.0, before="2025-01-01")
    csv = tmp_path / "bad.csv"
    csv.write_text("name,cost,column,mode,amount,start\nx,1,wait_minutes,add,1,-1\n")
    with pytest.raises(ValueError, match=r"bad.csv.*before the cutoff"):
        load_investments(csv)
    csv.write_text("name,cost,column,mode,amount\nx,1,wait_minutes,rewind,1\n")
    with pytest.raises(ValueError, match=r"bad.csv.*'rewind'"):
        load_investments(csv)


def test_static_engine_refuses_path_modes_and_shifts_the_start() -> None:
    inv = Investment("later", cost=1.0, shifts=[Shift("x", "prevent", 1.0)])
    engine = object.__new__(CounterfactualEngine)  # only the refusal is exercised
    engine.new_customers = None
    engine.data = pd.DataFrame({"x": [1.0, 2.0]})
    with pytest.raises(ValueError, match="time-varying models"):
        CounterfactualEngine._unit(engine, inv, coefs={})
    with pytest.raises(ValueError, match="is a date"):
        dated = Investment("d", cost=1.0, shifts=[Shift("x", "add", 1.0)], start="2026-01-01")
        _ = dated.start_periods
