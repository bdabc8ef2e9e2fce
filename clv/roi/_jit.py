r"""Compiled kernel of one draw of the counterfactual engine's closed form (numba).

:meth:`clv.roi.engine.CounterfactualEngine._closed_form_draw` evaluates a draw
with sampled dropout rates as a few dozen NumPy passes over the customers
(survival per run of periods, discounted run sums, lever coalitions, the
per-period flows summed period by period).  This module does the same
arithmetic in one pass per customer, in compiled code, over fixed blocks of
customers that run on the available cores:

* the survival of each customer is carried period by period (one product per
  period instead of an exponential per run), both without the investment and
  with it;
* the discounted time alive per run of periods with the same effect profile
  weights the lever coalitions (retention, repeat purchase, spend: 8 sums) and
  the cost to serve (4 sums);
* the per-period incremental margin is summed customer by customer as the
  difference of the shifted and the baseline flow.

It is an accelerator, not a second definition: the results agree with the
NumPy closed form and with the reference arithmetic to rounding
(``tests/roi/test_roi_jit.py``).  Blocks have a fixed size, so the sums do not
depend on the number of threads.  The engine falls back to NumPy when numba is
not installed or ``CLV_NUMBA=0`` is set (:data:`clv._special_jit.AVAILABLE`).
"""

from __future__ import annotations

import itertools
import math
import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

from clv._cpus import usable_cpus
from clv._special_jit import AVAILABLE

__all__ = ["AVAILABLE", "BLOCK", "N_SUMS", "baseline_sums", "draw_sums", "map_draws"]

T = TypeVar("T")

BLOCK = 2048
"""Customers per block: each block's sums are formed in order, then the blocks' sums."""

N_SUMS = 12
"""Leading entries of :func:`draw_sums`' result: 8 coalition sums and 4 cost-to-serve sums."""


def _blocks(
    rows: Any,
    w: Any,
    mu: Any,
    c: Any,
    g: Any,
    rho: Any,
    lengths: Any,
    disc: Any,
    step: float,
    shifted_dropout: bool,
    serve: bool,
    contact_moves: bool,
    per_period: bool,
    first: int,
    last: int,
    out: Any,
) -> None:  # pragma: no cover - compiled
    """Per block of customers: the coalition sums, the cost-to-serve sums and the flows.

    ``out[block]`` receives ``[acc_0..acc_7, e_0..e_3, flow_1..flow_H]``: ``acc_b`` the
    discounted margin of coalition ``b`` (bit 0 retention, bit 1 repeat purchase, bit 2
    spend), ``e`` the discounted cost to serve (baseline, longer lives, and both with
    the shifted contact rate), ``flow_k`` the undiscounted incremental margin of period k.
    """
    n = rows.size
    n_units, n_runs = rho.shape
    for blk in range(first, last):
        acc = out[blk]
        for k in range(acc.size):
            acc[k] = 0.0
        lo = blk * BLOCK
        hi = min(n, lo + BLOCK)
        for j in range(lo, hi):
            m = rows[j]
            wi = w[m]
            mui = mu[m]
            ci = c[m] if serve else 0.0
            rate0 = mui * 1.0 * step
            decay0 = math.expm1(-rate0)
            q0 = 1.0 + decay0
            frac0 = 1.0 - 0.5 * rate0 if rate0 < 1e-10 else -decay0 / rate0
            s0 = 1.0
            s1 = 1.0
            k = 0
            for r in range(n_runs):
                lm = 0.0
                ep = 0.0
                es = 0.0
                ec = 0.0
                for u in range(n_units):
                    share = rho[u, r]
                    lm += share * g[0, u, j]
                    ep += share * g[1, u, j]
                    es += share * g[2, u, j]
                    ec += share * g[3, u, j]
                if shifted_dropout:
                    rate1 = mui * math.exp(lm) * step
                    decay1 = math.expm1(-rate1)
                    q1 = 1.0 + decay1
                    frac1 = 1.0 - 0.5 * rate1 if rate1 < 1e-10 else -decay1 / rate1
                else:
                    q1 = q0
                    frac1 = frac0
                f2 = math.exp(ep) if ep != 0.0 else 1.0
                f4 = math.exp(es) if es != 0.0 else 1.0
                f6 = f2 * f4
                fc = math.exp(ec) if (contact_moves and ec != 0.0) else 1.0
                a1 = wi * f6 - ci * fc  # margin net of the cost to serve, shifted
                a0 = wi - ci
                d0 = 0.0
                d1 = 0.0
                for _ in range(lengths[r]):
                    j0 = step * s0 * frac0
                    j1 = step * s1 * frac1 if shifted_dropout else j0
                    dk = disc[k]
                    d0 += dk * j0
                    d1 += dk * j1
                    if per_period:
                        acc[N_SUMS + k] += a1 * j1 - a0 * j0
                    s0 *= q0
                    s1 *= q1
                    k += 1
                v0 = wi * d0
                v1 = wi * d1
                acc[0] += v0
                acc[1] += v1
                acc[2] += v0 * f2
                acc[3] += v1 * f2
                acc[4] += v0 * f4
                acc[5] += v1 * f4
                acc[6] += v0 * f6
                acc[7] += v1 * f6
                if serve:
                    e0 = ci * d0
                    e1 = ci * d1
                    acc[8] += e0
                    acc[9] += e1
                    acc[10] += e0 * fc
                    acc[11] += e1 * fc


