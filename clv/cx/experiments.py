r"""Randomised experiments analysed with the same models as everything else.

An experiment table has one row per enrolled customer: ``customer_id``, ``arm``
(two arms: control and treatment) and ``start`` (when the customer was
randomised, e.g. the first purchase for an onboarding test). From the
transactions, :func:`analyse_experiment`

1. builds each customer's **pre-period** covariates from the purchases before
   ``start`` (purchases, tenure, days since the last purchase, mean spend) and
   joins any covariates the user gives (e.g. CX features as of the start);
2. checks **balance**: means by arm and standardised differences
   :math:`d = (\bar x_T - \bar x_C)/\sqrt{(s_T^2 + s_C^2)/2}`; a covariate is
   flagged when :math:`|d|` exceeds ``max_std_diff`` (0.1) *and* a Welch test
   rejects equality at 1 % after Bonferroni over the covariates (randomisation
   makes small chance differences common; large, significant ones mean the
   assignment was not random or the table was filtered after the fact). An
   optional sample-ratio check compares the arm sizes with the intended share;
3. summarises the **post-period** (purchases after the start day to ``end``)
   as an RFM frame with the start day as time 0, and fits the package's
   **Pareto/NBD** with the treatment indicator as a covariate of the purchase
   and the dropout process (optionally with the pre-period covariates, which
   sharpen the estimate without biasing it under randomisation), and the
   **Gamma-Gamma** with the indicator as a spend covariate (adjustment
   covariates enter as ``log1p`` of non-negative values, standardised and
   clipped at 4 standard deviations);
4. reports per lever the coefficient (log multiplier of the purchase rate,
   the dropout rate or the mean spend), its standard error and interval, and
   whether the data **measured** it (finite, usable precision; for spend enough
   repeat buyers per arm).

:meth:`clv.roi.Evidence.from_experiment` turns the measured levers into
grade-A evidence ``purchase[<column>]``, ``dropout[<column>]``,
``spend[<column>]`` for an investment that rolls the treatment out
(``Shift(<column>, "set", 1)``); levers the experiment did not measure are not
listed, so they keep the grade of whatever else supplies them.

For customers randomised long after their first purchase the Pareto/NBD's
"alive at time 0" is an approximation (some were already inactive):
randomisation keeps the comparison fair, but the coefficients are then effects
on the enrolled population's post-start rates, and the dropout effect is often
too imprecise to count as measured.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from clv.exceptions import (
    ConvergenceError,
    ConvergenceWarning,
    DataError,
    DataWarning,
    Problem,
)

__all__ = ["ExperimentResult", "analyse_experiment", "balance_table"]

_NS_PER_DAY = 86_400 * 10**9
_LEVER_TEXT = {"purchase": "purchase rate", "dropout": "dropout rate", "spend": "mean spend"}


@dataclass(frozen=True)
class ExperimentResult:
    """Result of :func:`analyse_experiment`.

    Attributes
    ----------
    column : str
        Name of the treatment indicator (coefficients ``<lever>[<column>]``).
    effects : DataFrame
        Index ``lever`` (purchase, dropout, spend): ``coefficient`` (log
        multiplier), ``se``, ``lower``, ``upper``, ``multiplier`` and its
        ``_lower``/``_upper``, ``measured`` (bool) and ``note``.
    balance : DataFrame
        Index ``covariate``: ``mean_control``, ``mean_treatment``, ``std_diff``,
        ``p_value``, ``flagged``.
    arms : DataFrame
        Per arm: ``customers``, ``post_purchases_mean``, ``share_repeat``,
        ``spend_mean`` (model-free summaries).
    balanced : bool
        No flagged covariate and no sample-ratio mismatch.
    imbalanced : list of str
        What failed the balance check.
    models : dict
        The fitted ``transaction`` (Pareto/NBD) and ``spend`` (Gamma-Gamma) models.
    notes : list of str
        Caveats (e.g. the adjustment was dropped because its fit did not converge).
    enrolment : dict
        The tested population and timing: ``customers``, ``start_first`` /
        ``start_last`` (dates of the first and last randomisation),
        ``tenure_days_min`` / ``tenure_days_max`` (days since the first purchase at
        randomisation; 0 for a test at the first purchase) and ``post_days_max``
        (longest follow-up). :meth:`clv.roi.Evidence.from_experiment` scopes the
        evidence to it.
    """

    column: str
    treatment_arm: Hashable
    control_arm: Hashable
    effects: pd.DataFrame
    balance: pd.DataFrame
    arms: pd.DataFrame
    balanced: bool
    imbalanced: list[str]
    level: float
    srm_pvalue: float
    source: str | None = None
    models: dict[str, Any] = field(default_factory=dict, repr=False)
    notes: list[str] = field(default_factory=list)
    enrolment: dict[str, Any] = field(default_factory=dict)

    def coefficients(self) -> dict[str, tuple[float, float]]:
        """``{"<lever>[<column>]": (coefficient, se)}`` for the levers the experiment measured."""
        e = self.effects
        return {
            f"{lever}[{self.column}]": (
                float(e.loc[lever, "coefficient"]),
                float(e.loc[lever, "se"]),
            )
            for lever in e.index
            if bool(e.loc[lever, "measured"])
        }

    @property
    def measured_levers(self) -> list[str]:
        """Levers with a usable estimate."""
        return [str(lv) for lv in self.effects.index if bool(self.effects.loc[lv, "measured"])]


# ----------------------------------------------------------------------------- balance
def balance_table(
    covariates: pd.DataFrame, treated: np.ndarray, *, max_std_diff: float = 0.1, alpha: float = 0.01
) -> pd.DataFrame:
    """Means by arm, standardised differences and Welch p-values of pre-period covariates.

    A covariate is ``flagged`` when ``|std_diff| > max_std_diff`` and its p-value
    is below ``alpha / k`` (Bonferroni over the ``k`` covariates). Constant
    covariates get ``std_diff`` 0.

    Examples
    --------
    >>> x = pd.DataFrame({"age": [30.0, 40, 50, 31, 41, 51]})
    >>> balance_table(x, np.array([0, 0, 0, 1, 1, 1]))["std_diff"].round(2).tolist()
    [0.1]
    """
    t = np.asarray(treated, dtype=bool)
    rows = []
    k = max(1, covariates.shape[1])
    for col in covariates.columns:
        v = covariates[col].to_numpy(dtype=np.float64)
        a, b = v[~t], v[t]
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        var_a = a.var(ddof=1) if len(a) > 1 else 0.0
        var_b = b.var(ddof=1) if len(b) > 1 else 0.0
        pooled = math.sqrt((var_a + var_b) / 2.0)
        diff = float(b.mean() - a.mean()) if len(a) and len(b) else float("nan")
        if pooled > 0 and len(a) > 1 and len(b) > 1:
            sd = diff / pooled
            p = float(stats.ttest_ind(b, a, equal_var=False).pvalue)
        else:
            sd, p = 0.0, 1.0
        rows.append(
            {
                "covariate": col,
                "mean_control": float(a.mean()) if len(a) else np.nan,
                "mean_treatment": float(b.mean()) if len(b) else np.nan,
                "std_diff": sd,
                "p_value": p,
                "flagged": bool(abs(sd) > max_std_diff and p < alpha / k),
            }
        )
    return pd.DataFrame(rows).set_index("covariate")


# ----------------------------------------------------------------------------- inputs
def _arms(
    arm: pd.Series, treatment: Hashable | None, control: Hashable | None
) -> tuple[Hashable, Hashable]:
    values = list(pd.unique(arm.dropna()))
    if len(values) != 2:
        raise DataError(
            [
                Problem(
                    "arm",
                    f"the experiment needs exactly two arms, found {len(values)}: {values[:6]}",
                    "give one control and one treatment arm (analyse several treatments pairwise)",
                )
            ],
            what="the experiment table",
        )
    if treatment is None:
        for guess in ("treatment", "treated", 1, True, "B", "test"):
            if guess in values:
                treatment = guess
                break
    if treatment is None or treatment not in values:
        raise DataError(
            [
                Problem(
                    "arm", f"cannot tell which arm is treated among {values}", "pass treatment_arm="
                )
            ],
            what="the experiment table",
        )
    other = next(v for v in values if v != treatment)
    if control is not None and control != other:
        raise DataError(
            [
                Problem(
                    "arm",
                    f"control arm {control!r} not found; arms: {values}",
                    "pass the arm labels used in the table",
                )
            ],
            what="the experiment table",
        )
    return treatment, other


def _days(values: np.ndarray) -> np.ndarray:
    """Whole days since the epoch of datetime64 values."""
    return values.astype("datetime64[ns]").astype(np.int64) // _NS_PER_DAY


def _periods(
    experiment: pd.DataFrame,
    transactions: pd.DataFrame,
    end: pd.Timestamp,
    id_col: str,
    date_col: str,
    value_col: str | None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Pre-period covariates and post-period RFM (daily, start day = 0) per enrolled customer."""
    ids = pd.Index(experiment["customer_id"])
    start_day = _days(experiment["start"].to_numpy())
    end_day = int(_days(np.array([end.to_datetime64()]))[0]) - (
        0 if end == end.normalize() else -1
    )  # first day not observed
    tx = transactions[transactions[id_col].isin(ids)]
    pos = ids.get_indexer(tx[id_col].to_numpy())
    day = _days(pd.to_datetime(tx[date_col]).to_numpy())
    value = tx[value_col].to_numpy(dtype=np.float64) if value_col else np.ones(len(tx))
    inside = day < end_day
    pos, day, value = pos[inside], day[inside], value[inside]
    s = start_day[pos]
    n = len(ids)
    # pre-period: purchases on days before the start day
    pre = day < s
    pre_count = np.bincount(pos[pre], minlength=n).astype(np.float64)
    pre_value = np.bincount(pos[pre], weights=value[pre], minlength=n)
    first = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first, pos[pre], day[pre])
    last = np.full(n, np.iinfo(np.int64).min)
    np.maximum.at(last, pos[pre], day[pre])
    has = pre_count > 0
    covs = pd.DataFrame(
        {
            "pre_purchases": pre_count,
            "pre_tenure_days": np.where(has, start_day - first, 0.0).astype(np.float64),
            "pre_days_since_last": np.where(has, start_day - last, 0.0).astype(np.float64),
            "pre_spend_mean": np.where(has, pre_value / np.maximum(pre_count, 1), 0.0),
        },
        index=ids,
    )
    # post-period: one purchase per day at most (like the RFM summary with daily periods)
    post = day > s
    frame = pd.DataFrame({"pos": pos[post], "day": day[post], "value": value[post]})
    daily = frame.groupby(["pos", "day"], sort=False)["value"].sum().reset_index()
    p = daily["pos"].to_numpy()
    freq = np.bincount(p, minlength=n).astype(np.float64)
    total = np.bincount(p, weights=daily["value"].to_numpy(), minlength=n)
    last_post = np.full(n, 0, dtype=np.int64)
    np.maximum.at(last_post, p, daily["day"].to_numpy() - start_day[p])
    T = (end_day - 1 - start_day).astype(np.float64)
    rfm = pd.DataFrame(
        {
            "frequency": freq,
            "recency": np.where(freq > 0, last_post, 0.0),
            "T": T,
            "monetary_value": np.where(freq > 0, total / np.maximum(freq, 1), 0.0),
        },
        index=ids,
    )
    rfm.index.name = "customer_id"
    rfm.attrs["time_unit"] = "D"
    return covs, rfm


