"""Declarative CX features computed as of a cutoff, without leakage.

A feature is a small frozen spec (:func:`last`, :func:`mean`, :func:`rate`,
:func:`count`, :func:`decayed_count`, :func:`flag`, :func:`nps_groups`,
:func:`interaction`). :func:`features_as_of` is the pure core: it computes the
*raw* value of every feature for every customer at one or more cutoffs, from
the events **strictly before** each cutoff (an event at or after the cutoff
can never change a feature). Raw values are ``NaN`` where a value feature has
no event ("missing"); counts are 0.

:class:`FeatureBuilder` turns raw values into a numeric design: every value
feature gets a ``<name>_missing`` 0/1 indicator and a documented fill (the mean
fitted on the training customers, or a constant), categorical customer
attributes are one-hot encoded against a stored reference level, and
optional standardisation uses the fitted means and standard deviations. The
fitted state is reused unchanged by :meth:`FeatureBuilder.transform` and
serialised by :meth:`FeatureBuilder.to_dict`.

Output columns (stable, in this order)
--------------------------------------
=====================  ==============================================================
feature                columns
=====================  ==============================================================
``last(s)``            ``s_last``, ``s_last_missing``
``mean(s)``            ``s_mean``, ``s_mean_missing`` (window: ``s_mean_90d``, ...)
``rate(s)``            ``s_rate``, ``s_rate_missing``
``count(s)``           ``s_count`` (window: ``s_count_90d``)
``decayed_count(s)``   ``s_decayed_60d`` (half-life 60 days)
``flag(s)``            ``s_any`` (1 if at least one event)
``nps_groups()``       ``promoter``, ``detractor``, ``nps_missing``
``interaction(a, b)``  ``a_x_b``
customer categorical   ``col=level`` for every fitted level but the first (reference)
customer numeric       ``col`` (+ ``col_missing`` if values were missing at fit time)
=====================  ==============================================================

``name=`` overrides the first column's name (the indicator follows it).
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Self

import numpy as np
import pandas as pd

from clv.cx.schema import (
    CUSTOMER_ID,
    SIGNAL,
    TIMESTAMP,
    VALUE,
    validate_customers,
    validate_cx_events,
)
from clv.data.transactions import _parse_timestamp
from clv.exceptions import DataError, DataWarning, ModelFileError, NotFittedError, Problem
from clv.persistence import atomic_write

__all__ = [
    "Feature",
    "FeatureBuilder",
    "count",
    "decayed_count",
    "features_as_of",
    "flag",
    "interaction",
    "last",
    "mean",
    "nps_groups",
    "rate",
]

SCHEMA_VERSION = 1
_NS_PER_DAY = 86_400 * 10**9
_MISSING_LEVEL = "<missing>"
_VALUE_KINDS = ("last", "mean", "rate")


# =========================================================================== feature specs
@dataclass(frozen=True)
class Feature:
    """One declarative feature; build it with :func:`last`, :func:`mean`, ... rather than directly.

    Attributes
    ----------
    kind : str
        ``last``, ``mean``, ``rate``, ``count``, ``decayed_count``, ``flag``,
        ``nps_groups`` or ``interaction``.
    signal : str or None
        The event signal it reads (``None`` for interactions).
    name : str
        Name of its (first) output column.
    window_days : float or None
        Only events in ``[cutoff - window, cutoff)`` count.
    half_life_days : float or None
        Half-life of :func:`decayed_count`.
    scale : float
        Values are divided by ``scale`` (e.g. 60 turns seconds into minutes).
    fill : float or "mean"
        Value given to customers without an event ("mean": the mean fitted on
        the training customers that have one).
    indicator : bool
        Emit the ``<name>_missing`` column.
    inputs : tuple of str
        The two columns an interaction multiplies.
    groups : tuple of str
        The NPS groups emitted by :func:`nps_groups`.
    """

    kind: str
    signal: str | None
    name: str
    window_days: float | None = None
    half_life_days: float | None = None
    scale: float = 1.0
    fill: float | str = "mean"
    indicator: bool = True
    inputs: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    @property
    def missing_name(self) -> str:
        """Name of the missing indicator column."""
        if self.kind == "nps_groups":
            return f"{self.signal}_missing"
        return f"{self.name}_missing"

    def raw_columns(self) -> list[str]:
        """Columns produced by :func:`features_as_of` (before fills and indicators)."""
        if self.kind == "nps_groups":
            prefix = "" if self.signal == "nps" else f"{self.signal}_"
            return [f"{prefix}{g}" for g in self.groups]
        if self.kind == "interaction":
            return []
        return [self.name]

    def columns(self) -> list[str]:
        """Columns this feature adds to the builder's output."""
        if self.kind == "interaction":
            return [self.name]
        if self.kind == "nps_groups":
            return [*self.raw_columns(), self.missing_name]
        if self.kind in _VALUE_KINDS and self.indicator:
            return [self.name, self.missing_name]
        return [self.name]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        doc = asdict(self)
        doc["inputs"], doc["groups"] = list(self.inputs), list(self.groups)
        return doc

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Feature:
        """Inverse of :meth:`to_dict`."""
        kw = dict(doc)
        kw["inputs"], kw["groups"] = tuple(kw.get("inputs", ())), tuple(kw.get("groups", ()))
        return cls(**kw)


