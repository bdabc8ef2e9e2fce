"""A report finance reads first: one self-contained HTML file, plus the CSV tables.

The first screen is the decision: what to fund within the budget, the
expected NPV with its 90 % interval, one plain sentence per investment and the
three caveats that matter. Then the main table (fits an A4/Letter page), each
investment in detail (folded), the charts, and an assumptions page.

The HTML is rendered from Jinja2 templates (``clv/roi/templates``) with
autoescaping on, so names, segments, targets and columns from the user are
always text. It embeds its charts as PNG data URIs at print resolution and its
styles inline; a Content-Security-Policy forbids scripts and any network
access. Rendering needs ``jinja2`` and ``matplotlib`` (``pip install
clv[report]``).
"""

from __future__ import annotations

import base64
import datetime as _dt
import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clv.persistence import atomic_write, spreadsheet_safe
from clv.roi import _report_view as view
from clv.roi.decision import REVENUE_FUND_MARGIN
from clv.roi.finance import RoiResult
from clv.roi.spec import GRADES

__all__ = ["render_report", "write_report", "write_tables"]

_TEMPLATES = Path(__file__).with_name("templates")
_DPI = 200
#: Investments listed on the first screen (the rest: in the main table below it).
_FIRST_SCREEN_ITEMS = 6
#: Chart text close to the report's body text when the image is shown at its width.
_FIGURE_STYLE = {
    "font.size": 8.0,
    "axes.titlesize": 9.0,
    "axes.labelsize": 8.0,
    "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5,
    "legend.fontsize": 7.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
_LEVER_WORDS = {
    "acquisition": "new customers",
    "retention": "retention",
    "repeat_purchase": "repeat purchases",
    "spend": "spend per purchase",
    "service_cost": "service cost (fewer contacts)",
}
_RECOMMENDATION_KIND = {"fund": "fund", "test first": "test", "do not fund": "no"}
GLOSSARY = (
    ("Present value (PV)", "Money at future dates discounted to today at the discount rate."),
    (
        "Incremental CLV",
        "Present value of the extra contribution margin the investment brings "
        "over the horizon (existing customers, new customers, net of the cost to serve when "
        "modelled).",
    ),
    ("NPV", "Incremental CLV minus the present value of the cost."),
    ("ROI", "NPV divided by the present value of the cost."),
    (
        "90 % interval",
        "5th to 95th percentile over the draws of the models' parameters and of "
        "the customers' future behaviour.",
    ),
    (
        "Chance of a positive return",
        "Share of draws in which the NPV is above zero (shown as "
        "> 99 % or < 1 % at the ends: a finite number of draws cannot show certainty).",
    ),
    ("Expected loss", "Average shortfall in the draws where the NPV is negative."),
    (
        "Payback",
        "First period from which the cumulative discounted net cash flow is "
        "non-negative (median draw).",
    ),
    (
        "Break-even share",
        "Fraction of the estimated effect at which the expected NPV is zero; "
        "below 100 % leaves a margin of safety.",
    ),
    (
        "Levers",
        "Shapley split of the incremental CLV between new customers, retention, repeat "
        "purchases, spend and service cost; the parts add up to the total.",
    ),
)


def write_tables(
    result: RoiResult,
    directory: str | os.PathLike[str],
    *,
    sensitivity: pd.DataFrame | None = None,
    portfolio: Any = None,
    prefix: str = "roi",
) -> list[Path]:
    """Write the finance table and its companions as CSV files (atomically).

    Files: ``<prefix>.csv`` (finance table), ``<prefix>_cash_flows.csv`` (per investment
    and period), and when given ``<prefix>_sensitivity.csv``, ``<prefix>_portfolio.csv``.
    """
    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []

    def put(name: str, frame: pd.DataFrame, index: bool) -> None:
        path = out_dir / name
        with atomic_write(path, newline="") as fh:
            spreadsheet_safe(frame).to_csv(fh, index=index, float_format="%.6g")
        written.append(path)

    put(f"{prefix}.csv", result.table(), True)
    flows = pd.concat(
        {n: result.cash_flow_table(n) for n in result.investments}, names=["investment"]
    ).reset_index()
    put(f"{prefix}_cash_flows.csv", flows, False)
    if sensitivity is not None:
        put(f"{prefix}_sensitivity.csv", sensitivity, False)
    if portfolio is not None:
        put(f"{prefix}_portfolio.csv", portfolio.summary().to_frame().T, False)
    return written


def _figure(draw: Any, caption: str, size: tuple[float, float]) -> dict[str, str]:
    """A chart as a PNG data URI at print resolution."""
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_FIGURE_STYLE):
        fig = Figure(figsize=size, dpi=_DPI, layout="constrained")
        draw(fig.add_subplot())
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=_DPI, metadata={"Software": None})
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return {"src": f"data:image/png;base64,{data}", "alt": caption, "caption": caption}


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _decision(table: pd.DataFrame, portfolio: Any, units: view.Units) -> dict[str, Any]:
    if portfolio is not None:
        s = portfolio.summary()
        names = dict(zip(table["investment"], table["_display"], strict=True))
        return {
            "budget_given": True,
            "funded": [names.get(n, n) for n in portfolio.chosen],
            "eligible": getattr(portfolio, "label", ""),
            "widened": tuple(getattr(portfolio, "eligible", ("fund",))) != ("fund",),
            "not_funded": [
                {"name": names.get(n, n), "why": why}
                for n, why in getattr(portfolio, "not_funded", {}).items()
            ],
            "cost": units.money(s["cost_pv"]),
            "budget": units.money(s["budget"]),
            "npv": units.money(s["npv_mean"]),
            "npv_lo": units.money(s["npv_p05"]),
            "npv_hi": units.money(s["npv_p95"]),
            "p_positive": view.format_probability(s["p_npv_positive"]),
        }
    top = table.iloc[0]
    return {
        "budget_given": False,
        "funded": [],
        "npv_of": f"the top-ranked, {top['_display']}",
        "npv": units.money(top["npv_mean"]),
        "npv_lo": units.money(top["npv_p05"]),
        "npv_hi": units.money(top["npv_p95"]),
        "p_positive": view.format_probability(top["p_roi_positive"]),
    }


