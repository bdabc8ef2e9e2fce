"""The time-varying branch of the CX-to-ROI job: per-period paths, the check, the fit, the drivers.

:func:`clv.cx.analysis.run_cx_roi` with ``time_varying=True`` or ``"auto"``
estimates the dropout and purchase levers with the time-varying Pareto/NBD
(:class:`clv.models.ParetoNBDDynamicModel`) on per-period CX paths
(:func:`clv.cx.paths.feature_paths`, lagged one period) when the events allow
it (:func:`check_paths`), and values investments as changes of the future path
(:mod:`clv.roi.paths`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from clv.cx.features import FeatureBuilder
from clv.exceptions import ConvergenceWarning, DataError

__all__ = [
    "MIN_CUSTOMERS",
    "MIN_SHARE",
    "PathCheck",
    "build_paths",
    "check_paths",
    "fit_paths",
    "fit_with_notes",
]

#: A path "varies within customers" when at least this share of customers ...
MIN_SHARE = 0.05
#: ... and at least this many customers have more than one value along their path.
MIN_CUSTOMERS = 20


@dataclass(frozen=True)
class PathCheck:
    """Whether the per-period CX paths allow the time-varying models, and why (not).

    Attributes
    ----------
    allowed : bool
    reason : str
        One sentence for the analysis notes and the progress messages.
    varying : list of str
        Actionable columns whose paths vary within customers.
    share : dict
        Per actionable column, the share of customers whose path takes more
        than one value.
    """

    allowed: bool
    reason: str
    varying: list[str]
    share: dict[str, float]


def build_paths(
    builder: FeatureBuilder,
    events: pd.DataFrame,
    transactions: pd.DataFrame,
    customers: pd.DataFrame | None,
    *,
    cutoff: pd.Timestamp,
    controls: pd.DataFrame | None,
    time_unit: str = "W",
    group: pd.Series | None = None,
    customer_id_col: str = "customer_id",
    date_col: str = "date",
) -> tuple[pd.DataFrame | None, str]:
    """Per-period paths of the builder's features plus constant paths of the controls.

    Returns ``(paths, "")``, or ``(None, reason)`` when the builder cannot make
    paths (standardised features, interactions of counts, a bad ``group``).
    """
    from clv.cx.paths import feature_paths

    before = transactions[pd.to_datetime(transactions[date_col]) < cutoff]
    try:
        paths = feature_paths(
            builder,
            events,
            before,
            customers,
            observation_end=cutoff,
            time_unit=time_unit,
            group=group,
            customer_id_col=customer_id_col,
            date_col=date_col,
        )
    except (ValueError, DataError) as exc:
        return None, f"the CX features cannot be built as per-period paths ({exc})"
    if controls is not None and len(controls.columns):
        values = controls.reindex(paths[customer_id_col].to_numpy())
        for col in controls.columns:
            paths[col] = values[col].to_numpy(dtype=np.float64)
    return paths, ""


def check_paths(
    paths: pd.DataFrame | None,
    actionable: Sequence[str],
    *,
    customer_id_col: str = "customer_id",
    reason: str = "",
) -> PathCheck:
    """Do the CX events allow the time-varying models?

    They do when the events are dated (every CX event has a timestamp, which
    the schema requires) and at least one **actionable** feature's per-period
    path (the value as of each period start, from the events before it) takes
    more than one value within customers, for at least :data:`MIN_SHARE` of the
    customers and at least :data:`MIN_CUSTOMERS` customers. Otherwise the paths
    are constant within customers (e.g. events only before every customer's
    first purchase, or a feature without time variation) and the time-varying
    model has nothing to learn beyond the static one.
    """
    if paths is None:
        return PathCheck(False, reason or "no per-period paths", [], {})
    share: dict[str, float] = {}
    counts: dict[str, int] = {}
    for col in actionable:
        if col not in paths.columns:
            continue
        distinct = paths.groupby(customer_id_col)[col].nunique()
        counts[col] = int((distinct > 1).sum())
        share[col] = float((distinct > 1).mean()) if len(distinct) else 0.0
    varying = [c for c in share if share[c] >= MIN_SHARE and counts[c] >= MIN_CUSTOMERS]
    if not share:
        return PathCheck(False, "no actionable CX feature to follow over time", [], share)
    if not varying:
        best = max(share, key=share.__getitem__)
        return PathCheck(
            False,
            f"the CX paths hardly vary within customers over time (at most "
            f"{share[best]:.1%} of customers, for {best!r}; needs {MIN_SHARE:.0%} and "
            f"{MIN_CUSTOMERS} customers): the events carry no dated change to learn from",
            [],
            share,
        )
    text = ", ".join(f"{c} ({share[c]:.0%} of customers)" for c in varying)
    return PathCheck(True, f"the CX paths vary within customers over time: {text}", varying, share)


def fit_paths(
    transactions: pd.DataFrame,
    paths: pd.DataFrame,
    columns: Sequence[str],
    *,
    cutoff: pd.Timestamp,
    time_unit: str = "W",
    customer_id_col: str = "customer_id",
    date_col: str = "date",
    start_from: Any = None,
) -> tuple[Any, Any, list[str]]:
    """Fit the time-varying Pareto/NBD with ``columns`` on purchases and dropout.

    ``start_from`` (optional) is a fitted static :class:`~clv.models.ParetoNBDModel`
    on daily RFM data with (some of) the same covariates: its estimates, turned into
    rates per period of ``time_unit``, are the starting values (coefficients of
    other columns start at 0), which saves most optimiser iterations.

    Returns ``(model, tv_data, notes)``: the convergence warnings of the fit become
    notes (the caller decides whether the model can be used: its covariance must
    be finite); transactions at or after ``cutoff`` are ignored.
    """
    from clv.models import ParetoNBDDynamicModel, time_varying_data

    before = transactions[pd.to_datetime(transactions[date_col]) < cutoff]
    cols = [c for c in columns if paths[c].nunique() > 1]
    data = time_varying_data(
        before,
        paths,
        columns=cols,
        observation_end=cutoff,
        time_unit=time_unit,
        customer_id_col=customer_id_col,
        date_col=date_col,
    )
    model = ParetoNBDDynamicModel(purchase_covariates=cols, dropout_covariates=cols)
    initial = None
    if start_from is not None and getattr(start_from, "time_unit_", None) == "D":
        days = {"W": 7.0, "D": 1.0}[time_unit]
        p = start_from.params_
        initial = {
            "r": float(p["r"]),
            "alpha": float(p["alpha"]) / days,
            "s": float(p["s"]),
            "beta": float(p["beta"]) / days,
        }
        initial.update({n: float(p[n]) for n in model._param_names()[4:] if n in p.index})
    notes = fit_with_notes(model, data, initial_params=initial)
    return model, data, notes


def fit_with_notes(model: Any, data: Any, **fit_kwargs: Any) -> list[str]:
    """Fit ``model`` on ``data``; its convergence warnings come back as notes.

    The texts of :class:`~clv.exceptions.ConvergenceWarning` (e.g. a dropout
    shape held at its homogeneous limit) are returned for the analysis notes
    instead of being lost in a log; any other warning is passed on unchanged.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(data, **fit_kwargs)
    for w in caught:  # anything else is passed on
        if not issubclass(w.category, ConvergenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]


