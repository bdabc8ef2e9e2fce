"""ROI engine: arithmetic properties, baseline consistency, Shapley, break-even, portfolio."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
import pytest

import clv
from clv.data.datasets import load_cdnow_summary_with_spend
from clv.models import GammaGammaModel, ParetoNBDModel
from clv.roi import (
    Evidence,
    Investment,
    Shift,
    evaluate_investments,
    select_portfolio,
    sensitivity,
    solve_knapsack,
)
from clv.roi.engine import ALL
from clv.roi.portfolio import joint_npv, portfolio_objective

N_DRAWS = 24
H = 26
RATE = 0.002
MARGIN = 0.3


@pytest.fixture(scope="module")
def world() -> tuple[ParetoNBDModel, GammaGammaModel, pd.DataFrame]:
    data = load_cdnow_summary_with_spend().copy()
    gen = np.random.default_rng(7)
    data["wait_minutes"] = gen.gamma(2.0, 3.0, len(data))
    data["complaints"] = gen.poisson(0.3, len(data)).astype(float)
    data["channel"] = np.where(gen.random(len(data)) < 0.4, "phone", "web")
    data["nps"] = gen.integers(0, 11, len(data)).astype(float)
    data["nps_missing"] = (gen.random(len(data)) < 0.7).astype(float)
    return ParetoNBDModel().fit(data), GammaGammaModel().fit(data), data


SUPPORT = Evidence.assumption(
    {"dropout[wait_minutes]": (0.05, 0.02), "purchase[wait_minutes]": (-0.02, 0.01)}
)
RECOVERY = Evidence.experiment(
    {"dropout[complaints]": (0.3, 0.1), "spend[complaints]": (-0.05, 0.02)}
)


def _support(cost: float = 2000.0, amount: float = -0.3, **kw) -> Investment:
    return Investment(
        "Faster support",
        cost=cost,
        shifts=[Shift("wait_minutes", "relative", amount)],
        evidence=SUPPORT,
        **kw,
    )


def _recovery(cost: float | dict = 1500.0) -> Investment:
    return Investment(
        "Complaint recovery",
        cost=cost,
        shifts=[Shift("complaints", "relative", -0.5)],
        ramp_periods=4,
        evidence=RECOVERY,
    )


def _run(world, invs, **kw):
    tm, sm, data = world
    kw.setdefault("breakeven", False)
    return evaluate_investments(
        invs,
        transaction_model=tm,
        spend_model=sm,
        data=data,
        horizon=H,
        discount_rate=RATE,
        margin=MARGIN,
        n_draws=N_DRAWS,
        random_state=3,
        **kw,
    )


def test_zero_shift_gives_zero_gain_and_minus_100_percent(world) -> None:
    res = _run(world, [_support(amount=0.0)])
    d = res.investments["Faster support"]
    assert np.all(d.incremental_clv == 0.0)
    np.testing.assert_allclose(d.roi, -1.0)
    row = res.table().iloc[0]
    assert row["p_roi_positive"] == 0.0
    assert row["customers_affected"] == 0


def test_doubling_cost_halves_roi_plus_one(world) -> None:
    one = _run(world, [_support(2000.0)]).investments["Faster support"]
    two = _run(world, [_support(4000.0)]).investments["Faster support"]
    np.testing.assert_allclose(two.roi + 1.0, (one.roi + 1.0) / 2.0, rtol=1e-12)
    np.testing.assert_allclose(two.incremental_clv, one.incremental_clv, rtol=1e-12)


def test_payback_non_decreasing_in_cost(world) -> None:
    paybacks = [
        _run(world, [_support(c)]).investments["Faster support"].payback
        for c in (200.0, 800.0, 3000.0)
    ]
    assert np.all(paybacks[0] <= paybacks[1]) and np.all(paybacks[1] <= paybacks[2])


def test_shapley_parts_sum_to_total(world) -> None:
    res = _run(world, [_support(), _recovery()])
    for d in res.investments.values():
        np.testing.assert_allclose(d.levers.sum(axis=0), d.incremental_clv, rtol=1e-10, atol=1e-9)
        assert np.all(d.levers[0] == 0.0)  # no acquisition model: nothing from acquisition
    support = res.investments["Faster support"]
    assert np.all(support.levers[3] == 0.0)  # no spend coefficient on wait
    t = res.table()
    parts = t[["gain_acquisition", "gain_retention", "gain_repeat_purchase", "gain_spend"]]
    np.testing.assert_allclose(parts.sum(axis=1), t["incremental_clv_mean"], rtol=1e-10)


def test_baseline_equals_customer_lifetime_value(world) -> None:
    tm, sm, data = world
    res = _run(world, [_support()], customer_uncertainty=False)
    eng = res.engine
    eng.transaction_draws_ = pd.DataFrame([tm.params_] * N_DRAWS).reset_index(drop=True)
    eng.spend_draws_ = pd.DataFrame([sm.params_] * N_DRAWS).reset_index(drop=True)
    eng._states = [eng._baseline(i) for i in range(N_DRAWS)]
    total = eng.discounted(eng.baseline_cash_flows())[0]
    ref = clv.customer_lifetime_value(
        tm, sm, data, horizon=H, discount_rate_per_period=RATE, margin=MARGIN
    ).sum()
    assert total == pytest.approx(ref, rel=1e-9)


def test_gain_direction_follows_coefficient_signs(world) -> None:
    # less waiting, positive dropout coefficient on wait: fewer drop out, more value
    better = _run(world, [_support(amount=-0.5)]).investments["Faster support"]
    worse = _run(world, [_support(amount=+0.5)]).investments["Faster support"]
    assert better.incremental_clv.mean() > 0 > worse.incremental_clv.mean()


def test_common_random_numbers_and_determinism(world) -> None:
    a = _run(world, [_support(), _recovery()])
    b = _run(world, [_recovery(), _support()])
    for name in a.investments:
        np.testing.assert_array_equal(a.investments[name].npv, b.investments[name].npv)


def test_target_and_missing_values_are_respected(world) -> None:
    _, _, data = world
    phone = Investment(
        "Phone only",
        cost=100.0,
        target={"channel": "phone"},
        shifts=[Shift("wait_minutes", "add", -1.0)],
        evidence=SUPPORT,
    )
    query = Investment(
        "Query",
        cost=100.0,
        target="channel == 'phone'",
        shifts=[Shift("wait_minutes", "add", -1.0)],
        evidence=SUPPORT,
    )
    nps = Investment(
        "NPS",
        cost=100.0,
        shifts=[Shift("nps", "add", 1.0)],
        evidence=Evidence.assumption({"dropout[nps]": (-0.1, 0.0)}),
    )
    res = _run(world, [phone, query, nps])
    assert res.investments["Phone only"].customers_affected == (data["channel"] == "phone").sum()
    np.testing.assert_allclose(res.investments["Query"].npv, res.investments["Phone only"].npv)
    assert res.investments["NPS"].customers_affected == int(
        ((data["nps_missing"] == 0) & (data["nps"] < 10)).sum()
    )  # 10 is the observed maximum
    assert res.investments["NPS"].incremental_clv.mean() > 0


def test_breakeven_share_gives_zero_expected_npv(world) -> None:
    res = _run(world, [_support(cost=300.0)], breakeven=True)
    d = res.investments["Faster support"]
    k = d.breakeven_effect
    assert 0 < k < 1  # pays back with less than the full effect
    eng = res.engine
    _, totals = eng.flows([eng.unit(d.investment, scale=k)], draws=range(N_DRAWS), full_only=True)
    assert abs(totals[:, ALL].mean() - d.cost_pv.mean()) < 0.02 * d.cost_pv.mean()


def test_portfolio_matches_brute_force_and_joint_value(world) -> None:
    invs = [
        _support(cost=900.0),
        _recovery(cost=700.0),
        Investment(
            "Small fix", cost=150.0, shifts=[Shift("wait_minutes", "add", -0.5)], evidence=SUPPORT
        ),
    ]
    res = _run(world, invs)
    pf = select_portfolio(res, budget=1000.0, eligible="all")
    assert "EVERY investment" in pf.label
    names = list(res.investments)
    npv = res.npv_draws().to_numpy()
    costs = np.array([res.investments[n].cost_pv.mean() for n in names])
    best, best_value = (), 0.0
    for size in range(1, len(names) + 1):
        for subset in combinations(range(len(names)), size):
            if costs[list(subset)].sum() <= 1000.0:
                v = npv[:, list(subset)].sum(axis=1).mean()
                if v > best_value:
                    best, best_value = subset, v
    assert pf.chosen == [names[i] for i in best]
    np.testing.assert_allclose(pf.joint_npv, joint_npv(res, pf.chosen))
    assert pf.summary()["cost_pv"] <= 1000.0


def test_portfolio_funds_only_fund_recommendations_by_default(world) -> None:
    """A cheap, high-NPV investment resting on an assumption (grade D, "test first") must not
    take the budget from a tested one; the portfolio says why each one is left out."""
    tested = Investment(
        "Tested",
        cost=100.0,
        shifts=[Shift("complaints", "set", 0.0)],
        evidence=Evidence.experiment({"dropout[complaints]": (1.0, 0.05)}),
    )
    assumed = Investment(
        "Assumed",
        cost=100.0,
        shifts=[Shift("wait_minutes", "relative", -0.5)],
        evidence=Evidence.assumption({"dropout[wait_minutes]": (0.3, 0.01)}),
    )
    res = _run(world, [tested, assumed])
    table = res.table().set_index("investment")
    assert table.loc["Tested", "recommendation"] == "fund"
    assert table.loc["Assumed", "recommendation"] == "test first"
    assert table.loc["Assumed", "npv_mean"] > table.loc["Tested", "npv_mean"] > 0
    # the old rule (any investment) would spend the budget on the untested one
    assert select_portfolio(res, budget=150.0, eligible="all").chosen == ["Assumed"]
    pf = select_portfolio(res, budget=150.0)
    assert pf.chosen == ["Tested"] and pf.eligible == ("fund",)
    assert "'test first'" in pf.not_funded["Assumed"]
    assert "'fund' only" in pf.label and "Assumed: recommended" in pf.summary()["not_funded"]
    # only the assumed one within budget: nothing is funded rather than the untested one
    pf_small = select_portfolio(_run(world, [assumed]), budget=150.0)
    assert pf_small.chosen == [] and "Assumed" in pf_small.not_funded
    # widened on request, and labelled as such
    wide = select_portfolio(res, budget=250.0, eligible=("fund", "test first"))
    assert set(wide.chosen) == {"Tested", "Assumed"}
    assert "untested" in wide.label
    with pytest.raises(ValueError, match="eligible"):
        select_portfolio(res, budget=1.0, eligible=("maybe",))
    # the report says why an investment was not funded
    from clv.roi import render_report

    html = render_report(res, portfolio=pf)
    assert "Not funded: <strong>Assumed</strong>" in html
    assert "recommended &#39;fund&#39; only" in html or "recommended 'fund' only" in html


@pytest.mark.parametrize("objective", ["mean", "cvar"])
def test_knapsack_equals_brute_force(objective: str) -> None:
    gen = np.random.default_rng(11)
    for _ in range(25):
        j = int(gen.integers(1, 11))
        npv = gen.normal(gen.normal(0, 5, j), gen.uniform(1, 10, j), (40, j))
        costs = gen.uniform(1, 10, j)
        budget = float(gen.uniform(0, costs.sum()))
        best: tuple[tuple[int, ...], float] = ((), 0.0)
        for size in range(1, j + 1):
            for subset in combinations(range(j), size):
                if costs[list(subset)].sum() <= budget:
                    v = portfolio_objective(npv[:, list(subset)].sum(axis=1), objective=objective)
                    if v > best[1] + 1e-9:
                        best = (subset, v)
        got = solve_knapsack(npv, costs, budget, objective=objective)
        assert got[1] == pytest.approx(best[1], abs=1e-6)


def test_sensitivity_table(world) -> None:
    res = _run(world, [_support()])
    table = sensitivity(res)
    assert set(table["factor"]) == {"margin", "discount_rate", "horizon", "effect_size"}
    row = table.set_index("factor")
    base = res.table().iloc[0]["npv_mean"]
    assert row.loc["margin", "npv_low"] < base < row.loc["margin", "npv_high"]
    assert row.loc["horizon", "npv_low"] < base < row.loc["horizon", "npv_high"]
    assert row.loc["effect_size", "npv_low"] < base < row.loc["effect_size", "npv_high"]


def test_bad_inputs_have_clear_messages(world) -> None:
    tm, sm, data = world
    with pytest.raises(ValueError, match="not a covariate of the fitted models"):
        _run(world, [Investment("x", cost=1.0, shifts=[Shift("complaints", "add", -1.0)])])
    with pytest.raises(ValueError, match="not in the scoring data"):
        _run(
            world,
            [
                Investment(
                    "x",
                    cost=1.0,
                    shifts=[Shift("nope", "add", -1.0)],
                    evidence=Evidence.assumption({"dropout[nope]": (0.1, 0.0)}),
                )
            ],
        )
    with pytest.raises(ValueError, match="target condition 'channel === 3'"):
        _run(world, [_support(target="channel === 3")])
    with pytest.raises(TypeError, match="ParetoNBDModel"):
        evaluate_investments(
            [_support()],
            transaction_model=clv.models.BetaGeoModel().fit(data),
            spend_model=sm,
            data=data,
            horizon=H,
            discount_rate=RATE,
        )
    with pytest.raises(clv.DataError, match="monetary_value"):
        evaluate_investments(
            [_support()],
            transaction_model=tm,
            spend_model=sm,
            data=data.drop(columns="monetary_value"),
            horizon=H,
            discount_rate=RATE,
        )
    with pytest.raises(ValueError, match="unique"):
        _run(world, [_support(), _support()])
    with pytest.raises(ValueError, match="after the horizon"):
        _run(world, [_support(cost={0: 1.0, 99: 5.0})])


def test_fixed_spend_and_report_methods(world) -> None:
    tm, _, data = world
    res = evaluate_investments(
        [_support()],
        transaction_model=tm,
        spend_model=40.0,
        data=data,
        horizon=H,
        discount_rate=RATE,
        n_draws=N_DRAWS,
        breakeven=False,
    )
    assert "Faster support" in res._repr_html_()
    assert res.cash_flow_table("Faster support").shape == (H, 5)
    assert res.assumptions()["spend_model"] == "fixed 40 per purchase"


def test_acquisition_lever_through_an_acquisition_model(world) -> None:
    from clv.models import AcquisitionModel
    from clv.roi import NewCustomers

    gen = np.random.default_rng(3)
    weeks = 40
    share = pd.DataFrame(
        {"promoter_share": 0.3 + 0.1 * gen.standard_normal(weeks + H)},
        index=pd.RangeIndex(1, weeks + H + 1, name="period"),
    )
    counts = pd.Series(
        gen.poisson(
            60
            * np.exp(-np.arange(weeks) / 30)
            * np.exp(2.0 * (share["promoter_share"][:weeks] - 0.3))
        ),
        index=pd.RangeIndex(1, weeks + 1, name="period"),
    )
    acq = AcquisitionModel().fit(counts, covariates=share.iloc[:weeks])
    future = share.iloc[weeks:]
    nc = NewCustomers(acq, future, value_per_customer=25.0)
    promo = Investment(
        "Referral push", cost=500.0, shifts=[Shift("promoter_share", "add", 0.05)], duration=10
    )
    both = Investment(
        "Both",
        cost=500.0,
        shifts=[Shift("promoter_share", "add", 0.05), Shift("wait_minutes", "relative", -0.3)],
        duration=10,
        evidence=SUPPORT,
    )
    res = _run(world, [promo, both], new_customers=nc, causal_share=None)  # exact arithmetic
    d = res.investments["Referral push"]
    assert d.customers_affected == 0
    np.testing.assert_allclose(d.levers[1:], 0.0, atol=1e-9)
    np.testing.assert_allclose(d.levers[0], d.incremental_clv, rtol=1e-12)
    # the point estimate of the gain: extra arrivals in the 10 shifted weeks x value
    shifted = future.copy()
    shifted.iloc[:10, 0] += 0.05
    n = acq.n_periods_ + H
    base = acq.expected_arrivals(n, covariates=future)["expected"].to_numpy()[weeks:]
    more = acq.expected_arrivals(n, covariates=shifted)["expected"].to_numpy()[weeks:]
    point = float(np.sum((more - base) * 25.0 * (1 + RATE) ** -np.arange(1.0, H + 1)))
    assert point > 0 and d.incremental_clv.mean() > 0
    eng = res.engine  # at the point estimate the engine gives exactly that
    eng.acquisition_draws_ = pd.DataFrame([acq.params_] * N_DRAWS).reset_index(drop=True)
    _, totals = eng.flows([eng.unit(promo)])
    np.testing.assert_allclose(totals[:, ALL], point, rtol=1e-9)
    no_acquisition = [b for b in range(totals.shape[1]) if not b & 8]
    np.testing.assert_allclose(totals[:, no_acquisition], 0.0, atol=1e-9)
    # acquisition adds to the existing customers' levers: its Shapley part is its own value
    b = res.investments["Both"]
    np.testing.assert_allclose(b.levers[0], d.incremental_clv, rtol=1e-9)
    np.testing.assert_allclose(b.levers.sum(axis=0), b.incremental_clv, rtol=1e-9)
    with pytest.raises(ValueError, match="acquisition model"):
        _run(
            world,
            [
                Investment(
                    "x",
                    cost=1.0,
                    shifts=[Shift("wait_minutes", "add", -1.0)],
                    evidence=Evidence.assumption({"acquisition[foo]": (1.0, 0.1)}),
                )
            ],
            new_customers=nc,
        )


def test_acquisition_periods_shorter_than_the_valuation_periods(world) -> None:
    """A model of half-length periods: arrivals of two model periods make one valuation period."""
    from clv.models import AcquisitionModel
    from clv.roi import NewCustomers

    gen = np.random.default_rng(5)
    n_cal = 40
    share = pd.DataFrame(
        {"promoter_share": 0.3 + 0.1 * gen.standard_normal(n_cal + 2 * H)},
        index=pd.RangeIndex(1, n_cal + 2 * H + 1, name="period"),
    )
    counts = pd.Series(
        gen.poisson(
            60
            * np.exp(-np.arange(n_cal) / 30)
            * np.exp(2.0 * (share["promoter_share"][:n_cal] - 0.3))
        ),
        index=pd.RangeIndex(1, n_cal + 1, name="period"),
    )
    acq = AcquisitionModel().fit(counts, covariates=share.iloc[:n_cal])
    future = share.iloc[n_cal:]
    nc = NewCustomers(acq, future, value_per_customer=25.0, periods_per_valuation=2.0)
    assert nc.model_periods(H) == 2 * H
    promo = Investment(
        "Referral push", cost=500.0, shifts=[Shift("promoter_share", "add", 0.05)], duration=5
    )
    res = _run(world, [promo], new_customers=nc, causal_share=None)  # exact arithmetic
    eng = res.engine
    eng.acquisition_draws_ = pd.DataFrame([acq.params_] * N_DRAWS).reset_index(drop=True)
    flow = eng._acquisition_flow([eng.unit(promo)], 0)
    # by hand: the shift holds for valuation periods 1-5 = model periods 1-10 after calibration
    shifted = future.copy()
    shifted.iloc[:10, 0] += 0.05
    n = n_cal + 2 * H
    base = acq.expected_arrivals(n, covariates=future)["expected"].to_numpy()[n_cal:]
    more = acq.expected_arrivals(n, covariates=shifted)["expected"].to_numpy()[n_cal:]
    expected = 25.0 * (more - base).reshape(H, 2).sum(axis=1)
    np.testing.assert_allclose(flow, expected, rtol=1e-10, atol=1e-12)
    assert expected[0] > 0 and np.all(np.abs(expected[5:]) < expected[0])
    # a fractional ratio reads the cumulated arrivals at the valuation ends
    frac = NewCustomers(acq, future, value_per_customer=25.0, periods_per_valuation=1.5)
    eng2 = _run(world, [promo], new_customers=frac, causal_share=None).engine
    eng2.acquisition_draws_ = eng.acquisition_draws_
    flow2 = eng2._acquisition_flow([eng2.unit(promo)], 0)
    n_model = frac.model_periods(H)
    shifted2 = future.copy()
    mids = (np.arange(n_model) + 0.5) / 1.5  # valuation period (0-based) of each model period
    shifted2.iloc[:n_model, 0] += np.where(mids < 5, 0.05, 0.0)
    base2 = acq.expected_arrivals(n_cal + n_model, covariates=future)["expected"].to_numpy()
    more2 = acq.expected_arrivals(n_cal + n_model, covariates=shifted2)["expected"].to_numpy()
    cum = np.concatenate([[0.0], np.cumsum((more2 - base2)[n_cal:])])
    at = np.interp(np.arange(1, H + 1) * 1.5, np.arange(n_model + 1), cum)
    np.testing.assert_allclose(flow2, 25.0 * np.diff(np.concatenate([[0.0], at])), rtol=1e-10)
    np.testing.assert_allclose(flow2.sum(), 25.0 * cum[-1], rtol=1e-10)
    with pytest.raises(ValueError, match="periods_per_valuation"):
        _run(
            world, [promo], new_customers=NewCustomers(acq, future, 25.0, periods_per_valuation=0.0)
        )


def test_recommendation_funds_only_on_tested_effects(world) -> None:
    """A cheap experiment-backed investment is funded; the same value from a stated
    assumption (grade D) is at most 'test first'; a money-loser is not funded."""
    cheap_tested = _recovery(cost=50.0)
    cheap_assumed = _support(cost=50.0)
    dear = Investment(
        "Dear recovery", cost=1e7, shifts=[Shift("complaints", "relative", -0.5)], evidence=RECOVERY
    )
    res = _run(world, [cheap_tested, cheap_assumed, dear], breakeven=True)
    t = res.table().set_index("investment")
    assert t.loc["Complaint recovery", "recommendation"] == "fund"
    assert "grade A" in t.loc["Complaint recovery", "reason"]
    assert t.loc["Faster support", "recommendation"] in ("test first", "do not fund")
    assert t.loc["Dear recovery", "recommendation"] == "do not fund"
    # grade D: the evidenced-only NPV counts nothing but the cost
    np.testing.assert_allclose(
        res.investments["Faster support"].npv_evidenced, -res.investments["Faster support"].cost_pv
    )
    # grade A: evidenced-only equals the full value (no fitted covariates to scale)
    d = res.investments["Complaint recovery"]
    np.testing.assert_allclose(d.npv_evidenced, d.npv, rtol=1e-10)
    np.testing.assert_allclose(d.npv_if_causal, d.npv, rtol=1e-10)
    for col in (
        "recommendation",
        "reason",
        "test_lever",
        "test_customers_per_arm",
        "value_of_information",
        "npv_mean_if_causal",
        "causal_share_prior",
        "evalue_to_zero_npv",
        "diagnostics",
    ):
        assert col in t.columns
    assert set(t["recommendation"]) <= {"fund", "test first", "do not fund"}
    if t.loc["Faster support", "recommendation"] == "test first":
        assert t.loc["Faster support", "test_customers_per_arm"] > 0
        assert t.loc["Faster support", "test_lever"] in ("retention", "repeat_purchase")
