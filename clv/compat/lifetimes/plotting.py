"""lifetimes' ``plotting`` functions for the clv.compat.lifetimes fitters.

Same names and arguments as lifetimes; matplotlib is imported when a function
is called. Differences: ``plot_period_transactions`` draws the model's
*expected* number of customers per repeat-purchase count (exact, from the
model's purchase-count distribution at each customer's age) instead of one
random simulated data set. Native equivalents live in :mod:`clv.plotting`.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from clv.compat.lifetimes import utils

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "plot_calibration_purchases_vs_holdout_purchases",
    "plot_cumulative_transactions",
    "plot_dropout_rate_heterogeneity",
    "plot_expected_repeat_purchases",
    "plot_frequency_recency_matrix",
    "plot_history_alive",
    "plot_incremental_transactions",
    "plot_period_transactions",
    "plot_probability_alive_matrix",
    "plot_transaction_rate_heterogeneity",
    "period_transactions_table",
]


def _ax(ax: Axes | None = None) -> Axes:
    import matplotlib.pyplot as plt

    return plt.gca() if ax is None else ax


def period_transactions_table(model: Any, max_frequency: int = 7) -> pd.DataFrame:
    """Actual and expected number of customers by repeat purchases (last bin: ``max_frequency``+).

    The expectation sums each customer's probability of ``n`` repeat
    purchases in their own ``T`` (``probability_of_n_purchases_up_to_time``;
    for the BG/BB the probability of ``n`` transactions in ``n_periods``).
    """
    data = model.data
    weights = np.asarray(data["weights"], dtype=np.float64)
    x = np.asarray(data["frequency"], dtype=np.float64)
    ages = np.asarray(data["n_periods" if "n_periods" in data else "T"], dtype=np.float64)
    counts = np.arange(max_frequency, dtype=np.float64)
    ages, inverse = np.unique(ages, return_inverse=True)  # the pmf once per distinct age
    age_weights = np.bincount(inverse.ravel(), weights=weights)
    if hasattr(model, "probability_of_n_purchases_up_to_time"):
        pmf = np.array([model.probability_of_n_purchases_up_to_time(ages, n) for n in counts])
    else:  # BG/BB
        from clv.models import bgbb

        pmf = np.array([bgbb.probability_of_purchases(model._p(), n, ages) for n in counts])
    expected = pmf @ age_weights
    expected = np.append(expected, weights.sum() - expected.sum())
    actual = np.array([weights[x == n].sum() for n in counts] + [weights[x >= max_frequency].sum()])
    return pd.DataFrame(
        {"Actual": actual, "Model": expected},
        index=pd.Index([*range(max_frequency), f"{max_frequency}+"], name="frequency"),
    )


def plot_period_transactions(
    model: Any,
    max_frequency: int = 7,
    title: str = "Frequency of Repeat Transactions",
    xlabel: str = "Number of Calibration Period Transactions",
    ylabel: str = "Customers",
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Bar chart of actual vs expected customers per number of repeat purchases."""
    table = period_transactions_table(model, max_frequency)
    ax = table.plot(kind="bar", ax=_ax(ax), **kwargs)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return ax


def plot_calibration_purchases_vs_holdout_purchases(
    model: Any, calibration_holdout_matrix: pd.DataFrame, kind: str = "frequency_cal",
    n: int = 7, ax: Axes | None = None, **kwargs: Any,
) -> Axes:  # fmt: skip
    """Mean holdout purchases, actual and predicted, by a calibration column (capped at ``n``)."""
    m = calibration_holdout_matrix
    pred = model.conditional_expected_number_of_purchases_up_to_time(
        m["duration_holdout"], m["frequency_cal"], m["recency_cal"], m["T_cal"]
    )
    key = np.minimum(
        np.asarray(
            m[kind] if kind != "time_since_last_purchase" else m["T_cal"] - m["recency_cal"]
        ),
        n,
    )
    table = pd.DataFrame(
        {
            "frequency_holdout": np.asarray(m["frequency_holdout"]),
            "model_predictions": np.asarray(pred),
            "key": key,
        }
    )
    summary = table.groupby("key")[["frequency_holdout", "model_predictions"]].mean()
    ax = summary.plot(ax=_ax(ax), **kwargs)
    ax.set_title("Actual Purchases in Holdout Period vs Predicted Purchases")
    ax.set_xlabel("Purchases in calibration period" if kind == "frequency_cal" else kind)
    ax.set_ylabel("Average of Purchases in Holdout Period")
    return ax


