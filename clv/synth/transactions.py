"""Transaction-log simulators for the repeat-purchase models (every purchase, not only RFM).

``clv.models.<model>.simulate`` draws RFM summaries directly; the functions
here draw the full purchase history, so a test can cut it anywhere: summarise
the first ``T`` periods and compare a model's predictions with what the same
customers did afterwards (the Monte Carlo checks of
:mod:`clv.models.conditional` and :mod:`clv.models.tracking`).

- :func:`simulate_purchase_times` -- continuous time (BG/NBD, MBG/NBD,
  Pareto/NBD, NBD, MBG/CNBD-k, BG/CNBD-k): purchase times since each
  customer's first purchase, in periods, with the latent rates and the time
  of dropout.
- :func:`simulate_opportunities` -- discrete time (BG/BB): the opportunities
  with a transaction.
- :func:`simulate_transaction_log` -- a dated log (``customer_id``, ``date``)
  with staggered first purchases, ready for :func:`clv.data.rfm_summary`.

Vectorised over customers (one loop step per purchase *rank*, not per
customer); deterministic for a given ``numpy.random.Generator``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from clv._typing import FloatArray

__all__ = [
    "litt_from_purchase_times",
    "rfm_from_purchase_times",
    "simulate_opportunities",
    "simulate_purchase_times",
    "simulate_transaction_log",
]

_MODELS = ("bgnbd", "mbgnbd", "pareto_nbd", "nbd", "mbgcnbd", "bgcnbd")
_PERIOD = {"h": pd.Timedelta(hours=1), "D": pd.Timedelta(days=1), "W": pd.Timedelta(weeks=1)}


def simulate_purchase_times(
    model: str, params: Any, horizon: ArrayLike, *, rng: np.random.Generator
) -> dict[str, Any]:
    """Repeat-purchase times of each customer in ``(0, horizon]`` (first purchase at 0).

    Parameters
    ----------
    model : {"bgnbd", "mbgnbd", "pareto_nbd", "nbd", "mbgcnbd", "bgcnbd"}
        BG/NBD: after each repeat purchase the customer drops out with
        probability :math:`p`. MBG/NBD: also right after the first purchase.
        Pareto/NBD: the lifetime is exponential with rate :math:`\\mu`.
        NBD: no dropout. MBG/CNBD-k and BG/CNBD-k: as MBG/NBD and BG/NBD, with
        Erlang-k inter-purchase times (sum of ``k`` exponentials of rate
        :math:`\\lambda`).
    params : NamedTuple
        ``(r, alpha, a, b)``, ``(r, alpha, s, beta)``, ``(r, alpha)`` (NBD) or
        ``(k, r, alpha, a, b)`` (CNBD-k), scalars.
    horizon : array_like
        How long to follow each customer, in periods (one entry per customer).
    rng : numpy.random.Generator

    Returns
    -------
    dict
        ``customer`` (int index of each purchase), ``time`` (its time since
        the customer's first purchase), sorted by customer then time;
        ``lambda`` and ``p`` (or ``mu``) per customer; ``death`` (time of
        dropout, ``inf`` if never; for the BG family the time of the purchase
        after which the customer dropped out, 0 for an MBG/NBD dropout at the
        first purchase).

    Examples
    --------
    >>> from clv.models.bgnbd import BGNBDParams
    >>> sim = simulate_purchase_times("bgnbd", BGNBDParams(0.5, 5.0, 0.8, 2.5),
    ...                               np.full(3, 52.0), rng=np.random.default_rng(0))
    >>> bool(np.all(np.diff(sim["customer"]) >= 0)), bool(np.all(sim["time"] <= 52.0))
    (True, True)
    """
    if model not in _MODELS:
        raise ValueError(f"model must be one of {_MODELS}, got {model!r}.")
    horizon = np.asarray(horizon, dtype=np.float64)
    n = horizon.shape[0]
    k = 1
    if model == "nbd":
        r, alpha = (float(v) for v in params)
        c = d = 1.0
    elif model in ("mbgcnbd", "bgcnbd"):
        k = int(params[0])
        r, alpha, c, d = (float(v) for v in params[1:])
    else:
        r, alpha, c, d = (float(v) for v in params)
    lam = np.asarray(rng.gamma(r, 1.0 / alpha, size=n), dtype=np.float64)
    out: dict[str, Any] = {"lambda": lam}
    death = np.full(n, np.inf)
    p = np.zeros(n)  # dropout probability (BG family)
    dropout = model not in ("pareto_nbd", "nbd")
    if model == "nbd":
        active = np.arange(n)
    elif model == "pareto_nbd":
        mu = rng.gamma(c, 1.0 / d, size=n)
        out["mu"] = mu
        death = np.divide(rng.standard_exponential(n), mu, out=np.full(n, np.inf), where=mu > 0)
        active = np.arange(n)
    else:
        p = np.asarray(rng.beta(c, d, size=n), dtype=np.float64)
        out["p"] = p
        if model in ("mbgnbd", "mbgcnbd"):
            dead0 = rng.random(n) < p
            death[dead0] = 0.0
            active = np.flatnonzero(~dead0)
        else:
            active = np.arange(n)
    clock = np.zeros(n)
    customers: list[np.ndarray] = []
    times: list[np.ndarray] = []
    while active.size:
        with np.errstate(divide="ignore"):  # a rate of 0 never buys
            if k == 1:
                gaps = rng.standard_exponential(active.size)
            else:
                gaps = rng.standard_gamma(float(k), active.size)
            clock[active] += gaps / lam[active]
        ok = (clock[active] <= horizon[active]) & (clock[active] < death[active])
        active = active[ok]
        customers.append(active)
        times.append(clock[active].copy())
        if dropout:
            drop = rng.random(active.size) < p[active]
            death[active[drop]] = clock[active[drop]]
            active = active[~drop]
    customer = np.concatenate(customers) if customers else np.zeros(0, dtype=np.int64)
    time = np.concatenate(times) if times else np.zeros(0)
    order = np.lexsort((time, customer))
    out.update(customer=customer[order], time=time[order], death=death)
    return out


def rfm_from_purchase_times(
    customer: ArrayLike, time: ArrayLike, T: ArrayLike
) -> dict[str, FloatArray]:
    """``frequency``, ``recency`` of each customer from the purchases in ``(0, T]``.

    Examples
    --------
    >>> rfm_from_purchase_times([0, 0, 1], [1.0, 3.0, 9.0], [5.0, 5.0])
    {'frequency': array([2., 0.]), 'recency': array([3., 0.]), 'T': array([5., 5.])}
    """
    customer = np.asarray(customer, dtype=np.int64)
    time = np.asarray(time, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    seen = time <= T[customer]
    frequency = np.bincount(customer[seen], minlength=T.shape[0]).astype(np.float64)
    recency = np.zeros(T.shape[0])
    np.maximum.at(recency, customer[seen], time[seen])
    return {"frequency": frequency, "recency": recency, "T": T.copy()}


def litt_from_purchase_times(
    customer: ArrayLike, time: ArrayLike, T: ArrayLike
) -> FloatArray:
    """Sum of the log inter-purchase times of each customer in ``(0, T]`` (``litt``).

    The first gap runs from the first purchase (time 0); the statistic of the
    CNBD-k likelihoods (:mod:`clv.models.cnbd`), 0 without repeat purchases.

    Examples
    --------
    >>> litt_from_purchase_times([0, 0, 1], [1.0, 3.0, 9.0], [5.0, 5.0]).round(6).tolist()
    [0.693147, 0.0]
    """
    who = np.asarray(customer, dtype=np.int64)
    when = np.asarray(time, dtype=np.float64)
    ages = np.asarray(T, dtype=np.float64)
    seen = when <= ages[who]
    who, when = who[seen], when[seen]
    order = np.lexsort((when, who))
    who, when = who[order], when[order]
    first = np.r_[True, who[1:] != who[:-1]] if who.size else np.zeros(0, dtype=bool)
    previous = np.where(first, 0.0, np.r_[0.0, when[:-1]])
    total = np.bincount(who, weights=np.log(when - previous), minlength=ages.shape[0])
    return np.asarray(total, dtype=np.float64)


def simulate_opportunities(
    params: Any, n_opportunities: int, n_customers: int, *, rng: np.random.Generator
) -> dict[str, Any]:
    """BG/BB histories: which of opportunities ``1..n_opportunities`` had a transaction.

    At the start of each opportunity an alive customer drops out with
    probability :math:`\\theta`; if still alive they transact with probability
    :math:`p` ([FHS2010]_ of :mod:`clv.models.bgbb`).

    Returns
    -------
    dict
        ``transactions``: bool array ``(n_customers, n_opportunities)``;
        ``alive``: bool array of the same shape (alive at each opportunity);
        latent ``p`` and ``theta``.

    Examples
    --------
    >>> from clv.models.bgbb import BGBBParams
    >>> sim = simulate_opportunities(BGBBParams(1.2, 0.75, 0.66, 2.8), 6, 4,
    ...                              rng=np.random.default_rng(0))
    >>> sim["transactions"].shape, bool(np.all(sim["transactions"] <= sim["alive"]))
    ((4, 6), True)
    """
    alpha, beta, gamma, delta = (float(v) for v in params)
    p = rng.beta(alpha, beta, size=n_customers)
    theta = rng.beta(gamma, delta, size=n_customers)
    survive = rng.random((n_customers, n_opportunities)) >= theta[:, None]
    alive = np.cumprod(survive, axis=1).astype(bool)
    buy = alive & (rng.random((n_customers, n_opportunities)) < p[:, None])
    return {"transactions": buy, "alive": alive, "p": p, "theta": theta}


def simulate_transaction_log(
    model: str, params: Any, n_customers: int, *, acquisition_periods: float,
    observation_periods: float, time_unit: str = "D", start: str = "2024-01-01",
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, dict[str, Any]]:  # fmt: skip
    """A dated transaction log: first purchases spread over an acquisition window.

    Parameters
    ----------
    model, params
        As in :func:`simulate_purchase_times`.
    n_customers : int
        Number of customers.
    acquisition_periods : float
        First purchases are uniform on ``[0, acquisition_periods)`` periods after ``start``.
    observation_periods : float
        The log ends ``observation_periods`` after ``start``.
    time_unit : {"h", "D", "W"}
        Length of a period (fixed-length units only).
    start : str
        Date of period 0.
    rng : numpy.random.Generator

    Returns
    -------
    log : DataFrame
        ``customer_id``, ``date`` (first purchases included), sorted by date.
    truth : dict
        ``birth`` (periods after ``start``), the latent rates and ``death``
        (periods after the customer's first purchase) of
        :func:`simulate_purchase_times`.

    Examples
    --------
    >>> from clv.models.pareto_nbd import PNBDParams
    >>> log, truth = simulate_transaction_log(
    ...     "pareto_nbd", PNBDParams(0.55, 10.6, 0.61, 11.7), 100, acquisition_periods=12,
    ...     observation_periods=39, time_unit="W", rng=np.random.default_rng(0))
    >>> int(log["customer_id"].nunique()), bool(log["date"].max() < pd.Timestamp("2024-09-30"))
    (100, True)
    """
    if time_unit not in _PERIOD:
        raise ValueError(
            f"time_unit must be one of {list(_PERIOD)} (fixed-length periods), got {time_unit!r}."
        )
    if not 0 < acquisition_periods <= observation_periods:
        raise ValueError("need 0 < acquisition_periods <= observation_periods.")
    birth = rng.uniform(0.0, acquisition_periods, size=int(n_customers))
    sim = simulate_purchase_times(model, params, observation_periods - birth, rng=rng)
    ids = np.concatenate([np.arange(n_customers), sim["customer"]])
    offsets = np.concatenate([birth, birth[sim["customer"]] + sim["time"]])
    dates = pd.Timestamp(start) + pd.to_timedelta(offsets * _PERIOD[time_unit].value, unit="ns")
    log = (
        pd.DataFrame({"customer_id": ids, "date": dates})
        .sort_values(["date", "customer_id"], kind="stable")
        .reset_index(drop=True)
    )
    truth = {k: v for k, v in sim.items() if k not in ("customer", "time")}
    truth["birth"] = birth
    return log, truth
