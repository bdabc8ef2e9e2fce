"""``clv fit``: fit a transaction model (and Gamma-Gamma) and write a model bundle.

With ``--cx-events``, CX covariates (:mod:`clv.cli.cx_features`); with
``--bayes``, a posterior model file (:mod:`clv.scoring.posterior`).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clv._progress import progress_enabled
from clv.cli.config import UsageError
from clv.cli.steps import (
    EXIT_OK,
    Run,
    check_repeat_buyers,
    end_of_day,
    fit_models,
    input_columns,
    need_option,
    needs_litt,
    observation_end_of,
    output_commit,
    read_input,
    spend_options,
    structure_of,
    summarise,
    transaction_model_class,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["run_fit"]

logger = logging.getLogger("clv")


def run_fit(run: Run) -> int:
    from clv.cli.files import check_output_path
    from clv.scoring.bundle import Bundle, write_bundle

    opts = run.opts
    out = check_output_path(need_option(opts, "out", "the model file to write, e.g. model.json"))
    model_name = opts.model or "bgnbd"
    transaction_model_class(model_name)
    with_cx = _check_cx_options(opts, model_name)
    mean_log_value = spend_options(opts, with_spend=input_columns(opts)["value_col"] is not None)
    _check_bootstrap_options(opts)
    if opts.bayes is not None:
        return _run_fit_bayes(run, out, model_name)
    if out.suffix.lower() == ".nc":
        raise UsageError(
            f"--out {out} names a netCDF posterior model file; add --bayes "
            "nuts|map|advi to fit one, or write the JSON bundle to a .json file."
        )
    if out.suffix.lower() != ".json":
        raise UsageError(
            f"--out {out} must end with .json: `clv fit` writes a JSON model "
            "bundle (a top-level `out` of a job file meant for another command "
            "belongs in its [score] or [evaluate] table)."
        )
    commit = output_commit(opts, out)
    columns = input_columns(opts)
    time_unit = opts.time_unit or "W"
    transactions, rfm, info = _training_summary(
        run, columns, time_unit, litt=needs_litt(model_name), mean_log_value=mean_log_value
    )
    features = None
    if with_cx:
        if transactions is None:  # Spark: refused with --cx-events by _check_cx_options
            raise UsageError("--engine spark does not fit CX covariates (--cx-events).")
        transaction_model, spend_model, features = _fit_cx_models(
            run, transactions, rfm, columns, model_name
        )
    else:
        transaction_model, spend_model = fit_models(
            run, rfm, model_name, with_spend=columns["value_col"] is not None
        )
    boot = _bootstrap(run, rfm, transaction_model, spend_model) if opts.bootstrap else None
    bundle = Bundle(
        transaction_model,
        spend_model,
        time_unit,
        columns,
        training={
            "fingerprint": info["fingerprint"],
            "observation_end": observation_end_of(rfm, opts.as_of),
            "n_rows": info["n_rows"],
            "n_customers": len(rfm),
            "input": info["path"],
        },
        features=features,
        bootstrap=boot,
    )
    with run.step("write", f"writing {out}"):
        commit.stage(lambda path: write_bundle(bundle, path))

    cx_record = (
        {}
        if features is None
        else {"cx_events": features["cx_events"], "customers": features["customers"]}
    )
    record = run.record(
        input={**info, "n_customers": len(rfm), **cx_record},
        model={
            "path": str(out),
            "sha256": commit.staged_sha256(),
            **(
                {}
                if features is None
                else {
                    "cx_cutoff": features["cutoff"],
                    **{
                        k: features[k]
                        for k in ("purchase_covariates", "dropout_covariates", "spend_covariates")
                    },
                }
            ),
            "transaction_model": type(transaction_model).__name__,
            "spend_model": (None if spend_model is None else type(spend_model).__name__),
            **(
                {}
                if spend_model is None or features is not None
                else {
                    "spend_likelihood": spend_model.likelihood,
                    "q_constraint": bool(spend_model.q_constraint),
                    "spend_params": spend_model.params_.to_dict(),
                }
            ),
            **(
                {}
                if boot is None
                else {
                    "bootstrap": {
                        "n_requested": boot["n_requested"],
                        "n_draws": len(boot["transaction"]["draws"]),
                        "seed": boot["seed"],
                    }
                }
            ),
            "time_unit": time_unit,
            "log_likelihood": transaction_model.log_likelihood_,
            "params": transaction_model.params_.to_dict(),
            **structure_of(transaction_model),
        },
    )
    run_path = commit.commit(record)
    if not opts.quiet:
        run.say(
            f"{type(transaction_model).__name__} on {len(rfm)} customers "
            f"(log-likelihood {transaction_model.log_likelihood_:.2f}):"
        )
        run.say(transaction_model.summary().to_string(float_format=lambda v: f"{v:.4g}"))
        if spend_model is not None:
            run.say(f"GammaGammaModel on {int((rfm['frequency'] > 0).sum())} repeat buyers:")
            run.say(spend_model.summary().to_string(float_format=lambda v: f"{v:.4g}"))
        run.say(f"wrote {out} (run record {run_path})")
    return EXIT_OK


def _training_summary(
    run: Run,
    columns: dict[str, str | None],
    time_unit: str,
    *,
    litt: bool = False,
    mean_log_value: bool = False,
) -> tuple[pd.DataFrame | None, pd.DataFrame, dict[str, Any]]:
    """Transactions (``None`` with Spark), RFM summary and ``input`` section for ``clv fit``.

    With ``--engine spark``, Spark reads, checks and summarises the transactions
    and only the summary (one row per customer) is collected; the models are
    then fitted by the same code as with the pandas engine. ``litt`` adds the
    column the CNBD-k models need (pandas engine only).
    """
    if run.opts.engine == "spark":
        if litt:
            raise UsageError(
                f"--model {run.opts.model} needs litt (the sum of the log times between "
                "purchases), which --engine spark does not compute; fit it with the default "
                "pandas engine (scoring the bundle with --engine spark works)."
            )
        from clv.cli.spark_job import collect_summary

        rfm, info = collect_summary(run, columns, time_unit, end_of_day(run.opts.as_of))
        return None, rfm, info
    transactions, info = read_input(run, columns)
    rfm = summarise(run, transactions, columns, time_unit, litt=litt, mean_log_value=mean_log_value)
    return transactions, rfm, info


def _check_bootstrap_options(opts: argparse.Namespace) -> None:
    """Usage errors for ``--bootstrap`` and ``--bootstrap-seconds``."""
    from clv.models.bootstrap import MAX_DRAWS

    n = opts.bootstrap
    if not n:
        return
    if not 2 <= n <= MAX_DRAWS:
        raise UsageError(f"--bootstrap must be a whole number in [2, {MAX_DRAWS}], got {n}.")
    if not opts.bootstrap_seconds > 0:
        raise UsageError(f"--bootstrap-seconds must be > 0, got {opts.bootstrap_seconds:g}.")
    for key, flag in (("bayes", "--bayes"), ("cx_events", "--cx-events")):
        if getattr(opts, key) is not None:
            raise UsageError(
                f"--bootstrap refits the maximum-likelihood models without covariates; it "
                f"cannot be combined with {flag}: drop one of them."
            )


def _bootstrap(
    run: Run, rfm: pd.DataFrame, transaction_model: Any, spend_model: Any
) -> dict[str, Any]:
    """The bundle's ``bootstrap`` section: refits of both models on resampled customers."""
    from clv.scoring.bootstrap_scores import bootstrap_section

    opts = run.opts
    n, seed = int(opts.bootstrap), int(opts.seed)
    budget = float(opts.bootstrap_seconds)
    spend_draws = None
    with run.step("bootstrap", f"bootstrap: {n} refits on resampled customers"):
        tx_draws = transaction_model.bootstrap(
            rfm,
            n,
            random_state=seed,
            progress=run.progress_bars,
            max_seconds=budget if spend_model is None else budget / 2,
        )
        if spend_model is not None:
            spend_draws = spend_model.bootstrap(
                rfm, n, random_state=seed + 1, progress=run.progress_bars, max_seconds=budget / 2
            )
    return bootstrap_section(tx_draws, spend_draws, n=n, seed=seed)


