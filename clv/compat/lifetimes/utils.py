"""lifetimes' ``utils`` functions on clv's data layer.

``summary_data_from_transaction_data`` and ``calibration_and_holdout_data``
call :func:`clv.data.rfm_summary` / :func:`clv.data.calibration_holdout_split`
and rename the result to lifetimes' layout (index named after the customer
column, ``*_cal`` columns, ``freq_multiplier``). Like lifetimes, transactions
after ``observation_period_end`` are dropped silently (clv's functions refuse
them). ``freq`` accepts the periods clv supports: ``"D"``, ``"W"``, ``"M"``,
``"Q"``, ``"Y"`` (``"A"``), ``"h"``. Months, quarters and years are counted in whole
periods; lifetimes divides their day counts by NumPy's average month (see
``docs/migration_lifetimes.md``).
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable
from typing import Any

import numpy as np
import pandas as pd

from clv.data.rfm import calibration_holdout_split, rfm_summary
from clv.data.transactions import period_codes
from clv.exceptions import DataWarning
from clv.models.tracking import expected_cumulative_transactions as _cumulative

__all__ = [
    "_customer_lifetime_value",
    "calculate_alive_path",
    "calibration_and_holdout_data",
    "customer_lifetime_value",
    "expected_cumulative_transactions",
    "summary_data_from_transaction_data",
]

_FREQ = {
    "D": "D",
    "W": "W",
    "W-SUN": "W",
    "M": "M",
    "MS": "M",
    "ME": "M",
    "Q": "Q",
    "QS": "Q",
    "QE": "Q",
    "Y": "Y",
    "A": "Y",
    "YS": "Y",
    "YE": "Y",
    "h": "h",
    "H": "h",
}
#: months per step of lifetimes' CLV sum (lifetimes' `factor`), by the model's period
_CLV_FACTOR = {"W": 4.345, "M": 1.0, "D": 30.0, "H": 30.0 * 24.0}


def _time_unit(freq: str) -> str:
    if freq not in _FREQ:
        raise ValueError(
            f"freq={freq!r} is not supported by clv.compat.lifetimes; use one of "
            "'D', 'W', 'M', 'Q', 'Y' or 'h'."
        )
    return _FREQ[freq]


def _dates(values: Any, datetime_format: str | None) -> pd.Series:
    values = pd.Series(values)
    if datetime_format is not None and pd.api.types.is_numeric_dtype(values):
        values = values.astype(str)  # e.g. CDNOW's 19970101 with format "%Y%m%d"
    return pd.Series(pd.to_datetime(values, format=datetime_format))


def _end(value: Any, datetime_format: str | None) -> pd.Timestamp:
    if isinstance(value, pd.Period):
        return value.start_time  # lifetimes: Period.to_timestamp()
    return pd.Timestamp(pd.to_datetime(value, format=datetime_format))


def _within(
    transactions: pd.DataFrame,
    datetime_col: Hashable,
    dates: pd.Series,
    end: pd.Timestamp,
    unit: str,
) -> tuple[pd.DataFrame, pd.Timestamp]:
    """Rows up to ``end``'s period (lifetimes' truncation) and the end clv should be given."""
    end_code = period_codes(np.array([end.to_datetime64()]), unit)[0]
    keep = period_codes(dates.to_numpy(), unit) <= end_code
    kept = transactions.loc[keep].copy()
    kept[datetime_col] = dates.to_numpy()[keep]
    last = kept[datetime_col].max() if len(kept) else end
    return kept, max(end, pd.Timestamp(last))


def summary_data_from_transaction_data(
    transactions: pd.DataFrame,
    customer_id_col: Hashable,
    datetime_col: Hashable,
    monetary_value_col: Hashable | None = None,
    datetime_format: str | None = None,
    observation_period_end: Any = None,
    freq: str = "D",
    freq_multiplier: float = 1,
    include_first_transaction: bool = False,
) -> pd.DataFrame:
    """lifetimes' RFM summary: ``frequency, recency, T [, monetary_value]`` per customer.

    Same-period purchases are merged (their values summed). With
    ``include_first_transaction=True``, ``frequency`` counts every purchase
    period and ``monetary_value`` averages all of them (``recency`` keeps its
    meaning), as in lifetimes.

    Examples
    --------
    >>> tx = pd.DataFrame({"id": [1, 1, 2, 3, 3, 3],
    ...                    "date": ["2015-02-01", "2015-02-06", "2015-01-01", "2015-01-01",
    ...                             "2015-01-02", "2015-01-05"]})
    >>> summary_data_from_transaction_data(  # doctest: +NORMALIZE_WHITESPACE
    ...     tx, "id", "date", observation_period_end="2015-02-07")
        frequency  recency     T
    id
    1         1.0      5.0   6.0
    2         0.0      0.0  37.0
    3         2.0      4.0  37.0
    """
    unit = _time_unit(freq)
    dates = _dates(transactions[datetime_col], datetime_format)
    end = (
        dates.max()
        if observation_period_end is None
        else _end(observation_period_end, datetime_format)
    )
    kept, native_end = _within(transactions, datetime_col, dates, end, unit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        rfm = rfm_summary(
            kept,
            customer_id_col=customer_id_col,
            date_col=datetime_col,
            value_col=monetary_value_col,
            time_unit=unit,
            observation_end=native_end,
            include_first_transaction=include_first_transaction,
        )
    out = pd.DataFrame(index=pd.Index(rfm.index.to_numpy(), name=customer_id_col))
    if include_first_transaction:
        out["frequency"] = rfm["n_purchases"].to_numpy()
    else:
        out["frequency"] = rfm["frequency"].to_numpy()
    out["recency"] = rfm["recency"].to_numpy() / freq_multiplier
    out["T"] = rfm["T"].to_numpy() / freq_multiplier
    if monetary_value_col is not None:
        column = "monetary_value_all" if include_first_transaction else "monetary_value"
        out["monetary_value"] = rfm[column].to_numpy()
    return out.astype(float)


def calibration_and_holdout_data(
    transactions: pd.DataFrame,
    customer_id_col: Hashable,
    datetime_col: Hashable,
    calibration_period_end: Any,
    observation_period_end: Any = None,
    freq: str = "D",
    freq_multiplier: float = 1,
    datetime_format: str | None = None,
    monetary_value_col: Hashable | None = None,
    include_first_transaction: bool = False,
) -> pd.DataFrame:
    """lifetimes' calibration/holdout summary (``*_cal`` and ``*_holdout`` columns).

    ``monetary_value_holdout`` is, as in lifetimes, the mean of the holdout
    *rows* (clv's native split averages holdout *periods*).

    Raises
    ------
    ValueError
        "There is no data available..." when no transaction falls in the holdout.
    """
    unit = _time_unit(freq)
    dates = _dates(transactions[datetime_col], datetime_format)
    cal_end = _end(calibration_period_end, datetime_format)
    end = (
        dates.max()
        if observation_period_end is None
        else _end(observation_period_end, datetime_format)
    )
    in_holdout = (dates > cal_end) & (dates <= end)
    if not in_holdout.any():
        raise ValueError(
            "There is no data available. Check the `observation_period_end` and "
            "`calibration_period_end` and confirm that values in `transactions` occur prior to "
            "those dates."
        )
    cal = summary_data_from_transaction_data(
        transactions.loc[(dates <= cal_end).to_numpy()],
        customer_id_col,
        datetime_col,
        monetary_value_col=monetary_value_col,
        datetime_format=datetime_format,
        observation_period_end=cal_end,
        freq=freq,
        freq_multiplier=freq_multiplier,
        include_first_transaction=include_first_transaction,
    )
    cal.columns = [f"{c}_cal" for c in cal.columns]
    keep = (dates <= end).to_numpy()
    kept = transactions.loc[keep].copy()
    kept[datetime_col] = dates[keep].to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        split = calibration_holdout_split(
            kept,
            customer_id_col=customer_id_col,
            date_col=datetime_col,
            calibration_end=cal_end,
            observation_end=max(end, kept[datetime_col].max()),
            time_unit=unit,
        )
    hold = split.reindex(cal.index.to_numpy())
    cal["frequency_holdout"] = hold["frequency_holdout"].fillna(0.0).to_numpy()
    if monetary_value_col is not None:
        rows = kept.loc[in_holdout[keep].to_numpy()]
        means = rows[monetary_value_col].groupby(rows[customer_id_col]).mean()
        cal["monetary_value_holdout"] = means.reindex(cal.index).fillna(0.0).to_numpy()
    end_code = period_codes(np.array([end.to_datetime64()]), unit)[0]
    cal_code = period_codes(np.array([cal_end.to_datetime64()]), unit)[0]
    cal["duration_holdout"] = float(end_code - cal_code) / freq_multiplier
    return cal


def customer_lifetime_value(
    transaction_prediction_model: Any,
    frequency: Any,
    recency: Any,
    T: Any,
    monetary_value: Any,
    time: int = 12,
    discount_rate: float = 0.01,
    freq: str = "D",
) -> pd.Series:
    """lifetimes' CLV: ``time`` monthly steps, each discounted by ``(1 + discount_rate)^k``.

    Step ``k`` adds ``monetary_value * (E[X(k f)] - E[X((k - 1) f)])`` with
    ``f`` the model periods per month (``{"W": 4.345, "M": 1, "D": 30, "H": 720}``).
    clv's native :func:`clv.value.customer_lifetime_value` discounts per period
    instead, with an annual rate (see the migration guide).
    """
    factor = _CLV_FACTOR[freq]
    index = frequency.index if isinstance(frequency, pd.Series) else None
    x, t_x, age = (np.asarray(v, dtype=np.float64) for v in (frequency, recency, T))
    m = np.asarray(monetary_value, dtype=np.float64)
    total = np.zeros(np.broadcast_shapes(x.shape, t_x.shape, age.shape, m.shape))
    predict = transaction_prediction_model.conditional_expected_number_of_purchases_up_to_time
    previous = np.asarray(predict(0.0, x, t_x, age), dtype=np.float64)
    for k in range(1, int(time) + 1):
        current = np.asarray(predict(k * factor, x, t_x, age), dtype=np.float64)
        total = total + m * (current - previous) / (1.0 + discount_rate) ** k
        previous = current
    return pd.Series(total, index=index, name="clv")


_customer_lifetime_value = customer_lifetime_value


def calculate_alive_path(
    model: Any, transactions: pd.DataFrame, datetime_col: Hashable, t: int, freq: str = "D"
) -> pd.Series:
    """P(alive) of one customer at ages ``0..t`` periods, from their transactions.

    At age ``k`` the history is the purchases in the first ``k + 1`` periods
    (same-period purchases merged).
    """
    unit = _time_unit(freq)
    codes = period_codes(pd.to_datetime(transactions[datetime_col]).to_numpy(), unit)
    bought = np.zeros(int(t) + 1, dtype=bool)
    offsets = np.unique(codes - codes.min())
    bought[offsets[offsets <= t]] = True
    age = np.arange(int(t) + 1, dtype=np.float64)
    frequency = np.cumsum(bought) - 1.0
    recency = np.maximum.accumulate(np.where(bought, age, 0.0))
    values = model.conditional_probability_alive(frequency, recency, age)
    return pd.Series(np.asarray(values, dtype=np.float64), index=pd.RangeIndex(int(t) + 1))


def expected_cumulative_transactions(
    model: Any,
    transactions: pd.DataFrame,
    datetime_col: Hashable,
    customer_id_col: Hashable,
    t: int,
    datetime_format: str | None = None,
    freq: str = "D",
    freq_multiplier: int = 1,
    set_index_date: bool = False,
) -> pd.DataFrame:
    """Actual and expected cumulative repeat transactions of the cohort (tracking curve).

    The cohort is every customer in ``transactions``; the curve starts at the
    first transaction's period and has ``t // freq_multiplier`` points (one
    per ``freq_multiplier`` periods). The expectation is
    :func:`clv.models.tracking.expected_cumulative_transactions` with the
    model's ``expected_number_of_purchases_up_to_time``.
    """
    unit = _time_unit(freq)
    dates = _dates(transactions[datetime_col], datetime_format)
    codes = period_codes(dates.to_numpy(), unit)
    start = int(codes.min())
    frame = pd.DataFrame({"c": transactions[customer_id_col].to_numpy(), "p": codes - start})
    frame = frame[frame["p"] <= t].drop_duplicates()
    first = frame.groupby("c")["p"].transform("min")
    repeat = frame[frame["p"] > first]
    starts, counts = np.unique(frame.groupby("c")["p"].min().to_numpy(), return_counts=True)
    steps = np.arange(1, t // freq_multiplier + 1) * freq_multiplier
    predicted = _cumulative(
        lambda ages: model.expected_number_of_purchases_up_to_time(ages / freq_multiplier),
        starts.astype(float),
        steps.astype(float),
        counts,
    )
    per_period = np.bincount(repeat["p"].to_numpy(), minlength=t + 1)
    actual = np.cumsum(per_period)[steps - 1]
    if set_index_date:
        period = "D" if unit == "h" else unit
        start_period = pd.Period(pd.Timestamp(dates.min()), freq=period)
        index: Any = pd.period_range(start_period, periods=int(steps[-1]), freq=period)[steps - 1]
    else:
        index = pd.RangeIndex(0, len(steps))
    return pd.DataFrame({"actual": actual, "predicted": predicted}, index=index)
