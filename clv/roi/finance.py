"""Finance metrics of experience investments: incremental CLV, NPV, ROI, payback, break-even.

:func:`evaluate_investments` runs the counterfactual engine for each investment
with shared parameter draws and returns a :class:`RoiResult`, whose
:meth:`~RoiResult.table` is the ranked finance table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize

from clv._progress import progress_bar
from clv._units import annual_rate, parse_time_unit
from clv.roi import _math
from clv.roi.engine import (
    ALL,
    LEVERS,
    CounterfactualEngine,
    NewCustomers,
    ServiceCost,
    shapley_split,
)
from clv.roi.spec import GRADES, Investment

__all__ = ["InvestmentDraws", "RoiResult", "evaluate_investments"]

_BREAKEVEN_DRAWS = 12
_BREAKEVEN_MAX = 64.0


@dataclass
class InvestmentDraws:
    """Per-draw results of one investment (arrays over the S parameter draws).

    Attributes
    ----------
    incremental_clv : (S,)
        Present value of the incremental contribution margin (customer equity gain).
    cost_pv : (S,)
        Present value of the cost.
    npv, roi : (S,)
        ``incremental_clv - cost_pv`` and ``npv / cost_pv``.
    payback : (S,)
        First period with a non-negative cumulative discounted net cash flow (inf: not
        within the horizon).
    levers : (5, S)
        Shapley split of ``incremental_clv`` into acquisition, retention, repeat
        purchase, spend and service cost (rows sum to ``incremental_clv``).
    cash_flows : (S, H)
        Incremental undiscounted margin per future period.
    cumulative : (S, H)
        Cumulative discounted net cash flow (gains minus costs) after each period.
    service_cost_change : (S,) or None
        Present value of the change in the cost to serve (positive: more cost), already
        subtracted from ``incremental_clv``; None without a service-cost model.
    """

    investment: Investment
    customers_affected: int
    incremental_clv: np.ndarray
    cost_pv: np.ndarray
    npv: np.ndarray
    roi: np.ndarray
    payback: np.ndarray
    levers: np.ndarray
    cash_flows: np.ndarray
    cumulative: np.ndarray
    breakeven_effect: float = float("nan")
    service_cost_grade: str = ""
    service_cost_change: np.ndarray | None = None


def _quantiles(values: np.ndarray) -> tuple[float, float]:
    lo, hi = np.quantile(values, [0.05, 0.95])
    return float(lo), float(hi)


@dataclass
class RoiResult:
    """Results of :func:`evaluate_investments`: per-draw arrays and the finance table.

    Attributes
    ----------
    investments : dict
        ``name -> InvestmentDraws``.
    engine : CounterfactualEngine
        The engine (models, data, shared draws) for joint re-evaluation.
    """

    investments: dict[str, InvestmentDraws]
    engine: CounterfactualEngine = field(repr=False)

    @property
    def horizon(self) -> int:
        """Future periods valued."""
        return int(self.engine.horizon)

    @property
    def discount_rate(self) -> float:
        """Discount rate per period."""
        return float(self.engine.discount_rate)

    @property
    def margin(self) -> float:
        """Contribution margin."""
        return float(self.engine.margin)

    def npv_draws(self) -> pd.DataFrame:
        """NPV per draw (rows) and investment (columns): common random numbers."""
        return pd.DataFrame({n: d.npv for n, d in self.investments.items()})

    def table(self) -> pd.DataFrame:
        """The finance table: one row per investment, ranked by expected NPV.

        Money columns are present values in the currency of the spend data;
        ``*_p05``/``*_p95`` bound the 90 % interval over parameter draws;
        ``payback_median`` is in periods of the data (NaN if the median draw does
        not pay back within the horizon); ``breakeven_effect`` is the share of the
        estimated effect the investment must deliver for E[NPV] = 0;
        ``gain_<lever>`` columns sum to ``incremental_clv_mean``.
        """
        npv = self.npv_draws()
        best = npv.to_numpy().argmax(axis=1)
        p_best = np.bincount(best, minlength=npv.shape[1]) / len(npv)
        rows = []
        for k, (name, d) in enumerate(self.investments.items()):
            inc_lo, inc_hi = _quantiles(d.incremental_clv)
            npv_lo, npv_hi = _quantiles(d.npv)
            roi_lo, roi_hi = _quantiles(d.roi)
            pay = np.median(d.payback)
            row = {
                "investment": name,
                "evidence_grade": d.investment.grade,
                "customers_affected": d.customers_affected,
                "cost_pv": float(d.cost_pv.mean()),
                "incremental_clv_mean": float(d.incremental_clv.mean()),
                "incremental_clv_p05": inc_lo,
                "incremental_clv_p95": inc_hi,
                "npv_mean": float(d.npv.mean()),
                "npv_p05": npv_lo,
                "npv_p95": npv_hi,
                "roi_mean": float(d.roi.mean()),
                "roi_p05": roi_lo,
                "roi_p95": roi_hi,
                "p_roi_positive": float((d.npv > 0).mean()),
                "expected_loss": float(np.maximum(-d.npv, 0.0).mean()),
                "payback_median": float(pay) if np.isfinite(pay) else float("nan"),
                "p_payback_within_horizon": float(np.isfinite(d.payback).mean()),
                "breakeven_effect": d.breakeven_effect,
                **{f"gain_{lever}": float(d.levers[j].mean()) for j, lever in enumerate(LEVERS)},
                "p_rank_1": float(p_best[k]),
                "service_cost_grade": d.service_cost_grade,
                "evidence": d.investment.evidence.description,
            }
            rows.append(row)
        out = pd.DataFrame(rows).sort_values("npv_mean", ascending=False, kind="stable")
        out.insert(0, "rank", np.arange(1, len(out) + 1))
        return out.set_index("rank")

    def cash_flow_table(self, name: str) -> pd.DataFrame:
        """Per-period incremental margin and cumulative discounted net cash flow of one investment:
        mean and 5 %/95 % quantiles over draws."""
        d = self.investments[name]
        q = np.quantile(d.cumulative, [0.05, 0.5, 0.95], axis=0)
        return pd.DataFrame({
            "incremental_margin_mean": d.cash_flows.mean(axis=0),
            "cumulative_net_mean": d.cumulative.mean(axis=0),
            "cumulative_net_p05": q[0],
            "cumulative_net_median": q[1],
            "cumulative_net_p95": q[2],
        }, index=pd.RangeIndex(1, self.horizon + 1, name="period"))

    def assumptions(self) -> dict[str, Any]:
        """The valuation settings, for reports."""
        eng = self.engine
        return {
            "horizon_periods": self.horizon,
            "time_unit": _period_label(getattr(eng.transaction_model, "time_unit_", None),
                                       eng.period_length),
            "discount_rate_per_period": self.discount_rate,
            "annual_discount_rate": _annual(self.discount_rate,
                                            _period_days(getattr(eng.transaction_model,
                                                                 "time_unit_", None),
                                                         eng.period_length)),
            "margin": self.margin,
            "parameter_draws": eng.n_draws,
            "random_state": eng.random_state,
            "customers_scored": len(eng.data),
            "transaction_model": type(eng.transaction_model).__name__,
            "spend_model": (type(eng.spend_model).__name__ if eng.spend_draws_ is not None
                            else f"fixed {float(eng.spend_model):g} per purchase"),
            "evidence_grades": dict(GRADES),
            "service_cost": _service_assumptions(eng),
        }

    def plot(self, kind: str = "roi", **kwargs: Any) -> Any:
        """Plots: ``"roi"`` (intervals), ``"levers"``, ``"payback"``, ``"npv"`` (distributions)."""
        from clv.roi import plots as roi_plots

        funcs = {"roi": roi_plots.plot_roi_intervals, "levers": roi_plots.plot_lever_split,
                 "payback": roi_plots.plot_payback, "npv": roi_plots.plot_npv_distribution}
        if kind not in funcs:
            raise ValueError(f"kind must be one of {sorted(funcs)}, got {kind!r}.")
        return funcs[kind](self, **kwargs)

    def _repr_html_(self) -> str:
        cols = ["investment", "evidence_grade", "cost_pv", "incremental_clv_mean", "npv_mean",
                "roi_mean", "p_roi_positive", "payback_median"]
        return self.table()[cols].to_html(float_format=lambda v: f"{v:,.2f}")

    def __repr__(self) -> str:
        return (f"<RoiResult: {len(self.investments)} investments, horizon {self.horizon} "
                f"periods, {self.engine.n_draws} draws>")


def _service_assumptions(eng: CounterfactualEngine) -> dict[str, Any] | None:
    """The cost-to-serve model in plain terms (None when not modelled)."""
    sc = eng.service_cost
    if sc is None:
        return None
    model = sc.model
    summary = model.summary()
    return {"cost_per_contact": (dict(sc.cost_per_contact) if not isinstance(
                sc.cost_per_contact, int | float) else float(sc.cost_per_contact)),
            "channel_column": sc.channel_column,
            "customers_modelled": int(getattr(model, "n_customers_", 0)),
            "contacts_observed": int(getattr(model, "n_contacts_", 0)),
            "dispersion": float(getattr(model, "dispersion_", float("nan"))),
            "rate_ratios": {n: float(summary.loc[n, "rate_ratio"]) for n in summary.index
                            if n.startswith("contact[")},
            "grade": "C"}


def lever_split(totals: np.ndarray) -> np.ndarray:
    """Shapley split (5, S) of the discounted incremental value over the levers.

    ``totals`` is the (S, 32) coalition table of :meth:`CounterfactualEngine.flows`;
    players (in :data:`LEVERS` order) are acquisition (bit 3), retention (bit 0),
    repeat purchase (bit 1), spend (bit 2) and service cost (bit 4).
    """
    bits = {0: 8, 1: 1, 2: 2, 3: 4, 4: 16}

    def value(coalition: frozenset[int]) -> np.ndarray:
        return totals[:, sum(bits[p] for p in coalition)]

    return shapley_split(value, len(LEVERS))


def _annual(rate: float, days: float | None) -> float | None:
    """The annual equivalent of a per-period rate (None when the period length is unknown)."""
    if days is None:
        return None
    return float(annual_rate(rate, parse_time_unit(f"{days!r}D")))


def _period_days(unit: str | None, length: float) -> float | None:
    """Length in days of a valuation period of ``length`` model periods (None if unknown)."""
    if unit is None:
        return None
    try:
        return parse_time_unit(unit).days * float(length)
    except ValueError:
        return None


def _period_label(unit: str | None, length: float) -> str:
    """Singular name of the valuation period: ``"month"`` for 30.4375 days, ``"week"`` ...

    >>> _period_label("D", 365.25 / 12), _period_label("W", 1.0), _period_label("D", 10.0)
    ('month', 'week', '10-day period')
    >>> _period_label(None, 30.4375)
    'period of 30.4375 model periods'
    """
    days = _period_days(unit, length)
    if days is None:
        return "period" if length == 1 else f"period of {length:g} model periods"
    for name, span in (("day", 1.0), ("week", 7.0), ("month", 365.2425 / 12),
                       ("quarter", 365.2425 / 4), ("year", 365.2425)):
        if abs(days - span) <= 2e-3 * span:  # 30.4375 (365.25 / 12) is a month too
            return name
    return f"{days:g}-day period"


def _evaluate_one(engine: CounterfactualEngine, inv: Investment, *,
                  breakeven: bool) -> InvestmentDraws:
    unit = engine.unit(inv)
    full, totals = engine.flows([unit])                   # (S, H), (S, 32)
    service_change = (engine.last_service_change_.copy() if engine.service_cost is not None
                      else None)
    incremental = totals[:, ALL]
    levers = lever_split(totals)
    upfront, later = engine.cost_draws(inv)
    cost_pv = upfront + engine.discounted(later)
    npv = incremental - cost_pv
    cumulative = _math.cumulative_discounted(full - later, -upfront, engine.discount_rate)
    out = InvestmentDraws(inv, engine.affected(unit), incremental, cost_pv, npv, npv / cost_pv,
                          _math.payback_period(cumulative), levers, full, cumulative,
                          service_cost_grade=_service_grade(engine, inv, unit),
                          service_cost_change=service_change)
    if breakeven:
        out.breakeven_effect = breakeven_effect(engine, inv, float(cost_pv.mean()))
    return out


def _service_grade(engine: CounterfactualEngine, inv: Investment, unit: Any) -> str:
    """Evidence grade of the investment's effect on the contact rate ("" if it has none)."""
    used = [n for n in unit.coefs if n.startswith("contact[") and n[8:-1] in unit.delta]
    if not used:
        return ""
    grades = engine.coefficient_grades(inv)
    return max(grades.get(n, "C") for n in used)  # the weakest evidence: D > C > B > A


