"""A report finance can read without Python: one self-contained HTML file plus CSV tables.

The HTML embeds its figures as PNG data URIs and its styles inline: no scripts,
no external assets, no network. Every number states its unit, the valuation
settings are written out, and every investment carries its evidence grade.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clv.persistence import atomic_write
from clv.roi.finance import RoiResult
from clv.roi.spec import GRADES

__all__ = ["write_report", "write_tables"]

_COLUMNS = {
    "investment": "Investment",
    "evidence_grade": "Evidence grade",
    "customers_affected": "Customers affected",
    "cost_pv": "Cost (PV)",
    "incremental_clv_mean": "Incremental CLV (PV, mean)",
    "incremental_clv_p05": "Incremental CLV 5 %",
    "incremental_clv_p95": "Incremental CLV 95 %",
    "npv_mean": "NPV (mean)",
    "roi_mean": "ROI (mean)",
    "roi_p05": "ROI 5 %",
    "roi_p95": "ROI 95 %",
    "p_roi_positive": "P(ROI > 0)",
    "expected_loss": "Expected loss",
    "payback_median": "Payback (median, periods)",
    "breakeven_effect": "Break-even share of effect",
}
_LEVER_COLUMNS = {
    "investment": "Investment",
    "incremental_clv_mean": "Incremental CLV (PV, mean)",
    "gain_acquisition": "From acquisition",
    "gain_retention": "From retention",
    "gain_repeat_purchase": "From repeat purchase",
    "gain_spend": "From spend",
    "p_rank_1": "P(best)",
}
_PCT = {"roi_mean", "roi_p05", "roi_p95", "p_roi_positive", "p_rank_1", "breakeven_effect"}
_STYLE = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1200px;
color:#222;line-height:1.45}h1{font-size:1.6em}h2{font-size:1.25em;border-bottom:1px solid #ccc;
padding-bottom:.2em;margin-top:1.6em}table{border-collapse:collapse;font-size:.85em;margin:.6em 0}
th,td{border:1px solid #ccc;padding:.3em .5em;text-align:right}th{background:#f2f2f2}
td.text,th.text{text-align:left}.note{color:#555;font-size:.9em}.grade{font-weight:bold}
figure{margin:1em 0}figcaption{color:#555;font-size:.85em}img{max-width:100%}
"""


def _fmt(col: str, value: Any) -> str:
    if isinstance(value, str):
        return html.escape(value)
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "n/a" if col != "payback_median" else "not within horizon"
    if isinstance(value, float) and np.isinf(value):
        return "never (>64× effect)" if col == "breakeven_effect" else "∞"
    if col in _PCT:
        return f"{100 * float(value):,.1f} %"
    if col == "customers_affected":
        return f"{int(value):,}"
    if col == "payback_median":
        return f"{float(value):,.0f}"
    return f"{float(value):,.0f}"


