"""Contractual retention data: per-customer rows or a survival table, validated into counts.

Two data formats are accepted, and every retention model sees the same
validated counts (see :mod:`clv.models._retention` for the layouts):
per-customer rows (``periods_observed``, ``churned``, optional ``cohort`` and
``weight``) or a survival table (``cohort``, ``period``, ``n_alive``), which
:func:`survival_table_to_counts` turns into weighted per-customer rows.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np
import pandas as pd

from clv.exceptions import DataError, Problem

__all__ = [
    "NO_COHORT",
    "empirical_survival",
    "retention_counts",
    "survival_table_to_counts",
]

NO_COHORT = "all"
"""Cohort label used when the data have no ``cohort`` column."""

_COLUMNS = ("periods_observed", "churned")
_TABLE = ("period", "n_alive")


def _ids(frame: pd.DataFrame, mask: Any) -> list[object]:
    return list(frame.index[np.asarray(mask, dtype=bool)][:5])


def _numeric(frame: pd.DataFrame, col: str, problems: list[Problem]) -> np.ndarray | None:
    """The column as float64, or None after recording why it is unusable."""
    series = frame[col]
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        problems.append(
            Problem(
                col, f"is not numeric (dtype {series.dtype})", f"convert '{col}' to whole numbers"
            )
        )
        return None
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        problems.append(
            Problem(
                col,
                f"has {int(bad.sum())} missing or infinite values",
                "drop or fill those rows",
                _ids(frame, bad),
            )
        )
        return None
    return values


def _churned(frame: pd.DataFrame, problems: list[Problem]) -> np.ndarray | None:
    series = frame["churned"]
    fix = (
        "churned must be True (lost in period periods_observed) or False (still active "
        "after periods_observed periods); 0/1 are accepted too"
    )
    if pd.api.types.is_bool_dtype(series):
        if series.isna().any():
            problems.append(
                Problem("churned", "has missing values", fix, _ids(frame, series.isna().to_numpy()))
            )
            return None
        return series.to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(series):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isin(values, (0.0, 1.0))
    else:
        values = series.to_numpy(dtype=object)
        bad = np.array([not isinstance(v, bool | np.bool_) for v in values], dtype=bool)
    if bad.any():
        problems.append(
            Problem(
                "churned",
                f"is not boolean for {int(bad.sum())} rows (dtype {series.dtype})",
                fix,
                _ids(frame, bad),
            )
        )
        return None
    return np.asarray(values, dtype=np.float64) > 0


def _cohorts(frame: pd.DataFrame, problems: list[Problem]) -> np.ndarray | None:
    if "cohort" not in frame.columns:
        return np.full(len(frame), NO_COHORT, dtype=object)
    missing = frame["cohort"].isna().to_numpy()
    if missing.any():
        problems.append(
            Problem(
                "cohort",
                f"is missing for {int(missing.sum())} rows",
                "label every row with its cohort (e.g. the acquisition period)",
                _ids(frame, missing),
            )
        )
        return None
    return frame["cohort"].to_numpy(dtype=object)


def _customer_counts(frame: pd.DataFrame) -> pd.DataFrame:
    problems: list[Problem] = []
    n = _numeric(frame, "periods_observed", problems)
    if n is not None:
        frac = n != np.round(n)
        if frac.any():
            problems.append(
                Problem(
                    "periods_observed",
                    f"has non-integer values for {int(frac.sum())} customers",
                    "periods_observed counts whole renewal periods",
                    _ids(frame, frac),
                )
            )
        low = n < 1
        if low.any():
            problems.append(
                Problem(
                    "periods_observed",
                    f"is below 1 for {int(low.sum())} customers",
                    "a customer lost in period t has "
                    "periods_observed = t >= 1; drop customers acquired at the "
                    "end of observation (they carry no information)",
                    _ids(frame, low),
                )
            )
    churned = _churned(frame, problems)
    weight = None
    if "weight" in frame.columns:
        weight = _numeric(frame, "weight", problems)
        if weight is not None and (weight <= 0).any():
            problems.append(
                Problem(
                    "weight",
                    "has values <= 0",
                    "weight counts identical customers and must be > 0",
                    _ids(frame, weight <= 0),
                )
            )
    cohort = _cohorts(frame, problems)
    if problems:
        raise DataError(problems, what="the retention data")
    assert n is not None and churned is not None and cohort is not None
    return pd.DataFrame(
        {
            "cohort": cohort,
            "periods_observed": n,
            "churned": churned,
            "weight": np.ones(len(frame)) if weight is None else weight,
        },
        index=frame.index,
    )


def survival_table_to_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Turn a survival table into weighted per-customer rows.

    Parameters
    ----------
    table : DataFrame
        Columns ``period`` (0, 1, 2, ... in order, without gaps),
        ``n_alive`` (customers still active after ``period`` periods; the
        cohort size at period 0) and optionally ``cohort``.

    Returns
    -------
    DataFrame
        Columns ``cohort``, ``periods_observed``, ``churned`` and ``weight``:
        for every period ``t >= 1`` the ``n_alive[t-1] - n_alive[t]`` customers
        lost in ``t`` (``churned=True``) and, per cohort, the survivors of the
        last period ``K`` (``periods_observed=K, churned=False``).  Rows with
        zero customers are left out.

    Raises
    ------
    DataError
        Negative or non-integer counts, a cohort of size 0, duplicated, missing
        or unordered periods, or survival that increases within a cohort.

    Examples
    --------
    >>> table = pd.DataFrame({"period": [0, 1, 2], "n_alive": [100, 60, 45]})
    >>> survival_table_to_counts(table)
      cohort  periods_observed  churned  weight
    0    all               1.0     True    40.0
    1    all               2.0     True    15.0
    2    all               2.0    False    45.0
    """
    if not isinstance(table, pd.DataFrame):
        raise DataError(
            f"expected a pandas DataFrame survival table, got {type(table).__name__}",
            what="the survival table",
        )
    problems: list[Problem] = []
    for col in _TABLE:
        if col not in table.columns:
            problems.append(
                Problem(
                    col,
                    "is required but missing",
                    "a survival table has the columns cohort (optional), period and n_alive",
                )
            )
    if problems:
        raise DataError(problems, what="the survival table")
    period = _numeric(table, "period", problems)
    if period is not None:
        bad = (period != np.round(period)) | (period < 0)
        if bad.any():
            problems.append(
                Problem(
                    "period",
                    "has negative or non-integer values",
                    "period counts renewal periods 0, 1, 2, ...",
                    _ids(table, bad),
                )
            )
    alive = _numeric(table, "n_alive", problems)
    if alive is not None:
        neg = alive < 0
        if neg.any():
            problems.append(
                Problem(
                    "n_alive",
                    f"has negative counts in {int(neg.sum())} rows",
                    "n_alive counts customers and must be >= 0",
                    _ids(table, neg),
                )
            )
        frac = alive != np.round(alive)
        if frac.any():
            problems.append(
                Problem(
                    "n_alive",
                    "has non-integer values",
                    "n_alive counts "
                    "customers; pass counts, not percentages or proportions "
                    "(multiply by the cohort size)",
                    _ids(table, frac),
                )
            )
    cohort = _cohorts(table, problems)
    if problems:
        raise DataError(problems, what="the survival table")
    assert period is not None and alive is not None and cohort is not None
    groups: dict[Hashable, list[int]] = {}
    for i, c in enumerate(cohort):
        groups.setdefault(c, []).append(i)
    keys = ("dup", "order", "start", "gap", "zero", "up")
    checks: dict[str, list[object]] = {k: [] for k in keys}
    rows: list[tuple[Hashable, float, bool, float]] = []
    for c, idx in groups.items():
        p, a = period[idx], alive[idx]
        if len(np.unique(p)) < len(p):
            checks["dup"].append(c)
            continue
        if np.any(np.diff(p) < 0):
            checks["order"].append(c)
            continue
        if p[0] != 0:
            checks["start"].append(c)
            continue
        if np.any(np.diff(p) != 1):
            checks["gap"].append(c)
            continue
        if a[0] == 0:
            checks["zero"].append(c)
            continue
        if np.any(np.diff(a) > 0):
            checks["up"].append(c)
            continue
        for t in range(1, len(p)):
            lost = a[t - 1] - a[t]
            if lost > 0:
                rows.append((c, float(t), True, float(lost)))
        if len(p) > 1 and a[-1] > 0:
            rows.append((c, float(len(p) - 1), False, float(a[-1])))
    messages = {
        "dup": ("has duplicated periods within a cohort", "give each (cohort, period) one row"),
        "order": (
            "is out of order within a cohort",
            "sort the table by cohort and period, e.g. table.sort_values(['cohort', 'period'])",
        ),
        "start": (
            "does not start at 0 within a cohort",
            "add the period-0 row holding the cohort size (everyone is alive at period 0)",
        ),
        "gap": (
            "skips periods within a cohort",
            "give every period 0, 1, ..., K of a cohort (survival must be observed every period)",
        ),
        "zero": (
            "is 0 at period 0 (a cohort of size 0)",
            "drop empty cohorts; n_alive at period 0 is the number of customers acquired",
        ),
        "up": (
            "increases within a cohort (survival cannot increase)",
            "n_alive must be "
            "non-increasing in period; check for re-activations or mixed-up cohorts",
        ),
    }
    for key, found in checks.items():
        if found:
            msg, fix = messages[key]
            col = "n_alive" if key in ("zero", "up") else "period"
            problems.append(Problem(col, f"{msg} for {len(found)} cohort(s)", fix, found))
    if problems:
        raise DataError(problems, what="the survival table")
    out = pd.DataFrame(rows, columns=["cohort", "periods_observed", "churned", "weight"])
    out["cohort"] = out["cohort"].astype(object)
    out["churned"] = out["churned"].astype(bool)
    out.attrs.update(table.attrs)
    return out