def breakeven_effect(engine: CounterfactualEngine, inv: Investment, cost_pv: float) -> float:
    """Share of the estimated effect at which the expected NPV is zero.

    The signal shifts are scaled by ``k`` (``k = 1``: as specified) and the
    expected incremental CLV (over the first 12 shared draws) is solved for
    ``E[gain(k)] = cost``. ``inf`` if even 64 times the effect does not pay back;
    NaN if the effect lowers value.
    """
    draws = range(min(engine.n_draws, _BREAKEVEN_DRAWS))

    def gap(k: float) -> float:
        _, totals = engine.flows([engine.unit(inv, scale=k)], draws=draws, full_only=True)
        return float(totals[:, ALL].mean()) - cost_pv

    at_one = gap(1.0)
    if at_one + cost_pv <= 0:
        return float("nan")
    hi = 1.0
    while at_one < 0:
        hi *= 4.0
        if hi > _BREAKEVEN_MAX:
            return float("inf")
        at_one = gap(hi)
    return float(optimize.brentq(gap, 0.0, hi, xtol=2e-3, rtol=2e-3))


def evaluate_investments(
    investments: Sequence[Investment],
    *,
    transaction_model: Any,
    spend_model: Any,
    data: pd.DataFrame,
    horizon: int,
    discount_rate: float,
    margin: float = 1.0,
    n_draws: int = 200,
    random_state: int = 0,
    breakeven: bool = True,
    period_length: float = 1.0,
    customer_uncertainty: bool = True,
    new_customers: NewCustomers | None = None,
    service_cost: ServiceCost | None = None,
    progress: bool | None = None,
) -> RoiResult:
    """Value experience investments: incremental CLV, NPV, ROI with intervals, payback, ranks.

    Parameters
    ----------
    investments : sequence of Investment
        Names must be unique.
    transaction_model : ParetoNBDModel
        Fitted (with CX covariates for observational effects); a
        :class:`clv.bayes.ParetoNBDModel` contributes its posterior draws.
    spend_model : GammaGammaModel or float
        Fitted Gamma-Gamma (optionally with spend covariates) or a value per purchase.
    data : DataFrame
        Scoring frame: RFM columns, ``monetary_value``, the models' covariates
        and any target columns; one row per customer.
    horizon : int
        Future periods valued, in the data's time unit.
    discount_rate : float
        Per period (:func:`clv.roi.period_rate` converts an annual rate).
    margin : float, default 1.0
        Contribution margin (share of spend).
    n_draws : int, default 200
        Parameter draws shared by all investments (common random numbers).
    random_state : int, default 0
        Seed.
    breakeven : bool, default True
        Also solve for the break-even share of the effect (a few extra evaluations).
    period_length : float, default 1.0
        Valuation period in the data's time unit (7: weekly cash flows from a model
        fitted in days); horizon, rate, ramp, duration and cost periods use it.
    customer_uncertainty : bool, default True
        Sample each customer's latent state per draw (see
        :class:`~clv.roi.engine.CounterfactualEngine`); ``False``: parameter
        uncertainty only.
    new_customers : NewCustomers, optional
        Future cohorts through an acquisition model with period covariates; shifts
        of its covariates (e.g. ``Shift("promoter_share", "add", 0.05)``) bring new
        customers, the acquisition lever.
    progress : bool, optional
        Progress bar over the investments (default: only in a notebook or a
        terminal; see :func:`clv._progress.progress_enabled`).

    Returns
    -------
    RoiResult
    """
    invs = list(investments)
    if not invs:
        raise ValueError("give at least one Investment.")
    names = [i.name for i in invs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"investment names must be unique; repeated: {dupes}.")
    engine = CounterfactualEngine(transaction_model, spend_model, data, horizon, discount_rate,
                                  margin, n_draws, random_state, period_length,
                                  customer_uncertainty, new_customers, service_cost)
    results = {inv.name: _evaluate_one(engine, inv, breakeven=breakeven)
               for inv in progress_bar(invs, desc="valuing investments", progress=progress)}
    return RoiResult(results, engine)
