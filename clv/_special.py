"""Log-space helpers for the model mathematics.

All functions are vectorised NumPy functions that stay finite where the naive
formula would overflow or lose all precision.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from clv import _special_jit
from clv._typing import FloatArray, IndexArray

__all__ = [
    "alive_purchases_quadrature",
    "geometric_failures",
    "beta_quadrature",
    "dot",
    "frequency_sums",
    "gram",
    "hyp2f1",
    "hyp2f1_grid",
    "log1mexp",
    "log_gammainc",
    "log_gammainc_with_grad",
    "log_hyp2f1",
    "log_hyp2f1_1bc",
    "log_integrate_unimodal",
    "logsubexp",
    "per_frequency",
]

_LOG_HALF = -np.log(2.0)


#: Most terms a Gauss series may sum for one value (entries that need more are NaN).
_SERIES_BUDGET = 20_000


def log1mexp(x: ArrayLike) -> FloatArray:
    r"""Return :math:`\log(1 - e^{x})` for :math:`x \le 0`, accurately.

    Uses ``log(-expm1(x))`` near zero and ``log1p(-exp(x))`` elsewhere
    (Mächler 2012).  ``x = 0`` gives ``-inf``.

    Examples
    --------
    >>> float(log1mexp(-1e-20))
    -46.051701859880914
    """
    x = np.asarray(x, dtype=np.float64)
    near = x > _LOG_HALF
    out = np.empty_like(x)
    with np.errstate(divide="ignore"):  # x == 0 is log(0) = -inf by definition
        out[near] = np.log(-np.expm1(x[near]))
    out[~near] = np.log1p(-np.exp(x[~near]))
    return out[()] if out.ndim == 0 else out


def log_gammainc(a: ArrayLike, x: ArrayLike) -> FloatArray:
    r"""Return :math:`\log P(a, x)`, the log regularised lower incomplete gamma function.

    ``log(gammainc)`` where :math:`P < 1/2` and ``log1p(-gammaincc)`` above,
    so values near 1 keep their precision; where :math:`P` underflows, the
    leading term of its series, :math:`a\log x - \log\Gamma(a+1)`.
    ``x = 0`` gives ``-inf``.

    Examples
    --------
    >>> float(np.exp(log_gammainc(1.0, 2.0)))  # 1 - e^{-2}
    0.8646647167633873
    >>> bool(np.isclose(log_gammainc(2.0, 60.0), -61 * np.exp(-60.0), rtol=1e-12, atol=0))
    True
    >>> round(float(log_gammainc(3.0, 1e-120)), 6)  # 3 log(1e-120) - log 6
    -830.722393
    """
    a, x = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(x, dtype=np.float64))
    shape = a.shape
    a, x = a.reshape(-1), x.reshape(-1)
    lower = special.gammainc(a, x)
    with np.errstate(divide="ignore"):
        out = np.log(lower)
        upper = lower >= 0.5
        out[upper] = np.log1p(-special.gammaincc(a[upper], x[upper]))
        tiny = (lower == 0.0) & (x > 0.0)
        out[tiny] = a[tiny] * np.log(x[tiny]) - special.gammaln(a[tiny] + 1.0)
    return out.reshape(shape)[()]


def log_gammainc_with_grad(a: ArrayLike, x: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    r""":func:`log_gammainc` and its partial derivatives in ``a`` and in ``x``.

    In ``x`` exactly, :math:`x^{a-1}e^{-x}/(\Gamma(a)P)`; in ``a`` by a
    central difference with step :math:`10^{-5}a` (SciPy has no derivative of
    the incomplete gamma function in its shape; the difference quotient is
    the exact derivative of a locally averaged function, so gradient-based
    samplers stay exact).  Both derivatives are 0 at ``x = 0``.  Runs the
    compiled kernel of :mod:`clv._special_jit` when numba is available (about
    ten times faster; same values to rounding), else SciPy.

    Examples
    --------
    >>> value, d_a, d_x = log_gammainc_with_grad(1.0, 2.0)  # log(1 - e^{-x})' = 1/(e^x - 1)
    >>> bool(np.isclose(d_x, 1 / (np.exp(2.0) - 1)))
    True
    """
    a, x = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(x, dtype=np.float64))
    if _special_jit.AVAILABLE:
        out = _special_jit.log_gammainc_with_grad(a.reshape(-1), x.reshape(-1))
        v, d_a, d_x = (row.reshape(a.shape)[()] for row in out)
        return v, d_a, d_x
    value = log_gammainc(a, x)
    h = 1e-5 * a
    positive = x > 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        d_a = (log_gammainc(a + h, x) - log_gammainc(a - h, x)) / (2.0 * h)
        d_x = np.exp((a - 1.0) * np.log(x) - x - special.gammaln(a) - value)
    return (
        np.asarray(value, dtype=np.float64)[()],
        np.asarray(np.where(positive, d_a, 0.0), dtype=np.float64)[()],
        np.asarray(np.where(positive, d_x, 0.0), dtype=np.float64)[()],
    )


def logsubexp(a: ArrayLike, b: ArrayLike) -> FloatArray:
    r"""Return :math:`\log(e^{a} - e^{b})` for :math:`a \ge b`.

    Examples
    --------
    >>> round(float(np.exp(logsubexp(np.log(3.0), np.log(1.0)))), 12)
    2.0
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return a + log1mexp(np.minimum(b - a, 0.0))


