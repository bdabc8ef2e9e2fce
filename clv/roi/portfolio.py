r"""Choose which investments to fund under a budget, then value the chosen set jointly.

The selection is an exact 0/1 integer programme (``scipy.optimize.milp``) on the
per-draw NPVs (sample average approximation):

* ``"mean"``: maximise expected NPV, the sum of the chosen investments'
  expected NPVs, subject to the sum of their costs (present value) <= budget;
* ``"cvar"``: maximise expected NPV − ``risk_aversion`` × CVaR\ :sub:`alpha` of
  the portfolio loss (−NPV), with the Rockafellar-Uryasev linearisation over
  the shared draws, so diversification between investments counts.

Only investments whose recommendation (:mod:`clv.roi.decision`) is ``fund`` are
eligible by default: an investment recommended "test first" rests on untested
associations, so the budget should pay for its test, not its roll-out.
``eligible=("fund", "test first")`` (or ``"all"``) widens the choice; the
portfolio then says so (:attr:`Portfolio.label`). :attr:`Portfolio.not_funded`
gives, for every investment left out, why.

The chosen set is then re-evaluated jointly (the shifts of all chosen
investments applied together: multiplicative effects on the same rates
interact), and the value of one more unit of budget is the gain in the
objective when the budget grows by ``budget_step``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, sparse

from clv.roi.decision import FUND, RECOMMENDATIONS
from clv.roi.engine import ALL
from clv.roi.finance import RoiResult

__all__ = ["Portfolio", "portfolio_objective", "select_portfolio", "solve_knapsack"]


def portfolio_objective(
    npv: np.ndarray, *, objective: str = "mean", alpha: float = 0.1, risk_aversion: float = 1.0
) -> float:
    """Objective of one portfolio from its NPV per draw.

    ``"mean"``: the mean; ``"cvar"``: the mean minus ``risk_aversion`` × the
    conditional value at risk of the loss ``-npv`` at level ``alpha``
    (:math:`\\min_t\\, t + E[(-\\mathrm{NPV} - t)^+]/\alpha`).

    Examples
    --------
    >>> portfolio_objective(np.array([-10.0, 0.0, 10.0, 20.0]), objective="cvar", alpha=0.25)
    -5.0
    """
    v = np.asarray(npv, dtype=np.float64)
    mean = float(v.mean())
    if objective == "mean":
        return mean
    loss = -v
    # the minimising t is a sample point of the loss (the alpha upper quantile)
    cvar = min(float(t + np.maximum(loss - t, 0.0).mean() / alpha) for t in np.unique(loss))
    return mean - risk_aversion * cvar


def solve_knapsack(
    npv_draws: np.ndarray,
    costs: np.ndarray,
    budget: float,
    *,
    objective: str = "mean",
    alpha: float = 0.1,
    risk_aversion: float = 1.0,
) -> tuple[tuple[int, ...], float]:
    """Exact best subset of investments within ``budget`` (mixed-integer programme).

    Parameters
    ----------
    npv_draws : array, shape (S, J)
        NPV of each investment per shared draw.
    costs : array, shape (J,)
        Present value of each investment's cost (what the budget constrains).
    budget : float
        Available budget (same units as ``costs``).
    objective, alpha, risk_aversion
        See :func:`portfolio_objective`.

    Returns
    -------
    (indices, value)
        The chosen investments (sorted) and the objective value; the empty set
        (value 0) when nothing within budget has a positive objective.

    Examples
    --------
    >>> npv = np.array([[5.0, 4.0, 3.0]])
    >>> solve_knapsack(npv, np.array([10.0, 6.0, 5.0]), 11.0)
    ((1, 2), 7.0)
    """
    npv = np.asarray(npv_draws, dtype=np.float64)
    c = np.asarray(costs, dtype=np.float64)
    if npv.ndim != 2 or c.ndim != 1 or npv.shape[1] != c.shape[0]:
        raise ValueError("npv_draws must have shape (draws, investments) matching costs.")
    if objective not in ("mean", "cvar"):
        raise ValueError(f"objective must be 'mean' or 'cvar', got {objective!r}.")
    if not (0 < alpha <= 1 and risk_aversion >= 0):
        raise ValueError("alpha must be in (0, 1] and risk_aversion >= 0.")
    n_draws, j = npv.shape
    if j == 0:
        return (), 0.0
    mean = npv.mean(axis=0)
    budget_row = sparse.csr_array(
        np.concatenate([c, np.zeros(0 if objective == "mean" else 1 + n_draws)])[None, :]
    )
    constraints = [optimize.LinearConstraint(budget_row, -np.inf, budget * (1 + 1e-12))]
    if objective == "mean":
        cost_vec = -mean
        integrality = np.ones(j)
        bounds = optimize.Bounds(np.zeros(j), np.ones(j))
    else:
        # variables: y (J binary), t (free), u (S >= 0); u_s >= -npv_s.y - t
        k = risk_aversion
        cost_vec = np.concatenate([-mean, [k], np.full(n_draws, k / (alpha * n_draws))])
        integrality = np.concatenate([np.ones(j), np.zeros(1 + n_draws)])
        bounds = optimize.Bounds(
            np.concatenate([np.zeros(j), [-np.inf], np.zeros(n_draws)]),
            np.concatenate([np.ones(j), [np.inf], np.full(n_draws, np.inf)]),
        )
        rows = sparse.hstack(
            [
                sparse.csr_array(npv),
                sparse.csr_array(np.ones((n_draws, 1))),
                sparse.identity(n_draws, format="csr"),
            ]
        ).tocsr()
        constraints.append(optimize.LinearConstraint(rows, 0.0, np.inf))
    res = optimize.milp(cost_vec, integrality=integrality, bounds=bounds, constraints=constraints)
    if res.status != 0 or res.x is None:  # pragma: no cover - the empty set is always feasible
        raise RuntimeError(f"portfolio optimisation failed: {res.message}")
    chosen = tuple(int(i) for i in np.flatnonzero(res.x[:j] > 0.5))
    if not chosen:
        return (), 0.0
    value = portfolio_objective(
        npv[:, list(chosen)].sum(axis=1),
        objective=objective,
        alpha=alpha,
        risk_aversion=risk_aversion,
    )
    if value <= 0:
        return (), 0.0
    return chosen, value


@dataclass
class Portfolio:
    """Result of :func:`select_portfolio`.

    Attributes
    ----------
    chosen : list of str
        Investments to fund.
    budget : float
    cost_pv : float
        Present value of the chosen investments' costs.
    objective_value : float
        The (additive) objective of the chosen set.
    joint_npv : ndarray (S,)
        NPV of the chosen set evaluated jointly, per draw.
    additive_npv : ndarray (S,)
        Sum of the chosen investments' separate NPVs, per draw (for comparison).
    marginal_value : float
        Gain of the objective per ``budget_step`` more budget.
    budget_step : float
    eligible : tuple of str
        Recommendations the budget could fund (default ``("fund",)``).
    not_funded : dict
        ``{investment: why it is not in the chosen set}`` for every other investment.
    """

    chosen: list[str]
    budget: float
    cost_pv: float
    objective_value: float
    joint_npv: np.ndarray
    additive_npv: np.ndarray
    marginal_value: float
    budget_step: float
    objective: str
    eligible: tuple[str, ...] = (FUND,)
    not_funded: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """What the budget was allowed to fund, in words (a warning when beyond ``fund``)."""
        if self.eligible == (FUND,):
            return "investments recommended 'fund' only"
        if set(self.eligible) == set(RECOMMENDATIONS):
            return (
                "EVERY investment whatever its recommendation, including untested ones "
                "(eligible='all'): not a funding decision on evidence"
            )
        return (
            f"investments recommended {' or '.join(repr(e) for e in self.eligible)}: "
            + (
                "includes untested investments, not a funding decision on evidence"
                if any(e != FUND for e in self.eligible)
                else ""
            )
        ).rstrip(": ")

    def summary(self) -> pd.Series:
        """Headline numbers of the chosen set."""
        lo, hi = np.quantile(self.joint_npv, [0.05, 0.95]) if len(self.joint_npv) else (0.0, 0.0)
        return pd.Series(
            {
                "chosen": ", ".join(self.chosen) if self.chosen else "(none)",
                "budget": self.budget,
                "cost_pv": self.cost_pv,
                "npv_mean": float(self.joint_npv.mean()) if len(self.joint_npv) else 0.0,
                "npv_p05": float(lo),
                "npv_p95": float(hi),
                "p_npv_positive": float((self.joint_npv > 0).mean())
                if len(self.joint_npv)
                else 0.0,
                "additive_npv_mean": float(self.additive_npv.mean())
                if len(self.additive_npv)
                else 0.0,
                "marginal_value_per_step": self.marginal_value,
                "budget_step": self.budget_step,
                "eligible": self.label,
                "not_funded": "; ".join(f"{n}: {why}" for n, why in self.not_funded.items()),
            },
            name="portfolio",
        )

    def __repr__(self) -> str:
        return (
            f"<Portfolio {self.chosen}: cost {self.cost_pv:,.0f} of {self.budget:,.0f}, "
            f"joint E[NPV] {float(self.joint_npv.mean()) if len(self.joint_npv) else 0:,.0f}>"
        )


def select_portfolio(
    result: RoiResult,
    budget: float,
    *,
    objective: str = "mean",
    alpha: float = 0.1,
    risk_aversion: float = 1.0,
    budget_step: float | None = None,
    eligible: str | Sequence[str] = (FUND,),
) -> Portfolio:
    """Best set of investments within a budget, valued jointly.

    Parameters
    ----------
    result : RoiResult
        From :func:`clv.roi.evaluate_investments`.
    budget : float
        Budget for the present value of costs.
    objective : {"mean", "cvar"}, default "mean"
        Expected NPV, or expected NPV minus ``risk_aversion`` × expected shortfall
        at level ``alpha``.
    budget_step : float, optional
        "One more unit of budget" (default 1 % of the budget).
    eligible : "all" or sequence of str, default ("fund",)
        Recommendations (:data:`clv.roi.decision.RECOMMENDATIONS`) the budget may
        fund. The default funds only investments whose tested effects pay back;
        adding ``"test first"`` funds roll-outs that rest on associations, and the
        portfolio's :attr:`~Portfolio.label` says so.

    Returns
    -------
    Portfolio
    """
    if not (np.isfinite(budget) and budget >= 0):
        raise ValueError(f"budget must be a finite number >= 0, got {budget!r}.")
    allowed = _eligible(eligible)
    names = list(result.investments)
    table = result.table().set_index("investment")
    recs = {n: str(table.loc[n, "recommendation"]) for n in names}
    reasons = {n: str(table.loc[n, "reason"]) for n in names}
    pool = [j for j, n in enumerate(names) if recs[n] in allowed]
    npv = np.column_stack([result.investments[n].npv for n in names])
    costs = np.array([result.investments[n].cost_pv.mean() for n in names])
    sub_npv, sub_costs = npv[:, pool], costs[pool]
    picked, value = solve_knapsack(
        sub_npv, sub_costs, budget, objective=objective, alpha=alpha, risk_aversion=risk_aversion
    )
    chosen = tuple(pool[i] for i in picked)
    step = 0.01 * budget if budget_step is None else float(budget_step)
    _, value_more = solve_knapsack(
        sub_npv,
        sub_costs,
        budget + step,
        objective=objective,
        alpha=alpha,
        risk_aversion=risk_aversion,
    )
    chosen_names = [names[i] for i in chosen]
    joint = joint_npv(result, chosen_names)
    additive = npv[:, list(chosen)].sum(axis=1) if chosen else np.zeros(len(npv))
    not_funded = {}
    for j, name in enumerate(names):
        if j in chosen:
            continue
        if recs[name] not in allowed:
            not_funded[name] = (
                f"recommended {recs[name]!r} ({_short(reasons[name])}); the budget funds "
                f"{' or '.join(repr(e) for e in allowed)} only"
            )
        elif npv[:, j].mean() <= 0:
            not_funded[name] = "expected NPV is not positive"
        elif costs[j] > budget:
            not_funded[name] = f"costs {costs[j]:,.0f}, more than the budget {budget:,.0f}"
        else:
            not_funded[name] = "a set of higher expected NPV uses the budget"
    return Portfolio(
        chosen_names,
        float(budget),
        float(costs[list(chosen)].sum()),
        value,
        joint,
        additive,
        value_more - value,
        step,
        objective,
        allowed,
        not_funded,
    )


def _short(text: str, limit: int = 90) -> str:
    """The first clause of a recommendation's reason, at most ``limit`` characters."""
    first = text.split(";", 1)[0].split(": ", 1)[-1].strip()
    return first if len(first) <= limit else first[: limit - 3].rstrip() + "..."


def _eligible(eligible: str | Sequence[str]) -> tuple[str, ...]:
    """The recommendations a budget may fund, checked."""
    if isinstance(eligible, str):
        items = list(RECOMMENDATIONS) if eligible == "all" else [eligible]
    else:
        items = list(eligible)
    bad = [e for e in items if e not in RECOMMENDATIONS]
    if bad or not items:
        raise ValueError(
            f"eligible must be 'all' or recommendations among {RECOMMENDATIONS}, got {eligible!r}."
        )
    return tuple(e for e in RECOMMENDATIONS if e in items)


def joint_npv(result: RoiResult, names: list[str]) -> np.ndarray:
    """NPV per draw of several investments applied together (shifts combined)."""
    engine = result.engine
    if not names:
        return np.zeros(engine.n_draws)
    invs = [result.investments[n].investment for n in names]
    units = [engine.unit(inv) for inv in invs]
    _, totals = engine.flows(units, full_only=True)
    cost = sum(result.investments[n].cost_pv for n in names)
    return totals[:, ALL] - np.asarray(cost, dtype=np.float64)