def _days(value: float | pd.Timedelta | None, what: str) -> float | None:
    if value is None:
        return None
    days = value / pd.Timedelta(days=1) if isinstance(value, pd.Timedelta) else float(value)
    if not math.isfinite(days) or days <= 0:
        raise ValueError(f"{what}={value!r} must be a positive number of days or a Timedelta.")
    return days


def _suffix(days: float | None) -> str:
    return "" if days is None else f"_{days:g}d"


def _check_fill(fill: float | str, indicator: bool, name: str) -> float | str:
    if isinstance(fill, str):
        if fill != "mean":
            raise ValueError(f"fill={fill!r} for {name!r}: use 'mean' or a number.")
        if not indicator:
            raise ValueError(
                f"{name!r}: indicator=False needs an explicit numeric fill (the value of "
                "customers without an event must be documented in the spec)."
            )
        return fill
    if not math.isfinite(float(fill)):
        raise ValueError(f"fill={fill!r} for {name!r} must be finite.")
    return float(fill)


def _value_feature(
    kind: str,
    signal: str,
    window: float | pd.Timedelta | None,
    scale: float,
    name: str | None,
    fill: float | str,
    indicator: bool,
) -> Feature:
    """A feature of the signal's values (``last``, ``mean``, ``rate``): may be missing."""
    w = _days(window, "window")
    nm = name or f"{signal}_{kind}{_suffix(w)}"
    return Feature(
        kind,
        signal,
        nm,
        window_days=w,
        scale=scale,
        fill=_check_fill(fill, indicator, nm),
        indicator=indicator,
    )


def last(
    signal: str,
    *,
    window: float | pd.Timedelta | None = None,
    scale: float = 1.0,
    name: str | None = None,
    fill: float | str = "mean",
    indicator: bool = True,
) -> Feature:
    """The customer's most recent value of ``signal`` before the cutoff (e.g. the last NPS).

    Ties (several events at the same latest timestamp) take the one that comes
    last in the event table. Customers without an event get ``fill`` and
    ``<name>_missing = 1``.

    Examples
    --------
    >>> last("nps").columns()
    ['nps_last', 'nps_last_missing']
    """
    return _value_feature("last", signal, window, float(scale), name, fill, indicator)


def mean(
    signal: str,
    *,
    window: float | pd.Timedelta | None = None,
    scale: float = 1.0,
    name: str | None = None,
    fill: float | str = "mean",
    indicator: bool = True,
) -> Feature:
    """Mean value of ``signal`` over the customer's events before the cutoff, divided by ``scale``.

    Examples
    --------
    >>> mean("contact_wait_seconds", scale=60, name="wait_minutes").columns()
    ['wait_minutes', 'wait_minutes_missing']
    """
    return _value_feature("mean", signal, window, float(scale), name, fill, indicator)


def rate(
    signal: str,
    *,
    window: float | pd.Timedelta | None = None,
    name: str | None = None,
    fill: float | str = "mean",
    indicator: bool = True,
) -> Feature:
    """Share of the customer's events of a 0/1 ``signal`` that are 1 (e.g. first-contact resolved).

    Examples
    --------
    >>> rate("contact_resolved_first", name="fcr_rate").columns()
    ['fcr_rate', 'fcr_rate_missing']
    """
    return _value_feature("rate", signal, window, 1.0, name, fill, indicator)


def count(
    signal: str, *, window: float | pd.Timedelta | None = None, name: str | None = None
) -> Feature:
    """Number of events of ``signal`` before the cutoff (in the last ``window`` days if given).

    A count of zero is a true value, so there is no missing indicator.

    Examples
    --------
    >>> count("complaint", window=90).columns()
    ['complaint_count_90d']
    """
    w = _days(window, "window")
    return Feature("count", signal, name or f"{signal}_count{_suffix(w)}", window_days=w)


