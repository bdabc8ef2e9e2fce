"""The data checks of :mod:`clv.data.validate`, as Spark aggregations.

One aggregation pass over the parsed transaction rows counts the rows, the
rows after ``observation_end`` and the offending rows of every check; only
when a check fails do a few small queries fetch example values and customer
ids, in the order of the rows (``monotonically_increasing_id`` follows the
partitions of the scan, i.e. the order of the input files). Nothing is
collected but these counts and examples.

The problems carry the messages and fixes of the pandas engine
(:func:`clv.data.validate_transactions`, :func:`clv.data.rfm_summary`), so
``clv score --engine spark`` fails with the same text as the default engine.
The same pass also computes an order-independent content fingerprint of the
rows (:func:`fingerprint_columns`).
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from clv.data.rfm import ZERO_SPEND_FIX
from clv.data.schema import CUSTOMER_ID, FREQUENCY, MONETARY_VALUE, T
from clv.data.transactions import _not_dates, _rows, _show
from clv.data.validate import _warning_text
from clv.exceptions import DataError, DataWarning, DuplicateRowsWarning, Problem
from clv.spark._session import import_pyspark

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

__all__ = ["CheckedRows", "FINGERPRINT_PREFIX", "check_rows", "emit", "summary_problems"]

#: Prefix of the fingerprints computed by Spark (the pandas engine's start with ``sha256:``).
FINGERPRINT_PREFIX = "spark-rows:sha256:"
# internal column names, shared with clv.spark.rfm
C, D, TS, V, RAW_V, IDX = "_clv_c", "_clv_d", "_clv_ts", "_clv_v", "_clv_raw_v", "_clv_i"
_SHOWN_IDS = 5  # clv.exceptions.MAX_IDS_SHOWN
_PARTITION_SHIFT = 33  # monotonically_increasing_id = partition << 33 | row in partition
_WHO = "for customer_id"
_FIX_FORMAT = (
    "pass date_format= (e.g. date_format='%Y-%m-%d', or 'mixed' for mixed formats), or "
    "convert the column yourself with pd.to_datetime(df[{name!r}], format=...)."
)


@dataclass(frozen=True)
class CheckedRows:
    """Counts of one aggregation pass over parsed transaction rows.

    Attributes
    ----------
    n_rows : int
        Rows of the input.
    n_after : int
        Rows dated after ``observation_end`` (0 without one).
    n_kept : int
        Rows that are summarised (all, or those not after ``observation_end``
        with ``drop_after``).
    last : datetime or None
        Last date of the kept rows.
    fingerprint : str
        :data:`FINGERPRINT_PREFIX` + SHA-256 of the rows' multiset (see
        :func:`fingerprint_columns`).
    warnings : tuple of (Problem, warning class)
        Data warnings (exact duplicates, a single customer) to issue.
    """

    n_rows: int
    n_after: int
    n_kept: int
    last: Any
    fingerprint: str
    warnings: tuple[tuple[Problem, type[DataWarning]], ...] = ()

    def refuse_empty(self, *, fix: str, what: str) -> None:
        """Raise a ``DataError`` when the input has no rows.

        Parameters
        ----------
        fix : str
            What to check, in the caller's words (its input is a DataFrame or a file).
        what : str
            The input, as the error names it.
        """
        if self.n_rows == 0:
            raise DataError([Problem(None, "there are no transaction rows", fix)], what=what)


def fingerprint_columns(columns: Sequence[tuple[str, str, Column]]) -> list[Column]:
    """Aggregates of an order-independent fingerprint of rows.

    Each row is hashed twice with Spark's ``xxhash64`` (with a null flag per
    column, so ``(NULL, 'a')`` and ``('a', NULL)`` differ); the fingerprint is
    the SHA-256 of the column names and types, the row count and the two sums
    of the row hashes (exact decimals, no overflow). It does not depend on the
    order of the rows, the partitioning or the cluster, only on the multiset of
    rows as Spark reads them.
    """
    f = import_pyspark()
    parts: list[Column] = []
    for _, _, column in columns:
        parts.extend([column.isNull(), column])
    h1 = f.xxhash64(*parts).cast("decimal(20,0)")
    h2 = f.xxhash64(f.lit("clv"), *parts).cast("decimal(20,0)")
    return [f.sum(h1).alias("_fp1"), f.sum(h2).alias("_fp2")]


def _fingerprint(columns: Sequence[tuple[str, str, Column]], n_rows: int, stats: Any) -> str:
    digest = hashlib.sha256()
    for name, type_name, _ in columns:
        digest.update(f"{name}\x00{type_name}\x00".encode())
    digest.update(f"{n_rows}\x00{stats['_fp1'] or 0}\x00{stats['_fp2'] or 0}".encode())
    return FINGERPRINT_PREFIX + digest.hexdigest()


def check_rows(
    rows: DataFrame,
    *,
    customer_id_col: str,
    date_col: str,
    value_col: str | None,
    end: pd.Timestamp | None,
    drop_after: bool,
    fingerprinted: Sequence[tuple[str, str, Column]],
    numeric_dates: str | None = None,
    check_duplicates: bool = True,
    other_columns: Sequence[str] = (),
) -> tuple[CheckedRows, list[Problem]]:
    """Run every check of the pandas engine on parsed rows (see :mod:`clv.spark.rfm`).

    Parameters
    ----------
    rows : pyspark.sql.DataFrame
        Output of :func:`clv.spark.rfm.parsed_transactions`.
    customer_id_col, date_col, value_col : str
        Names shown in the messages.
    end : pandas.Timestamp, optional
        ``observation_end``.
    drop_after : bool
        Rows after ``end`` are dropped (not checked) instead of reported.
    fingerprinted : sequence of (name, type, Column)
        The input columns the fingerprint covers.
    numeric_dates : {None, "typed", "strings"}
        ``"typed"``: the date column has a numeric Spark type; ``"strings"``:
        it holds text that a CSV reader types, so a column of numbers only is
        reported as numbers (as ``pandas.read_csv`` then the pandas checks do).
    check_duplicates : bool
        Look for exact duplicate rows (one more aggregation).
    other_columns : sequence of str
        Further columns of ``rows`` that duplicate rows must also agree on.

    Returns
    -------
    checked : CheckedRows
    problems : list of Problem
        Empty when the rows are valid, in the order of the pandas engine.
        Not computed (empty) when no row is kept.
    """
    f = import_pyspark()
    c, d, ts = f.col(C), f.col(D), f.col(TS)
    after = (ts > _ntz(end)) if end is not None else f.lit(False)
    kept = ~f.coalesce(after, f.lit(False)) if drop_after else f.lit(True)
    checks: dict[str, Column] = {"missing_id": c.isNull()}
    if numeric_dates != "typed":
        checks["bad_date"] = d.isNotNull() & ts.isNull()
    checks["missing_date"] = d.isNull()
    if value_col is not None:
        v, raw = f.col(V), f.col(RAW_V)
        checks["bad_value"] = raw.isNotNull() & v.isNull()
        checks["missing_value"] = raw.isNull() | f.coalesce(f.isnan(v), f.lit(False))
        checks["infinite_value"] = v.isin(float("inf"), float("-inf"))
        checks["negative_value"] = v < 0
    if not drop_after and end is not None:
        checks["after_end"] = after
    aggregates = [
        f.count(f.lit(1)).alias("n_rows"),
        f.sum(f.when(after, 1).otherwise(0)).alias("n_after"),
        f.sum(f.when(kept, 1).otherwise(0)).alias("n_kept"),
        f.max(f.when(kept, ts)).alias("last"),
        f.max(ts).alias("last_all"),
        f.min(f.when(kept, c)).alias("first_id"),
        f.max(f.when(kept, c)).alias("last_id"),
        *(f.sum(f.when(kept & cond, 1).otherwise(0)).alias(name) for name, cond in checks.items()),
        *fingerprint_columns(fingerprinted),
    ]
    if numeric_dates == "strings":
        aggregates += [
            f.sum(f.when(kept & d.isNotNull(), 1).otherwise(0)).alias("n_dates"),
            f.sum(
                f.when(kept & f.expr(f"try_cast({D} AS DOUBLE)").isNotNull(), 1).otherwise(0)
            ).alias("n_numbers"),
        ]
    stats = rows.agg(*aggregates).collect()[0]
    n_rows = int(stats["n_rows"])
    checked = CheckedRows(
        n_rows=n_rows,
        n_after=int(stats["n_after"] or 0),
        n_kept=int(stats["n_kept"] or 0),
        last=stats["last"],
        fingerprint=_fingerprint(fingerprinted, n_rows, stats),
    )
    if checked.n_kept == 0:
        return checked, []
    counts = {name: int(stats[name] or 0) for name in checks}
    numeric = numeric_dates == "typed" or (
        numeric_dates == "strings" and 0 < int(stats["n_dates"]) == int(stats["n_numbers"])
    )
    kept_rows = rows.filter(kept)
    problems: list[Problem] = []
    for name in checks:
        if numeric and name == "missing_date":  # pandas reports the numbers only
            problems.append(
                _numeric_dates_problem(kept_rows, date_col, strings=numeric_dates == "strings")
            )
        if counts[name] == 0 or (numeric and name in ("bad_date", "missing_date")):
            continue
        problems.append(
            _problem(
                name,
                counts[name],
                rows,
                kept_rows.filter(checks[name]),
                customer_id_col=customer_id_col,
                date_col=date_col,
                value_col=value_col,
                end=end,
                last=stats["last_all"],
            )
        )
    if problems:
        return checked, problems
    found: list[tuple[Problem, type[DataWarning]]] = []
    if check_duplicates:
        duplicates = _duplicates(
            kept_rows, with_value=value_col is not None, other_columns=other_columns
        )
        if duplicates is not None:
            found.append((duplicates, DuplicateRowsWarning))
    if stats["first_id"] == stats["last_id"]:
        found.append(
            (
                Problem(
                    customer_id_col,
                    "has a single customer; the summary is valid but no model can be fitted on it",
                    "pass the transaction log of all customers.",
                    [stats["first_id"]],
                ),
                DataWarning,
            )
        )
    return CheckedRows(
        checked.n_rows,
        checked.n_after,
        checked.n_kept,
        checked.last,
        checked.fingerprint,
        tuple(found),
    ), []


def _problem(
    name: str,
    count: int,
    all_rows: DataFrame,
    bad: DataFrame,
    *,
    customer_id_col: str,
    date_col: str,
    value_col: str | None,
    end: pd.Timestamp | None,
    last: Any,
) -> Problem:
    """The pandas engine's problem for ``count`` offending rows ``bad``."""
    if name == "missing_id":
        labels = _row_labels(all_rows, bad)
        return Problem(
            customer_id_col,
            f"is missing in {_rows(count)} (row labels shown)",
            "drop these rows or fill in the customer id; every transaction needs a customer.",
            labels,
            n_rows=count,
        )
    shown_column = {"bad_date": D, "bad_value": RAW_V, "negative_value": V}.get(name)
    (ids, n_ids), values = _examples(bad, shown_column)
    shown = _show(np.asarray(values, dtype=object))
    if name == "bad_date":
        return Problem(
            date_col,
            f"has {_not_dates(count)} ({shown}), {_WHO}",
            _FIX_FORMAT.format(name=date_col),
            ids,
            n_rows=n_ids,
        )
    if name == "missing_date":
        return Problem(
            date_col,
            f"is missing in {_rows(count)}, {_WHO}",
            "drop the rows without a date or fill them in.",
            ids,
            n_rows=n_ids,
        )
    if name == "after_end":
        assert end is not None
        return Problem(
            date_col,
            f"has {_rows(count)} after observation_end ({end.isoformat()}; "
            f"the last is {pd.Timestamp(last).isoformat()}), {_WHO}",
            "drop them first (df.filter(F.col(date_col) <= observation_end)), pass a "
            "later observation_end, or summarise the calibration period with an "
            "earlier observation_end.",
            ids,
            n_rows=n_ids,
        )
    assert value_col is not None
    if name == "bad_value":
        return Problem(
            value_col,
            f"has {_rows(count, 'non-numeric value')} ({shown}), {_WHO}",
            f"convert it to numbers, e.g. df[{value_col!r}] = "
            f"pd.to_numeric(df[{value_col!r}]) after removing currency symbols and "
            "thousands separators.",
            ids,
            n_rows=n_ids,
        )
    if name == "missing_value":
        return Problem(
            value_col,
            f"is missing in {_rows(count)}, {_WHO}",
            "fill in the amounts, or drop these rows (they are purchases: dropping "
            "them changes frequency).",
            ids,
            n_rows=n_ids,
        )
    if name == "infinite_value":
        return Problem(
            value_col,
            f"is infinite in {_rows(count)}, {_WHO}",
            "replace the infinite amounts with the real ones.",
            ids,
            n_rows=n_ids,
        )
    return Problem(
        value_col,
        f"is negative in {_rows(count)} ({shown}), {_WHO}",
        "negative amounts are returns or refunds: net returns against their purchase "
        "(add the refund to the original transaction) or drop them; clv does not "
        "model returns.",
        ids,
        n_rows=n_ids,
    )


