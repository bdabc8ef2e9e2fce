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

Bad input raises :class:`~clv.exceptions.DataError` naming the column, example
customer ids and the fix, after one aggregation pass over the data.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from clv.data.schema import CUSTOMER_ID, FREQUENCY, MONETARY_VALUE, RECENCY, T
from clv.data.transactions import _codes_from_days, _parse_timestamp, _rows, check_time_unit
from clv.exceptions import DataError, Problem
from clv.spark._session import import_pyspark

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

__all__ = ["parsed_transactions", "period_code", "rfm_summary_spark"]

_EXAMPLES = 5
#: Metadata keys stored on the ``T`` column of the summary.
META_TIME_UNIT = "time_unit"
META_OBSERVATION_END = "observation_end"
# internal column names of the parsed rows
_C, _D, _TS, _V, _RAW_V = "_clv_c", "_clv_d", "_clv_ts", "_clv_v", "_clv_raw_v"


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
) -> DataFrame:
    """The transaction rows with parsed dates: columns ``_clv_c``, ``_clv_d``, ``_clv_ts`` ...

    ``_clv_ts`` is the date as ``TIMESTAMP_NTZ`` (``NULL`` where it is not a
    date), ``_clv_v`` the amount as double (``NULL`` where it is not a number);
    ``_clv_d`` and ``_clv_raw_v`` keep the raw values for error messages.

    Raises
    ------
    DataError
        If a column is missing or the date column holds numbers.
    """
    functions = import_pyspark()
    dtypes = dict(transactions.dtypes)
    wanted = {"customer_id_col": customer_id_col, "date_col": date_col}
    if value_col is not None:
        wanted["value_col"] = value_col
    missing = [
        Problem(str(c), "is not in the DataFrame",
                f"pass {arg}= one of its columns: {', '.join(map(repr, list(dtypes)[:20]))}")
        for arg, c in wanted.items() if str(c) not in dtypes
    ]
    if missing:
        raise DataError(missing, what="the transactions")
    date_type = dtypes[str(date_col)]
    if date_type not in ("string", "date", "timestamp", "timestamp_ntz"):
        raise DataError(
            [Problem(str(date_col), f"has Spark type {date_type}, not dates",
                     "convert it with to_date / to_timestamp (epoch seconds: "
                     "timestamp_seconds) before summarising.")],
            what="the transactions",
        )
    rows = transactions.select(
        quoted(customer_id_col).alias(_C),
        quoted(date_col).alias(_D),
        *([quoted(value_col).alias(_RAW_V)] if value_col is not None else []),
    )
    if date_type == "string":
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
) -> DataFrame:
    """Summarise a Spark transaction DataFrame into one RFM row per customer.

    Same arguments and semantics as :func:`clv.data.rfm_summary`, computed by
    Spark (nothing is collected to the driver but a few aggregates).

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
    time_unit : {"D", "W", "M", "Q", "Y"}
        Period unit.
    observation_end : date-like, optional
        End of observation (inclusive). Default: the last transaction date.
        Transactions after it are an error.
    date_format : str, optional
        Spark datetime pattern of string dates (e.g. ``"yyyyMMdd"``).
    drop_after : bool
        Drop the transactions after ``observation_end`` instead of reporting
        them (the log as it was on that date; ``clv score --as-of``).

    Returns
    -------
    pyspark.sql.DataFrame
        Columns ``customer_id`` (the input's type), ``frequency``, ``recency``,
        ``T`` [, ``monetary_value``] (double), one row per customer, unordered.
        The ``T`` column's metadata holds ``time_unit``, ``observation_end``
        (ISO 8601), as ``attrs`` do for the pandas summary, and ``n_rows`` (the
        transactions summarised); see :func:`summary_metadata`.

    Raises
    ------
    DataError
        Missing columns, missing or unparseable ids, dates or amounts,
        negative or infinite amounts, transactions after ``observation_end``,
        or no rows; every problem at once, with example customer ids.

    Notes
    -----
    Unlike :func:`clv.data.rfm_summary`, no :class:`~clv.exceptions.DataWarning`
    is issued (exact duplicates, ``T == 0``, zero repeat spend): those would
    need extra passes over the data. ``monetary_value`` sums the same amounts
    in another order, so it can differ from the pandas value in the last bits
    (1e-15 relative).

    Examples
    --------
    >>> spark = local_session()  # doctest: +SKIP
    >>> tx = spark.createDataFrame(load_cdnow_transactions())  # doctest: +SKIP
    >>> rfm = rfm_summary_spark(tx, customer_id_col="customer_id", date_col="date",
    ...                         value_col="value")  # doctest: +SKIP
    """
    functions = import_pyspark()
    time_unit = check_time_unit(time_unit)
    end = None
    if observation_end is not None:
        end, problems = _parse_timestamp(observation_end, name="observation_end")
        if problems:
            raise DataError(problems, what="the arguments")
    rows = parsed_transactions(df, customer_id_col=customer_id_col, date_col=date_col,
                               value_col=value_col, date_format=date_format)
    if drop_after and end is not None:
        # keep unparseable dates (NULL) so that they are reported
        rows = rows.filter(functions.coalesce(functions.col(_TS) <= _ntz(end),
                                              functions.lit(True)))
    last, n_rows = _validate(rows, customer_id_col=str(customer_id_col), date_col=str(date_col),
                     value_col=None if value_col is None else str(value_col), end=end)
    end_ts = pd.Timestamp(last) if end is None else end
    end_day = int(np.datetime64(end_ts.to_datetime64(), "D").view(np.int64))
    end_period = int(_codes_from_days(np.array([end_day], dtype=np.int64), time_unit)[0])

    f = functions
    day = f.unix_date(f.to_date(f.col(_TS)))
    per_row = rows.select(f.col(_C).alias(CUSTOMER_ID), period_code(day, time_unit).alias("p"),
                          *([f.col(_V)] if value_col is not None else []))
    aggs = [f.sum(_V).alias("tot")] if value_col is not None else [f.lit(0).alias("tot")]
    periods = per_row.groupBy(CUSTOMER_ID, "p").agg(*aggs)
    if value_col is not None:
        from pyspark.sql import Window

        first_p = f.min("p").over(Window.partitionBy(CUSTOMER_ID))
        periods = periods.withColumn("first_p", first_p)
        repeat = f.sum(f.when(f.col("p") > f.col("first_p"), f.col("tot")))
    per_customer = periods.groupBy(CUSTOMER_ID).agg(
        f.count(f.lit(1)).alias("n"),
        f.min("p").alias("first"),
        f.max("p").alias("last"),
        *([repeat.alias("repeat_total")] if value_col is not None else []),
    )
    frequency = (f.col("n") - 1).cast("double")
    meta = {META_TIME_UNIT: time_unit, META_OBSERVATION_END: end_ts.isoformat(),
            "n_rows": n_rows}
    columns = [
        f.col(CUSTOMER_ID),
        frequency.alias(FREQUENCY),
        (f.col("last") - f.col("first")).cast("double").alias(RECENCY),
        (f.lit(end_period) - f.col("first")).cast("double").alias(T, metadata=meta),
    ]
    if value_col is not None:
        columns.append(
            f.when(f.col("n") > 1, f.col("repeat_total") / frequency)
            .otherwise(f.lit(0.0))
            .alias(MONETARY_VALUE)
        )
    return per_customer.select(*columns)


