"""Apache Spark engine: RFM summaries and scoring of Spark DataFrames.

The same job as the pandas path, for transaction logs that live in a Spark
cluster (Parquet, Hive tables, ...):

- :func:`rfm_summary_spark` turns a transaction DataFrame into one RFM row per
  customer with Spark SQL, with the semantics of :func:`clv.data.rfm_summary`
  (same period codes, same-period purchases merged, repeat-period spend), after
  the pandas engine's data checks run as Spark aggregations (same
  ``DataError`` messages and ``DataWarning`` s; :mod:`clv.spark.checks`);
- :func:`score_spark` scores every customer with ``mapInPandas`` over a
  broadcast model document, running the very code of ``clv score``
  (:func:`clv.scoring.tables.score_table`) on each partition;
- :func:`local_session` starts a bounded local session for tests and small jobs.

pyspark is optional (``pip install "clv[spark]"``): it is imported only when
these functions run, never by ``import clv``.
"""

from __future__ import annotations

from clv.spark._session import local_session
from clv.spark.rfm import rfm_summary_spark
from clv.spark.score import model_document, score_spark

__all__ = ["local_session", "model_document", "rfm_summary_spark", "score_spark"]
