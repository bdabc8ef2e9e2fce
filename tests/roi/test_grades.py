"""Finance table split by evidence grade: Shapley over grades, sums, overall grade rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clv.data.datasets import load_cdnow_summary_with_spend
from clv.models import ParetoNBDModel
from clv.roi import Evidence, Investment, Shift, evaluate_investments
from clv.roi.grades import overall_grade

N_DRAWS = 16
H = 26


@pytest.fixture(scope="module")
def world() -> tuple[ParetoNBDModel, pd.DataFrame]:
    data = load_cdnow_summary_with_spend().copy()
    gen = np.random.default_rng(11)
    data["complaints"] = gen.poisson(0.4, len(data)).astype(float)
    data["call"] = (gen.random(len(data)) < 0.5).astype(float)
    tm = ParetoNBDModel(purchase_covariates=["complaints"], dropout_covariates=["complaints"]).fit(
        data
    )
    return tm, data


def _run(world, invs):
    tm, data = world
    return evaluate_investments(
        invs,
        transaction_model=tm,
        spend_model=20.0,
        data=data,
        horizon=H,
        discount_rate=0.002,
        margin=0.3,
        n_draws=N_DRAWS,
        random_state=5,
        breakeven=False,
    )


def _recovery(evidence: Evidence) -> Investment:
    return Investment(
        "Recovery", cost=500.0, shifts=[Shift("complaints", "relative", -0.5)], evidence=evidence
    )


def test_grade_parts_sum_to_value_and_npv(world) -> None:
    inv = _recovery(Evidence.experiment({"dropout[complaints]": (0.4, 0.1)}))
    res = _run(world, [inv])
    d = res.investments["Recovery"]
    assert set(d.grades) == {"A", "B", "C", "D"}
    np.testing.assert_allclose(sum(d.grades.values()), d.incremental_clv, rtol=1e-9, atol=1e-9)
    assert np.all(d.grades["B"] == 0) and np.all(d.grades["D"] == 0)
    assert abs(d.grades["A"].mean()) > 0 and abs(d.grades["C"].mean()) > 0
    row = res.table().iloc[0]
    parts = [row[f"npv_grade_{g}"] for g in "ABCD"]
    assert sum(parts) == pytest.approx(row["npv_mean"], rel=1e-9)
    assert sum(row[f"share_grade_{g}"] for g in "ABCD") == pytest.approx(1.0, rel=1e-9)


def test_two_grade_split_equals_brute_force_shapley(world) -> None:
    """phi_A = (v(A) + v(A,C) - v(C)) / 2, each v from a separately specified investment."""
    a = Evidence.experiment({"dropout[complaints]": (0.4, 0.1)})
    res = _run(world, [_recovery(a)])
    d = res.investments["Recovery"]
    only_a = _run(
        world,
        [
            _recovery(
                Evidence.experiment(
                    {"dropout[complaints]": (0.4, 0.1), "purchase[complaints]": (0.0, 0.0)}
                )
            )
        ],
    )
    only_c = _run(world, [_recovery(Evidence.experiment({"dropout[complaints]": (0.0, 0.0)}))])
    v_a = only_a.investments["Recovery"].incremental_clv
    v_c = only_c.investments["Recovery"].incremental_clv
    np.testing.assert_allclose(
        d.grades["A"], 0.5 * (v_a + d.incremental_clv - v_c), rtol=1e-8, atol=1e-8
    )


def test_partial_experiment_does_not_make_the_investment_grade_a(world) -> None:
    """A small experiment on one lever, most of the value on an assumption: overall grade D."""
    ev = Evidence.combine(
        Evidence.experiment({"dropout[complaints]": (0.05, 0.02)}),
        Evidence.assumption({"purchase[complaints]": (-0.6, 0.1)}),
    )
    assert ev.grade == "D"
    row = _run(world, [_recovery(ev)]).table().iloc[0]
    assert row["share_grade_D"] > 0.5
    assert row["evidence_grade"] == "D"
    # the same experiment carrying the value gives A
    big = Evidence.combine(
        Evidence.experiment({"dropout[complaints]": (1.0, 0.05)}),
        Evidence.assumption({"purchase[complaints]": (-0.01, 0.01)}),
    )
    row = _run(world, [_recovery(big)]).table().iloc[0]
    assert row["share_grade_A"] > 0.8
    assert row["evidence_grade"] == "A"


def test_single_grade_investment_is_all_one_grade(world) -> None:
    inv = Investment(
        "Call",
        cost=100.0,
        shifts=[Shift("call", "set", 1.0)],
        evidence=Evidence.experiment(
            {"purchase[call]": (0.1, 0.02), "dropout[call]": (-0.2, 0.05)}
        ),
    )
    row = _run(world, [inv]).table().iloc[0]
    assert row["share_grade_A"] == pytest.approx(1.0)
    assert row["npv_grade_A"] == pytest.approx(row["npv_mean"])
    assert row["evidence_grade"] == "A"


def test_overall_grade_rule() -> None:
    assert overall_grade({"A": 81.0, "B": 0.0, "C": 19.0, "D": 0.0}) == "A"
    assert overall_grade({"A": 50.0, "B": 50.0, "C": 0.0, "D": 0.0}) == "B"
    assert overall_grade({"A": 100.0, "C": -30.0}) == "C"  # absolute shares
    assert overall_grade({"A": 0.0, "C": 0.0}, default="A") == "A"


def test_evidence_round_trip_and_refusals() -> None:
    ev = Evidence.combine(
        Evidence.experiment({"purchase[x]": (0.1, 0.02)}, source="AB"),
        Evidence.quasi_experiment({"dropout[x]": (-0.3, 0.1)}, source="DiD"),
    )
    inv = Investment("X", cost=1.0, shifts=[Shift("x", "add", 1.0)], evidence=ev)
    back = Investment.from_dict(inv.to_dict())
    assert back.evidence == ev
    assert "A: experiment" in ev.description and "B: quasi-experiment" in ev.description
    with pytest.raises(ValueError, match="grade"):
        Evidence("mixed", {"purchase[x]": (0.1, 0.02)})
    with pytest.raises(ValueError, match="grades"):
        Evidence("experiment", {"purchase[x]": (0.1, 0.02)}, grades={"dropout[x]": "A"})
