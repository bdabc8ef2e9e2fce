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
from scipy import special

from clv._ops import NUMPY
from clv._typing import FloatArray, Ops
from clv.models._pareto_nbd_dyncov_math import (
    _GL_NODES,
    _GL_WEIGHTS,
    FutureArrays,
    _check_horizon,
    _eta,
    _future_pieces,
)

__all__ = [
    "BGDynCovArrays",
    "expected_discounted_purchases",
    "expected_purchases",
    "log_likelihood",
    "probability_alive",
    "state_at_T",
]


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

    def subset(self, rows: Any) -> BGDynCovArrays:
        """The same arrays for a subset of customers (index or boolean mask)."""
        return BGDynCovArrays(**{k: getattr(self, k)[rows] for k in self.__dataclass_fields__})


def _cumulative(gamma_p: Any, gamma_d: Any, data: BGDynCovArrays, ops: Ops) -> tuple[Any, Any, Any]:
    """``(B(t_x), B(T), S_x)``: cumulative purchase multipliers and summed dropout multipliers."""
    B_tx = ops.sum(data.hist_length * ops.exp(_eta(data.hist_purchase, gamma_p)), axis=1)
    B_T = B_tx + ops.sum(data.post_length * ops.exp(_eta(data.post_purchase, gamma_p)), axis=1)
    S_x = ops.sum(data.repeat_count * ops.exp(_eta(data.repeat_dropout, gamma_d)), axis=1)
    return B_tx, B_T, S_x


def likelihood_terms(
    params: Any, gamma_p: Any, gamma_d: Any, data: BGDynCovArrays, *, ops: Ops = NUMPY
) -> tuple[Any, Any, Any]:
    """``(c0, alive, dead)`` with ``log L = c0 + logaddexp(alive, dead)``."""
    r, alpha, a, b = params
    x = data.frequency
    p = r + x
    B_tx, B_T, S_x = _cumulative(gamma_p, gamma_d, data, ops)
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


# ---------------------------------------------------------------------------- predictions
#
# Given alive at T, lambda_0 ~ Gamma(r + x, alpha + B(T)) and p ~ Beta(a, b + S_x),
# independent.  After T the purchases form a Poisson process of intensity
# lambda_0 a(u) and each one ends the lifetime with probability pi(u) = 1 - (1-p)^{c(u)}:
# the killing purchases are a thinned Poisson process, so given (lambda_0, p) the
# customer is alive just before u with probability exp(-lambda_0 W(u)),
# W(u) = int_T^u a(v) pi(v) dv (piecewise linear).  lambda_0 integrates in closed form;
# p by generalised Gauss-Laguerre quadrature in z = -(b + S_x) log(1 - p), whose
# density is z^{a-1} e^{-z} g(z) up to a constant with the smooth
# g(z) = ((1 - e^{-z/b'}) / (z/b'))^{a-1}; the nodes depend on ``a`` only.
_N_LAGUERRE = 96