def _table_html(frame: pd.DataFrame, columns: dict[str, str]) -> str:
    cols = [c for c in columns if c in frame.columns]
    head = "".join(f'<th class="{"text" if c == "investment" else ""}">{html.escape(columns[c])}'
                   "</th>" for c in cols)
    body = []
    for rank, row in frame.iterrows():
        cells = "".join(
            f'<td class="{"text" if c == "investment" else ""}">{_fmt(c, row[c])}</td>'
            for c in cols)
        body.append(f"<tr><td>{rank}</td>{cells}</tr>")
    return (f"<table><thead><tr><th>Rank</th>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def _figure(draw: Any, caption: str, size: tuple[float, float] = (9.0, 4.5)) -> str:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=size, dpi=110)
    try:
        draw(ax)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    finally:
        plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return (f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def write_tables(result: RoiResult, directory: str | os.PathLike[str], *,
                 sensitivity: pd.DataFrame | None = None, portfolio: Any = None,
                 prefix: str = "roi") -> list[Path]:
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
            frame.to_csv(fh, index=index, float_format="%.6g")
        written.append(path)

    put(f"{prefix}.csv", result.table(), True)
    flows = pd.concat({n: result.cash_flow_table(n) for n in result.investments},
                      names=["investment"]).reset_index()
    put(f"{prefix}_cash_flows.csv", flows, False)
    if sensitivity is not None:
        put(f"{prefix}_sensitivity.csv", sensitivity, False)
    if portfolio is not None:
        put(f"{prefix}_portfolio.csv", portfolio.summary().to_frame().T, False)
    return written


def write_report(result: RoiResult, path: str | os.PathLike[str], *,
                 title: str = "Experience investments: value, risk and return",
                 sensitivity: pd.DataFrame | None = None, portfolio: Any = None,
                 currency: str = "", notes: list[str] | None = None,
                 model_notes: list[str] | None = None) -> Path:
    """Write the self-contained HTML report.

    Parameters
    ----------
    result : RoiResult
        From :func:`clv.roi.evaluate_investments`.
    path : path-like
        The ``.html`` file (written atomically; its directory is created).
    sensitivity : DataFrame, optional
        From :func:`clv.roi.sensitivity` (adds tornado charts).
    portfolio : Portfolio, optional
        From :func:`clv.roi.select_portfolio`.
    currency : str, optional
        Currency label for money columns, e.g. ``"USD"``.
    notes, model_notes : list of str, optional
        Extra paragraphs (e.g. holdout fit of the CX models).

    Returns
    -------
    Path
    """
    from clv.roi import plots as plots

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    table = result.table()
    a = result.assumptions()
    unit = a["time_unit"]
    money = f" ({currency})" if currency else ""
    parts = [f"<h1>{html.escape(title)}</h1>",
             f'<p class="note">Generated {_dt.date.today().isoformat()} by clv. '
             "All money figures are present values"
             f"{html.escape(money)} of contribution margin, discounted at "
             f"{100 * a['discount_rate_per_period']:.3f} % per {html.escape(str(unit))} over "
             f"{a['horizon_periods']} {html.escape(str(unit))} periods, with a margin of "
             f"{100 * a['margin']:.0f} % of spend. Intervals are 90 % (5th to 95th "
             "percentile) over "
             f"{a['parameter_draws']} draws of the model parameters.</p>"]
    best = table.iloc[0]
    parts.append(
        "<h2>Summary</h2><p>"
        f"Ranked by expected net present value, <b>{html.escape(str(best['investment']))}</b> "
        f"comes first: expected NPV {best['npv_mean']:,.0f}{html.escape(money)}, ROI "
        f"{100 * best['roi_mean']:.0f} % (90 % interval {100 * best['roi_p05']:.0f} % to "
        f"{100 * best['roi_p95']:.0f} %), probability of a positive return "
        f"{100 * best['p_roi_positive']:.0f} %, evidence grade "
        f"<span class=\"grade\">{html.escape(str(best['evidence_grade']))}</span>.</p>")
    if (table["evidence_grade"] == "C").any():
        parts.append(
            '<p class="note">Grade C effects are associations estimated from observational data: '
            "customers who wait longer or complain may differ in other ways. Treat them as "
            "hypotheses and test before scaling; the break-even column says how much of the "
            "estimated effect an investment needs to deliver to pay back.</p>")
    parts.append("<h2>Finance table</h2>" + _table_html(table, _COLUMNS))
    parts.append("<h3>Where the value comes from</h3>" + _table_html(table, _LEVER_COLUMNS))
    parts.append(
        '<p class="note">Cost (PV): present value of the cost schedule. Incremental CLV: '
        "present value of the extra contribution margin over the horizon, from existing "
        "customers and, through the acquisition lever, from extra new customers. NPV = "
        "incremental CLV − cost. ROI = NPV / cost. Expected loss: average shortfall in the "
        "draws where NPV is negative. Payback: the period from which the cumulative discounted "
        "net cash flow stays non-negative. Break-even share: the fraction "
        "of the estimated effect at which expected NPV is zero (below 100 % means a margin of "
        "safety). The four 'From …' columns split the incremental CLV between the levers "
        "(Shapley values; they add up to the total). P(best): share of draws in which the "
        "investment has the highest NPV.</p>")
    parts.append(_figure(lambda ax: plots.plot_roi_intervals(result, ax=ax),
                         "ROI per investment: mean and 90 % interval, colour = evidence grade",
                         (9.0, 1.2 + 0.9 * len(table))))
    parts.append(_figure(lambda ax: plots.plot_lever_split(result, ax=ax),
                         "Expected incremental CLV by lever, with the cost (black mark)",
                         (9.0, 1.2 + 0.9 * len(table))))
    parts.append(_figure(lambda ax: plots.plot_payback(result, ax=ax),
                         "Cumulative discounted net cash flow: median and 90 % band"))
    parts.append(_figure(lambda ax: plots.plot_npv_distribution(result, ax=ax),
                         "Distribution of NPV over parameter draws"))
    if portfolio is not None:
        s = portfolio.summary()
        parts.append(
            "<h2>Portfolio under the budget</h2>"
            f"<p>With a budget of {s['budget']:,.0f}{html.escape(money)} (present value), fund: "
            f"<b>{html.escape(str(s['chosen']))}</b> (cost {s['cost_pv']:,.0f}). Evaluated "
            f"together, expected NPV {s['npv_mean']:,.0f} (90 % interval {s['npv_p05']:,.0f} to "
            f"{s['npv_p95']:,.0f}), probability of a positive NPV "
            f"{100 * s['p_npv_positive']:.0f} %. Sum of the separate NPVs: "
            f"{s['additive_npv_mean']:,.0f} (the difference is the interaction of effects on the "
            f"same customers). One more {s['budget_step']:,.0f} of budget would add "
            f"{s['marginal_value_per_step']:,.0f} of expected NPV.</p>")
    if sensitivity is not None:
        parts.append("<h2>Sensitivity</h2><p class=\"note\">Expected NPV when one setting moves "
                     "to its low or high value, the others held at their base values.</p>")
        for name in table["investment"]:
            parts.append(_figure(lambda ax, n=name: plots.plot_tornado(sensitivity, n, ax=ax),
                                 f"Sensitivity of expected NPV: {name}", (8.0, 3.4)))
    parts.append("<h2>Investments and evidence</h2><table><thead><tr><th class=\"text\">"
                 "Investment</th><th class=\"text\">What it changes</th><th class=\"text\">"
                 "Target</th><th class=\"text\">Evidence</th></tr></thead><tbody>")
    for name, d in result.investments.items():
        inv = d.investment
        shifts = "; ".join(
            f"{s.column}: " + {"add": f"{s.amount:+g}", "relative": f"{100 * s.amount:+g} %",
                               "set": f"set to {s.amount:g}"}[s.mode]
            + (f" (± {s.sd:g})" if s.sd else "") + (f" where {s.where}" if s.where else "")
            for s in inv.shifts)
        timing = []
        if inv.ramp_periods:
            timing.append(f"ramp-up {inv.ramp_periods} periods")
        if inv.duration:
            timing.append(f"lasts {inv.duration} periods")
        if timing:
            shifts += " (" + ", ".join(timing) + ")"
        who = inv.target if isinstance(inv.target, str) else ", ".join(
            f"{k} = {v}" for k, v in dict(inv.target).items())
        parts.append(f"<tr><td class=\"text\">{html.escape(name)}</td><td class=\"text\">"
                     f"{html.escape(shifts)}</td><td class=\"text\">{html.escape(str(who))}"
                     f"</td><td class=\"text\">{html.escape(inv.evidence.description)}</td></tr>")
    parts.append("</tbody></table>")
    grades = "".join(f"<li><b>{g}</b>: {html.escape(t)}</li>" for g, t in GRADES.items())
    parts.append(f"<h2>Assumptions</h2><ul>"
                 f"<li>Horizon: {a['horizon_periods']} periods ({html.escape(str(unit))}).</li>"
                 f"<li>Discount rate: {100 * a['discount_rate_per_period']:.4f} % per period.</li>"
                 f"<li>Contribution margin: {100 * a['margin']:.1f} % of spend.</li>"
                 f"<li>Customers scored: {a['customers_scored']:,}; models: "
                 f"{html.escape(a['transaction_model'])} (purchases and retention), "
                 f"{html.escape(a['spend_model'])} (spend).</li>"
                 f"<li>Parameter draws: {a['parameter_draws']} (seed {a['random_state']}), shared "
                 "by every investment so differences and ranks are not simulation noise.</li>"
                 "<li>Only the future changes: each customer's history stays as it happened; "
                 "the investment multiplies future purchase and dropout rates and spend.</li>"
                 f"</ul><p>Evidence grades:</p><ul>{grades}</ul>")
    for block in (model_notes or []) + (notes or []):
        parts.append(f'<p class="note">{html.escape(block)}</p>')
    doc = ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
           f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
           + "\n".join(parts) + "</body></html>")
    with atomic_write(target) as fh:
        fh.write(doc)
    return target
