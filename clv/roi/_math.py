r"""Pure functions of the counterfactual engine: "shift the future, not the past".

Pareto/NBD with customer-level rates (Fader & Hardie 2007 covariates):
purchase rate :math:`\lambda_i` and dropout rate :math:`\mu_i`.  Given the
history :math:`(x, t_x, T)` and alive at :math:`T`,
:math:`\lambda_i \sim \mathrm{Gamma}(r + x, \alpha_i + T)` and
:math:`\mu_i \sim \mathrm{Gamma}(s, \beta_i + T)`, independently.  An
investment multiplies the *future* rates, period by period, by
:math:`m^\lambda_{ik} = e^{\gamma_P^\top \Delta x_i\,\rho_k}` and
:math:`m^\mu_{ik} = e^{\gamma_D^\top \Delta x_i\,\rho_k}` (:math:`\rho_k` the
ramp-up/duration profile).  The posterior of each customer stays conditioned on
what actually happened.  With :math:`B = \beta_i + T` and
:math:`M(u) = \int_0^u m^\mu` the expected purchases in future period
:math:`k` (the interval :math:`(T+k-1, T+k]`) are

.. math::

   E_k = P(\text{alive})\,\frac{r+x}{\alpha_i+T}\, m^\lambda_{k}
         \int_{k-1}^{k}\Bigl(\frac{B}{B + M(u)}\Bigr)^{s} du
       = P(\text{alive})\,\frac{r+x}{\alpha_i+T}\, m^\lambda_{k}\,
         \frac{B}{m^\mu_k}\, e^{(1-s)y_{k-1}}\,
         \frac{e^{(1-s)(y_k - y_{k-1})} - 1}{1-s}

with :math:`y_k = \log(1 + M_k/B)`, evaluated with ``expm1`` so that
:math:`s \to 1` is continuous.  Without a shift the sum over :math:`k \le t`
is the model's ``expected_purchases(t)`` exactly.
"""

from __future__ import annotations

from itertools import combinations
from math import factorial
from typing import NamedTuple

import numpy as np

from clv._typing import FloatArray

__all__ = [
    "SurvivalRuns",
    "cumulative_discounted",
    "period_survival_integrals",
    "discount_factors",
    "payback_period",
    "period_purchase_integrals",
    "profile_runs",
    "ramp_profile",
    "run_period_sums",
    "survival_runs",
    "shapley_weights",
]


def ramp_profile(
    horizon: int, *, ramp_periods: int = 0, duration: int | None = None, start: int = 1
) -> FloatArray:
    """Share of the full effect in force in each future period ``1..horizon``.

    Linear ramp-up over ``ramp_periods`` periods starting at period ``start``
    (the first period reaches ``1 / ramp_periods``), full effect afterwards, and
    nothing after ``duration`` periods of effect (counted from ``start``).

    Examples
    --------
    >>> ramp_profile(6, ramp_periods=3, duration=4).round(3).tolist()
    [0.333, 0.667, 1.0, 1.0, 0.0, 0.0]
    >>> ramp_profile(3).tolist()
    [1.0, 1.0, 1.0]
    """
    k = np.arange(1, horizon + 1, dtype=np.float64) - (start - 1)
    prof = np.ones(horizon) if ramp_periods <= 0 else np.clip(k / ramp_periods, 0.0, 1.0)
    prof = np.where(k >= 1, prof, 0.0)
    if duration is not None:
        prof = np.where(k <= duration, prof, 0.0)
    return prof


def discount_factors(horizon: int, discount_rate: float) -> FloatArray:
    """End-of-period discount factors :math:`(1+d)^{-k}`, ``k = 1..horizon``.

    Examples
    --------
    >>> discount_factors(2, 0.1).round(4).tolist()
    [0.9091, 0.8264]
    """
    k = np.arange(1, horizon + 1, dtype=np.float64)
    return np.exp(-k * np.log1p(discount_rate))


def _expm1_over(z: FloatArray, d: FloatArray) -> FloatArray:
    """:math:`(e^{z d} - 1)/z`, equal to ``d`` in the limit ``z → 0``."""
    zd = z * d
    small = np.abs(z) < 1e-12
    safe = np.where(small, 1.0, z)
    return np.where(small, d * (1.0 + 0.5 * zd), np.expm1(zd) / safe)


