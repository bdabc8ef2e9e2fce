"""Pareto/NBD: published estimates, lifetimes oracle, high-precision references, analytic
derivatives, DERT, properties, simulation recovery."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import integrate, special

from clv._special import log_hyp2f1, log_hyp2f1_1bc
from clv.models import _pareto_nbd_math as pnbd_math
from clv.models import pareto_nbd
from clv.models.pareto_nbd import ParetoNBDModel, PNBDParams

PUBLISHED = PNBDParams(r=0.553, alpha=10.578, s=0.606, beta=11.669)
WEEKLY_15PC = 1.15 ** (1 / 52) - 1  # FHL (2005): 15 % a year on weekly data


def _rfm(frame):
    return tuple(frame[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))


@pytest.fixture(scope="module")
def fitted(cdnow_rfm):
    return ParetoNBDModel().fit(cdnow_rfm)


# --------------------------------------------------------------------------- published values
def test_reproduces_published_estimates(fitted):
    """Pareto/NBD on the 2,357-customer CDNOW sample (39-week calibration): r=0.553,
    alpha=10.578, s=0.606, beta=11.669, LL=-9595.0, as reported by Fader, Hardie & Lee (2005),
    "RFM and CLV: Using iso-value curves for customer base analysis", JMR 42(4), 415-430, and
    in Hardie's Pareto/NBD notes (brucehardie.com/notes/008, /009); CLVTools'
    tests/testthat/test_correctness_pnbd.R checks the same numbers.  beta is poorly identified
    (SE 6.2): its log-likelihood is flat to 1e-6 over the third decimal, hence +-0.03."""
    tolerance = {"r": 0.002, "alpha": 0.002, "s": 0.03, "beta": 0.03}
    for name, value in PUBLISHED._asdict().items():
        assert fitted.params_[name] == pytest.approx(value, abs=tolerance[name])
    assert fitted.log_likelihood_ == pytest.approx(-9595.0, abs=0.05)
    assert fitted.converged_


def test_standard_errors_match_clvtools(fitted):
    """CLVTools' tests/testthat/test_correctness_pnbd.R:
    ``fct.testthat.correctness.clvfitted.nocov.correct.se(method = pnbd, cdnow = cdnow, ...,
    params.nocov.se = c(r=0.0476264, alpha=0.8427222, s=0.1872594, beta=6.2105448))``.
    CLVTools' optimum differs from ours in the fourth digit of beta (flat direction), so 0.5 %."""
    se = fitted.summary()["se"]
    expected = {"r": 0.0476264, "alpha": 0.8427222, "s": 0.1872594, "beta": 6.2105448}
    for name, value in expected.items():
        assert se[name] == pytest.approx(value, rel=5e-3)


def test_fit_is_fast_on_cdnow(cdnow_rfm):
    start = time.perf_counter()
    ParetoNBDModel().fit(cdnow_rfm)
    assert time.perf_counter() - start < 2.0  # about 0.03 s here; lifetimes takes about 0.6 s


# --------------------------------------------------------------------------- lifetimes oracle
@pytest.fixture(scope="module")
def lifetimes_pnbd():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifetimes sets a deprecated pandas option on import
        lifetimes = pytest.importorskip("lifetimes")

    def make(params):
        model = lifetimes.ParetoNBDFitter()
        model.params_ = pd.Series(params._asdict())
        return model

    return make


# alpha < beta (CDNOW) and alpha >= beta: the two hypergeometric branches
ORACLE_PARAMS = [
    PUBLISHED,
    PNBDParams(0.553, 12.578, 0.606, 11.669),
    PNBDParams(2.1, 3.0, 1.7, 40.0),
    PNBDParams(0.3, 30.0, 3.0, 2.0),
]


@pytest.mark.parametrize("params", ORACLE_PARAMS)
def test_log_likelihood_equals_lifetimes(cdnow_rfm, lifetimes_pnbd, params):
    """lifetimes 0.11.3's ``ParetoNBDFitter._conditional_log_likelihood(params, x, t_x, T)``
    takes the natural (not log) parameters and returns per-customer values."""
    x, t_x, T = _rfm(cdnow_rfm)
    theirs = type(lifetimes_pnbd(params))._conditional_log_likelihood(tuple(params), x, t_x, T)
    np.testing.assert_allclose(pareto_nbd.log_likelihood(params, x, t_x, T), theirs, rtol=1e-8)


