r"""Gamma-Gamma on individual transaction values, not only their per-customer mean.

The Gamma-Gamma assumptions ([FH2013]_) say more than the density of the mean
:math:`\bar m`: a customer's values :math:`z_1, \dots, z_x` are i.i.d.
:math:`\mathrm{Gamma}(p, \nu)` with :math:`\nu \sim \mathrm{Gamma}(q, v)`, so
integrating :math:`\nu` out,

.. math::

   \log L = (p-1)\sum_j \log z_j - x\log\Gamma(p) + \log\Gamma(px+q) - \log\Gamma(q)
            + q\log v - (px+q)\log\Bigl(v + \sum_j z_j\Bigr).

Its sufficient statistics per customer are ``frequency`` :math:`x`,
``monetary_value`` :math:`\bar m = \sum_j z_j / x` and ``mean_log_value``
:math:`\overline{\log z} = \sum_j \log z_j / x`.  The density of the mean alone
(:func:`clv.models.gamma_gamma.log_likelihood`) drops the spread of a
customer's values around their mean, which is informative about :math:`p`
only; with individual values :math:`p` is estimated more precisely, and so the
expected spend :math:`p(v + x\bar m)/(px+q-1)`.  Customers with :math:`x = 0`
contribute 0.

References
----------
.. [FH2013] Fader, P. S., & Hardie, B. G. S. (2013). The Gamma-Gamma model of
   monetary value. http://brucehardie.com/notes/025/
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special

from clv._ops import NUMPY
from clv._typing import FloatArray, Ops
from clv.exceptions import DataError, Problem

__all__ = [
    "log_likelihood_transactions",
    "log_likelihood_transactions_gradient",
    "simulate_transactions",
    "spend_summary",
]

MEAN_LOG_VALUE = "mean_log_value"


def log_likelihood_transactions(
    params: Any,
    frequency: Any,
    monetary_value: Any,
    mean_log_value: Any,
    *,
    ops: Ops = NUMPY,
) -> Any:
    r"""Per-customer log-likelihood of the individual transaction values (module docstring).

    Evaluated as :math:`(p-1)x\overline{\log z} - x\log\Gamma(p) + \log\Gamma(px+q)
    - \log\Gamma(q) - px\log(v + x\bar m) - q\log(1 + x\bar m/v)`.

    Parameters
    ----------
    params : GGParams
        ``p, q, v`` (scalars or arrays broadcastable against the data).
    frequency, monetary_value, mean_log_value : array_like
        Number of values :math:`x`, their mean and the mean of their logs
        (NumPy arrays, or tensors of the ``ops`` namespace).

    Examples
    --------
    >>> from clv.models.gamma_gamma import GGParams
    >>> z = np.array([20.0, 30.0])
    >>> ll = log_likelihood_transactions(GGParams(6.0, 4.0, 15.0), 2, z.mean(), np.log(z).mean())
    >>> round(float(ll), 4)
    -7.4408
    """
    p, q, v = params
    x = frequency
    rep = x > 0
    xs = ops.where(rep, x, 1.0)
    ms = ops.where(rep, monetary_value, 1.0)
    ls = ops.where(rep, mean_log_value, 0.0)
    px = p * xs
    xm = xs * ms
    ll = (
        (p - 1.0) * xs * ls
        - xs * ops.gammaln(p)
        + ops.gammaln(px + q)
        - ops.gammaln(q)
        - px * ops.log(v + xm)
        - q * ops.log1p(xm / v)
    )
    return ops.where(rep, ll, 0.0)


def log_likelihood_transactions_gradient(
    params: Any, frequency: ArrayLike, monetary_value: ArrayLike, mean_log_value: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    r"""Per-customer log-likelihood and its gradient w.r.t. ``(p, q, v)``.

    .. math::

       \frac{\partial \ell}{\partial p} = x\bigl[\overline{\log z} - \psi(p) + \psi(px+q)
       - \log(v + x\bar m)\bigr],\quad
       \frac{\partial \ell}{\partial q} = \psi(px+q) - \psi(q) - \log(1 + x\bar m/v),\quad
       \frac{\partial \ell}{\partial v} = \frac{q x\bar m/v - px}{v + x\bar m}
    """
    p, q, v = (float(s) for s in params)
    x = np.asarray(frequency, dtype=np.float64)
    rep = x > 0
    xs = np.where(rep, x, 1.0)
    ms = np.where(rep, np.asarray(monetary_value, dtype=np.float64), 1.0)
    ls = np.where(rep, np.asarray(mean_log_value, dtype=np.float64), 0.0)
    px = p * xs
    xm = xs * ms
    psi_pxq = special.digamma(px + q)
    ll = log_likelihood_transactions((p, q, v), xs, ms, ls)
    grad = np.empty((3, *np.shape(px)))
    grad[0] = xs * (ls - special.digamma(p) + psi_pxq - np.log(v + xm))
    grad[1] = psi_pxq - special.digamma(q) - np.log1p(xm / v)
    grad[2] = (q * xm / v - px) / (v + xm)
    return np.where(rep, ll, 0.0), np.where(rep, grad, 0.0)


def simulate_transactions(
    params: Any, frequency: ArrayLike, *, rng: np.random.Generator
) -> dict[str, FloatArray]:
    r"""Simulate every transaction value of customers with ``frequency`` repeat transactions.

    :math:`\nu_i \sim \mathrm{Gamma}(q, v)`, then ``frequency[i]`` values
    :math:`\mathrm{Gamma}(p, \nu_i)`; returns the sufficient statistics
    (``frequency``, ``monetary_value``, ``mean_log_value``; 0 for customers
    without transactions), the latent ``nu`` and the values themselves
    (``values``, with ``customer``, the row of each value).

    Examples
    --------
    >>> from clv.models.gamma_gamma import GGParams
    >>> rng = np.random.default_rng(0)
    >>> sim = simulate_transactions(GGParams(6.0, 4.0, 15.0), [2, 0, 3], rng=rng)
    >>> sim["values"].shape, bool(sim["mean_log_value"][0] <= np.log(sim["monetary_value"][0]))
    ((5,), True)
    """
    x = np.atleast_1d(np.asarray(frequency, dtype=np.float64))
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise ValueError("frequency must contain whole numbers >= 0.")
    p, q, v = (np.broadcast_to(np.asarray(s, dtype=np.float64), x.shape) for s in params)
    nu = rng.gamma(q) / v
    counts = x.astype(np.int64)
    customer = np.repeat(np.arange(x.size), counts)
    values = rng.gamma(p[customer]) / nu[customer]
    total = np.bincount(customer, weights=values, minlength=x.size)
    log_total = np.bincount(customer, weights=np.log(values), minlength=x.size)
    xs = np.maximum(x, 1.0)
    return {
        "frequency": x.copy(),
        "monetary_value": np.where(x > 0, total / xs, 0.0),
        MEAN_LOG_VALUE: np.where(x > 0, log_total / xs, 0.0),
        "nu": nu,
        "values": values,
        "customer": customer,
    }


def spend_summary(
    transactions: pd.DataFrame, *, customer_id_col: str, value_col: str
) -> pd.DataFrame:
    """Per-customer ``frequency``, ``monetary_value`` and ``mean_log_value`` of transaction values.

    Pass the transactions whose values the spend model describes, usually the
    repeat purchases after merging same-period ones (as in
    :func:`clv.data.rfm_summary`); every row counts as one value.

    Parameters
    ----------
    transactions : DataFrame
        One row per transaction (not modified).
    customer_id_col, value_col : str
        Customer and value columns; values must be finite and > 0.

    Returns
    -------
    DataFrame
        Indexed by customer id (``customer_id``), in order of first appearance.

    Examples
    --------
    >>> log = pd.DataFrame({"id": ["a", "a", "b"], "value": [10.0, 40.0, 5.0]})
    >>> spend_summary(log, customer_id_col="id", value_col="value").round(3).to_dict("list")
    {'frequency': [2.0, 1.0], 'monetary_value': [25.0, 5.0], 'mean_log_value': [2.996, 1.609]}
    """
    what = "the transactions passed to spend_summary"
    missing = [c for c in (customer_id_col, value_col) if c not in transactions.columns]
    if missing:
        raise DataError(
            [Problem(c, "is missing", "name the customer and value columns") for c in missing],
            what=what,
        )
    values = pd.to_numeric(transactions[value_col], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~(np.isfinite(values) & (values > 0))
    if bad.any():
        ids = list(transactions[customer_id_col].to_numpy()[bad][:5])
        raise DataError(
            [
                Problem(
                    value_col,
                    f"is missing, non-positive or not a number in {int(bad.sum())} rows",
                    "Gamma-Gamma models positive transaction values: drop returns, "
                    "zero-value and unpriced rows",
                    ids,
                )
            ],
            what=what,
        )
    frame = pd.DataFrame(
        {"customer_id": transactions[customer_id_col].to_numpy(), "v": values, "l": np.log(values)}
    )
    grouped = frame.groupby("customer_id", sort=False)
    out = pd.DataFrame(
        {
            "frequency": grouped["v"].size().astype(np.float64),
            "monetary_value": grouped["v"].mean(),
            MEAN_LOG_VALUE: grouped["l"].mean(),
        }
    )
    out.index.name = "customer_id"
    return out