def _numeric_dates_problem(rows: DataFrame, name: str, *, strings: bool) -> Problem:
    """``holds numbers (...), not dates``, with the YYYYMMDD hint when it fits."""
    f = import_pyspark()
    number = f.expr(f"try_cast({D} AS DOUBLE)") if strings else f.col(D).cast("double")
    present = rows.filter(f.col(D).isNotNull())
    head = [r[0] for r in present.orderBy(IDX).select(D).limit(10).collect()]
    bounds = present.agg(f.min(number).alias("lo"), f.max(number).alias("hi")).collect()[0]
    if strings:  # what pandas.read_csv makes of a column of numbers
        n_missing = rows.filter(f.col(D).isNull()).count()
        integral = n_missing == 0 and all(str(v).strip().lstrip("+-").isdigit() for v in head)
        head = [int(v) if integral else float(v) for v in head]
    fix = (
        f"convert the column to dates, e.g. pd.to_datetime(df[{name!r}], unit='s') "
        "for epoch seconds"
    )
    if bounds["lo"] is not None and bounds["lo"] >= 10000101 and bounds["hi"] <= 29991231:
        fix = (
            f"the numbers look like YYYYMMDD; convert them with "
            f"pd.to_datetime(df[{name!r}].astype('int64').astype(str), format='%Y%m%d')"
        )
    return Problem(
        name, f"holds numbers ({_show(np.asarray(head, dtype=object))}), not dates", fix + "."
    )


