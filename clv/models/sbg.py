r"""Shifted-beta-geometric (sBG) model of contractual retention (Fader & Hardie 2007).

Pure functions first (no pandas, no state); :class:`ShiftedBetaGeoModel` binds
fitted parameters to them.

Assumptions: at the end of every period an active customer cancels with
probability :math:`\theta` (constant over time for that customer), so their
lifetime :math:`T \in \{1, 2, \dots\}` is (shifted) geometric; across customers
:math:`\theta \sim \mathrm{Beta}(\alpha, \beta)`.  Then

.. math::

   P(T = t) = \frac{B(\alpha+1, \beta+t-1)}{B(\alpha, \beta)}, \qquad
   S(t) = P(T > t) = \frac{B(\alpha, \beta+t)}{B(\alpha, \beta)}, \qquad
   r_t = \frac{S(t)}{S(t-1)} = \frac{\beta+t-1}{\alpha+\beta+t-1},

and the cohort's retention rate rises with tenure although no customer's
churn probability changes (the high-churn customers leave first).

References
----------
.. [FH2007] Fader, P. S., & Hardie, B. G. S. (2007). How to project customer
   retention. Journal of Interactive Marketing, 21(1), 76-90.
.. [FH2010] Fader, P. S., & Hardie, B. G. S. (2010). Customer-base valuation in
   a contractual setting: The perils of ignoring heterogeneity. Marketing
   Science, 29(1), 85-93.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special

from clv._ops import NUMPY
from clv._special import log_hyp2f1_1bc
from clv._typing import FloatArray, Ops, OpsData
from clv.models._retention import RetentionModel, RetentionSpec
from clv.models._retention_math import log_beta, simulate_lifetimes

__all__ = [
    "SBGParams",
    "ShiftedBetaGeoModel",
    "expected_lifetime",
    "expected_residual_lifetime",
    "log_beta",
    "log_likelihood",
    "log_survival",
    "retention_rate",
    "simulate",
    "simulate_lifetimes",
    "survival",
]


class SBGParams(NamedTuple):
    """sBG parameters: churn probability :math:`\\theta \\sim \\mathrm{Beta}(\\alpha, \\beta)`."""

    alpha: Any
    beta: Any


def log_survival(params: SBGParams, t: ArrayLike, *, ops: Ops = NUMPY) -> Any:
    r"""Log of the survival function, [FH2007]_ eq. (6).

    :math:`\log S(t) = \log B(\alpha, \beta+t) - \log B(\alpha, \beta)`.

    Examples
    --------
    >>> round(float(np.exp(log_survival(SBGParams(0.704, 1.182), 7))), 4)
    0.2391
    """
    alpha, beta = params
    return log_beta(alpha, beta + t, ops) - log_beta(alpha, beta, ops)


def survival(params: SBGParams, t: ArrayLike) -> FloatArray:
    """Share of a cohort still active after ``t`` periods, :math:`S(t)`.

    Examples
    --------
    >>> np.round(survival(SBGParams(0.704, 1.182), [0, 1, 2]), 4).tolist()
    [1.0, 0.6267, 0.4738]
    """
    return np.exp(log_survival(params, np.asarray(t, dtype=np.float64)))


def retention_rate(params: SBGParams, t: ArrayLike) -> FloatArray:
    r"""Retention rate in period ``t >= 1``, :math:`r_t = (\beta+t-1)/(\alpha+\beta+t-1)`.

    [FH2007]_ eq. (8); increasing in :math:`t` for every :math:`\alpha, \beta`.

    Examples
    --------
    >>> round(float(retention_rate(SBGParams(0.704, 1.182), 1)), 4)
    0.6267
    """
    alpha, beta = (np.asarray(v, dtype=np.float64) for v in params)
    t = np.asarray(t, dtype=np.float64)
    return 1.0 - alpha / (alpha + beta + t - 1.0)


def log_likelihood(
    params: SBGParams, periods_observed: OpsData, churned: OpsData, *, ops: Ops = NUMPY
) -> Any:
    r"""Per-customer log-likelihood, [FH2007]_ eq. (B3) row by row.

    A customer lost in period :math:`t` contributes :math:`\log P(T=t) =
    \log B(\alpha+1, \beta+t-1) - \log B(\alpha, \beta)`; one still active
    after :math:`t` periods contributes :math:`\log S(t)`.

    Parameters
    ----------
    params : SBGParams
        Scalars or arrays broadcastable against the data.
    periods_observed : array_like
        :math:`t`, whole periods ``>= 1``.
    churned : array_like
        1 (True) if lost in period :math:`t`, 0 if still active.

    Returns
    -------
    array

    Examples
    --------
    >>> p = SBGParams(alpha=0.704, beta=1.182)
    >>> np.round(log_likelihood(p, np.array([1, 7]), np.array([1, 0])), 4).tolist()
    [-0.9854, -1.4311]
    """
    alpha, beta = params
    t = periods_observed
    lost = log_beta(alpha + 1.0, beta + t - 1.0, ops)
    alive = log_beta(alpha, beta + t, ops)
    return ops.where(churned > 0, lost, alive) - log_beta(alpha, beta, ops)


def log_likelihood_gradient(
    params: SBGParams, periods_observed: ArrayLike, churned: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Per-customer log-likelihood and its analytic gradient w.r.t. ``(alpha, beta)``.

    Returns
    -------
    ll : ndarray, shape (n,)
    grad : ndarray, shape (2, n)
    """
    alpha, beta = (float(v) for v in params)
    t = np.asarray(periods_observed, dtype=np.float64)
    lost = np.asarray(churned, dtype=np.float64) > 0
    a = np.where(lost, alpha + 1.0, alpha)
    b = np.where(lost, beta + t - 1.0, beta + t)
    psi_ab = special.digamma(a + b)  # a + b = alpha + beta + t in both cases
    ll = log_beta(a, b) - log_beta(alpha, beta)
    base = special.digamma(alpha + beta)
    d_alpha = special.digamma(a) - psi_ab - special.digamma(alpha) + base
    d_beta = special.digamma(b) - psi_ab - special.digamma(beta) + base
    return ll, np.stack([d_alpha, d_beta])


