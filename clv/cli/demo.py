"""``clv demo``: the whole job on the bundled CDNOW transactions, end to end.

Steps: validate the 69,659 transactions of the 23,570 CDNOW customers;
summarise them weekly; fit BG/NBD (and Pareto/NBD when this clv has it) on a
calibration period ending 1997-09-30 and compare their predictions with the
holdout period to 1998-06-30; fit BG/NBD + Gamma-Gamma on the whole period;
score every customer (52-week CLV, 10 % a year discounting); write

- ``scores.csv``   the per-customer scores (same columns as ``clv score``)
- ``model.json``   the model bundle (usable with ``clv score --model``)
- ``holdout.csv``  per-customer calibration/holdout comparison
- ``run.json``     the run record (versions, fingerprints, metrics, timings)
- ``*.png``        diagnostic plots, when matplotlib is installed.

Then the CX layer on the synthetic CX world (:func:`clv.synth.simulate_cx_world`,
10,000 customers with known ground truth): CX features, covariate models, a
holdout check against the plain model, the driver table and six example
investments valued with uncertainty (:func:`clv.roi.examples.example_investments`;
the referral programme acts on new customers through a monthly acquisition model):

- ``report.html``  the self-contained report for finance
- ``roi.csv``, ``roi_cash_flows.csv``, ``roi_sensitivity.csv``, ``roi_portfolio.csv``,
  ``drivers.csv``, ``cx_holdout.csv``
- ``experiment_effects.csv``, ``experiment_balance.csv``: the world's randomised
  onboarding test (30 % of the customers, half of them called) analysed by
  :func:`clv.cx.experiments.analyse_experiment`; the "Onboarding call" investment
  takes its grade-A evidence from it
- ``cx_world/``    the world's inputs (transactions, CX events, customers,
  investments, ``new_customers.csv`` per month), to rerun the same job with
  ``clv report ... --new-customers cx_world/new_customers.csv``.
"""

from __future__ import annotations

import datetime as _dt
import importlib.util
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from clv.cli.config import UsageError

if TYPE_CHECKING:
    from clv.cli.steps import Run

__all__ = ["CALIBRATION_END", "OBSERVATION_END", "report_command", "run_demo"]

logger = logging.getLogger("clv")

CALIBRATION_END = _dt.date(1997, 9, 30)
OBSERVATION_END = _dt.date(1998, 6, 30)
_COLUMNS: dict[str, str | None] = {
    "customer_col": "customer_id",
    "date_col": "date",
    "value_col": "value",
}


