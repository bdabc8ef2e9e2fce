"""Engines that count each customer's distinct purchase periods.

The expensive step of an RFM summary is de-duplicating ``(customer, period)``
pairs: every other quantity is a cheap ``numpy.bincount``. Three engines compute
it and return the same integers:

``"pandas"``
    In-process NumPy: one sort of the rows by customer and time (done once
    while validating, see :func:`clv.data.transactions._build_arrays`), then
    run-length arithmetic. No Python loop per customer.
``"duckdb"``
    DuckDB's hash aggregation over the per-row codes, on all cores.
``"polars"``
    A lazy polars query on all cores: ``(customer, period code)`` packed into
    one integer, ``unique``, then ``group_by`` customer (count, min, max).
    The period codes are the pandas path's (``_TransactionArrays.periods``).
    polars is optional: it is imported only when this engine runs, with an
    :class:`ImportError` that says how to fix it when it is missing.

All return only integers (counts and period codes); the money sums are done
once, in NumPy, by the caller. That keeps the engines' outputs bit-for-bit
identical (floating-point sums in a parallel engine depend on thread order).

``engine="auto"`` picks ``"pandas"`` at every size. Measured with
``benchmarks/bench_rfm.py`` (10M rows, 1M customers, each engine in a fresh
process, fastest of 3 with the range, 2-core machine), the whole
``rfm_summary`` took, weekly / daily periods:

- ``"pandas"``: 1.05-1.28 s / 1.11-1.71 s wall (1.1 s CPU), 508-514 MB;
- ``"polars"``: 2.52-2.89 s / 2.31-3.28 s wall (3.1-3.2 s CPU), 671-678 MB;
- ``"duckdb"``: 2.83-3.02 s / 2.91-3.06 s wall (4.0-4.5 s CPU), 823 MB;
- lifetimes: 13.5-13.9 s / 11.7-13.2 s wall, 1,431-1,480 MB.

Validation (which every engine runs first) is about 0.7 s of that; it
includes the sort the pandas engine reuses, after which the pandas engine
needs 0.2 s, polars 0.8-1.1 s and DuckDB 1.2-1.3 s. So polars and DuckDB are
not chosen automatically (and polars is not a dependency of clv); both remain
available and give identical results (they are where inputs that do not fit
in memory, such as Parquet files, would plug in).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

__all__ = ["ENGINES", "PeriodStats", "period_stats", "resolve_engine"]

IntArray = NDArray[np.int64]

#: Names accepted by ``engine=``.
ENGINES: tuple[str, ...] = ("auto", "pandas", "duckdb", "polars")


@dataclass(frozen=True)
class PeriodStats:
    """Per-customer purchase-period statistics.

    Attributes
    ----------
    n_periods : numpy.ndarray of int64
        Number of distinct periods with a purchase (0 for customers without rows).
    first, last : numpy.ndarray of int64
        Period codes of the first and last purchase (0 where ``n_periods == 0``).
    """

    n_periods: IntArray
    first: IntArray
    last: IntArray


def resolve_engine(engine: str) -> str:
    """Return the engine to use: ``engine`` itself, or the choice of ``"auto"``.

    Parameters
    ----------
    engine : {"auto", "pandas", "duckdb", "polars"}
        Requested engine.

    Returns
    -------
    str
        ``"pandas"``, ``"duckdb"`` or ``"polars"``; ``"auto"`` is ``"pandas"``
        for logs of every size (see the module docstring for the measurements
        behind that choice).

    Examples
    --------
    >>> resolve_engine("auto"), resolve_engine("duckdb"), resolve_engine("polars")
    ('pandas', 'duckdb', 'polars')
    """
    if engine not in ENGINES:
        raise ValueError(f"engine={engine!r} is not one of {', '.join(map(repr, ENGINES))}.")
    return "pandas" if engine == "auto" else engine


def period_stats(
    codes: IntArray,
    periods: IntArray,
    n_customers: int,
    *,
    engine: str = "pandas",
    presorted: bool = False,
) -> PeriodStats:
    """Distinct purchase periods per customer.

    Parameters
    ----------
    codes : numpy.ndarray of int64
        Per row, the customer's code in ``0 .. n_customers - 1``.
    periods : numpy.ndarray of int64
        Per row, the period code of the purchase.
    n_customers : int
        Number of customers (length of the outputs).
    engine : {"pandas", "duckdb", "polars"}
        Engine to run.
    presorted : bool
        ``True`` if the rows are already ordered by ``(codes, periods)``; lets
        the pandas engine skip its sort. Ignored by DuckDB and polars.

    Returns
    -------
    PeriodStats

    Examples
    --------
    >>> s = period_stats(np.array([1, 0, 1, 1]), np.array([5, 3, 5, 9]), 3)
    >>> s.n_periods.tolist(), s.first.tolist(), s.last.tolist()
    ([1, 2, 0], [3, 5, 0], [3, 9, 0])
    """
    codes = np.asarray(codes, dtype=np.int64)
    periods = np.asarray(periods, dtype=np.int64)
    if codes.size == 0:
        zeros = np.zeros(n_customers, dtype=np.int64)
        return PeriodStats(zeros, zeros.copy(), zeros.copy())
    if engine == "pandas":
        return _stats_numpy(codes, periods, n_customers, presorted=presorted)
    if engine == "duckdb":
        return _stats_duckdb(codes, periods, n_customers)
    if engine == "polars":
        return _stats_polars(codes, periods, n_customers)
    raise ValueError(f"engine={engine!r} is not 'pandas', 'duckdb' or 'polars'.")


def _stats_numpy(
    codes: IntArray, periods: IntArray, n_customers: int, *, presorted: bool
) -> PeriodStats:
    if not presorted:
        pmin = int(periods.min())
        span = int(periods.max()) - pmin + 1
        if n_customers * span < 2**63:
            key = codes * span + (periods - pmin)
            key.sort()
            codes, periods = np.floor_divide(key, span), np.remainder(key, span) + pmin
        else:
            order = np.lexsort((periods, codes))
            codes, periods = codes[order], periods[order]
    new = np.empty(codes.size, dtype=bool)
    new[0] = True
    np.not_equal(periods[1:], periods[:-1], out=new[1:])
    new[1:] |= codes[1:] != codes[:-1]
    cust = codes[new]
    per = periods[new]
    n_periods = np.bincount(cust, minlength=n_customers).astype(np.int64)
    starts = np.flatnonzero(np.concatenate(([True], cust[1:] != cust[:-1])))
    ends = np.concatenate((starts[1:] - 1, [cust.size - 1]))
    first = np.zeros(n_customers, dtype=np.int64)
    last = np.zeros(n_customers, dtype=np.int64)
    first[cust[starts]] = per[starts]
    last[cust[ends]] = per[ends]
    return PeriodStats(n_periods, first, last)


_DUCKDB_SQL = """
SELECT c, count(*) AS n, min(p) AS first, max(p) AS last
FROM (SELECT DISTINCT c, p FROM rows)
GROUP BY c
"""


def _stats_duckdb(codes: IntArray, periods: IntArray, n_customers: int) -> PeriodStats:
    import duckdb  # runtime dependency; imported lazily to keep `import clv` light

    rows = pd.DataFrame({"c": codes, "p": periods}, copy=False)
    con = duckdb.connect(":memory:")  # private connection: no shared state
    try:
        con.register("rows", rows)
        result = con.execute(_DUCKDB_SQL).fetchnumpy()
    finally:
        con.close()
    cust = np.asarray(result["c"], dtype=np.int64)
    n_periods = np.zeros(n_customers, dtype=np.int64)
    first = np.zeros(n_customers, dtype=np.int64)
    last = np.zeros(n_customers, dtype=np.int64)
    n_periods[cust] = np.asarray(result["n"], dtype=np.int64)
    first[cust] = np.asarray(result["first"], dtype=np.int64)
    last[cust] = np.asarray(result["last"], dtype=np.int64)
    return PeriodStats(n_periods, first, last)


def _import_polars() -> ModuleType:
    try:
        import polars as pl  # optional dependency; imported lazily to keep `import clv` light
    except ImportError as exc:  # pragma: no cover - polars is installed in the test env
        raise ImportError(
            'engine="polars" needs polars (>= 1.0), which clv does not install: '
            '`pip install polars`, or use engine="auto" / "pandas" (same result).'
        ) from exc
    return pl


def _stats_polars(codes: IntArray, periods: IntArray, n_customers: int) -> PeriodStats:
    """Lazy polars: de-duplicate the rows, then ``group_by`` customer (count, min, max).

    ``(customer, period)`` is packed into one integer (32 bits when it fits, as
    in the pandas engine's sort), which makes the ``unique`` a single-column
    hash; the customer and period are unpacked inside the same lazy query.
    """
    pl = _import_polars()
    pmin = int(periods.min())
    span = int(periods.max()) - pmin + 1
    key: NDArray[np.integer[Any]] | None
    if n_customers * span <= 2**32:
        key = codes.astype(np.uint32)
        key *= np.uint32(span)
        key += (periods - pmin).astype(np.uint32)
    elif n_customers * span < 2**63:
        key = codes * span
        key += periods - pmin
    else:  # too many (customer, period) cells to pack: de-duplicate both columns
        key = None
    if key is None:
        rows = pl.LazyFrame({"c": codes, "p": periods - pmin}).unique()
    else:
        packed = pl.col("k")
        rows = (
            pl.LazyFrame({"k": key})
            .unique()
            .select((packed // span).alias("c"), (packed % span).alias("p"))
        )
    p = pl.col("p")
    result = (
        rows.group_by("c")
        .agg(pl.len().alias("n"), p.min().alias("first"), p.max().alias("last"))
        .collect()
    )
    cust = result["c"].to_numpy().astype(np.int64, copy=False)
    n_periods = np.zeros(n_customers, dtype=np.int64)
    first = np.zeros(n_customers, dtype=np.int64)
    last = np.zeros(n_customers, dtype=np.int64)
    n_periods[cust] = result["n"].to_numpy()
    first[cust] = result["first"].to_numpy().astype(np.int64, copy=False) + pmin
    last[cust] = result["last"].to_numpy().astype(np.int64, copy=False) + pmin
    return PeriodStats(n_periods, first, last)
