"""Contractual retention data and the shared base of the retention models (sBG, BdW).

In a contractual (subscription) setting churn is *observed*: a customer either
renews at the end of a period or tells the firm that they leave.  Two data
formats are accepted, and every model sees the same validated counts:

* **per customer**: one row per customer with ``periods_observed`` (whole
  number >= 1) and ``churned`` (bool).  A customer lost in period ``t`` has
  ``periods_observed = t, churned = True``; one still active after ``n``
  renewal periods has ``periods_observed = n, churned = False``.  Optional
  ``cohort`` and ``weight`` (number of identical customers) columns.
* **survival table**: columns ``cohort`` (optional), ``period`` and
  ``n_alive``: the number of customers of each cohort still active after
  ``period`` periods, starting with the cohort size at period 0 (the layout
  of Table 1 in Fader & Hardie 2007).  :func:`survival_table_to_counts`
  turns it into weighted per-customer rows.

:class:`RetentionModel` validates either format, fits one set of parameters
for all cohorts (``shared=True``) or one per cohort, and maps the model's pure
functions (declared in a :class:`RetentionSpec`) to survival, retention rates,
(discounted) expected lifetimes and simulation.
"""

from __future__ import annotations

import html
import os
import warnings
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from clv._typing import FloatArray
from clv.exceptions import ConvergenceError, DataError, ModelFileError, Problem
from clv.models import _covariates as cov
from clv.models._base import ParametricModel, init_kwargs
from clv.models._covariates import Lever
from clv.models._mle import MLEResult, maximise
from clv.models._spec import ModelSpec
from clv.persistence import read_model_json, write_model_json

__all__ = [
    "RetentionModel",
    "RetentionSpec",
    "empirical_survival",
    "residual_lifetime_sum",
    "retention_counts",
    "survival_table_to_counts",
]

NO_COHORT = "all"
"""Cohort label used when the data have no ``cohort`` column."""

_COLUMNS = ("periods_observed", "churned")
_TABLE = ("period", "n_alive")


@dataclass(frozen=True)
class RetentionSpec(ModelSpec):
    """A :class:`~clv.models._spec.ModelSpec` with the pure functions of a retention model.

    Attributes
    ----------
    log_survival : callable
        ``log_survival(params, t) -> log S(t)``, for ``t >= 0`` (``S(0) = 1``).
    expected_lifetime : callable, optional
        Closed form of ``expected_lifetime(params, discount_rate)``; without
        it the survival function is summed numerically.
    expected_residual_lifetime : callable, optional
        Closed form of ``expected_residual_lifetime(params, renewals,
        discount_rate)``; without it the survival function is summed.
    tail_exponent : callable, optional
        ``tail_exponent(params)``: the exponent :math:`e` of the power-law
        tail :math:`S(t) \\sim t^{-e}` (finite undiscounted lifetime iff
        :math:`e > 1`), used by the numerical sums.
    """

    log_survival: Callable[..., Any] | None = None
    expected_lifetime: Callable[..., Any] | None = None
    expected_residual_lifetime: Callable[..., Any] | None = None
    tail_exponent: Callable[..., Any] | None = None


# ---------------------------------------------------------------------------------------- data
def _ids(frame: pd.DataFrame, mask: Any) -> list[object]:
    return list(frame.index[np.asarray(mask, dtype=bool)][:5])


def _numeric(frame: pd.DataFrame, col: str, problems: list[Problem]) -> np.ndarray | None:
    """The column as float64, or None after recording why it is unusable."""
    series = frame[col]
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        problems.append(Problem(col, f"is not numeric (dtype {series.dtype})",
                                f"convert '{col}' to whole numbers"))
        return None
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        problems.append(Problem(col, f"has {int(bad.sum())} missing or infinite values",
                                "drop or fill those rows", _ids(frame, bad)))
        return None
    return values


def _churned(frame: pd.DataFrame, problems: list[Problem]) -> np.ndarray | None:
    series = frame["churned"]
    fix = ("churned must be True (lost in period periods_observed) or False (still active "
           "after periods_observed periods); 0/1 are accepted too")
    if pd.api.types.is_bool_dtype(series):
        if series.isna().any():
            problems.append(Problem("churned", "has missing values", fix,
                                    _ids(frame, series.isna().to_numpy())))
            return None
        return series.to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(series):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isin(values, (0.0, 1.0))
    else:
        values = series.to_numpy(dtype=object)
        bad = np.array([not isinstance(v, bool | np.bool_) for v in values], dtype=bool)
    if bad.any():
        problems.append(Problem("churned", f"is not boolean for {int(bad.sum())} rows "
                                f"(dtype {series.dtype})", fix, _ids(frame, bad)))
        return None
    return np.asarray(values, dtype=np.float64) > 0


def _cohorts(frame: pd.DataFrame, problems: list[Problem]) -> np.ndarray | None:
    if "cohort" not in frame.columns:
        return np.full(len(frame), NO_COHORT, dtype=object)
    missing = frame["cohort"].isna().to_numpy()
    if missing.any():
        problems.append(Problem("cohort", f"is missing for {int(missing.sum())} rows",
                                "label every row with its cohort (e.g. the acquisition period)",
                                _ids(frame, missing)))
        return None
    return frame["cohort"].to_numpy(dtype=object)