def is_survival_table(data: object) -> bool:
    """Whether ``data`` is a survival table (``period, n_alive``), not one row per customer."""
    return isinstance(data, pd.DataFrame) and (
        "n_alive" in data.columns
        or ("period" in data.columns and "periods_observed" not in data.columns)
    )


def refuse_survival_table(data: object, covariate_columns: object, what: str) -> None:
    """Raise a ``DataError`` for a survival table given to a model with customer covariates.

    Raises
    ------
    DataError
        When ``data`` is a survival table: covariates need one row per customer.
    """
    if is_survival_table(data):
        raise DataError(
            [
                Problem(
                    None,
                    "a survival table (period, n_alive) cannot carry customer covariates",
                    "pass one row per customer with "
                    "periods_observed, churned and the covariate columns "
                    f"{covariate_columns}",
                )
            ],
            what=what,
        )


def retention_counts(data: pd.DataFrame) -> pd.DataFrame:
    """Validate retention data in either format and return weighted per-customer rows.

    Parameters
    ----------
    data : DataFrame
        Per-customer rows (``periods_observed``, ``churned``, optional
        ``cohort``, ``weight``) or a survival table (``period``, ``n_alive``,
        optional ``cohort``).

    Returns
    -------
    DataFrame
        Columns ``cohort`` (``"all"`` when the data have none),
        ``periods_observed`` (float), ``churned`` (bool), ``weight`` (float).
        The caller's frame is not modified.

    Raises
    ------
    DataError
        Listing every problem found, with the column, example rows and the fix.

    Examples
    --------
    >>> data = pd.DataFrame({"periods_observed": [1, 3, 3], "churned": [True, True, False]})
    >>> retention_counts(data)["weight"].sum()
    np.float64(3.0)
    """
    if not isinstance(data, pd.DataFrame):
        raise DataError(
            f"expected a pandas DataFrame of retention data, got {type(data).__name__}",
            what="the retention data",
        )
    if "n_alive" in data.columns or (
        "period" in data.columns and "periods_observed" not in data.columns
    ):
        return survival_table_to_counts(data)
    missing = [c for c in _COLUMNS if c not in data.columns]
    if missing:
        raise DataError(
            [
                Problem(
                    c,
                    "is required but missing",
                    "pass one row per customer with "
                    "periods_observed and churned (optionally cohort, weight), or a "
                    "survival table with period and n_alive (optionally cohort)",
                )
                for c in missing
            ],
            what="the retention data",
        )
    return _customer_counts(data)