# ----------------------------------------------------------------------------- analysis
def analyse_experiment(
    experiment: pd.DataFrame,
    transactions: pd.DataFrame,
    *,
    end: Any,
    column: str = "treatment",
    treatment_arm: Hashable | None = None,
    control_arm: Hashable | None = None,
    covariates: pd.DataFrame | None = None,
    customer_id_col: str = "customer_id",
    date_col: str = "date",
    value_col: str | None = "value",
    arm_col: str = "arm",
    start_col: str = "start",
    adjust: bool = False,
    max_std_diff: float = 0.1,
    expected_share: float | None = None,
    on_imbalance: str = "raise",
    level: float = 0.90,
    max_se: float = 1.0,
    min_repeat_buyers: int = 30,
    source: str | None = None,
) -> ExperimentResult:
    """Analyse a randomised experiment on the purchase, dropout and spend levers.

    Parameters
    ----------
    experiment : DataFrame
        One row per enrolled customer: ``customer_id_col``, ``arm_col``, ``start_col``.
    transactions : DataFrame
        Purchases (``customer_id_col``, ``date_col``, ``value_col``) of at least the
        enrolled customers, before and after their start.
    end : date-like
        Exclusive end of the observation (post-period) window.
    column : str, default "treatment"
        Name of the treatment indicator in the evidence coefficients.
    treatment_arm, control_arm : optional
        Arm labels (guessed for ``treatment``/``treated``/1/``B``/``test``).
    covariates : DataFrame, optional
        Extra pre-treatment covariates per customer (``customer_id_col`` column or
        index), numeric (e.g. CX features as of the start, one-hot segments):
        checked for balance and, with ``adjust``, used in the models.
    adjust : bool, default False
        Also put the pre-period covariates (``log1p`` of non-negative values,
        standardised, clipped at 4 SD) into the models next to the treatment
        indicator: more precise when they predict behaviour, but a larger fit
        (if it does not converge, the indicator alone is used and a note says so).
    max_std_diff : float, default 0.1
        Standardised difference above which a significant imbalance is flagged.
    expected_share : float, optional
        Intended share of the treatment arm: a chi-square sample-ratio check
        (mismatch when p < 0.001).
    on_imbalance : {"raise", "flag"}
        ``raise``: a :class:`~clv.exceptions.DataError` naming the covariates;
        ``flag``: a :class:`~clv.exceptions.DataWarning` and ``balanced=False``
        (:meth:`clv.roi.Evidence.from_experiment` then refuses the result).
    level : float, default 0.90
        Interval level.
    max_se : float, default 1.0
        A lever whose coefficient's standard error exceeds this is "not measured"
        (an interval wider than about ×0.2 to ×5).
    min_repeat_buyers : int, default 30
        Repeat buyers needed in each arm to measure spend.
    source : str, optional
        Text for the evidence (default describes the experiment).

    Returns
    -------
    ExperimentResult
    """
    from clv.models import GammaGammaModel, ParetoNBDModel

    if on_imbalance not in ("raise", "flag"):
        raise ValueError(f"on_imbalance must be 'raise' or 'flag', got {on_imbalance!r}.")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}.")
    missing = [c for c in (customer_id_col, arm_col, start_col) if c not in experiment.columns]
    if missing:
        raise DataError(
            [
                Problem(
                    c,
                    "column is missing",
                    f"the experiment table needs {customer_id_col}, {arm_col}, {start_col}",
                )
                for c in missing
            ],
            what="the experiment table",
        )
    need = [customer_id_col, date_col] + ([value_col] if value_col else [])
    missing = [c for c in need if c not in transactions.columns]
    if missing:
        raise DataError(
            [Problem(c, "column is missing", "pass the transactions") for c in missing],
            what="the transactions",
        )
    exp = pd.DataFrame(
        {
            "customer_id": experiment[customer_id_col].to_numpy(),
            "arm": experiment[arm_col].to_numpy(),
            "start": pd.to_datetime(experiment[start_col], errors="coerce").to_numpy(),
        }
    )
    dup = exp["customer_id"].duplicated()
    bad = exp["start"].isna() | exp["arm"].isna()
    stop = pd.Timestamp(end)
    late = exp["start"] >= stop.to_datetime64() - np.timedelta64(1, "D")
    for mask, col, message, fix in (
        (
            dup,
            customer_id_col,
            "customers enrolled more than once",
            "keep each customer's first enrolment",
        ),
        (
            bad,
            start_col,
            f"{int(bad.sum())} rows have no arm or no readable start date",
            "fill them or drop the rows",
        ),
        (
            late,
            start_col,
            f"{int(late.sum())} customers start less than a day before the end ({stop})",
            "analyse later or drop them",
        ),
    ):
        if mask.any():
            raise DataError(
                [Problem(col, message, fix, rows=list(exp.loc[mask, "customer_id"][:5]))],
                what="the experiment table",
            )
    treat_arm, ctrl_arm = _arms(exp["arm"], treatment_arm, control_arm)
    treated = (exp["arm"] == treat_arm).to_numpy()
    n_t, n_c = int(treated.sum()), int((~treated).sum())
    if min(n_t, n_c) < 10:
        raise DataError(
            [
                Problem(
                    arm_col,
                    f"{n_t} treated and {n_c} control customers",
                    "an experiment needs at least 10 customers per arm",
                )
            ],
            what="the experiment table",
        )

    pre, rfm = _periods(exp, transactions, stop, customer_id_col, date_col, value_col)
    if covariates is not None:
        extra = (
            covariates.set_index(customer_id_col)
            if customer_id_col in covariates.columns
            else covariates
        )
        extra = extra.reindex(pre.index)
        non_numeric = [c for c in extra.columns if not pd.api.types.is_numeric_dtype(extra[c])]
        if non_numeric:
            raise DataError(
                [
                    Problem(
                        c,
                        "covariate is not numeric",
                        "one-hot encode it (e.g. pandas.get_dummies) or drop it",
                    )
                    for c in non_numeric
                ],
                what="the experiment covariates",
            )
        if extra.isna().any().any():
            rows = list(extra.index[extra.isna().any(axis=1)][:5])
            raise DataError(
                [
                    Problem(
                        None,
                        "enrolled customers lack covariate values",
                        "give every enrolled customer a value",
                        rows=rows,
                    )
                ],
                what="the experiment covariates",
            )
        extra = extra.rename(columns={c: f"{c}_user" for c in extra.columns if c in pre.columns})
        pre = pre.join(extra.astype(np.float64))
    balance = balance_table(pre, treated, max_std_diff=max_std_diff)
    imbalanced = [str(c) for c in balance.index[balance["flagged"]]]
    srm = float("nan")
    if expected_share is not None:
        if not 0 < expected_share < 1:
            raise ValueError(f"expected_share must be in (0, 1), got {expected_share!r}.")
        n = n_t + n_c
        srm = float(
            stats.chisquare([n_t, n_c], [n * expected_share, n * (1 - expected_share)]).pvalue
        )
        if srm < 1e-3:
            imbalanced.append(
                f"arm sizes {n_t}:{n_c} (expected share {expected_share:g}, p = {srm:.2g})"
            )
    if imbalanced:
        msg = (
            f"the arms differ before the treatment in {', '.join(imbalanced)}: the "
            "assignment does not look random (or the table was filtered after the start)"
        )
        if on_imbalance == "raise":
            raise DataError(
                [
                    Problem(
                        arm_col,
                        msg,
                        "check the randomisation and the "
                        "enrolment filter; on_imbalance='flag' to inspect",
                    )
                ],
                what="the experiment table",
            )
        warnings.warn(msg + "; its effects are not grade-A evidence.", DataWarning, stacklevel=2)

    design = rfm.copy()
    design[column] = treated.astype(np.float64)
    cov_names = [column]
    if adjust:
        for c in pre.columns:
            v = pre[c].to_numpy(dtype=np.float64)
            if v.min() >= 0:  # counts, days, money: tame the long right tail
                v = np.log1p(v)
            sd = float(v.std())
            if sd > 0:
                name = f"_adj_{c}"
                design[name] = np.clip((v - v.mean()) / sd, -4.0, 4.0)
                cov_names.append(name)
    z = float(stats.norm.ppf(0.5 + level / 2))
    rows = []
    models: dict[str, Any] = {}
    notes: list[str] = []
    try:
        tm = (
            ParetoNBDModel(purchase_covariates=cov_names, dropout_covariates=cov_names).fit(design)
            if len(cov_names) > 1
            else _fit_indicator_only(design, column, notes)
        )
    except ConvergenceError as exc:
        notes.append(
            f"the Pareto/NBD with the pre-period adjustment did not converge ({exc}); "
            "the treatment indicator alone was used (still unbiased under "
            "randomisation, less precise)"
        )
        cov_names = [column]
        tm = _fit_indicator_only(design, column, notes)
    models["transaction"] = tm
    for lever in ("purchase", "dropout"):
        rows.append(_effect(tm, lever, column, z, max_se, None))
    repeat = design["frequency"] > 0
    buyers = (int((repeat & treated).sum()), int((repeat & ~treated).sum()))
    if (
        value_col
        and min(buyers) >= min_repeat_buyers
        and bool((design.loc[repeat, "monetary_value"] > 0).all())
    ):
        sm = GammaGammaModel(spend_covariates=cov_names).fit(design)
        models["spend"] = sm
        rows.append(_effect(sm, "spend", column, z, max_se, None))
    else:
        why = (
            "no spend values"
            if not value_col
            else f"{buyers[0]} treated and {buyers[1]} control repeat buyers "
            f"(fewer than {min_repeat_buyers})"
        )
        rows.append(_effect(None, "spend", column, z, max_se, why))
    effects = pd.DataFrame(rows).set_index("lever")
    arms = pd.DataFrame(
        {
            "customers": [n_c, n_t],
            "post_purchases_mean": [
                rfm["frequency"][~treated].mean(),
                rfm["frequency"][treated].mean(),
            ],
            "share_repeat": [
                (rfm["frequency"][~treated] > 0).mean(),
                (rfm["frequency"][treated] > 0).mean(),
            ],
            "spend_mean": [
                rfm["monetary_value"][~treated & repeat.to_numpy()].mean(),
                rfm["monetary_value"][treated & repeat.to_numpy()].mean(),
            ],
        },
        index=pd.Index([ctrl_arm, treat_arm], name="arm"),
    )
    text = source or (
        f"randomised experiment {treat_arm!r} vs {ctrl_arm!r}: {n_t:,} treated, "
        f"{n_c:,} control customers, observed to {stop.date()}"
    )
    return ExperimentResult(
        column,
        treat_arm,
        ctrl_arm,
        effects,
        balance,
        arms,
        not imbalanced,
        imbalanced,
        level,
        srm,
        text,
        models,
        notes,
        _enrolment(exp["start"], pre["pre_tenure_days"], rfm["T"]),
    )