def log_likelihood_hessian(
    params: SBGParams, periods_observed: ArrayLike, churned: ArrayLike, weights: ArrayLike
) -> tuple[float, FloatArray, FloatArray]:
    """Weighted total log-likelihood, its analytic gradient and Hessian w.r.t. ``(alpha, beta)``.

    Every term is a difference of :math:`\\log B` values, whose second
    derivatives are trigamma functions.

    Returns
    -------
    ll : float
    grad : ndarray, shape (2,)
    hess : ndarray, shape (2, 2)
    """
    alpha, beta = (float(v) for v in params)
    w = np.asarray(weights, dtype=np.float64)
    ll, grad = log_likelihood_gradient(params, periods_observed, churned)
    t = np.asarray(periods_observed, dtype=np.float64)
    lost = np.asarray(churned, dtype=np.float64) > 0
    a = np.where(lost, alpha + 1.0, alpha)
    b = np.where(lost, beta + t - 1.0, beta + t)
    W = float(w.sum())
    tri_ab = special.polygamma(1, a + b)
    tri0 = float(special.polygamma(1, alpha + beta))
    h_aa = w @ (special.polygamma(1, a) - tri_ab) - W * (float(special.polygamma(1, alpha)) - tri0)
    h_bb = w @ (special.polygamma(1, b) - tri_ab) - W * (float(special.polygamma(1, beta)) - tri0)
    h_ab = -(w @ tri_ab) + W * tri0
    hess = np.array([[h_aa, h_ab], [h_ab, h_bb]])
    return float(w @ ll), grad @ w, hess


