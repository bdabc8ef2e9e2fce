"""Acquisition curve (model vs actual, with the forecast band) and the customer-equity waterfall.

Data functions (pandas in, pandas out; no matplotlib): :func:`acquisition_curve`,
:func:`equity_waterfall`. Plots: :func:`plot_acquisition`,
:func:`plot_equity_waterfall`. matplotlib is imported only inside the plots.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from clv.plotting._data import time_unit_label
from clv.plotting._draw import get_ax

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["acquisition_curve", "plot_acquisition", "equity_waterfall", "plot_equity_waterfall"]


def acquisition_curve(
    model: Any,
    actual: pd.Series | None = None,
    *,
    horizon: int | None = None,
    covariates: pd.DataFrame | None = None,
    level: float = 0.9,
    n_draws: int = 1000,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """New customers per period and cumulated: actual, model and forecast interval.

    Parameters
    ----------
    model : AcquisitionModel
        A fitted acquisition model.
    actual : Series, optional
        Actual new customers per period (index: period numbers from 1), e.g.
        the calibration and holdout counts; default the calibration counts.
    horizon : int, optional
        Periods to forecast after the calibration; default up to the last
        period of ``actual``, or as many periods as the calibration when
        ``actual`` has none after it.
    covariates : DataFrame, optional
        Covariates of the forecast periods (models with covariates).
    level, n_draws, random_state
        Passed to :meth:`~clv.models.acquisition.AcquisitionModel.forecast`.

    Returns
    -------
    DataFrame
        Indexed by ``period``: ``actual`` and ``cumulative_actual`` (NaN where
        unknown); ``expected`` (the model, per period); ``cumulative_expected``
        (the fitted curve :math:`m F(t)` in the calibration periods, then the
        forecast: calibration total plus expected arrivals); ``lower``,
        ``upper``, ``cumulative_lower``, ``cumulative_upper`` (the forecast
        interval, NaN in the calibration periods); ``calibration`` (bool).
    """
    T = int(model.n_periods_)
    counts = model.counts_ if actual is None else actual
    counts = pd.Series(
        np.asarray(counts, dtype=np.float64), index=np.asarray(counts.index, dtype=np.int64)
    )
    if horizon is None:
        last = int(counts.index.max()) if len(counts) else T
        horizon = last - T if last > T else T
    n = T + int(horizon)
    fitted = model.expected_arrivals(n, covariates=covariates)
    out = pd.DataFrame(index=pd.RangeIndex(1, n + 1, name="period"))
    out["actual"] = counts.reindex(out.index)
    known = out["actual"].notna().to_numpy()
    first_gap = int(np.argmin(known)) if not known.all() else n
    cum = out["actual"].cumsum()
    cum.iloc[first_gap:] = np.nan  # a cumulative count needs every earlier period
    out["cumulative_actual"] = cum
    out["expected"] = fitted["expected"].to_numpy()
    out["cumulative_expected"] = fitted["cumulative"].to_numpy()
    for col in ("lower", "upper", "cumulative_lower", "cumulative_upper"):
        out[col] = np.nan
    if horizon > 0:
        fc = model.forecast(
            int(horizon),
            covariates=covariates,
            level=level,
            n_draws=n_draws,
            random_state=random_state,
        )
        out.loc[fc.index, ["lower", "upper", "cumulative_lower", "cumulative_upper"]] = fc[
            ["lower", "upper", "cumulative_lower", "cumulative_upper"]
        ].to_numpy()
        out.loc[fc.index, "cumulative_expected"] = fc["cumulative"].to_numpy()
    out["calibration"] = out.index <= T
    return out


def plot_acquisition(
    model: Any,
    actual: pd.Series | None = None,
    *,
    cumulative: bool = True,
    horizon: int | None = None,
    covariates: pd.DataFrame | None = None,
    level: float = 0.9,
    n_draws: int = 1000,
    random_state: int | None = 0,
    ax: Axes | None = None,
) -> Axes:
    """Acquisition curve: actual new customers vs the model, with the forecast band.

    The numbers are :func:`acquisition_curve`; a dashed vertical line marks the
    end of the calibration periods.

    Parameters
    ----------
    model : AcquisitionModel
        A fitted acquisition model.
    actual : Series, optional
        Actual new customers per period (default: the calibration counts).
    cumulative : bool, default True
        Cumulative new customers (True) or new customers per period (False).
    horizon, covariates, level, n_draws, random_state
        See :func:`acquisition_curve`.
    ax : matplotlib Axes, optional
        Axes to draw on; default the current Axes.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> ax = plot_acquisition(model, weekly_counts)  # doctest: +SKIP
    """
    data = acquisition_curve(
        model,
        actual,
        horizon=horizon,
        covariates=covariates,
        level=level,
        n_draws=n_draws,
        random_state=random_state,
    )
    ax = get_ax(ax)
    prefix = "cumulative_" if cumulative else ""
    periods = data.index.to_numpy()
    ax.plot(
        periods,
        data[f"{prefix}actual"],
        color="0.2",
        marker="o",
        markersize=3,
        linewidth=1,
        label="Actual",
    )
    ax.plot(periods, data[f"{prefix}expected"], color="C1", linewidth=2, label="Model")
    band = ~data["calibration"].to_numpy()
    if band.any():
        ax.fill_between(
            periods[band],
            data[f"{prefix}lower"].to_numpy()[band],
            data[f"{prefix}upper"].to_numpy()[band],
            color="C1",
            alpha=0.25,
            linewidth=0,
            label=f"{level:.0%} forecast interval",
        )
    T = int(model.n_periods_)
    ax.axvline(T + 0.5, color="0.5", linestyle="--", linewidth=1, label="End of calibration")
    unit = time_unit_label(getattr(model, "time_unit_", None))
    start = getattr(model, "start_", None)
    ax.set_xlabel(f"{unit.capitalize()} since {start}" if start else unit.capitalize())
    per = unit[:-1] if unit.endswith("s") else unit
    ax.set_ylabel("Cumulative new customers" if cumulative else f"New customers per {per}")
    ax.set_title("Customer acquisition: actual vs model")
    ax.legend(loc="upper left" if cumulative else "lower right", frameon=False)
    return ax


def equity_waterfall(equity: Any) -> pd.DataFrame:
    """The steps of the customer-equity waterfall.

    Parameters
    ----------
    equity : CustomerEquity
        Result of :func:`clv.equity.customer_equity`.

    Returns
    -------
    DataFrame
        Rows ``Existing customers``, ``Future customers`` (discounted value of
        new cohorts), ``Acquisition cost`` (discounted, negative) and
        ``Customer equity``, with columns ``value`` (the step), ``start`` and
        ``end`` (the running total before and after it; the bar spans them).

    Examples
    --------
    >>> from clv.equity import customer_equity
    >>> ce = customer_equity([100.0], [2.0], horizon=1, discount_rate_per_period=0.0,
    ...                      value_per_new_customer=30.0, acquisition_cost=10.0)
    >>> equity_waterfall(ce)["end"].tolist()
    [100.0, 160.0, 140.0, 140.0]
    """
    existing, value, cost = equity.existing, equity.future_value, equity.future_cost
    start = [0.0, existing, existing + value, 0.0]
    end = [existing, existing + value, existing + value - cost, equity.total]
    return pd.DataFrame(
        {"value": [existing, value, -cost, equity.total], "start": start, "end": end},
        index=pd.Index(
            ["Existing customers", "Future customers", "Acquisition cost", "Customer equity"],
            name="step",
        ),
    )


def plot_equity_waterfall(equity: Any, *, ax: Axes | None = None, currency: str = "") -> Axes:
    """Waterfall of customer equity: existing customers, future cohorts, acquisition cost, total.

    Parameters
    ----------
    equity : CustomerEquity
        Result of :func:`clv.equity.customer_equity`.
    ax : matplotlib Axes, optional
        Axes to draw on; default the current Axes.
    currency : str, optional
        Prefix of the value labels, e.g. ``"$"``.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> ax = plot_equity_waterfall(customer_equity(...))  # doctest: +SKIP
    """
    data = equity_waterfall(equity)
    ax = get_ax(ax)
    colors = ["C0", "C2", "C3", "0.35"]
    x = np.arange(len(data))
    low = np.minimum(data["start"].to_numpy(), data["end"].to_numpy())
    heights = np.abs((data["end"] - data["start"]).to_numpy())
    bars = ax.bar(x, heights, bottom=low, color=colors, width=0.6)
    for bar, value in zip(bars, data["value"], strict=True):
        ax.annotate(
            f"{'-' if value < 0 else ''}{currency}{abs(value):,.0f}",
            (bar.get_x() + bar.get_width() / 2, bar.get_y() + bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=9,
            xytext=(0, 2),
            textcoords="offset points",
        )
    ax.set_xticks(x, [label.replace(" ", "\n", 1) for label in data.index])
    ax.set_ylabel("Discounted value" + (f" ({currency})" if currency else ""))
    ax.set_title(f"Customer equity over {len(equity.cash_flows)} periods")
    ax.axhline(0.0, color="0.3", linewidth=0.8)
    return ax
