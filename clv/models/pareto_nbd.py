r"""Pareto/NBD model of repeat purchasing (Schmittlein, Morrison & Colombo 1987).

Pure functions first (no pandas, no state); :class:`ParetoNBDModel` binds
fitted parameters to them.

Assumptions: while alive, a customer buys as a Poisson process with rate
:math:`\lambda \sim \mathrm{Gamma}(r, \alpha)`; their unobserved lifetime is
exponential with rate :math:`\mu \sim \mathrm{Gamma}(s, \beta)`, independent
of :math:`\lambda`.  Dropout can happen at any moment (in BG/NBD only right
after a purchase).

References
----------
.. [SMC1987] Schmittlein, D. C., Morrison, D. G., & Colombo, R. (1987). Counting
   your customers: Who are they and what will they do next? Management
   Science, 33(1), 1-24.
.. [FH2005] Fader, P. S., & Hardie, B. G. S. (2005). A note on deriving the
   Pareto/NBD model and related expressions. http://brucehardie.com/notes/009/
.. [FHL2005] Fader, P. S., Hardie, B. G. S., & Lee, K. L. (2005). RFM and CLV:
   Using iso-value curves for customer base analysis. Journal of Marketing
   Research, 42(4), 415-430.
.. [FH2006] Fader, P. S., & Hardie, B. G. S. (2006). Deriving an expression
   for P(X(t) = x) under the Pareto/NBD model. http://brucehardie.com/notes/012/
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special

from clv._ops import NUMPY
from clv._typing import FloatArray, Ops
from clv.models import _pareto_nbd_math as _math
from clv.models._covariates import Lever
from clv.models._output import float_output as _out
from clv.models._simulation import observe_purchases, population_params
from clv.models._spec import rfm_spec
from clv.models._transaction import CovariateTransactionModel

__all__ = [
    "PNBDParams",
    "ParetoNBDModel",
    "WeightedTotalGradient",
    "expected_discounted_residual_transactions",
    "expected_purchases",
    "expected_purchases_new_customer",
    "individual_log_likelihood",
    "log_likelihood",
    "log_likelihood_gradient",
    "log_likelihood_hessian",
    "log_likelihood_total_gradient",
    "probability_alive",
    "probability_of_purchases",
    "simulate",
]

log_likelihood_gradient = _math.log_likelihood_gradient
log_likelihood_hessian = _math.log_likelihood_hessian
WeightedTotalGradient = _math.WeightedTotalGradient


def log_likelihood_total_gradient(
    params: PNBDParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, weights: ArrayLike
) -> tuple[float, FloatArray]:
    """Weighted total log-likelihood and its gradient w.r.t. ``(r, alpha, s, beta)``.

    The per-customer terms of :func:`log_likelihood_gradient` (one series for
    the hypergeometric function and all its partial derivatives) summed with
    the weights: what a gradient-based sampler needs per step (the Bayesian
    Pareto/NBD runs it inside one fused ``Op``, :mod:`clv.bayes._fused`).

    Returns
    -------
    ll : float
        :math:`\\sum_i w_i \\log L_i`.
    grad : ndarray, shape (4,)

    Examples
    --------
    >>> p = PNBDParams(r=0.553, alpha=10.58, s=0.606, beta=11.67)
    >>> x, t_x, T = np.array([0.0, 2.0]), np.array([0.0, 30.43]), np.array([38.86, 38.86])
    >>> ll, grad = log_likelihood_total_gradient(p, x, t_x, T, np.array([3.0, 1.0]))
    >>> bool(np.isclose(ll, np.sum(log_likelihood(p, x, t_x, T) * [3.0, 1.0])))
    True
    """
    return _math.log_likelihood_total_gradient(params, frequency, recency, T, weights)


class PNBDParams(NamedTuple):
    """Pareto/NBD parameters: purchase rate Gamma(r, alpha), dropout rate Gamma(s, beta)."""

    r: Any
    alpha: Any
    s: Any
    beta: Any


def log_likelihood(
    params: PNBDParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, *, ops: Ops = NUMPY
) -> Any:
    r"""Per-customer log-likelihood, [FH2005]_ eqs. (18)-(22), in log space.

    .. math::

       L = \frac{\Gamma(r+x)\alpha^r\beta^s}{\Gamma(r)}\Bigl\{
           \frac{1}{(\alpha+T)^{r+x}(\beta+T)^s} + \frac{s}{r+s+x}\bigl[G(t_x) - G(T)\bigr]\Bigr\}

    where, for :math:`\alpha \ge \beta`,

    .. math::

       G(t) = \frac{{}_2F_1(1, r+x; r+s+x+1; \frac{\alpha-\beta}{\alpha+t})}
                   {(\alpha+t)^{r+x}(\beta+t)^s},

    and, for :math:`\alpha < \beta`,

    .. math::

       G(t) = \frac{{}_2F_1(1, s+1; r+s+x+1; \frac{\beta-\alpha}{\beta+t})}
                   {(\alpha+t)^{r+x-1}(\beta+t)^{s+1}}:

    the paper's :math:`{}_2F_1(r+s+x, \cdot\,; r+s+x+1; z)` after Euler's
    transformation, which has no overflow for large :math:`x`.  The
    difference :math:`G(t_x) - G(T)` and the outer sum are taken in log space
    (``logsubexp``, ``logaddexp``); ``ops.log_hyp2f1`` is accurate up to
    :math:`z \to 1` (:func:`clv._special.log_hyp2f1_1bc`).

    Parameters
    ----------
    params : PNBDParams
        Scalars or arrays broadcastable against the data.
    frequency, recency, T : array_like
        Repeat purchases :math:`x`, time of the last repeat purchase :math:`t_x`
        and age :math:`T`, in periods.
    ops : namespace
        Array functions (``clv._ops.NUMPY`` or the PyTensor namespace).

    Returns
    -------
    array
        :math:`\log L(r, \alpha, s, \beta \mid x, t_x, T)` per customer.

    Examples
    --------
    >>> p = PNBDParams(r=0.553, alpha=10.578, s=0.606, beta=11.669)
    >>> round(float(log_likelihood(p, 2, 30.43, 38.86)), 4)
    -9.5543
    """
    r, alpha, s, beta = params
    x, t_x = frequency, recency
    p = r + x
    m = p + s
    family_a = alpha >= beta
    b_hyp = ops.where(family_a, p, s + 1.0)
    gap = ops.maximum(alpha - beta, beta - alpha)
    big = ops.maximum(alpha, beta)

    def log_g(t: Any) -> Any:  # log(m * ∫_t^∞ (α+τ)^-p (β+τ)^-(s+1) dτ) = log G(t)
        la = ops.log(alpha + t)
        lb = ops.log(beta + t)
        h = ops.log_hyp2f1(1.0, b_hyp, m + 1.0, gap / (big + t))
        return -p * la - s * lb + ops.where(family_a, 0.0, la - lb) + h

    alive = -p * ops.log(alpha + T) - s * ops.log(beta + T)
    dead = ops.log(s) - ops.log(m) + ops.logsubexp(log_g(t_x), log_g(T))
    return (
        ops.gammaln(p)
        - ops.gammaln(r)
        + r * ops.log(alpha)
        + s * ops.log(beta)
        + ops.logaddexp(alive, dead)
    )


def individual_log_likelihood(
    lam: Any, mu: Any, frequency: Any, recency: Any, T: Any, *, ops: Ops = NUMPY
) -> Any:
    r"""Log-likelihood of one customer's ``(x, t_x, T)`` given their own rates ``lam``, ``mu``.

    The Pareto/NBD before mixing over customers (Schmittlein et al. 1987;
    the building block of hierarchical-Bayes variants such as Abe 2009):

    .. math::

       L = \lambda^x e^{-(\lambda+\mu)T}
           + \frac{\lambda^x \mu}{\lambda+\mu}
             \bigl(e^{-(\lambda+\mu)t_x} - e^{-(\lambda+\mu)T}\bigr),

    evaluated as :math:`x\log\lambda - (\lambda+\mu)t_x - \log(\lambda+\mu)
    + \operatorname{logaddexp}(\log\lambda - (\lambda+\mu)(T-t_x), \log\mu)`,
    which never overflows. ``ops`` selects NumPy or PyTensor.

    Examples
    --------
    >>> lam, mu, x, t_x, T = 0.3, 0.02, 2, 30.43, 38.86
    >>> k = lam + mu
    >>> direct = lam**x * (np.exp(-k * T) + mu / k * (np.exp(-k * t_x) - np.exp(-k * T)))
    >>> bool(np.isclose(individual_log_likelihood(lam, mu, x, t_x, T), np.log(direct), rtol=1e-13))
    True
    """
    total = lam + mu
    log_total = ops.log(total)
    return (
        frequency * ops.log(lam)
        - total * recency
        - log_total
        + ops.logaddexp(ops.log(lam) - total * (T - recency), ops.log(mu))
    )


def probability_alive(
    params: PNBDParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    r"""Probability that a customer is still alive at ``T``, [FH2005]_ eq. (36)-(37).

    .. math:: P(\text{alive}) = \frac{\Gamma(r+x)\alpha^r\beta^s}
              {\Gamma(r)(\alpha+T)^{r+x}(\beta+T)^s\, L(r,\alpha,s,\beta \mid x, t_x, T)}

    evaluated as ``exp(alive - logaddexp(alive, dead))`` from the two terms of
    the likelihood, so it never overflows.

    Examples
    --------
    >>> p = PNBDParams(r=0.553, alpha=10.578, s=0.606, beta=11.669)
    >>> round(float(probability_alive(p, 2, 30.43, 38.86)), 4)
    0.8692
    """
    x, t_x, T = _math._floats(frequency, recency, T)
    _, alive, dead = _math.pieces(params, x, t_x, T)
    return _out(np.exp(alive - np.logaddexp(alive, dead)))


def _log_ratio_integral(s: Any, base: Any, t: FloatArray) -> FloatArray:
    r"""Log of :math:`\int_0^t (b/(b+\tau))^{s} d\tau = b\ell(1-e^{-(s-1)\ell})/((s-1)\ell)`."""
    ell = np.log1p(t / base)
    y = (s - 1.0) * ell
    small = np.abs(y) < 1e-8
    safe = np.where(small, 1.0, y)
    ratio = np.where(small, 1.0 - 0.5 * y, -np.expm1(-safe) / safe)  # (1 - e^-y) / y, = 1 at y = 0
    with np.errstate(divide="ignore"):  # t = 0 gives log(0) = -inf: zero expected purchases
        return np.log(base) + np.log(ell) + np.log(ratio)


def expected_purchases(
    params: PNBDParams, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    r"""Expected repeat purchases in the next ``t`` periods given the history, [FH2005]_ eq. (41).

    .. math::

       E[Y(t) \mid x, t_x, T] = P(\text{alive}) \, \frac{(r+x)(\beta+T)}{(\alpha+T)(s-1)}
       \Bigl[1 - \Bigl(\frac{\beta+T}{\beta+T+t}\Bigr)^{s-1}\Bigr]

    with the :math:`s = 1` limit :math:`(\beta+T)\log(1 + t/(\beta+T))` handled
    continuously.

    Examples
    --------
    >>> p = PNBDParams(r=0.553, alpha=10.578, s=0.606, beta=11.669)
    >>> round(float(expected_purchases(p, 39, 2, 30.43, 38.86)), 4)
    1.4551
    """
    r, alpha, s, beta = _math._floats(*params)
    t, x, t_x, T = _math._floats(t, frequency, recency, T)
    _, alive, dead = _math.pieces(params, x, t_x, T)
    log_alive = alive - np.logaddexp(alive, dead)
    log_rate = np.log(r + x) - np.log(alpha + T)
    return _out(np.exp(log_alive + log_rate + _log_ratio_integral(s, beta + T, t)))


def expected_purchases_new_customer(params: PNBDParams, t: ArrayLike) -> FloatArray:
    r"""Expected repeat purchases of a new customer in ``(0, t]``, [FH2005]_ eq. (27).

    .. math::

       E[X(t)] = \frac{r\beta}{\alpha(s-1)}\Bigl[1 - \Bigl(\frac{\beta}{\beta+t}\Bigr)^{s-1}\Bigr]

    Examples
    --------
    >>> p = PNBDParams(r=0.553, alpha=10.578, s=0.606, beta=11.669)
    >>> round(float(expected_purchases_new_customer(p, 39)), 4)
    1.213
    """
    r, alpha, s, beta = _math._floats(*params)
    (t,) = _math._floats(t)
    return _out(np.exp(np.log(r) - np.log(alpha) + _log_ratio_integral(s, beta, t)))


def probability_of_purchases(params: PNBDParams, n: ArrayLike, t: ArrayLike) -> FloatArray:
    r"""Probability that a new customer makes exactly ``n`` purchases in ``(0, t]``, [FH2006]_.

    Conditioning on whether the customer is still alive at :math:`t` or died
    at :math:`\tau \le t` (Lomax density :math:`s\beta^s/(\beta+\tau)^{s+1}`):

    .. math::

       P(X(t)=n) = \frac{\Gamma(r+n)}{\Gamma(r)\,n!}\Bigl(\frac{\alpha}{\alpha+t}\Bigr)^r
       \Bigl(\frac{t}{\alpha+t}\Bigr)^n\Bigl(\frac{\beta}{\beta+t}\Bigr)^s
       + \frac{s\,\alpha^r\beta^s\,\Gamma(r+n)}{\Gamma(r)\,n!}
       \int_0^t \frac{\tau^n\, d\tau}{(\alpha+\tau)^{r+n}(\beta+\tau)^{s+1}}

    The integral (the sum of hypergeometric terms of [FH2006]_, with
    alternating signs) is computed directly in log space by quadrature, so
    the terms are positive and large ``n`` loses no precision.

    Examples
    --------
    >>> p = PNBDParams(r=0.553, alpha=10.578, s=0.606, beta=11.669)
    >>> round(float(probability_of_purchases(p, 0, 39)), 4)
    0.5936
    >>> round(float(sum(probability_of_purchases(p, np.arange(400), 39))), 8)
    1.0
    """
    r, alpha, s, beta = _math._floats(*params)
    n, t = _math._floats(n, t)
    shape = np.broadcast_shapes(n.shape, t.shape, r.shape, alpha.shape, s.shape, beta.shape)
    r, alpha, s, beta, n, t = (np.broadcast_to(v, shape).ravel() for v in (r, alpha, s, beta, n, t))
    out = np.where(n == 0, 1.0, 0.0)
    pos = t > 0
    if pos.any():
        r, alpha, s, beta, n, t = (v[pos] for v in (r, alpha, s, beta, n, t))
        log_nb = special.gammaln(r + n) - special.gammaln(r) - special.gammaln(n + 1.0)
        log_at = np.log(alpha + t)
        alive = (
            log_nb
            + r * (np.log(alpha) - log_at)
            + n * (np.log(t) - log_at)
            + s * (np.log(beta) - np.log(beta + t))
        )
        dead = (
            np.log(s)
            + s * np.log(beta)
            + r * np.log(alpha)
            + log_nb
            + _math.log_pmf_dropout_term(r, alpha, s, beta, n, t)
        )
        out[pos] = np.exp(np.logaddexp(alive, dead))
    return _out(out.reshape(shape))


def expected_discounted_residual_transactions(
    params: PNBDParams,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    discount_rate: float,
) -> FloatArray:
    r"""Discounted expected residual transactions (DERT), [FHL2005]_ eq. (2).

    The present value, at ``T``, of a customer's future purchases (count, not
    money), with continuous discounting at rate :math:`\delta`:

    .. math::

       \mathrm{DERT} = \int_0^\infty e^{-\delta t}\, \frac{d}{dt}E[Y(t) \mid x, t_x, T]\, dt
       = \frac{\alpha^r\beta^s\delta^{s-1}\Gamma(r+x+1)\,\Psi(s, s; \delta(\beta+T))}
              {\Gamma(r)(\alpha+T)^{r+x+1}\, L(r, \alpha, s, \beta \mid x, t_x, T)}
       = P(\text{alive})\,\frac{r+x}{\alpha+T}\,\frac{Q(s, \delta(\beta+T))}{\delta}

    where :math:`\Psi` is the confluent hypergeometric function of the second
    kind and :math:`Q(s, z) = z^s\Psi(s, s; z) = \int_0^\infty e^{-y}(1+y/z)^{-s}dy`
    (computed by quadrature in log space).

    ``discount_rate`` is the discount rate :math:`d` *per period* of the data
    (e.g. weekly); money one period ahead is worth :math:`1/(1+d)`, which is
    continuous discounting at :math:`\delta = \log(1+d)`.  [FHL2005]_ use an
    annual 15 % on weekly data: :math:`\delta = \log(1.15)/52 = 0.0027`, i.e.
    ``discount_rate = 1.15 ** (1 / 52) - 1``.

    Examples
    --------
    >>> p = PNBDParams(r=0.553, alpha=10.578, s=0.606, beta=11.669)
    >>> weekly = 1.15 ** (1 / 52) - 1  # 15 % a year
    >>> round(float(expected_discounted_residual_transactions(p, 2, 30.43, 38.86, weekly)), 3)
    6.502
    """
    d = np.asarray(discount_rate, dtype=np.float64)
    if d.ndim or not (np.isfinite(d) and d > 0):
        raise ValueError(
            f"discount_rate must be a positive number per period, got {discount_rate!r}."
        )
    delta = float(np.log1p(d))
    r, alpha, s, beta = _math._floats(*params)
    x, t_x, T = _math._floats(frequency, recency, T)
    _, alive, dead = _math.pieces(params, x, t_x, T)
    log_alive = alive - np.logaddexp(alive, dead)
    z = delta * (beta + T)
    zs = np.broadcast_to(z, np.broadcast_shapes(z.shape, s.shape))
    ss = np.broadcast_to(s, zs.shape)
    # Q depends only on (s, z): evaluate once per distinct pair
    pairs, inverse = np.unique(
        np.column_stack([ss.ravel(), zs.ravel()]), axis=0, return_inverse=True
    )
    log_q = _math.log_dropout_discount(pairs[:, 0], pairs[:, 1])[inverse.ravel()].reshape(zs.shape)
    return _out(np.exp(log_alive + np.log(r + x) - np.log(alpha + T) + log_q - np.log(delta)))


def simulate(
    params: PNBDParams, T: ArrayLike, *, rng: np.random.Generator
) -> dict[str, FloatArray]:
    """Simulate Pareto/NBD customers observed for ``T`` periods after their first purchase.

    Vectorised, no loop over customers: each customer's rates are drawn, the
    lifetime is exponential, the number of purchases while alive in
    ``(0, min(lifetime, T)]`` is Poisson and, given that number ``N``, the last
    purchase time is the maximum of ``N`` uniforms (``end * U**(1/N)``).

    Parameters
    ----------
    params : PNBDParams
        Population parameters (scalars), or per-customer arrays (e.g. from
        :func:`clv.models._covariates.individual_params`).
    T : array_like
        Age of each customer (one entry per customer).
    rng : numpy.random.Generator

    Returns
    -------
    dict
        ``frequency``, ``recency``, ``T`` arrays, plus the latent ``lambda``,
        ``mu`` and ``alive`` (alive at ``T``).

    Examples
    --------
    >>> p = PNBDParams(r=0.553, alpha=10.578, s=0.606, beta=11.669)
    >>> sim = simulate(p, np.full(5, 39.0), rng=np.random.default_rng(1))
    >>> sorted(sim)
    ['T', 'alive', 'frequency', 'lambda', 'mu', 'recency']
    """
    T = np.asarray(T, dtype=np.float64)
    n = T.shape[0]
    r, alpha, s, beta = population_params(params, n)
    lam = rng.gamma(r, 1.0 / alpha, size=n)
    mu = rng.gamma(s, 1.0 / beta, size=n)
    lifetime = np.divide(rng.standard_exponential(n), mu, out=np.full(n, np.inf), where=mu > 0)
    return observe_purchases(lam, lifetime, T, rng, {"lambda": lam, "mu": mu})


def _initial(frequency: FloatArray, recency: FloatArray, T: FloatArray) -> PNBDParams:
    """Starting values on the rescaled data (max T = 1).

    Shapes 0.5 (typical of published fits: strong heterogeneity), the rate
    scale from the mean purchase rate, and a mean lifetime of the order of the
    observation window.
    """
    rate = max(float(np.mean(frequency) / np.mean(T)), 1e-3)
    return PNBDParams(r=0.5, alpha=0.5 / rate, s=0.5, beta=0.5)


SPEC = rfm_spec(
    "Pareto/NBD",
    PNBDParams,
    PNBDParams(r=1.0, alpha=1.0, s=1.0, beta=1.0),
    globals(),
    row_gradient=_math.log_likelihood_gradient_rows,
    hessian=log_likelihood_hessian,
    scale_columns=("recency", "T"),
    scale_params=("alpha", "beta"),
    # no detectable heterogeneity: s (or r) -> inf along the ridge s / beta = mean rate
    homogeneous_limits=(("s", "beta", "dropout rate"), ("r", "alpha", "purchase rate")),
)


class ParetoNBDModel(CovariateTransactionModel):
    r"""Pareto/NBD model of repeat purchasing, fitted by maximum likelihood.

    While alive, a customer makes repeat purchases as a Poisson process with
    rate :math:`\lambda`; they stay alive for an exponential time with rate
    :math:`\mu`.  Across customers :math:`\lambda \sim \mathrm{Gamma}(r, \alpha)`
    and :math:`\mu \sim \mathrm{Gamma}(s, \beta)`, independently ([SMC1987]_).

    Required columns: ``frequency``, ``recency``, ``T`` (periods), optional
    ``weight``, plus the covariate columns.

    Covariates (``purchase_covariates=``, ``dropout_covariates=``): per-customer
    :math:`\alpha_i = \alpha_0 e^{-\gamma_p^\top x_i}` and
    :math:`\beta_i = \beta_0 e^{-\gamma_d^\top x_i}`, so a positive coefficient
    raises the purchase (dropout) rate; ``covariate_penalty`` and
    ``coefficient_priors`` as in :class:`~clv.models._base.ParametricModel`.

    Examples
    --------
    >>> from clv.data.datasets import load_cdnow_summary
    >>> model = ParetoNBDModel().fit(load_cdnow_summary())
    >>> model.params_.round(3).to_dict()
    {'r': 0.553, 'alpha': 10.578, 's': 0.606, 'beta': 11.668}
    """

    spec = SPEC
    _levers = (Lever("purchase", "alpha", -1.0), Lever("dropout", "beta", -1.0))

    def expected_discounted_residual_transactions(
        self, data: pd.DataFrame, discount_rate: float
    ) -> pd.Series:
        """Discounted expected residual transactions of each customer (see the function).

        Parameters
        ----------
        data : DataFrame
            RFM frame with ``frequency``, ``recency``, ``T``.
        discount_rate : float
            Discount rate per period of the data (weekly data: weekly rate).

        Returns
        -------
        Series
            Aligned to ``data.index``.
        """
        p, x, t_x, T = self._rfm_params(data)
        values = expected_discounted_residual_transactions(p, x, t_x, T, discount_rate)
        return self._series(
            values * np.ones_like(x), data, "expected_discounted_residual_transactions"
        )