@pytest.mark.parametrize("params", ORACLE_PARAMS)
def test_predictions_equal_lifetimes(cdnow_rfm, lifetimes_pnbd, params):
    model = lifetimes_pnbd(params)
    x, t_x, T = _rfm(cdnow_rfm)
    np.testing.assert_allclose(
        pareto_nbd.probability_alive(params, x, t_x, T),
        model.conditional_probability_alive(x, t_x, T),
        rtol=1e-8,
    )
    for t in (1.0, 10.0, 39.0):
        np.testing.assert_allclose(
            pareto_nbd.expected_purchases(params, t, x, t_x, T),
            model.conditional_expected_number_of_purchases_up_to_time(t, x, t_x, T),
            rtol=1e-8,
        )
    t = np.array([0.5, 1.0, 10.0, 39.0, 78.0])
    np.testing.assert_allclose(
        pareto_nbd.expected_purchases_new_customer(params, t),
        model.expected_number_of_purchases_up_to_time(t),
        rtol=1e-8,
    )


def test_probability_of_purchases_equals_lifetimes(lifetimes_pnbd):
    """lifetimes' conditional PMF with no history (x = t_x = T = 0) is the new-customer PMF.
    Its alternating sum loses digits as n grows at small t (relative error 2e-9 at n = 7,
    t = 1; ours agrees with mpmath quadrature to 1e-15 there), so t >= 10 here."""
    model = lifetimes_pnbd(PUBLISHED)
    for t in (10.0, 39.0, 78.0):
        ours = pareto_nbd.probability_of_purchases(PUBLISHED, np.arange(8), t)
        theirs = [
            model.conditional_probability_of_n_purchases_up_to_time(n, t, 0, 0, 0) for n in range(8)
        ]
        np.testing.assert_allclose(ours, theirs, rtol=1e-8)


def test_probability_of_purchases_matches_quadrature():
    """Direct adaptive quadrature of the dropout term of P(X(t)=n) (FH 2006, eq. 4)."""
    r, alpha, s, beta = PUBLISHED
    for n, t in [(0, 1.0), (3, 1.0), (7, 1.0), (20, 39.0), (60, 200.0)]:
        nb = np.exp(special.gammaln(r + n) - special.gammaln(r) - special.gammaln(n + 1))
        alive = nb * (alpha / (alpha + t)) ** r * (t / (alpha + t)) ** n * (beta / (beta + t)) ** s
        integral, _ = integrate.quad(
            lambda u, n=n: u**n * (alpha + u) ** -(r + n) * (beta + u) ** -(s + 1),
            0.0,
            t,
            epsabs=0.0,
            epsrel=1e-12,
            limit=200,
        )
        expected = alive + s * beta**s * alpha**r * nb * integral
        value = pareto_nbd.probability_of_purchases(PUBLISHED, n, t)
        assert value == pytest.approx(expected, rel=1e-9)


# --------------------------------------------------------------------------- high-precision values
# mpmath 1.4.1 at 60 digits: mp.log(mp.hyp2f1(1, b, c, z)) for the binary values of the floats
HYP2F1_REFERENCE = [
    ((1.0, 2.0, 0.5), 0.32663425997828098),
    ((0.55, 2.16, 0.1), 0.026441507926723542),
    ((3.0, 3.5, 0.999999), 7.9862500491594087),
    ((10000.3, 10001.6, 0.9999999), 10.237457828556526),  # scipy.special.hyp2f1: nan
    ((0.0024, 1.0078, 0.999998), 0.029922908628726296),
    ((1.6, 1.62, 0.97), 3.4494945338806353),
    ((2.5, 40.0, 0.99), 0.065545626081935396),
    ((1e4, 1.00005e4, 0.3), 0.35665351758626419),
]


