r"""Diagnostics that catch CX associations which are not effects.

* :func:`event_timing` -- *when* CX events happen relative to purchases:

  - **purchase-triggered** signals: events with a repeat purchase in the week
    *before* them far outnumber events with one in the week *after* (orders
    trigger contacts, complaints and post-purchase surveys). With no trigger the
    two counts are close (a slight excess *before* only from dropout);
  - **exit signals**: beyond the trigger window, events with a purchase in the
    ``lapse_days`` before them far outnumber events with one in the
    ``lapse_days`` after them (people call and complain on their way out, after
    their last purchase). Such a signal predicts the holdout because it reveals
    who has already left, so a holdout check cannot validate its dropout effect.
    A genuine effect that makes customers leave within weeks of a contact looks
    the same from observational data; only an experiment separates the two.

* :func:`placebo_check` -- a negative control: the signal measured in the
  second half of each customer's history must not predict purchases in the
  first half (experience cannot cause earlier behaviour). A clear association
  means the signal marks *who* the customer is (a segment) or follows
  behaviour. Customers are kept only if they bought in the second half, so
  that survival does not create the association.

* :func:`survey_weighting` -- NPS/CSAT effects re-estimated with respondents
  weighted by the inverse of their response propensity (a logistic model of
  answering on activity and contact history), and how far that moves them.

* :func:`spend_robustness` -- spend covariate effects re-estimated by a
  distribution-free (Poisson quasi-likelihood, sandwich) fit of mean spend: a
  Gamma-Gamma spend effect that it does not confirm is flagged.

Each returns a table; :func:`column_flags` turns the first two into flags per
feature column for the driver table, the finance table and the decision rule
(:mod:`clv.roi.decision`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "column_flags",
    "event_timing",
    "placebo_check",
    "spend_robustness",
    "survey_weighting",
]

_DAY_NS = 86_400 * 10**9
_MIN_EVENTS = 40
_RATIO = 1.5
_Z = 3.0


def _days(values: Any) -> np.ndarray:
    return pd.to_datetime(values).to_numpy(dtype="datetime64[ns]").astype(np.int64) / _DAY_NS


def _purchase_keys(
    transactions: pd.DataFrame,
    ids: pd.Index,
    customer_id_col: str,
    date_col: str,
    cutoff_days: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted ``code * 1e6 + day`` keys of repeat purchases before the cutoff, and birth days."""
    code = ids.get_indexer(pd.Index(transactions[customer_id_col]))
    days = _days(transactions[date_col])
    keep = (code >= 0) & (days < cutoff_days)
    code, days = code[keep], days[keep]
    birth = np.full(len(ids), np.inf)
    np.minimum.at(birth, code, days)
    order = np.lexsort((days, code))
    code, days = code[order], days[order]
    first = np.ones(code.size, dtype=bool)
    first[1:] = code[1:] != code[:-1]
    keys = code[~first] * 1e6 + (days[~first] - birth[code[~first]])
    return np.sort(keys), birth


