"""``clv roi`` and ``clv report``: from transactions and CX events to a ranked, costed list.

Both read the transactions (``INPUT``), the CX events (``--cx-events``), the
customer attributes (``--customers``, optional) and an investments file
(``--investments``), then run :func:`clv.cx.analysis.run_cx_roi` with
``--as-of`` as the last day of the calibration period (features and purchases
up to and including that day). Outputs in ``--out`` (a directory):

- ``roi.csv`` (finance table with ``recommendation`` and ``reason``),
  ``roi_cash_flows.csv``, ``roi_sensitivity.csv``, ``roi_portfolio.csv`` (with
  ``--budget``), ``drivers.csv`` (and ``drivers_time_varying.csv`` when the
  time-varying models are used, ``--time-varying``), ``cx_holdout.csv`` and
  ``cx_holdout_segments.csv``
  (with ``--holdout-end``), the diagnostics ``cx_timing.csv``, ``cx_placebo.csv``,
  ``cx_survey_weighting.csv``;
- ``report.html`` (``clv report`` only): the self-contained finance report;
- ``run.json``: the run record.

Investments that shift a period covariate of new-customer arrivals (the
acquisition lever) also need ``--acquisition model.json`` or
``--new-customers counts.csv`` (see :mod:`clv.cli.acquisition`).

Money is valued monthly (``--horizon`` months, ``--discount-rate`` per month,
default 10 % a year) from models fitted on daily periods. ``--budget`` chooses
the portfolio (without it none is chosen); ``--cost-per-contact`` (with
``--contact-channel-col`` for costs by channel) values the cost to serve;
``--currency`` names the money in the report.
"""

from __future__ import annotations

import datetime as _dt
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from clv.cli.config import UsageError
from clv.cli.files import read_frame

if TYPE_CHECKING:
    from clv.cli.steps import Run

__all__ = ["run_roi", "run_roi_report", "run_roi_table", "write_roi_outputs"]

logger = logging.getLogger("clv")


def write_roi_outputs(
    analysis: Any,
    out_dir: Path,
    *,
    html: bool,
    title: str = "Experience investments: what to fund",
    currency: str = "",
    data_period: str | None = None,
) -> dict[str, Path]:
    """Write the CSV tables (and the HTML report) of a :class:`~clv.cx.analysis.CXAnalysis`."""
    from clv.cli.files import write_table
    from clv.roi import write_report, write_tables

    out_dir.mkdir(parents=True, exist_ok=True)
    written = {
        p.name: p
        for p in write_tables(
            analysis.roi, out_dir, sensitivity=analysis.sensitivity, portfolio=analysis.portfolio
        )
    }
    drivers_path = out_dir / "drivers.csv"
    write_table(analysis.drivers, drivers_path)
    written["drivers.csv"] = drivers_path
    tv_drivers = getattr(analysis, "time_varying_drivers", None)
    if tv_drivers is not None and len(tv_drivers):
        write_table(tv_drivers, out_dir / "drivers_time_varying.csv")
        written["drivers_time_varying.csv"] = out_dir / "drivers_time_varying.csv"
    if analysis.holdout is not None:
        holdout_path = out_dir / "cx_holdout.csv"
        write_table(analysis.holdout.summary.reset_index(), holdout_path)
        written["cx_holdout.csv"] = holdout_path
    for name, frame in (
        ("cx_holdout_segments.csv", analysis.holdout_segments),
        ("cx_timing.csv", analysis.timing),
        ("cx_placebo.csv", analysis.placebo),
        ("cx_survey_weighting.csv", analysis.survey),
    ):
        if frame is not None and len(frame):
            write_table(frame, out_dir / name)
            written[name] = out_dir / name
    if html:
        written["report.html"] = write_report(
            analysis.roi,
            out_dir / "report.html",
            title=title,
            sensitivity=analysis.sensitivity,
            portfolio=analysis.portfolio,
            model_notes=analysis.model_notes(),
            currency=currency,
            data_period=data_period,
        )
    return written


def _fund_option(text: str | None) -> str | tuple[str, ...]:
    """``--fund``: 'all' or comma-separated recommendations (default: 'fund' only)."""
    from clv.roi.decision import FUND, RECOMMENDATIONS

    if text is None or not text.strip():
        return (FUND,)
    if text.strip() == "all":
        return "all"
    items = tuple(part.strip() for part in text.split(",") if part.strip())
    bad = [i for i in items if i not in RECOMMENDATIONS]
    if bad or not items:
        raise UsageError(
            f"--fund must be 'all' or recommendations among {', '.join(RECOMMENDATIONS)} "
            f"(comma separated), got {text!r}."
        )
    return items


