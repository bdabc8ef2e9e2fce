"""``clv fit|score --engine spark``: the fit and score jobs with Apache Spark.

The transactions are read by Spark (CSV with a header row, Parquet files or
directories; a DuckDB input is read by DuckDB and handed to Spark), checked
by :func:`clv.spark.rfm.check_transactions_spark` (the pandas engine's checks,
messages and warnings, as aggregations) and summarised per customer by
:func:`clv.spark.rfm.summarise_checked`. ``clv score`` then scores with
:func:`clv.spark.score_spark` on the executors; ``clv fit`` collects the
summary (one row per customer) and fits it with the pandas engine's code.

Outputs:

- ``.csv`` / ``.parquet`` / ``.duckdb``: the scores are collected to the
  driver, sorted by customer id and written by the same atomic writers as the
  pandas engine (suits up to tens of millions of customers: 1M rows of scores
  are about 70 MB);
- a path ending with ``/``: Spark writes a Parquet dataset directory from the
  executors (one file per shuffle partition, each sorted by customer id). It
  is written to a hidden staging directory next to the target, then swapped
  in with two renames (old -> hidden backup, staging -> target) and the
  backup deleted, so a failed job leaves the previous directory and
  never a partial one in its place (a job killed exactly between the two
  renames leaves the previous directory as the hidden backup).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from clv._cpus import usable_cpus
from clv.cli.config import UsageError
from clv.cli.files import input_format, read_transactions
from clv.exceptions import DataError, Problem
from clv.scoring.bundle import InputOutputError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from clv.cli.steps import Run
    from clv.scoring.bundle import Bundle

__all__ = [
    "collect_summary",
    "score_with_spark",
    "spark_session",
    "spark_summary",
    "write_parquet_directory",
]

logger = logging.getLogger("clv")


@contextlib.contextmanager
def _quiet_pyspark() -> Iterator[None]:
    from clv.spark._session import PANDAS_VERSION_WARNING

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=PANDAS_VERSION_WARNING)
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="pyspark")
        yield


def spark_session(master: str | None) -> SparkSession:
    """The session of the job: the active one (spark-submit), else a new one on ``master``."""
    from clv.spark._session import import_pyspark, local_session

    try:
        import_pyspark()
    except ImportError as exc:
        raise UsageError(f"--engine spark: {exc}") from None
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        return active
    if master is None and "PYSPARK_GATEWAY_PORT" in os.environ:  # launched by spark-submit
        return SparkSession.builder.getOrCreate()
    if master is None or master.startswith("local"):
        cores = usable_cpus()
        if master is not None and master.startswith("local[") and master != "local[*]":
            try:
                cores = int(master[6:-1])
            except ValueError:
                raise UsageError(
                    f"--spark-master {master!r} is not local[N], local[*] or a cluster URL."
                ) from None
        return local_session(cores, shuffle_partitions=max(4, 2 * cores))
    return SparkSession.builder.master(master).appName("clv").getOrCreate()


#: Strings that ``pandas.read_csv`` reads as missing values (its default ``na_values``);
#: a CSV read by Spark maps them to NULL too, so both engines see the same gaps.
_CSV_NA_VALUES = (
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
)


def read_input(
    spark: SparkSession, run: Run, columns: dict[str, str | None]
) -> tuple[DataFrame, dict[str, Any], str | None]:
    """The transactions as a Spark DataFrame of the needed columns.

    Returns the DataFrame, the start of the run record's ``input`` section and,
    for a DuckDB input (read by pandas), the pandas engine's fingerprint.
    """
    from pyspark.sql import functions as F

    opts = run.opts
    path = opts.input
    if path is None:
        raise UsageError(
            "INPUT is required (the transactions to read); give it on the command "
            "line or in the --config file."
        )
    fmt = input_format(path, opts.input_format)
    wanted = [c for c in (columns["customer_col"], columns["date_col"], columns["value_col"]) if c]
    if len(set(wanted)) != len(wanted):
        raise UsageError(
            f"--customer-col, --date-col and --value-col must be different columns; got {wanted}."
        )
    info: dict[str, Any] = {
        "path": str(path),
        "format": fmt,
        **({"table": opts.table} if opts.table else {}),
        **({"query": opts.query} if opts.query else {}),
        "columns": columns,
    }
    if fmt == "duckdb":
        from clv.cli.files import frame_fingerprint

        frame, source_columns = read_transactions(
            path, wanted, fmt=fmt, table=opts.table, query=opts.query
        )
        run.unread_columns = [c for c in source_columns if c not in wanted]
        return spark.createDataFrame(frame), info, frame_fingerprint(frame)
    if opts.table is not None or opts.query is not None:
        raise UsageError("--table and --query only apply to a DuckDB database input.")
    if not Path(path).exists():
        raise InputOutputError(f"input '{path}' does not exist. Check the path.")
    from pyspark.errors import AnalysisException

    try:
        if fmt == "csv":
            df = spark.read.option("header", True).option("mode", "PERMISSIVE").csv(str(path))
        else:
            df = spark.read.parquet(str(path))
    except AnalysisException as exc:
        raise DataError(
            [
                Problem(
                    None,
                    f"cannot be read by Spark ({_one_line(exc)})",
                    f"check that it is a {fmt} file or directory",
                )
            ],
            what=f"'{path}'",
        ) from None
    absent = [c for c in wanted if c not in df.columns]
    if absent:
        shown = ", ".join(repr(c) for c in df.columns[:20])
        flags = {
            columns["customer_col"]: "--customer-col",
            columns["date_col"]: "--date-col",
            columns["value_col"]: "--value-col",
        }
        raise DataError(
            [
                Problem(
                    c,
                    "is not in the input",
                    f"pass {flags.get(c, 'the right column')} with one of its columns: {shown}",
                )
                for c in absent
            ],
            what=f"'{path}'",
        )
    run.unread_columns = [c for c in df.columns if c not in wanted]
    if fmt == "csv":
        selected = [
            F.when(df[c].isin(*_CSV_NA_VALUES), F.lit(None)).otherwise(df[c]).alias(c)
            for c in wanted
        ]
    else:
        selected = [df[c] for c in wanted]
    return df.select(*selected), info, None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."


def spark_summary(
    run: Run, columns: dict[str, str | None], time_unit: str, end: pd.Timestamp | None
) -> tuple[DataFrame, dict[str, Any], SparkSession]:
    """Read, check and summarise the transactions with Spark (the summary stays lazy).

    The checks and warnings are those of the pandas engine, with the same
    messages; ``end`` (end of the ``--as-of`` day) drops the later rows.

    Returns
    -------
    summary : pyspark.sql.DataFrame
        :func:`clv.spark.rfm_summary_spark` output (metadata on ``T``).
    info : dict
        The run record's ``input`` section (without ``n_customers``), with the
        keys of the pandas engine plus ``engine`` and ``spark_master``.
    spark : SparkSession
    """
    from clv.spark.checks import emit
    from clv.spark.rfm import check_transactions_spark, summarise_checked

    opts = run.opts
    with run.step("spark_session", "starting Spark"):
        spark = spark_session(opts.spark_master)
    with run.step("read", f"reading {opts.input} with Spark"):
        transactions, info, exact_fingerprint = read_input(spark, run, columns)
    if opts.as_of is None:
        logger.info(
            "no --as-of given: observation ends at the last transaction; set --as-of "
            "for reproducible reruns"
        )
    date_col = str(columns["date_col"])
    with run.step("summarise", "checking and summarising transactions per customer (Spark)"):
        checked = check_transactions_spark(
            transactions,
            customer_id_col=columns["customer_col"],
            date_col=date_col,
            value_col=columns["value_col"],
            observation_end=end,
            drop_after=end is not None,
            check_duplicates=not run.unread_columns,
            csv_dates=info["format"] == "csv",
        )
        counts = checked.counts
        counts.refuse_empty(
            fix="check the input (and the query or table) is the right one", what=f"'{opts.input}'"
        )
        info["fingerprint"] = exact_fingerprint or counts.fingerprint
        info["n_rows"] = counts.n_rows
        logger.info("read %d rows from %s", counts.n_rows, opts.input)
        if end is not None:
            info["n_rows_after_as_of"] = counts.n_after
            if counts.n_after:
                logger.info("ignoring %d transactions after --as-of %s", counts.n_after, opts.as_of)
            if counts.n_kept == 0:
                raise DataError(
                    [
                        Problem(
                            date_col,
                            f"has no transaction on or before --as-of "
                            f"{opts.as_of} (all {counts.n_after} rows are later)",
                            "check --as-of and --date-col",
                        )
                    ],
                    what="the transactions",
                )
        emit(counts.warnings)
        summary = summarise_checked(checked, time_unit)
    info["engine"] = "spark"
    info["spark_master"] = spark.sparkContext.master
    return summary, info, spark


def collect_summary(
    run: Run, columns: dict[str, str | None], time_unit: str, end: pd.Timestamp | None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``clv fit --engine spark``: the RFM summary computed by Spark, collected to pandas.

    Returns the summary as :func:`clv.data.rfm_summary` gives it (indexed by
    sorted ``customer_id``, float64 columns, ``attrs`` with ``time_unit`` and
    ``observation_end``; same warnings) and the run record's ``input`` section.
    """
    from clv.data.rfm import _warn_unusable
    from clv.data.schema import ATTR_OBSERVATION_END, ATTR_TIME_UNIT
    from clv.spark.rfm import summary_metadata

    with _quiet_pyspark():
        summary, info, _ = spark_summary(run, columns, time_unit, end)
        with run.step("collect", "collecting the per-customer summary"):
            meta = summary_metadata(summary)
            rfm = summary.toPandas().set_index("customer_id").sort_index()
    rfm = rfm.astype("float64")
    rfm.attrs[ATTR_TIME_UNIT] = meta["time_unit"]
    rfm.attrs[ATTR_OBSERVATION_END] = meta["observation_end"]
    with run.step("summarise", "checking the summary"):
        _warn_unusable(rfm, stacklevel=2)
    return rfm, info


