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
from clv.roi import _math, decision
from clv.roi.confounding import CausalShare
from clv.roi.engine import (
    ALL,
    LEVERS,
    CounterfactualEngine,
    NewCustomers,
    ServiceCost,
    shapley_split,
)
from clv.roi.grades import (
    grade_shares,
    grade_split,
    grade_variants,
    overall_grade,
    scope_counts,
    value_in_scope,
)
from clv.roi.spec import GRADES, Investment

__all__ = ["InvestmentDraws", "RoiResult", "evaluate_investments"]

#: The headline of the finance table, first in every short view of it (notebook, terminal).
HEADLINE_COLUMNS = (
    "investment",
    "evidence_grade",
    "cost_pv",
    "incremental_clv_mean",
    "npv_mean",
    "roi_mean",
)

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
    grades : dict
        ``{grade: (S,)}``: Shapley split of ``incremental_clv`` over the evidence
        grades of the coefficients used (:func:`clv.roi.grades.grade_split`); the
        arrays sum to ``incremental_clv``.
    service_cost_change : (S,) or None
        Present value of the change in the cost to serve (positive: more cost), already
        subtracted from ``incremental_clv``; None without a service-cost model.
    incremental_clv_if_causal : (S,)
        The incremental CLV if every fitted (grade C) association were fully causal;
        ``incremental_clv`` itself scales fitted coefficients by the causal-share
        prior of :mod:`clv.roi.confounding`.
    npv_evidenced : (S,)
        NPV counting only experiment and quasi-experiment coefficients (grades A, B).
    test_plan : dict
        For a test: ``lever``, ``relative_effect`` (targeted customers' value change if
        causal over the test window), ``test_periods``, ``customers_per_arm``.
    tested_scope : (int, int) or None
        Customers moved inside the tested population of the evidence, and in all
        (None: the evidence has no population, :attr:`clv.roi.Evidence.population`).
    value_in_scope : (S,) or None
        Incremental value from the customers inside that population.
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
    grades: dict[str, np.ndarray] = field(default_factory=dict)
    incremental_clv_if_causal: np.ndarray | None = None
    npv_evidenced: np.ndarray | None = None
    test_plan: dict[str, Any] = field(default_factory=dict)
    tested_scope: tuple[int, int] | None = None
    value_in_scope: np.ndarray | None = None

    @property
    def npv_if_causal(self) -> np.ndarray:
        """NPV per draw if every fitted association were fully causal (the optimistic value)."""
        inc = (
            self.incremental_clv
            if self.incremental_clv_if_causal is None
            else self.incremental_clv_if_causal
        )
        return inc - self.cost_pv


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
    column_flags: dict[str, list[str]] = field(default_factory=dict)
    benchmark: tuple[str, float] | None = None
    margin_given: bool = True

    @property
    def value_basis(self) -> str:
        """``"margin"`` when a contribution margin was given, else ``"revenue"`` (margin 1:
        every money column is revenue, and ROI on revenue is not a return on investment)."""
        return "margin" if self.margin_given else "revenue"

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

    @property
    def causal_share(self) -> Any:
        """The prior on the causal share of fitted coefficients (None: fully causal)."""
        return self.engine.causal_share

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

        Evidence: ``share_grade_<G>`` (G = A, B, C, D) is the share of the expected
        incremental value resting on coefficients of grade G (Shapley over grades,
        :mod:`clv.roi.grades`; signed, sums to 1), ``npv_grade_<G>`` the expected NPV
        split by those shares (sums to ``npv_mean``), and ``evidence_grade`` the
        weakest grade carrying more than 20 % of the value
        (:func:`clv.roi.grades.overall_grade`). Evidence measured on a subpopulation
        (:attr:`clv.roi.Evidence.population`) is graded only there:
        ``customers_in_tested_scope`` counts the moved customers inside it and
        ``share_value_in_tested_scope`` is the share of the value they carry; the
        rest is valued with the fitted coefficients (grade C).
        Fitted (grade C) effects are valued under the causal-share prior
        (``causal_share_prior``): ``npv_*``, ``roi_*``, ``p_roi_positive`` and the
        gains integrate over it. ``*_if_causal`` columns are the optimistic values if
        every association were causal; ``npv_evidenced_mean`` counts only grade A/B
        coefficients. ``recommendation`` (fund / test first / do not fund) and
        ``reason`` come from :func:`clv.roi.decision.recommend`, with the planned
        test (``test_lever``, ``test_customers_per_arm``, ``test_periods``) and
        ``value_of_information`` (expected value of perfect information).

        ``value_basis`` is ``"margin"`` when a contribution margin was given and
        ``"revenue"`` when it was not (margin 1): the money columns are then revenue,
        ROI on revenue overstates the return, and ``fund`` needs the tested effects
        to pay back at a margin of :data:`clv.roi.decision.REVENUE_FUND_MARGIN`
        (10 %). ``breakeven_margin`` is the contribution margin at which the tested
        effects (grades A/B) alone pay back the cost (NaN without tested effects).
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
            by_grade = {g: float(d.grades[g].mean()) if g in d.grades else 0.0 for g in GRADES}
            if not d.grades:
                by_grade[d.investment.grade] = float(d.incremental_clv.mean())
            shares = grade_shares(by_grade)
            npv_mean = float(d.npv.mean())
            row = {
                "investment": name,
                "value_basis": self.value_basis,
                "evidence_grade": overall_grade(by_grade, default=d.investment.grade),
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
                "customers_in_tested_scope": (
                    d.customers_affected if d.tested_scope is None else d.tested_scope[0]
                ),
                "share_value_in_tested_scope": _scope_share(d),
                **{f"share_grade_{g}": shares[g] for g in GRADES},
                **{
                    f"npv_grade_{g}": (
                        npv_mean * shares[g]
                        if np.isfinite(shares[g])
                        else (npv_mean if g == d.investment.grade else 0.0)
                    )
                    for g in GRADES
                },
            }
            row.update(decision.columns(d, self, row))
            rows.append(row)
        out = pd.DataFrame(rows).sort_values("npv_mean", ascending=False, kind="stable")
        out.insert(0, "rank", np.arange(1, len(out) + 1))
        return out.set_index("rank")

    def cash_flow_table(self, name: str) -> pd.DataFrame:
        """Per-period incremental margin and cumulative discounted net cash flow of one investment:
        mean and 5 %/95 % quantiles over draws."""
        d = self.investments[name]
        q = np.quantile(d.cumulative, [0.05, 0.5, 0.95], axis=0)
        return pd.DataFrame(
            {
                "incremental_margin_mean": d.cash_flows.mean(axis=0),
                "cumulative_net_mean": d.cumulative.mean(axis=0),
                "cumulative_net_p05": q[0],
                "cumulative_net_median": q[1],
                "cumulative_net_p95": q[2],
            },
            index=pd.RangeIndex(1, self.horizon + 1, name="period"),
        )

    def assumptions(self) -> dict[str, Any]:
        """The valuation settings, for reports."""
        eng = self.engine
        # unit of the engine's period_length: the scoring data's (path engine) or the model's
        unit = getattr(eng, "data_time_unit", None) or getattr(
            eng.transaction_model, "time_unit_", None
        )
        return {
            "horizon_periods": self.horizon,
            "time_unit": _period_label(unit, eng.period_length),
            "discount_rate_per_period": self.discount_rate,
            "annual_discount_rate": _annual(
                self.discount_rate, _period_days(unit, eng.period_length)
            ),
            "margin": self.margin,
            "parameter_draws": eng.n_draws,
            "random_state": eng.random_state,
            "customers_scored": len(eng.data),
            "transaction_model": type(eng.transaction_model).__name__,
            "spend_model": (
                type(eng.spend_model).__name__
                if eng.spend_draws_ is not None
                else f"fixed {float(eng.spend_model):g} per purchase"
            ),
            "evidence_grades": dict(GRADES),
            "service_cost": _service_assumptions(eng),
        }

    def plot(self, kind: str = "roi", **kwargs: Any) -> Any:
        """Plots: ``"roi"`` (intervals), ``"levers"``, ``"payback"``, ``"npv"`` (distributions)."""
        from clv.roi import plots as roi_plots

        funcs = {
            "roi": roi_plots.plot_roi_intervals,
            "levers": roi_plots.plot_lever_split,
            "payback": roi_plots.plot_payback,
            "npv": roi_plots.plot_npv_distribution,
        }
        if kind not in funcs:
            raise ValueError(f"kind must be one of {sorted(funcs)}, got {kind!r}.")
        return funcs[kind](self, **kwargs)

    def _repr_html_(self) -> str:
        cols = [*HEADLINE_COLUMNS, "p_roi_positive", "payback_median"]
        return self.table()[cols].to_html(float_format=lambda v: f"{v:,.2f}")

    def __repr__(self) -> str:
        return (
            f"<RoiResult: {len(self.investments)} investments, horizon {self.horizon} "
            f"periods, {self.engine.n_draws} draws>"
        )


