r"""Pure functions of the Pareto/GGG model (Platzer & Reutterer 2016), given a customer's rates.

While alive, customer :math:`i`'s inter-purchase times are
:math:`\mathrm{Gamma}(k_i, k_i\lambda_i)` (shape :math:`k_i`, rate
:math:`k_i\lambda_i`, mean :math:`1/\lambda_i`; :math:`k_i = 1` is the
Poisson process of the Pareto/NBD); the lifetime is
:math:`\tau_i \sim \mathrm{Exp}(\mu_i)`.  Across customers
:math:`k_i \sim \mathrm{Gamma}(t, \gamma)`, :math:`\lambda_i \sim
\mathrm{Gamma}(r, \alpha)`, :math:`\mu_i \sim \mathrm{Gamma}(s, \beta)`
(shape, rate) ([PR2016]_).

Data per customer: ``x`` repeat purchases, the last at ``t_x``, observed
until ``T`` (all since the first purchase), and ``litt``, the sum of the log
inter-purchase times.  With :math:`b = k\lambda`, :math:`d = T - t_x`,
:math:`G \sim \mathrm{Gamma}(k, b)` the next inter-purchase time and
:math:`P(k, \cdot)` the regularised lower incomplete gamma function:

- the purchases up to :math:`t_x` have density

  .. math:: f = \frac{b^{kx}}{\Gamma(k)^x}\, e^{(k-1)\,\mathrm{litt} - b\,t_x};

- the lifetime integrates out in closed form (``tau`` is not sampled): after
  :math:`t_x` the customer made no purchase up to :math:`T` while alive, i.e.
  not (next purchase before both :math:`T` and the dropout), so

  .. math:: L(k, \lambda, \mu) = f\, e^{-\mu t_x}\bigl[1 - q\bigr],\qquad
            q = P(G < d,\ G < \tau - t_x) = \Bigl(\frac{b}{b+\mu}\Bigr)^{k}
            P\bigl(k, (b+\mu)\,d\bigr)

  (:math:`E[e^{-\mu G} 1_{G<d}]`); for :math:`k = 1` this is the
  individual-level Pareto/NBD likelihood
  :math:`\lambda^x[\frac{\mu}{\lambda+\mu}e^{-(\lambda+\mu)t_x}
  + \frac{\lambda}{\lambda+\mu}e^{-(\lambda+\mu)T}]`;
- alive at :math:`T` is the part of :math:`1 - q` with the customer still
  alive at :math:`T` and the next purchase later than :math:`d`:

  .. math:: P(\text{alive}) = \frac{e^{-\mu d}\,(1 - P(k, b d))}{1 - q}.

BTYDplus samples the lifetime as a latent variable and computes the
denominator of P(alive) by Simpson's rule (``pggg_palive``); the closed form
above is exact.  Every function takes the ``ops`` namespace
(:data:`clv._ops.NUMPY` or :data:`clv.bayes._ops.PYTENSOR`) where it is used in
the likelihood, so the Bayesian model evaluates this very code.

References
----------
.. [PR2016] Platzer, M., & Reutterer, T. (2016). Ticking away the moments:
   Timing regularity helps to better predict customer activity. Marketing
   Science, 35(5), 779-799.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike
from scipy import special

from clv._ops import NUMPY
from clv._special import log1mexp, log_gammainc
from clv._typing import FloatArray

__all__ = [
    "PARAM_NAMES",
    "ParetoGGGParams",
    "expected_purchases_given_rates",
    "individual_log_likelihood",
    "log_next_purchase_first",
    "log_probability_alive",
    "log_purchase_times_density",
    "simulate_purchases",
]


class ParetoGGGParams(NamedTuple):
    """Population parameters: regularity ``Gamma(t, gamma)``, purchase rate
    ``Gamma(r, alpha)``, dropout rate ``Gamma(s, beta)`` (shape, rate)."""

    t: float
    gamma: float
    r: float
    alpha: float
    s: float
    beta: float


PARAM_NAMES: tuple[str, ...] = ParetoGGGParams._fields


def log_purchase_times_density(
    k: Any, lam: Any, frequency: Any, recency: Any, litt: Any, *, ops: Any = NUMPY
) -> Any:
    r""":math:`\log f`: the ``x`` gamma inter-purchase times that end at ``t_x``.

    :math:`kx\log(k\lambda) - x\log\Gamma(k) + (k-1)\,\mathrm{litt} - k\lambda t_x`
    (0 without repeat purchases).

    Examples
    --------
    >>> from scipy import stats
    >>> gaps = np.array([1.0, 2.5])
    >>> ref = stats.gamma.logpdf(gaps, 3.0, scale=1 / (3.0 * 0.5)).sum()
    >>> val = log_purchase_times_density(3.0, 0.5, 2.0, gaps.sum(), np.log(gaps).sum())
    >>> bool(np.isclose(val, ref))
    True
    """
    b = k * lam
    return k * frequency * ops.log(b) - frequency * ops.gammaln(k) + (k - 1.0) * litt - b * recency


def log_next_purchase_first(k: Any, lam: Any, mu: Any, gap: Any, *, ops: Any = NUMPY) -> Any:
    r""":math:`\log q`: the next purchase comes within ``gap`` and before the dropout.

    :math:`q = (b/(b+\mu))^{k} P(k, (b+\mu)\,\mathrm{gap})` with
    :math:`b = k\lambda`; ``-inf`` for ``gap = 0``.

    Examples
    --------
    >>> lam, mu, gap = 0.4, 0.1, 3.0  # k = 1: P(first of two exponentials, within gap)
    >>> q = lam / (lam + mu) * (1 - np.exp(-(lam + mu) * gap))
    >>> bool(np.isclose(np.exp(log_next_purchase_first(1.0, lam, mu, gap)), q))
    True
    """
    b = k * lam
    return -k * ops.log1p(mu / b) + ops.log_gammainc(k, (b + mu) * gap)


def individual_log_likelihood(
    k: Any,
    lam: Any,
    mu: Any,
    frequency: Any,
    recency: Any,
    T: Any,
    litt: Any,
    *,
    ops: Any = NUMPY,
) -> Any:
    r""":math:`\log L(k, \lambda, \mu \mid x, t_x, T, \mathrm{litt})`, the lifetime integrated out.

    Examples
    --------
    >>> lam, mu, x, t_x, T = 0.5, 0.05, 3.0, 10.0, 20.0  # k = 1 is the Pareto/NBD
    >>> ref = x * np.log(lam) + np.log(mu / (lam + mu) * np.exp(-(lam + mu) * t_x)
    ...                               + lam / (lam + mu) * np.exp(-(lam + mu) * T))
    >>> bool(np.isclose(individual_log_likelihood(1.0, lam, mu, x, t_x, T, 1.7), ref))
    True
    """
    q = log_next_purchase_first(k, lam, mu, T - recency, ops=ops)
    return (
        log_purchase_times_density(k, lam, frequency, recency, litt, ops=ops)
        - mu * recency
        + ops.log1mexp(q)
    )


def log_probability_alive(
    k: ArrayLike, lam: ArrayLike, mu: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    r""":math:`\log P(\text{alive at } T \mid k, \lambda, \mu, t_x, T)` (NumPy).

    Examples
    --------
    >>> lam, mu, t_x, T = 0.5, 0.05, 10.0, 20.0  # k = 1: the Pareto/NBD formula
    >>> ref = 1 / (1 + mu / (lam + mu) * (np.exp((lam + mu) * (T - t_x)) - 1))
    >>> bool(np.isclose(np.exp(log_probability_alive(1.0, lam, mu, t_x, T)), ref))
    True
    """
    k, lam, mu, t_x, T = (np.asarray(v, dtype=np.float64) for v in (k, lam, mu, recency, T))
    gap = T - t_x
    log_survive = log1mexp(log_gammainc(k, k * lam * gap))
    return np.asarray(
        -mu * gap + log_survive - log1mexp(log_next_purchase_first(k, lam, mu, gap)),
        dtype=np.float64,
    )


def _residual_gap(
    k: FloatArray, b: FloatArray, age: FloatArray, rng: np.random.Generator
) -> FloatArray:
    """Time to the next purchase of gamma(``k``, ``b``) gaps, the current one already ``age`` old.

    Inverse-CDF draw of ``G | G > age``; where the tail probability underflows,
    the gamma tail's exponential limit (rate ``b``).
    """
    tail = special.gammaincc(k, b * age)
    u = rng.random(k.shape)
    deep = tail < 1e-280
    with np.errstate(divide="ignore", invalid="ignore"):
        g = special.gammainccinv(k, np.where(deep, 0.5, u * tail)) / b
    exp_tail = age + rng.standard_exponential(k.shape) / b
    return np.where(deep | ~np.isfinite(g), exp_tail, np.maximum(g, age)) - age


def expected_purchases_given_rates(
    k: ArrayLike,
    lam: ArrayLike,
    mu: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    t: float,
    *,
    rng: np.random.Generator,
    n_paths: int = 1,
) -> FloatArray:
    r"""Expected purchases in :math:`(T, T + t]` given the rates, by Monte Carlo (NumPy).

    A gamma renewal process has no closed-form count mean, so each entry
    simulates ``n_paths`` purchase paths: the next purchase from the current
    gap (already :math:`T - t_x` old), then fresh gamma gaps.  The lifetime is
    not drawn: a purchase at :math:`T + u` counts with the probability
    :math:`e^{-\mu u}` of being alive then, and the sum is multiplied by
    :math:`P(\text{alive at } T)` (:func:`log_probability_alive`), which
    lowers the variance against simulating dropout.

    Parameters
    ----------
    k, lam, mu, recency, T : array_like
        Broadcastable rates and data (e.g. draws x customers).
    t : float
        Length of the window.
    rng : numpy.random.Generator
        Source of the paths (deterministic given its seed).
    n_paths : int, default 1
        Paths per entry (the estimate averages them).

    Returns
    -------
    ndarray
        The estimate per entry (broadcast shape).

    Examples
    --------
    >>> rng = np.random.default_rng(0)  # k = 1, alive for sure: lam/mu (1 - e^{-mu t})
    >>> est = expected_purchases_given_rates(1.0, 0.5, 0.05, 10.0, 10.0, 8.0,
    ...                                      rng=rng, n_paths=40_000)
    >>> bool(abs(float(est) - 0.5 / 0.05 * (1 - np.exp(-0.4))) < 0.03)
    True
    """
    k, lam, mu, t_x, T = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64) for v in (k, lam, mu, recency, T))
    )
    shape = k.shape
    flat = [np.repeat(v.reshape(-1), n_paths) for v in (k, lam, mu, t_x, T)]
    kk, ll, mm, tx, tt = flat
    b = kk * ll
    clock = _residual_gap(kk, b, tt - tx, rng)
    total = np.zeros_like(clock)
    active = np.flatnonzero(clock <= t)
    while active.size:
        total[active] += np.exp(-mm[active] * clock[active])
        clock[active] += rng.standard_gamma(kk[active]) / b[active]
        active = active[clock[active] <= t]
    mean_paths = total.reshape(-1, n_paths).mean(axis=1).reshape(shape)
    return np.asarray(mean_paths * np.exp(log_probability_alive(k, lam, mu, t_x, T)))


def simulate_purchases(
    k: ArrayLike,
    lam: ArrayLike,
    lifetime: ArrayLike,
    horizon: ArrayLike,
    *,
    rng: np.random.Generator,
) -> tuple[np.ndarray, FloatArray]:
    """Repeat-purchase times in ``(0, min(lifetime, horizon)]`` of customers with known rates.

    Gamma(``k``, ``k * lam``) gaps from the first purchase at 0; vectorised
    over customers (one loop step per purchase rank).

    Returns
    -------
    (customer, time)
        Customer index (0-based) and time of each repeat purchase, sorted by
        customer then time.

    Examples
    --------
    >>> c, tm = simulate_purchases([2.0, 2.0], [1.0, 1.0], [5.0, 0.5], [10.0, 10.0],
    ...                            rng=np.random.default_rng(1))
    >>> bool(np.all(tm <= np.array([5.0, 0.5])[c]))
    True
    """
    k, lam, lifetime, horizon = np.broadcast_arrays(
        *(np.asarray(v, dtype=np.float64) for v in (k, lam, lifetime, horizon))
    )
    end = np.minimum(lifetime, horizon)
    b = k * lam
    clock = np.zeros(k.shape)
    customers: list[np.ndarray] = []
    times: list[FloatArray] = []
    active = np.arange(k.shape[0])
    while active.size:
        clock[active] += rng.standard_gamma(k[active]) / b[active]
        active = active[clock[active] <= end[active]]
        customers.append(active)
        times.append(clock[active].copy())
    customer = np.concatenate(customers)
    time = np.concatenate(times)
    order = np.lexsort((time, customer))
    return customer[order], time[order]