def log_hyp2f1(a: ArrayLike, b: ArrayLike, c: ArrayLike, z: ArrayLike) -> FloatArray:
    r"""Return :math:`\log {}_2F_1(a, b; c; z)` for :math:`0 \le z < 1` where the value is positive.

    SciPy's ``hyp2f1`` is used where it is finite and positive; elsewhere (its
    result overflows) the Gauss series is summed in log space, which is valid
    for :math:`a, b, c > 0` (all terms positive).  Arguments with :math:`a = 1`
    (or :math:`b = 1`), :math:`0 < b < c` and :math:`c > 1` -- the Pareto/NBD
    family -- go to :func:`log_hyp2f1_1bc`, which stays accurate as
    :math:`z \to 1` where SciPy returns NaN or loses digits.

    Examples
    --------
    >>> round(float(np.exp(log_hyp2f1(1.0, 1.0, 2.0, 0.5))), 10)  # -log(1 - z) / z
    1.3862943611
    """
    a, b, c, z = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c, z)))
    one_a = (a == 1.0) & (b > 0) & (b < c) & (c > 1.0) & (z >= 0) & (z < 1.0)
    one_b = ~one_a & (b == 1.0) & (a > 0) & (a < c) & (c > 1.0) & (z >= 0) & (z < 1.0)
    if not (one_a.any() or one_b.any()):
        return _log_hyp2f1_general(a, b, c, z)
    out = np.empty(a.shape)
    out[one_a] = log_hyp2f1_1bc(b[one_a], c[one_a], z[one_a])
    out[one_b] = log_hyp2f1_1bc(a[one_b], c[one_b], z[one_b])
    rest = ~(one_a | one_b)
    if rest.any():
        out[rest] = _log_hyp2f1_general(a[rest], b[rest], c[rest], z[rest])
    return out[()] if out.ndim == 0 else out


def _log_hyp2f1_general(a: FloatArray, b: FloatArray, c: FloatArray, z: FloatArray) -> FloatArray:
    """SciPy's hyp2f1 with the log-space series where it overflows (see log_hyp2f1)."""
    with np.errstate(all="ignore"):  # overflow is detected below and recomputed in log space
        h = special.hyp2f1(a, b, c, z)
        out = np.log(np.where(h > 0, h, np.nan))
    bad = ~np.isfinite(out)
    if bad.any():
        out = np.array(out, dtype=np.float64)
        positive = bad & (a > 0) & (b > 0) & (c > 0)
        out[positive] = _log_hyp2f1_series(a[positive], b[positive], c[positive], z[positive])
        other = bad & ~positive
        if other.any():
            with np.errstate(invalid="ignore", divide="ignore"):  # a negative 2F1 has no log: NaN
                out[other] = np.log(_hyp2f1_series(a[other], b[other], c[other], z[other]))
    return out[()] if out.ndim == 0 else out


def _log_hyp2f1_series(a: FloatArray, b: FloatArray, c: FloatArray, z: FloatArray) -> FloatArray:
    """Gauss series summed in log space, blockwise until the terms are negligible."""
    out = np.zeros_like(a)
    log_z = np.log(np.where(z > 0, z, 1.0))
    log_term = np.zeros_like(a)
    active = (z > 0) & (a > 0) & (b > 0) & (c > 0)
    out[~((a > 0) & (b > 0) & (c > 0)) & (z > 0)] = np.nan
    k0 = 0
    block = 256
    # the terms grow until k is near the largest parameter: beyond the budget, give NaN at once
    # (callers fall back to a quadrature) instead of summing millions of terms
    hopeless = active & (np.maximum(a, b) > _SERIES_BUDGET)
    out[hopeless] = np.nan
    active &= ~hopeless
    while active.any() and k0 < _SERIES_BUDGET:
        k = np.arange(k0, k0 + block, dtype=np.float64)[:, None]
        idx = np.flatnonzero(active)
        ratio = (
            np.log(a[idx] + k) + np.log(b[idx] + k) - np.log(c[idx] + k) - np.log1p(k) + log_z[idx]
        )
        terms = log_term[idx] + np.cumsum(ratio, axis=0)
        out[idx] = np.logaddexp(out[idx], np.logaddexp.reduce(terms, axis=0))
        log_term[idx] = terms[-1]
        # stop where the last term is tiny and the terms are decreasing
        done = (terms[-1] < out[idx] - 40.0) & (ratio[-1] < 0)
        active[idx[done]] = False
        k0 += block
    out[active] = np.nan  # did not converge within the budget: not a partial sum
    return out


def hyp2f1(a: ArrayLike, b: ArrayLike, c: ArrayLike, z: ArrayLike) -> FloatArray:
    r"""Gauss hypergeometric function :math:`{}_2F_1(a, b; c; z)` for :math:`0 \le z < 1`.

    SciPy's ``hyp2f1`` first; where it returns a non-finite value (it does for
    some valid arguments, e.g. ``hyp2f1(-0.5, -0.96875, 98.53125, 0.914)``) the
    Gauss series is summed directly, term by term with signs, which converges
    for :math:`|z| < 1`.  Values beyond the float range stay ``±inf``; use
    :func:`log_hyp2f1` for those.

    Examples
    --------
    >>> round(float(hyp2f1(-0.5, -0.96875, 98.53125, 0.9142857142857143)), 10)
    1.0044949097
    """
    a, b, c, z = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c, z)))
    with np.errstate(all="ignore"):  # non-finite results are recomputed below
        out = np.array(special.hyp2f1(a, b, c, z), dtype=np.float64)
    bad = ~np.isfinite(out)
    if bad.any():
        out[bad] = _hyp2f1_series(a[bad], b[bad], c[bad], z[bad])
    return out[()] if out.ndim == 0 else out


