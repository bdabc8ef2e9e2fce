"""The counterfactual engine's pure maths against closed forms and Monte Carlo."""

from __future__ import annotations

import numpy as np
import pytest

from clv.models import pareto_nbd
from clv.roi import _math

P = pareto_nbd.PNBDParams(r=0.55, alpha=10.6, s=0.61, beta=11.7)


@pytest.mark.parametrize("s", [0.61, 1.0, 1.0 + 1e-6, 2.5])
def test_unshifted_integrals_sum_to_expected_purchases(s: float) -> None:
    params = P._replace(s=s)
    x, t_x, T = np.array([0.0, 2, 7]), np.array([0.0, 30.4, 35.0]), np.array([38.9, 38.9, 38.0])
    p_alive = pareto_nbd.probability_alive(params, x, t_x, T)
    rate = (params.r + x) / (params.alpha + T)
    j = _math.period_purchase_integrals(s, params.beta + T, None, 52)
    cumulative = np.cumsum(p_alive[:, None] * rate[:, None] * j, axis=1)
    for t in (1, 13, 52):
        expected = pareto_nbd.expected_purchases(params, t, x, t_x, T)
        np.testing.assert_allclose(cumulative[:, t - 1], expected, rtol=1e-10)


def test_constant_dropout_multiplier_equals_rescaled_beta() -> None:
    # m * mu with mu ~ Gamma(s, B) is Gamma(s, B / m): the integral with base B / m
    base = np.array([20.0, 50.0, 400.0])
    m = 1.7
    shifted = _math.period_purchase_integrals(0.8, base, np.full((3, 26), m), 26)
    rescaled = _math.period_purchase_integrals(0.8, base / m, None, 26)
    np.testing.assert_allclose(shifted, rescaled, rtol=1e-10)


def test_shifted_future_matches_monte_carlo(rng: np.random.Generator) -> None:
    """Ramped multipliers on both rates vs simulating the posterior rates and lifetimes."""
    x, t_x, T = 3.0, 30.0, 39.0
    H = 20
    ramp = _math.ramp_profile(H, ramp_periods=5, duration=15)
    g_lam, g_mu = np.log(1.4), np.log(0.6)
    m_lam, m_mu = np.exp(g_lam * ramp), np.exp(g_mu * ramp)
    p_alive = float(pareto_nbd.probability_alive(P, x, t_x, T))
    rate = (P.r + x) / (P.alpha + T)
    j = _math.period_purchase_integrals(P.s, np.array([P.beta + T]), m_mu[None, :], H)[0]
    model = p_alive * rate * m_lam * j
    # Monte Carlo: lambda, mu from their posteriors given alive; death time with piecewise hazard
    n = 400_000
    lam = rng.gamma(P.r + x, 1.0 / (P.alpha + T), n)
    mu = rng.gamma(P.s, 1.0 / (P.beta + T), n)
    e = rng.exponential(1.0, n)  # death when mu * M(u) = e
    cum = np.concatenate([[0.0], np.cumsum(m_mu)])  # M at integer times
    hit = mu[:, None] * cum[None, :] >= e[:, None]
    k = np.argmax(hit, axis=1)  # first integer time past the death
    never = ~hit.any(axis=1)
    death = np.where(
        never,
        np.inf,
        (k - 1) + (e / mu - cum[np.maximum(k - 1, 0)]) / m_mu[np.clip(k - 1, 0, H - 1)],
    )
    periods = np.arange(H)
    exposure = np.clip(death[:, None] - periods[None, :], 0.0, 1.0)  # alive time in period
    mc = p_alive * (lam[:, None] * m_lam[None, :] * exposure).mean(axis=0)
    se = p_alive * (lam[:, None] * m_lam[None, :] * exposure).std(axis=0) / np.sqrt(n)
    assert np.all(np.abs(mc - model) < 4 * se + 1e-12)


def test_payback_and_cumulative() -> None:
    cum = _math.cumulative_discounted(np.array([[30.0, 30.0, 30.0, 30.0]]), np.array([-100.0]), 0.0)
    assert cum.tolist() == [[-70.0, -40.0, -10.0, 20.0]]
    assert _math.payback_period(cum).tolist() == [4.0]


def test_ramp_profile_shapes() -> None:
    assert _math.ramp_profile(4, ramp_periods=0, duration=2).tolist() == [1.0, 1.0, 0.0, 0.0]
    assert _math.ramp_profile(4, ramp_periods=2, start=2).tolist() == [0.0, 0.5, 1.0, 1.0]


def test_shapley_weights_sum_to_one() -> None:
    for n in (1, 2, 3, 4):
        w = _math.shapley_weights(n)
        for j in range(n):
            assert sum(v for (p, _), v in w.items() if p == j) == pytest.approx(1.0)
