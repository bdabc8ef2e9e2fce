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
import importlib
import logging
import sys
import traceback
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from clv._version import __version__
from clv.cli.config import COMMANDS, OPTIONS, UsageError, load_config, option_value
from clv.cli.steps import (
    EXIT_DATA,
    EXIT_FIT,
    EXIT_INTERRUPTED,
    EXIT_IO,
    EXIT_OK,
    EXIT_UNEXPECTED,
    EXIT_USAGE,
    Run,
    warning_lines,
)
from clv.exceptions import (
    ConvergenceError,
    DataError,
    ModelFileError,
)

if TYPE_CHECKING:
    pass

__all__ = ["EXIT_DATA", "EXIT_FIT", "EXIT_IO", "EXIT_OK", "EXIT_UNEXPECTED", "EXIT_USAGE", "main"]


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
        "BG/NBD, MBG/NBD, Pareto/NBD, NBD, MBG/CNBD-k, BG/CNBD-k and Gamma-Gamma models.",
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
                p.add_argument(
                    *option.flags,
                    dest=option.key,
                    default=None,
                    type=int,
                    help=option.help,
                    metavar=option.key.upper(),
                )
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


# ---------------------------------------------------------------------- commands
#: Command -> (module, function) that runs it; imported when the command runs.
_HANDLERS: dict[str, tuple[str, str]] = {
    "validate": ("clv.cli.validate", "run_validate"),
    "fit": ("clv.cli.fit", "run_fit"),
    "score": ("clv.cli.score", "run_score"),
    "evaluate": ("clv.cli.evaluate", "run_evaluate"),
    "roi": ("clv.cli.roi", "run_roi_table"),
    "report": ("clv.cli.roi", "run_roi_report"),
    "demo": ("clv.cli.demo", "run_demo"),
}


def _handler(command: str) -> Callable[[Run], int]:
    module, name = _HANDLERS[command]
    return getattr(importlib.import_module(module), name)


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
    from clv.cli.steps import clip_message

    text = clip_message(str(message).rstrip())
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
    run: Run | None = None
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                opts = _resolve(args)
                debug = bool(opts.debug)
                input_name = getattr(opts, "input", None)
                logger.setLevel(_log_level(opts))
                run = Run(opts, argv)
                run.caught = caught
                return _handler(command)(run)
            finally:
                if run is not None:
                    run.flush_warnings()
                else:
                    for line in dict.fromkeys(warning_lines(caught)):
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


#: The exit-code table: the first row whose class the exception is an instance of applies
#: (order matters: ModelFileError before OSError). Anything else is exit 1, "unexpected".
EXIT_TABLE: tuple[tuple[type[BaseException], int, str, tuple[str, ...]], ...] = (
    (UsageError, EXIT_USAGE, "usage error", ("Run `clv <command> --help` for the options.",)),
    (DataError, EXIT_DATA, "data error", ("Nothing was written; fix the input and rerun.",)),
    (
        ConvergenceError,
        EXIT_FIT,
        "fit failed",
        (
            "Nothing was written. Try --penalizer 0.001, a longer history (--as-of), or another "
            "--model.",
        ),
    ),
    (ModelFileError, EXIT_IO, "model file error", ()),
    (OSError, EXIT_IO, "I/O error", ()),
)


def _classify(exc: BaseException, input_name: str | None) -> tuple[int, str, tuple[str, ...]]:
    """Exit code, label and hint lines for an exception, by :data:`EXIT_TABLE`."""
    for cls, code, kind, hints in EXIT_TABLE:
        if isinstance(exc, cls):
            if code == EXIT_DATA and input_name:
                kind = f"data error in '{input_name}'"
            return code, kind, hints
    return EXIT_UNEXPECTED, f"unexpected error ({type(exc).__name__})", ()
