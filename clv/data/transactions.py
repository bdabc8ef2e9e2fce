"""Cleaning transaction logs: customer ids, dates, amounts and time periods.

The functions here turn the columns of a transaction log into plain NumPy
arrays (customer codes, timestamps, values) and report what is wrong with them
as :class:`~clv.exceptions.Problem` objects; :mod:`clv.data.validate` collects
the problems and raises one :class:`~clv.exceptions.DataError`.

Periods are integer codes equal to pandas ``Period`` ordinals (see
:func:`period_codes`), so the difference of two codes is a number of periods.
"""

from __future__ import annotations

import datetime as _dt
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from pandas.api.extensions import ExtensionArray

from clv.data.schema import CUSTOMER_ID, SUBDAY_TIME_UNITS, TIME_UNITS
from clv.exceptions import Problem

__all__ = ["period_codes", "check_time_unit"]

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

# ticks per second of the datetime64 units pandas uses
_TICKS_PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}
_MAX_EXAMPLES = 3


def check_time_unit(time_unit: object, *, subday: bool = False) -> str:
    """Return ``time_unit`` if it is a supported period unit, else raise ``ValueError``.

    Parameters
    ----------
    time_unit : str
        One of ``"D"`` (day), ``"W"`` (week, Monday to Sunday), ``"M"`` (month),
        ``"Q"`` (quarter) or ``"Y"`` (year). ``"W-SUN"`` is accepted as ``"W"``.
        With ``subday=True`` also ``"h"`` (hour; pandas' alias, not the deprecated ``"H"``).
    subday : bool, default False
        Whether the caller supports units shorter than a day.

    Returns
    -------
    str
        The normalised unit.

    Examples
    --------
    >>> check_time_unit("W-SUN")
    'W'
    """
    if time_unit == "W-SUN":
        return "W"
    allowed = (*SUBDAY_TIME_UNITS, *TIME_UNITS) if subday else TIME_UNITS
    if not isinstance(time_unit, str) or time_unit not in allowed:
        raise ValueError(
            f"time_unit={time_unit!r} is not supported; use one of {', '.join(allowed)} "
            f"({'hour, ' if subday else ''}day, week Monday-Sunday, month, quarter, year)."
        )
    return time_unit


def period_codes(dates: object, time_unit: str) -> IntArray:
    """Integer period codes of timestamps: their pandas ``Period`` ordinals.

    A date is floored to the period of ``time_unit`` that contains it, exactly as
    ``DatetimeIndex.to_period(time_unit)`` does (weeks run Monday to Sunday, the
    pandas ``"W-SUN"`` period); the difference of two codes is the number of
    whole periods between them. Vectorised integer arithmetic, no pandas
    ``Period`` objects.

    Parameters
    ----------
    dates : array_like of datetime64, pandas Series or DatetimeIndex
        Timezone-naive timestamps without missing values.
    time_unit : {"h", "D", "W", "M", "Q", "Y"}
        Period unit.

    Returns
    -------
    numpy.ndarray of int64
        One code per date.

    Examples
    --------
    >>> d = pd.to_datetime(["1997-01-01", "1997-01-05", "1997-01-06"])
    >>> period_codes(d, "W").tolist() == d.to_period("W").asi8.tolist()
    True
    >>> period_codes(d, "D").tolist()
    [9862, 9866, 9867]
    """
    time_unit = check_time_unit(time_unit, subday=True)
    if isinstance(dates, pd.Series | pd.Index):
        if isinstance(dates.dtype, pd.DatetimeTZDtype):
            raise ValueError("dates are timezone-aware; convert them with .dt.tz_convert(None).")
        arr = np.asarray(dates.to_numpy())
    else:
        arr = np.asarray(dates)
    if arr.dtype.kind != "M":
        arr = np.asarray(pd.to_datetime(arr).to_numpy())
    arr = _supported_unit(arr)
    if np.isnat(arr).any():
        raise ValueError("dates contain NaT; drop or fill the missing dates first.")
    unit = np.datetime_data(arr.dtype)[0]
    return _codes_from_ticks(arr.view(np.int64), unit, time_unit)