def _check_cx_options(opts: argparse.Namespace, model_name: str) -> bool:
    """Whether ``clv fit`` fits CX covariates; usage errors for bad combinations."""
    if opts.cx_events is None:
        if opts.customers is not None:
            raise UsageError("--customers only applies with --cx-events (CX covariates).")
        return False
    from clv.cli.cx_features import require_cx_model

    require_cx_model(model_name)
    if opts.engine == "spark":
        raise UsageError(
            "--engine spark does not fit CX covariates (--cx-events); use the "
            "default pandas engine."
        )
    if opts.bayes is not None:
        raise UsageError(
            "--cx-events does not apply to --bayes: CX covariates are fitted by "
            "maximum likelihood into a JSON bundle; drop --bayes."
        )
    need_option(opts, "as_of", "with --cx-events: the last day of the CX events and purchases used")
    return True


def _fit_cx_models(
    run: Run,
    transactions: pd.DataFrame,
    rfm: pd.DataFrame,
    columns: dict[str, str | None],
    model_name: str,
) -> tuple[Any, Any, dict[str, Any]]:
    """Build CX features as of the day after --as-of, fit the covariate models.

    Returns the transaction model, the spend model (or ``None``) and the
    bundle's ``features`` section.
    """
    from clv.cli.cx_features import (
        cutoff_of,
        features_section,
        fit_covariate_models,
        join_features,
        read_cx_inputs,
    )
    from clv.cx import validate_cx_events
    from clv.cx.analysis import default_feature_builder

    opts = run.opts
    check_repeat_buyers(rfm)
    cutoff = cutoff_of(opts.as_of)
    with run.step("read_cx", "reading CX events and customers"):
        inputs = read_cx_inputs(
            opts.cx_events, opts.customers, transactions[str(columns["customer_col"])]
        )
    with run.step("features", f"building CX features as of {cutoff.date()}"):
        signals = validate_cx_events(inputs.events)["signal"].unique()
        builder = default_feature_builder([str(s) for s in signals])
        features = builder.fit_transform(
            inputs.events, inputs.customers, cutoff=cutoff, customer_ids=rfm.index
        )
        data = join_features(rfm, features)
    with_spend = columns["value_col"] is not None
    zero = None  # Gamma-Gamma leaves zero-value repeat buyers out of its fit itself
    with run.step(
        f"fit_{model_name}_cx", f"fitting {model_name} with CX covariates on {len(rfm)} customers"
    ):
        tm, sm, covariates = fit_covariate_models(
            transaction_model_class(model_name),
            data,
            builder.feature_names_,
            penalizer=opts.penalizer,
            with_spend=with_spend,
            zero=zero,
        )
    logger.info("CX covariates: %s", ", ".join(covariates["purchase_covariates"]))
    return tm, sm, features_section(builder, covariates, cutoff, inputs)


