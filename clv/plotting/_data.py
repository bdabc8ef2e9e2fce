"""The numbers behind every plot: public, tested functions returning pandas objects.

Each ``plot_*`` function in :mod:`clv.plotting` only draws the frame one of
these functions returns, so the numbers can be checked (and reused) without
looking at bar heights.  Nothing here imports matplotlib.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from clv.data.units import data_time_unit, in_unit_of, parse_time_unit
from clv.exceptions import DataError, Problem
from clv.models._base import rfm_problems

__all__ = [
    "frequency_recency_grid",
    "period_transactions",
    "conditional_expectations",
    "probability_alive_history",
    "time_unit_label",
]

Quantity = Literal["probability_alive", "expected_purchases"]

_UNIT_NAMES = {
    "D": "days",
    "W": "weeks",
    "M": "months",
    "ME": "months",
    "MS": "months",
    "Q": "quarters",
    "QE": "quarters",
    "Y": "years",
    "YE": "years",
    "A": "years",
    "H": "hours",
    "h": "hours",
}


# ---------------------------------------------------------------------- helpers
def time_unit_label(unit: str | None) -> str:
    """Plural English name of a time unit, for axis labels.

    Parameters
    ----------
    unit : str or None
        A pandas-style unit (``"D"``, ``"W"``, ``"M"``, ...) or any free text.

    Returns
    -------
    str
        ``"weeks"`` for ``"W"``; free text is returned as given; ``"periods"``
        when the unit is unknown (``None``).

    Examples
    --------
    >>> time_unit_label("W"), time_unit_label(None), time_unit_label("fortnights")
    ('weeks', 'periods', 'fortnights')
    """
    if unit is None or str(unit).strip() == "":
        return "periods"
    key = str(unit).strip().upper().split("-")[0]  # "W-SUN" -> "W"
    if key in _UNIT_NAMES:
        return _UNIT_NAMES[key]
    try:
        return parse_time_unit(str(unit)).plural(2).split(" ", 1)[1]  # "7D" -> "7-day periods"
    except ValueError:
        return str(unit)


def _resolve_unit(time_unit: str | None, data: pd.DataFrame | None, model: Any) -> str | None:
    """Explicit argument, then ``data.attrs``, then the unit the model was fitted in."""
    if time_unit is not None:
        return time_unit
    carried = None if data is None else data_time_unit(data)
    if carried is not None:
        return carried.name
    unit = getattr(model, "time_unit_", None)
    return None if unit is None else str(unit)


def _is_discrete(model: Any) -> bool:
    """Whether ``recency`` and ``T`` count purchase opportunities (BG/BB)."""
    return bool(getattr(model, "_integer_T", False))


def _validate(
    data: pd.DataFrame,
    columns: Iterable[str],
    *,
    what: str,
    extra: Iterable[str] = (),
    integer_T: bool = False,
) -> None:
    """Raise one :class:`DataError` listing every problem with the columns a function reads."""
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame, got {type(data).__name__}", what=what)
    problems: list[Problem] = rfm_problems(data, columns, integer_T=integer_T)
    for c in extra:
        if c not in data.columns:
            problems.append(
                Problem(
                    c,
                    "is required but missing",
                    "pass a calibration/holdout frame with 'frequency_holdout' and "
                    "'duration_holdout' "
                    "(clv.data.calibration_holdout_split builds one)",
                )
            )
            continue
        col = data[c]
        if not (pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)):
            problems.append(
                Problem(c, f"is not numeric (dtype {col.dtype})", f"convert '{c}' to numbers")
            )
            continue
        v = col.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(v) | (v < 0)
        if bad.any():
            problems.append(
                Problem(
                    c,
                    f"has {int(bad.sum())} missing, infinite or negative values",
                    "drop those customers, or fill 'frequency_holdout' with 0 purchases",
                    list(data.index[bad][:5]),
                )
            )
    if problems:
        raise DataError(problems, what=what)


def _weights(data: pd.DataFrame) -> np.ndarray:
    if "weight" in data.columns:
        return data["weight"].to_numpy(dtype=np.float64)
    return np.ones(len(data))


def _bin_labels(max_count: int) -> list[str]:
    return [str(k) for k in range(max_count)] + [f"≥{max_count}"]


def _check_max(value: int, name: str) -> int:
    if isinstance(value, bool) or not float(value).is_integer() or int(value) < 1:
        raise ValueError(f"{name} must be a whole number >= 1, got {value!r}.")
    return int(value)


# ---------------------------------------------------------------------- frequency x recency grid
def frequency_recency_grid(
    model: Any,
    *,
    max_frequency: int | None = None,
    max_recency: float | None = None,
    T: float | None = None,
    t: float = 1,
    quantity: Quantity = "probability_alive",
    data: pd.DataFrame | None = None,
    n_recency: int | None = None,
) -> pd.DataFrame:
    """A model prediction for every (frequency, recency) pair of customers aged ``T``.

    Parameters
    ----------
    model : TransactionModel
        A fitted repeat-purchase model (BG/NBD, MBG/NBD, Pareto/NBD, BG/BB).
    max_frequency : int, optional
        Largest frequency (row). Default: the largest frequency in ``data``;
        without ``data``, the 99th percentile of the model's number of repeat
        purchases of a customer aged ``T``.
    max_recency : float, optional
        Largest recency (column), at most ``T``. Default: ``T``.
    T : float, optional
        Age of the customers, in periods. Default: ``max_recency`` if given,
        else the largest ``T`` in ``data``. One of ``T``, ``max_recency`` or
        ``data`` is required.
    t : float, default 1
        Horizon in periods, for ``quantity="expected_purchases"``.
    quantity : {"probability_alive", "expected_purchases"}
        What to compute: :meth:`probability_alive` or
        :meth:`expected_purchases` over the next ``t`` periods.
    data : DataFrame, optional
        RFM frame that supplies the defaults above (it is not modified).
    n_recency : int, optional
        Number of recency columns, evenly spaced from 0 to ``max_recency``.
        Default: about one per period (at most 101). Models with discrete
        opportunities (BG/BB) always use every whole opportunity 0..``max_recency``.

    Returns
    -------
    DataFrame
        Rows ``frequency`` 0..``max_frequency``, columns ``recency``; the
        frequency-0 row repeats its value at recency 0 (a customer without a
        repeat purchase has recency 0, and no model's prediction for them
        depends on recency). Cells that no customer can be in (BG/BB: more
        purchases than opportunities) are NaN. ``attrs`` holds ``quantity``,
        ``T``, ``t`` and ``time_unit``.

    Examples
    --------
    >>> from clv.data.datasets import load_cdnow_summary
    >>> from clv.models import BetaGeoModel
    >>> rfm = load_cdnow_summary()
    >>> grid = frequency_recency_grid(BetaGeoModel().fit(rfm), data=rfm)
    >>> grid.shape
    (30, 40)
    >>> float(grid.loc[0].iloc[0])
    1.0
    """
    if quantity not in ("probability_alive", "expected_purchases"):
        raise ValueError(
            f"quantity must be 'probability_alive' or 'expected_purchases', got {quantity!r}."
        )
    discrete = _is_discrete(model)
    if data is not None:
        _validate(
            data,
            ("frequency", "recency", "T"),
            what="the data passed to frequency_recency_grid",
            integer_T=discrete,
        )
    if T is None:
        if max_recency is not None:
            T = float(max_recency)
        elif data is not None and len(data):
            T = float(data["T"].max())
        else:
            raise ValueError(
                "pass T= (the customers' age in periods), max_recency= or data= "
                "(an RFM frame whose largest T is used)."
            )
    T = float(T)
    if not np.isfinite(T) or T <= 0:
        raise ValueError(f"T must be a finite age > 0 in periods, got {T!r}.")
    if discrete and not T.is_integer():
        raise ValueError(f"T counts purchase opportunities for {type(model).__name__}; got {T!r}.")
    max_recency = T if max_recency is None else float(max_recency)
    if not 0 <= max_recency <= T:
        raise ValueError(
            f"max_recency must be between 0 and T = {T:g} (recency <= T), got {max_recency!r}."
        )
    if max_frequency is None:
        if data is not None and len(data):
            max_frequency = int(data["frequency"].max())
        else:
            max_frequency = _model_frequency_quantile(model, T, 0.99)
    elif (
        isinstance(max_frequency, bool)
        or not float(max_frequency).is_integer()
        or max_frequency < 0
    ):
        raise ValueError(f"max_frequency must be a whole number >= 0, got {max_frequency!r}.")
    max_frequency = int(max_frequency)

    if discrete:
        recency = np.arange(0.0, np.floor(max_recency) + 1.0)
    else:
        if n_recency is None:
            n_recency = int(min(np.ceil(max_recency) + 1, 101))
        elif isinstance(n_recency, bool) or not float(n_recency).is_integer() or n_recency < 1:
            raise ValueError(f"n_recency must be a whole number >= 1, got {n_recency!r}.")
        recency = np.linspace(0.0, max_recency, max(int(n_recency), 1 if max_recency == 0 else 2))
    frequency = np.arange(max_frequency + 1, dtype=np.float64)

    xx, rr = np.meshgrid(frequency, recency, indexing="ij")
    # frequency-0 customers have recency 0: compute the row once, at recency 0, and repeat it
    rr = np.where(xx == 0, 0.0, rr)
    feasible = np.ones(xx.shape, dtype=bool)
    if discrete:  # one purchase per opportunity at most; the last one is at opportunity >= 1
        feasible = (xx == 0) | ((rr >= 1) & (xx <= rr))
    cells = in_unit_of(
        pd.DataFrame({"frequency": xx[feasible], "recency": rr[feasible], "T": T}), model
    )
    if quantity == "probability_alive":
        values = model.probability_alive(cells)
    else:
        values = model.expected_purchases(t, cells)
    out = np.full(xx.shape, np.nan)
    out[feasible] = np.asarray(values, dtype=np.float64)
    grid = pd.DataFrame(
        out,
        index=pd.Index(frequency.astype(np.int64), name="frequency"),
        columns=pd.Index(recency, name="recency"),
    )
    grid.attrs = {
        "quantity": quantity,
        "T": T,
        "t": float(t),
        "time_unit": _resolve_unit(None, data, model),
    }
    return grid


def _model_frequency_quantile(model: Any, T: float, q: float) -> int:
    """Smallest n with P(X(T) <= n) >= q for a new customer (at least 1)."""
    n = np.arange(0, 500, dtype=np.float64)
    cdf = np.cumsum(np.asarray(model.probability_of_purchases(n, T), dtype=np.float64))
    above = np.flatnonzero(cdf >= q)
    return max(int(above[0]) if above.size else int(n[-1]), 1)


# ---------------------------------------------------------------------- period transactions
def period_transactions(model: Any, data: pd.DataFrame, *, max_purchases: int = 7) -> pd.DataFrame:
    """Customers with 0, 1, ..., ``≥max_purchases`` repeat purchases: observed vs model.

    The model column is the expected number of customers,
    :math:`\\sum_i P(X(T_i) = n)`, using each customer's own age ``T``
    (customers of equal ``T`` are grouped, so it costs one model call per
    bin over the distinct ages).

    Parameters
    ----------
    model : TransactionModel
        A fitted repeat-purchase model with ``probability_of_purchases(n, t)``.
    data : DataFrame
        RFM frame (``frequency``, ``T``; an optional ``weight`` column counts
        identical customers). Not modified.
    max_purchases : int, default 7
        The last bin holds customers with ``max_purchases`` or more repeat purchases.

    Returns
    -------
    DataFrame
        Index ``frequency`` with labels ``"0"``, ``"1"``, ..., ``"≥7"``;
        columns ``actual`` and ``model`` (numbers of customers; both sum to
        the number of customers).

    Examples
    --------
    >>> from clv.data.datasets import load_cdnow_summary
    >>> from clv.models import BetaGeoModel
    >>> rfm = load_cdnow_summary()
    >>> table = period_transactions(BetaGeoModel().fit(rfm), rfm)
    >>> int(table["actual"].iloc[0]), round(float(table["model"].sum()))
    (1411, 2357)
    """
    max_purchases = _check_max(max_purchases, "max_purchases")
    _validate(
        data,
        ("frequency", "T"),
        what="the data passed to period_transactions",
        integer_T=_is_discrete(model),
    )
    w = _weights(data)
    x = data["frequency"].to_numpy(dtype=np.float64)
    actual = np.bincount(
        np.minimum(x, max_purchases).astype(np.int64), weights=w, minlength=max_purchases + 1
    )
    T_unique, inverse = np.unique(data["T"].to_numpy(dtype=np.float64), return_inverse=True)
    w_by_T = np.bincount(inverse.ravel(), weights=w, minlength=T_unique.size)
    expected = np.empty(max_purchases + 1)
    for n in range(max_purchases):
        p = np.asarray(model.probability_of_purchases(n, T_unique), dtype=np.float64)
        p = np.broadcast_to(p, T_unique.shape)
        expected[n] = p @ w_by_T
    expected[max_purchases] = max(float(w.sum() - expected[:max_purchases].sum()), 0.0)
    return pd.DataFrame(
        {"actual": actual, "model": expected},
        index=pd.Index(_bin_labels(max_purchases), name="frequency"),
    )


# ---------------------------------------------------------------------- calibration vs holdout
def conditional_expectations(
    model: Any, data: pd.DataFrame, *, max_frequency: int = 7
) -> pd.DataFrame:
    """Mean holdout purchases by calibration frequency: observed vs model.

    For each calibration frequency 0, 1, ..., ``max_frequency - 1`` and a last
    bin ``≥max_frequency``, the mean of ``frequency_holdout`` is compared with
    the mean of ``model.expected_purchases(duration_holdout, ...)`` over the
    same customers (the conditional expectations of [FHL2005]_, Figure 4).

    Parameters
    ----------
    model : TransactionModel
        A model fitted on the calibration columns.
    data : DataFrame
        Calibration/holdout frame: ``frequency``, ``recency``, ``T`` of the
        calibration period, ``frequency_holdout`` and ``duration_holdout``
        (periods); optional ``weight``. Not modified.
    max_frequency : int, default 7
        The last bin holds customers with ``max_frequency`` or more
        calibration purchases.

    Returns
    -------
    DataFrame
        Index ``frequency`` (labels ``"0"``, ..., ``"≥7"``), columns
        ``n_customers``, ``actual`` and ``model``; bins without customers
        have NaN means.

    References
    ----------
    .. [FHL2005] Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005). "Counting
       your customers" the easy way. Marketing Science, 24(2), 275-284.
    """
    max_frequency = _check_max(max_frequency, "max_frequency")
    _validate(
        data,
        ("frequency", "recency", "T"),
        what="the data passed to conditional_expectations",
        extra=("frequency_holdout", "duration_holdout"),
        integer_T=_is_discrete(model),
    )
    w = _weights(data)
    rfm = data[["frequency", "recency", "T"]]
    duration = data["duration_holdout"].to_numpy(dtype=np.float64)
    predicted = np.asarray(model.expected_purchases(duration, rfm), dtype=np.float64)
    observed = data["frequency_holdout"].to_numpy(dtype=np.float64)
    bins = np.minimum(data["frequency"].to_numpy(dtype=np.float64), max_frequency).astype(np.int64)
    size = max_frequency + 1
    n = np.bincount(bins, weights=w, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):  # empty bins give NaN means
        actual = np.bincount(bins, weights=w * observed, minlength=size) / n
        model_mean = np.bincount(bins, weights=w * predicted, minlength=size) / n
    out = pd.DataFrame(
        {
            "n_customers": n,
            "actual": np.where(n > 0, actual, np.nan),
            "model": np.where(n > 0, model_mean, np.nan),
        },
        index=pd.Index(_bin_labels(max_frequency), name="frequency"),
    )
    durations = np.unique(duration)
    out.attrs = {"duration_holdout": float(durations[0]) if durations.size == 1 else None}
    return out


# ---------------------------------------------------------------------- one customer's history
def probability_alive_history(
    model: Any,
    purchase_times: ArrayLike,
    T: float,
    *,
    grid: ArrayLike | None = None,
) -> pd.DataFrame:
    """Probability that one customer is alive at each time of their history.

    At each grid time ``s`` the customer's state is what the analyst would
    have seen then: ``frequency`` = purchases in ``(0, s]``, ``recency`` = time
    of the last of them (0 if none) and age ``s``.

    Parameters
    ----------
    model : TransactionModel
        A fitted repeat-purchase model.
    purchase_times : array_like
        The customer's purchase times in periods since their first purchase,
        so the first is 0 (any order; every later entry is a repeat purchase).
    T : float
        The customer's age at the end of observation, in periods (>= every
        purchase time).
    grid : array_like, optional
        Times in ``(0, T]`` at which to evaluate. Default: 200 evenly spaced
        times plus every repeat-purchase time (every whole opportunity for
        BG/BB).

    Returns
    -------
    DataFrame
        Columns ``time``, ``frequency``, ``recency`` and ``probability_alive``,
        sorted by time.

    Examples
    --------
    >>> from clv.data.datasets import load_cdnow_summary
    >>> from clv.models import BetaGeoModel
    >>> model = BetaGeoModel().fit(load_cdnow_summary())
    >>> h = probability_alive_history(model, [0, 2.5, 10], T=30, grid=[1, 5, 30])
    >>> h[["time", "frequency", "recency"]].to_numpy().tolist()
    [[1.0, 0.0, 0.0], [5.0, 1.0, 2.5], [30.0, 2.0, 10.0]]
    """
    times = np.sort(np.atleast_1d(np.asarray(purchase_times, dtype=np.float64)).ravel())
    T = float(T)
    if not np.isfinite(T) or T <= 0:
        raise ValueError(f"T must be a finite age > 0 in periods, got {T!r}.")
    if times.size == 0 or not np.all(np.isfinite(times)):
        raise ValueError(
            "purchase_times must be a non-empty list of finite times (the first purchase at 0)."
        )
    if times[0] != 0:
        raise ValueError(
            "purchase_times are measured from the customer's first purchase, so the "
            f"first must be 0; got {times[0]!r}. Subtract the first purchase time."
        )
    if times[-1] > T:
        raise ValueError(
            f"purchase_times must be <= T = {T:g} (the age at the end of "
            f"observation); got {times[-1]!r}."
        )
    repeat = times[1:]
    discrete = _is_discrete(model)
    if grid is None:
        if discrete:
            s = np.arange(1.0, np.floor(T) + 1.0)
        else:
            s = np.union1d(np.linspace(0.0, T, 201)[1:], repeat[repeat > 0])
    else:
        s = np.unique(np.asarray(grid, dtype=np.float64).ravel())
        if s.size == 0 or not np.all(np.isfinite(s)) or s[0] <= 0 or s[-1] > T:
            raise ValueError(
                f"grid times must be finite and in (0, T = {T:g}]: at age 0 the "
                "customer has just been acquired and the model is not defined."
            )
    x = np.searchsorted(repeat, s, side="right").astype(np.float64)
    last = repeat[np.maximum(x.astype(np.int64) - 1, 0)] if repeat.size else 0.0
    t_x = np.where(x > 0, last, 0.0)
    state = in_unit_of(pd.DataFrame({"frequency": x, "recency": t_x, "T": s}), model)
    p = np.asarray(model.probability_alive(state), dtype=np.float64)
    return pd.DataFrame({"time": s, "frequency": x, "recency": t_x, "probability_alive": p})
