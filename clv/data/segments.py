"""RFM segmentation: quantile scores for recency, frequency and monetary value.

A descriptive tool, not a model: each customer gets a score 1..``n_bins`` per
dimension from the quantiles of that dimension across customers (higher is
better: more recent, more frequent, higher spend), the three digits as
``rfm_score``, and a named segment from rules on the scores (like
pymc-marketing's ``rfm_segments``).

The RFM frame's columns keep their meaning: "how long ago was the last
purchase" is its own column, ``periods_since_last_purchase = T - recency``
(ARCHITECTURE §2.1).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from clv.data.schema import FREQUENCY, MONETARY_VALUE, MONETARY_VALUE_ALL, RECENCY, T
from clv.exceptions import DataError, Problem

__all__ = ["DEFAULT_SEGMENTS", "PERIODS_SINCE_LAST_PURCHASE", "rfm_segments"]

#: Time from the last purchase to the end of observation, in the frame's periods.
PERIODS_SINCE_LAST_PURCHASE = "periods_since_last_purchase"

#: Segment rules for ``n_bins=4``: ``{name: {dimension: (lowest, highest) score}}``; the
#: first rule a customer meets names their segment, others are ``"Other"``.
DEFAULT_SEGMENTS: dict[str, dict[str, tuple[int, int]]] = {
    "Premium Customer": {"r": (3, 4), "f": (3, 4), "m": (3, 4)},
    "Repeat Customer": {"r": (3, 4), "f": (3, 4)},
    "Top Spender": {"r": (3, 4), "m": (3, 4)},
    "At-Risk Customer": {"r": (1, 2), "f": (3, 4)},
    "Inactive Customer": {"r": (1, 2), "f": (1, 2)},
}


def _scores(values: np.ndarray, n_bins: int) -> np.ndarray:
    """1 + the number of interior quantile edges strictly below each value (ties share a score)."""
    edges = np.quantile(values, np.arange(1, n_bins) / n_bins)
    return 1 + np.searchsorted(edges, values, side="left")


def rfm_segments(
    rfm: pd.DataFrame,
    *,
    n_bins: int = 4,
    segments: Mapping[str, Mapping[str, tuple[int, int]]] | None = None,
) -> pd.DataFrame:
    """Quantile RFM scores and named segments for each customer of an RFM frame.

    Parameters
    ----------
    rfm : DataFrame
        From :func:`clv.data.rfm_summary` (``frequency``, ``recency``, ``T``;
        ``monetary_value_all`` or ``monetary_value`` for the m score, if present).
        Not modified.
    n_bins : int, default 4
        Number of quantile bins (scores 1..n_bins).
    segments : mapping, optional
        Rules ``{name: {"r"|"f"|"m": (lowest, highest)}}``, checked in order;
        default :data:`DEFAULT_SEGMENTS` (written for 4 bins).

    Returns
    -------
    DataFrame
        Indexed like ``rfm``: ``periods_since_last_purchase``, ``r_score``,
        ``f_score``, [``m_score``], ``rfm_score`` (the digits as a string) and
        ``segment``.

    Notes
    -----
    Scores use the quantiles of the customers' values with ties kept together
    (a value equal to a quantile edge gets the lower score), so they do not
    depend on row order; the bins can be unequal when many customers share a
    value (e.g. the one-time buyers' frequency of 0). The m score uses the
    mean of all purchase periods (``monetary_value_all``, from
    ``rfm_summary(..., include_first_transaction=True)``) when present, so
    one-time buyers are scored on their first purchase rather than on 0.

    Examples
    --------
    >>> rfm = pd.DataFrame({"frequency": [0.0, 1, 5, 9], "recency": [0.0, 2, 30, 38],
    ...                     "T": [40.0, 40, 40, 40]}, index=pd.Index([1, 2, 3, 4], name="id"))
    >>> out = rfm_segments(rfm)
    >>> out[["r_score", "f_score", "rfm_score", "segment"]]  # doctest: +NORMALIZE_WHITESPACE
        r_score  f_score rfm_score            segment
    id
    1         1        1        11  Inactive Customer
    2         2        2        22  Inactive Customer
    3         3        3        33    Repeat Customer
    4         4        4        44    Repeat Customer
    """
    missing = [c for c in (FREQUENCY, RECENCY, T) if c not in rfm.columns]
    if missing:
        raise DataError(
            [
                Problem(c, "is required but missing", "pass the output of clv.data.rfm_summary")
                for c in missing
            ],
            what="the data passed to rfm_segments",
        )
    if not (isinstance(n_bins, int | np.integer) and 2 <= n_bins <= 9):
        raise ValueError(f"n_bins must be a whole number from 2 to 9, got {n_bins!r}.")
    if len(rfm) == 0:
        raise DataError(
            [Problem(None, "there are no customers", "pass a non-empty RFM frame")],
            what="the data passed to rfm_segments",
        )
    rules = DEFAULT_SEGMENTS if segments is None else segments
    since = rfm[T].to_numpy(dtype=np.float64) - rfm[RECENCY].to_numpy(dtype=np.float64)
    out = pd.DataFrame({PERIODS_SINCE_LAST_PURCHASE: since}, index=rfm.index)
    out["r_score"] = _scores(-since, n_bins)
    out["f_score"] = _scores(rfm[FREQUENCY].to_numpy(dtype=np.float64), n_bins)
    money = next((c for c in (MONETARY_VALUE_ALL, MONETARY_VALUE) if c in rfm.columns), None)
    dims = ["r", "f"]
    if money is not None:
        out["m_score"] = _scores(rfm[money].to_numpy(dtype=np.float64), n_bins)
        dims.append("m")
    out["rfm_score"] = [
        "".join(map(str, row)) for row in out[[f"{d}_score" for d in dims]].to_numpy()
    ]
    label = np.full(len(out), "Other", dtype=object)
    free = np.ones(len(out), dtype=bool)
    for name, rule in rules.items():
        unknown = set(rule) - {"r", "f", "m"}
        if unknown:
            raise ValueError(
                f"segment {name!r} has unknown dimension(s) {sorted(unknown)}; "
                "use 'r', 'f' and 'm'."
            )
        hit = free.copy()
        for dim, (lo, hi) in rule.items():
            if dim not in dims:
                hit[:] = False  # a rule on m cannot match without monetary values
                break
            score = out[f"{dim}_score"].to_numpy()
            hit &= (score >= lo) & (score <= hi)
        label[hit] = name
        free &= ~hit
    out["segment"] = label
    return out
