r"""Internals of the Pareto/NBD model: the likelihood's building blocks and its gradient.

The public pure functions live in :mod:`clv.models.pareto_nbd`; this module
holds the pieces they share.  Notation (Fader & Hardie 2005, note 009):
:math:`x` = frequency, :math:`t_x` = recency, :math:`p = r + x`,
:math:`m = r + s + x`.

The likelihood is

.. math::

   L = \frac{\Gamma(r+x)\,\alpha^r\beta^s}{\Gamma(r)}\Bigl[
       \frac{1}{(\alpha+T)^{p}(\beta+T)^{s}}
       + s \int_{t_x}^{T} \frac{d\tau}{(\alpha+\tau)^{p}(\beta+\tau)^{s+1}}\Bigr],

and the tail integral has the closed form

.. math::

   m \int_t^\infty \frac{d\tau}{(\alpha+\tau)^{p}(\beta+\tau)^{s+1}}
   = \frac{\lambda_t}{(\alpha+t)^{p}(\beta+t)^{s}}\;
     {}_2F_1\Bigl(1, b; m+1; \frac{|\alpha-\beta|}{\max(\alpha,\beta)+t}\Bigr),

with :math:`b = p,\ \lambda_t = 1` when :math:`\alpha \ge \beta` and
:math:`b = s + 1,\ \lambda_t = (\alpha+t)/(\beta+t)` otherwise.  This is the
usual :math:`\alpha \ge \beta` / :math:`\alpha < \beta` pair of formulas after
Euler's transformation :math:`{}_2F_1(a,b;c;z) = (1-z)^{c-a-b}{}_2F_1(c-a,c-b;c;z)`:
the remaining function has positive, decreasing series terms and is bounded,
so it never overflows (the untransformed one grows like :math:`(1-z)^{1-r-x}`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import special

from clv import _special, _special_jit
from clv._special import log_hyp2f1_1bc, log_integrate_unimodal, logsubexp, per_frequency
from clv._typing import FloatArray, IndexArray
from clv.models._output import float_arrays as _floats

__all__ = [
    "WeightedTotalGradient",
    "log_dropout_discount",
    "log_likelihood_gradient",
    "log_likelihood_hessian",
    "log_likelihood_total_gradient",
    "log_pmf_dropout_term",
    "pieces",
]


# (x, t, first, inverse) of the last call of _distinct_pairs: the optimiser evaluates the same
# data many times, and comparing arrays costs far less than sorting them again
_LAST_PAIRS: list[Any] = [None]


def _distinct_pairs(
    x: FloatArray, t: FloatArray
) -> tuple[NDArray[np.intp], NDArray[np.intp]] | None:
    """Indices of the distinct ``(x, t)`` pairs and the map back, or None if few repeat."""
    last = _LAST_PAIRS[0]
    if (
        last is not None
        and last[0].shape == x.shape
        and np.array_equal(last[0], x)
        and np.array_equal(last[1], t)
    ):
        return last[2]
    span = 2.0 * (float(np.max(np.abs(t))) + 1.0)
    _, first, inverse = np.unique(x * span + t, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    result = None
    # the float key could merge pairs that differ below its resolution: check, keep it exact
    if (
        first.size < 0.7 * x.size
        and np.array_equal(x[first][inverse], x)
        and np.array_equal(t[first][inverse], t)
    ):
        result = (first, inverse)
    if x.size <= 2_000_000:  # keep at most 32 MB
        _LAST_PAIRS[0] = (x.copy(), t.copy(), result)
    return result


def _hyp_terms(
    params: Any, x: FloatArray, t: FloatArray, order: int, *, distinct: bool = False
) -> tuple[FloatArray, ...]:
    """``log_hyp2f1_1bc`` (and derivatives) of the tail integral at ``(x, t)``, once per pair.

    The hypergeometric function depends on a row only through ``(x, t)``;
    with ``t`` the recencies and ages of compressed data these pairs repeat a
    lot (e.g. 30,000 rows, 4,000 pairs with daily dates), so it is evaluated
    on the distinct pairs and expanded back (``distinct=True``: they already are).
    """
    r, alpha, s, beta = params
    pairs = _distinct_pairs(x, t) if x.size > 256 and not distinct else None
    xs, ts = (x, t) if pairs is None else (x[pairs[0]], t[pairs[0]])
    p = r + xs
    b_hyp = p if alpha >= beta else np.full(xs.size, s + 1.0)
    z = abs(alpha - beta) / (max(alpha, beta) + ts)
    out = log_hyp2f1_1bc(b_hyp, p + s + 1.0, z, order=order)
    out = out if order else (out,)
    return tuple(out) if pairs is None else tuple(v[pairs[1]] for v in out)


def pieces(
    params: Any,
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return ``(c0, log_alive_term, log_dead_term)``: ``log L = c0 + logaddexp(alive, dead)``.

    ``exp(alive)`` and ``exp(dead)`` are the two terms of the bracket above
    (still alive at ``T``; died in ``(t_x, T]``), so ``P(alive) =
    exp(alive - logaddexp(alive, dead))``.
    """
    r, alpha, s, beta = _floats(*params)
    p = r + x
    m = p + s
    family_a = alpha >= beta
    b_hyp = np.where(family_a, p, s + 1.0)
    gap = np.abs(alpha - beta)
    big = np.maximum(alpha, beta)

    scalar = all(v.ndim == 0 for v in (r, alpha, s, beta))
    if scalar and x.ndim == t_x.ndim == T.ndim == 1 and x.shape == t_x.shape == T.shape:
        # one set of parameters, one row per customer: once per distinct (x, t) pair
        n = x.size
        h2 = _hyp_terms(
            (float(r), float(alpha), float(s), float(beta)),
            np.concatenate([x, x]),
            np.concatenate([t_x, T]),
            0,
        )[0]
        h_x, h_T = h2[:n], h2[n:]
    else:
        h_x = log_hyp2f1_1bc(b_hyp, m + 1.0, gap / (big + t_x))
        h_T = log_hyp2f1_1bc(b_hyp, m + 1.0, gap / (big + T))

    def log_tail(t: FloatArray, h: FloatArray) -> FloatArray:  # log(m ∫_t^∞ ...), see above
        la = np.log(alpha + t)
        lb = np.log(beta + t)
        return -p * la - s * lb + np.where(family_a, 0.0, la - lb) + h

    alive = -p * np.log(alpha + T) - s * np.log(beta + T)
    dead = np.log(s) - np.log(m) + logsubexp(log_tail(t_x, h_x), log_tail(T, h_T))
    c0 = special.gammaln(p) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    return c0, alive, dead


