"""Predictions conditional on a customer's history, beyond the expected purchases.

Pure functions (no pandas, no state) for the repeat-purchase models:

- the probability of exactly ``n`` purchases in the next ``t`` periods given
  ``(frequency, recency, T)`` (:func:`bgnbd_probability_of_purchases`,
  :func:`mbgnbd_probability_of_purchases`, :func:`pareto_nbd_probability_of_purchases`,
  :func:`bgbb_probability_of_purchases`);
- the probability of being alive at a future time ``T + t``
  (:func:`bgnbd_probability_alive_at` ...);
- BG/BB expected discounted residual transactions and the posterior means of
  its transaction and dropout probabilities.

All rest on one observation: given that a customer is alive at ``T``, the
posterior of their latent rates has the form of the prior with updated
parameters (BG/NBD: :math:`\\lambda \\sim \\mathrm{Gamma}(r+x, \\alpha+T)`,
:math:`p \\sim \\mathrm{Beta}(a, b+x)`; [FHL2005]_), and the process from ``T``
on is a new customer's process with those parameters. So

.. math::
   P(X(T, T+t) = n \\mid x, t_x, T) = P(\\text{alive}) \\, P_{\\text{new}}(n, t \\mid \\theta')
   + \\bigl(1 - P(\\text{alive})\\bigr)\\,\\delta_{n=0},

the mixture form of [FH028]_'s conditional PMF of the Pareto/NBD, written
once for all four models (the argument carries over unchanged).

References
----------
.. [FHL2005] Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005). "Counting your
   customers" the easy way: An alternative to the Pareto/NBD model. Marketing
   Science, 24(2), 275-284.
.. [FH028] Fader, P. S., & Hardie, B. G. S. Deriving the conditional PMF of
   the Pareto/NBD model. http://brucehardie.com/notes/028/
.. [FHS2010] Fader, P. S., Hardie, B. G. S., & Shang, J. (2010). Customer-base
   analysis in a discrete-time noncontractual setting. Marketing Science,
   29(6), 1086-1108.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from clv._special import beta_quadrature
from clv._typing import FloatArray
from clv.models import bgnbd, mbgnbd, pareto_nbd
from clv.models._conditional_bgbb import (
    bgbb_expected_discounted_residual_transactions,
    bgbb_posterior_means,
    bgbb_probability_alive_at,
    bgbb_probability_of_purchases,
)
from clv.models._output import float_arrays as _floats
from clv.models._output import float_output as _out

__all__ = [
    "bgbb_expected_discounted_residual_transactions",
    "bgbb_posterior_means",
    "bgbb_probability_alive_at",
    "bgbb_probability_of_purchases",
    "bgnbd_probability_alive_at",
    "bgnbd_probability_of_purchases",
    "mbgnbd_probability_alive_at",
    "mbgnbd_probability_of_purchases",
    "pareto_nbd_probability_alive_at",
    "pareto_nbd_probability_of_purchases",
]


def _mixture(p_alive: FloatArray, pmf_alive: FloatArray, n: FloatArray) -> Any:
    return _out(p_alive * pmf_alive + (1.0 - p_alive) * (n == 0))


# --------------------------------------------------------------------------- BG/NBD family


def bgnbd_probability_of_purchases(
    params: bgnbd.BGNBDParams, n: ArrayLike, t: ArrayLike,
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike,
) -> Any:  # fmt: skip
    r"""BG/NBD: probability of exactly ``n`` purchases in ``(T, T + t]`` given the history.

    .. math::
       P(X(T,T+t)=n \mid x, t_x, T) = P(\text{alive})\,
       P_{\text{new}}\bigl(n, t \mid r+x, \alpha+T, a, b+x\bigr)
       + \bigl(1-P(\text{alive})\bigr)\delta_{n=0}

    with :math:`P_{\text{new}}` of [FHL2005]_ eq. (8)
    (:func:`clv.models.bgnbd.probability_of_purchases`).

    Parameters
    ----------
    params : BGNBDParams
        Scalars or per-customer arrays.
    n : array_like
        Number(s) of purchases (whole numbers >= 0).
    t : array_like
        Horizon(s) in periods.
    frequency, recency, T : array_like
        The customer's history :math:`x, t_x, T`.

    Returns
    -------
    numpy.ndarray
        Probabilities, broadcast shape of the inputs.

    Examples
    --------
    >>> p = bgnbd.BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> pmf = bgnbd_probability_of_purchases(p, np.arange(300), 39, 2, 30.43, 38.86)
    >>> round(float(pmf.sum()), 8), round(float(np.arange(300) @ pmf), 3)
    (1.0, 1.226)
    """
    r, alpha, a, b = _floats(*params)
    n, t, x, t_x, T = _floats(n, t, frequency, recency, T)
    p_alive = bgnbd.probability_alive(params, x, t_x, T)
    post = bgnbd.BGNBDParams(r + x, alpha + T, a, b + x)
    return _mixture(p_alive, bgnbd.probability_of_purchases(post, n, t), n)


def mbgnbd_probability_of_purchases(
    params: mbgnbd.MBGNBDParams, n: ArrayLike, t: ArrayLike,
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike,
) -> Any:  # fmt: skip
    r"""MBG/NBD: probability of exactly ``n`` purchases in ``(T, T + t]`` given the history.

    A customer alive at ``T`` has survived ``x + 1`` dropout opportunities (the
    first purchase and each repeat), so :math:`p \sim \mathrm{Beta}(a, b+x+1)`;
    from ``T`` on they drop out only after purchases, as in the BG/NBD:

    .. math::
       P(X(T,T+t)=n \mid x, t_x, T) = P(\text{alive})\,
       P^{\text{BG/NBD}}_{\text{new}}\bigl(n, t \mid r+x, \alpha+T, a, b+x+1\bigr)
       + \bigl(1-P(\text{alive})\bigr)\delta_{n=0}

    Examples
    --------
    >>> p = mbgnbd.MBGNBDParams(r=0.525, alpha=6.183, a=0.891, b=1.614)
    >>> pmf = mbgnbd_probability_of_purchases(p, np.arange(300), 39, 2, 30.43, 38.86)
    >>> e = float(mbgnbd.expected_purchases(p, 39, 2, 30.43, 38.86))
    >>> round(float(pmf.sum()), 8), bool(abs(np.arange(300) @ pmf - e) < 1e-8)
    (1.0, True)
    """
    r, alpha, a, b = _floats(*params)
    n, t, x, t_x, T = _floats(n, t, frequency, recency, T)
    p_alive = mbgnbd.probability_alive(params, x, t_x, T)
    post = bgnbd.BGNBDParams(r + x, alpha + T, a, b + x + 1.0)
    return _mixture(p_alive, bgnbd.probability_of_purchases(post, n, t), n)


def pareto_nbd_probability_of_purchases(
    params: pareto_nbd.PNBDParams, n: ArrayLike, t: ArrayLike,
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike,
) -> Any:  # fmt: skip
    r"""Pareto/NBD: probability of exactly ``n`` purchases in ``(T, T + t]`` given the history.

    .. math::
       P(X(T,T+t)=n \mid x, t_x, T) = P(\text{alive})\,
       P_{\text{new}}\bigl(n, t \mid r+x, \alpha+T, s, \beta+T\bigr)
       + \bigl(1-P(\text{alive})\bigr)\delta_{n=0}

    ([FH028]_ in the mixture form;
    :func:`clv.models.pareto_nbd.probability_of_purchases` is computed by
    quadrature in log space, so large ``x`` and ``n`` stay finite.)

    Examples
    --------
    >>> p = pareto_nbd.PNBDParams(r=0.553, alpha=10.578, s=0.606, beta=11.669)
    >>> pmf = pareto_nbd_probability_of_purchases(p, np.arange(300), 39, 2, 30.43, 38.86)
    >>> e = float(pareto_nbd.expected_purchases(p, 39, 2, 30.43, 38.86))
    >>> round(float(pmf.sum()), 8), bool(abs(np.arange(300) @ pmf - e) < 1e-6)
    (1.0, True)
    """
    r, alpha, s, beta = _floats(*params)
    n, t, x, t_x, T = _floats(n, t, frequency, recency, T)
    p_alive = pareto_nbd.probability_alive(params, x, t_x, T)
    if all(v.ndim == 0 for v in (r, alpha, s, beta)) and max(n.size, x.size, T.size) > 64:
        # the quadrature depends on (n, t, x, T) only: evaluate it once per distinct row
        n_b, t_b, x_b, T_b = np.broadcast_arrays(n, t, x, T)
        rows, inverse = np.unique(
            np.column_stack([v.ravel() for v in (n_b, t_b, x_b, T_b)]), axis=0, return_inverse=True
        )
        post = pareto_nbd.PNBDParams(r + rows[:, 2], alpha + rows[:, 3], s, beta + rows[:, 3])
        values = np.asarray(pareto_nbd.probability_of_purchases(post, rows[:, 0], rows[:, 1]))
        pmf = values[inverse.ravel()].reshape(n_b.shape)
    else:
        post = pareto_nbd.PNBDParams(r + x, alpha + T, s, beta + T)
        pmf = pareto_nbd.probability_of_purchases(post, n, t)
    return _mixture(p_alive, pmf, n)


def _beta_expectation_of_power(
    a: FloatArray, b_post: FloatArray, A: FloatArray, z: FloatArray, n_nodes: int = 64
) -> FloatArray:
    """``E[(1 + p z)^(-A)]`` for ``p ~ Beta(a, b_post)`` by Gauss-Jacobi quadrature.

    The integrand lies in (0, 1], so the rule (one per distinct ``(a, b_post)``)
    never overflows; it is :math:`{}_2F_1(A, a; a+b; -z)`.
    """
    a, b_post, A, z = np.broadcast_arrays(a, b_post, A, z)
    out = np.empty(a.shape, dtype=np.float64)
    pairs = np.unique(np.column_stack([a.ravel(), b_post.ravel()]), axis=0)
    for av, bv in pairs:
        sel = (a == av) & (b_post == bv)
        p, w = beta_quadrature(float(av), float(bv), n_nodes)
        g = np.exp(-A[sel][:, None] * np.log1p(z[sel][:, None] * p[None, :]))
        out[sel] = g @ w
    return out


def bgnbd_probability_alive_at(
    params: bgnbd.BGNBDParams, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike,
    T: ArrayLike,
) -> Any:  # fmt: skip
    r"""BG/NBD: probability that the customer is still alive at ``T + t``.

    Alive at ``T`` with rates :math:`(\lambda, p)`, a customer survives the
    next ``t`` periods with probability :math:`E[(1-p)^{N}] = e^{-\lambda p t}`
    (:math:`N` Poisson purchases, each followed by a dropout chance), so

    .. math::
       P(\text{alive at } T+t) = P(\text{alive at } T)\;
       E_{p \sim B(a, b+x)}\Bigl[\bigl(1 + \tfrac{p\,t}{\alpha+T}\bigr)^{-(r+x)}\Bigr]

    Examples
    --------
    >>> p = bgnbd.BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> round(float(bgnbd_probability_alive_at(p, 0, 2, 30.43, 38.86)), 4)
    0.7266
    >>> round(float(bgnbd_probability_alive_at(p, 52, 2, 30.43, 38.86)), 4)
    0.5316
    """
    r, alpha, a, b = _floats(*params)
    t, x, t_x, T = _floats(t, frequency, recency, T)
    p_alive = bgnbd.probability_alive(params, x, t_x, T)
    keep = _beta_expectation_of_power(a, b + x, r + x, t / (alpha + T))
    return _out(p_alive * keep)


def mbgnbd_probability_alive_at(
    params: mbgnbd.MBGNBDParams, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike,
    T: ArrayLike,
) -> Any:  # fmt: skip
    r"""MBG/NBD: probability that the customer is still alive at ``T + t``.

    As :func:`bgnbd_probability_alive_at`, with :math:`p \sim B(a, b+x+1)` for
    a customer alive at ``T``.
    """
    r, alpha, a, b = _floats(*params)
    t, x, t_x, T = _floats(t, frequency, recency, T)
    p_alive = mbgnbd.probability_alive(params, x, t_x, T)
    keep = _beta_expectation_of_power(a, b + x + 1.0, r + x, t / (alpha + T))
    return _out(p_alive * keep)


def pareto_nbd_probability_alive_at(
    params: pareto_nbd.PNBDParams, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike,
    T: ArrayLike,
) -> Any:  # fmt: skip
    r"""Pareto/NBD: probability that the customer is still alive at ``T + t``.

    .. math::
       P(\text{alive at } T+t) = P(\text{alive at } T)
       \Bigl(\frac{\beta+T}{\beta+T+t}\Bigr)^{s}

    (the posterior dropout rate of a customer alive at ``T`` is
    :math:`\mathrm{Gamma}(s, \beta+T)`).

    Examples
    --------
    >>> p = pareto_nbd.PNBDParams(r=0.553, alpha=10.578, s=0.606, beta=11.669)
    >>> round(float(pareto_nbd_probability_alive_at(p, 0, 2, 30.43, 38.86)), 4)
    0.8692
    """
    _, _, s, beta = _floats(*params)
    t, x, t_x, T = _floats(t, frequency, recency, T)
    p_alive = pareto_nbd.probability_alive(params, x, t_x, T)
    return _out(p_alive * np.exp(s * (np.log(beta + T) - np.log(beta + T + t))))
