"""``clv evaluate``: fit on a calibration period, predict the holdout period, report the errors."""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from clv.cli.config import UsageError
from clv.cli.steps import (
    EXIT_OK,
    Run,
    column_kwargs,
    end_of_day,
    fit_models,
    fit_spend,
    input_columns,
    need_option,
    needs_litt,
    out_table,
    output_commit,
    output_info,
    read_input,
    spend_options,
    stage_table,
    structure_of,
    transaction_model_class,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["evaluate_models", "holdout_metrics", "metrics_table", "run_evaluate"]

logger = logging.getLogger("clv")


def holdout_metrics(actual: Any, predicted: Any) -> dict[str, float | None]:
    """Errors of per-customer holdout predictions.

    Parameters
    ----------
    actual, predicted : array_like
        Holdout purchases and the model's expectation, one value per customer.

    Returns
    -------
    dict
        ``mae``, ``rmse``, ``actual_total``, ``predicted_total``,
        ``total_error_pct`` and Pearson ``correlation`` (``None`` when either
        side is constant).

    Examples
    --------
    >>> holdout_metrics([0, 1, 3], [0.5, 1.0, 2.5])["mae"]
    0.3333333333333333
    """
    from clv.holdout import prediction_errors

    return prediction_errors(actual, predicted)


def evaluate_models(
    run: Run,
    transactions: pd.DataFrame,
    columns: dict[str, str | None],
    *,
    model_names: Sequence[str],
    calibration_end: _dt.date,
    observation_end: _dt.date | None,
    time_unit: str,
    with_spend: bool = False,
    mean_log_value: bool = False,
) -> tuple[pd.DataFrame, list[dict[str, Any]], dict[str, Any]]:
    """Calibration/holdout evaluation of several transaction models.

    ``mean_log_value`` adds the calibration column Gamma-Gamma on transaction
    values needs (``--spend-likelihood transactions``); the spend model is
    fitted with the run's ``--spend-likelihood`` and ``--q-constraint``.

    Returns
    -------
    per_customer : DataFrame
        ``customer_id``, calibration RFM, ``frequency_holdout``,
        ``duration_holdout`` and ``predicted_<model>`` (expected purchases in the
        holdout) per model.
    metrics : list of dict
        Per model: name, parameters, calibration log-likelihood and
        :func:`holdout_metrics` (and, with ``with_spend``, a Gamma-Gamma entry).
    models : dict
        Name -> model fitted on the calibration period; ``"calibration"`` ->
        the frame of :func:`clv.data.calibration_holdout_split`.
    """

    from clv.data import calibration_holdout_split

    with run.step("split", f"splitting at {calibration_end}"):
        frame = calibration_holdout_split(
            transactions,
            **column_kwargs(columns),
            time_unit=time_unit,
            calibration_end=end_of_day(calibration_end),
            observation_end=end_of_day(observation_end),
            litt=needs_litt(model_names),
            mean_log_value=mean_log_value and with_spend,
        )
    keep = [
        c
        for c in (
            "frequency",
            "recency",
            "T",
            "monetary_value",
            "frequency_holdout",
            "duration_holdout",
        )
        if c in frame.columns
    ]
    per_customer = frame[keep].copy()
    calibration = frame.drop(columns=[c for c in frame.columns if c.endswith("_holdout")])
    calibration.attrs = dict(frame.attrs)
    metrics = []
    models: dict[str, Any] = {"calibration": frame}
    for name in model_names:
        model, _ = fit_models(run, calibration, name, with_spend=False, label="_calibration")
        predicted = model.expected_purchases(frame["duration_holdout"].to_numpy(), calibration)
        per_customer[f"predicted_{name}"] = predicted.to_numpy()
        models[name] = model
        metrics.append(
            {
                "model": name,
                "class": type(model).__name__,
                "params": {k: float(v) for k, v in model.params_.items()},
                **structure_of(model),
                "log_likelihood": float(model.log_likelihood_),
                "n_customers": len(calibration),
                **holdout_metrics(frame["frequency_holdout"], predicted),
            }
        )
    if with_spend and "monetary_value" in calibration.columns:
        spend = fit_spend(run, calibration, "_calibration")
        models["gamma_gamma"] = spend
        metrics.append(
            {
                "model": "gamma_gamma",
                "class": "GammaGammaModel",
                "params": {k: float(v) for k, v in spend.params_.items()},
                "spend_likelihood": spend.likelihood,
                "q_constraint": bool(spend.q_constraint),
                "log_likelihood": float(spend.log_likelihood_),
                "n_customers": int((calibration["frequency"] > 0).sum()),
            }
        )
    per_customer.index.name = "customer_id"
    return per_customer.reset_index(), metrics, models


def metrics_table(metrics: Sequence[dict[str, Any]]) -> str:
    """Fixed-width text table of :func:`evaluate_models` metrics."""
    header = (
        f"{'model':<12} {'log-lik':>11} {'MAE':>8} {'RMSE':>8} {'actual':>9} "
        f"{'predicted':>10} {'error %':>8} {'corr':>6}  params"
    )
    lines = [header, "-" * len(header)]

    def fmt(value: Any, spec: str, width: int) -> str:
        return f"{'-':>{width}}" if value is None else f"{value:>{width}{spec}}"

    for m in metrics:
        params = ", ".join(f"{k}={v:.4g}" for k, v in m["params"].items())
        lines.append(
            f"{m['model']:<12} {m['log_likelihood']:>11.2f} {fmt(m.get('mae'), '.4f', 8)} "
            f"{fmt(m.get('rmse'), '.4f', 8)} {fmt(m.get('actual_total'), '.0f', 9)} "
            f"{fmt(m.get('predicted_total'), '.1f', 10)} {fmt(m.get('total_error_pct'), '.1f', 8)} "
            f"{fmt(m.get('correlation'), '.3f', 6)}  {params}"
        )
    return "\n".join(lines)


def run_evaluate(run: Run) -> int:
    import json

    from clv.cli.files import check_output_path, output_format

    opts = run.opts
    out = None
    table_name = None
    commit = None
    if opts.out is not None:
        out = check_output_path(opts.out)
        table_name = out_table(opts, output_format(out))
        commit = output_commit(opts, out, table_name)
    calibration_end = need_option(opts, "calibration_end", "last day of the calibration period")
    value_col = input_columns(opts)["value_col"]
    mean_log_value = spend_options(opts, with_spend=value_col is not None)
    names = [n.strip() for n in (opts.model or "bgnbd").split(",") if n.strip()]
    for name in names:
        transaction_model_class(name)
    if opts.as_of is not None and opts.as_of <= calibration_end:
        raise UsageError(
            f"--as-of ({opts.as_of}) must be after --calibration-end "
            f"({calibration_end}): the holdout period lies between them."
        )
    columns = input_columns(opts)
    transactions, info = read_input(run, columns)
    per_customer, metrics, _ = evaluate_models(
        run,
        transactions,
        columns,
        model_names=names,
        calibration_end=calibration_end,
        observation_end=opts.as_of,
        time_unit=opts.time_unit or "W",
        with_spend=columns["value_col"] is not None,
        mean_log_value=mean_log_value,
    )
    result = {
        "calibration_end": str(calibration_end),
        "observation_end": None if opts.as_of is None else str(opts.as_of),
        "time_unit": opts.time_unit or "W",
        "metrics": metrics,
    }
    if out is not None and commit is not None:
        with run.step("write", f"writing {out}"):
            stage_table(commit, per_customer, table_name)
        record = run.record(
            input={**info, "n_customers": len(per_customer)},
            parameters={k: v for k, v in result.items() if k != "metrics"},
            metrics=metrics,
            output=output_info(
                out,
                len(per_customer),
                table=table_name,
                frame=per_customer,
                sha256=commit.staged_sha256(),
            ),
        )
        commit.commit(record)
    if opts.json:
        from clv.scoring.bundle import json_ready

        print(json.dumps(json_ready(result), indent=2))
    else:
        run.say(
            f"holdout {result['calibration_end']} .. {result['observation_end'] or 'end'}, "
            f"{len(per_customer)} customers:"
        )
        run.say(metrics_table([m for m in metrics if "mae" in m]))
        if out is not None:
            run.say(f"wrote {out}")
    return EXIT_OK
