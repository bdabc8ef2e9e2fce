r"""Shifted-beta-geometric (sBG) retention with time-varying covariates.

A contract customer with churn propensity :math:`\theta \sim \mathrm{Beta}(\alpha, \beta)`
is lost in period :math:`t` (given active until then) with probability
:math:`1 - (1-\theta)^{c_t}`, :math:`c_t = e^{\gamma^\top x_t}` the covariates
of that period (a proportional hazard on the discrete churn; a positive
coefficient raises churn).  With :math:`C_t = \sum_{k \le t} c_k` and
:math:`E[(1-\theta)^C] = B(\alpha, \beta + C)/B(\alpha, \beta)`:

.. math::

   P(\text{active after } t) = \frac{B(\alpha, \beta + C_t)}{B(\alpha,\beta)}, \qquad
   P(\text{lost in } t) = \frac{B(\alpha, \beta+C_{t-1}) - B(\alpha, \beta+C_t)}{B(\alpha,\beta)}.

With every coefficient 0, :math:`C_t = t`: the sBG of Fader & Hardie (2007).

Predictions for a customer active after :math:`n` periods, given the future
multipliers :math:`c_{n+1}, c_{n+2}, \dots` (a future covariate path; by
default the last observed values carried forward): :math:`\theta` is
:math:`\mathrm{Beta}(\alpha, \beta + C_n)` a posteriori, so

.. math::

   S_k = P(\text{active after } n+k \mid \text{active after } n)
       = \frac{B(\alpha, \beta + C_n + \Delta C_k)}{B(\alpha, \beta + C_n)},
   \qquad \Delta C_k = \sum_{j=1}^{k} c_{n+j},

and the discounted expected residual lifetime (DERL, Fader & Hardie 2010,
valued just before the next renewal decision) is
:math:`\sum_{k \ge 1} S_k (1+d)^{-(k-1)}`: summed over the path, then, with
the path's last multiplier :math:`c` held, the static-covariate tail
:func:`clv.models._retention_math.residual_lifetime_sum`.  A customer already
lost has survival and DERL 0.

Data: a panel with one row per customer and period observed (periods
``1..t``), the covariates of each period and a ``churned`` column that is 1
on the row of the period the customer was lost in (0 elsewhere).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from clv._ops import NUMPY
from clv._typing import FloatArray, Ops
from clv.exceptions import DataError, Problem
from clv.models._pareto_nbd_dyncov_math import _eta
from clv.models._retention_covariates import log_survival as _ph_log_survival
from clv.models._retention_math import log_beta, residual_lifetime_sum
from clv.models.pareto_nbd_dyncov import _TimeVaryingModel

__all__ = [
    "RetentionPanel",
    "ShiftedBetaGeoDynamicModel",
    "expected_active_periods",
    "expected_residual_lifetime",
    "future_panel_path",
    "log_likelihood",
    "log_survival_ahead",
    "retention_panel",
    "simulate_panel",
]


@dataclass(frozen=True)
class RetentionPanel:
    """Per-customer arrays: periods observed, churn flag, covariates per period (padded)."""

    customer_ids: pd.Index
    columns: tuple[str, ...]
    periods_observed: FloatArray
    churned: FloatArray
    X: FloatArray  # (n, P, k); periods beyond ``periods_observed`` are padding
    mask: FloatArray  # (n, P): 1 for observed periods
    time_unit: str = "period"

    @property
    def n_customers(self) -> int:
        """Number of customers."""
        return len(self.customer_ids)


def retention_panel(
    panel: pd.DataFrame,
    *,
    columns: Sequence[str],
    customer_id_col: str = "customer_id",
    period_col: str = "period",
    churned_col: str = "churned",
) -> RetentionPanel:
    """Validate a long panel and build the :class:`RetentionPanel` arrays."""
    what = "the retention panel"
    cols = [customer_id_col, period_col, churned_col, *columns]
    missing = [c for c in cols if c not in panel.columns]
    if missing:
        raise DataError([Problem(c, "is missing", "add it") for c in missing], what=what)
    frame = panel[cols].sort_values([customer_id_col, period_col], kind="stable")
    ids, cust = np.unique(frame[customer_id_col].to_numpy(), return_inverse=True)
    period = frame[period_col].to_numpy(dtype=np.float64)
    churn = frame[churned_col].to_numpy(dtype=np.float64)
    X = frame[list(columns)].to_numpy(dtype=np.float64) if columns else np.zeros((len(frame), 0))
    n = ids.size
    count = np.bincount(cust, minlength=n)
    start = np.cumsum(count) - count
    slot = np.arange(cust.size) - start[cust]
    problems = []
    bad = period != slot + 1
    if bad.any():
        problems.append(
            Problem(
                period_col,
                "is not 1, 2, ... without gaps for some customers",
                "give one row per period observed, starting at 1",
                list(np.unique(ids[cust[bad]])),
            )
        )
    last = slot == count[cust] - 1
    if np.any((churn != 0) & ~last) or not np.isin(churn, (0.0, 1.0)).all():
        problems.append(
            Problem(
                churned_col,
                "must be 0, or 1 on a customer's last row only",
                "mark the period the customer was lost in",
            )
        )
    if not np.isfinite(X).all():
        problems.append(Problem(None, "covariates have missing values", "fill them"))
    if problems:
        raise DataError(problems, what=what)
    P = int(count.max())
    Xp = np.zeros((n, P, len(columns)))
    Xp[cust, slot] = X
    mask = np.zeros((n, P))
    mask[cust, slot] = 1.0
    return RetentionPanel(
        customer_ids=pd.Index(ids, name=customer_id_col),
        columns=tuple(columns),
        periods_observed=count.astype(np.float64),
        churned=churn[last][np.argsort(cust[last])],
        X=Xp,
        mask=mask,
    )


def log_likelihood(
    params: Any, gamma: Any, X: Any, mask: Any, churned: Any, *, ops: Ops = NUMPY
) -> Any:
    """Per-customer log-likelihood (module docstring); ``X`` (n, P, k), ``mask`` (n, P)."""
    alpha, beta = params
    c = mask * ops.exp(_eta(X, gamma))
    C_t = ops.sum(c, axis=1)
    last = np.zeros_like(mask)
    n_obs = mask.sum(axis=1).astype(int)
    last[np.arange(mask.shape[0]), np.maximum(n_obs - 1, 0)] = 1.0
    C_prev = ops.maximum(C_t - ops.sum(c * last, axis=1), 0.0)
    alive = log_beta(alpha, beta + C_t, ops)
    lost = ops.logsubexp(log_beta(alpha, beta + C_prev, ops), alive)
    return ops.where(churned > 0, lost, alive) - log_beta(alpha, beta, ops)


def cumulative_multiplier(gamma: Any, X: FloatArray, mask: FloatArray) -> FloatArray:
    """:math:`C_n`: the churn multipliers summed over each customer's observed periods."""
    return np.sum(mask * np.exp(_eta(X, np.asarray(gamma, dtype=np.float64))), axis=1)


