"""Importing pyspark lazily, and a bounded local Spark session."""

from __future__ import annotations

import os
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["import_pyspark", "local_session"]

#: pyspark warns that it does not fully support pandas >= 3 on every Arrow conversion;
#: the conversions clv uses (numbers and string ids) are checked by its tests.
PANDAS_VERSION_WARNING = "PySpark does not yet fully support pandas"


def import_pyspark() -> ModuleType:
    """Return the ``pyspark.sql.functions`` module, or raise an ImportError that says what to do."""
    try:
        from pyspark.sql import functions
    except ImportError as exc:
        raise ImportError(
            'the Spark engine needs pyspark (>= 3.5) with pyarrow: `pip install "clv[spark]"` '
            "(and Java 17+ for a local session), or use the pandas engine."
        ) from exc
    return functions


def local_session(
    cores: int = 2, *, shuffle_partitions: int = 4, app_name: str = "clv", **conf: Any
) -> SparkSession:
    """Start (or reuse) a bounded local-mode Spark session.

    Parameters
    ----------
    cores : int
        Worker threads (``local[cores]``).
    shuffle_partitions : int
        ``spark.sql.shuffle.partitions`` (Spark's default of 200 is far too many
        for one machine).
    app_name : str
        Application name.
    **conf
        Further Spark settings, e.g. ``**{"spark.driver.memory": "4g"}``.

    Returns
    -------
    pyspark.sql.SparkSession
        With the web UI and console progress bar off, the session time zone
        UTC (dates are floored to days in this clock) and the Python workers
        running this interpreter (``PYSPARK_PYTHON``), so they import the same
        clv, NumPy and pandas.

    Examples
    --------
    >>> spark = local_session()  # doctest: +SKIP
    """
    import_pyspark()
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    settings = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        "spark.default.parallelism": str(cores),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        **{k: str(v) for k, v in conf.items()},
    }
    builder = SparkSession.builder.master(f"local[{cores}]").appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session