def log_likelihood_gradient(
    params: Any,
    frequency: Any,
    recency: Any,
    T: Any,
) -> tuple[FloatArray, FloatArray]:
    """Per-customer log-likelihood and its analytic gradient w.r.t. ``(r, alpha, s, beta)``.

    The hypergeometric function and its partial derivatives come from one
    series or continued fraction (:func:`clv._special.log_hyp2f1_1bc`),
    evaluated at ``t_x`` and ``T`` in a single vectorised call.

    Returns
    -------
    ll : ndarray, shape (n,)
    grad : ndarray, shape (4, n)
    """
    r, alpha, s, beta = (float(v) for v in params)
    x, t_x, T = _rows(frequency, recency, T)
    p = r + x
    family_a = alpha >= beta
    t, (at, bt, la, lb) = _at_both_ends(alpha, beta, t_x, T)
    h, h_b, h_c, h_z = _hyp_terms((r, alpha, s, beta), np.tile(x, 2), t, 1)
    p2 = np.tile(p, 2)
    log_term = -p2 * la - s * lb  # log of (alpha+t)^-p (beta+t)^-s
    g = log_term + h if family_a else log_term + h + la - lb
    # derivatives of g(t) = log(m * tail integral at t) w.r.t. r, alpha, s, beta
    if family_a:
        dz_da, dz_db = bt / at**2, -1.0 / at
        dg_r = -la + h_b + h_c
        dg_s = -lb + h_c
        dg_a = -p2 / at + h_z * dz_da
        dg_b = -s / bt + h_z * dz_db
    else:
        dz_da, dz_db = -1.0 / bt, at / bt**2
        dg_r = -la + h_c
        dg_s = -lb + h_b + h_c
        dg_a = (1.0 - p2) / at + h_z * dz_da
        dg_b = -(s + 1.0) / bt + h_z * dz_db
    return _ll_and_gradient(
        (r, alpha, s, beta), x, log_term, g, (at, bt, la, lb), (dg_r, dg_a, dg_s, dg_b)
    )


