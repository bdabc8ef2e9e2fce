"""Options of the ``clv`` command line and the TOML job file that can set them.

Every option has one entry in :data:`OPTIONS`; the argument parser and the
TOML reader are both built from it, so a key in ``job.toml`` and a flag on the
command line always mean the same thing.  Precedence: command-line flag, then
the ``[<command>]`` table of the job file, then its top-level keys, then the
default.

A job file::

    # job.toml
    input = "transactions.parquet"
    customer_col = "customer_id"
    date_col = "date"
    value_col = "value"
    time_unit = "W"

    [fit]
    model = "bgnbd"
    out = "model.json"

    [score]
    model = "model.json"            # or a posterior model file: model.nc
    as_of = 2024-06-30
    horizon = 52
    annual_discount_rate = 0.10     # or discount_rate_per_period = 0.0018 (per week)
    out = "scores.parquet"

Relative paths in a job file are relative to the job file's directory, so a
cron line may run from any working directory.
"""

from __future__ import annotations

import datetime as _dt
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clv.data.schema import TIME_UNITS

__all__ = ["COMMANDS", "OPTIONS", "Option", "UsageError", "load_config", "option_value"]

COMMANDS = ("validate", "fit", "score", "evaluate", "roi", "report", "demo")
_DATA = frozenset({"validate", "fit", "score", "evaluate", "roi", "report"})
_ROI = frozenset({"roi", "report"})
_FITTING = frozenset({"fit", "evaluate"})
_ALL = frozenset(COMMANDS)
_MONEY = frozenset({"score", "demo", "roi", "report"})
#: Timing distributions of :class:`clv.models.AcquisitionModel` (not imported here: the
#: option table stays free of the model code).
ACQUISITION_DISTRIBUTIONS = ("exponential-gamma", "weibull-gamma", "exponential", "weibull")


class UsageError(Exception):
    """The command line or the job file is wrong (exit code 2)."""


@dataclass(frozen=True)
class Option:
    """One option, settable as a flag and as a job-file key.

    Attributes
    ----------
    key : str
        Name in the job file and attribute name after parsing.
    flags : tuple of str
        Command-line spellings (the first long one is shown in messages).
    kind : {"str", "path", "float", "int", "date", "bool", "models"}
        How values are checked and converted.
    commands : frozenset of str
        Subcommands that accept the option.
    help : str
        One-line help text.
    default : object
        Value when neither flag nor job file sets it.
    choices : tuple of str, optional
        Allowed values (``str`` options).
    """

    key: str
    flags: tuple[str, ...]
    kind: str
    commands: frozenset[str]
    help: str
    default: Any = None
    choices: tuple[str, ...] | None = None

    @property
    def flag(self) -> str:
        """The long flag (``INPUT`` for the positional argument), for messages."""
        return next((f for f in self.flags if f.startswith("--")), self.key.upper())


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