def _scope_share(d: InvestmentDraws) -> float:
    """Share of the expected incremental value from customers inside the evidence's tested
    population (1 for unscoped evidence, NaN without value)."""
    if d.value_in_scope is None:
        return 1.0
    total = float(d.incremental_clv.mean())
    return float(d.value_in_scope.mean()) / total if total != 0 else float("nan")


def _service_assumptions(eng: CounterfactualEngine) -> dict[str, Any] | None:
    """The cost-to-serve model in plain terms (None when not modelled)."""
    sc = eng.service_cost
    if sc is None:
        return None
    model = sc.model
    summary = model.summary()
    return {
        "cost_per_contact": (
            dict(sc.cost_per_contact)
            if not isinstance(sc.cost_per_contact, int | float)
            else float(sc.cost_per_contact)
        ),
        "channel_column": sc.channel_column,
        "customers_modelled": int(getattr(model, "n_customers_", 0)),
        "contacts_observed": int(getattr(model, "n_contacts_", 0)),
        "dispersion": float(getattr(model, "dispersion_", float("nan"))),
        "rate_ratios": {
            n: float(summary.loc[n, "rate_ratio"])
            for n in summary.index
            if n.startswith("contact[")
        },
        "grade": "C",
    }


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
    for name, span in (
        ("day", 1.0),
        ("week", 7.0),
        ("month", 365.2425 / 12),
        ("quarter", 365.2425 / 4),
        ("year", 365.2425),
    ):
        if abs(days - span) <= 2e-3 * span:  # 30.4375 (365.25 / 12) is a month too
            return name
    return f"{days:g}-day period"