def _baseline_rows(
    rows: Any, w: Any, mu: Any, step: float, out: Any
) -> None:  # pragma: no cover - compiled
    """Per period, the margin ``w`` times the expected time alive, summed over ``rows``."""
    horizon = out.size
    for k in range(horizon):
        out[k] = 0.0
    for j in range(rows.size):
        m = rows[j]
        rate = mu[m] * 1.0 * step
        decay = math.expm1(-rate)
        q = 1.0 + decay
        frac = 1.0 - 0.5 * rate if rate < 1e-10 else -decay / rate
        lead = step * frac * w[m]
        for k in range(horizon):
            out[k] += lead
            lead *= q


_COMPILED: list[Any] = []
_COMPILED_BASE: list[Any] = []
_COMPILE_LOCK = threading.Lock()


def _kernel() -> Any:
    """The compiled ``_blocks`` (compiled on first use; numba caches it on disk)."""
    if _COMPILED:
        return _COMPILED[0]
    with _COMPILE_LOCK:
        if not _COMPILED:
            import numba

            _COMPILED.append(numba.njit(cache=True, nogil=True)(_blocks))
    return _COMPILED[0]


def baseline_sums(
    rows: np.ndarray, w: np.ndarray, mu: np.ndarray, horizon: int, step: float
) -> np.ndarray:
    """Undiscounted baseline margin per period of the customers ``rows``, shape (H,).

    The same numbers as :meth:`clv.roi.engine._DrawState.baseline_flows` with sampled
    dropout rates (to rounding), one compiled pass per customer.
    """
    with _COMPILE_LOCK:
        if not _COMPILED_BASE:
            import numba

            _COMPILED_BASE.append(numba.njit(cache=True, nogil=True)(_baseline_rows))
    out = np.empty(int(horizon))
    _COMPILED_BASE[0](
        np.ascontiguousarray(rows, dtype=np.int64),
        np.ascontiguousarray(w, dtype=np.float64),
        np.ascontiguousarray(mu, dtype=np.float64),
        float(step),
        out,
    )
    return out


