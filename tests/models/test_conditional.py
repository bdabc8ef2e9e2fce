"""Predictions given a history (clv.models.conditional), tracking curves and sBG elasticity.

Checked three ways: against Monte Carlo from the transaction-log simulator
(clv.synth.transactions: simulate the full history, cut it at T, compare the
predictions with what the same customers did next), against closed forms and
identities, and against lifetimes 0.11.3 where lifetimes has the quantity
(Pareto/NBD conditional PMF, BG/BB P(alive at n + m); see also
tests/compat/test_lifetimes_oracle.py). pymc-marketing is not installed here.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import special

from clv.models import bgbb, bgnbd, mbgnbd, pareto_nbd, sbg
from clv.models import conditional as cond
from clv.models.elasticity import sbg_retention_elasticity
from clv.models.tracking import (
    expected_cumulative_transactions,
    expected_incremental_transactions,
)
from clv.synth.transactions import (
    rfm_from_purchase_times,
    simulate_opportunities,
    simulate_purchase_times,
    simulate_transaction_log,
)

CONTINUOUS = {
    "bgnbd": (
        bgnbd.BGNBDParams(0.243, 4.414, 0.793, 2.426),
        bgnbd,
        cond.bgnbd_probability_of_purchases,
        cond.bgnbd_probability_alive_at,
    ),
    "mbgnbd": (
        mbgnbd.MBGNBDParams(0.525, 6.183, 0.891, 1.614),
        mbgnbd,
        cond.mbgnbd_probability_of_purchases,
        cond.mbgnbd_probability_alive_at,
    ),
    "pareto_nbd": (
        pareto_nbd.PNBDParams(0.553, 10.578, 0.606, 11.669),
        pareto_nbd,
        cond.pareto_nbd_probability_of_purchases,
        cond.pareto_nbd_probability_alive_at,
    ),
}
BGBB = bgbb.BGBBParams(1.204, 0.750, 0.657, 2.783)


def _close(pred, observed, n, label):
    """Mean prediction vs observed share within 4 binomial standard errors (+1e-3)."""
    se = np.sqrt(max(observed * (1 - observed), 1e-4) / n)
    assert abs(pred - observed) < 4 * se + 1e-3, (label, pred, observed, n)


@pytest.fixture(scope="module", params=list(CONTINUOUS))
def world(request):
    name = request.param
    params, module, pmf, alive_at = CONTINUOUS[name]
    rng = np.random.default_rng(20261207 + len(name))
    n, t = 30_000, 26.0
    T = np.round(rng.uniform(20.0, 40.0, n) * 7) / 7  # ages in whole days, as data would have
    sim = simulate_purchase_times(name, params, T + t, rng=rng)
    past = rfm_from_purchase_times(sim["customer"], sim["time"], T)
    future = np.bincount(sim["customer"][sim["time"] > T[sim["customer"]]], minlength=n)
    return {
        "name": name,
        "params": params,
        "module": module,
        "pmf": pmf,
        "alive_at": alive_at,
        "T": T,
        "t": t,
        "past": past,
        "future": future,
        "alive_end": sim["death"] > T + t,
        "alive_T": sim["death"] > T,
    }


def _groups(x):
    return {"x=0": x == 0, "x=1-2": (x >= 1) & (x <= 2), "x>=3": x >= 3}


def test_log_simulator_agrees_with_rfm_simulator(world):
    """The log simulator's RFM summary has the model's own expected frequency and P(alive)."""
    p, module, past = world["params"], world["module"], world["past"]
    x, t_x, T = past["frequency"], past["recency"], past["T"]
    expected = module.expected_purchases_new_customer(p, T)
    assert x.mean() == pytest.approx(np.mean(expected), abs=4 * x.std() / np.sqrt(x.size))
    # P(alive at T | history) averages to the share alive at T
    _close(
        np.mean(module.probability_alive(p, x, t_x, T)),
        world["alive_T"].mean(),
        x.size,
        "alive at T",
    )


def test_conditional_pmf_matches_monte_carlo(world):
    p, past, t = world["params"], world["past"], world["t"]
    x, t_x, T = past["frequency"], past["recency"], past["T"]
    for label, rows in _groups(x).items():
        for k in range(4):
            pred = world["pmf"](p, k, t, x[rows], t_x[rows], T[rows])
            _close(
                float(np.mean(pred)),
                float(np.mean(world["future"][rows] == k)),
                int(rows.sum()),
                f"{world['name']} {label} n={k}",
            )


def test_conditional_pmf_sums_and_mean(world):
    """Sums to 1 over n and its mean is the model's conditional expectation."""
    p, module, t = world["params"], world["module"], world["t"]
    x = np.array([0.0, 1.0, 4.0, 30.0])
    t_x = np.array([0.0, 5.0, 20.0, 35.0])
    T = np.array([38.0, 38.0, 38.0, 38.0])
    n = np.arange(400.0)[:, None]
    pmf = world["pmf"](p, n, t, x, t_x, T)
    np.testing.assert_allclose(pmf.sum(axis=0), 1.0, atol=1e-9)
    np.testing.assert_allclose(
        (n * pmf).sum(axis=0), module.expected_purchases(p, t, x, t_x, T), rtol=1e-7
    )
    assert np.all(pmf >= 0)