def run_demo(run: Run) -> int:
    """Run the demo; outputs go to ``--out`` (default ``out``), created if missing."""
    from clv.cli.evaluate import evaluate_models, metrics_table
    from clv.cli.files import frame_fingerprint, write_json, write_table
    from clv.cli.steps import (
        EXIT_OK,
        fit_models,
        horizon_periods,
        output_info,
        score_customers,
        summarise,
        value_options,
    )
    from clv.data import validate_transactions
    from clv.data.datasets import load_cdnow_transactions
    from clv.scoring.bundle import Bundle, file_sha256, write_bundle

    opts = run.opts
    out_dir = Path(opts.out or "out")
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out '{out_dir}' is a file; demo writes a directory of outputs.")
    out_dir.mkdir(parents=True, exist_ok=True)
    horizon = horizon_periods(52.0 if opts.horizon is None else opts.horizon)
    margin_given = opts.margin is not None
    rate, margin = value_options(run, "W")
    discount = rate.per_period
    opts.as_of = OBSERVATION_END
    opts.penalizer = 0.0

    with run.step("read", "loading the bundled CDNOW transactions"):
        transactions = load_cdnow_transactions()
    with run.step("validate", "validating"):
        validate_transactions(
            transactions, customer_id_col="customer_id", date_col="date", value_col="value"
        )
    info = {
        "dataset": "CDNOW (Fader & Hardie), 1/10th sample of 1997 cohort",
        "fingerprint": frame_fingerprint(transactions[["customer_id", "date", "value"]]),
        "n_rows": len(transactions),
    }
    rfm = summarise(run, transactions, _COLUMNS, "W")
    run.say(
        f"CDNOW: {len(transactions)} transactions, {len(rfm)} customers "
        f"({int((rfm['frequency'] > 0).sum())} repeat buyers), weekly periods to "
        f"{OBSERVATION_END}."
    )

    names = ["bgnbd"]
    if importlib.util.find_spec("clv.models.pareto_nbd") is not None:
        names.append("pnbd")
    else:
        logger.info("Pareto/NBD is not available in this clv; comparing BG/NBD only")
    holdout, metrics, calib_models = evaluate_models(
        run,
        transactions,
        _COLUMNS,
        model_names=names,
        calibration_end=CALIBRATION_END,
        observation_end=OBSERVATION_END,
        time_unit="W",
        with_spend=True,
    )
    run.say("")
    run.say(
        f"Calibration to {CALIBRATION_END}, holdout to {OBSERVATION_END} "
        f"({len(holdout)} customers, purchases per customer in the holdout):"
    )
    run.say(metrics_table([m for m in metrics if "mae" in m]))
    spend = next((m for m in metrics if m["model"] == "gamma_gamma"), None)
    if spend is not None:
        params = ", ".join(f"{k}={v:.4g}" for k, v in spend["params"].items())
        run.say(
            f"Gamma-Gamma spend model on {spend['n_customers']} repeat buyers: "
            f"log-lik {spend['log_likelihood']:.2f}, {params}"
        )

    transaction_model, spend_model = fit_models(run, rfm, "bgnbd", with_spend=True)
    bundle = Bundle(
        transaction_model,
        spend_model,
        "W",
        dict(_COLUMNS),
        training={
            "fingerprint": info["fingerprint"],
            "observation_end": str(OBSERVATION_END),
            "n_rows": len(transactions),
            "n_customers": len(rfm),
            "input": "clv.data.datasets.cdnow",
        },
    )
    with run.step("score", f"scoring {len(rfm)} customers"):
        scores = score_customers(
            bundle, rfm, horizon=horizon, discount_rate=discount, margin=margin
        )
    paths = {
        name: out_dir / name for name in ("scores.csv", "model.json", "holdout.csv", "run.json")
    }
    with run.step("write", f"writing to {out_dir}"):
        write_table(scores, paths["scores.csv"])
        write_bundle(bundle, paths["model.json"])
        write_table(holdout, paths["holdout.csv"])
    plots = _plots(run, out_dir, transaction_model, rfm, calib_models)
    with run.step("equity", "acquisition forecast and customer equity"):
        equity_summary = _acquisition_and_equity(
            run, transactions, out_dir, margin=margin, discount_rate=discount
        )
    paths["equity.csv"] = out_dir / "equity.csv"
    record = run.record(
        input=info,
        parameters={
            "calibration_end": str(CALIBRATION_END),
            "observation_end": str(OBSERVATION_END),
            "time_unit": "W",
            "horizon": horizon,
            **rate.as_record(),
            "margin": margin,
        },
        metrics=metrics,
        model={
            "path": str(paths["model.json"]),
            "sha256": file_sha256(paths["model.json"]),
            "transaction_model": type(transaction_model).__name__,
            "spend_model": type(spend_model).__name__,
            "log_likelihood": float(transaction_model.log_likelihood_),
            "params": {k: float(v) for k, v in transaction_model.params_.items()},
        },
        output=output_info(paths["scores.csv"], len(scores)),
        plots=[str(p) for p in plots],
        equity=equity_summary,
    )
    with run.step("cx", "CX world: features, covariate models, drivers, investments"):
        cx_record = _cx_world(run, out_dir, margin_note=margin, margin_given=margin_given)
    record["cx"] = cx_record
    write_json(record, paths["run.json"])

    top = scores.nlargest(5, "clv")[
        ["customer_id", "frequency", "probability_alive", "expected_purchases", "clv"]
    ]
    run.say("")
    run.say(f"Top 5 customers by {horizon}-week CLV ({rate.describe()}, margin {margin:g}):")
    run.say(top.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    run.say("")
    run.say(f"Outputs in {out_dir.resolve()}:")
    for path in [*paths.values(), *plots]:
        run.say(f"  {path}")
    run.say(
        f"Score new data with: clv score <transactions.csv> --model {paths['model.json']} "
        f"--value-col value --horizon {horizon} --out scores.csv"
    )
    run.say("")
    run.say(cx_record["summary"])
    run.say(f"Finance report: {out_dir / 'report.html'}")
    run.say("Rerun the CX job with: clv " + " ".join(report_command(out_dir, cx_record)))
    return EXIT_OK


CX_CUSTOMERS = 10_000
CX_SEED = 7
CX_DRAWS = 100
CX_HORIZON = 24
#: Share of the CX world's customers enrolled in the onboarding A/B test (half treated).
CX_EXPERIMENT_SHARE = 0.3
#: The demo's budget (present value) and cost per service contact by the customer's channel.
CX_BUDGET = 20_000.0
CX_COST_PER_CONTACT = {"phone": 6.0, "store": 4.0, "web": 2.0, "app": 2.0}
CX_CURRENCY = "EUR"


def report_command(
    out_dir: Path, cx_record: dict[str, Any], report_out: str = "report_out"
) -> list[str]:
    """The ``clv report`` arguments that rerun the demo's CX job on the files in ``cx_world/``."""
    w = out_dir / "cx_world"
    return [
        "report",
        str(w / "transactions.csv"),
        "--cx-events",
        str(w / "cx_events.csv"),
        "--customers",
        str(w / "customers.csv"),
        "--investments",
        str(w / "investments.json"),
        "--new-customers",
        str(w / "new_customers.csv"),
        "--as-of",
        cx_record["as_of"],
        "--holdout-end",
        cx_record["holdout_end"],
        "--draws",
        str(cx_record["draws"]),
        "--seed",
        str(cx_record["seed"]),
        "--budget",
        f"{cx_record['budget']:g}",
        "--cost-per-contact",
        ",".join(f"{k}={v:g}" for k, v in cx_record["cost_per_contact"].items()),
        "--contact-channel-col",
        "channel",
        "--currency",
        cx_record.get("currency", ""),
        "--out",
        report_out,
    ]


def _cx_world(
    run: Run, out_dir: Path, *, margin_note: float, margin_given: bool = True
) -> dict[str, Any]:
    """The CX-to-ROI job on the synthetic world; writes the report and the world's inputs."""
    import json
    from types import SimpleNamespace

    from clv.cli.acquisition import load_acquisition
    from clv.cli.files import write_table
    from clv.cli.roi import finance_summary, portfolio_line, revenue_warning, write_roi_outputs
    from clv.cx.analysis import DAYS_PER_MONTH, run_cx_roi
    from clv.persistence import atomic_write
    from clv.roi.examples import example_investments, monthly_new_customers
    from clv.synth import WorldParams, simulate_cx_world

    world = simulate_cx_world(
        CX_CUSTOMERS, seed=CX_SEED, params=WorldParams(experiment_share=CX_EXPERIMENT_SHARE)
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    run.progress("analysing the randomised onboarding test")
    experiment, experiment_line = _onboarding_experiment(world, out_dir)
    investments = example_investments(CX_CUSTOMERS, acquisition=True, experiment=experiment)
    treated = world.experiment.loc[world.experiment["arm"] == "treatment", "customer_id"]
    customers = world.customers.assign(
        onboarding_call=world.customers["customer_id"].isin(treated).astype(float)
    )
    world_dir = out_dir / "cx_world"
    world_dir.mkdir(parents=True, exist_ok=True)
    write_table(world.transactions, world_dir / "transactions.csv")
    write_table(world.cx_events, world_dir / "cx_events.csv")
    write_table(customers, world_dir / "customers.csv")
    write_table(world.experiment, world_dir / "experiment.csv")
    write_table(monthly_new_customers(world), world_dir / "new_customers.csv")
    with atomic_write(world_dir / "investments.json") as fh:
        json.dump({"investments": [inv.to_dict() for inv in investments]}, fh, indent=2)
    # the acquisition model as `clv report --new-customers` fits it, from the file written
    acquisition = load_acquisition(
        SimpleNamespace(
            acquisition=None,
            new_customers=str(world_dir / "new_customers.csv"),
            acquisition_distribution=None,
            acquisition_period=None,
            acquisition_covariates=None,
        ),
        horizon=CX_HORIZON,
        valuation_days=DAYS_PER_MONTH,
    )
    assert acquisition is not None
    analysis = run_cx_roi(
        world.transactions,
        world.cx_events,
        customers,
        investments,
        cutoff=world.calibration_end,
        observation_end=world.truth.observation_end,
        horizon=CX_HORIZON,
        n_draws=CX_DRAWS,
        random_state=CX_SEED,
        margin=margin_note if margin_given else None,
        acquisition_model=acquisition.model,
        acquisition_covariates=acquisition.covariates,
        acquisition_period_length=acquisition.period_days,
        budget=CX_BUDGET,
        cost_per_contact=CX_COST_PER_CONTACT,
        contact_channel_column="channel",
        progress=run.progress,
        progress_bars=getattr(run, "progress_bars", None),
    )
    last_day = (world.calibration_end - pd.Timedelta(days=1)).date()
    holdout_last = (world.truth.observation_end - pd.Timedelta(seconds=1)).date()
    write_roi_outputs(
        analysis,
        out_dir,
        html=True,
        title="Experience investments in the synthetic CX world: what to fund",
        currency=CX_CURRENCY,
        data_period=f"simulated purchases and CX events to {last_day}; holdout "
        f"check to {holdout_last}",
    )
    table = analysis.roi.table()
    notes = analysis.model_notes()
    if not margin_given:
        revenue_warning(run)
    basis = f"margin {margin_note:g}" if margin_given else "REVENUE: no margin given"
    summary = "\n".join(
        [
            experiment_line,
            f"CX world ({CX_CUSTOMERS:,} simulated customers, known ground truth): experience "
            f"investments ranked by expected NPV over 24 months ({basis}, 10 % a year):",
            finance_summary(table),
            portfolio_line(analysis.portfolio),
            *notes[1:],
        ]
    )
    return {
        "customers": CX_CUSTOMERS,
        "seed": CX_SEED,
        "draws": CX_DRAWS,
        "budget": CX_BUDGET,
        "cost_per_contact": dict(CX_COST_PER_CONTACT),
        "currency": CX_CURRENCY,
        "as_of": str(last_day),
        "holdout_end": str(holdout_last),
        "timings_s": analysis.timings,
        "covariates": analysis.covariates,
        "summary": summary,
        "table": table.reset_index().to_dict(orient="records"),
    }


def _onboarding_experiment(world: Any, out_dir: Path) -> tuple[Any, str]:
    """The world's randomised onboarding test, analysed on the calibration period.

    Balance on the customers' channel, region and age; per-lever effects of the
    call (purchase, dropout, spend) with 90 % intervals. Writes
    ``experiment_effects.csv`` and ``experiment_balance.csv``; returns the result
    and a one-line summary.
    """
    from clv.cli.files import write_table
    from clv.cx.experiments import analyse_experiment

    attrs = world.customers.set_index("customer_id")
    covariates = pd.get_dummies(attrs[["channel", "region"]], drop_first=True, dtype=float).assign(
        age=attrs["age"].astype(float)
    )
    result = analyse_experiment(
        world.experiment,
        world.calibration_transactions(),
        end=world.calibration_end,
        column="onboarding_call",
        covariates=covariates,
        expected_share=0.5,
        source="onboarding A/B test (randomised at the first "
        "purchase), analysed by clv.cx.experiments",
    )
    write_table(result.effects.reset_index(), out_dir / "experiment_effects.csv")
    write_table(result.balance.reset_index(), out_dir / "experiment_balance.csv")
    e = result.effects
    line = (
        f"Onboarding A/B test ({int(result.arms['customers'].sum()):,} customers, "
        f"balanced: {'yes' if result.balanced else 'NO'}): "
        + "; ".join(
            f"{e['effect_on'].loc[lever]} x{e['multiplier'].loc[lever]:.2f} "
            f"[{e['multiplier_lower'].loc[lever]:.2f}, "
            f"{e['multiplier_upper'].loc[lever]:.2f}]"
            for lever in result.measured_levers
        )
        + " (grade A for these levers)."
    )
    return result, line


def _acquisition_and_equity(
    run: Run, transactions: Any, out_dir: Path, *, margin: float, discount_rate: float
) -> dict[str, Any]:
    """Acquisition (the fourth lever) and customer equity on CDNOW's 12-week acquisition window.

    Fits the Weibull acquisition model on weekly first purchases of weeks 1-8 and checks its
    forecast of weeks 9-12; then values the base as of the end of the window (BG/NBD +
    Gamma-Gamma, 52 weeks, 10 % a year) plus the cohorts forecast by the model refitted on all
    12 weeks, at an illustrative acquisition cost of $5 per customer.
    """
    import warnings

    import numpy as np

    from clv.data import rfm_summary
    from clv.equity import customer_equity, new_customer_value
    from clv.exceptions import DataWarning
    from clv.models import AcquisitionModel, BetaGeoModel, GammaGammaModel
    from clv.models.acquisition import arrivals_per_period
    from clv.persistence import atomic_write
    from clv.value import customer_lifetime_value

    first = transactions.groupby("customer_id")["date"].min()
    weekly = arrivals_per_period(first, time_unit="W")
    # 8 weeks do not identify the pool of ever-acquirers (arrivals are still rising):
    # assume no depletion yet (m fixed very large), as docs/models/acquisition.md explains
    short = AcquisitionModel(distribution="weibull", fixed={"m": 1e9}).fit(weekly.loc[:8])
    check = short.holdout_check(weekly.loc[9:])
    now = str(first.max().date())
    with warnings.catch_warnings():
        # customers first seen on `now` (T = 0) are dropped below
        warnings.simplefilter("ignore", DataWarning)
        # 7-day weeks from each customer's first day, same-day purchases merged
        rfm = rfm_summary(
            transactions[transactions["date"] <= now].drop_duplicates(),
            customer_id_col="customer_id",
            date_col="date",
            value_col="value",
            time_unit="7D",
            observation_end=now,
        )
    rfm = rfm[rfm["T"] > 0]  # Gamma-Gamma fits on the repeat buyers with positive spend
    purchases, spend = BetaGeoModel().fit(rfm), GammaGammaModel().fit(rfm)
    horizon, rate = 52, discount_rate
    existing = customer_lifetime_value(
        purchases, spend, rfm, horizon=horizon, discount_rate_per_period=rate, margin=margin
    )
    full = AcquisitionModel(distribution="weibull").fit(weekly)
    value_new = new_customer_value(
        purchases,
        spend,
        horizon=horizon - np.arange(1, horizon + 1),
        discount_rate_per_period=rate,
        margin=margin,
    )
    equity = customer_equity(
        existing,
        full,
        horizon=horizon,
        discount_rate_per_period=rate,
        value_per_new_customer=value_new,
        acquisition_cost=5.0,
    )
    with atomic_write(out_dir / "equity.csv", newline="") as fh:
        equity.cash_flows.to_csv(fh, float_format="%.10g")
    cumulative_error = float(check.cumulative_error)  # in % of the actual
    mape = float(check.metrics["mape"].loc["per_period"])
    run.say("")
    run.say(
        f"Acquisition: {len(first)} customers acquired in weeks 1-{len(weekly)} of 1997. "
        f"Fitted on weeks 1-8, the forecast for weeks 9-{len(weekly)} is "
        f"{cumulative_error:+.1f} % off cumulatively (weekly MAPE {mape:.1f} %)."
    )
    run.say(
        f"Customer equity as of {now} ({horizon} weeks, {discount_rate:.4%} a week, "
        f"margin {margin:g}, "
        f"$5 per acquired customer): existing {equity.existing:,.0f} + future cohorts "
        f"{equity.future:,.0f} = {equity.total:,.0f}"
    )
    return {
        "as_of": now,
        "existing": equity.existing,
        "future": equity.future,
        "total": equity.total,
        "acquisition_holdout_cumulative_error_pct": cumulative_error,
        "acquisition_holdout_weekly_mape_pct": mape,
    }


def _plots(run: Run, out_dir: Path, model: Any, rfm: Any, calib: dict[str, Any]) -> list[Path]:
    """Diagnostic PNGs via :mod:`clv.plotting`; skipped (and logged) without matplotlib."""
    try:
        from matplotlib.figure import Figure

        from clv.plotting import (
            plot_calibration_holdout,
            plot_period_transactions,
            plot_probability_alive_matrix,
        )
    except ImportError as exc:
        logger.warning("plots skipped: %s (install clv[plot] for them)", exc)
        return []
    from clv.persistence import atomic_write

    drawings = {
        "period_transactions.png": lambda ax: plot_period_transactions(model, rfm, ax=ax),
        "calibration_holdout.png": lambda ax: plot_calibration_holdout(
            calib["bgnbd"], calib["calibration"], ax=ax
        ),
        "probability_alive_matrix.png": lambda ax: plot_probability_alive_matrix(
            model, data=rfm, ax=ax
        ),
    }
    written = []
    with run.step("plots", "drawing plots"):
        for name, draw in drawings.items():
            fig = Figure(figsize=(7, 5), layout="constrained")
            draw(fig.add_subplot())
            with atomic_write(out_dir / name, "wb") as fh:
                fig.savefig(fh, format="png", dpi=100, metadata={"Software": None})
            written.append(out_dir / name)
    return written