def log_survival_ahead(params: Any, C_n: FloatArray, c_future: FloatArray) -> FloatArray:
    r""":math:`\log S_k`, ``k = 1..H``, shape (n, H), of customers active after ``n`` periods."""
    alpha, beta = (float(v) for v in params)
    b_n = beta + np.asarray(C_n, dtype=np.float64)[:, None]
    return log_beta(alpha, b_n + np.cumsum(c_future, axis=1), NUMPY) - log_beta(alpha, b_n, NUMPY)


def expected_active_periods(params: Any, C_n: FloatArray, c_future: FloatArray) -> FloatArray:
    r"""Expected future periods survived among the ``H`` ahead, :math:`\sum_{k \le H} S_k`."""
    return np.exp(log_survival_ahead(params, C_n, c_future)).sum(axis=1)


def expected_residual_lifetime(
    params: Any, C_n: FloatArray, c_future: FloatArray, discount_rate: float = 0.0
) -> FloatArray:
    r"""DERL :math:`\sum_{k \ge 1} S_k (1+d)^{-(k-1)}` (module docstring).

    ``c_future`` (n, H >= 1): multipliers of the next periods; the last one
    holds afterwards.  Infinite for ``d = 0`` and :math:`\alpha \le 1`.
    """
    alpha, beta = (float(v) for v in params)
    d = float(discount_rate)
    if not (np.isfinite(d) and d >= 0):
        raise ValueError(f"discount_rate must be a number >= 0 per period, got {discount_rate!r}.")
    c_future = np.asarray(c_future, dtype=np.float64)
    H = c_future.shape[1]
    log_rho = -np.log1p(d)
    log_S = log_survival_ahead(params, C_n, c_future)
    head = np.sum(np.exp(log_S + np.arange(H) * log_rho), axis=1)
    c_end = c_future[:, -1]
    # the tail after H: with the multiplier c held, S ratios are those of the static
    # covariate sBG at (non-integer) renewals m = (C_n + dC_H) / c
    m = (np.asarray(C_n, dtype=np.float64) + c_future.sum(axis=1)) / c_end
    tail = residual_lifetime_sum(
        cast(Any, _tail_log_survival),
        (alpha, beta),
        m,
        d,
        tail_exponent=alpha,
        multiplier=c_end,
    )
    return head + np.exp(log_S[:, -1] + H * log_rho) * tail


