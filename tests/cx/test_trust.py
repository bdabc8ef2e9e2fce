"""Guards against valuing associations as effects: roles, controls, causal-share prior,
timing diagnostics and recommendations (fast tier: no model fits)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clv.cx.diagnostics import column_flags, event_timing
from clv.cx.roles import check_shifts, control_columns, default_roles, encode_controls
from clv.exceptions import DataError
from clv.roi import Investment, Shift
from clv.roi.confounding import (
    CausalShare,
    evalue,
    expected_value_of_information,
    samples_per_arm,
)
from clv.synth.traps import TRAP_WORLDS, simulate_trap_world


def test_roles_refuse_indicators_controls_and_pushed_counts() -> None:
    cols = [
        "complaints",
        "wait_minutes",
        "wait_minutes_missing",
        "promoter",
        "nps_missing",
        "channel=web",
    ]
    roles = default_roles(cols, controls=["channel=web"])
    assert roles == {
        "complaints": "reducible",
        "wait_minutes": "actionable",
        "wait_minutes_missing": "descriptive",
        "promoter": "actionable",
        "nps_missing": "descriptive",
        "channel=web": "control",
    }
    data = pd.DataFrame({"complaints": [0.0, 1.0, 3.0]})
    ok = [
        Investment("Recovery", cost=1.0, shifts=[Shift("complaints", "relative", -0.5)]),
        Investment("Faster", cost=1.0, shifts=[Shift("wait_minutes", "relative", -0.3)]),
    ]
    check_shifts(ok, roles, data)  # reducing a count and shifting an experience are fine
    bad = [
        Investment("Provoke", cost=1.0, shifts=[Shift("complaints", "add", 1.0)]),
        Investment("Survey everyone", cost=1.0, shifts=[Shift("nps_missing", "set", 0.0)]),
        Investment("Go online", cost=1.0, shifts=[Shift("channel=web", "set", 1.0)]),
        Investment("Set high", cost=1.0, shifts=[Shift("complaints", "set", 5.0)]),
    ]
    with pytest.raises(DataError) as err:
        check_shifts(bad, roles, data)
    text = str(err.value)
    for name in ("Provoke", "Survey everyone", "Go online", "Set high"):
        assert repr(name) in text
    assert "nps_missing" in text and "channel=web" in text and "Fix" in text
    # an explicit override makes a column actionable
    check_shifts(bad[:1], {**roles, "complaints": "actionable"}, data)


def test_controls_are_chosen_and_encoded() -> None:
    customers = pd.DataFrame(
        {
            "customer_id": [1, 2, 3, 4],
            "channel": ["web", "app", "web", None],
            "age": [30.0, np.nan, 50.0, 40.0],
            "const": ["x"] * 4,
            "email": [f"{i}@x" for i in range(4)] * 1,
        }
    )
    assert control_columns(customers, "customer_id", "auto") == ["channel", "age", "email"]
    assert control_columns(customers, "customer_id", None) == []
    assert control_columns(customers, "customer_id", "age") == ["age"]
    with pytest.raises(DataError, match="tier"):
        control_columns(customers, "customer_id", ["tier"])
    enc = encode_controls(customers.set_index("customer_id"), ["channel", "age"])
    assert list(enc.columns) == ["channel=app", "channel=web", "age"]
    assert enc["age"].isna().sum() == 0 and enc.loc[2, "age"] == 40.0
    assert enc.loc[4, ["channel=app", "channel=web"]].tolist() == [0.0, 0.0]  # missing level
    assert customers["age"].isna().sum() == 1  # the input frame is untouched


def test_causal_share_prior_and_robustness_numbers() -> None:
    prior = CausalShare()
    draws = prior.draws(4000, seed=3)
    assert draws.min() >= 0 and draws.max() <= 1 and abs(draws.mean() - 0.5) < 0.02
    np.testing.assert_array_equal(draws, prior.draws(4000, seed=3))
    assert CausalShare.parse("causal").draws(3, 0).tolist() == [1.0, 1.0, 1.0]
    assert CausalShare.parse("0.3").mean == 0.3
    assert CausalShare.parse("2, 8").mean == pytest.approx(0.2)
    for bad in ("a,b", "1,2,3", "1.5", "-1,2"):
        with pytest.raises(ValueError):
            CausalShare.parse(bad)
    assert evalue(1.0) == 1.0
    assert evalue(0.5) == pytest.approx(evalue(2.0)) == pytest.approx(2 + np.sqrt(2))
    assert expected_value_of_information(np.array([5.0, 6.0])) == 0.0  # always positive
    assert expected_value_of_information(np.array([-5.0, -6.0])) == 0.0  # always negative
    assert expected_value_of_information(np.array([-10.0, 20.0])) == pytest.approx(5.0)
    n1, n2 = samples_per_arm(0.1, 2.0), samples_per_arm(0.05, 2.0)
    assert n2 > 3.5 * n1 and samples_per_arm(0.0, 2.0) == np.inf


@pytest.mark.parametrize("name", sorted(TRAP_WORLDS))
def test_trap_worlds_are_deterministic_and_valid(name: str) -> None:
    a = simulate_trap_world(name, 400, seed=5)
    b = simulate_trap_world(name, 400, seed=5)
    pd.testing.assert_frame_equal(a.cx_events, b.cx_events)
    pd.testing.assert_frame_equal(a.transactions, b.transactions)
    assert a.has_effect == TRAP_WORLDS[name][1]
    assert ("tier" in a.customers.columns) == (name == "segment_observed")
    assert a.transactions["date"].max() < a.observation_end
    # the oracle: no effect -> 0 whatever the change; an effect -> a non-zero value
    idx = a.latent.index
    delta = {
        "wait_minutes": -a.features["wait_minutes"].to_numpy() * 0.5,
        "fcr_rate": np.full(len(idx), 0.1),
        "promoter": 1.0 - a.features["promoter"],
    }
    value = a.true_value(
        idx, delta, np.ones(24), discount_rate=0.008, margin=0.3, period_weeks=4.35
    )
    assert (value != 0) == a.has_effect
    if a.has_effect:
        assert value > 0  # shorter waits, better resolution and more promoters all help


def test_timing_diagnostic_flags_triggered_and_exit_signals_only() -> None:
    flagged, tables = {}, {}
    for name in ("purchase_triggered", "exit_contacts", "true_positive", "segment_hidden"):
        w = simulate_trap_world(name, 6000, seed=2)
        tables[name] = t = event_timing(w.cx_events, w.transactions, cutoff=w.calibration_end)
        flagged[name] = dict(zip(t["signal"], t["flag"], strict=True))
    for signal in ("complaint", "contact_wait_seconds", "nps"):
        assert flagged["purchase_triggered"][signal] == "purchase-triggered"
    for signal in ("complaint", "contact_wait_seconds"):
        assert flagged["exit_contacts"][signal] == "exit-signal"
    for name in ("true_positive", "segment_hidden"):
        assert not any(flagged[name].values()), flagged[name]
    flags = column_flags(
        tables["exit_contacts"],
        None,
        {"complaint": ["complaints"], "contact_wait_seconds": ["wait_minutes"]},
    )
    assert flags["complaints"][0].startswith("exit-signal")
    assert "wait_minutes" in flags and "promoter" not in flags
