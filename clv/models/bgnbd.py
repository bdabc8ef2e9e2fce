"""BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005).

Pure functions first (no pandas, no state); :class:`BetaGeoModel` binds fitted
parameters to them.

Assumptions: while alive, a customer buys as a Poisson process with rate
:math:`\\lambda \\sim \\mathrm{Gamma}(r, \\alpha)`; after every purchase they
drop out with probability :math:`p \\sim \\mathrm{Beta}(a, b)`.

References
----------
.. [FHL2005] Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005). "Counting your
   customers" the easy way: An alternative to the Pareto/NBD model. Marketing
   Science, 24(2), 275-284.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from clv._ops import NUMPY
from clv._special import (
    alive_purchases_quadrature,
    frequency_sums,
    hyp2f1_grid,
    log_hyp2f1,
    per_frequency,
)
from clv._typing import FloatArray, Ops, OpsData
from clv.models._covariates import Lever
from clv.models._simulation import population_params
from clv.models._spec import rfm_spec
from clv.models._transaction import CovariateTransactionModel

__all__ = [
    "BGNBDParams",
    "BetaGeoModel",
    "expected_purchases",
    "expected_purchases_if_alive",
    "expected_purchases_new_customer",
    "log_likelihood",
    "log_likelihood_total_gradient",
    "probability_alive",
    "probability_of_purchases",
    "simulate",
]


class BGNBDParams(NamedTuple):
    """BG/NBD parameters: purchase rate Gamma(r, alpha), dropout probability Beta(a, b)."""

    r: Any
    alpha: Any
    a: Any
    b: Any


def log_likelihood(
    params: BGNBDParams, frequency: OpsData, recency: OpsData, T: OpsData, *, ops: Ops = NUMPY
) -> Any:
    r"""Per-customer log-likelihood, [FHL2005]_ eq. (6), in log space.

    Parameters
    ----------
    params : BGNBDParams
        Scalars or arrays broadcastable against the data.
    frequency, recency, T : array_like
        Repeat purchases :math:`x`, time of the last repeat purchase :math:`t_x`
        and age :math:`T`, in periods.

    Returns
    -------
    array
        :math:`\log L(r, \alpha, a, b \mid x, t_x, T)` per customer.

    Examples
    --------
    >>> p = BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> round(float(log_likelihood(p, 2, 30.43, 38.86)), 4)
    -9.4586
    """
    if ops is NUMPY and all(np.ndim(v) == 0 for v in params):
        return _log_likelihood_scalar(params, frequency, recency, T)
    r, alpha, a, b = params
    x, t_x = frequency, recency
    a1 = ops.gammaln(r + x) - ops.gammaln(r) + r * ops.log(alpha)
    a2 = ops.betaln(a, b + x) - ops.betaln(a, b)
    a3 = -(r + x) * ops.log(alpha + T)
    a4 = ops.log(a) - ops.log(b + ops.maximum(x, 1) - 1) - (r + x) * ops.log(alpha + t_x)
    return a1 + a2 + ops.where(x > 0, ops.logaddexp(a3, a4), a3)


def _log_likelihood_scalar(
    params: BGNBDParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    """:func:`log_likelihood` for scalar parameters with NumPy: the fitting path.

    The terms of ``x`` alone are evaluated once per distinct frequency, and
    ``log(e^L3 + e^L4) = L3 + softplus(L4 - L3)`` with one ``exp`` and one
    ``log1p`` per customer (``logaddexp`` costs several times more).
    """
    r, alpha, a, b = (float(v) for v in params)
    x = np.asarray(frequency, dtype=np.float64)
    t_x = np.asarray(recency, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    head, log_odds = per_frequency(
        x,
        lambda k: (
            special.gammaln(r + k)
            - special.gammaln(r)
            + r * np.log(alpha)
            + special.betaln(a, b + k)
            - special.betaln(a, b),
            np.log(a) - np.log(b + np.maximum(k, 1.0) - 1.0),
        ),
    )
    rx = x + r
    log_aT = np.log(T + alpha)
    z = log_odds - rx * (np.log(t_x + alpha) - log_aT)  # L4 - L3
    sp = np.log1p(np.exp(-np.abs(z))) + np.maximum(z, 0.0)  # softplus(z)
    out = head - rx * log_aT + np.where(x > 0, sp, 0.0)
    return out[()] if out.ndim == 0 else out


def log_likelihood_gradient(
    params: BGNBDParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Per-customer log-likelihood and its analytic gradient w.r.t. ``(r, alpha, a, b)``.

    Returns
    -------
    ll : ndarray, shape (n,)
    grad : ndarray, shape (4, n)
    """
    r, alpha, a, b = (float(v) for v in params)
    x = np.asarray(frequency, dtype=np.float64)
    t_x = np.asarray(recency, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    rx = r + x
    log_aT = np.log(alpha + T)
    log_atx = np.log(alpha + t_x)
    bx1 = b + np.maximum(x, 1.0) - 1.0
    a3 = -rx * log_aT
    a4 = np.log(a) - np.log(bx1) - rx * log_atx
    rep = x > 0
    c = np.where(rep, np.logaddexp(a3, a4), a3)
    w4 = np.where(rep, np.exp(a4 - c), 0.0)
    w3 = 1.0 - w4
    # terms that depend on x alone are evaluated once per distinct frequency
    lg_rx, psi_rx, lb_abx, psi_bx, psi_abx = per_frequency(
        x,
        lambda k: (
            special.gammaln(r + k),
            special.digamma(r + k),
            special.betaln(a, b + k),
            special.digamma(b + k),
            special.digamma(a + b + k),
        ),
    )
    ll = lg_rx - special.gammaln(r) + r * np.log(alpha) + lb_abx - special.betaln(a, b) + c
    psi_ab = special.digamma(a + b)
    d_r = psi_rx - special.digamma(r) + np.log(alpha) - w3 * log_aT - w4 * log_atx
    d_alpha = r / alpha - rx * (w3 / (alpha + T) + w4 / (alpha + t_x))
    d_a = psi_ab - psi_abx + w4 / a
    d_b = psi_bx - psi_abx - special.digamma(b) + psi_ab - w4 / bx1
    return ll, np.stack([d_r, d_alpha, d_a, d_b])


_CHUNK = 16_384  # rows per block: a block's temporaries stay in cache and are reused


def log_likelihood_total_gradient(
    params: BGNBDParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, weights: ArrayLike
) -> tuple[float, FloatArray]:
    """Weighted total log-likelihood and its gradient w.r.t. ``(r, alpha, a, b)``.

    The first-order part of :func:`log_likelihood_hessian` (the same block
    sums, without the second-order ones): about half its cost, for
    samplers that need the gradient only (the Bayesian BG/NBD).

    Returns
    -------
    ll : float
        :math:`\\sum_i w_i \\log L_i`.
    grad : ndarray, shape (4,)

    Examples
    --------
    >>> p = BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> x, t_x, T = np.array([0.0, 2.0]), np.array([0.0, 30.43]), np.array([38.86, 38.86])
    >>> ll, grad = log_likelihood_total_gradient(p, x, t_x, T, np.array([3.0, 1.0]))
    >>> bool(np.isclose(ll, np.sum(log_likelihood(p, x, t_x, T) * [3.0, 1.0])))
    True
    """
    ll, grad, _ = _weighted_derivatives(params, frequency, recency, T, weights, order=1)
    return ll, grad


def log_likelihood_hessian(
    params: BGNBDParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, weights: ArrayLike
) -> tuple[float, FloatArray, FloatArray]:
    r"""Weighted total log-likelihood, its gradient and Hessian w.r.t. ``(r, alpha, a, b)``.

    The last term of eq. (6) is a log-sum-exp of two terms :math:`L_3, L_4`;
    its Hessian is :math:`w_3 \nabla^2 L_3 + w_4 \nabla^2 L_4 + w_3 w_4 (\nabla L_3 -
    \nabla L_4)(\nabla L_3 - \nabla L_4)^T` with the softmax weights :math:`w_i`.
    The sums over customers are accumulated block by block
    (:func:`_hessian_sums`), so the temporaries stay small and are reused
    instead of being allocated afresh for a million rows.

    Returns
    -------
    ll : float
        :math:`\sum_i w_i \log L_i`.
    grad : ndarray, shape (4,)
    hess : ndarray, shape (4, 4)

    Examples
    --------
    >>> p = BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> x, t_x, T = np.array([0.0, 2.0]), np.array([0.0, 30.43]), np.array([38.86, 38.86])
    >>> ll, grad, hess = log_likelihood_hessian(p, x, t_x, T, np.ones(2))
    >>> bool(np.isclose(ll, np.sum(log_likelihood(p, x, t_x, T))))
    True
    """
    ll, grad, hess = _weighted_derivatives(params, frequency, recency, T, weights, order=2)
    assert hess is not None
    return ll, grad, hess


def _weighted_derivatives(
    params: BGNBDParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike,
    weights: ArrayLike, order: int,
) -> tuple[float, FloatArray, FloatArray | None]:  # fmt: skip
    """Weighted total log-likelihood, gradient and (``order=2``) Hessian from the block sums."""
    r, alpha, a, b = (float(v) for v in params)
    x = np.asarray(frequency, dtype=np.float64)
    t_x = np.asarray(recency, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    n = x.shape[0]
    S = _hessian_sums(r, alpha, a, b, x[:_CHUNK], t_x[:_CHUNK], T[:_CHUNK], w[:_CHUNK], order)
    for lo in range(_CHUNK, n, _CHUNK):
        hi = lo + _CHUNK
        S += _hessian_sums(r, alpha, a, b, x[lo:hi], t_x[lo:hi], T[lo:hi], w[lo:hi], order)
    W, s_c, s_nlT, s_rxiT, s4, s4_D, s4_d1, s4_ib = S[:8].tolist()
    # terms of x alone enter only through weighted sums: sum them per distinct frequency
    per_k = frequency_sums(x, w)(
        lambda k: (
            special.gammaln(r + k),
            special.digamma(r + k),
            special.betaln(a, b + k),
            special.digamma(b + k),
            special.digamma(a + b + k),
            *(
                (special.zeta(2.0, r + k), special.zeta(2.0, b + k), special.zeta(2.0, a + b + k))
                if order == 2
                else ()
            ),
        )
    )
    lg_rx, psi_rx, lb_abx, psi_bx, psi_abx = per_k[:5]
    ll = lg_rx + lb_abx + s_c + W * (-special.gammaln(r) + r * np.log(alpha) - special.betaln(a, b))
    psi_ab = float(special.digamma(a + b))
    grad = np.array(
        [
            psi_rx + W * (-special.digamma(r) + np.log(alpha)) + s_nlT - s4_D,
            W * r / alpha - s_rxiT - s4_d1,
            W * psi_ab - psi_abx + s4 / a,
            psi_bx - psi_abx + W * (psi_ab - special.digamma(b)) - s4_ib,
        ]
    )
    if order == 1:
        return ll, grad, None
    tri_rx, tri_bx, tri_abx = per_k[5:]
    (s_iT, s_rxiT2, s4_dI, s4_d1s, s4_ib2,
     v, v_D, v_d1, v_ib, v_DD, v_Dd1, v_Dib, v_d1d1, v_d1ib, v_ibib) = S[8:].tolist()  # fmt: skip
    tri_ab = float(special.zeta(2.0, a + b))  # trigamma(x) = zeta(2, x)
    # Gram matrix of d = grad L3 - grad L4 = (D, d1, -1/a, ib) with weights w w3 w4
    hess = np.array(
        [
            [v_DD, v_Dd1, -v_D / a, v_Dib],
            [v_Dd1, v_d1d1, -v_d1 / a, v_d1ib],
            [-v_D / a, -v_d1 / a, v / a**2, -v_ib / a],
            [v_Dib, v_d1ib, -v_ib / a, v_ibib],
        ]
    )
    hess[0, 0] += tri_rx - W * float(special.zeta(2.0, r))
    cross = W / alpha - s_iT - s4_dI
    hess[0, 1] += cross
    hess[1, 0] += cross
    hess[1, 1] += -W * r / alpha**2 + s_rxiT2 + s4_d1s
    ab = W * tri_ab - tri_abx
    hess[2, 2] += ab - s4 / a**2
    hess[2, 3] += ab
    hess[3, 2] += ab
    hess[3, 3] += ab + tri_bx - W * float(special.zeta(2.0, b)) + s4_ib2
    return ll, grad, hess


def _hessian_sums(
    r: float, alpha: float, a: float, b: float,
    x: FloatArray, t_x: FloatArray, T: FloatArray, w: FloatArray, order: int = 2,
) -> FloatArray:  # fmt: skip
    """The weighted sums over customers behind :func:`log_likelihood_hessian`, for one block.

    With ``D = log(alpha + t_x) - log(alpha + T)``, ``d1 = (r + x)(1/(alpha + t_x) -
    1/(alpha + T))`` and ``ib = 1/(b + max(x, 1) - 1)`` (the components of
    ``grad L3 - grad L4``), the softmax weight ``w4`` of ``L4`` (zero for
    ``x = 0``) and ``v = w w3 w4``. The softmax uses one ``exp``
    (``logaddexp`` and ``expit`` cost several times more per element) and
    each sum is one fused product-sum.  The eight sums of the gradient come
    first; ``order=1`` returns those only.
    """
    s = _fused_sum
    rx = x + r
    iT = np.divide(1.0, T + alpha)  # 1 / (alpha + T)
    itx = np.divide(1.0, t_x + alpha)
    nlT = np.log(iT)  # -log(alpha + T)
    D = np.subtract(nlT, np.log(itx))  # log(alpha + t_x) - log(alpha + T) <= 0
    dI = itx - iT
    d1 = rx * dI
    bx1 = np.maximum(x + (b - 1.0), b)  # b + max(x, 1) - 1
    ib = np.divide(1.0, bx1)
    # z = L4 - L3 (only repeat buyers have L4); the softmax weight of L4 is 1 / (1 + e^-z)
    z = np.log(bx1)
    np.subtract(np.log(a), z, out=z)
    z -= rx * D
    wr = w * (x > 0)
    with np.errstate(over="ignore"):  # e^-z = inf gives the exact limit w4 = 0
        e = np.exp(-z)
    w4 = np.divide(1.0, e + 1.0)
    ww4 = wr * w4
    # softplus(z) = max(z, 0) + log1p(e^-|z|) = log(e^L3 + e^L4) - L3, without overflow
    sp = np.log1p(np.exp(-np.abs(z)))
    sp += np.maximum(z, 0.0)
    first = [
        s(w), s(w, rx, nlT) + s(wr, sp), s(w, nlT), s(w, rx, iT),
        s(ww4), s(ww4, D), s(ww4, d1), s(ww4, ib),
    ]  # fmt: skip
    if order == 1:
        return np.array(first)
    v = ww4 * (1.0 - w4)  # w w3 w4
    v_D, v_d1, v_ib = v * D, v * d1, v * ib
    return np.array(
        [
            *first,
            s(w, iT), s(w, rx, iT, iT), s(ww4, dI), s(ww4, d1, itx + iT), s(ww4, ib, ib),
            s(v), s(v_D), s(v_d1), s(v_ib), s(v_D, D), s(v_D, d1), s(v_D, ib), s(v_d1, d1),
            s(v_d1, ib), s(v_ib, ib),
        ]
    )  # fmt: skip


_SUBSCRIPTS = {2: "i,i->", 3: "i,i,i->", 4: "i,i,i,i->"}


def _fused_sum(*arrays: FloatArray) -> float:
    """``sum(a * b * ...)`` of 1-D arrays in one pass, without temporaries or BLAS."""
    if len(arrays) == 1:
        return float(np.add.reduce(arrays[0]))
    return float(np.einsum(_SUBSCRIPTS[len(arrays)], *arrays))


def _log_odds_dead(
    params: BGNBDParams, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> FloatArray:
    r, alpha, a, b = params
    return (
        np.log(a)
        - np.log(b + np.maximum(x, 1.0) - 1.0)
        + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    )


def probability_alive(
    params: BGNBDParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    r"""Probability that a customer is still alive at ``T``, [FHL2005]_ eq. (A.6 of the note).

    .. math:: P(\text{alive}) = \Bigl[1 + \delta_{x>0}\frac{a}{b+x-1}
              \Bigl(\frac{\alpha+T}{\alpha+t_x}\Bigr)^{r+x}\Bigr]^{-1}

    evaluated as a logistic function of the log-odds, so it never overflows.

    Examples
    --------
    >>> p = BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> round(float(probability_alive(p, 2, 30.43, 38.86)), 4)
    0.7266
    """
    x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (frequency, recency, T))
    out = np.where(x > 0, special.expit(-_log_odds_dead(params, x, t_x, T)), 1.0)
    return out[()] if out.ndim == 0 else out


def expected_purchases(
    params: BGNBDParams, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    r"""Expected repeat purchases in the next ``t`` periods given the history, [FHL2005]_ eq. (10).

    The hypergeometric term is rewritten with Euler's transformation,
    :math:`(1-z)^{r+x}\,{}_2F_1(r+x, b+x; a+b+x-1; z)
    = (1-z)^{a-1}\,{}_2F_1(a+b-1-r, a-1; a+b+x-1; z)`
    with :math:`z = t/(\alpha+T+t)`, whose parameters do not grow with
    :math:`x`; so frequencies in the thousands neither overflow nor lose
    precision.  At the removable singularities :math:`a = 1` and
    :math:`a + b + x = 1` the value is the average of two points :math:`10^{-5}` away.

    Examples
    --------
    >>> p = BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> round(float(expected_purchases(p, 39, 2, 30.43, 38.86)), 3)
    1.226
    """
    r, alpha, a, b = (np.asarray(v, dtype=np.float64) for v in params)
    t, x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (t, frequency, recency, T))
    return _expected_purchases_regularised(r, alpha, a, b, t, x, t_x, T, _expected_purchases)


def expected_purchases_if_alive(
    params: BGNBDParams, t: ArrayLike, frequency: ArrayLike, T: ArrayLike
) -> FloatArray:
    r"""Expected purchases in the next ``t`` periods of a customer known to be alive at ``T``.

    :func:`expected_purchases` divided by :func:`probability_alive`: the
    bracket of [FHL2005]_ eq. (10), which depends on the history only through
    ``(frequency, T)``, with the same removable singularities handled the same
    way. Computing it directly saves P(alive) (and the division) where a caller
    multiplies by P(alive) once per customer.

    Examples
    --------
    >>> p = BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> ratio = expected_purchases(p, 39, 2, 30.43, 38.86) / probability_alive(p, 2, 30.43, 38.86)
    >>> bool(np.isclose(expected_purchases_if_alive(p, 39, 2, 38.86), ratio, rtol=1e-14))
    True
    """
    r, alpha, a, b = (np.asarray(v, dtype=np.float64) for v in params)
    t, x, T = (np.asarray(v, dtype=np.float64) for v in (t, frequency, T))
    return _expected_purchases_regularised(r, alpha, a, b, t, x, T, T, _purchases_if_alive)


def _expected_purchases_regularised(
    r: FloatArray,
    alpha: FloatArray,
    a: FloatArray,
    b: FloatArray,
    t: FloatArray,
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,
    kernel: Callable[..., FloatArray],
) -> FloatArray:
    """``kernel`` with its removable singularities averaged out (see above).

    ``kernel`` is :func:`_expected_purchases` or :func:`_purchases_if_alive`.
    """
    # removable singularities: a = 1 (the factor 1/(a-1)) and a+b+x-1 = 0 (a pole of 2F1 whose
    # residue cancels the factor a+b+x-1). Evaluate both as the mean of two points 1e-5 away.
    singular = (np.abs(a - 1.0) < 1e-6) | (np.abs(a + b + x - 1.0) < 1e-6)
    if not np.any(singular):
        return kernel(r, alpha, a, b, t, x, t_x, T)
    a_lo = np.where(np.abs(a - 1.0) < 1e-6, 1.0 - 1e-5, a)
    a_hi = np.where(np.abs(a - 1.0) < 1e-6, 1.0 + 1e-5, a)
    b_lo = np.where(np.abs(a + b + x - 1.0) < 1e-6, b - 1e-5, b)
    b_hi = np.where(np.abs(a + b + x - 1.0) < 1e-6, b + 1e-5, b)
    lo = kernel(r, alpha, a_lo, b_lo, t, x, t_x, T)
    hi = kernel(r, alpha, a_hi, b_hi, t, x, t_x, T)
    regular = kernel(r, alpha, a, b, t, x, t_x, T) if not np.all(singular) else lo
    # the two points' brackets cancel to ~1e-9 absolute; a count's mean is never below 0
    # (at t -> 0 the average could otherwise come out at -1e-9)
    out = np.where(singular, np.maximum(0.5 * (lo + hi), 0.0), regular)
    return out[()] if out.ndim == 0 else out


def _bracket(
    r: FloatArray,
    alpha: FloatArray,
    a: FloatArray,
    b: FloatArray,
    t: FloatArray,
    x: FloatArray,
    T: FloatArray,
) -> FloatArray:
    """Expected purchases in the next ``t`` periods of a customer known to be alive."""
    log1mz = np.log(alpha + T) - np.log(alpha + T + t)  # log(1 - z)
    z = t / (alpha + T + t)
    c = a + b + x - 1.0
    scalar = all(np.ndim(v) == 0 for v in (r, alpha, a, b))
    with np.errstate(all="ignore"):  # singular points are replaced by the caller; overflow below
        # with scalar parameters, SciPy's 2F1 and the quadrature below cover every case; with
        # parameter arrays (posterior draws) the summed series and log-space 2F1 take over
        h = (special.hyp2f1 if scalar else hyp2f1_grid)(a + b - 1.0 - r, a - 1.0, c, z)
        big = ~np.isfinite(h) | (np.abs(h) > 1e300)
        if np.any(big) and not scalar:  # parameters are then positive: 2F1 in log space
            log_f = (a - 1.0) * log1mz + log_hyp2f1(a + b - 1.0 - r, a - 1.0, c, z)
            f = np.where(big, np.exp(np.where(big, log_f, 0.0)), np.exp((a - 1.0) * log1mz) * h)
        else:
            f = np.exp((a - 1.0) * log1mz) * h
        # (a+b+x-1)/(a-1) * (1 - F); sign-safe for a < 1 and a > 1
        bracket = (1.0 - f) / (a - 1.0) * c
    bad = ~np.isfinite(bracket) | (big & scalar)
    if np.any(bad) and scalar:
        bracket = np.array(bracket, dtype=np.float64)
        xb, Tb, tb = (np.broadcast_to(v, bracket.shape)[bad] for v in (x, T, t))
        bracket[bad] = _bracket_quadrature(float(r), float(alpha), float(a), float(b), tb, xb, Tb)
    elif np.any(bad):
        # parameter arrays (posterior draws) where the series cannot converge (e.g. r near
        # 1e8): the same quadrature, once per distinct parameter set among those entries
        bracket = np.array(bracket, dtype=np.float64)
        cols = [np.broadcast_to(v, bracket.shape)[bad] for v in (r, alpha, a, b, t, x, T)]
        fixed = np.empty(cols[0].shape)
        keys = np.stack(cols[:4], axis=1)
        group = np.unique(keys, axis=0, return_inverse=True)[1].ravel()
        for g in np.unique(group):
            sel = group == g
            rg, alg, ag, bg_ = (float(c[sel][0]) for c in cols[:4])
            fixed[sel] = _bracket_quadrature(
                rg, alg, ag, bg_, cols[4][sel], cols[5][sel], cols[6][sel]
            )
        bracket[bad] = fixed
    return bracket


def _bracket_quadrature(
    r: float,
    alpha: float,
    a: float,
    b: float,
    t: FloatArray,
    x: FloatArray,
    T: FloatArray,
    n_nodes: int = 64,
) -> FloatArray:
    r""":func:`_bracket` by Gauss-Jacobi quadrature, for parameters where 2F1 fails.

    Given alive, a customer with dropout probability :math:`p` and rate
    :math:`\lambda` makes :math:`(1 - e^{-\lambda p t})/p` expected purchases in the
    next :math:`t` periods ([FHL2005]_, eq. 7); integrating :math:`\lambda` over
    its posterior :math:`\mathrm{Gamma}(r+x, \alpha+T)` and :math:`p` over
    :math:`\mathrm{Beta}(a, b+x)` gives
    :math:`E_p\bigl[(1 - (1 + pt/(\alpha+T))^{-(r+x)})/p\bigr]`, a bounded
    integrand against a Beta weight: exact for Gauss-Jacobi nodes of that weight.
    Used for degenerate fits (e.g. :math:`r` in the millions) where the series
    for the hypergeometric function does not converge.
    """
    return alive_purchases_quadrature(a, b + x, r + x, t / (alpha + T), n_nodes)


def _bracket_by_frequency_and_age(
    r: FloatArray,
    alpha: FloatArray,
    a: FloatArray,
    b: FloatArray,
    t: FloatArray,
    x: FloatArray,
    T: FloatArray,
) -> FloatArray:
    """:func:`_bracket`, evaluated once per distinct ``(x, T)`` for large customer arrays.

    The hypergeometric term dominates scoring time and does not depend on
    recency, and far fewer customers differ in ``(x, T)`` than in
    ``(x, t_x, T)``: with scalar parameters, customer arrays of shape ``(n,)``
    or ``(n, 1)`` and a horizon that is the same for every customer, each
    distinct pair is computed once.
    """
    scalar = all(np.ndim(v) == 0 for v in (r, alpha, a, b))
    n = x.shape[0] if x.ndim else 0
    same_t = (
        t.ndim == 0
        or (x.ndim == 2 and t.ndim == 2 and t.shape[0] == 1)
        or (x.ndim == 1 and t.ndim == 0)
    )
    if not (
        scalar
        and n >= 5000
        and x.shape == T.shape
        and x.ndim in (1, 2)
        and same_t
        and (x.ndim == 1 or x.shape[1] == 1)
    ):
        return _bracket(r, alpha, a, b, t, x, T)
    pairs, inverse = np.unique(x.reshape(-1) + 1j * T.reshape(-1), return_inverse=True)
    if pairs.size > 0.7 * n:
        return _bracket(r, alpha, a, b, t, x, T)
    shape = (-1, 1) if x.ndim == 2 else (-1,)
    values = _bracket(r, alpha, a, b, t, pairs.real.reshape(shape), pairs.imag.reshape(shape))
    return values[inverse.reshape(-1)]


def _expected_purchases(
    r: FloatArray,
    alpha: FloatArray,
    a: FloatArray,
    b: FloatArray,
    t: FloatArray,
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,
) -> FloatArray:
    p_alive = np.where(
        x > 0, special.expit(-_log_odds_dead(BGNBDParams(r, alpha, a, b), x, t_x, T)), 1.0
    )
    out = np.asarray(_purchases_if_alive(r, alpha, a, b, t, x, t_x, T) * p_alive)
    return out[()] if out.ndim == 0 else out


def _purchases_if_alive(
    r: FloatArray,
    alpha: FloatArray,
    a: FloatArray,
    b: FloatArray,
    t: FloatArray,
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,
) -> FloatArray:
    """:func:`_expected_purchases` with P(alive) = 1 (``t_x`` is ignored)."""
    bracket = _bracket_by_frequency_and_age(r, alpha, a, b, t, x, T)
    out = np.where(t > 0, bracket, 0.0)
    return out[()] if out.ndim == 0 else out


def expected_purchases_new_customer(params: BGNBDParams, t: ArrayLike) -> FloatArray:
    r"""Expected purchases of a new customer in ``(0, t]``, [FHL2005]_ eq. (9).

    .. math:: E[X(t)] = \frac{a+b-1}{a-1}\Bigl[1 - \Bigl(\frac{\alpha}{\alpha+t}\Bigr)^r
              {}_2F_1\bigl(r, b; a+b-1; \tfrac{t}{\alpha+t}\bigr)\Bigr]

    Examples
    --------
    >>> p = BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> round(float(expected_purchases_new_customer(p, 39)), 4)
    1.1967
    """
    return expected_purchases(params, t, 0.0, 0.0, 0.0)


def probability_of_purchases(params: BGNBDParams, n: ArrayLike, t: ArrayLike) -> FloatArray:
    r"""Probability that a new customer makes exactly ``n`` purchases in ``(0, t]``, eq. (8).

    .. math::
       P(X(t)=n) = \frac{B(a, b+n)}{B(a,b)} \frac{\Gamma(r+n)}{\Gamma(r) n!}
       \Bigl(\frac{\alpha}{\alpha+t}\Bigr)^r \Bigl(\frac{t}{\alpha+t}\Bigr)^n
       + \delta_{n>0} \frac{B(a+1, b+n-1)}{B(a,b)} \Bigl[1 - \Bigl(\frac{\alpha}{\alpha+t}\Bigr)^r
       \sum_{j=0}^{n-1} \frac{\Gamma(r+j)}{\Gamma(r) j!}\Bigl(\frac{t}{\alpha+t}\Bigr)^j\Bigr]

    The bracket is the upper tail of a negative binomial, computed with the
    regularised incomplete beta function (no cancellation, no loop over j).

    Examples
    --------
    >>> p = BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> round(float(sum(probability_of_purchases(p, np.arange(200), 39))), 6)
    1.0
    """
    r, alpha, a, b = params
    n = np.asarray(n, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    log_p0 = r * (np.log(alpha) - np.log(alpha + t))
    log_q = (
        np.log(t) - np.log(alpha + t)
        if np.all(t > 0)
        else np.log(np.where(t > 0, t, 1.0)) - np.log(alpha + t)
    )
    first = (
        special.betaln(a, b + n)
        - special.betaln(a, b)
        + special.gammaln(r + n)
        - special.gammaln(r)
        - special.gammaln(n + 1)
        + log_p0
        + n * log_q
    )
    first = np.where((t > 0) | (n == 0), first, -np.inf)
    # P(NB(r, p0) >= n) = I_{1-p0}(n, r): regularised incomplete beta
    tail = special.betainc(np.maximum(n, 1.0), r, t / (alpha + t))
    second = np.where(
        n > 0,
        np.exp(special.betaln(a + 1, b + np.maximum(n, 1.0) - 1) - special.betaln(a, b)) * tail,
        0.0,
    )
    out = np.exp(first) + second
    return out[()] if out.ndim == 0 else out


def simulate(
    params: BGNBDParams, T: ArrayLike, *, rng: np.random.Generator
) -> dict[str, FloatArray]:
    """Simulate BG/NBD customers observed for ``T`` periods after their first purchase.

    Vectorised: purchase times are drawn as cumulative sums of exponential
    gaps for all customers at once, in blocks, until every customer has died
    or passed ``T``.

    Parameters
    ----------
    params : BGNBDParams
        Population parameters (scalars), or per-customer arrays (e.g. from
        :func:`clv.models._covariates.individual_params`).
    T : array_like
        Age of each customer (one entry per customer).
    rng : numpy.random.Generator

    Returns
    -------
    dict
        ``frequency``, ``recency``, ``T`` arrays, plus the latent ``lambda``,
        ``p`` and ``alive`` (alive at T).
    """
    T = np.asarray(T, dtype=np.float64)
    n = int(T.shape[0])
    r, alpha, a, b = population_params(params, n)
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    p = rng.beta(a, b, size=n)
    # BG/NBD: after each repeat purchase (not the first purchase at time 0) the customer
    # dies with probability p.
    # Death happens after the k-th repeat purchase, k ~ Geometric(p) on {1, 2, ...}.
    k_death = rng.geometric(np.clip(p, 1e-300, 1.0))
    # repeat purchases in (0, T] while alive: Poisson process of rate lam, truncated at k_death
    frequency = np.zeros(n)
    recency = np.zeros(n)
    elapsed = np.zeros(n)
    active = np.arange(n)
    count = np.zeros(n, dtype=np.int64)
    while active.size:
        with np.errstate(divide="ignore"):  # lam == 0 underflow gives an infinite gap: no purchase
            gap = rng.exponential(1.0, size=active.size) / lam[active]
        elapsed[active] += gap
        in_window = elapsed[active] <= T[active]
        buyers = active[in_window]
        count[buyers] += 1
        recency[buyers] = elapsed[buyers]
        still = count[buyers] < k_death[buyers]
        active = buyers[still]
    frequency[:] = count
    alive = count < k_death
    return {
        "frequency": frequency,
        "recency": recency,
        "T": T.copy(),
        "lambda": lam,
        "p": p,
        "alive": alive,
    }


def _initial(frequency: FloatArray, recency: FloatArray, T: FloatArray) -> BGNBDParams:
    """Moment-style starting values on the (rescaled) data."""
    # shape 0.3 (published fits show strong heterogeneity), alpha matching the mean purchase
    # rate; from here Newton needs 4-10 steps on CDNOW and on simulated data
    rate = max(float(np.mean(frequency) / np.mean(T)), 1e-3)
    return BGNBDParams(r=0.3, alpha=0.3 / rate, a=1.0, b=2.5)


SPEC = rfm_spec(
    "BG/NBD",
    BGNBDParams,
    BGNBDParams(r=1.0, alpha=1.0, a=1.0, b=1.0),
    globals(),
    hessian=log_likelihood_hessian,
    scale_columns=("recency", "T"),
    scale_params=("alpha",),
    expected_purchases_if_alive=expected_purchases_if_alive,
)


class BetaGeoModel(CovariateTransactionModel):
    """BG/NBD model of repeat purchasing, fitted by maximum likelihood.

    While alive, a customer makes repeat purchases as a Poisson process with
    rate :math:`\\lambda`; after each repeat purchase they become inactive with
    probability :math:`p`.  Across customers :math:`\\lambda \\sim
    \\mathrm{Gamma}(r, \\alpha)` and :math:`p \\sim \\mathrm{Beta}(a, b)`
    ([FHL2005]_).

    Required columns: ``frequency``, ``recency``, ``T`` (periods), optional
    ``weight``.

    Covariates (``purchase_covariates=``, ``dropout_covariates=``):
    :math:`\\alpha_i = \\alpha_0 e^{-\\gamma_p^\\top x_i}` and
    :math:`a_i = a_0 e^{\\gamma_d^\\top x_i}` (``b`` unchanged: the odds
    :math:`a/b` of dropping out are multiplied), so a positive coefficient
    raises the purchase rate (dropout probability); ``covariate_penalty`` and
    ``coefficient_priors`` as in :class:`~clv.models._base.ParametricModel`.

    Examples
    --------
    >>> from clv.data.datasets import load_cdnow_summary
    >>> model = BetaGeoModel().fit(load_cdnow_summary())
    >>> model.params_.round(3).to_dict()
    {'r': 0.243, 'alpha': 4.414, 'a': 0.793, 'b': 2.426}
    """

    spec = SPEC
    _levers = (Lever("purchase", "alpha", -1.0), Lever("dropout", "a", 1.0))
