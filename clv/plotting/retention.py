"""Survival and retention-rate curves of the contractual retention models, with the data.

:func:`retention_curves` computes the numbers (pandas, no matplotlib);
:func:`plot_survival` and :func:`plot_retention_rates` draw them.  matplotlib
is imported only when a plot is drawn.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from clv.models._retention_data import NO_COHORT, empirical_survival
from clv.plotting._data import _resolve_unit, time_unit_label
from clv.plotting._draw import get_ax

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["plot_retention_rates", "plot_survival", "retention_curves"]

_DEFAULT_T_MAX = 20


def retention_curves(
    model: Any, data: pd.DataFrame | None = None, *, t_max: int | None = None
) -> pd.DataFrame:
    """Model and observed survival and retention rates per cohort and period.

    Parameters
    ----------
    model : RetentionModel
        A fitted :class:`~clv.models.sbg.ShiftedBetaGeoModel` or
        :class:`~clv.models.bdw.BetaDiscreteWeibullModel`.
    data : DataFrame, optional
        Retention data (per customer, or a survival table), e.g. calibration
        and holdout periods together; not modified.  Observed values come from
        :func:`~clv.models._retention_data.empirical_survival`.
    t_max : int, optional
        Last period; default the last observed period, or 20 without data.

    Returns
    -------
    DataFrame
        One row per cohort and period ``0..t_max``: ``cohort``, ``period``,
        ``survival_model``, ``retention_model`` (NaN at period 0),
        ``survival_actual``, ``retention_actual`` and ``at_risk`` (NaN where
        not observed).  Without data, and for a model with shared parameters
        without cohorts in the data, the cohort is ``"all"``.

    Examples
    --------
    >>> from clv.models.sbg import ShiftedBetaGeoModel
    >>> table = pd.DataFrame({"period": range(4), "n_alive": [1000, 631, 468, 382]})
    >>> model = ShiftedBetaGeoModel().fit(table)
    >>> curves = retention_curves(model, table, t_max=5)
    >>> curves[["period", "survival_actual"]].tail(3).to_numpy().tolist()
    [[3.0, 0.382], [4.0, nan], [5.0, nan]]
    """
    model._check_fitted()
    observed = empirical_survival(data) if data is not None else None
    if t_max is None:
        t_max = (
            int(observed["period"].max())
            if observed is not None and len(observed)
            else (_DEFAULT_T_MAX)
        )
    if int(t_max) < 1:
        raise ValueError(f"t_max must be a whole number of periods >= 1; got {t_max!r}.")
    periods = np.arange(0, int(t_max) + 1, dtype=np.float64)
    per_cohort = model._per_cohort
    if observed is not None:
        cohorts: list[Hashable] = list(pd.unique(observed["cohort"]))
    else:
        cohorts = list(model.cohorts_) if per_cohort else [NO_COHORT]
    frames = []
    for cohort in cohorts:
        key = cohort if per_cohort else None
        s = model.survival(periods, cohort=key)
        r = np.concatenate([[np.nan], model.retention_rate(periods[1:], cohort=key)])
        frame = pd.DataFrame(
            {"cohort": cohort, "period": periods, "survival_model": s, "retention_model": r}
        )
        if observed is not None:
            obs = observed[observed["cohort"] == cohort].set_index("period")
            obs = obs.reindex(periods.astype(int))
            frame["survival_actual"] = obs["survival"].to_numpy()
            frame["retention_actual"] = obs["retention_rate"].to_numpy()
            frame["at_risk"] = obs["at_risk"].to_numpy()
        else:
            frame["survival_actual"] = np.nan
            frame["retention_actual"] = np.nan
            frame["at_risk"] = np.nan
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _draw(
    model: Any,
    data: pd.DataFrame | None,
    column: str,
    *,
    t_max: int | None,
    calibration_end: float | None,
    time_unit: str | None,
    ax: Axes | None,
    ylabel: str,
    title: str,
    plot_kwargs: dict[str, Any],
) -> Axes:
    curves = retention_curves(model, data, t_max=t_max)
    if column == "retention":
        curves = curves[curves["period"] >= 1]
    ax = get_ax(ax)
    cohorts = list(pd.unique(curves["cohort"]))
    several = len(cohorts) > 1
    shared = not model._per_cohort
    for i, cohort in enumerate(cohorts):
        part = curves[curves["cohort"] == cohort]
        color = f"C{i}" if several else None
        suffix = f" ({cohort})" if several else ""
        if data is not None:
            seen = part[f"{column}_actual"].notna()
            ax.plot(
                part["period"][seen],
                part[f"{column}_actual"][seen],
                **{
                    "color": color or "0.25",
                    "marker": "o",
                    "label": f"Actual{suffix}",
                    **plot_kwargs,
                },
            )
        if not shared or i == 0:
            label = "Model" if shared else f"Model{suffix}"
            ax.plot(
                part["period"],
                part[f"{column}_model"],
                **{
                    "color": (color if not shared else None) or "C1",
                    "linestyle": "--",
                    "label": label,
                    **plot_kwargs,
                },
            )
    if calibration_end is not None:
        ax.axvline(
            float(calibration_end) + 0.5, color="0.5", linestyle=":", label="End of calibration"
        )
    unit = time_unit_label(_resolve_unit(time_unit, data, model))
    ax.set(xlabel=f"Tenure ({unit})", ylabel=ylabel, title=title)
    ax.legend(frameon=False)
    return ax


def plot_survival(
    model: Any,
    data: pd.DataFrame | None = None,
    *,
    t_max: int | None = None,
    calibration_end: float | None = None,
    time_unit: str | None = None,
    ax: Axes | None = None,
    **plot_kwargs: Any,
) -> Axes:
    """Share of each cohort still active by tenure: model (dashed) vs actual (dots).

    The numbers are :func:`retention_curves`.  A dotted vertical line half a
    period after ``calibration_end`` separates the periods the model was
    fitted on from the holdout periods.

    Parameters
    ----------
    model : RetentionModel
        A fitted sBG or BdW model.
    data : DataFrame, optional
        Retention data to show (per customer or a survival table); not modified.
    t_max : int, optional
        Last period shown; default the last observed period, or 20.
    calibration_end : float, optional
        Last period of the calibration data.
    time_unit : str, optional
        Unit for the x label; default ``data.attrs["time_unit"]``, then the
        model's.
    ax : matplotlib Axes, optional
        Axes to draw on; default the current Axes.
    **plot_kwargs
        Passed to every :meth:`~matplotlib.axes.Axes.plot` call.

    Returns
    -------
    matplotlib Axes

    Examples
    --------
    >>> from clv.plotting.retention import plot_survival
    >>> ax = plot_survival(model, survival_table, calibration_end=7)  # doctest: +SKIP
    """
    ax = _draw(
        model,
        data,
        "survival",
        t_max=t_max,
        calibration_end=calibration_end,
        time_unit=time_unit,
        ax=ax,
        ylabel="Share of the cohort still active",
        title="Survival: actual vs model",
        plot_kwargs=plot_kwargs,
    )
    ax.set_ylim(0.0, 1.02)
    return ax


def plot_retention_rates(
    model: Any,
    data: pd.DataFrame | None = None,
    *,
    t_max: int | None = None,
    calibration_end: float | None = None,
    time_unit: str | None = None,
    ax: Axes | None = None,
    **plot_kwargs: Any,
) -> Axes:
    """Retention rate :math:`r_t = S(t)/S(t-1)` by tenure: model (dashed) vs actual (dots).

    Harder to fit than survival, which is cumulative: the rates show whether
    the model captures how retention changes with tenure ([FH2007]_ Figure 6).
    The numbers are :func:`retention_curves`.

    Parameters
    ----------
    model : RetentionModel
        A fitted sBG or BdW model.
    data : DataFrame, optional
        Retention data to show (per customer or a survival table); not modified.
    t_max : int, optional
        Last period shown; default the last observed period, or 20.
    calibration_end : float, optional
        Last period of the calibration data.
    time_unit : str, optional
        Unit for the x label; default ``data.attrs["time_unit"]``, then the
        model's.
    ax : matplotlib Axes, optional
        Axes to draw on; default the current Axes.
    **plot_kwargs
        Passed to every :meth:`~matplotlib.axes.Axes.plot` call.

    Returns
    -------
    matplotlib Axes

    References
    ----------
    .. [FH2007] Fader, P. S., & Hardie, B. G. S. (2007). How to project customer
       retention. Journal of Interactive Marketing, 21(1), 76-90.

    Examples
    --------
    >>> from clv.plotting.retention import plot_retention_rates
    >>> ax = plot_retention_rates(model, survival_table, calibration_end=7)  # doctest: +SKIP
    """
    ax = _draw(
        model,
        data,
        "retention",
        t_max=t_max,
        calibration_end=calibration_end,
        time_unit=time_unit,
        ax=ax,
        ylabel="Retention rate",
        title="Retention rates: actual vs model",
        plot_kwargs=plot_kwargs,
    )
    ax.set_ylim(top=1.0)
    return ax