def _enrolment(start: pd.Series, tenure: pd.Series, post_days: pd.Series) -> dict[str, Any]:
    """Who was randomised, when, at which tenure and for how long (``enrolment``)."""
    starts = pd.to_datetime(start)
    return {
        "customers": len(starts),
        "start_first": str(starts.min().date()),
        "start_last": str(starts.max().date()),
        "tenure_days_min": float(tenure.min()),
        "tenure_days_max": float(tenure.max()),
        "post_days_max": float(post_days.max()),
    }


def _fit_indicator_only(design: pd.DataFrame, column: str, notes: list[str]) -> Any:
    """Pareto/NBD with the treatment indicator on both processes; if the post window is too
    short to identify dropout, retry with a light penalty on the base parameters."""
    from clv.models import ParetoNBDModel

    try:
        with warnings.catch_warnings():
            # a singular Hessian (no standard errors) also calls for the penalised refit
            warnings.simplefilter("error", ConvergenceWarning)
            return ParetoNBDModel(purchase_covariates=[column], dropout_covariates=[column]).fit(
                design
            )
    except (ConvergenceError, ConvergenceWarning) as exc:
        notes.append(
            f"the unpenalised Pareto/NBD did not converge or has no standard errors "
            f"({exc}); refitted with penalizer=0.01 on the base parameters (the "
            "treatment coefficients are not penalised)"
        )
        return ParetoNBDModel(
            penalizer=0.01, purchase_covariates=[column], dropout_covariates=[column]
        ).fit(design)


def _effect(
    model: Any, lever: str, column: str, z: float, max_se: float, why: str | None
) -> dict[str, Any]:
    """One row of the effects table."""
    if model is None:
        return {
            "lever": lever,
            "effect_on": _LEVER_TEXT[lever],
            "coefficient": np.nan,
            "se": np.nan,
            "lower": np.nan,
            "upper": np.nan,
            "multiplier": np.nan,
            "multiplier_lower": np.nan,
            "multiplier_upper": np.nan,
            "measured": False,
            "note": f"not measured: {why}",
        }
    name = f"{lever}[{column}]"
    coef = float(model.params_[name])
    se = float(np.sqrt(model.covariance_.loc[name, name]))
    ok = math.isfinite(se) and se <= max_se
    note = "measured" if ok else f"not measured: standard error {se:.3g} > {max_se:g}"
    return {
        "lever": lever,
        "effect_on": _LEVER_TEXT[lever],
        "coefficient": coef,
        "se": se,
        "lower": coef - z * se,
        "upper": coef + z * se,
        "multiplier": math.exp(coef),
        "multiplier_lower": math.exp(coef - z * se),
        "multiplier_upper": math.exp(coef + z * se),
        "measured": ok,
        "note": note,
    }