def _recommendations(
    table: pd.DataFrame, portfolio: Any, units: view.Units
) -> list[dict[str, Any]]:
    chosen = set(portfolio.chosen) if portfolio is not None else None
    out: list[dict[str, Any]] = []
    for _, row in table.iterrows():
        rec = row.get("recommendation")
        has_rec = isinstance(rec, str) and bool(rec)
        funded = None if chosen is None else row["investment"] in chosen
        if has_rec:
            kind = _RECOMMENDATION_KIND.get(str(rec), "")
            badge = rec
        elif funded is not None:
            kind, badge = ("fund", "funded") if funded else ("", "not funded")
        else:
            kind, badge = "", f"#{len(out) + 1}"
        out.append(
            {
                "kind": kind,
                "badge": badge,
                "name": row["_display"],
                "also_funded": bool(has_rec and funded),
                "sentence": view.investment_sentence(row, units),
            }
        )
    return out


def _main_table(
    table: pd.DataFrame, portfolio: Any, units: view.Units, n_draws: int
) -> dict[str, Any]:
    has_rec = "recommendation" in table.columns
    revenue = "value_basis" in table.columns and bool((table["value_basis"] == "revenue").any())
    headers = [("#", ""), ("Investment", "text")]
    if has_rec:
        headers.append(("Recommendation", "text"))
    headers += [
        (f"Cost ({units.money_name})", ""),
        ("Expected NPV" + (" (revenue)" if revenue else ""), ""),
        ("NPV 90 % interval", ""),
        ("ROI", ""),
        ("Chance NPV > 0", ""),
        ("Payback", ""),
        ("Evidence", "text"),
    ]
    chosen = set(portfolio.chosen) if portfolio is not None else set()
    rows = []
    for rank, row in table.iterrows():
        cells = [(str(rank), "num"), (row["_display"], "text")]
        if has_rec:
            rec = row.get("recommendation")
            cells.append((rec if isinstance(rec, str) else "", "text"))
        neg = "num neg" if _finite(row["npv_mean"]) and row["npv_mean"] < 0 else "num"
        grade = str(row["evidence_grade"])
        cells += [
            (units.money(row["cost_pv"]), "num"),
            (units.money(row["npv_mean"]), neg),
            (f"{units.money(row['npv_p05'])} to {units.money(row['npv_p95'])}", "num"),
            (view.format_pct(row["roi_mean"]), neg),
            (view.format_probability(row["p_roi_positive"], n_draws), "num"),
            (units.periods(row["payback_median"]), "num"),
            (f"{grade} ({view.GRADE_WORDS.get(grade, '?')})", "text"),
        ]
        rows.append(
            {
                "funded": row["investment"] in chosen,
                "cells": [{"text": t, "cls": c} for t, c in cells],
            }
        )
    note = (
        "Ranked by expected NPV. Money in present values of contribution margin "
        f"({units.money_name}); payback in {view._plural(units.period)}. "
        + ("Funded investments are marked at the left. " if chosen else "")
        + "Details of each investment below."
    )
    return {"headers": [{"text": t, "cls": c} for t, c in headers], "rows": rows, "note": note}


