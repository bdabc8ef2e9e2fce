"""BG/NBD with time-varying covariates: static limits, recovery, P(alive) by Monte Carlo."""

from __future__ import annotations

import numpy as np
import pandas as pd

from clv.models import BetaGeoDynamicModel, BetaGeoModel, bgnbd, time_varying_data
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