def _customer_counts(frame: pd.DataFrame) -> pd.DataFrame:
    problems: list[Problem] = []
    n = _numeric(frame, "periods_observed", problems)
    if n is not None:
        frac = n != np.round(n)
        if frac.any():
            problems.append(Problem("periods_observed", f"has non-integer values for "
                                    f"{int(frac.sum())} customers",
                                    "periods_observed counts whole renewal periods",
                                    _ids(frame, frac)))
        low = n < 1
        if low.any():
            problems.append(Problem("periods_observed", f"is below 1 for {int(low.sum())} "
                                    "customers", "a customer lost in period t has "
                                    "periods_observed = t >= 1; drop customers acquired at the "
                                    "end of observation (they carry no information)",
                                    _ids(frame, low)))
    churned = _churned(frame, problems)
    weight = None
    if "weight" in frame.columns:
        weight = _numeric(frame, "weight", problems)
        if weight is not None and (weight <= 0).any():
            problems.append(Problem("weight", "has values <= 0", "weight counts identical "
                                    "customers and must be > 0", _ids(frame, weight <= 0)))
    cohort = _cohorts(frame, problems)
    if problems:
        raise DataError(problems, what="the retention data")
    assert n is not None and churned is not None and cohort is not None
    return pd.DataFrame({
        "cohort": cohort,
        "periods_observed": n,
        "churned": churned,
        "weight": np.ones(len(frame)) if weight is None else weight,
    }, index=frame.index)


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
        raise DataError(f"expected a pandas DataFrame survival table, got {type(table).__name__}",
                        what="the survival table")
    problems: list[Problem] = []
    for col in _TABLE:
        if col not in table.columns:
            problems.append(Problem(col, "is required but missing", "a survival table has the "
                                    "columns cohort (optional), period and n_alive"))
    if problems:
        raise DataError(problems, what="the survival table")
    period = _numeric(table, "period", problems)
    if period is not None:
        bad = (period != np.round(period)) | (period < 0)
        if bad.any():
            problems.append(Problem("period", "has negative or non-integer values",
                                    "period counts renewal periods 0, 1, 2, ...", _ids(table, bad)))
    alive = _numeric(table, "n_alive", problems)
    if alive is not None:
        neg = alive < 0
        if neg.any():
            problems.append(Problem("n_alive", f"has negative counts in {int(neg.sum())} rows",
                                    "n_alive counts customers and must be >= 0", _ids(table, neg)))
        frac = alive != np.round(alive)
        if frac.any():
            problems.append(Problem("n_alive", "has non-integer values", "n_alive counts "
                                    "customers; pass counts, not percentages or proportions "
                                    "(multiply by the cohort size)", _ids(table, frac)))
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
        "order": ("is out of order within a cohort", "sort the table by cohort and period, "
                  "e.g. table.sort_values(['cohort', 'period'])"),
        "start": ("does not start at 0 within a cohort", "add the period-0 row holding the "
                  "cohort size (everyone is alive at period 0)"),
        "gap": ("skips periods within a cohort", "give every period 0, 1, ..., K of a cohort "
                "(survival must be observed every period)"),
        "zero": ("is 0 at period 0 (a cohort of size 0)", "drop empty cohorts; n_alive at "
                 "period 0 is the number of customers acquired"),
        "up": ("increases within a cohort (survival cannot increase)", "n_alive must be "
               "non-increasing in period; check for re-activations or mixed-up cohorts"),
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
        raise DataError(f"expected a pandas DataFrame of retention data, got {type(data).__name__}",
                        what="the retention data")
    if "n_alive" in data.columns or ("period" in data.columns
                                     and "periods_observed" not in data.columns):
        return survival_table_to_counts(data)
    missing = [c for c in _COLUMNS if c not in data.columns]
    if missing:
        raise DataError([Problem(c, "is required but missing", "pass one row per customer with "
                                 "periods_observed and churned (optionally cohort, weight), or a "
                                 "survival table with period and n_alive (optionally cohort)")
                         for c in missing], what="the retention data")
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
        frames.append(pd.DataFrame({"cohort": cohort, "period": t, "at_risk": at_risk,
                                    "churned": churned, "survival": np.cumprod(np.where(
                                        t > 0, rate, 1.0)), "retention_rate": rate}))
    if not frames:
        return pd.DataFrame(columns=["cohort", "period", "at_risk", "churned", "survival",
                                     "retention_rate"])
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------------- numerical sums
_BLOCK = 2048
_MAX_TERMS = 2**20
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(64)
_POWER_FROM = 1e15  # beyond this age the survival curve is its power law to ~1e-15