_SCAN = 200  # offending rows fetched at once for the examples


def _examples(bad: DataFrame, column: str | None) -> tuple[tuple[list[Any], int], list[Any]]:
    """Example ids of offending rows (first distinct ones, in row order, and how many), and
    the first 4 distinct values of ``column`` (as ``_show`` needs).

    One top-k query over the offending rows gives both when there are few;
    otherwise a grouping counts the distinct ids (and finds the values).
    """
    f = import_pyspark()
    head = bad.select(IDX, C, *([column] if column else [])).orderBy(IDX).limit(_SCAN).collect()
    ids = _unique([r[C] for r in head])
    values = _unique([r[column] for r in head]) if column else []
    complete = len(head) < _SCAN
    if complete:
        n_ids = len(ids)
    elif len(ids) < _SHOWN_IDS:
        ids, n_ids = _distinct_in_order(bad, f.col(C), _SHOWN_IDS)
    else:
        n_ids = bad.select(C).distinct().count()
    if column and not complete and len(values) < 4:
        values = _distinct_in_order(bad, f.col(column), 4, count=False)[0]
    return (ids[:_SHOWN_IDS], n_ids), values[:4]


def _unique(values: list[Any]) -> list[Any]:
    """Distinct values in order (``None`` and NaN included once, like ``pandas.unique``)."""
    seen: list[Any] = []
    for v in values:
        if not any(v == s or (v != v and s != s) for s in seen):
            seen.append(v)
    return seen


