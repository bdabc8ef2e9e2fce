"""``RetentionBayesModel``: Bayesian contractual retention models (sBG, BdW).

Without covariates the data are validated and aggregated by
:func:`clv.models._retention_data.retention_counts` (per-customer rows or a survival
table), exactly as for the maximum-likelihood fit, and the predictions evaluate
the maximum-likelihood class's methods at each posterior draw.

With ``churn_covariates`` the fit uses one row per customer
(``periods_observed``, ``churned`` and the covariate columns; identical rows
are compressed), and the likelihood is the discrete proportional-hazards
likelihood of :mod:`clv.models._retention_covariates`, run with
``ops=PYTENSOR``: the very function the maximum-likelihood fit maximises.  The
churn multiplier :math:`k_i = e^{\\gamma_c^\\top x_i}` comes from the shared
link :func:`clv.models._covariates.covariate_multiplier`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import ArrayLike

from clv.bayes._base import BayesModel, Prior
from clv.bayes._draws import chunk_sizes, summarize_draws
from clv.exceptions import DataError, Problem
from clv.models import _covariates as cov
from clv.models import _retention_covariates as ph
from clv.models._mle import compress
from clv.models._retention import RetentionModel
from clv.models._retention_data import refuse_survival_table, retention_counts
from clv.models._retention_math import _check_periods

__all__ = ["RetentionBayesModel"]

_COLUMNS = ("periods_observed", "churned")


class RetentionBayesModel(BayesModel):
    r"""Base class of the Bayesian retention models: one set of parameters for all cohorts.

    Parameters
    ----------
    priors : mapping, optional
        ``{parameter: (distribution, kwargs)}``, as in :class:`BayesModel`; a
        churn coefficient (``"churn[complaints]"``) may get a prior here, in
        natural units (per unit of its column).
    churn_covariates : list of str, optional
        Customer covariates as discrete proportional hazards, as in
        :class:`clv.models.ShiftedBetaGeoModel`:
        :math:`S_i(t) = B(\alpha, \beta + k_i t^c)/B(\alpha, \beta)`,
        :math:`k_i = e^{\gamma_c^\top x_i}`; a positive coefficient raises
        churn.  The priors of ``alpha, beta`` (and ``c``) then apply to a
        customer with every covariate at 0, as the base parameters of the
        maximum-likelihood fit.  Needs per-customer rows (not a survival table).
    coefficient_prior : (distribution, kwargs), optional
        Prior of every coefficient without a prior of its own in ``priors``,
        per standard deviation of its column; default ``Normal(0, 1)``.

    Predictions over ``t`` have dims ``("chain", "draw", "t")``; the lifetime
    predictions of a new customer ``("chain", "draw")``.  With
    ``covariates=`` (one row per customer with the covariate columns) every
    prediction is per customer, dims ``("chain", "draw", "customer_id")``, and
    ``summary_only=True`` gives the tidy summary of :func:`summarize_draws`.
    """

    mle_class: ClassVar[type[RetentionModel]]

    def __init__(
        self,
        priors: Mapping[str, Prior] | None = None,
        *,
        churn_covariates: Sequence[str] | None = None,
        coefficient_prior: Prior | None = None,
        segment: str | None = None,
        pooling: str = "partial",
    ) -> None:
        super().__init__(
            priors,
            segment=segment,
            pooling=pooling,
            covariates={"churn": churn_covariates},
            coefficient_prior=coefficient_prior,
        )

    @property
    def pointwise(self) -> bool:  # type: ignore[override]
        """Whether a per-customer log-likelihood exists: only with covariates (one row each)."""
        return bool(self._design)

    def _likelihood_with_multipliers(self) -> cov.LikelihoodWithMultipliers:
        return ph.log_likelihood

    # ------------------------------------------------------------------ data
    def _customer_rows(self, data: pd.DataFrame) -> pd.DataFrame:
        """Validated per-customer rows (``retention_counts``); a survival table is refused."""
        refuse_survival_table(
            data, self._design.coef_columns, f"the data passed to {type(self).__name__}"
        )
        return retention_counts(data)

    def _fit_data(self, data: pd.DataFrame) -> tuple[list[np.ndarray], np.ndarray, pd.DataFrame]:
        if self.segment is not None:
            raise ValueError(
                f"{type(self).__name__} does not take segment=; fit one model per "
                "segment (or cohort) instead."
            )
        what = f"the data passed to {type(self).__name__}"
        counts = self._customer_rows(data) if self._design else retention_counts(data)
        if len(counts) == 0:
            raise DataError(
                [
                    Problem(
                        None,
                        "no renewal period is observed",
                        "pass customers observed for at least one period",
                    )
                ],
                what=what,
            )
        cols = [counts[c].to_numpy(dtype=np.float64) for c in _COLUMNS]
        weights = counts["weight"].to_numpy(dtype=np.float64)
        if not self._design:
            return cols, weights, counts
        cols.extend(self._fit_covariates(data, weights, what))
        unique, n_rows = compress(cols, weights)
        return unique, n_rows, counts

    def _n_customers(self, data: pd.DataFrame) -> float:
        return float(retention_counts(data)["weight"].sum())

    # ------------------------------------------------------------------ per-customer draws
    def _churn_draws(
        self, covariates: pd.DataFrame, thin: int
    ) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
        """Parameter draws ``(samples, 1)`` and churn multipliers ``(samples, customers)``.

        The multiplier is the link of the maximum-likelihood model
        (:func:`clv.models._covariates.covariate_multiplier`) at every draw.
        """
        if not isinstance(covariates, pd.DataFrame):
            raise TypeError("covariates must be a DataFrame with one row per customer.")
        theta, chains, draws = self._param_draws(thin)
        params = self.mle_class.spec.params(*(t[:, None] for t in theta))
        n = len(covariates)
        if not self._design:
            return params, np.ones((theta[0].size, n)), chains, draws
        Z = self._covariate_columns(covariates)
        X = self._design.split([z[None, :] for z in Z])
        G = self._design.split([g[:, None] for g in self._coef_draws(thin)])
        k = cov.covariate_multiplier(X["churn"], G["churn"], 1.0)
        return (
            params,
            np.broadcast_to(np.asarray(k, dtype=np.float64), (theta[0].size, n)),
            chains,
            draws,
        )

    @staticmethod
    def _per_customer(
        values: np.ndarray,
        chains: np.ndarray,
        draws: np.ndarray,
        index: pd.Index,
        name: str,
        summary_only: bool,
    ) -> xr.DataArray | pd.DataFrame:
        n = len(index)
        arr = np.broadcast_to(np.asarray(values, dtype=np.float64), (chains.size * draws.size, n))
        out = xr.DataArray(
            arr.reshape(chains.size, draws.size, n),
            dims=("chain", "draw", "customer_id"),
            coords={"chain": chains, "draw": draws, "customer_id": index.to_numpy()},
            name=name,
        )
        return summarize_draws(out) if summary_only else out

    def _customer_periods(self, t: ArrayLike, n: int, low: float, name: str) -> np.ndarray:
        """``t`` (scalar or one value per customer) as a ``(1, customers)`` row."""
        arr = _check_periods(t, low, name)
        if arr.ndim > 1 or (arr.ndim == 1 and arr.size not in (1, n)):
            raise ValueError(
                f"with covariates, {name} must be one number or one value per "
                f"customer ({n}); got shape {arr.shape}."
            )
        return np.broadcast_to(arr.reshape(-1), (n,))[None, :]

    def _with_covariates(
        self,
        covariates: pd.DataFrame,
        t: ArrayLike,
        low: float,
        fn: Callable[[Any, np.ndarray, np.ndarray], Any],
        name: str,
        thin: int,
        summary_only: bool,
    ) -> xr.DataArray | pd.DataFrame:
        params, k, chains, draws = self._churn_draws(covariates, thin)
        tt = self._customer_periods(t, len(covariates), low, "t")
        return self._per_customer(
            fn(params, k, tt), chains, draws, covariates.index, name, summary_only
        )

    # ------------------------------------------------------------------ log-likelihood
    def pointwise_log_likelihood(self, data: pd.DataFrame, *, thin: int = 1) -> xr.DataArray:
        """Log-likelihood of each customer at every draw (models with churn covariates).

        The same function as the fit
        (:func:`clv.models._retention_covariates.log_likelihood`), in NumPy.
        Without covariates the retention data are aggregated counts and there
        is no per-customer log-likelihood (nor LOO).

        Returns
        -------
        DataArray
            Dims ``("chain", "draw", "customer_id")``.
        """
        if not self._design:
            raise ValueError(
                f"{type(self).__name__} is fitted on aggregated retention counts; a "
                "per-customer log-likelihood (and LOO) needs churn_covariates and "
                "one row per customer."
            )
        if "weight" in data.columns:
            raise ValueError(
                "the pointwise log-likelihood needs one row per customer; data has "
                "a 'weight' column (rows standing for several customers). Pass the "
                "unweighted per-customer frame."
            )
        rows = self._customer_rows(data)
        params, k, chains, draws = self._churn_draws(data, thin)
        n_obs = rows["periods_observed"].to_numpy(dtype=np.float64)
        lost = rows["churned"].to_numpy(dtype=np.float64)
        out = np.empty(k.shape)
        for lo, hi in chunk_sizes(len(rows), k.shape[0]):
            out[:, lo:hi] = ph.log_likelihood(
                params, {"churn": k[:, lo:hi]}, n_obs[None, lo:hi], lost[None, lo:hi]
            )
        result = self._per_customer(out, chains, draws, rows.index, "log_likelihood", False)
        assert isinstance(result, xr.DataArray)
        return result

    # ------------------------------------------------------------------ predictions
    def point_models(self, thin: int = 1, *, segment: Any = None) -> list[RetentionModel]:
        """One maximum-likelihood retention model per posterior draw (see the base class)."""
        points = super().point_models(thin, segment=segment)
        out = [p for p in points if isinstance(p, RetentionModel)]
        if len(out) != len(points):  # mle_class is declared a RetentionModel
            raise TypeError(f"{type(self).__name__}.mle_class is not a RetentionModel.")
        return out

    def _at_draws(
        self,
        method: Callable[[RetentionModel], Any],
        dim: str | None,
        coord: np.ndarray | None,
        name: str,
        thin: int,
    ) -> xr.DataArray:
        """Evaluate ``method(point_model)`` at every draw (a maximum-likelihood model per draw)."""
        _, chains, draws = self._param_draws(thin)
        values = [np.asarray(method(point), dtype=np.float64) for point in self.point_models(thin)]
        arr = np.stack(values).reshape(chains.size, draws.size, *values[0].shape)
        dims = ("chain", "draw") + ((dim,) if dim is not None else ())
        coords: dict[str, Any] = {"chain": chains, "draw": draws}
        if dim is not None:
            coords[dim] = coord
        return xr.DataArray(arr, dims=dims, coords=coords, name=name)

    def _curve(
        self,
        name: str,
        t: ArrayLike,
        covariates: pd.DataFrame | None,
        low: float,
        per_customer: Callable[[Any, np.ndarray, np.ndarray], Any],
        thin: int,
        summary_only: bool,
    ) -> xr.DataArray | pd.DataFrame:
        """The maximum-likelihood method ``name`` over ``t`` at every draw, or per customer.

        With ``covariates``, ``per_customer(params, churn_covariates, t)`` for each
        customer (``low``: the smallest period ``t`` may be); without, the
        method of the maximum-likelihood model on the grid ``t``.
        """
        if covariates is not None:
            return self._with_covariates(covariates, t, low, per_customer, name, thin, summary_only)
        grid = np.atleast_1d(np.asarray(t, dtype=np.float64))
        return self._at_draws(lambda m: getattr(m, name)(grid), "t", grid, name, thin)

    def survival(
        self,
        t: ArrayLike,
        *,
        covariates: pd.DataFrame | None = None,
        thin: int = 1,
        summary_only: bool = False,
    ) -> xr.DataArray | pd.DataFrame:
        """Share of a new cohort still active after ``t`` periods, per draw: (chain, draw, t).

        With ``covariates=`` (one row per customer; ``t`` one number or one per
        row): each customer's :math:`S_i(t)`, dims (chain, draw, customer_id).
        Without it, a model with covariates gives the values at every covariate 0.
        """
        return self._curve(
            "survival",
            t,
            covariates,
            0.0,
            lambda p, k, tt: np.exp(ph.log_survival(p, k, tt)),
            thin,
            summary_only,
        )

    def retention_rate(
        self,
        t: ArrayLike,
        *,
        covariates: pd.DataFrame | None = None,
        thin: int = 1,
        summary_only: bool = False,
    ) -> xr.DataArray | pd.DataFrame:
        """Renewal rate ``S(t) / S(t-1)`` per draw: (chain, draw, t), or per customer."""

        def rate(p: Any, k: np.ndarray, tt: np.ndarray) -> Any:
            diff = ph.log_survival(p, k, tt) - ph.log_survival(p, k, tt - 1.0)
            return np.exp(np.minimum(diff, 0.0))

        return self._curve("retention_rate", t, covariates, 1.0, rate, thin, summary_only)

    def probability_of_churn(
        self,
        t: ArrayLike,
        *,
        covariates: pd.DataFrame | None = None,
        thin: int = 1,
        summary_only: bool = False,
    ) -> xr.DataArray | pd.DataFrame:
        """Probability of being lost in period ``t``, per draw: (chain, draw, t) or per customer.

        With ``covariates=``: :math:`S_i(t-1) - S_i(t)` of each customer (the
        likelihood of a customer lost in ``t``).
        """
        return self._curve(
            "probability_of_churn",
            t,
            covariates,
            1.0,
            lambda p, k, tt: np.exp(ph.log_likelihood(p, {"churn": k}, tt, 1.0)),
            thin,
            summary_only,
        )

    def expected_lifetime(
        self,
        *,
        discount_rate: float = 0.0,
        covariates: pd.DataFrame | None = None,
        thin: int = 1,
        summary_only: bool = False,
    ) -> xr.DataArray | pd.DataFrame:
        """(Discounted) expected lifetime of a new customer per draw: (chain, draw).

        With ``covariates=`` (one row per new customer): dims (chain, draw,
        customer_id), the maximum-likelihood method at every draw.
        """
        if covariates is not None:
            return self._customer_method(
                lambda m: m.expected_lifetime(discount_rate=discount_rate, covariates=covariates),
                covariates,
                "expected_lifetime",
                thin,
                summary_only,
            )
        return self._at_draws(
            lambda m: m.expected_lifetime(discount_rate=discount_rate),
            None,
            None,
            "expected_lifetime",
            thin,
        )

    def expected_residual_lifetime(
        self,
        periods_observed: ArrayLike,
        *,
        discount_rate: float = 0.0,
        covariates: pd.DataFrame | None = None,
        thin: int = 1,
        summary_only: bool = False,
    ) -> xr.DataArray | pd.DataFrame:
        """DERL of active customers per draw: (chain, draw, customer_id).

        ``periods_observed`` as in the maximum-likelihood method; a Series
        gives its index as the ``customer_id`` coordinate.  With
        ``covariates=`` (one row per customer, aligned with
        ``periods_observed``) each customer's own churn hazard is used and the
        coordinate is the index of ``covariates``; the residual lifetime is then
        the maximum-likelihood model's numerical sum per draw and customer
        (measured: about 1 ms per customer and draw at ``discount_rate=0.01``,
        much more at 0, where the power-law tail needs long sums), so use
        ``thin`` on large posteriors.
        """
        n = np.atleast_1d(np.asarray(periods_observed, dtype=np.float64))
        if covariates is not None:
            return self._customer_method(
                lambda m: m.expected_residual_lifetime(
                    n, discount_rate=discount_rate, covariates=covariates
                ),
                covariates,
                "expected_residual_lifetime",
                thin,
                summary_only,
            )
        ids = (
            periods_observed.index.to_numpy()
            if isinstance(periods_observed, pd.Series)
            else np.arange(n.size)
        )
        return self._at_draws(
            lambda m: np.broadcast_to(
                m.expected_residual_lifetime(n, discount_rate=discount_rate), n.shape
            ),
            "customer_id",
            ids,
            "expected_residual_lifetime",
            thin,
        )

    def _customer_method(
        self,
        method: Callable[[RetentionModel], Any],
        covariates: pd.DataFrame,
        name: str,
        thin: int,
        summary_only: bool,
    ) -> xr.DataArray | pd.DataFrame:
        """A per-customer maximum-likelihood method at every draw."""
        if not isinstance(covariates, pd.DataFrame):
            raise TypeError("covariates must be a DataFrame with one row per customer.")
        _, chains, draws = self._param_draws(thin)
        values = np.stack(
            [np.asarray(method(point), dtype=np.float64) for point in self.point_models(thin)]
        )
        return self._per_customer(values, chains, draws, covariates.index, name, summary_only)
