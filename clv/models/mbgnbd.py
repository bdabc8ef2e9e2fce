"""MBG/NBD model of repeat purchasing (Batislam, Denizel & Filiztekin 2007).

Pure functions first (no pandas, no state); :class:`ModifiedBetaGeoModel` binds
fitted parameters to them.

Assumptions: while alive, a customer buys as a Poisson process with rate
:math:`\\lambda \\sim \\mathrm{Gamma}(r, \\alpha)`; right after the first
purchase (time 0) *and* after every repeat purchase they drop out with
probability :math:`p \\sim \\mathrm{Beta}(a, b)`.  The only difference from
BG/NBD is the coin at time 0, so a customer without repeat purchases may
already be inactive and :func:`probability_alive` is below 1 at frequency 0.

References
----------
.. [BDF2007] Batislam, E. P., Denizel, M., & Filiztekin, A. (2007). Empirical
   validation and comparison of models for customer base analysis.
   International Journal of Research in Marketing, 24(3), 201-209.
.. [WH2008] Wagner, U., & Hoppe, D. (2008). Erratum on the MBG/NBD model.
   International Journal of Research in Marketing, 25(3), 225-226.
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import integrate, special

from clv._ops import NUMPY
from clv._special import alive_purchases_quadrature, geometric_failures, per_frequency
from clv._typing import FloatArray, Ops
from clv.models._covariates import Lever
from clv.models._simulation import population_params
from clv.models._spec import rfm_spec
from clv.models._transaction import CovariateTransactionModel

__all__ = [
    "MBGNBDParams",
    "ModifiedBetaGeoModel",
    "expected_purchases",
    "expected_purchases_new_customer",
    "log_likelihood",
    "log_likelihood_gradient",
    "log_likelihood_hessian",
    "probability_alive",
    "probability_of_purchases",
    "simulate",
]

_A_ONE = 1e-6  # half-width of the band around a = 1 (removable singularity of E[Y(t)])


class MBGNBDParams(NamedTuple):
    """MBG/NBD parameters: purchase rate Gamma(r, alpha), dropout probability Beta(a, b)."""

    r: Any
    alpha: Any
    a: Any
    b: Any


def _scalar(v: FloatArray) -> Any:
    return v[()] if v.ndim == 0 else v


def log_likelihood(
    params: MBGNBDParams,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    ops: Ops = NUMPY,
) -> Any:
    r"""Per-customer log-likelihood ([BDF2007]_, appendix A), in log space.

    .. math::
       L = \frac{B(a, b+x+1)}{B(a,b)} \frac{\Gamma(r+x)\alpha^r}{\Gamma(r)(\alpha+T)^{r+x}}
         + \frac{B(a+1, b+x)}{B(a,b)} \frac{\Gamma(r+x)\alpha^r}{\Gamma(r)(\alpha+t_x)^{r+x}}

    The second term (dropout right after the last purchase, or at time 0 when
    :math:`x = 0`) exists for every customer.

    Parameters
    ----------
    params : MBGNBDParams
        Scalars or arrays broadcastable against the data.
    frequency, recency, T : array_like
        Repeat purchases :math:`x`, time of the last repeat purchase :math:`t_x`
        and age :math:`T`, in periods.
    ops : namespace
        Array functions (NumPy by default, PyTensor in ``clv.bayes``).

    Returns
    -------
    array
        :math:`\log L(r, \alpha, a, b \mid x, t_x, T)` per customer.

    Examples
    --------
    >>> p = MBGNBDParams(r=0.525, alpha=6.183, a=0.891, b=1.614)
    >>> round(float(log_likelihood(p, 2, 30.43, 38.86)), 4)
    -9.4856
    >>> round(float(log_likelihood(p, 0, 0.0, 38.86)), 4)
    -0.5398
    """
    r, alpha, a, b = params
    x, t_x = frequency, recency
    a1 = ops.gammaln(r + x) - ops.gammaln(r) + r * ops.log(alpha)
    a2 = ops.betaln(a, b + x + 1) - ops.betaln(a, b)
    a3 = -(r + x) * ops.log(alpha + T)
    a4 = ops.log(a) - ops.log(b + x) - (r + x) * ops.log(alpha + t_x)
    return a1 + a2 + ops.logaddexp(a3, a4)


def log_likelihood_gradient(
    params: MBGNBDParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Per-customer log-likelihood and its analytic gradient w.r.t. ``(r, alpha, a, b)``.

    Parameters
    ----------
    params : MBGNBDParams
        Scalar parameters.
    frequency, recency, T : array_like
        One entry per customer (or per unique row).

    Returns
    -------
    ll : ndarray, shape (n,)
        Log-likelihood per row.
    grad : ndarray, shape (4, n)
        Derivatives of each row's log-likelihood w.r.t. ``r, alpha, a, b``.
    """
    r, alpha, a, b = (float(v) for v in params)
    x = np.asarray(frequency, dtype=np.float64)
    t_x = np.asarray(recency, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    rx = r + x
    log_aT = np.log(alpha + T)
    log_atx = np.log(alpha + t_x)
    a3 = -rx * log_aT
    a4 = np.log(a) - np.log(b + x) - rx * log_atx
    c = np.logaddexp(a3, a4)
    w4 = np.exp(a4 - c)
    w3 = np.exp(a3 - c)
    ll = (
        special.gammaln(rx)
        - special.gammaln(r)
        + r * np.log(alpha)
        + special.betaln(a, b + x + 1)
        - special.betaln(a, b)
        + c
    )
    psi_abx1 = special.digamma(a + b + x + 1)
    psi_ab = special.digamma(a + b)
    d_r = special.digamma(rx) - special.digamma(r) + np.log(alpha) - w3 * log_aT - w4 * log_atx
    d_alpha = r / alpha - rx * (w3 / (alpha + T) + w4 / (alpha + t_x))
    d_a = psi_ab - psi_abx1 + w4 / a
    d_b = special.digamma(b + x + 1) - psi_abx1 - special.digamma(b) + psi_ab - w4 / (b + x)
    return ll, np.stack([d_r, d_alpha, d_a, d_b])


def log_likelihood_hessian(
    params: MBGNBDParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, weights: ArrayLike
) -> tuple[float, FloatArray, FloatArray]:
    r"""Weighted total log-likelihood, its gradient and Hessian w.r.t. ``(r, alpha, a, b)``.

    The last term is a log-sum-exp of :math:`L_3 = -(r+x)\log(\alpha+T)` and
    :math:`L_4 = \log a - \log(b+x) - (r+x)\log(\alpha+t_x)`; its Hessian is
    :math:`w_3 \nabla^2 L_3 + w_4 \nabla^2 L_4 + w_3 w_4 (\nabla L_3 - \nabla L_4)
    (\nabla L_3 - \nabla L_4)^T` with the softmax weights :math:`w_i`.  Sums over
    customers are matrix products, so no ``(4, 4, n)`` array is built.

    Parameters
    ----------
    params : MBGNBDParams
        Scalar parameters.
    frequency, recency, T : array_like
        One entry per customer (or per unique row).
    weights : array_like
        Number of customers each row stands for.

    Returns
    -------
    ll : float
        :math:`\sum_i w_i \log L_i`.
    grad : ndarray, shape (4,)
        Its gradient.
    hess : ndarray, shape (4, 4)
        Its Hessian.
    """
    r, alpha, a, b = (float(v) for v in params)
    x, t_x, T, w = (np.asarray(v, dtype=np.float64) for v in (frequency, recency, T, weights))
    rx = r + x
    aT = alpha + T
    atx = alpha + t_x
    log_aT = np.log(aT)
    log_atx = np.log(atx)
    bx = b + x
    a3 = -rx * log_aT
    a4 = np.log(a) - np.log(bx) - rx * log_atx
    c = np.logaddexp(a3, a4)
    w4 = np.exp(a4 - c)
    w3 = np.exp(a3 - c)
    lg_rx, psi_rx, tri_rx, lb_abx, psi_bx1, psi_abx1, tri_bx1, tri_abx1 = per_frequency(
        x,
        lambda k: (
            special.gammaln(r + k),
            special.digamma(r + k),
            special.polygamma(1, r + k),
            special.betaln(a, b + k + 1),
            special.digamma(b + k + 1),
            special.digamma(a + b + k + 1),
            special.polygamma(1, b + k + 1),
            special.polygamma(1, a + b + k + 1),
        ),
    )
    W = float(w.sum())
    ll = float(w @ (lg_rx + lb_abx + c)) + W * (
        -special.gammaln(r) + r * np.log(alpha) - special.betaln(a, b)
    )
    psi_ab = float(special.digamma(a + b))
    tri_ab = float(special.polygamma(1, a + b))
    ww4 = w * w4
    ww3 = w * w3
    grad = np.array(
        [
            w @ psi_rx + W * (np.log(alpha) - special.digamma(r)) - ww3 @ log_aT - ww4 @ log_atx,
            W * r / alpha - ww3 @ (rx / aT) - ww4 @ (rx / atx),
            W * psi_ab - w @ psi_abx1 + ww4.sum() / a,
            w @ psi_bx1 - w @ psi_abx1 + W * (psi_ab - special.digamma(b)) - ww4 @ (1.0 / bx),
        ]
    )
    d = np.stack([log_atx - log_aT, rx / atx - rx / aT, np.full_like(x, -1.0 / a), 1.0 / bx])
    hess = (d * (ww4 * w3)) @ d.T  # ∇L3 - ∇L4 outer products, weighted by w3 w4
    hess[0, 0] += w @ tri_rx - W * float(special.polygamma(1, r))
    cross = W / alpha - ww3 @ (1.0 / aT) - ww4 @ (1.0 / atx)
    hess[0, 1] += cross
    hess[1, 0] += cross
    hess[1, 1] += -W * r / alpha**2 + ww3 @ (rx / aT**2) + ww4 @ (rx / atx**2)
    ab = W * tri_ab - w @ tri_abx1
    hess[2, 2] += ab - ww4.sum() / a**2
    hess[2, 3] += ab
    hess[3, 2] += ab
    hess[3, 3] += ab + w @ tri_bx1 - W * float(special.polygamma(1, b)) + ww4 @ (1.0 / bx**2)
    return ll, grad, hess


def _log_odds_dead(
    params: MBGNBDParams, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> FloatArray:
    r, alpha, a, b = params
    return np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))


