r"""Pure functions of the acquisition model (see :mod:`clv.models.acquisition` for the maths).

NumPy only: the period axis is the last axis and the parameters broadcast over
leading axes (posterior or bootstrap draws). :class:`AcquisitionParams` is
their parameter tuple; :class:`~clv.models.acquisition.AcquisitionModel` binds
fitted parameters to them.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special

from clv._special import log1mexp
from clv._typing import FloatArray

__all__ = [
    "AcquisitionParams",
    "baseline",
    "log_survival",
    "probability_acquired",
    "expected_arrivals",
    "future_arrivals",
    "log_likelihood",
    "log_likelihood_gradient",
    "simulate",
]

#: Largest log-increment of the baseline B(t) evaluated (beyond it parameters are flagged).
_MAX_EXPONENT = 600.0


class AcquisitionParams(NamedTuple):
    r"""Acquisition-model parameters (the pure functions' form).

    ``r, alpha``: acquisition rates :math:`\lambda \sim \mathrm{Gamma}(r, \alpha)`;
    ``r = inf`` means no heterogeneity, every ever-acquirer having rate
    :math:`\lambda = 1/\alpha`. ``c``: Weibull shape (1: exponential timing).
    ``m``: expected number of ever-acquirers, :math:`N p`. ``beta``: covariate
    coefficients (last axis; empty without covariates).
    """

    r: Any
    alpha: Any
    c: Any = 1.0
    m: Any = 1.0
    beta: Any = ()


# ============================================================================ pure functions
def _covariate_matrix(covariates: ArrayLike | None, n_periods: int) -> FloatArray | None:
    if covariates is None:
        return None
    x = np.asarray(covariates, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.shape[0] < n_periods:
        raise ValueError(f"covariates has {x.shape[0]} rows but {n_periods} periods are needed.")
    return x[:n_periods] if x.shape[1] else None


def baseline(
    params: AcquisitionParams, n_periods: int, covariates: ArrayLike | None = None
) -> FloatArray:
    r"""Cumulative baseline :math:`B(t)` at the end of periods :math:`t = 1, \dots, T`.

    .. math:: B(t) = \sum_{i=1}^{t}\bigl[i^{c} - (i-1)^{c}\bigr] e^{\beta' x(i)}

    Parameters
    ----------
    params : AcquisitionParams
        Only ``c`` and ``beta`` are used; scalars or arrays (leading axes
        broadcast, ``beta`` has the covariates on its last axis).
    n_periods : int
        Number of periods :math:`T`.
    covariates : array_like, shape (T, k), optional
        Covariate values of periods 1..T.

    Returns
    -------
    numpy.ndarray
        Shape ``(..., T)``; ``inf`` where a period's increment exceeds
        :math:`e^{600}` (parameters far outside any plausible range; the
        other functions then return NaN, the log-likelihood ``-inf``).

    Examples
    --------
    >>> np.round(baseline(AcquisitionParams(1.0, 1.0, c=2.0), 3), 12).tolist()
    [1.0, 4.0, 9.0]
    """
    B, _, _, bad = _baseline_parts(params, n_periods, covariates)
    return np.where(bad[..., None], np.inf, B)


def _baseline_parts(
    params: AcquisitionParams, n_periods: int, covariates: ArrayLike | None
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """``B(t)``, the log-weights ``log(i^c - (i-1)^c)``, the log-multipliers ``beta'x(i)``
    and a flag for parameters so extreme that an increment would exceed ``exp(600)``.

    The weights are computed in log space, ``c log i + log(1 - ((i-1)/i)^c)``, so no
    power overflows; flagged entries of ``B`` are finite but meaningless.
    """
    i = np.arange(1, n_periods + 1, dtype=np.float64)
    log_ratio = np.concatenate([[-np.inf], np.log(i[1:] - 1.0) - np.log(i[1:])])
    c = np.asarray(params.c, dtype=np.float64)[..., None]
    log_w = c * np.log(i) + log1mexp(c * log_ratio)
    x = _covariate_matrix(covariates, n_periods)
    if x is None:
        lin = np.zeros_like(log_w)
    else:
        lin = np.einsum("tk,...k->...t", x, np.asarray(params.beta, dtype=np.float64))
    expo = log_w + lin
    bad = np.any(expo > _MAX_EXPONENT, axis=-1)
    B = np.cumsum(np.exp(np.minimum(expo, _MAX_EXPONENT)), axis=-1)
    return B, log_w, lin, bad


def log_survival(
    params: AcquisitionParams, n_periods: int, covariates: ArrayLike | None = None
) -> FloatArray:
    r"""Log-probability that an ever-acquirer is not yet acquired at the end of each period.

    .. math:: \log S(t) = \log(1 - F(t)) = -r \log\bigl(1 + B(t)/\alpha\bigr)

    Returns an array of shape ``(..., T)`` for :math:`t = 1, \dots, T`.

    Examples
    --------
    >>> np.round(log_survival(AcquisitionParams(r=1.0, alpha=1.0), 2), 4).tolist()
    [-0.6931, -1.0986]
    """
    B, _, _, bad = _baseline_parts(params, n_periods, covariates)
    r = np.asarray(params.r, dtype=np.float64)[..., None]
    alpha = np.asarray(params.alpha, dtype=np.float64)[..., None]
    same = np.isinf(r)  # no heterogeneity: every ever-acquirer has rate 1 / alpha
    out = np.where(same, -B / alpha, -np.where(same, 1.0, r) * np.log1p(B / alpha))
    return np.where(bad[..., None], np.nan, out)


def probability_acquired(
    params: AcquisitionParams, n_periods: int, covariates: ArrayLike | None = None
) -> FloatArray:
    r"""Probability :math:`F(t)` that an ever-acquirer is acquired by the end of period ``t``.

    [FHZ2003]_: :math:`F(t) = 1 - (\alpha / (\alpha + B(t)))^r`, for
    :math:`t = 1, \dots, T`. The share of the whole pool is :math:`p F(t)`.

    Examples
    --------
    >>> np.round(probability_acquired(AcquisitionParams(r=2.0, alpha=10.0), 3), 4).tolist()
    [0.1736, 0.3056, 0.4083]
    """
    return -np.expm1(log_survival(params, n_periods, covariates))


def _log_increments(log_s: FloatArray) -> FloatArray:
    """``log[F(t) - F(t-1)] = log S(t-1) + log(1 - S(t)/S(t-1))`` without cancellation."""
    prev = np.concatenate([np.zeros_like(log_s[..., :1]), log_s[..., :-1]], axis=-1)
    return prev + log1mexp(np.minimum(log_s - prev, 0.0))


def _n_log(n: FloatArray, log_x: FloatArray) -> FloatArray:
    """``n * log_x`` with ``0 * -inf = 0`` (a period of probability 0 without arrivals)."""
    finite = np.isfinite(log_x)
    return np.where(finite, n * np.where(finite, log_x, 0.0), np.where(n > 0, -np.inf, 0.0))


def expected_arrivals(
    params: AcquisitionParams, n_periods: int, covariates: ArrayLike | None = None
) -> FloatArray:
    r"""Expected new customers in each period, :math:`m\,[F(t) - F(t-1)]`, :math:`t = 1..T`.

    With a pool of :math:`N` prospects, :math:`m = N p`. The cumulative sum is
    :math:`m F(t)`, which tends to :math:`m` as :math:`t \to \infty`.

    Examples
    --------
    >>> p = AcquisitionParams(r=2.0, alpha=10.0, m=1000.0)
    >>> np.round(expected_arrivals(p, 3), 1).tolist()
    [173.6, 132.0, 102.7]
    """
    m = np.asarray(params.m, dtype=np.float64)[..., None]
    return m * np.exp(_log_increments(log_survival(params, n_periods, covariates)))


def log_likelihood(
    params: AcquisitionParams,
    counts: ArrayLike,
    *,
    pool_size: float | None = None,
    covariates: ArrayLike | None = None,
) -> FloatArray:
    r"""Log-likelihood contribution of each period's new-customer count.

    Without ``pool_size``: independent Poisson counts with means
    :math:`m\,\Delta F_t`. With ``pool_size`` :math:`N`: the multinomial
    likelihood of [FHZ2003]_ with :math:`p = m / N`; the term of the
    :math:`N - \sum_t n_t` prospects not acquired by the end,
    :math:`(N - \sum n)\log(1 - p F(T))`, and the multinomial coefficient are
    added to the last period. Summing over periods gives the full
    log-likelihood in both cases.

    Parameters
    ----------
    params : AcquisitionParams
        Parameters (broadcast over leading axes).
    counts : array_like, shape (T,)
        New customers in periods 1..T.
    pool_size : float, optional
        Number of prospects :math:`N` (>= the total count).
    covariates : array_like, shape (T, k), optional
        Covariates of periods 1..T.

    Returns
    -------
    numpy.ndarray
        Shape ``(..., T)``; ``-inf`` where the parameters are far outside any
        plausible range (see :func:`baseline`).

    Examples
    --------
    >>> p = AcquisitionParams(r=2.0, alpha=10.0, m=1000.0)
    >>> round(float(log_likelihood(p, [170, 130, 100]).sum()), 4)
    -10.1515
    >>> round(float(log_likelihood(p, [170, 130, 100], pool_size=5000).sum()), 4)
    -10.1173
    """
    n = np.asarray(counts, dtype=np.float64)
    T = n.shape[-1]
    log_s = log_survival(params, T, covariates)
    log_d = _log_increments(log_s)
    m = np.asarray(params.m, dtype=np.float64)[..., None]
    if pool_size is None:
        out = _n_log(n, np.log(m) + log_d) - m * np.exp(log_d) - special.gammaln(n + 1.0)
        return np.where(np.isnan(out), -np.inf, out)  # NaN: parameters flagged by the baseline
    N = float(pool_size)
    p = m[..., 0] / N
    rest = N - n.sum()
    out = _n_log(n, np.log(p)[..., None] + log_d) - special.gammaln(n + 1.0)
    # log(1 - p F(T)) = log((1 - p) + p S(T)); p = 1 only when everyone is acquired
    with np.errstate(divide="ignore"):  # p = 1 and S(T) = 0: nobody is left, log 0 = -inf
        log_never = np.log((1.0 - p) + p * np.exp(log_s[..., -1]))
    out[..., -1] += (
        special.gammaln(N + 1.0) - special.gammaln(rest + 1.0) + _n_log(np.asarray(rest), log_never)
    )
    return np.where(np.isnan(out), -np.inf, out)


def log_likelihood_gradient(
    params: AcquisitionParams,
    counts: ArrayLike,
    *,
    pool_size: float | None = None,
    covariates: ArrayLike | None = None,
) -> tuple[FloatArray, FloatArray]:
    r"""Per-period log-likelihood and its gradient w.r.t. ``(r, alpha, c, m, beta_1..beta_k)``.

    Scalar parameters only. With :math:`\ell_t = \log S(t)` and
    :math:`q_t = S(t)/S(t-1)`, the derivative of :math:`\log \Delta F_t` is
    :math:`(\partial \ell_{t-1} - q_t\,\partial \ell_t)/(1 - q_t)`, where
    :math:`\partial_r \ell_t = -\log(1 + B_t/\alpha)`,
    :math:`\partial_\alpha \ell_t = r B_t / (\alpha(\alpha + B_t))` and
    :math:`\partial_\theta \ell_t = -r\,\partial_\theta B_t / (\alpha + B_t)` for
    :math:`\theta = c, \beta_j`. Where the log-likelihood is not finite (parameters
    far outside the data's range) the gradient is returned as zeros.

    Returns
    -------
    ll : ndarray, shape (T,)
    grad : ndarray, shape (4 + k, T)
    """
    r, alpha, c, m = (float(v) for v in params[:4])
    n = np.asarray(counts, dtype=np.float64)
    T = n.shape[0]
    x = _covariate_matrix(covariates, T)
    k = 0 if x is None else x.shape[1]
    p0 = AcquisitionParams(r, alpha, c, m, np.asarray(params.beta, dtype=np.float64).reshape(k))
    ll = log_likelihood(p0, n, pool_size=pool_size, covariates=x)
    grad = np.zeros((4 + k, T))
    if not np.all(np.isfinite(ll)):
        return ll, grad
    B, log_w, lin, _ = _baseline_parts(p0, T, x)
    i = np.arange(1, T + 1, dtype=np.float64)
    ratio_c = np.concatenate([[0.0], ((i[1:] - 1.0) / i[1:]) ** c])  # ((i-1)/i)^c
    # d/dc [i^c - (i-1)^c] e^{beta'x} = i^c e^{beta'x} [log i - ((i-1)/i)^c log(i-1)]
    dw_dc_g = np.exp(c * np.log(i) + lin) * (np.log(i) - special.xlogy(ratio_c, i - 1.0))
    wg = np.exp(log_w + lin)
    d_ls = np.zeros((4 + k, T))
    if math.isinf(r):  # log S = -B / alpha
        log_s = -B / alpha
        d_ls[1] = B / alpha**2
        dls_dB = np.full(T, -1.0 / alpha)
    else:
        log_s = -r * np.log1p(B / alpha)
        d_ls[0] = -np.log1p(B / alpha)
        d_ls[1] = r * B / (alpha * (alpha + B))
        dls_dB = -r / (alpha + B)
    d_ls[2] = dls_dB * np.cumsum(dw_dc_g)
    if x is not None:
        d_ls[4:] = dls_dB * np.cumsum(wg[:, None] * x, axis=0).T
    prev = np.concatenate([[0.0], log_s[:-1]])
    one_minus_q = -np.expm1(log_s - prev)
    if np.any(one_minus_q <= 0):
        return np.full(T, -np.inf), grad
    d_prev = np.concatenate([np.zeros((4 + k, 1)), d_ls[:, :-1]], axis=1)
    d_log_d = (d_prev - (1.0 - one_minus_q) * d_ls) / one_minus_q
    if pool_size is None:
        delta = np.exp(_log_increments(log_s))
        grad[:] = (n - m * delta) * d_log_d
        grad[3] = n / m - delta
        return ll, grad
    N = float(pool_size)
    p = m / N
    rest = N - n.sum()
    grad[:] = n * d_log_d
    grad[3] = n / m
    s_T = math.exp(log_s[-1])
    never = (1.0 - p) + p * s_T
    grad[:, -1] += rest * p * s_T * d_ls[:, -1] / never
    grad[3, -1] -= rest * (1.0 - s_T) / N / never
    return ll, grad


def simulate(
    params: AcquisitionParams,
    n_periods: int,
    *,
    pool_size: int | None = None,
    covariates: ArrayLike | None = None,
    rng: np.random.Generator,
) -> dict[str, Any]:
    r"""Simulate each prospect's acquisition time; vectorised (no loop over prospects).

    With ``pool_size`` :math:`N`, each of the :math:`N` prospects is an
    ever-acquirer with probability :math:`p = m/N`; without it the number of
    ever-acquirers is Poisson(:math:`m`). Each ever-acquirer draws
    :math:`\lambda \sim \mathrm{Gamma}(r, \alpha)` and a unit exponential
    :math:`E`, and is acquired when :math:`\lambda B(t)` reaches :math:`E`;
    within a period the baseline is interpolated as :math:`t^c`.

    Parameters
    ----------
    params : AcquisitionParams
        Scalar parameters (``beta`` a vector when there are covariates).
    n_periods : int
        Number of periods :math:`T` of the window.
    pool_size : int, optional
        Number of prospects; requires ``m <= pool_size``.
    covariates : array_like, shape (T, k), optional
    rng : numpy.random.Generator

    Returns
    -------
    dict
        ``time`` (continuous acquisition time in periods; ``inf`` for
        never-acquirers, and for those acquired after ``T`` when there are
        covariates), ``period`` (1..T, or 0 if not acquired within the
        window), ``ever`` (bool), one entry per prospect (per ever-acquirer
        without a pool); and ``counts``, new customers per period (length T).

    Examples
    --------
    >>> sim = simulate(AcquisitionParams(2.0, 10.0, m=500.0), 4, rng=np.random.default_rng(1))
    >>> sim["counts"].shape, int(sim["counts"].sum()) <= len(sim["time"])
    ((4,), True)
    """
    r, alpha, c, m = (float(v) for v in params[:4])
    x = _covariate_matrix(covariates, n_periods)
    if pool_size is None:
        n_ever = int(rng.poisson(m))
        ever = np.ones(n_ever, dtype=bool)
    else:
        p = m / float(pool_size)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"m = {m} must be between 0 and pool_size = {pool_size}.")
        ever = rng.random(int(pool_size)) < p
        n_ever = int(ever.sum())
    lam = np.full(n_ever, 1.0 / alpha) if math.isinf(r) else rng.gamma(r, 1.0 / alpha, size=n_ever)
    with np.errstate(divide="ignore"):  # a rate that underflows to 0 is never acquired
        tau = rng.standard_exponential(n_ever) / lam  # the baseline B(t) at acquisition
    beta = np.asarray(params.beta, dtype=np.float64).reshape(0 if x is None else x.shape[1])
    B, _, lin, _ = _baseline_parts(AcquisitionParams(r, alpha, c, m, beta), n_periods, x)
    g = np.exp(lin)
    B0 = np.concatenate([[0.0], B])
    period = np.searchsorted(B0, tau, side="left")  # B(k-1) < tau <= B(k)
    period = np.maximum(period, 1)
    inside = period <= n_periods
    time = np.full(n_ever, np.inf)
    k = period[inside]
    time[inside] = ((k - 1.0) ** c + (tau[inside] - B0[k - 1]) / g[k - 1]) ** (1.0 / c)
    if x is None:
        time[~inside] = tau[~inside] ** (1.0 / c)
    out_time = np.full(ever.shape[0], np.inf)
    out_period = np.zeros(ever.shape[0], dtype=np.int64)
    out_time[ever] = time
    out_period[ever] = np.where(inside, period, 0)
    counts = np.bincount(out_period, minlength=n_periods + 1)[1:]
    return {"time": out_time, "period": out_period, "ever": ever, "counts": counts}


def future_arrivals(
    params: AcquisitionParams,
    n_observed: int,
    n_periods: int,
    *,
    observed: float,
    pool_size: float | None = None,
    covariates: ArrayLike | None = None,
    noise: bool = True,
    rng: np.random.Generator | None = None,
) -> FloatArray | NDArray[np.int64]:
    r"""New customers in periods ``n_observed + 1 .. n_periods``, given the calibration arrivals.

    Per parameter draw (leading axis of ``params``): without a pool, Poisson
    counts with means :math:`m\,\Delta F_t`; with a pool of :math:`N`
    prospects, of whom ``observed`` were acquired by period :math:`T` =
    ``n_observed``, a multinomial split of the :math:`N - \text{observed}`
    left, each acquired in period :math:`t > T` with probability
    :math:`p\,\Delta F_t / (1 - p F(T))`. ``noise=False`` returns the
    expected counts instead.

    Returns
    -------
    numpy.ndarray
        Shape ``(draws, n_periods - n_observed)``: whole counts (int64) with
        ``noise``, expected counts (float64) without.

    Examples
    --------
    >>> p = AcquisitionParams(np.array([2.0]), np.array([10.0]), m=np.array([1000.0]))
    >>> np.round(future_arrivals(p, 2, 3, observed=300.0, noise=False), 1).tolist()
    [[102.7]]
    """
    if noise and rng is None:
        raise ValueError("noise=True draws random arrivals: pass rng= (a numpy Generator).")
    T = int(n_observed)
    log_s = log_survival(params, int(n_periods), covariates)
    incr = np.exp(_log_increments(log_s))[:, T:]
    m = np.asarray(params.m, dtype=np.float64).reshape(-1, 1)
    if pool_size is None:
        mean = m * incr
        return rng.poisson(mean) if noise and rng is not None else mean
    pool = float(pool_size)
    share = m / pool
    left = pool - float(observed)
    probs = share * incr / ((1.0 - share) + share * np.exp(log_s[:, T - 1 : T]))
    if not noise or rng is None:  # rng is given whenever noise is (checked above)
        return left * probs
    rest = np.clip(1.0 - probs.sum(axis=1, keepdims=True), 0.0, 1.0)
    pvals = np.concatenate([probs, rest], axis=1)
    pvals /= pvals.sum(axis=1, keepdims=True)
    return rng.multinomial(round(left), pvals)[:, :-1]