def _power_tail_remainder(log_g: Callable[[FloatArray], FloatArray], t_last: FloatArray,
                          log_g_last: FloatArray, log_g_before: FloatArray,
                          tail_exponent: float | None) -> FloatArray:
    r""":math:`\sum_{t > N} g(t)` for a smooth, power-law tailed :math:`g` (one value per row).

    Euler-Maclaurin, :math:`\sum_{t > N} g(t) = \int_N^\infty g - g(N)/2 - g'(N)/12 +
    O(g / N^3)`; the integral by 64-point Gauss-Legendre in :math:`u = \log t` up to
    :math:`t_U = 10^{15}` (where the integrand is smooth and decays like
    :math:`e^{-(e-1)u}`), and beyond :math:`t_U` exactly for the power law
    :math:`g(t_U)(t/t_U)^{-e}`, with the asymptotic exponent when known, else the local one
    at :math:`t_U`.  ``log_g(t)`` takes ``t`` of shape (rows, points).  Rows whose tail is
    not summable (:math:`e \le 1`) or not finite come back as ``nan``.
    """
    log_n = np.log(t_last)
    top = np.maximum(np.log(_POWER_FROM), log_n + np.log(1e6))
    span = top - log_n
    log_t = log_n[:, None] + 0.5 * (_GL_NODES[None, :] + 1.0) * span[:, None]
    with np.errstate(all="ignore"):
        integrand = np.exp(log_g(np.exp(log_t)) + log_t)
        integral = 0.5 * span * np.add.reduce(_GL_WEIGHTS * integrand, axis=1)
        t_top = np.exp(top)
        ends = log_g(np.stack([t_top, t_top * 1.001], axis=1))
        e = (-(ends[:, 1] - ends[:, 0]) / np.log(1.001) if tail_exponent is None
             else np.full(len(t_last), float(tail_exponent)))
        beyond = np.exp(ends[:, 0]) * t_top / (e - 1.0)
        g_n, g_before = np.exp(log_g_last), np.exp(log_g_before)
        rest = integral + beyond - 0.5 * g_n - (g_n - g_before) / 12.0
    return np.where((e > 1.0) & np.isfinite(rest) & (rest >= 0.0), rest, np.nan)


def residual_lifetime_sum(
    log_survival: Callable[[Any, FloatArray], FloatArray],
    params: Any,
    renewals: ArrayLike,
    discount_rate: ArrayLike,
    *,
    tail_exponent: float | None = None,
    multiplier: ArrayLike | None = None,
) -> FloatArray:
    r"""Return :math:`\sum_{k \ge 1} \frac{S(n+k)}{S(n)} (1+d)^{-(k-1)}` by direct summation.

    The discounted expected number of future renewals of a customer who has
    renewed ``n`` times, valued just before the next renewal decision (the
    DERL of Fader & Hardie 2010 for a customer with :math:`n` renewals).
    Summed in blocks until the tail is below :math:`10^{-14}` of the total:
    with :math:`d > 0` the tail is bounded by a geometric series; with
    :math:`d = 0` and :math:`S(t) \sim t^{-e}` the remainder after the first
    block comes from Euler-Maclaurin and quadrature (:func:`_power_tail_remainder`,
    about :math:`10^{-12}` relative even for :math:`e = 1.05`), and the sum is
    infinite when :math:`e \le 1`.

    Parameters
    ----------
    log_survival : callable
        ``log_survival(params, t)``; ``params`` must broadcast against a
        column vector of ``t``.
    params : NamedTuple
        Scalar parameters.
    renewals, discount_rate : array_like
        Broadcast together; ``renewals >= 0``, ``discount_rate >= 0``.
    tail_exponent : float, optional
        :math:`e` of the power-law tail (needed for ``discount_rate = 0``).
    multiplier : array_like, optional
        Per-customer churn multiplier (covariates), broadcast with ``renewals``;
        ``log_survival`` is then called as ``log_survival(params, t, multiplier)``.

    Returns
    -------
    ndarray
    """
    m, d, mult = np.broadcast_arrays(np.asarray(renewals, dtype=np.float64),
                                     np.asarray(discount_rate, dtype=np.float64),
                                     np.asarray(1.0 if multiplier is None else multiplier,
                                                dtype=np.float64))
    shape = m.shape
    pairs = np.stack([m.ravel(), d.ravel(), mult.ravel()], axis=1)
    uniq, inverse = np.unique(pairs, axis=0, return_inverse=True)
    mu, du, ku = uniq[:, 0], uniq[:, 1], uniq[:, 2]

    def log_s(t: FloatArray, k: FloatArray) -> FloatArray:
        return log_survival(params, t) if multiplier is None else log_survival(params, t, k)
    total = np.zeros(len(mu))
    if tail_exponent is not None and tail_exponent <= 1.0:
        total[du == 0] = np.inf
    log_z = -np.log1p(du)
    base = np.asarray(log_s(mu, ku), dtype=np.float64) * np.ones_like(mu)
    active = np.flatnonzero(np.isfinite(total))
    start = 1
    while active.size and start <= _MAX_TERMS:
        k = np.arange(start, start + _BLOCK, dtype=np.float64)
        t = mu[active, None] + k
        log_terms = (log_s(t, ku[active, None]) - base[active, None]
                     + (k - 1.0) * log_z[active, None])
        terms = np.exp(log_terms)
        total[active] += terms.sum(axis=1)
        last = terms[:, -1]
        z = np.exp(log_z[active])
        geometric = np.where(du[active] > 0, last * z / np.where(z < 1.0, 1.0 - z, 1.0), np.inf)
        # d = 0: power-law remainder sum_{t > N} f(t) ~ f(N) N / (e - 1) - f(N) / 2 (Euler-
        # Maclaurin), with the asymptotic exponent when known, else the local one
        if tail_exponent is None:
            e = -(log_terms[:, -1] - log_terms[:, -2]) / (np.log(t[:, -1]) - np.log(t[:, -2]))
        else:
            e = np.full(len(active), float(tail_exponent))
        n_last = t[:, -1]
        power = np.where(e > 1.0, last * (n_last / np.where(e > 1.0, e - 1.0, 1.0) - 0.5), np.inf)
        tail = np.minimum(geometric, power)
        done = tail <= 1e-14 * total[active]
        # d = 0: the remainder by quadrature (accurate to ~1e-12 of the total after one block)
        # instead of summing a heavy tail term by term
        flat = np.flatnonzero(~done & (du[active] == 0))
        if flat.size:
            rows = active[flat]
            rest = _power_tail_remainder(
                lambda tt, rows=rows: log_s(tt, ku[rows, None]) - base[rows, None],
                t[flat, -1], log_terms[flat, -1], log_terms[flat, -2], tail_exponent)
            ok = np.isfinite(rest)
            total[rows[ok]] += rest[ok]
            done[flat[ok]] = True
        final = start + _BLOCK > _MAX_TERMS
        if final:
            total[active] += np.where(np.isfinite(tail), np.maximum(tail, 0.0), np.inf)
            break
        active = active[~done]
        start += _BLOCK
    out = total[inverse.ravel()].reshape(shape)
    return out[()] if out.ndim == 0 else out