@pytest.mark.parametrize(("args", "expected"), HYP2F1_REFERENCE)
def test_log_hyp2f1_1bc_matches_mpmath(args, expected):
    assert log_hyp2f1_1bc(*args) == pytest.approx(expected, rel=1e-12, abs=1e-14)
    assert log_hyp2f1(1.0, *args) == pytest.approx(expected, rel=1e-12, abs=1e-14)  # dispatch
    assert log_hyp2f1(args[0], 1.0, *args[1:]) == pytest.approx(expected, rel=1e-12, abs=1e-14)


def test_log_hyp2f1_1bc_derivatives_match_central_differences():
    b = np.array([0.55, 3.0, 1.6, 2.5, 300.0, 1.03])
    c = np.array([2.16, 3.5, 1.62, 40.0, 300.7, 1.07])
    z = np.array([0.1, 0.9999, 0.97, 0.6, 0.95, 0.98])  # series and integral branches
    out = log_hyp2f1_1bc(b, c, z, order=2)
    first = dict(zip("bcz", out[1:4], strict=True))
    second = dict(zip(("bb", "bc", "bz", "cc", "cz", "zz"), out[4:], strict=True))
    args = {"b": b, "c": c, "z": z}
    steps = {"b": 1e-6 * b, "c": 1e-6 * c, "z": 1e-6 * np.minimum(z, 1 - z)}
    for v in "bcz":
        up = {**args, v: args[v] + steps[v]}
        down = {**args, v: args[v] - steps[v]}
        f_up = log_hyp2f1_1bc(up["b"], up["c"], up["z"], order=1)
        f_down = log_hyp2f1_1bc(down["b"], down["c"], down["z"], order=1)
        np.testing.assert_allclose(first[v], (f_up[0] - f_down[0]) / (2 * steps[v]), rtol=1e-7)
        for j, w in enumerate("bcz"):
            key = "".join(sorted(v + w, key="bcz".index))
            np.testing.assert_allclose(
                second[key], (f_up[1 + j] - f_down[1 + j]) / (2 * steps[v]), rtol=2e-6, atol=1e-8
            )


# mpmath 1.4.1 at 200 digits, from the untransformed formulas of Fader & Hardie (2005, note 009)
LOG_LIKELIHOOD_REFERENCE = [
    ((0.553, 10.578, 0.606, 11.669), (10000, 30.0, 38.86), 45060.822812904663),
    ((0.001, 1000.0, 1000.0, 0.001), (5, 2.0, 10000.0), -7639.6787318136281),
    ((1000.0, 0.001, 0.001, 1000.0), (10000, 9999.0, 10000.0), -22768.301101240244),
    ((0.5, 0.01, 2.0, 500.0), (3, 0.5, 1.0), -1.7055215957766852),
    # CLVTools' regression case for P(alive) (test_correctness_pnbd.R: NaN in an older version)
    ((0.5143, 2.8845, 0.2856, 14.1087), (221, 103.42857, 103.57143), -61.58464856172922),
]


@pytest.mark.parametrize(("params", "row", "expected"), LOG_LIKELIHOOD_REFERENCE)
def test_log_likelihood_matches_mpmath_in_extreme_cases(params, row, expected):
    value = pareto_nbd.log_likelihood(PNBDParams(*params), *row)
    assert value == pytest.approx(expected, rel=1e-12)


def test_probability_alive_is_stable_for_heavy_buyers():
    """CLVTools' regression case (test_correctness_pnbd.R): these gave NaN in its old P(alive)."""
    params = PNBDParams(r=0.5143, alpha=2.8845, s=0.2856, beta=14.1087)
    x = np.array([221.0, 254.0, 161.0, 204.0])
    t_x = np.array([103.42857, 97.14286, 94.71429, 98.57143])
    T = np.array([103.57143, 97.28571, 98.00000, 99.42857])
    p = pareto_nbd.probability_alive(params, x, t_x, T)
    assert np.all(np.isfinite(p)) and np.all((p >= 0) & (p <= 1))
    assert p[0] > 0.99 and p[2] < p[0]  # bought 0.15 weeks ago vs 3.3 weeks ago


