"""Pure Pareto/GGG functions (Platzer & Reutterer 2016): likelihood, P(alive), predictions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, special, stats

from clv import _special, _special_jit
from clv.models import _pareto_ggg_math as m
from clv.models import pareto_nbd


def _likelihood_by_quadrature(k, lam, mu, x, t_x, T, litt):
    """L with the lifetime integrated numerically: the definition, term by term."""
    b = k * lam
    f = np.exp(m.log_purchase_times_density(k, lam, x, t_x, litt))

    def surv(u):
        return stats.gamma.sf(u, k, scale=1 / b)

    alive = np.exp(-mu * T) * surv(T - t_x)
    died, _ = integrate.quad(
        lambda tau: mu * np.exp(-mu * tau) * surv(tau - t_x),
        t_x,
        T,
        epsabs=0,
        epsrel=1e-11,
        limit=200,
    )
    return f * (alive + died), f * alive


@pytest.mark.parametrize(
    ("k", "lam", "mu", "x", "t_x", "T", "litt"),
    [
        (3.0, 0.4, 0.05, 4.0, 20.0, 38.0, 3.9),
        (0.4, 1.5, 0.2, 7.0, 30.0, 31.0, -9.0),
        (12.0, 0.1, 0.01, 1.0, 9.0, 52.0, np.log(9.0)),
        (2.0, 0.3, 0.02, 0.0, 0.0, 40.0, 0.0),
    ],
)
def test_closed_form_likelihood_and_p_alive_match_quadrature(k, lam, mu, x, t_x, T, litt):
    total, alive = _likelihood_by_quadrature(k, lam, mu, x, t_x, T, litt)
    ll = m.individual_log_likelihood(k, lam, mu, x, t_x, T, litt)
    assert float(ll) == pytest.approx(np.log(total), rel=1e-9)
    p = float(np.exp(m.log_probability_alive(k, lam, mu, t_x, T)))
    assert p == pytest.approx(alive / total, rel=1e-8)


def test_k1_is_the_pareto_nbd_individual_likelihood():
    rng = np.random.default_rng(0)
    lam, mu = rng.gamma(1, 0.5, 50), rng.gamma(1, 0.05, 50)
    x = rng.poisson(3, 50).astype(float)
    T = rng.uniform(10, 50, 50)
    t_x = np.where(x > 0, rng.uniform(0, 1, 50) * T, 0.0)
    ours = m.individual_log_likelihood(1.0, lam, mu, x, t_x, T, rng.normal(size=50))
    np.testing.assert_allclose(
        ours, pareto_nbd.individual_log_likelihood(lam, mu, x, t_x, T), rtol=1e-10
    )


def test_extreme_but_valid_inputs_stay_finite():
    k = np.array([0.05, 80.0, 3.0, 3.0, 1.0, 5.0])
    lam = np.array([50.0, 1e-4, 1e-8, 40.0, 2.0, 1.0])
    mu = np.array([1e-6, 5.0, 1e-9, 1e-7, 1e-12, 3.0])
    x = np.array([30.0, 1.0, 0.0, 200.0, 5.0, 2.0])
    t_x = np.array([10.0, 1.0, 0.0, 5.0, 39.0, 39.0])
    T = np.array([39.0, 39.0, 39.0, 39.0, 39.0, 39.0])
    litt = np.where(x > 0, x * np.log(np.maximum(t_x, 1e-9) / np.maximum(x, 1)) - 1.0, 0.0)
    with np.errstate(all="raise"):
        ll = m.individual_log_likelihood(k, lam, mu, x, t_x, T, litt)
    assert np.all(np.isfinite(ll))
    p = np.exp(m.log_probability_alive(k, lam, mu, t_x, T))
    assert np.all((p >= 0) & (p <= 1))
    assert p[4] == pytest.approx(1.0) and p[5] == pytest.approx(1.0)  # t_x = T: no gap yet


def test_log_gammainc_and_its_gradient():
    a = np.array([0.05, 0.7, 1.0, 3.0, 30.0, 200.0, 3.0, 2.0])
    x = np.array([1e-5, 0.3, 2.0, 9.0, 25.0, 230.0, 1e-150, 0.0])
    value = _special.log_gammainc(a, x)
    np.testing.assert_allclose(np.exp(value[:6]), special.gammainc(a[:6], x[:6]), rtol=1e-12)
    assert value[6] == pytest.approx(3 * np.log(1e-150) - np.log(6.0), rel=1e-12)
    assert value[7] == -np.inf
    v, d_a, d_x = _special.log_gammainc_with_grad(a, x)
    np.testing.assert_allclose(v, value, rtol=1e-12)
    h = 1e-6
    a6, x6 = a[:6], x[:6]
    ref_a = (np.log(special.gammainc(a6 + h, x6)) - np.log(special.gammainc(a6 - h, x6))) / (2 * h)
    ref_x = np.log(special.gammainc(a6, x6 * (1 + h))) - np.log(special.gammainc(a6, x6 * (1 - h)))
    ref_x /= 2 * h * x6
    np.testing.assert_allclose(d_a[:6], ref_a, rtol=1e-5)
    np.testing.assert_allclose(d_x[:6], ref_x, rtol=1e-5)
    assert d_a[7] == 0.0 and d_x[7] == 0.0


@pytest.mark.skipif(not _special_jit.AVAILABLE, reason="numba not installed")
def test_compiled_gammainc_kernel_agrees_with_scipy(monkeypatch):
    rng = np.random.default_rng(1)
    a = np.r_[rng.gamma(1.0, 2.0, 500), 0.01, 500.0]
    x = np.r_[rng.gamma(1.0, 5.0, 500), 3.0, 480.0]
    fast = _special.log_gammainc_with_grad(a, x)
    monkeypatch.setattr(_special_jit, "AVAILABLE", False)
    slow = _special.log_gammainc_with_grad(a, x)
    np.testing.assert_allclose(fast[0], slow[0], rtol=1e-11, atol=1e-300)
    np.testing.assert_allclose(fast[1], slow[1], rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(fast[2], slow[2], rtol=1e-10)


def _population(n, rng, T=39.0, horizon=39.0):
    """Customers with known rates, their calibration RFM and what they did next."""
    k = rng.gamma(3.0, 1.0, n)
    lam = rng.gamma(2.0, 1 / 8.0, n)
    mu = rng.gamma(1.0, 1 / 30.0, n)
    life = rng.standard_exponential(n) / mu
    cust, time = m.simulate_purchases(k, lam, life, np.full(n, T + horizon), rng=rng)
    seen = time <= T
    x = np.bincount(cust[seen], minlength=n).astype(float)
    t_x = np.zeros(n)
    np.maximum.at(t_x, cust[seen], time[seen])
    future = np.bincount(cust[~seen], minlength=n).astype(float)
    return k, lam, mu, x, t_x, np.full(n, T), future, life > T


def test_p_alive_and_expected_purchases_match_monte_carlo():
    """Given the true rates, the predictions add up to what simulated customers did."""
    rng = np.random.default_rng(7)
    n = 20_000
    k, lam, mu, _x, t_x, T, future, alive = _population(n, rng)
    p = np.exp(m.log_probability_alive(k, lam, mu, t_x, T))
    se = np.sqrt(np.sum(p * (1 - p)))
    assert abs(p.sum() - alive.sum()) < 4 * se
    # the same check among customers who have been silent for long: the conditioning matters
    quiet = (T - t_x) > 20
    assert abs(p[quiet].sum() - alive[quiet].sum()) < 4 * np.sqrt(np.sum(p[quiet] * (1 - p[quiet])))
    est = m.expected_purchases_given_rates(k, lam, mu, t_x, T, 39.0, rng=rng, n_paths=4)
    assert est.sum() == pytest.approx(future.sum(), rel=0.03)
    high = est > np.quantile(est, 0.9)
    assert est[high].sum() == pytest.approx(future[high].sum(), rel=0.04)
    # a model that ignores the gap since the last purchase would miss: alive for sure
    naive = lam / mu * (1 - np.exp(-mu * 39.0))
    assert naive[quiet].sum() > 1.5 * future[quiet].sum()


def test_simulate_purchases_gaps_are_gamma():
    rng = np.random.default_rng(3)
    cust, time = m.simulate_purchases(
        np.full(3000, 4.0), np.full(3000, 0.5), np.full(3000, np.inf), np.full(3000, 6.0), rng=rng
    )
    first = np.r_[True, cust[1:] != cust[:-1]]
    gaps = time[first]  # each customer's first repeat purchase: one gap, seen if <= 6
    ref = stats.gamma(4.0, scale=1 / (4.0 * 0.5))  # shape k, rate k * lambda: mean 2
    assert stats.kstest(gaps, lambda g: ref.cdf(g) / ref.cdf(6.0)).pvalue > 0.01
