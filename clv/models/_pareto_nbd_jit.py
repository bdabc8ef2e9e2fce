r"""Compiled weighted total of the Pareto/NBD log-likelihood and its gradient (numba).

:func:`clv.models._pareto_nbd_math.log_likelihood_gradient` combines the
hypergeometric terms of each customer into the log-likelihood and its
gradient with some eighty array operations over the rows; on a data set of a
thousand distinct rows (CDNOW), which a sampler evaluates tens of thousands
of times, those passes and their temporaries cost as much as the
hypergeometric function itself.  :func:`weighted_total` runs the same
formulas in one compiled loop: first once per distinct ``(x, t)`` pair (the
log tail integral :math:`g(t)` and its derivatives), then once per row,
summing with the weights as it goes.  Per row, with
:math:`u_1 = \log[(\alpha+T)^{-p}(\beta+T)^{-s}]` (alive) and
:math:`u_A, u_B = \log(s/m) + g(t_x), \log(s/m) + g(T)`,

.. math::

   \Lambda = M + \log\bigl(e^{u_1 - M} + e^{u_A - M}\,(-\operatorname{expm1}(u_B - u_A))\bigr),
   \qquad M = \max(u_1, u_A),

the ``logaddexp``/``logsubexp`` of the NumPy code written with three
transcendental functions instead of eight (one of the two exponentials is 1).
It is an accelerator, not a second definition: the results agree with the
NumPy path to rounding
(``tests/models/test_pareto_nbd_jit.py``), and the caller falls back to the
NumPy path when numba is unavailable (see :data:`clv._special_jit.AVAILABLE`).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from clv._typing import FloatArray, IndexArray

__all__ = ["weighted_total"]


def _total(
    r: float,
    alpha: float,
    s: float,
    beta: float,
    xp: Any,
    tp: Any,
    hyp: Any,
    i_a: Any,
    i_b: Any,
    w: Any,
    out: Any,
) -> None:  # pragma: no cover - compiled
    """Sums over rows of ``w * (Lambda, dLambda/d(r, alpha, s, beta))`` into ``out[0:5]``.

    ``xp, tp``: the distinct pairs; ``hyp``: ``(log F, F_b, F_c, F_z)`` per pair;
    ``i_a, i_b``: the pair of each row at ``t_x`` and at ``T``.
    """
    n_pairs = xp.size
    family_a = alpha >= beta
    log_s = np.log(s)
    inv_s = 1.0 / s
    # per pair: g(t), its derivatives, and what the alive term needs at t = T
    g = np.empty(n_pairs)
    dr = np.empty(n_pairs)
    da = np.empty(n_pairs)
    ds = np.empty(n_pairs)
    db = np.empty(n_pairs)
    la = np.empty(n_pairs)
    lb = np.empty(n_pairs)
    inv_at = np.empty(n_pairs)
    inv_bt = np.empty(n_pairs)
    log_sm = np.empty(n_pairs)
    for j in range(n_pairs):
        t = tp[j]
        p = r + xp[j]
        at = alpha + t
        bt = beta + t
        la_j = np.log(at)
        lb_j = np.log(bt)
        h, h_b, h_c, h_z = hyp[0, j], hyp[1, j], hyp[2, j], hyp[3, j]
        log_term = -p * la_j - s * lb_j
        if family_a:  # z = (alpha - beta) / (alpha + t), b = r + x
            g[j] = log_term + h
            dr[j] = -la_j + h_b + h_c
            ds[j] = -lb_j + h_c
            da[j] = -p / at + h_z * bt / (at * at)
            db[j] = -s / bt - h_z / at
        else:  # z = (beta - alpha) / (beta + t), b = s + 1
            g[j] = log_term + h + la_j - lb_j
            dr[j] = -la_j + h_c
            ds[j] = -lb_j + h_b + h_c
            da[j] = (1.0 - p) / at - h_z / bt
            db[j] = -(s + 1.0) / bt + h_z * at / (bt * bt)
        la[j] = la_j
        lb[j] = lb_j
        inv_at[j] = 1.0 / at
        inv_bt[j] = 1.0 / bt
        log_sm[j] = log_s - np.log(p + s)
    ll = 0.0
    g_r = 0.0
    g_a = 0.0
    g_s = 0.0
    g_b = 0.0
    for i in range(i_a.size):
        wi = w[i]
        a = i_a[i]
        b = i_b[i]
        p = r + xp[b]
        inv_m = 1.0 / (p + s)
        u_1 = -p * la[b] - s * lb[b]
        u_a = log_sm[b] + g[a]
        if u_1 >= u_a:  # one of the two is e^0
            top = u_1
            e_1 = 1.0
            e_a = np.exp(u_a - u_1)
        else:
            top = u_a
            e_1 = np.exp(u_1 - u_a)
            e_a = 1.0
        e_dead = -e_a * np.expm1(g[b] - g[a])  # e^(u_A - M) - e^(u_B - M), no cancellation
        total = e_1 + e_dead
        ll += wi * (top + np.log(total))
        inv = wi / total
        w_alive = e_1 * inv
        w_dead = e_dead * inv
        k_a = e_a * inv
        k_b = k_a - w_dead
        g_r += -w_alive * la[b] - w_dead * inv_m + k_a * dr[a] - k_b * dr[b]
        g_a += -w_alive * p * inv_at[b] + k_a * da[a] - k_b * da[b]
        g_s += -w_alive * lb[b] + w_dead * (inv_s - inv_m) + k_a * ds[a] - k_b * ds[b]
        g_b += -w_alive * s * inv_bt[b] + k_a * db[a] - k_b * db[b]
    out[0] = ll
    out[1] = g_r
    out[2] = g_a
    out[3] = g_s
    out[4] = g_b


_COMPILED: list[Any] = []
_LOCK = threading.Lock()


def weighted_total(
    params: tuple[float, float, float, float],
    xp: FloatArray,
    tp: FloatArray,
    hyp: FloatArray,
    i_a: IndexArray,
    i_b: IndexArray,
    w: FloatArray,
) -> FloatArray:
    r"""``[sum w Lambda, sum w dLambda/dr, .../dalpha, .../ds, .../dbeta]`` (length 5).

    :math:`\Lambda` is the log of the bracket of the likelihood (the alive
    term plus the dead one), the row's log-likelihood without the constant
    :math:`\log\Gamma(r+x) - \log\Gamma(r) + r\log\alpha + s\log\beta`.

    Parameters
    ----------
    params : tuple of float
        ``(r, alpha, s, beta)``.
    xp, tp : ndarray
        The distinct ``(x, t)`` pairs (``t`` a recency or an age).
    hyp : ndarray, shape (4, n_pairs)
        ``log_hyp2f1_1bc(..., order=1)`` of the tail integral at each pair.
    i_a, i_b : ndarray of int
        For each row, the index of its pair ``(x, t_x)`` and of ``(x, T)``.
    w : ndarray
        Row weights.
    """
    if not _COMPILED:
        with _LOCK:
            if not _COMPILED:
                import numba

                _COMPILED.append(numba.njit(cache=True, nogil=True, error_model="numpy")(_total))
    out = np.empty(5)
    r, alpha, s, beta = (float(v) for v in params)
    _COMPILED[0](
        r,
        alpha,
        s,
        beta,
        np.ascontiguousarray(xp, dtype=np.float64),
        np.ascontiguousarray(tp, dtype=np.float64),
        np.ascontiguousarray(hyp, dtype=np.float64),
        np.ascontiguousarray(i_a, dtype=np.intp),
        np.ascontiguousarray(i_b, dtype=np.intp),
        np.ascontiguousarray(w, dtype=np.float64),
        out,
    )
    return out