def revenue_warning(run: Run) -> None:
    """Say loudly (stderr log and stdout) that the values are revenue: no margin was given."""
    from clv.cx.analysis import REVENUE_WARNING

    logger.warning("%s", REVENUE_WARNING)
    run.say(f"WARNING: {REVENUE_WARNING}")


def portfolio_line(portfolio: Any) -> str:
    """One line on the budgeted portfolio, or that no budget was given."""
    if portfolio is None:
        return "No budget given (--budget): no portfolio chosen."
    line = (
        f"Portfolio within {portfolio.budget:,.0f} ({portfolio.label}): "
        f"{', '.join(portfolio.chosen) or '(none)'}"
    )
    if portfolio.not_funded:
        line += ". Not funded: " + "; ".join(
            f"{name} ({why})" for name, why in portfolio.not_funded.items()
        )
    return line


def finance_summary(table: pd.DataFrame) -> str:
    """Short fixed-width text of the finance table for the terminal: values under the
    causal-share prior, the fully causal NPV, the recommendation and its reason."""
    from clv.roi.finance import HEADLINE_COLUMNS

    cols = [*HEADLINE_COLUMNS, "roi_p05", "roi_p95", "p_roi_positive", "payback_median"]
    t = table[cols].copy()
    t.columns = [
        "investment",
        "grade",
        "cost",
        "gain",
        "NPV",
        "ROI",
        "ROI 5%",
        "ROI 95%",
        "P(ROI>0)",
        "payback",
    ]
    if "recommendation" in table.columns:
        t.insert(5, "NPV if causal", table["npv_mean_if_causal"])
        t["recommendation"] = table["recommendation"]
    for c in ("ROI", "ROI 5%", "ROI 95%"):
        t[c] = (100 * t[c]).map(lambda v: f"{v:.0f}%")
    # a share of finite draws: never "100%" or "0%"
    t["P(ROI>0)"] = t["P(ROI>0)"].map(
        lambda p: ">99%" if p >= 0.995 else "<1%" if p <= 0.005 else f"{100 * p:.0f}%"
    )
    for c in ("cost", "gain", "NPV", "NPV if causal"):
        if c in t.columns:
            t[c] = t[c].map(lambda v: f"{v:,.0f}")
    t["payback"] = t["payback"].map(lambda v: "-" if pd.isna(v) else f"{v:.0f}")
    text = t.to_string()
    if "reason" in table.columns:
        text += "\n" + "\n".join(
            f"  {name}: {rec} - {why}"
            for name, rec, why in zip(
                table["investment"], table["recommendation"], table["reason"], strict=True
            )
        )
        if "causal_share_prior" in table.columns and len(table):
            text += (
                "\nGain, NPV, ROI and P(ROI>0) of observational (grade C) effects are "
                f"valued under a {table['causal_share_prior'].iloc[0]}; "
                "'NPV if causal' assumes every association is an effect."
            )
    return text


