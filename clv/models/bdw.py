r"""Beta-discrete-Weibull (BdW) model of contractual retention (Fader, Hardie et al. 2018).

Pure functions first (no pandas, no state); :class:`BetaDiscreteWeibullModel`
binds fitted parameters to them.

Assumptions: a customer's lifetime is discrete Weibull, :math:`P(T > t \mid
\theta, c) = (1-\theta)^{t^c}`, so their churn probability in period
:math:`t` rises over tenure when :math:`c > 1` and falls when :math:`c < 1`
(duration dependence); across customers :math:`\theta \sim \mathrm{Beta}(\alpha,
\beta)`.  Then

.. math::

   S(t) = \frac{B(\alpha, \beta + t^c)}{B(\alpha, \beta)}, \qquad
   P(T = t) = S(t-1) - S(t), \qquad r_t = \frac{S(t)}{S(t-1)},

and :math:`c = 1` is the shifted-beta-geometric model
(:mod:`clv.models.sbg`).  The lifetime has no closed-form mean: (discounted)
expected lifetimes are summed numerically; :math:`S(t) \sim t^{-c\alpha}`, so
the undiscounted mean is finite only when :math:`c\alpha > 1`.

References
----------
.. [FHLDS2018] Fader, P. S., Hardie, B. G. S., Liu, Y., Davin, J., & Steenburgh,
   T. (2018). "How to project customer retention" revisited: The role of
   duration dependence. Journal of Interactive Marketing, 43, 1-16.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special

from clv._ops import NUMPY
from clv._typing import FloatArray, Ops, OpsData
from clv.exceptions import ConvergenceError, ConvergenceWarning
from clv.models import sbg
from clv.models._mle import maximise
from clv.models._retention import RetentionModel, RetentionSpec
from clv.models._retention_math import log_beta, simulate_lifetimes

__all__ = [
    "BdWParams",
    "BetaDiscreteWeibullModel",
    "log_likelihood",
    "log_survival",
    "retention_rate",
    "simulate",
    "survival",
]

_LOG_X_MAX = 600.0  # beyond t^c = e^600, log B(α, β + x) = log Γ(α) - α log x to double precision
_MAX_START_PRECISION = 50.0  # cap on alpha + beta of the BdW start taken from the sBG fit


class BdWParams(NamedTuple):
    """BdW parameters: churn :math:`\\theta \\sim \\mathrm{Beta}(\\alpha, \\beta)`, shape ``c``.

    ``c > 1``: churn propensity rises with tenure; ``c < 1``: it falls; ``c = 1``: sBG.
    """

    alpha: Any
    beta: Any
    c: Any


def log_survival(params: BdWParams, t: OpsData, *, ops: Ops = NUMPY) -> Any:
    r"""Log of the survival function, :math:`\log B(\alpha, \beta+t^c) - \log B(\alpha, \beta)`.

    [FHLDS2018]_ eq. (5).  :math:`t^c` is formed in logs; where it would
    overflow, :math:`\log B(\alpha, \beta + x) = \log\Gamma(\alpha) - \alpha\log x`
    holds to double precision, so the value stays finite for any :math:`c`.

    Examples
    --------
    >>> p = BdWParams(alpha=0.704, beta=1.182, c=1.0)
    >>> round(float(np.exp(log_survival(p, 7))), 4)  # the sBG value
    0.2391
    """
    alpha, beta, c = params
    log_x = c * ops.log(ops.maximum(t, 1e-300))
    big = log_x > _LOG_X_MAX
    x = ops.where(big, 1.0, t) ** c  # a power, not exp(log_x): exact for c = 1
    lb = ops.where(big, ops.gammaln(alpha) - alpha * log_x, log_beta(alpha, beta + x, ops))
    return ops.where(t > 0, lb - log_beta(alpha, beta, ops), 0.0)


def survival(params: BdWParams, t: ArrayLike) -> FloatArray:
    """Share of a cohort still active after ``t`` periods, :math:`S(t)`.

    Examples
    --------
    >>> np.round(survival(BdWParams(0.259, 1.723, 1.584), [0, 1, 4]), 3).tolist()
    [1.0, 0.869, 0.593]
    """
    return np.exp(log_survival(params, np.asarray(t, dtype=np.float64)))


def retention_rate(params: BdWParams, t: ArrayLike) -> FloatArray:
    r"""Retention rate in period ``t >= 1``, :math:`r_t = S(t) / S(t-1)`.

    [FHLDS2018]_ eq. (6).

    Examples
    --------
    >>> round(float(retention_rate(BdWParams(0.704, 1.182, 1.0), 1)), 4)
    0.6267
    """
    t = np.asarray(t, dtype=np.float64)
    diff = log_survival(params, t) - log_survival(params, t - 1.0)
    return np.exp(np.minimum(diff, 0.0))


def log_likelihood(
    params: BdWParams, periods_observed: OpsData, churned: OpsData, *, ops: Ops = NUMPY
) -> Any:
    r"""Per-customer log-likelihood.

    A customer lost in period :math:`t` contributes :math:`\log[S(t-1) -
    S(t)]` (a log-difference of exponentials); one still active after
    :math:`t` periods contributes :math:`\log S(t)`.

    Parameters
    ----------
    params : BdWParams
        Scalars or arrays broadcastable against the data.
    periods_observed : array_like
        :math:`t`, whole periods ``>= 1``.
    churned : array_like
        1 (True) if lost in period :math:`t`, 0 if still active.

    Examples
    --------
    >>> p = BdWParams(alpha=0.704, beta=1.182, c=1.0)
    >>> np.round(log_likelihood(p, np.array([1, 7]), np.array([1, 0])), 4).tolist()
    [-0.9854, -1.4311]
    """
    t = periods_observed
    f1 = log_survival(params, t, ops=ops)
    f0 = log_survival(params, t - 1.0, ops=ops)
    return ops.where(churned > 0, ops.logsubexp(f0, f1), f1)


def _y_dpsi(alpha: float | FloatArray, y: FloatArray) -> FloatArray:
    """Return ``y * (digamma(y) - digamma(y + alpha))`` without cancellation for large ``y``."""
    large = y >= 1e3
    ys = np.where(large, y, 1e3)
    # digamma(y) ~ log y - 1/(2y) - 1/(12 y^2) + O(y^-4); the difference is accurate to ~1e-14
    asym = (
        -ys * np.log1p(alpha / ys)
        - alpha / (ys + alpha) / 2.0
        - alpha / (ys + alpha) / 12.0 * (1.0 / ys + 1.0 / (ys + alpha))
    )
    yd = np.where(large, 1.0, y)
    direct = yd * (special.digamma(yd) - special.digamma(yd + alpha))
    return np.where(large, asym, direct)


def _log_survival_grad(
    alpha: float, beta: float, c: float, t: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """``log S(t)`` and its gradient w.r.t. ``(alpha, beta, c)``, shape ``(3, n)``."""
    pos = t > 0
    log_t = np.log(np.maximum(t, 1e-300))
    log_x = c * log_t
    big = log_x > _LOG_X_MAX
    x = np.where(big, 1.0, t) ** c
    y = beta + x
    f = log_survival(BdWParams(alpha, beta, c), t)
    y_dpsi = _y_dpsi(alpha, y)  # y (psi(beta + x) - psi(alpha + beta + x)), -> -alpha as y -> inf
    x_dpsi = np.where(big, -alpha, y_dpsi * (x / y))
    psi_ab = special.digamma(alpha + beta)
    d_alpha = psi_ab - np.where(big, log_x, special.digamma(alpha + y))
    d_beta = psi_ab - special.digamma(beta) + np.where(big, 0.0, y_dpsi / y)
    d_c = x_dpsi * log_t
    grad = np.where(pos, np.stack([d_alpha, d_beta, d_c]), 0.0)
    return f, grad


def log_likelihood_gradient(
    params: BdWParams, periods_observed: ArrayLike, churned: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    r"""Per-customer log-likelihood and its analytic gradient w.r.t. ``(alpha, beta, c)``.

    With :math:`f_i = \log S(t_i)` and :math:`w = e^{f_1 - f_0}`, a lost
    customer's gradient is :math:`(\nabla f_0 - w \nabla f_1) / (1 - w)`.

    Returns
    -------
    ll : ndarray, shape (n,)
    grad : ndarray, shape (3, n)
    """
    alpha, beta, c = (float(v) for v in params)
    t = np.asarray(periods_observed, dtype=np.float64)
    lost = np.asarray(churned, dtype=np.float64) > 0
    f1, g1 = _log_survival_grad(alpha, beta, c, t)
    f0, g0 = _log_survival_grad(alpha, beta, c, t - 1.0)
    delta = np.minimum(f1 - f0, 0.0)
    one_minus_w = -np.expm1(delta)
    w = np.exp(delta)
    with np.errstate(divide="ignore", invalid="ignore"):  # S(t-1) == S(t): ll is -inf there
        g_lost = (g0 - w * g1) / one_minus_w
        ll_lost = f0 + np.log(one_minus_w)
    ll = np.where(lost, ll_lost, f1)
    return ll, np.where(lost, g_lost, g1)


def simulate(
    params: BdWParams, periods: ArrayLike, *, rng: np.random.Generator
) -> dict[str, FloatArray]:
    """Simulate BdW customers, each observed for ``periods`` renewal periods.

    Parameters
    ----------
    params : BdWParams
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
    >>> sim = simulate(BdWParams(1.0, 2.0, 1.5), np.full(5, 4), rng=np.random.default_rng(1))
    >>> bool(np.all(sim["periods_observed"] <= 4))
    True
    """
    alpha, beta, c = (float(v) for v in params)
    horizon = np.asarray(periods, dtype=np.float64)
    theta = rng.beta(alpha, beta, size=horizon.shape)
    return simulate_lifetimes(theta, c, horizon, rng)


SPEC = RetentionSpec(
    name="BdW",
    params=BdWParams,
    start=BdWParams(alpha=1.0, beta=1.0, c=1.0),
    columns=("periods_observed", "churned"),
    log_likelihood=log_likelihood,
    gradient=log_likelihood_gradient,
    simulate=simulate,
    log_survival=log_survival,
    tail_exponent=lambda p: float(p[0]) * float(p[2]),
)


class BetaDiscreteWeibullModel(RetentionModel):
    """Beta-discrete-Weibull (BdW) model of contractual retention, fitted by maximum likelihood.

    The sBG model ([FH2007]_) with duration dependence: a customer's churn
    probability changes with tenure as a discrete Weibull with shape ``c``
    (rising for ``c > 1``, falling for ``c < 1``; ``c = 1`` is sBG), and
    :math:`\\theta \\sim \\mathrm{Beta}(\\alpha, \\beta)` across customers
    ([FHLDS2018]_).  Same data and predictions as
    :class:`~clv.models.sbg.ShiftedBetaGeoModel`.  Without ``initial_params`` the fit
    runs from two starts, :math:`(1, 1, 1)` and the sBG estimates with ``c = 1``,
    and keeps the higher likelihood.

    Parameters
    ----------
    shared : bool, default True
        One :math:`(\\alpha, \\beta, c)` for all cohorts, or one per cohort.
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
    The "high end" customers of [FH2007]_, calibration years 0-4 as in [FHLDS2018]_:

    >>> import pandas as pd
    >>> table = pd.DataFrame({"period": range(5), "n_alive": [1000, 869, 743, 653, 593]})
    >>> model = BetaDiscreteWeibullModel().fit(table)
    >>> model.params_.round(3).to_dict()
    {'alpha': 0.259, 'beta': 1.723, 'c': 1.584}
    """

    spec = SPEC

    def _starting_points(self, counts: pd.DataFrame) -> list[Mapping[str, float] | None]:
        """The default start, and the sBG estimates with ``c = 1`` (the nested model)."""
        arrays = {
            "periods_observed": counts["periods_observed"].to_numpy(dtype=np.float64),
            "churned": counts["churned"].to_numpy(dtype=np.float64),
        }
        try:
            with warnings.catch_warnings():
                # only a starting point: a singular sBG Hessian does not matter here
                warnings.simplefilter("ignore", ConvergenceWarning)
                res = maximise(
                    sbg.SPEC, arrays, counts["weight"].to_numpy(dtype=np.float64), max_iterations=50
                )
        except ConvergenceError:
            return [None]
        alpha, beta = (float(v) for v in res.params)
        # With churn rising over tenure the sBG fit runs towards a homogeneous population
        # (alpha, beta -> inf): keep its mean churn probability, with a spread the BdW can
        # move away from.
        scale = min(1.0, _MAX_START_PRECISION / (alpha + beta))
        return [None, {"alpha": alpha * scale, "beta": beta * scale, "c": 1.0}]
