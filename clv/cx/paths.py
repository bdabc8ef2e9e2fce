"""Per-period CX covariate paths in the layout of the time-varying models.

:func:`feature_paths` turns CX events into one row per customer and period
(customer id, period start, feature columns), ready for
:func:`clv.models.time_varying_data`: each customer's rows form a gap-free
grid from the period of the first purchase to the one containing
``observation_end``. A period's row is computed as of the period's start, from
the events **strictly before** it (a one-period lag: period ``t`` never sees
an event of ``t`` or later). Counts are turned into rates per period of
active time, so a long-standing customer is not "worse" for having had more
time to complain:

* ``count(s)`` and ``decayed_count(s)``: divided by the exposure, the time
  from the first purchase to the period start (within the window, if any), in
  periods, at least one period;
* values (``last``, ``mean``, ``rate``), NPS groups and flags: as computed by
  the builder (with its fitted fills and missing indicators).

A customer's own CX signals exist only while the customer is active (a
customer who left makes no contact), so they are not the exogenous
covariates the time-varying models assume: in a simulated regional outage
(``tests/cx/_dated_world.py``, dropout hazard x3 for 12 weeks) the customer's
last contact wait gives a coefficient about half the true one and values the
fix at 6.8k (90% interval 3.2k-10.1k) against a true 12.2k. The operational
unit's pooled signal (``group=``, e.g. the region's mean wait of the past
week) recovers it (14.0k, 11.1k-16.3k).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np
import pandas as pd

from clv.cx.features import FeatureBuilder
from clv.cx.schema import CUSTOMER_ID
from clv.exceptions import DataError, Problem

__all__ = ["feature_paths"]

_UNITS = {"D": pd.Timedelta(days=1), "W": pd.Timedelta(weeks=1)}
_RATE_KINDS = ("count", "decayed_count")


def feature_paths(
    builder: FeatureBuilder,
    events: pd.DataFrame | None,
    transactions: pd.DataFrame,
    customers: pd.DataFrame | None = None,
    *,
    observation_end: Any,
    time_unit: str = "W",
    anchor: Any = None,
    group: pd.Series | None = None,
    customer_id_col: str = "customer_id",
    date_col: str = "date",
    cov_date_col: str = "cov_date",
) -> pd.DataFrame:
    """CX features per customer and period, as of each period start (lagged, leakage-free).

    Parameters
    ----------
    builder : FeatureBuilder
        The features. An unfitted builder is fitted at ``observation_end``
        (its ``"mean"`` fills are then calibration-period constants); pass a
        fitted one to keep earlier fills. ``standardize=True`` is not
        supported (counts become rates here, after the builder).
    events : DataFrame or None
        Raw CX events (as for :meth:`FeatureBuilder.transform`).
    transactions : DataFrame
        Purchases (``customer_id_col``, ``date_col``): they give each
        customer's first purchase, hence the first period of the path.
        Purchases after ``observation_end`` are ignored.
    customers : DataFrame, optional
        Static attributes, when the builder uses them.
    observation_end : date-like
        End of the calibration period: the last row of every customer is the
        period containing the instant before it.
    time_unit : {"W", "D"}
        Period length.
    anchor : date-like, optional
        Start of one period of the common calendar grid (default: midnight of
        the earliest first purchase).
    group : Series, optional
        An operational unit per customer (region, store, vendor; index:
        customer id). The features are then computed on the pooled events of
        each unit and every member gets its unit's row: a signal of the
        service in force, which does not depend on whether the customer is
        still active (a customer's own signals stop when they leave, so they
        understate a dated change; see the module notes). Counts stay pooled
        counts (no per-customer exposure); the builder must not use customer
        attributes.
    customer_id_col, date_col, cov_date_col : str
        Column names of ``transactions`` and of the output.

    Returns
    -------
    DataFrame
        Columns ``customer_id_col``, ``cov_date_col`` (period start) and
        :attr:`FeatureBuilder.feature_names_`, sorted by customer and date;
        feed it to :func:`clv.models.time_varying_data` with the same
        ``observation_end`` and ``time_unit``.

    Examples
    --------
    >>> import clv.cx as cx
    >>> tx = pd.DataFrame({"customer_id": [1, 1, 2],
    ...                    "date": pd.to_datetime(["2024-01-01", "2024-01-20", "2024-01-10"])})
    >>> ev = pd.DataFrame({"customer_id": [1, 1], "signal": "complaint", "value": None,
    ...                    "timestamp": pd.to_datetime(["2024-01-03", "2024-01-08"])})
    >>> p = feature_paths(cx.FeatureBuilder([cx.count("complaint")]), ev, tx,
    ...                   observation_end="2024-01-29")
    >>> p[p.customer_id == 1]["complaint_count"].round(3).tolist()  # per week active
    [0.0, 1.0, 1.0, 0.667]
    """
    if time_unit not in _UNITS:
        raise DataError(
            [
                Problem(
                    None,
                    f"time_unit {time_unit!r} is not supported",
                    f"use one of {sorted(_UNITS)}",
                )
            ],
            what="the feature paths",
        )
    if builder.standardize:
        raise ValueError(
            "feature_paths needs a builder with standardize=False: counts become "
            "rates per active period after the builder."
        )
    for f in builder.features:
        if f.kind == "interaction" and any(_is_rate(builder, c) for c in f.inputs):
            raise ValueError(
                f"interaction {f.name!r} uses a count, which feature_paths turns "
                "into a rate; build the interaction from the paths instead."
            )
    unit = _UNITS[time_unit]
    end = pd.Timestamp(observation_end)
    missing = [c for c in (customer_id_col, date_col) if c not in transactions.columns]
    if missing:
        raise DataError(
            [
                Problem(c, "is missing from transactions", "add it or name the right column")
                for c in missing
            ],
            what="the feature paths",
        )
    dates = pd.to_datetime(transactions[date_col])
    if dates.isna().any():
        raise DataError(
            [Problem(date_col, "has missing dates", "drop or fill those rows")],
            what="the feature paths",
        )
    keep = (dates <= end).to_numpy()
    if not keep.any():
        raise DataError(
            [
                Problem(
                    date_col,
                    "has no purchase on or before observation_end",
                    "check observation_end",
                )
            ],
            what="the feature paths",
        )
    first: pd.Series[pd.Timestamp] = (
        pd.Series(dates.to_numpy()[keep], index=transactions[customer_id_col].to_numpy()[keep])
        .groupby(level=0)
        .min()
        .sort_index()
    )
    ids = pd.Index(first.index, name=CUSTOMER_ID)
    origin = pd.Timestamp(anchor) if anchor is not None else first.min().normalize()
    k_first = np.floor(((first - origin) / unit).to_numpy()).astype(np.int64)
    k_last = int(np.floor((end - pd.Timedelta(1, "ns") - origin) / unit))
    k0 = int(k_first.min())
    grid = [origin + k * unit for k in range(k0, k_last + 1)]
    if group is not None:
        return _group_paths(
            builder,
            events,
            group,
            ids,
            grid,
            first,
            k_first,
            origin,
            unit,
            end,
            customer_id_col,
            cov_date_col,
        )
    if builder.fitted_ is None:
        builder.fit(events, customers, cutoff=end, customer_ids=ids)
    X = builder.transform(events, customers, cutoff=grid, customer_ids=ids)
    cut = pd.DatetimeIndex(X.index.get_level_values("cutoff"))
    cust_pos = ids.get_indexer(X.index.get_level_values(CUSTOMER_ID))
    k = np.rint(((cut - origin) / unit).to_numpy()).astype(np.int64)
    inside = k >= k_first[cust_pos]
    X = X[inside]
    cut, cust_pos = cut[inside], cust_pos[inside]
    active = ((cut - pd.DatetimeIndex(first.to_numpy()[cust_pos])) / unit).to_numpy()
    out = X.reset_index(drop=True)
    for f in builder.features:
        if f.kind in _RATE_KINDS:
            exposure = active
            if f.window_days is not None:
                exposure = np.minimum(exposure, pd.Timedelta(days=f.window_days) / unit)
            out[f.name] = out[f.name].to_numpy() / np.maximum(exposure, 1.0)
    out.insert(0, cov_date_col, cut.to_numpy())
    out.insert(0, customer_id_col, ids.to_numpy()[cust_pos])
    return out.sort_values([customer_id_col, cov_date_col], kind="stable").reset_index(drop=True)


def _group_paths(
    builder: FeatureBuilder,
    events: pd.DataFrame | None,
    group: pd.Series,
    ids: pd.Index,
    grid: list[pd.Timestamp],
    first: pd.Series,
    k_first: np.ndarray,
    origin: pd.Timestamp,
    unit: pd.Timedelta,
    end: pd.Timestamp,
    customer_id_col: str,
    cov_date_col: str,
) -> pd.DataFrame:
    """Features of each unit's pooled events, broadcast to its members' period grids."""
    if builder.customers_categorical or builder.customers_numeric:
        raise ValueError(
            "group= needs a builder without customer attributes (the rows are "
            "computed per unit, not per customer)."
        )
    unit_of = group.reindex(ids)
    if unit_of.isna().any():
        raise DataError(
            [
                Problem(
                    "group",
                    "has no unit for some customers",
                    "give every customer with a purchase a unit",
                    list(ids[unit_of.isna().to_numpy()]),
                )
            ],
            what="the feature paths",
        )
    units = pd.Index(pd.unique(unit_of.to_numpy()), name=CUSTOMER_ID)
    pooled = None
    if events is not None:
        pooled = events.copy()
        col = builder.customer_id_col
        pooled[col] = pooled[col].map(group)
        pooled = pooled[pooled[col].notna()]
    if builder.fitted_ is None:
        builder.fit(pooled, None, cutoff=end, customer_ids=units)
    X = builder.transform(pooled, None, cutoff=grid, customer_ids=units)
    rows = []
    for pos, (cid, u) in enumerate(unit_of.items()):
        block = X.xs(u, level=CUSTOMER_ID).iloc[int(k_first[pos] - k_first.min()) :]
        id_value: dict[str, Any] = {customer_id_col: cid}
        rows.append(block.assign(**id_value))
    out = pd.concat(rows).rename_axis(cov_date_col).reset_index()
    out = out[[customer_id_col, cov_date_col, *X.columns]]
    return out.sort_values([customer_id_col, cov_date_col], kind="stable").reset_index(drop=True)


def _is_rate(builder: FeatureBuilder, column: Hashable) -> bool:
    return any(f.kind in _RATE_KINDS and f.name == column for f in builder.features)
