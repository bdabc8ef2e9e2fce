r"""Pure functions of the MBG/CNBD-k and BG/CNBD-k models (Reutterer, Platzer & Schröder 2021).

While alive, a customer's inter-purchase times are Erlang-k with rate
:math:`\lambda` (the sum of ``k`` exponential stages, mean :math:`k/\lambda`),
:math:`\lambda \sim \mathrm{Gamma}(r, \alpha)`; after every repeat purchase
(and, for the MBG variant, right after the first purchase) the customer drops
out with probability :math:`p \sim \mathrm{Beta}(a, b)`. ``k = 1`` is the
BG/NBD (``dropout_at_zero=False``) or the MBG/NBD (``True``).

Every function takes ``params = CNBDParams(k, r, alpha, a, b)`` with an
integer ``k`` and a keyword ``dropout_at_zero``; :mod:`clv.models.cnbd` binds
the flag per model. The quantities, with :math:`\delta` = 1 for the MBG variant
and 0 otherwise, :math:`R = r + kx`, :math:`b' = b + x + \delta`:

- the likelihood ([RPS2021]_ eq. 5; BTYDplus ``xbgcnbd.LL``)

  .. math::
     L = \frac{e^{(k-1)\,\mathrm{litt}}}{((k-1)!)^x}
         \frac{\Gamma(R)\,\alpha^r}{\Gamma(r)}\Bigl[
         \frac{B(a, b')}{B(a,b)} \sum_{j=0}^{k-1} \frac{\Gamma(R+j)}{\Gamma(R)\,j!}
         \frac{(T-t_x)^j}{(\alpha+T)^{R+j}}
         + 1_{\delta + x > 0}\frac{B(a+1, b'-1)}{B(a,b)} \frac{1}{(\alpha+t_x)^{R}}\Bigr]

  (alive at :math:`T`, with :math:`j` of the ``k`` stages of the next
  inter-purchase time completed since :math:`t_x`; or dropped out right after
  the last purchase);
- given alive at :math:`T`, the completed stages :math:`j` have posterior
  weights :math:`w_j \propto` the terms of the sum, :math:`\lambda \mid j \sim
  \mathrm{Gamma}(R + j, \alpha + T)` and :math:`p \sim \mathrm{Beta}(a, b')`; the
  ``m``-th future purchase needs :math:`mk - j` more stages, so with
  :math:`G_j(n) = P(N \ge n)` for the negative-binomial stage count :math:`N`
  in the window and :math:`c_m = B(a, b'+m)/B(a, b')`:

  .. math::
     E[Y(t)] = P(\text{alive}) \sum_j w_j \sum_{m \ge 1} c_{m-1}\, G_j(mk - j)

  exactly (BTYDplus approximates it by a rescaled BG/NBD expression and a
  cohort-level bias correction); :math:`G_j(n) = I_{t/(\alpha+T+t)}(n, R+j)`
  (regularised incomplete beta).

References
----------
.. [RPS2021] Reutterer, T., Platzer, M., & Schröder, N. (2021). Leveraging
   purchase regularity for predicting customer behavior the easy way.
   International Journal of Research in Marketing, 38(1), 194-215.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from clv._ops import NUMPY
from clv._typing import FloatArray, Ops
from clv.models._output import float_arrays as _floats
from clv.models._output import float_output as _out

__all__ = [
    "CNBDParams",
    "alive_at_function",
    "conditional_pmf_function",
    "conditional_probability_of_purchases",
    "core_log_likelihood",
    "core_log_likelihood_gradient",
    "expected_purchases",
    "expected_purchases_new_customer",
    "litt_term",
    "log_likelihood",
    "probability_alive",
    "probability_alive_at",
    "probability_of_purchases",
    "simulate",
]

_TAIL_SD = 12.0  # the sums over future purchases stop this many sd beyond the mean stage count
_TAIL_LOG = 32.0  # ... plus the count at which a geometric tail q^n falls below e^-32
_MAX_CELLS = 2_000_000  # (stage count, k, customer) cells computed at once


class CNBDParams(NamedTuple):
    """(M)BG/CNBD-k parameters: Erlang order k, rate Gamma(r, alpha), dropout Beta(a, b)."""

    k: Any
    r: Any
    alpha: Any
    a: Any
    b: Any


def _order(k: Any) -> int:
    value = float(np.asarray(k, dtype=np.float64).reshape(-1)[0])
    if not (value >= 1 and value == round(value)):
        raise ValueError(f"the Erlang order k must be a whole number >= 1, got {k!r}.")
    return round(value)


def litt_term(k: int, frequency: ArrayLike, litt: ArrayLike, *, ops: Ops = NUMPY) -> Any:
    r"""The part of the log-likelihood free of ``(r, alpha, a, b)``: :math:`(k-1)\,\mathrm{litt} -
    x \log (k-1)!`.

    It matters only for comparing orders ``k`` (profile likelihood).

    Examples
    --------
    >>> float(litt_term(1, 3, 2.5)), round(float(litt_term(3, 2, 1.0)), 6)  # 2 - 2 log 2
    (0.0, 0.613706)
    """
    if ops is not NUMPY:  # symbolic data (clv.bayes): the same expression, unconverted
        sym_litt: Any = litt
        sym_x: Any = frequency
        return (k - 1) * sym_litt - sym_x * float(special.gammaln(float(k)))
    x, litt = _floats(frequency, litt)
    return _out((k - 1) * litt - x * special.gammaln(float(k)))


def _stage_terms(k: int, R: Any, alpha: Any, t_x: Any, T: Any, ops: Ops = NUMPY) -> Any:
    r"""log of :math:`\frac{\Gamma(R+j)}{\Gamma(R) j!} \bigl(\frac{T-t_x}{\alpha+T}\bigr)^j`,
    ``j = 0..k-1`` on the first axis."""
    j = np.arange(k, dtype=np.float64).reshape((k,) + (1,) * np.ndim(R))
    gap = T - t_x
    log_ratio = ops.log(ops.where(gap > 0, gap, 1.0)) - ops.log(alpha + T)
    terms = ops.gammaln(R + j) - ops.gammaln(R) - special.gammaln(j + 1.0) + j * log_ratio
    return ops.where((gap > 0) | (j == 0), terms, -np.inf)


def _logsumexp0(a: FloatArray) -> FloatArray:
    top = np.max(a, axis=0)
    return top + np.log(np.sum(np.exp(a - top), axis=0))


def _pieces(
    params: CNBDParams,
    x: Any,
    t_x: Any,
    T: Any,
    dropout_at_zero: bool,
    ops: Ops = NUMPY,
) -> tuple[Any, Any, Any, Any]:
    """(log alive term, log dead term, stage log-terms (k, ...), head) of the core likelihood.

    Written against ``ops``: with NumPy (the default) the inputs are broadcast
    to one shape first; with PyTensor (:mod:`clv.bayes`) they are symbolic
    columns of one length and scalar (or per-row) parameters.
    """
    k = _order(params.k)
    r, alpha, a, b = params[1:]
    if ops is NUMPY:
        r, alpha, a, b = _floats(r, alpha, a, b)
        x, t_x, T, r, alpha, a, b = np.broadcast_arrays(x, t_x, T, r, alpha, a, b)
    delta = 1.0 if dropout_at_zero else 0.0
    R = r + k * x
    head = ops.gammaln(R) - ops.gammaln(r) + r * ops.log(alpha) - ops.betaln(a, b)
    stages = _stage_terms(k, R, alpha, t_x, T, ops)
    lse = _logsumexp0(stages) if ops is NUMPY else ops.logsumexp(stages, axis=0)
    alive = ops.betaln(a, b + x + delta) - R * ops.log(alpha + T) + lse
    if dropout_at_zero:  # every customer may have left right after the last purchase
        dead = ops.betaln(a + 1.0, b + x) - R * ops.log(alpha + t_x)
    else:  # ... except one without repeat purchases (no dropout coin yet)
        has_dead = x > 0
        b_dead = ops.where(has_dead, b + x - 1.0, 1.0)
        dead = ops.betaln(a + 1.0, b_dead) - R * ops.log(alpha + t_x)
        dead = ops.where(has_dead, dead, -np.inf)
    return alive, dead, stages, head


def core_log_likelihood(
    params: CNBDParams,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    dropout_at_zero: bool,
    ops: Ops = NUMPY,
) -> Any:
    """Per-customer log-likelihood without :func:`litt_term` (all that depends on r, alpha, a, b).

    Written against ``ops`` (NumPy by default; PyTensor in :mod:`clv.bayes`).

    Examples
    --------
    >>> p = CNBDParams(1, 0.525, 6.183, 0.891, 1.614)
    >>> from clv.models import mbgnbd
    >>> q = mbgnbd.MBGNBDParams(0.525, 6.183, 0.891, 1.614)
    >>> bool(abs(core_log_likelihood(p, 2, 30.43, 38.86, dropout_at_zero=True)
    ...          - mbgnbd.log_likelihood(q, 2, 30.43, 38.86)) < 1e-12)
    True
    """
    if ops is not NUMPY:
        alive, dead, _, head = _pieces(params, frequency, recency, T, dropout_at_zero, ops)
        return head + ops.logaddexp(alive, dead)
    x, t_x, T = _floats(frequency, recency, T)
    alive, dead, _, head = _pieces(params, x, t_x, T, dropout_at_zero)
    return _out(head + np.logaddexp(alive, dead))


def log_likelihood(
    params: CNBDParams,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    litt: ArrayLike,
    *,
    dropout_at_zero: bool,
    ops: Ops = NUMPY,
) -> Any:
    """Per-customer log-likelihood ([RPS2021]_; BTYDplus ``xbgcnbd.LL``), written against ``ops``.

    Examples
    --------
    >>> p = CNBDParams(2, 0.58, 2.29, 1.13, 1.58)
    >>> round(float(log_likelihood(p, 2, 30.43, 38.86, 5.0, dropout_at_zero=True)), 4)
    -9.5417
    """
    k = _order(params.k)
    core = core_log_likelihood(
        params, frequency, recency, T, dropout_at_zero=dropout_at_zero, ops=ops
    )
    extra = litt_term(k, frequency, litt, ops=ops)
    return core + extra if ops is not NUMPY else _out(core + extra)


def core_log_likelihood_gradient(
    params: CNBDParams,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    dropout_at_zero: bool,
) -> tuple[FloatArray, FloatArray]:
    """:func:`core_log_likelihood` per row and its gradient w.r.t. ``(r, alpha, a, b)``, (4, n).

    Examples
    --------
    >>> p, h = CNBDParams(3, 0.6, 2.0, 1.1, 1.9), 1e-6
    >>> x, t_x, T = np.array([0.0, 4.0]), np.array([0.0, 20.0]), np.array([30.0, 31.0])
    >>> _, g = core_log_likelihood_gradient(p, x, t_x, T, dropout_at_zero=False)
    >>> f = lambda q: core_log_likelihood(q, x, t_x, T, dropout_at_zero=False)
    >>> num = (f(p._replace(b=1.9 + h)) - f(p._replace(b=1.9 - h))) / (2 * h)
    >>> bool(np.allclose(g[3], num, rtol=1e-6))
    True
    """
    k = _order(params.k)
    x, t_x, T = (np.atleast_1d(v) for v in _floats(frequency, recency, T))
    x, t_x, T = np.broadcast_arrays(x, t_x, T)
    r, alpha, a, b = (float(v) for v in params[1:])
    delta = 1.0 if dropout_at_zero else 0.0
    alive, dead, stages, head = _pieces(params, x, t_x, T, dropout_at_zero)
    total = np.logaddexp(alive, dead)
    w_alive = np.exp(alive - total)
    w_dead = np.where(np.isfinite(dead), 1.0 - w_alive, 0.0)
    R = r + k * x
    w_j = np.exp(stages - _logsumexp0(stages))  # posterior of the completed stages, given alive
    j = np.arange(k, dtype=np.float64)[:, None]
    mean_j = np.sum(w_j * j, axis=0)
    mean_psi = np.sum(w_j * special.digamma(R + j), axis=0)
    psi_R, psi_ab = special.digamma(R), special.digamma(a + b)
    bp = b + x + delta
    b_dead = np.where(np.isfinite(dead), bp - 1.0, 1.0)
    d_r = (
        psi_R
        - special.digamma(r)
        + np.log(alpha)
        + w_alive * (mean_psi - psi_R - np.log(alpha + T))
        - w_dead * np.log(alpha + t_x)
    )
    d_alpha = r / alpha - w_alive * (R + mean_j) / (alpha + T) - w_dead * R / (alpha + t_x)
    d_a = (
        psi_ab
        - special.digamma(a)
        + w_alive * (special.digamma(a) - special.digamma(a + bp))
        + w_dead * (special.digamma(a + 1.0) - special.digamma(a + 1.0 + b_dead))
    )
    d_b = (
        psi_ab
        - special.digamma(b)
        + w_alive * (special.digamma(bp) - special.digamma(a + bp))
        + w_dead * (special.digamma(b_dead) - special.digamma(a + 1.0 + b_dead))
    )
    return head + total, np.stack([d_r, d_alpha, d_a, d_b])


def probability_alive(
    params: CNBDParams,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    dropout_at_zero: bool,
) -> Any:
    """Probability of being alive at ``T`` (BTYDplus ``xbgcnbd.PAlive``).

    Examples
    --------
    >>> p = CNBDParams(2, 0.58, 2.29, 1.13, 1.58)
    >>> float(probability_alive(p, 0, 0.0, 30.0, dropout_at_zero=False))
    1.0
    >>> round(float(probability_alive(p, 0, 0.0, 0.0, dropout_at_zero=True)), 6)  # b / (a + b)
    0.583026
    """
    x, t_x, T = _floats(frequency, recency, T)
    alive, dead, _, _ = _pieces(params, x, t_x, T, dropout_at_zero)
    return _out(np.exp(alive - np.logaddexp(alive, dead)))


def _alive_posterior(
    k: int,
    r: FloatArray,
    alpha: FloatArray,
    a: FloatArray,
    b: FloatArray,
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,
    dropout_at_zero: bool,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(P(alive at T), stage weights w_j (k, ...), R = r + kx) given the history."""
    alive, dead, stages, _ = _pieces(CNBDParams(k, r, alpha, a, b), x, t_x, T, dropout_at_zero)
    p_alive = np.exp(alive - np.logaddexp(alive, dead))
    w_j = np.exp(stages - _logsumexp0(stages))
    return p_alive, w_j, r + k * x