def hyp2f1_grid(a: ArrayLike, b: ArrayLike, c: ArrayLike, z: ArrayLike) -> FloatArray:
    r""":func:`hyp2f1` where ``a``, ``b`` and ``c`` do not vary along the last axis of ``z``.

    The shape of a discounted sum: one set of parameters per customer and draw,
    one argument per period.  With the compiled kernel (numba installed and
    ``CLV_NUMBA`` not ``0``) each row's Gauss series is summed once for all its
    arguments, sharing the coefficients :math:`(a)_n (b)_n / ((c)_n\, n!)`
    (several times faster than one SciPy call per value); the entries it
    declines (slow convergence, cancellation, arguments outside ``[0, 1)``)
    and every entry without numba are :func:`hyp2f1`'s.

    Parameters
    ----------
    a, b, c : array_like
        Parameters; their last axis (if any) has length 1.
    z : array_like
        Arguments, the last axis being the one the parameters do not vary along.

    Examples
    --------
    >>> z = np.array([[0.1, 0.5, 0.9]])
    >>> bool(np.allclose(hyp2f1_grid(1.5, -0.2, 3.0, z), hyp2f1(1.5, -0.2, 3.0, z), rtol=1e-14))
    True
    """
    a, b, c, z = (np.asarray(v, dtype=np.float64) for v in (a, b, c, z))
    shape = np.broadcast_shapes(a.shape, b.shape, c.shape, z.shape)
    constant = all(v.ndim == 0 or (v.ndim == len(shape) and v.shape[-1] == 1) for v in (a, b, c))
    if not (_special_jit.AVAILABLE and len(shape) >= 1 and shape[-1] > 1 and constant):
        return hyp2f1(a, b, c, z)
    rows = (*shape[:-1], 1)
    a1, b1, c1 = (np.broadcast_to(v, rows).reshape(-1) for v in (a, b, c))
    z2 = np.broadcast_to(z, shape).reshape(-1, shape[-1])
    out = _special_jit.hyp2f1_grid(a1, b1, c1, z2)
    bad = np.isnan(out)
    if bad.any():
        i, k = np.nonzero(bad)
        out[i, k] = hyp2f1(a1[i], b1[i], c1[i], z2[i, k])
    return out.reshape(shape)


def _hyp2f1_series(a: FloatArray, b: FloatArray, c: FloatArray, z: FloatArray) -> FloatArray:
    """Signed Gauss series in linear space, blockwise until the terms are negligible."""
    total = np.ones_like(a)
    term = np.ones_like(a)
    active = z != 0
    # the terms decrease for good only past the largest parameter: beyond the budget the
    # series cannot finish, so those entries are NaN at once (callers fall back)
    largest = np.maximum(np.maximum(np.abs(a), np.abs(b)), np.abs(c))
    hopeless = active & ~(largest < _SERIES_BUDGET)
    active &= ~hopeless
    k = 0.0
    with np.errstate(over="ignore", invalid="ignore"):  # genuine overflow ends as ±inf
        while active.any() and k < _SERIES_BUDGET:  # bounded: callers handle what is left NaN
            idx = np.flatnonzero(active)
            term[idx] = (
                term[idx] * (a[idx] + k) * (b[idx] + k) / ((c[idx] + k) * (k + 1.0)) * z[idx]
            )
            total[idx] += term[idx]
            done = (np.abs(term[idx]) <= 1e-17 * np.abs(total[idx])) | ~np.isfinite(total[idx])
            # the terms only decrease for good once k is past the largest of |a|, |b|, |c|
            done &= k > np.maximum(np.maximum(np.abs(a[idx]), np.abs(b[idx])), np.abs(c[idx]))
            active[idx[done]] = False
            k += 1.0
    total[active | hopeless] = np.nan  # did not converge within the budget
    return total


def per_frequency(
    x: FloatArray, fn: Callable[[FloatArray], Sequence[FloatArray]]
) -> list[FloatArray]:
    """Evaluate ``fn`` once per distinct whole-number frequency and expand to ``x``.

    Special functions of ``r + x`` and the like dominate the cost of the
    likelihoods; frequencies take few distinct values, so a table over
    ``0..max(x)`` indexed by ``x`` is much cheaper than evaluating per row.
    Falls back to evaluating ``fn(x)`` when ``x`` is not a small whole number.

    Examples
    --------
    >>> [v.tolist() for v in per_frequency(np.array([0.0, 2.0, 2.0]), lambda k: (k + 1,))]
    [[1.0, 3.0, 3.0]]
    """
    x = np.asarray(x)
    if x.ndim != 1 or x.size < 64:
        return [np.asarray(v, dtype=np.float64) * np.ones_like(x, dtype=np.float64) for v in fn(x)]
    top = float(x.max(initial=0.0))
    if top >= 4 * x.size + 1000 or float(x.min(initial=0.0)) < 0:
        return [np.asarray(v, dtype=np.float64) for v in fn(x)]
    idx = x.astype(np.intp)
    if not np.array_equal(idx, x):
        return [np.asarray(v, dtype=np.float64) for v in fn(x)]
    table = fn(np.arange(int(top) + 1, dtype=np.float64))
    return [np.asarray(v, dtype=np.float64)[idx] for v in table]


# ----------------------------------------------------------------------------------------------
# 2F1(1, b; c; z): the hypergeometric function of the Pareto/NBD likelihood
# ----------------------------------------------------------------------------------------------

_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(16)
_GL_NODES = (_GL_NODES[:, None] + 1.0) / 2.0  # on [0, 1]
_GL_WEIGHTS = _GL_WEIGHTS[:, None] / 2.0
_SERIES_TERMS = 800  # beyond this (z close to 1) the integral representation is used


