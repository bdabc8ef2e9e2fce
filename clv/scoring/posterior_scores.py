r"""Scoring with a posterior model file: the score table over the posterior draws, in chunks.

For every posterior draw the maximum-likelihood pure functions of the model
module (``probability_alive``, ``expected_purchases`` of
:mod:`clv.models.bgnbd` and friends, ``expected_spend`` of
:mod:`clv.models.gamma_gamma`) are evaluated with that draw's parameters, and
CLV is discounted exactly as :func:`clv.value.customer_lifetime_value` does:

.. math::

   \mathrm{CLV} = \text{margin}\times E[Z]\times
   \sum_{k=1}^{H} \frac{E[N(0,k]] - E[N(0,k-1]]}{(1+d)^{k}}

(with :math:`d = 0` the sum telescopes to :math:`E[N(0,H]]`, so only the
horizon itself is evaluated).  Each customer gets the posterior mean and the
5% and 95% quantiles of every score.

The work per draw is cut down by the structure of the models, with nothing
approximated (tests pin the result to the maximum-likelihood API draw by draw):

* every scorable transaction model factorises as
  :math:`E[N(0,t] \mid x, t_x, T] = P(\text{alive} \mid x, t_x, T)\, g(t; x, T)`,
  so the expensive part (the hypergeometric function of BG/NBD, once per
  period of the horizon when :math:`d > 0`) is evaluated once per distinct
  ``(frequency, T)`` pair and draw, and P(alive) once per distinct
  ``(frequency, recency, T)`` history, vectorised over the draws;
* expected spend is a line in ``monetary_value`` for each frequency and draw,
  so the CLV of a customer is ``offset + scale * monetary_value`` with
  ``offset`` and ``scale`` per history and draw: per customer and draw one
  multiply-add, then the summary (mean and one sort per row for the quantiles);
* blocks run on threads (NumPy and SciPy release the GIL); each block is
  computed the same way whichever thread runs it, so reruns are byte-identical;
* with numba installed (optional), BG/NBD's arithmetic per (pair, draw) and per
  (history, draw) and the CLV lines run as compiled loops
  (:mod:`clv.scoring._posterior_jit`: no array pass per operation, no
  ``rows x draws x periods`` temporaries); they agree with the NumPy path,
  which stays for installs without numba, to rounding.

Memory stays bounded: customers are sorted by their history, histories are
taken in blocks of ``chunk_cells // draws`` and their customers valued in
blocks of the same size; only a few ``block x draws`` arrays (8 x
``chunk_cells`` bytes each, 32 MB by default) exist per thread at a time,
whatever the number of customers and draws.
No PyMC is needed, only NumPy (and, optionally, numba).
"""

from __future__ import annotations

import importlib
import logging
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from clv import _special_jit
from clv._cpus import usable_cpus
from clv._units import check_same_period
from clv.models import bgnbd
from clv.models._mle import unique_rows
from clv.scoring import _posterior_jit
from clv.scoring.posterior import SCORABLE, SPEND_MODELS, PosteriorBundle, PosteriorDraws
from clv.scoring.tables import RFM_OUTPUT_COLUMNS, score_columns, zero_value_repeat_buyers

__all__ = [
    "DEFAULT_CHUNK_CELLS",
    "DEFAULT_MAX_DRAWS",
    "MAX_WORKERS",
    "QUANTILES",
    "draw_indices",
    "posterior_score_columns",
    "posterior_score_table",
]

logger = logging.getLogger("clv")

DEFAULT_MAX_DRAWS = 100
"""Draws ``clv score`` uses by default (evenly spaced over the posterior; ``--max-draws``)."""
DEFAULT_CHUNK_CELLS = 4_000_000
"""Customers x draws evaluated at once per thread (32 MB of float64 per score array)."""
QUANTILES = (0.05, 0.95)
MAX_WORKERS = 4
"""Most threads :func:`posterior_score_table` uses by default (memory grows with each)."""
_GRID_CELLS = 2_000_000  # (frequency, T) pairs x draws x periods evaluated at once