def _rows(frequency: Any, recency: Any, T: Any) -> tuple[FloatArray, ...]:
    """``frequency, recency, T`` as flat float arrays of one common length."""
    x, t_x, T = (np.atleast_1d(v).ravel() for v in _floats(frequency, recency, T))
    return np.broadcast_arrays(x, t_x, T)


def _at_both_ends(
    alpha: Any, beta: Any, t_x: FloatArray, T: FloatArray
) -> tuple[FloatArray, tuple[FloatArray, FloatArray, FloatArray, FloatArray]]:
    """``t = [t_x, T]`` and ``(alpha + t, beta + t, log(alpha + t), log(beta + t))``."""
    t = np.concatenate([t_x, T])
    at = alpha + t
    bt = beta + t
    return t, (at, bt, np.log(at), np.log(bt))


def _ll_and_gradient(
    params: tuple[Any, Any, Any, Any],
    x: FloatArray,
    log_term: FloatArray,
    g: FloatArray,
    at_bt: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
    dg: tuple[FloatArray, FloatArray, FloatArray, FloatArray],
) -> tuple[FloatArray, FloatArray]:
    r"""Log-likelihood and gradient from the log tail integrals at ``t_x`` and ``T``.

    The last step of :func:`log_likelihood_gradient` and
    :func:`log_likelihood_gradient_rows`: ``log_term`` and ``g`` (length ``2n``,
    first at ``t_x`` then at ``T``) are :math:`\log (\alpha+t)^{-p}(\beta+t)^{-s}`
    and the log tail integral; ``at_bt`` is ``(alpha + t, beta + t, log(alpha + t),
    log(beta + t))`` and ``dg`` the derivatives of ``g`` w.r.t. ``r, alpha, s, beta``.
    ``alpha`` and ``beta`` are scalars or one value per customer.
    """
    r, alpha, s, beta = params
    at, bt, la, lb = at_bt
    dg_r, dg_a, dg_s, dg_b = dg
    n = x.size
    p = r + x
    m = p + s
    a_, b_ = g[:n], g[n:]
    alive = log_term[n:]
    log_sm = np.log(s) - np.log(m)
    dead = log_sm + logsubexp(a_, b_)
    lam = np.logaddexp(alive, dead)
    w_alive = np.exp(alive - lam)
    w_dead = np.exp(dead - lam)
    k_a = np.exp(log_sm + a_ - lam)  # weights of d g(t_x) and d g(T)
    k_b = np.exp(log_sm + b_ - lam)
    gammaln_p, digamma_p = per_frequency(
        x, lambda k: (special.gammaln(r + k), special.digamma(r + k))
    )
    log_a, log_b = np.log(alpha), np.log(beta)
    ll = gammaln_p - special.gammaln(r) + r * log_a + s * log_b + lam
    grad = np.empty((4, n))
    grad[0] = (
        digamma_p
        - special.digamma(r)
        + log_a
        - w_alive * la[n:]
        - w_dead / m
        + k_a * dg_r[:n]
        - k_b * dg_r[n:]
    )
    grad[1] = r / alpha - w_alive * p / at[n:] + k_a * dg_a[:n] - k_b * dg_a[n:]
    grad[2] = (
        log_b - w_alive * lb[n:] + w_dead * (1.0 / s - 1.0 / m) + k_a * dg_s[:n] - k_b * dg_s[n:]
    )
    grad[3] = s / beta - w_alive * s / bt[n:] + k_a * dg_b[:n] - k_b * dg_b[n:]
    return ll, grad