def log_integrate_unimodal(
    phi: Callable[[FloatArray, IndexArray], FloatArray],
    dphi: Callable[[FloatArray, IndexArray], FloatArray],
    lo: ArrayLike,
    hi: ArrayLike,
    mode: ArrayLike,
    moments: Sequence[Callable[[FloatArray, IndexArray], FloatArray]] = (),
    *,
    max_width: Callable[[FloatArray, IndexArray], FloatArray] | None = None,
    drop: float = 50.0,
    max_panels: int = 100_000,
) -> tuple[FloatArray, FloatArray]:
    r"""Return :math:`\log \int_{lo}^{hi} e^{\phi(u)}\,du` per row, for unimodal :math:`\phi`.

    Composite 16-point Gauss-Legendre quadrature on panels laid out from the
    mode towards each end.  A panel is at most ``max_width`` wide (1 by
    default: the scale on which :math:`\phi` may bend) and narrow enough that
    :math:`\phi` changes by at most about 1 across it and its slope by at most
    ``1/width``, so the integrand is close to an exponential on every panel
    and the rule is accurate to about 1e-14 whatever the scale of the problem
    (slopes from 1e-4 to 1e6 per unit of ``u``).  Each side stops at its end
    or once :math:`\phi` has fallen ``drop`` below its maximum; ``hi`` may be
    ``inf``.

    Parameters
    ----------
    phi, dphi : callable
        ``phi(u, rows)`` and its derivative, for nodes ``u`` of shape
        ``(k, len(rows))`` or ``(len(rows),)`` and the row indices ``rows``
        they belong to.
    lo, hi, mode : array_like
        Limits and the location of the maximum of ``phi`` on ``[lo, hi]``
        (one per row).
    moments : sequence of callable
        Functions ``g(u, rows)`` whose averages under the normalised
        integrand are returned too (for derivatives of the integral).
    max_width : callable, optional
        ``max_width(u, rows)``: the widest panel allowed from ``u`` (default
        1); return ``inf`` where :math:`\phi` is linear to working precision.

    Returns
    -------
    log_integral : ndarray, shape (n,)
    averages : ndarray, shape (len(moments), n)

    Examples
    --------
    >>> phi = lambda u, rows: -0.5 * u**2
    >>> dphi = lambda u, rows: -u
    >>> val, _ = log_integrate_unimodal(phi, dphi, [-np.inf], [np.inf], [0.0])
    >>> round(float(np.exp(val[0]) ** 2), 12)  # (sqrt(2 pi))**2
    6.28318530718
    """
    lo = np.atleast_1d(np.asarray(lo, dtype=np.float64))
    hi = np.atleast_1d(np.asarray(hi, dtype=np.float64))
    mode = np.atleast_1d(np.asarray(mode, dtype=np.float64))
    n = mode.size
    rows = np.arange(n)
    ref = np.asarray(phi(mode, rows), dtype=np.float64)
    acc = np.zeros(n)
    mom = np.zeros((len(moments), n))
    for direction, end in ((1.0, hi), (-1.0, lo)):
        u = mode.copy()
        active = rows[(direction * (end - u) > 0) & np.isfinite(ref)]
        panels = 0
        while active.size:
            ua = u[active]
            room = direction * (end[active] - ua)
            d0 = dphi(ua, active)
            h = np.minimum(room, 1.0 / np.maximum(np.abs(d0), 1e-300))
            h = np.minimum(h, 1.0 if max_width is None else max_width(ua, active))
            h = np.minimum(h, 1e15)
            for _ in range(200):  # halve until the slope changes by at most 1/h over the panel
                d1 = dphi(ua + direction * h, active)
                bad = ~(np.abs(d1 - d0) * h <= 1.0)
                if not bad.any():
                    break
                h = np.where(bad, 0.5 * h, h)
            nodes = ua + direction * h * _GL_NODES
            f = np.exp(phi(nodes, active) - ref[active]) * (_GL_WEIGHTS * h)
            acc[active] += f.sum(axis=0)
            for j, g in enumerate(moments):
                mom[j, active] += (f * g(nodes, active)).sum(axis=0)
            last = h >= room
            u_new = np.where(last, end[active], ua + direction * h)
            u[active] = u_new
            level = phi(u_new, active)
            stop = last | ~(level >= ref[active] - drop)
            active = active[~stop]
            panels += 1
            if panels > max_panels:
                acc[active] = np.nan
                break
    with np.errstate(divide="ignore", invalid="ignore"):  # an empty interval integrates to 0
        log_int = ref + np.log(acc)
        averages = mom / acc
    return log_int, averages