def _tail_log_survival(params: Any, t: Any, multiplier: Any) -> Any:
    """``log_survival`` in the argument order ``residual_lifetime_sum`` calls it with."""
    return _ph_log_survival(params, multiplier, t)


def future_panel_path(
    panel: RetentionPanel,
    periods: int,
    *,
    start: int = 1,
    set_values: dict[str, float] | None = None,
    add: dict[str, float] | None = None,
    customers: Sequence[Any] | None = None,
    customer_id_col: str = "customer_id",
    period_col: str = "period",
) -> pd.DataFrame:
    """A future covariate path for a retention panel: last values carried forward,
    changed for ``periods`` periods from the ``start``-th period ahead on.

    Returns the long layout (customer id, absolute period, covariates) that
    :class:`ShiftedBetaGeoDynamicModel`'s predictions take as ``path``; later
    periods keep the last changed values.
    """
    unknown = [c for c in {**(set_values or {}), **(add or {})} if c not in panel.columns]
    if unknown:
        raise DataError(
            [
                Problem(c, "is not a covariate of the panel", f"use one of {list(panel.columns)}")
                for c in unknown
            ],
            what="the future covariate path",
        )
    if int(start) < 1 or int(periods) < 1:
        raise ValueError("start and periods must be whole numbers >= 1.")
    rows = (
        np.arange(panel.n_customers)
        if customers is None
        else panel.customer_ids.get_indexer(pd.Index(list(customers)))
    )
    if (rows < 0).any():
        raise DataError(
            [Problem(customer_id_col, "names customers not in the panel", "drop them")],
            what="the future covariate path",
        )
    n_per = int(periods)
    last = _last_X(panel)[rows]
    X = np.repeat(last[:, None, :], n_per, axis=1)
    for c, v in (set_values or {}).items():
        X[..., panel.columns.index(c)] = float(v)
    for c, v in (add or {}).items():
        X[..., panel.columns.index(c)] += float(v)
    first = panel.periods_observed[rows] + int(start)
    frame = pd.DataFrame(X.reshape(-1, len(panel.columns)), columns=list(panel.columns))
    frame.insert(0, period_col, (first[:, None] + np.arange(n_per)[None, :]).ravel())
    frame.insert(0, customer_id_col, np.repeat(panel.customer_ids[rows].to_numpy(), n_per))
    return frame


def _last_X(panel: RetentionPanel) -> FloatArray:
    n_obs = panel.periods_observed.astype(int)
    return panel.X[np.arange(panel.n_customers), n_obs - 1]


def _future_X(
    panel: RetentionPanel,
    horizon: int,
    path: pd.DataFrame | None,
    customer_id_col: str,
    period_col: str,
) -> FloatArray:
    """Covariates of the next ``horizon`` periods per customer, (n, H, k): the path's
    values where given, else the previous period's carried forward."""
    n, k = panel.n_customers, len(panel.columns)
    values = np.full((n, horizon, k), np.nan)
    if path is not None:
        what = "the future covariate path"
        if not isinstance(path, pd.DataFrame):
            raise DataError(
                f"the future path must be a DataFrame, got {type(path).__name__}", what=what
            )
        missing = [
            c for c in (customer_id_col, period_col, *panel.columns) if c not in path.columns
        ]
        if missing:
            raise DataError([Problem(c, "is missing", "add it") for c in missing], what=what)
        pos = panel.customer_ids.get_indexer(pd.Index(path[customer_id_col]))
        period = path[period_col].to_numpy(dtype=np.float64)
        Xp = path[list(panel.columns)].to_numpy(dtype=np.float64)
        problems = []
        if (pos < 0).any():
            problems.append(
                Problem(
                    customer_id_col,
                    "has customers that are not in the panel",
                    "drop them",
                    list(path[customer_id_col][pos < 0]),
                )
            )
        ahead = period - panel.periods_observed[np.maximum(pos, 0)]
        past = (pos >= 0) & ((ahead < 1) | (ahead != np.round(ahead)))
        if past.any():
            problems.append(
                Problem(
                    period_col,
                    "has periods that are not whole periods after the customer's last "
                    "observed one: a future path cannot change the past",
                    "give periods periods_observed + 1, + 2, ...",
                    list(path[customer_id_col][past]),
                )
            )
        if not np.isfinite(Xp).all():
            problems.append(Problem(None, "has missing or infinite covariate values", "fill them"))
        if problems:
            raise DataError(problems, what=what)
        slot = ahead.astype(np.int64) - 1
        keep = slot < horizon
        values[pos[keep], slot[keep], :] = Xp[keep]
    previous = _last_X(panel)
    for j in range(horizon):
        gap = np.isnan(values[:, j, :])
        values[:, j, :][gap] = previous[gap]
        previous = values[:, j, :]
    return values


