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

Data: a panel with one row per customer and period observed (periods
``1..t``), the covariates of each period and a ``churned`` column that is 1
on the row of the period the customer was lost in (0 elsewhere).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from clv._ops import NUMPY
from clv._typing import FloatArray, Ops
from clv.exceptions import DataError, Problem
from clv.models._pareto_nbd_dyncov_math import _eta
from clv.models._retention_math import log_beta
from clv.models.pareto_nbd_dyncov import _TimeVaryingModel

__all__ = [
    "RetentionPanel",
    "ShiftedBetaGeoDynamicModel",
    "log_likelihood",
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


class ShiftedBetaGeoDynamicModel(_TimeVaryingModel):
    """sBG retention with per-period covariates on the churn probability.

    Parameters
    ----------
    churn_covariates : sequence of str
        Columns of the :class:`RetentionPanel`; coefficients ``churn[col]``.
    """

    _base = ("alpha", "beta")

    def __init__(self, *, churn_covariates: Sequence[str] = ()) -> None:
        super().__init__(dropout_covariates=churn_covariates)
        self.churn_covariates = churn_covariates

    def _param_names(self) -> list[str]:
        return [*self._base] + [f"churn[{c}]" for c in self.churn_covariates]

    def _arrays(self, data: Any) -> Any:
        if not isinstance(data, RetentionPanel):
            raise DataError(
                [
                    Problem(
                        None,
                        f"expected RetentionPanel, got {type(data).__name__}",
                        "build it with retention_panel(...)",
                    )
                ],
                what=f"the data passed to {type(self).__name__}",
            )
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


def simulate_panel(
    params: dict[str, float], X: FloatArray, columns: Sequence[str], *, rng: np.random.Generator
) -> tuple[pd.DataFrame, FloatArray]:
    """Simulate contract customers over the periods of ``X`` (n, P, k).

    Returns the long panel (rows up to each customer's loss or the last
    period) and the latent :math:`\\theta`.
    """
    n, P, _ = X.shape
    theta = rng.beta(params["alpha"], params["beta"], size=n)
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