def _evaluate_one(
    engine: CounterfactualEngine, inv: Investment, *, breakeven: bool
) -> InvestmentDraws:
    unit = engine.unit(inv)
    full, totals = engine.flows([unit])  # (S, H), (S, 32)
    service_change = engine.last_service_change_.copy() if engine.service_cost is not None else None
    incremental = totals[:, ALL]
    levers = lever_split(totals)
    upfront, later = engine.cost_draws(inv)
    cost_pv = upfront + engine.discounted(later)
    npv = incremental - cost_pv
    cumulative = _math.cumulative_discounted(full - later, -upfront, engine.discount_rate)
    out = InvestmentDraws(
        inv,
        engine.affected(unit),
        incremental,
        cost_pv,
        npv,
        npv / cost_pv,
        _math.payback_period(cumulative),
        levers,
        full,
        cumulative,
        service_cost_grade=_service_grade(engine, inv, unit),
        service_cost_change=service_change,
    )
    # the grade coalitions, the fully causal and the evidenced-only variants: one pass
    variants = grade_variants(inv, unit, engine)
    batch: list[list[Any]] = [[u] for u in variants.values()]
    per_period = [False] * len(batch)  # totals only, except the fully causal flows
    if engine.share_draws_ is not None:
        batch.append([engine.unit(inv, share=1.0)])
        per_period.append(True)
    evidenced = any(
        inv.evidence.coefficient_grade(n) in ("A", "B") for n in inv.evidence.coefficients
    )
    if evidenced:
        batch.append([engine.unit(inv, evidenced_only=True)])
        per_period.append(False)
    results = iter(
        engine.flows_batch(batch, full_only=True, per_period=per_period) if batch else []
    )
    values = {c: next(results)[1][:, ALL] for c in variants}
    out.grades = grade_split(engine, inv, unit, incremental, values)
    if unit.scope:
        out.tested_scope = scope_counts(engine, unit)
        out.value_in_scope = value_in_scope(engine, unit)
    if engine.share_draws_ is None:
        full_causal = full
        out.incremental_clv_if_causal = incremental
    else:
        full_causal, tot, _ = next(results)
        out.incremental_clv_if_causal = tot[:, ALL]
    out.npv_evidenced = next(results)[1][:, ALL] - cost_pv if evidenced else -cost_pv
    out.test_plan = _test_plan(engine, unit, full_causal, levers)
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