def period_purchase_integrals(
    s: float | FloatArray,
    base: FloatArray,
    dropout_multiplier: FloatArray | None,
    horizon: int,
    step: float = 1.0,
) -> FloatArray:
    r"""Per-period :math:`\int_{k-1}^{k} (B/(B+M(u)))^s du` for each customer.

    Parameters
    ----------
    s : float or array
        Dropout-rate shape (per customer or common).
    base : array, shape (n,)
        :math:`B = \beta_i + T_i`.
    dropout_multiplier : array, shape (n, horizon) or None
        :math:`m^\mu_{ik}`; ``None`` means no shift (all ones).
    horizon : int
        Number of future periods.
    step : float, default 1.0
        Length of a period in the time unit of ``base`` (e.g. 7 for weekly
        periods of a model fitted in days).

    Returns
    -------
    array, shape (n, horizon)

    Examples
    --------
    >>> out = period_purchase_integrals(0.6, np.array([50.0]), None, 3)
    >>> bool(np.all(np.diff(out[0]) < 0))  # later periods: more customers have dropped out
    True
    """
    b = np.asarray(base, dtype=np.float64)[:, None]
    z = 1.0 - np.asarray(s, dtype=np.float64)
    z = z[:, None] if z.ndim == 1 else z
    if dropout_multiplier is None:
        m = np.ones((b.shape[0], horizon))
        cum = np.broadcast_to(step * np.arange(1.0, horizon + 1.0), m.shape)
    else:
        m = np.asarray(dropout_multiplier, dtype=np.float64)
        cum = step * np.cumsum(m, axis=1)
    y = np.log1p(cum / b)
    if np.all(np.abs(z) > 1e-3):
        # difference of e^{(1-s) y}: no cancellation problem while |1 - s| is not tiny
        e = np.exp(z * y)
        e0 = np.concatenate([np.ones((b.shape[0], 1)), e[:, :-1]], axis=1)
        return b / m * (e - e0) / z
    y0 = np.concatenate([np.zeros((b.shape[0], 1)), y[:, :-1]], axis=1)
    # B/m * e^{(1-s) y0} * expm1((1-s)(y1-y0)) / (1-s), continuous at s = 1
    return b / m * np.exp(z * y0) * _expm1_over(z, y - y0)


def period_survival_integrals(
    mu: FloatArray, dropout_multiplier: FloatArray | None, horizon: int, step: float = 1.0
) -> FloatArray:
    r"""Per-period :math:`\int_{k-1}^{k} e^{-\mu M(u)} du` for known dropout rates :math:`\mu_i`.

    The time a customer alive now is expected to stay alive within each future
    period, with :math:`M(u) = \int_0^u m^\mu`; per period
    :math:`e^{-\mu M_{k-1}}(1 - e^{-\mu m_k L})/(\mu m_k)` with ``L = step``.

    Examples
    --------
    >>> out = period_survival_integrals(np.array([0.0, 0.1]), None, 2)
    >>> out.round(4).tolist()
    [[1.0, 1.0], [0.9516, 0.8611]]
    """
    mu_ = np.asarray(mu, dtype=np.float64)[:, None]
    if dropout_multiplier is None:
        m = np.ones((mu_.shape[0], horizon))
    else:
        m = np.asarray(dropout_multiplier, dtype=np.float64)
    rate = mu_ * m * step
    cum = np.cumsum(rate, axis=1)
    before = np.concatenate([np.zeros((mu_.shape[0], 1)), cum[:, :-1]], axis=1)
    small = rate < 1e-10
    frac = np.where(small, 1.0 - 0.5 * rate, -np.expm1(-rate) / np.where(small, 1.0, rate))
    return step * np.exp(-before) * frac


def profile_runs(profiles: FloatArray) -> tuple[np.ndarray, np.ndarray]:
    """Runs of consecutive periods in which every effect profile stays the same.

    Parameters
    ----------
    profiles : array, shape (units, horizon)
        Share of each unit's effect in force per period (:func:`ramp_profile`).

    Returns
    -------
    starts, lengths : int arrays, shape (runs,)
        First period (0-based) and number of periods of each run.

    Examples
    --------
    >>> starts, lengths = profile_runs(ramp_profile(6, ramp_periods=2, duration=4)[None, :])
    >>> starts.tolist(), lengths.tolist()
    ([0, 1, 4], [1, 3, 2])
    """
    prof = np.asarray(profiles, dtype=np.float64)
    horizon = prof.shape[1]
    change = np.ones(horizon, dtype=bool)
    if prof.shape[0]:
        change[1:] = np.any(prof[:, 1:] != prof[:, :-1], axis=0)
    else:
        change[1:] = False
    starts = np.flatnonzero(change)
    return starts, np.diff(np.append(starts, horizon))


