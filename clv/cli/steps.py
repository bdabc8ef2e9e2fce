"""Steps the ``clv`` commands share: the run context, reading, summarising, fitting, scoring.

Each command module (:mod:`clv.cli.validate`, :mod:`clv.cli.fit`,
:mod:`clv.cli.score`, :mod:`clv.cli.evaluate`, :mod:`clv.cli.roi`,
:mod:`clv.cli.demo`) is a sequence of these steps; :mod:`clv.cli.main` parses
the command line, dispatches and maps failures to exit codes.
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
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from clv._version import __version__
from clv.cli.config import OPTIONS, UsageError
from clv.exceptions import DataError, DuplicateRowsWarning, Problem

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "EXIT_DATA",
    "EXIT_FIT",
    "EXIT_INTERRUPTED",
    "EXIT_IO",
    "EXIT_OK",
    "EXIT_UNEXPECTED",
    "EXIT_USAGE",
    "Run",
    "warning_lines",
    "clip_message",
    "output_commit",
    "stage_table",
    "need_option",
    "input_columns",
    "column_kwargs",
    "read_input",
    "summarise",
    "end_of_day",
    "drop_after",
    "observation_end_of",
    "check_repeat_buyers",
    "transaction_model_class",
    "needs_litt",
    "structure_of",
    "fit_models",
    "fit_spend",
    "spend_options",
    "horizon_periods",
    "score_customers",
    "posterior_options",
    "output_info",
    "value_options",
    "out_table",
]

logger = logging.getLogger("clv")

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_USAGE = 2
EXIT_DATA = 3
EXIT_FIT = 4
EXIT_IO = 5
EXIT_INTERRUPTED = 130


class Run:
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
            or bool(getattr(stream, "isatty", lambda: False)())
        )
        #: tqdm bars: off with --quiet, on with --progress, else only on a terminal
        self.progress_bars: bool | None = (
            False if opts.quiet else True if getattr(opts, "progress", False) else None
        )

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
        seen = set(warning_lines(self.caught[: self._logged]))
        for line in warning_lines(self.caught[self._logged :]):
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
        return list(dict.fromkeys(warning_lines(self.caught)))

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


#: Longest line of an error or warning message (values in messages are user data).
MAX_LINE = 1000
#: Most lines of one error message.
MAX_LINES = 60


def clip_message(text: str) -> str:
    """A message with every line, and the number of lines, bounded."""
    from clv.exceptions import clip

    lines = [clip(line, MAX_LINE) for line in str(text).splitlines()[: MAX_LINES + 1]]
    if len(lines) > MAX_LINES:
        lines[MAX_LINES:] = ["... (more lines left out)"]
    return "\n".join(lines)


def warning_lines(caught: Sequence[warnings.WarningMessage]) -> list[str]:
    return [clip_message(f"{w.category.__name__}: {w.message}") for w in caught]


def need_option(opts: argparse.Namespace, key: str, hint: str) -> Any:
    value = getattr(opts, key)
    if value is None:
        flag = next(o.flag for o in OPTIONS if o.key == key)
        raise UsageError(
            f"{flag} is required ({hint}); give it on the command line or in the --config file."
        )
    return value


def input_columns(opts: argparse.Namespace, bundle: Any = None) -> dict[str, str | None]:
    saved = bundle.columns if bundle is not None else {}
    columns = {
        "customer_col": opts.customer_col or saved.get("customer_col") or "customer_id",
        "date_col": opts.date_col or saved.get("date_col") or "date",
        "value_col": opts.value_col or saved.get("value_col"),
    }
    if bundle is not None and bundle.spend_model is None and opts.value_col is None:
        columns["value_col"] = None
    return columns


class ColumnKwargs(TypedDict):
    """The input columns as :mod:`clv.data`'s functions name them."""

    customer_id_col: str | None
    date_col: str | None
    value_col: str | None


def column_kwargs(columns: dict[str, str | None]) -> ColumnKwargs:
    """The input columns as the keyword arguments of :mod:`clv.data`'s functions."""
    return {
        "customer_id_col": columns["customer_col"],
        "date_col": columns["date_col"],
        "value_col": columns["value_col"],
    }


