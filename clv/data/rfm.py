"""Transaction logs to RFM frames: ``rfm_summary`` and ``calibration_holdout_split``.

All date arithmetic happens here, once (ARCHITECTURE §2.2). Dates are floored
to periods of ``time_unit`` (pandas ``Period`` semantics), purchases in the same
period are merged into one purchase (their amounts summed), and the RFM
columns are counted in whole periods:

- ``frequency`` = number of distinct purchase periods - 1 (repeat purchases);
- ``recency`` = last purchase period - first purchase period;
- ``T`` = observation-end period - first purchase period;
- ``monetary_value`` = mean total of the repeat purchase periods (0 when
  ``frequency == 0``).

This is lifetimes' ``summary_data_from_transaction_data(..., freq=time_unit,
freq_multiplier=1)``, which the tests check on CDNOW.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable

import numpy as np
import pandas as pd

from clv.data.engines import ENGINES, PeriodStats, period_stats, resolve_engine
from clv.data.schema import (
    ATTR_CALIBRATION_END,
    ATTR_OBSERVATION_END,
    ATTR_TIME_UNIT,
    DURATION_HOLDOUT,
    FREQUENCY,
    FREQUENCY_HOLDOUT,
    LITT,
    MEAN_LOG_VALUE,
    MONETARY_VALUE,
    MONETARY_VALUE_ALL,
    MONETARY_VALUE_HOLDOUT,
    N_PURCHASES,
    PERIOD_DAYS,
    RECENCY,
    T,
)
from clv.data.transactions import _rows, _TransactionArrays, check_time_unit
from clv.data.units import TimeUnit, parse_time_unit
from clv.data.validate import _check_transactions, _warning_text
from clv.exceptions import DataWarning, Problem

__all__ = ["rfm_summary", "calibration_holdout_split"]


def rfm_summary(
    transactions: pd.DataFrame,
    *,
    customer_id_col: Hashable,
    date_col: Hashable,
    value_col: Hashable | None = None,
    time_unit: str = "W",
    observation_end: object = None,
    engine: str = "auto",
    date_format: str | None = None,
    time_scaler: float = 1.0,
    include_first_transaction: bool = False,
    litt: bool = False,
    mean_log_value: bool = False,
) -> pd.DataFrame:
    """Summarise a transaction log into one RFM row per customer.

    Parameters
    ----------
    transactions : pandas.DataFrame
        One row per transaction. Not modified. Validated first with
        :func:`~clv.data.validate_transactions`; every problem is reported in one
        :class:`~clv.exceptions.DataError`.
    customer_id_col, date_col : hashable
        Columns with the customer id and the transaction date (datetime64,
        strings, ``datetime.date`` or ``datetime``; timezone-naive).
    value_col : hashable, optional
        Column with the amount of each transaction; adds ``monetary_value``.
    time_unit : str, default "W"
        Period unit: ``"h"``, ``"D"``, ``"W"`` (Monday to Sunday), ``"M"``,
        ``"Q"``, ``"Y"`` (calendar periods), or a multiple of one, ``"7D"``,
        ``"30D"``: purchases are counted per base period (days) and
        ``recency``/``T`` are measured in periods of the multiple (7-day weeks
        from each customer's first day, as in Fader, Hardie & Lee's CDNOW
        set-up, where ``T`` is 38.86 weeks).
    time_scaler : float, default 1.0
        Divide ``recency`` and ``T`` by this (pymc-marketing's ``time_scaler``):
        ``time_unit="D", time_scaler=7`` is ``time_unit="7D"``.
    observation_end : date-like or pandas.Period, optional
        End of observation (inclusive). Default: the last transaction date. A
        ``pd.Period`` means the whole period (observation ends where it ends).
        Transactions after it are an error.
    engine : {"auto", "pandas", "duckdb", "polars"}
        Engine that de-duplicates (customer, period) pairs; all give the same
        result (see :mod:`clv.data.engines`). ``"polars"`` needs the optional
        polars package.
    date_format : str, optional
        ``format=`` for ``pandas.to_datetime`` when dates are strings.
    include_first_transaction : bool, default False
        Also return ``n_purchases`` (distinct purchase periods, the first
        included: ``frequency + 1``) and, with ``value_col``,
        ``monetary_value_all`` (mean total of all purchase periods). The model
        columns keep their meaning (lifetimes' flag of the same name changes
        ``frequency``; pymc-marketing's changes ``recency``).
    litt : bool, default False
        Also return ``litt``, the sum over repeat purchases of the log time
        since the previous purchase, in periods of ``time_unit`` (0 without
        repeat purchases): the statistic the CNBD-k models need to estimate
        their regularity ``k`` (:mod:`clv.models.cnbd`; BTYDplus ``elog2cbs``).
        Use a fine unit (``"D"``, ``"7D"``), so gaps are not rounded to whole
        coarse periods.
    mean_log_value : bool, default False
        With ``value_col``, also return ``mean_log_value``, the mean of the logs
        of the repeat-period totals whose mean is ``monetary_value`` (0 without
        repeat purchases; NaN for a customer with a repeat period worth 0): the
        statistic of ``GammaGammaModel(likelihood="transactions")``.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id`` (sorted), with float64 columns ``frequency``,
        ``recency``, ``T`` and, with ``value_col``, ``monetary_value``, in
        periods of ``time_unit``, and ``period_days``, the period length in days
        (the unit as data: it survives ``join``, ``merge`` and CSV, see
        :mod:`clv.data.units`). ``attrs["time_unit"]`` and
        ``attrs["observation_end"]`` (ISO 8601) record the unit's name and the end.

    Warns
    -----
    DataWarning
        Exact duplicate rows, a single customer, customers with ``T == 0``
        (first purchase in the period of ``observation_end``) and customers
        with repeat purchases whose ``monetary_value`` is 0.

    Notes
    -----
    Same-period purchases are merged: two orders in one week are one purchase
    with ``time_unit="W"`` (their amounts add up). ``frequency`` counts repeat
    *periods*, ``monetary_value`` is the mean total of a repeat period.
    Zero amounts count as purchases; negative amounts (returns) are an error.

    Examples
    --------
    >>> tx = pd.DataFrame({
    ...     "id": [1, 1, 1, 2],
    ...     "day": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-15", "2024-01-08"]),
    ...     "amount": [10.0, 5.0, 20.0, 7.0],
    ... })
    >>> rfm_summary(tx, customer_id_col="id", date_col="day", value_col="amount",
    ...             observation_end="2024-01-31")  # doctest: +NORMALIZE_WHITESPACE
                 frequency  recency    T  monetary_value  period_days
    customer_id
    1                  1.0      2.0  4.0            20.0          7.0
    2                  0.0      0.0  3.0             0.0          7.0
    """
    time_unit, scaler, unit = _period_plan(time_unit, time_scaler, subday=True)
    _check_engine(engine)
    checked = _check_transactions(
        transactions,
        customer_id_col=customer_id_col,
        date_col=date_col,
        value_col=value_col,
        observation_end=observation_end,
        date_format=date_format,
    )
    checked.warn(stacklevel=3)
    arrays = checked.arrays
    engine = resolve_engine(engine)
    end_period = arrays.period(checked.observation_end, time_unit)
    columns, stats = _summarise(arrays, time_unit, engine, end_period, upto=None)
    if include_first_transaction:
        columns[N_PURCHASES] = stats.n_periods.astype(np.float64)
        if arrays.values is not None:
            totals = np.bincount(arrays.codes, weights=arrays.values, minlength=arrays.n_customers)
            columns[MONETARY_VALUE_ALL] = _mean(totals, stats.n_periods)
    if litt:
        columns[LITT] = _litt(arrays, time_unit, None, scaler)
    if mean_log_value and arrays.values is not None:
        columns[MEAN_LOG_VALUE] = _mean_log_value(arrays, time_unit, stats.first)
    _scale(columns, scaler, unit)
    frame = pd.DataFrame(columns, index=arrays.customer_ids)
    frame.attrs[ATTR_TIME_UNIT] = unit.name
    frame.attrs[ATTR_OBSERVATION_END] = checked.observation_end.isoformat()
    _warn_unusable(frame, stacklevel=2)
    return frame


def calibration_holdout_split(
    transactions: pd.DataFrame,
    *,
    customer_id_col: Hashable,
    date_col: Hashable,
    calibration_end: object,
    observation_end: object = None,
    value_col: Hashable | None = None,
    time_unit: str = "W",
    engine: str = "auto",
    date_format: str | None = None,
    time_scaler: float = 1.0,
    litt: bool = False,
    mean_log_value: bool = False,
) -> pd.DataFrame:
    """RFM summary of a calibration period plus purchases in the holdout period after it.

    The calibration columns are :func:`rfm_summary` of the transactions on or
    before ``calibration_end`` (with ``T`` measured to ``calibration_end``); the
    holdout columns count what the same customers did in
    ``(calibration_end, observation_end]``. Only customers with a purchase on or
    before ``calibration_end`` appear.

    Parameters
    ----------
    transactions : pandas.DataFrame
        One row per transaction. Not modified.
    customer_id_col, date_col : hashable
        Columns with the customer id and the transaction date.
    calibration_end : date-like
        Last date (inclusive) of the calibration period.
    observation_end : date-like, optional
        Last date (inclusive) of the holdout period. Default: the last
        transaction date. Transactions after it are an error.
    value_col : hashable, optional
        Column with the amount of each transaction.
    time_unit : str, default "W"
        Period unit, as in :func:`rfm_summary` (``"h"``, ``"W"``, ``"7D"``, ``"M"`` ...).
    engine : {"auto", "pandas", "duckdb", "polars"}
        Engine (same result for all; ``"polars"`` needs the optional polars package).
    date_format : str, optional
        ``format=`` for ``pandas.to_datetime`` when dates are strings.
    time_scaler : float, default 1.0
        Divide ``recency``, ``T`` and ``duration_holdout`` by this (see :func:`rfm_summary`).
    litt : bool, default False
        Also return ``litt`` of the calibration purchases (see :func:`rfm_summary`).
    mean_log_value : bool, default False
        With ``value_col``, also return ``mean_log_value`` of the calibration
        repeat periods (see :func:`rfm_summary`).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id``, float64 columns ``frequency``, ``recency``,
        ``T`` [, ``monetary_value``] (calibration), ``frequency_holdout`` (distinct
        purchase periods in the holdout) [, ``monetary_value_holdout`` (mean total
        of a holdout purchase period, 0 when none)] and ``duration_holdout``
        (holdout length in periods, the same for everyone), and ``period_days``.
        ``attrs`` holds
        ``time_unit``, ``calibration_end`` and ``observation_end``.

    Notes
    -----
    Equal to lifetimes' ``calibration_and_holdout_data(..., freq=time_unit)``
    with the columns renamed (``frequency_cal`` -> ``frequency`` ...), except
    ``monetary_value_holdout``: lifetimes averages the raw holdout *rows*, we
    average the holdout *periods* (same-period purchases merged and summed), as
    for the calibration ``monetary_value``.

    Examples
    --------
    >>> tx = pd.DataFrame({
    ...     "id": [1, 1, 1, 2],
    ...     "day": pd.to_datetime(["2024-01-01", "2024-01-15", "2024-02-05", "2024-01-08"]),
    ... })
    >>> split = calibration_holdout_split(tx, customer_id_col="id", date_col="day",
    ...                                   calibration_end="2024-01-21",
    ...                                   observation_end="2024-02-11")
    >>> split.drop(columns="period_days")  # doctest: +NORMALIZE_WHITESPACE
                 frequency  recency    T  frequency_holdout  duration_holdout
    customer_id
    1                  1.0      2.0  2.0                1.0               3.0
    2                  0.0      0.0  1.0                0.0               3.0
    """
    time_unit, scaler, unit = _period_plan(time_unit, time_scaler, subday=True)
    _check_engine(engine)
    checked = _check_transactions(
        transactions,
        customer_id_col=customer_id_col,
        date_col=date_col,
        value_col=value_col,
        observation_end=observation_end,
        date_format=date_format,
        calibration_end=calibration_end,
        time_unit=time_unit,
    )
    checked.warn(stacklevel=3)
    arrays = checked.arrays
    engine = resolve_engine(engine)
    cal_end = checked.calibration_end
    if cal_end is None:  # pragma: no cover - _check_transactions reports it
        raise RuntimeError("calibration_end was not validated")
    cal_tick = arrays.tick(cal_end)
    cal_period = arrays.period(cal_end, time_unit)
    end_period = arrays.period(checked.observation_end, time_unit)

    columns, stats = _summarise(arrays, time_unit, engine, cal_period, upto=cal_tick)
    keep = stats.n_periods > 0
    holdout = arrays.ticks > cal_tick
    n = arrays.n_customers
    if engine == "pandas":
        in_holdout = ~arrays.sorted_upto(cal_tick)
        hold = period_stats(
            arrays.sorted_codes[in_holdout],
            arrays.sorted_periods(time_unit)[in_holdout],
            n,
            engine=engine,
            presorted=True,
        )
    else:
        hold = period_stats(
            arrays.codes[holdout], arrays.periods(time_unit)[holdout], n, engine=engine
        )
    columns[FREQUENCY_HOLDOUT] = hold.n_periods.astype(np.float64)
    if arrays.values is not None:
        totals = np.bincount(arrays.codes[holdout], weights=arrays.values[holdout], minlength=n)
        columns[MONETARY_VALUE_HOLDOUT] = _mean(totals, hold.n_periods)
    columns[DURATION_HOLDOUT] = np.full(n, float(end_period - cal_period))
    if litt:
        columns[LITT] = _litt(arrays, time_unit, cal_tick, scaler)
    if mean_log_value and arrays.values is not None:
        columns[MEAN_LOG_VALUE] = _mean_log_value(arrays, time_unit, stats.first, cal_tick)
    _scale(columns, scaler, unit)

    frame = pd.DataFrame(columns, index=arrays.customer_ids)[keep]
    frame.attrs[ATTR_TIME_UNIT] = unit.name
    frame.attrs[ATTR_CALIBRATION_END] = cal_end.isoformat()
    frame.attrs[ATTR_OBSERVATION_END] = checked.observation_end.isoformat()
    _warn_unusable(frame, stacklevel=2)
    if not holdout.any():
        _warn(
            Problem(
                None,
                "there are no transactions between calibration_end "
                f"({cal_end.isoformat()}) and observation_end "
                f"({checked.observation_end.isoformat()}); every holdout count is 0",
                "check calibration_end and observation_end.",
            ),
            stacklevel=2,
        )
    return frame


# --------------------------------------------------------------------------- helpers


def _period_plan(
    time_unit: object, time_scaler: object, *, subday: bool = False
) -> tuple[str, float, TimeUnit]:
    """(calendar unit purchases are counted in, divisor of the durations, unit of the result).

    ``time_unit`` is a unit of :func:`~clv.data.transactions.check_time_unit` or a
    multiple of one (``"7D"``); anything else gets that function's message.
    """
    try:
        unit = parse_time_unit(time_unit)
    except ValueError:
        check_time_unit(time_unit, subday=subday)  # raises the data layer's message
        raise
    base = check_time_unit(unit.base, subday=subday)
    try:
        scaler = float(time_scaler)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        scaler = float("nan")
    if not (np.isfinite(scaler) and scaler > 0):
        raise ValueError(f"time_scaler must be a number > 0, got {time_scaler!r}.")
    scaler *= unit.multiple
    result = unit if scaler == unit.multiple else parse_time_unit(f"{scaler:.12g}{base}")
    return base, scaler, result


def _scale(columns: dict[str, np.ndarray], scaler: float, unit: TimeUnit) -> None:
    """Durations in periods of ``scaler`` base periods; add the ``period_days`` column."""
    if scaler != 1:
        for name in (RECENCY, T, DURATION_HOLDOUT):
            if name in columns:
                columns[name] = columns[name] / scaler
    n = len(columns[FREQUENCY])
    columns[PERIOD_DAYS] = np.full(n, unit.days)


#: The fix of the zero-spend repeat buyers warning (shared with the Spark engine).
ZERO_SPEND_FIX = (
    "nothing to do unless the zeros are data errors: GammaGammaModel.fit leaves these customers "
    "out of its likelihood and they are still scored (do not filter "
    "rfm[rfm['monetary_value'] > 0], which would also drop every one-time buyer)."
)


def _check_engine(engine: object) -> None:
    if engine not in ENGINES:
        raise ValueError(f"engine={engine!r} is not one of {', '.join(map(repr, ENGINES))}.")


def _mean(totals: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``totals / counts`` where ``counts > 0``, else 0 (no division warnings)."""
    return np.divide(totals, counts, out=np.zeros(totals.size, dtype=np.float64), where=counts > 0)


def _summarise(
    arrays: _TransactionArrays,
    time_unit: str,
    engine: str,
    end_period: int,
    *,
    upto: int | None,
) -> tuple[dict[str, np.ndarray], PeriodStats]:
    """RFM columns (one entry per customer code) of the rows with ``tick <= upto``."""
    n = arrays.n_customers
    rows = None if upto is None else arrays.ticks <= upto
    codes = arrays.codes if rows is None else arrays.codes[rows]
    if engine == "pandas":
        sorted_codes, sorted_periods = arrays.sorted_codes, arrays.sorted_periods(time_unit)
        if upto is not None:
            in_window = arrays.sorted_upto(upto)
            sorted_codes, sorted_periods = sorted_codes[in_window], sorted_periods[in_window]
        stats = period_stats(sorted_codes, sorted_periods, n, engine="pandas", presorted=True)
    else:
        periods = arrays.periods(time_unit)
        stats = period_stats(codes, periods if rows is None else periods[rows], n, engine=engine)
    frequency = np.maximum(stats.n_periods - 1, 0)
    columns = {
        FREQUENCY: frequency.astype(np.float64),
        RECENCY: (stats.last - stats.first).astype(np.float64),
        T: (end_period - stats.first).astype(np.float64),
    }
    if arrays.values is not None:
        values = arrays.values if rows is None else arrays.values[rows]
        weights = values * arrays.repeat_rows(rows, stats.first, time_unit)
        totals = np.bincount(codes, weights=weights, minlength=n)
        columns[MONETARY_VALUE] = _mean(totals, frequency)
    return columns, stats


def _litt(
    arrays: _TransactionArrays, time_unit: str, upto: int | None, scaler: float
) -> np.ndarray:
    """Per customer: sum of log(periods since the previous distinct purchase period), scaled."""
    codes, periods = arrays.sorted_codes, arrays.sorted_periods(time_unit)
    if upto is not None:
        in_window = arrays.sorted_upto(upto)
        codes, periods = codes[in_window], periods[in_window]
    same = codes[1:] == codes[:-1]
    gaps = np.diff(periods)
    step = same & (gaps > 0)  # rows are in (customer, time) order; 0 gaps are merged purchases
    n = arrays.n_customers
    total = np.bincount(codes[1:][step], weights=np.log(gaps[step]), minlength=n)
    count = np.bincount(codes[1:][step], minlength=n)
    return total - count * np.log(scaler)


def _mean_log_value(
    arrays: _TransactionArrays, time_unit: str, first: np.ndarray, upto: int | None = None
) -> np.ndarray:
    """Per customer: mean log of the repeat-period totals (0 without; NaN with a 0 total).

    ``upto``: only the rows with ``tick <= upto`` (a calibration period).
    """
    if arrays.values is None:
        return np.zeros(arrays.n_customers)
    rows = None if upto is None else arrays.ticks <= upto
    repeat = arrays.repeat_rows(rows, first, time_unit)
    codes_, periods_, values_ = arrays.codes, arrays.periods(time_unit), arrays.values
    if rows is not None:
        codes_, periods_, values_ = codes_[rows], periods_[rows], values_[rows]
    periods = pd.DataFrame({"c": codes_[repeat], "p": periods_[repeat], "v": values_[repeat]})
    totals = periods.groupby(["c", "p"], sort=False)["v"].sum()
    codes = totals.index.get_level_values("c").to_numpy()
    amounts = totals.to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore"):
        logs = np.where(amounts > 0, np.log(np.where(amounts > 0, amounts, 1.0)), np.nan)
    n = arrays.n_customers
    counts = np.bincount(codes, minlength=n)
    out = _mean(np.bincount(codes, weights=np.nan_to_num(logs), minlength=n), counts)
    out[np.bincount(codes, weights=np.isnan(logs), minlength=n) > 0] = np.nan
    return out


def _warn(problem: Problem, stacklevel: int) -> None:
    warnings.warn(_warning_text(problem), DataWarning, stacklevel=stacklevel + 1)


def _warn_unusable(frame: pd.DataFrame, stacklevel: int) -> None:
    """Warn about customers that validate_rfm (and the models) will reject."""
    age_zero = frame[T].to_numpy() == 0
    if age_zero.any():
        _warn(
            Problem(
                T,
                f"is 0 for {_rows(int(age_zero.sum()), 'customer')}: their first purchase is "
                "in the period of observation_end",
                "models need T > 0: use rfm[rfm['T'] > 0], a later observation_end or a finer "
                "time_unit.",
                list(frame.index[age_zero]),
            ),
            stacklevel=stacklevel + 1,
        )
    if MONETARY_VALUE in frame.columns:
        zero_spend = (frame[FREQUENCY].to_numpy() > 0) & (frame[MONETARY_VALUE].to_numpy() == 0)
        if zero_spend.any():
            _warn(
                Problem(
                    MONETARY_VALUE,
                    f"is 0 for {_rows(int(zero_spend.sum()), 'customer')} with repeat purchases: "
                    "all their repeat purchases have amount 0",
                    ZERO_SPEND_FIX,
                    list(frame.index[zero_spend]),
                ),
                stacklevel=stacklevel + 1,
            )
