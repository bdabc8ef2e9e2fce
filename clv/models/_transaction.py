"""``TransactionModel``: the prediction surface shared by BG/NBD, MBG/NBD, Pareto/NBD and BG/BB."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from clv.models._base import ParametricModel

__all__ = ["CovariateTransactionModel", "TransactionModel"]

_RFM = ("frequency", "recency", "T")


class TransactionModel(ParametricModel):
    """Base class of the repeat-purchase models; maps the spec's pure functions over customers."""

    _needs_repeat_buyers = True

    def _series(self, values: np.ndarray, data: pd.DataFrame, name: str) -> pd.Series:
        return pd.Series(np.asarray(values, dtype=np.float64), index=data.index, name=name)

    def probability_alive(self, data: pd.DataFrame) -> pd.Series:
        """Probability that each customer is still alive at the end of observation.

        Parameters
        ----------
        data : DataFrame
            RFM frame with ``frequency``, ``recency``, ``T`` (and the model's
            covariate columns, if it has covariates: each customer is scored
            with their own parameters).

        Returns
        -------
        Series
            Aligned to ``data.index``.
        """
        assert self.spec.probability_alive is not None
        x, t_x, T = self._arrays(data, _RFM)
        p = self._customer_params(data)
        return self._series(self.spec.probability_alive(p, x, t_x, T), data, "probability_alive")

    def expected_purchases(self, t: ArrayLike, data: pd.DataFrame) -> pd.Series:
        """Expected repeat purchases of each customer in the next ``t`` periods.

        Parameters
        ----------
        t : float or array_like
            Horizon in the data's periods (a scalar, or one value per customer).
        data : DataFrame
            RFM frame with ``frequency``, ``recency``, ``T`` (and the model's
            covariate columns, if it has covariates: each customer is scored
            with their own parameters).

        Returns
        -------
        Series
            Aligned to ``data.index``.
        """
        assert self.spec.expected_purchases is not None
        x, t_x, T = self._arrays(data, _RFM)
        p = self._customer_params(data)
        t_arr = _check_horizon(t)
        return self._series(
            self.spec.expected_purchases(p, t_arr, x, t_x, T) * np.ones_like(x),
            data,
            "expected_purchases",
        )

    def _new_customer_params(self, covariates: pd.DataFrame | None) -> Any:
        if covariates is None:
            return self._p
        if not isinstance(covariates, pd.DataFrame):
            raise TypeError("covariates must be a DataFrame with one row per (new) customer.")
        return self._customer_params(covariates)

    def expected_purchases_new_customer(
        self, t: ArrayLike, *, covariates: pd.DataFrame | None = None
    ) -> np.ndarray | pd.Series:
        """Expected repeat purchases of a newly acquired customer in ``(0, t]``.

        Parameters
        ----------
        t : float or array_like
            Horizon in periods.
        covariates : DataFrame, optional
            For a model with covariates: one row per new customer with the
            covariate columns; the result is then a Series aligned to its
            index (``t`` a scalar or one value per row). Without it the
            customer has every covariate at 0 (the base parameters).
        """
        assert self.spec.expected_purchases_new_customer is not None
        p = self._new_customer_params(covariates)
        values = self.spec.expected_purchases_new_customer(p, _check_horizon(t))
        if covariates is None:
            return np.asarray(values)
        return self._series(np.asarray(values) * np.ones(len(covariates)), covariates,
                            "expected_purchases_new_customer")

    def probability_of_purchases(
        self, n: ArrayLike, t: ArrayLike, *, covariates: pd.DataFrame | None = None
    ) -> np.ndarray | pd.Series:
        """Probability that a new customer makes exactly ``n`` repeat purchases in ``(0, t]``.

        ``covariates`` as in :meth:`expected_purchases_new_customer` (``n`` and
        ``t`` then scalars or one value per row); without it every covariate
        is 0.
        """
        assert self.spec.probability_of_purchases is not None
        n_arr = np.asarray(n, dtype=np.float64)
        if np.any(n_arr < 0) or np.any(n_arr != np.round(n_arr)):
            raise ValueError("n must be a non-negative whole number of purchases.")
        p = self._new_customer_params(covariates)
        values = self.spec.probability_of_purchases(p, n_arr, _check_horizon(t))
        if covariates is None:
            return np.asarray(values)
        return self._series(np.asarray(values) * np.ones(len(covariates)), covariates,
                            "probability_of_purchases")

    def simulate(
        self, T: ArrayLike, *, random_state: int | np.random.Generator | None = None
    ) -> pd.DataFrame:
        """Simulate customers from the fitted parameters (covariates at 0, if the model has any).

        Parameters
        ----------
        T : array_like
            Age of each simulated customer, in periods (one per customer).
        random_state : int or Generator, optional
            Seed; the same seed gives the same data.

        Returns
        -------
        DataFrame
            RFM columns (``frequency``, ``recency``, ``T``) indexed by ``customer_id``
            0..n-1, plus the latent quantities of the model.
        """
        assert self.spec.simulate is not None
        rng = np.random.default_rng(random_state)
        sim = self.spec.simulate(self._p, np.atleast_1d(np.asarray(T, dtype=np.float64)), rng=rng)
        frame = pd.DataFrame(sim)
        frame.index.name = "customer_id"
        return frame


def _check_horizon(t: ArrayLike) -> np.ndarray:
    arr = np.asarray(t, dtype=np.float64)
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(
            f"the horizon t must be finite and >= 0 (periods of the data's time unit), got {t!r}."
        )
    return arr


class CovariateTransactionModel(TransactionModel):
    """A transaction model whose purchase and dropout processes take customer covariates.

    Parameters
    ----------
    penalizer : float, default 0.0
        L2 penalty on the base parameters (see :class:`ParametricModel`).
    purchase_covariates, dropout_covariates : sequence of str, optional
        Columns of the data acting on the purchase rate and on dropout (see the
        model's docs for the link); coefficients ``purchase[col]``, ``dropout[col]``.
    covariate_penalty : float, default 0.0
        L2 penalty on the standardised coefficients.
    coefficient_priors : mapping, optional
        ``{"dropout[col]": (mean, sd)}``: Gaussian priors in natural units.
    """

    def __init__(self, *, penalizer: float = 0.0,
                 purchase_covariates: Sequence[str] | None = None,
                 dropout_covariates: Sequence[str] | None = None,
                 covariate_penalty: float = 0.0,
                 coefficient_priors: Mapping[str, tuple[float, float]] | None = None) -> None:
        super().__init__(penalizer=penalizer,
                         covariates={"purchase": purchase_covariates,
                                     "dropout": dropout_covariates},
                         covariate_penalty=covariate_penalty,
                         coefficient_priors=coefficient_priors)