def _hyp_pairs_order1(
    r: float, alpha: float, s: float, beta: float, xp: FloatArray, tp: FloatArray
) -> FloatArray:
    """``(log F, F_b, F_c, F_z)`` of the tail integral at the pairs, shape ``(4, n_pairs)``.

    :func:`_hyp_terms` with ``order=1`` through the compiled kernel directly
    (the vectorised wrapper's masks and copies cost a third as much as the
    kernel on a thousand pairs); the rows the kernel leaves (``z`` too close
    to 1) go through :func:`clv._special.log_hyp2f1_1bc`.
    """
    p = r + xp
    b_hyp = p if alpha >= beta else np.full(xp.size, s + 1.0)
    c_hyp = p + (s + 1.0)
    z = abs(alpha - beta) / (max(alpha, beta) + tp)
    hyp, ok = _special_jit.log_hyp2f1_1bc_order1(
        b_hyp,
        c_hyp,
        z,
        cf_min_z=_special._CF_MIN_Z,
        cf_terms=_special._CF_TERMS,
        series_terms=_special._SERIES_TERMS,
    )
    if not ok.all():
        rest = np.flatnonzero(~ok)
        hyp[:, rest] = log_hyp2f1_1bc(b_hyp[rest], c_hyp[rest], z[rest], order=1)
    return hyp


class WeightedTotalGradient:
    """:func:`log_likelihood_total_gradient` with its data prepared once.

    A sampler evaluates the same data tens of thousands of times: the
    distinct ``(x, t)`` pairs, the map of each row to its pairs and the weight
    of each distinct frequency are found here once, and each call computes the
    hypergeometric function once per pair (the compiled kernel), then the
    rows in one compiled loop (:mod:`clv.models._pareto_nbd_jit`).  Without
    numba (:data:`clv._special_jit.AVAILABLE` false) calls go through
    :func:`log_likelihood_gradient`.

    Parameters
    ----------
    frequency, recency, T, weights : array_like
        The (compressed) rows and their weights; copied.
    """

    def __init__(self, frequency: Any, recency: Any, T: Any, weights: Any) -> None:
        cols = (np.atleast_1d(v).ravel() for v in _floats(frequency, recency, T, weights))
        x, t_x, T, w = (np.array(v) for v in np.broadcast_arrays(*cols))
        self.x, self.t_x, self.T, self.w = x, t_x, T, w
        n = x.size
        x2 = np.concatenate([x, x])
        t2 = np.concatenate([t_x, T])
        pairs = _distinct_pairs(x2, t2) if x2.size > 256 else None
        if pairs is None:
            self.xp, self.tp = x2, t2
            self.i_a, self.i_b = np.arange(n), np.arange(n, 2 * n)
        else:
            self.xp, self.tp = x2[pairs[0]], t2[pairs[0]]
            self.i_a, self.i_b = pairs[1][:n].copy(), pairs[1][n:].copy()
        # sum_i w_i f(r + x_i) = sum_k W_k f(r + x_k) over the distinct frequencies x_k
        self.x_distinct, inverse = np.unique(x, return_inverse=True)
        self.w_distinct = np.bincount(inverse.ravel(), weights=w, minlength=self.x_distinct.size)
        self.total_w = float(w.sum())

    def __call__(self, params: Any) -> tuple[float, FloatArray]:
        """``(sum_i w_i log L_i, its gradient w.r.t. (r, alpha, s, beta))``."""
        if not _special_jit.AVAILABLE:
            rows, grad = log_likelihood_gradient(params, self.x, self.t_x, self.T)
            return float(np.dot(rows, self.w)), grad @ self.w
        from clv.models import _pareto_nbd_jit

        r, alpha, s, beta = (float(v) for v in params)
        hyp = _hyp_pairs_order1(r, alpha, s, beta, self.xp, self.tp)
        sums = _pareto_nbd_jit.weighted_total(
            (r, alpha, s, beta), self.xp, self.tp, hyp, self.i_a, self.i_b, self.w
        )
        rk = r + self.x_distinct
        total_w = self.total_w
        log_a, log_b = np.log(alpha), np.log(beta)
        ll = (
            float(sums[0])
            + float(np.dot(self.w_distinct, special.gammaln(rk)))
            + total_w * (r * log_a + s * log_b - float(special.gammaln(r)))
        )
        grad = sums[1:]
        grad[0] += float(np.dot(self.w_distinct, special.digamma(rk))) + total_w * (
            log_a - float(special.digamma(r))
        )
        grad[1] += total_w * r / alpha
        grad[2] += total_w * log_b
        grad[3] += total_w * s / beta
        return ll, grad


