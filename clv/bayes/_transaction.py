"""``TransactionBayesModel``: the prediction surface of the Bayesian repeat-purchase models.

The same method names as :class:`clv.models._transaction.TransactionModel`; each
maps the model module's pure NumPy function over the posterior draws.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import ArrayLike

from clv.bayes._base import BayesModel, Prior

__all__ = ["CovariateTransactionBayesModel", "TransactionBayesModel"]

_RFM = ("frequency", "recency", "T")


def _horizon(t: ArrayLike) -> float:
    value = np.asarray(t, dtype=np.float64)
    if value.ndim != 0 or not np.isfinite(value) or value < 0:
        raise ValueError(f"the horizon t must be one finite number >= 0 (periods of the data's "
                         f"time unit), got {t!r}.")
    return float(value)


class TransactionBayesModel(BayesModel):
    """Base class of the Bayesian repeat-purchase models (BG/NBD, MBG/NBD, Pareto/NBD, BG/BB).

    Prediction methods that take ``data`` accept ``thin`` (keep every
    ``thin``-th draw), ``summary_only`` (return the per-customer summary
    ``mean, sd, 5%, 95%`` computed block by block, never the full array) and
    ``chunk_size`` (customers per block).
    """

    per_draw: ClassVar[frozenset[str]] = frozenset()
    """Pure functions that take scalar parameters only (evaluated draw by draw)."""

    def _predict(self, fn: str, data: pd.DataFrame | None, *extra: Any, **kwargs: Any
                 ) -> xr.DataArray | pd.DataFrame:
        func = getattr(self.mle_class.spec, fn)
        return self._over_draws(func, data, _RFM if data is not None else (), *extra, name=fn,
                                per_draw=fn in self.per_draw, **kwargs)

    def probability_alive(self, data: pd.DataFrame, *, thin: int = 1, summary_only: bool = False,
                          chunk_size: int | None = None) -> xr.DataArray | pd.DataFrame:
        """Probability that each customer is alive, per draw: dims (chain, draw, customer_id)."""
        return self._predict("probability_alive", data, thin=thin, summary_only=summary_only,
                             chunk_size=chunk_size)

    def expected_purchases(self, t: ArrayLike, data: pd.DataFrame, *, thin: int = 1,
                           summary_only: bool = False, chunk_size: int | None = None
                           ) -> xr.DataArray | pd.DataFrame:
        """Expected repeat purchases in the next ``t`` periods (scalar ``t``), per draw."""
        return self._predict("expected_purchases", data, _horizon(t), thin=thin,
                             summary_only=summary_only, chunk_size=chunk_size)

    def expected_purchases_new_customer(self, t: ArrayLike, *, thin: int = 1) -> xr.DataArray:
        """Expected repeat purchases of a new customer in ``(0, t]``, per draw: (chain, draw)."""
        out = self._predict("expected_purchases_new_customer", None, _horizon(t), thin=thin)
        assert isinstance(out, xr.DataArray)
        return out

    def probability_of_purchases(self, n: int, t: ArrayLike, *, thin: int = 1) -> xr.DataArray:
        """Probability that a new customer makes exactly ``n`` repeat purchases in ``(0, t]``."""
        if isinstance(n, bool) or not float(n).is_integer() or n < 0:
            raise ValueError(f"n must be a non-negative whole number of purchases, got {n!r}.")
        out = self._predict("probability_of_purchases", None, float(n), _horizon(t), thin=thin)
        assert isinstance(out, xr.DataArray)
        return out


class CovariateTransactionBayesModel(TransactionBayesModel):
    """A Bayesian transaction model with purchase and dropout covariates (BG/NBD, Pareto/NBD).

    ``purchase_covariates`` / ``dropout_covariates`` name the data columns;
    ``coefficient_prior`` is the default prior of a coefficient per SD of its column
    (a prior under the coefficient's name in ``priors`` is in natural units).
    """

    def __init__(self, priors: Mapping[str, Prior] | None = None, *,
                 purchase_covariates: Sequence[str] | None = None,
                 dropout_covariates: Sequence[str] | None = None,
                 coefficient_prior: Prior | None = None, segment: str | None = None,
                 pooling: str = "partial") -> None:
        super().__init__(priors, segment=segment, pooling=pooling,
                         covariates={"purchase": purchase_covariates,
                                     "dropout": dropout_covariates},
                         coefficient_prior=coefficient_prior)
