r"""Gamma-Gamma spend model with time-varying covariates.

Each repeat transaction's value is scaled by the covariates in force when it
is made: transaction :math:`j` of customer :math:`i`, at time :math:`t_j`, is

.. math::

   z_{ij} = \kappa_{ij}\, y_{ij}, \qquad \kappa_{ij} = e^{\gamma^\top w_i(t_j)},
   \qquad y_{ij} \mid \nu_i \sim \mathrm{Gamma}(p, \nu_i), \qquad
   \nu_i \sim \mathrm{Gamma}(q, v),

so a covariate multiplies the expected value of the transactions made while it
is up by :math:`e^{\gamma^\top w}` (the population scale :math:`v` modulated
per transaction; with covariates constant per customer this is
:class:`~clv.models.GammaGammaModel`'s ``spend_covariates`` link
:math:`v_i = v e^{\gamma^\top x_i}`).

Likelihood.  As the static model uses the mean spend :math:`\bar m_i` of the
:math:`x_i` repeat transactions and not their dispersion, this model uses
:math:`\bar m_i` given the within-customer spend shares
:math:`s_{ij} = z_{ij} / (x_i \bar m_i)`.  Given :math:`\nu_i` the
:math:`y_{ij}` are i.i.d. Gamma, so their total is independent of their
shares; changing variables from :math:`(z_{ij})` to :math:`(x_i\bar m_i, s_{ij})`
gives :math:`\bar m_i \mid s, \nu_i \sim \mathrm{Gamma}(p x_i, x_i\nu_i / K_i)` with

.. math::

   K_i = \Bigl(\sum_j s_{ij}\,\kappa_{ij}^{-1}\Bigr)^{-1}
       = \frac{\bar m_i}{\tilde m_i}, \qquad
   \tilde m_i = \frac{1}{x_i}\sum_j z_{ij}\,e^{-\gamma^\top w_i(t_j)},

the spend-weighted harmonic mean of the multipliers.  Integrating
:math:`\nu_i` out, the per-customer log-likelihood is the static Gamma-Gamma
density of :math:`\bar m_i` with :math:`v` replaced by :math:`vK_i`:

.. math::

   \ell_i = \ell_{GG}(p, q, vK_i;\, x_i, \bar m_i)
          = \ell_{GG}(p, q, v;\, x_i, \tilde m_i) - \log K_i,

computed by :func:`clv.models.gamma_gamma.log_likelihood` (one likelihood for
both models).  With every coefficient 0, :math:`K_i = 1`: the static
Gamma-Gamma log-likelihood; with constant covariates per customer,
:math:`K_i = \kappa_i`: the static-covariate one.

Prediction.  :math:`\nu_i \mid \text{data} \sim \mathrm{Gamma}(q + px_i, v + x_i\tilde m_i)`,
so a transaction made at a future time :math:`t` is expected to be worth

.. math:: E[z \mid t] = e^{\gamma^\top w_i(t)}\,\frac{p\,(v + x_i\tilde m_i)}{p x_i + q - 1}

(:math:`e^{\gamma^\top w_i(t)}\,pv/(q-1)` without repeat transactions).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from clv._ops import NUMPY
from clv._typing import FloatArray, Ops
from clv.exceptions import DataError, Problem
from clv.models import gamma_gamma as _gg
from clv.models._dyncov_data import TimeVaryingData, _unit, time_varying_data
from clv.models._pareto_nbd_dyncov_math import _eta
from clv.models.pareto_nbd_dyncov import _TimeVaryingModel

__all__ = [
    "GammaGammaDynamicModel",
    "TimeVaryingSpendData",
    "adjusted_mean_spend",
    "expected_spend",
    "log_likelihood",
    "log_likelihood_gradient",
    "simulate_spends",
    "time_varying_spend_data",
]

_WHAT = "the time-varying spend data"


@dataclass(frozen=True)
class TimeVaryingSpendData:
    """Repeat-transaction values with the covariates in force at each, per customer.

    Attributes
    ----------
    base : TimeVaryingData
        The covariate paths (customer ids, columns, observation end, future paths).
    frequency : ndarray, shape (n,)
        Repeat transactions with a value, :math:`x`.
    monetary_value : ndarray, shape (n,)
        Their mean value :math:`\\bar m` (0 without repeat transactions).
    amount : ndarray, shape (n, M)
        Values of the repeat transactions (0 = padding).
    amount_X : ndarray, shape (n, M, k)
        Covariates in force at each of them.
    """

    base: TimeVaryingData
    frequency: FloatArray
    monetary_value: FloatArray
    amount: FloatArray
    amount_X: FloatArray

    @property
    def customer_ids(self) -> pd.Index:
        """Customer ids (the index of every prediction)."""
        return self.base.customer_ids

    @property
    def n_customers(self) -> int:
        """Number of customers."""
        return self.base.n_customers

    @property
    def time_unit(self) -> str:
        """Length of a covariate period."""
        return self.base.time_unit

    def select(self, cols: Sequence[str]) -> tuple[FloatArray, FloatArray, FloatArray]:
        """``(frequency, amount, amount_X[..., cols])`` for the model's covariate columns."""
        idx = self.base._index(cols, "spend")
        return self.frequency, self.amount, self.amount_X[..., idx]