def _heatmap(
    Z: np.ndarray, title: str, xlabel: str, ylabel: str, ax: Axes | None, **kwargs: Any
) -> Axes:
    import matplotlib.pyplot as plt

    ax = _ax(ax)
    image = ax.imshow(Z, interpolation="none", **kwargs)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    plt.colorbar(image, ax=ax)
    return ax


def plot_frequency_recency_matrix(
    model: Any,
    T: float = 1,
    max_frequency: int | None = None,
    max_recency: int | None = None,
    title: str | None = None,
    xlabel: str = "Customer's Historical Frequency",
    ylabel: str = "Customer's Recency",
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Expected purchases in the next ``T`` periods by frequency (columns) and recency (rows)."""
    max_frequency = max_frequency or int(model.data["frequency"].max())
    max_recency = max_recency or int(model.data["T"].max())
    t_x, x = np.meshgrid(
        np.arange(max_recency + 1.0), np.arange(max_frequency + 1.0), indexing="ij"
    )
    Z = np.asarray(
        model.conditional_expected_number_of_purchases_up_to_time(T, x, t_x, float(max_recency))
    )
    title = title or (
        f"Expected Number of Future Purchases for {T} Unit"
        f"{'s' if T != 1 else ''} of Time,\nby Frequency and Recency of a Customer"
    )
    return _heatmap(Z, title, xlabel, ylabel, ax, **kwargs)


def plot_probability_alive_matrix(
    model: Any,
    max_frequency: int | None = None,
    max_recency: int | None = None,
    title: str = ("Probability Customer is Alive,\nby Frequency and Recency of a Customer"),
    xlabel: str = "Customer's Historical Frequency",
    ylabel: str = "Customer's Recency",
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """P(alive) by frequency (columns) and recency (rows), at ``T = max_recency``."""
    Z = model.conditional_probability_alive_matrix(max_frequency, max_recency)
    return _heatmap(Z, title, xlabel, ylabel, ax, **kwargs)


def plot_expected_repeat_purchases(
    model: Any,
    title: str = "Expected Number of Repeat Purchases per Customer",
    xlabel: str = "Time Since First Purchase",
    ylabel: str = "",
    ax: Axes | None = None,
    label: str | None = None,
    **kwargs: Any,
) -> Axes:
    """A new customer's expected repeat purchases over age (dashed beyond the data's ``T``)."""
    ax = _ax(ax)
    max_T = float(model.data["T"].max())
    inside = np.linspace(0.0, max_T, 100)
    outside = np.linspace(max_T, 1.5 * max_T, 50)
    line = ax.plot(
        inside, model.expected_number_of_purchases_up_to_time(inside), label=label, **kwargs
    )[0]
    ax.plot(
        outside,
        model.expected_number_of_purchases_up_to_time(outside),
        color=line.get_color(),
        ls="--",
    )
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if label is not None:
        ax.legend(loc="lower right")
    return ax


def plot_history_alive(
    model: Any,
    t: int,
    transactions: pd.DataFrame,
    datetime_col: Hashable,
    freq: str = "D",
    start_date: Any = None,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """One customer's P(alive) over ``t`` periods from their first purchase; purchases marked."""
    ax = _ax(ax)
    path = utils.calculate_alive_path(model, transactions, datetime_col, t, freq=freq)
    dates = pd.to_datetime(transactions[datetime_col])
    start = pd.Timestamp(start_date) if start_date is not None else dates.min()
    unit = utils._time_unit(freq)
    index = pd.period_range(
        start.to_period("D" if unit == "h" else unit),
        periods=t + 1,
        freq="D" if unit == "h" else unit,
    ).to_timestamp()
    ax.plot(index, path.to_numpy(), "-", label="P_alive", **kwargs)
    from matplotlib import dates as mdates

    for d in dates.unique():
        ax.axvline(float(mdates.date2num(d)), color="r", linestyle="--", alpha=0.5)
    ax.set_ylim(0, 1.0)
    ax.set_title("History of P_alive")
    ax.set_ylabel("P_alive")
    ax.legend(loc=3)
    return ax


