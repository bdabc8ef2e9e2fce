"""Gamma-Gamma with time-varying spend covariates: static limits, recovery, predictions."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from clv.exceptions import DataError
from clv.models import GammaGammaDynamicModel, GammaGammaModel, gamma_gamma, time_varying_spend_data
from clv.models.bgnbd_dyncov import simulate_bgnbd_transactions
from clv.models.gamma_gamma_dyncov import log_likelihood, log_likelihood_gradient, simulate_spends

START = pd.Timestamp("2020-01-05")
OBS_END = START + pd.Timedelta(weeks=60)
CHANGE = START + pd.Timedelta(weeks=30)  # a dated price-tier change for everyone
TRUE = {"p": 6.0, "q": 4.0, "v": 15.0, "spend[tier]": 0.4, "spend[promo]": -0.3}
COLS = ["tier", "promo", "segment"]


def _world(n: int, rng: np.random.Generator, weeks: int = 80) -> pd.DataFrame:
    """Transactions with values; covariates on a weekly grid up to ``weeks``."""
    ids = np.arange(n)
    first = pd.Series(START + pd.to_timedelta(rng.uniform(0, 20 * 7, n), unit="D"), index=ids)
    week = np.arange(weeks)
    dates = START + pd.to_timedelta(7 * week, unit="D")
    cov = pd.DataFrame(
        {
            "customer_id": np.repeat(ids, weeks),
            "cov_date": np.tile(dates, n),
            "tier": np.tile((dates >= CHANGE).astype(float), n),
            "promo": (rng.random(n * weeks) < 0.3).astype(float),
            "segment": np.repeat((rng.random(n) < 0.5).astype(float), weeks),
        }
    )
    return cov, first


def _simulate(
    n: int, rng: np.random.Generator, params: dict[str, float] = TRUE, weeks: int = 80
) -> tuple[pd.DataFrame, pd.DataFrame]:
    cov, first = _world(n, rng, weeks)
    purchases = {"r": 2.0, "alpha": 6.0, "a": 0.8, "b": 3.0}
    end = START + pd.Timedelta(weeks=weeks - 1)
    tx, _ = simulate_bgnbd_transactions(purchases, cov, first, end=end, rng=rng)
    tx, _ = simulate_spends(params, tx, cov, spend_covariates=["tier", "promo", "segment"], rng=rng)
    return cov, tx


def _data(cov: pd.DataFrame, tx: pd.DataFrame) -> object:
    return time_varying_spend_data(tx, cov, columns=COLS, observation_end=OBS_END)


def test_zero_coefficients_equal_static_gamma_gamma(rng: np.random.Generator) -> None:
    data = _data(*_simulate(800, rng))
    for p in [(6.25, 3.74, 15.44), (0.5, 20.0, 2.0), (40.0, 1.2, 300.0)]:
        ll = log_likelihood(p, np.zeros(2), *data.select(["tier", "promo"]))
        ref = gamma_gamma.log_likelihood(
            gamma_gamma.GGParams(*p), data.frequency, data.monetary_value
        )
        np.testing.assert_allclose(ll, ref, rtol=0, atol=1e-9)
    rfm = pd.DataFrame({"frequency": data.frequency, "monetary_value": data.monetary_value})
    static = GammaGammaModel().fit(rfm)
    dyn = GammaGammaDynamicModel().fit(data)
    assert abs(dyn.log_likelihood_ - static.log_likelihood_) < 1e-6
    np.testing.assert_allclose(dyn.params_, static.params_, rtol=1e-4)


def test_constant_paths_equal_static_covariate_gamma_gamma(rng: np.random.Generator) -> None:
    """``segment`` is constant per customer: the model is GammaGammaModel(spend_covariates)."""
    data = _data(*_simulate(1500, rng))
    rep = data.frequency > 0
    segment = data.amount_X[:, 0, 2]
    rfm = pd.DataFrame(
        {
            "frequency": data.frequency[rep],
            "monetary_value": data.monetary_value[rep],
            "segment": segment[rep],
        }
    )
    static = GammaGammaModel(spend_covariates=["segment"]).fit(rfm)
    dyn = GammaGammaDynamicModel(spend_covariates=["segment"]).fit(data)
    assert dyn.log_likelihood_ == pytest.approx(static.log_likelihood_, abs=1e-6)
    np.testing.assert_allclose(dyn.params_, static.params_, rtol=1e-4)
    # and pointwise: v_i = v exp(g * segment)
    p, q, v, g = 2.0, 3.0, 10.0, 0.7
    ll = log_likelihood((p, q, v), np.array([g]), *data.select(["segment"]))
    ref = gamma_gamma.log_likelihood(
        gamma_gamma.GGParams(p, q, v * np.exp(g * segment)), data.frequency, data.monetary_value
    )
    np.testing.assert_allclose(ll, ref, rtol=0, atol=1e-9)


def test_analytic_gradient_matches_central_differences(rng: np.random.Generator) -> None:
    data = _data(*_simulate(300, rng))
    arrays = data.select(["tier", "promo"])
    theta = np.array([6.0, 4.0, 15.0, 0.3, -0.2])
    _, grad = log_likelihood_gradient(theta[:3], theta[3:], *arrays)
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = 1e-6 * max(1.0, abs(theta[j]))
        up = log_likelihood(theta[:3] + e[:3], theta[3:] + e[3:], *arrays)
        down = log_likelihood(theta[:3] - e[:3], theta[3:] - e[3:], *arrays)
        np.testing.assert_allclose(grad[j], (up - down) / (2 * e[j]), rtol=1e-5, atol=1e-6)


def test_recovery_json_round_trip_and_summary(rng: np.random.Generator) -> None:
    data = _data(*_simulate(5000, rng))
    model = GammaGammaDynamicModel(spend_covariates=["tier", "promo"]).fit(data)
    assert model.converged_
    table = model.summary()
    z = (table["coef"] - pd.Series(TRUE)[table.index]) / table["se"]
    assert (z.abs() < 4).all(), table.assign(z=z)
    doc = json.loads(json.dumps(model.to_dict()))
    back = GammaGammaDynamicModel.from_dict(doc)
    pd.testing.assert_series_equal(back.params_, model.params_)
    pd.testing.assert_series_equal(back.expected_spend(data), model.expected_spend(data))
    assert "GammaGammaDynamicModel" in repr(model)


def test_expected_spend_follows_the_future_path_and_matches_monte_carlo(
    rng: np.random.Generator,
) -> None:
    """A price tier that is raised again 4 weeks after observation_end: the expected value
    of each future transaction, summed over the transactions that happen, matches the
    simulated values."""
    n = 6000
    cov, first = _world(n, rng, weeks=80)
    later = cov["cov_date"] >= OBS_END + pd.Timedelta(weeks=4)
    cov.loc[later, "tier"] = 2.0
    purchases = {"r": 2.0, "alpha": 6.0, "a": 0.8, "b": 3.0}
    tx, _ = simulate_bgnbd_transactions(
        purchases, cov, first, end=START + pd.Timedelta(weeks=79), rng=rng
    )
    tx, _ = simulate_spends(TRUE, tx, cov, spend_covariates=["tier", "promo"], rng=rng)
    data = _data(cov, tx)
    params = {**TRUE}
    names = ["p", "q", "v", "spend[tier]", "spend[promo]"]
    model = GammaGammaDynamicModel.from_dict(
        {
            "init": {"spend_covariates": ["tier", "promo"]},
            "params": {k: params[k] for k in names},
            "covariance": np.eye(5).tolist(),
            "log_likelihood": 0.0,
            "n_customers": 1,
            "converged": True,
            "time_unit": "W",
        }
    )
    path = cov[cov["cov_date"] >= OBS_END]
    by_period = model.expected_spend_by_period(data, 19, path)
    assert by_period.shape == (data.n_customers, 19)
    # the tier change 4 weeks ahead multiplies the expected value by e^{0.4}
    promo_off = path.groupby("customer_id")["promo"].apply(lambda s: s.to_numpy()[:19] == 0)
    i = int(np.flatnonzero([a[2] and a[6] for a in promo_off])[0])
    row = by_period.iloc[i].to_numpy()
    assert row[6] / row[2] == pytest.approx(np.exp(0.4), rel=1e-12)
    # Monte Carlo: future transactions' values against their predicted values
    future = tx[(tx["date"] > OBS_END) & (tx["date"] < OBS_END + pd.Timedelta(weeks=19))]
    future = future[future["customer_id"].isin(data.customer_ids)]
    pos = data.customer_ids.get_indexer(future["customer_id"])
    k = ((future["date"] - OBS_END) // pd.Timedelta(weeks=1)).to_numpy()
    predicted = by_period.to_numpy()[pos, k]
    diff = future["amount"].to_numpy() - predicted
    # customers are independent; a customer's transactions share nu: cluster the errors
    per_customer = pd.Series(diff).groupby(pos).sum()
    se = per_customer.std() * np.sqrt(per_customer.size) / len(diff)
    assert abs(diff.mean()) < 4 * se, (diff.mean(), se, predicted.mean())
    # the carried-forward path ignores the coming change
    default = model.expected_spend_by_period(data, 19)
    assert (default.iloc[:, 6] < by_period.iloc[:, 6]).mean() > 0.6
    at_t = model.expected_spend(data, 6.5, path)
    np.testing.assert_allclose(at_t, by_period.iloc[:, 6], rtol=1e-12)


def test_bad_spend_data_is_a_clear_error(rng: np.random.Generator) -> None:
    cov, tx = _simulate(50, rng)
    bad = tx.copy()
    bad.loc[bad.index[3], "amount"] = -5.0
    with pytest.raises(DataError, match="amount"):
        time_varying_spend_data(bad, cov, columns=COLS, observation_end=OBS_END)
    with pytest.raises(DataError, match="amount"):
        time_varying_spend_data(
            tx.drop(columns="amount"), cov, columns=COLS, observation_end=OBS_END
        )
    data = _data(cov, tx)
    with pytest.raises(DataError, match="not among the covariates"):
        GammaGammaDynamicModel(spend_covariates=["nps"]).fit(data)
    with pytest.raises(DataError, match="TimeVaryingSpendData"):
        GammaGammaDynamicModel().fit(tx)
