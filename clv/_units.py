"""Period units as data: parse them, carry them in a column, check them, convert rates.

Public as :mod:`clv.data.units`; the code lives here, without the data layer's
imports, so that models can use it.

A time unit is a string ``[<multiple>]<base>``: the base is ``"h"`` (hour),
``"D"`` (day), ``"W"`` (week), ``"M"`` (month), ``"Q"`` (quarter) or ``"Y"``
(year) and the optional multiple a positive number, so ``"7D"`` is a period of
seven days, ``"30D"`` a 30-day month and ``"0.5h"`` half an hour. Months,
quarters and years are calendar periods; their length is the mean Gregorian one
(365.2425 days a year), so 12 months, 4 quarters and 1 year all last one year.

The unit travels with the RFM data in the float64 column ``period_days`` (the
period length in days, the same on every row): a column survives ``join``,
``merge``, ``concat`` and CSV round trips, which drop ``DataFrame.attrs``.
``attrs["time_unit"]`` keeps the readable name for labels. Two units are the
same for a model when their periods have the same length (``"W"`` and ``"7D"``):
model parameters, horizons and per-period discount rates only depend on the
length. Data in a unit of another length is refused with a
:class:`~clv.exceptions.DataError` (rebuild the RFM frame in the model's unit),
never mixed.

Money rates face people as annual rates. :func:`rate_per_period` converts an
annual rate exactly, ``(1 + r) ** (period / year) - 1``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from clv.exceptions import DataError, Problem

__all__ = [
    "DAYS_PER_YEAR",
    "PERIOD_DAYS",
    "TimeUnit",
    "parse_time_unit",
    "data_time_unit",
    "with_time_unit",
    "in_unit_of",
    "resolve_time_unit",
    "check_same_period",
    "rate_per_period",
    "per_period_rate",
    "annual_rate",
]

#: Mean Gregorian year in days (400-year cycle).
DAYS_PER_YEAR = 365.2425
#: Column of the RFM frame with the period length in days (``clv.data.schema.PERIOD_DAYS``).
PERIOD_DAYS = "period_days"
#: ``DataFrame.attrs`` key of the unit's name (``clv.data.schema.ATTR_TIME_UNIT``).
ATTR_TIME_UNIT = "time_unit"

_BASE_DAYS: Mapping[str, float] = {
    "h": 1.0 / 24.0,
    "D": 1.0,
    "W": 7.0,
    "M": DAYS_PER_YEAR / 12.0,
    "Q": DAYS_PER_YEAR / 4.0,
    "Y": DAYS_PER_YEAR,
}
_BASE_NAMES = {"h": "hour", "D": "day", "W": "week", "M": "month", "Q": "quarter", "Y": "year"}
_ALIASES = {"W-SUN": "W", "A": "Y", "ME": "M", "QE": "Q", "YE": "Y"}
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)?\s*([A-Za-z-]+)\s*$")
#: relative tolerance when comparing period lengths (CSV round trips of floats are exact;
#: this only absorbs arithmetic like 7 * (1/24) * 24).
_RTOL = 1e-9


@dataclass(frozen=True)
class TimeUnit:
    """A period unit: its canonical name and its length in days.

    Attributes
    ----------
    name : str
        Canonical spelling, e.g. ``"W"``, ``"7D"``, ``"h"``.
    base : str
        Base unit: ``"h"``, ``"D"``, ``"W"``, ``"M"``, ``"Q"`` or ``"Y"``.
    multiple : float
        Number of base units in one period (1 for plain bases).
    days : float
        Length of one period in days.
    """

    name: str
    base: str
    multiple: float
    days: float

    @property
    def periods_per_year(self) -> float:
        """Number of periods in a mean Gregorian year (52.1775 for weeks, 12 for months)."""
        return DAYS_PER_YEAR / self.days

    @property
    def label(self) -> str:
        """Readable name of one period: ``"week"``, ``"7-day period"``, ``"month"`` ..."""
        word = _BASE_NAMES[self.base]
        if self.multiple == 1:
            return word
        return f"{self.multiple:.12g}-{word} period"

    def plural(self, n: float) -> str:
        """``"52 weeks"``, ``"1 month"``, ``"24 30-day periods"``."""
        label = self.label
        if n == 1:
            return f"{n:g} {label}"
        return f"{n:g} {label}s"

    def same_length(self, other: TimeUnit | float) -> bool:
        """Whether ``other`` (a unit or a length in days) has the same period length."""
        days = other.days if isinstance(other, TimeUnit) else float(other)
        return math.isclose(self.days, days, rel_tol=_RTOL)

    def __str__(self) -> str:
        return self.name


def parse_time_unit(value: Any) -> TimeUnit:
    """Parse a time unit ``[<multiple>]<base>``; raise ``ValueError`` naming the fix.

    Parameters
    ----------
    value : str or TimeUnit
        E.g. ``"W"``, ``"7D"``, ``"30D"``, ``"h"``, ``"M"``. pandas spellings
        ``"W-SUN"``, ``"ME"``, ``"A"`` are accepted.

    Returns
    -------
    TimeUnit

    Examples
    --------
    >>> parse_time_unit("W").days, parse_time_unit("7D").days, parse_time_unit("M").periods_per_year
    (7.0, 7.0, 12.0)
    >>> parse_time_unit("30D").label
    '30-day period'
    """
    if isinstance(value, TimeUnit):
        return value
    match = _PATTERN.match(value) if isinstance(value, str) else None
    base = None if match is None else _ALIASES.get(match.group(2), match.group(2))
    if match is None or base is None or base not in _BASE_DAYS:
        raise ValueError(
            f"time_unit={value!r} is not a period unit; use [<multiple>]<base> with base h "
            "(hour), D (day), W (week), M (month), Q (quarter) or Y (year), e.g. 'W', '7D', "
            "'30D', 'h'."
        )
    multiple = 1.0 if match.group(1) is None else float(match.group(1))
    if not (multiple > 0 and math.isfinite(multiple)):
        raise ValueError(f"time_unit={value!r}: the multiple must be a number > 0.")
    name = base if multiple == 1 else f"{multiple:.12g}{base}"
    return TimeUnit(name, base, multiple, multiple * _BASE_DAYS[base])


def _unit_from_days(days: float) -> TimeUnit:
    """The plainest unit of a period length in days (``7.0`` -> ``"W"``, ``3.0`` -> ``"3D"``)."""
    for base in ("D", "W", "M", "Q", "Y", "h"):
        if math.isclose(days, _BASE_DAYS[base], rel_tol=_RTOL):
            return parse_time_unit(base)
    if days >= 1 and math.isclose(days, round(days), rel_tol=_RTOL):
        return parse_time_unit(f"{round(days)}D")
    hours = days * 24
    if math.isclose(hours, round(hours), rel_tol=_RTOL) and round(hours) > 0:
        return parse_time_unit(f"{round(hours)}h")
    return parse_time_unit(f"{days!r}D")


def data_time_unit(data: pd.DataFrame, *, what: str = "the RFM data") -> TimeUnit | None:
    """The time unit an RFM frame carries: its ``period_days`` column, else ``attrs``.

    Parameters
    ----------
    data : pandas.DataFrame
        RFM frame.
    what : str
        How error messages name the frame.

    Returns
    -------
    TimeUnit or None
        ``None`` when the frame carries no unit.

    Raises
    ------
    DataError
        ``period_days`` is missing on some rows, not positive, or differs
        between rows (frames of different units were concatenated), or
        disagrees with ``attrs["time_unit"]``.

    Examples
    --------
    >>> rfm = with_time_unit(pd.DataFrame({"frequency": [1.0], "recency": [2.0], "T": [5.0]}), "W")
    >>> str(data_time_unit(rfm)), str(data_time_unit(rfm.drop(columns="period_days")))
    ('W', 'W')
    """
    attr = data.attrs.get(ATTR_TIME_UNIT) if isinstance(data.attrs, dict) else None
    attr_unit = None
    if attr is not None:
        try:
            attr_unit = parse_time_unit(attr)
        except ValueError:
            attr_unit = None
    if PERIOD_DAYS not in data.columns:
        return attr_unit
    col = pd.to_numeric(data[PERIOD_DAYS], errors="coerce").to_numpy(dtype=np.float64)
    if col.size == 0:
        return attr_unit
    bad = ~(np.isfinite(col) & (col > 0))
    if bad.any():
        raise DataError(
            [
                Problem(
                    PERIOD_DAYS,
                    f"is missing or not > 0 for {int(bad.sum())} rows",
                    "period_days is the period length in days of T and recency (7 for weeks); "
                    "rebuild the frame with clv.data.rfm_summary or clv.data.with_time_unit.",
                    list(data.index[bad][:5]),
                )
            ],
            what=what,
        )
    lo, hi = float(col.min()), float(col.max())
    if not math.isclose(lo, hi, rel_tol=_RTOL):
        raise DataError(
            [
                Problem(
                    PERIOD_DAYS,
                    f"mixes period lengths ({lo:g} and {hi:g} days): rows in "
                    "different time units were combined",
                    "summarise every customer with the same time_unit "
                    "(clv.data.rfm_summary(..., time_unit=...)) before combining frames.",
                )
            ],
            what=what,
        )
    if attr_unit is not None:
        if attr_unit.same_length(lo):
            return attr_unit
        raise DataError(
            [
                Problem(
                    PERIOD_DAYS,
                    f"says periods of {lo:g} days but attrs['time_unit'] says "
                    f"'{attr_unit}' ({attr_unit.days:g} days): recency and T were probably "
                    "rescaled by hand",
                    "build the frame in the unit you want (clv.data.rfm_summary(..., "
                    "time_unit='7D') for 7-day weeks, or time_scaler=), or relabel it with "
                    "clv.data.with_time_unit(rfm, unit).",
                )
            ],
            what=what,
        )
    return _unit_from_days(lo)


def with_time_unit(data: pd.DataFrame, time_unit: str | TimeUnit) -> pd.DataFrame:
    """A copy of ``data`` that carries ``time_unit`` (``period_days`` column and ``attrs``).

    Use it to label an RFM frame built by hand (simulations, CSV files from
    elsewhere) so that models and CLV functions can check its unit.

    Parameters
    ----------
    data : pandas.DataFrame
        RFM frame whose ``recency`` and ``T`` are in periods of ``time_unit``.
        Not modified.
    time_unit : str or TimeUnit
        E.g. ``"W"``, ``"7D"``, ``"M"``.

    Returns
    -------
    pandas.DataFrame

    Examples
    --------
    >>> with_time_unit(pd.DataFrame({"T": [3.0]}), "W")["period_days"].tolist()
    [7.0]
    """
    unit = parse_time_unit(time_unit)
    out = data.copy()
    out[PERIOD_DAYS] = np.float64(unit.days)
    out.attrs[ATTR_TIME_UNIT] = unit.name
    return out


def in_unit_of(data: pd.DataFrame, model: Any) -> pd.DataFrame:
    """Label a frame built for ``model`` (a grid, a hypothetical customer) with its unit.

    Returns ``data`` itself when the model has no ``time_unit_`` or the frame
    already carries a unit, else :func:`with_time_unit` of it.
    """
    unit = getattr(model, "time_unit_", None)
    if unit is None or data_time_unit(data) is not None:
        return data
    return with_time_unit(data, unit)


def resolve_time_unit(
    data: pd.DataFrame, time_unit: str | TimeUnit | None = None, *, what: str = "the RFM data"
) -> TimeUnit | None:
    """The unit of ``data``: the explicit ``time_unit=`` if given, checked against the frame's.

    Raises
    ------
    DataError
        ``time_unit`` disagrees with the frame's ``period_days``.
    """
    carried = data_time_unit(data, what=what)
    if time_unit is None:
        return carried
    try:
        given = parse_time_unit(time_unit)
    except ValueError as exc:
        raise DataError(
            [Problem(None, f"argument {exc}", "pass a valid time_unit=.")], what=what
        ) from None
    if carried is not None and not given.same_length(carried):
        raise DataError(
            [
                Problem(
                    PERIOD_DAYS,
                    f"says the data is in periods of {carried.days:g} days "
                    f"('{carried}') but time_unit={given.name!r} ({given.days:g} days) was passed",
                    "drop time_unit= (the frame knows its unit) or rebuild the frame with "
                    f"clv.data.rfm_summary(..., time_unit={given.name!r}).",
                )
            ],
            what=what,
        )
    return given


def check_same_period(
    model_unit: str | TimeUnit | None,
    data: pd.DataFrame,
    time_unit: str | TimeUnit | None = None,
    *,
    model: str = "the model",
    what: str = "the RFM data",
) -> TimeUnit | None:
    """Refuse data whose period length differs from the model's; return the common unit.

    Parameters
    ----------
    model_unit : str, TimeUnit or None
        Unit the model was fitted in (``model.time_unit_``).
    data : pandas.DataFrame
        RFM data to score.
    time_unit : str or TimeUnit, optional
        Explicit unit of ``data``; required when the frame carries none and
        the model has one.
    model, what : str
        Names for the messages.

    Returns
    -------
    TimeUnit or None
        The unit shared by model and data (``None`` when neither has one).

    Raises
    ------
    DataError
        Different period lengths, or a model with a unit and data without one.
    """
    data_unit = resolve_time_unit(data, time_unit, what=what)
    if model_unit is None:
        return data_unit
    fitted = parse_time_unit(model_unit)
    if data_unit is None:
        raise DataError(
            [
                Problem(
                    None,
                    f"carries no time unit (no '{PERIOD_DAYS}' column, no "
                    f"attrs['time_unit']) but {model} was fitted in periods of "
                    f"'{fitted}' ({fitted.days:g} days)",
                    "if recency and T are in that unit, label the frame with "
                    f"clv.data.with_time_unit(data, {fitted.name!r}) (CLV functions also take "
                    f"time_unit={fitted.name!r}); frames from clv.data.rfm_summary carry it.",
                )
            ],
            what=what,
        )
    if not fitted.same_length(data_unit):
        raise DataError(
            [
                Problem(
                    PERIOD_DAYS,
                    f"is {data_unit.days:g} days ('{data_unit}') but {model} was "
                    f"fitted in periods of {fitted.days:g} days ('{fitted}'); its parameters, "
                    "horizons and per-period rates are per model period",
                    f"rebuild the RFM frame with clv.data.rfm_summary(..., "
                    f"time_unit={fitted.name!r}), or refit the model on "
                    f"'{data_unit}' data.",
                )
            ],
            what=what,
        )
    return fitted


def rate_per_period(annual_rate: float, time_unit: str | TimeUnit) -> float:
    """Exact per-period equivalent of an annual rate: ``(1 + r) ** (period / year) - 1``.

    Parameters
    ----------
    annual_rate : float
        Effective annual rate, > -1 (0.10 for 10 % a year).
    time_unit : str or TimeUnit
        Period unit.

    Returns
    -------
    float

    Examples
    --------
    >>> round(rate_per_period(0.10, "M"), 8)
    0.00797414
    >>> round((1 + rate_per_period(0.10, "W")) ** 52.1775, 12)
    1.1
    """
    return per_period_rate(annual_rate, parse_time_unit(time_unit).periods_per_year)


def per_period_rate(annual_rate: float, periods_per_year: float) -> float:
    """``(1 + r) ** (1 / periods_per_year) - 1`` in log space: the one annual-to-period rule.

    Examples
    --------
    >>> round(per_period_rate(0.10, 12), 8)
    0.00797414
    """
    r, n = float(annual_rate), float(periods_per_year)
    if not (math.isfinite(r) and r > -1 and math.isfinite(n) and n > 0):
        raise ValueError(
            f"annual_rate must be a finite number > -1 and periods_per_year > 0, got "
            f"{annual_rate!r} and {periods_per_year!r}."
        )
    return math.expm1(math.log1p(r) / n)


def annual_rate(rate_per_period_: float, time_unit: str | TimeUnit) -> float:
    """Inverse of :func:`rate_per_period`: ``(1 + d) ** periods_per_year - 1``.

    Examples
    --------
    >>> round(annual_rate(rate_per_period(0.1, "W"), "W"), 12)
    0.1
    """
    unit = parse_time_unit(time_unit)
    return math.expm1(math.log1p(float(rate_per_period_)) * unit.periods_per_year)