def log_likelihood_total_gradient(
    params: Any, frequency: Any, recency: Any, T: Any, weights: Any
) -> tuple[float, FloatArray]:
    """Weighted total of :func:`log_likelihood_gradient`: ``(sum w ll, grad @ w)``.

    With numba (:data:`clv._special_jit.AVAILABLE`) the per-row terms are
    combined in one compiled loop (:mod:`clv.models._pareto_nbd_jit`) after
    the hypergeometric function is evaluated once per distinct ``(x, t)``
    pair; otherwise the rows go through :func:`log_likelihood_gradient`.
    For repeated evaluation on the same data, :class:`WeightedTotalGradient`
    prepares them once.
    """
    return WeightedTotalGradient(frequency, recency, T, weights)(params)


def log_likelihood_gradient_rows(
    params: Any,
    frequency: Any,
    recency: Any,
    T: Any,
) -> tuple[FloatArray, FloatArray]:
    """Per-customer log-likelihood and gradient for per-customer ``alpha`` and ``beta``.

    The formulas of :func:`log_likelihood_gradient` with the hypergeometric
    family (``alpha >= beta`` or not) chosen row by row; ``r`` and ``s`` are
    scalars.  ``grad[j, i]`` is the derivative of row ``i`` w.r.t. its own
    parameter ``j`` (used by covariate fits through the chain rule).
    """
    r, s = float(params[0]), float(params[2])
    x, t_x, T = _rows(frequency, recency, T)
    n = x.size
    alpha = np.broadcast_to(np.asarray(params[1], dtype=np.float64), (n,))
    beta = np.broadcast_to(np.asarray(params[3], dtype=np.float64), (n,))
    p = r + x
    fa = np.tile(alpha >= beta, 2)
    a2, b2, p2 = np.tile(alpha, 2), np.tile(beta, 2), np.tile(p, 2)
    t, (at, bt, la, lb) = _at_both_ends(a2, b2, t_x, T)
    b_hyp = np.where(fa, p2, s + 1.0)
    z = np.abs(a2 - b2) / (np.maximum(a2, b2) + t)
    h, h_b, h_c, h_z = log_hyp2f1_1bc(b_hyp, p2 + s + 1.0, z, order=1)
    log_term = -p2 * la - s * lb
    g = log_term + h + np.where(fa, 0.0, la - lb)
    dz_da = np.where(fa, bt / at**2, -1.0 / bt)
    dz_db = np.where(fa, -1.0 / at, at / bt**2)
    dg_r = -la + np.where(fa, h_b + h_c, h_c)
    dg_s = -lb + np.where(fa, h_c, h_b + h_c)
    dg_a = np.where(fa, -p2 / at, (1.0 - p2) / at) + h_z * dz_da
    dg_b = np.where(fa, -s / bt, -(s + 1.0) / bt) + h_z * dz_db
    return _ll_and_gradient(
        (r, alpha, s, beta), x, log_term, g, (at, bt, la, lb), (dg_r, dg_a, dg_s, dg_b)
    )