def empirical_survival(data: pd.DataFrame) -> pd.DataFrame:
    """Observed survival and retention rates per cohort (a discrete Kaplan-Meier estimate).

    With every customer of a cohort observed for the same number of periods
    (a survival table) this is simply ``n_alive[t] / n_alive[0]``; with
    per-customer data of different lengths, customers still active are
    right-censored where their observation ends.

    Parameters
    ----------
    data : DataFrame
        Retention data in either format (see :func:`retention_counts`).

    Returns
    -------
    DataFrame
        One row per cohort and period ``0..K``: ``cohort``, ``period``,
        ``at_risk`` (customers active at the start of the period),
        ``churned`` (lost in the period), ``survival`` and
        ``retention_rate`` (NaN at period 0).

    Examples
    --------
    >>> table = pd.DataFrame({"period": [0, 1, 2], "n_alive": [100, 60, 45]})
    >>> empirical_survival(table)[["period", "survival", "retention_rate"]]
       period  survival  retention_rate
    0       0      1.00             NaN
    1       1      0.60            0.60
    2       2      0.45            0.75
    """
    counts = retention_counts(data)
    frames = []
    for cohort, g in counts.groupby("cohort", sort=False):
        n = g["periods_observed"].to_numpy().astype(np.int64)
        w = g["weight"].to_numpy()
        lost = g["churned"].to_numpy()
        k_max = int(n.max()) if len(n) else 0
        t = np.arange(0, k_max + 1)
        # at risk in period k: observed for at least k periods (everyone at k = 0)
        at_risk = np.cumsum(np.bincount(n, weights=w, minlength=k_max + 1)[::-1])[::-1]
        churned = np.bincount(n[lost], weights=w[lost], minlength=k_max + 1)
        keep = at_risk > 0
        t, at_risk, churned = t[keep], at_risk[keep], churned[keep]
        rate = np.where(t > 0, 1.0 - churned / at_risk, np.nan)
        frames.append(
            pd.DataFrame(
                {
                    "cohort": cohort,
                    "period": t,
                    "at_risk": at_risk,
                    "churned": churned,
                    "survival": np.cumprod(np.where(t > 0, rate, 1.0)),
                    "retention_rate": rate,
                }
            )
        )
    if not frames:
        return pd.DataFrame(
            columns=["cohort", "period", "at_risk", "churned", "survival", "retention_rate"]
        )
    return pd.concat(frames, ignore_index=True)
