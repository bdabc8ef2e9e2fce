"""The per-customer score table of ``clv score`` (shared by the pandas and Spark engines)."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["RFM_OUTPUT_COLUMNS", "score_columns", "score_table", "zero_value_repeat_buyers"]

logger = logging.getLogger("clv")

#: RFM columns copied into the score table, in this order (when present).
RFM_OUTPUT_COLUMNS = ("frequency", "recency", "T", "monetary_value")


def score_columns(with_spend: bool, with_value: bool) -> list[str]:
    """Names of the score table's columns after ``customer_id``.

    Examples
    --------
    >>> score_columns(with_spend=True, with_value=True)[-2:]
    ['expected_spend', 'clv']
    """
    rfm = [c for c in RFM_OUTPUT_COLUMNS if with_value or c != "monetary_value"]
    scores = ["probability_alive", "expected_purchases"]
    return rfm + scores + (["expected_spend", "clv"] if with_spend else [])


def zero_value_repeat_buyers(rfm: pd.DataFrame) -> np.ndarray:
    """Mask of repeat buyers with ``monetary_value == 0`` (only zero-value repeat purchases)."""
    if "monetary_value" not in rfm.columns:
        return np.zeros(len(rfm), dtype=bool)
    return ((rfm["frequency"] > 0) & (rfm["monetary_value"] <= 0)).to_numpy()


def score_table(
    transaction_model: Any,
    spend_model: Any,
    rfm: pd.DataFrame,
    *,
    horizon: int,
    discount_rate: float,
    margin: float,
) -> pd.DataFrame:
    """Score every customer of an RFM frame.

    Parameters
    ----------
    transaction_model : TransactionModel
        Fitted BG/NBD, MBG/NBD or Pareto/NBD.
    spend_model : GammaGammaModel or None
        Fitted spend model; without it only ``probability_alive`` and
        ``expected_purchases`` are scored.
    rfm : DataFrame
        RFM frame indexed by customer id (``frequency``, ``recency``, ``T`` and,
        with a spend model, ``monetary_value``).
    horizon : int
        Periods of the model's time unit.
    discount_rate, margin : float
        Discount rate per period and profit margin of the CLV.

    Returns
    -------
    DataFrame
        ``customer_id`` first, then :func:`score_columns` (float64), one row
        per row of ``rfm``, in its order. Each row depends only on that
        customer's RFM values, so scoring a frame in pieces gives the same rows.
    """
    from clv.value import customer_lifetime_value_table

    rfm_cols = [c for c in RFM_OUTPUT_COLUMNS if c in rfm.columns]
    if spend_model is not None:
        data = rfm  # zero-value repeat buyers are scored at m = 0, as by the API
        table = customer_lifetime_value_table(
            transaction_model,
            spend_model,
            data,
            horizon=horizon,
            discount_rate_per_period=discount_rate,
            margin=margin,
        )
        scores = table[["probability_alive", "expected_purchases", "expected_spend", "clv"]]
    else:
        scores = pd.DataFrame(
            {
                "probability_alive": transaction_model.probability_alive(rfm).to_numpy(),
                "expected_purchases": transaction_model.expected_purchases(
                    float(horizon), rfm
                ).to_numpy(),
            },
            index=rfm.index,
        )
    out = pd.concat([rfm[rfm_cols].astype(np.float64), scores], axis=1)
    out.index.name = "customer_id"
    return out.reset_index()