def _survival_ratio(a: FloatArray, b: FloatArray, m: FloatArray) -> FloatArray:
    r""":math:`B(a, b + m) / B(a, b) = E[(1-p)^m]` for :math:`p \sim \mathrm{Beta}(a, b)`."""
    return np.exp(special.betaln(a, b + m) - special.betaln(a, b))


def _stage_count_tail(
    n: FloatArray, shape: FloatArray, scale: FloatArray, t: FloatArray
) -> FloatArray:
    """P(N >= n) for the stage count N ~ NB: Poisson(lambda t), lambda ~ Gamma(shape, scale)."""
    q = t / (scale + t)
    safe_n = np.where(n > 0, n, 1.0)
    return np.where(n > 0, special.betainc(safe_n, shape, q), 1.0)


def _future_sum(
    params: CNBDParams,
    t: ArrayLike,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    dropout_at_zero: bool,
    *,
    survival: bool,
) -> Any:
    r"""Expected future purchases (``survival=False``) or P(alive at T + t) (``True``).

    With :math:`N` the negative-binomial count of Erlang stages completed in the
    window, a customer alive with :math:`j` stages done makes
    :math:`Y' = \lfloor (N + j)/k \rfloor` purchases unless they leave, so
    :math:`\sum_{m \ge 1} c_{m-1} G_j(mk - j) = E[\sum_{m=1}^{Y'} c_{m-1}]` and the
    survival is :math:`E[c_{Y'}]`. The pmf of :math:`N` is summed to where every
    count is far in its tail; rows are grouped by how far that is, so a few heavy
    buyers do not make every row pay for their long sums.
    """
    k = _order(params.k)
    arrays = np.broadcast_arrays(*_floats(t, frequency, recency, T, *params[1:]))
    shape = arrays[0].shape
    table = np.stack([np.ascontiguousarray(v).ravel() for v in arrays], axis=1)
    # identical rows (customers, grid points) are computed once
    table, inverse = np.unique(table, axis=0, return_inverse=True)
    window, x, t_x, age, r, alpha, a, b = (np.ascontiguousarray(col) for col in table.T)
    p_alive, w_j, R = _alive_posterior(k, r, alpha, a, b, x, t_x, age, dropout_at_zero)
    # stage counts needed: mean + 12 sd, plus where a geometric tail q^n falls below e^-32
    mean = (R + k - 1.0) * window / (alpha + age)
    sd = np.sqrt(mean * (1.0 + window / (alpha + age)))
    with np.errstate(divide="ignore"):  # t = 0: no tail at all
        geometric = _TAIL_LOG / np.log1p((alpha + age) / window)
    top = mean + _TAIL_SD * sd + geometric
    needed = np.ceil(top).astype(np.int64) + k + 2  # stage counts 0..needed
    bucket = np.ceil(np.log2(np.maximum(needed, 1))).astype(np.int64)
    bp = b + x + (1.0 if dropout_at_zero else 0.0)
    out = np.empty(x.size)
    for level in np.unique(bucket):
        members = np.flatnonzero(bucket == level)
        N = int(needed[members].max())
        chunk = max(1, _MAX_CELLS // ((N + 1) * k))  # bounded memory however long the tail
        for start in range(0, members.size, chunk):
            rows = members[start : start + chunk]
            scale = alpha[rows] + age[rows]
            sums = _stage_sums(
                N, k, R[rows], scale, window[rows], a[rows], bp[rows], w_j[:, rows], survival
            )
            out[rows] = p_alive[rows] * sums
    return _out(out[inverse.reshape(-1)].reshape(shape))


def _stage_sums(
    N: int,
    k: int,
    R: FloatArray,
    scale: FloatArray,
    tr: FloatArray,
    a: FloatArray,
    bp: FloatArray,
    w_j: FloatArray,
    survival: bool,
) -> FloatArray:
    """Per row: sum over j of w_j E[g(Y')] for stage counts 0..N (see :func:`_future_sum`)."""
    n = np.arange(N + 1, dtype=np.float64)[:, None, None]  # stage count in the window
    j = np.arange(k, dtype=np.float64)[None, :, None]
    shape_j = R + j  # (1, k, rows)
    log_q = np.log(np.where(tr > 0, tr, 1.0)) - np.log(scale + tr)
    log_1mq = np.log(scale) - np.log(scale + tr)
    steps = np.log(shape_j + n[:-1]) - np.log(n[:-1] + 1.0)
    log_pmf = np.concatenate([np.zeros_like(shape_j), np.cumsum(steps, axis=0)])
    log_pmf = log_pmf + shape_j * log_1mq + n * log_q
    pmf = np.where(tr > 0, np.exp(log_pmf), (n == 0) * 1.0)  # (N+1, k, rows)
    # purchases made with n stages done after j: floor((n + j) / k); c_m = E[(1-p)^m]
    count = ((n + j) // k).astype(np.int64)[:, :, 0]  # (N+1, k)
    m = np.arange(int(count.max()) + 1, dtype=np.float64)[:, None]
    c = _survival_ratio(a, bp, m)
    if survival:
        per_count = c  # survive every purchase's coin: (1-p)^count
    else:
        per_count = np.concatenate([np.zeros((1, R.size)), np.cumsum(c[:-1], axis=0)])
    per_stage = np.sum(pmf * per_count[count, :], axis=0)  # (k, rows)
    return np.asarray(np.sum(w_j * per_stage, axis=0), dtype=np.float64)


def expected_purchases(
    params: CNBDParams,
    t: ArrayLike,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    dropout_at_zero: bool,
) -> Any:
    r"""Expected purchases in ``(T, T + t]`` given the history (exact; see the module notes).

    Examples
    --------
    >>> from clv.models import bgnbd
    >>> q = bgnbd.BGNBDParams(0.243, 4.414, 0.793, 2.426)
    >>> p = CNBDParams(1, *q)
    >>> round(float(expected_purchases(p, 39, 2, 30.43, 38.86, dropout_at_zero=False)), 3)
    1.226
    """
    return _future_sum(params, t, frequency, recency, T, dropout_at_zero, survival=False)


def expected_purchases_new_customer(
    params: CNBDParams, t: ArrayLike, *, dropout_at_zero: bool
) -> Any:
    """Expected repeat purchases of a new customer in ``(0, t]`` (BTYDplus ``xbgcnbd.Expectation``).

    Examples
    --------
    >>> from clv.models import mbgnbd
    >>> q = mbgnbd.MBGNBDParams(0.525, 6.183, 0.891, 1.614)
    >>> a = expected_purchases_new_customer(CNBDParams(1, *q), 39.0, dropout_at_zero=True)
    >>> bool(abs(a - mbgnbd.expected_purchases_new_customer(q, 39.0)) < 1e-10)
    True
    """
    return expected_purchases(params, t, 0.0, 0.0, 0.0, dropout_at_zero=dropout_at_zero)


def probability_of_purchases(
    params: CNBDParams, n: ArrayLike, t: ArrayLike, *, dropout_at_zero: bool
) -> Any:
    r"""Probability that a new customer makes exactly ``n`` repeat purchases in ``(0, t]``.

    With :math:`c'_m = B(a, b+m)/B(a, b)` and :math:`G(n)` the tail of the stage
    count (shape :math:`r`, scale :math:`\alpha`):
    :math:`P(X=n) = c'_{n-1+\delta} G(nk) - c'_{n+\delta} G((n+1)k)`, and
    :math:`P(X=0) = 1 - c'_\delta G(k)` (BTYDplus ``xbgcnbd.pmf``).

    Examples
    --------
    >>> p = CNBDParams(3, 0.6, 2.0, 1.1, 1.9)
    >>> pmf = probability_of_purchases(p, np.arange(300), 52.0, dropout_at_zero=True)
    >>> round(float(pmf.sum()), 10)
    1.0
    """
    k = _order(params.k)
    r, alpha, a, b = _floats(*params[1:])
    n, t = _floats(n, t)
    delta = 1.0 if dropout_at_zero else 0.0

    def c(m: FloatArray) -> FloatArray:
        return _survival_ratio(a, b, m)

    now = _stage_count_tail(n * k, r, alpha, t)
    nxt = _stage_count_tail((n + 1.0) * k, r, alpha, t)
    first = np.where(n > 0, c(np.maximum(n - 1.0 + delta, 0.0)), 1.0)
    value = first * now - c(n + delta) * nxt
    return _out(np.clip(value, 0.0, 1.0))


def conditional_probability_of_purchases(
    params: CNBDParams,
    n: ArrayLike,
    t: ArrayLike,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    dropout_at_zero: bool,
) -> Any:
    r"""Probability of exactly ``n`` purchases in ``(T, T + t]`` given the history.

    Alive with ``j`` stages done: :math:`c_{n-1} G_j(nk-j) - c_n G_j((n+1)k-j)`
    for :math:`n \ge 1` and :math:`1 - G_j(k-j)` for 0; a customer who is gone
    buys nothing.

    Examples
    --------
    >>> p = CNBDParams(2, 0.58, 2.29, 1.13, 1.58)
    >>> n = np.arange(200)
    >>> pmf = conditional_probability_of_purchases(p, n, 39, 3, 30.0, 38.0, dropout_at_zero=True)
    >>> bool(abs(n @ pmf - expected_purchases(p, 39, 3, 30.0, 38.0, dropout_at_zero=True)) < 1e-9)
    True
    """
    k = _order(params.k)
    r, alpha, a, b = _floats(*params[1:])
    n, t, x, t_x, T = np.broadcast_arrays(*_floats(n, t, frequency, recency, T))
    p_alive, w_j, R = _alive_posterior(k, r, alpha, a, b, x, t_x, T, dropout_at_zero)
    j = np.arange(k, dtype=np.float64).reshape((k,) + (1,) * R.ndim)
    bp = b + x + (1.0 if dropout_at_zero else 0.0)

    def c(m: FloatArray) -> FloatArray:
        return _survival_ratio(a, bp, m)

    now = _stage_count_tail(n * k - j, R + j, alpha + T, t)
    nxt = _stage_count_tail((n + 1.0) * k - j, R + j, alpha + T, t)
    given = np.where(n > 0, c(np.maximum(n - 1.0, 0.0)) * now, 1.0) - c(n) * nxt
    value = p_alive * np.sum(w_j * given, axis=0) + (1.0 - p_alive) * (n == 0)
    return _out(np.clip(value, 0.0, 1.0))


def probability_alive_at(
    params: CNBDParams,
    t: ArrayLike,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    dropout_at_zero: bool,
) -> Any:
    r"""Probability of still being alive at ``T + t``.

    Dropout happens only right after a purchase, so the customer alive at
    :math:`T` survives the coin of each of the :math:`Y'` purchases they would
    make in the window: :math:`E[(1-p)^{Y'}] = 1 - \sum_{m \ge 1} (c_{m-1} - c_m)
    G_j(mk - j)`, averaged over the stage weights.

    Examples
    --------
    >>> p = CNBDParams(2, 0.58, 2.29, 1.13, 1.58)
    >>> a0 = probability_alive(p, 3, 30.0, 38.0, dropout_at_zero=True)
    >>> bool(probability_alive_at(p, 0.0, 3, 30.0, 38.0, dropout_at_zero=True) == a0)
    True
    """
    return _future_sum(params, t, frequency, recency, T, dropout_at_zero, survival=True)


def conditional_pmf_function(dropout_at_zero: bool) -> Callable[..., Any]:
    """:func:`conditional_probability_of_purchases` bound to one model variant."""
    return partial(conditional_probability_of_purchases, dropout_at_zero=dropout_at_zero)


def alive_at_function(dropout_at_zero: bool) -> Callable[..., Any]:
    """:func:`probability_alive_at` bound to one model variant."""
    return partial(probability_alive_at, dropout_at_zero=dropout_at_zero)


def simulate(
    params: CNBDParams, T: ArrayLike, *, rng: np.random.Generator, dropout_at_zero: bool
) -> dict[str, FloatArray]:
    """Simulate customers observed for ``T`` periods after their first purchase.

    Vectorised over customers: one step per purchase rank draws the next
    Erlang-k gap of every customer still buying, then their dropout coin.

    Returns
    -------
    dict
        ``frequency``, ``recency``, ``T``, ``litt``, latent ``lambda``, ``p``
        and ``alive`` (alive at ``T``).

    Examples
    --------
    >>> sim = simulate(CNBDParams(2, 0.6, 2.0, 1.1, 1.9), np.full(4, 52.0),
    ...                rng=np.random.default_rng(0), dropout_at_zero=True)
    >>> bool(np.all(sim["recency"] <= sim["T"]))
    True
    """
    k = _order(params.k)
    r, alpha, a, b = (float(v) for v in params[1:])
    T = np.asarray(T, dtype=np.float64)
    n = T.shape[0]
    lam = np.asarray(rng.gamma(r, 1.0 / alpha, size=n), dtype=np.float64)
    p = np.asarray(rng.beta(a, b, size=n), dtype=np.float64)
    dead = np.asarray(rng.random(n) < p) if dropout_at_zero else np.zeros(n, dtype=bool)
    clock, frequency, litt = np.zeros(n), np.zeros(n), np.zeros(n)
    active = np.flatnonzero(~dead)
    while active.size:
        gap = rng.standard_gamma(float(k), active.size) / lam[active]
        ok = clock[active] + gap <= T[active]
        active, gap = active[ok], gap[ok]
        clock[active] += gap
        frequency[active] += 1.0
        litt[active] += np.log(gap)
        drop = rng.random(active.size) < p[active]
        dead[active[drop]] = True
        active = active[~drop]
    return {
        "frequency": frequency,
        "recency": clock,
        "T": T.copy(),
        "litt": litt,
        "lambda": lam,
        "p": p,
        "alive": ~dead,
    }