def log_hyp2f1_1bc(b: ArrayLike, c: ArrayLike, z: ArrayLike, *, order: int = 0) -> Any:
    r"""Return :math:`\log {}_2F_1(1, b; c; z)` for :math:`0<b<c`, :math:`c>1`, :math:`0 \le z<1`.

    This is the hypergeometric function of the Pareto/NBD model (after
    Euler's transformation).  Its Gauss series has positive terms whose
    ratio :math:`z (b+k)/(c+k)` stays below :math:`z`, so it is summed in
    linear space without overflow.  For ``order`` 0 and 1 and :math:`z > 0.5`
    Gauss's continued fraction (:func:`_cf_1bc`) is used first: it needs about
    :math:`1/\sqrt{1-z}` terms where the series needs :math:`1/(1-z)`.  Where
    the series would need more than 800 terms (:math:`z` close to 1) and the
    continued fraction did not converge, the value comes from the integral
    representation

    .. math::

       {}_2F_1(1, b; c; z) = (c-1)\, z^{1-c} (1-z)^{c-b-1}
       \int_{u_0}^{\infty} e^{-(c-b-1)u - b \log(1+e^{u})}\, du,
       \qquad u_0 = \log\frac{1-z}{z},

    evaluated with :func:`log_integrate_unimodal`.  The value is at most
    :math:`(c-1)/(c-b-1)` when :math:`c - b > 1`, so nothing overflows.
    Outside the domain the result is NaN.

    Parameters
    ----------
    b, c, z : array_like
        Broadcast together.
    order : {0, 1, 2}
        0: the value; 1: also the partial derivatives of the log with respect
        to ``b``, ``c``, ``z``; 2: also the second partial derivatives.

    Returns
    -------
    ndarray or tuple of ndarray
        ``log F`` (order 0); ``(log F, F_b, F_c, F_z)`` (order 1); or those
        followed by ``F_bb, F_bc, F_bz, F_cc, F_cz, F_zz`` (order 2), all
        derivatives of ``log F``.

    Examples
    --------
    >>> round(float(log_hyp2f1_1bc(1.0, 2.0, 0.5)), 12)  # log(-log(1 - z) / z)
    0.326634259978
    >>> round(float(log_hyp2f1_1bc(10000.3, 10001.6, 1 - 1e-7)), 9)  # SciPy: nan
    10.237457829
    """
    b, c, z = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (b, c, z)))
    shape = b.shape
    b, c, z = (v.ravel() for v in (b, c, z))
    valid = (b > 0) & (b < c) & (c > 1) & (z >= 0) & (z < 1)
    out = np.full((_N_OUT[order], b.size), np.nan)
    done = ~valid
    if order < 2 and _special_jit.AVAILABLE and b.size >= _JIT_MIN_ROWS:
        # the same series and continued fraction, compiled row by row (clv._special_jit)
        rows = np.flatnonzero(valid)
        vals, ok = _special_jit.log_hyp2f1_1bc_order1(
            b[rows],
            c[rows],
            z[rows],
            cf_min_z=_CF_MIN_Z,
            cf_terms=_CF_TERMS,
            series_terms=_SERIES_TERMS,
        )
        out[:, rows[ok]] = vals[: _N_OUT[order], ok]
        done[rows[ok]] = True
        jit = True  # the rows left need the integral representation
    else:
        jit = False
    if order < 2 and not jit:  # far from 0, the continued fraction converges in fewer terms
        rows = np.flatnonzero(valid & (z > _CF_MIN_Z))
        if rows.size:
            vals, ok = _cf_1bc(b[rows], c[rows], z[rows])
            out[:, rows[ok]] = vals[: _N_OUT[order], ok]
            done[rows[ok]] = True
    rows = np.flatnonzero(~done) if not jit else rows[:0]
    if rows.size:
        out[:, rows], done_rows = _series_1bc(b[rows], c[rows], z[rows], order)
        done[rows] = done_rows
    hard = np.flatnonzero(~done)
    if hard.size:
        out[:, hard] = _integral_1bc(b[hard], c[hard], z[hard], order)
    res = [v.reshape(shape) for v in out]
    res = [v[()] if v.ndim == 0 else v for v in res]
    return tuple(res) if order else res[0]


_N_OUT = (1, 4, 10)
_JIT_MIN_ROWS = 1  # the compiled kernel (when numba is installed) from this many rows on
_CF_MIN_Z = 0.5  # the continued fraction is used above this z (values and first derivatives)
_CF_TERMS = 1000  # at most; rows that need more go to the series, then the integral
_CHUNK = 8192  # rows per block of the series: the work arrays stay in cache


def _series_1bc(
    b: FloatArray, c: FloatArray, z: FloatArray, order: int
) -> tuple[FloatArray, FloatArray]:
    """Gauss series of 2F1(1, b; c; z) and its derivatives; flags the rows that converged.

    Rows are grouped by ``z`` (so the rows of a block need about as many terms)
    and summed block by block with in-place arithmetic.
    """
    n = b.size
    out = np.empty((_N_OUT[order], n))
    done = np.zeros(n, dtype=bool)
    if n == 0:
        return out, done
    perm = None
    if n > _CHUNK:  # a radix sort on a coarse key: O(n)
        perm = np.argsort((z * 1024.0).astype(np.int16), kind="stable")
    for lo in range(0, n, _CHUNK):
        idx = slice(lo, lo + _CHUNK) if perm is None else perm[lo : lo + _CHUNK]
        vals, ok = _series_block(b[idx], c[idx], z[idx], order)
        out[:, idx] = vals
        done[idx] = ok
    return out, done