def decayed_count(
    signal: str, *, half_life: float | pd.Timedelta, name: str | None = None
) -> Feature:
    r"""Exponentially decayed count :math:`\sum_k 2^{-(c - t_k)/h}` over events before the cutoff.

    :math:`c` is the cutoff, :math:`h` the half-life, ages in days: an event
    one half-life before the cutoff counts 1/2.

    Examples
    --------
    >>> decayed_count("complaint", half_life=60).columns()
    ['complaint_decayed_60d']
    """
    h = _days(half_life, "half_life")
    return Feature(
        "decayed_count", signal, name or f"{signal}_decayed{_suffix(h)}", half_life_days=h
    )


def flag(
    signal: str, *, window: float | pd.Timedelta | None = None, name: str | None = None
) -> Feature:
    """1 if the customer has at least one event of ``signal`` before the cutoff, else 0.

    Examples
    --------
    >>> flag("contact_wait_seconds", name="contacted").columns()
    ['contacted']
    """
    w = _days(window, "window")
    return Feature("flag", signal, name or f"{signal}_any{_suffix(w)}", window_days=w)


def nps_groups(
    signal: str = "nps",
    *,
    groups: Sequence[str] = ("promoter", "detractor"),
    window: float | pd.Timedelta | None = None,
) -> Feature:
    """Promoter (last NPS 9-10) and detractor (0-6) flags (passives: reference) and ``nps_missing``.

    Customers without an NPS answer get 0 in every group and
    ``nps_missing = 1``.

    Examples
    --------
    >>> nps_groups().columns()
    ['promoter', 'detractor', 'nps_missing']
    >>> nps_groups(groups=["promoter"]).columns()
    ['promoter', 'nps_missing']
    """
    groups = tuple(groups)
    unknown = [g for g in groups if g not in ("promoter", "detractor")]
    if unknown or not groups:
        raise ValueError(f"groups={list(groups)!r}: choose from 'promoter' and 'detractor'.")
    w = _days(window, "window")
    return Feature("nps_groups", signal, f"{signal}_groups", window_days=w, fill=0.0, groups=groups)


def interaction(a: str, b: str, *, name: str | None = None) -> Feature:
    """Product of two output columns (after their fills), e.g. ``contacted × wait_minutes``.

    Examples
    --------
    >>> interaction("contacted", "wait_minutes").columns()
    ['contacted_x_wait_minutes']
    """
    return Feature("interaction", None, name or f"{a}_x_{b}", inputs=(a, b))


# =========================================================================== pure core
@dataclass(frozen=True)
class _Events:
    """Validated events as arrays, grouped by signal and sorted by (customer, time, row)."""

    n_customers: int
    by_signal: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)


def _event_arrays(
    events: pd.DataFrame | None, customer_ids: pd.Index, signals: set[str]
) -> _Events:
    """Arrays of the events of ``signals`` for ``customer_ids`` (others are ignored)."""
    out = _Events(len(customer_ids))
    if events is None or len(events) == 0:
        return out
    sig_codes, names = pd.factorize(events[SIGNAL])
    wanted = np.flatnonzero(np.isin(np.asarray(names, dtype=object), list(signals)))
    keep = np.isin(sig_codes, wanted)
    codes = customer_ids.get_indexer(events[CUSTOMER_ID].to_numpy()[keep])
    t = events[TIMESTAMP].to_numpy()[keep].astype("datetime64[ns]").view(np.int64)
    v = events[VALUE].to_numpy(dtype=np.float64)[keep]
    sig = sig_codes[keep]
    known = codes >= 0
    codes, t, v, sig = codes[known], t[known], v[known], sig[known]
    order = np.lexsort((t, codes, sig))  # stable: ties keep the table's row order
    codes, t, v, sig = codes[order], t[order], v[order], sig[order]
    bounds = np.searchsorted(sig, wanted, side="left"), np.searchsorted(sig, wanted, side="right")
    for k, lo, hi in zip(wanted, *bounds, strict=True):
        if hi > lo:
            out.by_signal[str(names[k])] = (codes[lo:hi], t[lo:hi], v[lo:hi])
    return out