def _supported_unit(arr: np.ndarray) -> np.ndarray:
    """Return a datetime64 array in s/ms/us/ns resolution (exact conversion)."""
    unit = np.datetime_data(arr.dtype)[0]
    if unit in _TICKS_PER_SECOND:
        return arr
    return arr.astype("datetime64[s]")


def _codes_from_days(days: IntArray, time_unit: str) -> IntArray:
    """Period codes (pandas ordinals) of day numbers since 1970-01-01; may reuse ``days``."""
    if time_unit == "D":
        return days
    if time_unit == "W":
        # 1970-01-01 is a Thursday; pandas' W-SUN ordinal 1 is the week of 1969-12-29.
        days += 3
        np.floor_divide(days, 7, out=days)
        days += 1
        return days
    as_dates = days.view("datetime64[D]")
    if time_unit == "Y":
        return as_dates.astype("datetime64[Y]").view(np.int64)
    months = as_dates.astype("datetime64[M]").view(np.int64)
    if time_unit == "M":
        return months
    return np.floor_divide(months, 3, out=months)  # "Q": quarters since 1970Q1


def _codes_from_ticks(ticks: IntArray, unit: str, time_unit: str) -> IntArray:
    """Period codes (pandas ordinals) of integer timestamps in ``unit`` since the epoch."""
    if time_unit == "h":  # pandas' hourly ordinal: hours since 1970-01-01 00:00
        return np.floor_divide(ticks, 3_600 * _TICKS_PER_SECOND[unit])
    days = np.floor_divide(ticks, 86_400 * _TICKS_PER_SECOND[unit])
    return _codes_from_days(days, time_unit)


def _period_start_ticks(codes: IntArray, unit: str, time_unit: str) -> IntArray:
    """First instant (in ``unit`` since the epoch) of the periods with the given codes."""
    codes = np.asarray(codes, dtype=np.int64)
    if time_unit == "h":
        return codes * (3_600 * _TICKS_PER_SECOND[unit])
    per_day = 86_400 * _TICKS_PER_SECOND[unit]
    if time_unit == "D":
        return codes * per_day
    if time_unit == "W":
        return ((codes - 1) * 7 - 3) * per_day
    if time_unit == "Y":
        start = codes.view("datetime64[Y]")
    elif time_unit == "M":
        start = codes.view("datetime64[M]")
    else:
        start = (codes * 3).view("datetime64[M]")
    return start.astype(f"datetime64[{unit}]").view(np.int64)


# --------------------------------------------------------------------------- scalars


def _parse_timestamp(
    value: object, *, name: str, date_format: str | None = None
) -> tuple[pd.Timestamp | None, list[Problem]]:
    """Parse a date argument (``observation_end``, ``calibration_end``).

    Returns the timezone-naive timestamp, or ``None`` and a problem naming the
    argument.
    """
    fix = f"pass {name} as a date, e.g. {name}='1998-06-30' or pd.Timestamp('1998-06-30')."
    if isinstance(value, bool | int | float | np.number):
        return None, [Problem(None, f"argument {name}={value!r} is a number, not a date", fix)]
    try:
        if isinstance(value, pd.Period):  # a whole period: it ends where the period ends
            ts = value.end_time
        elif isinstance(value, str) and date_format is not None:
            ts = pd.to_datetime(value, format=date_format)
        else:
            ts = pd.Timestamp(value)  # type: ignore[arg-type]
    except (ValueError, TypeError, OverflowError):
        return None, [Problem(None, f"argument {name}={value!r} is not a date", fix)]
    if ts is pd.NaT or pd.isna(ts):
        return None, [Problem(None, f"argument {name}={value!r} is missing (NaT)", fix)]
    if ts.tzinfo is not None:
        return None, [
            Problem(
                None,
                f"argument {name}={value!r} is timezone-aware",
                "pass a timezone-naive date, e.g. pd.Timestamp(...).tz_convert(None), "
                "in the same clock as the transaction dates.",
            )
        ]
    return ts, []