def read_input(run: Run, columns: dict[str, str | None]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read the input transactions; return them and the run record's ``input`` section."""
    from clv.cli.files import frame_fingerprint, input_format, read_transactions

    opts = run.opts
    path = need_option(opts, "input", "the transactions to read")
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
    frame = drop_after(run, frame, info, str(columns["date_col"]))
    return frame, info


def summarise(
    run: Run,
    transactions: pd.DataFrame,
    columns: dict[str, str | None],
    time_unit: str,
    *,
    litt: bool = False,
    mean_log_value: bool = False,
) -> pd.DataFrame:
    """The per-customer summary of ``clv fit``/``score``.

    ``litt`` adds the column of the CNBD-k models, ``mean_log_value`` the one of
    Gamma-Gamma on transaction values (``--spend-likelihood transactions``).
    """
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
            **column_kwargs(columns),
            time_unit=time_unit,
            observation_end=end_of_day(as_of),
            litt=litt,
            mean_log_value=mean_log_value and columns["value_col"] is not None,
        )
    if len(rfm) == 0:
        raise DataError(
            "no customer has a transaction on or before the observation end "
            f"({as_of}); check --as-of and the date column",
            what="the transactions",
        )
    return rfm


def end_of_day(day: _dt.date | None) -> pd.Timestamp | None:
    """Last instant of ``day``: an as-of date includes that day's transactions."""
    import pandas as pd

    if day is None:
        return None
    return pd.Timestamp(day) + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")


def drop_after(run: Run, frame: pd.DataFrame, info: dict[str, Any], date_col: str) -> pd.DataFrame:
    """Drop transactions after ``--as-of`` (the state of the log as of that day).

    Dates that cannot be parsed here are kept, so the data layer reports them
    with its full message.
    """
    import pandas as pd

    end = end_of_day(run.opts.as_of)
    if end is None:
        _refuse_future_dates(frame, date_col, str(info["columns"]["customer_col"]))
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


def _refuse_future_dates(frame: pd.DataFrame, date_col: str, customer_col: str) -> None:
    """Without --as-of the last transaction ends the observation: refuse one after today.

    A single typo (2099-01-01) would move the observation end to 2099 for every
    customer and every P(alive) to about 0.
    """
    import numpy as np
    import pandas as pd

    from clv.data.validate import implausible_dates

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            dates = pd.to_datetime(frame[date_col], errors="coerce")
        if isinstance(dates.dtype, pd.DatetimeTZDtype):
            return  # reported by the data layer
        values = np.asarray(dates.to_numpy())
    except (TypeError, ValueError, OverflowError):
        return  # unparseable dates are reported by the data layer
    tomorrow = pd.Timestamp(_dt.datetime.now(_dt.UTC).date()) + pd.Timedelta(days=2)
    problems = implausible_dates(
        values, date_col, frame[customer_col].to_numpy(), "for customer_id", after=tomorrow
    )
    problems = [p for p in problems if "run date" in p.message]
    if problems:
        raise DataError(problems, what="the transactions")


def observation_end_of(rfm: pd.DataFrame, as_of: _dt.date | None) -> str | None:
    end = rfm.attrs.get("observation_end", as_of)
    return None if end is None else str(end)[:10]


def check_repeat_buyers(rfm: pd.DataFrame) -> None:
    """All one-time buyers: no repeat-purchase model can be estimated -> data error (3)."""
    import numpy as np

    if len(rfm) == 1:
        raise DataError(
            [
                Problem(
                    None,
                    "there is a single customer",
                    "the models estimate how customers differ: fit them on the transaction "
                    "log of all customers (check --customer-col)",
                    list(rfm.index),
                )
            ],
            what="the customer summary",
        )
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


def transaction_model_class(name: str) -> Any:
    from clv.models.registry import cli_models

    models = cli_models()
    if name not in models:
        raise UsageError(f"--model must be one of {', '.join(models)} for fitting; got {name!r}.")
    try:
        return models[name].cls
    except ImportError:  # a model module that this build of clv does not ship
        raise UsageError(f"--model {name} is not available in this clv version.") from None


def needs_litt(names: str | Sequence[str]) -> bool:
    """Whether fitting any of the ``--model`` names needs the ``litt`` column.

    The CNBD-k models (``mbgcnbd``, ``bgcnbd``) estimate their regularity ``k``
    from ``litt``, the sum of the log times between purchases, in periods of
    ``--time-unit`` (:func:`clv.data.rfm_summary` with ``litt=True``).
    """
    names = [names] if isinstance(names, str) else list(names)
    return any("litt" in transaction_model_class(n).spec.columns for n in names)


def structure_of(model: Any) -> dict[str, Any]:
    """Structural settings a fit chose besides ``params_`` (the CNBD-k order ``k``)."""
    k = getattr(model, "k_", None)
    return {} if k is None else {"k": int(k)}


