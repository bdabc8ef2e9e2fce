r"""BG/NBD with time-varying covariates: purchase rate per period, dropout per purchase.

The purchase rate is multiplied by :math:`e^{\gamma_p^\top x_p(t)}` in each
period; right after each repeat purchase the dropout probability is
:math:`1 - (1-p)^{c_j}` with :math:`c_j = e^{\gamma_d^\top x_d(t_j)}` the
dropout covariates in force at that purchase (see
:mod:`clv.models._bgnbd_dyncov_math`).  The data come from
:func:`clv.models.time_varying_data`, as for :class:`ParetoNBDDynamicModel`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from clv.models import _bgnbd_dyncov_math as _math
from clv.models._dyncov_data import TimeVaryingData, _unit
from clv.models._dyncov_predict import FuturePathPredictions
from clv.models.bgnbd import BetaGeoModel
from clv.models.pareto_nbd_dyncov import _TimeVaryingModel, simulate_transactions

__all__ = ["BetaGeoDynamicModel", "simulate_bgnbd_transactions"]


class BetaGeoDynamicModel(FuturePathPredictions, _TimeVaryingModel):
    r"""BG/NBD with time-varying covariates, fitted by maximum likelihood.

    :math:`\lambda_i(t) = \lambda_{0i} e^{\gamma_p^\top x_p(t)}`,
    :math:`\lambda_0 \sim \mathrm{Gamma}(r, \alpha)`; dropout after repeat
    purchase :math:`j` with probability :math:`1-(1-p)^{c_j}`,
    :math:`c_j = e^{\gamma_d^\top x_d(t_j)}`, :math:`p \sim \mathrm{Beta}(a, b)`.
    With all coefficients 0 this is :class:`clv.models.BetaGeoModel`; with
    constant purchase covariates its purchase link is the static model's
    (:math:`\alpha_i = \alpha e^{-\gamma_p^\top x_i}`).

    Predictions (:meth:`probability_alive`, :meth:`expected_purchases`,
    :meth:`expected_discounted_purchases`, :meth:`predict`) take a future
    covariate path as :class:`ParetoNBDDynamicModel`'s do: given alive at
    ``observation_end``, :math:`\lambda_0 \sim \mathrm{Gamma}(r+x, \alpha+B(T))`
    and :math:`p \sim \mathrm{Beta}(a, b+S_x)`; after it each purchase at
    :math:`u` ends the lifetime with probability :math:`1-(1-p)^{c(u)}`
    (:mod:`clv.models._bgnbd_dyncov_math`).

    Parameters
    ----------
    purchase_covariates, dropout_covariates : sequence of str
        Columns of the :class:`~clv.models.TimeVaryingData`.
    """

    _base = ("r", "alpha", "a", "b")
    _math = _math
    _static = BetaGeoModel

    def _make_arrays(self, data: TimeVaryingData) -> _math.BGDynCovArrays:
        return data.bgnbd_arrays(self.purchase_covariates, self.dropout_covariates)


def simulate_bgnbd_transactions(
    params: Mapping[str, float],
    covariates: pd.DataFrame,
    first_purchase: pd.Series,
    *,
    end: Any,
    purchase_covariates: Sequence[str] = (),
    dropout_covariates: Sequence[str] = (),
    customer_id_col: str = "customer_id",
    cov_date_col: str = "cov_date",
    date_col: str = "date",
    time_unit: str = "W",
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate a transaction log under the time-varying BG/NBD.

    Purchases while alive as in
    :func:`clv.models.pareto_nbd_dyncov.simulate_transactions` (no
    continuous-time dropout); then, in time order, each repeat purchase
    ends the customer's life with probability :math:`1-(1-p)^{c_j}` and the
    later purchases are dropped.  Returns ``(transactions, latent)`` with
    ``lambda``, ``p`` and ``alive`` (at ``end``).
    """
    pnbd = {"r": params["r"], "alpha": params["alpha"], "s": 0.0, "beta": 1.0}
    pnbd.update({k: v for k, v in params.items() if k.startswith("purchase[")})
    tx, latent = simulate_transactions(
        pnbd,
        covariates,
        first_purchase,
        end=end,
        purchase_covariates=purchase_covariates,
        customer_id_col=customer_id_col,
        cov_date_col=cov_date_col,
        date_col=date_col,
        time_unit=time_unit,
        rng=rng,
    )
    ids = first_purchase.index
    n = len(ids)
    p = rng.beta(float(params["a"]), float(params["b"]), size=n)
    cust = ids.get_indexer(pd.Index(tx[customer_id_col]))
    # dropout covariates at each purchase: the row of the period containing it
    unit = _unit(time_unit).to_timedelta64()
    cv = covariates.sort_values([customer_id_col, cov_date_col])
    c_cust = ids.get_indexer(pd.Index(cv[customer_id_col]))
    first_row = pd.Series(np.arange(len(cv))).groupby(c_cust).min().reindex(range(n)).to_numpy()
    first_date = cv[cov_date_col].to_numpy(dtype="datetime64[ns]")[first_row]
    k = ((tx[date_col].to_numpy(dtype="datetime64[ns]") - first_date[cust]) // unit).astype(int)
    eta = np.zeros(len(tx))
    for c in dropout_covariates:
        eta += (
            float(params.get(f"dropout[{c}]", 0.0))
            * cv[c].to_numpy(dtype=np.float64)[first_row[cust] + k]
        )
    repeat = tx.groupby(customer_id_col).cumcount().to_numpy() > 0
    drop = repeat & (rng.random(len(tx)) < -np.expm1(np.exp(eta) * np.log1p(-p[cust])))
    # keep purchases up to and including the first dropout
    dead_before = (
        pd.Series(drop.astype(int)).groupby(cust).cumsum().to_numpy() - drop.astype(int)
    ) > 0
    kept = tx[~dead_before].reset_index(drop=True)
    died = np.bincount(cust[drop & ~dead_before], minlength=n) > 0
    latent = pd.DataFrame(
        {"lambda": latent["lambda"].to_numpy(), "p": p, "alive": ~died}, index=ids
    )
    return kept, latent
