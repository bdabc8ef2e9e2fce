"""Heat maps of a model's predictions over frequency (rows) and recency (columns)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from clv.plotting._data import frequency_recency_grid, time_unit_label
from clv.plotting._draw import get_ax

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_probability_alive_matrix", "plot_expected_purchases_matrix"]


def plot_probability_alive_matrix(
    model: Any,
    *,
    max_frequency: int | None = None,
    max_recency: float | None = None,
    T: float | None = None,
    data: pd.DataFrame | None = None,
    time_unit: str | None = None,
    ax: Axes | None = None,
    **imshow_kwargs: Any,
) -> Axes:
    """Heat map of the probability that a customer is alive, by frequency and recency.

    Customers with many purchases and a recent last purchase (top right) are
    almost surely alive; frequent buyers who have been silent for a long time
    (top left) have probably left.

    Parameters
    ----------
    model : TransactionModel
        A fitted repeat-purchase model.
    max_frequency, max_recency, T, data
        The grid; see :func:`~clv.plotting.frequency_recency_grid`.
    time_unit : str, optional
        Unit for the labels; default ``data.attrs["time_unit"]``, then the
        unit the model was fitted in.
    ax : matplotlib Axes, optional
        Axes to draw on; default the current Axes.
    **imshow_kwargs
        Passed to :meth:`~matplotlib.axes.Axes.imshow` (e.g. ``cmap``).

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> from clv.plotting import plot_probability_alive_matrix
    >>> ax = plot_probability_alive_matrix(model, data=rfm)  # doctest: +SKIP
    """
    grid = frequency_recency_grid(
        model,
        max_frequency=max_frequency,
        max_recency=max_recency,
        T=T,
        data=data,
        quantity="probability_alive",
    )
    unit = time_unit_label(time_unit or grid.attrs["time_unit"])
    return _draw_grid(
        grid,
        ax=ax,
        colorbar_label="P(alive)",
        title=f"Probability alive\ncustomers aged {grid.attrs['T']:g} {unit}",
        unit=unit,
        defaults={"cmap": "viridis", "vmin": 0.0, "vmax": 1.0},
        imshow_kwargs=imshow_kwargs,
    )


def plot_expected_purchases_matrix(
    model: Any,
    t: float = 1,
    *,
    max_frequency: int | None = None,
    max_recency: float | None = None,
    T: float | None = None,
    data: pd.DataFrame | None = None,
    time_unit: str | None = None,
    ax: Axes | None = None,
    **imshow_kwargs: Any,
) -> Axes:
    """Heat map of the expected repeat purchases in the next ``t`` periods, by frequency, recency.

    Parameters
    ----------
    model : TransactionModel
        A fitted repeat-purchase model.
    t : float, default 1
        Horizon in periods of the data's time unit.
    max_frequency, max_recency, T, data
        The grid; see :func:`~clv.plotting.frequency_recency_grid`.
    time_unit : str, optional
        Unit for the labels; default ``data.attrs["time_unit"]``, then the
        unit the model was fitted in.
    ax : matplotlib Axes, optional
        Axes to draw on; default the current Axes.
    **imshow_kwargs
        Passed to :meth:`~matplotlib.axes.Axes.imshow` (e.g. ``cmap``).

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> from clv.plotting import plot_expected_purchases_matrix
    >>> ax = plot_expected_purchases_matrix(model, t=52, data=rfm)  # doctest: +SKIP
    """
    grid = frequency_recency_grid(
        model,
        max_frequency=max_frequency,
        max_recency=max_recency,
        T=T,
        t=t,
        data=data,
        quantity="expected_purchases",
    )
    unit = time_unit_label(time_unit or grid.attrs["time_unit"])
    horizon = f"{t:g} {unit[:-1] if float(t) == 1 and unit.endswith('s') else unit}"
    return _draw_grid(
        grid,
        ax=ax,
        colorbar_label="Expected repeat purchases",
        title=(
            f"Expected purchases in the next {horizon}\ncustomers aged {grid.attrs['T']:g} {unit}"
        ),
        unit=unit,
        defaults={"cmap": "viridis", "vmin": 0.0},
        imshow_kwargs=imshow_kwargs,
    )


def _draw_grid(
    grid: pd.DataFrame,
    *,
    ax: Axes | None,
    colorbar_label: str,
    title: str,
    unit: str,
    defaults: dict[str, Any],
    imshow_kwargs: dict[str, Any],
) -> Axes:
    from matplotlib.ticker import MaxNLocator

    ax = get_ax(ax)
    recency = grid.columns.to_numpy(dtype=np.float64)
    frequency = grid.index.to_numpy(dtype=np.float64)
    dr = float(recency[1] - recency[0]) if recency.size > 1 else 1.0
    kwargs = {
        "origin": "lower",
        "aspect": "auto",
        "interpolation": "nearest",
        "extent": (
            recency[0] - dr / 2,
            recency[-1] + dr / 2,
            frequency[0] - 0.5,
            frequency[-1] + 0.5,
        ),
        **defaults,
        **imshow_kwargs,
    }
    image = ax.imshow(grid.to_numpy(dtype=np.float64), **kwargs)
    colorbar = ax.figure.colorbar(image, ax=ax)
    colorbar.set_label(colorbar_label)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(
        xlabel=f"Recency: age at last purchase ({unit})",
        ylabel="Frequency (repeat purchases)",
        title=title,
    )
    return ax
