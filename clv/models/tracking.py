"""Tracking curves: expected cumulative and incremental repeat transactions of a cohort.

A cohort of customers who made their first purchase at times :math:`s_i`
(periods, possibly fractional) is expected to have made

.. math:: C(t) = \\sum_i w_i\\, E[X(t - s_i)]\\, \\delta_{t > s_i}

repeat purchases by time :math:`t`, with :math:`E[X(\\cdot)]` a model's
expected purchases of a new customer (BG/NBD eq. 9, ...). This is the
"cumulative tracking" plot of Fader, Hardie & Lee's notes and of BTYD's
``*.ExpectedCumulativeTransactions``; the incremental curve is its first
difference. Pure functions, usable with any model's
``expected_purchases_new_customer``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from clv._typing import FloatArray

__all__ = ["expected_cumulative_transactions", "expected_incremental_transactions"]


def expected_cumulative_transactions(
    expected_purchases_new_customer: Callable[[FloatArray], Any],
    first_purchase_times: ArrayLike,
    times: ArrayLike,
    weights: ArrayLike | None = None,
) -> FloatArray:
    """Expected cumulative repeat transactions of a cohort at each of ``times``.

    Parameters
    ----------
    expected_purchases_new_customer : callable
        ``f(t) -> E[X(t)]`` for an array of ages ``t`` (e.g.
        ``lambda t: bgnbd.expected_purchases_new_customer(params, t)``).
    first_purchase_times : array_like
        Time of each customer's (or group's) first purchase, in periods.
    times : array_like
        Calendar times at which to evaluate the curve, same origin and unit.
    weights : array_like, optional
        Number of customers per entry of ``first_purchase_times`` (default 1).

    Returns
    -------
    numpy.ndarray
        :math:`C(t)` for each entry of ``times``. The function of age is
        evaluated once per distinct age.

    Examples
    --------
    >>> from clv.models import bgnbd
    >>> p = bgnbd.BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
    >>> f = lambda t: bgnbd.expected_purchases_new_customer(p, t)
    >>> c = expected_cumulative_transactions(f, [0.0, 0.0, 10.0], [5.0, 20.0])
    >>> bool(np.isclose(c[0], 2 * f(5.0))), bool(np.isclose(c[1], 2 * f(20.0) + f(10.0)))
    (True, True)
    """
    s = np.asarray(first_purchase_times, dtype=np.float64).ravel()
    t = np.asarray(times, dtype=np.float64).ravel()
    w = np.ones_like(s) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if w.shape != s.shape:
        raise ValueError("weights must have one entry per first purchase time.")
    ages = t[:, None] - s[None, :]
    positive = ages > 0
    if not positive.any():
        return np.zeros(t.shape)
    distinct, inverse = np.unique(ages[positive], return_inverse=True)
    values = np.zeros(ages.shape)
    values[positive] = np.asarray(expected_purchases_new_customer(distinct), dtype=np.float64)[
        inverse.ravel()
    ]
    return values @ w


def expected_incremental_transactions(
    expected_purchases_new_customer: Callable[[FloatArray], Any],
    first_purchase_times: ArrayLike,
    times: ArrayLike,
    weights: ArrayLike | None = None,
) -> FloatArray:
    """Expected repeat transactions in each interval ``(times[k-1], times[k]]``.

    The first interval starts at the earliest first purchase (where the
    cumulative curve is 0). Arguments as in :func:`expected_cumulative_transactions`.

    Examples
    --------
    >>> f = lambda t: 0.1 * np.asarray(t)  # a constant rate of 0.1 per period
    >>> expected_incremental_transactions(f, [0.0, 2.0], [1.0, 2.0, 3.0]).round(3).tolist()
    [0.1, 0.1, 0.2]
    """
    cumulative = expected_cumulative_transactions(
        expected_purchases_new_customer, first_purchase_times, times, weights
    )
    return np.diff(cumulative, prepend=0.0)
