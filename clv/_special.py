"""Log-space helpers for the model mathematics.

All functions are vectorised NumPy functions that stay finite where the naive
formula would overflow or lose all precision.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike

from scipy import special

from clv._typing import FloatArray

__all__ = ["hyp2f1", "log1mexp", "log_hyp2f1", "logsubexp", "per_frequency"]

_LOG_HALF = -np.log(2.0)


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
    for :math:`a, b, c > 0` (all terms positive).

    Examples
    --------
    >>> round(float(np.exp(log_hyp2f1(1.0, 1.0, 2.0, 0.5))), 10)  # -log(1 - z) / z
    1.3862943611
    """
    a, b, c, z = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c, z)))
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
    while active.any() and k0 < 10_000_000:
        k = np.arange(k0, k0 + block, dtype=np.float64)[:, None]
        idx = np.flatnonzero(active)
        ratio = (np.log(a[idx] + k) + np.log(b[idx] + k) - np.log(c[idx] + k) - np.log1p(k) + log_z[idx])
        terms = log_term[idx] + np.cumsum(ratio, axis=0)
        out[idx] = np.logaddexp(out[idx], np.logaddexp.reduce(terms, axis=0))
        log_term[idx] = terms[-1]
        # stop where the last term is tiny and the terms are decreasing
        done = (terms[-1] < out[idx] - 40.0) & (ratio[-1] < 0)
        active[idx[done]] = False
        k0 += block
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


def _hyp2f1_series(a: FloatArray, b: FloatArray, c: FloatArray, z: FloatArray) -> FloatArray:
    """Signed Gauss series in linear space, blockwise until the terms are negligible."""
    total = np.ones_like(a)
    term = np.ones_like(a)
    active = z != 0
    k = 0.0
    with np.errstate(over="ignore", invalid="ignore"):  # genuine overflow ends as ±inf
        while active.any() and k < 1e6:
            idx = np.flatnonzero(active)
            term[idx] = term[idx] * (a[idx] + k) * (b[idx] + k) / ((c[idx] + k) * (k + 1.0)) * z[idx]
            total[idx] += term[idx]
            done = (np.abs(term[idx]) <= 1e-17 * np.abs(total[idx])) | ~np.isfinite(total[idx])
            # the terms only decrease for good once k is past the largest of |a|, |b|, |c|
            done &= k > np.maximum(np.maximum(np.abs(a[idx]), np.abs(b[idx])), np.abs(c[idx]))
            active[idx[done]] = False
            k += 1.0
    return total


def per_frequency(x: FloatArray, fn: Callable[[FloatArray], Sequence[FloatArray]]) -> list[FloatArray]:
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