# --------------------------------------------------------------------------- analytic derivatives
@pytest.mark.parametrize("params", ORACLE_PARAMS[:3])
def test_analytic_gradient_matches_central_differences(cdnow_rfm, params):
    x, t_x, T = _rfm(cdnow_rfm)
    p = np.array(params, dtype=float)
    ll, grad = pareto_nbd.log_likelihood_gradient(params, x, t_x, T)
    np.testing.assert_allclose(ll, pareto_nbd.log_likelihood(params, x, t_x, T), rtol=1e-12)
    for j in range(4):
        h = 1e-6 * p[j]
        up, down = p.copy(), p.copy()
        up[j] += h
        down[j] -= h
        numeric = (
            pareto_nbd.log_likelihood(PNBDParams(*up), x, t_x, T)
            - pareto_nbd.log_likelihood(PNBDParams(*down), x, t_x, T)
        ) / (2 * h)
        np.testing.assert_allclose(grad[j], numeric, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("params", ORACLE_PARAMS)
def test_analytic_hessian_matches_differences_of_the_gradient(cdnow_rfm, params):
    x, t_x, T = _rfm(cdnow_rfm)
    w = np.where(np.arange(x.size) % 3 == 0, 2.0, 1.0)
    ll, grad, hess = pareto_nbd.log_likelihood_hessian(params, x, t_x, T, w)
    ll1, grad1 = pareto_nbd.log_likelihood_gradient(params, x, t_x, T)
    assert ll == pytest.approx(float(np.sum(w * ll1)), rel=1e-12)
    np.testing.assert_allclose(grad, np.sum(grad1 * w, axis=1), rtol=1e-10)
    p = np.array(params, dtype=float)
    numeric = np.empty((4, 4))
    for j in range(4):
        h = 1e-6 * p[j]
        up, down = p.copy(), p.copy()
        up[j] += h
        down[j] -= h
        g_up = pareto_nbd.log_likelihood_gradient(PNBDParams(*up), x, t_x, T)[1]
        g_down = pareto_nbd.log_likelihood_gradient(PNBDParams(*down), x, t_x, T)[1]
        numeric[:, j] = np.sum((g_up - g_down) * w, axis=1) / (2 * h)
    np.testing.assert_allclose(hess, numeric, rtol=1e-6, atol=1e-6 * np.abs(numeric).max())
    np.testing.assert_array_equal(hess, hess.T)


# --------------------------------------------------------------------------- DERT
@pytest.mark.parametrize(
    "row", [(2, 30.43, 38.86), (0, 0.0, 38.86), (10, 5.0, 38.86), (1, 38.0, 38.86)]
)
def test_dert_equals_numerical_integration(row):
    """DERT = integral over t of exp(-delta t) d/dt E[Y(t) | x, t_x, T], by adaptive quadrature."""
    x, t_x, T = row
    delta = np.log1p(WEEKLY_15PC)
    alive = pareto_nbd.probability_alive(PUBLISHED, x, t_x, T)
    r, alpha, s, beta = PUBLISHED

    def rate(t):
        survival = ((beta + T) / (beta + T + t)) ** s
        return np.exp(-delta * t) * alive * (r + x) / (alpha + T) * survival

    expected, _ = integrate.quad(rate, 0.0, np.inf, epsabs=0.0, epsrel=1e-12, limit=500)
    dert = pareto_nbd.expected_discounted_residual_transactions(PUBLISHED, x, t_x, T, WEEKLY_15PC)
    assert dert == pytest.approx(expected, rel=1e-10)


def test_dert_closed_form_uses_tricomi_u():
    """Q(s, z) = z^s U(s, s, z) (FHL 2005, eq. 2); scipy's hyperu is accurate for these."""
    s = np.array([0.1, 0.606, 1.0, 2.5, 7.0])
    z = np.array([0.05, 0.14, 1.0, 3.0, 20.0])
    ours = np.exp(pnbd_math.log_dropout_discount(s, z))
    np.testing.assert_allclose(ours, z**s * special.hyperu(s, s, z), rtol=1e-9)


def test_dert_method_returns_aligned_series(fitted, cdnow_rfm):
    head = cdnow_rfm.iloc[:50]
    dert = fitted.expected_discounted_residual_transactions(head, WEEKLY_15PC)
    assert isinstance(dert, pd.Series)
    assert dert.index.equals(head.index)
    # a higher discount rate lowers every customer's DERT
    assert np.all(fitted.expected_discounted_residual_transactions(head, 0.01) < dert)
    with pytest.raises(ValueError, match="discount_rate"):
        fitted.expected_discounted_residual_transactions(head, 0.0)


# --------------------------------------------------------------------------- properties
@st.composite
def rfm_rows(draw):
    x = float(draw(st.integers(0, 10_000)))
    T = draw(st.floats(1e-3, 1e4))
    t_x = draw(st.floats(0.0, T)) if x > 0 else 0.0
    return x, t_x, T


params_st = st.builds(PNBDParams, *(st.floats(1e-3, 1e3) for _ in range(4)))


@given(row=rfm_rows(), p=params_st)
def test_log_likelihood_is_finite(row, p):
    assert np.isfinite(pareto_nbd.log_likelihood(p, *row))
    _, grad = pareto_nbd.log_likelihood_gradient(p, *row)
    assert np.all(np.isfinite(grad))


@given(row=rfm_rows(), p=params_st)
def test_probability_alive_is_a_probability(row, p):
    value = pareto_nbd.probability_alive(p, *row)
    assert 0.0 <= value <= 1.0


@given(row=rfm_rows(), p=params_st, t=st.floats(0.0, 1e3))
def test_expected_purchases_is_zero_at_zero_and_monotone(row, p, t):
    assert pareto_nbd.expected_purchases(p, 0.0, *row) == 0.0
    e1 = pareto_nbd.expected_purchases(p, t, *row)
    e2 = pareto_nbd.expected_purchases(p, t * 1.5 + 1.0, *row)
    assert np.isfinite(e1) and np.isfinite(e2)
    assert 0.0 <= e1 <= e2 * (1 + 1e-12)
    assert pareto_nbd.expected_purchases_new_customer(p, 0.0) == 0.0


moderate_st = st.builds(
    PNBDParams,
    st.floats(0.05, 3.0),
    st.floats(1.0, 50.0),
    st.floats(0.05, 3.0),
    st.floats(0.5, 50.0),
)


@given(p=moderate_st, t=st.floats(0.1, 40.0))
def test_probabilities_of_purchases_sum_to_one(p, t):
    # enough n to cover the NBD without dropout (which only shortens the tail): its terms
    # fall geometrically with ratio t / (alpha + t) once n is past the mode
    mean = p.r * t / p.alpha
    sd = np.sqrt(mean + mean**2 / p.r)
    geometric = np.log(1e-14) / np.log(t / (p.alpha + t))
    n = np.arange(int(max(mean + 25 * sd, geometric) + 60))
    probs = pareto_nbd.probability_of_purchases(p, n, t)
    assert np.all(probs >= 0)
    assert probs.sum() == pytest.approx(1.0, abs=1e-7)
    mean_x = pareto_nbd.expected_purchases_new_customer(p, t)
    assert np.sum(n * probs) == pytest.approx(mean_x, rel=1e-6)


@given(row=rfm_rows(), p=params_st, c=st.floats(1e-2, 1e2), t=st.floats(0.0, 100.0))
def test_time_rescaling_invariance(row, p, c, t):
    """Measuring time in units 1/c as long: recency, T, t and alpha, beta scale by c; the
    predictions do not change, and the log-likelihood (a density of x purchase times)
    shifts by -x log c."""
    x, t_x, T = row
    q = PNBDParams(p.r, p.alpha * c, p.s, p.beta * c)
    scaled = (x, t_x * c, T * c)
    assert pareto_nbd.log_likelihood(q, *scaled) == pytest.approx(
        pareto_nbd.log_likelihood(p, *row) - x * np.log(c), rel=1e-9, abs=1e-9
    )
    assert pareto_nbd.probability_alive(q, *scaled) == pytest.approx(
        pareto_nbd.probability_alive(p, *row), rel=1e-8, abs=1e-12
    )
    assert pareto_nbd.expected_purchases(q, t * c, *scaled) == pytest.approx(
        pareto_nbd.expected_purchases(p, t, *row), rel=1e-8, abs=1e-12
    )


def test_functions_broadcast_over_customers_and_parameter_draws():
    draws = PNBDParams(*(np.array([v, 1.1 * v])[:, None] for v in PUBLISHED))  # (2, 1)
    x, t_x, T = np.array([0.0, 2.0, 5.0]), np.array([0.0, 30.43, 20.0]), np.array([38.86] * 3)
    ll = pareto_nbd.log_likelihood(draws, x, t_x, T)
    assert ll.shape == (2, 3)
    np.testing.assert_allclose(ll[0], pareto_nbd.log_likelihood(PUBLISHED, x, t_x, T), rtol=1e-14)
    assert pareto_nbd.probability_alive(draws, x, t_x, T).shape == (2, 3)
    assert pareto_nbd.expected_purchases(draws, 10.0, x, t_x, T).shape == (2, 3)
    pmf = pareto_nbd.probability_of_purchases(PUBLISHED, np.arange(3)[:, None], [1.0, 39.0])
    assert pmf.shape == (3, 2)


# --------------------------------------------------------------------------- simulation
def test_simulator_matches_the_model_formulas():
    """Frequencies simulated at known parameters have the mean E[X(t)] and the PMF P(X(t)=n)."""
    rng = np.random.default_rng(20240501)
    sim = pareto_nbd.simulate(PUBLISHED, np.full(200_000, 39.0), rng=rng)
    x = sim["frequency"]
    se = x.std() / np.sqrt(x.size)
    assert abs(x.mean() - pareto_nbd.expected_purchases_new_customer(PUBLISHED, 39.0)) < 4 * se
    for n in range(4):
        p = pareto_nbd.probability_of_purchases(PUBLISHED, n, 39.0)
        assert abs(np.mean(x == n) - p) < 4 * np.sqrt(p * (1 - p) / x.size)
    assert np.all((sim["recency"] >= 0) & (sim["recency"] <= sim["T"]))
    assert np.array_equal(x == 0, sim["recency"] == 0)


def _recovery(true, n, seed):
    rng = np.random.default_rng(seed)
    sim = pareto_nbd.simulate(true, rng.uniform(20.0, 52.0, n), rng=rng)
    data = pd.DataFrame({k: sim[k] for k in ("frequency", "recency", "T")})
    fit = ParetoNBDModel().fit(data)
    names = list(true._fields)
    se = fit.summary().loc[names, "se"].to_numpy()
    z = (fit.params_[names].to_numpy() - np.asarray(true)) / se
    assert np.all(np.abs(z) < 4), z


def test_recovers_simulated_parameters_small():
    start = time.perf_counter()
    _recovery(PNBDParams(r=0.8, alpha=5.0, s=0.6, beta=12.0), 3_000, 11)
    assert time.perf_counter() - start < 5.0


@pytest.mark.slow
@pytest.mark.parametrize(
    ("true", "seed"),
    [
        (PUBLISHED, 1),
        (PNBDParams(r=0.8, alpha=5.0, s=0.6, beta=12.0), 2),
        (PNBDParams(r=1.5, alpha=5.0, s=0.3, beta=20.0), 3),  # heavy buyers, long lives
        (PNBDParams(r=0.3, alpha=20.0, s=1.5, beta=5.0), 4),  # light buyers, fast churn
    ],
)
def test_recovers_simulated_parameters(true, seed):
    start = time.perf_counter()
    _recovery(true, 20_000, seed)
    assert time.perf_counter() - start < 60.0


def test_model_simulate_and_refit_roundtrip(fitted):
    sim = fitted.simulate(np.full(50, 39.0), random_state=3)
    assert list(sim.columns[:3]) == ["frequency", "recency", "T"]
    again = fitted.simulate(np.full(50, 39.0), random_state=3)
    pd.testing.assert_frame_equal(sim, again)