def _count(keys: np.ndarray, code: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Repeat purchases of customer ``code`` in (lo, hi] days since birth."""
    base = code * 1e6
    return np.searchsorted(keys, base + hi, side="right") - np.searchsorted(
        keys, base + lo, side="right"
    )


def event_timing(
    events: pd.DataFrame,
    transactions: pd.DataFrame,
    *,
    cutoff: Any,
    customer_id_col: str = "customer_id",
    date_col: str = "date",
    window_days: float = 7.0,
    lapse_days: float = 90.0,
) -> pd.DataFrame:
    """Timing of each CX signal's events relative to purchases (see the module docstring).

    Parameters
    ----------
    events : DataFrame
        Validated CX events (``customer_id, timestamp, signal, value``).
    transactions : DataFrame
        Purchases (``customer_id_col``, ``date_col``); only those before ``cutoff`` are used.
    cutoff : date-like
    window_days, lapse_days : float
        The "right before / right after" window and the lapse that marks an exit.

    Returns
    -------
    DataFrame
        One row per signal: ``events``, ``bought_before`` / ``bought_after`` (events
        with a repeat purchase in the window before / after), ``trigger_ratio`` and
        ``trigger_z``; ``bought_earlier`` / ``bought_later`` (a purchase between
        ``window_days`` and ``lapse_days`` before / after), ``exit_ratio``, ``exit_z``;
        and ``flag``.
    """
    cut = float(_days([pd.Timestamp(cutoff)])[0])
    ids = pd.Index(pd.unique(transactions[customer_id_col]))
    keys, birth = _purchase_keys(transactions, ids, customer_id_col, date_col, cut)
    ev = events[events["timestamp"] < pd.Timestamp(cutoff)]
    rows = []
    for signal, group in ev.groupby("signal", sort=True):
        code = ids.get_indexer(pd.Index(group["customer_id"]))
        t = _days(group["timestamp"])
        ok = code >= 0
        code, t = code[ok], t[ok]
        age = t - birth[code]
        w = float(window_days)
        sel = (age >= w) & (cut - t >= w)
        c, a = code[sel], age[sel]
        before = int((_count(keys, c, a - w, a) > 0).sum())
        after = int((_count(keys, c, a, a + w) > 0).sum())
        trig_ratio = before / after if after else (np.inf if before else np.nan)
        trig_z = (before - after) / np.sqrt(before + after) if before + after else 0.0
        lap = float(lapse_days)
        sel2 = (age >= lap) & (cut - t >= lap)
        c2, a2 = code[sel2], age[sel2]
        # beyond the trigger window: a purchase (lapse - w, w] before vs after the event
        early = int((_count(keys, c2, a2 - lap, a2 - w) > 0).sum())
        later = int((_count(keys, c2, a2 + w, a2 + lap) > 0).sum())
        exit_ratio = early / later if later else (np.inf if early else np.nan)
        exit_z = (early - later) / np.sqrt(early + later) if early + later else 0.0
        flags = []
        if before + after >= _MIN_EVENTS and trig_ratio >= _RATIO and trig_z >= _Z:
            flags.append("purchase-triggered")
        if early + later >= _MIN_EVENTS and exit_ratio >= _RATIO and exit_z >= _Z:
            flags.append("exit-signal")
        rows.append(
            {
                "signal": signal,
                "events": int(t.size),
                "bought_before": before,
                "bought_after": after,
                "trigger_ratio": trig_ratio,
                "trigger_z": trig_z,
                "bought_earlier": early,
                "bought_later": later,
                "exit_ratio": exit_ratio,
                "exit_z": exit_z,
                "flag": ", ".join(flags),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "signal",
            "events",
            "bought_before",
            "bought_after",
            "trigger_ratio",
            "trigger_z",
            "bought_earlier",
            "bought_later",
            "exit_ratio",
            "exit_z",
            "flag",
        ],
    )


def _poisson_robust(
    X: np.ndarray, y: np.ndarray, offset: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Poisson regression by IRLS with sandwich standard errors (overdispersion-robust)."""
    beta = np.zeros(X.shape[1])
    beta[0] = np.log(max(y.sum(), 1e-9) / np.exp(offset).sum())
    for _ in range(50):
        eta = np.clip(X @ beta + offset, -30, 30)
        mu = np.exp(eta)
        grad = X.T @ (y - mu)
        info = (X * mu[:, None]).T @ X
        step = np.linalg.solve(info + 1e-9 * np.eye(len(beta)), grad)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-9:
            break
    mu = np.exp(np.clip(X @ beta + offset, -30, 30))
    info = (X * mu[:, None]).T @ X
    inv = np.linalg.pinv(info)
    meat = (X * ((y - mu) ** 2)[:, None]).T @ X
    cov = inv @ meat @ inv
    return beta, np.sqrt(np.maximum(np.diag(cov), 0.0))


def placebo_check(
    events: pd.DataFrame,
    transactions: pd.DataFrame,
    feature_builder: Any,
    *,
    cutoff: Any,
    controls: pd.DataFrame | None = None,
    customer_id_col: str = "customer_id",
    date_col: str = "date",
    min_customers: int = 200,
) -> pd.DataFrame:
    """Negative control: does a signal from the second half of each history predict the first?

    Returns
    -------
    DataFrame
        One row per feature column: ``customers``, ``coefficient`` (log purchase-rate
        ratio of the first half per unit of the second-half feature, adjusted for
        ``controls``), ``z`` (robust), ``flag`` (``"placebo"`` when ``|z| >= 4``).
    """
    cut = float(_days([pd.Timestamp(cutoff)])[0])
    ids = pd.Index(pd.unique(transactions[customer_id_col]))
    keys, birth = _purchase_keys(transactions, ids, customer_id_col, date_col, cut)
    mid = (cut - birth) / 2.0  # days since birth
    code = np.arange(len(ids))
    early = _count(keys, code, np.zeros(len(ids)), mid)
    late = _count(keys, code, mid, cut - birth)
    keep = (late > 0) & (mid > 14)
    if keep.sum() < min_customers:
        return pd.DataFrame(columns=["feature", "customers", "coefficient", "z", "flag"])
    ev = events.copy()
    ev_code = ids.get_indexer(pd.Index(ev["customer_id"]))
    t = _days(ev["timestamp"])
    in_late = (ev_code >= 0) & (
        t - np.where(ev_code >= 0, birth[np.maximum(ev_code, 0)], 0)
        >= np.where(ev_code >= 0, mid[np.maximum(ev_code, 0)], np.inf)
    )
    late_events = ev[in_late]
    if late_events.empty:
        return pd.DataFrame(columns=["feature", "customers", "coefficient", "z", "flag"])
    kept = ids[keep]
    X_late = feature_builder.fit_transform(
        late_events, customer_ids=kept, cutoff=pd.Timestamp(cutoff)
    )
    y = early[keep].astype(np.float64)
    offset = np.log(mid[keep])
    base_cols = [np.ones(len(kept))]
    if controls is not None and len(controls.columns):
        C = controls.reindex(kept).to_numpy(dtype=np.float64)
        C = np.nan_to_num(C)
        sd = C.std(axis=0)
        C = C[:, sd > 0]
        base_cols += [(C - C.mean(axis=0)) / C.std(axis=0)] if C.shape[1] else []
    base = np.column_stack(base_cols)
    rows = []
    for col in X_late.columns:
        x = X_late[col].to_numpy(dtype=np.float64)
        if np.nanstd(x) == 0:
            continue
        miss = f"{col}_missing"
        extra = [x]
        if miss in X_late.columns and col != miss and X_late[miss].nunique() > 1:
            extra.append(X_late[miss].to_numpy(dtype=np.float64))
        X = np.column_stack([base, *extra])
        beta, se = _poisson_robust(X, y, offset)
        j = base.shape[1]
        z = float(beta[j] / se[j]) if se[j] > 0 else 0.0
        rows.append(
            {
                "feature": col,
                "customers": int(keep.sum()),
                "coefficient": float(beta[j]),
                "z": z,
                "flag": "placebo" if abs(z) >= 4.0 else "",
            }
        )
    return pd.DataFrame(rows, columns=["feature", "customers", "coefficient", "z", "flag"])


def _logistic(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    beta = np.zeros(X.shape[1])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-np.clip(X @ beta, -30, 30)))
        w = np.maximum(p * (1 - p), 1e-9)
        step = np.linalg.solve((X * w[:, None]).T @ X + 1e-6 * np.eye(X.shape[1]), X.T @ (y - p))
        beta = beta + step
        if np.max(np.abs(step)) < 1e-8:
            break
    return 1.0 / (1.0 + np.exp(-np.clip(X @ beta, -30, 30)))