def _investment_facts(
    row: pd.Series, draws: Any, units: view.Units, grade_columns: Sequence[str]
) -> list[tuple[str, str]]:
    inv = draws.investment
    facts = []
    if inv.description:
        facts.append(("What it is", inv.description))
    facts.append(("What it changes", "; ".join(view.shift_text(s) for s in inv.shifts)))
    facts.append(
        (
            "Who",
            view.target_text(inv.target, inv.target_label)
            + f" ({int(row['customers_affected']):,} customers affected)",
        )
    )
    timing = []
    if inv.ramp_periods:
        timing.append(f"builds up over {units.periods(inv.ramp_periods)}")
    timing.append(
        f"lasts {units.periods(inv.duration)}" if inv.duration else "lasts the whole horizon"
    )
    facts.append(("Timing", ", ".join(timing)))
    schedule = inv.cost_schedule
    cost = ", ".join(
        f"{units.money(a)} {'now' if p == 0 else f'in {units.period} {p}'}"
        for p, a in sorted(schedule.items())
    )
    if inv.cost_sd:
        cost += f" (± {100 * inv.cost_sd:.0f} %)"
    facts.append(("Cost", f"{cost}; present value {units.money(row['cost_pv'])}"))
    facts.append(
        (
            "Incremental CLV",
            f"{units.money(row['incremental_clv_mean'])} (90 % "
            f"interval {units.money(row['incremental_clv_p05'])} to "
            f"{units.money(row['incremental_clv_p95'])})",
        )
    )
    levers = [
        f"{_LEVER_WORDS[c[5:]]} {units.money(row[c])}"
        for c in row.index
        if c.startswith("gain_")
        and c[5:] in _LEVER_WORDS
        and _finite(row[c])
        and abs(float(row[c])) >= 0.5
    ]
    facts.append(("Where the value comes from", "; ".join(levers) or "no change"))
    facts.append(
        (
            "ROI",
            f"{view.format_pct(row['roi_mean'])} (90 % interval "
            f"{view.format_pct(row['roi_p05'])} to {view.format_pct(row['roi_p95'])})",
        )
    )
    facts.append(("Expected loss", units.money(row["expected_loss"])))
    be = row.get("breakeven_effect")
    if be is not None:
        if _finite(be):
            text = f"{100 * float(be):.0f} % of the estimated effect"
        elif isinstance(be, float) and math.isinf(be):
            text = "more than 64 times the estimated effect"
        else:
            text = "n/a (the effect lowers value)"
        facts.append(("Break-even share", text))
    facts.append(("Chance of the highest NPV", view.format_probability(row["p_rank_1"])))
    facts.append(
        (
            "Payback",
            f"{units.periods(row['payback_median'])} (median); "
            f"{view.format_probability(row['p_payback_within_horizon'])} chance within "
            "the horizon",
        )
    )
    if grade_columns:
        parts = [
            f"grade {c.rsplit('_', 1)[-1]} {units.money(row[c])}"
            for c in grade_columns
            if _finite(row[c])
        ]
        if parts:
            facts.append(("Expected NPV by evidence grade", "; ".join(parts)))
    if isinstance(row.get("reason"), str) and row.get("reason"):
        facts.append(("Why this recommendation", str(row["reason"])))
    facts.append(("Evidence", inv.evidence.description))
    svc = row.get("service_cost_grade")
    if isinstance(svc, str) and svc:
        facts.append(
            (
                "Cost-to-serve effect",
                f"grade {svc} ({view.GRADE_WORDS.get(svc, '?')}): fewer or more service contacts",
            )
        )
    return facts