def _raw(ev: _Events, features: Sequence[Feature], cut: np.ndarray) -> dict[str, np.ndarray]:
    """Raw feature values for one per-customer cutoff vector ``cut`` (int64 ns)."""
    n = ev.n_customers
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    cols: dict[str, np.ndarray] = {}
    for f in features:
        if f.kind == "interaction" or f.signal is None:
            continue
        c, t, v = ev.by_signal.get(f.signal, empty)
        ct = cut[c]
        m = t < ct  # the leakage rule: strictly before the cutoff
        if f.window_days is not None:
            m &= t >= ct - round(f.window_days * _NS_PER_DAY)
        cm = c[m]
        k = np.bincount(cm, minlength=n).astype(np.float64)
        if f.kind == "count":
            cols[f.name] = k
        elif f.kind == "flag":
            cols[f.name] = (k > 0).astype(np.float64)
        elif f.kind == "decayed_count":
            age = (ct[m] - t[m]) / _NS_PER_DAY
            cols[f.name] = np.bincount(cm, np.exp2(-age / f.half_life_days), minlength=n)
        elif f.kind in ("mean", "rate"):
            total = np.bincount(cm, v[m], minlength=n)
            out = np.full(n, np.nan)
            np.divide(total, k, out=out, where=k > 0)
            cols[f.name] = out / f.scale
        else:  # last, nps_groups
            idx = np.flatnonzero(m)
            ends = idx[np.append(c[idx][1:] != c[idx][:-1], True)] if idx.size else idx
            value = np.full(n, np.nan)
            value[c[ends]] = v[ends]
            if f.kind == "last":
                cols[f.name] = value / f.scale
            else:
                seen = ~np.isnan(value)
                groups = {"promoter": value >= 9, "detractor": value <= 6}
                for g, col in zip(f.groups, f.raw_columns(), strict=True):
                    cols[col] = np.where(seen, groups[g].astype(np.float64), np.nan)
    return cols


def _cutoff_vectors(cutoffs: object, ids: pd.Index) -> tuple[list[np.ndarray], list[Any] | None]:
    """Per-customer cutoff vectors (int64 ns) and, for several cutoffs, their labels."""

    def one(value: object, what: str) -> pd.Timestamp:
        ts, problems = _parse_timestamp(value, name=what)
        if problems or ts is None:
            raise DataError(problems, what="the cutoff")
        return ts

    if isinstance(cutoffs, pd.Series):
        missing = ids.difference(cutoffs.index)
        if len(missing):
            raise DataError(
                [
                    Problem(
                        "cutoff",
                        f"has no cutoff for {len(missing)} customers",
                        "give a cutoff for every customer (a Series indexed by customer_id).",
                        list(missing),
                    )
                ],
                what="the cutoff",
            )
        per = pd.to_datetime(cutoffs.reindex(ids))
        if per.isna().any() or isinstance(per.dtype, pd.DatetimeTZDtype):
            raise DataError(
                "the per-customer cutoffs must be timezone-naive dates without NaT",
                what="the cutoff",
            )
        return [per.to_numpy().astype("datetime64[ns]").view(np.int64)], None
    if isinstance(cutoffs, str) or not isinstance(cutoffs, Sequence | np.ndarray | pd.Index):
        ts = one(cutoffs, "cutoff")
        return [np.full(len(ids), ts.as_unit("ns").value, dtype=np.int64)], None
    stamps = [one(c, "cutoffs") for c in cutoffs]
    vectors = [np.full(len(ids), ts.as_unit("ns").value, dtype=np.int64) for ts in stamps]
    return vectors, stamps


def features_as_of(
    events: pd.DataFrame | None,
    features: Sequence[Feature],
    cutoffs: object,
    *,
    customer_ids: Sequence[Hashable] | pd.Index,
) -> pd.DataFrame:
    """Raw feature values per customer as of one or several cutoffs (the pure core).

    Only events with ``timestamp < cutoff`` are used. Value features
    (:func:`last`, :func:`mean`, :func:`rate`, :func:`nps_groups`) are ``NaN``
    for customers without an event; counts are 0. Interactions are not
    computed here (they act on filled values; see :class:`FeatureBuilder`).

    Parameters
    ----------
    events : pandas.DataFrame or None
        Events as returned by :func:`~clv.cx.validate_cx_events` (canonical
        columns). Events of customers not in ``customer_ids`` are ignored.
    features : sequence of Feature
    cutoffs : date-like, sequence of date-like, or pandas.Series
        One cutoff for everybody; several cutoffs (one block of rows per
        cutoff, e.g. period starts for a time-varying model); or a Series of
        per-customer cutoffs indexed by customer id.
    customer_ids : sequence or pandas.Index
        Customers of the output rows, in order.

    Returns
    -------
    pandas.DataFrame
        float64 columns, indexed by ``customer_id`` (one cutoff or a Series) or
        by a ``(cutoff, customer_id)`` MultiIndex (a sequence of cutoffs).

    Examples
    --------
    >>> ev = validate_cx_events(pd.DataFrame({
    ...     "customer_id": [1, 1, 2], "signal": ["complaint"] * 3, "value": None,
    ...     "timestamp": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-01-15"])}))
    >>> features_as_of(ev, [count("complaint")], ["2024-01-20", "2024-03-01"],
    ...                customer_ids=[1, 2, 3])["complaint_count"].tolist()
    [1.0, 1.0, 0.0, 2.0, 1.0, 0.0]
    """
    ids = pd.Index(customer_ids, name=CUSTOMER_ID)
    if ids.has_duplicates:
        raise DataError(
            [
                Problem(
                    CUSTOMER_ID,
                    "customer_ids has repeated ids",
                    "pass each customer once.",
                    list(ids[ids.duplicated()]),
                )
            ],
            what="the customer ids",
        )
    signals = {f.signal for f in features if f.signal is not None}
    ev = _event_arrays(events, ids, signals)
    vectors, labels = _cutoff_vectors(cutoffs, ids)
    names = [c for f in features for c in f.raw_columns()]
    blocks = [
        pd.DataFrame(_raw(ev, features, cut), index=ids, columns=names, dtype=np.float64)
        for cut in vectors
    ]
    if labels is None:
        return blocks[0]
    return pd.concat(blocks, keys=labels, names=["cutoff", CUSTOMER_ID])


