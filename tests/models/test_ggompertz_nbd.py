"""GGompertz/NBD (Bemmaor & Glady 2012): limits, reference values, recovery, Monte Carlo."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clv.models import ggompertz_nbd as gg
from clv.models import pareto_nbd
from clv.models.ggompertz_nbd import GGNBDParams, GGompertzNBDModel

AGEING = GGNBDParams(r=0.5, alpha=5.0, b=0.05, s=1.5, beta=3.0)


def _pareto_limit(b=1e-9):
    q = pareto_nbd.PNBDParams(0.553, 10.578, 0.606, 11.669)
    return q, GGNBDParams(q.r, q.alpha, b, q.s, q.beta * b)


def test_b_to_zero_is_the_pareto_nbd():
    """S(t) = (beta/(beta + e^{bt} - 1))^s -> (beta_p/(beta_p + t))^s with beta = b beta_p."""
    q, p = _pareto_limit()
    x = np.array([0.0, 1, 2, 26, 150])
    t_x = np.array([0.0, 5, 30.43, 30.86, 38])
    T = np.array([38.86, 38.86, 38.86, 31.0, 38.86])
    np.testing.assert_allclose(
        gg.log_likelihood(p, x, t_x, T), pareto_nbd.log_likelihood(q, x, t_x, T), rtol=1e-6
    )
    np.testing.assert_allclose(
        gg.probability_alive(p, x, t_x, T), pareto_nbd.probability_alive(q, x, t_x, T), rtol=1e-6
    )
    np.testing.assert_allclose(
        gg.expected_purchases(p, 52.0, x, t_x, T),
        pareto_nbd.expected_purchases(q, 52.0, x, t_x, T),
        rtol=1e-6,
    )
    n = np.arange(6.0)
    np.testing.assert_allclose(
        gg.probability_of_purchases(p, n, 39.0),
        pareto_nbd.probability_of_purchases(q, n, 39.0),
        rtol=1e-6,
    )


def test_cdnow_fit_is_the_pareto_limit_as_in_clvtools(cdnow_rfm):
    """CLVTools' test_correctness_ggomnbd: ggomnbd on CDNOW gives r = 0.55313, alpha = 10.5758,
    b = 0.0000011, s = 0.60682, beta = 0.000013, LL = -9594.9762 (b at the boundary: the
    Pareto/NBD). clv's optimum is the same limit, a little higher (-9594.974 = the
    Pareto/NBD's own maximum), and the LL at CLVTools' printed coefficients is -9594.98
    (beta printed to two digits)."""
    model = GGompertzNBDModel().fit(cdnow_rfm)
    pnbd = pareto_nbd.ParetoNBDModel().fit(cdnow_rfm)
    assert model.log_likelihood_ == pytest.approx(-9594.9762, abs=0.005)
    assert model.log_likelihood_ >= pnbd.log_likelihood_ - 1e-3
    assert model.params_["b"] < 1e-4
    for k in ("r", "alpha", "s"):
        assert model.params_[k] == pytest.approx(pnbd.params_[k], rel=1e-3)
    assert model.params_["beta"] / model.params_["b"] == pytest.approx(
        pnbd.params_["beta"], rel=1e-3
    )
    clvtools = GGNBDParams(0.55313, 10.5758, 0.0000011, 0.60682, 0.000013)
    x, t_x, T = (cdnow_rfm[c].to_numpy() for c in ("frequency", "recency", "T"))
    assert float(np.sum(gg.log_likelihood(clvtools, x, t_x, T))) == pytest.approx(
        -9594.9762, abs=0.01
    )


def test_gradient_matches_finite_differences():
    x = np.array([0.0, 3, 10, 40, 2000])
    t_x = np.array([0.0, 10, 25, 29, 29.9])
    T = np.full(5, 30.0)
    _, grad = gg.log_likelihood_gradient(AGEING, x, t_x, T)
    for j in range(5):
        h = 1e-6 * AGEING[j]
        up = gg.log_likelihood(AGEING._replace(**{AGEING._fields[j]: AGEING[j] + h}), x, t_x, T)
        down = gg.log_likelihood(AGEING._replace(**{AGEING._fields[j]: AGEING[j] - h}), x, t_x, T)
        np.testing.assert_allclose(grad[j], (up - down) / (2 * h), rtol=1e-5, atol=1e-7)


def test_recovers_simulated_parameters():
    rng = np.random.default_rng(12)
    sim = gg.simulate(AGEING, rng.uniform(26, 78, 3000), rng=rng)
    data = pd.DataFrame({k: sim[k] for k in ("frequency", "recency", "T")})
    model = GGompertzNBDModel().fit(data)
    se = model.summary()["se"]
    z = (model.params_ - pd.Series(AGEING._asdict())) / se
    assert np.all(np.abs(z) < 4), z
    assert model.params_["b"] > 0.01  # the ageing the data were made with is found


def test_predictions_match_monte_carlo():
    """Cut simulated lifetimes at T; the future is Poisson(lambda x time alive in (T, T+t])."""
    rng = np.random.default_rng(5)
    n, t = 40_000, 26.0
    T = rng.uniform(20, 40, n)
    sim = gg.simulate(AGEING, T, rng=rng)
    future = rng.poisson(sim["lambda"] * np.clip(sim["lifetime"] - T, 0.0, t))
    x, t_x = sim["frequency"], sim["recency"]
    for rows in (x == 0, (x > 0) & (x <= 3), x > 3):
        m = int(rows.sum())
        pa = gg.probability_alive(AGEING, x[rows], t_x[rows], T[rows])
        alive = sim["alive"][rows]
        assert abs(pa.mean() - alive.mean()) < 4 * np.sqrt(alive.var() / m) + 1e-3
        ep = gg.expected_purchases(AGEING, t, x[rows], t_x[rows], T[rows])
        assert abs(ep.mean() - future[rows].mean()) < 4 * future[rows].std() / np.sqrt(m)
        later = gg.probability_alive_at(AGEING, t, x[rows], t_x[rows], T[rows])
        alive_later = sim["lifetime"][rows] > T[rows] + t
        assert abs(later.mean() - alive_later.mean()) < 4 * np.sqrt(alive_later.var() / m) + 1e-3
    new = gg.simulate(AGEING, np.full(n, 30.0), rng=rng)
    for k in range(3):
        share = float(np.mean(new["frequency"] == k))
        pred = float(gg.probability_of_purchases(AGEING, k, 30.0))
        assert abs(pred - share) < 4 * np.sqrt(share * (1 - share) / n)


def test_pmf_identities_and_extreme_inputs():
    n = np.arange(400.0)
    pmf = gg.probability_of_purchases(AGEING, n, 52.0)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-9)
    assert n @ pmf == pytest.approx(
        float(gg.expected_purchases_new_customer(AGEING, 52.0)), rel=1e-8
    )
    x = np.array([0.0, 5000, 5000, 1])
    t_x = np.array([0.0, 9999, 10, 1e-3])
    T = np.array([1e-3, 1e4, 1e4, 1e4])
    for values in (
        gg.log_likelihood(AGEING, x, t_x, T),
        gg.probability_alive(AGEING, x, t_x, T),
        gg.expected_purchases(AGEING, 100.0, x, t_x, T),
    ):
        assert np.all(np.isfinite(values))
    assert np.all(gg.probability_alive(AGEING, x, t_x, T) <= 1.0)


def test_model_methods_and_conditional_extensions(cdnow_rfm):
    model = GGompertzNBDModel()
    model.params_ = pd.Series(AGEING._asdict(), dtype=float)
    rows = cdnow_rfm.head(20)
    assert model.probability_alive(rows).between(0, 1).all()
    assert model.expected_purchases(10, rows).index.equals(rows.index)
    curve = model.expected_cumulative_transactions([0.0, 5.0], [10.0])
    assert curve[0] == pytest.approx(
        float(
            gg.expected_purchases_new_customer(AGEING, 10.0)
            + gg.expected_purchases_new_customer(AGEING, 5.0)
        )
    )
    with pytest.raises(NotImplementedError, match="GGompertz/NBD"):
        model.conditional_probability_of_purchases(1, 5, rows)
    np.testing.assert_allclose(
        model.probability_alive_at(0, rows), model.probability_alive(rows), rtol=1e-12
    )
    assert np.all(model.probability_alive_at(10, rows) < model.probability_alive(rows))