def probability_alive(
    params: MBGNBDParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    r"""Probability that a customer is still alive at ``T`` ([BDF2007]_, appendix A, eq. (5)).

    .. math:: P(\text{alive}) = \Bigl[1 + \frac{a}{b+x}
              \Bigl(\frac{\alpha+T}{\alpha+t_x}\Bigr)^{r+x}\Bigr]^{-1}

    evaluated as a logistic function of the log-odds, so it never overflows.
    Unlike BG/NBD it is below 1 for customers without repeat purchases.

    Parameters
    ----------
    params : MBGNBDParams
        Model parameters.
    frequency, recency, T : array_like
        :math:`x, t_x, T` in periods.

    Returns
    -------
    numpy.ndarray
        Probabilities in [0, 1], broadcast shape of the inputs.

    Examples
    --------
    >>> p = MBGNBDParams(r=0.525, alpha=6.183, a=0.891, b=1.614)
    >>> round(float(probability_alive(p, 2, 30.43, 38.86)), 4)
    0.7062
    >>> round(float(probability_alive(p, 0, 0.0, 38.86)), 4)
    0.3897
    """
    x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (frequency, recency, T))
    out = special.expit(-_log_odds_dead(params, x, t_x, T))
    return _scalar(np.asarray(out))


def _bracket_quad(A: float, a: float, bp: float, s: float) -> float:
    r"""``E[(1 - (1 + p s)^(-A)) / p]`` for ``p ~ Beta(a, bp)`` by adaptive quadrature.

    Fallback for the few inputs where SciPy's ``hyp2f1`` fails (horizons much
    longer than :math:`\alpha + T` with extreme parameters).  The integral is
    taken over :math:`w = \log p`, with the density in log space, breakpoints
    at the density's mode and at the bend of the integrand, and the
    :math:`p \to 0` tail (where the integrand is :math:`A s\,e^{a w}`) added
    analytically.
    """
    if s <= 0.0:
        return 0.0
    log_norm = -float(special.betaln(a, bp))
    w0 = float(np.log(1e-14 / max(bp, A * s, 1.0)))
    log_tail = float(np.log(A * s)) + a * w0 - float(np.log(a)) + log_norm

    def integrand(w: float) -> float:
        p = min(float(np.exp(w)), 1.0 - 1e-16)
        h = -float(np.expm1(-A * np.log1p(p * s))) / p
        return float(np.exp(a * w + (bp - 1.0) * np.log1p(-p) + log_norm)) * h

    points = sorted(
        w for w in (float(np.log(a / (a + bp - 1.0))), -float(np.log(A * s))) if w0 < w < 0.0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        value = integrate.quad(
            integrand, w0, 0.0, points=points or None, limit=500, epsabs=0.0, epsrel=1e-12
        )[0]
    return value + float(np.exp(log_tail))


def _bracket(
    r: FloatArray,
    alpha: FloatArray,
    a: FloatArray,
    b: FloatArray,
    t: FloatArray,
    x: FloatArray,
    T: FloatArray,
) -> FloatArray:
    r"""``(a+b+x)/(a-1) * [1 - ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x+1; a+b+x; z)]`` for a != 1.

    This is :math:`E[(1 - (1 + p s)^{-(r+x)})/p]` with :math:`p \sim
    \mathrm{Beta}(a, b+x+1)` and :math:`s = t/(\alpha+T)`, so it lies between
    :math:`1 - (1+s)^{-(r+x)}` and :math:`(r+x)s`; values outside those bounds
    (or not finite) are recomputed by :func:`_bracket_quad`.
    """
    r, alpha, a, b, t, x, T = np.broadcast_arrays(r, alpha, a, b, t, x, T)
    s = t / (alpha + T)
    A = r + x
    log1mz = np.log(alpha + T) - np.log(alpha + T + t)  # log(1 - z)
    z = t / (alpha + T + t)
    c = a + b + x
    # Euler: (1-z)^(r+x) 2F1(r+x, b+x+1; c; z) = (1-z)^(a-1) 2F1(a+b-r, a-1; c; z)
    with np.errstate(all="ignore"):  # failures are detected by the bounds below
        h = special.hyp2f1(a + b - r, a - 1.0, c, z)
        out = np.array((1.0 - np.exp((a - 1.0) * log1mz) * h) / (a - 1.0) * c, dtype=np.float64)
    lower = -np.expm1(-A * np.log1p(s))
    upper = A * s
    good = np.isfinite(out) & (out >= lower * (1 - 1e-12)) & (out <= upper * (1 + 1e-12))
    bad = ~good
    if not bad.any():
        return out
    if bad.sum() > 200 and np.all(a == a.flat[0]) and np.all(b == b.flat[0]):
        # many failures (a degenerate fit): one Gauss-Jacobi rule per distinct frequency,
        # vectorised (relative error about 1e-7 on the hardest cases); few: adaptive quadrature
        out[bad] = alive_purchases_quadrature(
            float(a.flat[0]), b[bad] + x[bad] + 1.0, A[bad], s[bad]
        )
        return out
    for i in map(tuple, np.argwhere(bad)):
        out[i] = _bracket_quad(float(A[i]), float(a[i]), float(b[i] + x[i] + 1.0), float(s[i]))
    return out


def expected_purchases(
    params: MBGNBDParams, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    r"""Expected repeat purchases in the next ``t`` periods given the history.

    [BDF2007]_ as corrected by [WH2008]_:

    .. math::
       E[Y(t) \mid x, t_x, T] = \frac{\frac{a+b+x}{a-1}\Bigl[1 -
       \bigl(\frac{\alpha+T}{\alpha+T+t}\bigr)^{r+x}
       {}_2F_1\bigl(r+x, b+x+1; a+b+x; \tfrac{t}{\alpha+T+t}\bigr)\Bigr]}
       {1 + \frac{a}{b+x}\bigl(\frac{\alpha+T}{\alpha+t_x}\bigr)^{r+x}}

    The hypergeometric term is rewritten with Euler's transformation,
    :math:`(1-z)^{r+x}\,{}_2F_1(r+x, b+x+1; a+b+x; z) = (1-z)^{a-1}\,
    {}_2F_1(a+b-r, a-1; a+b+x; z)`, whose first two parameters do not grow
    with :math:`x`, so frequencies in the thousands neither overflow nor lose
    precision.  At :math:`a = 1` (a removable singularity) the value is the
    average at :math:`a = 1 \pm 10^{-6}`.

    Parameters
    ----------
    params : MBGNBDParams
        Model parameters.
    t : array_like
        Horizon in periods; ``t >= 0``.
    frequency, recency, T : array_like
        :math:`x, t_x, T` in periods.

    Returns
    -------
    numpy.ndarray
        Expected purchases, broadcast shape of the inputs.

    Examples
    --------
    >>> p = MBGNBDParams(r=0.525, alpha=6.183, a=0.891, b=1.614)
    >>> round(float(expected_purchases(p, 39, 2, 30.43, 38.86)), 4)
    1.263
    """
    r, alpha, a, b = (np.asarray(v, dtype=np.float64) for v in params)
    t, x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (t, frequency, recency, T))
    near_one = np.abs(a - 1.0) < _A_ONE
    if np.any(near_one):
        a_lo = np.where(near_one, 1.0 - _A_ONE, a)
        a_hi = np.where(near_one, 1.0 + _A_ONE, a)
        bracket = 0.5 * (
            _bracket(r, alpha, a_lo, b, t, x, T) + _bracket(r, alpha, a_hi, b, t, x, T)
        )
    else:
        bracket = _bracket(r, alpha, a, b, t, x, T)
    out = bracket * special.expit(-_log_odds_dead(MBGNBDParams(r, alpha, a, b), x, t_x, T))
    out = np.where(t > 0, out, 0.0)
    return _scalar(np.asarray(out))


def expected_purchases_new_customer(params: MBGNBDParams, t: ArrayLike) -> FloatArray:
    r"""Expected repeat purchases of a new customer in ``(0, t]`` ([BDF2007]_, appendix A).

    .. math:: E[X(t)] = \frac{b}{a-1}\Bigl[1 - \Bigl(\frac{\alpha}{\alpha+t}\Bigr)^r
              {}_2F_1\bigl(r, b+1; a+b; \tfrac{t}{\alpha+t}\bigr)\Bigr]

    which is :func:`expected_purchases` at :math:`x = t_x = T = 0`.

    Parameters
    ----------
    params : MBGNBDParams
        Model parameters.
    t : array_like
        Horizon(s) in periods.

    Returns
    -------
    numpy.ndarray
        Expected purchases, shape of ``t``.

    Examples
    --------
    >>> p = MBGNBDParams(r=0.525, alpha=6.183, a=0.891, b=1.614)
    >>> np.round(expected_purchases_new_customer(p, [1.0, 32.0, 78.0]), 4)
    array([0.0531, 1.0372, 1.8048])
    """
    return expected_purchases(params, t, 0.0, 0.0, 0.0)


def probability_of_purchases(params: MBGNBDParams, n: ArrayLike, t: ArrayLike) -> FloatArray:
    r"""Probability that a new customer makes exactly ``n`` repeat purchases in ``(0, t]``.

    [BDF2007]_, appendix A:

    .. math::
       P(X(t)=n) = \frac{B(a, b+n+1)}{B(a,b)} \frac{\Gamma(r+n)}{\Gamma(r) n!}
       \Bigl(\frac{\alpha}{\alpha+t}\Bigr)^r \Bigl(\frac{t}{\alpha+t}\Bigr)^n
       + \frac{B(a+1, b+n)}{B(a,b)} \Bigl[1 - \Bigl(\frac{\alpha}{\alpha+t}\Bigr)^r
       \sum_{j=0}^{n-1} \frac{\Gamma(r+j)}{\Gamma(r) j!}\Bigl(\frac{t}{\alpha+t}\Bigr)^j\Bigr]

    The bracket is the upper tail of a negative binomial, computed with the
    regularised incomplete beta function (no cancellation, no loop over j);
    it is 1 at :math:`n = 0` (dropout at time 0).

    Parameters
    ----------
    params : MBGNBDParams
        Model parameters.
    n : array_like
        Number(s) of repeat purchases, non-negative integers.
    t : array_like
        Horizon(s) in periods.

    Returns
    -------
    numpy.ndarray
        Probabilities, broadcast shape of ``n`` and ``t``.

    Examples
    --------
    >>> p = MBGNBDParams(r=0.525, alpha=6.183, a=0.891, b=1.614)
    >>> round(float(probability_of_purchases(p, 0, 39.0)), 4)
    0.5825
    >>> round(float(sum(probability_of_purchases(p, np.arange(500), 39.0))), 8)
    1.0
    """
    r, alpha, a, b = params
    n = np.asarray(n, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    log_p0 = r * (np.log(alpha) - np.log(alpha + t))
    log_q = np.log(np.where(t > 0, t, 1.0)) - np.log(alpha + t)
    first = (
        special.betaln(a, b + n + 1)
        - special.betaln(a, b)
        + special.gammaln(r + n)
        - special.gammaln(r)
        - special.gammaln(n + 1)
        + log_p0
        + n * log_q
    )
    first = np.where((t > 0) | (n == 0), first, -np.inf)
    # P(NB(r, p0) >= n) = I_{1-p0}(n, r); 1 for n = 0
    tail = np.where(n > 0, special.betainc(np.maximum(n, 1.0), r, t / (alpha + t)), 1.0)
    second = np.exp(special.betaln(a + 1, b + n) - special.betaln(a, b)) * tail
    out = np.exp(first) + second
    return _scalar(np.asarray(out))


def simulate(
    params: MBGNBDParams, T: ArrayLike, *, rng: np.random.Generator
) -> dict[str, FloatArray]:
    """Simulate MBG/NBD customers observed for ``T`` periods after their first purchase.

    Fully vectorised, without a loop over purchases: a customer survives
    :math:`K` dropout coins (at time 0 and after each repeat purchase) with
    :math:`K` geometric; the Poisson process gives :math:`N(T)` potential
    purchases; then :math:`x = \\min(N, K)` and, given :math:`N` arrivals on
    :math:`[0, T]`, the :math:`x`-th arrival time is :math:`T \\cdot
    \\mathrm{Beta}(x, N - x + 1)`.  The customer is alive at ``T`` when
    :math:`N < K`.

    Parameters
    ----------
    params : MBGNBDParams
        Population parameters (scalars), or per-customer arrays (e.g. from
        :func:`clv.models._covariates.individual_params`).
    T : array_like
        Age of each customer (one entry per customer).
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    dict
        ``frequency``, ``recency``, ``T`` arrays, plus the latent ``lambda``,
        ``p`` and ``alive`` (alive at ``T``).

    Examples
    --------
    >>> sim = simulate(MBGNBDParams(0.5, 6.0, 0.9, 1.6), np.full(3, 39.0),
    ...                rng=np.random.default_rng(1))
    >>> sorted(sim)
    ['T', 'alive', 'frequency', 'lambda', 'p', 'recency']
    """
    T = np.asarray(T, dtype=np.float64)
    size = T.shape[0]
    r, alpha, a, b = population_params(params, size)
    lam = rng.gamma(r, 1.0 / alpha, size=size)
    p = rng.beta(a, b, size=size)
    survived = geometric_failures(p, rng)  # coins survived before dropping out
    arrivals = rng.poisson(lam * T).astype(np.float64)  # purchases an immortal customer makes
    x = np.minimum(arrivals, survived)
    buyers = x > 0
    shape_b = np.where(buyers, arrivals - x + 1.0, 1.0)
    recency = np.where(buyers, T * rng.beta(np.where(buyers, x, 1.0), shape_b), 0.0)
    return {
        "frequency": x,
        "recency": recency,
        "T": T.copy(),
        "lambda": lam,
        "p": p,
        "alive": arrivals < survived,
    }


def _initial(frequency: FloatArray, recency: FloatArray, T: FloatArray) -> MBGNBDParams:
    """Moment-style starting values on the (rescaled) data."""
    rate = max(float(np.mean(frequency) / np.mean(T)), 1e-3)
    return MBGNBDParams(r=1.0, alpha=1.0 / rate, a=1.0, b=3.0)


SPEC = rfm_spec(
    "MBG/NBD",
    MBGNBDParams,
    MBGNBDParams(r=1.0, alpha=1.0, a=1.0, b=1.0),
    globals(),
    hessian=log_likelihood_hessian,
    scale_columns=("recency", "T"),
    scale_params=("alpha",),
)


class ModifiedBetaGeoModel(CovariateTransactionModel):
    """MBG/NBD model of repeat purchasing, fitted by maximum likelihood.

    While alive, a customer makes repeat purchases as a Poisson process with
    rate :math:`\\lambda`; right after the first purchase and after each
    repeat purchase they become inactive with probability :math:`p`.  Across
    customers :math:`\\lambda \\sim \\mathrm{Gamma}(r, \\alpha)` and
    :math:`p \\sim \\mathrm{Beta}(a, b)` ([BDF2007]_, [WH2008]_).  Compared with
    BG/NBD, customers with no repeat purchase are not assumed alive, which
    avoids BG/NBD's ``P(alive) = 1`` for one-time buyers.

    Required columns: ``frequency``, ``recency``, ``T`` (periods), optional
    ``weight``.

    Covariates (``purchase_covariates=``, ``dropout_covariates=``), as for
    :class:`~clv.models.BetaGeoModel`: :math:`\\alpha_i = \\alpha_0
    e^{-\\gamma_p^\\top x_i}` and :math:`a_i = a_0 e^{\\gamma_d^\\top x_i}`, so a
    positive coefficient raises the purchase rate (dropout probability);
    ``covariate_penalty``, ``constrain`` and ``coefficient_priors`` as in
    :class:`~clv.models._base.ParametricModel`.

    Examples
    --------
    >>> from clv.data.datasets import load_cdnow_summary
    >>> rfm = load_cdnow_summary()
    >>> model = ModifiedBetaGeoModel().fit(rfm)
    >>> model.params_.round(3).to_dict()
    {'r': 0.525, 'alpha': 6.183, 'a': 0.891, 'b': 1.614}
    >>> model.probability_alive(rfm).head(3).round(3).tolist()  # customer 3: no repeat purchase
    [0.706, 0.171, 0.39]
    """

    spec = SPEC
    _levers = (Lever("purchase", "alpha", -1.0), Lever("dropout", "a", 1.0))