def _assumptions(
    result: RoiResult,
    units: view.Units,
    *,
    data_period: str | None,
    model_notes: Sequence[str],
    settings: Mapping[str, str] | None,
) -> list[tuple[str, str]]:
    a = result.assumptions()
    out = [
        ("Horizon", f"{units.periods(a['horizon_periods'])} of future value"),
        ("Discount rate", units.rate_text(a["discount_rate_per_period"])),
        ("Contribution margin", f"{100 * a['margin']:.0f} % of spend"),
    ]
    if data_period:
        out.append(("Data period", data_period))
    out.append(("Customers scored", f"{a['customers_scored']:,}"))
    out.append(
        (
            "Models",
            f"{view.model_name(a['transaction_model'])} (purchases and "
            f"retention), {view.model_name(a['spend_model'])} (spend)",
        )
    )
    out.append(
        (
            "Uncertainty",
            f"{a['parameter_draws']} draws of the model parameters and the "
            f"customers' futures (seed {a['random_state']}), shared by every investment so "
            "that differences and ranks are not simulation noise",
        )
    )
    sc = a.get("service_cost")
    if sc:
        cpc = sc["cost_per_contact"]
        cost = (
            ", ".join(f"{k} {units.money(v)}" for k, v in cpc.items())
            if isinstance(cpc, Mapping)
            else units.money(cpc)
        )
        ratios = "; ".join(
            f"{view.column_label(k[8:-1])} ×{v:.2f} per unit" for k, v in sc["rate_ratios"].items()
        )
        out.append(
            (
                "Cost to serve",
                f"cost per contact {cost}"
                + (
                    f" (by {view.column_label(sc['channel_column'])})"
                    if sc.get("channel_column")
                    else ""
                )
                + f"; repeat contacts modelled on {sc['customers_modelled']:,} customers"
                + (f"; contact rate {ratios}" if ratios else "")
                + " (association, grade C)",
            )
        )
    else:
        out.append(("Cost to serve", "not modelled: values are before service costs"))
    for note in model_notes:
        out.append(("Model fit", note))
    out.append(
        (
            "What changes",
            "Only the future: each customer's history stays as it "
            "happened; an investment multiplies future purchase and dropout rates, spend "
            "and contact rates.",
        )
    )
    for k, v in (settings or {}).items():
        out.append((str(k), str(v)))
    return out