def _check_bayes_options(opts: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Sampler arguments of ``fit --bayes`` (checked)."""
    if out.suffix.lower() != ".nc":
        raise UsageError(
            f"--bayes writes a netCDF posterior model file: --out must end with .nc (got {out})."
        )
    if opts.penalizer:
        raise UsageError(
            "--penalizer does not apply to --bayes (the priors regularise the fit); drop it."
        )
    for key, low in (("draws", 1), ("tune", 0), ("chains", 1)):
        if getattr(opts, key) < low:
            raise UsageError(f"--{key} must be a whole number >= {low}, got {getattr(opts, key)}.")
    if opts.bayes == "nuts":
        # NUTS shows its bar on a terminal or with --progress; never with --quiet
        bars = False if opts.quiet else (True if getattr(opts, "progress", False) else None)
        return {
            "draws": opts.draws,
            "tune": opts.tune,
            "chains": opts.chains,
            "cores": 1,
            "random_seed": opts.seed,
            "progressbar": progress_enabled(bars),
        }
    if opts.bayes == "advi":
        return {"draws": opts.draws, "random_seed": opts.seed}
    return {"random_seed": opts.seed}


def _run_fit_bayes(run: Run, out: Path, model_name: str) -> int:
    """``clv fit --bayes``: Bayesian models, written as one netCDF posterior model file."""
    from clv.models.registry import cli_models
    from clv.scoring.posterior import write_posterior_bundle

    opts = run.opts
    bayes = [n for n, e in cli_models().items() if e.cli_bayes]
    if model_name not in bayes:
        raise UsageError(
            f"--bayes fits --model {' or '.join(bayes)}; --model {model_name} is fitted by "
            "maximum likelihood only: drop --bayes (and write --out model.json)."
        )
    method = opts.bayes
    kwargs = _check_bayes_options(opts, out)
    commit = output_commit(opts, out)
    columns = input_columns(opts)
    time_unit = opts.time_unit or "W"
    _, rfm, info = _training_summary(run, columns, time_unit)
    check_repeat_buyers(rfm)
    with run.step("import_pymc", "importing PyMC"):
        import clv.bayes
    cls = getattr(clv.bayes, transaction_model_class(model_name).__name__)
    with run.step(
        f"fit_{model_name}_{method}",
        f"fitting Bayesian {model_name} ({method}) on {len(rfm)} customers",
    ):
        transaction_model = cls().fit(rfm, method, log_likelihood=False, **kwargs)
    spend_model = None
    if columns["value_col"] is not None:
        # the spec's fit rows leave zero-value repeat buyers out, as for the MLE
        with run.step(f"fit_gamma_gamma_{method}", f"fitting Bayesian Gamma-Gamma ({method})"):
            spend_model = clv.bayes.GammaGammaModel().fit(
                rfm, method, log_likelihood=False, **kwargs
            )
    training = {
        "fingerprint": info["fingerprint"],
        "observation_end": observation_end_of(rfm, opts.as_of),
        "n_rows": info["n_rows"],
        "n_customers": len(rfm),
        "input": info["path"],
        "method": method,
        "sampler": {k: v for k, v in kwargs.items() if k != "cores"},
    }
    with run.step("write", f"writing {out}"):
        commit.stage(
            lambda path: write_posterior_bundle(
                transaction_model,
                spend_model,
                path,
                time_unit=time_unit,
                columns=columns,
                training=training,
            )
        )
    summaries = {"transaction_model": transaction_model.summary()}
    if spend_model is not None:
        summaries["spend_model"] = spend_model.summary()
    record = run.record(
        input={**info, "n_customers": len(rfm)},
        model={
            "path": str(out),
            "format": "netcdf",
            "sha256": commit.staged_sha256(),
            "method": method,
            "sampler": training["sampler"],
            "transaction_model": type(transaction_model).__name__,
            "spend_model": (None if spend_model is None else type(spend_model).__name__),
            "time_unit": time_unit,
            "posterior": {
                role: {str(k): {c: float(v) for c, v in row.items()} for k, row in table.iterrows()}
                for role, table in summaries.items()
            },
        },
    )
    run_path = commit.commit(record)
    if not opts.quiet:
        for role, table in summaries.items():
            name = type(transaction_model if role == "transaction_model" else spend_model).__name__
            run.say(f"{name} ({method}) posterior:")
            run.say(table.to_string(float_format=lambda v: f"{v:.4g}"))
        run.say(f"wrote {out} (run record {run_path})")
    return EXIT_OK
