"""The CX input schema: a long table of customer-experience events, and static customer attributes.

``cx_events`` has one row per event: who (``customer_id``), when
(``timestamp``), what (``signal``) and how much (``value``). Built-in signals
have checked ranges; any other signal name is a custom numeric signal.

=========================  ==========================================  ===========================
signal                     value                                       example
=========================  ==========================================  ===========================
``nps``                    integer 0-10 (likelihood to recommend)      survey answer
``csat``                   integer 1-5                                 post-contact survey
``ces``                    integer 1-7 (customer effort score)         post-contact survey
``complaint``              missing or 1 (the event itself counts)      complaint logged
``contact_wait_seconds``   >= 0 seconds                                one service contact
``contact_resolved_first`` 0 or 1 (resolved at first contact)          one service contact
``pillar_<name>``          0-10 (not necessarily integer)              six-pillars survey item
any other name             a finite number                             custom signal
=========================  ==========================================  ===========================

The six pillars are ``integrity``, ``resolution``, ``expectations``,
``empathy``, ``personalisation`` and ``time_effort``; they are scored on a
0-10 scale (like NPS, so a pillar index averaged over several items is valid
too). Any other ``pillar_*`` name is an error (a typo would otherwise become a
custom signal silently).

Timestamps follow :mod:`clv.data`: datetime64, date strings, ``datetime``
objects; timezone-naive, in one clock.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from clv.data.transactions import _check_customer_column, _parse_date_column, _rows, _show
from clv.data.validate import _column_problem
from clv.exceptions import DataError, Problem

__all__ = [
    "BUILT_IN_SIGNALS",
    "PILLARS",
    "CustomerAttributes",
    "validate_customers",
    "validate_cx_events",
]

#: Canonical column names of a validated event table.
CUSTOMER_ID, TIMESTAMP, SIGNAL, VALUE = "customer_id", "timestamp", "signal", "value"

PILLARS = ("integrity", "resolution", "expectations", "empathy", "personalisation", "time_effort")


@dataclass(frozen=True)
class SignalRange:
    """Allowed values of a built-in signal: ``low <= value <= high``, optionally integers."""

    low: float
    high: float
    integer: bool
    meaning: str

    def describe(self) -> str:
        kind = "an integer" if self.integer else "a number"
        high = "" if np.isinf(self.high) else f" and <= {self.high:g}"
        return f"{kind} >= {self.low:g}{high} ({self.meaning})"


BUILT_IN_SIGNALS: dict[str, SignalRange] = {
    "nps": SignalRange(0, 10, True, "likelihood to recommend, 0-10"),
    "csat": SignalRange(1, 5, True, "satisfaction, 1-5"),
    "ces": SignalRange(1, 7, True, "customer effort score, 1-7"),
    "complaint": SignalRange(1, 1, True, "a complaint event; leave the value empty or 1"),
    "contact_wait_seconds": SignalRange(0, np.inf, False, "wait in seconds"),
    "contact_resolved_first": SignalRange(0, 1, True, "1 if resolved at first contact, else 0"),
    **{f"pillar_{p}": SignalRange(0, 10, False, f"six-pillars score '{p}', 0-10") for p in PILLARS},
}


def validate_cx_events(
    events: pd.DataFrame,
    *,
    customer_id_col: Hashable = CUSTOMER_ID,
    timestamp_col: Hashable = TIMESTAMP,
    signal_col: Hashable = SIGNAL,
    value_col: Hashable = VALUE,
    date_format: str | None = None,
) -> pd.DataFrame:
    """Check a long table of CX events and return a cleaned copy.

    Parameters
    ----------
    events : pandas.DataFrame
        One row per event. Not modified.
    customer_id_col, timestamp_col, signal_col, value_col : hashable
        Names of the four columns.
    date_format : str, optional
        ``format=`` for ``pandas.to_datetime`` when timestamps are strings.

    Returns
    -------
    pandas.DataFrame
        A copy with the four columns renamed to ``customer_id``, ``timestamp``
        (datetime64, naive), ``signal`` (str) and ``value`` (float64; a
        complaint's missing value becomes 1.0), followed by any other columns
        unchanged, in the input's row order and index.

    Raises
    ------
    DataError
        One error listing every problem: missing columns, an empty table,
        missing or mixed-type customer ids, missing, unparseable, numeric or
        timezone-aware (or tz-mixed) timestamps, missing signal names, an
        unknown ``pillar_*`` name, non-numeric, missing or infinite values, and
        out-of-range values per built-in signal, each with example rows (index
        labels) and the fix.

    Examples
    --------
    >>> ev = pd.DataFrame({"customer_id": [1, 1, 2],
    ...                    "timestamp": ["2024-01-02", "2024-01-09", "2024-01-03"],
    ...                    "signal": ["nps", "complaint", "csat"], "value": [9, None, 5]})
    >>> validate_cx_events(ev)["value"].tolist()
    [9.0, 1.0, 5.0]
    >>> ev.loc[2, "value"] = 7
    >>> validate_cx_events(ev)
    Traceback (most recent call last):
    ...
    clv.exceptions.DataError: 1 problem in the CX events:
      - column 'value' is out of range for signal 'csat' in 1 row (7.0); csat must be an integer >= 1 and <= 5 (satisfaction, 1-5) (e.g. 2).
        Fix: correct or drop these rows (rows shown are index labels), or rename the signal if it is on another scale (e.g. 'csat_10' is a custom signal).
    """  # noqa: E501
    if not isinstance(events, pd.DataFrame):
        raise TypeError(f"events must be a pandas DataFrame, got {type(events).__name__}.")
    roles = {
        customer_id_col: "customer id",
        timestamp_col: "timestamp",
        signal_col: "signal",
        value_col: "value",
    }
    problems: list[Problem] = []
    present: dict[Hashable, pd.Series] = {}
    for name, role in roles.items():
        problem = _column_problem(events, name, role)
        if problem is None:
            present[name] = events[name]
        else:
            problems.append(problem)
    if len(events) == 0:
        problems.append(
            Problem(None, "the event table has no rows", "pass a non-empty table of CX events.")
        )
        raise DataError(problems, what="the CX events")
    labels = np.asarray(events.index)
    who = "at rows (index labels)"
    if customer_id_col in present:
        problems.extend(
            replace(p, fix=p.fix.replace("every transaction", "every event"))
            for p in _check_customer_column(present[customer_id_col], name=str(customer_id_col))
        )
    timestamps = None
    if timestamp_col in present:
        timestamps, ts_problems = _parse_date_column(
            present[timestamp_col],
            name=str(timestamp_col),
            ids=labels,
            date_format=date_format,
            who=who,
        )
        problems.extend(ts_problems)
    signals = None
    if signal_col in present:
        signals, sig_problems = _parse_signals(present[signal_col], str(signal_col), labels)
        problems.extend(sig_problems)
    values = None
    if value_col in present:
        values, val_problems = _parse_values(present[value_col], str(value_col), labels, signals)
        problems.extend(val_problems)
        if signals is not None:
            problems.extend(_range_problems(values, signals, str(value_col), labels))
    if problems:
        raise DataError(problems, what="the CX events")
    if timestamps is None or signals is None or values is None:  # pragma: no cover
        raise RuntimeError("unreachable: missing columns are reported as problems")
    rest = events.drop(columns=list(roles))
    out = pd.DataFrame(
        {
            CUSTOMER_ID: events[customer_id_col].to_numpy(),
            TIMESTAMP: timestamps,
            SIGNAL: signals,
            VALUE: values,
        },
        index=events.index.copy(),
    )
    return pd.concat([out, rest], axis=1) if rest.shape[1] else out


def _parse_signals(
    col: pd.Series, name: str, labels: np.ndarray
) -> tuple[np.ndarray | None, list[Problem]]:
    """Signal names as an object array of str, and their problems."""
    problems = []
    missing = col.isna().to_numpy()
    if missing.any():
        problems.append(
            Problem(
                name,
                f"is missing in {_rows(int(missing.sum()))}",
                "every event needs a signal name (e.g. 'nps', 'complaint'); drop or fill these "
                "rows.",
                list(labels[missing]),
            )
        )
    text = col.astype(object).where(~missing, "").to_numpy()
    not_str = np.fromiter((not isinstance(v, str) for v in text), dtype=bool, count=len(text))
    if not_str.any():
        problems.append(
            Problem(
                name,
                f"has {_rows(int(not_str.sum()), 'non-text value')} ({_show(text[not_str])})",
                f"signal names are strings; convert with df[{name!r}].astype(str) if intended.",
                list(labels[not_str]),
            )
        )
        text = np.array([str(v) for v in text], dtype=object)
    uniq = pd.unique(text)
    bad = [s for s in uniq if s.startswith("pillar_") and s not in BUILT_IN_SIGNALS]
    if bad:
        mask = np.isin(text, bad)
        problems.append(
            Problem(
                name,
                f"has unknown pillar signal{'s' if len(bad) > 1 else ''} "
                f"{', '.join(repr(b) for b in bad[:5])} in {_rows(int(mask.sum()))}",
                "the six pillars are "
                + ", ".join(f"'pillar_{p}'" for p in PILLARS)
                + "; rename the signal to one of them, or drop the 'pillar_' prefix to keep it "
                "as a custom signal.",
                list(labels[mask]),
            )
        )
    return text, problems


def _parse_values(
    col: pd.Series, name: str, labels: np.ndarray, signals: np.ndarray | None
) -> tuple[np.ndarray, list[Problem]]:
    """Values as float64 (complaint NaN -> 1.0; bad cells NaN), and their problems."""
    problems = []
    bad = np.zeros(len(col), dtype=bool)
    if pd.api.types.is_bool_dtype(col.dtype):
        values = col.to_numpy(dtype=np.float64, na_value=np.nan)
    elif pd.api.types.is_numeric_dtype(col.dtype):
        values = np.array(col.to_numpy(dtype=np.float64, na_value=np.nan))
    else:
        obj = col.astype(object)
        obj = obj.map(lambda v: float(v) if isinstance(v, bool | np.bool_) else v)
        numbers = pd.to_numeric(obj, errors="coerce")
        values = np.array(numbers.to_numpy(dtype=np.float64, na_value=np.nan))
        bad = np.isnan(values) & col.notna().to_numpy()
        if bad.any():
            problems.append(
                Problem(
                    name,
                    f"has {_rows(int(bad.sum()), 'non-numeric value')} ({_show(col[bad])})",
                    f"values are numbers; convert with pd.to_numeric(df[{name!r}]) after "
                    "removing units or text, or map categories to codes.",
                    list(labels[bad]),
                )
            )
    is_complaint = signals == "complaint" if signals is not None else np.zeros(len(values), bool)
    missing = np.isnan(values)
    values[missing & is_complaint] = 1.0
    missing &= ~is_complaint & ~bad  # non-numeric cells are reported above
    if missing.any():
        problems.append(
            Problem(
                name,
                f"is missing in {_rows(int(missing.sum()))}"
                + (f" (signals {_show(signals[missing])})" if signals is not None else ""),
                "every event except 'complaint' needs a value; drop the rows of unanswered "
                "surveys (a missing answer is no event).",
                list(labels[missing]),
            )
        )
    infinite = np.isinf(values)
    if infinite.any():
        problems.append(
            Problem(
                name,
                f"is infinite in {_rows(int(infinite.sum()))}",
                "replace the infinite values with real ones or drop these rows.",
                list(labels[infinite]),
            )
        )
    return values, problems


def _range_problems(
    values: np.ndarray, signals: np.ndarray, name: str, labels: np.ndarray
) -> list[Problem]:
    """One problem per built-in signal whose values are out of range (finite values only)."""
    problems = []
    finite = np.isfinite(values)
    for signal, spec in BUILT_IN_SIGNALS.items():
        rows = (signals == signal) & finite
        if not rows.any():
            continue
        v = values[rows]
        bad_v = (v < spec.low) | (v > spec.high)
        if spec.integer:
            bad_v |= v != np.floor(v)
        if not bad_v.any():
            continue
        where = np.flatnonzero(rows)[bad_v]
        fix = (
            "a complaint is an event: leave its value empty or 1 (rows with 0 are not complaints:"
            " drop them)."
            if signal == "complaint"
            else "correct or drop these rows (rows shown are index labels), or rename the signal "
            f"if it is on another scale (e.g. '{signal}_10' is a custom signal)."
        )
        problems.append(
            Problem(
                name,
                f"is out of range for signal {signal!r} in {_rows(len(where))} "
                f"({_show(values[where])}); {signal} must be {spec.describe()}",
                fix,
                list(labels[where]),
            )
        )
    return problems


# --------------------------------------------------------------------------- customers


@dataclass(frozen=True)
class CustomerAttributes:
    """A validated table of static customer attributes.

    Attributes
    ----------
    frame : pandas.DataFrame
        A copy indexed by ``customer_id`` (unique, no missing ids).
    categorical : tuple of str
        Columns of object, string, category or bool dtype (one-hot encoded by
        the feature builder).
    numeric : tuple of str
        Columns of integer or float dtype.
    other : tuple of str
        Columns of any other dtype (e.g. dates); not usable as features as they are.
    """

    frame: pd.DataFrame
    categorical: tuple[str, ...]
    numeric: tuple[str, ...]
    other: tuple[str, ...]

    def __repr__(self) -> str:
        return (
            f"<CustomerAttributes of {len(self.frame)} customers: categorical "
            f"{list(self.categorical)}, numeric {list(self.numeric)}, other {list(self.other)}>"
        )


def validate_customers(
    customers: pd.DataFrame, *, customer_id_col: Hashable = CUSTOMER_ID
) -> CustomerAttributes:
    """Check a table of static customer attributes (one row per customer).

    Parameters
    ----------
    customers : pandas.DataFrame
        One row per customer, with the id in column ``customer_id_col`` or, if
        there is no such column, in an index of that name. Not modified.
    customer_id_col : hashable
        Name of the id column (or index).

    Returns
    -------
    CustomerAttributes
        The frame indexed by ``customer_id`` and which columns are treated as
        categorical (object, string, category, bool) and numeric (int, float).

    Raises
    ------
    DataError
        Missing id column, missing ids, repeated ids, an empty table.

    Examples
    --------
    >>> c = pd.DataFrame({"customer_id": [1, 2], "channel": ["web", "store"], "age": [30, 41]})
    >>> validate_customers(c)
    <CustomerAttributes of 2 customers: categorical ['channel'], numeric ['age'], other []>
    """
    if not isinstance(customers, pd.DataFrame):
        raise TypeError(f"customers must be a pandas DataFrame, got {type(customers).__name__}.")
    problems: list[Problem] = []
    if customer_id_col in customers.columns:
        problem = _column_problem(customers, customer_id_col, "customer id")
        if problem is not None:
            raise DataError([problem], what="the customers")
        frame = customers.set_index(customer_id_col)
    elif customers.index.name == customer_id_col:
        frame = customers.copy()
    else:
        problem = _column_problem(customers, customer_id_col, "customer id")
        raise DataError([problem] if problem else [], what="the customers")
    if len(frame) == 0:
        problems.append(Problem(None, "the customer table has no rows", "pass customers."))
    ids = frame.index
    missing = np.asarray(ids.isna())
    name = str(customer_id_col)
    if missing.any():
        problems.append(
            Problem(
                name,
                f"is missing for {_rows(int(missing.sum()))} (row positions shown)",
                "drop these rows or fill in the customer id.",
                list(np.flatnonzero(missing)),
            )
        )
    repeated = np.asarray(ids.duplicated()) & ~missing
    if repeated.any():
        problems.append(
            Problem(
                name,
                f"repeats {_rows(int(repeated.sum()), 'customer id')}",
                "one row per customer: customer attributes are static; keep one row per id "
                "(e.g. the latest) with drop_duplicates(subset=[...], keep='last').",
                list(pd.unique(np.asarray(ids)[repeated])),
            )
        )
    if problems:
        raise DataError(problems, what="the customers")
    frame.index = frame.index.rename(CUSTOMER_ID)
    categorical, numeric, other = [], [], []
    for col in frame.columns:
        dtype = frame[col].dtype
        if (
            pd.api.types.is_bool_dtype(dtype)
            or isinstance(dtype, pd.CategoricalDtype)
            or pd.api.types.is_object_dtype(dtype)
            or pd.api.types.is_string_dtype(dtype)
        ):
            categorical.append(str(col))
        elif pd.api.types.is_numeric_dtype(dtype):
            numeric.append(str(col))
        else:
            other.append(str(col))
    return CustomerAttributes(frame, tuple(categorical), tuple(numeric), tuple(other))