OPTIONS: tuple[Option, ...] = (
    Option(
        "input",
        ("input",),
        "path",
        _DATA,
        "transactions: a .csv / .parquet file or a DuckDB database (.duckdb, .db)",
    ),
    Option(
        "input_format",
        ("--input-format",),
        "str",
        _DATA,
        "format of INPUT when its extension does not say (default: from the extension)",
        choices=("csv", "parquet", "duckdb"),
    ),
    Option("table", ("--table",), "str", _DATA, "DuckDB input: table (or view) to read"),
    Option(
        "query", ("--query",), "str", _DATA, "DuckDB input: SQL query returning the transactions"
    ),
    Option(
        "customer_col",
        ("--customer-col",),
        "str",
        _DATA,
        "column with the customer id (default: customer_id, or the model's for score)",
    ),
    Option(
        "date_col",
        ("--date-col",),
        "str",
        _DATA,
        "column with the transaction date (default: date, or the model's for score)",
    ),
    Option(
        "value_col",
        ("--value-col",),
        "str",
        _DATA,
        "column with the transaction value; needed for spend and CLV (default: none, or "
        "the model's for score)",
    ),
    Option(
        "time_unit",
        ("--time-unit",),
        "str",
        _DATA,
        "period of recency, T and the horizon: D, W, M, Q or Y, or a multiple of one such as "
        "7D (7-day weeks from each customer's first day) or 30D (default: W; score uses the "
        "model's)",
    ),
    Option(
        "as_of",
        ("--as-of", "--observation-end"),
        "date",
        _DATA,
        "observation end (YYYY-MM-DD); transactions after it are ignored (default: the last "
        "transaction date). Set it for reproducible reruns",
    ),
    Option(
        "calibration_end",
        ("--calibration-end",),
        "date",
        frozenset({"evaluate"}),
        "evaluate: last day of the calibration period (YYYY-MM-DD)",
    ),
    Option(
        "model",
        ("--model",),
        "str",
        frozenset({"fit", "score", "evaluate"}),
        "fit/evaluate: bgnbd, mbgnbd, pnbd, nbd, mbgcnbd or bgcnbd (evaluate: several, comma "
        "separated); mbgcnbd/bgcnbd (regular purchasing, order k by profile likelihood) also "
        "summarise litt, the sum of the log times between purchases in periods of --time-unit: "
        "use a fine unit (D or W; same-period purchases are merged); "
        "score: path of a model file written by `clv fit` (.json bundle, or .nc posterior "
        "model file of `clv fit --bayes`)",
    ),
    Option(
        "penalizer",
        ("--penalizer",),
        "float",
        _FITTING,
        "L2 penalty for the fits (default 0: plain maximum likelihood)",
        default=0.0,
    ),
    Option(
        "spend_likelihood",
        ("--spend-likelihood",),
        "str",
        _FITTING,
        "fit/evaluate with --value-col: Gamma-Gamma likelihood, mean (density of each "
        "customer's mean repeat-period value; default) or transactions (every repeat-period "
        "value: p, and so the expected spend, more precise; needs every repeat period worth > 0)",
        default="mean",
        choices=("mean", "transactions"),
    ),
    Option(
        "bootstrap",
        ("--bootstrap",),
        "int",
        frozenset({"fit"}),
        "fit: also refit the models on N samples of customers drawn with replacement (seeded "
        "by --seed, progress bar, at most --bootstrap-seconds) and store the parameter draws "
        "in the bundle, for `clv score --intervals bootstrap` (default 0: none)",
        default=0,
    ),
    Option(
        "bootstrap_seconds",
        ("--bootstrap-seconds",),
        "float",
        frozenset({"fit"}),
        "fit --bootstrap: stop refitting after this many seconds and keep the draws made "
        "(default 600)",
        default=600.0,
    ),
    Option(
        "intervals",
        ("--intervals",),
        "str",
        frozenset({"score"}),
        "score: add the 5%% and 95%% quantiles of every score over the bootstrap draws stored "
        "by `clv fit --bootstrap N` (columns <score>_p05, <score>_p95)",
        choices=("bootstrap",),
    ),
    Option(
        "q_constraint",
        ("--q-constraint",),
        "bool",
        _FITTING,
        "fit/evaluate with --value-col: keep Gamma-Gamma's q > 1, so the mean spend of "
        "one-time buyers p*v/(q-1) is finite (changes nothing when the fit already has q > 1)",
        default=False,
    ),
    Option(
        "cx_events",
        ("--cx-events",),
        "path",
        _ROI | {"fit", "score"},
        "CX events .csv/.parquet (customer_id, timestamp, signal, value); fit: fit with CX "
        "covariates (needs --as-of); score: required for a model fitted with them",
    ),
    Option(
        "customers",
        ("--customers",),
        "path",
        _ROI | {"fit", "score"},
        "customer attributes .csv/.parquet, one row per customer (optional; fit/score: "
        "only with --cx-events)",
    ),
    Option(
        "investments",
        ("--investments",),
        "path",
        _ROI,
        "roi/report: investments file (.toml, .yaml, .json or .csv; see docs/roi.md)",
    ),
    Option(
        "acquisition",
        ("--acquisition",),
        "path",
        _ROI,
        "roi/report: fitted acquisition model (.json of clv.models.AcquisitionModel) with "
        "period covariates, for investments that shift them (the acquisition lever)",
    ),
    Option(
        "new_customers",
        ("--new-customers",),
        "path",
        _ROI,
        "roi/report: new customers per period .csv/.parquet (new_customers, optional "
        "period, one numeric column per period covariate); an acquisition model is fitted "
        "on it (instead of --acquisition)",
    ),
    Option(
        "acquisition_distribution",
        ("--acquisition-distribution",),
        "str",
        _ROI,
        "roi/report --new-customers: timing distribution of the acquisition model (default "
        "exponential-gamma)",
        choices=ACQUISITION_DISTRIBUTIONS,
    ),
    Option(
        "acquisition_period",
        ("--acquisition-period",),
        "str",
        _ROI,
        "roi/report: length of one acquisition period, D, W, M, Q or Y (default: the model's "
        "time unit, else M); arrivals are mapped onto the monthly valuation periods",
        choices=TIME_UNITS,
    ),
    Option(
        "acquisition_covariates",
        ("--acquisition-covariates",),
        "path",
        _ROI,
        "roi/report: covariates of the future acquisition periods without any investment, "
        ".csv/.parquet with period and one column per covariate (default: their "
        "calibration means)",
    ),
    Option(
        "holdout_end",
        ("--holdout-end",),
        "date",
        _ROI,
        "roi/report: end of a holdout period after --as-of to check the CX models "
        "(YYYY-MM-DD; optional)",
    ),
    Option(
        "draws",
        ("--draws",),
        "int",
        _ROI | {"fit"},
        "roi/report: parameter draws behind every interval; fit --bayes: draws per chain "
        "(nuts) or samples (advi) (default 200)",
        default=200,
    ),
    Option(
        "budget",
        ("--budget",),
        "float",
        _ROI,
        "roi/report: budget for the portfolio, present value of costs (without it no "
        "portfolio is chosen and the report says that no budget was given)",
    ),
    Option(
        "fund",
        ("--fund",),
        "str",
        _ROI,
        "roi/report --budget: which recommendations the budget may fund: 'fund' (default: "
        "only investments whose tested effects pay back), 'fund,test first' or 'all' "
        "(the portfolio is then labelled as including untested investments)",
    ),
    Option(
        "cost_per_contact",
        ("--cost-per-contact",),
        "str",
        _ROI,
        "roi/report: cost of one service contact, e.g. 4.5, or per channel "
        "phone=6,web=1.5,default=3 (with --contact-channel-col); values become net of the "
        "cost to serve and investments can pay through fewer repeat contacts",
    ),
    Option(
        "contact_covariates",
        ("--contact-covariates",),
        "str",
        _ROI,
        "roi/report --cost-per-contact: features that drive repeat contacts, comma "
        "separated (default: fcr_rate, wait_minutes and ces_last when present), e.g. "
        "fcr_rate,self_service_share",
    ),
    Option(
        "currency",
        ("--currency",),
        "str",
        _ROI,
        "roi/report: currency of the money in the report, e.g. EUR or USD (default: "
        "'currency units')",
    ),
    Option(
        "contact_channel_col",
        ("--contact-channel-col",),
        "str",
        _ROI,
        "roi/report: customer attribute with each customer's service channel, for a "
        "--cost-per-contact by channel",
    ),
    Option(
        "controls",
        ("--controls",),
        "str",
        _ROI,
        "roi/report: customer attributes adjusted for (never shifted): 'auto' (every "
        "usable attribute of --customers), 'none', or a comma-separated list "
        "(default auto)",
        default="auto",
    ),
    Option(
        "causal_share",
        ("--causal-share",),
        "str",
        _ROI,
        "roi/report: prior on the causal share of observational effects: 'a,b' for "
        "Beta(a, b), a fixed share in [0, 1], or 'causal' to value associations as fully "
        "causal (default 1,1: uniform)",
        default="1,1",
    ),
    Option(
        "time_varying",
        ("--time-varying",),
        "str",
        _ROI,
        "roi/report: value the retention and purchase levers with the time-varying "
        "Pareto/NBD on weekly CX paths and investments as changes of the future path "
        "(start dates, restore/prevent shifts): 'auto' (when the dated events vary within "
        "customers; else the static models, with the reason), 'yes' (an error when they "
        "do not) or 'no' (default no)",
        default="no",
        choices=("auto", "yes", "no"),
    ),
    Option(
        "path_group",
        ("--path-group",),
        "str",
        _ROI,
        "roi/report --time-varying: customer attribute naming an operational unit (e.g. "
        "region): the CX paths are then the unit's pooled signals",
    ),
    Option(
        "seed",
        ("--seed",),
        "int",
        _ROI | {"fit"},
        "roi/report, fit --bayes and --bootstrap: random seed (default 0)",
        default=0,
    ),
    Option(
        "bayes",
        ("--bayes",),
        "str",
        frozenset({"fit"}),
        "fit: fit the Bayesian models with nuts, map or advi and write a netCDF posterior "
        "model file (--out model.nc) instead of a JSON bundle",
        choices=("nuts", "map", "advi"),
    ),
    Option(
        "tune",
        ("--tune",),
        "int",
        frozenset({"fit"}),
        "fit --bayes nuts: tuning steps per chain (default 500)",
        default=500,
    ),
    Option(
        "chains",
        ("--chains",),
        "int",
        frozenset({"fit"}),
        "fit --bayes nuts: chains, run one after the other (default 2)",
        default=2,
    ),
    Option(
        "thin",
        ("--thin",),
        "int",
        frozenset({"score"}),
        "score with a posterior model (.nc): keep every N-th draw of each chain (default 1)",
        default=1,
    ),
    Option(
        "max_draws",
        ("--max-draws",),
        "int",
        frozenset({"score"}),
        "score with a posterior model (.nc) or --intervals bootstrap: at most N draws, evenly "
        "spaced, after --thin (default 100; 0 for all)",
        default=100,
    ),
    Option(
        "horizon",
        ("--horizon",),
        "float",
        frozenset({"score", "demo", "roi", "report"}),
        "score: horizon of expected purchases and CLV, in periods of the time unit "
        "(demo default 52); roi/report: months valued (default 24)",
    ),
    Option(
        "annual_discount_rate",
        ("--annual-discount-rate",),
        "float",
        _MONEY,
        "discount rate PER YEAR (default 0.10 = 10%% a year), converted exactly to the "
        "period discounted over, (1 + r) ** (period / year) - 1 (score: the model's time "
        "unit; roi/report: months; demo: weeks); the per-period rate is printed and recorded",
    ),
    Option(
        "discount_rate_per_period",
        ("--discount-rate-per-period",),
        "float",
        _MONEY,
        "discount rate per period, used as is (score: per period of the model's time unit; "
        "roi/report: per month); instead of --annual-discount-rate",
    ),
    Option(
        "discount_rate",
        ("--discount-rate",),
        "float",
        _MONEY,
        "DEPRECATED, removed in the next release: a rate per period, like "
        "--discount-rate-per-period",
    ),
    Option(
        "margin",
        ("--margin",),
        "float",
        _MONEY,
        "profit margin applied to spend, in (0, 1] (default 1.0: CLV in revenue; give the "
        "gross margin, e.g. 0.3, for CLV in profit)",
        default=None,
    ),
    Option(
        "out",
        ("--out", "-o"),
        "path",
        _ALL,
        "output: model file (fit), scores .csv/.parquet/.duckdb (score; with --engine spark "
        "also a directory/ for Parquet), per-customer holdout .csv/.parquet/.duckdb "
        "(evaluate), directory (roi, report, demo)",
    ),
    Option(
        "out_table",
        ("--out-table",),
        "str",
        frozenset({"score", "evaluate"}),
        "DuckDB output (--out db.duckdb): table to create or replace, in one transaction "
        "(default: scores)",
    ),
    Option(
        "engine",
        ("--engine",),
        "str",
        frozenset({"fit", "score"}),
        "fit, score: pandas (in-process, default) or spark (Apache Spark reads, checks and "
        "summarises the transactions; needs clv[spark])",
        default="pandas",
        choices=("pandas", "spark"),
    ),
    Option(
        "spark_master",
        ("--spark-master",),
        "str",
        frozenset({"fit", "score"}),
        "--engine spark: Spark master URL, e.g. local[4] or yarn (default: the "
        "spark-submit session, else local[*])",
    ),
    Option(
        "json",
        ("--json",),
        "bool",
        frozenset({"validate", "evaluate"}),
        "print the result as JSON on stdout instead of a table",
        default=False,
    ),
    Option(
        "quiet",
        ("--quiet", "-q"),
        "bool",
        _ALL,
        "print nothing but errors; no progress lines",
        default=False,
    ),
    Option(
        "progress",
        ("--progress",),
        "bool",
        _ALL,
        "progress lines and bars on stderr even when it is not a terminal (by default they "
        "show only on a terminal, so scheduled jobs stay quiet)",
        default=False,
    ),
    Option(
        "debug",
        ("--debug",),
        "bool",
        _ALL,
        "debug logging and a full traceback on errors",
        default=False,
    ),
    Option(
        "log_level",
        ("--log-level",),
        "str",
        _ALL,
        "logging level on stderr (default WARNING)",
        choices=LOG_LEVELS,
    ),
    Option(
        "verbose",
        ("-v", "--verbose"),
        "int",
        _ALL,
        "more logging: -v for INFO, -vv for DEBUG",
        default=0,
    ),
)

