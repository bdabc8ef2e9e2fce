"""BG/NBD with time-varying covariates: static limits, recovery, P(alive) by Monte Carlo."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clv.exceptions import DataError
from clv.models import (
    BetaGeoDynamicModel,
    BetaGeoModel,
    bgnbd,
    future_covariates,
    time_varying_data,
)
from clv.models import _bgnbd_dyncov_math as bmath
from clv.models.bgnbd_dyncov import simulate_bgnbd_transactions

START = pd.Timestamp("2020-01-05")
OBS_END = START + pd.Timedelta(weeks=60)
COLS = ["season", "promo", "segment"]
TRUE = {
    "r": 0.9,
    "alpha": 6.0,
    "a": 0.8,
    "b": 3.0,
    "purchase[season]": 0.6,
    "purchase[promo]": 0.8,
    "dropout[promo]": -1.0,
    "dropout[season]": 0.5,
}


def _world(n: int, rng: np.random.Generator, weeks: int = 62) -> tuple[pd.DataFrame, pd.Series]:
    ids = np.arange(n)
    first = pd.Series(START + pd.to_timedelta(rng.uniform(0, 20 * 7, n), unit="D"), index=ids)
    week = np.arange(weeks)
    cov = pd.DataFrame(
        {
            "customer_id": np.repeat(ids, weeks),
            "cov_date": np.tile(START + pd.to_timedelta(7 * week, unit="D"), n),
            "season": np.tile(((week // 6) % 2).astype(float), n),
            "promo": (rng.random(n * weeks) < 0.3).astype(float),
            "segment": np.repeat((rng.random(n) < 0.5).astype(float), weeks),
        }
    )
    return cov, first


def _simulate(n: int, rng: np.random.Generator) -> tuple[object, pd.DataFrame, pd.DataFrame]:
    cov, first = _world(n, rng)
    tx, latent = simulate_bgnbd_transactions(
        TRUE, cov, first, end=OBS_END, purchase_covariates=COLS, dropout_covariates=COLS, rng=rng
    )
    return time_varying_data(tx, cov, columns=COLS, observation_end=OBS_END), tx, latent


def test_zero_coefficients_equal_static_bgnbd(rng: np.random.Generator) -> None:
    data, _, _ = _simulate(400, rng)
    arrays = data.bgnbd_arrays(["season", "promo"], ["promo", "season"])
    for p in [(0.24, 4.4, 0.79, 2.43), (2.0, 30.0, 3.0, 0.5), (0.1, 0.5, 0.2, 8.0)]:
        ll = bmath.log_likelihood(p, np.zeros(2), np.zeros(2), arrays)
        ref = bgnbd.log_likelihood(bgnbd.BGNBDParams(*p), data.frequency, data.recency, data.T)
        np.testing.assert_allclose(ll, ref, rtol=0, atol=1e-9)


def test_constant_purchase_covariate_equals_static_covariate_model(
    rng: np.random.Generator,
) -> None:
    data, _, _ = _simulate(300, rng)
    seg = data.hist_X[:, 0, 2].copy()
    no_hist = data.hist_length[:, 0] == 0
    seg[no_hist] = data.post_X[no_hist, 0, 2]
    p = {"r": 0.7, "alpha": 5.0, "a": 0.9, "b": 2.5, "g": 0.4}
    arrays = data.bgnbd_arrays(["segment"], [])
    ll = bmath.log_likelihood(
        (p["r"], p["alpha"], p["a"], p["b"]), np.array([p["g"]]), np.zeros(0), arrays
    )
    static = bgnbd.BGNBDParams(p["r"], p["alpha"] * np.exp(-p["g"] * seg), p["a"], p["b"])
    ref = bgnbd.log_likelihood(static, data.frequency, data.recency, data.T)
    np.testing.assert_allclose(ll, ref, rtol=0, atol=1e-9)


def test_fit_without_covariates_equals_bgnbd(rng: np.random.Generator) -> None:
    data, _, _ = _simulate(600, rng)
    rfm = pd.DataFrame({"frequency": data.frequency, "recency": data.recency, "T": data.T})
    static = BetaGeoModel().fit(rfm)
    dyn = BetaGeoDynamicModel().fit(data)
    assert abs(dyn.log_likelihood_ - static.log_likelihood_) < 1e-6
    pd.testing.assert_series_equal(dyn.params_, static.params_, rtol=1e-4)


def test_recovery_and_probability_alive(rng: np.random.Generator) -> None:
    data, _, latent = _simulate(8000, rng)
    model = BetaGeoDynamicModel(
        purchase_covariates=["season", "promo"], dropout_covariates=["promo", "season"]
    ).fit(data)
    table = model.summary()
    z = (table["coef"] - pd.Series(TRUE)[table.index]) / table["se"]
    assert (z.abs() < 4).all(), table.assign(z=z)
    # P(alive) at the truth matches the simulated share alive
    truth = BetaGeoDynamicModel.from_dict(
        {
            "init": {
                "purchase_covariates": ["season", "promo"],
                "dropout_covariates": ["promo", "season"],
            },
            "params": TRUE,
            "covariance": np.eye(8).tolist(),
            "log_likelihood": 0.0,
            "n_customers": 1,
            "converged": True,
            "time_unit": "W",
        }
    )
    pa = truth.probability_alive(data).to_numpy()
    alive = latent["alive"].reindex(data.customer_ids).to_numpy(dtype=float)
    assert abs(pa.mean() - alive.mean()) < 4 * alive.std() / np.sqrt(alive.size)


# ---------------------------------------------------------------------- predictions
def _truth(params: dict[str, float] = TRUE) -> BetaGeoDynamicModel:
    pc, dc = ["season", "promo"], ["promo", "season"]
    names = BetaGeoDynamicModel(purchase_covariates=pc, dropout_covariates=dc)._param_names()
    return BetaGeoDynamicModel.from_dict(
        {
            "init": {"purchase_covariates": pc, "dropout_covariates": dc},
            "params": {k: params.get(k, 0.0) for k in names},
            "covariance": np.eye(len(names)).tolist(),
            "log_likelihood": 0.0,
            "n_customers": 1,
            "converged": True,
            "time_unit": "W",
        }
    )


def test_zero_coefficients_predict_as_static_bgnbd(rng: np.random.Generator) -> None:
    data, _, _ = _simulate(400, rng)
    rfm = (data.frequency, data.recency, data.T)
    for p in [(0.24, 4.4, 0.79, 2.43), (2.0, 30.0, 3.0, 0.5), (0.1, 0.5, 0.2, 8.0)]:
        model = _truth(dict(zip(("r", "alpha", "a", "b"), p, strict=True)))
        static = bgnbd.BGNBDParams(*p)
        # a future path that changes the covariates: irrelevant with zero coefficients
        path = future_covariates(data, OBS_END + pd.Timedelta(weeks=3), 5, add={"promo": 1.0})
        got = model.predict(data, 20.0, path, discount_rate=0.0)
        ref = bgnbd.expected_purchases(static, 20.0, *rfm)
        np.testing.assert_allclose(got["expected_purchases"], ref, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(
            got["probability_alive"], bgnbd.probability_alive(static, *rfm), rtol=1e-10
        )
        # undiscounted DECT is the expectation itself (quadrature in time is exact enough)
        np.testing.assert_allclose(got["expected_discounted_purchases"], ref, rtol=1e-9, atol=1e-12)
        assert (got["probability_alive_end"] <= got["probability_alive"] + 1e-15).all()


def test_discounted_purchases_at_draws_and_for_some_customers(rng: np.random.Generator) -> None:
    data, _, _ = _simulate(300, rng)
    model = _truth()
    path = future_covariates(data, OBS_END + pd.Timedelta(weeks=3), 5, add={"promo": 1.0})
    full = model.expected_discounted_purchases(20.0, data, 0.01, path)
    some = list(data.customer_ids[[7, 3, 250]])
    sub = model.expected_discounted_purchases(20.0, data, 0.01, path, customers=some)
    assert list(sub.index) == some
    np.testing.assert_allclose(sub.to_numpy(), full.loc[some].to_numpy(), rtol=1e-12)
    draws = pd.DataFrame([model.params_, model.params_ * 1.1])
    many = model.expected_discounted_purchases(20.0, data, 0.01, path, params=draws, customers=some)
    assert many.shape == (2, 3)
    np.testing.assert_allclose(many.iloc[0].to_numpy(), sub.to_numpy(), rtol=1e-12)
    assert not np.allclose(many.iloc[1].to_numpy(), sub.to_numpy())
    with pytest.raises(DataError, match="not in the data"):
        model.expected_discounted_purchases(20.0, data, 0.01, path, customers=["nobody"])


def _mc_world(n: int, rng: np.random.Generator) -> tuple[object, pd.DataFrame, pd.DataFrame]:
    """Promotions random per week until 4 weeks after observation_end, then for everyone."""
    weeks = 85
    ids = np.arange(n)
    first = pd.Series(START + pd.to_timedelta(rng.uniform(0, 20 * 7, n), unit="D"), index=ids)
    week = np.arange(weeks)
    dates = START + pd.to_timedelta(7 * week, unit="D")
    promo = (rng.random((n, weeks)) < 0.3).astype(float)
    promo[:, dates >= OBS_END + pd.Timedelta(weeks=4)] = 1.0
    cov = pd.DataFrame(
        {
            "customer_id": np.repeat(ids, weeks),
            "cov_date": np.tile(dates, n),
            "season": np.tile(((week // 6) % 2).astype(float), n),
            "promo": promo.ravel(),
            "segment": np.repeat((rng.random(n) < 0.5).astype(float), weeks),
        }
    )
    tx, latent = simulate_bgnbd_transactions(
        TRUE,
        cov,
        first,
        end=START + pd.Timedelta(weeks=84),
        purchase_covariates=COLS,
        dropout_covariates=COLS,
        rng=rng,
    )
    return cov, tx, latent


@pytest.mark.slow
def test_predictions_match_monte_carlo_with_a_future_change(rng: np.random.Generator) -> None:
    """Given the true future path (a promotion for everyone from week 4 on), the mean
    predictions equal the simulated future: purchases, discounted purchases, P(alive)."""
    n, horizon = 12000, 20.0
    cov, tx, latent = _mc_world(n, rng)
    data = time_varying_data(tx, cov, columns=COLS, observation_end=OBS_END)
    model = _truth()
    path = cov[cov["cov_date"] >= OBS_END]
    pred = model.predict(data, horizon, path, discount_rate=0.02)
    ahead = (tx["date"] - OBS_END) / pd.Timedelta(weeks=1)
    inside = (ahead > 0) & (ahead <= horizon)
    by = tx.loc[inside, "customer_id"]
    actual = inside[inside].groupby(by).sum().reindex(data.customer_ids, fill_value=0)
    disc = (1.02 ** -ahead[inside]).groupby(by).sum().reindex(data.customer_ids, fill_value=0)
    # alive at the horizon's end: not dropped out at any purchase up to it
    alive_end = latent["alive"].to_numpy() | (
        tx.assign(a=ahead).groupby("customer_id")["a"].max().reindex(latent.index).to_numpy()
        > horizon
    )

    def close(pred_col: pd.Series, realised: np.ndarray) -> None:
        realised = np.asarray(realised, dtype=float)
        se = realised.std() / np.sqrt(realised.size)
        assert abs(pred_col.mean() - realised.mean()) < 4 * se, (
            pred_col.mean(),
            realised.mean(),
            se,
        )

    close(pred["expected_purchases"], actual.to_numpy())
    close(pred["expected_discounted_purchases"], disc.to_numpy())
    top = pred["expected_purchases"] > pred["expected_purchases"].quantile(0.8)
    close(pred["expected_purchases"][top], actual.to_numpy()[top.to_numpy()])
    close(pred["probability_alive_end"], alive_end[data.customer_ids.to_numpy()])
    # the promotion lowers dropout and raises purchases: the carried-forward path differs
    default = model.expected_purchases(horizon, data)
    assert not np.allclose(default, pred["expected_purchases"])
