"""BG/BB predictions given a history (re-exported by :mod:`clv.models.conditional`).

References
----------
.. [FHS2010] Fader, P. S., Hardie, B. G. S., & Shang, J. (2010). Customer-base
   analysis in a discrete-time noncontractual setting. Marketing Science,
   29(6), 1086-1108.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from clv._typing import FloatArray
from clv.models import bgbb
from clv.models._output import float_arrays as _floats
from clv.models._output import float_output as _out

__all__ = [
    "bgbb_expected_discounted_residual_transactions",
    "bgbb_posterior_means",
    "bgbb_probability_alive_at",
    "bgbb_probability_of_purchases",
]


@bgbb.per_customer_params
def _bgbb_log_alive_share(
    params: bgbb.BGBBParams, x: FloatArray, t_x: FloatArray, n: FloatArray, m: FloatArray
) -> FloatArray:
    """``log P(alive at opportunity n + m | x, t_x, n)`` ([FHS2010]_)."""
    alpha, beta, gamma, delta = (float(v) for v in params)
    ll = bgbb.log_likelihood(params, x, t_x, n)
    return (
        special.betaln(alpha + x, beta + n - x)
        - special.betaln(alpha, beta)
        + special.betaln(gamma, delta + n + m)
        - special.betaln(gamma, delta)
        - ll
    )


def _whole(values: FloatArray, name: str) -> None:
    if np.any(values < 0) or np.any(values != np.round(values)):
        raise ValueError(f"{name} must be a whole number >= 0 (BG/BB counts opportunities).")


def bgbb_probability_alive_at(
    params: bgbb.BGBBParams, m: ArrayLike, frequency: ArrayLike, recency: ArrayLike,
    T: ArrayLike,
) -> Any:  # fmt: skip
    r"""BG/BB: probability of being alive at opportunity :math:`n + m` given :math:`(x, t_x, n)`.

    .. math::
       P(\text{alive at } n+m) = \frac{B(\alpha+x, \beta+n-x)}{B(\alpha,\beta)}
       \frac{B(\gamma, \delta+n+m)}{B(\gamma,\delta)}
       \Big/ L(\alpha,\beta,\gamma,\delta \mid x,t_x,n)

    ``m = 1`` is :func:`clv.models.bgbb.probability_alive` (the paper's
    "P(alive in 2002)"); ``m = 0`` is alive at the last opportunity observed.

    Examples
    --------
    >>> p = bgbb.BGBBParams(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
    >>> np.round(bgbb_probability_alive_at(p, 1, [0, 2, 6], [0, 4, 6], [6, 6, 6]), 2)
    array([0.11, 0.59, 0.93])
    """
    m, x, t_x, n = np.broadcast_arrays(*_floats(m, frequency, recency, T))
    _whole(m, "m")
    return _out(np.minimum(np.exp(_bgbb_log_alive_share(params, x, t_x, n, m)), 1.0))


@bgbb.per_customer_params
def bgbb_probability_of_purchases(
    params: bgbb.BGBBParams, k: ArrayLike, m: ArrayLike, frequency: ArrayLike,
    recency: ArrayLike, T: ArrayLike,
) -> Any:  # fmt: skip
    r"""BG/BB: probability of exactly ``k`` transactions in the next ``m`` opportunities.

    Given alive at :math:`n`, :math:`p \sim B(\alpha+x, \beta+n-x)` and
    :math:`\theta \sim B(\gamma, \delta+n)`, and the next ``m`` opportunities
    follow [FHS2010]_ eq. (7) with those parameters:

    .. math::
       P(X^* = k) = P(\text{alive at } n) \Bigl[\tbinom{m}{k}
       \tfrac{B(\alpha'+k, \beta'+m-k)}{B(\alpha',\beta')}
       \tfrac{B(\gamma, \delta'+m)}{B(\gamma,\delta')}
       + \sum_{i=k}^{m-1} \tbinom{i}{k} \tfrac{B(\alpha'+k, \beta'+i-k)}{B(\alpha',\beta')}
       \tfrac{B(\gamma+1, \delta'+i)}{B(\gamma,\delta')}\Bigr]
       + \bigl(1 - P(\text{alive at } n)\bigr)\delta_{k=0}

    Examples
    --------
    >>> p = bgbb.BGBBParams(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
    >>> pmf = bgbb_probability_of_purchases(p, np.arange(6), 5, 3, 5, 6)
    >>> e = float(bgbb.expected_purchases(p, 5, 3, 5, 6))
    >>> round(float(pmf.sum()), 10), bool(abs(np.arange(6) @ pmf - e) < 1e-10)
    (1.0, True)
    """
    alpha, beta, gamma, delta = (float(v) for v in params)
    k, m, x, t_x, n = np.broadcast_arrays(*_floats(k, m, frequency, recency, T))
    _whole(k, "k")
    _whole(m, "m")
    log_alive = _bgbb_log_alive_share(params, x, t_x, n, np.zeros_like(n))
    a1, b1, d1 = alpha + x, beta + n - x, delta + n
    ok = k <= m
    ks = np.where(ok, k, 0.0)
    log_binom = special.gammaln(m + 1) - special.gammaln(ks + 1) - special.gammaln(m - ks + 1)
    first = (
        log_binom
        + special.betaln(a1 + ks, b1 + m - ks)
        - special.betaln(a1, b1)
        + special.betaln(gamma, d1 + m)
        - special.betaln(gamma, d1)
    )
    total = np.where(ok, np.exp(first), 0.0)
    for i in range(int(m.max(initial=0.0))):
        use = ok & (i >= ks) & (i < m)
        if not use.any():
            continue
        ki = np.minimum(ks, i)
        term = (
            special.gammaln(i + 1.0)
            - special.gammaln(ks + 1)
            - special.gammaln(i - ki + 1)
            + special.betaln(a1 + ks, b1 + i - ki)
            - special.betaln(a1, b1)
            + special.betaln(gamma + 1.0, d1 + i)
            - special.betaln(gamma, d1)
        )
        total = total + np.where(use, np.exp(term), 0.0)
    p_alive = np.minimum(np.exp(log_alive), 1.0)
    return _out(p_alive * total + (1.0 - p_alive) * (k == 0))


@bgbb.per_customer_params
def bgbb_expected_discounted_residual_transactions(
    params: bgbb.BGBBParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike,
    discount_rate: ArrayLike,
) -> Any:  # fmt: skip
    r"""BG/BB expected discounted residual transactions (DERT), [FHS2010]_ eq. (14).

    .. math::
       \mathrm{DERT}(d \mid x, t_x, n) =
       \frac{B(\alpha+x+1, \beta+n-x)}{B(\alpha,\beta)}
       \frac{B(\gamma, \delta+n+1)}{B(\gamma,\delta)(1+d)}
       \frac{{}_2F_1\bigl(1, \delta+n+1; \gamma+\delta+n+1; \tfrac{1}{1+d}\bigr)}
       {L(\alpha,\beta,\gamma,\delta \mid x, t_x, n)}

    Transactions at opportunity :math:`n + k` are discounted by :math:`(1+d)^{-k}`.

    Parameters
    ----------
    params : BGBBParams
        Scalar model parameters.
    frequency, recency, T : array_like
        :math:`x, t_x, n`.
    discount_rate : array_like
        Discount rate per opportunity, :math:`d > 0` (argument order as
        :func:`clv.models.pareto_nbd.expected_discounted_residual_transactions`).

    Examples
    --------
    >>> p = bgbb.BGBBParams(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
    >>> np.round(bgbb_expected_discounted_residual_transactions(p, [6, 0], [6, 0], [6, 6], 0.1), 3)
    array([5.909, 0.115])
    """
    alpha, beta, gamma, delta = (float(v) for v in params)
    x, t_x, n, d = np.broadcast_arrays(*_floats(frequency, recency, T, discount_rate))
    if np.any(~(d > 0)):
        raise ValueError("discount_rate must be > 0 (per opportunity) for the DERT to be finite.")
    ll = bgbb.log_likelihood(params, x, t_x, n)
    log_head = (
        special.betaln(alpha + x + 1.0, beta + n - x)
        - special.betaln(alpha, beta)
        + special.betaln(gamma, delta + n + 1.0)
        - special.betaln(gamma, delta)
        - np.log1p(d)
        - ll
    )
    h = special.hyp2f1(1.0, delta + n + 1.0, gamma + delta + n + 1.0, 1.0 / (1.0 + d))
    return _out(np.exp(log_head) * h)


@bgbb.per_customer_params
def bgbb_posterior_means(
    params: bgbb.BGBBParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike,
) -> tuple[Any, Any]:  # fmt: skip
    r"""BG/BB posterior means of the transaction probability :math:`p` and dropout :math:`\theta`.

    The posterior is a mixture over the opportunity at which the customer
    died (or "alive at :math:`n`"); within each component :math:`p` and
    :math:`\theta` are Beta, so the means are weighted averages of Beta means
    ([FHS2010]_, appendix):

    - alive at :math:`n`: :math:`p \sim B(\alpha+x, \beta+n-x)`,
      :math:`\theta \sim B(\gamma, \delta+n)`;
    - died at opportunity :math:`t_x+i+1` (:math:`i = 0..n-t_x-1`):
      :math:`p \sim B(\alpha+x, \beta+t_x-x+i)`, :math:`\theta \sim B(\gamma+1, \delta+t_x+i)`.

    Returns
    -------
    (E[p], E[theta]) : tuple of numpy.ndarray

    Examples
    --------
    >>> p = bgbb.BGBBParams(alpha=1.204, beta=0.750, gamma=0.657, delta=2.783)
    >>> ep, et = bgbb_posterior_means(p, [6, 0], [6, 0], [6, 6])
    >>> np.round(ep, 3), np.round(et, 3)
    (array([0.906, 0.488]), array([0.07, 0.31]))
    """
    alpha, beta, gamma, delta = (float(v) for v in params)
    x, t_x, n = np.broadcast_arrays(*_floats(frequency, recency, T))
    ll = bgbb.log_likelihood(params, x, t_x, n)
    base = special.betaln(alpha, beta) + special.betaln(gamma, delta)
    # alive component
    w = np.exp(
        special.betaln(alpha + x, beta + n - x) + special.betaln(gamma, delta + n) - base - ll
    )
    e_p = w * (alpha + x) / (alpha + beta + n)
    e_t = w * gamma / (gamma + delta + n)
    for i in range(int(np.max(n - t_x, initial=0.0))):
        use = i < n - t_x
        j = t_x + i
        wi = np.where(
            use,
            np.exp(
                special.betaln(alpha + x, beta + j - x)
                + special.betaln(gamma + 1.0, delta + j)
                - base
                - ll
            ),
            0.0,
        )
        e_p = e_p + wi * (alpha + x) / (alpha + beta + j)
        e_t = e_t + wi * (gamma + 1.0) / (gamma + delta + j + 1.0)
    return _out(e_p), _out(e_t)