def posterior_score_columns(with_spend: bool, with_value: bool) -> list[str]:
    """Columns after ``customer_id``: the MLE score columns, then ``<score>_p05/_p95``.

    Examples
    --------
    >>> posterior_score_columns(with_spend=False, with_value=False)[-4:]
    ['probability_alive_p05', 'probability_alive_p95', 'expected_purchases_p05', \
'expected_purchases_p95']
    """
    base = score_columns(with_spend, with_value)
    scores = [c for c in base if c not in RFM_OUTPUT_COLUMNS]
    return base + [f"{c}_{s}" for c in scores for s in ("p05", "p95")]


def draw_indices(
    n_chains: int, n_draws: int, *, thin: int = 1, max_draws: int | None = None
) -> np.ndarray:
    """Flat (chain-major) indices of the draws to score.

    Every ``thin``-th draw of each chain is kept (as the ``thin=`` argument of
    :mod:`clv.bayes`), then, if more than ``max_draws`` remain, ``max_draws``
    of them evenly spaced.

    Examples
    --------
    >>> draw_indices(2, 4, thin=2).tolist()
    [0, 2, 4, 6]
    >>> draw_indices(1, 10, max_draws=3).tolist()
    [0, 3, 6]
    """
    if isinstance(thin, bool) or not isinstance(thin, int | np.integer) or thin < 1:
        raise ValueError(f"thin must be a whole number >= 1, got {thin!r}")
    keep = np.arange(n_chains)[:, None] * n_draws + np.arange(0, n_draws, thin)[None, :]
    keep = keep.reshape(-1)
    if max_draws is not None:
        if (
            isinstance(max_draws, bool)
            or not isinstance(max_draws, int | np.integer)
            or max_draws < 1
        ):
            raise ValueError(f"max_draws must be a whole number >= 1, got {max_draws!r}")
        if keep.size > max_draws:
            keep = keep[(np.arange(max_draws) * keep.size) // max_draws]
    return keep


def _param_tuples(draws: PosteriorDraws, spec: Any, index: np.ndarray) -> list[Any]:
    flat = [draws.params[p].reshape(-1)[index] for p in spec.params._fields]
    return [spec.params(*(float(v[i]) for v in flat)) for i in range(index.size)]


def _select(
    bundle: PosteriorBundle, thin: int, max_draws: int | None
) -> tuple[Any, list[Any], Any, list[Any] | None]:
    """Specs and per-draw parameter tuples of both models, draw ``i`` paired with draw ``i``."""
    tx = bundle.transaction_model
    tx_spec = importlib.import_module(SCORABLE[tx.model]).SPEC
    chains, draws = tx.shape
    sp = bundle.spend_model
    sp_spec = None if sp is None else importlib.import_module(SPEND_MODELS[sp.model]).SPEC
    n_tx = chains * draws
    if sp is not None and n_tx == 1 and sp.shape[0] * sp.shape[1] > 1:
        chains, draws = sp.shape  # a one-draw (MAP) transaction model with a spend posterior
    index = draw_indices(chains, draws, thin=thin, max_draws=max_draws)
    tx_index = index if n_tx > 1 else np.zeros(index.size, dtype=np.int64)
    tx_params = _param_tuples(tx, tx_spec, tx_index)
    sp_params = None
    if sp is not None and sp_spec is not None:
        n_sp = sp.shape[0] * sp.shape[1]
        sp_index = index if n_sp > 1 else np.zeros(index.size, dtype=np.int64)
        sp_params = _param_tuples(sp, sp_spec, sp_index)
    return tx_spec, tx_params, sp_spec, sp_params


def _workers(workers: int | None) -> int:
    """Threads to use: ``workers``, or the CPUs this process may run on (at most MAX_WORKERS)."""
    if workers is None:
        return min(MAX_WORKERS, usable_cpus())
    if isinstance(workers, bool) or not isinstance(workers, int | np.integer) or workers < 1:
        raise ValueError(f"workers must be a whole number >= 1, got {workers!r}")
    return int(workers)


def _rank_codes(column: np.ndarray) -> tuple[np.ndarray, int]:
    """Rank of each value among the column's distinct values, and their number (a bound).

    Whole numbers in a range shorter than the column (counts, whole-period
    times) are their own ranks, offset by the minimum; other columns are hashed
    (:func:`pandas.factorize`) and only the distinct values sorted.
    """
    lo = float(column.min())
    span = float(column.max()) - lo
    if np.isfinite(span) and span < column.size:
        codes = (column - lo).astype(np.int64)
        if np.array_equal(codes, column - lo):
            return codes, int(span) + 1
    codes, uniques = pd.factorize(column, sort=False)
    rank = np.empty(len(uniques), dtype=np.int64)
    rank[np.argsort(uniques, kind="stable")] = np.arange(len(uniques))
    return rank[codes], len(uniques)


def _sort_order(*columns: np.ndarray) -> np.ndarray:
    """Indices that sort the rows by ``columns`` (the first is the primary key).

    The order of :func:`numpy.lexsort` on the reversed columns, several times
    faster: the ranks of the columns' values make one int64 key, sorted once
    (stably, so equal rows keep their order).

    Examples
    --------
    >>> _sort_order(np.array([2.0, 1.0, 2.0, 1.0]), np.array([0.5, 3.0, 0.1, 2.0])).tolist()
    [3, 1, 2, 0]
    """
    key = np.zeros(columns[0].size, dtype=np.int64)
    size = 1
    for column in columns:
        codes, n_codes = _rank_codes(column)
        if size * n_codes >= 2**62:  # too many combinations for one key
            return np.lexsort(columns[::-1])
        key = key * np.int64(n_codes) + codes
        size *= n_codes
    return np.argsort(key, kind="stable")


def _summarise(block: np.ndarray, mean: np.ndarray | None = None) -> np.ndarray:
    """Mean, 5% and 95% quantile of each row of a ``(rows, draws)`` block (sorted in place).

    ``mean``: the row means when already known (computed with the block).

    The quantiles are those of :func:`numpy.quantile` (linear interpolation, NaN
    when a row holds NaN), taken from one in-place sort of the rows: NumPy's
    vectorised sort is about ten times faster than its selection here.

    Examples
    --------
    >>> block = np.random.default_rng(0).random((3, 50))
    >>> expected = np.quantile(block, QUANTILES, axis=1).T
    >>> bool(np.allclose(_summarise(block.copy())[:, 1:], expected, rtol=0, atol=1e-15))
    True
    """
    if mean is None:
        mean = block.mean(axis=1)
    block.sort(axis=1)
    n = block.shape[1]
    out = [mean]
    for q in QUANTILES:
        pos = q * (n - 1)
        below = int(np.floor(pos))
        above = min(below + 1, n - 1)
        t = pos - below
        a, b = block[:, below], block[:, above]
        diff = b - a  # numpy's lerp, exact at both ends
        out.append(b - diff * (1.0 - t) if t >= 0.5 else a + diff * t)
    summary = np.column_stack(out)
    summary[np.isnan(block[:, -1]), 1:] = np.nan  # NaN sorts last
    return summary


def _param_arrays(spec: Any, params: list[Any]) -> Any:
    """The draws as one parameter tuple of ``(1, draws)`` arrays (broadcast over rows)."""
    return spec.params(
        *(
            np.array([p[j] for p in params], dtype=np.float64)[None, :]
            for j in range(len(spec.params._fields))
        )
    )


def _purchases_if_alive(
    spec: Any, params: Any, x: np.ndarray, T: np.ndarray, grid: np.ndarray, factors: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    r"""Expected and discounted purchases of a customer alive at ``T``: ``(pairs, draws)`` each.

    Every scorable model factorises as :math:`E[N(0,t] \mid x, t_x, T] =
    P(\text{alive} \mid x, t_x, T)\, g(t; x, T)`: given alive, the history
    matters only through ``(frequency, T)``.  ``g`` is evaluated once per
    ``(frequency, T)`` pair as ``expected_purchases / probability_alive`` at
    ``recency = T`` (where P(alive) is largest), with the model's own pure
    functions vectorised over the draws (``params``: ``(1, draws)`` arrays), or
    directly with the model's ``expected_purchases_if_alive`` when it has one.
    With ``d > 0`` the increments of ``g`` over the ``grid`` of period ends are
    discounted as in :func:`clv.value.customer_lifetime_value`.
    """
    n, s, k = x.size, np.shape(params[0])[-1], grid.size - 1
    total, discounted = np.empty((n, s)), np.empty((n, s))
    step = max(1, _GRID_CELLS // (s * k))
    t = grid[1:].reshape(1, 1, k)  # E[N(0, 0]] = 0
    p3 = spec.params(*(np.reshape(v, (1, s, 1)) for v in params))
    if_alive = getattr(spec, "expected_purchases_if_alive", None)
    for lo in range(0, n, step):
        hi = min(n, lo + step)
        xs, Ts = x[lo:hi, None, None], T[lo:hi, None, None]
        if if_alive is not None:  # the model's own g: no P(alive) per period, no division
            cumulative = if_alive(p3, t, xs, Ts)  # (pairs, draws, periods)
        else:
            alive = spec.probability_alive(p3, xs, Ts, Ts)
            cumulative = spec.expected_purchases(p3, t, xs, Ts, Ts)
            cumulative /= alive
            cumulative[np.broadcast_to(alive == 0, cumulative.shape)] = 0.0  # never alive
        total[lo:hi] = cumulative[..., -1]
        if k == 1:  # d = 0: the telescoped sum
            discounted[lo:hi] = cumulative[..., -1]
            continue
        # purchases in period k are discounted to its end (clv.value's sum, elementwise)
        increments = np.diff(cumulative, axis=-1, prepend=0.0)
        increments *= factors
        discounted[lo:hi] = increments.sum(axis=-1)
    return total, discounted


def _bgnbd_purchases_if_alive(
    params: Any, x: np.ndarray, T: np.ndarray, grid: np.ndarray, factors: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_purchases_if_alive` of BG/NBD by the compiled kernel (numba).

    Entries the kernel declines (removable singularities, slow or cancelling
    series) are evaluated by the NumPy path, on the rows and draws that hold them.
    """
    total, discounted = _posterior_jit.bgnbd_pairs(params, x, T, grid[1:], factors)
    declined = np.isnan(total)
    if declined.any():
        rows, cols = np.flatnonzero(declined.any(axis=1)), np.flatnonzero(declined.any(axis=0))
        sub = bgnbd.SPEC.params(*(np.asarray(v)[:, cols] for v in params))
        t_sub, d_sub = _purchases_if_alive(bgnbd.SPEC, sub, x[rows], T[rows], grid, factors)
        block = np.ix_(rows, cols)
        total[block] = np.where(declined[block], t_sub, total[block])
        discounted[block] = np.where(declined[block], d_sub, discounted[block])
    return total, discounted


def _run(tasks: list[tuple[Any, tuple[Any, ...]]], workers: int) -> None:
    """Call ``fn(*args)`` for every task, on ``workers`` threads (tasks write disjoint rows).

    NumPy and SciPy release the GIL in their loops, so threads share out the work;
    every task computes the same numbers whichever thread runs it.
    """
    if workers <= 1 or len(tasks) <= 1:
        for fn, args in tasks:
            fn(*args)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(fn, *args) for fn, args in tasks]:
            future.result()


def _spend_lines(spec: Any, params: Any, frequencies: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Intercept and slope of expected spend in ``monetary_value``: ``(frequencies, draws)`` each.

    The spend model's expected spend is affine in the customer's mean
    transaction value (Gamma-Gamma: :math:`E[Z \mid x, \bar m] = p(v + x\bar m)/(px + q - 1)`),
    so per draw and frequency it is ``intercept + slope * monetary_value``, with
    ``intercept`` the model's value at ``monetary_value = 0`` and ``slope`` its
    increase to ``monetary_value = 1``.
    """
    xs = frequencies[:, None]
    intercept = np.asarray(spec.expected_spend(params, xs, np.zeros_like(xs)), dtype=np.float64)
    slope = np.asarray(spec.expected_spend(params, xs, np.ones_like(xs)), dtype=np.float64)
    slope -= intercept
    return intercept, slope


def posterior_score_table(
    bundle: PosteriorBundle,
    rfm: pd.DataFrame,
    *,
    horizon: int,
    discount_rate: float,
    margin: float,
    thin: int = 1,
    max_draws: int | None = DEFAULT_MAX_DRAWS,
    chunk_cells: int = DEFAULT_CHUNK_CELLS,
    workers: int | None = None,
) -> pd.DataFrame:
    """Score every customer over the posterior draws of a posterior model file.

    Parameters
    ----------
    bundle : PosteriorBundle
        From :func:`clv.scoring.posterior.read_posterior_bundle`.
    rfm : DataFrame
        RFM frame indexed by customer id (``frequency``, ``recency``, ``T`` and,
        with a spend posterior, ``monetary_value``), in the model's time unit.
    horizon : int
        Periods of the model's time unit.
    discount_rate, margin : float
        Discount rate per period and profit margin of the CLV.
    thin : int, default 1
        Keep every ``thin``-th draw of each chain.
    max_draws : int or None, default :data:`DEFAULT_MAX_DRAWS`
        At most this many draws (evenly spaced) after thinning; None for all.
    chunk_cells : int, default :data:`DEFAULT_CHUNK_CELLS`
        Customers x draws per block (bounds memory; the result does not depend on it
        beyond floating-point rounding).
    workers : int or None, default None
        Threads that share out the blocks (NumPy and SciPy release the GIL);
        None: the CPUs available to the process, at most :data:`MAX_WORKERS`.
        The scores do not depend on it: every block is computed the same way
        whichever thread runs it, so reruns are byte-identical.

    Returns
    -------
    DataFrame
        ``customer_id`` first, then :func:`posterior_score_columns`: the RFM
        columns, the posterior mean of each score and its 5% and 95% quantiles,
        one row per row of ``rfm``, in its order.
    """
    check_same_period(
        bundle.time_unit, rfm, model="the posterior model", what="the RFM data to score"
    )
    tx_spec, tx_params, sp_spec, sp_params = _select(bundle, thin, max_draws)
    n_samples = len(tx_params)
    with_spend = sp_params is not None
    workers = _workers(workers)
    x, t_x, T = (rfm[c].to_numpy(dtype=np.float64) for c in ("frequency", "recency", "T"))
    n = x.size
    m = np.zeros(n)
    if with_spend:
        m = rfm["monetary_value"].to_numpy(dtype=np.float64, copy=True)
        zero = zero_value_repeat_buyers(rfm)
        if zero.any():  # as the MLE score table: the limit m -> 0+ (Gamma-Gamma rejects m = 0)
            m[zero] = np.finfo(np.float64).tiny
        m[x == 0] = 0.0
    h, d = int(horizon), float(discount_rate)
    grid = (
        np.arange(h + 1, dtype=np.float64) if d > 0 else np.array([0.0, float(h)])
    )  # d = 0: the sum telescopes to E[N(0, H]]
    factors = np.exp(-grid[1:] * np.log1p(d))
    names = ["probability_alive", "expected_purchases"] + (
        ["expected_spend", "clv"] if with_spend else []
    )
    rfm_cols = [
        c for c in RFM_OUTPUT_COLUMNS if c in rfm.columns and (with_spend or c != "monetary_value")
    ]
    # the output table as one (columns, customers) block: the scores go straight into it
    labels = rfm_cols + names + [f"{name}_{q}" for name in names for q in ("p05", "p95")]
    table = np.empty((len(labels), n))
    for j, c in enumerate(rfm_cols):
        table[j] = rfm[c].to_numpy(dtype=np.float64)
    slots = {
        name: [labels.index(name), labels.index(f"{name}_p05"), labels.index(f"{name}_p95")]
        for name in names
    }

    def put(name: str, rows: Any, values: np.ndarray) -> None:
        """Mean, p05 and p95 (the columns of ``values``) of the customers ``rows``."""
        for j, slot in enumerate(slots[name]):
            table[slot, rows] = values[:, j]

    # customers sorted by history: each distinct (frequency, T) pair is one run of rows, each
    # distinct (frequency, recency, T) history one run within it
    order = _sort_order(x, T, t_x)
    xs, ts, Ts, ms = x[order], t_x[order], T[order], m[order]
    new_pair = np.ones(n, dtype=bool)
    new_pair[1:] = (xs[1:] != xs[:-1]) | (Ts[1:] != Ts[:-1])
    first = new_pair.copy()
    first[1:] |= ts[1:] != ts[:-1]
    history = np.cumsum(first) - 1  # history of each sorted customer
    starts = np.append(np.flatnonzero(first), n)  # first sorted customer of each history
    hx, ht, hT = xs[first], ts[first], Ts[first]
    pair = np.cumsum(new_pair[first]) - 1  # (frequency, T) pair of each history
    px, pT = xs[new_pair], Ts[new_pair]
    freqs, hcode = np.unique(hx, return_inverse=True)  # distinct frequencies
    rows = max(1, int(chunk_cells) // max(n_samples, 1))
    # histories per block: at most chunk_cells cells, and 8 blocks or more of at least 1,000
    # histories, so that threads share the work evenly (the blocks do not depend on the
    # number of threads, so neither do the scores)
    h_rows = max(1, min(rows, max(1_000, -(-hx.size // 8))))
    tx_arrays = _param_arrays(tx_spec, tx_params)
    sp_arrays = None if sp_spec is None or sp_params is None else _param_arrays(sp_spec, sp_params)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        intercept = slope = np.zeros((freqs.size, n_samples))
        if sp_arrays is not None:
            # expected spend: a line in monetary_value per frequency and draw
            intercept, slope = _spend_lines(sp_spec, sp_arrays, freqs)

        fast = _special_jit.AVAILABLE and tx_spec is bgnbd.SPEC

        def history_block(h_lo: int, h_hi: int) -> None:
            """P(alive), purchases and CLV of the customers of histories h_lo..h_hi."""
            if fast:
                fast_history_block(h_lo, h_hi)
                return
            with np.errstate(all="ignore"):
                p_lo, p_hi = int(pair[h_lo]), int(pair[h_hi - 1]) + 1
                hp = pair[h_lo:h_hi] - p_lo
                if_alive, if_alive_discounted = _purchases_if_alive(
                    tx_spec, tx_arrays, px[p_lo:p_hi], pT[p_lo:p_hi], grid, factors
                )
                alive = tx_spec.probability_alive(
                    tx_arrays, hx[h_lo:h_hi, None], ht[h_lo:h_hi, None], hT[h_lo:h_hi, None]
                )
                purchases = if_alive[hp]
                purchases *= alive
                c_lo, c_hi = int(starts[h_lo]), int(starts[h_hi])
                idx, key = order[c_lo:c_hi], history[c_lo:c_hi] - h_lo
                put("expected_purchases", idx, _summarise(purchases)[key])
                del purchases
                if not with_spend:
                    put("probability_alive", idx, _summarise(alive)[key])
                    return
                # CLV = margin x discounted purchases x (intercept + slope x m): a line in
                # monetary_value per history and draw, offset + scale x m
                scale = if_alive_discounted[hp]
                scale *= alive
                scale *= float(margin)
                put("probability_alive", idx, _summarise(alive)[key])
                del alive
                offset = intercept[hcode[h_lo:h_hi]]
                offset *= scale
                scale *= slope[hcode[h_lo:h_hi]]
                for lo in range(c_lo, c_hi, rows):  # ... customers, block by block
                    hi = min(c_hi, lo + rows)
                    k = history[lo:hi] - h_lo
                    value = np.take(scale, k, axis=0)
                    value *= ms[lo:hi, None]
                    value += np.take(offset, k, axis=0)
                    put("clv", order[lo:hi], _summarise(value))
                    del value

        def fast_history_block(h_lo: int, h_hi: int) -> None:
            """:func:`history_block` of BG/NBD with the compiled kernels (same arithmetic)."""
            with np.errstate(all="ignore"):
                p_lo, p_hi = int(pair[h_lo]), int(pair[h_hi - 1]) + 1
                if_alive, if_alive_discounted = _bgnbd_purchases_if_alive(
                    tx_arrays, px[p_lo:p_hi], pT[p_lo:p_hi], grid, factors
                )
                alive, purchases, scale, offset = _posterior_jit.bgnbd_histories(
                    tx_arrays,
                    hx[h_lo:h_hi],
                    ht[h_lo:h_hi],
                    hT[h_lo:h_hi],
                    pair[h_lo:h_hi] - p_lo,
                    hcode[h_lo:h_hi],
                    if_alive,
                    if_alive_discounted,
                    intercept if with_spend else None,
                    slope if with_spend else None,
                    float(margin),
                )
                del if_alive, if_alive_discounted
                c_lo, c_hi = int(starts[h_lo]), int(starts[h_hi])
                idx, key = order[c_lo:c_hi], history[c_lo:c_hi] - h_lo
                put("expected_purchases", idx, _summarise(purchases)[key])
                del purchases
                put("probability_alive", idx, _summarise(alive)[key])
                del alive
                if scale is None or offset is None:
                    return
                for lo in range(c_lo, c_hi, rows):  # CLV, customers block by block
                    hi = min(c_hi, lo + rows)
                    value, mean = _posterior_jit.lines(
                        scale, offset, history[lo:hi] - h_lo, ms[lo:hi]
                    )
                    put("clv", order[lo:hi], _summarise(value, mean))
                    del value

        def spend_block(lo: int, hi: int) -> None:
            """Expected spend of the distinct (frequency, monetary_value) rows lo..hi."""
            with np.errstate(all="ignore"):
                code, mv = spend_code[lo:hi], spend_m[lo:hi]
                if _special_jit.AVAILABLE:
                    value, mean = _posterior_jit.lines(slope, intercept, code, mv)
                    spend_summary[lo:hi] = _summarise(value, mean)
                    return
                value = np.take(slope, code, axis=0)
                value *= mv[:, None]
                value += np.take(intercept, code, axis=0)
                spend_summary[lo:hi] = _summarise(value)

        tasks: list[tuple[Any, tuple[Any, ...]]] = [
            (history_block, (lo, min(hx.size, lo + h_rows))) for lo in range(0, hx.size, h_rows)
        ]
        if with_spend:
            # the spend summary once per distinct (frequency, monetary_value)
            (spend_x, spend_m), spend_key = unique_rows([x, m])
            spend_code = np.searchsorted(freqs, spend_x)
            spend_summary = np.empty((spend_m.size, 3))
            tasks += [
                (spend_block, (lo, min(spend_m.size, lo + rows)))
                for lo in range(0, spend_m.size, rows)
            ]
        _run(tasks, workers)
        if with_spend:
            put("expected_spend", slice(None), spend_summary[spend_key])
    out = pd.DataFrame(table.T, index=rfm.index, columns=labels, copy=False)
    out.index.name = "customer_id"
    logger.info("scored %d customers over %d posterior draws", n, n_samples)
    return out.reset_index()