def _check_out_dir(out_dir: Path) -> None:
    """Fail before any work (I/O error, exit 5) if ``out_dir`` cannot be created or written."""
    import os

    from clv.cli.files import InputOutputError

    existing = out_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise InputOutputError(
            f"cannot create output directory '{out_dir}': '{existing}' is not a directory."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputOutputError(
            f"cannot write output directory '{out_dir}': '{existing}' is not "
            "writable (permissions, or a read-only file system). Choose "
            "another --out."
        )


def parse_cost_per_contact(text: str | float | None) -> float | dict[str, float] | None:
    """``"4.5"`` -> 4.5; ``"phone=6,web=1.5"`` -> ``{"phone": 6.0, "web": 1.5}``.

    Examples
    --------
    >>> parse_cost_per_contact("phone=6, web=1.5")
    {'phone': 6.0, 'web': 1.5}
    """
    if text is None or isinstance(text, int | float):
        return None if text is None else float(text)
    try:
        if "=" not in text:
            value: float | dict[str, float] = float(text)
        else:
            value = {}
            for part in text.split(","):
                key, _, amount = part.partition("=")
                if not key.strip() or not amount.strip():
                    raise ValueError(part)
                value[key.strip()] = float(amount)
    except ValueError:
        raise UsageError(
            f"--cost-per-contact must be a number (4.5) or channel=amount pairs "
            f"(phone=6,web=1.5,default=3), got {text!r}."
        ) from None
    amounts = [value] if isinstance(value, float) else list(value.values())
    if not all(a >= 0 and a == a and a != float("inf") for a in amounts):
        raise UsageError(f"--cost-per-contact amounts must be finite and >= 0, got {text!r}.")
    return value


def run_roi_table(run: Run) -> int:
    """``clv roi``: the CSV tables and the run record."""
    return run_roi(run, html=False)


def run_roi_report(run: Run) -> int:
    """``clv report``: the CSV tables, the HTML report and the run record."""
    return run_roi(run, html=True)


def run_roi(run: Run, *, html: bool) -> int:
    """Run ``clv roi`` / ``clv report``."""
    from clv.cli.acquisition import load_acquisition
    from clv.cli.files import frame_fingerprint
    from clv.cli.steps import EXIT_OK, input_columns, need_option, read_input
    from clv.cx.analysis import DAYS_PER_MONTH, run_cx_roi
    from clv.roi import load_investments
    from clv.scoring.bundle import file_sha256

    opts = run.opts
    out_dir = Path(need_option(opts, "out", "the output directory"))
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out '{out_dir}' is a file; {opts.command} writes a directory.")
    _check_out_dir(out_dir)
    as_of: _dt.date = need_option(opts, "as_of", "the last day of the calibration period")
    events_path = need_option(opts, "cx_events", "the CX events")
    inv_path = need_option(opts, "investments", "the investments to value")
    try:
        investments = load_investments(inv_path)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    horizon = 24 if opts.horizon is None else opts.horizon
    if horizon < 1 or horizon != round(horizon):
        raise UsageError(f"--horizon must be a whole number of months >= 1, got {horizon:g}.")
    from clv.cli.steps import value_options

    margin_given = run.opts.margin is not None
    rate, margin = value_options(run, "M")  # the valuation runs in months
    discount = rate.per_period
    if opts.draws < 2:
        raise UsageError(f"--draws must be at least 2, got {opts.draws}.")
    cost_per_contact = parse_cost_per_contact(getattr(opts, "cost_per_contact", None))
    channel_col = getattr(opts, "contact_channel_col", None)
    if isinstance(cost_per_contact, dict) and channel_col is None:
        raise UsageError(
            "--cost-per-contact by channel needs --contact-channel-col, the "
            "customer attribute holding each customer's channel."
        )
    raw_covariates = getattr(opts, "contact_covariates", None)
    contact_covariates = (
        [c.strip() for c in raw_covariates.split(",") if c.strip()] if raw_covariates else None
    )
    if contact_covariates is not None and cost_per_contact is None:
        raise UsageError("--contact-covariates needs --cost-per-contact.")
    if opts.holdout_end is not None and opts.holdout_end <= as_of:
        raise UsageError("--holdout-end must be after --as-of.")
    acquisition = None
    if opts.acquisition or opts.new_customers:
        with run.step("acquisition", "reading the acquisition input"):
            acquisition = load_acquisition(
                opts, horizon=int(horizon), valuation_days=DAYS_PER_MONTH
            )
    else:
        load_acquisition(opts, horizon=int(horizon), valuation_days=DAYS_PER_MONTH)
    columns = input_columns(opts)
    if columns["value_col"] is None:
        columns["value_col"] = "value"
    opts.as_of = opts.holdout_end or as_of  # read transactions up to the end of the holdout
    transactions, info = read_input(run, columns)
    opts.as_of = as_of
    from clv.data import validate_transactions

    with run.step("validate", "checking the transactions"):  # every problem, before any work
        validate_transactions(
            transactions,
            customer_id_col=str(columns["customer_col"]),
            date_col=str(columns["date_col"]),
            value_col=str(columns["value_col"]),
        )
    with run.step("read", "reading CX events and customers"):
        events = read_frame(events_path, "--cx-events")
        customers = read_frame(opts.customers, "--customers") if opts.customers else None
    cutoff = pd.Timestamp(as_of) + pd.Timedelta(days=1)
    holdout_end = (
        pd.Timestamp(opts.holdout_end) + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
        if opts.holdout_end
        else None
    )
    from clv.roi.confounding import CausalShare

    try:
        share = CausalShare.parse(opts.causal_share or "1,1")
    except ValueError as exc:
        raise UsageError(f"--causal-share: {exc}") from None
    controls = (opts.controls or "auto").strip()
    control_arg: Any = None if controls.lower() == "none" else controls
    with run.step("analysis", "CX features, models, drivers and investments"):
        analysis = run_cx_roi(
            transactions,
            events,
            customers,
            investments,
            cutoff=cutoff,
            observation_end=holdout_end,
            customer_id_col=str(columns["customer_col"]),
            date_col=str(columns["date_col"]),
            value_col=str(columns["value_col"]),
            horizon=int(horizon),
            discount_rate_per_period=discount,
            margin=margin if margin_given else None,
            n_draws=opts.draws,
            budget=opts.budget,
            fund=_fund_option(getattr(opts, "fund", None)),
            random_state=opts.seed,
            acquisition_model=None if acquisition is None else acquisition.model,
            acquisition_covariates=None if acquisition is None else acquisition.covariates,
            acquisition_period_length=None if acquisition is None else acquisition.period_days,
            cost_per_contact=cost_per_contact,
            contact_channel_column=channel_col,
            contact_covariates=contact_covariates,
            progress=run.progress,
            progress_bars=run.progress_bars,
            controls=control_arg,
            causal_share=share,
            time_varying={"yes": True, "no": False}.get(opts.time_varying or "no", "auto"),
            path_group=opts.path_group,
        )
    from clv.cli.commit import OutputCommit

    with run.step("write", f"writing to {out_dir}"):
        period = f"purchases and CX events to {as_of}" + (
            f"; holdout check to {opts.holdout_end}" if opts.holdout_end else ""
        )
        # every table, the report and run.json are staged, then installed as one unit
        out_dir.mkdir(parents=True, exist_ok=True)
        commit = OutputCommit(out_dir / "roi.csv", record=out_dir / "run.json")
        written = commit.stage_files(
            lambda d: write_roi_outputs(
                analysis,
                d,
                html=html,
                currency=getattr(opts, "currency", None) or "",
                data_period=period,
            )
        )
    table = analysis.roi.table()
    record = run.record(
        input={
            **info,
            "cx_events": {
                "path": str(events_path),
                "fingerprint": frame_fingerprint(events),
                "n_rows": len(events),
            },
            "customers": (
                {"path": str(opts.customers), "n_rows": len(customers)}
                if customers is not None
                else None
            ),
            "investments": {"path": str(inv_path), "sha256": file_sha256(Path(inv_path))},
            "acquisition": None if acquisition is None else acquisition.source,
        },
        parameters={
            "as_of": str(as_of),
            "holdout_end": str(opts.holdout_end),
            "horizon_months": int(horizon),
            "discount_rate_per_month": discount,
            **rate.as_record(),
            "margin": margin,
            "value_basis": "margin" if margin_given else "revenue",
            "draws": opts.draws,
            "seed": opts.seed,
            "budget": opts.budget,
            "fund": getattr(opts, "fund", None) or "fund",
            "cost_per_contact": cost_per_contact,
            "contact_channel_col": channel_col,
            "controls": analysis.controls,
            "causal_share": share.describe(),
            "time_varying": opts.time_varying or "no",
            "path_group": opts.path_group,
        },
        models={
            "time_varying": {
                "used": analysis.time_varying,
                "reason": analysis.time_varying_reason,
                "params": (
                    None
                    if analysis.time_varying_model is None
                    else {k: float(v) for k, v in analysis.time_varying_model.params_.items()}
                ),
            },
            "covariates": analysis.covariates,
            "transaction_model": {
                k: float(v) for k, v in analysis.transaction_model.params_.items()
            },
            "spend_model": {k: float(v) for k, v in analysis.spend_model.params_.items()},
            "contact_model": (
                None
                if analysis.contact_model is None
                else {
                    "params": {k: float(v) for k, v in analysis.contact_model.params_.items()},
                    "robust_se": analysis.contact_model.summary()["se"].to_dict(),
                    "dispersion": analysis.contact_model.dispersion_,
                }
            ),
        },
        results={
            "table": table.reset_index().to_dict(orient="records"),
            "portfolio": (
                None if analysis.portfolio is None else analysis.portfolio.summary().to_dict()
            ),
        },
        output={name: str(p) for name, p in written.items()},
    )
    commit.commit(record)
    if not margin_given:
        revenue_warning(run)
    run.say(
        f"Experience investments ranked by expected NPV ({int(horizon)} months, "
        + (f"margin {margin:g}" if margin_given else "REVENUE: no margin given")
        + f", {opts.draws} parameter draws):"
    )
    run.say(finance_summary(table))
    run.say(portfolio_line(analysis.portfolio))
    for note in analysis.model_notes()[1:]:
        run.say(note)
    run.say(f"Outputs in {out_dir.resolve()}: " + ", ".join(sorted(written)) + ", run.json")
    return EXIT_OK
