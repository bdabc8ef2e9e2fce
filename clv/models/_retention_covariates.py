r"""Covariates in the retention models: discrete proportional hazards (complementary log-log).

A customer with churn probability :math:`\theta_i \sim \mathrm{Beta}(\alpha, \beta)` and
covariates :math:`x_i` churns in period :math:`k` with probability

.. math:: \theta_{ik} = 1 - (1 - \theta_i)^{k_i (k^c - (k-1)^c)}, \quad k_i = e^{\gamma_c^\top x_i},

so a positive churn coefficient raises churn, and integrating :math:`\theta_i` out gives

.. math:: S_i(t) = \frac{B(\alpha, \beta + k_i t^c)}{B(\alpha, \beta)}

(:math:`c = 1` for the sBG model; the beta-discrete-Weibull otherwise).  A customer lost in
period :math:`t` contributes :math:`\log[S_i(t-1) - S_i(t)]`, formed in log space.  With
:math:`k_i = 1` these are the models' own likelihoods.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from clv._ops import NUMPY
from clv._typing import Ops
from clv.models._retention_math import log_beta

__all__ = ["log_likelihood", "log_survival"]


def log_survival(params: Any, multiplier: Any, t: Any, *, ops: Ops = NUMPY) -> Any:
    """:math:`\\log S_i(t) = \\log B(\\alpha, \\beta + k_i t^c) - \\log B(\\alpha, \\beta)`.

    ``params`` is an sBG ``(alpha, beta)`` or a BdW ``(alpha, beta, c)`` tuple;
    ``multiplier`` the per-customer :math:`k_i` (1 without covariates).

    Examples
    --------
    >>> from clv.models.sbg import SBGParams, log_survival as sbg_log_survival
    >>> p = SBGParams(0.704, 1.182)
    >>> bool(abs(log_survival(p, 1.0, 7.0) - sbg_log_survival(p, 7.0)) < 1e-12)
    True
    """
    alpha, beta = params[0], params[1]
    c = params[2] if len(params) > 2 else 1.0
    # t <= 0 is masked below; the power takes 1 there so that its gradient in c stays finite
    x = multiplier * ops.where(t > 0, t, 1.0) ** c
    return ops.where(t > 0, log_beta(alpha, beta + x, ops) - log_beta(alpha, beta, ops), 0.0)


def log_likelihood(
    params: Any, mult: Mapping[str, Any], periods_observed: Any, churned: Any, *, ops: Ops = NUMPY
) -> Any:
    """Per-customer log-likelihood with the churn multiplier ``mult["churn"]``.

    Examples
    --------
    >>> import numpy as np
    >>> from clv.models.sbg import SBGParams, log_likelihood as sbg_ll
    >>> p, t, lost = SBGParams(0.704, 1.182), np.array([1.0, 7.0]), np.array([1.0, 0.0])
    >>> bool(np.allclose(log_likelihood(p, {"churn": 1.0}, t, lost), sbg_ll(p, t, lost)))
    True
    """
    k = mult.get("churn", 1.0)
    t = periods_observed
    f1 = log_survival(params, k, t, ops=ops)
    f0 = log_survival(params, k, t - 1.0, ops=ops)
    return ops.where(churned > 0, ops.logsubexp(f0, f1), f1)