def log_likelihood_hessian(
    params: Any,
    frequency: Any,
    recency: Any,
    T: Any,
    weights: Any,
) -> tuple[float, FloatArray, FloatArray]:
    r"""Weighted total log-likelihood, its gradient and Hessian w.r.t. ``(r, alpha, s, beta)``.

    Per customer :math:`\log L = c_0 + \Lambda`, :math:`\Lambda = \log(e^{u_1} + e^{u_A} - e^{u_B})`
    with :math:`u_1` the "alive" term and :math:`u_A = u(x, t_x)`, :math:`u_B = u(x, T)` the
    log tail integral; so

    .. math::

       \nabla^2\Lambda = \sum_i \sigma_i w_i\,(\nabla^2 u_i + \nabla u_i \nabla u_i^\top)
                         - \nabla\Lambda\,\nabla\Lambda^\top,
       \qquad w_i = e^{u_i - \Lambda},\ \sigma = (1, 1, -1).

    :math:`u(x, t)` and its derivatives depend on a customer only through the
    pair :math:`(x, t)`, so they are computed once per distinct pair and the
    sums over customers become sums over pairs (``bincount`` of the weights).
    The second derivatives of :math:`\log{}_2F_1` come from the same series as
    the value (:func:`clv._special.log_hyp2f1_1bc` with ``order=2``).

    Returns
    -------
    ll : float
    grad : ndarray, shape (4,)
    hess : ndarray, shape (4, 4)
    """
    r, alpha, s, beta = (float(v) for v in params)
    x, t_x, T, w = (np.atleast_1d(v).ravel() for v in _floats(frequency, recency, T, weights))
    x, t_x, T, w = np.broadcast_arrays(x, t_x, T, w)
    n = x.size
    # ---- per distinct (x, t) pair, t in recency or T
    x2 = np.concatenate([x, x])
    t2 = np.concatenate([t_x, T])
    pairs = _distinct_pairs(x2, t2) if x2.size > 256 else None
    if pairs is None:
        xp, t, inv = x2, t2, np.arange(2 * n)
    else:
        xp, t, inv = x2[pairs[0]], t2[pairs[0]], pairs[1]
    n_pairs = xp.size
    h, hb, hc, hz, hbb, hbc, hbz, hcc, hcz, hzz = _hyp_terms(
        (r, alpha, s, beta), xp, t, 2, distinct=True
    )
    p = r + xp
    m = p + s
    inv_at = 1.0 / (alpha + t)
    inv_bt = 1.0 / (beta + t)
    la = -np.log(inv_at)
    lb = -np.log(inv_bt)
    log_term = -p * la - s * lb
    z_aa: FloatArray | float  # second derivatives of z: zero in one of the two branches
    z_bb: FloatArray | float
    if alpha >= beta:  # z = (alpha - beta) / (alpha + t); b = r + x
        z_a = (beta + t) * inv_at**2
        z_b = -inv_at
        z_aa, z_ab, z_bb = -2.0 * z_a * inv_at, inv_at**2, 0.0
        h_r, h_s = hb + hc, hc
        h_rr, h_rs, h_ss = hbb + 2.0 * hbc + hcc, hbc + hcc, hcc
        h_rz, h_sz = hbz + hcz, hcz
        g = log_term + h
        lam_a = lam_b = 0.0
    else:  # z = (beta - alpha) / (beta + t); b = s + 1; extra term log((alpha+t)/(beta+t))
        z_a = -inv_bt
        z_b = (alpha + t) * inv_bt**2
        z_aa, z_ab, z_bb = 0.0, inv_bt**2, -2.0 * z_b * inv_bt
        h_r, h_s = hc, hb + hc
        h_rr, h_rs, h_ss = hcc, hbc + hcc, hbb + 2.0 * hbc + hcc
        h_rz, h_sz = hcz, hbz + hcz
        g = log_term + h + la - lb
        lam_a, lam_b = 1.0, -1.0
    log_sm = np.log(s) - np.log(m)  # log(s / m): g + log_sm is the log of the dead term
    inv_m = 1.0 / m
    # gradient of u = log_sm + g and of the alive term u_1 = log_term (at t = T)
    grad_u = np.stack(
        [
            -la + h_r - inv_m,
            (lam_a - p) * inv_at + hz * z_a,
            -lb + h_s + 1.0 / s - inv_m,
            (lam_b - s) * inv_bt + hz * z_b,
        ]
    )
    grad_1 = np.stack([-la, -p * inv_at, -lb, -s * inv_bt])
    d2u = {
        (0, 0): h_rr + inv_m**2,
        (0, 1): -inv_at + h_rz * z_a,
        (0, 2): h_rs + inv_m**2,
        (0, 3): h_rz * z_b,
        (1, 1): (p - lam_a) * inv_at**2 + hzz * z_a**2 + hz * z_aa,
        (1, 2): h_sz * z_a,
        (1, 3): hzz * z_a * z_b + hz * z_ab,
        (2, 2): h_ss + inv_m**2 - 1.0 / s**2,
        (2, 3): -inv_bt + h_sz * z_b,
        (3, 3): (s - lam_b) * inv_bt**2 + hzz * z_b**2 + hz * z_bb,
    }
    d2_1 = {(0, 1): -inv_at, (1, 1): p * inv_at**2, (2, 3): -inv_bt, (3, 3): s * inv_bt**2}
    # ---- per customer: the weights of the three terms
    i_a, i_b = inv[:n], inv[n:]
    u_1 = log_term[i_b]
    u_a = log_sm[i_a] + g[i_a]
    u_b = log_sm[i_b] + g[i_b]
    lam = np.logaddexp(u_1, log_sm[i_a] + logsubexp(g[i_a], g[i_b]))
    w_1 = w * np.exp(u_1 - lam)
    w_a = w * np.exp(u_a - lam)
    w_b = w * np.exp(u_b - lam)
    # ---- sums over customers as sums over pairs
    k_u = np.bincount(i_a, weights=w_a, minlength=n_pairs) - np.bincount(
        i_b, weights=w_b, minlength=n_pairs
    )
    k_1 = np.bincount(i_b, weights=w_1, minlength=n_pairs)
    outer = "in,jn->ij"  # elementwise sums, not BLAS: its threads cost more than these reductions
    hess = np.einsum(outer, grad_u * k_u, grad_u) + np.einsum(outer, grad_1 * k_1, grad_1)
    for (i, j), v in d2u.items():
        hess[i, j] += float(np.sum(k_u * v))
    for (i, j), v in d2_1.items():
        hess[i, j] += float(np.sum(k_1 * v))
    g_lam_w = grad_1[:, i_b] * w_1 + grad_u[:, i_a] * w_a - grad_u[:, i_b] * w_b  # w * grad Λ
    with np.errstate(divide="ignore", invalid="ignore"):  # rows of weight 0 contribute nothing
        g_lam = np.where(w > 0, g_lam_w / w, 0.0)
    hess -= np.einsum(outer, g_lam_w, g_lam)
    hess = np.triu(hess) + np.triu(hess, 1).T
    # ---- the constant c0 = log Γ(r+x) - log Γ(r) + r log α + s log β
    gammaln_p, digamma_p, trigamma_p = per_frequency(
        x, lambda k: (special.gammaln(r + k), special.digamma(r + k), special.polygamma(1, r + k))
    )
    total_w = float(w.sum())
    c0_grad = np.array(
        [
            float(np.sum(w * (digamma_p - special.digamma(r)))) + total_w * np.log(alpha),
            total_w * r / alpha,
            total_w * np.log(beta),
            total_w * s / beta,
        ]
    )
    hess[0, 0] += float(np.sum(w * (trigamma_p - special.polygamma(1, r))))
    hess[0, 1] += total_w / alpha
    hess[1, 0] += total_w / alpha
    hess[1, 1] -= total_w * r / alpha**2
    hess[2, 3] += total_w / beta
    hess[3, 2] += total_w / beta
    hess[3, 3] -= total_w * s / beta**2
    c0 = -special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    ll = float(np.sum(w * (gammaln_p + lam))) + total_w * c0
    return ll, g_lam_w.sum(axis=1) + c0_grad, hess