TEST_PERIODS = 6


def _test_plan(
    engine: CounterfactualEngine, unit: Any, full_causal: np.ndarray, levers: np.ndarray
) -> dict[str, Any]:
    """The randomised test that would measure an investment's effect (see ``test_plan``)."""
    rows = unit.rows
    periods = min(TEST_PERIODS, engine.horizon)
    lever_gain = levers.mean(axis=1)
    lever = LEVERS[int(np.argmax(np.abs(lever_gain)))] if np.any(lever_gain) else None
    if len(rows) == 0:
        return {
            "lever": lever,
            "relative_effect": 0.0,
            "test_periods": periods,
            "targeted": 0,
            "cv2": float("nan"),
        }
    baseline = engine.baseline_rows(rows)  # (S, H)
    base = float(baseline[:, :periods].sum(axis=1).mean())
    gain = float(full_causal[:, :periods].sum(axis=1).mean())
    rel = gain / base if base > 0 else float("nan")
    base_pv = float((baseline @ engine.discount_).mean())
    gain_pv = float((full_causal @ engine.discount_).mean())
    ratio = 1.0 + gain_pv / base_pv if base_pv > 0 else float("nan")
    sub = engine.data.iloc[rows]
    t = sub["T"].to_numpy(dtype=np.float64)
    per = sub["frequency"].to_numpy(dtype=np.float64) / np.where(t > 0, t, np.nan)
    m = float(np.nanmean(per)) * periods * engine.period_length if len(per) else float("nan")
    params = getattr(engine.transaction_model, "params_", None)
    r = float(params["r"]) if params is not None and "r" in params.index else 1.0
    cv2 = 1.0 / m + 1.0 / r if m > 0 else float("inf")
    return {
        "lever": lever,
        "relative_effect": rel,
        "test_periods": periods,
        "targeted": len(rows),
        "cv2": cv2,
        "value_ratio": ratio,
    }


def breakeven_effect(engine: CounterfactualEngine, inv: Investment, cost_pv: float) -> float:
    """Share of the estimated effect at which the expected NPV is zero.

    The signal shifts are scaled by ``k`` (``k = 1``: as specified) and the
    expected incremental CLV (over the first 12 shared draws) is solved for
    ``E[gain(k)] = cost``, with fitted coefficients taken as fully causal (so ``k``
    is the share of the association that must be causal). ``inf`` if even 64 times the
    effect does not pay back; NaN if the effect lowers value.
    """
    draws = range(min(engine.n_draws, _BREAKEVEN_DRAWS))

    def gap(k: float) -> float:
        _, totals = engine.flows(
            [engine.unit(inv, scale=k, share=1.0)], draws=draws, full_only=True, per_period=False
        )
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
    margin: float | None = None,
    n_draws: int = 200,
    random_state: int = 0,
    breakeven: bool = True,
    period_length: float = 1.0,
    customer_uncertainty: bool = True,
    new_customers: NewCustomers | None = None,
    service_cost: ServiceCost | None = None,
    causal_share: CausalShare | None = CausalShare(),  # noqa: B008 - immutable default
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
    margin : float, optional
        Contribution margin (share of spend). Not given: values are **revenue**
        (margin 1), the table says so (``value_basis``) and ``fund`` needs the
        tested effects to pay back at a 10 % margin (:mod:`clv.roi.decision`).
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
    causal_share : CausalShare or None, default Beta(1, 1)
        Prior on the causal share of every fitted (grade C) coefficient
        (:mod:`clv.roi.confounding`); ``None`` or ``CausalShare.fully_causal()``
        values associations as if they were effects (the ``*_if_causal`` columns
        always show that).
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
    margin_given = margin is not None
    engine = CounterfactualEngine(
        transaction_model,
        spend_model,
        data,
        horizon,
        discount_rate,
        1.0 if margin is None else margin,
        n_draws,
        random_state,
        period_length,
        customer_uncertainty,
        new_customers,
        service_cost,
        causal_share=causal_share,
    )
    results = {
        inv.name: _evaluate_one(engine, inv, breakeven=breakeven)
        for inv in progress_bar(invs, desc="valuing investments", progress=progress)
    }
    return RoiResult(results, engine, margin_given=margin_given)