# --------------------------------------------------------------------------------- model
class RetentionModel(ParametricModel):
    """Base class of the contractual retention models (sBG, BdW).

    Parameters
    ----------
    shared : bool, default True
        With several cohorts, fit one set of parameters for all of them
        (``True``) or one set per cohort (``False``; needs a ``cohort``
        column).  Per-cohort parameters are in ``params_`` under a
        ``(cohort, param)`` MultiIndex and predictions then take ``cohort=``.
    penalizer : float, default 0.0
        L2 penalty on the parameters; keep 0 for maximum likelihood.
    """

    spec: ClassVar[RetentionSpec]
    _levers = (Lever("churn", None, 1.0),)
    _center_covariates = False  # the base parameters stay those of a customer with x = 0

    def __init__(self, *, shared: bool = True, penalizer: float = 0.0,
                 churn_covariates: Sequence[str] | None = None,
                 covariate_penalty: float = 0.0,
                 coefficient_priors: Mapping[str, tuple[float, float]] | None = None) -> None:
        super().__init__(penalizer=penalizer, covariates={"churn": churn_covariates},
                         covariate_penalty=covariate_penalty,
                         coefficient_priors=coefficient_priors)
        self.shared = shared
        if self._design and not shared:
            raise ValueError("churn_covariates need shared=True (one set of parameters for all "
                             "cohorts); add cohort indicators as covariates instead.")

    def _init_kwargs(self) -> dict[str, Any]:
        return {"shared": self.shared, "penalizer": self.penalizer, **self._covariate_kwargs()}

    # ------------------------------------------------------------------ fit
    def _starting_points(self, counts: pd.DataFrame) -> list[Mapping[str, float] | None]:
        """Starting values to try when the user gives none (``None``: the spec's defaults).

        Every start is fitted and the highest likelihood is kept.
        """
        return [None]

    def _maximise(self, counts: pd.DataFrame, initial_params: Mapping[str, float] | None,
                  n_starts: int, random_state: int | np.random.Generator | None) -> MLEResult:
        arrays = {"periods_observed": counts["periods_observed"].to_numpy(dtype=np.float64),
                  "churned": counts["churned"].to_numpy(dtype=np.float64)}
        weights = counts["weight"].to_numpy(dtype=np.float64)
        starts = [initial_params] if initial_params is not None else self._starting_points(counts)
        if len(starts) == 1:
            return maximise(self.spec, arrays, weights, initial_params=starts[0],
                            penalizer=self.penalizer, n_starts=n_starts, random_state=random_state)
        best: tuple[MLEResult, list[warnings.WarningMessage]] | None = None
        failure: ConvergenceError | None = None
        for start in starts:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    result = maximise(self.spec, arrays, weights, initial_params=start,
                                      penalizer=self.penalizer, n_starts=n_starts,
                                      random_state=random_state)
                except ConvergenceError as exc:
                    failure = failure or exc
                    continue
            if best is None or result.log_likelihood > best[0].log_likelihood + 1e-9:
                best = (result, list(caught))
        if best is None:
            assert failure is not None
            raise failure
        for w in best[1]:  # re-issue the warnings of the fit that is kept
            warnings.warn(w.message, w.category, stacklevel=3)
        return best[0]

    def fit(
        self,
        data: pd.DataFrame,
        *,
        initial_params: Mapping[str, float] | None = None,
        n_starts: int = 1,
        random_state: int | np.random.Generator | None = None,
    ) -> Self:
        """Estimate the parameters by maximum likelihood.

        Parameters
        ----------
        data : DataFrame
            Per-customer rows (``periods_observed``, ``churned``, optional
            ``cohort`` and ``weight``) or a survival table (``period``,
            ``n_alive``, optional ``cohort``); see :mod:`clv.models._retention`.
        initial_params : mapping, optional
            Starting values on the natural scale (for every cohort).
        n_starts : int, default 1
            Number of starting points (extra ones are seeded perturbations).
        random_state : int or Generator, optional
            Seed for the extra starting points.

        Returns
        -------
        self

        Raises
        ------
        DataError
            Invalid data (see :func:`retention_counts`), no renewal period
            observed, or ``shared=False`` without a ``cohort`` column.
        ConvergenceError
            The likelihood could not be maximised.
        """
        what = f"the data passed to {type(self).__name__}"
        if self._design and isinstance(data, pd.DataFrame) and (
                "n_alive" in data.columns or ("period" in data.columns
                                              and "periods_observed" not in data.columns)):
            raise DataError([Problem(None, "a survival table (period, n_alive) cannot carry "
                                     "customer covariates", "pass one row per customer with "
                                     "periods_observed, churned and the covariate columns "
                                     f"{self._design.coef_columns}")], what=what)
        counts = retention_counts(data)
        if len(counts) == 0:
            raise DataError([Problem(None, "no renewal period is observed", "pass customers "
                                     "observed for at least one period (periods_observed >= 1, "
                                     "or a survival table with periods after 0)")], what=what)
        names = list(self.spec.params._fields)
        labels = list(pd.unique(counts["cohort"]))
        if self._design:
            arrays = {c: counts[c].to_numpy(dtype=np.float64) for c in _COLUMNS}
            weights = counts["weight"].to_numpy(dtype=np.float64)
            from clv.models import _retention_covariates as ph

            self._fit_covariates(
                data, arrays, weights, initial_params, n_starts, random_state, ph.log_likelihood,
                plain_fit=lambda: self._maximise(counts, None, 1, None))
            self.params_.index.name = "param"
            self.covariance_.index.name = self.covariance_.columns.name = "param"
        elif self.shared:
            result = self._maximise(counts, initial_params, n_starts, random_state)
            flat = pd.Index(names, name="param")
            self.params_ = pd.Series(result.params, index=flat, name="coef", dtype=np.float64)
            self.covariance_ = pd.DataFrame(result.covariance, index=flat, columns=flat)
            self.log_likelihood_ = result.log_likelihood
            self.converged_ = result.converged
            self.optimizer_: MLEResult | dict[Hashable, MLEResult] = result
        else:
            has_cohort = "cohort" in data.columns
            if not has_cohort:
                raise DataError([Problem("cohort", "is required with shared=False but missing",
                                         "add a cohort column, or use shared=True for one set of "
                                         "parameters")], what=what)
            all_cohorts = list(pd.unique(data["cohort"]))
            empty = [c for c in all_cohorts if c not in set(labels)]
            if empty:
                raise DataError([Problem("cohort", "has cohorts without any observed renewal "
                                         "period, so their parameters cannot be estimated",
                                         "drop them, or use shared=True", empty)], what=what)
            results = {c: self._maximise(counts[counts["cohort"] == c], initial_params, n_starts,
                                         random_state) for c in labels}
            index = pd.MultiIndex.from_tuples([(c, n) for c in labels for n in names],
                                              names=["cohort", "param"])
            self.params_ = pd.Series(np.concatenate([r.params for r in results.values()]),
                                     index=index, name="coef", dtype=np.float64)
            k = len(names)
            cov = np.zeros((k * len(labels), k * len(labels)))
            for i, r in enumerate(results.values()):
                cov[i * k:(i + 1) * k, i * k:(i + 1) * k] = r.covariance
            self.covariance_ = pd.DataFrame(cov, index=index, columns=index)
            self.log_likelihood_ = float(sum(r.log_likelihood for r in results.values()))
            self.converged_ = all(r.converged for r in results.values())
            self.optimizer_ = results
        self.cohorts_ = labels
        total = float(counts["weight"].sum())
        self.n_customers_ = int(total) if total.is_integer() else total
        self.time_unit_ = data.attrs.get("time_unit")
        return self

    # ------------------------------------------------------------------ parameters
    @property
    def _per_cohort(self) -> bool:
        return isinstance(self.params_.index, pd.MultiIndex)

    def _params(self, cohort: Hashable | None = None) -> Any:
        """The parameter tuple of ``cohort`` (or the shared one)."""
        self._check_fitted()
        if cohort is not None and cohort not in self.cohorts_:
            raise ValueError(f"unknown cohort {cohort!r}; the model was fitted on cohorts "
                             f"{self.cohorts_}.")
        if not self._per_cohort:
            return self.spec.params(*self.params_[list(self.spec.params._fields)].to_numpy())
        if cohort is None:
            raise ValueError(f"{type(self).__name__} has one set of parameters per cohort; pass "
                             f"cohort= (one of {self.cohorts_}).")
        return self.spec.params(*self.params_.loc[cohort].to_numpy())

    @property
    def _p(self) -> Any:
        return self._params(None)

    # ------------------------------------------------------------------ predictions
    def survival(self, t: ArrayLike, *, cohort: Hashable | None = None,
                 covariates: pd.DataFrame | None = None) -> np.ndarray | pd.Series:
        """Share of a new cohort still active after ``t`` periods, :math:`S(t)`.

        Parameters
        ----------
        t : array_like
            Periods, ``t >= 0`` (``S(0) = 1``).
        cohort : hashable, optional
            Required when the model has one set of parameters per cohort.
        covariates : DataFrame, optional
            For a model with churn covariates: one row per customer with the
            covariate columns; the result is a Series aligned to its index
            (``t`` a scalar or one value per row). Without it, the values of
            a customer with every covariate at 0.

        Returns
        -------
        ndarray or Series
        """
        assert self.spec.log_survival is not None
        t_arr = _check_periods(t, 0.0, "t")
        if covariates is not None:
            return self._per_customer(covariates, t_arr, lambda f, k: np.exp(f(k, t_arr)),
                                      "survival")
        return np.exp(self.spec.log_survival(self._params(cohort), t_arr))

    def _per_customer(self, covariates: pd.DataFrame, t: FloatArray,
                      fn: Callable[..., Any], name: str) -> pd.Series:
        """``fn(log_survival, multiplier)`` for each customer of ``covariates`` (a Series)."""
        from clv.models import _retention_covariates as ph

        if not isinstance(covariates, pd.DataFrame):
            raise TypeError("covariates must be a DataFrame with one row per customer.")
        p = self._p
        k = self.individual_params(covariates)["churn_multiplier"].to_numpy()
        values = fn(lambda mult, tt: ph.log_survival(p, mult, tt), k)
        return pd.Series(np.asarray(values, dtype=np.float64) * np.ones(len(covariates)),
                         index=covariates.index, name=name)

    def individual_params(self, data: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        """Per-customer parameters: the base ones and the churn hazard multiplier.

        The retention covariates act as discrete proportional hazards, so
        ``alpha, beta`` (and ``c``) are shared and each customer has a
        ``churn_multiplier`` :math:`k_i = e^{\\gamma_c^\top x_i}` (1 without
        covariates): :math:`S_i(t) = B(\alpha, \beta + k_i t^c)/B(\alpha, \beta)`.
        """
        out = super().individual_params(data, params)
        p = self.params_ if params is None else pd.Series(params, dtype=np.float64)
        k = np.ones(len(data))
        if self._design:
            X = self._design.matrices(data, f"the covariates passed to {type(self).__name__}")
            g = self._coefficients(p)["churn"]
            k = np.asarray(cov.covariate_multiplier(X["churn"], g, 1.0)) * k
        out["churn_multiplier"] = k
        return out


    def retention_rate(self, t: ArrayLike, *, cohort: Hashable | None = None,
                       covariates: pd.DataFrame | None = None) -> np.ndarray | pd.Series:
        """Share of the customers active in period ``t`` who renew: :math:`r_t = S(t)/S(t-1)`.

        Parameters
        ----------
        t : array_like
            Periods, ``t >= 1``.
        cohort : hashable, optional
            Required when the model has one set of parameters per cohort.
        covariates : DataFrame, optional
            For a model with churn covariates: one row per customer with the
            covariate columns; the result is a Series aligned to its index
            (``t`` a scalar or one value per row). Without it, the values of
            a customer with every covariate at 0.

        Returns
        -------
        ndarray or Series
        """
        assert self.spec.log_survival is not None
        t_arr = _check_periods(t, 1.0, "t")
        if covariates is not None:
            return self._per_customer(
                covariates, t_arr,
                lambda f, k: np.exp(np.minimum(f(k, t_arr) - f(k, t_arr - 1.0), 0.0)),
                "retention_rate")
        p = self._params(cohort)
        diff = self.spec.log_survival(p, t_arr) - self.spec.log_survival(p, t_arr - 1.0)
        return np.exp(np.minimum(diff, 0.0))

    def probability_of_churn(self, t: ArrayLike, *, cohort: Hashable | None = None,
                             covariates: pd.DataFrame | None = None) -> np.ndarray | pd.Series:
        """Probability that a new customer is lost in period ``t``, :math:`S(t-1) - S(t)`.

        Parameters
        ----------
        t : array_like
            Periods, ``t >= 1``.
        cohort : hashable, optional
            Required when the model has one set of parameters per cohort.

        Returns
        -------
        ndarray
        """
        t_arr = _check_periods(t, 1.0, "t")
        if covariates is not None:
            from clv.models import _retention_covariates as ph

            p = self._p
            return self._per_customer(
                covariates, t_arr,
                lambda f, k: np.exp(ph.log_likelihood(p, {"churn": k}, t_arr, 1.0)),
                "probability_of_churn")
        p = self._params(cohort)
        ll = self.spec.log_likelihood(p, t_arr, np.ones_like(t_arr))
        return np.exp(ll)

    def expected_lifetime(self, *, discount_rate: float = 0.0,
                          cohort: Hashable | None = None,
                          covariates: pd.DataFrame | None = None) -> float | pd.Series:
        r"""(Discounted) expected lifetime of a new customer, in periods: DEL.

        :math:`\mathrm{DEL}(d) = \sum_{t \ge 0} S(t) / (1+d)^t`, the expected
        discounted number of payments when every active period is paid at its
        start (the first one at acquisition, undiscounted).  With ``d = 0``
        this is :math:`E[T]`, which is infinite for heavy-tailed lifetimes.
        With churn covariates it is the value for a customer with every
        covariate at 0, or, with ``covariates=`` (one row per new customer),
        a Series of per-customer values.

        Parameters
        ----------
        discount_rate : float, default 0
            Per period, ``>= 0``.
        cohort : hashable, optional
            Required when the model has one set of parameters per cohort.

        Returns
        -------
        float
        """
        d = _check_rate(discount_rate)
        if covariates is not None:
            future = self.expected_residual_lifetime(np.zeros(len(covariates)), discount_rate=d,
                                                     covariates=covariates)
            return (1.0 + future / (1.0 + d)).rename("expected_lifetime")
        p = self._params(cohort)  # x = 0 with covariates: a baseline new customer
        if self.spec.expected_lifetime is not None:
            return float(self.spec.expected_lifetime(p, d))
        future = self._residual(p, 0.0, d)
        return float(1.0 + future / (1.0 + d))

    def expected_residual_lifetime(self, periods_observed: ArrayLike, *,
                                   discount_rate: float = 0.0,
                                   cohort: Hashable | None = None,
                                   covariates: pd.DataFrame | None = None
                                   ) -> np.ndarray | pd.Series:
        r"""Discounted expected residual lifetime (DERL) of active customers.

        For a customer still active after ``n = periods_observed`` periods
        (who has renewed ``n`` times), the expected discounted number of
        *future* renewals, valued just before the next renewal decision, as in
        Fader & Hardie (2010):

        .. math:: \mathrm{DERL}(d \mid n) = \sum_{k \ge 1}
                  \frac{S(n+k)}{S(n)} \frac{1}{(1+d)^{k-1}}

        (their :math:`n - 1` renewals are our ``n``).  Divide by
        :math:`1+d` to value it at the start of the current period instead.
        With ``d = 0`` it is the expected number of future renewals,
        :math:`E[T - n - 1 \mid T > n]`.

        Parameters
        ----------
        periods_observed : array_like or Series
            Renewal periods survived so far (``>= 0``; 0 for a customer just
            acquired).  A Series gives a Series with the same index.
        discount_rate : float, default 0
            Per period, ``>= 0``.
        cohort : hashable, optional
            Required when the model has one set of parameters per cohort.
        covariates : DataFrame, optional
            For a model with churn covariates: one row per customer (aligned
            with ``periods_observed``) with the covariate columns; the result
            is a Series indexed like ``covariates``. Without it every
            covariate is 0.

        Returns
        -------
        ndarray or Series
        """
        d = _check_rate(discount_rate)
        n = _check_periods(periods_observed, 0.0, "periods_observed")
        if covariates is not None:
            from clv.models import _retention_covariates as ph

            if not isinstance(covariates, pd.DataFrame):
                raise TypeError("covariates must be a DataFrame with one row per customer.")
            p = self._p
            k = self.individual_params(covariates)["churn_multiplier"].to_numpy()
            exponent = None if self.spec.tail_exponent is None else float(
                self.spec.tail_exponent(p))
            values = residual_lifetime_sum(
                lambda q, t, kk: ph.log_survival(q, kk, t), p, n * np.ones(len(k)), d,
                tail_exponent=exponent, multiplier=k)
            return pd.Series(values, index=covariates.index, name="expected_residual_lifetime")
        values = self._residual(self._params(cohort), n, d)
        if isinstance(periods_observed, pd.Series):
            return pd.Series(np.asarray(values, dtype=np.float64) * np.ones(len(periods_observed)),
                             index=periods_observed.index, name="expected_residual_lifetime")
        return np.asarray(values)

    def _residual(self, p: Any, n: ArrayLike, d: float) -> FloatArray:
        if self.spec.expected_residual_lifetime is not None:
            return np.asarray(self.spec.expected_residual_lifetime(p, n, d))
        assert self.spec.log_survival is not None
        exponent = None if self.spec.tail_exponent is None else float(self.spec.tail_exponent(p))
        return residual_lifetime_sum(self.spec.log_survival, p, n, d, tail_exponent=exponent)

    def simulate(self, n_customers: int, n_periods: ArrayLike, *,
                 random_state: int | np.random.Generator | None = None,
                 cohort: Hashable | None = None) -> pd.DataFrame:
        """Simulate customers from the fitted parameters (every covariate at 0, if any).

        Parameters
        ----------
        n_customers : int
            Number of customers.
        n_periods : int or array_like
            Observation length in periods (one value, or one per customer).
        random_state : int or Generator, optional
            Seed.
        cohort : hashable, optional
            Required when the model has one set of parameters per cohort.

        Returns
        -------
        DataFrame
            ``periods_observed`` and ``churned``, indexed by ``customer_id``.
        """
        assert self.spec.simulate is not None
        rng = np.random.default_rng(random_state)
        horizon = np.broadcast_to(np.asarray(n_periods), (int(n_customers),))
        horizon = _check_periods(horizon, 1.0, "n_periods")
        sim = self.spec.simulate(self._params(cohort), horizon, rng=rng)
        frame = pd.DataFrame({"periods_observed": sim["periods_observed"].astype(np.int64),
                              "churned": sim["churned"].astype(bool)})
        frame.index.name = "customer_id"
        if self.time_unit_ is not None:
            frame.attrs["time_unit"] = self.time_unit_
        return frame

    # ------------------------------------------------------------------ persistence, reprs
    def to_json(self, path: str | os.PathLike[str]) -> None:
        """Save the fitted model as JSON (atomically; never pickle)."""
        self._check_fitted()
        names = self._param_names()
        if self._per_cohort:
            params: Any = [[_json_label(c), {n: float(self.params_[(c, n)]) for n in names}]
                           for c in self.cohorts_]
        else:
            params = {n: float(self.params_[n]) for n in names}
        write_model_json(path, type(self).__name__, {
            "init": self._init_kwargs(),
            "params": params,
            "cohorts": [_json_label(c) for c in self.cohorts_],
            "covariance": self.covariance_.to_numpy().tolist(),
            "log_likelihood": self.log_likelihood_,
            "n_customers": self.n_customers_,
            "converged": self.converged_,
            "time_unit": self.time_unit_,
        })

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> Self:
        """Load a model saved with :meth:`to_json`.

        Raises
        ------
        ModelFileError
            For a file of another model, an unknown schema version or a corrupt file.
        """
        doc = read_model_json(path, model=cls.__name__)
        try:
            model = cls(**init_kwargs(doc))
            names = model._param_names()
            raw = doc["params"]
            if isinstance(raw, dict):
                values = [float(raw[n]) for n in names]
                index: pd.Index = pd.Index(names, name="param")
            else:
                labels = [c for c, _ in raw]
                values = [float(p[n]) for _, p in raw for n in names]
                index = pd.MultiIndex.from_tuples([(c, n) for c in labels for n in names],
                                                  names=["cohort", "param"])
            k = len(values)
            cov = np.asarray(doc["covariance"], dtype=np.float64).reshape(k, k)
            model.params_ = pd.Series(values, index=index, name="coef", dtype=np.float64)
            model.covariance_ = pd.DataFrame(cov, index=index, columns=index)
            model.cohorts_ = list(doc["cohorts"])
            model.log_likelihood_ = float(doc["log_likelihood"])
            model.n_customers_ = doc["n_customers"]
            model.converged_ = bool(doc["converged"])
            model.time_unit_ = doc.get("time_unit")
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"'{path}' is a damaged {cls.__name__} file ({type(exc).__name__}"
                                 f": {exc}). Refit and save the model again.") from None
        return model

    def summary(self, alpha: float = 0.05) -> pd.DataFrame:
        """Parameter table: estimate, standard error and a ``1 - alpha`` interval.

        The interval is computed on the log scale and mapped back, so it stays
        positive; per-cohort models have a ``(cohort, param)`` index.
        """
        out = super().summary(alpha)
        if self._per_cohort:
            out.index = self.params_.index
        return out

    def __repr__(self) -> str:
        name = type(self).__name__
        if not hasattr(self, "params_"):
            return f"<{name} (unfitted)>"
        if self._per_cohort:
            ps = ", ".join(f"{n}[{c}]={v:.4g}" for (c, n), v in self.params_.items())
        else:
            ps = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return (f"<{name} fitted on {self.n_customers_} customers: {ps}, "
                f"log-likelihood={self.log_likelihood_:.2f}>")

    def _repr_html_(self) -> str:
        if not hasattr(self, "params_"):
            return f"<p><b>{html.escape(type(self).__name__)}</b> (unfitted)</p>"
        return super()._repr_html_()


def _json_label(label: Hashable) -> Any:
    """A cohort label as a JSON value (numbers and strings kept, others as text)."""
    item = getattr(label, "item", None)
    if callable(item):
        label = item()
    return label if isinstance(label, str | int | float | bool) else str(label)


def _check_periods(t: ArrayLike, low: float, name: str) -> FloatArray:
    arr = np.asarray(t, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or np.any(arr < low):
        raise ValueError(f"{name} must be finite periods >= {low:g}; got {t!r}.")
    return arr


def _check_rate(discount_rate: float) -> float:
    d = float(discount_rate)
    if not np.isfinite(d) or d < 0:
        raise ValueError("discount_rate is a rate per period and must be >= 0; "
                         f"got {discount_rate!r}.")
    return d