def _distinct_in_order(
    rows: DataFrame, column: Column, k: int, *, count: bool = True
) -> tuple[list[Any], int]:
    """The first ``k`` distinct values of ``column`` in row order, and how many there are."""
    f = import_pyspark()
    grouped = rows.groupBy(column.alias("_x")).agg(f.min(IDX).alias("_i"))
    first = [r["_x"] for r in grouped.orderBy("_i").limit(k).collect()]
    n = len(first) if len(first) < k or not count else grouped.count()
    return first, n


def _row_labels(all_rows: DataFrame, bad: DataFrame) -> list[int]:
    """Positions (0-based, as a pandas RangeIndex) of the first offending rows."""
    f = import_pyspark()
    partition = (f.col(IDX) / (1 << _PARTITION_SHIFT)).cast("long")
    sizes = {
        int(r["p"]): int(r["n"])
        for r in all_rows.groupBy(partition.alias("p")).agg(f.count(f.lit(1)).alias("n")).collect()
    }
    offsets, total = {}, 0
    for p in sorted(sizes):
        offsets[p] = total
        total += sizes[p]
    labels = []
    for r in bad.select(IDX).orderBy(IDX).limit(_SHOWN_IDS).collect():
        i = int(r[0])
        labels.append(offsets[i >> _PARTITION_SHIFT] + (i & ((1 << _PARTITION_SHIFT) - 1)))
    return labels


