r"""Difference-in-differences and event study around a dated CX change that hit some groups.

A change on a known date (a new support vendor, a store refit, a channel
outage) hit the customers of some groups (regions, channels, vendors, stores)
and not the others. From the transactions alone, per customer and period:

* outcome ``"purchases"``: the number of purchases in the period;
* outcome ``"active"``: 1 if the customer bought at least once in the period
  (an activity proxy, moved by purchase frequency *and* dropout).

The model is a Poisson (quasi-)likelihood with a **fixed effect per
customer**, a fixed effect per period, and for the treated groups either one
``treated × after`` term (difference-in-differences: the log rate ratio) or one
term per period relative to the change with the period just before it as the
reference (event study). With a balanced panel (every customer observed over
the whole window) the customer effects are concentrated out exactly: each
customer's counts are multinomial over the periods given their total, so the
estimate depends only on the arm × period totals, and the **cluster-robust
(sandwich) standard errors** use each customer's own score (clusters =
customers; ``cluster="group"`` clusters by group, which needs many groups). The
Poisson quasi-likelihood is consistent for any count distribution (over-dispersed,
binary), and the sandwich makes the intervals honest about it.

Identifying assumption: without the change, the treated groups' outcome would
have moved in proportion to the control groups' (parallel trends on the log
scale). The event study's leads (periods before the change) test it: a joint
Wald test that all leads are zero, reported with the result; a rejection makes
:meth:`clv.roi.Evidence.from_quasi_experiment` refuse the estimate.

The estimand is the effect on the treated groups' purchases over the post
window, as a log rate ratio :math:`\log E[Y^1]/E[Y^0]`. Handed to the ROI engine
it is grade-B evidence for the **purchase** lever (``purchase[<column>]``): the
change's total effect on purchase counts in the window, whatever its mechanism
(a dropout effect shows up as a growing event-study path; it is not separately
identified as a hazard ratio here).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from clv.exceptions import DataError, Problem

__all__ = ["DiDResult", "SignalChange", "difference_in_differences", "signal_change"]

_NS_PER_DAY = 86_400 * 10**9


@dataclass(frozen=True)
class DiDResult:
    """Result of :func:`difference_in_differences`.

    Attributes
    ----------
    estimate, se, lower, upper : float
        Log rate ratio of the outcome (treated after the change vs. their
        counterfactual), its cluster-robust standard error and ``level`` interval.
    rate_ratio, rate_ratio_lower, rate_ratio_upper : float
        The same as multipliers.
    event_study : DataFrame
        Index ``event_time`` (periods relative to the change; -1 is the
        reference, fixed at 0): ``coefficient``, ``se``, ``lower``, ``upper``,
        ``period_start``.
    pretrend_stat, pretrend_df, pretrend_pvalue : float
        Joint Wald test that every lead (event time <= -2) is zero.
    pretrend_rejected : bool
        ``pretrend_pvalue < pretrend_alpha``.
    """

    outcome: str
    column: str
    estimate: float
    se: float
    lower: float
    upper: float
    level: float
    event_study: pd.DataFrame
    pretrend_stat: float
    pretrend_df: int
    pretrend_pvalue: float
    pretrend_alpha: float
    n_treated: int
    n_control: int
    n_periods_before: int
    n_periods_after: int
    period_days: float
    change_date: pd.Timestamp
    cluster: str
    source: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def pretrend_rejected(self) -> bool:
        """Parallel trends rejected by the leads' joint test."""
        return bool(self.pretrend_pvalue < self.pretrend_alpha)

    @property
    def rate_ratio(self) -> float:
        """Multiplicative effect on the outcome rate."""
        return math.exp(self.estimate)

    @property
    def rate_ratio_lower(self) -> float:
        """Lower end of the rate ratio's interval."""
        return math.exp(self.lower)

    @property
    def rate_ratio_upper(self) -> float:
        """Upper end of the rate ratio's interval."""
        return math.exp(self.upper)

    def coefficients(self) -> dict[str, tuple[float, float]]:
        """Evidence coefficients ``{"purchase[<column>]": (log rate ratio, se)}``.

        Only the purchase-count outcome maps to a lever; the activity proxy gives none.
        """
        if self.outcome != "purchases":
            return {}
        return {f"purchase[{self.column}]": (self.estimate, self.se)}

    def summary(self) -> pd.DataFrame:
        """One row: estimate, interval, rate ratio, pre-trend test and sizes."""
        return pd.DataFrame(
            [
                {
                    "outcome": self.outcome,
                    "log_rate_ratio": self.estimate,
                    "se": self.se,
                    "lower": self.lower,
                    "upper": self.upper,
                    "rate_ratio": self.rate_ratio,
                    "rate_ratio_lower": self.rate_ratio_lower,
                    "rate_ratio_upper": self.rate_ratio_upper,
                    "pretrend_pvalue": self.pretrend_pvalue,
                    "pretrend_rejected": self.pretrend_rejected,
                    "n_treated": self.n_treated,
                    "n_control": self.n_control,
                    "periods_before": self.n_periods_before,
                    "periods_after": self.n_periods_after,
                    "cluster": self.cluster,
                }
            ]
        )