def survey_weighting(
    data: pd.DataFrame,
    transaction_model: Any,
    *,
    indicator: str = "nps_missing",
    predictors: Sequence[str] | None = None,
    max_weight: float = 10.0,
) -> pd.DataFrame:
    """Survey effects re-estimated with inverse response-propensity weights.

    The propensity of answering (``indicator == 0``) is a logistic regression on
    activity (``log1p(frequency)``, recency / T, ``T``) and contact history (the
    other non-survey covariates, e.g. complaints, waits); respondents get weight
    ``mean(p) / p`` (capped at ``max_weight``), non-respondents 1. A Pareto/NBD
    with the survey columns and their indicator as covariates is fitted without and
    with these weights (the full covariate model would cost two more full fits).

    Returns
    -------
    DataFrame
        One row per coefficient of a survey column: ``unweighted``, ``weighted``,
        ``se``, ``change_in_se`` and ``change_pct``.
    """
    if indicator not in data.columns or data[indicator].nunique() < 2:
        return pd.DataFrame(
            columns=[
                "coefficient_name",
                "unweighted",
                "weighted",
                "se",
                "change_in_se",
                "change_pct",
            ]
        )
    cov_names = list(getattr(transaction_model, "purchase_covariates", []) or [])
    survey_cols = [c for c in ("promoter", "detractor", "csat_last", "nps_last") if c in cov_names]
    if predictors is None:
        predictors = [
            c for c in cov_names if c not in survey_cols and c != indicator and "=" not in c
        ]
    t = data["T"].to_numpy(dtype=np.float64)
    cols = [
        np.ones(len(data)),
        np.log1p(data["frequency"].to_numpy(dtype=np.float64)),
        data["recency"].to_numpy(dtype=np.float64) / np.where(t > 0, t, 1.0),
        t / t.max(),
    ]
    for c in predictors:
        v = data[c].to_numpy(dtype=np.float64)
        if v.std() > 0:
            cols.append((v - v.mean()) / v.std())
    responded = (data[indicator].to_numpy(dtype=np.float64) == 0).astype(np.float64)
    p = _logistic(np.column_stack(cols), responded)
    w = np.where(
        responded == 1, np.minimum(responded.mean() / np.maximum(p, 1e-6), max_weight), 1.0
    )
    # the comparison uses a small model (the survey columns and their indicator): fitting the
    # full covariate model twice more would cost more than the whole analysis
    cols_small = [*survey_cols, indicator]
    small = type(transaction_model)(purchase_covariates=cols_small, dropout_covariates=cols_small)
    plain = small.fit(data)
    refit = type(transaction_model)(
        purchase_covariates=cols_small, dropout_covariates=cols_small
    ).fit(
        data.assign(weight=w), initial_params={str(k): float(v) for k, v in plain.params_.items()}
    )
    rows = []
    for name in plain.params_.index:
        name = str(name)
        if "[" not in name or name[:-1].split("[", 1)[1] not in survey_cols:
            continue
        est = float(plain.params_[name])
        cov = getattr(plain, "covariance_", None)
        se = float(np.sqrt(cov.loc[name, name])) if cov is not None else float("nan")
        new = float(refit.params_[name])
        rows.append(
            {
                "coefficient_name": name,
                "unweighted": est,
                "weighted": new,
                "se": se,
                "change_in_se": (new - est) / se if se > 0 else np.nan,
                "change_pct": 100.0 * (new - est) / abs(est) if est else np.nan,
            }
        )
    return pd.DataFrame(
        rows,
        columns=["coefficient_name", "unweighted", "weighted", "se", "change_in_se", "change_pct"],
    )


