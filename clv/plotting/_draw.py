"""Drawing helpers shared by the figures; matplotlib is imported inside the functions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["get_ax", "mark_purchases"]


def get_ax(ax: Axes | None) -> Axes:
    """The Axes to draw on: ``ax``, else the current Axes.

    When no figure is open, the new one uses matplotlib's constrained layout so
    that titles, two-line tick labels and colorbar labels are never cut off.
    """
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax
    if not plt.get_fignums():
        return plt.figure(layout="constrained").add_subplot()
    return plt.gca()


def mark_purchases(ax: Axes, times: Any) -> None:
    """A dotted vertical line at each purchase time and a triangle on the time axis."""
    ax.vlines(times, 0, 1, colors="0.6", linestyles=":", linewidth=1)
    ax.plot(
        times,
        np.zeros(len(times)),
        linestyle="none",
        marker="^",
        color="0.25",
        markersize=8,
        label="Purchase",
        clip_on=False,
        zorder=3,
    )
