"""Scoring a Spark RFM summary with ``mapInPandas`` over a broadcast model document."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from clv.data.schema import CUSTOMER_ID, FREQUENCY, MONETARY_VALUE, PERIOD_DAYS, RECENCY, T
from clv.data.units import check_same_period, parse_time_unit, with_time_unit
from clv.models.registry import MODELS
from clv.scoring.tables import score_columns, score_table
from clv.spark._session import import_pyspark
from clv.value import DEFAULT_MARGIN, resolve_discount_rate

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["model_document", "models_from_document", "score_spark"]

_MODELS = {(e.module, e.name): e for e in MODELS}


def model_document(models: Any) -> dict[str, Any]:
    """The JSON-ready document of a model pair, as broadcast to the executors.

    Parameters
    ----------
    models : Bundle, tuple or TransactionModel
        A :class:`clv.scoring.bundle.Bundle` (``clv fit`` output read with
        :func:`clv.scoring.bundle.read_bundle`), a ``(transaction_model, spend_model)``
        pair (``spend_model`` may be ``None``) or a transaction model alone.

    Returns
    -------
    dict
        ``transaction_model`` and ``spend_model`` entries, each ``{"module",
        "class", "state"}`` with ``state`` the model's ``to_dict()`` (or
        ``None``), and ``time_unit``.
    """
    if hasattr(models, "transaction_model"):
        transaction_model, spend_model = models.transaction_model, models.spend_model
        time_unit = models.time_unit
    elif isinstance(models, tuple):
        transaction_model, spend_model = models
        time_unit = getattr(transaction_model, "time_unit_", None)
    else:
        transaction_model, spend_model = models, None
        time_unit = getattr(transaction_model, "time_unit_", None)
    return {
        "time_unit": time_unit,
        "transaction_model": _entry(transaction_model),
        "spend_model": None if spend_model is None else _entry(spend_model),
    }


def _entry(model: Any) -> dict[str, Any]:
    cls = type(model)
    if (cls.__module__, cls.__name__) not in _MODELS:
        raise TypeError(f"{cls.__name__} is not a clv model (clv.models.registry).")
    return {"module": cls.__module__, "class": cls.__name__, "state": model.to_dict()}


def models_from_document(document: Mapping[str, Any]) -> tuple[Any, Any]:
    """Rebuild ``(transaction_model, spend_model)`` from :func:`model_document` output."""

    def build(entry: Mapping[str, Any] | None) -> Any:
        if entry is None:
            return None
        key = (str(entry["module"]), str(entry["class"]))
        if key not in _MODELS:
            raise TypeError(
                f"refusing to load {key[1]!r} from module {key[0]!r}: not a clv "
                "model (clv.models.registry)."
            )
        cls = _MODELS[key].cls
        return cls.from_dict(entry["state"], source="the broadcast model document")

    return build(document["transaction_model"]), build(document.get("spend_model"))


def score_spark(
    summary: DataFrame,
    models: Any,
    *,
    horizon: int,
    annual_discount_rate: float | None = None,
    discount_rate_per_period: float | None = None,
    margin: float = DEFAULT_MARGIN,
    discount_rate: float | None = None,
) -> DataFrame:
    """Score every customer of a Spark RFM summary.

    Each partition is scored by :func:`clv.scoring.tables.score_table` (the code
    of ``clv score``) on executors that rebuild the models from a broadcast
    JSON document (:func:`model_document`; no pickled model objects). A
    customer's row depends only on their own RFM values, so the result does
    not depend on the partitioning.

    Parameters
    ----------
    summary : pyspark.sql.DataFrame
        Output of :func:`clv.spark.rfm_summary_spark` (or any DataFrame with
        ``customer_id``, ``frequency``, ``recency``, ``T`` [, ``monetary_value``]).
    models : Bundle, tuple or TransactionModel
        See :func:`model_document`. With a spend model the summary needs
        ``monetary_value``.
    horizon : int
        Periods of the models' time unit.
    annual_discount_rate : float, optional
        Annual discount rate (default 10 %), converted once to the models'
        period (see :func:`clv.value.resolve_discount_rate`).
    discount_rate_per_period : float, optional
        Discount rate per period of the models' time unit, used as is.
    margin : float
        Profit margin applied to spend.
    discount_rate : float, optional
        Deprecated name of ``discount_rate_per_period``.

    Returns
    -------
    pyspark.sql.DataFrame
        ``customer_id`` and the columns of ``clv score``'s output
        (:func:`clv.scoring.tables.score_columns`), unordered.

    Raises
    ------
    DataError
        If the summary's period (its ``T`` metadata) is not as long as the models'.
    ValueError
        If a column is missing.

    Examples
    --------
    >>> scores = score_spark(rfm, (bgnbd, gamma_gamma), horizon=52)  # doctest: +SKIP
    """
    import_pyspark()
    document = model_document(models)
    meta_unit = (
        (summary.schema[T].metadata or {}).get("time_unit") if T in summary.columns else None
    )
    model_unit = document["time_unit"]
    if meta_unit is not None and model_unit is not None:
        # the same check as the pandas path, on a one-row frame labelled with the summary's unit
        check_same_period(
            model_unit,
            with_time_unit(pd.DataFrame(index=[0]), meta_unit),
            model="the model",
            what="the Spark RFM summary",
        )
    rate = resolve_discount_rate(
        annual_discount_rate=annual_discount_rate,
        discount_rate_per_period=discount_rate_per_period,
        discount_rate=discount_rate,
        time_unit=model_unit or meta_unit,
    )
    with_spend = document["spend_model"] is not None
    with_value = MONETARY_VALUE in summary.columns
    needed = [CUSTOMER_ID, FREQUENCY, RECENCY, T] + ([MONETARY_VALUE] if with_spend else [])
    absent = [c for c in needed if c not in summary.columns]
    if absent:
        raise ValueError(
            f"the summary lacks the column(s) {absent}; use rfm_summary_spark"
            + (" with value_col=" if MONETARY_VALUE in absent else "")
            + "."
        )
    columns = score_columns(with_spend=with_spend, with_value=with_value)
    id_type = summary.schema[CUSTOMER_ID].dataType.simpleString()
    schema = ", ".join([f"`{CUSTOMER_ID}` {id_type}", *(f"`{c}` double" for c in columns)])
    rfm_columns = [c for c in (FREQUENCY, RECENCY, T, MONETARY_VALUE) if c in summary.columns]
    broadcast = summary.sparkSession.sparkContext.broadcast(document)
    n_periods, per_period, profit_share = int(horizon), rate.per_period, float(margin)
    unit = model_unit or meta_unit

    def score_partition(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        transaction_model, spend_model = models_from_document(broadcast.value)
        for batch in batches:
            if len(batch) == 0:
                continue
            rfm = batch.set_index(CUSTOMER_ID)[rfm_columns]
            if unit is not None:  # the period travels in the broadcast document
                rfm = rfm.assign(**{PERIOD_DAYS: parse_time_unit(unit).days})
            yield score_table(
                transaction_model,
                spend_model,
                rfm,
                horizon=n_periods,
                discount_rate=per_period,
                margin=profit_share,
            )[[CUSTOMER_ID, *columns]]

    return summary.select(CUSTOMER_ID, *rfm_columns).mapInPandas(score_partition, schema)