class SurvivalRuns(NamedTuple):
    r"""Survival of customers with known dropout rates over runs of periods, layout (runs, n).

    In period ``t`` (0-based) of run ``r`` the time alive is
    ``step * start[r] * factor[r]**t * frac[r]`` (:func:`survival_runs`).
    """

    start: FloatArray  # survival up to the run's first period
    factor: FloatArray  # survival over one period of the run, e^{-rate}
    frac: FloatArray  # expected share of a period lived by a customer alive at its start
    rate: FloatArray  # dropout hazard integrated over one period of the run
    decay: FloatArray  # expm1(-rate) = factor - 1, to full relative precision


def survival_runs(
    mu: FloatArray,
    log_multiplier: FloatArray | None,
    lengths: np.ndarray,
    step: float = 1.0,
) -> SurvivalRuns:
    r"""Closed form of :func:`period_survival_integrals` over runs of constant dropout multiplier.

    Within a run the multiplier :math:`m_r` is constant, so the per-period
    integral is geometric: in the run's ``t``-th period it is
    :math:`L\,S_r\,q_r^{t}\,(1 - q_r)/(\mu m_r L)` with :math:`q_r = e^{-\mu m_r L}`
    (``L = step``) and :math:`S_r` the survival up to the run's start.

    Parameters
    ----------
    mu : array, shape (n,)
        Dropout rates per unit of time.
    log_multiplier : array, shape (runs, n) or None
        Log of the dropout multiplier in each run; None: no shift.
    lengths : int array, shape (runs,)
        Periods per run (:func:`profile_runs`).
    step : float, default 1.0
        Length of a period.

    Returns
    -------
    SurvivalRuns
        Arrays of shape (runs, n).

    Examples
    --------
    >>> mu = np.array([0.0, 0.1])
    >>> runs = survival_runs(mu, None, np.array([2]))
    >>> bool(np.allclose(run_period_sums([runs.start * runs.frac], [runs.factor],
    ...                                  np.array([2])), period_survival_integrals(mu, None,
    ...                                  2).sum(axis=0)))
    True
    """
    mu_ = np.asarray(mu, dtype=np.float64)
    n_runs = len(lengths)
    rate = mu_ * 1.0 * step if log_multiplier is None else mu_ * np.exp(log_multiplier) * step
    decay = np.expm1(-rate)
    factor = 1.0 + decay  # e^{-rate} from the one transcendental call
    small = rate < 1e-10
    frac = np.where(small, 1.0 - 0.5 * rate, -decay / np.where(small, 1.0, rate))
    if log_multiplier is None:  # the same in every run: (n,) broadcast to (runs, n)
        before = np.asarray(np.cumsum(np.concatenate([[0], lengths[:-1]])), dtype=np.float64)
        start = np.exp(-before[:, None] * rate[None, :])
        shape = (n_runs, mu_.size)
        rate, factor, frac, decay = (np.broadcast_to(v, shape) for v in (rate, factor, frac, decay))
    else:
        spans = rate * np.asarray(lengths, dtype=np.float64)[:, None]
        start = np.ones_like(rate)
        if n_runs > 1:
            start[1:] = np.exp(-np.cumsum(spans[:-1], axis=0))
    return SurvivalRuns(start, factor, frac, rate, decay)


def discounted_run_sums(
    runs: SurvivalRuns, starts: np.ndarray, lengths: np.ndarray, discount_rate: float, step: float
) -> FloatArray:
    r"""Discounted time alive within each run: :math:`\sum_{k \in r} (1+d)^{-k} j_k`, (runs, n).

    The geometric sum in closed form, :math:`\delta^{k_0} (1 - (\delta q)^{L})/(1 - \delta q)`
    (``L`` periods from period :math:`k_0`), continuous where :math:`\delta q = 1`.
    """
    log_d = float(np.log1p(discount_rate))
    y = -(log_d + runs.rate)  # log of discount x survival per period, <= 0
    length = np.asarray(lengths, dtype=np.float64)[:, None]
    # expm1(y) = (delta - 1) + delta (q - 1): two terms <= 0, so no cancellation
    delta = float(np.exp(-log_d))
    step_down = float(np.expm1(-log_d)) + delta * runs.decay
    flat = step_down == 0.0
    geo = np.where(flat, length, np.expm1(length * y) / np.where(flat, -1.0, step_down))
    first = np.exp(-(np.asarray(starts, dtype=np.float64) + 1.0) * log_d)[:, None]
    return step * runs.start * runs.frac * first * geo


