"""Acquisition input of ``clv roi`` / ``clv report``: the fourth lever from files.

Investments that shift a period covariate of new-customer arrivals (e.g. the
market's promoter share) act on the acquisition lever. They need either

- ``--acquisition model.json``: a fitted :class:`clv.models.AcquisitionModel`
  saved with ``to_json`` (fitted with period covariates), or
- ``--new-customers counts.csv``: new customers per period, fitted here with
  ``--acquisition-distribution``. Columns: ``new_customers`` (whole numbers
  >= 0), optionally ``period`` (1, 2, ... with no gaps; default: the row
  order), and one numeric column per period covariate.

``--acquisition-period`` (D, W, M, Q or Y; default the model's time unit, else
M) is the length of one acquisition period; the ROI is valued monthly, so
weekly counts are cumulated into months. ``--acquisition-covariates`` gives
the covariates of the future periods without any investment (columns
``period``, numbered after the calibration periods, and the covariates);
default: every covariate held at its calibration mean.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clv.cli.config import UsageError
from clv.cli.files import read_frame
from clv.exceptions import DataError, Problem

__all__ = ["PERIOD_DAYS", "AcquisitionInput", "load_acquisition", "read_new_customers"]

#: Days per period of each time unit.
PERIOD_DAYS = {"D": 1.0, "W": 7.0, "M": 365.25 / 12, "Q": 365.25 / 4, "Y": 365.25}


class AcquisitionInput:
    """A fitted acquisition model, its future covariates and its period length in days."""

    def __init__(
        self, model: Any, covariates: pd.DataFrame, period_days: float, source: dict[str, Any]
    ) -> None:
        self.model = model
        self.covariates = covariates
        self.period_days = period_days
        self.source = source


def _lines(mask: Any) -> list[int]:
    """File line numbers (header = line 1) of the rows where ``mask`` holds."""
    return [int(i) + 2 for i in np.flatnonzero(np.asarray(mask))]


def _periods(frame: pd.DataFrame, what: str, first: int | None) -> pd.Index:
    """The ``period`` column checked (whole numbers, consecutive from ``first``), as the index."""
    raw = pd.to_numeric(frame["period"], errors="coerce")
    bad = raw.isna() | (raw != raw.round())
    if bad.any():
        raise DataError(
            [
                Problem(
                    "period",
                    "is not a whole number on these file lines",
                    "number the periods 1, 2, 3, ... (or drop the column to use the row order)",
                    rows=_lines(bad),
                )
            ],
            what=what,
        )
    p = raw.astype(np.int64).to_numpy()
    start = int(p[0]) if first is None else first
    expected = np.arange(start, start + len(p))
    wrong = p != expected
    if wrong.any():
        raise DataError(
            [
                Problem(
                    "period",
                    f"must run {start}, {start + 1}, ... without gaps "
                    "or repeats, one row per period in order",
                    "sort the rows by period and add missing periods (0 new "
                    "customers when nobody was acquired)",
                    rows=_lines(wrong),
                )
            ],
            what=what,
        )
    return pd.RangeIndex(start, start + len(p), name="period")


def _covariate_columns(frame: pd.DataFrame, columns: list[str], what: str) -> pd.DataFrame:
    problems = []
    out = {}
    for c in columns:
        values = pd.to_numeric(frame[c], errors="coerce")
        bad = values.isna() | ~np.isfinite(values.fillna(0.0))
        if bad.any():
            problems.append(
                Problem(
                    c,
                    "is not a finite number on these file lines "
                    "(period covariates must be numeric)",
                    "fill the covariate for every period, or drop the column "
                    "if it is not a covariate",
                    rows=_lines(bad),
                )
            )
        out[c] = values.astype(np.float64)
    if problems:
        raise DataError(problems, what=what)
    return pd.DataFrame(out, index=frame.index)


def read_new_customers(path: str | Path) -> tuple[pd.Series, pd.DataFrame | None]:
    """Read and check a new-customer count file.

    Parameters
    ----------
    path : str or Path
        ``.csv`` or ``.parquet`` with ``new_customers``, optionally ``period``
        and numeric covariate columns.

    Returns
    -------
    counts : Series
        New customers indexed by period 1..T.
    covariates : DataFrame or None
        The other columns, same index.

    Raises
    ------
    DataError
        Missing ``new_customers`` column, no rows, counts that are missing,
        negative or fractional, periods not 1..T, non-numeric covariates; the
        message names the column, the file lines and the fix.

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "c.csv"
    >>> _ = p.write_text("period,new_customers,promo\\n1,10,0.1\\n2,12,0.2\\n")
    >>> counts, cov = read_new_customers(p)
    >>> counts.tolist(), list(cov.columns)
    ([10.0, 12.0], ['promo'])
    """
    p = Path(path)
    what = f"the --new-customers file '{p}'"
    frame = read_frame(p, "--new-customers")
    if "new_customers" not in frame.columns:
        raise DataError(
            [
                Problem(
                    "new_customers",
                    f"is missing (columns: {list(frame.columns)})",
                    "name the column with the number of new customers per period new_customers",
                )
            ],
            what=what,
        )
    if len(frame) == 0:
        raise DataError(
            [
                Problem(
                    "new_customers",
                    "has no rows",
                    "give one row per period of the calibration window",
                )
            ],
            what=what,
        )
    frame = frame.reset_index(drop=True)
    counts = pd.to_numeric(frame["new_customers"], errors="coerce")
    bad = (
        counts.isna() | ~np.isfinite(counts.fillna(0.0)) | (counts < 0) | (counts != counts.round())
    )
    if bad.any():
        raise DataError(
            [
                Problem(
                    "new_customers",
                    "must be a whole number >= 0 in every row; it is not on these file lines",
                    "give the count of customers acquired in each period (0 when "
                    "nobody was acquired); do not leave rows empty",
                    rows=_lines(bad),
                )
            ],
            what=what,
        )
    index = (
        _periods(frame, what, 1)
        if "period" in frame.columns
        else pd.RangeIndex(1, len(frame) + 1, name="period")
    )
    names = [c for c in frame.columns if c not in ("period", "new_customers")]
    cov = _covariate_columns(frame, names, what) if names else None
    series = pd.Series(counts.to_numpy(dtype=np.float64), index=index, name="new_customers")
    if cov is not None:
        cov.index = index
    return series, cov


def _future(path: str, model: Any, needed: int) -> pd.DataFrame:
    """Future covariates from ``--acquisition-covariates``, checked to cover ``needed`` periods."""
    p = Path(path)
    what = f"the --acquisition-covariates file '{p}'"
    frame = read_frame(p, "--acquisition-covariates").reset_index(drop=True)
    names = model.covariate_names_
    missing = [c for c in ["period", *names] if c not in frame.columns]
    if missing:
        raise DataError(
            [
                Problem(
                    c,
                    f"is missing (columns: {list(frame.columns)})",
                    "give a period column (numbered after the model's "
                    f"{model.n_periods_} calibration periods) and one column per "
                    f"covariate: {', '.join(names)}",
                )
                for c in missing
            ],
            what=what,
        )
    first = int(model.n_periods_) + 1
    index = _periods(frame, what, first)
    if len(frame) < needed:
        raise DataError(
            [
                Problem(
                    "period",
                    f"covers periods {first}..{first + len(frame) - 1}; "
                    f"the valuation needs {first}..{first + needed - 1}",
                    f"add the covariates of {needed - len(frame)} more periods",
                )
            ],
            what=what,
        )
    cov = _covariate_columns(frame, list(names), what)
    cov.index = index
    return cov


def load_acquisition(opts: Any, *, horizon: int, valuation_days: float) -> AcquisitionInput | None:
    """The acquisition input of ``clv roi`` / ``clv report`` (None without one).

    Parameters
    ----------
    opts : Namespace
        Parsed options (``acquisition``, ``new_customers``,
        ``acquisition_distribution``, ``acquisition_period``,
        ``acquisition_covariates``).
    horizon : int
        Valuation periods.
    valuation_days : float
        Days per valuation period.
    """
    from clv.models import AcquisitionModel

    if opts.acquisition and opts.new_customers:
        raise UsageError(
            "give either --acquisition (a fitted model file) or --new-customers "
            "(counts to fit one), not both."
        )
    if not (opts.acquisition or opts.new_customers):
        for flag, value in (
            ("--acquisition-covariates", opts.acquisition_covariates),
            ("--acquisition-period", opts.acquisition_period),
            ("--acquisition-distribution", opts.acquisition_distribution),
        ):
            if value:
                raise UsageError(f"{flag} needs --acquisition or --new-customers.")
        return None
    if opts.acquisition and opts.acquisition_distribution:
        raise UsageError(
            "--acquisition-distribution is for --new-customers; the model file of "
            "--acquisition was fitted with its own distribution."
        )
    if opts.acquisition:
        path = Path(opts.acquisition)
        if not path.exists():
            raise FileNotFoundError(f"--acquisition file '{path}' does not exist")
        model = AcquisitionModel.from_json(path)
        source: dict[str, Any] = {"acquisition": str(path)}
    else:
        counts, cov = read_new_customers(opts.new_customers)
        if cov is None:
            raise DataError(
                [
                    Problem(
                        None,
                        "has no covariate column (only period and new_customers)",
                        "add the period covariates that "
                        "investments shift (e.g. promoter_share), one column each",
                    )
                ],
                what=f"the --new-customers file '{opts.new_customers}'",
            )
        distribution = opts.acquisition_distribution or "exponential-gamma"
        unit = opts.acquisition_period or "M"
        model = AcquisitionModel(distribution=distribution).fit(
            counts, covariates=cov, time_unit=unit
        )
        source = {"new_customers": str(opts.new_customers), "distribution": distribution}
    if not model.covariate_names_:
        raise UsageError(
            f"the acquisition model in '{opts.acquisition}' has no period "
            "covariates; investments act on new customers through them. Refit it "
            "with covariates=... (e.g. the promoter share per period)."
        )
    unit = opts.acquisition_period or model.time_unit_ or "M"
    if unit not in PERIOD_DAYS:
        raise UsageError(
            f"the acquisition model's time unit {unit!r} is not one of "
            f"{', '.join(PERIOD_DAYS)}; set --acquisition-period."
        )
    days = PERIOD_DAYS[unit]
    needed = max(1, math.ceil(horizon * valuation_days / days - 1e-9))
    if opts.acquisition_covariates:
        future = _future(opts.acquisition_covariates, model, needed)
        source["covariates"] = str(opts.acquisition_covariates)
    else:
        known = model.covariates_
        if known is None:  # a model with covariate names keeps their calibration values
            raise UsageError(
                f"the acquisition model in '{opts.acquisition}' has no calibration "
                "covariates stored; refit it with covariates=..."
            )
        start = int(model.n_periods_) + 1
        future = pd.DataFrame(
            {c: np.full(needed, float(known[c].mean())) for c in known.columns},
            index=pd.RangeIndex(start, start + needed, name="period"),
        )
        source["covariates"] = "calibration mean"
    source.update(
        {
            "period": unit,
            "period_days": days,
            "params": {k: float(v) for k, v in model.params_.items()},
        }
    )
    return AcquisitionInput(model, future, days, source)
