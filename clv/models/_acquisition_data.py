"""Input handling of the acquisition model: first-purchase dates and counts per period.

Turns first-purchase dates into new-customer counts per period
(:func:`arrivals_per_period`) and validates counts and period covariates,
collecting every problem into one :class:`~clv.exceptions.DataError`.
Used by :mod:`clv.models.acquisition`, which re-exports
:func:`arrivals_per_period`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from clv.exceptions import DataError, Problem

__all__ = ["arrivals_per_period"]

#: Fixed-length period units (days per period); other units are calendar periods.
_FIXED_DAYS = {"D": 1, "W": 7}
_CALENDAR = ("M", "Q", "Y")


def _as_timestamps(values: Any, what: str) -> pd.DatetimeIndex:
    try:
        out = pd.DatetimeIndex(pd.to_datetime(values))
    except (TypeError, ValueError) as exc:
        raise DataError(
            [
                Problem(
                    None,
                    f"{what} could not be read as dates ({exc})",
                    "pass datetime64 values, e.g. pd.to_datetime(column)",
                )
            ],
            what=what,
        ) from None
    if out.tz is not None:
        out = out.tz_convert(None)
    return out


def _period_numbers(dates: pd.DatetimeIndex, start: pd.Timestamp, time_unit: str) -> np.ndarray:
    """Period of each date, counting the period that contains ``start`` as period 1."""
    if time_unit in _FIXED_DAYS:
        days = (dates.normalize() - start.normalize()).days.to_numpy()
        return np.floor_divide(days, _FIXED_DAYS[time_unit]) + 1
    first = pd.Period(start, freq=time_unit).ordinal
    return dates.to_period(time_unit).asi8 - first + 1


def _check_unit(time_unit: Any) -> str:
    if time_unit == "W-SUN":
        time_unit = "W"
    if time_unit not in (*_FIXED_DAYS, *_CALENDAR):
        raise ValueError(
            f"time_unit={time_unit!r} is not supported for acquisition data; use "
            "'D' or 'W' (days or 7-day weeks counted from start) or 'M', 'Q', 'Y' "
            "(calendar months, quarters, years; the one containing start is "
            "period 1)."
        )
    return str(time_unit)


def arrivals_per_period(
    first_purchase_dates: Any, *, time_unit: str, start: Any = None, end: Any = None
) -> pd.Series:
    """Count new customers per period from their first-purchase dates.

    Parameters
    ----------
    first_purchase_dates : array_like of datetimes
        One date per customer (e.g. ``transactions.groupby("customer_id")["date"].min()``).
    time_unit : {"D", "W", "M", "Q", "Y"}
        ``"D"`` and ``"W"`` are days and 7-day weeks counted from ``start`` (so
        week 1 is the first 7 days of the window, whatever the weekday);
        ``"M"``, ``"Q"``, ``"Y"`` are calendar periods, the one containing
        ``start`` being period 1 (partial if ``start`` is not its first day).
    start : date-like, optional
        Start of the acquisition window (launch); default the earliest date.
    end : date-like, optional
        Last day observed; default the latest date. Customers acquired after
        ``end`` are left out (so ``end`` cuts a calibration window), and the
        periods run to the one containing ``end``. For counts that are
        comparable, make the last period complete.

    Returns
    -------
    Series
        ``new_customers`` (int64) indexed by ``period`` 1..T, every period present
        (zeros included); ``attrs`` hold ``time_unit``, ``start`` and ``end``
        (ISO dates), which :class:`AcquisitionModel` keeps.

    Raises
    ------
    DataError
        For missing dates, dates before ``start``, or ``end`` before ``start``.

    Examples
    --------
    >>> dates = pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-09", "2024-01-20"])
    >>> arrivals_per_period(dates, time_unit="W").tolist()
    [2, 1, 1]
    """
    unit = _check_unit(time_unit)
    what = "the first-purchase dates"
    dates = _as_timestamps(first_purchase_dates, what)
    problems: list[Problem] = []
    missing = np.asarray(dates.isna())
    if missing.any():
        problems.append(
            Problem(
                None,
                f"{int(missing.sum())} dates are missing",
                "drop the customers without a first-purchase date",
            )
        )
        dates = dates[~missing]
    if len(dates) == 0 and start is None:
        problems.append(
            Problem(None, "there are no dates", "pass at least one first-purchase date")
        )
    if problems:
        raise DataError(problems, what=what)
    t0 = pd.Timestamp(start).normalize() if start is not None else dates.min().normalize()
    t1 = pd.Timestamp(end) if end is not None else (dates.max() if len(dates) else t0)
    if t1 < t0:
        raise DataError(
            [
                Problem(
                    None,
                    f"end ({t1.date()}) is before start ({t0.date()})",
                    "pass an end on or after the start of the window",
                )
            ],
            what=what,
        )
    early = dates < t0
    if early.any():
        raise DataError(
            [
                Problem(
                    None,
                    f"{int(early.sum())} customers were acquired before start ({t0.date()})",
                    "pass the launch date as start= (or drop them)",
                    [str(d.date()) for d in dates[early][:5]],
                )
            ],
            what=what,
        )
    dates = dates[dates <= t1]
    n_periods = int(_period_numbers(pd.DatetimeIndex([t1]), t0, unit)[0])
    codes = _period_numbers(dates, t0, unit)
    counts = np.bincount(codes, minlength=n_periods + 1)[1:]
    out = pd.Series(
        counts.astype(np.int64),
        index=pd.RangeIndex(1, n_periods + 1, name="period"),
        name="new_customers",
    )
    out.attrs.update({"time_unit": unit, "start": str(t0.date()), "end": str(t1.date())})
    return out


def _ids(values: Iterable[Any]) -> list[Any]:
    return [v.item() if hasattr(v, "item") else v for v in list(values)[:5]]


def _counts_from(
    data: Any, *, time_unit: str | None, start: Any, end: Any, what: str
) -> tuple[pd.Series, dict[str, Any]]:
    """Validated counts (index 1..T) and their time attributes from any accepted input."""
    is_dates = (
        isinstance(data, pd.DatetimeIndex)
        or (isinstance(data, pd.Series) and pd.api.types.is_datetime64_any_dtype(data))
        or (isinstance(data, np.ndarray) and data.dtype.kind == "M")
    )
    if is_dates:
        if time_unit is None:
            raise DataError(
                [
                    Problem(
                        None,
                        "first-purchase dates were given without time_unit",
                        "pass time_unit='W' (or 'D', 'M', 'Q', 'Y')",
                    )
                ],
                what=what,
            )
        counts = arrivals_per_period(data, time_unit=time_unit, start=start, end=end)
        return counts, {str(k): v for k, v in counts.attrs.items()}
    if isinstance(data, pd.DataFrame):
        if "new_customers" not in data.columns:
            raise DataError(
                [
                    Problem(
                        "new_customers",
                        "is required but missing",
                        "pass a Series of counts, or a frame with a 'new_customers' "
                        "column indexed by period",
                    )
                ],
                what=what,
            )
        series = data["new_customers"]
        attrs = dict(data.attrs)
    elif isinstance(data, pd.Series):
        series, attrs = data, dict(data.attrs)
    else:
        raise DataError(
            [
                Problem(
                    None,
                    f"expected a Series of counts or of dates, got {type(data).__name__}",
                    "use arrivals_per_period(dates, time_unit=...) or a Series of "
                    "new-customer counts indexed by period 1..T",
                )
            ],
            what=what,
        )
    col = "new_customers"
    problems: list[Problem] = []
    if len(series) == 0:
        problems.append(Problem(col, "is empty", "pass at least one period"))
    if not (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)):
        problems.append(
            Problem(col, f"is not numeric (dtype {series.dtype})", "pass counts of new customers")
        )
        raise DataError(problems, what=what)
    v = series.to_numpy(dtype=np.float64, na_value=np.nan)
    idx = series.index
    bad = ~np.isfinite(v)
    if bad.any():
        problems.append(
            Problem(
                col,
                f"is missing or infinite in {int(bad.sum())} periods",
                "fill periods without arrivals with 0",
                _ids(idx[bad]),
            )
        )
    neg = v < 0
    if neg.any():
        problems.append(
            Problem(
                col,
                f"is negative in {int(neg.sum())} periods",
                "counts of new customers must be >= 0",
                _ids(idx[neg]),
            )
        )
    frac = np.isfinite(v) & (v != np.round(v))
    if frac.any():
        problems.append(
            Problem(
                col,
                f"has non-integer values in {int(frac.sum())} periods",
                "counts of new customers must be whole numbers",
                _ids(idx[frac]),
            )
        )
    problems += _index_problems(idx, expect_first=1)
    if problems:
        raise DataError(problems, what=what)
    counts = pd.Series(v, index=pd.RangeIndex(1, len(v) + 1, name="period"), name="new_customers")
    keep: dict[str, Any] = {k: attrs[k] for k in ("time_unit", "start", "end") if k in attrs}
    if time_unit is not None:
        keep["time_unit"] = _check_unit(time_unit)
    if start is not None:
        keep["start"] = str(pd.Timestamp(start).date())
    return counts, keep


def _index_problems(idx: pd.Index, *, expect_first: int) -> list[Problem]:
    """Periods must be whole numbers ``expect_first, expect_first + 1, ...`` in order, once each."""
    if len(idx) == 0:
        return []
    if not pd.api.types.is_integer_dtype(idx.dtype):
        vals = pd.to_numeric(pd.Series(idx), errors="coerce").to_numpy(dtype=np.float64)
        if not (np.all(np.isfinite(vals)) and np.all(vals == np.round(vals))):
            return [
                Problem(
                    "period",
                    f"the index ({idx.dtype}) is not whole period numbers",
                    "index the counts by period number 1..T (arrivals_per_period "
                    "builds such a Series from dates)",
                )
            ]
    else:
        vals = idx.to_numpy(dtype=np.float64)
    problems = []
    dup = pd.Index(vals).duplicated(keep=False)
    if dup.any():
        problems.append(
            Problem("period", "has duplicated periods", "give each period one row", _ids(idx[dup]))
        )
    if np.any(np.diff(vals) < 0):
        problems.append(
            Problem(
                "period",
                "is out of order",
                "sort by period (.sort_index())",
                _ids(idx[1:][np.diff(vals) < 0]),
            )
        )
    if not problems:
        expected = np.arange(expect_first, expect_first + len(vals))
        if not np.array_equal(vals, expected):
            missing = sorted(set(range(expect_first, int(vals.max()) + 1)) - set(vals.astype(int)))
            problems.append(
                Problem(
                    "period",
                    f"must run {expect_first}, {expect_first + 1}, ... without gaps "
                    f"(got {int(vals[0])}..{int(vals[-1])}"
                    + (f"; missing {len(missing)} periods" if missing else "")
                    + ")",
                    "include every period, with 0 where nobody was acquired; period 1 is the first "
                    "period of the acquisition window",
                    _ids(missing),
                )
            )
    return problems


def _covariate_rows(
    covariates: pd.DataFrame | pd.Series | None,
    periods: np.ndarray,
    names: Sequence[str] | None,
    *,
    start: str | None,
    time_unit: str | None,
    what: str,
) -> pd.DataFrame | None:
    """Covariate values for ``periods`` (rows in that order), validated."""
    if covariates is None:
        if names:
            raise DataError(
                [
                    Problem(
                        None,
                        f"the model has covariates {list(names)} but none were "
                        f"given for periods {_ids(periods)}",
                        "pass covariates= with a row for each of these periods",
                    )
                ],
                what=what,
            )
        return None
    frame = covariates.to_frame() if isinstance(covariates, pd.Series) else covariates
    if not isinstance(frame, pd.DataFrame):
        raise DataError(
            [
                Problem(
                    None,
                    f"covariates must be a DataFrame, got {type(frame).__name__}",
                    "pass a DataFrame with one column per covariate, indexed by period",
                )
            ],
            what=what,
        )
    problems: list[Problem] = []
    index = frame.index
    if isinstance(index, pd.DatetimeIndex):
        if start is None or time_unit is None:
            raise DataError(
                [
                    Problem(
                        None,
                        "covariates are indexed by dates, but the acquisition "
                        "window's start and time_unit are unknown",
                        "index covariates by period number, or fit on dates / "
                        "arrivals_per_period output",
                    )
                ],
                what=what,
            )
        index = pd.Index(_period_numbers(index, pd.Timestamp(start), time_unit), name="period")
    elif not pd.api.types.is_integer_dtype(index.dtype):
        problems.append(
            Problem(
                None,
                f"the covariate index ({index.dtype}) is not period numbers",
                "index covariates by period number 1..T (or by dates)",
            )
        )
        raise DataError(problems, what=what)
    cols = [str(c) for c in frame.columns]
    if len(set(cols)) != len(cols):
        problems.append(
            Problem(None, "covariate column names are duplicated", "rename the columns")
        )
    if names is not None and list(names) != cols:
        problems.append(
            Problem(
                None,
                f"covariate columns {cols} differ from the fitted ones {list(names)}",
                "pass the same columns, in the same order",
            )
        )
    if index.duplicated().any():
        problems.append(
            Problem(
                "period",
                "covariates have duplicated periods",
                "give each period one row",
                _ids(index[index.duplicated()]),
            )
        )
    for c in frame.columns:
        col = frame[c]
        if not (pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)):
            if pd.api.types.is_bool_dtype(col):
                continue
            problems.append(
                Problem(
                    str(c),
                    f"is not numeric (dtype {col.dtype})",
                    "convert the covariate to numbers",
                )
            )
    if problems:
        raise DataError(problems, what=what)
    values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    table = pd.DataFrame(values, index=index, columns=cols)
    missing = [int(t) for t in periods if t not in table.index]
    if missing:
        raise DataError(
            [
                Problem(
                    None,
                    f"covariates are missing for {len(missing)} periods",
                    "give covariate values for every period fitted or forecast",
                    missing,
                )
            ],
            what=what,
        )
    out = table.loc[list(periods)]
    bad = ~np.isfinite(out.to_numpy())
    if bad.any():
        rows = out.index[bad.any(axis=1)]
        problems.append(
            Problem(
                None,
                f"covariates are missing or infinite in {len(rows)} periods",
                "fill or drop them",
                _ids(rows),
            )
        )
        raise DataError(problems, what=what)
    out.index = pd.Index(np.asarray(periods, dtype=np.int64), name="period")
    return out
