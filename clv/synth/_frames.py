"""The tables every simulated world returns: purchases and CX events on a calendar.

The worlds simulate in continuous time, in weeks since a start date ``t0``;
these helpers turn the simulated times into the timestamped tables the
analysis functions read, sorted by customer and time.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

__all__ = ["events_frame", "purchases_frame", "week_dates"]

_NS_PER_WEEK = 7 * 86_400 * 10**9

#: One kind of CX event: (customer positions, times in weeks, signal name, values).
EventPart = tuple[np.ndarray, np.ndarray, str, ArrayLike]


def week_dates(t0: pd.Timestamp, weeks: ArrayLike) -> np.ndarray:
    """Calendar timestamps (whole seconds) of times in weeks since ``t0``."""
    ns = np.floor(np.asarray(weeks) * _NS_PER_WEEK / 1e9).astype(np.int64) * 10**9
    return (t0.as_unit("ns").value + ns).view("datetime64[ns]")


def purchases_frame(
    ids: ArrayLike, t0: pd.Timestamp, who: np.ndarray, weeks: np.ndarray, value: np.ndarray
) -> pd.DataFrame:
    """Transactions ``customer_id, date, value`` (cents), sorted by customer and date.

    ``who`` holds positions in ``ids``; ``weeks`` and ``value`` go with ``who``.
    """
    order = np.lexsort((weeks, who))
    return pd.DataFrame(
        {
            "customer_id": np.asarray(ids)[who[order]],
            "date": week_dates(t0, weeks[order]),
            "value": np.round(value[order], 2),
        }
    )


def events_frame(
    ids: ArrayLike, t0: pd.Timestamp, parts: Sequence[EventPart], *, end: float | None = None
) -> pd.DataFrame:
    """CX events ``customer_id, timestamp, signal, value``, sorted by customer and time.

    Parameters
    ----------
    ids : array-like
        Customer ids; the parts hold positions in it.
    t0 : Timestamp
        Week 0.
    parts : sequence of (positions, weeks, signal, values)
        One entry per kind of event.
    end : float, optional
        Events at or after this week are dropped.
    """
    cust = np.concatenate([q[0] for q in parts])
    when = np.concatenate([q[1] for q in parts])
    signal = np.concatenate([np.full(q[0].size, q[2], dtype=object) for q in parts])
    value = np.concatenate([np.asarray(q[3], dtype=np.float64) for q in parts])
    if end is not None:
        keep = when < end
        cust, when, signal, value = cust[keep], when[keep], signal[keep], value[keep]
    order = np.lexsort((when, cust))
    return pd.DataFrame(
        {
            "customer_id": np.asarray(ids)[cust[order]],
            "timestamp": week_dates(t0, when[order]),
            "signal": signal[order],
            "value": value[order],
        }
    )
