"""Fund, test first or do not fund: a decision per investment from evidence, robustness and NPV.

Rules (see docs/cx.md, "Recommendations"):

* **fund** only on tested effects: the NPV that counts experiment and
  quasi-experiment coefficients alone (grades A, B; fitted associations set to
  0) is positive in expectation with P(NPV > 0) >= 0.8. Tested effects count only
  for the customers inside the evidence's tested population
  (:attr:`clv.roi.Evidence.population`, e.g. new customers for an onboarding
  test); when no valued customer is inside it, the investment is judged as
  observational (C). Observational evidence
  (grade C) or assumptions (D) never earn ``fund``: in the trap worlds of
  :mod:`clv.synth.traps` no statistic computable from observational data
  (E-value, break-even share, holdout fit) separated spurious associations
  from true effects.
* **do not fund** when the investment loses money even if its whole
  association were causal, when a diagnostic shows the association is not
  causal (purchase-triggered or exit contacts, a placebo failure), or when
  it pays back only under a large
  causal share (P(NPV > 0) < 0.25 under the causal-share prior) and a test
  is worth little (expected value of perfect information < 10 % of the cost).
* **test first** otherwise, with the randomised test that would settle it
  (cautions such as survey selection or a lever moving against the intended
  direction are named in the reason):
  the lever to measure, the customers per arm to detect the break-even effect
  (80 % power, 5 % two-sided) over ``test_periods``, and the expected value of
  perfect information.

Margin: when no contribution margin was given (``value_basis`` "revenue": margin
1, every value is revenue), the tested NPV is recomputed at a margin of
:data:`REVENUE_FUND_MARGIN` (10 %; the gains scale with the margin, the cost does
not) and ``fund`` needs that to pass the test above; ``breakeven_margin`` is the
margin at which the tested effects alone pay back. Give the margin to decide on
profit.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from clv.roi.confounding import evalue, expected_value_of_information, samples_per_arm

if TYPE_CHECKING:
    from clv.roi.evaluate import InvestmentDraws, RoiResult

__all__ = [
    "FUND",
    "NO_FUND",
    "RECOMMENDATIONS",
    "REVENUE_FUND_MARGIN",
    "TEST_FIRST",
    "TRAP_FLAGS",
    "columns",
]

FUND, TEST_FIRST, NO_FUND = "fund", "test first", "do not fund"
RECOMMENDATIONS = (FUND, TEST_FIRST, NO_FUND)
#: Diagnostic flags that mark an association as not causal (see clv.cx.diagnostics).
TRAP_FLAGS = ("purchase-triggered", "exit-signal", "placebo")
_P_FUND = 0.8
#: Without a given contribution margin the values are revenue: ``fund`` then needs the tested
#: effects to pay back at this (low, retail-like) margin.
REVENUE_FUND_MARGIN = 0.1
_P_TEST = 0.25
_VOI_SHARE = 0.1


def _money(v: float) -> str:
    return f"{v:,.0f}"


def decision_grade(d: InvestmentDraws) -> str:
    """The grade the recommendation rests on: the evidence's, or C when no customer the
    investment moves is inside the evidence's tested population (the tested effect is then
    only extrapolated, and is valued as a fitted association)."""
    grade = d.investment.grade
    if grade in ("A", "B") and d.tested_scope is not None and d.tested_scope[0] == 0:
        return "C"
    return grade


def columns(d: InvestmentDraws, result: RoiResult, row: dict[str, Any]) -> dict[str, Any]:
    """Confounding-aware columns of one finance-table row, and the recommendation."""
    from clv.roi.engine import LEVERS

    inv = d.investment
    grade = decision_grade(d)
    causal = d.npv_if_causal
    evidenced = d.npv_evidenced if d.npv_evidenced is not None else -d.cost_pv
    share = result.causal_share
    plan = d.test_plan
    gains = np.array([row.get(f"gain_{lever}", 0.0) for lever in LEVERS])
    flags = sorted({f for s in inv.shifts for f in result.column_flags.get(s.column, [])})
    total_abs = float(np.abs(gains).sum())
    against = [
        LEVERS[j] for j in range(len(LEVERS)) if total_abs > 0 and gains[j] < -0.2 * total_abs
    ]
    if against and grade in ("C", "D"):
        msg = (
            f"direction: the fitted model says {inv.name!r} LOWERS "
            f"{' and '.join(a.replace('_', ' ') for a in against)} (the association runs "
            "against the intended direction; suspect reverse causality)"
        )
        flags.append(msg)
    b = float(d.breakeven_effect)
    rr = plan.get("value_ratio", float("nan"))
    if grade in ("A", "B"):
        e_zero = float("nan")
    elif not math.isfinite(b) or b >= 1.0 or not (rr > 1.0):
        e_zero = 1.0
    else:
        e_zero = float(evalue(rr ** (1.0 - max(b, 0.0))))
    voi = expected_value_of_information(d.npv)
    gain_ev = evidenced + d.cost_pv  # tested incremental value per draw
    cost_mean = float(d.cost_pv.mean())
    tested_gain = float(gain_ev.mean())
    margin = float(result.margin)
    if not result.margin_given:
        # revenue: decide on the tested effects at a low margin (gains scale, costs do not)
        evidenced = (REVENUE_FUND_MARGIN / margin) * gain_ev - d.cost_pv
    out: dict[str, Any] = {
        "incremental_clv_mean_if_causal": float(d.incremental_clv_if_causal.mean())
        if d.incremental_clv_if_causal is not None
        else row["incremental_clv_mean"],
        "npv_mean_if_causal": float(causal.mean()),
        "p_roi_positive_if_causal": float((causal > 0).mean()),
        "npv_evidenced_mean": float((gain_ev - d.cost_pv).mean()),
        "p_npv_evidenced_positive": float((gain_ev - d.cost_pv > 0).mean()),
        "breakeven_margin": margin * cost_mean / tested_gain if tested_gain > 0 else float("nan"),
        "_fund_npv_mean": float(evidenced.mean()),
        "_fund_p": float((evidenced > 0).mean()),
        "_revenue": not result.margin_given,
        "causal_share_prior": share.describe() if share is not None else "fully causal (share 1)",
        "evalue_to_zero_npv": e_zero,
        "value_of_information": voi,
        "diagnostics": "; ".join(flags),
    }
    rec, reason = _recommend(d, row, out, flags, b, e_zero, result.benchmark)
    for private in ("_fund_npv_mean", "_fund_p", "_revenue"):
        out.pop(private)
    if grade != inv.grade:  # tested, but on other customers than those valued
        ev = inv.evidence
        pops = [p for n in ev.coefficients if (p := ev.coefficient_population(n))]
        reason = (
            f"the grade-{inv.grade} evidence was measured only on customers with "
            f"{pops[0] if pops else 'another population'}, none of the "
            f"{d.tested_scope[1] if d.tested_scope else 0:,} customers valued here, so it is "
            f"extrapolated and counts as an association (C): {reason}"
        )
    n_arm = float("nan")
    if rec == TEST_FIRST and plan.get("lever"):
        effect = max(b, 0.05) * abs(plan.get("relative_effect", float("nan")))
        n_arm = samples_per_arm(effect, plan.get("cv2", float("nan")))
        n_arm = float(math.ceil(n_arm)) if math.isfinite(n_arm) else float("inf")
    out.update(
        {
            "recommendation": rec,
            "reason": reason,
            "test_lever": plan.get("lever") if rec == TEST_FIRST else None,
            "test_customers_per_arm": n_arm,
            "test_periods": plan.get("test_periods") if rec == TEST_FIRST else None,
        }
    )
    return out


def _recommend(
    d: InvestmentDraws,
    row: dict[str, Any],
    out: dict[str, Any],
    flags: list[str],
    b: float,
    e_zero: float,
    benchmark: tuple[str, float] | None,
) -> tuple[str, str]:
    grade = decision_grade(d)
    npv_mean = float(row["npv_mean"])
    p_prior = row["p_roi_positive"]
    scope = d.tested_scope
    outside = scope is not None and scope[0] < scope[1]
    scope_txt = (
        f" (on the {scope[0]:,} of {scope[1]:,} customers inside the tested population)"
        if outside and scope is not None
        else ""
    )
    revenue = bool(out["_revenue"])
    if grade in ("A", "B"):
        ev_mean, ev_p = out["_fund_npv_mean"], out["_fund_p"]
        at = f" at a {REVENUE_FUND_MARGIN:.0%} margin (no margin given)" if revenue else ""
        if ev_mean > 0 and ev_p >= _P_FUND:
            return FUND, (
                f"grade {grade} evidence alone pays back{scope_txt}{at}: NPV {_money(ev_mean)}, "
                f"P(NPV>0) {ev_p:.0%} from tested effects"
            )
        if revenue and out["npv_evidenced_mean"] > 0 and out["p_npv_evidenced_positive"] >= _P_FUND:
            return TEST_FIRST, (
                f"tested effects pay back on REVENUE but not at a {REVENUE_FUND_MARGIN:.0%} "
                "margin: it pays back at margins above "
                f"{out['breakeven_margin']:.0%}; give the contribution margin to decide"
            )
        if npv_mean > 0:
            return TEST_FIRST, (
                f"tested effects alone give P(NPV>0) {ev_p:.0%}{scope_txt}; the rest rests "
                "on associations: test "
                + ("the effect outside the tested population" if outside else "the untested shifts")
            )
        return NO_FUND, f"does not pay back on its tested effects (NPV {_money(ev_mean)})"
    causal_mean = out["npv_mean_if_causal"]
    if causal_mean <= 0:
        return NO_FUND, (
            "loses money even if the whole association were causal (NPV if causal "
            f"{_money(causal_mean)})"
        )
    traps = [f for f in flags if f.split(":", 1)[0] in TRAP_FLAGS]
    if traps:
        return NO_FUND, (
            "the association looks non-causal ("
            + traps[0].split(":", 1)[0]
            + "; see diagnostics): value it only with an experiment"
        )
    bench = ""
    if benchmark is not None and math.isfinite(e_zero):
        name, rr = benchmark
        bench = (
            f"; a confounder as strong as the control {name!r} (rate ratio {rr:.2f}) "
            + ("could" if e_zero <= rr else "could not alone")
            + " erase it"
        )
    share_txt = f"{b:.0%}" if math.isfinite(b) else "all"
    other = sorted({f.split(":", 1)[0] for f in flags} - set(TRAP_FLAGS))
    if other:
        bench += f"; caution: {', '.join(other)} (see diagnostics)"
    voi = float(out["value_of_information"])
    cost = float(row["cost_pv"])
    if p_prior < _P_TEST and voi >= _VOI_SHARE * cost:
        return TEST_FIRST, (
            f"observational only and uncertain: pays back if >= {share_txt} of "
            f"the association is causal, and a test is worth up to "
            f"{_money(voi)} ({voi / cost:.0%} of the cost){bench}"
        )
    if p_prior >= _P_TEST:
        return TEST_FIRST, (
            f"observational only: pays back if >= {share_txt} of the association "
            f"is causal (E-value to zero NPV {e_zero:.2f}{bench}); "
            f"P(ROI>0) {p_prior:.0%} and NPV {_money(npv_mean)} under the "
            "causal-share prior"
        )
    return NO_FUND, (
        f"pays back only if >= {share_txt} of the association is causal: "
        f"P(ROI>0) {p_prior:.0%} under the causal-share prior{bench}"
    )
