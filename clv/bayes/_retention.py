"""``RetentionBayesModel``: Bayesian contractual retention models (sBG, BdW).

The data are validated and aggregated by :func:`clv.models._retention.retention_counts`
(per-customer rows or a survival table), exactly as for the maximum-likelihood
fit, and the predictions evaluate the maximum-likelihood class's methods at each
posterior draw.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import ArrayLike

from clv.bayes._base import BayesModel
from clv.exceptions import DataError, Problem
from clv.models._retention import RetentionModel, retention_counts

__all__ = ["RetentionBayesModel"]

_COLUMNS = ("periods_observed", "churned")


class RetentionBayesModel(BayesModel):
    """Base class of the Bayesian retention models: one set of parameters for all cohorts.

    Predictions over ``t`` have dims ``("chain", "draw", "t")``; the lifetime
    predictions of a new customer ``("chain", "draw")``.
    """

    mle_class: type[RetentionModel]  # type: ignore[assignment]
    pointwise = False

    def pointwise_log_likelihood(self, data: pd.DataFrame, *, thin: int = 1) -> xr.DataArray:
        """Not available: retention data are aggregated counts, not one row per customer."""
        raise ValueError(f"{type(self).__name__} is fitted on aggregated retention counts; a "
                         "per-customer log-likelihood (and LOO) is not available for it.")

    def _fit_data(self, data: pd.DataFrame) -> tuple[list[np.ndarray], np.ndarray, pd.DataFrame]:
        if self.segment is not None:
            raise ValueError(f"{type(self).__name__} does not take segment=; fit one model per "
                             "segment (or cohort) instead.")
        counts = retention_counts(data)
        if len(counts) == 0:
            raise DataError([Problem(None, "no renewal period is observed",
                                     "pass customers observed for at least one period")],
                            what=f"the data passed to {type(self).__name__}")
        cols = [counts[c].to_numpy(dtype=np.float64) for c in _COLUMNS]
        return cols, counts["weight"].to_numpy(dtype=np.float64), counts

    def _n_customers(self, data: pd.DataFrame) -> float:
        return float(retention_counts(data)["weight"].sum())

    def _at_draws(self, method: Callable[[RetentionModel], Any], dim: str | None,
                  coord: np.ndarray | None, name: str, thin: int) -> xr.DataArray:
        """Evaluate ``method(point_model)`` at every draw (a maximum-likelihood model per draw)."""
        _, chains, draws = self._param_draws(thin)
        values = [np.asarray(method(point), dtype=np.float64) for point in self.point_models(thin)]
        arr = np.stack(values).reshape(chains.size, draws.size, *values[0].shape)
        dims = ("chain", "draw") + ((dim,) if dim is not None else ())
        coords: dict[str, Any] = {"chain": chains, "draw": draws}
        if dim is not None:
            coords[dim] = coord
        return xr.DataArray(arr, dims=dims, coords=coords, name=name)

    def survival(self, t: ArrayLike, *, thin: int = 1) -> xr.DataArray:
        """Share of a new cohort still active after ``t`` periods, per draw: (chain, draw, t)."""
        grid = np.atleast_1d(np.asarray(t, dtype=np.float64))
        return self._at_draws(lambda m: m.survival(grid), "t", grid, "survival", thin)

    def retention_rate(self, t: ArrayLike, *, thin: int = 1) -> xr.DataArray:
        """Renewal rate ``S(t) / S(t-1)`` per draw: (chain, draw, t)."""
        grid = np.atleast_1d(np.asarray(t, dtype=np.float64))
        return self._at_draws(lambda m: m.retention_rate(grid), "t", grid, "retention_rate", thin)

    def probability_of_churn(self, t: ArrayLike, *, thin: int = 1) -> xr.DataArray:
        """Probability that a new customer is lost in period ``t``, per draw: (chain, draw, t)."""
        grid = np.atleast_1d(np.asarray(t, dtype=np.float64))
        return self._at_draws(lambda m: m.probability_of_churn(grid), "t", grid,
                              "probability_of_churn", thin)

    def expected_lifetime(self, *, discount_rate: float = 0.0, thin: int = 1) -> xr.DataArray:
        """(Discounted) expected lifetime of a new customer per draw: (chain, draw)."""
        return self._at_draws(lambda m: m.expected_lifetime(discount_rate=discount_rate), None,
                              None, "expected_lifetime", thin)

    def expected_residual_lifetime(self, periods_observed: ArrayLike, *,
                                   discount_rate: float = 0.0, thin: int = 1) -> xr.DataArray:
        """DERL of active customers per draw: (chain, draw, customer_id).

        ``periods_observed`` as in the maximum-likelihood method; a Series
        gives its index as the ``customer_id`` coordinate.
        """
        n = np.atleast_1d(np.asarray(periods_observed, dtype=np.float64))
        ids = (periods_observed.index.to_numpy() if isinstance(periods_observed, pd.Series)
               else np.arange(n.size))
        return self._at_draws(
            lambda m: np.broadcast_to(m.expected_residual_lifetime(n, discount_rate=discount_rate),
                                      n.shape),
            "customer_id", ids, "expected_residual_lifetime", thin)
