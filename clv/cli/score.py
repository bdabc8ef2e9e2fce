"""``clv score``: score every customer of a transaction log with a model file."""

from __future__ import annotations

import argparse
import logging
from typing import TYPE_CHECKING, Any

from clv.cli.config import UsageError
from clv.cli.steps import (
    EXIT_OK,
    Run,
    end_of_day,
    horizon_periods,
    input_columns,
    need_option,
    observation_end_of,
    out_table,
    output_commit,
    output_info,
    posterior_options,
    read_input,
    score_customers,
    stage_table,
    summarise,
    value_options,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["run_score"]

logger = logging.getLogger("clv")


def _cx_score_data(
    run: Run,
    transactions: pd.DataFrame,
    rfm: pd.DataFrame,
    bundle: Any,
    columns: dict[str, str | None],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The RFM frame joined with the bundle's CX features as of the day after --as-of."""
    from clv.cli.cx_features import cutoff_of, join_features, read_cx_inputs
    from clv.scoring.bundle import builder_from_section

    opts = run.opts
    section = bundle.features
    builder = builder_from_section(section, opts.model)
    cutoff = cutoff_of(opts.as_of)
    with run.step("read_cx", "reading CX events and customers"):
        inputs = read_cx_inputs(
            opts.cx_events,
            opts.customers,
            transactions[str(columns["customer_col"])],
            builder.customer_id_col,
        )
    with run.step("features", f"CX features as of {cutoff.date()} (fitted builder)"):
        features = builder.transform(
            inputs.events, inputs.customers, cutoff=cutoff, customer_ids=rfm.index
        )
    return join_features(rfm, features), {**inputs.info, "cx_cutoff": cutoff.date().isoformat()}


def _check_cx_score(opts: argparse.Namespace, bundle: Any, model_path: str, spark: bool) -> bool:
    """Whether ``clv score`` joins CX features; usage errors for bad combinations."""
    if getattr(bundle, "features", None) is None:
        if opts.cx_events is not None or opts.customers is not None:
            raise UsageError(
                f"--cx-events and --customers apply to a model fitted with `clv fit "
                f"--cx-events`; '{model_path}' has no CX covariates. Drop them."
            )
        return False
    if opts.cx_events is None:
        raise UsageError(
            f"--cx-events is required: the model in '{model_path}' was fitted with "
            "CX covariates; pass the CX events file (features are rebuilt as of "
            "the day after --as-of)."
        )
    if spark:
        raise UsageError(
            "--engine spark does not score models with CX covariates; use the "
            "default pandas engine."
        )
    need_option(opts, "as_of", "with CX covariates: features use the CX events before the next day")
    return True


def _check_intervals(opts: argparse.Namespace, bundle: Any, model_path: str, spark: bool) -> bool:
    """Whether ``clv score`` adds bootstrap quantiles; usage errors for bad combinations."""
    if opts.intervals is None:
        return False
    if getattr(bundle, "bootstrap", None) is None:
        raise UsageError(
            f"--intervals bootstrap needs the bootstrap draws of `clv fit --bootstrap N`; "
            f"'{model_path}' has none: refit with e.g. `clv fit ... --bootstrap 200`, or drop "
            "--intervals (a posterior model file .nc has its own quantile columns)."
        )
    if spark:
        raise UsageError(
            "--intervals bootstrap is computed by the default pandas engine; drop --engine spark."
        )
    if opts.max_draws < 0:
        raise UsageError(f"--max-draws must be >= 0 (0: every draw), got {opts.max_draws}.")
    return True


def _read_model_file(path: str) -> Any:
    """A JSON bundle (:class:`~clv.scoring.bundle.Bundle`) or a netCDF posterior model file."""
    from clv.scoring.bundle import read_bundle
    from clv.scoring.posterior import is_netcdf, read_posterior_bundle

    return read_posterior_bundle(path) if is_netcdf(path) else read_bundle(path)


def _model_names(bundle: Any) -> tuple[str, str | None]:
    """Class names of the transaction and spend models of a bundle."""
    from clv.scoring.posterior import PosteriorBundle

    if isinstance(bundle, PosteriorBundle):
        spend = bundle.spend_model
        return bundle.transaction_model.model, None if spend is None else spend.model
    spend_model = bundle.spend_model
    return (
        type(bundle.transaction_model).__name__,
        None if spend_model is None else type(spend_model).__name__,
    )


def run_score(run: Run) -> int:
    from clv.cli.files import check_output_path, output_format

    opts = run.opts
    spark = opts.engine == "spark"
    out_arg = need_option(opts, "out", "the scores to write: .csv, .parquet or .duckdb")
    fmt = output_format(out_arg, directory=spark)
    out = check_output_path(out_arg, directory=fmt == "directory")
    table_name = out_table(opts, fmt)
    model_path = need_option(opts, "model", "the model file written by `clv fit`")
    commit = output_commit(opts, out, table_name, model=model_path)
    horizon = horizon_periods(opts.horizon)
    with run.step("load_model", f"loading {model_path}"):
        bundle = _read_model_file(model_path)
    posterior = posterior_options(opts, bundle, spark)
    if opts.time_unit is not None and opts.time_unit != bundle.time_unit:
        raise UsageError(
            f"the model in '{model_path}' was fitted with time unit '{bundle.time_unit}' but "
            f"--time-unit {opts.time_unit} was given. Its parameters, --horizon and "
            f"--discount-rate-per-period are per '{bundle.time_unit}' period: drop --time-unit "
            f"(score uses the model's unit) or refit with `clv fit --time-unit {opts.time_unit}`."
        )
    rate, margin = value_options(run, bundle.time_unit)
    discount = rate.per_period
    with_cx = _check_cx_score(opts, bundle, model_path, spark)
    intervals = _check_intervals(opts, bundle, model_path, spark)
    columns = input_columns(opts, bundle)
    cx_info: dict[str, Any] = {}
    if spark:
        from clv.cli.spark_job import score_with_spark

        table, n_scored, info, observation_end = score_with_spark(
            run,
            bundle,
            columns,
            out,
            fmt,
            horizon=horizon,
            discount_rate=discount,
            margin=margin,
            end=end_of_day(opts.as_of),
        )
    else:
        transactions, info = read_input(run, columns)
        info["engine"] = "pandas"
        rfm = summarise(run, transactions, columns, bundle.time_unit)
        data = rfm
        if with_cx:
            data, cx_info = _cx_score_data(run, transactions, rfm, bundle, columns)
        with run.step("score", f"scoring {len(rfm)} customers"):
            if intervals:
                from clv.scoring.bootstrap_scores import bootstrap_score_table

                table = bootstrap_score_table(
                    bundle,
                    data,
                    horizon=horizon,
                    discount_rate=discount,
                    margin=margin,
                    max_draws=opts.max_draws or None,
                    progress=run.progress_bars,
                )
            else:
                table = score_customers(
                    bundle,
                    data,
                    horizon=horizon,
                    discount_rate=discount,
                    margin=margin,
                    **posterior,
                )
        n_scored, observation_end = len(table), observation_end_of(rfm, opts.as_of)
    if table is not None:
        with run.step("write", f"writing {out}"):
            stage_table(commit, table, table_name)
    record = run.record(
        input={**info, "n_customers": n_scored, **cx_info},
        model={
            "path": str(model_path),
            "sha256": bundle.sha256,
            "format": "netcdf" if posterior else "json",
            "transaction_model": _model_names(bundle)[0],
            "spend_model": _model_names(bundle)[1],
            "time_unit": bundle.time_unit,
            "training_fingerprint": bundle.training.get("fingerprint"),
            **({"method": bundle.method} if posterior else {}),
        },
        parameters={
            "as_of": observation_end,
            "horizon": horizon,
            **rate.as_record(),
            "margin": margin,
            **posterior,
            **(
                {
                    "intervals": "bootstrap",
                    "bootstrap_draws": table.attrs["bootstrap_draws"],
                    "quantiles": [0.05, 0.95],
                }
                if intervals
                else {}
            ),
        },
        output=output_info(
            out, n_scored, table=table_name, frame=table, sha256=commit.staged_sha256()
        ),
    )
    run_path = commit.commit(record)
    where = f"{out} (table {table_name})" if table_name else str(out)
    run.say(f"scored {n_scored} customers -> {where} (run record {run_path})")
    return EXIT_OK