def fit_models(
    run: Run, rfm: pd.DataFrame, model_name: str, *, with_spend: bool, label: str = ""
) -> tuple[Any, Any]:
    check_repeat_buyers(rfm)
    cls = transaction_model_class(model_name)
    with run.step(f"fit_{model_name}{label}", f"fitting {model_name} on {len(rfm)} customers"):
        transaction_model = cls(penalizer=run.opts.penalizer).fit(rfm)
    spend_model = fit_spend(run, rfm, label) if with_spend else None
    return transaction_model, spend_model


def fit_spend(run: Run, rfm: pd.DataFrame, label: str = "") -> Any:
    """Gamma-Gamma on the whole frame: it fits on the repeat buyers with positive spend.

    (Exactly what the Python API does; zero-value repeat buyers are left out of the
    likelihood with a warning and scored like everyone else.)
    """
    from clv.models.gamma_gamma import GammaGammaModel

    likelihood = getattr(run.opts, "spend_likelihood", None) or "mean"
    if likelihood == "transactions":
        _check_mean_log_value(rfm)
    with run.step(f"fit_gamma_gamma{label}", "fitting Gamma-Gamma"):
        model = GammaGammaModel(
            penalizer=run.opts.penalizer,
            likelihood=likelihood,
            q_constraint=bool(getattr(run.opts, "q_constraint", False)),
        ).fit(rfm)
    q = float(model.params_["q"])
    if not q > 1.0:  # `clv score` would refuse the bundle: say so now, write nothing
        raise DataError(
            [
                Problem(
                    "monetary_value",
                    f"has so heavy a right tail across customers that "
                    f"Gamma-Gamma's q = {q:.3g} <= 1: the mean spend of a new or one-time "
                    "customer is infinite",
                    "check the value column for outliers (or cap them) and refit, or fit "
                    "without --value-col",
                )
            ],
            what="the customer summary",
        )
    return model


def spend_options(opts: argparse.Namespace, *, with_spend: bool) -> bool:
    """Check ``--spend-likelihood`` and ``--q-constraint``; whether ``mean_log_value`` is needed."""
    likelihood = getattr(opts, "spend_likelihood", None) or "mean"
    given = [
        flag
        for flag, on in (
            (f"--spend-likelihood {likelihood}", likelihood != "mean"),
            ("--q-constraint", bool(getattr(opts, "q_constraint", False))),
        )
        if on
    ]
    if not given:
        return False
    where = " and ".join(given)
    if not with_spend:
        raise UsageError(
            f"{where} set the Gamma-Gamma spend model, which is fitted only with --value-col; "
            "add --value-col or drop them."
        )
    for option, what in (
        ("bayes", "--bayes"),
        ("cx_events", "--cx-events"),
    ):
        if getattr(opts, option, None) is not None:
            raise UsageError(
                f"{where} apply to the maximum-likelihood Gamma-Gamma without covariates; "
                f"they cannot be combined with {what}: drop one of them."
            )
    if likelihood == "transactions" and getattr(opts, "engine", None) == "spark":
        raise UsageError(
            "--spend-likelihood transactions needs mean_log_value, which --engine spark does "
            "not compute; fit with the default pandas engine."
        )
    return likelihood == "transactions"


def _check_mean_log_value(rfm: pd.DataFrame) -> None:
    """Repeat buyers need a finite ``mean_log_value``: every repeat period worth > 0."""
    import numpy as np

    from clv.data.schema import MEAN_LOG_VALUE

    bad = (rfm["frequency"].to_numpy() > 0) & ~np.isfinite(rfm[MEAN_LOG_VALUE].to_numpy())
    if bad.any():
        raise DataError(
            [
                Problem(
                    "monetary_value",
                    f"includes a repeat purchase period worth 0 for {int(bad.sum())} customers, "
                    "whose log --spend-likelihood transactions cannot take",
                    "drop zero-value rows from the value column (--value-col), or fit with "
                    "--spend-likelihood mean",
                    list(rfm.index[bad][:5]),
                )
            ],
            what="the customer summary",
        )


def horizon_periods(value: float | None) -> int:
    if value is None:
        raise UsageError(
            "--horizon is required (periods of the model's time unit, e.g. 52 "
            "weeks); give it on the command line or in the --config file."
        )
    if value < 1 or value != math.floor(value):
        raise UsageError(f"--horizon must be a whole number of periods >= 1, got {value:g}.")
    return int(value)


