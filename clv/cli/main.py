"""The ``clv`` command: validate, fit, score, evaluate and demo, for scheduled jobs.

::

    clv validate tx.csv --customer-col id --date-col date --value-col amount
    clv fit      tx.csv --value-col amount --model bgnbd --as-of 2024-06-30 --out model.json
    clv score    tx.csv --model model.json --as-of 2024-06-30 --horizon 52 --out scores.csv
    clv evaluate tx.csv --calibration-end 2024-01-31 --as-of 2024-06-30 --model bgnbd,pnbd
    clv demo     --out out/
    clv score    --config job.toml

Exit codes (see ``docs/production.md``):

====  =====================================================================
0     success
1     unexpected error (a bug: rerun with ``--debug`` and report it)
2     usage error: bad flag or job file, model fitted in another time unit
3     data error: the input is malformed, lacks a column, has no rows, or
      no repeat buyers to fit on
4     fit error: the optimiser did not converge
5     I/O error: a file is missing or unwritable; a model file is corrupt,
      of another kind or of another schema version (``ModelFileError``)
130   interrupted (Ctrl-C)
====  =====================================================================

Heavy modules (models, pandas I/O, DuckDB, matplotlib) are imported inside the
subcommand that needs them; ``clv score`` never imports matplotlib or PyMC.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import logging
import math
import platform
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clv._progress import progress_enabled
from clv._version import __version__
from clv.cli.config import COMMANDS, OPTIONS, UsageError, load_config, option_value
from clv.exceptions import (
    ConvergenceError,
    DataError,
    DuplicateRowsWarning,
    ModelFileError,
    Problem,
)

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["EXIT_DATA", "EXIT_FIT", "EXIT_IO", "EXIT_OK", "EXIT_UNEXPECTED", "EXIT_USAGE", "main"]

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_DATA = 3
EXIT_FIT = 4
EXIT_IO = 5
EXIT_INTERRUPTED = 130

logger = logging.getLogger("clv")

_DESCRIPTIONS = {
    "validate": "Check a transaction log and summarise it; exit 3 with every problem found.",
    "fit": "Fit a transaction model (and Gamma-Gamma when --value-col is given); write a model "
    "bundle.",
    "score": "Score every customer in a transaction log with a model bundle: P(alive), expected "
    "purchases, expected spend and CLV.",
    "evaluate": "Fit on a calibration period, predict the holdout period, report the errors.",
    "roi": "Link CX signals to purchases, retention and spend, then value experience "
    "investments: finance table, portfolio, sensitivity (CSV outputs). Investments on new "
    "customers need --acquisition or --new-customers.",
    "report": "Like roi, plus a self-contained HTML report for finance.",
    "demo": "End-to-end run on bundled data: CDNOW scoring, then the CX world's drivers, ROI "
    "and report.",
}
_DEFAULT_DEMO_OUT = "out"


# ---------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser (every option of :data:`clv.cli.config.OPTIONS`)."""
    parser = argparse.ArgumentParser(
        prog="clv",
        description="Customer lifetime value from transaction logs: fit, score and evaluate "
        "BG/NBD, MBG/NBD, Pareto/NBD and Gamma-Gamma models.",
        epilog="Exit codes: 0 ok, 1 unexpected, 2 usage, 3 data error, 4 fit error, 5 I/O "
        "error. See docs/production.md.",
    )
    parser.add_argument("--version", action="version", version=f"clv {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        p = sub.add_parser(command, help=_DESCRIPTIONS[command], description=_DESCRIPTIONS[command])
        for option in OPTIONS:
            if command not in option.commands:
                continue
            if option.key == "input":
                p.add_argument("input", nargs="?", default=None, help=option.help)
            elif option.kind == "bool":
                p.add_argument(
                    *option.flags,
                    dest=option.key,
                    action="store_true",
                    default=None,
                    help=option.help,
                )
            elif option.key == "verbose":
                p.add_argument(
                    *option.flags, dest=option.key, action="count", default=None, help=option.help
                )
            elif option.kind == "int":
                p.add_argument(*option.flags, dest=option.key, default=None, type=int,
                               help=option.help, metavar=option.key.upper())
            else:
                p.add_argument(
                    *option.flags,
                    dest=option.key,
                    default=None,
                    help=option.help,
                    metavar=option.key.upper(),
                )
        p.add_argument(
            "--config",
            metavar="JOB.TOML",
            default=None,
            help="TOML job file setting any of these options; flags override it",
        )
    return parser


def _resolve(args: argparse.Namespace) -> argparse.Namespace:
    """Merge flags over the job file over the defaults; convert and check every value."""
    command = args.command
    from_file = load_config(args.config, command) if args.config else {}
    resolved = argparse.Namespace(command=command, config=args.config)
    for option in OPTIONS:
        if command not in option.commands:
            continue
        flag_value = getattr(args, option.key, None)
        if flag_value is not None:
            value = (
                flag_value
                if option.kind in ("bool", "int") or option.key == "input"
                else option_value(option, flag_value, source="command line")
            )
        elif option.key in from_file:
            value = from_file[option.key]
        else:
            value = option.default
        setattr(resolved, option.key, value)
    return resolved


# ---------------------------------------------------------------------- run context
class _Run:
    """Timings, progress lines and the run record of one command."""

    def __init__(self, opts: argparse.Namespace, argv: Sequence[str]) -> None:
        self.opts = opts
        self.argv = list(argv)
        self.started = _dt.datetime.now(_dt.UTC)
        self.t0 = time.perf_counter()
        self.timings: dict[str, float] = {}
        self.caught: list[warnings.WarningMessage] = []
        self._logged = 0
        self.unread_columns: list[str] = []
        stream = sys.stderr
        self.show_progress = (not opts.quiet) and (
            bool(getattr(opts, "progress", False))
            or bool(getattr(stream, "isatty", lambda: False)()))
        #: tqdm bars: off with --quiet, on with --progress, else only on a terminal
        self.progress_bars: bool | None = (False if opts.quiet else
                                           True if getattr(opts, "progress", False) else None)

    def progress(self, message: str) -> None:
        """One progress line on stderr (TTY only, not with --quiet)."""
        if self.show_progress:
            print(f"clv {self.opts.command}: {message}", file=sys.stderr, flush=True)

    @contextlib.contextmanager
    def step(self, name: str, message: str) -> Iterator[None]:
        """Time a step (recorded as ``timings_s[name]``) and announce it."""
        self.progress(message + " ...")
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                if self.unread_columns:
                    # Only the needed columns are read, so rows that repeat (customer, date,
                    # value) look like "exact duplicates" to the data layer although columns
                    # left unread may tell them apart; they are merged as same-period purchases.
                    warnings.filterwarnings("ignore", category=DuplicateRowsWarning)
                yield
        finally:
            self.timings[name] = round(self.timings.get(name, 0.0) + time.perf_counter() - start, 6)
            logger.debug("%s took %.3f s", name, self.timings[name])
            self.flush_warnings()

    def flush_warnings(self) -> None:
        """Log the warnings caught since the last call (each distinct message once)."""
        seen = set(_warning_lines(self.caught[: self._logged]))
        for line in _warning_lines(self.caught[self._logged :]):
            if line not in seen:
                seen.add(line)
                logger.warning("%s", line)
        self._logged = len(self.caught)

    def say(self, text: str) -> None:
        """Print a result line on stdout unless --quiet."""
        if not self.opts.quiet:
            print(text)

    def warning_messages(self) -> list[str]:
        """Distinct warnings of the run, in order."""
        return list(dict.fromkeys(_warning_lines(self.caught)))

    def record(self, **sections: Any) -> dict[str, Any]:
        """The JSON run record: versions, options, sections, timings, warnings."""
        self.timings["total"] = round(time.perf_counter() - self.t0, 6)
        return {
            "command": self.opts.command,
            "status": "ok",
            "clv_version": __version__,
            "python": platform.python_version(),
            "started_at": self.started.isoformat(timespec="seconds"),
            "argv": self.argv,
            "config": self.opts.config,
            **sections,
            "timings_s": dict(self.timings),
            "warnings": self.warning_messages(),
        }


def _warning_lines(caught: Sequence[warnings.WarningMessage]) -> list[str]:
    return [f"{w.category.__name__}: {w.message}" for w in caught]


# ---------------------------------------------------------------------- shared steps
def _need(opts: argparse.Namespace, key: str, hint: str) -> Any:
    value = getattr(opts, key)
    if value is None:
        flag = next(o.flag for o in OPTIONS if o.key == key)
        raise UsageError(
            f"{flag} is required ({hint}); give it on the command line or in the --config file."
        )
    return value


def _columns(opts: argparse.Namespace, bundle: Any = None) -> dict[str, str | None]:
    saved = bundle.columns if bundle is not None else {}
    columns = {
        "customer_col": opts.customer_col or saved.get("customer_col") or "customer_id",
        "date_col": opts.date_col or saved.get("date_col") or "date",
        "value_col": opts.value_col or saved.get("value_col"),
    }
    if bundle is not None and bundle.spend_model is None and opts.value_col is None:
        columns["value_col"] = None
    return columns


def _read(run: _Run, columns: dict[str, str | None]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read the input transactions; return them and the run record's ``input`` section."""
    from clv.cli.io import frame_fingerprint, input_format, read_transactions

    opts = run.opts
    path = _need(opts, "input", "the transactions to read")
    wanted = [c for c in (columns["customer_col"], columns["date_col"], columns["value_col"]) if c]
    if len(set(wanted)) != len(wanted):
        raise UsageError(
            f"--customer-col, --date-col and --value-col must be different columns; got {wanted}."
        )
    with run.step("read", f"reading {path}"):
        frame, source_columns = read_transactions(
            path,
            wanted,
            fmt=opts.input_format,
            table=opts.table,
            query=opts.query,
            id_column=columns["customer_col"],
        )
        run.unread_columns = [c for c in source_columns if c not in wanted]
        info = {
            "path": str(path),
            "format": input_format(path, opts.input_format),
            **({"table": opts.table} if opts.table else {}),
            **({"query": opts.query} if opts.query else {}),
            "columns": columns,
            "fingerprint": frame_fingerprint(frame),
            "n_rows": len(frame),
        }
    logger.info("read %d rows from %s", len(frame), path)
    frame = _drop_after(run, frame, info, str(columns["date_col"]))
    return frame, info


def _summarise(
    run: _Run, transactions: pd.DataFrame, columns: dict[str, str | None], time_unit: str
) -> pd.DataFrame:

    from clv.data import rfm_summary

    as_of = run.opts.as_of
    if as_of is None:
        logger.info(
            "no --as-of given: observation ends at the last transaction; set --as-of "
            "for reproducible reruns"
        )
    with run.step("summarise", "summarising transactions per customer"):
        rfm = rfm_summary(
            transactions,
            customer_id_col=columns["customer_col"],
            date_col=columns["date_col"],
            value_col=columns["value_col"],
            time_unit=time_unit,
            observation_end=_end_of_day(as_of),
        )
    if len(rfm) == 0:
        raise DataError(
            "no customer has a transaction on or before the observation end "
            f"({as_of}); check --as-of and the date column",
            what="the transactions",
        )
    return rfm


def _end_of_day(day: _dt.date | None) -> pd.Timestamp | None:
    """Last instant of ``day``: an as-of date includes that day's transactions."""
    import pandas as pd

    if day is None:
        return None
    return pd.Timestamp(day) + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")


def _drop_after(
    run: _Run, frame: pd.DataFrame, info: dict[str, Any], date_col: str
) -> pd.DataFrame:
    """Drop transactions after ``--as-of`` (the state of the log as of that day).

    Dates that cannot be parsed here are kept, so the data layer reports them
    with its full message.
    """
    import pandas as pd

    end = _end_of_day(run.opts.as_of)
    if end is None:
        return frame
    column = frame[date_col]
    try:
        with warnings.catch_warnings():
            # pandas warns that it falls back to dateutil for unusual formats; the data
            # layer validates the dates after this and reports every bad one.
            warnings.simplefilter("ignore", UserWarning)
            dates = pd.to_datetime(column, errors="coerce")
        after = (dates > end).to_numpy(dtype=bool, na_value=False)
    except (TypeError, ValueError, OverflowError):  # e.g. timezone-aware: reported later
        return frame
    dropped = int(after.sum())
    info["n_rows_after_as_of"] = dropped
    if dropped:
        logger.info("ignoring %d transactions after --as-of %s", dropped, run.opts.as_of)
        frame = frame.loc[~after]
        if len(frame) == 0:
            raise DataError(
                [
                    Problem(
                        date_col,
                        f"has no transaction on or before --as-of "
                        f"{run.opts.as_of} (all {dropped} rows are later)",
                        "check --as-of and --date-col",
                    )
                ],
                what="the transactions",
            )
    return frame


def _observation_end(rfm: pd.DataFrame, as_of: _dt.date | None) -> str | None:
    end = rfm.attrs.get("observation_end", as_of)
    return None if end is None else str(end)[:10]


def _check_repeat_buyers(rfm: pd.DataFrame) -> None:
    """All one-time buyers: no repeat-purchase model can be estimated -> data error (3)."""
    import numpy as np

    if not bool(np.any(rfm["frequency"].to_numpy() > 0)):
        raise DataError(
            [
                Problem(
                    "frequency",
                    f"is 0 for all {len(rfm)} customers (every customer bought once)",
                    "repeat-purchase models need repeat buyers: use a longer observation window "
                    "(--as-of, or older transactions), or check --customer-col and --date-col",
                )
            ],
            what="the customer summary",
        )


def _model_class(name: str) -> Any:
    import importlib

    from clv.cli.io import TRANSACTION_MODELS

    if name not in TRANSACTION_MODELS:
        raise UsageError(
            f"--model must be one of {', '.join(TRANSACTION_MODELS)} for fitting; got {name!r}."
        )
    module, cls_name = TRANSACTION_MODELS[name]
    try:
        return getattr(importlib.import_module(module), cls_name)
    except ImportError:  # a model module that this build of clv does not ship
        raise UsageError(f"--model {name} is not available in this clv version.") from None


def _fit_models(
    run: _Run, rfm: pd.DataFrame, model_name: str, *, with_spend: bool, label: str = ""
) -> tuple[Any, Any]:
    _check_repeat_buyers(rfm)
    cls = _model_class(model_name)
    with run.step(f"fit_{model_name}{label}", f"fitting {model_name} on {len(rfm)} customers"):
        transaction_model = cls(penalizer=run.opts.penalizer).fit(rfm)
    spend_model = _fit_spend(run, rfm, label) if with_spend else None
    return transaction_model, spend_model


def _fit_spend(run: _Run, rfm: pd.DataFrame, label: str = "") -> Any:
    """Gamma-Gamma on the whole frame: it fits on the repeat buyers with positive spend.

    (Exactly what the Python API does; zero-value repeat buyers are left out of the
    likelihood with a warning and scored like everyone else.)
    """
    from clv.models.gamma_gamma import GammaGammaModel

    with run.step(f"fit_gamma_gamma{label}", "fitting Gamma-Gamma"):
        return GammaGammaModel(penalizer=run.opts.penalizer).fit(rfm)




def _horizon(value: float | None) -> int:
    if value is None:
        raise UsageError(
            "--horizon is required (periods of the model's time unit, e.g. 52 "
            "weeks); give it on the command line or in the --config file."
        )
    if value < 1 or value != math.floor(value):
        raise UsageError(f"--horizon must be a whole number of periods >= 1, got {value:g}.")
    return int(value)


def _score_table(
    bundle: Any, rfm: pd.DataFrame, *, horizon: int, discount_rate: float, margin: float,
    **posterior: Any,
) -> pd.DataFrame:
    """The per-customer score table (``customer_id`` first, fixed column order).

    For a posterior model file, ``posterior`` holds ``thin`` and ``max_draws``
    (see :func:`clv.cli.posterior_scoring.posterior_score_table`).
    """
    from clv.cli.posterior import PosteriorBundle

    if isinstance(bundle, PosteriorBundle):
        from clv.cli.posterior_scoring import posterior_score_table

        return posterior_score_table(bundle, rfm, horizon=horizon, discount_rate=discount_rate,
                                     margin=margin, **posterior)
    from clv.cli.scoring import score_table

    return score_table(bundle.transaction_model, bundle.spend_model, rfm, horizon=horizon,
                       discount_rate=discount_rate, margin=margin)


def _posterior_options(opts: argparse.Namespace, bundle: Any, spark: bool) -> dict[str, Any]:
    """``thin`` and ``max_draws`` for a posterior model file (empty for a JSON bundle)."""
    from clv.cli.posterior import PosteriorBundle

    if not isinstance(bundle, PosteriorBundle):
        return {}
    if spark:
        raise UsageError("--engine spark scores JSON model bundles only; score a posterior "
                         "model file (.nc) with the default pandas engine.")
    if opts.thin < 1:
        raise UsageError(f"--thin must be a whole number >= 1, got {opts.thin}.")
    if opts.max_draws < 0:
        raise UsageError(f"--max-draws must be >= 0 (0: every draw), got {opts.max_draws}.")
    return {"thin": opts.thin, "max_draws": opts.max_draws or None}


def _write_record(
    run: _Run, out: Path, record: dict[str, Any], *, table: str | None = None
) -> Path:
    from clv.cli.io import write_json

    name = out.name.rstrip("/") or "output"
    suffix = f".{table}.run.json" if table else ".run.json"
    target = out.with_name(name + suffix)
    write_json(record, target)
    return target


def _output_info(
    path: Path, n_rows: int, *, table: str | None = None, frame: pd.DataFrame | None = None
) -> dict[str, Any]:
    from clv.cli.io import file_sha256, frame_fingerprint, output_format

    if path.is_dir():
        return {"path": str(path), "format": "parquet directory", "n_rows": n_rows}
    if table is not None:
        return {
            "path": str(path),
            "format": "duckdb",
            "table": table,
            "fingerprint": None if frame is None else frame_fingerprint(frame),
            "n_rows": n_rows,
        }
    return {
        "path": str(path),
        "format": output_format(path),
        "sha256": file_sha256(path),
        "n_rows": n_rows,
    }


def _money(run: _Run, time_unit: str) -> tuple[Any, float]:
    """The discount rate (annual by default, converted once) and margin; says the rate."""
    from clv.cli.rates import money_settings

    rate, margin = money_settings(run.opts, time_unit)
    run.say(f"discount rate: {rate.describe()}; margin {margin:g}")
    return rate, margin


# ---------------------------------------------------------------------- commands
def _cmd_validate(run: _Run) -> int:
    import json

    from clv.data import validate_transactions

    opts = run.opts
    columns = _columns(opts)
    transactions, info = _read(run, columns)
    with run.step("validate", "validating"):
        validate_transactions(
            transactions,
            customer_id_col=columns["customer_col"],
            date_col=columns["date_col"],
            value_col=columns["value_col"],
        )
    rfm = _summarise(run, transactions, columns, opts.time_unit or "W")
    dates = transactions[columns["date_col"]]
    result = {
        "input": info["path"],
        "n_rows": info["n_rows"],
        "n_customers": len(rfm),
        "n_repeat_buyers": int((rfm["frequency"] > 0).sum()),
        "first_date": str(dates.min())[:10],
        "last_date": str(dates.max())[:10],
        "observation_end": _observation_end(rfm, opts.as_of),
        "time_unit": opts.time_unit or "W",
        "mean_frequency": float(rfm["frequency"].mean()),
        "mean_T": float(rfm["T"].mean()),
        "fingerprint": info["fingerprint"],
    }
    if opts.json:
        print(json.dumps(result, indent=2))
    else:
        run.say(
            f"OK: {info['path']}: {result['n_rows']} transactions, {result['n_customers']} "
            f"customers ({result['n_repeat_buyers']} repeat buyers), "
            f"{result['first_date']} to {result['last_date']}."
        )
    return EXIT_OK


def _cmd_fit(run: _Run) -> int:
    from clv.cli.io import Bundle, check_output_path, write_bundle

    opts = run.opts
    out = check_output_path(_need(opts, "out", "the model file to write, e.g. model.json"))
    model_name = opts.model or "bgnbd"
    _model_class(model_name)
    with_cx = _check_cx_options(opts, model_name)
    if opts.bayes is not None:
        return _cmd_fit_bayes(run, out, model_name)
    if out.suffix.lower() == ".nc":
        raise UsageError(f"--out {out} names a netCDF posterior model file; add --bayes "
                         "nuts|map|advi to fit one, or write the JSON bundle to a .json file.")
    columns = _columns(opts)
    time_unit = opts.time_unit or "W"
    transactions, rfm, info = _training_summary(run, columns, time_unit)
    features = None
    if with_cx:
        transaction_model, spend_model, features = _fit_cx_models(
            run, transactions, rfm, columns, model_name
        )
    else:
        transaction_model, spend_model = _fit_models(
            run, rfm, model_name, with_spend=columns["value_col"] is not None
        )
    bundle = Bundle(
        transaction_model,
        spend_model,
        time_unit,
        columns,
        training={
            "fingerprint": info["fingerprint"],
            "observation_end": _observation_end(rfm, opts.as_of),
            "n_rows": info["n_rows"],
            "n_customers": len(rfm),
            "input": info["path"],
        },
        features=features,
    )
    with run.step("write", f"writing {out}"):
        write_bundle(bundle, out)
    from clv.cli.io import file_sha256

    cx_record = {} if features is None else {
        "cx_events": features["cx_events"], "customers": features["customers"]}
    record = run.record(
        input={**info, "n_customers": len(rfm), **cx_record},
        model={
            "path": str(out),
            "sha256": file_sha256(out),
            **({} if features is None else {
                "cx_cutoff": features["cutoff"],
                **{k: features[k] for k in ("purchase_covariates", "dropout_covariates",
                                            "spend_covariates")},
            }),
            "transaction_model": type(transaction_model).__name__,
            "spend_model": (None if spend_model is None else type(spend_model).__name__),
            "time_unit": time_unit,
            "log_likelihood": transaction_model.log_likelihood_,
            "params": transaction_model.params_.to_dict(),
        },
    )
    run_path = _write_record(run, out, record)
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
    run: _Run, columns: dict[str, str | None], time_unit: str
) -> tuple[pd.DataFrame | None, pd.DataFrame, dict[str, Any]]:
    """Transactions (``None`` with Spark), RFM summary and ``input`` section for ``clv fit``.

    With ``--engine spark``, Spark reads, checks and summarises the transactions
    and only the summary (one row per customer) is collected; the models are
    then fitted by the same code as with the pandas engine.
    """
    if run.opts.engine == "spark":
        from clv.cli.spark_job import collect_summary

        rfm, info = collect_summary(run, columns, time_unit, _end_of_day(run.opts.as_of))
        return None, rfm, info
    transactions, info = _read(run, columns)
    return transactions, _summarise(run, transactions, columns, time_unit), info


def _check_cx_options(opts: argparse.Namespace, model_name: str) -> bool:
    """Whether ``clv fit`` fits CX covariates; usage errors for bad combinations."""
    if opts.cx_events is None:
        if opts.customers is not None:
            raise UsageError("--customers only applies with --cx-events (CX covariates).")
        return False
    from clv.cli.cx_features import require_cx_model

    require_cx_model(model_name)
    if opts.engine == "spark":
        raise UsageError("--engine spark does not fit CX covariates (--cx-events); use the "
                         "default pandas engine.")
    if opts.bayes is not None:
        raise UsageError("--cx-events does not apply to --bayes: CX covariates are fitted by "
                         "maximum likelihood into a JSON bundle; drop --bayes.")
    _need(opts, "as_of", "with --cx-events: the last day of the CX events and purchases used")
    return True


def _fit_cx_models(
    run: _Run, transactions: pd.DataFrame, rfm: pd.DataFrame, columns: dict[str, str | None],
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
    _check_repeat_buyers(rfm)
    cutoff = cutoff_of(opts.as_of)
    with run.step("read_cx", "reading CX events and customers"):
        inputs = read_cx_inputs(opts.cx_events, opts.customers,
                                transactions[str(columns["customer_col"])])
    with run.step("features", f"building CX features as of {cutoff.date()}"):
        signals = validate_cx_events(inputs.events)["signal"].unique()
        builder = default_feature_builder(signals)
        features = builder.fit_transform(inputs.events, inputs.customers, cutoff=cutoff,
                                         customer_ids=rfm.index)
        data = join_features(rfm, features)
    with_spend = columns["value_col"] is not None
    zero = None  # Gamma-Gamma leaves zero-value repeat buyers out of its fit itself
    with run.step(f"fit_{model_name}_cx",
                  f"fitting {model_name} with CX covariates on {len(rfm)} customers"):
        tm, sm, covariates = fit_covariate_models(
            _model_class(model_name), data, builder.feature_names_,
            penalizer=opts.penalizer, with_spend=with_spend, zero=zero)
    logger.info("CX covariates: %s", ", ".join(covariates["purchase_covariates"]))
    return tm, sm, features_section(builder, covariates, cutoff, inputs)


def _cx_score_data(
    run: _Run, transactions: pd.DataFrame, rfm: pd.DataFrame, bundle: Any,
    columns: dict[str, str | None],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The RFM frame joined with the bundle's CX features as of the day after --as-of."""
    from clv.cli.cx_features import builder_from_section, cutoff_of, join_features, read_cx_inputs

    opts = run.opts
    section = bundle.features
    builder = builder_from_section(section, opts.model)
    cutoff = cutoff_of(opts.as_of)
    with run.step("read_cx", "reading CX events and customers"):
        inputs = read_cx_inputs(opts.cx_events, opts.customers,
                                transactions[str(columns["customer_col"])],
                                builder.customer_id_col)
    with run.step("features", f"CX features as of {cutoff.date()} (fitted builder)"):
        features = builder.transform(inputs.events, inputs.customers, cutoff=cutoff,
                                     customer_ids=rfm.index)
    return join_features(rfm, features), {**inputs.info, "cx_cutoff": cutoff.date().isoformat()}


def _check_cx_score(opts: argparse.Namespace, bundle: Any, model_path: str, spark: bool) -> bool:
    """Whether ``clv score`` joins CX features; usage errors for bad combinations."""
    if getattr(bundle, "features", None) is None:
        if opts.cx_events is not None or opts.customers is not None:
            raise UsageError(f"--cx-events and --customers apply to a model fitted with `clv fit "
                             f"--cx-events`; '{model_path}' has no CX covariates. Drop them.")
        return False
    if opts.cx_events is None:
        raise UsageError(f"--cx-events is required: the model in '{model_path}' was fitted with "
                         "CX covariates; pass the CX events file (features are rebuilt as of "
                         "the day after --as-of).")
    if spark:
        raise UsageError("--engine spark does not score models with CX covariates; use the "
                         "default pandas engine.")
    _need(opts, "as_of", "with CX covariates: features use the CX events before the next day")
    return True


def _check_bayes_options(opts: argparse.Namespace, out: Path) -> dict[str, Any]:
    """Sampler arguments of ``fit --bayes`` (checked)."""
    if out.suffix.lower() != ".nc":
        raise UsageError(f"--bayes writes a netCDF posterior model file: --out must end with .nc "
                         f"(got {out}).")
    if opts.penalizer:
        raise UsageError("--penalizer does not apply to --bayes (the priors regularise the "
                         "fit); drop it.")
    for key, low in (("draws", 1), ("tune", 0), ("chains", 1)):
        if getattr(opts, key) < low:
            raise UsageError(f"--{key} must be a whole number >= {low}, got {getattr(opts, key)}.")
    if opts.bayes == "nuts":
        # NUTS shows its bar on a terminal or with --progress; never with --quiet
        bars = False if opts.quiet else (True if getattr(opts, "progress", False) else None)
        return {"draws": opts.draws, "tune": opts.tune, "chains": opts.chains, "cores": 1,
                "random_seed": opts.seed, "progressbar": progress_enabled(bars)}
    if opts.bayes == "advi":
        return {"draws": opts.draws, "random_seed": opts.seed}
    return {"random_seed": opts.seed}


def _cmd_fit_bayes(run: _Run, out: Path, model_name: str) -> int:
    """``clv fit --bayes``: Bayesian models, written as one netCDF posterior model file."""
    from clv.cli.io import file_sha256
    from clv.cli.posterior import write_posterior_bundle

    opts = run.opts
    method = opts.bayes
    kwargs = _check_bayes_options(opts, out)
    columns = _columns(opts)
    time_unit = opts.time_unit or "W"
    _, rfm, info = _training_summary(run, columns, time_unit)
    _check_repeat_buyers(rfm)
    with run.step("import_pymc", "importing PyMC"):
        import clv.bayes
    cls = getattr(clv.bayes, _model_class(model_name).__name__)
    with run.step(f"fit_{model_name}_{method}",
                  f"fitting Bayesian {model_name} ({method}) on {len(rfm)} customers"):
        transaction_model = cls().fit(rfm, method, log_likelihood=False, **kwargs)
    spend_model = None
    if columns["value_col"] is not None:
        # the spec's fit rows leave zero-value repeat buyers out, as for the MLE
        with run.step(f"fit_gamma_gamma_{method}", f"fitting Bayesian Gamma-Gamma ({method})"):
            spend_model = clv.bayes.GammaGammaModel().fit(rfm, method,
                                                          log_likelihood=False, **kwargs)
    training = {
        "fingerprint": info["fingerprint"],
        "observation_end": _observation_end(rfm, opts.as_of),
        "n_rows": info["n_rows"],
        "n_customers": len(rfm),
        "input": info["path"],
        "method": method,
        "sampler": {k: v for k, v in kwargs.items() if k != "cores"},
    }
    with run.step("write", f"writing {out}"):
        write_posterior_bundle(transaction_model, spend_model, out, time_unit=time_unit,
                               columns=columns, training=training)
    summaries = {"transaction_model": transaction_model.summary()}
    if spend_model is not None:
        summaries["spend_model"] = spend_model.summary()
    record = run.record(
        input={**info, "n_customers": len(rfm)},
        model={
            "path": str(out),
            "format": "netcdf",
            "sha256": file_sha256(out),
            "method": method,
            "sampler": training["sampler"],
            "transaction_model": type(transaction_model).__name__,
            "spend_model": (None if spend_model is None else type(spend_model).__name__),
            "time_unit": time_unit,
            "posterior": {role: {str(k): {c: float(v) for c, v in row.items()}
                                 for k, row in table.iterrows()}
                          for role, table in summaries.items()},
        },
    )
    run_path = _write_record(run, out, record)
    if not opts.quiet:
        for role, table in summaries.items():
            name = type(transaction_model if role == "transaction_model" else spend_model).__name__
            run.say(f"{name} ({method}) posterior:")
            run.say(table.to_string(float_format=lambda v: f"{v:.4g}"))
        run.say(f"wrote {out} (run record {run_path})")
    return EXIT_OK


def _read_model_file(path: str) -> Any:
    """A JSON bundle (:class:`~clv.cli.io.Bundle`) or a netCDF posterior model file."""
    from clv.cli.io import read_bundle
    from clv.cli.posterior import is_netcdf, read_posterior_bundle

    return read_posterior_bundle(path) if is_netcdf(path) else read_bundle(path)


def _model_names(bundle: Any) -> tuple[str, str | None]:
    """Class names of the transaction and spend models of a bundle."""
    from clv.cli.posterior import PosteriorBundle

    if isinstance(bundle, PosteriorBundle):
        spend = bundle.spend_model
        return bundle.transaction_model.model, None if spend is None else spend.model
    spend_model = bundle.spend_model
    return (type(bundle.transaction_model).__name__,
            None if spend_model is None else type(spend_model).__name__)


def _cmd_score(run: _Run) -> int:
    from clv.cli.io import check_output_path, output_format, write_table

    opts = run.opts
    spark = opts.engine == "spark"
    out_arg = _need(opts, "out", "the scores to write: .csv, .parquet or .duckdb")
    fmt = output_format(out_arg, directory=spark)
    out = check_output_path(out_arg, directory=fmt == "directory")
    table_name = _out_table(opts, fmt)
    model_path = _need(opts, "model", "the model file written by `clv fit`")
    horizon = _horizon(opts.horizon)
    with run.step("load_model", f"loading {model_path}"):
        bundle = _read_model_file(model_path)
    posterior = _posterior_options(opts, bundle, spark)
    if opts.time_unit is not None and opts.time_unit != bundle.time_unit:
        raise UsageError(
            f"the model in '{model_path}' was fitted with time unit '{bundle.time_unit}' but "
            f"--time-unit {opts.time_unit} was given. Its parameters, --horizon and "
            f"--discount-rate-per-period are per '{bundle.time_unit}' period: drop --time-unit "
            f"(score uses the model's unit) or refit with `clv fit --time-unit {opts.time_unit}`."
        )
    rate, margin = _money(run, bundle.time_unit)
    discount = rate.per_period
    with_cx = _check_cx_score(opts, bundle, model_path, spark)
    columns = _columns(opts, bundle)
    cx_info: dict[str, Any] = {}
    if spark:
        from clv.cli.spark_job import score_with_spark

        table, n_scored, info, observation_end = score_with_spark(
            run, bundle, columns, out, fmt, horizon=horizon, discount_rate=discount,
            margin=margin, end=_end_of_day(opts.as_of),
        )
    else:
        transactions, info = _read(run, columns)
        info["engine"] = "pandas"
        rfm = _summarise(run, transactions, columns, bundle.time_unit)
        data = rfm
        if with_cx:
            data, cx_info = _cx_score_data(run, transactions, rfm, bundle, columns)
        with run.step("score", f"scoring {len(rfm)} customers"):
            table = _score_table(bundle, data, horizon=horizon, discount_rate=discount,
                                 margin=margin, **posterior)
        n_scored, observation_end = len(table), _observation_end(rfm, opts.as_of)
    if table is not None:
        with run.step("write", f"writing {out}"):
            write_table(table, out, table=table_name)
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
        },
        output=_output_info(out, n_scored, table=table_name, frame=table),
    )
    run_path = _write_record(run, out, record, table=table_name)
    where = f"{out} (table {table_name})" if table_name else str(out)
    run.say(f"scored {n_scored} customers -> {where} (run record {run_path})")
    return EXIT_OK


def _out_table(opts: argparse.Namespace, fmt: str) -> str | None:
    """The DuckDB table to write (``None`` for file outputs)."""
    from clv.cli.io import DEFAULT_TABLE

    if fmt != "duckdb":
        if opts.out_table is not None:
            raise UsageError("--out-table only applies to a DuckDB output (--out *.duckdb).")
        return None
    return opts.out_table or DEFAULT_TABLE


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
    import numpy as np

    a = np.asarray(actual, dtype=np.float64)
    p = np.asarray(predicted, dtype=np.float64)
    err = p - a
    sa, sp = float(np.std(a)), float(np.std(p))
    corr = (
        None if sa == 0 or sp == 0 else float(np.mean((a - a.mean()) * (p - p.mean())) / (sa * sp))
    )
    total_a, total_p = float(a.sum()), float(p.sum())
    return {
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "actual_total": total_a,
        "predicted_total": total_p,
        "total_error_pct": None if total_a == 0 else 100.0 * (total_p - total_a) / total_a,
        "correlation": corr,
    }


def evaluate_models(
    run: _Run,
    transactions: pd.DataFrame,
    columns: dict[str, str | None],
    *,
    model_names: Sequence[str],
    calibration_end: _dt.date,
    observation_end: _dt.date | None,
    time_unit: str,
    with_spend: bool = False,
) -> tuple[pd.DataFrame, list[dict[str, Any]], dict[str, Any]]:
    """Calibration/holdout evaluation of several transaction models.

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
            customer_id_col=columns["customer_col"],
            date_col=columns["date_col"],
            value_col=columns["value_col"],
            time_unit=time_unit,
            calibration_end=_end_of_day(calibration_end),
            observation_end=_end_of_day(observation_end),
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
        model, _ = _fit_models(run, calibration, name, with_spend=False, label="_calibration")
        predicted = model.expected_purchases(frame["duration_holdout"].to_numpy(), calibration)
        per_customer[f"predicted_{name}"] = predicted.to_numpy()
        models[name] = model
        metrics.append(
            {
                "model": name,
                "class": type(model).__name__,
                "params": {k: float(v) for k, v in model.params_.items()},
                "log_likelihood": float(model.log_likelihood_),
                "n_customers": len(calibration),
                **holdout_metrics(frame["frequency_holdout"], predicted),
            }
        )
    if with_spend and "monetary_value" in calibration.columns:
        spend = _fit_spend(run, calibration, "_calibration")
        models["gamma_gamma"] = spend
        metrics.append(
            {
                "model": "gamma_gamma",
                "class": "GammaGammaModel",
                "params": {k: float(v) for k, v in spend.params_.items()},
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


def _cmd_evaluate(run: _Run) -> int:
    import json

    from clv.cli.io import check_output_path, output_format, write_table

    opts = run.opts
    out = None
    table_name = None
    if opts.out is not None:
        out = check_output_path(opts.out)
        table_name = _out_table(opts, output_format(out))
    calibration_end = _need(opts, "calibration_end", "last day of the calibration period")
    names = [n.strip() for n in (opts.model or "bgnbd").split(",") if n.strip()]
    for name in names:
        _model_class(name)
    if opts.as_of is not None and opts.as_of <= calibration_end:
        raise UsageError(
            f"--as-of ({opts.as_of}) must be after --calibration-end "
            f"({calibration_end}): the holdout period lies between them."
        )
    columns = _columns(opts)
    transactions, info = _read(run, columns)
    per_customer, metrics, _ = evaluate_models(
        run,
        transactions,
        columns,
        model_names=names,
        calibration_end=calibration_end,
        observation_end=opts.as_of,
        time_unit=opts.time_unit or "W",
        with_spend=columns["value_col"] is not None,
    )
    result = {
        "calibration_end": str(calibration_end),
        "observation_end": None if opts.as_of is None else str(opts.as_of),
        "time_unit": opts.time_unit or "W",
        "metrics": metrics,
    }
    if out is not None:
        with run.step("write", f"writing {out}"):
            write_table(per_customer, out, table=table_name)
        record = run.record(
            input={**info, "n_customers": len(per_customer)},
            parameters={k: v for k, v in result.items() if k != "metrics"},
            metrics=metrics,
            output=_output_info(out, len(per_customer), table=table_name, frame=per_customer),
        )
        _write_record(run, out, record, table=table_name)
    if opts.json:
        from clv.cli.io import _plain

        print(json.dumps(_plain(result), indent=2))
    else:
        run.say(
            f"holdout {result['calibration_end']} .. {result['observation_end'] or 'end'}, "
            f"{len(per_customer)} customers:"
        )
        run.say(metrics_table([m for m in metrics if "mae" in m]))
        if out is not None:
            run.say(f"wrote {out}")
    return EXIT_OK


def _cmd_roi(run: _Run) -> int:
    from clv.cli.roi import run_roi

    return run_roi(run, html=False)


def _cmd_report(run: _Run) -> int:
    from clv.cli.roi import run_roi

    return run_roi(run, html=True)


def _cmd_demo(run: _Run) -> int:
    from clv.cli.demo import run_demo

    return run_demo(run)


_HANDLERS: dict[str, Callable[[_Run], int]] = {
    "validate": _cmd_validate,
    "fit": _cmd_fit,
    "score": _cmd_score,
    "evaluate": _cmd_evaluate,
    "roi": _cmd_roi,
    "report": _cmd_report,
    "demo": _cmd_demo,
}


# ---------------------------------------------------------------------- entry point
def _log_level(opts: argparse.Namespace) -> int:
    if opts.debug:
        return logging.DEBUG
    if opts.log_level:
        return int(getattr(logging, opts.log_level))
    if opts.verbose:
        return logging.DEBUG if opts.verbose >= 2 else logging.INFO
    return logging.ERROR if opts.quiet else logging.WARNING


def _error(command: str, kind: str, message: str, *hints: str) -> None:
    text = str(message).rstrip()
    first, _, rest = text.partition("\n")
    lines = [f"clv {command}: {kind}: {first}"]
    if rest:
        lines.append(rest)
    lines.extend(hints)
    print("\n".join(lines), file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``clv`` command line.

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments without the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        Exit code: 0 ok, 1 unexpected, 2 usage, 3 data error, 4 fit error,
        5 I/O or model-file error, 130 interrupted.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_usage(sys.stderr)
        print("clv: error: a command is required: " + ", ".join(COMMANDS), file=sys.stderr)
        return EXIT_USAGE
    command = args.command
    debug = bool(getattr(args, "debug", False))
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("clv: %(levelname)s: %(message)s"))
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if debug else logging.WARNING)
    input_name = getattr(args, "input", None)
    run: _Run | None = None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                opts = _resolve(args)
                debug = bool(opts.debug)
                input_name = getattr(opts, "input", None)
                logger.setLevel(_log_level(opts))
                run = _Run(opts, argv)
                run.caught = caught
                return _HANDLERS[command](run)
            finally:
                if run is not None:
                    run.flush_warnings()
                else:
                    for line in dict.fromkeys(_warning_lines(caught)):
                        logger.warning("%s", line)
    except KeyboardInterrupt:
        _error(command, "interrupted", "stopped by the user; outputs were left as they were.")
        return EXIT_INTERRUPTED
    except Exception as exc:  # map every failure to an exit code and a short message
        code, kind, hints = _classify(exc, input_name)
        _error(command, kind, str(exc), *hints)
        if debug:
            traceback.print_exception(exc, file=sys.stderr)
        elif code == EXIT_UNEXPECTED:
            print("Rerun with --debug for the traceback, and please report it.", file=sys.stderr)
        return code
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def _classify(exc: BaseException, input_name: str | None) -> tuple[int, str, tuple[str, ...]]:
    """Exit code, label and hint lines for an exception."""
    if isinstance(exc, UsageError):
        return EXIT_USAGE, "usage error", ("Run `clv <command> --help` for the options.",)
    if isinstance(exc, DataError):
        where = f"data error in '{input_name}'" if input_name else "data error"
        return EXIT_DATA, where, ("Nothing was written; fix the input and rerun.",)
    if isinstance(exc, ConvergenceError):
        return (
            EXIT_FIT,
            "fit failed",
            (
                "Nothing was written. Try --penalizer 0.001, a longer history (--as-of), or "
                "another --model.",
            ),
        )
    if isinstance(exc, ModelFileError):
        return EXIT_IO, "model file error", ()
    if isinstance(exc, OSError):
        return EXIT_IO, "I/O error", ()
    return EXIT_UNEXPECTED, f"unexpected error ({type(exc).__name__})", ()