class ShiftedBetaGeoDynamicModel(_TimeVaryingModel):
    """sBG retention with per-period covariates on the churn probability.

    Predictions (:meth:`survival`, :meth:`expected_residual_lifetime`,
    :meth:`predict`) are for the panel's customers after their last observed
    period, given a future covariate path (``path``: customer id, absolute
    ``period`` > ``periods_observed``, covariate columns, e.g. from
    :func:`future_panel_path`; default: each customer's last values carried
    forward).

    Parameters
    ----------
    churn_covariates : sequence of str
        Columns of the :class:`RetentionPanel`; coefficients ``churn[col]``.
    """

    _base = ("alpha", "beta")
    _data_type = RetentionPanel
    _data_hint = "build it with retention_panel(...)"
    _labels = ("purchase", "churn")

    def __init__(self, *, churn_covariates: Sequence[str] = ()) -> None:
        super().__init__(dropout_covariates=churn_covariates)
        self.churn_covariates = churn_covariates

    def _make_arrays(self, data: RetentionPanel) -> Any:
        idx = [data.columns.index(c) for c in self.churn_covariates]
        return data.X[..., idx], data.mask, data.churned

    def _ll(self, base: Any, gp: Any, gd: Any, arrays: Any) -> FloatArray:
        X, mask, churned = arrays
        return log_likelihood(base, gd, X, mask, churned)

    def _ll_grad(self, base: Any, gp: Any, gd: Any, arrays: Any) -> tuple[FloatArray, FloatArray]:
        theta = np.concatenate([np.asarray(base, dtype=np.float64), gd])
        ll = self._ll(base, gp, gd, arrays)
        grad = np.empty((theta.size, ll.size))
        for j in range(theta.size):
            e = np.zeros_like(theta)
            e[j] = 1e-6 * max(1.0, abs(theta[j]))
            up = self._ll(tuple(theta[:2] + e[:2]), gp, theta[2:] + e[2:], arrays)
            down = self._ll(tuple(theta[:2] - e[:2]), gp, theta[2:] - e[2:], arrays)
            grad[j] = (up - down) / (2 * e[j])
        return ll, grad

    def _start(self, data: Any, initial: Any) -> FloatArray:
        from clv.models.sbg import ShiftedBetaGeoModel

        frame = pd.DataFrame({"periods_observed": data.periods_observed, "churned": data.churned})
        base = ShiftedBetaGeoModel().fit(frame).params_.to_numpy()
        start = np.zeros(len(self._param_names()))
        start[:2] = base
        for j, n in enumerate(self._param_names()[2:], start=2):
            start[j] = float((initial or {}).get(n, 0.0))
        return start

    def to_dict(self) -> dict[str, Any]:
        """The fitted state as a JSON-serialisable document."""
        doc = super().to_dict()
        doc["init"] = {"churn_covariates": self.churn_covariates}
        return doc

    # ------------------------------------------------------------------ predictions
    def _state(
        self,
        data: RetentionPanel,
        horizon: int,
        path: pd.DataFrame | None,
        customer_id_col: str,
        period_col: str,
    ) -> tuple[tuple[float, ...], FloatArray, FloatArray, FloatArray]:
        """``(base, C_n, c_future (n, H), active)`` for the panel's customers."""
        self._check_fitted()
        X, mask, churned = self._arrays(data)
        base, _, gamma = self._split(self.params_.to_numpy())
        C_n = cumulative_multiplier(gamma, X, mask)
        idx = [data.columns.index(c) for c in self.churn_covariates]
        future = _future_X(data, max(int(horizon), 1), path, customer_id_col, period_col)
        c_future = np.exp(_eta(future[..., idx], gamma))
        return base, C_n, c_future, (churned == 0).astype(np.float64)

    def survival(
        self,
        data: RetentionPanel,
        t: int,
        path: pd.DataFrame | None = None,
        *,
        customer_id_col: str = "customer_id",
        period_col: str = "period",
    ) -> pd.Series:
        """P(still active ``t`` periods after the last observed one) per customer (0 if lost)."""
        t = _whole(t, "t")
        if t == 0:
            self._check_fitted()
            values = (self._arrays(data)[2] == 0).astype(np.float64)
        else:
            base, C_n, c_future, active = self._state(data, t, path, customer_id_col, period_col)
            values = active * np.exp(log_survival_ahead(base, C_n, c_future)[:, -1])
        return pd.Series(values, index=data.customer_ids, name="survival")

    def expected_active_periods(
        self,
        data: RetentionPanel,
        horizon: int,
        path: pd.DataFrame | None = None,
        *,
        customer_id_col: str = "customer_id",
        period_col: str = "period",
    ) -> pd.Series:
        """Expected number of the next ``horizon`` periods each customer stays active."""
        horizon = _whole(horizon, "horizon")
        base, C_n, c_future, active = self._state(data, horizon, path, customer_id_col, period_col)
        values = active * expected_active_periods(base, C_n, c_future[:, :horizon])
        return pd.Series(values, index=data.customer_ids, name="expected_active_periods")

    def expected_residual_lifetime(
        self,
        data: RetentionPanel,
        path: pd.DataFrame | None = None,
        *,
        discount_rate: float = 0.0,
        customer_id_col: str = "customer_id",
        period_col: str = "period",
    ) -> pd.Series:
        """Discounted expected residual lifetime (DERL) per customer, 0 for those lost.

        The expected discounted number of future renewals, valued just before
        the next renewal decision, as :meth:`ShiftedBetaGeoModel.expected_residual_lifetime`;
        the path's last values hold after its end.
        """
        ahead = 1
        if isinstance(path, pd.DataFrame) and len(path) and period_col in path.columns:
            pos = data.customer_ids.get_indexer(pd.Index(path[customer_id_col]))
            rel = path[period_col].to_numpy(dtype=np.float64) - data.periods_observed[pos]
            ahead = max(1, int(np.nanmax(rel)))
        base, C_n, c_future, active = self._state(data, ahead, path, customer_id_col, period_col)
        values = np.zeros(data.n_customers)
        on = active > 0
        if on.any():
            values[on] = expected_residual_lifetime(base, C_n[on], c_future[on], discount_rate)
        return pd.Series(values, index=data.customer_ids, name="expected_residual_lifetime")

    def predict(
        self,
        data: RetentionPanel,
        horizon: int,
        path: pd.DataFrame | None = None,
        *,
        discount_rate: float | None = None,
        customer_id_col: str = "customer_id",
        period_col: str = "period",
    ) -> pd.DataFrame:
        """Per-customer predictions over the next ``horizon`` periods.

        Returns
        -------
        DataFrame
            Index: customer id.  Columns ``probability_active`` (after the
            last observed period: 0 or 1), ``survival_end`` (after the
            horizon), ``expected_active_periods`` and, with
            ``discount_rate``, ``expected_residual_lifetime`` (DERL).
        """
        kw = {"customer_id_col": customer_id_col, "period_col": period_col}
        out = pd.DataFrame(
            {
                "probability_active": self.survival(data, 0),
                "survival_end": self.survival(data, horizon, path, **kw),
                "expected_active_periods": self.expected_active_periods(data, horizon, path, **kw),
            }
        )
        if discount_rate is not None:
            out["expected_residual_lifetime"] = self.expected_residual_lifetime(
                data, path, discount_rate=discount_rate, **kw
            )
        return out


