"""Validation of transaction logs and RFM frames: collect every problem, raise once.

Each check adds a :class:`~clv.exceptions.Problem` naming the column, example
customer ids (or row labels) and the fix; at the end one
:class:`~clv.exceptions.DataError` lists them all, so one run shows everything
to fix (like CLVTools' accumulated ``err.msg``). Suspicious but valid data
gives a :class:`~clv.exceptions.DataWarning`. The caller's frame is never
modified.

Policies (also in ``docs/data.md``):

- **Negative amounts** are returns or refunds: a ``DataError`` asking to net
  them against their purchase or drop them (the models have no notion of a
  return).
- **Zero amounts** are purchases (a free or fully discounted order): they count
  towards frequency and recency, and their 0 enters the period's total and the
  mean spend, exactly as in lifetimes. ``rfm_summary`` warns when a customer
  ends up with repeat purchases but ``monetary_value == 0``; spend models fit
  on the repeat buyers with positive spend and score everyone.
- **Exact duplicate rows** (identical in every column) give a ``DuplicateRowsWarning``
  (a ``DataWarning``),
  not an error: same-period purchases are merged into one anyway, so they do
  not change frequency or recency, but their amounts are summed.
- **Transactions after** ``observation_end`` are an error (lifetimes silently
  drops them); filter them first or use ``calibration_holdout_split``.
- **A single customer** gives a ``DataWarning``: the summary is valid, but no
  model can be fitted on one customer.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionArray

from clv.data.schema import FREQUENCY, MONETARY_VALUE, RECENCY, RFM_COLUMNS, WEIGHT, T
from clv.data.transactions import (
    _build_arrays,
    _check_customer_column,
    _example_ids,
    _parse_date_column,
    _parse_timestamp,
    _parse_value_column,
    _rows,
    _timestamp_tick,
    _TransactionArrays,
    period_codes,
)
from clv.data.units import data_time_unit
from clv.exceptions import DataError, DataWarning, DuplicateRowsWarning, Problem

__all__ = ["validate_transactions", "validate_rfm"]


def validate_transactions(
    transactions: pd.DataFrame,
    customer_id_col: Hashable,
    date_col: Hashable,
    value_col: Hashable | None = None,
    observation_end: object = None,
    *,
    date_format: str | None = None,
) -> None:
    """Check a transaction log; raise one ``DataError`` listing every problem.

    Parameters
    ----------
    transactions : pandas.DataFrame
        One row per transaction. Not modified.
    customer_id_col, date_col : hashable
        Columns with the customer id and the transaction date. Dates may be
        datetime64, strings (parsed with ``pandas.to_datetime``), ``datetime.date``
        or ``datetime`` objects; they must be timezone-naive.
    value_col : hashable, optional
        Column with the amount of each transaction.
    observation_end : date-like, optional
        End of the observation window (inclusive); no transaction may be after
        it. Default: the last transaction date.
    date_format : str, optional
        ``format=`` for ``pandas.to_datetime`` when dates are strings.

    Raises
    ------
    DataError
        With one :class:`~clv.exceptions.Problem` per issue: missing columns
        (with the closest existing name), an empty frame, missing customer ids,
        customer ids of mixed types, missing or unparseable dates, numeric or
        timezone-aware dates, non-numeric, missing, infinite or negative amounts
        (negative amounts are returns: net them against their purchase or drop
        them), and transactions after ``observation_end``.

    Warns
    -----
    DataWarning
        Exact duplicate rows (identical in every column; they are kept and
        merged into their period) and logs with a single customer.

    Notes
    -----
    Zero amounts are valid purchases: they count towards frequency and recency,
    and their 0 enters the mean spend (as in lifetimes).

    Examples
    --------
    >>> tx = pd.DataFrame({"id": [1, 1, 2], "day": ["2024-01-02", "2024-01-09", "soon"],
    ...                    "amount": [10.0, -3.0, 5.0]})
    >>> validate_transactions(tx, "id", "day", "amount")
    Traceback (most recent call last):
    ...
    clv.exceptions.DataError: 2 problems in the transactions:
      - column 'day' has 1 value that is not a date ('soon'), for customer_id (e.g. 2).
        Fix: pass date_format= (e.g. date_format='%Y-%m-%d', or 'mixed' for mixed formats), or convert the column yourself with pd.to_datetime(df['day'], format=...).
      - column 'amount' is negative in 1 row (-3.0), for customer_id (e.g. 1).
        Fix: negative amounts are returns or refunds: net returns against their purchase (add the refund to the original transaction) or drop them; clv does not model returns.
    """  # noqa: E501
    checked = _check_transactions(
        transactions,
        customer_id_col=customer_id_col,
        date_col=date_col,
        value_col=value_col,
        observation_end=observation_end,
        date_format=date_format,
    )
    checked.warn(stacklevel=3)


@dataclass(frozen=True)
class _Checked:
    """Result of :func:`_check_transactions` for a valid log."""

    arrays: _TransactionArrays
    observation_end: pd.Timestamp
    calibration_end: pd.Timestamp | None
    warnings: tuple[tuple[Problem, type[DataWarning]], ...]

    def warn(self, stacklevel: int) -> None:
        for problem, category in self.warnings:
            warnings.warn(_warning_text(problem), category, stacklevel=stacklevel)


def _warning_text(problem: Problem) -> str:
    return problem.render().strip().removeprefix("- ")


def _column_problem(frame: pd.DataFrame, name: Hashable, role: str) -> Problem | None:
    """Problem if ``name`` is not exactly one column of ``frame``."""
    columns = list(frame.columns)
    hits = sum(1 for c in columns if c == name)
    if hits == 1:
        return None
    if hits > 1:
        return Problem(
            str(name),
            f"appears {hits} times in the frame",
            "give every column a unique name.",
        )
    text = {str(c): c for c in columns}
    lowered = {str(c).lower(): c for c in columns}
    close = difflib.get_close_matches(str(name), list(text), n=1, cutoff=0.6)
    key = str(name).lower()
    # a column whose name contains (or is contained in) the wanted one: 'cust' for 'customer_id'
    partial = [
        c
        for c in columns
        if min(len(str(c)), len(key)) >= 3 and (str(c).lower() in key or key in str(c).lower())
    ]
    if key in lowered:
        guess = lowered[key]
    elif close:
        guess = text[close[0]]
    elif partial:
        guess = max(partial, key=lambda c: len(str(c)))
    else:
        guess = None
    hint = f"did you mean {guess!r}? " if guess is not None else ""
    shown = ", ".join(repr(c) for c in columns[:10]) + (", ..." if len(columns) > 10 else "")
    return Problem(
        str(name),
        f"({role}) is not in the frame (missing); its columns are {shown}",
        f"{hint}pass the name of the {role} column.",
    )


def _check_transactions(
    transactions: object,
    *,
    customer_id_col: Hashable,
    date_col: Hashable,
    value_col: Hashable | None,
    observation_end: object,
    date_format: str | None,
    calibration_end: object = None,
    time_unit: str | None = None,
) -> _Checked:
    """Run every check on a transaction log; raise one ``DataError`` if any fails.

    Returns the log as arrays (customers factorized, rows sorted by customer and
    time) together with the resolved observation end and the warnings to emit.
    """
    if not isinstance(transactions, pd.DataFrame):
        raise TypeError(
            f"transactions must be a pandas DataFrame, got {type(transactions).__name__}."
        )
    problems: list[Problem] = []
    named = [(customer_id_col, "customer id", "customer_id_col"), (date_col, "date", "date_col")]
    if value_col is not None:
        named.append((value_col, "value", "value_col"))
    for i, (name, _, arg) in enumerate(named):
        for other, _, other_arg in named[:i]:
            if name == other:
                problems.append(
                    Problem(
                        str(name),
                        f"is given both as {other_arg} and as {arg}",
                        "each role needs its own column: pass the right column names.",
                    )
                )
    if problems:
        raise DataError(problems, what="the transactions")
    roles = {name: role for name, role, _ in named}
    present = {}
    for name, role in roles.items():
        problem = _column_problem(transactions, name, role)
        if problem is None:
            present[name] = transactions[name]
        else:
            problems.append(problem)
    end_problems: list[Problem]
    end, end_problems = (None, [])
    if observation_end is not None:
        end, end_problems = _parse_timestamp(
            observation_end, name="observation_end", date_format=date_format
        )
        problems.extend(end_problems)
    cal = None
    if calibration_end is not None:
        cal, cal_problems = _parse_timestamp(
            calibration_end, name="calibration_end", date_format=date_format
        )
        problems.extend(cal_problems)
    if len(transactions) == 0:
        problems.append(
            Problem(None, "the transaction log has no rows", "pass a non-empty transaction log.")
        )
        raise DataError(problems, what="the transactions")

    ids_col = present.get(customer_id_col)
    if ids_col is not None:
        problems.extend(_check_customer_column(ids_col, name=str(customer_id_col)))
        # Only the rows of a problem are shown: an Arrow-backed column is not
        # turned into millions of Python strings up front.
        ids = ids_col.to_numpy() if isinstance(ids_col.dtype, np.dtype) else ids_col.array
        who = "for customer_id"
    else:  # without customer ids, examples are row labels
        ids = np.asarray(transactions.index)
        who = "at row labels"
    dates = values = None
    if date_col in present:
        dates, date_problems = _parse_date_column(
            present[date_col], name=str(date_col), ids=ids, date_format=date_format, who=who
        )
        problems.extend(date_problems)
    if value_col is not None and value_col in present:
        values, value_problems = _parse_value_column(
            present[value_col], name=str(value_col), ids=ids, who=who
        )
        problems.extend(value_problems)

    if dates is not None and not np.isnat(dates).all():
        problems.extend(implausible_dates(dates, str(date_col), ids, who))
        last = pd.Timestamp(dates[~np.isnat(dates)].max())
        if observation_end is None:
            end = last
        elif end is not None and last > end:
            unit = np.datetime_data(dates.dtype)[0]
            after = dates.view(np.int64) > _timestamp_tick(end, unit)
            after &= ~np.isnat(dates)
            problems.append(
                Problem(
                    str(date_col),
                    f"has {_rows(int(after.sum()))} after observation_end "
                    f"({end.isoformat()}; the last is {last.isoformat()}), {who}",
                    f"drop them first (transactions[transactions[{date_col!r}] <= "
                    "observation_end]), pass a later observation_end, or use "
                    "calibration_holdout_split() to keep them as a holdout period.",
                    _example_ids(ids, after),
                )
            )
        if cal is not None and end is not None:
            problems.extend(_calibration_problems(dates, cal, end, time_unit or "D"))
    if problems:
        raise DataError(problems, what="the transactions")
    if ids_col is None or dates is None or end is None:  # pragma: no cover - reported above
        raise RuntimeError("unreachable: missing columns are reported as problems")

    arrays = _build_arrays(ids_col, dates, values)
    found: list[tuple[Problem, type[DataWarning]]] = []
    duplicates = _exact_duplicates(transactions, arrays.duplicate_candidates, roles)
    if duplicates is not None and duplicates.any():
        found.append(
            (
                Problem(
                    None,
                    f"{_rows(int(duplicates.sum()))} of the transaction log are exact "
                    "duplicates of an earlier row; they are kept: same-period purchases are "
                    "merged into one purchase, with their amounts summed (customer ids shown)",
                    "if the log was loaded twice, drop them with transactions.drop_duplicates().",
                    _example_ids(ids, duplicates),
                ),
                DuplicateRowsWarning,
            )
        )
    if arrays.n_customers == 1:
        found.append(
            (
                Problem(
                    str(customer_id_col),
                    "has a single customer; the summary is valid but no model can be fitted on it",
                    "pass the transaction log of all customers.",
                    list(arrays.customer_ids),
                ),
                DataWarning,
            )
        )
    return _Checked(arrays=arrays, observation_end=end, calibration_end=cal, warnings=tuple(found))


#: Transactions before this day are typos (year 1, 1500, 1900-01-01 placeholders...).
EARLIEST_DATE = pd.Timestamp("1900-01-02")


def implausible_dates(
    dates: np.ndarray,
    name: str,
    ids: np.ndarray | ExtensionArray,
    who: str,
    *,
    after: pd.Timestamp | None = None,
) -> list[Problem]:
    """Dates no transaction log has: before 1900-01-02, or on or after ``after``.

    The ``clv`` command passes ``after`` = the day after the run date when no
    ``--as-of`` is given: a single row dated 2099 would otherwise move the
    default observation end (the last transaction) to 2099 for every customer,
    and the model would call everyone dead. The Python API does not (simulated
    logs may lie in the future).
    """
    unit = np.datetime_data(dates.dtype)[0]
    ticks = dates.view(np.int64)
    valid = ~np.isnat(dates)
    problems = []
    early = valid & (ticks < _timestamp_tick(EARLIEST_DATE, unit))
    if early.any():
        first = dates[early].min()
        problems.append(
            Problem(
                name,
                f"has {_rows(int(early.sum()))} dated before {EARLIEST_DATE.date()} (the "
                f"earliest is {str(first)[:10]}), {who}",
                "these are typos or placeholder dates: correct them or drop these rows.",
                _example_ids(ids, early),
            )
        )
    if after is not None:
        late = valid & (ticks >= _timestamp_tick(after, unit))
        if late.any():
            problems.append(
                Problem(
                    name,
                    f"has {_rows(int(late.sum()))} dated after the run date (the latest is "
                    f"{str(dates[late].max())[:10]}), {who}; the observation end would move "
                    "there for every customer",
                    "correct these dates or drop these rows; or pass observation_end "
                    "(clv: --as-of) to leave later transactions out.",
                    _example_ids(ids, late),
                )
            )
    return problems


def _calibration_problems(
    dates: np.ndarray, cal: pd.Timestamp, end: pd.Timestamp, time_unit: str
) -> list[Problem]:
    """Problems with calibration_end relative to observation_end and the data."""
    problems = []
    window = "the holdout period is (calibration_end, observation_end]"
    if cal >= end:
        problems.append(
            Problem(
                None,
                f"argument calibration_end ({cal.isoformat()}) is not before observation_end "
                f"({end.isoformat()})",
                f"pass a calibration_end before observation_end; {window}.",
            )
        )
    else:
        both = np.array([cal.to_datetime64(), end.to_datetime64()]).astype("datetime64[ns]")
        cal_period, end_period = period_codes(both, time_unit)
        if cal_period == end_period:
            problems.append(
                Problem(
                    None,
                    f"calibration_end ({cal.isoformat()}) and observation_end "
                    f"({end.isoformat()}) fall in the same period of time_unit={time_unit!r}, "
                    "so the holdout is 0 periods long",
                    f"leave at least one period between them, or use a finer time_unit; {window}.",
                )
            )
    first = pd.Timestamp(dates[~np.isnat(dates)].min())
    if first > cal:
        problems.append(
            Problem(
                None,
                f"no transaction is on or before calibration_end ({cal.isoformat()}); "
                f"the first is on {first.isoformat()}",
                "pass a later calibration_end: the calibration period needs purchases.",
            )
        )
    return problems


def _exact_duplicates(
    frame: pd.DataFrame, candidates: np.ndarray, roles: dict[Hashable, str]
) -> np.ndarray | None:
    """Mask of rows identical in every column to an earlier row.

    Only ``candidates`` (rows sharing customer and timestamp with another row)
    can be duplicates, so only they are compared.
    """
    if candidates.size == 0:
        return None
    subset = frame.iloc[candidates]
    try:
        repeated = subset.duplicated(keep="first").to_numpy()
    except TypeError:  # unhashable cells (lists, dicts) in some other column
        repeated = subset[list(roles)].duplicated(keep="first").to_numpy()
    mask = np.zeros(len(frame), dtype=bool)
    mask[candidates[repeated]] = True
    return mask


# --------------------------------------------------------------------------- RFM frames


def validate_rfm(rfm: pd.DataFrame, *, columns: Sequence[str] | None = None) -> None:
    """Check an RFM frame against the contract; raise one ``DataError`` listing every problem.

    Parameters
    ----------
    rfm : pandas.DataFrame
        Indexed by customer id (unique, no missing values), with columns
        ``frequency``, ``recency``, ``T`` and optionally ``monetary_value`` and
        ``weight``. Not modified.
    columns : sequence of str, optional
        Columns to require and check. Default: ``frequency``, ``recency``, ``T``,
        plus ``monetary_value`` and ``weight`` when present. A spend model
        passes ``("frequency", "monetary_value")``; a transaction model that
        ignores spend passes ``("frequency", "recency", "T")``.

    Raises
    ------
    DataError
        Missing columns, non-numeric or non-finite values, ``frequency`` negative
        or not integer-valued, ``recency`` outside ``[0, T]``, ``recency != 0``
        where ``frequency == 0``, ``T <= 0``, ``monetary_value`` negative,
        ``weight <= 0``, a ``period_days`` column that is not one positive
        number, and a customer index with missing or repeated ids.

    Examples
    --------
    >>> rfm = pd.DataFrame({"frequency": [2.0, 2.5], "recency": [30.0, 3.0], "T": [20.0, 5.0]},
    ...                    index=pd.Index([17, 58], name="customer_id"))
    >>> validate_rfm(rfm)
    Traceback (most recent call last):
    ...
    clv.exceptions.DataError: 2 problems in the RFM data:
      - column 'frequency' has non-integer values for 1 customer (2.5) (e.g. 58).
        Fix: frequency counts repeat purchases (distinct purchase periods minus one); round it or re-aggregate the transactions.
      - column 'recency' is greater than 'T' for 1 customer (e.g. 17).
        Fix: recency must be <= T. Check that observation_end is after every transaction.
    """  # noqa: E501
    if not isinstance(rfm, pd.DataFrame):
        raise TypeError(f"rfm must be a pandas DataFrame, got {type(rfm).__name__}.")
    if columns is None:
        wanted = list(RFM_COLUMNS) + [c for c in (MONETARY_VALUE, WEIGHT) if c in rfm.columns]
    else:
        wanted = list(dict.fromkeys(columns))
    problems = rfm_rule_problems(rfm, wanted)
    try:
        data_time_unit(rfm)
    except DataError as exc:  # period_days missing on some rows or mixed units
        problems.extend(exc.problems)
    if problems:
        raise DataError(problems, what="the RFM data")


def rfm_rule_problems(
    rfm: pd.DataFrame,
    columns: Sequence[str],
    *,
    zero_T_ok: bool = False,
    integer_T: bool = False,
    repeat_recency: bool = True,
) -> list[Problem]:
    """Every problem of an RFM frame: the one set of rules of clv.

    :func:`validate_rfm` raises them; every model's ``fit`` (through
    ``clv.models._base.rfm_problems``) checks its columns with the same
    function, so an RFM frame is refused or accepted the same way everywhere.

    Parameters
    ----------
    rfm : pandas.DataFrame
        RFM frame indexed by customer id.
    columns : sequence of str
        Columns to require and check (``weight`` is checked too when present).
    zero_T_ok : bool
        Accept ``T == 0`` for customers without repeat purchases (first seen in
        the last period): the transaction models' likelihood is defined there.
    integer_T : bool
        ``recency`` and ``T`` count discrete opportunities (BG/BB): they must
        be whole numbers.
    repeat_recency : bool
        Refuse ``recency == 0`` where ``frequency > 0`` (data and fits). Off
        for predictions of continuous-time models, where that point is the
        limit of a recent repeat purchase (e.g. the edge of a P(alive) grid).

    Returns
    -------
    list of Problem
    """
    wanted = list(dict.fromkeys(columns))
    if WEIGHT in rfm.columns and WEIGHT not in wanted:
        wanted.append(WEIGHT)
    problems: list[Problem] = []
    if len(rfm) == 0:
        problems.append(Problem(None, "the RFM frame has no rows", "pass at least one customer."))
    ids = np.asarray(rfm.index)
    data: dict[str, np.ndarray] = {}
    for name in wanted:
        problem = _column_problem(rfm, name, _RFM_ROLES.get(name, name))
        if problem is not None:
            cal = f"{name}_cal"
            if cal in rfm.columns:
                problem = Problem(
                    name,
                    f"is not in the frame, but {cal!r} is (lifetimes' calibration names)",
                    f"rename the columns, e.g. rfm.rename(columns={{{cal!r}: {name!r}}}).",
                )
            problems.append(problem)
            continue
        col = rfm[name]
        if (
            pd.api.types.is_bool_dtype(col.dtype)
            or not pd.api.types.is_numeric_dtype(col.dtype)
            or pd.api.types.is_complex_dtype(col.dtype)
        ):
            problems.append(
                Problem(
                    name,
                    f"is not numeric (dtype {col.dtype})",
                    f"convert it with pd.to_numeric(rfm[{name!r}]).",
                )
            )
            continue
        values = col.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(values)
        if bad.any():
            problems.append(
                Problem(
                    name,
                    f"is missing or infinite for {_rows(int(bad.sum()), 'customer')}",
                    "fill in or drop these customers; every value must be a finite number.",
                    list(ids[bad]),
                )
            )
            values = np.where(bad, np.nan, values)
        data[name] = values
    problems.extend(
        _rfm_value_problems(
            data,
            ids,
            zero_T_ok=zero_T_ok,
            integer_T=integer_T,
            repeat_recency=repeat_recency or integer_T,
        )
    )
    problems.extend(_index_problems(rfm.index))
    return problems


_RFM_ROLES = {
    FREQUENCY: "frequency (repeat purchases)",
    RECENCY: "recency",
    T: "T (customer age)",
    MONETARY_VALUE: "monetary_value (mean repeat spend)",
    WEIGHT: "weight",
}


def _rfm_value_problems(
    data: dict[str, np.ndarray],
    ids: np.ndarray,
    *,
    zero_T_ok: bool = False,
    integer_T: bool = False,
    repeat_recency: bool = True,
) -> list[Problem]:
    """Range and consistency checks between RFM columns (NaN means 'already reported')."""
    problems: list[Problem] = []

    def add(mask: np.ndarray, column: str, message: str, fix: str) -> None:
        if mask.any():
            n = _rows(int(mask.sum()), "customer")
            problems.append(Problem(column, message.format(n=n), fix, list(ids[mask])))

    x, t_x, age = data.get(FREQUENCY), data.get(RECENCY), data.get(T)
    if x is not None:
        add(x < 0, FREQUENCY, "is negative for {n}", "frequency counts repeat purchases; >= 0.")
        fractional = (x >= 0) & (x != np.floor(x))
        if fractional.any():
            first = _plain_number(x[fractional][0])
            add(
                fractional,
                FREQUENCY,
                "has non-integer values for {n} " + f"({first})",
                "frequency counts repeat purchases (distinct purchase periods minus one); "
                "round it or re-aggregate the transactions.",
            )
    if t_x is not None:
        add(
            t_x < 0,
            RECENCY,
            "is negative for {n}",
            "recency is the time from the first to the last purchase; it is >= 0.",
        )
        if age is not None:
            add(
                t_x > age,
                RECENCY,
                "is greater than 'T' for {n}",
                "recency must be <= T. Check that observation_end is after every transaction.",
            )
        if x is not None:
            add(
                (x > 0) & (t_x == 0) & repeat_recency,
                RECENCY,
                "is 0 for {n} with repeat purchases (frequency > 0)",
                "a repeat purchase comes after the first one, so recency > 0 where "
                "frequency > 0; check how recency was computed (time from the first to the "
                "last purchase).",
            )
            add(
                (x == 0) & (t_x != 0) & ~np.isnan(t_x),
                RECENCY,
                "is not 0 for {n} with frequency 0",
                "a customer without repeat purchases has recency 0 (lifetimes' convention); "
                "set recency to 0 where frequency is 0.",
            )
    if age is not None:
        nonpositive = age <= 0
        if zero_T_ok and x is not None:
            # first seen in the last period: no likelihood contribution, valid without repeats
            nonpositive = (age < 0) | ((age == 0) & (x > 0))
        add(
            nonpositive,
            T,
            "is <= 0 for {n}" + (" (0 is allowed only with frequency 0)" if zero_T_ok else ""),
            "T is the time from the first purchase to observation_end and must be > 0; "
            "drop customers whose first purchase is in the last period (rfm[rfm['T'] > 0]).",
        )
    if integer_T:
        for column, values in ((T, age), (RECENCY, t_x)):
            if values is not None:
                add(
                    values != np.floor(values),
                    column,
                    "has non-integer values for {n}",
                    f"{column} counts purchase opportunities for this model: whole numbers.",
                )
    spend = data.get(MONETARY_VALUE)
    if spend is not None:
        add(
            spend < 0,
            MONETARY_VALUE,
            "is negative for {n}",
            "monetary_value is the mean spend of repeat purchases; net returns against "
            "their purchases before summarising.",
        )
        # 0 with repeat purchases is valid: spend models fit without those customers
    weight = data.get(WEIGHT)
    if weight is not None:
        add(weight <= 0, WEIGHT, "is <= 0 for {n}", "weight counts identical customers; it is > 0.")
    return problems


def _plain_number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else float(value)


def _index_problems(index: pd.Index) -> list[Problem]:
    if index.is_unique and not index.hasnans:  # both cached by pandas: cheap on every call
        return []
    problems = []
    name = str(index.name) if index.name is not None else "customer_id (index)"
    missing = np.asarray(index.isna())
    if missing.any():
        problems.append(
            Problem(
                name,
                f"index has {_rows(int(missing.sum()), 'missing id')}",
                "drop or fill in the customers without an id; the index must identify customers.",
            )
        )
    repeated = np.asarray(index.duplicated()) & ~missing
    if repeated.any():
        problems.append(
            Problem(
                name,
                f"index repeats {_rows(int(repeated.sum()), 'customer id')}",
                "one row per customer: aggregate the rows of each customer, or "
                "set_index('customer_id') if the ids are a column.",
                list(pd.unique(np.asarray(index)[repeated])),
            )
        )
    return problems