_BY_KEY = {o.key: o for o in OPTIONS}
_ALIASES = {"observation_end": "as_of"}
#: Number options that are never negative (checked where they are read).
_NON_NEGATIVE = frozenset({"penalizer", "discount_rate", "budget"})
_PATH_KEYS = tuple(o.key for o in OPTIONS if o.kind == "path")


def option_value(option: Option, value: Any, *, source: str) -> Any:
    """Check and convert one option value.

    Parameters
    ----------
    option : Option
        The option being set.
    value : object
        The raw value from the command line (a string) or the job file (any TOML type).
    source : str
        Where the value came from, for the error message (e.g. ``"job.toml"``).

    Returns
    -------
    object
        The converted value (``datetime.date`` for dates, ``float`` for numbers...).

    Raises
    ------
    UsageError
        If the value has the wrong type or is out of range.
    """
    where = f"{option.flag} in {source}" if source != "command line" else option.flag
    kind = option.kind
    if kind in ("str", "path"):
        if not isinstance(value, str) or not value:
            raise UsageError(f"{where} must be a non-empty string, got {value!r}.")
        if option.key == "time_unit":
            return _time_unit(value, where)
        if option.choices is not None:
            upper = option.key in ("log_level", "time_unit", "acquisition_period")
            canon = value.upper() if upper else value
            if canon not in option.choices:
                raise UsageError(
                    f"{where} must be one of {', '.join(option.choices)}; got {value!r}."
                )
            return canon
        return value
    if kind == "float":
        if isinstance(value, bool):
            raise UsageError(f"{where} must be a number, got {value!r}.")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise UsageError(f"{where} must be a number, got {value!r}.") from None
        if number != number or number in (float("inf"), float("-inf")):
            raise UsageError(f"{where} must be a finite number, got {value!r}.")
        if option.key in _NON_NEGATIVE and number < 0:
            raise UsageError(f"{where} must be >= 0, got {value!r}.")
        return number
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise UsageError(f"{where} must be a whole number, got {value!r}.")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise UsageError(f"{where} must be true or false, got {value!r}.")
        return value
    if kind == "date":
        return parse_date(value, where=where)
    raise AssertionError(f"unknown option kind {kind!r}")  # pragma: no cover


