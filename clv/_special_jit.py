r"""Compiled row-by-row kernel of :func:`clv._special.log_hyp2f1_1bc` (values and gradients).

The NumPy routine sums the Gauss series and Gauss's continued fraction of
:math:`{}_2F_1(1, b; c; z)` for all rows at once, one array operation per term:
on a few thousand rows (the distinct ``(x, t)`` pairs of a Pareto/NBD data
set) each term costs more in array passes and temporaries than in arithmetic.
This module runs the same two algorithms, with the same stopping rules, one
row at a time in compiled code (numba), which is about ten times faster where
the continued fraction needs a hundred terms (the ``(s, beta)`` ridge of a
Pareto/NBD posterior).  It is an accelerator, not a second definition: the
results agree with the NumPy path to rounding (``tests/models/test_special_jit.py``),
and :mod:`clv._special` falls back to NumPy when numba is not installed (it
comes with PyMC's PyTensor, so the Bayesian layer always has it) or when the
environment variable ``CLV_NUMBA=0`` is set.

Rows where neither expansion converges within its budget (``z`` very close to
1) are flagged; the caller evaluates them with the integral representation.
"""

from __future__ import annotations

import importlib.util
import math
import os
import threading
from typing import Any

import numpy as np

from clv._typing import FloatArray

__all__ = ["AVAILABLE", "hyp2f1_grid", "log_gammainc_with_grad", "log_hyp2f1_1bc_order1"]