def score_customers(
    bundle: Any,
    rfm: pd.DataFrame,
    *,
    horizon: int,
    discount_rate: float,
    margin: float,
    **posterior: Any,
) -> pd.DataFrame:
    """The per-customer score table (``customer_id`` first, fixed column order).

    For a posterior model file, ``posterior`` holds ``thin`` and ``max_draws``
    (see :func:`clv.scoring.posterior_scores.posterior_score_table`).
    """
    from clv.scoring.posterior import PosteriorBundle

    if isinstance(bundle, PosteriorBundle):
        from clv.scoring.posterior_scores import posterior_score_table

        return posterior_score_table(
            bundle, rfm, horizon=horizon, discount_rate=discount_rate, margin=margin, **posterior
        )
    from clv.scoring.tables import score_table

    return score_table(
        bundle.transaction_model,
        bundle.spend_model,
        rfm,
        horizon=horizon,
        discount_rate=discount_rate,
        margin=margin,
    )


def posterior_options(opts: argparse.Namespace, bundle: Any, spark: bool) -> dict[str, Any]:
    """``thin`` and ``max_draws`` for a posterior model file (empty for a JSON bundle)."""
    from clv.scoring.posterior import PosteriorBundle

    if not isinstance(bundle, PosteriorBundle):
        return {}
    if spark:
        raise UsageError(
            "--engine spark scores JSON model bundles only; score a posterior "
            "model file (.nc) with the default pandas engine."
        )
    if opts.thin < 1:
        raise UsageError(f"--thin must be a whole number >= 1, got {opts.thin}.")
    if opts.max_draws < 0:
        raise UsageError(f"--max-draws must be >= 0 (0: every draw), got {opts.max_draws}.")
    return {"thin": opts.thin, "max_draws": opts.max_draws or None}


def output_commit(
    opts: argparse.Namespace, out: Path, table: str | None = None, **inputs: Any
) -> Any:
    """Refuse an output that names an input; the :class:`~clv.cli.commit.OutputCommit` of it.

    Output and run record are then staged and installed as one unit
    (:meth:`~clv.cli.commit.OutputCommit.commit`).
    """
    from clv.cli.commit import OutputCommit, refuse_input_as_output

    sources = {
        "input": getattr(opts, "input", None),
        "--config": opts.config,
        "--cx-events": getattr(opts, "cx_events", None),
        "--customers": getattr(opts, "customers", None),
        **{f"--{k.replace('_', '-')}": v for k, v in inputs.items()},
    }
    refuse_input_as_output(
        out,
        sources,
        table=table,
        input_table=getattr(opts, "table", None),
        input_query=getattr(opts, "query", None),
    )
    return OutputCommit(out, table)


def stage_table(commit: Any, frame: pd.DataFrame, table: str | None) -> None:
    """Stage a score or holdout table for ``commit`` (a file, or a DuckDB table)."""
    from clv.cli.files import write_table

    if table is not None:
        commit.stage_table(frame)
    else:
        commit.stage(lambda path: write_table(frame, path))


def output_info(
    path: Path,
    n_rows: int,
    *,
    table: str | None = None,
    frame: pd.DataFrame | None = None,
    sha256: str | None = None,
) -> dict[str, Any]:
    from clv.cli.files import frame_fingerprint, output_format
    from clv.scoring.bundle import file_sha256

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
        "sha256": sha256 if sha256 is not None else file_sha256(path),
        "n_rows": n_rows,
    }


def value_options(run: Run, time_unit: str) -> tuple[Any, float]:
    """The discount rate (annual by default, converted once) and margin; says the rate.

    Returns ``(rate, margin)`` with ``rate`` a :class:`clv.value.DiscountRate`
    (``rate.per_period`` discounts, ``rate.as_record()`` goes to the run record).
    """
    from clv.cli.rates import money_settings

    rate, margin = money_settings(run.opts, time_unit)
    run.say(f"discount rate: {rate.describe()}; margin {margin:g}")
    return rate, margin


def out_table(opts: argparse.Namespace, fmt: str) -> str | None:
    """The DuckDB table to write (``None`` for file outputs)."""
    from clv.cli.files import DEFAULT_TABLE

    if fmt != "duckdb":
        if opts.out_table is not None:
            raise UsageError("--out-table only applies to a DuckDB output (--out *.duckdb).")
        return None
    return opts.out_table or DEFAULT_TABLE
