"""Views from a transaction log: tracking plots and one customer's P(alive) history.

``transaction_tracking`` compares, over calendar time, the repeat purchases a
cohort actually made with those the fitted model expects for customers born
(first purchase) on the cohort's dates: the classic tracking plot of Fader,
Hardie & Lee (2005), cumulative and per period, across calibration and
holdout. ``customer_history`` turns one customer's transactions into the
purchase times and age of :func:`~clv.plotting.probability_alive_history`
with the rules of :func:`clv.data.rfm_summary` (same-period purchases merged,
times in the model's periods), so nothing is built by hand.

The data functions return DataFrames (tested); the ``plot_*`` functions only
draw them (matplotlib imported inside, ``ax=None`` -> current Axes, return the
Axes).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from clv._units import parse_time_unit
from clv.exceptions import DataError, Problem
from clv.plotting._data import probability_alive_history, time_unit_label
from clv.plotting._draw import get_ax, mark_purchases

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "customer_history",
    "probability_alive_history_from_transactions",
    "transaction_tracking",
    "plot_transaction_tracking",
    "plot_customer_probability_alive",
]


def _model_unit(model: Any, time_unit: str | None, what: str) -> str:
    unit = time_unit or getattr(model, "time_unit_", None)
    if unit is None:
        raise DataError(
            [
                Problem(
                    None,
                    "the model carries no time unit and none was given",
                    "fit the model on a frame from clv.data.rfm_summary, or pass "
                    "time_unit='W' (the unit the model was fitted in).",
                )
            ],
            what=what,
        )
    return str(unit)


def _purchase_periods(
    transactions: pd.DataFrame,
    *,
    customer_id_col: Hashable,
    date_col: Hashable,
    time_unit: str,
    observation_end: Any,
    what: str,
) -> tuple[pd.DataFrame, pd.Timestamp, str, float]:
    """One row per (customer, purchase period): ``customer``, ``period``, ``date`` (first in it).

    Validated with the data layer's checks; returns the rows, the observation end,
    the calendar base unit periods are counted in and the divisor of durations.
    """
    from clv.data.rfm import _period_plan
    from clv.data.transactions import period_codes
    from clv.data.validate import _check_transactions

    base, scaler, _ = _period_plan(time_unit, 1.0)
    checked = _check_transactions(
        transactions,
        customer_id_col=customer_id_col,
        date_col=date_col,
        value_col=None,
        observation_end=observation_end,
        date_format=None,
    )
    arrays = checked.arrays
    dates = pd.to_datetime(arrays.ticks.view(f"datetime64[{arrays.unit}]"))
    frame = pd.DataFrame(
        {
            "customer": arrays.customer_ids[arrays.codes],
            "date": dates,
            "period": period_codes(dates, base),
        }
    )
    frame = (
        frame.sort_values(["customer", "date"], kind="stable")
        .drop_duplicates(["customer", "period"])
        .reset_index(drop=True)
    )
    if len(frame) == 0:  # pragma: no cover - _check_transactions reports empty logs
        raise DataError([Problem(None, "no transactions", "pass a non-empty log")], what=what)
    return frame, pd.Timestamp(checked.observation_end), base, scaler


def customer_history(
    transactions: pd.DataFrame,
    customer_id: Hashable,
    *,
    time_unit: str,
    customer_id_col: Hashable = "customer_id",
    date_col: Hashable = "date",
    observation_end: Any = None,
) -> tuple[np.ndarray, float, pd.Timestamp]:
    """One customer's purchase times and age, in periods, from a transaction log.

    Uses the rules of :func:`clv.data.rfm_summary` with the same arguments, so
    ``len(times) - 1``, ``times[-1]`` and ``T`` are that customer's
    ``frequency``, ``recency`` and ``T``.

    Parameters
    ----------
    transactions : pandas.DataFrame
        The log (every customer; not modified).
    customer_id : hashable
        The customer.
    time_unit : str
        Period unit (``"W"``, ``"7D"``, ...), usually the model's ``time_unit_``.
    customer_id_col, date_col : hashable
        Columns of the log.
    observation_end : date-like, optional
        End of observation (default: the last transaction date of the log).

    Returns
    -------
    (numpy.ndarray, float, pandas.Timestamp)
        Purchase times since the first purchase (the first is 0), the age ``T``
        at ``observation_end`` and the date of the first purchase.

    Examples
    --------
    >>> tx = pd.DataFrame({"customer_id": [1, 1, 1, 2],
    ...                    "date": pd.to_datetime(["2024-01-01", "2024-01-03", "2024-01-15",
    ...                                            "2024-01-08"])})
    >>> times, T, first = customer_history(tx, 1, time_unit="7D", observation_end="2024-01-29")
    >>> times.tolist(), T, str(first.date())
    ([0.0, 0.2857142857142857, 2.0], 4.0, '2024-01-01')
    """
    what = "the transactions"
    frame, end, base, scaler = _purchase_periods(
        transactions,
        customer_id_col=customer_id_col,
        date_col=date_col,
        time_unit=time_unit,
        observation_end=observation_end,
        what=what,
    )
    mine = frame[frame["customer"] == customer_id]
    if len(mine) == 0:
        raise DataError(
            [
                Problem(
                    str(customer_id_col),
                    f"has no transaction of customer {customer_id!r}",
                    "check the customer id and its type.",
                )
            ],
            what=what,
        )
    from clv.data.transactions import period_codes

    first = int(mine["period"].iloc[0])
    end_period = int(period_codes(pd.DatetimeIndex([end]), base)[0])
    times = (mine["period"].to_numpy(dtype=np.float64) - first) / scaler
    return times, (end_period - first) / scaler, pd.Timestamp(mine["date"].iloc[0])


def probability_alive_history_from_transactions(
    model: Any,
    transactions: pd.DataFrame,
    customer_id: Hashable,
    *,
    customer_id_col: Hashable = "customer_id",
    date_col: Hashable = "date",
    observation_end: Any = None,
    time_unit: str | None = None,
    grid: Any = None,
) -> pd.DataFrame:
    """:func:`~clv.plotting.probability_alive_history` of one customer of a transaction log.

    Parameters
    ----------
    model : TransactionModel
        A fitted repeat-purchase model; its ``time_unit_`` gives the periods.
    transactions : pandas.DataFrame
        The log.
    customer_id : hashable
        The customer.
    customer_id_col, date_col, observation_end
        As in :func:`clv.data.rfm_summary`.
    time_unit : str, optional
        Needed only when the model carries no unit.
    grid : array_like, optional
        Evaluation times in periods (see :func:`~clv.plotting.probability_alive_history`).

    Returns
    -------
    pandas.DataFrame
        ``time``, ``frequency``, ``recency``, ``probability_alive`` and ``date``
        (the calendar date of ``time``: first purchase + ``time`` periods).
    """
    unit = _model_unit(model, time_unit, "the P(alive) history")
    times, T, first = customer_history(
        transactions,
        customer_id,
        time_unit=unit,
        customer_id_col=customer_id_col,
        date_col=date_col,
        observation_end=observation_end,
    )
    if T <= 0:
        raise DataError(
            [
                Problem(
                    None,
                    f"customer {customer_id!r} was first seen in the last "
                    "period (age T = 0): there is no history to show",
                    "pick a customer with an earlier first purchase.",
                )
            ],
            what="the P(alive) history",
        )
    history = probability_alive_history(model, times, T, grid=grid)
    days = parse_time_unit(unit).days
    history["date"] = first + pd.to_timedelta(history["time"].to_numpy() * days, unit="D")
    history.attrs.update(
        {
            "purchase_times": times.tolist(),
            "T": T,
            "first_purchase": first.isoformat(),
            "time_unit": unit,
        }
    )
    return history


def transaction_tracking(
    model: Any,
    transactions: pd.DataFrame,
    *,
    calibration_end: Any,
    customer_id_col: Hashable = "customer_id",
    date_col: Hashable = "date",
    observation_end: Any = None,
    time_unit: str | None = None,
) -> pd.DataFrame:
    """Actual and expected repeat purchases of a cohort over calendar time.

    The cohort is every customer with a purchase on or before
    ``calibration_end``. For each period from the cohort's first purchase to
    ``observation_end``, ``expected`` sums, over the customers born (first
    purchase) before the period's end, the model's expected repeat purchases of
    a new customer of that age, :math:`\\sum_i E[X(t - b_i)]`; ``actual`` counts
    the cohort's repeat purchases (distinct purchase periods after each
    customer's first, as in :func:`clv.data.rfm_summary`).

    Parameters
    ----------
    model : TransactionModel
        Fitted on the cohort's calibration RFM data.
    transactions : pandas.DataFrame
        The log, calibration and holdout (not modified).
    calibration_end : date-like
        Last day of the calibration period (marked on the plot).
    customer_id_col, date_col : hashable
        Columns of the log.
    observation_end : date-like, optional
        End of the holdout (default: the last transaction date).
    time_unit : str, optional
        Needed only when the model carries no unit.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``period_end`` (a date), columns ``actual``, ``expected``,
        ``cumulative_actual``, ``cumulative_expected`` and ``holdout`` (bool);
        ``attrs`` hold ``calibration_end`` and ``time_unit``.
    """
    what = "the tracking data"
    unit = _model_unit(model, time_unit, what)
    days = parse_time_unit(unit).days
    cal_end = pd.Timestamp(calibration_end)
    frame, end, _, _ = _purchase_periods(
        transactions,
        customer_id_col=customer_id_col,
        date_col=date_col,
        time_unit=unit,
        observation_end=observation_end,
        what=what,
    )
    births = frame.groupby("customer", sort=False)["date"].transform("min")
    cohort = births <= cal_end + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    if not cohort.any():
        raise DataError(
            [
                Problem(
                    str(date_col),
                    f"has no purchase on or before calibration_end ({cal_end.date()})",
                    "check calibration_end.",
                )
            ],
            what=what,
        )
    frame, births = frame[cohort], births[cohort]
    repeat_dates = frame.loc[frame["date"] > births, "date"].to_numpy()
    birth_dates = births.groupby(frame["customer"]).first()
    start = birth_dates.min().normalize()
    n = max(1, int(np.ceil((end - start) / pd.Timedelta(days=days))))
    edges = start + pd.to_timedelta(np.arange(1, n + 1) * days, unit="D")
    cumulative_actual = np.searchsorted(np.sort(repeat_dates), edges.to_numpy(), side="left")
    born, counts = np.unique(birth_dates.to_numpy(), return_counts=True)
    ages = (edges.to_numpy()[:, None] - born[None, :]) / np.timedelta64(1, "D") / days
    ages = np.maximum(ages, 0.0)
    expected_each = np.asarray(
        model.expected_purchases_new_customer(ages.ravel()), dtype=np.float64
    ).reshape(ages.shape)
    cumulative_expected = expected_each @ counts.astype(np.float64)
    out = pd.DataFrame(
        {
            "actual": np.diff(cumulative_actual, prepend=0).astype(np.float64),
            "expected": np.diff(cumulative_expected, prepend=0.0),
            "cumulative_actual": cumulative_actual.astype(np.float64),
            "cumulative_expected": cumulative_expected,
            "holdout": edges > cal_end + pd.Timedelta(days=1),
        },
        index=pd.DatetimeIndex(edges, name="period_end"),
    )
    out.attrs.update(
        {
            "calibration_end": str(cal_end.date()),
            "time_unit": unit,
            "n_customers": int(counts.sum()),
        }
    )
    return out


def plot_transaction_tracking(
    tracking: pd.DataFrame, *, cumulative: bool = True, ax: Axes | None = None, **plot_kwargs: Any
) -> Axes:
    """Tracking plot: actual vs expected repeat purchases over calendar time.

    Parameters
    ----------
    tracking : pandas.DataFrame
        :func:`transaction_tracking` output.
    cumulative : bool, default True
        Cumulative totals (True) or purchases per period (False).
    ax : matplotlib Axes, optional
        Axes to draw on; default the current Axes.
    **plot_kwargs
        Passed to :meth:`~matplotlib.axes.Axes.plot` for the model's line.

    Returns
    -------
    matplotlib Axes
    """
    ax = get_ax(ax)
    prefix = "cumulative_" if cumulative else ""
    x = tracking.index
    ax.plot(x, tracking[prefix + "actual"].to_numpy(), color="0.25", label="Actual")
    ax.plot(
        x,
        tracking[prefix + "expected"].to_numpy(),
        **{"color": "C1", "linestyle": "--", "label": "Model", **plot_kwargs},
    )
    cal_end = pd.Timestamp(tracking.attrs.get("calibration_end"))
    ax.axvline(cal_end, color="0.6", linestyle=":", linewidth=1)
    ax.annotate(
        "end of calibration",
        (cal_end, 0.98),
        xycoords=("data", "axes fraction"),
        ha="right",
        va="top",
        fontsize="small",
        color="0.4",
        rotation=90,
    )
    unit = time_unit_label(tracking.attrs.get("time_unit"))
    what = "Cumulative repeat purchases" if cumulative else f"Repeat purchases per {unit[:-1]}"
    ax.set(xlabel="Date", ylabel=what, title=f"Tracking: {what.lower()}, actual vs model")
    ax.legend(frameon=False, loc="best")
    return ax


def plot_customer_probability_alive(
    model: Any,
    transactions: pd.DataFrame,
    customer_id: Hashable,
    *,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """One customer's P(alive) over calendar time, computed from the transaction log.

    Parameters
    ----------
    model : TransactionModel
        A fitted repeat-purchase model.
    transactions : pandas.DataFrame
        The log.
    customer_id : hashable
        The customer.
    ax : matplotlib Axes, optional
        Axes to draw on; default the current Axes.
    **kwargs
        ``customer_id_col``, ``date_col``, ``observation_end``, ``time_unit``
        (see :func:`probability_alive_history_from_transactions`).

    Returns
    -------
    matplotlib Axes
    """
    history = probability_alive_history_from_transactions(
        model, transactions, customer_id, **kwargs
    )
    ax = get_ax(ax)
    ax.plot(
        history["date"],
        history["probability_alive"].to_numpy(),
        color="C0",
        linewidth=2,
        label="P(alive)",
    )
    first = pd.Timestamp(history.attrs["first_purchase"])
    days = parse_time_unit(history.attrs["time_unit"]).days
    purchases = first + pd.to_timedelta(
        np.asarray(history.attrs["purchase_times"]) * days, unit="D"
    )
    mark_purchases(ax, purchases)
    ax.set_ylim(0, 1.05)
    ax.set(xlabel="Date", ylabel="P(alive)", title=f"Customer {customer_id}: probability alive")
    ax.legend(frameon=False, loc="best")
    return ax
