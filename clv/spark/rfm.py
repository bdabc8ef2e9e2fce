"""RFM summary of a Spark DataFrame, with the semantics of :func:`clv.data.rfm_summary`.

The steps are those of the pandas engine, written as Spark SQL:

1. dates become timezone-naive timestamps (``TIMESTAMP_NTZ``; a ``TIMESTAMP``
   column is read as wall-clock time in the session time zone) and days since
   1970-01-01;
2. each day gets the pandas ``Period`` ordinal of its period, by the same
   integer arithmetic as :func:`clv.data.period_codes` (``"W"`` weeks run Monday
   to Sunday: ``floor((day + 3) / 7) + 1``; months and quarters count from
   1970-01);
3. rows are merged per ``(customer, period)`` (amounts summed), then per
   customer: ``frequency`` = periods - 1, ``recency`` = last - first period,
   ``T`` = period of ``observation_end`` - first period, ``monetary_value`` =
   total of the periods after the first / ``frequency`` (0 when none).

Bad input raises :class:`~clv.exceptions.DataError` with the problems of the
pandas engine (same messages, example customer ids and fixes), found by one
aggregation pass over the data (:mod:`clv.spark.checks`); the same pass counts
the rows and fingerprints them. Suspicious but valid data gives the pandas
engine's :class:`~clv.exceptions.DataWarning` s.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from clv.data.rfm import _period_plan
from clv.data.schema import CUSTOMER_ID, FREQUENCY, MONETARY_VALUE, PERIOD_DAYS, RECENCY, T
from clv.data.transactions import _codes_from_days, _parse_timestamp, check_time_unit
from clv.exceptions import DataError, DataWarning, Problem
from clv.spark._session import import_pyspark
from clv.spark.checks import IDX as _IDX
from clv.spark.checks import RAW_V as _RAW_V
from clv.spark.checks import TS as _TS
from clv.spark.checks import C as _C
from clv.spark.checks import CheckedRows, check_rows, emit, summary_problems
from clv.spark.checks import D as _D
from clv.spark.checks import V as _V

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

__all__ = [
    "CheckedTransactions",
    "check_transactions_spark",
    "parsed_transactions",
    "period_code",
    "rfm_summary_spark",
    "summarise_checked",
    "summary_metadata",
]

#: Metadata keys stored on the ``T`` column of the summary.
META_TIME_UNIT = "time_unit"
META_OBSERVATION_END = "observation_end"
_NUMERIC_TYPES = ("tinyint", "smallint", "int", "bigint", "float", "double", "boolean")


def quoted(name: Hashable) -> Column:
    """A column reference that takes ``name`` literally (dots and backticks included)."""
    functions = import_pyspark()
    return functions.col("`" + str(name).replace("`", "``") + "`")


def _sql_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def parsed_transactions(
    transactions: DataFrame,
    *,
    customer_id_col: Hashable,
    date_col: Hashable,
    value_col: Hashable | None = None,
    date_format: str | None = None,
    other_columns: tuple[str, ...] = (),
) -> DataFrame:
    """The transaction rows with parsed dates: columns ``_clv_c``, ``_clv_d``, ``_clv_ts`` ...

    ``_clv_ts`` is the date as ``TIMESTAMP_NTZ`` (``NULL`` where it is not a
    date, and everywhere for a numeric column), ``_clv_v`` the amount as
    double (``NULL`` where it is not a number); ``_clv_d`` and ``_clv_raw_v``
    keep the raw values for error messages, ``_clv_i`` numbers the rows in
    input order (``monotonically_increasing_id``); ``other_columns`` are kept
    as ``_clv_o0``, ``_clv_o1`` ... (to find exact duplicate rows).

    Raises
    ------
    DataError
        If a column is missing or the date column has a type that is neither
        dates, text nor numbers.
    """
    functions = import_pyspark()
    dtypes = dict(transactions.dtypes)
    wanted = {"customer_id_col": customer_id_col, "date_col": date_col}
    if value_col is not None:
        wanted["value_col"] = value_col
    missing = [
        Problem(
            str(c),
            "is not in the DataFrame",
            f"pass {arg}= one of its columns: {', '.join(map(repr, list(dtypes)[:20]))}",
        )
        for arg, c in wanted.items()
        if str(c) not in dtypes
    ]
    if missing:
        raise DataError(missing, what="the transactions")
    date_type = dtypes[str(date_col)]
    numeric = date_type in _NUMERIC_TYPES or date_type.startswith("decimal")
    if not numeric and date_type not in ("string", "date", "timestamp", "timestamp_ntz"):
        raise DataError(
            [
                Problem(
                    str(date_col),
                    f"has Spark type {date_type}, not dates",
                    "convert it with to_date / to_timestamp before summarising.",
                )
            ],
            what="the transactions",
        )
    rows = transactions.select(
        quoted(customer_id_col).alias(_C),
        quoted(date_col).alias(_D),
        *([quoted(value_col).alias(_RAW_V)] if value_col is not None else []),
        *(quoted(name).alias(f"_clv_o{i}") for i, name in enumerate(other_columns)),
        functions.monotonically_increasing_id().alias(_IDX),
    )
    if numeric:  # reported as numbers by the checks
        ts = functions.lit(None).cast("timestamp_ntz")
    elif date_type == "string":
        if date_format is None:
            ts = functions.expr(f"try_cast({_D} AS TIMESTAMP_NTZ)")
        else:
            ts = functions.expr(
                f"CAST(try_to_timestamp({_D}, {_sql_string(date_format)}) AS TIMESTAMP_NTZ)"
            )
    else:
        ts = functions.col(_D).cast("timestamp_ntz")
    rows = rows.withColumn(_TS, ts)
    if value_col is not None:
        rows = rows.withColumn(_V, functions.expr(f"try_cast({_RAW_V} AS DOUBLE)"))
    return rows


def period_code(day: Column, time_unit: str) -> Column:
    """Spark expression of the period code (pandas ``Period`` ordinal) of a day number.

    ``day`` counts days since 1970-01-01; the result equals
    ``clv.data.period_codes`` of the same dates.
    """
    functions = import_pyspark()
    time_unit = check_time_unit(time_unit)
    if time_unit == "D":
        return day.cast("long")
    if time_unit == "W":
        return functions.floor((day + 3) / 7).cast("long") + 1
    date = functions.date_from_unix_date(day)
    if time_unit == "Y":
        return (functions.year(date) - 1970).cast("long")
    months = (functions.year(date) - 1970) * 12 + functions.month(date) - 1
    if time_unit == "M":
        return months.cast("long")
    return functions.floor(months / 3).cast("long")


@dataclass(frozen=True)
class CheckedTransactions:
    """Transaction rows that passed every check, ready to summarise.

    Attributes
    ----------
    rows : pyspark.sql.DataFrame
        The parsed rows (:func:`parsed_transactions`) that are summarised.
    observation_end : pandas.Timestamp or None
        The given ``observation_end``, else the last date (``None`` only when
        no row is kept).
    counts : clv.spark.checks.CheckedRows
        Row counts, fingerprint and data warnings of the check pass.
    with_value : bool
        Whether there is an amount column.
    """

    rows: DataFrame
    observation_end: pd.Timestamp | None
    counts: CheckedRows
    with_value: bool


def check_transactions_spark(
    df: DataFrame,
    *,
    customer_id_col: Hashable,
    date_col: Hashable,
    value_col: Hashable | None = None,
    observation_end: object = None,
    date_format: str | None = None,
    drop_after: bool = False,
    check_duplicates: bool = True,
    csv_dates: bool = False,
) -> CheckedTransactions:
    """Check a Spark transaction DataFrame as the pandas engine does; raise one ``DataError``.

    One aggregation pass counts the rows, the rows after ``observation_end``
    and the offending rows of every check, and fingerprints the input columns;
    examples are fetched only for failing checks.

    Parameters
    ----------
    df, customer_id_col, date_col, value_col, observation_end, date_format, drop_after
        As for :func:`rfm_summary_spark`.
    check_duplicates : bool
        Look for exact duplicate rows (one aggregation over the rows).
    csv_dates : bool
        The date column is text read from CSV: a column of numbers only is
        reported as numbers, as ``pandas.read_csv`` and the pandas checks do.

    Returns
    -------
    CheckedTransactions
        ``counts.n_rows == 0`` (no rows) and ``counts.n_kept == 0`` (every row
        after ``observation_end`` with ``drop_after``) are left to the caller.

    Raises
    ------
    DataError
        Missing columns, missing ids, missing or unparseable dates, numbers in
        the date column, non-numeric, missing, infinite or negative amounts and
        (without ``drop_after``) transactions after ``observation_end``; every
        problem at once, with the messages of the pandas engine.
    """
    end = None
    if observation_end is not None:
        end, problems = _parse_timestamp(observation_end, name="observation_end")
        if problems:
            raise DataError(problems, what="the arguments")
    dtypes = dict(df.dtypes)
    used = {str(customer_id_col), str(date_col), str(value_col)}
    # exact duplicates are rows equal in every column, as in the pandas engine (maps cannot
    # be compared in Spark; pandas likewise falls back to the used columns for such cells)
    others = tuple(
        name for name, kind in df.dtypes if name not in used and not kind.startswith("map")
    )
    rows = parsed_transactions(
        df,
        customer_id_col=customer_id_col,
        date_col=date_col,
        value_col=value_col,
        date_format=date_format,
        other_columns=others if check_duplicates else (),
    )
    date_type = dtypes[str(date_col)]
    numeric_dates = None
    if date_type in _NUMERIC_TYPES or date_type.startswith("decimal"):
        numeric_dates = "typed"
    elif csv_dates and date_type == "string":
        numeric_dates = "strings"
    sources = [(str(customer_id_col), _C), (str(date_col), _D)]
    if value_col is not None:
        sources.append((str(value_col), _RAW_V))
    functions = import_pyspark()
    fingerprinted = [(name, dtypes[name], functions.col(col)) for name, col in sources]
    counts, problems = check_rows(
        rows,
        customer_id_col=str(customer_id_col),
        date_col=str(date_col),
        value_col=None if value_col is None else str(value_col),
        end=end,
        drop_after=drop_after,
        fingerprinted=fingerprinted,
        numeric_dates=numeric_dates,
        check_duplicates=check_duplicates,
        other_columns=tuple(f"_clv_o{i}" for i in range(len(others))),
    )
    if problems:
        raise DataError(problems, what="the transactions")
    if drop_after and end is not None:
        # unparseable dates (NULL) would have been reported above
        rows = rows.filter(functions.col(_TS) <= _ntz(end))
    if end is None and counts.last is not None:
        end = pd.Timestamp(counts.last)
    return CheckedTransactions(rows, end, counts, value_col is not None)


def summarise_checked(checked: CheckedTransactions, time_unit: str = "W") -> DataFrame:
    """The RFM summary of checked rows (see :func:`rfm_summary_spark`)."""
    f = import_pyspark()
    time_unit, scaler, unit = _period_plan(time_unit, 1.0)
    end_ts = checked.observation_end
    if end_ts is None or checked.counts.n_kept == 0:
        raise ValueError("no transaction rows to summarise")
    end_day = int(end_ts.to_datetime64().astype("datetime64[D]").view(np.int64))
    end_period = int(_codes_from_days(np.array([end_day], dtype=np.int64), time_unit)[0])
    with_value = checked.with_value
    day = f.unix_date(f.to_date(f.col(_TS)))
    per_row = checked.rows.select(
        f.col(_C).alias(CUSTOMER_ID),
        period_code(day, time_unit).alias("p"),
        *([f.col(_V)] if with_value else []),
    )
    aggs = [f.sum(_V).alias("tot")] if with_value else [f.lit(0).alias("tot")]
    periods = per_row.groupBy(CUSTOMER_ID, "p").agg(*aggs)
    if with_value:
        from pyspark.sql import Window

        first_p = f.min("p").over(Window.partitionBy(CUSTOMER_ID))
        periods = periods.withColumn("first_p", first_p)
        repeat = f.sum(f.when(f.col("p") > f.col("first_p"), f.col("tot")))
    per_customer = periods.groupBy(CUSTOMER_ID).agg(
        f.count(f.lit(1)).alias("n"),
        f.min("p").alias("first"),
        f.max("p").alias("last"),
        *([repeat.alias("repeat_total")] if with_value else []),
    )
    frequency = (f.col("n") - 1).cast("double")
    counts = checked.counts
    meta = {
        META_TIME_UNIT: unit.name,
        META_OBSERVATION_END: end_ts.isoformat(),
        "n_rows": counts.n_rows,
        "n_rows_after": counts.n_after,
        "fingerprint": counts.fingerprint,
    }
    columns = [
        f.col(CUSTOMER_ID),
        frequency.alias(FREQUENCY),
        ((f.col("last") - f.col("first")).cast("double") / f.lit(scaler)).alias(RECENCY),
        ((f.lit(end_period) - f.col("first")).cast("double") / f.lit(scaler)).alias(
            T, metadata=meta
        ),
    ]
    if with_value:
        columns.append(
            f.when(f.col("n") > 1, f.col("repeat_total") / frequency)
            .otherwise(f.lit(0.0))
            .alias(MONETARY_VALUE)
        )
    columns.append(f.lit(unit.days).cast("double").alias(PERIOD_DAYS))
    return per_customer.select(*columns)


def rfm_summary_spark(
    df: DataFrame,
    *,
    customer_id_col: Hashable,
    date_col: Hashable,
    value_col: Hashable | None = None,
    time_unit: str = "W",
    observation_end: object = None,
    date_format: str | None = None,
    drop_after: bool = False,
    warn: bool = True,
) -> DataFrame:
    """Summarise a Spark transaction DataFrame into one RFM row per customer.

    Same arguments, semantics, errors and warnings as
    :func:`clv.data.rfm_summary`, computed by Spark (nothing is collected to
    the driver but counts and a few example rows).

    Parameters
    ----------
    df : pyspark.sql.DataFrame
        One row per transaction. Not modified.
    customer_id_col, date_col : hashable
        Columns with the customer id and the date (``date``, ``timestamp``,
        ``timestamp_ntz`` or ISO 8601 ``string``).
    value_col : hashable, optional
        Column with the amount of each transaction (numbers, or strings of
        numbers); adds ``monetary_value``.
    time_unit : str
        Period unit, as in :func:`clv.data.rfm_summary`: ``"D"``, ``"W"``,
        ``"M"``, ``"Q"``, ``"Y"`` or a multiple such as ``"7D"``.
    observation_end : date-like, optional
        End of observation (inclusive). Default: the last transaction date.
        Transactions after it are an error.
    date_format : str, optional
        Spark datetime pattern of string dates (e.g. ``"yyyyMMdd"``).
    drop_after : bool
        Drop the transactions after ``observation_end`` instead of reporting
        them (the log as it was on that date; ``clv score --as-of``).
    warn : bool
        Issue the pandas engine's :class:`~clv.exceptions.DataWarning` s: exact
        duplicate rows and a single customer (one more aggregation over the
        rows), customers with ``T == 0`` and repeat buyers with
        ``monetary_value == 0`` (one aggregation over the summary, which
        computes it: cache the result if you use it again).

    Returns
    -------
    pyspark.sql.DataFrame
        Columns ``customer_id`` (the input's type), ``frequency``, ``recency``,
        ``T`` [, ``monetary_value``], ``period_days`` (double), one row per
        customer, unordered.
        The ``T`` column's metadata holds ``time_unit``, ``observation_end``
        (ISO 8601), as ``attrs`` do for the pandas summary, ``n_rows`` (rows of
        the input), ``n_rows_after`` (rows after ``observation_end``, dropped
        with ``drop_after``) and ``fingerprint`` (see
        :func:`clv.spark.checks.fingerprint_columns`); see :func:`summary_metadata`.

    Raises
    ------
    DataError
        Missing columns, missing or unparseable ids, dates or amounts,
        negative or infinite amounts, transactions after ``observation_end``,
        or no rows; every problem at once, with example customer ids.

    Notes
    -----
    ``monetary_value`` sums the same amounts in another order than the pandas
    engine, so it can differ in the last bits (1e-15 relative).

    Examples
    --------
    >>> spark = local_session()  # doctest: +SKIP
    >>> tx = spark.createDataFrame(load_cdnow_transactions())  # doctest: +SKIP
    >>> rfm = rfm_summary_spark(tx, customer_id_col="customer_id", date_col="date",
    ...                         value_col="value")  # doctest: +SKIP
    """
    _period_plan(time_unit, 1.0)  # a bad unit fails before Spark work
    checked = check_transactions_spark(
        df,
        customer_id_col=customer_id_col,
        date_col=date_col,
        value_col=value_col,
        observation_end=observation_end,
        date_format=date_format,
        drop_after=drop_after,
        check_duplicates=warn,
    )
    counts = checked.counts
    counts.refuse_empty(fix="check the input DataFrame (and its filters)", what="the transactions")
    if counts.n_kept == 0:
        end = checked.observation_end
        raise DataError(
            [
                Problem(
                    str(date_col),
                    f"has no transaction on or before "
                    f"observation_end ({end.isoformat() if end else ''}) (all "
                    f"{counts.n_rows} rows are later)",
                    "check observation_end and the date column",
                )
            ],
            what="the transactions",
        )
    summary = summarise_checked(checked, time_unit)
    if warn:
        emit(counts.warnings)
        emit([(p, DataWarning) for p in summary_problems(summary)])
    return summary


def summary_metadata(summary: DataFrame) -> dict[str, Any]:
    """``time_unit``, ``observation_end``, ``n_rows``, ... of a :func:`rfm_summary_spark` result."""
    field = summary.schema[T]
    return dict(field.metadata or {})


def _ntz(ts: pd.Timestamp) -> Column:
    """A ``TIMESTAMP_NTZ`` literal (microseconds; Spark has no finer timestamps)."""
    f = import_pyspark()
    return f.lit(ts.floor("us").isoformat(sep=" ")).cast("timestamp_ntz")