def summary_metadata(summary: DataFrame) -> dict[str, Any]:
    """``time_unit``, ``observation_end`` and ``n_rows`` of a :func:`rfm_summary_spark` result."""
    field = summary.schema[T]
    return dict(field.metadata or {})


def _validate(
    rows: DataFrame,
    *,
    customer_id_col: str,
    date_col: str,
    value_col: str | None,
    end: pd.Timestamp | None,
) -> tuple[Any, int]:
    """One aggregation over the rows; raise every problem at once.

    Returns the last date and the number of rows.
    """
    f = import_pyspark()
    c, d, ts = f.col(_C), f.col(_D), f.col(_TS)
    checks: dict[str, Column] = {
        "missing_id": c.isNull(),
        "missing_date": d.isNull(),
        "bad_date": d.isNotNull() & ts.isNull(),
    }
    if end is not None:
        checks["after_end"] = ts > _ntz(end)
    if value_col is not None:
        v, raw = f.col(_V), f.col(_RAW_V)
        checks["bad_value"] = raw.isNotNull() & v.isNull()
        checks["missing_value"] = raw.isNull() | f.isnan(v)
        checks["infinite_value"] = v.isin(float("inf"), float("-inf"))
        checks["negative_value"] = v < 0
    stats = rows.agg(
        f.count(f.lit(1)).alias("n_rows"),
        f.max(ts).alias("last"),
        *(f.sum(f.when(cond, 1).otherwise(0)).alias(name) for name, cond in checks.items()),
    ).collect()[0]
    if stats["n_rows"] == 0:
        raise DataError([Problem(None, "there are no transaction rows",
                                 "check the input DataFrame (and its filters)")],
                        what="the transactions")
    fix_date = ("pass date_format= (a Spark datetime pattern such as 'yyyyMMdd'), or convert "
                "the column with to_date / to_timestamp first.")
    messages = {
        "missing_id": (customer_id_col, "is missing in {n}",
                       "drop these rows or fill in the customer id; every transaction needs a "
                       "customer."),
        "missing_date": (date_col, "is missing in {n}",
                         "drop the rows without a date or fill them in."),
        "bad_date": (date_col, "has {n} that are not dates", fix_date),
        "after_end": (date_col, "has {n} after observation_end "
                      f"({end.isoformat() if end is not None else ''})",
                      "filter the transactions to the observation window "
                      f"(df.filter({date_col} <= observation_end)) or pass a later "
                      "observation_end."),
        "bad_value": (value_col, "has {n} that are not numbers",
                      "convert it to numbers after removing currency symbols and thousands "
                      "separators."),
        "missing_value": (value_col, "is missing in {n}",
                          "fill in the amounts, or drop these rows (they are purchases: "
                          "dropping them changes frequency)."),
        "infinite_value": (value_col, "is infinite in {n}",
                           "replace the infinite amounts with the real ones."),
        "negative_value": (value_col, "is negative in {n}",
                           "negative amounts are returns or refunds: net them against their "
                           "purchase or drop them; clv does not model returns."),
    }
    problems = []
    for name, cond in checks.items():
        count = int(stats[name] or 0)
        if count:
            column, message, fix = messages[name]
            what = _rows(count, "value" if name.startswith("bad") else "row")
            examples = []
            if name != "missing_id":
                examples = [r[0] for r in rows.filter(cond).select(c).limit(_EXAMPLES).collect()]
            problems.append(Problem(column, message.format(n=what) + (
                "" if name == "missing_id" else ", for customer_id"), fix, examples))
    if problems:
        raise DataError(problems, what="the transactions")
    return stats["last"], int(stats["n_rows"])


def _ntz(ts: pd.Timestamp) -> Column:
    """A ``TIMESTAMP_NTZ`` literal (microseconds; Spark has no finer timestamps)."""
    f = import_pyspark()
    return f.lit(ts.floor("us").isoformat(sep=" ")).cast("timestamp_ntz")
