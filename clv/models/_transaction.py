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

    def _rfm_params(self, data: pd.DataFrame) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
        """Each customer's parameters and ``frequency, recency, T`` (columns checked first)."""
        x, t_x, T = self._arrays(data, _RFM)
        return self._customer_params(data), x, t_x, T

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
        p, x, t_x, T = self._rfm_params(data)
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
        p, x, t_x, T = self._rfm_params(data)
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
        return self._series(
            np.asarray(values) * np.ones(len(covariates)),
            covariates,
            "expected_purchases_new_customer",
        )

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
        return self._series(
            np.asarray(values) * np.ones(len(covariates)), covariates, "probability_of_purchases"
        )

    def conditional_probability_of_purchases(
        self, n: ArrayLike, t: ArrayLike, data: pd.DataFrame
    ) -> pd.Series:
        """Probability that each customer makes exactly ``n`` purchases in the next ``t`` periods.

        Given their history (``frequency, recency, T``); see
        :mod:`clv.models.conditional` (BG/NBD, MBG/NBD, Pareto/NBD, BG/BB).

        Parameters
        ----------
        n : int or array_like
            Number of purchases (a scalar, or one per customer).
        t : float or array_like
            Horizon in periods (BG/BB: opportunities).
        data : DataFrame
            RFM frame (with the covariate columns of a model that has covariates).

        Returns
        -------
        Series
            Aligned to ``data.index``.
        """
        pmf, _ = _conditional_functions(self.spec.name)
        if pmf is None:
            raise NotImplementedError(
                "the conditional purchase-count distribution is not "
                f"available for {self.spec.name}."
            )
        n_arr = np.asarray(n, dtype=np.float64)
        if np.any(n_arr < 0) or np.any(n_arr != np.round(n_arr)):
            raise ValueError("n must be a non-negative whole number of purchases.")
        p, x, t_x, T = self._rfm_params(data)
        values = pmf(p, n_arr, _check_horizon(t), x, t_x, T)
        return self._series(
            np.asarray(values) * np.ones_like(x), data, "conditional_probability_of_purchases"
        )

    def probability_alive_at(self, t: ArrayLike, data: pd.DataFrame) -> pd.Series:
        """Probability that each customer is still alive ``t`` periods after the end of data.

        ``t = 0`` is :meth:`probability_alive` (for the BG/BB, whose
        :meth:`probability_alive` is alive at opportunity ``T + 1``, ``t = 1``).

        Returns
        -------
        Series
            Aligned to ``data.index``.
        """
        _, alive_at = _conditional_functions(self.spec.name)
        p, x, t_x, T = self._rfm_params(data)
        values = alive_at(p, _check_horizon(t), x, t_x, T)
        return self._series(np.asarray(values) * np.ones_like(x), data, "probability_alive_at")

    def expected_cumulative_transactions(
        self, first_purchase_times: ArrayLike, times: ArrayLike, *, weights: ArrayLike | None = None
    ) -> np.ndarray:
        """Expected cumulative repeat transactions of a cohort (a tracking curve).

        Parameters
        ----------
        first_purchase_times : array_like
            Each customer's first purchase, in periods from any origin.
        times : array_like
            Times (same origin and unit) at which to evaluate the curve.
        weights : array_like, optional
            Customers per entry of ``first_purchase_times``.

        Returns
        -------
        numpy.ndarray
            See :func:`clv.models.tracking.expected_cumulative_transactions`
            (covariates at 0, if the model has any).
        """
        from clv.models.tracking import expected_cumulative_transactions

        assert self.spec.expected_purchases_new_customer is not None
        p = self._p
        new = self.spec.expected_purchases_new_customer
        return expected_cumulative_transactions(
            lambda age: new(p, age), first_purchase_times, times, weights
        )

    def expected_incremental_transactions(
        self, first_purchase_times: ArrayLike, times: ArrayLike, *, weights: ArrayLike | None = None
    ) -> np.ndarray:
        """Expected repeat transactions of a cohort in each interval ``(times[k-1], times[k]]``.

        The first difference of :meth:`expected_cumulative_transactions`.
        """
        cumulative = self.expected_cumulative_transactions(
            first_purchase_times, times, weights=weights
        )
        return np.diff(cumulative, prepend=0.0)

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


def _ggompertz_alive_at() -> Any:
    from clv.models.ggompertz_nbd import probability_alive_at

    return probability_alive_at


def _correlated_pnbd_functions() -> tuple[Any, Any]:
    from clv.models import pareto_nbd_corr as m

    return m.conditional_probability_of_purchases, m.probability_alive_at


def _erlang_functions(name: str) -> tuple[Any, Any]:
    """Conditional PMF and P(alive at T + t) of the NBD and (M)BG/CNBD-k models."""
    if name == "NBD":
        from clv.models import nbd

        return nbd.conditional_probability_of_purchases, nbd.probability_alive_at
    from clv.models import _cnbd_math as m

    at_zero = name == "MBG/CNBD-k"
    return m.conditional_pmf_function(at_zero), m.alive_at_function(at_zero)


def _conditional_functions(name: str) -> tuple[Any, Any]:
    """The conditional PMF and P(alive at T + t) functions of a model (by spec name)."""
    from clv.models import conditional as c

    if name in ("NBD", "MBG/CNBD-k", "BG/CNBD-k"):
        return _erlang_functions(name)

    table: dict[str, tuple[Any, Any]] = {
        "BG/NBD": (c.bgnbd_probability_of_purchases, c.bgnbd_probability_alive_at),
        "MBG/NBD": (c.mbgnbd_probability_of_purchases, c.mbgnbd_probability_alive_at),
        "Pareto/NBD": (c.pareto_nbd_probability_of_purchases, c.pareto_nbd_probability_alive_at),
        "BG/BB": (c.bgbb_probability_of_purchases, c.bgbb_probability_alive_at),
        "GGompertz/NBD": (None, _ggompertz_alive_at()),
        "Pareto/NBD (correlated)": _correlated_pnbd_functions(),
    }
    if name not in table:
        raise NotImplementedError(f"conditional predictions are not available for {name}.")
    return table[name]


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
    covariate_penalty : float or mapping, default 0.0
        L2 penalty on the coefficients, one strength or one per process
        (``{"purchase": 8.0, "dropout": 3.0}``, CLVTools' ``reg.lambdas``).
    coefficient_priors : mapping, optional
        ``{"dropout[col]": (mean, sd)}``: Gaussian priors in natural units.
    constrain : sequence of str, optional
        Columns in both ``purchase_covariates`` and ``dropout_covariates``
        with one coefficient shared by both processes (CLVTools'
        ``names.cov.constr``).
    covariate_penalty_units : {"standardised", "natural"}, default "standardised"
        Penalise coefficients per standard deviation of their column, or per
        unit as given (CLVTools).

    See :class:`~clv.models._base.ParametricModel` for the details.
    """

    def __init__(
        self,
        *,
        penalizer: float = 0.0,
        purchase_covariates: Sequence[str] | None = None,
        dropout_covariates: Sequence[str] | None = None,
        covariate_penalty: float | Mapping[str, float] = 0.0,
        coefficient_priors: Mapping[str, tuple[float, float]] | None = None,
        constrain: Sequence[str] | None = None,
        covariate_penalty_units: str = "standardised",
    ) -> None:
        super().__init__(
            penalizer=penalizer,
            covariates={"purchase": purchase_covariates, "dropout": dropout_covariates},
            covariate_penalty=covariate_penalty,
            coefficient_priors=coefficient_priors,
            constrain=constrain,
            covariate_penalty_units=covariate_penalty_units,
        )