def _whole(value: Any, name: str) -> int:
    v = float(value)
    if not (np.isfinite(v) and v >= 0 and v == round(v)):
        raise ValueError(f"{name} must be a whole number of periods >= 0, got {value!r}.")
    return int(v)


def simulate_panel(
    params: dict[str, float], X: FloatArray, columns: Sequence[str], *, rng: np.random.Generator
) -> tuple[pd.DataFrame, FloatArray]:
    """Simulate contract customers over the periods of ``X`` (n, P, k).

    Returns the long panel (rows up to each customer's loss or the last
    period) and the latent :math:`\\theta`.
    """
    n, P, _ = X.shape
    theta = rng.beta(params["alpha"], params["beta"], size=int(n))
    gamma = np.array([params.get(f"churn[{c}]", 0.0) for c in columns])
    c = np.exp(X @ gamma) if len(columns) else np.ones((n, P))
    lost = rng.random((n, P)) < -np.expm1(c * np.log1p(-theta)[:, None])
    first_loss = np.where(lost.any(axis=1), lost.argmax(axis=1) + 1, P)
    keep = np.arange(1, P + 1)[None, :] <= first_loss[:, None]
    cust, per = np.nonzero(keep)
    frame = pd.DataFrame({"customer_id": cust, "period": per + 1})
    for j, col in enumerate(columns):
        frame[col] = X[cust, per, j]
    frame["churned"] = ((per + 1 == first_loss[cust]) & lost[cust, per]).astype(float)
    return frame, theta