def _series_block(
    b: FloatArray, c: FloatArray, z: FloatArray, order: int
) -> tuple[FloatArray, FloatArray]:
    """One block of rows of :func:`_series_1bc`: in-place sums until every row converged."""
    m = b.size
    bk = b.copy()
    ck = c.copy()
    term = np.ones(m)
    total = np.ones(m)
    g = np.empty(m)
    tmp = np.empty(m)
    # after term k the remaining terms sum to less than term * z / (1 - z) (ratios < z); the
    # derivative sums carry extra polynomial factors in k, bounded by the powers of 1 / (1 - z)
    slack = 1.0 / (1.0 - z) ** (1 + order)
    z_floor = np.maximum(z, 1e-3)
    if order:
        inv_b = np.empty(m)
        inv_c = np.empty(m)
        q = np.empty(m)
        s_b = np.zeros(m)
        s_c = np.zeros(m)
        d_b = np.zeros(m)
        d_c = np.zeros(m)
        d_z = np.zeros(m)
    if order == 2:
        q_prev = np.zeros(m)  # term_k / z
        t_b = np.zeros(m)
        t_c = np.zeros(m)
        d_bb = np.zeros(m)
        d_bc = np.zeros(m)
        d_bz = np.zeros(m)
        d_cc = np.zeros(m)
        d_cz = np.zeros(m)
        d_zz = np.zeros(m)
        u = np.empty(m)
    ok = np.zeros(m, dtype=bool)
    k = 0
    while k < _SERIES_TERMS:
        for _ in range(4):
            kk = k + 1.0
            if order == 0:
                np.divide(bk, ck, out=g)
                term *= g
                term *= z
            else:
                np.divide(1.0, bk, out=inv_b)
                np.divide(1.0, ck, out=inv_c)
                np.multiply(bk, inv_c, out=g)
                np.multiply(term, g, out=q)  # term_{k+1} / z
                s_b += inv_b
                s_c += inv_c
                np.multiply(q, z, out=term)
                np.multiply(q, kk, out=tmp)
                d_z += tmp
                if order == 2:
                    np.multiply(tmp, s_b, out=u)
                    d_bz += u
                    np.multiply(tmp, s_c, out=u)
                    d_cz -= u
                    np.multiply(q_prev, g, out=u)  # term_{k+1} / z^2
                    u *= kk * k
                    d_zz += u
                    q_prev, q = q, q_prev
                    np.multiply(inv_b, inv_b, out=u)
                    t_b += u
                    np.multiply(inv_c, inv_c, out=u)
                    t_c += u
                np.multiply(term, s_b, out=tmp)
                d_b += tmp
                if order == 2:
                    np.multiply(tmp, s_b, out=u)
                    d_bb += u
                    np.multiply(tmp, s_c, out=u)
                    d_bc -= u
                    np.multiply(term, t_b, out=u)
                    d_bb -= u
                np.multiply(term, s_c, out=tmp)
                d_c -= tmp
                if order == 2:
                    np.multiply(tmp, s_c, out=u)
                    d_cc += u
                    np.multiply(term, t_c, out=u)
                    d_cc += u
            total += term
            bk += 1.0
            ck += 1.0
            k += 1
        if order:  # the derivative sums carry factors up to (k (1 + S_b + S_c) / z)**order:
            # first derivatives to 1e-15, second ones to 1e-11 (relative to the value)
            np.multiply(term, slack, out=tmp)
            tmp *= (1.0 + s_b + s_c) * ((k + 1.0) / z_floor)
            np.less_equal(tmp, 1e-15 * total, out=ok)
            if order == 2:
                tmp *= (1.0 + s_b + s_c) * ((k + 1.0) / z_floor)
                ok &= tmp <= 1e-11 * total
        else:
            np.less_equal(term * slack, 1e-16 * total, out=ok)
        if ok.all():
            break
    res = np.empty((_N_OUT[order], m))
    res[0] = np.log(total)
    if order:
        res[1] = d_b / total
        res[2] = d_c / total
        res[3] = d_z / total
    if order == 2:
        # second derivatives of log F: F_ij / F - (F_i / F)(F_j / F)
        res[4] = d_bb / total - res[1] * res[1]
        res[5] = d_bc / total - res[1] * res[2]
        res[6] = d_bz / total - res[1] * res[3]
        res[7] = d_cc / total - res[2] * res[2]
        res[8] = d_cz / total - res[2] * res[3]
        res[9] = d_zz / total - res[3] * res[3]
    return res, ok


def _cf_1bc(b: FloatArray, c: FloatArray, z: FloatArray) -> tuple[FloatArray, FloatArray]:
    r"""``log F`` and its derivatives in ``b, c, z`` from Gauss's continued fraction.

    With :math:`\gamma = c - 1`,

    .. math::

       {}_2F_1(1, b; c; z) = \cfrac{1}{1 - \cfrac{d_1 z}{1 - \cfrac{d_2 z}{1 - \cdots}}},
       \quad d_{2j+1} = \frac{(\gamma+j)(b+j)}{(\gamma+2j)(\gamma+2j+1)},
       \quad d_{2j} = \frac{j(\gamma-b+j)}{(\gamma+2j-1)(\gamma+2j)},

    all :math:`d_n > 0` for :math:`0 < b < c`.  As :math:`z \to 1` it needs
    about :math:`1/\sqrt{1-z}` terms where the Gauss series needs
    :math:`1/(1-z)` (some 100 instead of 1,000 at :math:`z = 0.965`).  The
    convergents :math:`Q_n / P_n` come from the forward recurrence, carried
    with their derivatives in ``b, c, z`` (differentiated term by term) and
    rescaled every two terms; a row is done once two successive pairs of
    terms change the value and the derivatives by less than 1e-14 (relative).

    Returns
    -------
    values : ndarray, shape (4, n)
        ``log F, F_b, F_c, F_z`` (derivatives of ``log F``).
    ok : ndarray of bool, shape (n,)
        Rows that converged within ``_CF_TERMS`` terms (the others are NaN).
    """
    n_rows = b.size
    out = np.full((4, n_rows), np.nan)
    ok = np.zeros(n_rows, dtype=bool)
    # state: P, Q and their derivatives in b, gamma = c - 1, z (rows 2-4 of P, 5-7 of Q);
    # 1/F = P / Q.  P_{-1} = 1, Q_{-1} = 0, P_0 = Q_0 = 1.
    x = np.zeros((8, n_rows))
    x[:2] = 1.0
    x_prev = np.zeros((8, n_rows))
    x_prev[0] = 1.0
    new = np.empty_like(x)
    da = np.empty((3, n_rows))
    prev = np.full((4, n_rows), np.inf)
    act = np.arange(n_rows)
    bb, gg, zz = b, c - 1.0, z
    n = 0
    with np.errstate(all="ignore"):  # a row that breaks down is left to the series
        while n < _CF_TERMS and act.size:
            for _ in range(2):
                j = n // 2 + 1
                # odd term 2j - 1, then even term 2j
                # d_n = d_num / (den (den + 1)); u is the factor of d_num that holds gamma
                go, ge = gg + (j - 1), gg - bb + j
                for d_num, d_b, u, d_den in (
                    (go * (bb + (j - 1)), go, go, gg + (2 * j - 2)),
                    (j * ge, -float(j), ge, gg + (2 * j - 1)),
                ):
                    inv = 1.0 / (d_den * (d_den + 1.0))
                    d = d_num * inv
                    np.multiply(zz, -d_b * inv, out=da[0])
                    np.multiply(-zz * d, 1.0 / u - 1.0 / d_den - 1.0 / (d_den + 1.0), out=da[1])
                    np.negative(d, out=da[2])
                    # P_n = P_{n-1} - d_n z P_{n-2}, the same for Q and for every derivative
                    np.multiply(x_prev, -d * zz, out=new)
                    new += x
                    new[2:5] += da * x_prev[0]
                    new[5:8] += da * x_prev[1]
                    x_prev, x, new = x, new, x_prev
                    n += 1
            scale = 1.0 / x[0]
            x *= scale
            x_prev *= scale
            inv_q = 1.0 / x[1]
            cur = np.empty((4, act.size))
            np.log(x[1], out=cur[0])
            np.multiply(x[5:8], inv_q, out=cur[1:])
            cur[1:] -= x[2:5]
            finished = (np.abs(cur - prev) <= 1e-14 * (1.0 + np.abs(cur))).all(axis=0)
            if finished.any():
                out[:, act[finished]] = cur[:, finished]
                ok[act[finished]] = True
            keep = ~finished & np.isfinite(cur).all(axis=0)
            if not keep.all():
                act, bb, gg, zz = act[keep], bb[keep], gg[keep], zz[keep]
                x, x_prev, cur = x[:, keep], x_prev[:, keep], cur[:, keep]
                new = np.empty_like(x)
                da = np.empty((3, act.size))
            prev = cur
    return out, ok