def test_probability_alive_at_future_matches_monte_carlo(world):
    p, past, t = world["params"], world["past"], world["t"]
    x, t_x, T = past["frequency"], past["recency"], past["T"]
    for label, rows in _groups(x).items():
        pred = world["alive_at"](p, t, x[rows], t_x[rows], T[rows])
        _close(
            float(np.mean(pred)),
            float(np.mean(world["alive_end"][rows])),
            int(rows.sum()),
            f"{world['name']} {label}",
        )


def test_probability_alive_at_is_decreasing_and_starts_at_p_alive(world):
    p, module = world["params"], world["module"]
    t = np.array([0.0, 1.0, 10.0, 100.0, 1e4])
    values = world["alive_at"](p, t, 3.0, 20.0, 38.0)
    assert values[0] == pytest.approx(
        float(module.probability_alive(p, 3.0, 20.0, 38.0)), rel=1e-12
    )
    assert np.all(np.diff(values) < 0) and values[-1] < 0.05


def test_pareto_alive_at_equals_pymc_marketing_expression():
    """pymc-marketing ``ParetoNBDModel.expected_probability_alive(future_t)`` evaluates
    exp(lgamma(r+x) - lgamma(r) + r log(alpha/(alpha+T)) - x log(alpha+T)
    + s log(beta/(beta+T+t)) - LL); written out here at fixed parameters."""
    p = CONTINUOUS["pareto_nbd"][0]
    x, t_x, T = np.array([0.0, 2, 26]), np.array([0.0, 30.43, 30.86]), np.array([38.86, 38.86, 31])
    for t in (0.0, 5.0, 52.0):
        ll = pareto_nbd.log_likelihood(p, x, t_x, T)
        ref = np.exp(
            special.gammaln(p.r + x)
            - special.gammaln(p.r)
            + p.r * np.log(p.alpha / (p.alpha + T))
            - x * np.log(p.alpha + T)
            + p.s * np.log(p.beta / (p.beta + T + t))
            - ll
        )
        np.testing.assert_allclose(
            cond.pareto_nbd_probability_alive_at(p, t, x, t_x, T), ref, rtol=1e-10
        )