def run_period_sums(
    coefs: list[FloatArray], factors: list[FloatArray], lengths: np.ndarray
) -> FloatArray:
    r"""Per period :math:`\sum_i \sum_j a_{j,ir}\, q_{j,ir}^{t}` over customers ``i``, (horizon,).

    ``coefs`` and ``factors`` are lists of (runs, n) arrays (terms ``j`` added, e.g. a
    shifted and a baseline flow with opposite signs); ``t`` counts the periods within
    each run.
    """
    out = np.empty(int(np.sum(lengths)))
    k = 0
    for r, length in enumerate(np.asarray(lengths).tolist()):
        shared = all(f is factors[0] for f in factors)
        if shared:  # one geometric factor: add the coefficients once
            terms = [np.add.reduce([a[r] for a in coefs]) if len(coefs) > 1 else coefs[0][r].copy()]
            qs = [factors[0][r]]
        else:
            terms = [a[r].copy() for a in coefs]
            qs = [f[r] for f in factors]
        for t in range(length):
            out[k] = sum(float(np.add.reduce(v)) for v in terms)
            k += 1
            if t + 1 < length:
                for v, q in zip(terms, qs, strict=True):
                    v *= q
    return out


def cumulative_discounted(
    flows: FloatArray, upfront: FloatArray, discount_rate: float
) -> FloatArray:
    """Cumulative discounted net cash flow after each period.

    Parameters
    ----------
    flows : array, shape (..., horizon)
        Net cash flow of periods ``1..horizon`` (gains minus costs of those periods).
    upfront : array, shape (...)
        Net cash flow at time 0 (e.g. minus a one-off cost), undiscounted.
    discount_rate : float
        Per period.

    Examples
    --------
    >>> cumulative_discounted(np.array([60.0, 60.0]), np.array(-100.0), 0.0).tolist()
    [-40.0, 20.0]
    """
    f = np.asarray(flows, dtype=np.float64) * discount_factors(np.shape(flows)[-1], discount_rate)
    return np.cumsum(f, axis=-1) + np.asarray(upfront, dtype=np.float64)[..., None]


def payback_period(cumulative: FloatArray) -> FloatArray:
    """First period from which the cumulative discounted net cash flow stays >= 0.

    ``inf`` when it is negative at the end of the horizon. A flow that turns
    positive and later negative again (e.g. acquisitions pulled forward from a
    finite pool of prospects) has not paid back.

    Examples
    --------
    >>> payback_period(np.array([[-40.0, 20.0], [-5.0, -1.0]])).tolist()
    [2.0, inf]
    >>> payback_period(np.array([[-1.0, 2.0, -3.0], [-1.0, 2.0, 3.0]])).tolist()
    [inf, 2.0]
    """
    c = np.asarray(cumulative, dtype=np.float64)
    negative = c < 0
    # index of the last negative period (-1 if none); payback is the period after it
    last_negative = c.shape[-1] - 1 - np.argmax(negative[..., ::-1], axis=-1)
    last_negative = np.where(negative.any(axis=-1), last_negative, -1)
    return np.where(negative[..., -1], np.inf, last_negative + 2.0)


def shapley_weights(n_players: int) -> dict[tuple[int, frozenset[int]], float]:
    """Weights of the exact Shapley value: ``{(player, coalition_without_player): weight}``.

    The Shapley value of player ``j`` is
    :math:`\\sum_{S \\not\\ni j} \\frac{|S|!(n-|S|-1)!}{n!}[v(S \\cup j) - v(S)]`.

    Examples
    --------
    >>> w = shapley_weights(2)
    >>> w[(0, frozenset())], w[(0, frozenset({1}))]
    (0.5, 0.5)
    """
    out: dict[tuple[int, frozenset[int]], float] = {}
    players = range(n_players)
    for j in players:
        others = [p for p in players if p != j]
        for size in range(n_players):
            weight = factorial(size) * factorial(n_players - size - 1) / factorial(n_players)
            for coalition in combinations(others, size):
                out[(j, frozenset(coalition))] = weight
    return out