def _integral_1bc(b: FloatArray, c: FloatArray, z: FloatArray, order: int) -> FloatArray:
    """2F1(1, b; c; z) for z close to 1, from its integral representation (see log_hyp2f1_1bc).

    The derivatives are moments of the normalised integrand (differentiation
    under the integral sign, with the moving lower limit ``u0(z)``).
    """
    e = c - b - 1.0
    m = c - 1.0
    log1mz = np.log1p(-z)
    log_z = np.log(z)
    u0 = log1mz - log_z

    def phi(u: FloatArray, rows: IndexArray) -> FloatArray:
        return -e[rows] * u - b[rows] * np.logaddexp(0.0, u)

    def dphi(u: FloatArray, rows: IndexArray) -> FloatArray:
        return -e[rows] - b[rows] * special.expit(u)

    # the integrand peaks at u0 unless e < 0, where it rises to logit(-e / b) first
    neg = e < 0
    peak = np.full_like(u0, -np.inf)
    peak[neg] = np.log(-e[neg]) - np.log(b[neg] + e[neg])
    mode = np.maximum(u0, peak)

    def rel_log_sigma(u: FloatArray, rows: IndexArray) -> FloatArray:  # log(σ(u) / σ(u0)) >= 0
        return np.logaddexp(0.0, -u0[rows]) - np.logaddexp(0.0, -u)

    def rel_sigma(u: FloatArray, rows: IndexArray) -> FloatArray:  # σ(u) / σ(u0) - 1 >= 0
        d = u - u0[rows]
        sp = np.logaddexp(0.0, u)
        near = np.expm1(np.minimum(d, 1.0)) * np.exp(-sp)
        return np.where(d < 1.0, near, np.exp(d - sp) - np.exp(-sp))

    def shift(u: FloatArray, rows: IndexArray) -> FloatArray:
        return u - u0[rows]

    def width(u: FloatArray, rows: IndexArray) -> FloatArray:  # log(1 + e^u) is linear far from 0
        return np.where(np.log(b[rows]) - np.abs(u) < -36.0, np.inf, 1.0)

    def sq_log_sigma(u: FloatArray, rows: IndexArray) -> FloatArray:
        return rel_log_sigma(u, rows) ** 2

    def sq_shift(u: FloatArray, rows: IndexArray) -> FloatArray:
        return shift(u, rows) ** 2

    def cross(u: FloatArray, rows: IndexArray) -> FloatArray:
        return rel_log_sigma(u, rows) * shift(u, rows)

    moments: tuple[Callable[[FloatArray, IndexArray], FloatArray], ...] = ()
    if order:
        moments = (rel_log_sigma, shift, rel_sigma)
    if order == 2:
        moments += (sq_log_sigma, sq_shift, cross)
    log_k, avg = log_integrate_unimodal(
        phi, dphi, u0, np.full_like(u0, np.inf), mode, moments, max_width=width
    )
    out = np.empty((_N_OUT[order], b.size))
    out[0] = np.log(m) + (1.0 - c) * log_z + e * log1mz + log_k
    if order:
        # d/db, d/dc, d/dz of log F, simplified with σ(u0) = 1 - z and an integration by parts
        g1, g2, g3 = avg[0], avg[1], avg[2]
        out[1] = g1
        out[2] = 1.0 / m - g2
        out[3] = b / z * g3
    if order == 2:
        at_u0 = np.exp(phi(u0, np.arange(b.size)) - log_k)  # normalised integrand at u0
        zz = z * (1.0 - z)
        out[4] = avg[3] - g1**2
        out[5] = g1 * g2 - avg[5]
        out[6] = 1.0 / (1.0 - z) - at_u0 * g1 / zz
        out[7] = avg[4] - g2**2 - 1.0 / m**2
        out[8] = (at_u0 * g2 - 1.0) / zz
        out[9] = b / z * ((g3 + 1.0) / (1.0 - z) - at_u0 * g3 / zz - g3 / z)
    return out


def dot(a: ArrayLike, b: ArrayLike) -> float:
    """Inner product of two vectors as an elementwise product and sum.

    Used for the weighted sums in the likelihood derivatives instead of
    ``a @ b``: some BLAS builds (OpenBLAS with a mis-detected core type, or
    oversubscribed threads) make a 1-D ``dot`` tens of times slower than this.

    Examples
    --------
    >>> dot(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    11.0
    """
    return float(np.sum(np.multiply(a, b)))