def _timestamp_tick(ts: pd.Timestamp, unit: str) -> int:
    """``ts`` as an integer in ``unit`` since the epoch, floored to whole ticks."""
    return int(np.datetime64(ts.to_datetime64(), unit).view(np.int64))


# --------------------------------------------------------------------------- columns


def _example_ids(ids: np.ndarray | ExtensionArray, mask: np.ndarray) -> list[object]:
    """Distinct customer ids of the rows in ``mask``, in row order."""
    return list(pd.unique(np.asarray(ids[mask])))


def _show(values: pd.Series | np.ndarray) -> str:
    """A few example values for a message."""
    shown = [repr(_plain(v)) for v in list(pd.unique(np.asarray(values, dtype=object)))]
    more = ", ..." if len(shown) > _MAX_EXAMPLES else ""
    return ", ".join(shown[:_MAX_EXAMPLES]) + more


def _plain(value: object) -> object:
    item = getattr(value, "item", None)
    if callable(item) and isinstance(value, np.generic):
        return item()
    return value


def _not_dates(n: int) -> str:
    return "1 value that is not a date" if n == 1 else f"{n} values that are not dates"


def _rows(n: int, what: str = "row") -> str:
    return f"{n} {what}{'s' if n != 1 else ''}"


#: Values that cannot be customer ids: containers, arrays and raw bytes.
_NOT_IDS = (list, tuple, dict, set, frozenset, np.ndarray, bytes, bytearray, memoryview)


def _check_customer_column(col: pd.Series, *, name: str) -> list[Problem]:
    """Problems with the customer id column: missing ids, mixed types."""
    problems = []
    missing = col.isna().to_numpy()
    if missing.any():
        problems.append(
            Problem(
                name,
                f"is missing in {_rows(int(missing.sum()))} (row labels shown)",
                "drop these rows or fill in the customer id; every transaction needs a customer.",
                list(col.index[missing]),
            )
        )
    if col.dtype == object:
        kind = pd.api.types.infer_dtype(col, skipna=True)
        if kind not in ("string", "integer", "empty", "floating", "mixed-integer-float"):
            nested = col.map(lambda v: isinstance(v, _NOT_IDS)).to_numpy(dtype=bool)
            if nested.any():
                types = sorted({type(v).__name__ for v in col[nested]})
                return [
                    *problems,
                    Problem(
                        name,
                        f"holds {', '.join(types)} values instead of single ids in "
                        f"{_rows(int(nested.sum()))} (row labels shown)",
                        "a customer id is one text or integer value per row: extract the id from "
                        "the nested value (or decode bytes to text) before scoring.",
                        list(col.index[nested]),
                    ),
                ]
        if kind in ("mixed", "mixed-integer"):
            type_names = col[~missing].map(lambda v: type(v).__name__)
            counts = type_names.value_counts()
            minority = counts.index[-1]
            shown = ", ".join(f"{t} ({c} rows)" for t, c in counts.items())
            problems.append(
                Problem(
                    name,
                    f"mixes types: {shown}; the same customer could appear as 17 and '17' "
                    f"(rows of type {minority} shown)",
                    f"convert the column to one type, e.g. "
                    f"df[{name!r}] = df[{name!r}].astype(str).",
                    list(col[~missing][(type_names == minority).to_numpy()].index),
                )
            )
    return problems


