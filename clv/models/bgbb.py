"""BG/BB model of discrete-time repeat transactions (Fader, Hardie & Shang 2010).

Pure functions first (no pandas, no state); :class:`BetaGeoBetaBinomModel`
binds fitted parameters to them.

Assumptions: a customer has one transaction *opportunity* per period (a
yearly appeal, a weekly draw).  While alive, they transact at each opportunity
with probability :math:`p \\sim \\mathrm{Beta}(\\alpha, \\beta)`; at the
beginning of every opportunity an alive customer dies with probability
:math:`\\theta \\sim \\mathrm{Beta}(\\gamma, \\delta)`.  Data per customer: the
number of repeat transactions :math:`x` (``frequency``), the opportunity of the
last one :math:`t_x` (``recency``, 0 if none) and the number of opportunities
:math:`n` (``T``), all whole numbers with :math:`x \\le t_x \\le n`.

References
----------
.. [FHS2010] Fader, P. S., Hardie, B. G. S., & Shang, J. (2010). Customer-base
   analysis in a discrete-time noncontractual setting. Marketing Science,
   29(6), 1086-1108.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special

from clv._ops import NUMPY
from clv._special import geometric_failures
from clv._typing import FloatArray, IndexArray, Ops
from clv.exceptions import DataError, Problem
from clv.models._covariates import Lever
from clv.models._output import float_arrays as _arrays
from clv.models._simulation import population_params
from clv.models._spec import rfm_spec
from clv.models._transaction import CovariateTransactionModel

__all__ = [
    "BGBBParams",
    "BetaGeoBetaBinomModel",
    "expected_purchases",
    "expected_purchases_new_customer",
    "log_likelihood",
    "log_likelihood_gradient",
    "probability_alive",
    "probability_of_purchases",
    "simulate",
]

_BUDGET = 1 << 21  # cells of one (groups x terms) block of the finite sums
_GAMMA_ONE = 1e-4  # |gamma - 1| below which E[X(n)]'s 0/0 at gamma = 1 uses a Taylor series


class BGBBParams(NamedTuple):
    """BG/BB parameters: transaction probability Beta(alpha, beta), dropout Beta(gamma, delta)."""

    alpha: Any
    beta: Any
    gamma: Any
    delta: Any


def _scalar(v: FloatArray) -> Any:
    return v[()] if v.ndim == 0 else v


def _is_scalar_params(params: BGBBParams) -> bool:
    return all(np.ndim(v) == 0 for v in params)


def per_customer_params(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Let ``fn(params, *args)``, written for scalar parameters, take per-customer arrays.

    With array parameters (e.g. from covariates) the parameters and the other
    arguments are broadcast together and ``fn`` is evaluated once per distinct
    combination; scalar parameters call ``fn`` directly. A tuple result
    (e.g. two posterior means) becomes a tuple of arrays.
    """

    @functools.wraps(fn)
    def wrapper(params: BGBBParams, *args: ArrayLike, **kwargs: Any) -> Any:
        if _is_scalar_params(params):
            return fn(params, *args, **kwargs)
        k = len(params)
        arrays = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (*params, *args)))
        shape = arrays[0].shape
        rows, inverse = np.unique(
            np.column_stack([a.ravel() for a in arrays]), axis=0, return_inverse=True
        )
        results = [fn(type(params)(*row[:k]), *row[k:], **kwargs) for row in rows.tolist()]
        inverse = inverse.ravel()
        if isinstance(results[0], tuple):
            return tuple(
                np.asarray([r[j] for r in results], dtype=np.float64)[inverse].reshape(shape)
                for j in range(len(results[0]))
            )
        return np.asarray(results, dtype=np.float64)[inverse].reshape(shape)

    return wrapper


