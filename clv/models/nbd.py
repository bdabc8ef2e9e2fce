r"""NBD model of repeat purchasing (Ehrenberg 1959): no dropout.

Pure functions first (no pandas, no state); :class:`NBDModel` binds fitted
parameters to them.

Assumptions: every customer buys as a Poisson process with rate
:math:`\lambda \sim \mathrm{Gamma}(r, \alpha)` (shape :math:`r`, rate
:math:`\alpha`) and never drops out, so the number of purchases in any window
of length :math:`t` is negative binomial, and a customer's history enters the
predictions only through :math:`(x, T)`: the posterior of :math:`\lambda` is
:math:`\mathrm{Gamma}(r + x, \alpha + T)`, whatever the timing. It is the
benchmark every buy-till-you-die model is compared with: where the data show
no dropout, the models with dropout have no reason to beat it.

The likelihood is that of the purchase *times* (as in BTYDplus's ``nbd.LL``
and the BG/NBD papers), not of the count, so its value is comparable with the
BG/NBD and Pareto/NBD log-likelihoods on the same data.

References
----------
.. [E1959] Ehrenberg, A. S. C. (1959). The pattern of consumer purchases.
   Journal of the Royal Statistical Society: Series C (Applied Statistics),
   8(1), 26-41.
.. [MT2016] Platzer, M. (2016). BTYDplus: Customer Analytics for
   Non-Contractual Settings. R package, ``nbd.*`` functions.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special

from clv._ops import NUMPY
from clv._typing import FloatArray, Ops
from clv.models._spec import ModelSpec
from clv.models._transaction import TransactionModel

__all__ = [
    "NBDModel",
    "NBDParams",
    "conditional_probability_of_purchases",
    "expected_discounted_purchases",
    "expected_purchases",
    "expected_purchases_new_customer",
    "log_likelihood",
    "log_likelihood_gradient",
    "probability_alive",
    "probability_alive_at",
    "probability_of_purchases",
    "simulate",
]


class NBDParams(NamedTuple):
    """NBD parameters: purchase rate Gamma(r, alpha) (shape, rate)."""

    r: Any
    alpha: Any


def _out(values: Any) -> Any:
    arr = np.asarray(values, dtype=np.float64)
    return arr[()] if arr.ndim == 0 else arr


def log_likelihood(
    params: NBDParams,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    ops: Ops = NUMPY,
) -> Any:
    r"""Per-customer log-likelihood of the purchase times ([E1959]_; BTYDplus ``nbd.LL``).

    .. math:: L = \frac{\Gamma(r+x)}{\Gamma(r)} \frac{\alpha^r}{(\alpha+T)^{r+x}}

    ``recency`` is accepted for a uniform signature and does not enter.

    Examples
    --------
    >>> round(float(log_likelihood(NBDParams(0.385, 12.072), 2, 30.43, 38.86)), 4)
    -9.044
    """
    r, alpha = params
    x = frequency
    return (
        ops.gammaln(r + x) - ops.gammaln(r) + r * ops.log(alpha) - (r + x) * ops.log(alpha + T)
    )


def log_likelihood_gradient(
    params: NBDParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """Per-customer log-likelihood and its analytic gradient w.r.t. ``(r, alpha)``, shape (2, n).

    Examples
    --------
    >>> p, h = NBDParams(0.4, 12.0), 1e-6
    >>> ll, g = log_likelihood_gradient(p, [0.0, 3.0], [0.0, 20.0], [30.0, 38.0])
    >>> x, t_x, T = np.array([0.0, 3.0]), np.array([0.0, 20.0]), np.array([30.0, 38.0])
    >>> num = (log_likelihood(NBDParams(0.4 + h, 12.0), x, t_x, T)
    ...        - log_likelihood(NBDParams(0.4 - h, 12.0), x, t_x, T))
    >>> bool(np.allclose(g[0], num / (2 * h), rtol=1e-6))
    True
    """
    r, alpha = (float(v) for v in params)
    x = np.atleast_1d(np.asarray(frequency, dtype=np.float64))
    T = np.atleast_1d(np.asarray(T, dtype=np.float64))
    x, T = np.broadcast_arrays(x, T)
    log_aT = np.log(alpha + T)
    ll = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) - (r + x) * log_aT
    d_r = special.digamma(r + x) - special.digamma(r) + np.log(alpha) - log_aT
    d_alpha = r / alpha - (r + x) / (alpha + T)
    return ll, np.stack([d_r, d_alpha])


def probability_alive(
    params: NBDParams, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> Any:
    """1 for every customer: the NBD has no dropout.

    Examples
    --------
    >>> probability_alive(NBDParams(0.4, 12.0), [0, 5], [0.0, 10.0], [30.0, 30.0]).tolist()
    [1.0, 1.0]
    """
    return _out(np.ones(np.broadcast(*(np.asarray(v) for v in (frequency, recency, T))).shape))


def probability_alive_at(
    params: NBDParams, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> Any:
    """1 at every horizon (no dropout)."""
    arrays = (np.asarray(v) for v in (t, frequency, recency, T))
    return _out(np.ones(np.broadcast(*arrays).shape))


def expected_purchases(
    params: NBDParams, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> Any:
    r"""Expected purchases in ``(T, T + t]`` given the history: :math:`t (r+x)/(\alpha+T)`.

    BTYDplus ``nbd.ConditionalExpectedTransactions``.

    Examples
    --------
    >>> round(float(expected_purchases(NBDParams(0.385, 12.072), 39, 2, 30.43, 38.86)), 4)
    1.8263
    """
    r, alpha = (np.asarray(v, dtype=np.float64) for v in params)
    t, x, T = (np.asarray(v, dtype=np.float64) for v in (t, frequency, T))
    return _out(t * (r + x) / (alpha + T) + 0.0 * np.asarray(recency, dtype=np.float64))


def expected_purchases_new_customer(params: NBDParams, t: ArrayLike) -> Any:
    r"""Expected repeat purchases of a new customer in ``(0, t]``: :math:`r t / \alpha`.

    Examples
    --------
    >>> float(expected_purchases_new_customer(NBDParams(0.5, 10.0), 20.0))
    1.0
    """
    r, alpha = (np.asarray(v, dtype=np.float64) for v in params)
    return _out(np.asarray(t, dtype=np.float64) * r / alpha)


def _log_nb_pmf(n: FloatArray, shape: FloatArray, scale: FloatArray, t: FloatArray) -> FloatArray:
    """log P(N = n), N negative binomial: Poisson(lambda t), lambda ~ Gamma(shape, scale)."""
    log_t = np.log(np.where(t > 0, t, 1.0))
    value = (
        special.gammaln(shape + n)
        - special.gammaln(shape)
        - special.gammaln(n + 1.0)
        + shape * (np.log(scale) - np.log(scale + t))
        + n * (log_t - np.log(scale + t))
    )
    return np.where((t > 0) | (n == 0), value, -np.inf)


def probability_of_purchases(params: NBDParams, n: ArrayLike, t: ArrayLike) -> Any:
    r"""Probability that a new customer makes exactly ``n`` repeat purchases in ``(0, t]``.

    .. math:: P(X(t)=n) = \frac{\Gamma(r+n)}{\Gamma(r)\,n!}
              \Bigl(\frac{\alpha}{\alpha+t}\Bigr)^r \Bigl(\frac{t}{\alpha+t}\Bigr)^n

    Examples
    --------
    >>> p = NBDParams(0.385, 12.072)
    >>> round(float(probability_of_purchases(p, np.arange(400), 39.0).sum()), 10)
    1.0
    """
    r, alpha = (np.asarray(v, dtype=np.float64) for v in params)
    n, t = (np.asarray(v, dtype=np.float64) for v in (n, t))
    return _out(np.exp(_log_nb_pmf(n, r, alpha, t)))


def conditional_probability_of_purchases(
    params: NBDParams,
    n: ArrayLike,
    t: ArrayLike,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
) -> Any:
    r"""Probability of exactly ``n`` purchases in ``(T, T + t]`` given the history.

    The posterior rate is :math:`\mathrm{Gamma}(r+x, \alpha+T)`, so the count
    is negative binomial with shape :math:`r+x` and odds
    :math:`t/(\alpha+T+t)`.

    Examples
    --------
    >>> p = NBDParams(0.385, 12.072)
    >>> pmf = conditional_probability_of_purchases(p, np.arange(200), 39.0, 2, 30.43, 38.86)
    >>> bool(abs(float((np.arange(200) * pmf).sum()) - expected_purchases(p, 39.0, 2, 30.43, 38.86))
    ...      < 1e-10)
    True
    """
    r, alpha = (np.asarray(v, dtype=np.float64) for v in params)
    n, t, x, T = (np.asarray(v, dtype=np.float64) for v in (n, t, frequency, T))
    value = np.exp(_log_nb_pmf(n, r + x, alpha + T, t))
    return _out(value + 0.0 * np.asarray(recency, dtype=np.float64))


def expected_discounted_purchases(
    params: NBDParams,
    discount_rate: float,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    horizon: ArrayLike = np.inf,
) -> Any:
    r"""Present value at ``T`` of a customer's purchases in ``(T, T + horizon]`` (counts).

    With continuous discounting at rate :math:`\delta` per period and the
    posterior mean rate :math:`(r+x)/(\alpha+T)`:

    .. math:: \int_0^H e^{-\delta u} \frac{r+x}{\alpha+T}\, du
              = \frac{r+x}{\alpha+T}\, \frac{1 - e^{-\delta H}}{\delta}

    (:math:`H` when :math:`\delta = 0`; unbounded without a horizon: a
    customer who never leaves needs a discount rate > 0 or a finite horizon).

    Examples
    --------
    >>> p = NBDParams(0.5, 10.0)
    >>> round(float(expected_discounted_purchases(p, 0.01, 0, 0.0, 0.0)), 6)  # 0.05 / 0.01
    5.0
    >>> float(expected_discounted_purchases(p, 0.0, 0, 0.0, 0.0, horizon=20.0))
    1.0
    """
    delta = float(discount_rate)
    if not (np.isfinite(delta) and delta >= 0):
        raise ValueError(f"discount_rate must be a finite number >= 0, got {discount_rate!r}.")
    H = np.asarray(horizon, dtype=np.float64)
    if np.any(H < 0) or (delta == 0 and np.any(~np.isfinite(H))):
        raise ValueError(
            "horizon must be >= 0, and finite when discount_rate is 0 (the NBD customer "
            "never leaves, so undiscounted purchases over an unbounded horizon are infinite)."
        )
    r, alpha = (np.asarray(v, dtype=np.float64) for v in params)
    x, T = (np.asarray(v, dtype=np.float64) for v in (frequency, T))
    rate = (r + x) / (alpha + T) + 0.0 * np.asarray(recency, dtype=np.float64)
    factor = H if delta == 0 else -np.expm1(-delta * H) / delta
    return _out(rate * factor)


def simulate(params: NBDParams, T: ArrayLike, *, rng: np.random.Generator) -> dict[str, FloatArray]:
    """Simulate NBD customers observed for ``T`` periods after their first purchase.

    Given the count :math:`x` of a Poisson process in :math:`(0, T]`, the
    purchase times are uniform, so the last one is :math:`T U^{1/x}`.

    Returns
    -------
    dict
        ``frequency``, ``recency``, ``T`` and the latent ``lambda``.

    Examples
    --------
    >>> sim = simulate(NBDParams(0.5, 5.0), np.full(4, 52.0), rng=np.random.default_rng(0))
    >>> bool(np.all(sim["recency"] <= sim["T"]))
    True
    """
    r, alpha = (float(v) for v in params)
    T = np.asarray(T, dtype=np.float64)
    n = T.shape[0]
    lam = np.asarray(rng.gamma(r, 1.0 / alpha, size=n), dtype=np.float64)
    frequency = rng.poisson(lam * T).astype(np.float64)
    last = np.exp(np.log1p(-rng.random(n)) / np.maximum(frequency, 1.0))
    recency = np.where(frequency > 0, T * last, 0.0)
    return {"frequency": frequency, "recency": recency, "T": T.copy(), "lambda": lam}


def _initial(frequency: FloatArray, recency: FloatArray, T: FloatArray) -> NBDParams:
    """Method of moments on the counts per unit time (shape 0.5 if they show no overdispersion)."""
    rate = max(float(np.mean(frequency) / np.mean(T)), 1e-3)
    return NBDParams(r=0.5, alpha=0.5 / rate)


SPEC = ModelSpec(
    name="NBD",
    params=NBDParams,
    start=NBDParams(r=1.0, alpha=1.0),
    columns=("frequency", "recency", "T"),
    log_likelihood=log_likelihood,
    gradient=log_likelihood_gradient,
    initial=_initial,
    scale_columns=("recency", "T"),
    scale_params=("alpha",),
    probability_alive=probability_alive,
    expected_purchases=expected_purchases,
    expected_purchases_new_customer=expected_purchases_new_customer,
    probability_of_purchases=probability_of_purchases,
    simulate=simulate,
)


class NBDModel(TransactionModel):
    """NBD model of repeat purchasing (no dropout), fitted by maximum likelihood ([E1959]_).

    Each customer buys as a Poisson process with a Gamma(r, alpha)-distributed
    rate and stays a customer for ever. The benchmark for the models with
    dropout: on CDNOW its log-likelihood is -9763.66 against -9582.43 for the
    BG/NBD, the value of modelling dropout there.

    Required columns: ``frequency``, ``recency``, ``T`` (periods; ``recency``
    is validated but does not enter), optional ``weight``.

    Examples
    --------
    >>> from clv.data.datasets import load_cdnow_summary
    >>> model = NBDModel().fit(load_cdnow_summary())
    >>> model.params_.round(3).to_dict()
    {'r': 0.385, 'alpha': 12.072}
    """

    spec = SPEC

    def expected_discounted_purchases(
        self, data: pd.DataFrame, discount_rate: float, *, horizon: float = np.inf
    ) -> pd.Series:
        """Present value of each customer's future purchase count (see the function).

        Parameters
        ----------
        data : DataFrame
            RFM frame with ``frequency``, ``recency``, ``T``.
        discount_rate : float
            Continuous discount rate per period of the data (> 0 without a horizon).
        horizon : float, default inf
            Periods ahead to count.

        Returns
        -------
        Series
            Aligned to ``data.index``.
        """
        x, t_x, T = self._arrays(data, ("frequency", "recency", "T"))
        values = expected_discounted_purchases(self._p, discount_rate, x, t_x, T, horizon)
        return self._series(values * np.ones_like(x), data, "expected_discounted_purchases")