def log_pmf_dropout_term(
    r: FloatArray, alpha: FloatArray, s: FloatArray, beta: FloatArray, n: FloatArray, t: FloatArray
) -> FloatArray:
    r"""Log of :math:`\int_0^t \tau^n (\alpha+\tau)^{-(r+n)} (\beta+\tau)^{-(s+1)} d\tau`, ``t>0``.

    Integrated over :math:`y = \log\tau`, where the log-integrand
    :math:`(n+1)y - (r+n)\log(\alpha+e^y) - (s+1)\log(\beta+e^y)` is concave,
    with :func:`clv._special.log_integrate_unimodal` (all arguments 1-d, same length).
    """
    la, lb = np.log(alpha), np.log(beta)
    ca, cb = r + n, s + 1.0

    def phi(y: FloatArray, rows: IndexArray) -> FloatArray:
        return (
            (n[rows] + 1.0) * y
            - ca[rows] * np.logaddexp(la[rows], y)
            - cb[rows] * np.logaddexp(lb[rows], y)
        )

    def dphi(y: FloatArray, rows: IndexArray) -> FloatArray:
        return (
            n[rows]
            + 1.0
            - ca[rows] * special.expit(y - la[rows])
            - cb[rows] * special.expit(y - lb[rows])
        )

    def width(y: FloatArray, rows: IndexArray) -> FloatArray:  # linear far from log α, log β
        far = (np.log(ca[rows]) - np.abs(y - la[rows]) < -36.0) & (
            np.log(cb[rows]) - np.abs(y - lb[rows]) < -36.0
        )
        return np.where(far, np.inf, 1.0)

    # the slope falls from n + 1 to -(r + s): bracket its root and bisect
    total = ca + cb
    lo = np.minimum(la, lb) + np.log(n + 1.0) - np.log(total) - 2.0
    hi = np.maximum(la, lb) + np.log(total) - np.log(r + s) + 5.0
    rows = np.arange(n.size)
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        up = dphi(mid, rows) > 0
        lo = np.where(up, mid, lo)
        hi = np.where(up, hi, mid)
    log_t = np.log(t)
    mode = np.minimum(0.5 * (lo + hi), log_t)
    value, _ = log_integrate_unimodal(
        phi, dphi, np.full_like(log_t, -np.inf), log_t, mode, max_width=width
    )
    return value