# ------------------------------------------------------------------ grouped finite sums
def _grouped_cumulative(
    log_terms: Callable[[IndexArray, FloatArray], list[FloatArray]],
    lengths: FloatArray,
    q_group: IndexArray,
    q_index: FloatArray,
) -> list[FloatArray]:
    r"""Cumulative log-sum-exp of per-group term sequences, read at query points.

    Group ``g`` has terms ``k = 0 .. lengths[g] - 1``; ``log_terms(g, k)`` returns
    a list of ``(G, K)`` arrays of log-terms (the first the log-summands, the
    others log-summands of weighted sums).  The result for query ``q`` is
    :math:`\log \sum_{k \le q_\text{index}} e^{\ell_{g,k}}` for each array.
    Groups are processed in blocks of at most ``_BUDGET`` cells.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(lengths, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    q_rank = rank[q_group]
    out: list[FloatArray] | None = None
    s = 0
    while s < order.size:
        fits = (np.arange(1, order.size - s + 1) * lengths[order[s:]]) <= _BUDGET
        e = s + max(1, int(np.sum(fits)))
        groups = order[s:e]
        width = max(int(lengths[groups[-1]]), 1)
        k = np.arange(width, dtype=np.float64)[None, :]
        valid = k < lengths[groups][:, None]
        blocks = log_terms(groups, k)
        sel = (q_rank >= s) & (q_rank < e)
        local = q_rank[sel] - s
        col = q_index[sel].astype(np.int64)
        if out is None:
            out = [np.full(q_group.shape, -np.inf) for _ in blocks]
        for j, block in enumerate(blocks):
            acc = np.logaddexp.accumulate(np.where(valid, block, -np.inf), axis=1)
            out[j][sel] = acc[local, col]
        s = e
    assert out is not None
    return out


def _log_sum(
    params: BGBBParams, x: FloatArray, t_x: FloatArray, n: FloatArray, *, gradient: bool = False
) -> list[FloatArray]:
    r""":math:`\log \sum_{j=t_x}^{n-1} B(\alpha+x, \beta-x+j)\,B(\gamma+1, \delta+j)` per row.

    The summand depends on :math:`(x, j)` only, so rows are grouped by
    :math:`(x, n)` and each group's terms are accumulated once, from
    :math:`j = n-1` down to the smallest :math:`t_x` of the group; every row
    reads its own partial sum (no subtraction, so no cancellation).  With
    ``gradient=True`` it also returns the log of the sums weighted by the
    (positive) ``j``-dependent parts of the four derivatives.
    Rows with :math:`t_x = n` get ``-inf`` (empty sum).
    """
    alpha, beta, gamma, delta = (float(v) for v in params)
    rows = t_x < n
    out_n = 5 if gradient else 1
    result = [np.full(x.shape, -np.inf) for _ in range(out_n)]
    if not rows.any():
        return result
    keys, inverse = np.unique(np.column_stack([x[rows], n[rows]]), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    gx, gn = keys[:, 0], keys[:, 1]
    lo = np.full(keys.shape[0], np.inf)
    np.minimum.at(lo, inverse, t_x[rows])
    lengths = gn - lo
    q_index = n[rows] - 1.0 - t_x[rows]
    psi_ab = special.digamma(alpha + beta)
    psi_gd1 = special.digamma(gamma + delta + 1.0)

    def terms(g: IndexArray, k: FloatArray) -> list[FloatArray]:
        xg = gx[g][:, None]
        j = np.maximum(gn[g][:, None] - 1.0 - k, xg)  # padded cells: any valid j
        ell = special.betaln(alpha + xg, beta - xg + j) + special.betaln(gamma + 1.0, delta + j)
        if not gradient:
            return [ell]
        d_alpha = special.digamma(alpha + beta + j) - psi_ab  # >= 0
        d_beta = special.digamma(alpha + beta + j) - special.digamma(beta - xg + j)  # > 0
        d_gamma = special.digamma(gamma + delta + 1.0 + j) - psi_gd1  # >= 0
        d_delta = special.digamma(gamma + delta + 1.0 + j) - special.digamma(delta + j)  # > 0
        logs = [ell]
        for d in (d_alpha, d_beta, d_gamma, d_delta):
            pos = d > 0
            logs.append(np.where(pos, ell + np.log(np.where(pos, d, 1.0)), -np.inf))
        return logs

    sums = _grouped_cumulative(terms, lengths, inverse, q_index)
    for j, s in enumerate(sums):
        result[j][rows] = s
    return result


# ------------------------------------------------------------------ likelihood
def log_likelihood(
    params: BGBBParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, *, ops: Ops = NUMPY
) -> Any:
    r"""Per-customer log-likelihood of [FHS2010]_, in log space.

    .. math::
       L = \frac{B(\alpha+x, \beta+n-x)}{B(\alpha,\beta)}
           \frac{B(\gamma, \delta+n)}{B(\gamma,\delta)}
         + \sum_{i=0}^{n-t_x-1} \frac{B(\alpha+x, \beta+t_x-x+i)}{B(\alpha,\beta)}
           \frac{B(\gamma+1, \delta+t_x+i)}{B(\gamma,\delta)}

    With NumPy and scalar parameters the finite sum is accumulated once per
    unique :math:`(x, n)` in log space (fast for :math:`n` in the thousands);
    otherwise (parameter arrays, or another ``ops`` namespace such as
    PyTensor) a loop over :math:`i` with masked ``logaddexp`` is used.

    Parameters
    ----------
    params : BGBBParams
        Scalars or arrays broadcastable against the data.
    frequency, recency, T : array_like
        Repeat transactions :math:`x`, opportunity of the last transaction
        :math:`t_x` and number of opportunities :math:`n` (whole numbers).
    ops : namespace
        Array functions (NumPy by default).

    Returns
    -------
    array
        :math:`\log L(\alpha, \beta, \gamma, \delta \mid x, t_x, n)` per customer.

    Examples
    --------
    >>> p = BGBBParams(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
    >>> np.round(log_likelihood(p, [0, 2, 6], [0, 4, 6], [6, 6, 6]), 4)
    array([-1.1673, -5.1957, -2.1822])
    """
    if ops is NUMPY and _is_scalar_params(params):
        x, t_x, n = np.broadcast_arrays(
            *(np.asarray(v, dtype=np.float64) for v in (frequency, recency, T))
        )
        (ux, ut, un), inverse = _unique_rows(x.ravel(), t_x.ravel(), n.ravel())
        ll = _log_likelihood_numpy(params, ux, ut, un)[inverse]
        return _scalar(ll.reshape(x.shape))
    return _log_likelihood_loop(params, frequency, recency, T, ops)


def _unique_rows(*columns: FloatArray) -> tuple[list[FloatArray], IndexArray]:
    """Distinct rows of whole-number columns and the inverse index (one integer key per row)."""
    if columns[0].size < 64:
        return list(columns), np.arange(columns[0].size)
    top = max(float(np.max(c, initial=0.0)) for c in columns) + 1.0
    whole = all(
        np.array_equal(c, np.floor(c)) and float(np.min(c, initial=0.0)) >= 0 for c in columns
    )
    if not whole or top ** len(columns) >= 2.0**62:
        stacked = np.column_stack(columns)
        unique, inverse = np.unique(stacked, axis=0, return_inverse=True)
        return [unique[:, j] for j in range(len(columns))], inverse.ravel()
    key = np.zeros(columns[0].shape, dtype=np.int64)
    for c in columns:
        key = key * int(top) + c.astype(np.int64)
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    return [c[first] for c in columns], inverse.ravel()


def _log_likelihood_numpy(
    params: BGBBParams, x: FloatArray, t_x: FloatArray, n: FloatArray
) -> FloatArray:
    alpha, beta, gamma, delta = (float(v) for v in params)
    base = special.betaln(alpha, beta) + special.betaln(gamma, delta)
    first = special.betaln(alpha + x, beta + n - x) + special.betaln(gamma, delta + n)
    (log_s,) = _log_sum(params, x, t_x, n)
    return np.logaddexp(first, log_s) - base


def _log_likelihood_loop(
    params: BGBBParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, ops: Ops
) -> Any:
    alpha, beta, gamma, delta = params
    x, t_x, n = (np.asarray(v, dtype=np.float64) for v in (frequency, recency, T))
    base = ops.betaln(alpha, beta) + ops.betaln(gamma, delta)
    first = ops.betaln(alpha + x, beta + n - x) + ops.betaln(gamma, delta + n)
    length = n - t_x
    acc = ops.betaln(alpha + x, beta + t_x - x) + ops.betaln(gamma + 1, delta + t_x)  # i = 0
    for i in range(1, int(np.max(length, initial=0))):
        term = ops.betaln(alpha + x, beta + t_x - x + i) + ops.betaln(gamma + 1, delta + t_x + i)
        acc = ops.where(i < length, ops.logaddexp(acc, term), acc)
    return ops.where(length > 0, ops.logaddexp(first, acc), first) - base


def log_likelihood_gradient(
    params: BGBBParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Per-customer log-likelihood and its analytic gradient w.r.t. ``(alpha, beta, gamma, delta)``.

    The derivative of the log of the finite sum is the average of the
    summands' derivatives weighted by the summands; the ``j``-dependent part
    of each derivative has one sign, so the weighted sums are accumulated in
    log space like the likelihood itself (no cancellation).

    Parameters
    ----------
    params : BGBBParams
        Scalar parameters.
    frequency, recency, T : array_like
        One entry per customer (or per unique row).

    Returns
    -------
    ll : ndarray, shape (n,)
        Log-likelihood per row.
    grad : ndarray, shape (4, n)
        Derivatives of each row's log-likelihood w.r.t. the four parameters.
    """
    alpha, beta, gamma, delta = (float(v) for v in params)
    x, t_x, n = (np.asarray(v, dtype=np.float64).ravel() for v in (frequency, recency, T))
    dg = special.digamma
    first = special.betaln(alpha + x, beta + n - x) + special.betaln(gamma, delta + n)
    log_s, *log_w = _log_sum(BGBBParams(alpha, beta, gamma, delta), x, t_x, n, gradient=True)
    total = np.logaddexp(first, log_s)
    w_first = np.exp(first - total)
    w_sum = np.exp(log_s - total)
    has_sum = np.isfinite(log_s)
    safe_s = np.where(has_sum, log_s, 0.0)
    mean_d = [np.where(has_sum, np.exp(np.where(has_sum, lw, 0.0) - safe_s), 0.0) for lw in log_w]
    d_first = [
        dg(alpha + x) - dg(alpha + beta + n),
        dg(beta + n - x) - dg(alpha + beta + n),
        dg(gamma) - dg(gamma + delta + n),
        dg(delta + n) - dg(gamma + delta + n),
    ]
    d_sum = [
        dg(alpha + x) - dg(alpha + beta) - mean_d[0],
        -mean_d[1],
        dg(gamma + 1.0) - dg(gamma + delta + 1.0) - mean_d[2],
        -mean_d[3],
    ]
    d_base = [
        dg(alpha) - dg(alpha + beta),
        dg(beta) - dg(alpha + beta),
        dg(gamma) - dg(gamma + delta),
        dg(delta) - dg(gamma + delta),
    ]
    grad = np.stack(
        [w_first * f + w_sum * s - b for f, s, b in zip(d_first, d_sum, d_base, strict=True)]
    )
    ll = total - special.betaln(alpha, beta) - special.betaln(gamma, delta)
    return ll, grad


# ------------------------------------------------------------------ predictions
def probability_alive(
    params: BGBBParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    r"""Probability that a customer is alive at opportunity :math:`n+1` ([FHS2010]_).

    .. math::
       P(\text{alive at } n+1 \mid x, t_x, n) =
       \frac{B(\alpha+x, \beta+n-x)}{B(\alpha,\beta)} \frac{B(\gamma, \delta+n+1)}{B(\gamma,\delta)}
       \Big/ L(\alpha,\beta,\gamma,\delta \mid x, t_x, n)

    This is the paper's definition: the customer survives into the next
    opportunity (e.g. "P(alive in 2002)" of the paper's Table 6 for the
    1996-2001 history), so it already includes one more chance to die.

    Parameters
    ----------
    params : BGBBParams
        Model parameters.
    frequency, recency, T : array_like
        :math:`x, t_x, n`.

    Returns
    -------
    numpy.ndarray
        Probabilities in [0, 1].

    Examples
    --------
    >>> p = BGBBParams(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
    >>> np.round(probability_alive(p, [0, 2, 6], [0, 4, 6], [6, 6, 6]), 2)
    array([0.11, 0.59, 0.93])
    """
    return _per_unique_row(_probability_alive, params, frequency, recency, T)


def _probability_alive(
    params: BGBBParams, x: FloatArray, t_x: FloatArray, n: FloatArray
) -> FloatArray:
    alpha, beta, gamma, delta = params
    ll = log_likelihood(params, x, t_x, n)
    log_p = (
        special.betaln(alpha + x, beta + n - x)
        - special.betaln(alpha, beta)
        + special.betaln(gamma, delta + n + 1)
        - special.betaln(gamma, delta)
        - ll
    )
    return np.asarray(np.minimum(np.exp(log_p), 1.0))


def _per_unique_row(
    fn: Callable[..., FloatArray], params: BGBBParams, *columns: ArrayLike
) -> FloatArray:
    """Evaluate ``fn(params, *columns)`` once per distinct row (scalar parameters only)."""
    arrays = np.broadcast_arrays(*_arrays(*columns))
    if not _is_scalar_params(params) or arrays[0].size < 64:
        return _scalar(np.asarray(fn(params, *_arrays(*columns))))
    unique, inverse = _unique_rows(*(a.ravel() for a in arrays))
    return _scalar(np.asarray(fn(params, *unique))[inverse].reshape(arrays[0].shape))


def _survival_sum(gamma: FloatArray, d: FloatArray, t: FloatArray) -> FloatArray:
    r"""Return :math:`(1 - e^{u})/(\gamma - 1)` with :math:`u = q(t) - q(0)`,
    :math:`q(m) = \log\Gamma(1+d+m) - \log\Gamma(\gamma+d+m)`.

    Near :math:`\gamma = 1` (removable singularity) a second-order Taylor
    expansion in :math:`\gamma - 1` is used.
    """
    eps = gamma - 1.0
    near = np.abs(eps) < _GAMMA_ONE
    g = np.where(near, 2.0, gamma)  # any value away from 1 where the Taylor branch is used
    u = (
        special.gammaln(1.0 + d + t)
        - special.gammaln(g + d + t)
        - special.gammaln(1.0 + d)
        + special.gammaln(g + d)
    )
    direct = -np.expm1(u) / (g - 1.0)
    if not np.any(near):
        return direct
    d1 = special.digamma(1.0 + d + t) - special.digamma(1.0 + d)
    d2 = special.polygamma(1, 1.0 + d + t) - special.polygamma(1, 1.0 + d)
    taylor = d1 + 0.5 * eps * (d2 - d1**2)
    return np.where(near, taylor, direct)


def expected_purchases_new_customer(params: BGBBParams, t: ArrayLike) -> FloatArray:
    r"""Expected transactions of a new customer in the first ``t`` opportunities ([FHS2010]_).

    .. math::
       E[X(n)] = \frac{\alpha}{\alpha+\beta} \frac{\delta}{\gamma-1}
       \Bigl[1 - \frac{\Gamma(\gamma+\delta)}{\Gamma(\gamma+\delta+n)}
       \frac{\Gamma(1+\delta+n)}{\Gamma(1+\delta)}\Bigr]

    evaluated as ``-expm1`` of a log-gamma difference (and a Taylor series
    near :math:`\gamma = 1`, where the formula is 0/0).

    Parameters
    ----------
    params : BGBBParams
        Model parameters.
    t : array_like
        Number(s) of opportunities :math:`n \ge 0`.

    Returns
    -------
    numpy.ndarray
        Expected transactions, shape of ``t``.

    Examples
    --------
    >>> p = BGBBParams(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
    >>> np.round(expected_purchases_new_customer(p, [1, 6, 11]), 4)
    array([0.4985, 2.2196, 3.3876])
    """
    alpha, beta, gamma, delta = _arrays(*params)
    (t,) = _arrays(t)
    out = alpha / (alpha + beta) * delta * _survival_sum(gamma, delta, t)
    return _scalar(np.asarray(np.where(t > 0, out, 0.0)))


def expected_purchases(
    params: BGBBParams, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    r"""Expected transactions in the next ``t`` opportunities given the history, [FHS2010]_ (13).

    .. math::
       E[X(n, n+n^*) \mid x, t_x, n] = \frac{1}{L}\,
       \frac{B(\alpha+x+1, \beta+n-x)}{B(\alpha,\beta)}\,
       \frac{\delta}{\gamma-1} \frac{\Gamma(\gamma+\delta)}{\Gamma(1+\delta)}
       \Bigl[\frac{\Gamma(1+\delta+n)}{\Gamma(\gamma+\delta+n)}
       - \frac{\Gamma(1+\delta+n+n^*)}{\Gamma(\gamma+\delta+n+n^*)}\Bigr]

    with :math:`n^* =` ``t``; in log space, with the bracket evaluated like
    :func:`expected_purchases_new_customer`.

    Parameters
    ----------
    params : BGBBParams
        Model parameters.
    t : array_like
        Number of future opportunities :math:`n^* \ge 0`.
    frequency, recency, T : array_like
        :math:`x, t_x, n`.

    Returns
    -------
    numpy.ndarray
        Expected transactions, broadcast shape of the inputs.

    Examples
    --------
    >>> p = BGBBParams(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
    >>> np.round(expected_purchases(p, 5, [0, 2, 6], [0, 4, 6], [6, 6, 6]), 4)
    array([0.0728, 1.0573, 3.7521])
    """
    return _per_unique_row(_expected_purchases, params, t, frequency, recency, T)


def _expected_purchases(
    params: BGBBParams, t: FloatArray, x: FloatArray, t_x: FloatArray, n: FloatArray
) -> FloatArray:
    alpha, beta, gamma, delta = _arrays(*params)
    ll = log_likelihood(params, x, t_x, n)
    log_front = (
        special.betaln(alpha + x + 1, beta + n - x)
        - special.betaln(alpha, beta)
        + special.gammaln(gamma + delta)
        - special.gammaln(1.0 + delta)
        + special.gammaln(1.0 + delta + n)
        - special.gammaln(gamma + delta + n)
        - ll
    )
    out = np.exp(log_front) * delta * _survival_sum(gamma, delta + n, t)
    return np.asarray(np.where(t > 0, out, 0.0))


@per_customer_params
def probability_of_purchases(params: BGBBParams, n: ArrayLike, t: ArrayLike) -> FloatArray:
    r"""Probability that a new customer makes ``n`` transactions in the first ``t`` opportunities.

    [FHS2010]_ eq. (7), with :math:`x =` ``n`` and :math:`n =` ``t``:

    .. math::
       P(X(n)=x) = \binom{n}{x} \frac{B(\alpha+x, \beta+n-x)}{B(\alpha,\beta)}
       \frac{B(\gamma, \delta+n)}{B(\gamma,\delta)}
       + \sum_{i=x}^{n-1} \binom{i}{x} \frac{B(\alpha+x, \beta+i-x)}{B(\alpha,\beta)}
       \frac{B(\gamma+1, \delta+i)}{B(\gamma,\delta)}

    The sum is accumulated once per unique ``n`` in log space.

    Parameters
    ----------
    params : BGBBParams
        Model parameters (per-customer arrays are evaluated per distinct row).
    n : array_like
        Number(s) of transactions, whole numbers >= 0.
    t : array_like
        Number(s) of opportunities, whole numbers >= 0.

    Returns
    -------
    numpy.ndarray
        Probabilities, broadcast shape of ``n`` and ``t`` (0 where ``n > t``).

    Raises
    ------
    ValueError
        If ``n`` or ``t`` is negative or not a whole number.

    Examples
    --------
    >>> p = BGBBParams(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
    >>> np.round(probability_of_purchases(p, np.arange(7), 6), 4)
    array([0.3112, 0.1701, 0.1215, 0.1003, 0.0917, 0.0925, 0.1128])
    """
    alpha, beta, gamma, delta = (float(v) for v in params)
    counts, opps = np.broadcast_arrays(*_arrays(n, t))
    for name, v in (("n", counts), ("t", opps)):
        if np.any(v < 0) or np.any(v != np.round(v)):
            raise ValueError(f"{name} must be a whole number >= 0 (BG/BB counts opportunities).")
    shape = counts.shape
    x, m = counts.ravel(), opps.ravel()
    base = special.betaln(alpha, beta) + special.betaln(gamma, delta)
    ok = x <= m
    xs = np.where(ok, x, 0.0)
    log_binom = special.gammaln(m + 1) - special.gammaln(xs + 1) - special.gammaln(m - xs + 1)
    first = (
        log_binom
        + special.betaln(alpha + xs, beta + m - xs)
        + special.betaln(gamma, delta + m)
        - base
    )
    rows = ok & (m > x)
    log_s = np.full(x.shape, -np.inf)
    if rows.any():
        keys, inverse = np.unique(x[rows], return_inverse=True)
        inverse = inverse.ravel()
        hi = np.zeros(keys.shape[0])
        np.maximum.at(hi, inverse, m[rows])

        def terms(g: IndexArray, k: FloatArray) -> list[FloatArray]:
            xg = keys[g][:, None]
            i = xg + k
            return [
                special.gammaln(i + 1)
                - special.gammaln(xg + 1)
                - special.gammaln(k + 1)
                + special.betaln(alpha + xg, beta + k)
                + special.betaln(gamma + 1.0, delta + i)
            ]

        (acc,) = _grouped_cumulative(terms, hi - keys, inverse, m[rows] - 1.0 - x[rows])
        log_s[rows] = acc - base
    out = np.where(ok, np.exp(np.logaddexp(first, log_s)), 0.0)
    return _scalar(out.reshape(shape))


# ------------------------------------------------------------------ simulation
def simulate(
    params: BGBBParams, T: ArrayLike, *, rng: np.random.Generator
) -> dict[str, FloatArray]:
    """Simulate BG/BB customers with ``T`` transaction opportunities each.

    Vectorised, without a loop over opportunities: the number of
    opportunities survived is geometric in :math:`\\theta`; within the
    :math:`m` observed alive opportunities the number of trailing
    non-transactions is geometric in :math:`p`, which gives :math:`t_x`, and
    the transactions before :math:`t_x` are Binomial(:math:`t_x - 1, p`).

    Parameters
    ----------
    params : BGBBParams
        Population parameters (scalars), or per-customer arrays (e.g. from
        :func:`clv.models._covariates.individual_params`).
    T : array_like
        Number of opportunities of each customer (whole numbers).
    rng : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    dict
        ``frequency``, ``recency``, ``T`` arrays, plus the latent ``p``,
        ``theta`` and ``alive`` (alive at opportunity ``T + 1``, the event
        :func:`probability_alive` gives the probability of).

    Examples
    --------
    >>> sim = simulate(BGBBParams(1.2, 0.75, 0.66, 2.8), np.full(4, 6.0),
    ...                rng=np.random.default_rng(1))
    >>> bool(np.all(sim["frequency"] <= sim["recency"]))
    True
    """
    n = np.asarray(T, dtype=np.float64)
    size = n.shape[0]
    alpha, beta, gamma, delta = population_params(params, size)
    p = rng.beta(alpha, beta, size=size)
    theta = rng.beta(gamma, delta, size=size)
    survived = geometric_failures(theta, rng)  # opportunities reached alive
    m = np.minimum(survived, n)
    trailing = geometric_failures(p, rng)  # non-transactions counted back from m
    buyer = trailing < m
    recency = np.where(buyer, m - trailing, 0.0)
    earlier = rng.binomial(np.maximum(recency - 1.0, 0.0).astype(np.int64), p)
    frequency = np.where(buyer, 1.0 + earlier, 0.0)
    return {
        "frequency": frequency,
        "recency": recency,
        "T": n.copy(),
        "p": p,
        "theta": theta,
        "alive": survived >= n + 1.0,
    }


def _initial(frequency: FloatArray, recency: FloatArray, T: FloatArray) -> BGBBParams:
    """Starting values: transaction rate among the opportunities, moderate dropout."""
    rate = float(np.clip(np.mean(frequency) / max(float(np.mean(T)), 1.0), 0.05, 0.95))
    return BGBBParams(alpha=2.0 * rate, beta=2.0 * (1.0 - rate), gamma=1.0, delta=3.0)


SPEC = rfm_spec(
    "BG/BB",
    BGBBParams,
    BGBBParams(alpha=1.0, beta=1.0, gamma=1.0, delta=1.0),
    globals(),
)


class BetaGeoBetaBinomModel(CovariateTransactionModel):
    """BG/BB model of discrete-time repeat transactions, fitted by maximum likelihood.

    Each period offers one transaction opportunity.  While alive, a customer
    transacts at each opportunity with probability :math:`p`; at the start of
    each opportunity an alive customer dies with probability :math:`\\theta`.
    Across customers :math:`p \\sim \\mathrm{Beta}(\\alpha, \\beta)` and
    :math:`\\theta \\sim \\mathrm{Beta}(\\gamma, \\delta)` ([FHS2010]_).

    Required columns (whole numbers): ``frequency`` (repeat transactions
    :math:`x`), ``recency`` (opportunity of the last transaction :math:`t_x`,
    0 if none) and ``T`` (number of opportunities :math:`n`), with
    ``frequency <= recency <= T``; optional ``weight``.  Horizons ``t`` of
    the predictions count opportunities, and :meth:`probability_alive` is the
    paper's P(alive at opportunity ``T + 1``).  Time is not rescaled.

    Covariates (``purchase_covariates=``, ``dropout_covariates=``):
    :math:`\\alpha_i = \\alpha_0 e^{\\gamma_p^\\top x_i}` and
    :math:`\\gamma_i = \\gamma_0 e^{\\gamma_d^\\top x_i}` (``beta`` and ``delta``
    unchanged: the odds of transacting, and of dropping out, at an opportunity
    are multiplied), so a positive coefficient raises the transaction
    (dropout) probability; ``covariate_penalty``, ``constrain`` and
    ``coefficient_priors`` as in :class:`~clv.models._base.ParametricModel`.

    Examples
    --------
    >>> from clv.data.datasets import load_donations
    >>> donors = load_donations()  # 11,104 donors, 6 annual opportunities, weighted rows
    >>> model = BetaGeoBetaBinomModel().fit(donors)
    >>> model.params_.round(3).to_dict()
    {'alpha': 1.204, 'beta': 0.75, 'gamma': 0.657, 'delta': 2.783}
    >>> rows = donors.iloc[[0, 9, 21]]  # (x, t_x) = (0, 0), (2, 4), (6, 6); paper's Table 6
    >>> model.probability_alive(rows).round(2).tolist()
    [0.11, 0.59, 0.93]
    >>> model.expected_purchases(5, rows).round(2).tolist()
    [0.07, 1.06, 3.75]
    """

    spec = SPEC
    _integer_T = True
    _levers = (Lever("purchase", "alpha", 1.0), Lever("dropout", "gamma", 1.0))

    def _frame(
        self,
        data: pd.DataFrame,
        columns: Any = None,
        *,
        for_fit: bool = False,
        check_unit: bool = True,
    ) -> pd.DataFrame:
        frame = super()._frame(data, columns, for_fit=for_fit, check_unit=check_unit)
        if {"frequency", "recency"} <= set(frame.columns):
            over = frame["frequency"].to_numpy() > frame["recency"].to_numpy()
            if over.any():
                raise DataError(
                    [
                        Problem(
                            "frequency",
                            f"is greater than 'recency' for {int(over.sum())} customers",
                            "with one transaction per opportunity, x repeat transactions need a "
                            "last "
                            "transaction at opportunity >= x; check the opportunity counts",
                            list(frame.index[over][:5]),
                        )
                    ],
                    what=f"the data passed to {type(self).__name__}",
                )
        return frame

    def expected_discounted_residual_transactions(
        self, data: pd.DataFrame, discount_rate: float
    ) -> pd.Series:
        """Discounted expected residual transactions of each customer ([FHS2010]_ eq. 14).

        See :func:`clv.models.conditional.bgbb_expected_discounted_residual_transactions`;
        ``discount_rate`` is per opportunity (> 0).

        Returns
        -------
        Series
            Aligned to ``data.index``.
        """
        from clv.models.conditional import bgbb_expected_discounted_residual_transactions

        params, x, t_x, n = self._rfm_params(data)
        values = bgbb_expected_discounted_residual_transactions(params, x, t_x, n, discount_rate)
        return self._series(
            np.asarray(values) * np.ones_like(x), data, "expected_discounted_residual_transactions"
        )

    def posterior_means(self, data: pd.DataFrame) -> pd.DataFrame:
        """Posterior means of each customer's transaction probability ``p`` and dropout ``theta``.

        See :func:`clv.models.conditional.bgbb_posterior_means`.

        Returns
        -------
        DataFrame
            Columns ``p`` and ``theta``, aligned to ``data.index``.
        """
        from clv.models.conditional import bgbb_posterior_means

        params, x, t_x, n = self._rfm_params(data)
        p, theta = bgbb_posterior_means(params, x, t_x, n)
        return pd.DataFrame(
            {"p": np.asarray(p) * np.ones_like(x), "theta": np.asarray(theta) * np.ones_like(x)},
            index=data.index,
        )
