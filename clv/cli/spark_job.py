"""``clv score --engine spark``: the score job run by Apache Spark.

The transactions are read by Spark (CSV with a header row, Parquet files or
directories; a DuckDB input is read by DuckDB and handed to Spark), summarised
by :func:`clv.spark.rfm_summary_spark` and scored by :func:`clv.spark.score_spark`.

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
import os
import shutil
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from clv.cli.config import UsageError
from clv.cli.io import InputOutputError, input_format, read_transactions
from clv.exceptions import DataError, Problem

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from clv.cli.io import Bundle
    from clv.cli.main import _Run

__all__ = ["score_with_spark", "spark_session", "write_parquet_directory"]


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
        cores = os.cpu_count() or 2
        if master is not None and master.startswith("local[") and master != "local[*]":
            try:
                cores = int(master[6:-1])
            except ValueError:
                raise UsageError(f"--spark-master {master!r} is not local[N], local[*] or a "
                                 "cluster URL.") from None
        return local_session(cores, shuffle_partitions=max(4, 2 * cores))
    return SparkSession.builder.master(master).appName("clv").getOrCreate()


def _read(spark: SparkSession, run: _Run, columns: dict[str, str | None]) -> DataFrame:
    opts = run.opts
    path = opts.input
    if path is None:
        raise UsageError("INPUT is required (the transactions to read); give it on the command "
                         "line or in the --config file.")
    fmt = input_format(path, opts.input_format)
    wanted = [c for c in (columns["customer_col"], columns["date_col"], columns["value_col"]) if c]
    if fmt == "duckdb":
        frame, _ = read_transactions(path, wanted, fmt=fmt, table=opts.table, query=opts.query)
        return spark.createDataFrame(frame)
    if not Path(path).exists():
        raise InputOutputError(f"input '{path}' does not exist. Check the path.")
    from pyspark.errors import AnalysisException

    try:
        if fmt == "csv":
            df = spark.read.option("header", True).option("mode", "PERMISSIVE").csv(str(path))
        else:
            df = spark.read.parquet(str(path))
    except AnalysisException as exc:
        raise DataError([Problem(None, f"cannot be read by Spark ({_one_line(exc)})",
                                 f"check that it is a {fmt} file or directory")],
                        what=f"'{path}'") from None
    absent = [c for c in wanted if c not in df.columns]
    if absent:
        shown = ", ".join(repr(c) for c in df.columns[:20])
        flags = {columns["customer_col"]: "--customer-col", columns["date_col"]: "--date-col",
                 columns["value_col"]: "--value-col"}
        raise DataError([Problem(c, "is not in the input",
                                 f"pass {flags.get(c, 'the right column')} with one of its "
                                 f"columns: {shown}") for c in absent], what=f"'{path}'")
    return df.select(*(df[c] for c in wanted))


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."


def score_with_spark(
    run: _Run,
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
    from clv.spark import rfm_summary_spark, score_spark
    from clv.spark.rfm import summary_metadata

    opts = run.opts
    with _quiet_pyspark():
        with run.step("spark_session", "starting Spark"):
            spark = spark_session(opts.spark_master)
        with run.step("read", f"reading {opts.input} with Spark"):
            transactions = _read(spark, run, columns)
        with run.step("summarise", "summarising transactions per customer (Spark)"):
            summary = rfm_summary_spark(
                transactions,
                customer_id_col=columns["customer_col"],
                date_col=columns["date_col"],
                value_col=columns["value_col"],
                time_unit=bundle.time_unit,
                observation_end=end,
                drop_after=True,
            )
            meta = summary_metadata(summary)
        scores = score_spark(summary, bundle, horizon=horizon, discount_rate=discount_rate,
                             margin=margin)
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
    info = {
        "path": str(opts.input),
        "format": input_format(opts.input, opts.input_format),
        "engine": "spark",
        "spark_master": spark.sparkContext.master,
        "columns": columns,
        "n_rows": meta.get("n_rows"),
    }
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