def render_report(
    result: RoiResult,
    *,
    title: str = "Experience investments: what to fund",
    sensitivity: pd.DataFrame | None = None,
    portfolio: Any = None,
    currency: str = "",
    notes: Sequence[str] | None = None,
    model_notes: Sequence[str] | None = None,
    table: pd.DataFrame | None = None,
    data_period: str | None = None,
    settings: Mapping[str, str] | None = None,
    caveats: Sequence[str] | None = None,
) -> str:
    """The report as one HTML string (see :func:`write_report` for the parameters)."""
    try:
        import jinja2
    except ImportError:  # pragma: no cover - jinja2 ships with the report extra
        raise ImportError("the HTML report needs jinja2: pip install 'clv[report]'") from None
    from markupsafe import Markup

    from clv._version import __version__
    from clv.roi import plots

    frame = (result.table() if table is None else table).copy()
    if frame.empty:
        raise ValueError("the finance table is empty: nothing to report.")
    a = result.assumptions()
    units = view.period_units(a, currency)
    n_draws = int(a["parameter_draws"])
    display = {n: view.investment_name(d.investment) for n, d in result.investments.items()}
    frame["_display"] = [display.get(n, str(n)) for n in frame["investment"]]
    grade_columns = [c for c in frame.columns if c.startswith("npv_grade_")]
    model_notes = list(model_notes or [])
    investments = []
    for k, (_, row) in enumerate(frame.iterrows()):
        draws = result.investments[row["investment"]]
        tornado = None
        if sensitivity is not None and (sensitivity["investment"] == row["investment"]).any():
            rows = sensitivity[sensitivity["investment"] == row["investment"]]
            labels = [
                view.tornado_label(f, lo, hi, units)
                for f, lo, hi in zip(rows["factor"], rows["low"], rows["high"], strict=True)
            ]
            tornado = _figure(
                lambda ax, n=row["investment"], lab=labels: plots.plot_tornado(
                    sensitivity,
                    n,
                    ax=ax,
                    labels=lab,
                    title=f"Sensitivity of the expected NPV ({units.money_name})",
                ),
                f"Expected NPV when one setting moves to its low or high value: {row['_display']}",
                (7.0, 2.6),
            )
        investments.append(
            {
                "anchor": f"investment-{k + 1}",
                "name": row["_display"],
                "summary": f"expected NPV {units.money(row['npv_mean'])}, ROI "
                f"{view.format_pct(row['roi_mean'])}",
                "facts": _investment_facts(row, draws, units, grade_columns),
                "tornado": tornado,
            }
        )
    n = len(frame)
    charts = [
        _figure(
            lambda ax: plots.plot_roi_intervals(result, ax=ax),
            "ROI per investment: mean and 90 % interval; colour = evidence grade",
            (5.6, 1.2 + 0.5 * n),
        ),
        _figure(
            lambda ax: plots.plot_lever_split(result, ax=ax),
            f"Expected incremental CLV by lever ({units.money_name}), cost marked",
            (5.6, 1.2 + 0.5 * n),
        ),
        _figure(
            lambda ax: plots.plot_payback(result, ax=ax),
            f"Cumulative discounted net cash flow ({units.money_name}): median and 90 % band",
            (5.6, 3.2),
        ),
        _figure(
            lambda ax: plots.plot_npv_distribution(result, ax=ax),
            f"NPV over the draws ({units.money_name})",
            (5.6, 3.2),
        ),
    ]
    _graded = dict(zip(frame["investment"], frame["evidence_grade"], strict=False))
    evidence = [
        {
            "name": display[name],
            "grade": _graded.get(name, d.investment.grade),
            "source": d.investment.evidence.description
            + _scope_note(frame, name, d.investment.evidence.scoped),
            "service": (f"grade {d.service_cost_grade}" if d.service_cost_grade else "none"),
        }
        for name, d in result.investments.items()
    ]
    horizon_text = units.periods(a["horizon_periods"])
    period_text = units.rate_text(a["discount_rate_per_period"])
    revenue = not getattr(result, "margin_given", True)
    subtitle = (
        f"Generated {_dt.date.today().isoformat()} by clv. Money in "
        f"{units.money_name}: present values of "
        + ("REVENUE (no margin given)" if revenue else "contribution margin")
        + f" over {horizon_text}, discounted at {period_text}"
        + ("" if revenue else f"; margin {100 * a['margin']:.0f} % of spend")
        + ("; net of the cost to serve" if a.get("service_cost") else "")
        + "."
    )
    banner = (
        "Values are REVENUE, not profit: no contribution margin was given, so every NPV and "
        "ROI here overstates the return (ROI on revenue is not ROI). Nothing is recommended "
        f"'fund' unless its tested effects pay back at a {REVENUE_FUND_MARGIN:.0%} margin. "
        "Re-run with the margin (--margin / margin=)."
        if revenue
        else ""
    )
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    context = {
        "version": __version__,
        "title": title,
        "subtitle": subtitle,
        "banner": banner,
        "css": Markup((_TEMPLATES / "report.css").read_text(encoding="utf-8")),
        "decision": _decision(frame, portfolio, units),
        "recs": _recommendations(frame, portfolio, units)[:_FIRST_SCREEN_ITEMS],
        "more_recs": max(0, len(frame) - _FIRST_SCREEN_ITEMS),
        "caveats": list(caveats)
        if caveats is not None
        else view.caveats(
            frame.assign(investment=frame["_display"]),
            portfolio=_DisplayPortfolio(portfolio, display) if portfolio is not None else None,
            notes=model_notes,
            units=units,
            service_cost=a.get("service_cost"),
        ),
        "money_name": units.money_name,
        "horizon_text": horizon_text,
        "main": _main_table(frame, portfolio, units, n_draws),
        "investments": investments,
        "charts": charts,
        "assumptions": _assumptions(
            result, units, data_period=data_period, model_notes=model_notes, settings=settings
        ),
        "evidence": evidence,
        "grades": list(GRADES.items()),
        "notes": list(notes or []),
        "glossary": GLOSSARY,
    }
    return env.get_template("report.html.j2").render(context)


