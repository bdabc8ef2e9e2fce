r"""Compiled kernels of posterior scoring for BG/NBD: one loop per (pair or history, draw).

:func:`clv.scoring.posterior_scores.posterior_score_table` evaluates, for every
posterior draw, purchases given alive once per distinct ``(frequency, T)`` pair
(at each period end of the horizon when the discount rate is positive) and
P(alive) once per distinct history.  With NumPy every step of that arithmetic
(``z``, two logarithms, the power of ``1 - z``, the bracket, the increments and
their discounting, P(alive), the CLV line) is one pass over a ``rows x draws
(x periods)`` array; here each ``(row, draw)`` is one compiled loop that keeps
its numbers in registers and writes only the results.  These kernels are an
accelerator, not a second definition: they evaluate the formulas of
:mod:`clv.models.bgnbd` (``_bracket``, ``probability_alive``) and agree with the
NumPy path to rounding (``tests/cli/test_posterior_jit.py``).  Entries the
purchases kernel declines (the removable singularities ``a = 1`` and
``a + b + x = 1``, a series that does not converge, cancellation) are NaN and
the caller evaluates them with the model's NumPy functions.

Like :mod:`clv._special_jit` they need numba (optional: the caller keeps the
NumPy path when :data:`clv._special_jit.AVAILABLE` is false), are compiled on
first use under that module's lock and release the GIL, so the scorer's threads
run them in parallel.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from clv import _special_jit
from clv._typing import FloatArray

__all__ = ["bgnbd_histories", "bgnbd_pairs", "lines"]

_MAX_TERMS = 5_000  # as clv._special_jit.hyp2f1_grid: beyond it the entry is declined
_SINGULAR = 1e-6  # |a - 1| or |a + b + x - 1| below this: the NumPy path averages two points


def _pair_rows(
    x: Any,
    T: Any,
    order: Any,
    r: Any,
    alpha: Any,
    a: Any,
    b: Any,
    t: Any,
    factors: Any,
    max_terms: int,
    total: Any,
    discounted: Any,
) -> None:  # pragma: no cover - compiled
    r"""Purchases given alive over ``(0, t_K]`` and their discounted sum, per (pair, draw).

    For each pair ``i`` and draw ``j``, with :math:`D = \alpha + T`,
    :math:`z_k = t_k/(D + t_k)`, :math:`c = a + b + x - 1`:
    :math:`B_k = c\,(1 - (1 - z_k)^{a-1} F_k)/(a - 1)` with
    :math:`F_k = {}_2F_1(a + b - 1 - r, a - 1; c; z_k)` (``clv.models.bgnbd._bracket``);
    ``total`` is :math:`B_K` and ``discounted`` :math:`\sum_k (B_k - B_{k-1}) f_k`
    (:math:`B_0 = 0`; with one period, :math:`B_K`).

    Pairs are visited in ``order`` (by ``T``), so that ``z_k`` and
    :math:`(1 - z_k)^{a-1}` (two logarithms and an exponential per period) are
    computed once per distinct ``T`` and draw.  The Gauss series of the ``K``
    values share their coefficients and are summed together until the last
    unfinished one (the periods are in increasing order, so their ``z``
    increase and the series of the first periods finish first).  A series is finished, once
    past the index from which the ratio of its coefficients stays at most 1 in
    absolute value (so that the rest of the series is at most
    ``|term| z / (1 - z)``), when ``|term| <= 1e-17 |F| (1 - z)``; when that ratio
    tends to 1 from above, past the largest of ``|A|, |B|, |c|`` (the rule of
    :func:`clv._special_jit.hyp2f1_grid`).  An entry is NaN (for the caller) at
    the removable singularities, when a parameter is not positive and finite,
    when a series did not finish within ``max_terms`` terms or when a term
    exceeded ``1e3`` times its sum (cancellation).
    """
    n, s = total.shape
    k_cols = t.size
    z = np.empty(k_cols)
    weight = np.empty(k_cols)  # (1 - z)^(a - 1)
    power = np.empty(k_cols)
    series = np.empty(k_cols)
    biggest = np.empty(k_cols)
    for j in range(s):
        rj, alj, aj, bj = r[j], alpha[j], a[j], b[j]
        A = aj + bj - 1.0 - rj
        B = aj - 1.0
        valid = (
            rj > 0.0
            and alj > 0.0
            and aj > 0.0
            and bj > 0.0
            and math.isfinite(rj)
            and math.isfinite(alj)
            and math.isfinite(aj)
            and math.isfinite(bj)
            and abs(B) >= _SINGULAR
        )
        last_T = np.nan
        for ii in range(n):
            i = order[ii]
            xi, Ti = x[i], T[i]
            c = aj + bj + xi - 1.0
            D = alj + Ti
            if not (valid and D > 0.0 and math.isfinite(D) and abs(c) >= _SINGULAR):
                total[i, j] = np.nan
                discounted[i, j] = np.nan
                continue
            if Ti != last_T:
                log_d = math.log(D)
                for k in range(k_cols):
                    tk = t[k]
                    z[k] = tk / (D + tk)
                    weight[k] = math.exp(B * (log_d - math.log(D + tk)))
                last_T = Ti
            for k in range(k_cols):
                power[k] = 1.0
                series[k] = 1.0
                biggest[k] = 1.0
            slope = A + B - c - 1.0
            if slope < 0.0:  # the coefficient ratio is at most 1 from `start` on
                start = max((A * B - c) / (c + 1.0 - A - B), -A, -B, -c, 0.0) + 1.0
            else:
                start = max(abs(A), abs(B), abs(c))
            # from the first term on, all terms have one sign when no factor of the
            # coefficients changes sign: then the largest term is at most |F - 1| + 1 and
            # needs no tracking
            one_sign = max(-A, -B, -c) < 1.0
            coef = 1.0
            m = 0.0
            lo = 0
            ok = True
            while lo < k_cols:
                if m >= max_terms or not math.isfinite(coef):
                    ok = False
                    break
                coef *= (A + m) * (B + m) / ((c + m) * (m + 1.0))
                # every period on every term (vectorised; leaving the finished periods out
                # of the loop would cost more than it saves)
                if one_sign:
                    for k in range(k_cols):
                        power[k] *= z[k]
                        series[k] += coef * power[k]
                else:
                    for k in range(k_cols):
                        power[k] *= z[k]
                        term = coef * power[k]
                        series[k] += term
                        biggest[k] = max(biggest[k], abs(term))
                m += 1.0
                if m > start:
                    while lo < k_cols and abs(coef * power[lo]) <= 1e-17 * abs(series[lo]) * (
                        1.0 - z[lo]
                    ):
                        lo += 1
            if ok:
                for k in range(k_cols):
                    big = abs(series[k] - 1.0) + 1.0 if one_sign else biggest[k]
                    if not (math.isfinite(series[k]) and big < 1e3 * abs(series[k])):
                        ok = False
            if not ok:
                total[i, j] = np.nan
                discounted[i, j] = np.nan
                continue
            previous = 0.0
            acc = 0.0
            bracket = 0.0
            for k in range(k_cols):
                bracket = (1.0 - weight[k] * series[k]) / B * c
                acc += (bracket - previous) * factors[k]
                previous = bracket
            total[i, j] = bracket
            discounted[i, j] = bracket if k_cols == 1 else acc


def _history_rows(
    x: Any,
    x_code: Any,
    t_code: Any,
    T_code: Any,
    pair: Any,
    code: Any,
    r: Any,
    log_a: Any,
    log_b: Any,
    log_time: Any,
    if_alive: Any,
    if_alive_discounted: Any,
    intercept: Any,
    slope: Any,
    margin: float,
    alive: Any,
    purchases: Any,
    scale: Any,
    offset: Any,
    with_value: bool,
) -> None:  # pragma: no cover - compiled
    """P(alive), expected purchases and the CLV line of each (history, draw).

    P(alive) as :func:`clv.models.bgnbd.probability_alive`: a logistic function
    of the log-odds of being dead
    ``log a - log(b + x - 1) + (r + x) (log(alpha + T) - log(alpha + t_x))``, 1
    without repeat purchases; the logarithms come from tables per distinct
    frequency (``log_b``) and time (``log_time``: ``log(alpha + t)``) and draw.
    Purchases are ``if_alive[pair] * alive``; with ``with_value``, CLV is
    ``offset + scale * monetary_value`` with ``scale = discounted purchases x
    margin x slope`` and ``offset = discounted purchases x margin x intercept``.
    """
    n, s = alive.shape
    for i in range(n):
        xi, p, q = x[i], pair[i], code[i]
        xc, tc, Tc = x_code[i], t_code[i], T_code[i]
        for j in range(s):
            if xi > 0.0:
                odds = log_a[j] - log_b[xc, j] + (r[j] + xi) * (log_time[Tc, j] - log_time[tc, j])
                if odds > 0.0:  # expit(-odds), without overflow either way
                    e = math.exp(-odds)
                    p_alive = e / (1.0 + e)
                else:
                    p_alive = 1.0 / (1.0 + math.exp(odds))
            else:
                p_alive = 1.0
            alive[i, j] = p_alive
            purchases[i, j] = if_alive[p, j] * p_alive
            if with_value:
                sc = if_alive_discounted[p, j] * p_alive
                sc *= margin
                offset[i, j] = intercept[q, j] * sc
                scale[i, j] = sc * slope[q, j]


def _line_rows(
    scale: Any, offset: Any, row: Any, values: Any, out: Any, mean: Any
) -> None:  # pragma: no cover - compiled
    """``out[i] = scale[row[i]] * values[i] + offset[row[i]]`` (rows of draws), and row means."""
    n, s = out.shape
    for i in range(n):
        k = row[i]
        v = values[i]
        total = 0.0
        for j in range(s):
            value = scale[k, j] * v + offset[k, j]
            out[i, j] = value
            total += value
        mean[i] = total / s


_KERNELS: dict[str, Any] = {}


def _kernel(name: str) -> Any:
    """The compiled kernel ``name`` (compiled once per process; numba caches it on disk)."""
    kernel = _KERNELS.get(name)
    if kernel is not None:
        return kernel
    with _special_jit._COMPILE_LOCK:
        if name not in _KERNELS:
            import numba

            func = {"pairs": _pair_rows, "histories": _history_rows, "lines": _line_rows}[name]
            _KERNELS[name] = numba.njit(cache=True, nogil=True)(func)
    return _KERNELS[name]


def _draw_vector(v: Any) -> FloatArray:
    return np.ascontiguousarray(np.reshape(v, -1), dtype=np.float64)


def bgnbd_pairs(
    params: Any, x: FloatArray, T: FloatArray, t: FloatArray, factors: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Purchases given alive over ``(0, t[-1]]`` and discounted, ``(pairs, draws)`` each.

    ``params`` holds the draws (``r, alpha, a, b``, one value per draw); ``t``
    the period ends in increasing order (positive) and ``factors`` their
    discount factors.  NaN where the kernel declined (see :func:`_pair_rows`).
    """
    r, alpha, a, b = (_draw_vector(v) for v in params)
    total = np.empty((x.size, r.size))
    discounted = np.empty((x.size, r.size))
    T = np.ascontiguousarray(T, dtype=np.float64)
    _kernel("pairs")(
        np.ascontiguousarray(x, dtype=np.float64),
        T,
        np.argsort(T, kind="stable").astype(np.int64),
        r,
        alpha,
        a,
        b,
        np.ascontiguousarray(t, dtype=np.float64),
        np.ascontiguousarray(factors, dtype=np.float64),
        _MAX_TERMS,
        total,
        discounted,
    )
    return total, discounted