# =========================================================================== builder
class FeatureBuilder:
    """Fit-once, reuse-forever CX design: events + customer attributes -> numeric features.

    Parameters
    ----------
    features : sequence of Feature
        The declarative features, e.g. ``[last("nps"), count("complaint", window=90)]``.
    customers_categorical : sequence of str
        Customer attributes one-hot encoded: one ``col=level`` column per level
        seen at fit time except the first in sorted order (the reference).
        Missing values are the level ``"<missing>"``. Levels are compared as
        strings. A level not seen at fit time gets an all-zero row (like the
        reference) and a :class:`~clv.exceptions.DataWarning` naming it.
    customers_numeric : sequence of str
        Numeric customer attributes; missing values get the fitted mean and, if
        any were missing at fit time, a ``col_missing`` indicator.
    standardize : bool
        Centre and scale continuous columns (values, counts, numeric
        attributes, interactions; not indicators, flags or dummies) by the
        fitted mean and standard deviation. A fill of "mean" then becomes 0.
    customer_id_col, timestamp_col, signal_col, value_col : str
        Column names of the event table (and the id column of ``customers``).

    Notes
    -----
    Fills: ``fill="mean"`` uses the mean of the raw values of the customers
    with an event at fit time (0 with a warning if none has one); a number is
    used as given. Every filled value feature has a ``<name>_missing``
    indicator unless ``indicator=False`` was chosen explicitly together with a
    numeric fill (e.g. when another column already carries the same
    missingness).

    Examples
    --------
    >>> import clv.cx as cx
    >>> ev = pd.DataFrame({"customer_id": [1, 1, 2], "signal": ["nps", "complaint", "nps"],
    ...                    "timestamp": ["2024-01-05", "2024-01-06", "2024-03-01"],
    ...                    "value": [10, None, 3]})
    >>> customers = pd.DataFrame({"customer_id": [1, 2, 3], "channel": ["web", "store", "web"]})
    >>> fb = cx.FeatureBuilder([cx.last("nps"), cx.count("complaint"), cx.nps_groups()],
    ...                        customers_categorical=["channel"])
    >>> X = fb.fit_transform(ev, customers, cutoff="2024-02-01")
    >>> fb.feature_names_
    ['nps_last', 'nps_last_missing', 'complaint_count', 'promoter', 'detractor', 'nps_missing', 'channel=web']
    >>> X.loc[2].tolist()  # NPS after the cutoff is not used: missing, filled with the fitted mean
    [10.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    """  # noqa: E501

    def __init__(
        self,
        features: Sequence[Feature],
        *,
        customers_categorical: Sequence[str] = (),
        customers_numeric: Sequence[str] = (),
        standardize: bool = False,
        customer_id_col: str = CUSTOMER_ID,
        timestamp_col: str = TIMESTAMP,
        signal_col: str = SIGNAL,
        value_col: str = VALUE,
    ) -> None:
        self.features = tuple(features)
        self.customers_categorical = tuple(customers_categorical)
        self.customers_numeric = tuple(customers_numeric)
        self.standardize = standardize
        self.customer_id_col = customer_id_col
        self.timestamp_col = timestamp_col
        self.signal_col = signal_col
        self.value_col = value_col
        self._check_spec()
        self.fitted_: dict[str, Any] | None = None

    # ------------------------------------------------------------------ spec
    def _check_spec(self) -> None:
        seen: list[str] = []
        for f in self.features:
            if not isinstance(f, Feature):
                raise TypeError(f"features must be Feature specs (cx.last(...), ...), got {f!r}.")
            if f.kind == "interaction":
                unknown = [c for c in f.inputs if c not in seen]
                if unknown:
                    raise ValueError(
                        f"interaction {f.name!r} uses {unknown}, which are not columns of the "
                        f"features listed before it ({seen})."
                    )
            seen.extend(f.columns())
        both = set(self.customers_categorical) & set(self.customers_numeric)
        if both:
            raise ValueError(f"columns {sorted(both)} are both categorical and numeric.")
        seen.extend(self.customers_categorical)
        seen.extend(self.customers_numeric)
        repeated = sorted({c for c in seen if seen.count(c) > 1})
        if repeated:
            raise ValueError(f"feature names {repeated} are used twice; pass name= to rename.")

    # ------------------------------------------------------------------ fit/transform
    def fit(
        self,
        events: pd.DataFrame | None,
        customers: pd.DataFrame | None = None,
        *,
        cutoff: object,
        customer_ids: Sequence[Hashable] | pd.Index | None = None,
    ) -> Self:
        """Compute the features at ``cutoff`` and store the fills, categories and scaling."""
        self.fit_transform(events, customers, cutoff=cutoff, customer_ids=customer_ids)
        return self

    def fit_transform(
        self,
        events: pd.DataFrame | None,
        customers: pd.DataFrame | None = None,
        *,
        cutoff: object,
        customer_ids: Sequence[Hashable] | pd.Index | None = None,
    ) -> pd.DataFrame:
        """Fit on these data and return their features (see :meth:`transform`)."""
        raw, attrs = self._inputs(events, customers, cutoff, customer_ids)
        fitted: dict[str, Any] = {"fills": {}, "categories": {}, "numeric": {}, "scaling": {}}
        for f in self.features:
            if f.kind in _VALUE_KINDS:
                fitted["fills"][f.name] = self._fit_fill(f, raw[f.name])
        for col in self.customers_categorical:
            fitted["categories"][col] = sorted(pd.unique(_levels(attrs[col])).tolist())
        for col in self.customers_numeric:
            x = attrs[col].to_numpy(dtype=np.float64, na_value=np.nan)
            ok = np.isfinite(x)
            fitted["numeric"][col] = {
                "fill": float(x[ok].mean()) if ok.any() else 0.0,
                "indicator": bool((~ok).any()),
            }
        self.fitted_ = fitted
        out = self._encode(raw, attrs, scale=False)
        if self.standardize:
            for col in self._continuous(out.columns):
                x = out[col].to_numpy()
                sd = float(x.std())
                fitted["scaling"][col] = [float(x.mean()), sd if sd > 0 else 1.0]
            out = self._scale(out)
        fitted["feature_names"] = list(out.columns)
        return out

    def transform(
        self,
        events: pd.DataFrame | None,
        customers: pd.DataFrame | None = None,
        *,
        cutoff: object,
        customer_ids: Sequence[Hashable] | pd.Index | None = None,
    ) -> pd.DataFrame:
        """Features as of ``cutoff`` with the fitted fills, categories and scaling.

        Parameters
        ----------
        events : pandas.DataFrame or None
            Raw CX events (validated with :func:`~clv.cx.validate_cx_events`);
            ``None`` when there are none.
        customers : pandas.DataFrame, optional
            Static attributes (validated with :func:`~clv.cx.validate_customers`);
            required when the builder uses customer attributes.
        cutoff : date-like, sequence of date-like or pandas.Series
            See :func:`features_as_of`.
        customer_ids : sequence, optional
            Output rows; default: the customers' ids in table order.

        Returns
        -------
        pandas.DataFrame
            float64 columns :attr:`feature_names_`, one row per customer (and cutoff).
        """
        if self.fitted_ is None:
            raise NotFittedError("call fit() or fit_transform() before transform().")
        raw, attrs = self._inputs(events, customers, cutoff, customer_ids)
        out = self._encode(raw, attrs, scale=True)
        return out

    @property
    def feature_names_(self) -> list[str]:
        """Output column names, in order (set by fit)."""
        if self.fitted_ is None:
            raise NotFittedError("feature_names_ is set by fit().")
        return list(self.fitted_["feature_names"])

    # ------------------------------------------------------------------ internals
    def _inputs(
        self,
        events: pd.DataFrame | None,
        customers: pd.DataFrame | None,
        cutoff: object,
        customer_ids: Sequence[Hashable] | pd.Index | None,
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        uses_attrs = bool(self.customers_categorical or self.customers_numeric)
        table = None
        if customers is not None:
            table = validate_customers(customers, customer_id_col=self.customer_id_col)
        elif uses_attrs:
            raise DataError(
                "the builder uses customer attributes; pass customers=", what="the customers"
            )
        if customer_ids is not None:
            ids = pd.Index(customer_ids, name=CUSTOMER_ID)
        elif table is not None:
            ids = table.frame.index
        else:
            raise DataError(
                [
                    Problem(
                        None,
                        "no customers to compute features for",
                        "pass customers= (a table) or customer_ids=.",
                    )
                ],
                what="the customers",
            )
        valid = None
        if events is not None:
            valid = validate_cx_events(
                events,
                customer_id_col=self.customer_id_col,
                timestamp_col=self.timestamp_col,
                signal_col=self.signal_col,
                value_col=self.value_col,
            )
            self._check_rates(valid)
        raw = features_as_of(valid, self.features, cutoff, customer_ids=ids)
        attrs = pd.DataFrame(index=ids)
        if table is not None and uses_attrs:
            attrs = self._attributes(table.frame, table.numeric, ids)
        if isinstance(raw.index, pd.MultiIndex):
            attrs = attrs.reindex(raw.index.get_level_values(CUSTOMER_ID))
            attrs.index = raw.index
        return raw, attrs

    def _check_rates(self, events: pd.DataFrame) -> None:
        problems = []
        for f in self.features:
            if f.kind != "rate":
                continue
            m = (events[SIGNAL] == f.signal).to_numpy()
            v = events[VALUE].to_numpy()[m]
            bad = (v != 0) & (v != 1)
            if bad.any():
                problems.append(
                    Problem(
                        self.value_col,
                        f"is not 0/1 for signal {f.signal!r}, used by rate feature {f.name!r}",
                        "use mean() for non-binary signals, or recode to 0/1.",
                        list(events.index[m][bad]),
                    )
                )
        if problems:
            raise DataError(problems, what="the CX events")

    def _attributes(
        self, frame: pd.DataFrame, numeric: tuple[str, ...], ids: pd.Index
    ) -> pd.DataFrame:
        problems = []
        wanted = [*self.customers_categorical, *self.customers_numeric]
        absent = [c for c in wanted if c not in frame.columns]
        for c in absent:
            problems.append(
                Problem(
                    c,
                    "is not a column of customers",
                    f"add it, or remove it from the builder (columns: "
                    f"{list(map(str, frame.columns))}).",
                )
            )
        for c in self.customers_numeric:
            if c in frame.columns and c not in numeric:
                problems.append(
                    Problem(
                        c,
                        f"is not numeric (dtype {frame[c].dtype})",
                        "convert it with pd.to_numeric, or list it in customers_categorical.",
                    )
                )
        unknown = ids.difference(frame.index)
        if len(unknown):
            problems.append(
                Problem(
                    CUSTOMER_ID,
                    f"has {len(unknown)} customers without a row in customers",
                    "add their attributes (use NaN for unknown "
                    "values), or drop them from customer_ids.",
                    list(unknown),
                )
            )
        if problems:
            raise DataError(problems, what="the customers")
        return frame.loc[ids, wanted]

    def _fit_fill(self, f: Feature, raw: pd.Series) -> float:
        if f.fill != "mean":
            return float(f.fill)
        x = raw.to_numpy()
        ok = ~np.isnan(x)
        if not ok.any():
            warnings.warn(
                f"no customer has a value for {f.name!r} at fit time; its fill "
                "is 0.0 (check the signal name and the cutoff).",
                DataWarning,
                stacklevel=4,
            )
            return 0.0
        return float(x[ok].mean())

    def _encode(self, raw: pd.DataFrame, attrs: pd.DataFrame, *, scale: bool) -> pd.DataFrame:
        fitted = self.fitted_
        if fitted is None:  # pragma: no cover - callers check
            raise NotFittedError("not fitted")
        cols: dict[str, np.ndarray] = {}
        for f in self.features:
            if f.kind in _VALUE_KINDS:
                x = raw[f.name].to_numpy()
                miss = np.isnan(x)
                cols[f.name] = np.where(miss, fitted["fills"][f.name], x)
                if f.indicator:
                    cols[f.missing_name] = miss.astype(np.float64)
            elif f.kind == "nps_groups":
                names = f.raw_columns()
                miss = np.isnan(raw[names[0]].to_numpy())
                for c in names:
                    cols[c] = np.nan_to_num(raw[c].to_numpy(), nan=0.0)
                cols[f.missing_name] = miss.astype(np.float64)
            elif f.kind == "interaction":
                a, b = f.inputs
                cols[f.name] = cols[a] * cols[b]
            else:
                cols[f.name] = raw[f.name].to_numpy()
        for col in self.customers_categorical:
            levels = fitted["categories"][col]
            values = _levels(attrs[col])
            unseen = ~np.isin(values, levels)
            if unseen.any():
                warnings.warn(
                    f"customer attribute {col!r} has levels not seen at fit time "
                    f"({sorted(set(values[unseen]))[:5]}) for {int(unseen.sum())} rows "
                    f"(e.g. customer_id {list(pd.unique(_ids(attrs)[unseen]))[:5]}); they get "
                    f"all-zero dummies, like the reference level {levels[0] if levels else None!r}."
                    " Refit the builder to learn them.",
                    DataWarning,
                    stacklevel=4,
                )
            for level in levels[1:]:
                cols[f"{col}={level}"] = (values == level).astype(np.float64)
        for col in self.customers_numeric:
            spec = fitted["numeric"][col]
            x = attrs[col].to_numpy(dtype=np.float64, na_value=np.nan)
            miss = ~np.isfinite(x)
            if miss.any() and not spec["indicator"]:
                warnings.warn(
                    f"customer attribute {col!r} is missing for {int(miss.sum())} rows; no value "
                    f"was missing at fit time, so they get the fitted mean {spec['fill']:g} "
                    "without an indicator column. Refit the builder on data with missing "
                    "values to get one.",
                    DataWarning,
                    stacklevel=4,
                )
            cols[col] = np.where(miss, spec["fill"], x)
            if spec["indicator"]:
                cols[f"{col}_missing"] = miss.astype(np.float64)
        out = pd.DataFrame(cols, index=raw.index, dtype=np.float64)
        if scale and fitted.get("feature_names") is not None:
            out = self._scale(out)[fitted["feature_names"]]
        return out

    def _continuous(self, columns: pd.Index) -> list[str]:
        binary = set()
        for f in self.features:
            if f.kind == "flag" or f.kind == "nps_groups":
                binary.update(f.columns())
            elif f.kind in _VALUE_KINDS and f.indicator:
                binary.add(f.missing_name)
        binary.update(c for c in columns if "=" in c)
        binary.update(f"{c}_missing" for c in self.customers_numeric)
        return [c for c in columns if c not in binary]

    def _scale(self, out: pd.DataFrame) -> pd.DataFrame:
        fitted = self.fitted_
        if fitted is None:  # pragma: no cover
            raise NotFittedError("not fitted")
        out = out.copy()
        for col, (mu, sd) in fitted["scaling"].items():
            out[col] = (out[col] - mu) / sd
        return out

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable spec and fitted state (``schema_version`` 1)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": "FeatureBuilder",
            "features": [f.to_dict() for f in self.features],
            "customers_categorical": list(self.customers_categorical),
            "customers_numeric": list(self.customers_numeric),
            "standardize": self.standardize,
            "columns": {
                "customer_id": self.customer_id_col,
                "timestamp": self.timestamp_col,
                "signal": self.signal_col,
                "value": self.value_col,
            },
            "fitted": self.fitted_,
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Self:
        """Rebuild a builder (fitted or not) from :meth:`to_dict` output."""
        if not isinstance(doc, Mapping) or doc.get("kind") != "FeatureBuilder":
            raise ModelFileError("not a FeatureBuilder document (no kind='FeatureBuilder').")
        if doc.get("schema_version") != SCHEMA_VERSION:
            raise ModelFileError(
                f"FeatureBuilder schema_version {doc.get('schema_version')!r} is not supported "
                f"(this clv reads {SCHEMA_VERSION}); upgrade clv or refit the builder."
            )
        try:
            cols = doc["columns"]
            fb = cls(
                [Feature.from_dict(f) for f in doc["features"]],
                customers_categorical=doc["customers_categorical"],
                customers_numeric=doc["customers_numeric"],
                standardize=doc["standardize"],
                customer_id_col=cols["customer_id"],
                timestamp_col=cols["timestamp"],
                signal_col=cols["signal"],
                value_col=cols["value"],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"invalid FeatureBuilder document: {exc!r}") from None
        fb.fitted_ = json.loads(json.dumps(doc["fitted"])) if doc["fitted"] is not None else None
        return fb

    def to_json(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_dict` to ``path`` atomically."""
        with atomic_write(path) as fh:
            json.dump(self.to_dict(), fh, indent=2)
            fh.write("\n")

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> Self:
        """Read a builder written by :meth:`to_json`."""
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelFileError(f"cannot read FeatureBuilder file {path!s}: {exc}") from None
        return cls.from_dict(doc)

    def __repr__(self) -> str:
        state = f"fitted, {len(self.feature_names_)} columns" if self.fitted_ else "not fitted"
        return f"<FeatureBuilder {[f.name for f in self.features]} ({state})>"


def _levels(col: pd.Series) -> np.ndarray:
    """Categorical values as strings, missing values as the level ``"<missing>"``."""
    obj = col.astype(object)
    return np.array([_MISSING_LEVEL if pd.isna(v) else str(v) for v in obj], dtype=object)


def _ids(frame: pd.DataFrame) -> np.ndarray:
    idx = frame.index
    if isinstance(idx, pd.MultiIndex):
        return np.asarray(idx.get_level_values(CUSTOMER_ID))
    return np.asarray(idx)
