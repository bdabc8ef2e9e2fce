"""Retention elasticity of the shifted-beta-geometric (sBG) model.

How much more is a subscriber worth if retention improves? Fader & Hardie
(2010) answer with the *retention elasticity*: the percentage change in the
discounted expected residual lifetime (DERL) for a 1 % increase in retention.
Here each customer's per-period retention probability :math:`1-\\theta` is
multiplied by :math:`c` and the elasticity is
:math:`\\partial \\log \\mathrm{DERL} / \\partial \\log c` at :math:`c = 1`.

With :math:`\\theta \\sim B(\\alpha, \\beta+n)` after :math:`n` renewals,
:math:`z = 1/(1+d)`, :math:`b = \\beta+n+1` and :math:`c' = \\alpha+\\beta+n+1`,
:math:`\\mathrm{DERL} = \\frac{\\beta+n}{\\alpha+\\beta+n}\\,{}_2F_1(1, b; c'; z)`
([FH2010]_ eq. 6, :func:`clv.models.sbg.expected_residual_lifetime`), so

.. math::
   \\varepsilon = 1 + z\\,\\frac{\\partial}{\\partial z} \\log {}_2F_1(1, b; c'; z)
   = 1 + z\\,\\frac{b}{c'}\\,
   \\frac{{}_2F_1(2, b+1; c'+1; z)}{{}_2F_1(1, b; c'; z)},

which tends to the homogeneous value :math:`(1+d)/(d+\\theta)` when the
customers share one :math:`\\theta`.

References
----------
.. [FH2010] Fader, P. S., & Hardie, B. G. S. (2010). Customer-base valuation in
   a contractual setting: The perils of ignoring heterogeneity. Marketing
   Science, 29(1), 85-93.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from clv._special import log_hyp2f1_1bc
from clv.models.sbg import SBGParams

__all__ = ["sbg_retention_elasticity"]


def sbg_retention_elasticity(
    params: SBGParams, renewals: ArrayLike, discount_rate: ArrayLike
) -> Any:
    """Retention elasticity of DERL for a customer who has renewed ``renewals`` times.

    Parameters
    ----------
    params : SBGParams
        ``alpha, beta`` of the Beta distribution of the churn probability.
    renewals : array_like
        Renewals so far, :math:`n \\ge 0` (0: a new customer).
    discount_rate : array_like
        Per period, :math:`d \\ge 0`; with :math:`d = 0` the elasticity is
        finite only for :math:`\\alpha > 2` (``inf`` otherwise).

    Returns
    -------
    numpy.ndarray
        Elasticities (> 1: improving retention also lengthens future lifetimes).

    Examples
    --------
    >>> p = SBGParams(alpha=0.704, beta=1.182)  # "Regular" customers of [FH2010]
    >>> round(float(sbg_retention_elasticity(p, 0, 0.1)), 3)
    6.46
    >>> # nearly homogeneous, churn 0.2: close to (1 + d) / (d + theta) = 3.667
    >>> round(float(sbg_retention_elasticity(SBGParams(2e3, 8e3), 0, 0.1)), 2)
    3.67
    """
    alpha, beta = (np.asarray(v, dtype=np.float64) for v in params)
    n = np.asarray(renewals, dtype=np.float64)
    d = np.asarray(discount_rate, dtype=np.float64)
    alpha, beta, n, d = np.broadcast_arrays(alpha, beta, n, d)
    if np.any(d < 0) or np.any(n < 0):
        raise ValueError("renewals and discount_rate must be >= 0.")
    b = beta + n + 1.0
    c = alpha + beta + n + 1.0
    discounted = d > 0
    z = 1.0 / (1.0 + np.where(discounted, d, 1.0))
    # d/dz log 2F1(1, b; c; z) in log space (SciPy's 2F1 fails for large b, c)
    _, _, _, dlog_dz = log_hyp2f1_1bc(b, c, z, order=1)
    # d = 0: 1 + (beta + n + 1) / (alpha - 2), from Gauss's sum at z = 1
    undiscounted = np.where(
        alpha > 2.0, (alpha + beta + n - 1.0) / np.where(alpha > 2.0, alpha - 2.0, 1.0), np.inf
    )
    out = np.where(discounted, 1.0 + z * dlog_dz, undiscounted)
    return out[()] if out.ndim == 0 else out
