"""Discount rates that face people: annual by default, converted once, per period by name.

Shared by :mod:`clv.value`, :mod:`clv.equity`, the CX/ROI job and the CLI
(public through :mod:`clv.value`). An annual rate :math:`r` becomes
:math:`d = (1 + r)^{\\text{period}/\\text{year}} - 1` per period of the data
(:func:`clv._units.rate_per_period`).
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass
from typing import Any

from clv._units import TimeUnit, annual_rate, parse_time_unit, rate_per_period
from clv.exceptions import ClvWarning, DataError, Problem

__all__ = [
    "DEFAULT_ANNUAL_DISCOUNT_RATE",
    "DEFAULT_MARGIN",
    "HIGH_DISCOUNT_RATE",
    "DiscountRate",
    "resolve_discount_rate",
]

#: Default discount rate, **annual** (10 % a year), for every API and CLI command.
DEFAULT_ANNUAL_DISCOUNT_RATE = 0.10
#: Default profit margin (1.0: CLV in revenue; pass the gross margin for profit).
DEFAULT_MARGIN = 1.0

#: discount rates per period above this probably are annual rates applied per week or month.
HIGH_DISCOUNT_RATE = 0.5


@dataclass(frozen=True)
class DiscountRate:
    """A discount rate resolved once: per period of the data, and annual when the unit is known.

    Attributes
    ----------
    per_period : float
        Rate per period of the RFM data, used in the discount factors.
    annual : float or None
        The same rate per mean Gregorian year (``None`` when the unit is unknown).
    time_unit : TimeUnit or None
        The period.
    given_as : str
        ``"annual_discount_rate"``, ``"discount_rate_per_period"`` or the default.
    """

    per_period: float
    annual: float | None
    time_unit: TimeUnit | None
    given_as: str

    def describe(self) -> str:
        """``"10 % a year = 0.1828 % per week"``."""
        label = self.time_unit.label if self.time_unit else "period"
        per = f"{100 * self.per_period:.4g} % per {label}"
        if self.annual is None:
            return per
        return f"{100 * self.annual:.4g} % a year = {per}"

    def as_record(self) -> dict[str, Any]:
        """JSON-ready fields for run records and reports."""
        return {
            "annual_discount_rate": self.annual,
            "discount_rate_per_period": self.per_period,
            "time_unit": None if self.time_unit is None else self.time_unit.name,
            "discount_rate_given_as": self.given_as,
        }


def _number(value: Any, name: str) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    f = float(value) if ok else float("nan")
    if not (math.isfinite(f) and f >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}.")
    return f


def resolve_discount_rate(
    *,
    annual_discount_rate: float | None = None,
    discount_rate_per_period: float | None = None,
    time_unit: TimeUnit | str | None = None,
    discount_rate: float | None = None,
    stacklevel: int = 2,
) -> DiscountRate:
    """Turn the rate arguments into one :class:`DiscountRate` (annual by default).

    Parameters
    ----------
    annual_discount_rate : float, optional
        Effective annual rate (0.10 for 10 % a year), converted exactly to
        ``(1 + r) ** (period / year) - 1``. Default
        :data:`DEFAULT_ANNUAL_DISCOUNT_RATE` when no rate is given.
    discount_rate_per_period : float, optional
        Rate per period of the data, used as is.
    time_unit : TimeUnit or str, optional
        Period of the data; needed to convert an annual rate.
    discount_rate : float, optional
        Deprecated name of ``discount_rate_per_period`` (a ``DeprecationWarning``
        says what the number is read as).
    stacklevel : int
        Warning stack level (of the public caller).

    Returns
    -------
    DiscountRate

    Raises
    ------
    ValueError
        Two rates at once, or a negative / non-finite rate.
    DataError
        An annual rate with no known period to convert it to.

    Examples
    --------
    >>> rate = resolve_discount_rate(annual_discount_rate=0.10, time_unit="M")
    >>> round(rate.per_period, 8), rate.describe()
    (0.00797414, '10 % a year = 0.7974 % per month')
    """
    unit = None if time_unit is None else _unit(time_unit)
    if discount_rate is not None:
        if discount_rate_per_period is not None or annual_discount_rate is not None:
            raise ValueError(
                "pass one of annual_discount_rate= and discount_rate_per_period= "
                "(discount_rate= is their deprecated predecessor)."
            )
        d = _number(discount_rate, "discount_rate")
        as_annual = "" if unit is None else f" (= {100 * annual_rate(d, unit):.4g} % a year)"
        warnings.warn(
            f"discount_rate= is deprecated and will be removed in the next release. "
            f"{d:g} is read as a rate PER PERIOD of the data ({unit.label if unit else 'period'})"
            f"{as_annual}; pass discount_rate_per_period={d:g} to keep this meaning, or "
            "annual_discount_rate= for an annual rate.",
            DeprecationWarning,
            stacklevel=stacklevel + 1,
        )
        discount_rate_per_period, given = d, "discount_rate (deprecated, per period)"
    elif discount_rate_per_period is not None:
        if annual_discount_rate is not None:
            raise ValueError(
                "pass either annual_discount_rate= or discount_rate_per_period=, not both."
            )
        given = "discount_rate_per_period"
    else:
        given = "annual_discount_rate"
        if annual_discount_rate is None:
            annual_discount_rate, given = DEFAULT_ANNUAL_DISCOUNT_RATE, "default annual rate"
    if discount_rate_per_period is not None:
        d = _number(discount_rate_per_period, "discount_rate_per_period")
        yearly = None if unit is None else annual_rate(d, unit)
        if d > HIGH_DISCOUNT_RATE:
            warnings.warn(
                f"discount_rate_per_period={d:g} is very high. It is applied per period of the "
                "data (e.g. per week for weekly RFM data); for an annual rate pass "
                "annual_discount_rate= instead.",
                ClvWarning,
                stacklevel=stacklevel + 1,
            )
        return DiscountRate(d, yearly, unit, given)
    r = _number(annual_discount_rate, "annual_discount_rate")
    if unit is None:
        raise DataError(
            [
                Problem(
                    None,
                    f"an annual discount rate ({r:g}) needs the period of the data, and "
                    "neither the RFM data (period_days column, attrs['time_unit']) nor the "
                    "model carries one",
                    "pass time_unit='W' (the unit of recency and T), label the frame with "
                    "clv.data.with_time_unit, or give discount_rate_per_period= instead.",
                )
            ],
            what="the discount rate",
        )
    return DiscountRate(rate_per_period(r, unit), r, unit, given)


def _unit(value: Any) -> TimeUnit:

    return parse_time_unit(value)