def _time_unit(value: str, where: str) -> str:
    """Canonical name of a ``--time-unit`` (``"W"``, ``"7D"``, ``"30D"``, ``"M"`` ...)."""
    from clv.data.units import parse_time_unit

    text = value.strip()
    if text[-1:].lower() in ("d", "w", "m", "q", "y") and text[-1:] != "h":
        text = text[:-1] + text[-1].upper()
    try:
        unit = parse_time_unit(text)
    except ValueError:
        unit = None
    if unit is None or unit.base not in TIME_UNITS:
        raise UsageError(
            f"{where} must be one of {', '.join(TIME_UNITS)} or a multiple of one "
            f"such as 7D or 30D; got {value!r}."
        )
    return unit.name


def parse_date(value: Any, *, where: str) -> _dt.date:
    """Parse a ``YYYY-MM-DD`` string (or a TOML date) into a date."""
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str):
        try:
            return _dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise UsageError(f"{where} must be a date written YYYY-MM-DD, got {value!r}.")


def load_config(path: str | os.PathLike[str], command: str) -> dict[str, Any]:
    """Read a TOML job file and return the options it sets for ``command``.

    Top-level keys apply to every command; a table named after the command
    (``[score]``) overrides them.  Tables of other commands are checked but
    ignored.  Keys may be written with ``-`` or ``_`` (``as-of`` = ``as_of``);
    ``observation_end`` is an alias of ``as_of``.

    Parameters
    ----------
    path : path-like
        The job file.
    command : str
        The subcommand being run.

    Returns
    -------
    dict
        Option key -> converted value; relative paths (``input``, ``out``,
        ``cx_events``, ``investments``, ... and the ``model`` path of ``score``)
        are made relative to the job file's directory.

    Raises
    ------
    FileNotFoundError
        If the file does not exist (exit code 5).
    UsageError
        If the file is not valid TOML, or has an unknown key or a wrong value (exit code 2).
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            document = tomllib.load(fh)
    except FileNotFoundError:
        raise FileNotFoundError(
            f"config file '{path}' does not exist. Check the --config path."
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"config file '{path}' is not valid TOML: {exc}.") from None
    except UnicodeDecodeError:
        raise UsageError(f"config file '{path}' is not valid TOML (not UTF-8 text).") from None

    merged: dict[str, Any] = {}
    sections = {k: v for k, v in document.items() if isinstance(v, dict)}
    for name in sections:
        if name not in COMMANDS:
            raise UsageError(
                f"config file '{path}' has a table [{name}]; tables are named after "
                f"the commands: {', '.join(COMMANDS)}."
            )
    top = {k: v for k, v in document.items() if not isinstance(v, dict)}
    for scope, table in [("top level", top), *((f"[{n}]", t) for n, t in sections.items())]:
        checked = _check_table(table, path, scope)
        if scope == "top level" or scope == f"[{command}]":
            merged.update(checked)
    # options another command uses are fine at the top level; drop them for this command
    out = {k: v for k, v in merged.items() if command in _BY_KEY[k].commands}
    base = path.parent
    for key in _PATH_KEYS + (("model",) if command == "score" else ()):
        if key in out and not Path(out[key]).is_absolute():
            out[key] = str(base / out[key])
    return out


def _check_table(table: Mapping[str, Any], path: Path, scope: str) -> dict[str, Any]:
    checked: dict[str, Any] = {}
    spelled: dict[str, str] = {}
    for raw_key, value in table.items():
        key = raw_key.replace("-", "_")
        key = _ALIASES.get(key, key)
        if key in spelled:
            raise UsageError(
                f"config file '{path}' ({scope}): '{spelled[key]}' and '{raw_key}' "
                "set the same option; keep one of them."
            )
        spelled[key] = raw_key
        option = _BY_KEY.get(key)
        if option is None or key == "verbose":
            known = ", ".join(o.key for o in OPTIONS if o.key != "verbose")
            raise UsageError(
                f"config file '{path}' ({scope}): unknown key '{raw_key}'. Known keys: {known}."
            )
        if key == "model" and isinstance(value, list):
            if not value or not all(isinstance(v, str) and v for v in value):
                raise UsageError(
                    f"config file '{path}' ({scope}): 'model' must be a string or a "
                    "list of model names."
                )
            value = ",".join(value)
        checked[key] = option_value(option, value, source=f"'{path}' ({scope})")
    return checked