def _factorize_customers(col: pd.Series) -> tuple[IntArray, pd.Index]:
    """Integer codes ``0..n-1`` of the customer ids, in sorted id order.

    Integer ids in a compact range are ranked with a presence table (no hashing,
    no sort). Arrow-backed text ids made of one prefix and a number (``C100042``,
    ``CUST-000042``, ``00042``) are ranked by their number, then only the
    distinct ids are sorted as text (see :func:`_factorize_numbered_text`).
    Anything else goes through ``pandas.factorize(sort=True)``.

    Returns
    -------
    codes : numpy.ndarray of int64
        Per row, the position of its customer in ``uniques``.
    uniques : pandas.Index
        Sorted distinct customer ids, named ``customer_id``.
    """
    arr = col.to_numpy() if isinstance(col.dtype, np.dtype) else None
    if arr is not None and arr.dtype.kind in "iu" and arr.size:
        ranked = _rank_integers(arr)
        if ranked is not None:
            codes, uniques = ranked
            return codes, pd.Index(uniques, name=CUSTOMER_ID)
    if arr is None:
        numbered = _factorize_numbered_text(col)
        if numbered is not None:
            codes, unique_ids = numbered
            return codes, pd.Index(unique_ids, name=CUSTOMER_ID)
    codes, distinct = pd.factorize(col, sort=True)
    return codes.astype(np.int64, copy=False), pd.Index(distinct, name=CUSTOMER_ID)


def _rank_integers(arr: np.ndarray) -> tuple[IntArray, np.ndarray] | None:
    """Codes and sorted distinct values of integers in a compact range (else ``None``).

    Examples
    --------
    >>> codes, uniques = _rank_integers(np.array([7, 3, 7, 5]))
    >>> codes.tolist(), uniques.tolist()
    ([2, 0, 2, 1], [3, 5, 7])
    """
    lo, hi = int(arr.min()), int(arr.max())
    span = hi - lo + 1
    if span > max(4 * arr.size, 1 << 16) or hi >= 2**62:
        return None
    offsets = arr.astype(np.int64)
    offsets -= lo
    present = np.zeros(span, dtype=bool)
    present[offsets] = True
    rank = np.cumsum(present, dtype=np.int64) - 1
    uniques = (np.flatnonzero(present) + lo).astype(arr.dtype)
    return rank[offsets], uniques


_MAX_ID_DIGITS = 18  # 10**18 - 1 < 2**63


