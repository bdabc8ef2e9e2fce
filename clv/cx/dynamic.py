r"""Value a CX investment as a change of the future covariate path (time-varying Pareto/NBD).

A CX problem that started recently (a support vendor degrading a few weeks
ago) raises dropout only *while it lasts*. A static-covariate model spreads
that effect over each customer's whole history and values the fix at a
fraction of its worth; the time-varying Pareto/NBD
(:class:`clv.models.ParetoNBDDynamicModel`) fitted on per-period CX paths
(:func:`clv.cx.paths.feature_paths`) does not.

An investment is a change of the future path from its start date on (the
past is never changed):

* **fix an ongoing problem**: set the feature to its pre-problem level from
  the start date where it is worse now (:func:`restored_path`); against the
  default baseline (last observed value carried forward) this is worth
  something;
* **already fixed**: the last observed value is already good, so the same
  :func:`restored_path` leaves every path unchanged and is worth 0;
* **prevent future bad experiences**: the baseline is a path in which the
  problem arrives (``baseline=changed_path(..., start=later, values=bad)``),
  the alternative keeps the current level.

:func:`value_path_change` returns per-customer and total
:math:`\Delta\mathrm{CLV} = m\,\bar s_i\,(\mathrm{DECT}_i^{alt} - \mathrm{DECT}_i^{base})`,
with DECT the discounted expected purchases over the horizon (a purchase
:math:`u` periods ahead counts :math:`(1+d)^{-u}`), :math:`\bar s_i` the
expected spend per purchase and :math:`m` the margin, and a central interval
from parameter uncertainty: draws of the transaction model's parameters from
the asymptotic normal of the MLE (base parameters on the log scale), seeded.
The spend model's uncertainty is not included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from clv.exceptions import DataError, Problem
from clv.models import ParetoNBDDynamicModel
from clv.models._dyncov_data import TimeVaryingData, future_covariates, time_varying_data

__all__ = [
    "DynamicCXModel",
    "PathValuation",
    "changed_path",
    "fit_dynamic_cx",
    "restored_path",
    "value_path_change",
]


@dataclass(frozen=True)
class DynamicCXModel:
    """A time-varying Pareto/NBD fitted on CX paths, its data and the expected spend.

    Attributes
    ----------
    model : ParetoNBDDynamicModel
    data : TimeVaryingData
    spend : Series
        Expected spend per purchase, per customer (index: customer id).
    spend_model : GammaGammaModel or None
        The fitted spend model (``None`` when ``spend`` was given).
    """

    model: ParetoNBDDynamicModel
    data: TimeVaryingData
    spend: pd.Series
    spend_model: Any = None


@dataclass(frozen=True)
class PathValuation:
    """ΔCLV of a future-path change: per customer and in total, with a parameter interval.

    Attributes
    ----------
    per_customer : DataFrame
        Index customer id; columns ``clv_baseline``, ``clv_changed``,
        ``delta_clv`` (at the MLE), ``delta_lower``, ``delta_upper``.
    total, lower, upper : float
        Total ΔCLV at the MLE and the central interval over the draws.
    draws : ndarray
        Total ΔCLV for each parameter draw.
    interval : float
        Coverage of the interval (e.g. 0.9).
    """

    per_customer: pd.DataFrame
    total: float
    lower: float
    upper: float
    draws: np.ndarray
    interval: float


def fit_dynamic_cx(
    transactions: pd.DataFrame,
    paths: pd.DataFrame,
    *,
    observation_end: Any,
    purchase_covariates: Sequence[str] = (),
    dropout_covariates: Sequence[str] = (),
    time_unit: str = "W",
    spend: float | pd.Series | None = None,
    value_col: str | None = None,
    customer_id_col: str = "customer_id",
    date_col: str = "date",
    cov_date_col: str = "cov_date",
) -> DynamicCXModel:
    """Fit the time-varying Pareto/NBD on CX paths, and the spend (Gamma-Gamma unless given).

    Parameters
    ----------
    transactions : DataFrame
        Purchases (``customer_id_col``, ``date_col``, and ``value_col`` for the
        spend model).
    paths : DataFrame
        Per-period covariates, e.g. :func:`clv.cx.paths.feature_paths`.
    observation_end : date-like
    purchase_covariates, dropout_covariates : sequence of str
        Columns of ``paths`` acting on each process.
    time_unit : {"W", "D", "H"}
    spend : float or Series, optional
        Expected spend per purchase (scalar, or per customer). Without it a
        :class:`~clv.models.GammaGammaModel` is fitted on ``value_col``.
    value_col : str, optional
        Transaction amount column (needed when ``spend`` is None).

    Returns
    -------
    DynamicCXModel
    """
    columns = list(dict.fromkeys([*purchase_covariates, *dropout_covariates]))
    data = time_varying_data(
        transactions,
        paths,
        columns=columns,
        observation_end=observation_end,
        time_unit=time_unit,
        customer_id_col=customer_id_col,
        date_col=date_col,
        cov_date_col=cov_date_col,
    )
    model = ParetoNBDDynamicModel(
        purchase_covariates=purchase_covariates, dropout_covariates=dropout_covariates
    ).fit(data)
    spend_model = None
    if spend is None:
        if value_col is None or value_col not in transactions.columns:
            raise DataError(
                [
                    Problem(
                        value_col,
                        "is needed to fit the spend model",
                        "pass value_col= (transaction amounts) or spend=",
                    )
                ],
                what="the transactions",
            )
        from clv.data.rfm import rfm_summary
        from clv.models import GammaGammaModel

        tx = transactions[pd.to_datetime(transactions[date_col]) <= pd.Timestamp(observation_end)]
        rfm = rfm_summary(
            tx,
            customer_id_col=customer_id_col,
            date_col=date_col,
            value_col=value_col,
            time_unit="D",
            observation_end=observation_end,
        )
        spend_model = GammaGammaModel().fit(rfm)
        spend_s = spend_model.expected_spend(rfm).reindex(data.customer_ids)
    elif isinstance(spend, pd.Series):
        spend_s = spend.reindex(data.customer_ids)
    else:
        spend_s = pd.Series(float(spend), index=data.customer_ids)
    if spend_s.isna().any() or not np.isfinite(spend_s.to_numpy(dtype=np.float64)).all():
        raise DataError(
            [
                Problem(
                    "spend",
                    "has no finite value for some customers",
                    "give a spend for every customer",
                    list(spend_s.index[spend_s.isna()]),
                )
            ],
            what="the spend",
        )
    return DynamicCXModel(
        model=model,
        data=data,
        spend=spend_s.astype(np.float64).rename("expected_spend"),
        spend_model=spend_model,
    )


def changed_path(
    data: TimeVaryingData,
    start: Any,
    periods: int,
    values: Mapping[str, float | pd.Series],
    *,
    customers: Sequence[Any] | None = None,
    customer_id_col: str = "customer_id",
    cov_date_col: str = "cov_date",
) -> pd.DataFrame:
    """A future path: the last values carried forward, ``values`` from ``start`` on.

    Parameters
    ----------
    data : TimeVaryingData
    start : date-like
        First changed period (at or after ``observation_end``).
    periods : int
        Changed periods (later ones keep the last changed values).
    values : mapping of column to float or Series
        New level per column: one number, or per customer (a Series indexed
        by customer id, e.g. each customer's pre-problem level).
    customers : sequence, optional
        Customers whose path changes (default all).

    Returns
    -------
    DataFrame
        The path, for ``baseline=`` / ``changed=`` of :func:`value_path_change`.
    """
    frame = future_covariates(
        data,
        start,
        periods,
        customers=customers,
        customer_id_col=customer_id_col,
        cov_date_col=cov_date_col,
    )
    for col, v in values.items():
        if col not in data.columns:
            raise DataError(
                [
                    Problem(
                        col, "is not a covariate of the data", f"use one of {list(data.columns)}"
                    )
                ],
                what="the future covariate path",
            )
        if isinstance(v, pd.Series):
            mapped = frame[customer_id_col].map(v)
            if mapped.isna().any():
                raise DataError(
                    [
                        Problem(
                            col,
                            "has no value for some customers of the path",
                            "give a value for every customer",
                            list(pd.unique(frame[customer_id_col][mapped.isna()])),
                        )
                    ],
                    what="the future covariate path",
                )
            frame[col] = mapped.to_numpy(dtype=np.float64)
        else:
            frame[col] = float(v)
    return frame


def restored_path(
    data: TimeVaryingData,
    start: Any,
    periods: int,
    column: str,
    level: float,
    *,
    tolerance: float = 0.0,
    lower_is_better: bool = True,
    customers: Sequence[Any] | None = None,
    customer_id_col: str = "customer_id",
    cov_date_col: str = "cov_date",
) -> pd.DataFrame:
    """Fix a problem: ``column`` back to ``level`` from ``start``, only where it is worse now.

    A customer's path changes only when the last observed value is worse
    than ``level`` by more than ``tolerance`` (e.g. a few standard deviations
    of the signal's normal week-to-week variation): a problem that is already
    fixed leaves every path unchanged, so its fix is worth exactly 0.

    Parameters
    ----------
    data : TimeVaryingData
    start, periods
        As in :func:`changed_path`.
    column : str
        The covariate.
    level : float
        The pre-problem level.
    tolerance : float
        Differences up to this size are not a problem.
    lower_is_better : bool
        Direction of "worse" (waits: lower is better; resolution rates: higher).
    customers : sequence, optional
        Candidates (default all).

    Returns
    -------
    DataFrame
        The path (possibly empty: nothing to fix).
    """
    if column not in data.columns:
        raise DataError(
            [Problem(column, "is not a covariate of the data", f"use one of {list(data.columns)}")],
            what="the future covariate path",
        )
    j = data.columns.index(column)
    current = pd.Series(data.current_X[:, j], index=data.customer_ids)
    if customers is not None:
        current = current.reindex(pd.Index(list(customers)))
        if current.isna().any():
            raise DataError(
                [
                    Problem(
                        customer_id_col,
                        "names customers not in the data",
                        "drop them",
                        list(current.index[current.isna()]),
                    )
                ],
                what="the future covariate path",
            )
    gap = current - level if lower_is_better else level - current
    worse = current.index[(gap > tolerance).to_numpy()]
    return changed_path(
        data,
        start,
        periods,
        {column: float(level)},
        customers=list(worse),
        customer_id_col=customer_id_col,
        cov_date_col=cov_date_col,
    )


def _path_customers(*paths: pd.DataFrame | None, customer_id_col: str) -> list[Any]:
    """Customers named by any of the paths (the only ones whose future can differ)."""
    ids: dict[Any, None] = {}
    for p in paths:
        if p is not None and customer_id_col in p.columns:
            ids.update(dict.fromkeys(pd.unique(p[customer_id_col])))
    return list(ids)


def value_path_change(
    fitted: DynamicCXModel,
    changed: pd.DataFrame | None,
    *,
    horizon: int,
    discount_rate: float,
    margin: float,
    baseline: pd.DataFrame | None = None,
    n_draws: int = 200,
    interval: float = 0.9,
    random_state: int = 0,
    customer_id_col: str = "customer_id",
    cov_date_col: str = "cov_date",
) -> PathValuation:
    """ΔCLV of moving the future covariate path from ``baseline`` to ``changed``.

    Parameters
    ----------
    fitted : DynamicCXModel
        From :func:`fit_dynamic_cx`.
    changed, baseline : DataFrame or None
        Future paths (e.g. :func:`changed_path`); ``None`` is the default path
        (each customer's last values carried forward).
    horizon : int
        Periods of the data's time unit valued after ``observation_end``.
    discount_rate : float
        Per period (a cash flow ``u`` periods ahead counts ``(1 + d)^-u``).
    margin : float
        Contribution margin, a fraction of revenue.
    n_draws, interval, random_state
        Parameter draws for the central ``interval``; the same seed gives the
        same numbers.

    Returns
    -------
    PathValuation
    """
    if not (0 < interval < 1):
        raise ValueError(f"interval must be in (0, 1), got {interval!r}.")
    if not (np.isfinite(discount_rate) and discount_rate > -1):
        raise ValueError(f"discount_rate must be > -1 per period, got {discount_rate!r}.")
    model, data = fitted.model, fitted.data
    kw = {"customer_id_col": customer_id_col, "cov_date_col": cov_date_col}
    h, d = float(horizon), float(discount_rate)
    value = margin * fitted.spend.to_numpy()
    clv_base = value * model.expected_discounted_purchases(h, data, d, baseline, **kw).to_numpy()
    # customers no path names keep their carried-forward future: delta 0 exactly
    named = _path_customers(changed, baseline, customer_id_col=customer_id_col)
    moved = data.customer_ids.get_indexer(pd.Index(named))
    if (moved < 0).any():
        raise DataError(
            [
                Problem(
                    customer_id_col,
                    "has customers that are not in the data",
                    "drop them or rebuild the data with them",
                    [c for c, m in zip(named, moved, strict=True) if m < 0][:5],
                )
            ],
            what="the future covariate path",
        )
    clv_alt = clv_base.copy()
    per_draw = np.zeros((int(n_draws), data.n_customers))
    if moved.size:
        clv_alt[moved] = (
            value[moved]
            * model.expected_discounted_purchases(
                h, data, d, changed, customers=named, **kw
            ).to_numpy()
        )
        draws = model.sample_params(int(n_draws), random_state=random_state)
        alt = model.expected_discounted_purchases(
            h, data, d, changed, params=draws, customers=named, **kw
        )
        base = model.expected_discounted_purchases(
            h, data, d, baseline, params=draws, customers=named, **kw
        )
        per_draw[:, moved] = value[moved] * (alt.to_numpy() - base.to_numpy())
    delta = clv_alt - clv_base
    q = [(1 - interval) / 2, (1 + interval) / 2]
    lo_i, hi_i = np.quantile(per_draw, q, axis=0)
    totals = per_draw.sum(axis=1)
    lo, hi = np.quantile(totals, q)
    per_customer = pd.DataFrame(
        {
            "clv_baseline": clv_base,
            "clv_changed": clv_alt,
            "delta_clv": delta,
            "delta_lower": lo_i,
            "delta_upper": hi_i,
        },
        index=data.customer_ids,
    )
    return PathValuation(
        per_customer=per_customer,
        total=float(delta.sum()),
        lower=float(lo),
        upper=float(hi),
        draws=totals,
        interval=float(interval),
    )
