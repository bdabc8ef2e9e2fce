r"""Driver analysis: how much each CX signal moves each lever of customer value, and CLV.

For every covariate coefficient of the fitted models (``purchase[col]``,
``dropout[col]``, ``spend[col]``, ``churn[col]``, ``acquisition[col]``) the
table gives the multiplicative effect on its lever's rate per natural unit of
the signal, :math:`e^{\gamma}`, and per standard deviation of the signal in
the data, :math:`e^{\gamma\,\mathrm{sd}}`, with a 90 % interval (normal on
:math:`\gamma`: standard errors of the MLE, or the user's experimental
estimate). For a Pareto/NBD transaction model it also gives the implied change
of expected CLV when the signal improves by one standard deviation for every
customer (and for a chosen segment), split between the levers by the Shapley
value of :mod:`clv.roi` (the parts add up to the signal's total).

Every row states its **evidence grade**: a fitted coefficient is an
*observational association* (grade C); when the user supplies an experimental
estimate ``(mean, se, source)`` for a coefficient it replaces the fitted one
(grade A, or B for a quasi-experiment) in the effects and in the CLV change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from clv.exceptions import DataError, Problem

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["drivers", "plot_drivers"]

_LEVER = {
    "purchase": "repeat_purchase",
    "dropout": "retention",
    "churn": "retention",
    "spend": "spend",
    "acquisition": "acquisition",
}
_RATE = {
    "purchase": "purchase rate",
    "dropout": "dropout rate",
    "churn": "churn hazard",
    "spend": "mean spend",
    "acquisition": "acquisition hazard",
}
_GRADE_TEXT = {
    "A": "experiment",
    "B": "quasi-experiment",
    "C": "observational association",
    "D": "assumption",
}


def _coefficients(model: Any) -> list[tuple[str, str, str, float, float]]:
    """(name, process, column, estimate, se) of each covariate coefficient of a fitted model."""
    out: list[tuple[str, str, str, float, float]] = []
    if model is None:
        return out
    params = model.params_
    cov = getattr(model, "covariance_", None)
    for name, value in params.items():
        name = str(name)
        if not (name.endswith("]") and "[" in name):
            continue
        process, column = name[:-1].split("[", 1)
        se = float(np.sqrt(cov.loc[name, name])) if cov is not None else float("nan")
        out.append((name, process, column, float(value), se))
    return out


def _evidence(entry: Any) -> tuple[float, float, str, str | None]:
    """Normalise an evidence entry to (mean, se, grade, source)."""
    if isinstance(entry, Mapping):
        kind = entry.get("kind", "experiment")
        grade = {"experiment": "A", "quasi_experiment": "B", "assumption": "D"}.get(kind)
        if grade is None:
            raise ValueError(
                f"evidence kind must be experiment, quasi_experiment or assumption, got {kind!r}."
            )
        return float(entry["mean"]), float(entry["se"]), grade, entry.get("source")
    values = tuple(entry)
    if len(values) not in (2, 3):
        raise ValueError(f"evidence must be (mean, se) or (mean, se, source), got {entry!r}.")
    source = values[2] if len(values) == 3 else None
    return float(values[0]), float(values[1]), "A", source


def drivers(
    transaction_model: Any = None,
    spend_model: Any = None,
    data: pd.DataFrame | None = None,
    *,
    retention_model: Any = None,
    acquisition_model: Any = None,
    evidence: Mapping[str, Any] | None = None,
    segment: Any = None,
    level: float = 0.90,
    clv_change: bool = True,
    horizon: int = 52,
    discount_rate: float = 0.0,
    margin: float = 1.0,
    n_draws: int = 100,
    random_state: int = 0,
    period_length: float = 1.0,
    max_customers: int | None = 5000,
    skip_clv_change: Sequence[str] = (),
) -> pd.DataFrame:
    """Driver table: effect of each CX signal on each lever and on CLV, with its evidence grade.

    Parameters
    ----------
    transaction_model : ParetoNBDModel or BetaGeoModel, optional
        Fitted with ``purchase_covariates`` / ``dropout_covariates``.
    spend_model : GammaGammaModel, optional
        Fitted with ``spend_covariates``.
    data : DataFrame
        The customers (features and RFM columns) the standard deviations and the
        CLV changes refer to, usually the fitting frame.
    retention_model : ShiftedBetaGeoModel or BetaDiscreteWeibullModel, optional
        Contractual churn with ``churn_covariates``.
    acquisition_model : AcquisitionModel, optional
        With period covariates (effects per unit only).
    evidence : mapping, optional
        ``{"dropout[wait_minutes]": (mean, se, "AB test 2025-03"), ...}`` or
        ``{name: {"mean":, "se":, "kind": "quasi_experiment", "source":}}``: an
        experimental estimate used instead of the fitted coefficient.
    segment : mapping or str, optional
        A segment ``{"channel": "phone"}`` or a condition (:mod:`clv.roi.conditions`)
        for a second CLV change.
    level : float, default 0.90
        Interval level.
    clv_change : bool, default True
        Compute the implied CLV change (needs a Pareto/NBD ``transaction_model``).
    horizon, discount_rate, margin
        Valuation of the CLV change (periods of the data).
    n_draws, random_state
        Parameter draws for the CLV-change intervals.
    period_length : float, default 1.0
        Valuation period in the data's time unit (see :func:`clv.roi.evaluate_investments`).
    max_customers : int or None, default 5000
        The CLV changes (ratios) are computed on a random sample of at most this many
        customers (seeded by ``random_state``); None uses everyone.

    Returns
    -------
    DataFrame
        One row per coefficient: ``coefficient_name`` (as in the model's ``params_``),
        ``signal``, ``lever``, ``effect_on``, ``coefficient``,
        ``se``, ``effect_per_unit`` (multiplier) and its ``_lo``/``_hi``, ``signal_sd``,
        ``effect_per_sd`` and its ``_lo``/``_hi``, ``clv_change_pct`` (per +1 SD, this
        lever's share) and its ``_lo``/``_hi``, the same for the segment when one is
        given (``segment_clv_change_pct``...), ``evidence_grade`` and ``evidence``.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}.")
    evidence = dict(evidence or {})
    z = float(stats.norm.ppf(0.5 + level / 2))
    rows: list[dict[str, Any]] = []
    known: set[str] = set()
    for model in (transaction_model, spend_model, retention_model, acquisition_model):
        for name, process, column, est, se in _coefficients(model):
            known.add(name)
            grade, source = "C", None
            if name in evidence:
                est, se, grade, source = _evidence(evidence[name])
            sd = float("nan")
            if data is not None and column in data.columns:
                values = data[column].to_numpy(dtype=np.float64)
                miss = f"{column}_missing"
                if miss in data.columns:
                    values = values[data[miss].to_numpy(dtype=np.float64) == 0]
                sd = float(np.nanstd(values, ddof=1)) if len(values) > 1 else float("nan")
            rows.append(
                {
                    "signal": column,
                    "lever": _LEVER.get(process, process),
                    "effect_on": _RATE.get(process, process),
                    "coefficient": est,
                    "se": se,
                    "effect_per_unit": np.exp(est),
                    "effect_per_unit_lo": np.exp(est - z * se),
                    "effect_per_unit_hi": np.exp(est + z * se),
                    "signal_sd": sd,
                    "effect_per_sd": np.exp(est * sd),
                    "effect_per_sd_lo": np.exp((est - z * se) * sd),
                    "effect_per_sd_hi": np.exp((est + z * se) * sd),
                    "evidence_grade": grade,
                    "evidence": _GRADE_TEXT[grade] + (f" ({source})" if source else ""),
                    "_name": name,
                }
            )
    unknown = sorted(set(evidence) - known)
    if unknown:
        raise ValueError(
            f"evidence for unknown coefficient(s) {unknown}; the models have {sorted(known)}."
        )
    table = pd.DataFrame(rows)
    if table.empty:
        raise ValueError(
            "the models have no covariate coefficients: fit them with "
            "purchase_covariates=, dropout_covariates=, spend_covariates= or "
            "churn_covariates=."
        )
    for col in (
        "clv_change_pct",
        "clv_change_pct_lo",
        "clv_change_pct_hi",
        "segment_clv_change_pct",
        "segment_clv_change_pct_lo",
        "segment_clv_change_pct_hi",
    ):
        table[col] = np.nan
    from clv.models import ParetoNBDModel
    from clv.roi.engine import model_family

    if (
        clv_change
        and transaction_model is not None
        and issubclass(model_family(transaction_model), ParetoNBDModel)
    ):
        if data is None:
            raise DataError(
                [Problem(None, "no data given", "pass the customers' frame")],
                what="the driver analysis",
            )
        _clv_changes(
            table,
            transaction_model,
            spend_model,
            data,
            evidence,
            segment,
            level,
            engine_settings(horizon, discount_rate, margin, n_draws, random_state, period_length),
            max_customers,
            set(skip_clv_change),
        )
    table.insert(0, "coefficient_name", table.pop("_name"))
    if segment is None:
        table = table.drop(columns=[c for c in table.columns if c.startswith("segment_")])
    return table


def engine_settings(
    horizon: int,
    discount_rate: float,
    margin: float | None,
    n_draws: int,
    random_state: int,
    period_length: float,
) -> dict[str, Any]:
    """The valuation settings of :class:`~clv.roi.engine.CounterfactualEngine`, by name."""
    return {
        "horizon": horizon,
        "discount_rate": discount_rate,
        "margin": margin,
        "n_draws": n_draws,
        "random_state": random_state,
        "period_length": period_length,
    }


def _clv_changes(
    table: pd.DataFrame,
    tm: Any,
    sm: Any,
    data: pd.DataFrame,
    evidence: Mapping[str, Any],
    segment: Any,
    level: float,
    valuation: Mapping[str, Any],
    max_customers: int | None,
    skip: frozenset[str] | set[str] = frozenset(),
) -> None:
    """Add the CLV change per signal step to ``table``.

    ``valuation``: the :class:`~clv.roi.engine.CounterfactualEngine` settings
    (``horizon``, ``discount_rate``, ``margin``, ``n_draws``, ``random_state``,
    ``period_length``).
    """
    from clv.roi import Evidence, Investment, Shift
    from clv.roi.engine import LEVERS, CounterfactualEngine
    from clv.roi.finance import lever_split

    if max_customers is not None and len(data) > max_customers:
        rng = np.random.default_rng(valuation["random_state"])
        pick = rng.choice(len(data), max_customers, replace=False)
        data = data.iloc[np.sort(pick)]
    engine = CounterfactualEngine(tm, sm if sm is not None else 1.0, data, **valuation)
    q = [(1 - level) / 2, (1 + level) / 2]
    trans = {n for n, *_ in _coefficients(tm)} | {n for n, *_ in _coefficients(sm)}
    baselines: dict[str, np.ndarray] = {}
    for signal, group in table[table["_name"].isin(trans)].groupby("signal", sort=False):
        if signal in skip:
            continue
        sd = float(group["signal_sd"].iloc[0])
        if not np.isfinite(sd) or sd <= 0:
            continue
        overrides = {n: _evidence(evidence[n])[:2] for n in group["_name"] if n in evidence}
        ev = Evidence("experiment", overrides) if overrides else Evidence()
        targets = [("", "all")] + ([("segment_", segment)] if segment is not None else [])
        for prefix, target in targets:
            inv = Investment(
                f"+1 SD {signal}",
                cost=1.0,
                target=target,
                shifts=(Shift(str(signal), "add", sd),),
                evidence=ev,
            )
            levers = lever_split(engine.flows([engine.unit(inv)])[1])
            if prefix not in baselines:
                rows = engine._target_rows(inv)
                baselines[prefix] = engine.discounted(engine.baseline_rows(rows))
            for idx, row in group.iterrows():
                pct = 100.0 * levers[LEVERS.index(row["lever"])] / baselines[prefix]
                lo, hi = np.quantile(pct, q)
                table.loc[
                    idx,
                    [
                        f"{prefix}clv_change_pct",
                        f"{prefix}clv_change_pct_lo",
                        f"{prefix}clv_change_pct_hi",
                    ],
                ] = [pct.mean(), lo, hi]


def plot_drivers(table: pd.DataFrame, *, per: str = "sd", ax: Axes | None = None) -> Axes:
    """Forest plot: multiplicative effect of each signal on each lever, with its interval.

    Parameters
    ----------
    table : DataFrame
        From :func:`drivers`.
    per : {"sd", "unit"}, default "sd"
        Effect per standard deviation or per natural unit of the signal.
    """
    import matplotlib.pyplot as plt

    if per not in ("sd", "unit"):
        raise ValueError(f"per must be 'sd' or 'unit', got {per!r}.")
    ax = plt.gca() if ax is None else ax
    t = table.iloc[::-1].reset_index(drop=True)
    y = np.arange(len(t))
    colours = {
        "retention": "#2166ac",
        "repeat_purchase": "#5aae61",
        "spend": "#e08214",
        "acquisition": "#8073ac",
    }
    for yi, row in zip(y, (r for _, r in t.iterrows()), strict=True):
        c = colours.get(row["lever"], "grey")
        mid, lo, hi = (
            row[f"effect_per_{per}"],
            row[f"effect_per_{per}_lo"],
            row[f"effect_per_{per}_hi"],
        )
        ax.plot([lo, hi], [yi, yi], color=c, lw=2.5)
        marker = "o" if row["evidence_grade"] == "C" else "D"
        ax.plot(mid, yi, marker, color=c, ms=7, label=row["lever"].replace("_", " "))
    ax.axvline(1.0, color="black", lw=0.8)
    ax.set_xscale("log")
    ax.set_yticks(
        y,
        [
            f"{s} → {e} [{g}]"
            for s, e, g in zip(t["signal"], t["effect_on"], t["evidence_grade"], strict=True)
        ],
    )
    ax.set_xlabel(
        f"multiplicative effect per {'SD' if per == 'sd' else 'unit'} of the signal "
        "(interval; 1 = no effect)"
    )
    ax.set_title("CX drivers of customer value")
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    ax.legend(unique.values(), unique.keys(), loc="best", fontsize="small")
    return ax