def test_pareto_conditional_pmf_equals_lifetimes():
    """lifetimes 0.11.3 ParetoNBDFitter.conditional_probability_of_n_purchases_up_to_time."""
    lifetimes = pytest.importorskip("lifetimes")
    import warnings

    import pandas as pd

    f = lifetimes.ParetoNBDFitter()
    f.params_ = pd.Series({"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669})
    p = CONTINUOUS["pareto_nbd"][0]
    for n, t, x, t_x, T in [(0, 10, 3, 20, 38), (2, 39, 0, 0, 30), (5, 52, 12, 30, 31)]:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            ref = f.conditional_probability_of_n_purchases_up_to_time(n, t, x, t_x, T)
        assert float(cond.pareto_nbd_probability_of_purchases(p, n, t, x, t_x, T)) == pytest.approx(
            float(ref), rel=1e-9
        )


# ------------------------------------------------------------------ BG/BB (exact groups)
@pytest.fixture(scope="module")
def bgbb_world():
    rng = np.random.default_rng(7)
    sim = simulate_opportunities(BGBB, 6 + 60, 150_000, rng=rng)
    buy, alive = sim["transactions"], sim["alive"]
    hist = buy[:, :6]
    x = hist.sum(axis=1).astype(float)
    t_x = np.where(hist.any(axis=1), 6 - np.argmax(hist[:, ::-1], axis=1), 0).astype(float)
    return {"x": x, "t_x": t_x, "buy": buy, "alive": alive, "p": sim["p"], "theta": sim["theta"]}


BGBB_GROUPS = [(0, 0), (1, 1), (2, 4), (3, 6), (6, 6)]


def test_bgbb_conditional_pmf_and_alive_match_monte_carlo(bgbb_world):
    w = bgbb_world
    for xg, tg in BGBB_GROUPS:
        rows = (w["x"] == xg) & (w["t_x"] == tg)
        n = int(rows.sum())
        future = w["buy"][rows, 6:11].sum(axis=1)
        for k in range(4):
            pred = float(cond.bgbb_probability_of_purchases(BGBB, k, 5, xg, tg, 6))
            _close(pred, float(np.mean(future == k)), n, f"({xg},{tg}) k={k}")
        for m in (0, 1, 3):
            pred = float(cond.bgbb_probability_alive_at(BGBB, m, xg, tg, 6))
            observed = float(np.mean(w["alive"][rows, 5 + m]))  # alive at opportunity 6 + m
            _close(pred, observed, n, f"({xg},{tg}) alive m={m}")


def test_bgbb_dert_and_posterior_means_match_monte_carlo(bgbb_world):
    w = bgbb_world
    disc = 1.25 ** -np.arange(1, 61)  # 1.25^-60 < 2e-6: the truncation is negligible
    for xg, tg in BGBB_GROUPS:
        rows = (w["x"] == xg) & (w["t_x"] == tg)
        n = int(rows.sum())
        value = w["buy"][rows, 6:] @ disc
        dert = float(cond.bgbb_expected_discounted_residual_transactions(BGBB, xg, tg, 6, 0.25))
        assert abs(dert - value.mean()) < 4 * value.std() / np.sqrt(n) + 1e-3, (xg, tg)
        ep, et = cond.bgbb_posterior_means(BGBB, xg, tg, 6)
        for est, latent in ((ep, w["p"][rows]), (et, w["theta"][rows])):
            assert abs(float(est) - latent.mean()) < 4 * latent.std() / np.sqrt(n) + 1e-4


def test_bgbb_alive_at_one_is_the_model_p_alive_and_matches_lifetimes():
    x, t_x, n = np.array([0, 2, 6, 3]), np.array([0, 4, 6, 5]), np.array([6, 6, 6, 6])
    np.testing.assert_allclose(
        cond.bgbb_probability_alive_at(BGBB, 1, x, t_x, n),
        bgbb.probability_alive(BGBB, x, t_x, n),
        rtol=1e-12,
    )
    lifetimes = pytest.importorskip("lifetimes")
    import warnings

    import pandas as pd

    f = lifetimes.BetaGeoBetaBinomFitter()
    f.params_ = pd.Series(BGBB._asdict())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = f.conditional_probability_alive(4, x, t_x, n)
    np.testing.assert_allclose(cond.bgbb_probability_alive_at(BGBB, 4, x, t_x, n), ref, rtol=1e-10)


def test_bgbb_pmf_identities():
    k = np.arange(0.0, 11.0)[:, None]
    x, t_x = np.array([0.0, 2, 6]), np.array([0.0, 4, 6])
    pmf = cond.bgbb_probability_of_purchases(BGBB, k, 10, x, t_x, 6)
    np.testing.assert_allclose(pmf.sum(axis=0), 1.0, atol=1e-12)
    np.testing.assert_allclose(
        (k * pmf).sum(axis=0), bgbb.expected_purchases(BGBB, 10, x, t_x, 6), rtol=1e-10
    )
    with pytest.raises(ValueError, match="whole number"):
        cond.bgbb_probability_of_purchases(BGBB, 0.5, 3, 1, 1, 6)
    with pytest.raises(ValueError, match="discount_rate"):
        cond.bgbb_expected_discounted_residual_transactions(BGBB, 1, 1, 6, 0.0)


# ------------------------------------------------------------------ tracking curves
def test_tracking_curve_matches_simulated_cohort():
    rng = np.random.default_rng(11)
    params = CONTINUOUS["bgnbd"][0]
    log, truth = simulate_transaction_log(
        "bgnbd",
        params,
        20_000,
        acquisition_periods=12.0,
        observation_periods=39.0,
        time_unit="W",
        rng=rng,
    )
    weeks = (
        (log["date"] - log["date"].min().normalize()).dt.total_seconds() / (7 * 86_400)
    ).to_numpy()
    first = log.groupby("customer_id")["date"].transform("min") == log["date"]
    repeat_weeks = np.sort(weeks[~first.to_numpy()])
    births = truth["birth"] + (
        log["date"].min() - log["date"].min().normalize()
    ).total_seconds() / (7 * 86_400)
    grid = np.arange(1.0, 40.0)
    expected = expected_cumulative_transactions(
        lambda t: bgnbd.expected_purchases_new_customer(params, t), births, grid
    )
    actual = np.searchsorted(repeat_weeks, grid, side="right")
    # each customer's count is one draw: the SD of the total is sqrt(n) x the SD per customer
    per_customer = np.bincount(log["customer_id"][~first.to_numpy()], minlength=20_000)
    sd_total = np.sqrt(20_000) * per_customer.std()
    assert np.all(np.abs(actual - expected) < 4 * sd_total)
    assert abs(actual[-1] - expected[-1]) < 4 * sd_total
    inc = expected_incremental_transactions(
        lambda t: bgnbd.expected_purchases_new_customer(params, t), births, grid
    )
    np.testing.assert_allclose(np.cumsum(inc), expected, rtol=1e-12)


def test_tracking_curve_weights_equal_repeats():
    f = lambda t: np.sqrt(np.asarray(t))  # noqa: E731 - any increasing curve
    a = expected_cumulative_transactions(f, [0.0, 0.0, 3.0], [1.0, 5.0])
    b = expected_cumulative_transactions(f, [0.0, 3.0], [1.0, 5.0], weights=[2, 1])
    np.testing.assert_allclose(a, b)
    assert a[0] == pytest.approx(2.0)  # the customer born at 3 adds nothing before 3
    with pytest.raises(ValueError, match="weights"):
        expected_cumulative_transactions(f, [0.0], [1.0], weights=[1, 2])


# ------------------------------------------------------------------ sBG retention elasticity
def test_sbg_retention_elasticity_is_the_log_derivative_of_derl():
    """Finite difference of DERL with every retention probability scaled by c (series sum)."""
    p = sbg.SBGParams(0.704, 1.182)
    k = np.arange(1.0, 2000.0)
    for n, d in [(0, 0.1), (3, 0.1), (10, 0.02)]:
        log_s = special.betaln(p.alpha, p.beta + n + k) - special.betaln(p.alpha, p.beta + n)

        def derl(c, n=n, d=d, log_s=log_s):
            return np.sum(np.exp(log_s + k * np.log(c) - (k - 1) * np.log1p(d)))

        assert derl(1.0) == pytest.approx(float(sbg.expected_residual_lifetime(p, n, d)), rel=1e-9)
        h = 1e-5
        fd = (np.log(derl(1 + h)) - np.log(derl(1 - h))) / (2 * h)
        assert float(sbg_retention_elasticity(p, n, d)) == pytest.approx(fd, rel=1e-6)


def test_sbg_retention_elasticity_limits():
    # homogeneous limit (1 + d) / (d + theta) with theta = 0.2
    value = float(sbg_retention_elasticity(sbg.SBGParams(2e5, 8e5), 0, 0.1))
    assert value == pytest.approx(1.1 / 0.3, rel=1e-4)
    # d = 0: (alpha + beta + n - 1) / (alpha - 2), continuous in d
    p = sbg.SBGParams(3.5, 1.2)
    assert float(sbg_retention_elasticity(p, 3, 0.0)) == pytest.approx((3.5 + 1.2 + 2) / 1.5)
    assert float(sbg_retention_elasticity(p, 3, 1e-9)) == pytest.approx(
        float(sbg_retention_elasticity(p, 3, 0.0)), rel=1e-6
    )
    assert np.isinf(sbg_retention_elasticity(sbg.SBGParams(1.5, 1.0), 0, 0.0))
    # heterogeneity: the elasticity grows with tenure (survivors are the loyal ones)
    e = sbg_retention_elasticity(sbg.SBGParams(0.704, 1.182), np.arange(0, 20), 0.1)
    assert np.all(np.diff(e) > 0)
    with pytest.raises(ValueError, match=">= 0"):
        sbg_retention_elasticity(p, -1, 0.1)


# ------------------------------------------------------------------ model methods
def test_model_methods_wrap_the_pure_functions(cdnow_rfm):
    from clv.models import BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel

    rfm = cdnow_rfm.head(50)
    for cls, name in (
        (BetaGeoModel, "bgnbd"),
        (ModifiedBetaGeoModel, "mbgnbd"),
        (ParetoNBDModel, "pareto_nbd"),
    ):
        params, _, pmf, alive_at = CONTINUOUS[name]
        model = cls()
        model.params_ = __import__("pandas").Series(params._asdict(), dtype=float)
        x, t_x, T = (rfm[c].to_numpy() for c in ("frequency", "recency", "T"))
        got = model.conditional_probability_of_purchases(2, 10, rfm)
        assert got.index.equals(rfm.index)
        np.testing.assert_allclose(got, pmf(params, 2, 10, x, t_x, T), rtol=1e-12)
        np.testing.assert_allclose(
            model.probability_alive_at(0, rfm), model.probability_alive(rfm), rtol=1e-12
        )
        np.testing.assert_allclose(
            model.probability_alive_at(5, rfm), alive_at(params, 5, x, t_x, T), rtol=1e-12
        )
        curve = model.expected_cumulative_transactions([0.0, 2.0], [1.0, 4.0])
        assert curve[1] == pytest.approx(
            float(
                model.expected_purchases_new_customer(4.0)
                + model.expected_purchases_new_customer(2.0)
            )
        )
    with pytest.raises(ValueError, match="whole number"):
        model.conditional_probability_of_purchases(1.5, 10, rfm)


def test_bgbb_model_methods():
    import pandas as pd

    from clv.data.datasets import load_donations
    from clv.models import BetaGeoBetaBinomModel

    donors = load_donations()
    model = BetaGeoBetaBinomModel()
    model.params_ = pd.Series(BGBB._asdict(), dtype=float)
    rows = donors.iloc[[0, 9, 21]]
    np.testing.assert_allclose(
        model.probability_alive_at(1, rows), model.probability_alive(rows), rtol=1e-12
    )
    pmf = sum(model.conditional_probability_of_purchases(k, 5, rows) for k in range(6))
    np.testing.assert_allclose(pmf, 1.0, atol=1e-12)
    dert = model.expected_discounted_residual_transactions(rows, 0.1)
    assert dert.index.equals(rows.index) and np.all(np.diff(dert.to_numpy()) > 0)
    means = model.posterior_means(rows)
    ep, et = cond.bgbb_posterior_means(BGBB, rows["frequency"], rows["recency"], rows["T"])
    np.testing.assert_allclose(means[["p", "theta"]].to_numpy().T, [ep, et], rtol=1e-12)
    assert means["theta"].is_monotonic_decreasing  # (0,0) -> (2,4) -> (6,6): likelier alive


def test_sbg_model_retention_elasticity_and_incremental_method(cdnow_rfm):
    import pandas as pd

    from clv.models import BetaGeoModel, ShiftedBetaGeoModel

    table = pd.DataFrame({"period": range(8), "n_alive": [1000, 631, 468, 382, 326, 289, 262, 241]})
    model = ShiftedBetaGeoModel().fit(table)
    n = pd.Series([0, 3, 7], index=["a", "b", "c"])
    e = model.retention_elasticity(n, discount_rate=0.1)
    assert e.index.equals(n.index)
    np.testing.assert_allclose(e, sbg_retention_elasticity(model._p, n.to_numpy(), 0.1))
    with pytest.raises(ValueError, match="discount_rate"):
        model.retention_elasticity(3, discount_rate=-0.1)
    bg = BetaGeoModel().fit(cdnow_rfm)
    births, grid = np.array([0.0, 1.0, 5.0]), np.arange(1.0, 10.0)
    np.testing.assert_allclose(
        np.cumsum(bg.expected_incremental_transactions(births, grid)),
        bg.expected_cumulative_transactions(births, grid),
        rtol=1e-12,
    )


# ------------------------------------------------------------------ extreme inputs (property)
@st.composite
def _rfm_rows(draw):
    x = float(draw(st.integers(0, 5_000)))
    T = draw(st.floats(1e-3, 1e4))
    t_x = draw(st.floats(0.0, T)) if x > 0 else 0.0
    return x, t_x, T


@given(
    row=_rfm_rows(),
    t=st.floats(0.0, 1e4),
    n=st.integers(0, 2_000),
    name=st.sampled_from(list(CONTINUOUS)),
)
def test_conditional_predictions_are_probabilities_for_extreme_inputs(row, t, n, name):
    params, _, pmf, alive_at = CONTINUOUS[name]
    x, t_x, T = row
    p = float(pmf(params, n, t, x, t_x, T))
    a = float(alive_at(params, t, x, t_x, T))
    assert np.isfinite(p) and -1e-12 <= p <= 1 + 1e-12
    assert np.isfinite(a) and 0.0 <= a <= 1.0


@pytest.mark.parametrize("cls_name", ["BetaGeoModel", "ParetoNBDModel"])
def test_methods_with_covariates_use_each_customers_parameters(cls_name, cdnow_rfm):
    """Per-customer parameters (covariates) give, row by row, the scalar-parameter values."""
    import pandas as pd

    from clv import models

    rng = np.random.default_rng(3)
    rfm = cdnow_rfm.head(400).copy()
    rfm["z"] = rng.normal(size=len(rfm))
    model = getattr(models, cls_name)(purchase_covariates=["z"], dropout_covariates=["z"])
    model.fit(rfm)
    rows = rfm.iloc[[0, 5, 17]]
    ind = model.individual_params(rows)
    got_pmf = model.conditional_probability_of_purchases(1, 20, rows)
    got_alive = model.probability_alive_at(20, rows)
    name = "bgnbd" if cls_name == "BetaGeoModel" else "pareto_nbd"
    params_cls, _, pmf, alive_at = (type(CONTINUOUS[name][0]), *CONTINUOUS[name][1:])
    for i, (cid, row) in enumerate(rows.iterrows()):
        p = params_cls(*ind.loc[cid].to_numpy())
        args = (row["frequency"], row["recency"], row["T"])
        assert got_pmf.iloc[i] == pytest.approx(float(pmf(p, 1, 20, *args)), rel=1e-10)
        assert got_alive.iloc[i] == pytest.approx(float(alive_at(p, 20, *args)), rel=1e-10)
    assert isinstance(got_pmf, pd.Series) and got_pmf.index.equals(rows.index)
