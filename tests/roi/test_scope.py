"""Tested scope of evidence: grade A/B only for customers like those it was measured on."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from clv.data.datasets import load_cdnow_summary_with_spend
from clv.models import ParetoNBDModel
from clv.roi import Evidence, Investment, Shift, evaluate_investments

N_DRAWS = 16
H = 26


@pytest.fixture(scope="module")
def world() -> tuple[ParetoNBDModel, pd.DataFrame]:
    data = load_cdnow_summary_with_spend().copy()
    gen = np.random.default_rng(11)
    data["complaints"] = gen.poisson(0.4, len(data)).astype(float)
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


def _recovery(name: str, population: str | None) -> Investment:
    ev = Evidence.experiment(
        {"dropout[complaints]": (0.6, 0.05), "purchase[complaints]": (0.0, 0.01)},
        source="test",
        population=population,
    )
    return Investment(name, cost=50.0, shifts=[Shift("complaints", "set", 0.0)], evidence=ev)


def test_scope_splits_value_between_tested_and_fitted(world) -> None:
    _, data = world
    tenure_days = data["T"] * 7.0  # the CDNOW summary is weekly
    cut = float(np.median(tenure_days))
    invs = [
        _recovery("all", None),
        _recovery("everyone", "tenure_days >= 0"),
        _recovery("half", f"tenure_days <= {cut}"),
        _recovery("nobody", "tenure_days < 0"),
    ]
    res = _run(world, invs)
    table = res.table().set_index("investment")
    d_all, d_every = res.investments["all"], res.investments["everyone"]
    # a scope that covers every customer changes nothing
    np.testing.assert_allclose(d_every.incremental_clv, d_all.incremental_clv, rtol=1e-12)
    assert table.loc["everyone", "evidence_grade"] == "A"
    assert table.loc["everyone", "share_value_in_tested_scope"] == pytest.approx(1.0)
    # half inside: A and C parts sum to the value, both non-zero
    half = res.investments["half"]
    np.testing.assert_allclose(sum(half.grades.values()), half.incremental_clv, rtol=1e-9)
    assert half.grades["A"].mean() > 0 and half.grades["C"].mean() != 0
    moved = int((data["complaints"] > 0).sum())
    inside = int(((data["complaints"] > 0) & (tenure_days <= cut)).sum())
    assert half.tested_scope == (inside, moved)
    assert table.loc["half", "customers_in_tested_scope"] == inside
    assert 0 < table.loc["half", "share_value_in_tested_scope"] < 1
    # the tested-only NPV counts the in-scope customers only
    assert half.npv_evidenced.mean() < d_all.npv_evidenced.mean()
    # nobody inside: no grade-A value, graded and decided as an association
    nobody = res.investments["nobody"]
    assert np.all(nobody.grades["A"] == 0)
    np.testing.assert_allclose(nobody.grades["C"], nobody.incremental_clv, rtol=1e-9)
    assert table.loc["nobody", "evidence_grade"] == "C"
    assert table.loc["nobody", "customers_in_tested_scope"] == 0
    assert table.loc["nobody", "recommendation"] != "fund"
    assert "extrapolated" in table.loc["nobody", "reason"]
    assert "tenure_days < 0" in table.loc["nobody", "evidence"]
    # outside the scope the fitted coefficient (under the causal-share prior) applies
    assert nobody.incremental_clv.mean() != pytest.approx(d_all.incremental_clv.mean(), rel=0.05)


def test_from_experiment_scopes_to_enrolment_tenure() -> None:
    effects = pd.DataFrame(
        {"coefficient": [0.2, -0.5], "se": [0.05, 0.1], "measured": [True, True]},
        index=pd.Index(["purchase", "dropout"], name="lever"),
    )
    from clv.cx.experiments import ExperimentResult

    def result(lo: float, hi: float) -> ExperimentResult:
        return ExperimentResult(
            "call", "treatment", "control", effects, pd.DataFrame(), pd.DataFrame(), True, [],
            0.9, float("nan"),
            enrolment={"customers": 1200, "start_first": "2025-01-01", "start_last": "2025-06-30",
                       "tenure_days_min": lo, "tenure_days_max": hi, "post_days_max": 300.0},
        )  # fmt: skip

    ev = Evidence.from_experiment(result(0.0, 0.0))
    assert ev.grade == "A" and ev.population == "tenure_days <= 0"
    assert "at their first purchase" in ev.tested and "1,200 customers" in ev.tested
    assert "tested on customers with tenure_days <= 0" in ev.description
    ev2 = Evidence.from_experiment(result(30.2, 400.0))
    assert ev2.population == "tenure_days >= 30 and tenure_days <= 400"
    own = Evidence.from_experiment(result(0.0, 0.0), population="channel == 'web'")
    assert own.population == "channel == 'web'"
    assert Evidence.from_experiment(result(0.0, 0.0), extrapolate=True).population is None
    # round trip through the plain form, and a duck-typed result without enrolment is unscoped
    inv = Investment("Call", cost=1.0, shifts=[Shift("call", "set", 1.0)], evidence=ev)
    back = Investment.from_dict(inv.to_dict())
    assert back.evidence == inv.evidence
    bare = SimpleNamespace(balanced=True, coefficients=lambda: {"purchase[call]": (0.1, 0.1)})
    assert Evidence.from_experiment(bare).population is None


def test_quasi_experiment_records_its_population() -> None:
    did = SimpleNamespace(
        pretrend_rejected=False,
        coefficients=lambda: {"purchase[vendor]": (-0.2, 0.05)},
        n_treated=800,
        n_control=2400,
        change_date=pd.Timestamp("2025-10-06"),
        source="vendor change",
    )
    ev = Evidence.from_quasi_experiment(did, population="region == 'south'")
    assert ev.grade == "B" and ev.population == "region == 'south'"
    assert "800 treated and 2,400 control customers around a change on 2025-10-06" in ev.tested
    assert Evidence.from_quasi_experiment(did).population is None


def test_population_is_checked_and_combined() -> None:
    with pytest.raises(ValueError, match="population"):
        Evidence.experiment({"purchase[x]": (0.1, 0.1)}, population="__import__('os')")
    with pytest.raises(ValueError, match="not listed"):
        Evidence.experiment({"purchase[x]": (0.1, 0.1)}, population={"dropout[x]": "a == 1"})
    a = Evidence.experiment({"purchase[x]": (0.1, 0.1)}, population="tenure_days <= 0")
    b = Evidence.quasi_experiment({"dropout[x]": (-0.1, 0.1)})
    both = Evidence.combine(a, b)
    assert both.coefficient_population("purchase[x]") == "tenure_days <= 0"
    assert both.coefficient_population("dropout[x]") is None
    assert both.scoped


def test_tenure_days_from_t_and_the_time_unit() -> None:
    from clv.data import with_time_unit
    from clv.roi.scope import with_tenure

    frame = pd.DataFrame({"T": [1.0, 2.5]})
    weekly = with_time_unit(frame, "W")
    assert with_tenure(weekly, weekly, None, "x")["tenure_days"].tolist() == [7.0, 17.5]
    model = SimpleNamespace(time_unit_="D")
    assert with_tenure(frame, frame, model, "x")["tenure_days"].tolist() == [1.0, 2.5]
    own = frame.assign(tenure_days=[5.0, 6.0])
    assert with_tenure(own, own, None, "x") is own
    with pytest.raises(ValueError, match="time unit of 'T' is unknown"):
        with_tenure(frame, frame, SimpleNamespace(), "investment 'x'")
