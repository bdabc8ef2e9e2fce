"""Slow tier: the CX-to-ROI job on worlds built to fool it (clv.synth.traps).

No-effect worlds must never get a `fund`; observing the confounding segment as a
control removes the spurious effect; true-effect worlds keep a useful value
(`test first` or `fund`) and interval coverage of the true value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clv.cx.analysis import DAYS_PER_MONTH, run_cx_roi
from clv.exceptions import DataError
from clv.roi import Investment, Shift
from clv.synth.traps import simulate_trap_world

pytestmark = pytest.mark.slow

N = 5000
CONTACTED = "wait_minutes_missing == 0"
INVESTMENTS = [
    Investment(
        "Faster support",
        cost=2500,
        shifts=[Shift("wait_minutes", "relative", -0.3)],
        target=CONTACTED,
    ),
    Investment(
        "FCR training", cost=2500, shifts=[Shift("fcr_rate", "add", 0.15)], target=CONTACTED
    ),
    Investment("Complaint recovery", cost=2500, shifts=[Shift("complaints", "relative", -0.5)]),
    Investment(
        "Promoter programme",
        cost=2500,
        shifts=[Shift("promoter", "set", 1.0, where="nps_missing == 0")],
    ),
]


def _run(world, invs=INVESTMENTS, **kw):
    kw.setdefault("n_draws", 30)
    return run_cx_roi(
        world.transactions,
        world.cx_events,
        world.customers,
        invs,
        cutoff=world.calibration_end,
        with_sensitivity=False,
        **kw,
    )


def _truth(world, analysis, inv) -> float:
    eng = analysis.roi.engine
    unit = eng.unit(inv, share=1.0)
    return world.true_value(
        eng.data.index[unit.rows],
        {c: d[0] for c, d in unit.delta.items()},
        unit.profile,
        discount_rate=eng.discount_rate,
        margin=eng.margin,
        period_weeks=DAYS_PER_MONTH / 7,
    )


@pytest.mark.parametrize("name", ["segment_hidden", "purchase_triggered", "exit_contacts"])
def test_no_effect_worlds_never_fund_an_observational_investment(name: str) -> None:
    world = simulate_trap_world(name, N, seed=1)
    a = _run(world)
    table = a.roi.table()
    assert (table["evidence_grade"] == "C").all()
    assert not (table["recommendation"] == "fund").any(), table[["investment", "reason"]]
    # values under the causal-share prior are below the fully causal ones when positive
    pos = table["npv_mean_if_causal"] > 0
    assert (table.loc[pos, "npv_mean"] < table.loc[pos, "npv_mean_if_causal"]).all()
    if name != "segment_hidden":  # the timing diagnostics name the reverse causality
        flagged = table.set_index("investment")["diagnostics"]
        word = "purchase-triggered" if name == "purchase_triggered" else "exit-signal"
        assert word in flagged["Complaint recovery"] and word in flagged["Faster support"]
        assert any(word in w for w in a.warnings)


def test_pushing_counts_or_indicators_is_refused_on_a_reverse_causality_world() -> None:
    world = simulate_trap_world("purchase_triggered", 1500, seed=1)
    bad = [
        Investment("Provoke a complaint", cost=1.0, shifts=[Shift("complaints", "add", 1.0)]),
        Investment("Survey everyone", cost=1.0, shifts=[Shift("nps_missing", "set", 0.0)]),
    ]
    with pytest.raises(DataError, match="Survey everyone") as err:
        _run(world, bad, n_draws=2)
    assert "Provoke a complaint" in str(err.value) and "nps_missing" in str(err.value)


def test_observed_segment_as_a_control_removes_the_spurious_wait_effect() -> None:
    world = simulate_trap_world("segment_observed", N, seed=1)
    inv = INVESTMENTS[:1]
    without = _run(world, inv, controls=None, diagnostics=False)
    with_ = _run(world, inv, diagnostics=False)
    assert "tier=standard" in with_.controls and without.controls == []
    spurious = without.roi.investments["Faster support"].incremental_clv_if_causal
    adjusted = with_.roi.investments["Faster support"].incremental_clv_if_causal
    lo, hi = np.quantile(adjusted, [0.05, 0.95])
    assert lo <= 0.0 <= hi, (lo, hi)
    assert np.quantile(spurious, 0.05) > 0 and spurious.mean() > 5 * abs(adjusted.mean())


def test_true_effect_worlds_keep_useful_values_and_coverage() -> None:
    rows = []
    for name, seeds in (("true_positive", (1, 2, 3)), ("onboarding_effect", (1, 2))):
        for seed in seeds:
            world = simulate_trap_world(name, N, seed=seed)
            invs = [
                Investment(i.name, cost=600, shifts=i.shifts, target=i.target)
                for i in INVESTMENTS[:2]
            ]
            a = _run(world, invs, diagnostics=False, random_state=seed)
            table = a.roi.table().set_index("investment")
            for inv in invs:
                truth = _truth(world, a, inv)
                if truth == 0:
                    continue
                draws = a.roi.investments[inv.name].incremental_clv_if_causal
                lo, hi = np.quantile(draws, [0.05, 0.95])
                rows.append(
                    (
                        name,
                        seed,
                        inv.name,
                        truth,
                        draws.mean(),
                        lo,
                        hi,
                        table.loc[inv.name, "recommendation"],
                    )
                )
    frame = pd.DataFrame(
        rows,
        columns=[
            "world",
            "seed",
            "investment",
            "truth",
            "estimate",
            "p05",
            "p95",
            "recommendation",
        ],
    )
    covered = (frame["p05"] <= frame["truth"]) & (frame["truth"] <= frame["p95"])
    assert covered.mean() >= 0.85, frame
    big = frame["truth"] > 3 * 600  # well worth their cost
    assert big.any()
    assert frame.loc[big, "recommendation"].isin(["fund", "test first"]).all(), frame
