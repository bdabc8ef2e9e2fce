"""Customer lifetime value over the posterior draws.

Each draw of the transaction and spend posteriors is turned into the
corresponding maximum-likelihood model (:meth:`BayesModel.point_models`) and
valued with :mod:`clv.value`'s own computation, so the discounting maths
exists once.  Customers are processed in blocks (:func:`chunk_sizes`); with
``summary_only=True`` only the per-customer summary is kept, so a million
customers never need a ``chains x draws x customers`` array.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from clv.bayes._base import BayesModel
from clv.bayes._draws import SUMMARY_COLUMNS, _summary_block, chunk_sizes
from clv.exceptions import ClvWarning
from clv.value import DEFAULT_MARGIN, _compute, _labelled, _prepare, _validate

__all__ = ["customer_lifetime_value"]


def _segments(model: BayesModel, data: pd.DataFrame) -> np.ndarray | None:
    return model._codes(data)


def _points(model: BayesModel, thin: int, codes: np.ndarray | None, g: int) -> list[Any]:
    if codes is None:
        return list(model.point_models(thin))
    labels = model.idata_["posterior"].coords["segment"].values
    return list(model.point_models(thin, segment=labels[g]))


def _pair(tx: list[Any], sp: list[Any]) -> tuple[list[Any], list[Any]]:
    if len(sp) == 1:  # e.g. a MAP spend model: the same spend parameters for every draw
        sp = sp * len(tx)
    elif len(tx) == 1:
        tx = tx * len(sp)
    elif len(tx) != len(sp):
        raise ValueError(
            f"the transaction posterior has {len(tx)} draws and the spend posterior {len(sp)}; "
            "fit both with the same chains and draws (or use a single-draw MAP spend model)."
        )
    return tx, sp


def customer_lifetime_value(
    transaction_model: BayesModel,
    spend_model: BayesModel,
    data: pd.DataFrame,
    *,
    horizon: int,
    annual_discount_rate: float | None = None,
    discount_rate_per_period: float | None = None,
    margin: float = DEFAULT_MARGIN,
    steps_per_period: int = 1,
    time_unit: str | None = None,
    discount_rate: float | None = None,
    thin: int = 1,
    summary_only: bool = False,
    chunk_size: int | None = None,
) -> xr.DataArray | pd.DataFrame:
    """CLV of each customer at every posterior draw (see :func:`clv.value.customer_lifetime_value`).

    Draw ``i`` of the transaction posterior is paired with draw ``i`` of the
    spend posterior (a one-draw spend posterior, e.g. a MAP fit, is used with
    every transaction draw).  Models with parameters per segment value each
    customer with their segment's draws.

    Parameters
    ----------
    transaction_model, spend_model : BayesModel
        Fitted Bayesian models (e.g. :class:`clv.bayes.BetaGeoModel` and
        :class:`clv.bayes.GammaGammaModel`).
    data : DataFrame
        RFM frame with ``frequency``, ``recency``, ``T``, ``monetary_value``.
    horizon, annual_discount_rate, discount_rate_per_period, margin, steps_per_period, time_unit
        As in :func:`clv.value.customer_lifetime_value` (an annual rate by
        default, converted once to the data's period).
    discount_rate : float, optional
        Deprecated name of ``discount_rate_per_period``.
    thin : int, default 1
        Keep every ``thin``-th draw.
    summary_only : bool, default False
        Return the per-customer summary (``mean, sd, 5%, 95%``) computed block
        by block instead of the full array.
    chunk_size : int, optional
        Customers per block (default: :data:`clv.bayes._base.MAX_BLOCK_CELLS`
        values per block).

    Returns
    -------
    DataArray or DataFrame
        Dims ``("chain", "draw", "customer_id")``, or the summary indexed by
        ``customer_id``.
    """
    rate = _prepare(
        transaction_model,
        data,
        time_unit,
        annual_discount_rate,
        discount_rate_per_period,
        discount_rate,
    )  # warns once, raises early
    _validate(horizon, margin, steps_per_period)
    data = _labelled(data, rate)
    tx_codes = _segments(transaction_model, data)
    sp_codes = _segments(spend_model, data)
    _, chains, draws = transaction_model._param_draws(thin)
    if transaction_model._param_draws(thin)[0][0].shape[0] == 1:
        _, chains, draws = spend_model._param_draws(thin)
    # groups of customers that share their parameters: (rows, tx segment, spend segment)
    keys = np.zeros((len(data), 2), dtype=np.int64)
    if tx_codes is not None:
        keys[:, 0] = tx_codes
    if sp_codes is not None:
        keys[:, 1] = sp_codes
    groups, group_of = np.unique(keys, axis=0, return_inverse=True)
    group_of = group_of.ravel()
    models = [
        _pair(
            _points(transaction_model, thin, tx_codes, int(gt)),
            _points(spend_model, thin, sp_codes, int(gs)),
        )
        for gt, gs in groups
    ]
    n, n_samples = len(data), len(models[0][0])
    blocks = chunk_sizes(n, n_samples, chunk_size)
    full = None if summary_only else np.empty((n_samples, n))
    parts = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ClvWarning)  # already issued once by _prepare above
        for lo, hi in blocks:
            block = np.empty((n_samples, hi - lo))
            for k, (tx, sp) in enumerate(models):
                rows = np.flatnonzero(group_of[lo:hi] == k)
                if rows.size == 0:
                    continue
                part = data.iloc[lo + rows]
                for i in range(n_samples):
                    block[i, rows] = _compute(
                        tx[i], sp[i], part, horizon, rate, margin, steps_per_period
                    )["clv"]
            if full is not None:
                full[:, lo:hi] = block
            else:
                parts.append(_summary_block(block))
    ids = data.index.to_numpy()
    if full is None:
        return pd.DataFrame(
            np.concatenate(parts, axis=0) if parts else np.empty((0, 4)),
            columns=list(SUMMARY_COLUMNS),
            index=pd.Index(ids, name="customer_id"),
        )
    return xr.DataArray(
        full.reshape(chains.size, draws.size, n),
        dims=("chain", "draw", "customer_id"),
        coords={"chain": chains, "draw": draws, "customer_id": ids},
        name="clv",
    )