def spend_robustness(
    spend_model: Any, data: pd.DataFrame, *, z_crit: float = 1.959964
) -> pd.DataFrame | None:
    r"""Spend covariate effects re-estimated without the Gamma-Gamma's distribution.

    The Gamma-Gamma likelihood treats a customer's mean spend as the mean of
    gamma-distributed transactions, precise in proportion to the number of
    purchases. When real transaction values are not gamma (e.g. log-normal, or
    same-day purchases summed), the shape of the mean-spend distribution changes
    with the number of purchases, and a signal that moves purchase *frequency*
    (but not spend) can get a spend coefficient shifted away from 0: a systematic
    error that the standard errors (right for the model) do not cover. With
    gamma-distributed transactions the intervals cover a null effect at their
    nominal rate.

    This check fits :math:`\log E[ar z_i] = eta_0 + eta^	op x_i` to the repeat
    buyers' mean spend by Poisson quasi-likelihood (consistent for the mean
    whatever the spend distribution, since spend is independent of frequency under
    the Gamma-Gamma's own assumption) with sandwich standard errors, and compares.

    Returns
    -------
    DataFrame or None
        Index ``covariate``: ``gg_coef``, ``gg_z`` (Gamma-Gamma), ``robust_coef``,
        ``robust_se``, ``robust_z`` and ``flag`` (significant in the Gamma-Gamma at
        the two-sided 5 % level but not in the robust fit); None without spend
        covariates.
    """
    if getattr(spend_model, "params_", None) is None:
        return None
    names = [n for n in spend_model.params_.index if str(n).startswith("spend[")]
    if not names:
        return None
    cols = [str(n)[6:-1] for n in names]
    freq = data["frequency"].to_numpy(dtype=np.float64)
    value = data["monetary_value"].to_numpy(dtype=np.float64)
    keep = (freq > 0) & (value > 0) & np.isfinite(value)
    x = data.loc[keep, cols].to_numpy(dtype=np.float64)
    y = value[keep] / value[keep].mean()
    centre, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    X = np.column_stack([np.ones(len(y)), (x - centre) / scale])
    beta, se = _poisson_robust(X, y, np.zeros(len(y)))
    coef, se_nat = beta[1:] / scale, se[1:] / scale
    gg = spend_model.summary()
    gg_coef = gg.loc[names, "coef"].to_numpy(dtype=np.float64)
    gg_se = gg.loc[names, "se"].to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        gg_z, rob_z = gg_coef / gg_se, coef / se_nat
    return pd.DataFrame(
        {
            "gg_coef": gg_coef,
            "gg_z": gg_z,
            "robust_coef": coef,
            "robust_se": se_nat,
            "robust_z": rob_z,
            "flag": (np.abs(gg_z) >= z_crit) & ~(np.abs(rob_z) >= z_crit),
        },
        index=pd.Index(cols, name="covariate"),
    )


