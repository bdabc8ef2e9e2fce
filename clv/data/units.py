"""Period units as data: parse them, carry them in a column, check them, convert rates.

See :mod:`clv._units` for the rules (the code lives there so that models can
use it without importing the data layer).
"""

from clv._units import (
    DAYS_PER_YEAR,
    PERIOD_DAYS,
    TimeUnit,
    annual_rate,
    check_same_period,
    data_time_unit,
    in_unit_of,
    parse_time_unit,
    rate_per_period,
    resolve_time_unit,
    with_time_unit,
)

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
    "annual_rate",
]
