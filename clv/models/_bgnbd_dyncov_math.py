r"""BG/NBD with time-varying covariates: the pure mathematics.

While alive, customer :math:`i` buys at rate
:math:`\lambda_i(t) = \lambda_{0i} e^{\gamma_p^\top x_p(t)}` (piecewise
constant per period, :math:`\lambda_0 \sim \mathrm{Gamma}(r, \alpha)`).
Right after repeat purchase :math:`j` (at :math:`t_j`) the customer drops out
with probability :math:`\pi_j = 1 - (1-p)^{c_j}`,
:math:`c_j = e^{\gamma_d^\top x_d(t_j)}`, :math:`p \sim \mathrm{Beta}(a, b)`:
the covariate in force at a purchase scales that purchase's dropout
opportunity (a proportional hazard on the geometric dropout).  With
:math:`c_j = 1` this is the BG/NBD of Fader, Hardie & Lee (2005); a positive
dropout coefficient raises the dropout probability.

With :math:`S_k = \sum_{j \le k} c_j` and
:math:`E[(1-p)^{S}] = B(a, b+S)/B(a, b)`:

.. math::

   L = \frac{\Gamma(r+x)\alpha^r}{\Gamma(r)}e^{\sum_j\gamma_p^\top x_p(t_j)}
   \Bigl[\frac{B(a, b+S_x)}{B(a,b)\,(\alpha+B(T))^{r+x}}
   + \delta_{x>0}\frac{B(a, b+S_{x-1}) - B(a, b+S_x)}{B(a,b)\,(\alpha+B(t_x))^{r+x}}\Bigr]

with :math:`B(t)` the cumulative purchase multiplier of
:mod:`clv.models._pareto_nbd_dyncov_math`.  With all coefficients 0,
:math:`S_x = x` and :math:`B(t) = t`: the static BG/NBD likelihood.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from clv._ops import NUMPY
from clv._typing import FloatArray, Ops
from clv.models._pareto_nbd_dyncov_math import _eta

__all__ = ["BGDynCovArrays", "log_likelihood", "probability_alive"]


@dataclass(frozen=True)
class BGDynCovArrays:
    """Per-customer arrays of the time-varying BG/NBD (``n`` customers).

    Attributes
    ----------
    frequency : ndarray, shape (n,)
    hist_length, hist_purchase : ndarray, shapes (n, K), (n, K, k_p)
        Exposure and purchase covariates of the periods in :math:`(0, t_x]`.
    post_length, post_purchase : ndarray, shapes (n, J), (n, J, k_p)
        The same for :math:`(t_x, T]`.
    purchase_sum : ndarray, shape (n, k_p)
        Sum of the purchase covariates at the repeat purchases.
    repeat_count, repeat_dropout : ndarray, shapes (n, M), (n, M, k_d)
        Distinct dropout covariate rows at the repeat purchases and their counts.
    last_dropout : ndarray, shape (n, k_d)
        Dropout covariates at the last purchase.
    """

    frequency: FloatArray
    hist_length: FloatArray
    hist_purchase: FloatArray
    post_length: FloatArray
    post_purchase: FloatArray
    purchase_sum: FloatArray
    repeat_count: FloatArray
    repeat_dropout: FloatArray
    last_dropout: FloatArray


def likelihood_terms(
    params: Any, gamma_p: Any, gamma_d: Any, data: BGDynCovArrays, *, ops: Ops = NUMPY
) -> tuple[Any, Any, Any]:
    """``(c0, alive, dead)`` with ``log L = c0 + logaddexp(alive, dead)``."""
    r, alpha, a, b = params
    x = data.frequency
    p = r + x
    B_tx = ops.sum(data.hist_length * ops.exp(_eta(data.hist_purchase, gamma_p)), axis=1)
    B_T = B_tx + ops.sum(data.post_length * ops.exp(_eta(data.post_purchase, gamma_p)), axis=1)
    S_x = ops.sum(data.repeat_count * ops.exp(_eta(data.repeat_dropout, gamma_d)), axis=1)
    S_prev = ops.maximum(
        S_x - ops.where(x > 0, ops.exp(_eta(data.last_dropout, gamma_d)), 0.0), 0.0
    )
    c0 = (
        ops.gammaln(p)
        - ops.gammaln(r)
        + r * ops.log(alpha)
        - ops.betaln(a, b)
        + _eta(data.purchase_sum, gamma_p)
    )
    alive = ops.betaln(a, b + S_x) - p * ops.log(alpha + B_T)
    # x = 0: S_prev = S_x and logsubexp gives -inf (no dropout opportunity yet)
    dead = ops.logsubexp(ops.betaln(a, b + S_prev), ops.betaln(a, b + S_x)) - p * ops.log(
        alpha + B_tx
    )
    return c0, alive, dead


def log_likelihood(
    params: Any, gamma_p: Any, gamma_d: Any, data: BGDynCovArrays, *, ops: Ops = NUMPY
) -> Any:
    """Per-customer log-likelihood (module docstring), shape ``(n,)``."""
    c0, alive, dead = likelihood_terms(params, gamma_p, gamma_d, data, ops=ops)
    return c0 + ops.logaddexp(alive, dead)


def probability_alive(params: Any, gamma_p: Any, gamma_d: Any, data: BGDynCovArrays) -> FloatArray:
    """P(alive at :math:`T`) given the history: ``exp(alive - logaddexp(alive, dead))``."""
    _, alive, dead = likelihood_terms(
        params, np.asarray(gamma_p, dtype=np.float64), np.asarray(gamma_d, dtype=np.float64), data
    )
    return np.exp(alive - np.logaddexp(alive, dead))


def log_likelihood_gradient(
    params: Any, gamma_p: Any, gamma_d: Any, data: BGDynCovArrays
) -> tuple[FloatArray, FloatArray]:
    """Log-likelihood and its gradient by central differences (the likelihood is cheap).

    Derivatives w.r.t. the natural base parameters ``(r, alpha, a, b)`` and the
    coefficients, shape ``(4 + k_p + k_d, n)``.
    """
    theta = np.concatenate(
        [
            np.asarray(params, dtype=np.float64),
            np.asarray(gamma_p, dtype=np.float64),
            np.asarray(gamma_d, dtype=np.float64),
        ]
    )
    kp = np.asarray(gamma_p).size

    def f(t: FloatArray) -> FloatArray:
        return log_likelihood(t[:4], t[4 : 4 + kp], t[4 + kp :], data)

    ll = f(theta)
    grad = np.empty((theta.size, ll.size))
    for j in range(theta.size):
        h = 1e-6 * max(1.0, abs(theta[j]))
        e = np.zeros_like(theta)
        e[j] = h
        grad[j] = (f(theta + e) - f(theta - e)) / (2 * h)
    return ll, grad