def _tracking(
    kind: str,
    *,
    model: Any,
    transactions: pd.DataFrame,
    datetime_col: Hashable,
    customer_id_col: Hashable,
    t: int,
    t_cal: int,
    datetime_format: str | None,
    freq: str,
    set_index_date: bool,
    title: str,
    xlabel: str,
    ylabel: str,
    ax: Axes | None,
    kwargs: dict[str, Any],
    freq_multiplier: int = 1,
) -> Axes:
    """The tracking plots; the public functions pass their arguments by name (``locals()``)."""
    df = utils.expected_cumulative_transactions(
        model,
        transactions,
        datetime_col,
        customer_id_col,
        t,
        datetime_format,
        freq,
        freq_multiplier,
        set_index_date,
    )
    if kind == "incremental":
        df = df.diff().fillna(df.iloc[:1])
    ax = df.plot(ax=_ax(ax), title=title, **kwargs)
    cal = (
        df.index[min(int(t_cal / freq_multiplier) - 1, len(df) - 1)]
        if set_index_date
        else t_cal / freq_multiplier - 1
    )
    ax.axvline(x=cal, color="r", linestyle="--")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax


def plot_cumulative_transactions(
    model: Any,
    transactions: pd.DataFrame,
    datetime_col: Hashable,
    customer_id_col: Hashable,
    t: int,
    t_cal: int,
    datetime_format: str | None = None,
    freq: str = "D",
    set_index_date: bool = False,
    title: str = "Tracking Cumulative Transactions",
    xlabel: str = "day",
    ylabel: str = "Cumulative Transactions",
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Actual vs expected cumulative repeat transactions; the red line ends calibration."""
    return _tracking("cumulative", **locals())


def plot_incremental_transactions(
    model: Any,
    transactions: pd.DataFrame,
    datetime_col: Hashable,
    customer_id_col: Hashable,
    t: int,
    t_cal: int,
    datetime_format: str | None = None,
    freq: str = "D",
    set_index_date: bool = False,
    title: str = "Tracking Daily Transactions",
    xlabel: str = "day",
    ylabel: str = "Transactions",
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Actual vs expected repeat transactions per period; the red line ends calibration."""
    return _tracking("incremental", **locals())


def _density(
    ax: Axes, dist: Any, lo: float, hi: float, title: str, xlabel: str, ylabel: str, **kwargs: Any
) -> Axes:
    grid = np.linspace(lo, hi, 200)
    ax.plot(grid, dist.pdf(grid), **kwargs)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    return ax


def plot_transaction_rate_heterogeneity(
    model: Any,
    suptitle: str = "Heterogeneity in Transaction Rate",
    xlabel: str = "Transaction Rate",
    ylabel: str = "Density",
    suptitle_fontsize: int = 14,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Density of the purchase rate, Gamma(r, alpha) (mean and CV in the title)."""
    from scipy import stats

    r, alpha = model._unload_params("r", "alpha")
    dist = stats.gamma(r, scale=1.0 / alpha)
    title = f"{suptitle}\nmean: {dist.mean():.3f}, var: {dist.var():.3f}"
    return _density(_ax(ax), dist, dist.ppf(0.01), dist.ppf(0.99), title, xlabel, ylabel, **kwargs)


def plot_dropout_rate_heterogeneity(
    model: Any,
    suptitle: str = "Heterogeneity in Dropout Probability",
    xlabel: str = "Dropout Probability p",
    ylabel: str = "Density",
    suptitle_fontsize: int = 14,
    ax: Axes | None = None,
    **kwargs: Any,
) -> Axes:
    """Density of the dropout probability Beta(a, b) (Pareto/NBD: dropout rate Gamma(s, beta))."""
    from scipy import stats

    if "a" in model.params_.index:
        a, b = model._unload_params("a", "b")
        dist = stats.beta(a, b)
    else:
        s, beta = model._unload_params("s", "beta")
        dist = stats.gamma(s, scale=1.0 / beta)
        xlabel = "Dropout Rate" if xlabel == "Dropout Probability p" else xlabel
    title = f"{suptitle}\nmean: {dist.mean():.3f}, var: {dist.var():.3f}"
    return _density(_ax(ax), dist, dist.ppf(0.01), dist.ppf(0.99), title, xlabel, ylabel, **kwargs)