def time_varying_spend_data(
    transactions: pd.DataFrame,
    covariates: pd.DataFrame,
    *,
    columns: Sequence[str],
    observation_end: Any,
    amount_col: str = "amount",
    customer_id_col: str = "customer_id",
    date_col: str = "date",
    cov_date_col: str = "cov_date",
    time_unit: str = "W",
) -> TimeVaryingSpendData:
    """Build :class:`TimeVaryingSpendData` from a transaction log with values.

    Transactions at the same timestamp are one transaction (values summed);
    the first transaction of each customer is not a repeat transaction and is
    left out, as in the static Gamma-Gamma model.  The covariates follow the
    layout of :func:`clv.models.time_varying_data` (one row per customer and
    period); the covariates of a transaction are those of the period containing it.
    """
    base = time_varying_data(
        transactions,
        covariates,
        columns=columns,
        observation_end=observation_end,
        customer_id_col=customer_id_col,
        date_col=date_col,
        cov_date_col=cov_date_col,
        time_unit=time_unit,
    )
    if amount_col not in transactions.columns:
        raise DataError(
            [Problem(amount_col, "is missing from transactions", "add the transaction values")],
            what=_WHAT,
        )
    values = pd.to_numeric(transactions[amount_col], errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        raise DataError(
            [
                Problem(
                    amount_col,
                    "has missing, non-numeric, infinite or negative values",
                    "fix or drop those transactions (returns belong in a separate column)",
                    list(transactions[customer_id_col][bad].unique()[:10]),
                )
            ],
            what=_WHAT,
        )
    end = pd.Timestamp(observation_end)
    tx = pd.DataFrame(
        {
            "id": transactions[customer_id_col].to_numpy(),
            "date": pd.to_datetime(transactions[date_col]),
            "amount": values,
        }
    )
    merged = tx[tx["date"] <= end].groupby(["id", "date"], as_index=False, sort=True)["amount"]
    summed = merged.sum()
    first = summed.groupby("id")["date"].transform("min")
    rep = summed[summed["date"] > first]
    cust = base.customer_ids.get_indexer(pd.Index(rep["id"]))
    # covariates of the period containing each repeat transaction
    unit = _unit(time_unit).to_timedelta64()
    cv = covariates[[customer_id_col, cov_date_col, *columns]]
    cv = cv.assign(_pos=base.customer_ids.get_indexer(pd.Index(cv[customer_id_col])))
    cv = cv[cv["_pos"] >= 0].sort_values(["_pos", cov_date_col], kind="stable")
    start_row = np.searchsorted(cv["_pos"].to_numpy(), np.arange(base.n_customers))
    first_cov = pd.to_datetime(cv[cov_date_col]).to_numpy(dtype="datetime64[ns]")[start_row]
    k = (rep["date"].to_numpy(dtype="datetime64[ns]") - first_cov[cust]) // unit
    X_cov = cv[list(columns)].to_numpy(dtype=np.float64)
    X_rep = X_cov[start_row[cust] + k.astype(np.int64)]
    n = base.n_customers
    order = np.argsort(cust, kind="stable")
    counts = np.bincount(cust, minlength=n)
    width = max(int(counts.max(initial=0)), 1)
    slot = np.arange(cust.size) - (np.cumsum(counts) - counts)[cust[order]]
    amount = np.zeros((n, width))
    amount_X = np.zeros((n, width, len(columns)))
    amount[cust[order], slot] = rep["amount"].to_numpy()[order]
    amount_X[cust[order], slot] = X_rep[order]
    total = amount.sum(axis=1)
    x = np.where(total > 0, counts, 0).astype(np.float64)
    return TimeVaryingSpendData(
        base=base,
        frequency=x,
        monetary_value=np.where(x > 0, total / np.maximum(counts, 1), 0.0),
        amount=amount,
        amount_X=amount_X,
    )


# ---------------------------------------------------------------------------- pure functions
def adjusted_mean_spend(
    gamma: Any, frequency: Any, amount: Any, X: Any, *, ops: Ops = NUMPY
) -> Any:
    r""":math:`\tilde m = \frac{1}{x}\sum_j z_j e^{-\gamma^\top w_j}` (1 where :math:`x = 0`)."""
    rep = frequency > 0
    total = ops.sum(amount * ops.exp(-_eta(X, gamma)), axis=1)
    return ops.where(rep, total / ops.where(rep, frequency, 1.0), 1.0)


def log_likelihood(
    params: Any, gamma: Any, frequency: Any, amount: Any, X: Any, *, ops: Ops = NUMPY
) -> Any:
    r"""Per-customer log-likelihood :math:`\ell_{GG}(p,q,v; x, \tilde m) - \log K`
    (module docstring); 0 for customers without repeat transactions."""
    m_adj = adjusted_mean_spend(gamma, frequency, amount, X, ops=ops)
    rep = frequency > 0
    m_raw = ops.where(rep, ops.sum(amount, axis=1) / ops.where(rep, frequency, 1.0), 1.0)
    ll = _gg.log_likelihood(params, frequency, m_adj, ops=ops)
    # - log K = log(m_adj) - log(m_raw)
    return ll + ops.where(rep, ops.log(m_adj) - ops.log(m_raw), 0.0)


def log_likelihood_gradient(
    params: Any, gamma: Any, frequency: FloatArray, amount: FloatArray, X: FloatArray
) -> tuple[FloatArray, FloatArray]:
    r"""Log-likelihood and its analytic gradient w.r.t. ``(p, q, v, gamma)``, shape (3 + k, n).

    ``(p, q, v)`` from :func:`clv.models.gamma_gamma.log_likelihood_gradient` at
    :math:`\tilde m`; for the coefficients
    :math:`\partial\ell/\partial\gamma = -\bar w\, x\,(pv - q\tilde m)/(v + x\tilde m)`
    with :math:`\bar w` the mean of :math:`w_j` weighted by :math:`z_j e^{-\gamma^\top w_j}`.
    """
    p, q, v = (float(s) for s in params)
    gamma = np.asarray(gamma, dtype=np.float64)
    x = frequency
    rep = x > 0
    weights = amount * np.exp(-_eta(X, gamma))  # (n, M)
    total = weights.sum(axis=1)
    xs = np.where(rep, x, 1.0)
    m_adj = np.where(rep, total / xs, 1.0)
    m_raw = np.where(rep, amount.sum(axis=1) / xs, 1.0)
    ll, g_base = _gg.log_likelihood_gradient(_gg.GGParams(p, q, v), x, m_adj)
    ll = ll + np.where(rep, np.log(m_adj) - np.log(m_raw), 0.0)
    w_bar = np.einsum("nm,nmk->nk", weights, X) / np.where(total > 0, total, 1.0)[:, None]
    factor = np.where(rep, -xs * (p * v - q * m_adj) / (v + xs * m_adj), 0.0)
    grad = np.concatenate([g_base, (w_bar * factor[:, None]).T], axis=0)
    return ll, grad


def expected_spend(
    params: Any, gamma: Any, frequency: FloatArray, m_adj: FloatArray, X_future: FloatArray
) -> FloatArray:
    r"""Expected value of a transaction made under covariates ``X_future`` (..., k):
    :math:`e^{\gamma^\top w}\, p(v + x\tilde m)/(px + q - 1)` (module docstring)."""
    base = _gg.expected_spend(_gg.GGParams(*params), frequency, np.where(frequency > 0, m_adj, 0))
    base = np.asarray(base, dtype=np.float64)
    mult = np.exp(_eta(X_future, np.asarray(gamma, dtype=np.float64)))
    return base.reshape(base.shape + (1,) * (mult.ndim - 1)) * mult


# ---------------------------------------------------------------------------- the model
class GammaGammaDynamicModel(_TimeVaryingModel):
    r"""Gamma-Gamma spend model with covariates taken at each transaction's time, by MLE.

    A transaction made while the covariates are :math:`w` is expected to be
    worth :math:`e^{\gamma^\top w}` times the customer's base value; the
    likelihood and its derivation are in :mod:`clv.models.gamma_gamma_dyncov`.
    With all coefficients 0 it is :class:`~clv.models.GammaGammaModel`.

    Parameters
    ----------
    spend_covariates : sequence of str
        Columns of the :class:`TimeVaryingSpendData`; coefficients ``spend[col]``.

    Attributes
    ----------
    params_ : Series
        ``p, q, v`` then the coefficients.
    covariance_, log_likelihood_, converged_, n_customers_, time_unit_
        As :class:`~clv.models.ParetoNBDDynamicModel`.
    """

    _base = ("p", "q", "v")
    _data_type = TimeVaryingSpendData
    _data_hint = "build it with clv.models.time_varying_spend_data(...)"
    _labels = ("spend", "dropout")

    def __init__(self, *, spend_covariates: Sequence[str] = ()) -> None:
        super().__init__(purchase_covariates=spend_covariates)
        self.spend_covariates = spend_covariates

    def _make_arrays(self, data: TimeVaryingSpendData) -> Any:
        if not np.any(data.frequency > 0):
            raise DataError(
                [
                    Problem(
                        None,
                        "no customer has a repeat transaction with a value",
                        "use a longer calibration period",
                    )
                ],
                what=_WHAT,
            )
        return data.select(self.spend_covariates)

    def _ll(self, base: Any, gp: Any, gd: Any, arrays: Any) -> FloatArray:
        return log_likelihood(base, gp, *arrays)

    def _ll_grad(self, base: Any, gp: Any, gd: Any, arrays: Any) -> tuple[FloatArray, FloatArray]:
        return log_likelihood_gradient(base, gp, *arrays)

    def _start(self, data: Any, initial: Mapping[str, float] | None) -> FloatArray:
        names = self._param_names()
        unknown = set(initial or {}) - set(names)
        if unknown:
            raise ValueError(
                f"initial_params has unknown names {sorted(unknown)}; valid names are {names}."
            )
        if initial is not None and all(n in initial for n in self._base):
            base = [float(initial[n]) for n in self._base]
        else:
            rep = data.frequency > 0
            frame = pd.DataFrame(
                {"frequency": data.frequency[rep], "monetary_value": data.monetary_value[rep]}
            )
            with warnings.catch_warnings():  # a rough start is enough
                warnings.simplefilter("ignore")
                base = list(_gg.GammaGammaModel().fit(frame).params_.to_numpy())
        start = np.zeros(len(names))
        start[:3] = base
        for j, n in enumerate(names[3:], start=3):
            start[j] = float((initial or {}).get(n, 0.0))
        return start

    def to_dict(self) -> dict[str, Any]:
        """The fitted state as a JSON-serialisable document."""
        doc = super().to_dict()
        doc["init"] = {"spend_covariates": self.spend_covariates}
        return doc

    # ------------------------------------------------------------------ predictions
    def _posterior(self, data: TimeVaryingSpendData) -> tuple[Any, FloatArray, FloatArray]:
        self._check_fitted()
        x, amount, X = self._arrays(data)
        base, gamma, _ = self._split(self.params_.to_numpy())
        return base, gamma, adjusted_mean_spend(gamma, x, amount, X)

    def expected_spend_by_period(
        self,
        data: TimeVaryingSpendData,
        horizon: float,
        path: pd.DataFrame | None = None,
        *,
        customer_id_col: str = "customer_id",
        cov_date_col: str = "cov_date",
    ) -> pd.DataFrame:
        """Expected value of a transaction made in each covariate period after ``observation_end``.

        Columns: the time (in periods after ``observation_end``) each future
        period starts, from 0 (the rest of the current period); ``path`` as in
        :meth:`clv.models.TimeVaryingData.future` (default: the last values
        carried forward).
        """
        base, gamma, m_adj = self._posterior(data)
        future = data.base.future(
            horizon,
            self.spend_covariates,
            (),
            path,
            customer_id_col=customer_id_col,
            cov_date_col=cov_date_col,
        )
        values = expected_spend(base, gamma, data.frequency, m_adj, future.purchase)
        rest = 1.0 - float(data.base.current_offset.max(initial=0.0))
        starts = np.concatenate([[0.0], rest + np.arange(values.shape[1] - 1)])
        if np.all(future.length[:, 0] == 0):  # observation_end on the grid: no partial period
            values, starts = values[:, 1:], starts[1:]
        keep = starts < max(float(horizon), 1e-12)
        frame = pd.DataFrame(values[:, keep], index=data.customer_ids, columns=starts[keep])
        frame.columns.name = "periods_ahead"
        return frame

    def expected_spend(
        self,
        data: TimeVaryingSpendData,
        t: float = 0.0,
        path: pd.DataFrame | None = None,
        *,
        customer_id_col: str = "customer_id",
        cov_date_col: str = "cov_date",
    ) -> pd.Series:
        """Expected value of a transaction made at ``observation_end + t`` per customer."""
        base, gamma, m_adj = self._posterior(data)
        future = data.base.future(
            t,
            self.spend_covariates,
            (),
            path,
            customer_id_col=customer_id_col,
            cov_date_col=cov_date_col,
        )
        end = np.cumsum(future.length, axis=1)
        j = np.minimum(np.argmax(end >= t, axis=1) if t > 0 else 0, end.shape[1] - 1)
        now = future.purchase[np.arange(data.n_customers), j][:, None]
        values = expected_spend(base, gamma, data.frequency, m_adj, now)
        return pd.Series(values[:, 0], index=data.customer_ids, name="expected_spend")


def simulate_spends(
    params: Mapping[str, float],
    transactions: pd.DataFrame,
    covariates: pd.DataFrame,
    *,
    spend_covariates: Sequence[str] = (),
    customer_id_col: str = "customer_id",
    date_col: str = "date",
    cov_date_col: str = "cov_date",
    amount_col: str = "amount",
    time_unit: str = "W",
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.Series]:
    """Give every transaction a value under the time-varying Gamma-Gamma model.

    :math:`\\nu_i \\sim \\mathrm{Gamma}(q, v)` per customer and
    :math:`z = e^{\\gamma^\\top w(t)} \\mathrm{Gamma}(p, \\nu_i)` per transaction,
    ``w(t)`` the covariates of the period containing it.  Returns the
    transactions with ``amount_col`` added (a copy) and the latent
    :math:`\\nu` per customer.
    """
    ids = pd.Index(pd.unique(transactions[customer_id_col]))
    nu = rng.gamma(float(params["q"]), 1.0 / float(params["v"]), size=len(ids))
    cust = ids.get_indexer(pd.Index(transactions[customer_id_col]))
    unit = _unit(time_unit).to_timedelta64()
    cv = covariates.assign(_pos=ids.get_indexer(pd.Index(covariates[customer_id_col])))
    cv = cv[cv["_pos"] >= 0].sort_values(["_pos", cov_date_col], kind="stable")
    start_row = np.searchsorted(cv["_pos"].to_numpy(), np.arange(len(ids)))
    first_cov = pd.to_datetime(cv[cov_date_col]).to_numpy(dtype="datetime64[ns]")[start_row]
    k = pd.to_datetime(transactions[date_col]).to_numpy(dtype="datetime64[ns]") - first_cov[cust]
    row = start_row[cust] + (k // unit).astype(np.int64)
    eta = np.zeros(len(transactions))
    for c in spend_covariates:
        eta += float(params.get(f"spend[{c}]", 0.0)) * cv[c].to_numpy(dtype=np.float64)[row]
    y = rng.gamma(float(params["p"]), 1.0, size=len(transactions)) / nu[cust]
    out = transactions.copy()
    out[amount_col] = np.exp(eta) * y
    return out, pd.Series(nu, index=ids, name="nu")
