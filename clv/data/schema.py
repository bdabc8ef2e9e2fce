"""Column names, dtypes and attributes of the RFM frame (the data/model contract).

The RFM frame is indexed by ``customer_id`` and holds float64 columns
``frequency``, ``recency`` and ``T`` (plus ``monetary_value`` and ``weight`` when
present), measured in periods of ``attrs["time_unit"]``. See ARCHITECTURE §2.1
and ``docs/data.md``.

This module is imported by ``clv.models``; keep it free of heavy imports.
"""

from __future__ import annotations

from clv import _units

__all__ = [
    "CUSTOMER_ID",
    "FREQUENCY",
    "RECENCY",
    "T",
    "MONETARY_VALUE",
    "WEIGHT",
    "FREQUENCY_HOLDOUT",
    "MONETARY_VALUE_HOLDOUT",
    "DURATION_HOLDOUT",
    "RFM_COLUMNS",
    "RFM_DTYPE",
    "PERIOD_DAYS",
    "ATTR_TIME_UNIT",
    "ATTR_OBSERVATION_END",
    "ATTR_CALIBRATION_END",
    "MONETARY_VALUE_ALL",
    "N_PURCHASES",
    "LITT",
    "SUBDAY_TIME_UNITS",
    "TIME_UNITS",
]

#: Name of the index of every RFM frame.
CUSTOMER_ID = "customer_id"

#: Repeat purchases *x*: number of distinct purchase periods minus one.
FREQUENCY = "frequency"
#: Time of the last repeat purchase since the first, *t_x*, in periods.
RECENCY = "recency"
#: Customer age: first purchase to observation end, in periods.
T = "T"
#: Mean value of the repeat purchase periods, *m̄* (0 when frequency = 0).
MONETARY_VALUE = "monetary_value"
#: Number of identical customers a row stands for (compressed data).
WEIGHT = "weight"
#: Length of one period of ``recency`` and ``T`` in days (7.0 for weeks), the same on
#: every row: the time unit as data, which ``join``/``merge``/CSV cannot drop
#: (see :mod:`clv.data.units`).
PERIOD_DAYS = _units.PERIOD_DAYS

#: Distinct purchase periods in the holdout window.
FREQUENCY_HOLDOUT = "frequency_holdout"
#: Mean value of the holdout purchase periods (0 when none).
MONETARY_VALUE_HOLDOUT = "monetary_value_holdout"
#: Length of the holdout window in periods (the same for every customer).
DURATION_HOLDOUT = "duration_holdout"

#: Columns every RFM frame has.
RFM_COLUMNS: tuple[str, ...] = (FREQUENCY, RECENCY, T)
#: dtype of every RFM column.
RFM_DTYPE = "float64"

#: ``DataFrame.attrs`` key of the period unit (``"D"``, ``"W"``, ``"M"``, ``"Q"``, ``"Y"``).
ATTR_TIME_UNIT = _units.ATTR_TIME_UNIT
#: ``DataFrame.attrs`` key of the observation end (ISO 8601 string).
ATTR_OBSERVATION_END = "observation_end"
#: ``DataFrame.attrs`` key of the calibration end of a calibration/holdout frame (ISO string).
ATTR_CALIBRATION_END = "calibration_end"

#: Period units understood by :func:`clv.data.rfm_summary`, as pandas Period aliases:
#: day, week (Monday to Sunday, pandas ``W-SUN``), month, quarter, year.
TIME_UNITS: tuple[str, ...] = ("D", "W", "M", "Q", "Y")
#: Distinct purchase periods including the first (``frequency + 1``), with
#: ``rfm_summary(..., include_first_transaction=True)``.
N_PURCHASES = "n_purchases"
#: Mean total of all purchase periods, the first included (with ``include_first_transaction``).
MONETARY_VALUE_ALL = "monetary_value_all"
#: Sum of the log times between successive purchases, in periods (``rfm_summary(..., litt=True)``;
#: 0 without repeat purchases): what the CNBD-k models need to estimate their order k.
LITT = "litt"

#: Units below a day, understood by :func:`clv.data.rfm_summary` (pandas engine paths):
#: ``"h"``, the hour.
SUBDAY_TIME_UNITS: tuple[str, ...] = ("h",)