def expected_lifetime(params: SBGParams, discount_rate: ArrayLike = 0.0) -> FloatArray:
    r"""Discounted expected lifetime of a new customer (DEL), in periods.

    .. math:: \mathrm{DEL}(d) = \sum_{t \ge 0} \frac{S(t)}{(1+d)^t}
              = {}_2F_1\!\left(1, \beta; \alpha+\beta; \tfrac{1}{1+d}\right)

    ([FH2010]_), evaluated as :math:`1 + \frac{\beta}{(\alpha+\beta)(1+d)}
    {}_2F_1(1, \beta+1; \alpha+\beta+1; \frac{1}{1+d})`.  With :math:`d = 0`
    it is :math:`E[T] = (\alpha+\beta-1)/(\alpha-1)`, infinite for
    :math:`\alpha \le 1`.

    Examples
    --------
    >>> round(float(expected_lifetime(SBGParams(3.0, 5.0))), 6)  # (3 + 5 - 1) / (3 - 1)
    3.5
    >>> round(float(expected_lifetime(SBGParams(0.704, 1.182), 0.1)), 4)
    3.6951
    """
    d = np.asarray(discount_rate, dtype=np.float64)
    return 1.0 + expected_residual_lifetime(params, 0.0, d) / (1.0 + d)


def expected_residual_lifetime(
    params: SBGParams, renewals: ArrayLike, discount_rate: ArrayLike = 0.0
) -> FloatArray:
    r"""Discounted expected residual lifetime (DERL) of a customer who has renewed ``n`` times.

    The expected discounted number of future renewals, valued just before the
    next renewal decision ([FH2010]_ eq. (6), whose customer "has made
    :math:`n-1` renewals" is ours with ``renewals`` :math:`= n-1`):

    .. math::

       \mathrm{DERL}(d \mid n) = \sum_{k \ge 1} \frac{S(n+k)}{S(n)} \frac{1}{(1+d)^{k-1}}
       = \frac{\beta+n}{\alpha+\beta+n}\,
         {}_2F_1\!\left(1, \beta+n+1; \alpha+\beta+n+1; \tfrac{1}{1+d}\right).

    With :math:`d = 0` it is :math:`(\beta+n)/(\alpha-1)` (infinite for
    :math:`\alpha \le 1`).

    Parameters
    ----------
    params : SBGParams
    renewals : array_like
        Renewals made so far, :math:`n \ge 0` (``periods_observed`` of an
        active customer).
    discount_rate : array_like
        Per period, :math:`d \ge 0`.

    Examples
    --------
    >>> p = SBGParams(alpha=3.0, beta=5.0)
    >>> round(float(expected_residual_lifetime(p, 2)), 6)  # (5 + 2) / (3 - 1)
    3.5
    >>> round(float(expected_residual_lifetime(p, 2, 0.1)), 4)
    2.3449
    """
    alpha, beta = (np.asarray(v, dtype=np.float64) for v in params)
    n = np.asarray(renewals, dtype=np.float64)
    d = np.asarray(discount_rate, dtype=np.float64)
    alpha, beta, n, d = np.broadcast_arrays(alpha, beta, n, d)
    front = (beta + n) / (alpha + beta + n)
    z = 1.0 / (1.0 + np.where(d > 0, d, 1.0))
    log_f = log_hyp2f1_1bc(beta + n + 1.0, alpha + beta + n + 1.0, z)
    undiscounted = np.where(
        alpha > 1.0, (beta + n) / np.where(alpha > 1.0, alpha - 1.0, 1.0), np.inf
    )
    out = np.where(d > 0, front * np.exp(log_f), undiscounted)
    return out[()] if out.ndim == 0 else out