def _enabled() -> bool:
    if os.environ.get("CLV_NUMBA", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    return importlib.util.find_spec("numba") is not None


AVAILABLE = _enabled()
"""Whether the compiled kernel can be used in this process (numba is imported on first use)."""


def _series_row(b: float, c: float, z: float, max_terms: int) -> tuple[Any, ...]:
    """Gauss series of :math:`\\log F` and its first derivatives in ``b, c, z`` (one row).

    The recurrences and the stopping rule of :func:`clv._special._series_block`
    with ``order=1``; checked every four terms.
    """
    term = 1.0
    total = 1.0
    s_b = 0.0
    s_c = 0.0
    d_b = 0.0
    d_c = 0.0
    d_z = 0.0
    slack = 1.0 / ((1.0 - z) * (1.0 - z))
    z_floor = max(z, 1e-3)
    k = 0
    while k < max_terms:
        for _ in range(4):
            bk = b + k
            ck = c + k
            q = term * (bk / ck)  # term_{k+1} / z
            s_b += 1.0 / bk
            s_c += 1.0 / ck
            term = q * z
            d_z += q * (k + 1.0)
            d_b += term * s_b
            d_c -= term * s_c
            total += term
            k += 1
        if term * slack * (1.0 + s_b + s_c) * ((k + 1.0) / z_floor) <= 1e-15 * total:
            return np.log(total), d_b / total, d_c / total, d_z / total, True
    return np.nan, np.nan, np.nan, np.nan, False


def _cf_row(b: float, c: float, z: float, max_terms: int) -> tuple[Any, ...]:
    """Gauss's continued fraction of :math:`\\log F` and its first derivatives (one row).

    The forward recurrence of :func:`clv._special._cf_1bc` for the convergents
    ``Q_n / P_n`` and their derivatives in ``b``, ``gamma = c - 1`` and ``z``,
    rescaled and checked every four terms (relative change below 1e-14).
    """
    g = c - 1.0
    # current (p*) and previous (o*) state: P, Q, dP/db, dP/dgamma, dP/dz, dQ/db, dQ/dgamma, dQ/dz
    p0, p1, p2, p3, p4, p5, p6, p7 = 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    o0, o1, o2, o3, o4, o5, o6, o7 = 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    last0 = last1 = last2 = last3 = np.inf
    n = 0
    while n < max_terms:
        for _ in range(2):
            j = n // 2 + 1
            go = g + (j - 1.0)
            ge = g - b + j
            for half in range(2):  # the odd term 2j - 1, then the even term 2j
                if half == 0:
                    d_num, d_bcoef, u, den = go * (b + (j - 1.0)), go, go, g + (2.0 * j - 2.0)
                else:
                    d_num, d_bcoef, u, den = j * ge, -float(j), ge, g + (2.0 * j - 1.0)
                inv = 1.0 / (den * (den + 1.0))
                d = d_num * inv
                e_b = -z * d_bcoef * inv  # derivatives of -d z in b, gamma, z
                e_g = -z * d * (1.0 / u - 1.0 / den - 1.0 / (den + 1.0))
                e_z = -d
                f = -d * z
                n0 = p0 + f * o0
                n1 = p1 + f * o1
                n2 = p2 + f * o2 + e_b * o0
                n3 = p3 + f * o3 + e_g * o0
                n4 = p4 + f * o4 + e_z * o0
                n5 = p5 + f * o5 + e_b * o1
                n6 = p6 + f * o6 + e_g * o1
                n7 = p7 + f * o7 + e_z * o1
                o0, o1, o2, o3, o4, o5, o6, o7 = p0, p1, p2, p3, p4, p5, p6, p7
                p0, p1, p2, p3, p4, p5, p6, p7 = n0, n1, n2, n3, n4, n5, n6, n7
                n += 1
        sc = 1.0 / p0
        p0, p1, p2, p3, p4, p5, p6, p7 = (
            p0 * sc, p1 * sc, p2 * sc, p3 * sc, p4 * sc, p5 * sc, p6 * sc, p7 * sc,
        )  # fmt: skip
        o0, o1, o2, o3, o4, o5, o6, o7 = (
            o0 * sc, o1 * sc, o2 * sc, o3 * sc, o4 * sc, o5 * sc, o6 * sc, o7 * sc,
        )  # fmt: skip
        inv_q = 1.0 / p1
        v0 = np.log(p1)
        v1 = p5 * inv_q - p2
        v2 = p6 * inv_q - p3
        v3 = p7 * inv_q - p4
        if not (np.isfinite(v0) and np.isfinite(v1) and np.isfinite(v2) and np.isfinite(v3)):
            break  # broke down: left to the series
        if (
            abs(v0 - last0) <= 1e-14 * (1.0 + abs(v0))
            and abs(v1 - last1) <= 1e-14 * (1.0 + abs(v1))
            and abs(v2 - last2) <= 1e-14 * (1.0 + abs(v2))
            and abs(v3 - last3) <= 1e-14 * (1.0 + abs(v3))
        ):
            return v0, v1, v2, v3, True
        last0, last1, last2, last3 = v0, v1, v2, v3
    return np.nan, np.nan, np.nan, np.nan, False


def _rows(
    b: FloatArray,
    c: FloatArray,
    z: FloatArray,
    cf_min_z: float,
    cf_terms: int,
    series_terms: int,
    out: FloatArray,
    done: Any,
) -> None:
    for i in range(b.size):
        bi, ci, zi = b[i], c[i], z[i]
        if not (bi > 0.0 and bi < ci and ci > 1.0 and zi >= 0.0 and zi < 1.0):
            out[0, i] = out[1, i] = out[2, i] = out[3, i] = np.nan  # outside the domain
            done[i] = True
            continue
        ok = False
        if zi > cf_min_z:
            v0, v1, v2, v3, ok = _cf_row(bi, ci, zi, cf_terms)
        if not ok:
            v0, v1, v2, v3, ok = _series_row(bi, ci, zi, series_terms)
        if ok:
            out[0, i], out[1, i], out[2, i], out[3, i] = v0, v1, v2, v3
        done[i] = ok


_COMPILED: list[Any] = []
_COMPILE_LOCK = threading.Lock()  # scoring threads may reach the first call together


def _kernel() -> Any:
    """The compiled ``_rows`` (compiled on first use; numba caches it on disk)."""
    if _COMPILED:
        return _COMPILED[0]
    with _COMPILE_LOCK:
        if not _COMPILED:
            import numba

            jit = numba.njit(cache=True, nogil=True)
            # _rows calls the row functions through the module's globals: compile them first
            # (from the plain functions, even if an earlier attempt replaced the globals)
            for name in ("_series_row", "_cf_row"):
                func = globals()[name]
                globals()[name] = jit(getattr(func, "py_func", func))
            _COMPILED.append(jit(_rows))
    return _COMPILED[0]


def log_hyp2f1_1bc_order1(
    b: FloatArray,
    c: FloatArray,
    z: FloatArray,
    *,
    cf_min_z: float,
    cf_terms: int,
    series_terms: int,
) -> tuple[FloatArray, Any]:
    """``(log F, F_b, F_c, F_z)`` per row and the rows that converged (1-D float64 inputs).

    Rows with ``z > cf_min_z`` try the continued fraction first (at most
    ``cf_terms`` terms), then the series (at most ``series_terms``); rows
    outside the domain are NaN and count as done.  Requires :data:`AVAILABLE`.
    """
    out = np.empty((4, b.size))
    done = np.zeros(b.size, dtype=np.bool_)
    _kernel()(
        np.ascontiguousarray(b, dtype=np.float64),
        np.ascontiguousarray(c, dtype=np.float64),
        np.ascontiguousarray(z, dtype=np.float64),
        float(cf_min_z),
        int(cf_terms),
        int(series_terms),
        out,
        done,
    )
    return out, done


# ---------------------------------------------------------------- 2F1 on a grid of z per row
def _hyp2f1_grid_rows(
    a: Any, b: Any, c: Any, z: Any, max_terms: int, out: Any
) -> None:  # pragma: no cover - compiled
    """Gauss series of 2F1(a_i, b_i; c_i; z_ik) for every column k of row i, summed jointly.

    The coefficients :math:`(a)_n (b)_n / ((c)_n n!)` are computed once per row and
    shared by the row's ``K`` arguments.  A row stops when, past the largest of
    ``|a|, |b|, |c|`` (beyond which the terms decrease for good), every column's
    last term is below ``1e-17`` of its sum.  Entries are NaN (for the caller to
    evaluate otherwise) when the row did not converge within ``max_terms`` terms,
    an argument is outside ``[0, 1)``, a parameter is not finite, or a term
    exceeded ``1e3`` times the final sum (cancellation would cost digits).
    """
    m, k_cols = z.shape
    power = np.empty(k_cols)
    total = np.empty(k_cols)
    biggest = np.empty(k_cols)
    for i in range(m):
        ai, bi, ci = a[i], b[i], c[i]
        ok = np.isfinite(ai) and np.isfinite(bi) and np.isfinite(ci)
        for k in range(k_cols):
            zk = z[i, k]
            if not (zk >= 0.0 and zk < 1.0):
                ok = False
            power[k] = 1.0
            total[k] = 1.0
            biggest[k] = 1.0
        if not ok:
            for k in range(k_cols):
                out[i, k] = np.nan
            continue
        largest = max(abs(ai), abs(bi), abs(ci))
        coef = 1.0
        n = 0.0
        done = False
        while n < max_terms:
            coef = coef * (ai + n) * (bi + n) / ((ci + n) * (n + 1.0))
            small = True
            for k in range(k_cols):
                power[k] *= z[i, k]
                term = coef * power[k]
                total[k] += term
                size = abs(term)
                if size > biggest[k]:
                    biggest[k] = size
                if size > 1e-17 * abs(total[k]):
                    small = False
            n += 1.0
            if n > largest and small:
                done = True
                break
        for k in range(k_cols):
            good = done and np.isfinite(total[k]) and biggest[k] < 1e3 * abs(total[k])
            out[i, k] = total[k] if good else np.nan


_GRID_COMPILED: list[Any] = []


def hyp2f1_grid(a: FloatArray, b: FloatArray, c: FloatArray, z: FloatArray) -> FloatArray:
    """2F1 of ``(m,)`` parameter rows at ``(m, K)`` arguments; NaN where not computed.

    Requires :data:`AVAILABLE`. See :func:`clv._special.hyp2f1_grid` for the caller.
    """
    with _COMPILE_LOCK:
        if not _GRID_COMPILED:
            import numba

            _GRID_COMPILED.append(numba.njit(cache=True, nogil=True)(_hyp2f1_grid_rows))
    out = np.empty(z.shape)
    _GRID_COMPILED[0](
        np.ascontiguousarray(a, dtype=np.float64),
        np.ascontiguousarray(b, dtype=np.float64),
        np.ascontiguousarray(c, dtype=np.float64),
        np.ascontiguousarray(z, dtype=np.float64),
        int(_GRID_TERMS),
        out,
    )
    return out


_GRID_TERMS = 5_000


# ---------------------------------------------------------------- log P(a, x) and its gradient
def _log_gammainc_row(a: float, x: float) -> float:
    """:math:`\\log P(a, x)` for one row: power series below ``x = a + 1``, else the
    continued fraction of :math:`Q` (Lentz), as in Numerical Recipes' ``gser``/``gcf``."""
    if x <= 0.0:
        return -np.inf
    log_front = a * np.log(x) - x - math.lgamma(a)
    if x < a + 1.0:
        term = 1.0 / a
        total = term
        n = a
        for _ in range(100_000):
            n += 1.0
            term *= x / n
            total += term
            if term < total * 1e-17:
                break
        return log_front + np.log(total)
    tiny = 1e-300
    b = x + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 100_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        if abs(d) < tiny:
            d = tiny
        c = b + an / c
        if abs(c) < tiny:
            c = tiny
        d = 1.0 / d
        step = d * c
        h *= step
        if abs(step - 1.0) < 1e-16:
            break
    return np.log1p(-np.exp(log_front + np.log(h)))


def _log_gammainc_rows(a: FloatArray, x: FloatArray, out: FloatArray) -> None:
    for i in range(a.size):
        ai, xi = a[i], x[i]
        value = _log_gammainc_row(ai, xi)
        out[0, i] = value
        if xi > 0.0 and ai > 0.0:
            h = 1e-5 * ai
            out[1, i] = (_log_gammainc_row(ai + h, xi) - _log_gammainc_row(ai - h, xi)) / (2.0 * h)
            out[2, i] = np.exp((ai - 1.0) * np.log(xi) - xi - math.lgamma(ai) - value)
        else:
            out[1, i] = 0.0
            out[2, i] = 0.0


_GAMMAINC_COMPILED: list[Any] = []


def _gammainc_kernel() -> Any:
    """The compiled ``_log_gammainc_rows`` (compiled on first use; numba caches it on disk)."""
    if _GAMMAINC_COMPILED:
        return _GAMMAINC_COMPILED[0]
    with _COMPILE_LOCK:
        if not _GAMMAINC_COMPILED:
            import numba

            jit = numba.njit(cache=True, nogil=True)
            row = globals()["_log_gammainc_row"]
            globals()["_log_gammainc_row"] = jit(getattr(row, "py_func", row))
            _GAMMAINC_COMPILED.append(jit(_log_gammainc_rows))
    return _GAMMAINC_COMPILED[0]


def log_gammainc_with_grad(a: FloatArray, x: FloatArray) -> FloatArray:
    """``(log P, d/da, d/dx)`` per row, shape ``(3, n)``, for 1-D float64 ``a > 0``, ``x >= 0``.

    The compiled counterpart of :func:`clv._special.log_gammainc` and
    :func:`clv._special.log_gammainc_grad` (same central difference in ``a``).
    Requires :data:`AVAILABLE`.
    """
    out = np.empty((3, a.size))
    _gammainc_kernel()(
        np.ascontiguousarray(a, dtype=np.float64),
        np.ascontiguousarray(x, dtype=np.float64),
        out,
    )
    return out