def gram(d: FloatArray, w: FloatArray) -> FloatArray:
    """Weighted Gram matrix ``(d * w) @ d.T`` of a small ``(k, n)`` array, without BLAS.

    Examples
    --------
    >>> gram(np.array([[1.0, 2.0], [0.0, 1.0]]), np.array([1.0, 2.0])).tolist()
    [[9.0, 4.0], [4.0, 2.0]]
    """
    k = d.shape[0]
    dw = d * w
    out = np.empty((k, k))
    for i in range(k):
        for j in range(i, k):
            out[i, j] = out[j, i] = float(np.sum(dw[i] * d[j]))
    return out


def frequency_sums(
    x: FloatArray, w: FloatArray
) -> Callable[[Callable[[FloatArray], Sequence[FloatArray]]], list[float]]:
    """Weighted sums ``sum_i w_i f(x_i)`` computed once per distinct whole-number frequency.

    Returns a function that takes ``fn(k) -> sequence of arrays`` and returns
    the weighted sum of each, using ``sum_k f(k) W_k`` with ``W_k`` the total
    weight of the customers with frequency ``k`` (one ``bincount``, computed
    once).  Falls back to per-row evaluation for non-integer or huge ``x``.

    Examples
    --------
    >>> sums = frequency_sums(np.array([0.0, 2.0, 2.0]), np.array([1.0, 1.0, 3.0]))
    >>> sums(lambda k: (k + 1.0, k**2))
    [13.0, 16.0]
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    top = float(x.max(initial=0.0))
    idx = x.astype(np.intp) if 0 <= top < 4 * x.size + 1000 else None
    if idx is None or float(x.min(initial=0.0)) < 0 or not np.array_equal(idx, x):
        return lambda fn: [float(np.sum(w * np.asarray(v))) for v in fn(x)]
    weight_by_k = np.bincount(idx, weights=w)
    k = np.flatnonzero(weight_by_k).astype(np.float64)
    wk = weight_by_k[k.astype(np.intp)]

    def weighted(fn: Callable[[FloatArray], Sequence[FloatArray]]) -> list[float]:
        return [float(np.add.reduce(np.multiply(v, wk))) for v in fn(k)]

    return weighted


def beta_quadrature(a: float, b: float, n: int = 64) -> tuple[FloatArray, FloatArray]:
    """Gauss-Jacobi nodes and weights for expectations under a Beta(a, b) distribution.

    ``sum(w * g(p))`` approximates ``E[g(p)]`` for ``p ~ Beta(a, b)``, exactly for
    polynomials of degree ``2n - 1``. Golub-Welsch on the Jacobi recurrence with
    normalised weights (the squared first components of the eigenvectors), so no
    normalising constant is formed: valid for shapes from 1e-6 to 1e6, where
    ``scipy.special.roots_jacobi`` overflows.

    Examples
    --------
    >>> p, w = beta_quadrature(2.0, 3.0, 8)
    >>> round(float(w @ p), 12), round(float(w.sum()), 12)  # mean a / (a + b)
    (0.4, 1.0)
    """
    from scipy.linalg import eigh_tridiagonal

    al, be = b - 1.0, a - 1.0  # Jacobi weight (1-u)^al (1+u)^be on [-1, 1], p = (1+u)/2
    k = np.arange(n, dtype=np.float64)
    s = 2.0 * k + al + be
    with np.errstate(divide="ignore", invalid="ignore"):  # k = 0 with al + be = 0 is set below
        diag = (be**2 - al**2) / (s * (s + 2.0))
    diag[0] = (be - al) / (al + be + 2.0)
    j = k[1:]
    sj = 2.0 * j + al + be
    off = np.sqrt(4.0 * j * (j + al) * (j + be) * (j + al + be) / (sj**2 * (sj + 1.0) * (sj - 1.0)))
    nodes, vectors = eigh_tridiagonal(diag, off)
    weights = vectors[0] ** 2
    return 0.5 * (1.0 + nodes), weights / weights.sum()


def alive_purchases_quadrature(
    a: float, b_post: FloatArray, A: FloatArray, s: FloatArray, n_nodes: int = 64
) -> FloatArray:
    r"""``E[(1 - (1 + p s)^(-A)) / p]`` for ``p ~ Beta(a, b_post)``, by Gauss-Jacobi quadrature.

    The expected purchases in the next ``t`` periods of a BG/NBD-type customer
    known to be alive, with ``A = r + x`` and ``s = t / (alpha + T)``: the
    integrand is bounded and the Beta weight is exact for the nodes. One rule
    per distinct ``b_post`` (one per frequency), vectorised over the rows.

    Examples
    --------
    >>> v = alive_purchases_quadrature(2.0, np.array([3.0]), np.array([1.0]), np.array([1e-9]))
    >>> round(float(v[0] / 1e-9), 6)  # small s: E[A s] = A s
    1.0
    """
    b_post, A, s = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (b_post, A, s)))
    out = np.empty(b_post.shape, dtype=np.float64)
    for bv in np.unique(b_post):
        sel = b_post == bv
        p, w = beta_quadrature(a, float(bv), n_nodes)
        g = -np.expm1(-A[sel][:, None] * np.log1p(s[sel][:, None] * p[None, :])) / p[None, :]
        out[sel] = (g * w[None, :]).sum(axis=1)
    return out


def geometric_failures(prob: FloatArray, rng: np.random.Generator) -> FloatArray:
    """Failures before the first success of Bernoulli(prob) trials, as floats (no overflow).

    Examples
    --------
    >>> geometric_failures(np.array([1.0 - 2.0**-53, 0.0]), np.random.default_rng(0))[0]
    np.float64(0.0)
    """
    prob = np.clip(prob, 0.0, 1.0 - 2.0**-53)
    u = 1.0 - rng.random(np.shape(prob))  # (0, 1]
    return np.floor(np.log(u) / np.minimum(np.log1p(-prob), -1e-300))