def _duplicates(
    rows: DataFrame, *, with_value: bool, other_columns: Sequence[str] = ()
) -> Problem | None:
    """Rows identical to an earlier row in every column, as the pandas engine counts them.

    One aggregation groups the rows by their content and counts the repeats
    (groups of more than one row, cached: usually few). Only if there are any,
    a join of the rows with these groups finds the repeated rows (those after
    the first of their group), whose customers, in row order, are the examples
    of the pandas engine.
    """
    f = import_pyspark()
    keys = [C, D] + ([V] if with_value else []) + list(other_columns)
    repeated = (
        rows.groupBy(*keys)
        .agg(f.count(f.lit(1)).alias("_n"), f.min(IDX).alias("_first"))
        .filter(f.col("_n") > 1)
        .persist()
    )
    try:
        count = repeated.agg(f.sum(f.col("_n") - 1)).collect()[0][0]
        if not count:
            return None
        groups = repeated.select(*(f.col(k).alias(f"_g{i}") for i, k in enumerate(keys)), "_first")
        same = [rows[k].eqNullSafe(groups[f"_g{i}"]) for i, k in enumerate(keys)]
        later = rows.join(groups, on=same).filter(f.col(IDX) > f.col("_first"))
        ids, n_ids = _distinct_in_order(later, f.col(C), _SHOWN_IDS)
    finally:
        repeated.unpersist()
    return Problem(
        None,
        f"{_rows(int(count))} of the transaction log are exact "
        "duplicates of an earlier row; they are kept: same-period purchases are "
        "merged into one purchase, with their amounts summed (customer ids shown)",
        "if the log was loaded twice, drop them with transactions.drop_duplicates().",
        ids,
        n_rows=n_ids,
    )


def summary_problems(summary: DataFrame) -> list[Problem]:
    """The warnings of :func:`clv.data.rfm_summary` about customers models reject.

    ``T == 0`` (first purchase in the period of ``observation_end``) and repeat
    buyers with ``monetary_value == 0``; example ids are the smallest ones, as
    in the sorted pandas summary. One aggregation over the summary.
    """
    f = import_pyspark()
    conditions = {"age_zero": f.col(T) == 0}
    if MONETARY_VALUE in summary.columns:
        conditions["zero_spend"] = (f.col(FREQUENCY) > 0) & (f.col(MONETARY_VALUE) == 0)
    stats = summary.agg(
        *(f.sum(f.when(cond, 1).otherwise(0)).alias(name) for name, cond in conditions.items())
    ).collect()[0]
    problems = []
    for name, cond in conditions.items():
        count = int(stats[name] or 0)
        if not count:
            continue
        ids = [
            r[0]
            for r in summary.filter(cond)
            .select(CUSTOMER_ID)
            .orderBy(CUSTOMER_ID)
            .limit(_SHOWN_IDS)
            .collect()
        ]
        if name == "age_zero":
            problems.append(
                Problem(
                    T,
                    f"is 0 for {_rows(count, 'customer')}: their first purchase is in the period "
                    "of observation_end",
                    "models need T > 0: use rfm[rfm['T'] > 0], a later "
                    "observation_end or a finer time_unit.",
                    ids,
                    n_rows=count,
                )
            )
        else:
            problems.append(
                Problem(
                    MONETARY_VALUE,
                    f"is 0 for {_rows(count, 'customer')} with repeat purchases: "
                    "all their repeat purchases have amount 0",
                    ZERO_SPEND_FIX,
                    ids,
                    n_rows=count,
                )
            )
    return problems


def emit(found: Sequence[tuple[Problem, type[DataWarning]]], stacklevel: int = 2) -> None:
    """Issue data warnings with the text of the pandas engine."""
    for problem, category in found:
        warnings.warn(_warning_text(problem), category, stacklevel=stacklevel + 1)


def _ntz(ts: pd.Timestamp) -> Column:
    """A ``TIMESTAMP_NTZ`` literal (microseconds; Spark has no finer timestamps)."""
    f = import_pyspark()
    return f.lit(ts.floor("us").isoformat(sep=" ")).cast("timestamp_ntz")