def draw_sums(
    rows: np.ndarray,
    w: np.ndarray,
    mu: np.ndarray,
    c: np.ndarray | None,
    g: np.ndarray,
    rho: np.ndarray,
    lengths: np.ndarray,
    disc: np.ndarray,
    step: float,
    *,
    shifted_dropout: bool,
    serve: bool,
    contact_moves: bool,
    per_period: bool = True,
) -> np.ndarray:
    """Sums of one draw over the customers ``rows``: ``[acc (8), e (4), flows (H)]``.

    Parameters
    ----------
    rows : int array, shape (n,)
        Positions of the customers in ``w``, ``mu`` and ``c``.
    w, mu : arrays, shape (N,)
        Margin weight and sampled dropout rate of every customer.
    c : array, shape (N,), or None
        Cost to serve per unit of time alive (used when ``serve``).
    g : array, shape (4, units, n)
        Log multipliers at full effect of the dropout, purchase, spend and contact
        rates, per unit and customer of ``rows``.
    rho : array, shape (units, runs)
        Share of each unit's effect in force in each run of periods.
    lengths : int array, shape (runs,)
        Periods per run (they cover the horizon).
    disc : array, shape (H,)
        Discount factor of each period.
    step : float
        Length of a period in the model's time unit.
    shifted_dropout, serve, contact_moves : bool
        Whether any dropout shift is non-zero, whether the cost to serve is
        modelled and changes, whether any contact shift is non-zero.

    Returns
    -------
    array, shape (12 + H,)
        ``acc_b`` (discounted margin of lever coalition ``b`` = 0..7), the
        discounted cost to serve ``e`` (baseline, longer lives, each with the
        shifted contact rate) and the incremental margin of each period.
    """
    n = int(rows.size)
    horizon = int(disc.size)
    n_blocks = max(1, -(-n // BLOCK))
    out = np.empty((n_blocks, N_SUMS + horizon))
    args = (
        np.ascontiguousarray(rows, dtype=np.int64),
        np.ascontiguousarray(w, dtype=np.float64),
        np.ascontiguousarray(mu, dtype=np.float64),
        np.zeros(1) if c is None else np.ascontiguousarray(c, dtype=np.float64),
        np.ascontiguousarray(g, dtype=np.float64),
        np.ascontiguousarray(rho, dtype=np.float64),
        np.ascontiguousarray(lengths, dtype=np.int64),
        np.ascontiguousarray(disc, dtype=np.float64),
        float(step),
        bool(shifted_dropout),
        bool(serve and c is not None),
        bool(contact_moves),
        bool(per_period),
    )
    kernel = _kernel()

    def run(first: int, last: int) -> None:
        kernel(*args, first, last, out)

    workers = _threads(n_blocks)
    if workers <= 1:
        run(0, n_blocks)
    else:  # the kernel releases the GIL: contiguous ranges of blocks on the cores
        edges = np.linspace(0, n_blocks, workers + 1).astype(int).tolist()
        pool = _pool(workers)
        spans = [(a, b) for a, b in itertools.pairwise(edges) if b > a]
        jobs = [pool.submit(run, a, b) for a, b in spans]
        for job in jobs:
            job.result()
    return np.add.reduce(out, axis=0)


def map_draws(fn: Callable[[int], T], draws: Iterable[int], customers: int) -> list[T]:
    """``[fn(i) for i in draws]``, in threads when the customers fill at least
    ``MIN_BLOCKS_PER_THREAD`` blocks per thread (the compiled kernels and NumPy's large
    array operations release the GIL); the results keep the order of ``draws``."""
    items = list(draws)
    workers = min(_threads(-(-customers // BLOCK)), len(items))
    if workers <= 1:
        return [fn(i) for i in items]
    return list(_pool(workers).map(fn, items))


MIN_BLOCKS_PER_THREAD = 8
"""Threads are used from this many blocks per thread on (smaller calls stay on one core)."""


def _threads(n_blocks: int) -> int:
    """Threads for a call over ``n_blocks`` blocks: ``CLV_NUMBA_THREADS`` (default: the cores
    this process may use), at most one per ``MIN_BLOCKS_PER_THREAD`` blocks."""
    env = os.environ.get("CLV_NUMBA_THREADS", "").strip()
    cores = int(env) if env.isdigit() and int(env) > 0 else usable_cpus()
    return max(1, min(cores, n_blocks // MIN_BLOCKS_PER_THREAD))


_POOLS: dict[tuple[int, int], ThreadPoolExecutor] = {}


def _pool(workers: int) -> ThreadPoolExecutor:
    """A pool of ``workers`` threads of this process (a forked child gets its own: the
    parent's threads do not exist in it)."""
    key = (os.getpid(), workers)
    with _COMPILE_LOCK:
        if key not in _POOLS:
            _POOLS[key] = ThreadPoolExecutor(workers, thread_name_prefix="clv-roi")
        return _POOLS[key]