class _DisplayPortfolio:
    """A portfolio whose chosen names are the display names (for the caveats)."""

    def __init__(self, portfolio: Any, display: Mapping[str, str]) -> None:
        self.chosen = [display.get(n, n) for n in portfolio.chosen]
        self.joint_npv = np.asarray(portfolio.joint_npv)
        self.additive_npv = np.asarray(portfolio.additive_npv)


def write_report(
    result: RoiResult,
    path: str | os.PathLike[str],
    *,
    title: str = "Experience investments: what to fund",
    sensitivity: pd.DataFrame | None = None,
    portfolio: Any = None,
    currency: str = "",
    notes: Sequence[str] | None = None,
    model_notes: Sequence[str] | None = None,
    table: pd.DataFrame | None = None,
    data_period: str | None = None,
    settings: Mapping[str, str] | None = None,
    caveats: Sequence[str] | None = None,
) -> Path:
    """Write the self-contained HTML report (atomically).

    Parameters
    ----------
    result : RoiResult
        From :func:`clv.roi.evaluate_investments`.
    path : path-like
        The ``.html`` file (its directory is created).
    sensitivity : DataFrame, optional
        From :func:`clv.roi.sensitivity` (a tornado chart per investment).
    portfolio : Portfolio, optional
        From :func:`clv.roi.select_portfolio` with the user's budget. Without it the
        report says plainly that no budget was given and chooses nothing.
    currency : str, optional
        ISO code (``"EUR"``, ``"USD"``) or name; default "currency units".
    notes, model_notes : sequence of str, optional
        Extra paragraphs; ``model_notes`` (model fit quality) go on the assumptions page.
    table : DataFrame, optional
        The finance table to show (default ``result.table()``), e.g. with the
        columns ``recommendation`` / ``reason`` and ``npv_grade_<A|B|C>`` added by
        other steps; they are shown when present.
    data_period : str, optional
        The data behind the models, e.g. "purchases and CX events to 2024-12-29".
    settings : mapping, optional
        Extra rows for the assumptions page.
    caveats : sequence of str, optional
        The caveats of the first screen (default: chosen from the results).

    Returns
    -------
    Path
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    doc = render_report(
        result,
        title=title,
        sensitivity=sensitivity,
        portfolio=portfolio,
        currency=currency,
        notes=notes,
        model_notes=model_notes,
        table=table,
        data_period=data_period,
        settings=settings,
        caveats=caveats,
    )
    with atomic_write(target) as fh:
        fh.write(doc)
    return target


def _scope_note(frame: pd.DataFrame, name: str, scoped: bool) -> str:
    """How much of an investment's value comes from customers inside its evidence's tested
    population ("" for unscoped evidence)."""
    if not scoped or "share_value_in_tested_scope" not in frame.columns:
        return ""
    row = frame[frame["investment"] == name]
    if row.empty:
        return ""
    r = row.iloc[0]
    share = float(r["share_value_in_tested_scope"])
    share_txt = f"{share:.0%}" if share == share else "none"
    return (
        f". Inside the tested population: {int(r['customers_in_tested_scope']):,} of "
        f"{int(r['customers_affected']):,} customers, {share_txt} of the value; the rest is "
        "valued as an association (grade C)"
    )
