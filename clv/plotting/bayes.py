"""Posterior predictive check of a Bayesian repeat-purchase model (``clv.bayes``).

Takes any fitted model with ``point_models()`` (one maximum-likelihood model per
posterior draw, each with ``simulate(T, random_state=...)``); this module does
not import ``clv.bayes``, PyMC or ArviZ.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from clv.plotting._data import _bin_labels, _check_max, _is_discrete, _validate, _weights

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["period_transactions_ppc", "plot_period_transactions_ppc"]


def period_transactions_ppc(
    model: Any,
    data: pd.DataFrame,
    *,
    max_purchases: int = 7,
    n_draws: int = 100,
    quantiles: tuple[float, float] = (0.05, 0.95),
    random_state: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """Customers with 0, 1, ..., ``≥max_purchases`` repeat purchases: observed vs predictive.

    For each of ``n_draws`` posterior draws (spread evenly over the chains and
    draws), a new set of customers with the same ages ``T`` as ``data`` is
    simulated from that draw's parameters and its histogram of repeat
    purchases is counted; the table gives the mean and a band of those counts.

    Parameters
    ----------
    model : Bayesian transaction model
        A fitted model of :mod:`clv.bayes` (e.g. ``clv.bayes.BetaGeoModel``).
    data : DataFrame
        The RFM frame the model was fitted on (``frequency``, ``T``; an
        optional whole-number ``weight`` column). Not modified.
    max_purchases : int, default 7
        The last bin holds customers with ``max_purchases`` or more repeat purchases.
    n_draws : int, default 100
        Posterior draws to simulate from (at most the number available).
    quantiles : pair of float, default (0.05, 0.95)
        Bounds of the posterior predictive band.
    random_state : int or Generator, optional
        Seed of the simulations.

    Returns
    -------
    DataFrame
        Index ``frequency`` (``"0"``, ..., ``"≥7"``); columns ``actual``,
        ``mean`` and the two quantiles (``"5%"``, ``"95%"``), in customers.
    """
    max_purchases = _check_max(max_purchases, "max_purchases")
    n_draws = _check_max(n_draws, "n_draws")
    _validate(
        data,
        ("frequency", "T"),
        what="the data passed to period_transactions_ppc",
        integer_T=_is_discrete(getattr(model, "mle_class", None)),
    )
    w = _weights(data)
    if not np.array_equal(w, np.round(w)):
        raise ValueError(
            "period_transactions_ppc simulates whole customers: the 'weight' column "
            "must hold whole numbers."
        )
    x = data["frequency"].to_numpy(dtype=np.float64)
    actual = np.bincount(
        np.minimum(x, max_purchases).astype(np.int64), weights=w, minlength=max_purchases + 1
    )
    ages = np.repeat(data["T"].to_numpy(dtype=np.float64), w.astype(np.int64))
    points = model.point_models()
    pick = np.unique(
        np.linspace(0, len(points) - 1, min(n_draws, len(points))).round().astype(np.int64)
    )
    rng = np.random.default_rng(random_state)
    counts = np.empty((pick.size, max_purchases + 1))
    for row, i in enumerate(pick):
        sim = points[i].simulate(ages, random_state=rng)
        freq = np.minimum(sim["frequency"].to_numpy(dtype=np.float64), max_purchases)
        counts[row] = np.bincount(freq.astype(np.int64), minlength=max_purchases + 1)
    lo, hi = np.quantile(counts, quantiles, axis=0)
    return pd.DataFrame(
        {
            "actual": actual,
            "mean": counts.mean(axis=0),
            f"{quantiles[0]:.0%}": lo,
            f"{quantiles[1]:.0%}": hi,
        },
        index=pd.Index(_bin_labels(max_purchases), name="frequency"),
    )


def plot_period_transactions_ppc(
    model: Any,
    data: pd.DataFrame,
    *,
    max_purchases: int = 7,
    n_draws: int = 100,
    random_state: int | np.random.Generator | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Bars of the observed repeat-purchase histogram with the posterior predictive 90% band.

    The numbers are :func:`period_transactions_ppc`; the band is drawn as the
    posterior predictive mean with 5%-95% error bars.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> from clv.plotting import plot_period_transactions_ppc
    >>> ax = plot_period_transactions_ppc(bayes_model, rfm)  # doctest: +SKIP
    """
    from clv.plotting._draw import get_ax

    table = period_transactions_ppc(
        model, data, max_purchases=max_purchases, n_draws=n_draws, random_state=random_state
    )
    ax = get_ax(ax)
    pos = np.arange(len(table))
    ax.bar(pos, table["actual"].to_numpy(), 0.6, color="0.25", label="Observed")
    mean = table["mean"].to_numpy()
    err = np.vstack([mean - table["5%"].to_numpy(), table["95%"].to_numpy() - mean])
    ax.errorbar(
        pos,
        mean,
        yerr=err,
        fmt="o",
        color="C1",
        capsize=4,
        label="Posterior predictive (mean, 90%)",
    )
    ax.set_xticks(pos, list(table.index))
    ax.set(
        xlabel="Repeat purchases in the calibration period",
        ylabel="Customers",
        title="Repeat purchases per customer: observed vs posterior predictive",
    )
    ax.legend(frameon=False)
    return ax