def _factorize_numbered_text(col: pd.Series) -> tuple[IntArray, ExtensionArray] | None:
    """Factorize Arrow-backed text ids ``prefix + digits`` without hashing the text.

    Every id must start with the same prefix (the first id up to its trailing
    digits; possibly empty) followed by 1 to 18 ASCII digits, with either no
    leading zeros or the same number of digits everywhere, so that the number
    identifies the id. The rows are then ranked by that number (a presence
    table, as for integer ids), one row per customer is taken, and only these
    distinct ids are sorted as text: the codes and the uniques are exactly those
    of ``pandas.factorize(col, sort=True)``, several times faster on millions of
    rows. Returns ``None`` when the ids do not have that shape (or have missing
    values), and the caller falls back to ``pandas.factorize``.

    Examples
    --------
    >>> col = pd.Series(["C10", "C9", "C10", "C100"], dtype=pd.StringDtype("pyarrow"))
    >>> codes, uniques = _factorize_numbered_text(col)
    >>> codes.tolist(), list(uniques)
    ([0, 2, 0, 1], ['C10', 'C100', 'C9'])
    >>> _factorize_numbered_text(pd.Series(["a1", "b2"], dtype=pd.StringDtype("pyarrow")))
    """
    dtype = col.dtype
    if not (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow") or col.empty:
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array(col.array)  # the column's own Arrow data, not a copy
    if text.null_count:
        return None
    prefix = str(text[0].as_py()).rstrip("0123456789")
    if prefix:
        if not pc.all(pc.starts_with(text, prefix)).as_py():
            return None
        digits = pc.utf8_slice_codeunits(text, len(prefix))
    else:
        digits = text
    if not pc.all(pc.ascii_is_decimal(digits)).as_py():  # also rejects empty ones
        return None
    lengths = pc.binary_length(digits)
    extremes = pc.min_max(lengths)
    shortest, longest = extremes["min"].as_py(), extremes["max"].as_py()
    if longest > _MAX_ID_DIGITS:
        return None
    if shortest != longest:  # '042' and '42' would share a number
        padded = pc.and_(pc.starts_with(digits, "0"), pc.greater(lengths, 1))
        if pc.any(padded).as_py():
            return None
    del lengths
    numbers = pc.cast(digits, pa.int64()).to_numpy()
    del digits
    ranked = _rank_integers(numbers)
    if ranked is None:
        by_number, distinct = pd.factorize(numbers)
        n_customers = len(distinct)
    else:
        by_number, distinct = ranked
        n_customers = distinct.size
    del numbers, distinct
    one_row = np.empty(n_customers, dtype=np.int64)
    one_row[by_number] = np.arange(by_number.size, dtype=np.int64)
    unique_ids = col.array.take(one_row)
    order = np.asarray(unique_ids.argsort(), dtype=np.int64)
    rank = np.empty(n_customers, dtype=np.int64)
    rank[order] = np.arange(n_customers, dtype=np.int64)
    return rank[by_number], unique_ids.take(order)


_DATE_LIKE = (str, _dt.date, np.datetime64)


def _parse_date_column(
    col: pd.Series,
    *,
    name: str,
    ids: np.ndarray | ExtensionArray,
    date_format: str | None,
    who: str = "for customer_id",
) -> tuple[np.ndarray | None, list[Problem]]:
    """Timezone-naive datetime64 values of the date column, and its problems.

    Accepts datetime64 columns, strings (parsed with ``pandas.to_datetime`` and
    ``date_format``), ``datetime.date``/``datetime`` objects and pandas
    Timestamps. Numbers, mixed types and timezone-aware values are problems.
    """
    fix_format = (
        "pass date_format= (e.g. date_format='%Y-%m-%d', or 'mixed' for mixed formats), "
        f"or convert the column yourself with pd.to_datetime(df[{name!r}], format=...)."
    )
    fix_tz = (
        f"convert to timezone-naive timestamps in one clock, e.g. "
        f"df[{name!r}] = df[{name!r}].dt.tz_convert(None) (UTC) or "
        f".dt.tz_convert('Europe/Paris').dt.tz_localize(None) (local time), or pass naive dates."
    )
    dtype = col.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        return None, [Problem(name, f"is timezone-aware ({dtype.tz})", fix_tz)]
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return None, [_numeric_dates_problem(col, name)]
    if dtype.kind == "M":
        arr = _supported_unit(np.asarray(col.to_numpy()))
        problems: list[Problem] = []
    else:
        kind = pd.api.types.infer_dtype(col, skipna=True)
        if kind in ("integer", "floating", "mixed-integer-float", "decimal", "boolean"):
            return None, [_numeric_dates_problem(col, name)]
        if kind in ("mixed", "mixed-integer"):
            present = col[col.notna()]
            odd = ~present.map(lambda v: isinstance(v, _DATE_LIKE)).to_numpy(dtype=bool)
            if odd.any():
                types = sorted({type(v).__name__ for v in present[odd]})
                return None, [
                    Problem(
                        name,
                        f"mixes dates with other types ({', '.join(types)}) in "
                        f"{_rows(int(odd.sum()))}, {who}",
                        f"make every value a date or a date string; {fix_format}",
                        _example_ids(ids[col.notna().to_numpy()], odd),
                    )
                ]
        try:
            with warnings.catch_warnings():
                # pandas warns when it cannot infer one format and parses element-wise;
                # unparseable values become NaT and are reported below.
                warnings.filterwarnings("ignore", "Could not infer format", UserWarning)
                parsed = pd.to_datetime(col, format=date_format, errors="coerce")
        except (ValueError, TypeError) as exc:
            text = str(exc)
            if "tz" in text.lower() or "timezone" in text.lower() or "utc" in text.lower():
                return None, [Problem(name, "mixes timezone-aware and naive timestamps", fix_tz)]
            return None, [Problem(name, f"could not be parsed as dates ({text})", fix_format)]
        if isinstance(parsed.dtype, pd.DatetimeTZDtype):
            return None, [Problem(name, f"has timezone-aware values ({parsed.dtype.tz})", fix_tz)]
        arr = _supported_unit(np.asarray(parsed.to_numpy()))
        bad = np.isnat(arr) & col.notna().to_numpy()
        problems = []
        if bad.any():
            problems.append(
                Problem(
                    name,
                    f"has {_not_dates(int(bad.sum()))} ({_show(col[bad])}), {who}",
                    fix_format,
                    _example_ids(ids, bad),
                )
            )
    missing = col.isna().to_numpy()
    if missing.any():
        problems.append(
            Problem(
                name,
                f"is missing in {_rows(int(missing.sum()))}, {who}",
                "drop the rows without a date or fill them in.",
                _example_ids(ids, missing),
            )
        )
    return arr, problems


def _numeric_dates_problem(col: pd.Series, name: str) -> Problem:
    values = pd.to_numeric(col, errors="coerce")
    fix = (
        f"convert the column to dates, e.g. pd.to_datetime(df[{name!r}], unit='s') "
        "for epoch seconds"
    )
    v = values.dropna()
    if len(v) and v.between(10000101, 29991231).all():
        fix = (
            f"the numbers look like YYYYMMDD; convert them with "
            f"pd.to_datetime(df[{name!r}].astype('int64').astype(str), format='%Y%m%d')"
        )
    return Problem(name, f"holds numbers ({_show(v.head(10))}), not dates", fix + ".")


def _parse_value_column(
    col: pd.Series, *, name: str, ids: np.ndarray | ExtensionArray, who: str = "for customer_id"
) -> tuple[FloatArray, list[Problem]]:
    """Float64 amounts of the value column, and its problems.

    Problems: non-numeric values, missing values, infinite values and negative
    amounts (returns). Zero amounts are allowed.
    """
    problems = []
    dtype = col.dtype
    if (
        pd.api.types.is_bool_dtype(dtype)
        or not pd.api.types.is_numeric_dtype(dtype)
        or pd.api.types.is_complex_dtype(dtype)
    ):
        if pd.api.types.is_bool_dtype(dtype):
            numbers = pd.Series(np.nan, index=col.index)
        else:
            numbers = _real_numbers(col)
        bad = (numbers.isna() & col.notna()).to_numpy()
        if bad.any():
            what = f"has {_rows(int(bad.sum()), 'non-numeric value')} ({_show(col[bad])})"
        else:
            what = f"is stored as {dtype} instead of numbers"
        problems.append(
            Problem(
                name,
                f"{what}, {who}",
                f"convert it to numbers, e.g. df[{name!r}] = pd.to_numeric(df[{name!r}]) "
                "after removing currency symbols and thousands separators.",
                _example_ids(ids, bad) if bad.any() else [],
            )
        )
        values = np.array(numbers.to_numpy(dtype=np.float64, na_value=np.nan), dtype=np.float64)
        values[bad] = 0.0  # reported above; keep them out of the checks below
    else:
        values = col.to_numpy(dtype=np.float64, na_value=np.nan)
    missing = np.isnan(values)
    if missing.any():
        problems.append(
            Problem(
                name,
                f"is missing in {_rows(int(missing.sum()))}, {who}",
                "fill in the amounts, or drop these rows (they are purchases: dropping them "
                "changes frequency).",
                _example_ids(ids, missing),
            )
        )
    infinite = np.isinf(values)
    if infinite.any():
        problems.append(
            Problem(
                name,
                f"is infinite in {_rows(int(infinite.sum()))}, {who}",
                "replace the infinite amounts with the real ones.",
                _example_ids(ids, infinite),
            )
        )
    negative = values < 0
    if negative.any():
        problems.append(
            Problem(
                name,
                f"is negative in {_rows(int(negative.sum()))} ({_show(values[negative])}), {who}",
                "negative amounts are returns or refunds: net returns against their purchase "
                "(add the refund to the original transaction) or drop them; clv does not "
                "model returns.",
                _example_ids(ids, negative),
            )
        )
    return values, problems


def _real_numbers(col: pd.Series) -> pd.Series:
    """``pandas.to_numeric`` of a column, with anything that is not a real number as NaN."""
    if pd.api.types.is_complex_dtype(col.dtype):
        return pd.Series(np.nan, index=col.index)
    if col.dtype == object:
        real = col.map(
            lambda v: v if not isinstance(v, complex | np.complexfloating | bytes) else None
        )
        numbers = pd.to_numeric(real, errors="coerce")
    else:
        numbers = pd.to_numeric(col, errors="coerce")
    if not (
        pd.api.types.is_numeric_dtype(numbers.dtype)
        and not pd.api.types.is_complex_dtype(numbers.dtype)
    ):
        return pd.Series(np.nan, index=col.index)
    return numbers


# --------------------------------------------------------------------------- prepared rows


@dataclass(frozen=True)
class _TransactionArrays:
    """A validated transaction log as arrays (internal to :mod:`clv.data`).

    Attributes
    ----------
    customer_ids : pandas.Index
        Sorted distinct customer ids (``customer_id``).
    codes : numpy.ndarray of int64
        Per row, the position of the row's customer in ``customer_ids``.
    ticks : numpy.ndarray of int64
        Per row, the timestamp as an integer in ``unit`` since the epoch (a view
        of the caller's data when it is already datetime64).
    unit : str
        numpy datetime unit of ``ticks`` (``"s"``, ``"ms"``, ``"us"`` or ``"ns"``).
    values : numpy.ndarray of float64 or None
        Per row, the amount.
    sorted_codes : numpy.ndarray of int64
        Customer codes of the rows in ``(customer, timestamp)`` order.
    sorted_steps : numpy.ndarray of unsigned or signed int
        Timestamps of the rows in that order, as ``(tick - tick0) // step``.
    tick0, step : int
        Offset and exact divisor of the ticks (e.g. one day for daily data).
    duplicate_candidates : numpy.ndarray of int64
        Positions of the rows that share customer and timestamp with another row
        (the only rows that can be exact duplicates).
    """

    customer_ids: pd.Index
    codes: IntArray
    ticks: IntArray
    unit: str
    values: FloatArray | None
    sorted_codes: IntArray
    sorted_steps: np.ndarray
    tick0: int
    step: int
    duplicate_candidates: IntArray

    @property
    def n_customers(self) -> int:
        """Number of distinct customers."""
        return len(self.customer_ids)

    def tick(self, ts: pd.Timestamp) -> int:
        """``ts`` in this log's tick unit."""
        return _timestamp_tick(ts, self.unit)

    def period(self, ts: pd.Timestamp, time_unit: str) -> int:
        """Period code of one timestamp."""
        return int(_codes_from_ticks(np.array([self.tick(ts)]), self.unit, time_unit)[0])

    def periods(self, time_unit: str) -> IntArray:
        """Per-row period codes."""
        return _codes_from_ticks(self.ticks, self.unit, time_unit)

    def sorted_periods(self, time_unit: str) -> IntArray:
        """Period codes of the rows in ``(customer, timestamp)`` order."""
        if time_unit == "h":
            ticks = self.sorted_steps.astype(np.int64) * self.step + self.tick0
            return _codes_from_ticks(ticks, self.unit, time_unit)
        per_day = 86_400 * _TICKS_PER_SECOND[self.unit]
        days = self.sorted_steps.astype(np.int64)
        if self.step % per_day == 0:
            if self.step != per_day:
                days *= self.step // per_day
            days += self.tick0 // per_day
        else:
            days *= self.step
            days += self.tick0
            np.floor_divide(days, per_day, out=days)
        return _codes_from_days(days, time_unit)

    def sorted_upto(self, tick: int) -> np.ndarray:
        """Mask of the sorted rows with timestamp ``<= tick``."""
        bound = (tick - self.tick0) // self.step
        if bound < 0:
            return np.zeros(self.sorted_steps.size, dtype=bool)
        if bound >= np.iinfo(self.sorted_steps.dtype).max:
            return np.ones(self.sorted_steps.size, dtype=bool)
        return self.sorted_steps <= self.sorted_steps.dtype.type(bound)

    def repeat_rows(self, rows: np.ndarray | None, first: IntArray, time_unit: str) -> np.ndarray:
        """Mask of the rows (of ``rows``, or all) after their customer's first period."""
        boundary = _period_start_ticks(first + 1, self.unit, time_unit)
        codes = self.codes if rows is None else self.codes[rows]
        ticks = self.ticks if rows is None else self.ticks[rows]
        return ticks >= boundary[codes]


def _build_arrays(
    customers: pd.Series, dates: np.ndarray, values: FloatArray | None
) -> _TransactionArrays:
    """Factorize customers, and sort the rows by customer and timestamp once.

    The sort packs ``(customer code, timestamp)`` into one integer (timestamps
    first divided by the coarsest exact step: day, hour, minute, second), 32
    bits when it fits, so one ``numpy.sort`` orders 10 million rows in about
    half a second; otherwise it falls back to ``numpy.lexsort``. Few full-size
    temporaries are made: at this size every one costs a memory pass.
    """
    codes, uniques = _factorize_customers(customers)
    dates = _supported_unit(dates)
    unit = np.datetime_data(dates.dtype)[0]
    ticks = dates.view(np.int64)
    n_customers = len(uniques)
    tick0, tick1 = int(ticks.min()), int(ticks.max())
    per_second = _TICKS_PER_SECOND[unit]
    step = 1
    for candidate in (86_400 * per_second, 3_600 * per_second, 60 * per_second, per_second):
        if candidate > 1 and (np.remainder(ticks, candidate) == tick0 % candidate).all():
            step = candidate
            break
    steps = ticks - tick0
    if step > 1:
        np.floor_divide(steps, step, out=steps)
    step_bits = max(1, ((tick1 - tick0) // step).bit_length())
    code_bits = max(1, (n_customers - 1).bit_length())
    if step_bits + code_bits <= 63:
        key_dtype = np.uint32 if step_bits + code_bits <= 32 else np.int64
        key = codes.astype(key_dtype)
        key <<= key_dtype(step_bits)
        key |= steps.astype(key_dtype)
        del steps
        ordered = np.sort(key)
        same = ordered[1:] == ordered[:-1]
        shared = ordered[1:][same]
        sorted_codes = (ordered >> key_dtype(step_bits)).astype(np.int64)
        ordered &= key_dtype((1 << step_bits) - 1)
        sorted_steps = ordered
        candidates = _shared_rows(shared, key, key_dtype(step_bits), n_customers, codes)
        del key
    else:  # astronomically many (customer, step) cells: sort the two keys instead
        order = np.lexsort((steps, codes))
        sorted_codes, sorted_steps = codes[order], steps[order]
        same = (sorted_codes[1:] == sorted_codes[:-1]) & (sorted_steps[1:] == sorted_steps[:-1])
        candidates = np.unique(np.concatenate((order[1:][same], order[:-1][same])))
    return _TransactionArrays(
        customer_ids=uniques,
        codes=codes,
        ticks=ticks,
        unit=unit,
        values=values,
        sorted_codes=sorted_codes,
        sorted_steps=sorted_steps,
        tick0=tick0,
        step=step,
        duplicate_candidates=candidates.astype(np.int64, copy=False),
    )


def _shared_rows(
    shared: np.ndarray, key: np.ndarray, shift: np.integer, n_customers: int, codes: IntArray
) -> IntArray:
    """Rows whose packed ``key`` is one of the repeated keys ``shared`` (sorted)."""
    if shared.size == 0:
        return np.empty(0, dtype=np.int64)
    shared = shared[np.concatenate(([True], shared[1:] != shared[:-1]))]
    # Only customers owning a repeated key can own such rows: look up only their rows.
    owners = np.zeros(n_customers, dtype=bool)
    owners[(shared >> shift).astype(np.int64)] = True
    rows = np.flatnonzero(owners[codes])
    return rows[pd.Index(shared).get_indexer(key[rows]) >= 0]