def score_with_spark(
    run: Run,
    bundle: Bundle,
    columns: dict[str, str | None],
    out: Path,
    fmt: str,
    *,
    horizon: int,
    discount_rate: float,
    margin: float,
    end: pd.Timestamp | None,
) -> tuple[pd.DataFrame | None, int, dict[str, Any], str | None]:
    """Run the score job on Spark.

    Returns
    -------
    table : DataFrame or None
        The collected scores (sorted by customer id) for a file or DuckDB
        output, ``None`` when Spark wrote the Parquet directory ``out`` itself.
    n_customers : int
    input_info : dict
        The run record's ``input`` section.
    observation_end : str or None
        ``YYYY-MM-DD`` of the observation end.
    """
    from clv.exceptions import DataWarning
    from clv.spark import score_spark
    from clv.spark.checks import emit, summary_problems
    from clv.spark.rfm import summary_metadata

    with _quiet_pyspark():
        summary, info, spark = spark_summary(run, columns, bundle.time_unit, end)
        meta = summary_metadata(summary)
        summary = summary.persist()
        try:
            with run.step("summarise", "checking the summary (Spark)"):
                emit([(p, DataWarning) for p in summary_problems(summary)])
            scores = score_spark(
                summary,
                bundle,
                horizon=horizon,
                discount_rate_per_period=discount_rate,
                margin=margin,
            )
            if fmt == "directory":
                with run.step("score", f"scoring and writing {out} (Spark)"):
                    # sorted within each file: a global orderBy would run the job twice
                    # (its range partitioner samples the scores first)
                    write_parquet_directory(scores.sortWithinPartitions("customer_id"), out)
                    n_customers = spark.read.parquet(str(out)).count()
                table = None
            else:
                with run.step("score", "scoring customers (Spark) and collecting the scores"):
                    table = scores.toPandas()
                    table = table.sort_values("customer_id", kind="stable").reset_index(drop=True)
                n_customers = len(table)
        finally:
            summary.unpersist()
    observation_end = meta.get("observation_end")
    return table, n_customers, info, None if observation_end is None else observation_end[:10]


def write_parquet_directory(frame: DataFrame, target: Path) -> None:
    """Write a Spark DataFrame as a Parquet directory, swapped in place of ``target``.

    Raises
    ------
    InputOutputError
        If Spark cannot write the staging directory or the swap fails; the
        previous directory is then in place.
    """
    target = Path(str(target).rstrip("/" + os.sep))
    parent = target.parent
    token = uuid.uuid4().hex[:12]
    staging = parent / f".{target.name}.{token}.staging"
    backup = parent / f".{target.name}.{token}.previous"
    try:
        frame.write.mode("errorifexists").parquet(str(staging))
    except Exception as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise InputOutputError(f"Spark could not write '{target}': {_one_line(exc)}") from None
    try:
        if target.exists():
            target.rename(backup)
        staging.rename(target)
    except OSError as exc:
        if backup.exists() and not target.exists():
            backup.rename(target)
        shutil.rmtree(staging, ignore_errors=True)
        raise InputOutputError(f"cannot replace '{target}': {exc.strerror or exc}.") from None
    shutil.rmtree(backup, ignore_errors=True)
