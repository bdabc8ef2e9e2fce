"""Plots of experience-investment results: ROI intervals, lever split, payback, NPV, tornado.

Every function takes a :class:`clv.roi.RoiResult` (or the sensitivity table),
draws on ``ax`` (default: the current Axes) and returns it. matplotlib is
imported only when a plot is drawn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "plot_lever_split",
    "plot_npv_distribution",
    "plot_payback",
    "plot_roi_intervals",
    "plot_tornado",
]

_GRADE_COLOURS = {"A": "#1b7837", "B": "#5aae61", "C": "#2166ac", "D": "#b2182b"}
_LEVER_COLOURS = {
    "acquisition": "#8073ac",
    "retention": "#2166ac",
    "repeat_purchase": "#5aae61",
    "spend": "#e08214",
    "service_cost": "#bf812d",
}


def _axes(ax: Axes | None) -> Axes:
    import matplotlib.pyplot as plt

    return plt.gca() if ax is None else ax


def _money(ax: Axes, axis: str = "x") -> None:
    from matplotlib.ticker import FuncFormatter

    fmt = FuncFormatter(lambda v, _: f"{v:,.0f}")
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(fmt)


def _probability(p: float) -> str:
    """A share of finite draws: "> 99 %" / "< 1 %" at the ends, never 100 % or 0 %."""
    if p >= 0.995:
        return "> 99 %"
    if p <= 0.005:
        return "< 1 %"
    return f"{100 * p:.0f} %"


def plot_roi_intervals(result: Any, *, ax: Axes | None = None) -> Axes:
    """ROI of each investment: mean and 90 % interval, coloured by evidence grade."""
    ax = _axes(ax)
    table = result.table().iloc[::-1]
    y = np.arange(len(table))
    for yi, (_, row) in zip(y, table.iterrows(), strict=True):
        colour = _GRADE_COLOURS.get(row["evidence_grade"], "grey")
        ax.plot(
            [100 * row["roi_p05"], 100 * row["roi_p95"]],
            [yi, yi],
            color=colour,
            lw=3,
            solid_capstyle="round",
        )
        ax.plot(
            100 * row["roi_mean"],
            yi,
            "o",
            color=colour,
            ms=8,
            label=f"grade {row['evidence_grade']}",
        )
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(
        y,
        [
            f"{n}\nP(ROI>0) {_probability(p)}"
            for n, p in zip(table["investment"], table["p_roi_positive"], strict=True)
        ],
    )
    ax.set_xlabel("ROI, % (mean and 90 % interval)")
    ax.set_title("Return on investment")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    ax.legend(
        unique.values(),
        unique.keys(),
        loc="best",
        fontsize="small",
        title="evidence",
        title_fontsize="small",
    )
    ax.grid(axis="x", alpha=0.3)
    return ax


def plot_lever_split(result: Any, *, ax: Axes | None = None) -> Axes:
    """Expected incremental CLV of each investment split into the levers (Shapley)."""
    from clv.roi.engine import LEVERS

    ax = _axes(ax)
    table = result.table().iloc[::-1]
    y = np.arange(len(table))
    left_pos = np.zeros(len(table))
    left_neg = np.zeros(len(table))
    for lever in LEVERS:
        if f"gain_{lever}" not in table.columns:
            continue
        vals = table[f"gain_{lever}"].to_numpy(dtype=float)
        left = np.where(vals >= 0, left_pos, left_neg)
        ax.barh(y, vals, left=left, color=_LEVER_COLOURS[lever], label=lever.replace("_", " "))
        left_pos = left_pos + np.maximum(vals, 0)
        left_neg = left_neg + np.minimum(vals, 0)
    ax.plot(table["cost_pv"], y, "k|", ms=18, mew=2, label="cost (PV)")
    ax.set_yticks(y, table["investment"])
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("expected incremental CLV (present value)")
    ax.set_title("Where the value comes from")
    _money(ax)
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_payback(result: Any, names: list[str] | None = None, *, ax: Axes | None = None) -> Axes:
    """Cumulative discounted net cash flow per period: median and 90 % band."""
    ax = _axes(ax)
    for name in names or list(result.investments):
        cf = result.cash_flow_table(name)
        line = ax.plot(cf.index, cf["cumulative_net_median"], label=name)[0]
        ax.fill_between(
            cf.index,
            cf["cumulative_net_p05"],
            cf["cumulative_net_p95"],
            color=line.get_color(),
            alpha=0.15,
        )
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xlabel(f"periods from now ({result.assumptions()['time_unit']})")
    ax.set_ylabel("cumulative discounted net cash flow")
    ax.set_title("Payback")
    _money(ax, "y")
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_npv_distribution(result: Any, *, ax: Axes | None = None, bins: int = 40) -> Axes:
    """Distribution of NPV over the shared parameter draws, per investment."""
    ax = _axes(ax)
    npv = result.npv_draws()
    lo, hi = float(np.nanmin(npv.to_numpy())), float(np.nanmax(npv.to_numpy()))
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
    for name in npv.columns:
        ax.hist(npv[name], bins=edges.tolist(), alpha=0.45, label=name)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("NPV (present value)")
    ax.set_ylabel("draws")
    ax.set_title("NPV uncertainty")
    _money(ax)
    ax.legend(loc="best", fontsize="small")
    return ax


def plot_tornado(
    sensitivity_table: pd.DataFrame,
    investment: str,
    *,
    ax: Axes | None = None,
    labels: Sequence[str] | None = None,
    title: str | None = None,
) -> Axes:
    """Tornado chart of one investment from :func:`clv.roi.sensitivity`.

    ``labels`` (one per row of the investment, in the table's order) replace the
    default ``factor low / high`` tick labels, e.g. "Discount rate 5 % / 15 % a year".
    """
    ax = _axes(ax)
    t = sensitivity_table[sensitivity_table["investment"] == investment]
    if t.empty:
        raise ValueError(f"no sensitivity rows for investment {investment!r}.")
    if labels is not None:
        if len(labels) != len(t):
            raise ValueError(f"labels must have one entry per factor ({len(t)}).")
        t = t.assign(_label=list(labels))
    t = t.sort_values("swing")
    base = float(t["npv_base"].iloc[0])
    y = np.arange(len(t))
    ax.barh(y, t["npv_low"] - base, left=base, color="#b2182b", alpha=0.8, label="low setting")
    ax.barh(y, t["npv_high"] - base, left=base, color="#2166ac", alpha=0.8, label="high setting")
    ax.axvline(base, color="black", lw=1)
    ticks = (
        list(t["_label"])
        if labels is not None
        else [
            f"{f}\n{lo:g} / {hi:g}"
            for f, lo, hi in zip(t["factor"], t["low"], t["high"], strict=True)
        ]
    )
    ax.set_yticks(y, ticks)
    ax.set_xlabel("expected NPV")
    ax.set_title(title or f"Sensitivity: {investment}")
    _money(ax)
    ax.legend(loc="best", fontsize="small")
    return ax