def bgnbd_histories(
    params: Any,
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,
    pair: np.ndarray,
    code: np.ndarray,
    if_alive: FloatArray,
    if_alive_discounted: FloatArray,
    intercept: FloatArray | None,
    slope: FloatArray | None,
    margin: float,
) -> tuple[FloatArray, FloatArray, FloatArray | None, FloatArray | None]:
    """P(alive), expected purchases and, with spend lines, CLV scale and offset per (history, draw).

    ``pair`` indexes the rows of ``if_alive`` / ``if_alive_discounted`` (from
    :func:`bgnbd_pairs`) and ``code`` those of ``intercept`` / ``slope`` (the
    spend line of the history's frequency, per draw).
    """
    r, alpha, a, b = (_draw_vector(v) for v in params)
    n, s = x.size, r.size
    alive = np.empty((n, s))
    purchases = np.empty((n, s))
    with_value = intercept is not None and slope is not None
    scale = np.empty((n, s)) if with_value else np.empty((0, s))
    offset = np.empty((n, s)) if with_value else np.empty((0, s))
    dummy = np.empty((0, s))
    # the logarithms once per distinct frequency or time and draw
    freqs, x_code = np.unique(x, return_inverse=True)
    times, t_code = np.unique(np.concatenate([t_x, T]), return_inverse=True)
    with np.errstate(all="ignore"):
        log_b = np.log(b[None, :] + np.maximum(freqs, 1.0)[:, None] - 1.0)
        log_time = np.log(alpha[None, :] + times[:, None])
        log_a = np.log(a)
    _kernel("histories")(
        np.ascontiguousarray(x, dtype=np.float64),
        x_code.astype(np.int64).reshape(-1),
        t_code[:n].astype(np.int64).reshape(-1),
        t_code[n:].astype(np.int64).reshape(-1),
        np.ascontiguousarray(pair, dtype=np.int64),
        np.ascontiguousarray(code, dtype=np.int64),
        r,
        log_a,
        log_b,
        log_time,
        np.ascontiguousarray(if_alive, dtype=np.float64),
        np.ascontiguousarray(if_alive_discounted, dtype=np.float64),
        dummy if intercept is None else np.ascontiguousarray(intercept, dtype=np.float64),
        dummy if slope is None else np.ascontiguousarray(slope, dtype=np.float64),
        float(margin),
        alive,
        purchases,
        scale,
        offset,
        with_value,
    )
    return alive, purchases, (scale if with_value else None), (offset if with_value else None)


def lines(
    scale: FloatArray, offset: FloatArray, row: np.ndarray, values: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """``scale[row] * values[:, None] + offset[row]`` and its row means, in one pass."""
    out = np.empty((row.size, scale.shape[1]))
    mean = np.empty(row.size)
    _kernel("lines")(
        np.ascontiguousarray(scale, dtype=np.float64),
        np.ascontiguousarray(offset, dtype=np.float64),
        np.ascontiguousarray(row, dtype=np.int64),
        np.ascontiguousarray(values, dtype=np.float64),
        out,
        mean,
    )
    return out, mean