def time_varying_drivers(
    model: Any, paths: pd.DataFrame, actionable: Sequence[str], interval: float = 0.9
) -> pd.DataFrame:
    """The time-varying effects per lever: coefficient, se, interval, rate ratios.

    One row per coefficient of an actionable column: ``signal``, ``lever``
    (retention for dropout, repeat purchase for purchases), ``coef``, ``se``,
    ``coef_lo``/``coef_hi`` (central ``interval``), ``effect_per_unit``
    (:math:`e^\\gamma`), ``effect_per_sd`` (per SD of the path values) and
    ``model`` = "time-varying Pareto/NBD (per-period paths)".
    """
    z = float(stats.norm.ppf(0.5 + interval / 2))
    summary = model.summary()
    rows = []
    for name, r in summary.iterrows():
        name = str(name)
        if "[" not in name:
            continue
        process, col = name[:-1].split("[", 1)
        if col not in actionable:
            continue
        sd = float(np.nanstd(paths[col].to_numpy(dtype=np.float64)))
        coef, se = float(r["coef"]), float(r["se"])
        rows.append(
            {
                "signal": col,
                "lever": "retention" if process == "dropout" else "repeat_purchase",
                "coefficient_name": name,
                "coef": coef,
                "se": se,
                "coef_lo": coef - z * se,
                "coef_hi": coef + z * se,
                "effect_per_unit": float(np.exp(coef)),
                "effect_per_sd": float(np.exp(coef * sd)),
                "path_sd": sd,
                "evidence_grade": "C",
                "model": "time-varying Pareto/NBD (per-period paths)",
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "signal",
            "lever",
            "coefficient_name",
            "coef",
            "se",
            "coef_lo",
            "coef_hi",
            "effect_per_unit",
            "effect_per_sd",
            "path_sd",
            "evidence_grade",
            "model",
        ],
    )