def log_dropout_discount(s: FloatArray, z: FloatArray) -> FloatArray:
    r"""Log of :math:`Q(s, z) = \int_0^\infty e^{-y} (1 + y/z)^{-s}\, dy = z^s\,U(s, s; z)`.

    :math:`Q = \mathrm{E}[z/(z+G)]` with :math:`G \sim \mathrm{Gamma}(s, 1)`
    lies in :math:`(0, 1]`; :math:`U` is Tricomi's confluent hypergeometric
    function of the second kind, the :math:`\Psi(s, s; z)` of Fader, Hardie &
    Lee (2005).  Integrated over :math:`v = \log(z + y)`, where the
    log-integrand :math:`z - e^v + (1-s)v + s\log z` is concave (1-d arguments).
    """
    log_z = np.log(z)

    def phi(v: FloatArray, rows: IndexArray) -> FloatArray:
        return z[rows] - np.exp(v) + (1.0 - s[rows]) * v + s[rows] * log_z[rows]

    def dphi(v: FloatArray, rows: IndexArray) -> FloatArray:
        return 1.0 - s[rows] - np.exp(v)

    peak = np.log(np.maximum(1.0 - s, np.finfo(float).tiny))
    mode = np.maximum(log_z, np.where(s < 1.0, peak, -np.inf))
    value, _ = log_integrate_unimodal(phi, dphi, log_z, np.full_like(log_z, np.inf), mode)
    return value