# ----------------------------------------------------------------------------- pure core
def _fit_multinomial(
    Y: np.ndarray, X: np.ndarray, *, max_iter: int = 100, tol: float = 1e-10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Poisson with unit fixed effects, concentrated out: Newton on arm × period totals.

    Parameters
    ----------
    Y : (A, P) totals per arm and period.
    X : (A, P, K) design per arm and period.

    Returns
    -------
    beta (K,), pi (A, P) fitted period shares per arm, information (K, K).
    """
    K = X.shape[2]
    N = Y.sum(axis=1)
    beta = np.zeros(K)
    info = np.eye(K)
    for _ in range(max_iter):
        eta = np.einsum("apk,k->ap", X, beta)
        eta -= eta.max(axis=1, keepdims=True)
        pi = np.exp(eta)
        pi /= pi.sum(axis=1, keepdims=True)
        xbar = np.einsum("ap,apk->ak", pi, X)
        grad = np.einsum("apk,ap->k", X, Y - N[:, None] * pi)
        centred = X - xbar[:, None, :]
        info = np.einsum("a,ap,apk,apl->kl", N, pi, centred, centred)
        step = np.linalg.solve(info, grad)
        beta = beta + step
        if np.max(np.abs(step)) < tol:
            break
    eta = np.einsum("apk,k->ap", X, beta)
    eta -= eta.max(axis=1, keepdims=True)
    pi = np.exp(eta)
    pi /= pi.sum(axis=1, keepdims=True)
    xbar = np.einsum("ap,apk->ak", pi, X)
    centred = X - xbar[:, None, :]
    info = np.einsum("a,ap,apk,apl->kl", N, pi, centred, centred)
    return beta, pi, info


def _sandwich(
    counts: np.ndarray,
    arm: np.ndarray,
    X: np.ndarray,
    pi: np.ndarray,
    info: np.ndarray,
    clusters: np.ndarray,
) -> np.ndarray:
    """Cluster-robust covariance from per-customer concentrated scores, summed by cluster."""
    n_i = counts.sum(axis=1)
    xbar = np.einsum("ap,apk->ak", pi, X)
    scores = np.einsum("ip,ipk->ik", counts, X[arm]) - n_i[:, None] * xbar[arm]
    codes, inverse = np.unique(clusters, return_inverse=True)
    G = len(codes)
    summed = np.zeros((G, scores.shape[1]))
    np.add.at(summed, inverse, scores)
    meat = summed.T @ summed * (G / (G - 1) if G > 1 else 1.0)
    bread = np.linalg.inv(info)
    return bread @ meat @ bread


def _design(P: int, after: np.ndarray, *, event_study: bool, ref: int) -> np.ndarray:
    """(2, P, K): period effects (period 0 the reference) + treated terms (arm 1 = treated)."""
    period = np.zeros((P, P - 1))
    period[np.arange(1, P), np.arange(P - 1)] = 1.0
    if event_study:
        keep = [p for p in range(P) if p != ref]
        treat = np.zeros((P, len(keep)))
        treat[keep, np.arange(len(keep))] = 1.0
    else:
        treat = after.astype(np.float64)[:, None]
    X = np.zeros((2, P, P - 1 + treat.shape[1]))
    X[:, :, : P - 1] = period
    X[1, :, P - 1 :] = treat
    return X


# ----------------------------------------------------------------------------- public
def difference_in_differences(
    transactions: pd.DataFrame,
    groups: pd.DataFrame,
    *,
    change_date: Any,
    treated: Hashable | Sequence[Hashable],
    end: Any = None,
    periods_before: int = 8,
    period_days: float = 28.0,
    outcome: str = "purchases",
    group_col: str = "region",
    customer_id_col: str = "customer_id",
    date_col: str = "date",
    column: str = "treated_change",
    level: float = 0.90,
    pretrend_alpha: float = 0.05,
    cluster: str = "customer",
    source: str | None = None,
) -> DiDResult:
    """Difference-in-differences and event study of a dated change that hit some groups.

    Parameters
    ----------
    transactions : DataFrame
        One row per purchase (``customer_id_col``, ``date_col``).
    groups : DataFrame
        One row per customer: ``customer_id_col`` and ``group_col`` (e.g. region).
    change_date : date-like
        When the change hit the treated groups (first moment it was in force).
    treated : value or list of values
        The group(s) hit by the change; every other group is a control.
    end : date-like, optional
        Exclusive end of the data (default: the day after the last purchase).
    periods_before : int, default 8
        Periods of ``period_days`` before the change in the window (>= 3: two
        leads are needed for the pre-trend test).
    period_days : float, default 28
        Length of a period in days. The window after the change runs to ``end``
        (the last period may be shorter; it is shorter for every customer alike).
    outcome : {"purchases", "active"}
        Purchase counts, or the activity proxy (bought at least once in the period).
    column : str
        Name of the change for the evidence coefficient ``purchase[<column>]``
        (the 0/1 column an investment shifts).
    level : float, default 0.90
        Interval level.
    pretrend_alpha : float, default 0.05
        Level of the pre-trend test.
    cluster : {"customer", "group"}
        Clusters of the robust standard errors.
    source : str, optional
        Text for the evidence (default describes the design).

    Returns
    -------
    DiDResult

    Notes
    -----
    The panel is balanced: only customers whose first purchase is before the
    window start are used (each has the same exposure in every period).
    """
    if outcome not in ("purchases", "active"):
        raise ValueError(f"outcome must be 'purchases' or 'active', got {outcome!r}.")
    if cluster not in ("customer", "group"):
        raise ValueError(f"cluster must be 'customer' or 'group', got {cluster!r}.")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}.")
    if not (isinstance(periods_before, int) and periods_before >= 3):
        raise ValueError(
            "periods_before must be a whole number >= 3 (the pre-trend test "
            "needs at least two leads)."
        )
    if not (math.isfinite(period_days) and period_days > 0):
        raise ValueError(f"period_days must be > 0, got {period_days!r}.")
    problems = [
        Problem(c, "column is missing", f"pass {c!r} in the transactions")
        for c in (customer_id_col, date_col)
        if c not in transactions.columns
    ]
    problems += [
        Problem(c, "column is missing", f"pass {c!r} in the groups table")
        for c in (customer_id_col, group_col)
        if c not in groups.columns
    ]
    if problems:
        raise DataError(problems, what="the difference-in-differences inputs")
    dup = groups[customer_id_col].duplicated()
    if dup.any():
        raise DataError(
            [
                Problem(
                    customer_id_col,
                    "customers appear more than once in the groups table",
                    "give one group per customer",
                    rows=list(groups.loc[dup, customer_id_col][:5]),
                )
            ],
            what="the groups table",
        )
    treated_set = set(treated) if isinstance(treated, list | tuple | set) else {treated}
    present = set(groups[group_col].dropna().unique())
    if not treated_set <= present:
        absent = sorted(map(str, treated_set - present))
        fix = f"use values of {group_col!r}: {sorted(map(str, present))[:10]}"
        raise DataError(
            [Problem(group_col, f"treated group(s) {absent} not found", fix)],
            what="the groups table",
        )
    if not present - treated_set:
        raise DataError(
            [
                Problem(
                    group_col,
                    "every group is treated",
                    "a difference-in-differences needs untreated control groups",
                )
            ],
            what="the groups table",
        )

    dates = pd.to_datetime(transactions[date_col], errors="coerce")
    if dates.isna().any():
        raise DataError(
            [
                Problem(
                    date_col,
                    f"{int(dates.isna().sum())} dates cannot be read",
                    "use ISO dates (YYYY-MM-DD)",
                )
            ],
            what="the transactions",
        )
    change = pd.Timestamp(change_date)
    stop = (dates.max().normalize() + pd.Timedelta(days=1)) if end is None else pd.Timestamp(end)
    if not change < stop:
        raise DataError(
            [
                Problem(
                    date_col,
                    f"the change ({change}) is not before the end of the data ({stop})",
                    "pass a change_date inside the data",
                )
            ],
            what="the transactions",
        )
    period_ns = round(period_days * _NS_PER_DAY)
    start = change - pd.Timedelta(periods_before * period_ns, unit="ns")
    n_after = math.ceil((stop - change).value / period_ns)
    P = periods_before + n_after

    ids = transactions[customer_id_col].to_numpy()
    first = pd.Series(dates.to_numpy()).groupby(ids).min()
    panel = first.index[first.to_numpy() < start.to_datetime64()]
    g = groups.set_index(customer_id_col)[group_col]
    panel = panel[panel.isin(g.index)]
    if len(panel) == 0:
        raise DataError(
            [
                Problem(
                    customer_id_col,
                    "no customer has a first purchase before the "
                    f"window start {start.date()} and a group",
                    "lower periods_before or period_days",
                )
            ],
            what="the transactions",
        )
    index = pd.Index(panel)
    pos = index.get_indexer(ids)
    in_window = (
        (pos >= 0)
        & (dates.to_numpy() >= start.to_datetime64())
        & (dates.to_numpy() < stop.to_datetime64())
    )
    k = (dates.to_numpy()[in_window] - start.to_datetime64()).astype("timedelta64[ns]").astype(
        np.int64
    ) // period_ns
    counts = np.zeros((len(index), P))
    np.add.at(counts, (pos[in_window], k), 1.0)
    if outcome == "active":
        counts = (counts > 0).astype(np.float64)
    group_of = g.reindex(index).to_numpy()
    arm = np.isin(group_of, np.asarray(list(treated_set))).astype(np.int64)
    keep = counts.sum(axis=1) > 0
    counts, arm, group_of = counts[keep], arm[keep], group_of[keep]
    n_t, n_c = int(arm.sum()), int((1 - arm).sum())
    if n_t < 2 or n_c < 2:
        raise DataError(
            [
                Problem(
                    group_col,
                    f"{n_t} treated and {n_c} control customers bought in the window",
                    "widen the window or add customers",
                )
            ],
            what="the transactions",
        )
    totals = np.stack([counts[arm == a].sum(axis=0) for a in (0, 1)])
    clusters = np.arange(len(arm)) if cluster == "customer" else group_of
    n_clusters = len(np.unique(clusters))
    notes = []
    if cluster == "group" and n_clusters < 20:
        notes.append(
            f"only {n_clusters} groups: group-clustered standard errors are "
            "unreliable with fewer than about 20 clusters."
        )
    after = np.arange(P) >= periods_before
    z = float(stats.norm.ppf(0.5 + level / 2))

    X = _design(P, after, event_study=False, ref=periods_before - 1)
    beta, pi, info = _fit_multinomial(totals, X)
    cov = _sandwich(counts, arm, X, pi, info, clusters)
    est, se = float(beta[-1]), float(np.sqrt(max(cov[-1, -1], 0.0)))

    ref = periods_before - 1
    Xe = _design(P, after, event_study=True, ref=ref)
    be, pie, infoe = _fit_multinomial(totals, Xe)
    cove = _sandwich(counts, arm, Xe, pie, infoe, clusters)
    event_times = [p - periods_before for p in range(P) if p != ref]
    coef = be[P - 1 :]
    ses = np.sqrt(np.clip(np.diag(cove)[P - 1 :], 0.0, None))
    es = pd.DataFrame(
        {"coefficient": coef, "se": ses, "lower": coef - z * ses, "upper": coef + z * ses},
        index=pd.Index(event_times, name="event_time"),
    )
    es.loc[-1] = [0.0, 0.0, 0.0, 0.0]
    es = es.sort_index()
    es["period_start"] = [change + pd.Timedelta(int(t) * period_ns, unit="ns") for t in es.index]
    leads = [j for j, t in enumerate(event_times) if t <= -2]
    lv = coef[leads]
    lc = cove[np.ix_([P - 1 + j for j in leads], [P - 1 + j for j in leads])]
    stat = float(lv @ np.linalg.solve(lc, lv))
    pval = float(stats.chi2.sf(stat, len(leads)))
    what = "purchases" if outcome == "purchases" else "activity"
    text = source or (
        f"difference-in-differences of {what} per {period_days:g} days, "
        f"{', '.join(map(str, sorted(map(str, treated_set))))} vs. other "
        f"{group_col} values, change on {change.date()}"
    )
    return DiDResult(
        outcome,
        column,
        est,
        se,
        est - z * se,
        est + z * se,
        level,
        es,
        stat,
        len(leads),
        pval,
        pretrend_alpha,
        n_t,
        n_c,
        periods_before,
        n_after,
        float(period_days),
        change,
        cluster,
        text,
        notes,
    )


@dataclass(frozen=True)
class SignalChange:
    """Whether a dated change is still visible in a CX signal (see :func:`signal_change`).

    Attributes
    ----------
    did, se, lower, upper : float
        Difference-in-differences of the signal's mean (treated minus control,
        recent window minus before the change), its standard error and interval.
    after_did : float
        The same for the whole period since the change (how big the change was).
    in_force : bool
        The recent window is significantly worse than before the change
        (interval entirely on the "worse" side of 0).
    means : DataFrame
        Mean signal per arm (``control``, ``treated``) and window (``before``,
        ``after``, ``recent``), with event counts.
    """

    signal: str
    did: float
    se: float
    lower: float
    upper: float
    after_did: float
    in_force: bool
    means: pd.DataFrame


def signal_change(
    cx_events: pd.DataFrame,
    groups: pd.DataFrame,
    *,
    signal: str,
    change_date: Any,
    treated: Hashable | Sequence[Hashable],
    end: Any,
    recent_days: float = 28.0,
    before_days: float = 182.0,
    worse: str = "higher",
    group_col: str = "region",
    customer_id_col: str = "customer_id",
    level: float = 0.90,
) -> SignalChange:
    """Is a dated change still in force? Difference-in-differences of a CX signal's mean.

    Compares the signal (e.g. ``contact_wait_seconds``) of the treated groups'
    customers with the controls', in the ``recent_days`` before ``end`` against
    the ``before_days`` before the change. A change that was fixed before the
    cutoff shows no recent difference: investing to fix it is worth nothing, and
    an investment should target only groups where the change is still
    ``in_force``. Events are treated as independent (Welch standard errors).
    """
    if worse not in ("higher", "lower"):
        raise ValueError(f"worse must be 'higher' or 'lower', got {worse!r}.")
    for c in ("customer_id", "timestamp", "signal", "value"):
        if c not in cx_events.columns:
            raise DataError(
                [
                    Problem(
                        c,
                        "column is missing",
                        "pass the CX event table (customer_id, timestamp, signal, value)",
                    )
                ],
                what="the CX events",
            )
    ev = cx_events[cx_events["signal"] == signal]
    if ev.empty:
        raise DataError(
            [Problem("signal", f"no {signal!r} events", "pick a signal present in the CX events")],
            what="the CX events",
        )
    g = groups.set_index(customer_id_col)[group_col]
    treated_set = set(treated) if isinstance(treated, list | tuple | set) else {treated}
    grp = g.reindex(ev["customer_id"].to_numpy()).to_numpy()
    arm = np.where(pd.isna(grp), -1, np.isin(grp, np.asarray(list(treated_set))).astype(np.int64))
    when = pd.to_datetime(ev["timestamp"]).to_numpy()
    value = ev["value"].to_numpy(dtype=np.float64)
    change, stop = pd.Timestamp(change_date), pd.Timestamp(end)
    windows = {
        "before": (change - pd.Timedelta(days=before_days), change),
        "after": (change, stop),
        "recent": (stop - pd.Timedelta(days=recent_days), stop),
    }
    rows, stats_ = [], {}
    for name, (lo, hi) in windows.items():
        inside = (when >= lo.to_datetime64()) & (when < hi.to_datetime64())
        for a, label in ((0, "control"), (1, "treated")):
            v = value[inside & (arm == a)]
            if len(v) < 2:
                raise DataError(
                    [
                        Problem(
                            signal,
                            f"fewer than 2 {label} events in the {name} window",
                            "widen the windows",
                        )
                    ],
                    what="the CX events",
                )
            stats_[(label, name)] = (float(v.mean()), float(v.var(ddof=1)) / len(v))
            rows.append({"arm": label, "window": name, "mean": float(v.mean()), "events": len(v)})

    def did(window: str) -> tuple[float, float]:
        parts = [
            (stats_[("treated", window)], 1),
            (stats_[("treated", "before")], -1),
            (stats_[("control", window)], -1),
            (stats_[("control", "before")], 1),
        ]
        est = sum(sign * m for (m, _), sign in parts)
        return est, math.sqrt(sum(var for (_, var), _ in parts))

    est, se = did("recent")
    after, _ = did("after")
    z = float(stats.norm.ppf(0.5 + level / 2))
    lower, upper = est - z * se, est + z * se
    in_force = lower > 0 if worse == "higher" else upper < 0
    means = pd.DataFrame(rows).set_index(["arm", "window"])
    return SignalChange(signal, est, se, lower, upper, after, bool(in_force), means)