def simulate(
    params: SBGParams, periods: ArrayLike, *, rng: np.random.Generator
) -> dict[str, FloatArray]:
    """Simulate sBG customers, each observed for ``periods`` renewal periods.

    Parameters
    ----------
    params : SBGParams
        Population parameters (scalars).
    periods : array_like
        Observation length of each customer (one entry per customer, >= 1).
    rng : numpy.random.Generator

    Returns
    -------
    dict
        ``periods_observed`` (float), ``churned`` (bool) and the latent ``theta``.

    Examples
    --------
    >>> sim = simulate(SBGParams(1.0, 2.0), np.full(5, 4), rng=np.random.default_rng(1))
    >>> sorted(sim)
    ['churned', 'periods_observed', 'theta']
    """
    alpha, beta = (float(v) for v in params)
    horizon = np.asarray(periods, dtype=np.float64)
    theta = rng.beta(alpha, beta, size=horizon.shape)
    return simulate_lifetimes(theta, 1.0, horizon, rng)


SPEC = RetentionSpec(
    name="sBG",
    params=SBGParams,
    start=SBGParams(alpha=1.0, beta=1.0),
    columns=("periods_observed", "churned"),
    log_likelihood=log_likelihood,
    gradient=log_likelihood_gradient,
    hessian=log_likelihood_hessian,
    simulate=simulate,
    log_survival=log_survival,
    expected_lifetime=expected_lifetime,
    expected_residual_lifetime=expected_residual_lifetime,
    tail_exponent=lambda p: float(p[0]),
)


class ShiftedBetaGeoModel(RetentionModel):
    """Shifted-beta-geometric (sBG) model of contractual retention, fitted by maximum likelihood.

    Each customer cancels at the end of a period with a constant probability
    :math:`\\theta`; across customers :math:`\\theta \\sim \\mathrm{Beta}(\\alpha, \\beta)`
    ([FH2007]_).  Fitted from one row per customer (``periods_observed``,
    ``churned``) or from cohort survival counts (``cohort``, ``period``,
    ``n_alive``), with one (``shared=True``) or one set of parameters per cohort.

    Parameters
    ----------
    shared : bool, default True
        One :math:`(\\alpha, \\beta)` for all cohorts, or one per cohort.
    penalizer : float, default 0.0
        L2 penalty on the parameters; keep 0 for maximum likelihood.
    churn_covariates : list of str, optional
        Customer covariates as discrete proportional hazards:
        :math:`S_i(t) = B(\\alpha, \\beta + t^c e^{\\gamma_c^\\top x_i})/B(\\alpha, \\beta)`
        (:math:`c = 1` for sBG); a positive coefficient raises churn. Needs
        per-customer rows and ``shared=True``.
    covariate_penalty, coefficient_priors
        As in :class:`~clv.models._base.ParametricModel`.

    Examples
    --------
    The "regular" customers of [FH2007]_ Table 1, calibration years 0-7:

    >>> import pandas as pd
    >>> table = pd.DataFrame({"period": range(8),
    ...                       "n_alive": [1000, 631, 468, 382, 326, 289, 262, 241]})
    >>> model = ShiftedBetaGeoModel().fit(table)
    >>> model.params_.round(3).to_dict()
    {'alpha': 0.704, 'beta': 1.182}
    >>> np.round(model.survival([8, 12]), 3).tolist()
    [0.22, 0.17]
    """

    spec = SPEC

    def retention_elasticity(
        self, periods_observed: ArrayLike, *, discount_rate: float, cohort: Hashable | None = None
    ) -> np.ndarray | pd.Series:
        """% change in DERL for a 1 % higher retention probability of every customer.

        See :func:`clv.models.elasticity.sbg_retention_elasticity` ([FH2010]_);
        ``periods_observed`` are the renewals so far (a Series gives a Series).
        """
        from clv.models.elasticity import sbg_retention_elasticity

        if not (np.isfinite(discount_rate) and discount_rate >= 0):
            raise ValueError(f"discount_rate must be a number >= 0, got {discount_rate!r}.")
        values = np.asarray(
            sbg_retention_elasticity(
                self._params(cohort), np.asarray(periods_observed, dtype=np.float64), discount_rate
            ),
            dtype=np.float64,
        )
        if isinstance(periods_observed, pd.Series):
            return pd.Series(
                values * np.ones(len(periods_observed)),
                index=periods_observed.index,
                name="retention_elasticity",
            )
        return values
