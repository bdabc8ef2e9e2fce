"""``TransactionBayesModel``: the prediction surface of the Bayesian repeat-purchase models.

The same method names as :class:`clv.models._transaction.TransactionModel`; each
maps the model module's pure NumPy function over the posterior draws.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import ArrayLike

from clv.bayes._base import BayesModel, Prior
from clv.bayes._fused import total_log_likelihood

__all__ = ["CovariateTransactionBayesModel", "FusedTransactionBayesModel", "TransactionBayesModel"]

_RFM = ("frequency", "recency", "T")


def _horizon(t: ArrayLike) -> float:
    value = np.asarray(t, dtype=np.float64)
    if value.ndim != 0 or not np.isfinite(value) or value < 0:
        raise ValueError(
            f"the horizon t must be one finite number >= 0 (periods of the data's "
            f"time unit), got {t!r}."
        )
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

    def _predict(
        self, fn: str, data: pd.DataFrame | None, *extra: Any, **kwargs: Any
    ) -> xr.DataArray | pd.DataFrame:
        func = getattr(self._spec, fn)
        return self._over_draws(
            func,
            data,
            _RFM if data is not None else (),
            *extra,
            name=fn,
            per_draw=fn in self.per_draw,
            **kwargs,
        )

    def probability_alive(
        self,
        data: pd.DataFrame,
        *,
        thin: int = 1,
        summary_only: bool = False,
        chunk_size: int | None = None,
    ) -> xr.DataArray | pd.DataFrame:
        """Probability that each customer is alive, per draw: dims (chain, draw, customer_id)."""
        return self._predict(
            "probability_alive", data, thin=thin, summary_only=summary_only, chunk_size=chunk_size
        )

    def expected_purchases(
        self,
        t: ArrayLike,
        data: pd.DataFrame,
        *,
        thin: int = 1,
        summary_only: bool = False,
        chunk_size: int | None = None,
    ) -> xr.DataArray | pd.DataFrame:
        """Expected repeat purchases in the next ``t`` periods (scalar ``t``), per draw."""
        return self._predict(
            "expected_purchases",
            data,
            _horizon(t),
            thin=thin,
            summary_only=summary_only,
            chunk_size=chunk_size,
        )

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
    ``constrain`` names columns of both lists whose coefficient is shared by the
    two processes (CLVTools' ``names.cov.constr``, as ``constrain=`` of the
    maximum-likelihood models): one variable, ``constrained[column]``, enters
    both links and is reported as ``purchase[column]`` and ``dropout[column]``.
    """

    def __init__(
        self,
        priors: Mapping[str, Prior] | None = None,
        *,
        purchase_covariates: Sequence[str] | None = None,
        dropout_covariates: Sequence[str] | None = None,
        coefficient_prior: Prior | None = None,
        segment: str | None = None,
        pooling: str = "partial",
        constrain: Sequence[str] | None = None,
    ) -> None:
        super().__init__(
            priors,
            segment=segment,
            pooling=pooling,
            covariates={"purchase": purchase_covariates, "dropout": dropout_covariates},
            coefficient_prior=coefficient_prior,
            constrain=constrain,
        )


class FusedTransactionBayesModel(CovariateTransactionBayesModel):
    """A covariate transaction model whose plain form runs one fused likelihood ``Op``.

    Subclasses name the model module's NumPy routine for the weighted total
    log-likelihood and its gradient in ``fused_total_gradient``.  Without
    segments or covariates, and unless ``mutable_data``, the PyMC model is that
    routine inside one ``Op`` (:mod:`clv.bayes._fused`): the same code as the
    maximum-likelihood fit, several times faster per evaluation than the
    elementwise graph, but not compilable by nutpie or JAX samplers, which then
    get the graph.
    """

    fused: ClassVar[bool] = True
    """Whether the plain model (no segments, no covariates) with PyMC's samplers, ADVI or MAP
    uses the fused likelihood instead of the elementwise PyTensor graph."""
    fused_total_gradient: ClassVar[Callable[..., tuple[float, np.ndarray]]]
    fused_prepare: ClassVar[Callable[..., Callable[[Any], tuple[float, np.ndarray]]] | None] = None
    """Optional ``prepare(*columns, weights) -> evaluate(params)`` equal to
    ``fused_total_gradient`` with the data-only work done once (see
    :class:`clv.bayes._fused.TotalLogLikelihood`)."""

    def build_model(self, data: pd.DataFrame, *, mutable_data: bool = False) -> Any:
        """The PyMC model (see :meth:`BayesModel.build_model`); fused when it can be."""
        if not self.fused or mutable_data or getattr(self, "_graph_only", False) or self._pairs:
            return super().build_model(data, mutable_data=mutable_data)
        import pymc as pm

        spec = self._spec
        cols, counts, _ = self._fit_data(data)
        if len(cols) != len(spec.columns):  # segment codes or covariates: the graph
            return super().build_model(data, mutable_data=mutable_data)
        func = self._total_gradient
        # the prepared form computes fused_total_gradient: not a routine bound differently
        own = getattr(type(self), "fused_total_gradient", None)
        prepare = type(self).fused_prepare if own is not None and func is own else None
        with pm.Model() as model:
            theta = self._fused_parameters(cols, counts)
            pm.Potential(
                "log_likelihood",
                total_log_likelihood(func, spec.params, theta, cols, counts, prepare=prepare),
            )
        return model

    @property
    def _total_gradient(self) -> Callable[..., tuple[float, np.ndarray]]:
        """The NumPy routine of the fused ``Op`` (a model with a fixed hyperparameter binds it)."""
        return type(self).fused_total_gradient

    def _fused_parameters(self, cols: list[np.ndarray], counts: np.ndarray) -> list[Any]:
        """The parameters of the fused model with their priors (inside the model's context).

        By default one random variable per parameter, sampled in the
        unconstrained space of its prior; a subclass may sample some of them
        in other coordinates (with the Jacobian), as long as each parameter
        keeps its name and its prior (see :class:`clv.bayes.ParetoNBDModel`).
        """
        return self._prior_variables()

    def _sampler(self, sampler: str) -> str:
        # the fused likelihood under PyMC's NUTS beats nutpie on the elementwise graph
        # (BG/NBD on CDNOW, 4 x 1000 draws: 8.4 s against 13.5 s), so "auto" keeps PyMC
        chosen = super()._sampler(sampler)
        if sampler == "auto" and self.fused and not self._segmented and not self._design:
            return "pymc"
        return chosen

    def fit(
        self,
        data: pd.DataFrame,
        method: str = "nuts",
        *,
        sampler: str = "pymc",
        log_likelihood: bool | None = None,
        **sampler_kwargs: object,
    ) -> Self:
        """See :meth:`BayesModel.fit`; nutpie (and other compiled samplers) get the graph."""
        chosen = sampler_kwargs.get("nuts_sampler") or self._sampler(sampler)
        self._graph_only = method == "nuts" and chosen != "pymc"
        try:
            return super().fit(
                data, method, sampler=sampler, log_likelihood=log_likelihood, **sampler_kwargs
            )
        finally:
            del self._graph_only