def column_flags(
    timing: pd.DataFrame | None,
    placebo: pd.DataFrame | None,
    signal_columns: Mapping[str, Sequence[str]],
    spend: pd.DataFrame | None = None,
) -> dict[str, list[str]]:
    """Flags per feature column: ``"<flag>: <evidence>"`` strings (``spend``: the table of
    :func:`spend_robustness`, whose flags are cautions, not proof of a trap)."""
    out: dict[str, list[str]] = {}
    if spend is not None:
        for col, r in spend[spend["flag"]].iterrows():
            out.setdefault(str(col), []).append(
                f"spend-robustness: the Gamma-Gamma spend effect of {col} (z = {r['gg_z']:.1f}) "
                f"is not confirmed by a distribution-free fit (z = {r['robust_z']:.1f}); with "
                "signals that move purchase frequency the Gamma assumption can make it look "
                "significant"
            )
    if timing is not None:
        for _, r in timing.iterrows():
            for flag in filter(None, (f.strip() for f in str(r["flag"]).split(","))):
                if flag == "purchase-triggered":
                    text = (
                        f"purchase-triggered: {r['signal']} events follow a purchase "
                        f"{r['trigger_ratio']:.1f}x as often as they precede one"
                    )
                else:
                    text = (
                        f"exit-signal: {r['signal']} events are followed by a purchase "
                        f"{r['exit_ratio']:.1f}x less often than they precede one (they reveal "
                        "who has already left; the holdout check cannot validate them)"
                    )
                for col in signal_columns.get(str(r["signal"]), []):
                    out.setdefault(col, []).append(text)
    if placebo is not None:
        for _, r in placebo.iterrows():
            if r["flag"]:
                out.setdefault(str(r["feature"]), []).append(
                    f"placebo: {r['feature']} measured later predicts earlier purchases "
                    f"(z = {r['z']:.1f})"
                )
    return out