def state_at_T(
    params: Any, gamma_p: Any, gamma_d: Any, data: BGDynCovArrays
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Return ``(log P(alive at T), alpha + B(T), b + S_x)`` per customer.

    Given alive at :math:`T`, :math:`\\lambda_0 \\sim \\mathrm{Gamma}(r+x, \\alpha+B(T))`
    and :math:`p \\sim \\mathrm{Beta}(a, b+S_x)`, independent.
    """
    gp = np.asarray(gamma_p, dtype=np.float64)
    gd = np.asarray(gamma_d, dtype=np.float64)
    _, alive, dead = likelihood_terms(params, gp, gd, data)
    _, B_T, S_x = _cumulative(gp, gd, data, NUMPY)
    return alive - np.logaddexp(alive, dead), float(params[1]) + B_T, float(params[3]) + S_x


def _p_nodes(a: float, b_T: FloatArray) -> tuple[FloatArray, FloatArray]:
    """``(y, w)``: nodes of :math:`y = -\\log(1-p)` per customer, shape (n, q), and
    normalised weights, so that :math:`E[f(p)] \\approx \\sum_j w_j f(1 - e^{-y_j})`."""
    z, w = special.roots_genlaguerre(_N_LAGUERRE, a - 1.0)
    y = z[None, :] / b_T[:, None]
    # log g(z) = (a - 1) log((1 - e^{-y}) / y)
    log_g = (a - 1.0) * (np.log(-np.expm1(-y)) - np.log(y))
    log_w = np.log(w)[None, :] + log_g
    log_w -= special.logsumexp(log_w, axis=1, keepdims=True)
    return y, np.exp(log_w)


def _merge_runs(
    length: FloatArray, A: FloatArray, C: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Merge consecutive future periods with equal multipliers into one piece (exact:
    :math:`W` stays linear on the merged piece); zero-length periods join the run before."""
    n, H = length.shape
    new = np.ones((n, H), dtype=bool)
    new[:, 1:] = ((A[:, 1:] != A[:, :-1]) | (C[:, 1:] != C[:, :-1])) & (length[:, 1:] > 0)
    run = np.cumsum(new, axis=1) - 1
    width = int(run.max(initial=0)) + 1
    rows = np.repeat(np.arange(n), H)
    L = np.zeros((n, width))
    np.add.at(L, (rows, run.ravel()), length.ravel())
    A_run = np.ones((n, width))
    C_run = np.ones((n, width))
    A_run[rows[new.ravel()], run[new]] = A[new]
    C_run[rows[new.ravel()], run[new]] = C[new]
    return L, A_run, C_run


def _future_setup(
    params: Any, gamma_p: Any, gamma_d: Any, data: BGDynCovArrays, future: FutureArrays, t: float
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    _check_horizon(future, t)
    log_alive, alpha_T, b_T = state_at_T(params, gamma_p, gamma_d, data)
    length, A, C = _merge_runs(*_future_pieces(gamma_p, gamma_d, future, t))
    y, w = _p_nodes(float(params[2]), b_T)
    # pi per customer, future period and node: (n, H, q)
    pi = -np.expm1(-C[..., None] * y[:, None, :])
    return log_alive, alpha_T, length, A, pi, w, y


def probability_alive(
    params: Any,
    gamma_p: Any,
    gamma_d: Any,
    data: BGDynCovArrays,
    future: FutureArrays | None = None,
    t: float = 0.0,
) -> FloatArray:
    r"""P(alive at :math:`T + t`) given the history and the future covariate path.

    .. math:: P(\text{alive at }T+t) = P(\text{alive at }T)\,
              E_p\Bigl[\Bigl(\frac{\alpha+B(T)}{\alpha+B(T)+W(T+t)}\Bigr)^{r+x}\Bigr],
              \quad W(u) = \int_T^u a(v)\bigl(1-(1-p)^{c(v)}\bigr)dv,

    :math:`p \sim \mathrm{Beta}(a, b+S_x)`; at :math:`t = 0` the first factor.
    """
    gp = np.asarray(gamma_p, dtype=np.float64)
    gd = np.asarray(gamma_d, dtype=np.float64)
    if t == 0:
        return np.exp(state_at_T(params, gp, gd, data)[0])
    if future is None:
        raise ValueError("a future covariate path is needed for t > 0.")
    r = float(params[0])
    log_alive, alpha_T, length, A, pi, w, _ = _future_setup(params, gp, gd, data, future, t)
    W = np.sum((A * length)[..., None] * pi, axis=1)  # (n, q)
    rp = (r + data.frequency)[:, None]
    log_surv = -rp * np.log1p(W / alpha_T[:, None])
    return np.exp(log_alive + np.log(np.sum(w * np.exp(log_surv), axis=1)))


def expected_purchases(
    params: Any, gamma_p: Any, gamma_d: Any, data: BGDynCovArrays, future: FutureArrays, t: float
) -> FloatArray:
    r"""Expected repeat purchases in :math:`(T, T+t]` given the history and the future path.

    .. math::

       E[Y(t)] = P(\text{alive at }T)\, E_p\Bigl[\int_T^{T+t} a(u)\,\frac{r+x}{\alpha'}
       \Bigl(\frac{\alpha'}{\alpha'+W(u)}\Bigr)^{r+x+1} du\Bigr],
       \qquad \alpha' = \alpha + B(T),

    in closed form on each future period (:math:`W` linear there, from
    :math:`W_{k,0}` to :math:`W_{k,1}`):
    :math:`\pi_k^{-1}[(\alpha'/(\alpha'+W_{k,0}))^{r+x} - (\alpha'/(\alpha'+W_{k,1}))^{r+x}]`;
    :math:`p` by quadrature.  With every coefficient 0 it is the static
    BG/NBD's conditional expectation.
    """
    gp = np.asarray(gamma_p, dtype=np.float64)
    gd = np.asarray(gamma_d, dtype=np.float64)
    r = float(params[0])
    log_alive, alpha_T, length, A, pi, w, _ = _future_setup(params, gp, gd, data, future, t)
    dW = (A * length)[..., None] * pi  # (n, H, q)
    W0 = np.cumsum(dW, axis=1) - dW
    rp = (r + data.frequency)[:, None, None]
    aT = alpha_T[:, None, None]
    log_s0 = -rp * np.log1p(W0 / aT)  # log (alpha'/(alpha'+W0))^{r+x}
    q = np.log1p(dW / (aT + W0))
    piece = np.exp(log_s0) * (-np.expm1(-rp * q)) / pi
    total = np.sum(piece, axis=1)  # (n, q)
    return np.exp(log_alive) * np.sum(w * total, axis=1)


def expected_discounted_purchases(
    params: Any,
    gamma_p: Any,
    gamma_d: Any,
    data: BGDynCovArrays,
    future: FutureArrays,
    t: float,
    discount_rate: float,
) -> FloatArray:
    r"""Discounted expected purchases in :math:`(T, T+t]`: the integrand of
    :func:`expected_purchases` times :math:`(1+d)^{-(u-T)}`, by 24-point
    Gauss-Legendre quadrature on each future period and quadrature in :math:`p`.
    """
    d = float(discount_rate)
    if not (np.isfinite(d) and d >= 0):
        raise ValueError(f"discount_rate must be a number >= 0 per period, got {discount_rate!r}.")
    delta = np.log1p(d)
    gp = np.asarray(gamma_p, dtype=np.float64)
    gd = np.asarray(gamma_d, dtype=np.float64)
    r = float(params[0])
    log_alive, alpha_T, length, A, pi, w, _ = _future_setup(params, gp, gd, data, future, t)
    start = np.cumsum(length, axis=1) - length
    rate = A[..., None] * pi  # dW/du per period and node, (n, H, q)
    dW = length[..., None] * rate
    W0 = np.cumsum(dW, axis=1) - dW
    rp = (r + data.frequency)[:, None, None]
    aT = alpha_T[:, None, None]
    total = np.zeros(w.shape)
    half = 0.5 * length  # (n, H)
    for node, weight in zip(_GL_NODES, _GL_WEIGHTS, strict=True):
        tau = half * (node + 1.0)  # time into each period
        log_f = (
            -(rp + 1.0) * np.log1p((W0 + rate * tau[..., None]) / aT)
            - delta * (start + tau)[..., None]
        )
        total += np.sum((weight * half * A)[..., None] * np.exp(log_f), axis=1)
    front = np.exp(log_alive) * (r + data.frequency) / alpha_T
    return front * np.sum(w * total, axis=1)
