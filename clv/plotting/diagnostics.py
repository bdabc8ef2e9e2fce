"""Goodness-of-fit plots (calibration, holdout) and one customer's probability-alive history."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from clv.plotting._data import (
    _is_discrete,
    _resolve_unit,
    conditional_expectations,
    period_transactions,
    probability_alive_history,
    time_unit_label,
)
from clv.plotting._draw import get_ax, mark_purchases

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_period_transactions", "plot_calibration_holdout", "plot_probability_alive_history"]

_ACTUAL = {"color": "0.25", "label": "Actual"}
_MODEL = {"color": "C1", "label": "Model"}


def plot_period_transactions(
    model: Any,
    data: pd.DataFrame,
    *,
    max_purchases: int = 7,
    ax: Axes | None = None,
    **bar_kwargs: Any,
) -> Axes:
    """Grouped bars: customers with 0, 1, ..., ``≥max_purchases`` repeat purchases, actual vs model.

    The first check of a fitted model: does it reproduce the distribution of
    repeat purchases it was fitted on? The numbers are
    :func:`~clv.plotting.period_transactions`.

    Parameters
    ----------
    model : TransactionModel
        A fitted repeat-purchase model.
    data : DataFrame
        The RFM frame the model was fitted on (not modified).
    max_purchases : int, default 7
        The last bar holds customers with at least this many repeat purchases.
    ax : matplotlib Axes, optional
        Axes to draw on; default the current Axes.
    **bar_kwargs
        Passed to both :meth:`~matplotlib.axes.Axes.bar` calls (e.g. ``width``).

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> from clv.plotting import plot_period_transactions
    >>> ax = plot_period_transactions(model, rfm)  # doctest: +SKIP
    """
    table = period_transactions(model, data, max_purchases=max_purchases)
    ax = get_ax(ax)
    width = bar_kwargs.pop("width", 0.4)
    pos = np.arange(len(table))
    ax.bar(pos - width / 2, table["actual"].to_numpy(), width, **{**_ACTUAL, **bar_kwargs})
    ax.bar(pos + width / 2, table["model"].to_numpy(), width, **{**_MODEL, **bar_kwargs})
    ax.set_xticks(pos, list(table.index))
    ax.set(
        xlabel="Repeat purchases in the calibration period",
        ylabel="Customers",
        title="Repeat purchases per customer: actual vs model",
    )
    ax.legend(frameon=False)
    return ax


def plot_calibration_holdout(
    model: Any,
    data: pd.DataFrame,
    *,
    max_frequency: int = 7,
    time_unit: str | None = None,
    ax: Axes | None = None,
    **plot_kwargs: Any,
) -> Axes:
    """Mean holdout purchases by calibration frequency, actual vs model (conditional expectations).

    The out-of-sample check of [FHL2005]_ (Figure 4): customers are grouped by
    their calibration-period frequency, and their average number of
    repeat purchases in the holdout period is compared with the model's
    expectation. Each tick shows the number of customers in its group. The
    numbers are :func:`~clv.plotting.conditional_expectations`.

    Parameters
    ----------
    model : TransactionModel
        A model fitted on the calibration columns of ``data``.
    data : DataFrame
        Calibration/holdout frame with ``frequency``, ``recency``, ``T``,
        ``frequency_holdout`` and ``duration_holdout`` (not modified).
    max_frequency : int, default 7
        The last group holds customers with at least this many calibration purchases.
    time_unit : str, optional
        Unit for the labels; default ``data.attrs["time_unit"]``, then the
        unit the model was fitted in.
    ax : matplotlib Axes, optional
        Axes to draw on; default the current Axes.
    **plot_kwargs
        Passed to both :meth:`~matplotlib.axes.Axes.plot` calls.

    Returns
    -------
    matplotlib Axes

    References
    ----------
    .. [FHL2005] Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005). "Counting
       your customers" the easy way. Marketing Science, 24(2), 275-284.

    Examples
    --------
    >>> from clv.plotting import plot_calibration_holdout
    >>> ax = plot_calibration_holdout(model, calibration_holdout)  # doctest: +SKIP
    """
    table = conditional_expectations(model, data, max_frequency=max_frequency)
    ax = get_ax(ax)
    pos = np.arange(len(table))
    ax.plot(pos, table["actual"].to_numpy(), **{**_ACTUAL, "marker": "o", **plot_kwargs})
    ax.plot(
        pos,
        table["model"].to_numpy(),
        **{**_MODEL, "marker": "s", "linestyle": "--", **plot_kwargs},
    )
    ticks = [
        f"{label}\nn={count:,.0f}"
        for label, count in zip(table.index, table["n_customers"], strict=True)
    ]
    ax.set_xticks(pos, ticks)
    unit = time_unit_label(_resolve_unit(time_unit, data, model))
    duration = table.attrs.get("duration_holdout")
    holdout = f"holdout ({duration:g} {unit})" if duration is not None else "holdout"
    ax.set(
        xlabel="Repeat purchases in the calibration period",
        ylabel=f"Mean repeat purchases in the {holdout}",
        title="Calibration vs holdout: conditional expectations",
    )
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False)
    return ax


def plot_probability_alive_history(
    model: Any,
    purchase_times: ArrayLike,
    T: float,
    *,
    grid: ArrayLike | None = None,
    time_unit: str | None = None,
    ax: Axes | None = None,
    **plot_kwargs: Any,
) -> Axes:
    """One customer's probability of being alive over their history, with their purchases marked.

    The probability falls while the customer is silent and jumps up at each
    repeat purchase. The numbers are :func:`~clv.plotting.probability_alive_history`.

    Parameters
    ----------
    model : TransactionModel
        A fitted repeat-purchase model.
    purchase_times : array_like
        Purchase times in periods since the first purchase (the first is 0).
    T : float
        The customer's age at the end of observation, in periods.
    grid : array_like, optional
        Evaluation times in ``(0, T]``; see :func:`~clv.plotting.probability_alive_history`.
    time_unit : str, optional
        Unit for the x label; default the unit the model was fitted in.
    ax : matplotlib Axes, optional
        Axes to draw on; default the current Axes.
    **plot_kwargs
        Passed to :meth:`~matplotlib.axes.Axes.plot` for the probability line.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> from clv.plotting import plot_probability_alive_history
    >>> ax = plot_probability_alive_history(model, [0, 3.5, 4, 20], T=38)  # doctest: +SKIP
    """
    history = probability_alive_history(model, purchase_times, T, grid=grid)
    ax = get_ax(ax)
    times = np.unique(np.asarray(purchase_times, dtype=np.float64))
    line_kwargs = {
        "color": "C0",
        "label": "P(alive)",
        "linewidth": 2,
        "drawstyle": "steps-post" if _is_discrete(model) else "default",
        **plot_kwargs,
    }
    ax.plot(history["time"].to_numpy(), history["probability_alive"].to_numpy(), **line_kwargs)
    mark_purchases(ax, times)
    ax.set_xlim(0, float(T))
    ax.set_ylim(0, 1.05)
    unit = time_unit_label(_resolve_unit(time_unit, None, model))
    ax.set(
        xlabel=f"Time since first purchase ({unit})",
        ylabel="P(alive)",
        title="Probability alive over the customer's history",
    )
    ax.legend(frameon=False, loc="best")
    return ax
