"""Bayesian time-varying covariate models on the maximum-likelihood models' likelihoods.

:class:`ParetoNBDDynamicModel` and :class:`BetaGeoDynamicModel` put priors on
the base parameters and Normal priors on the coefficients, and evaluate the
likelihood with the very NumPy routine the maximum-likelihood fit uses
(``_ll_grad`` of :class:`clv.models.ParetoNBDDynamicModel` /
:class:`clv.models.BetaGeoDynamicModel`: the per-customer log-likelihood and
its gradient, analytic for the Pareto/NBD) inside one PyTensor ``Op``
(:class:`clv.bayes._fused.VectorLogLikelihood`).  There is no second copy of
the likelihood.  The ``Op`` runs Python code, so PyMC's own NUTS, ADVI and
MAP work; compiled samplers (nutpie, JAX) do not.

Predictions average the maximum-likelihood model's predictions over the
posterior draws (:meth:`TimeVaryingBayesModel.point_models`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from clv.bayes._base import METHODS, Prior, _check_priors
from clv.bayes._fused import VectorLogLikelihood
from clv.bayes._ops import op_outputs
from clv.bayes._sampling import advi_draws, find_map, nuts_kwargs, quiet_sampler_warnings
from clv.bayes.bgnbd import BetaGeoModel as _BayesBetaGeoModel
from clv.bayes.pareto_nbd import ParetoNBDModel as _BayesParetoNBDModel
from clv.exceptions import NotFittedError
from clv.models._dyncov_data import TimeVaryingData
from clv.models.bgnbd_dyncov import BetaGeoDynamicModel as _MLEBetaGeoDynamicModel
from clv.models.pareto_nbd_dyncov import ParetoNBDDynamicModel as _MLEParetoNBDDynamicModel
from clv.models.pareto_nbd_dyncov import _TimeVaryingModel

__all__ = ["BetaGeoDynamicModel", "ParetoNBDDynamicModel", "TimeVaryingBayesModel"]

#: Prior of every coefficient without one of its own (natural units: per unit of the column).
COEFFICIENT_PRIOR: Prior = ("Normal", {"mu": 0.0, "sigma": 1.0})


@dataclass(frozen=True, eq=False)  # hashed by identity (the Op is hashed)
class _TotalLogLikelihood:
    """``theta -> (sum of log-likelihoods, gradient)`` of an MLE model on fixed arrays
    (picklable, so PyMC's worker processes get it)."""

    model: Any
    arrays: Any

    def __call__(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        base, gp, gd = self.model._split(theta)
        ll, grad = self.model._ll_grad(base, gp, gd, self.arrays)
        return float(np.sum(ll)), grad.sum(axis=1)


class TimeVaryingBayesModel:
    """Base class: priors, the fused likelihood, NUTS/ADVI/MAP, summaries, point models.

    Parameters
    ----------
    priors : mapping, optional
        ``{parameter: (PyMC distribution name, kwargs)}`` for base parameters
        and coefficients (``"purchase[promo]"``); others keep the defaults.
    purchase_covariates, dropout_covariates : sequence of str
        As in the maximum-likelihood model.
    coefficient_prior : (distribution, kwargs), optional
        Prior of every coefficient without its own, in natural units;
        default ``Normal(0, 1)``.
    """

    mle_class: ClassVar[type[_TimeVaryingModel]]
    default_priors: ClassVar[Mapping[str, Prior]]

    def __init__(
        self,
        priors: Mapping[str, Prior] | None = None,
        *,
        purchase_covariates: Sequence[str] = (),
        dropout_covariates: Sequence[str] = (),
        coefficient_prior: Prior | None = None,
    ) -> None:
        self._mle = self.mle_class(
            purchase_covariates=purchase_covariates, dropout_covariates=dropout_covariates
        )
        self.purchase_covariates = purchase_covariates
        self.dropout_covariates = dropout_covariates
        names = tuple(self._mle._param_names())
        base = self._mle._base
        coef = coefficient_prior or COEFFICIENT_PRIOR
        merged = {
            **{n: self.default_priors[n] for n in base},
            **dict.fromkeys(names[len(base) :], coef),
            **dict(priors or {}),
        }
        self._priors = _check_priors(merged, names, type(self).__name__)

    @property
    def param_names(self) -> list[str]:
        """Base parameters, then the coefficients."""
        return list(self._mle._param_names())

    @property
    def priors(self) -> dict[str, Prior]:
        """The prior of every parameter."""
        return dict(self._priors)

    def build_model(self, data: TimeVaryingData) -> pm.Model:
        """The PyMC model: priors and the MLE log-likelihood as one ``pm.Potential``."""
        arrays = self._mle._arrays(data)
        func = _TotalLogLikelihood(self._mle, arrays)
        op = VectorLogLikelihood(func, len(self.param_names))
        with pm.Model() as model:
            theta = [
                getattr(pm, self._priors[n][0])(n, **self._priors[n][1]) for n in self.param_names
            ]
            pm.Potential("log_likelihood", op_outputs(op, pt.stack(theta))[0])
        return model

    def fit(self, data: TimeVaryingData, method: str = "nuts", **sampler_kwargs: Any) -> Self:
        """Draw from (``"nuts"``, ``"advi"``) or maximise (``"map"``) the posterior.

        ``sampler_kwargs`` go to :func:`pymc.sample` (``draws``, ``tune``,
        ``chains``, ``cores``, ``random_seed``...), :func:`pymc.fit` (``n``,
        plus ``draws``) or :func:`pymc.find_MAP`.
        """
        if method not in METHODS:
            raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
        model = self.build_model(data)
        kwargs = dict(sampler_kwargs)
        kwargs.setdefault("progressbar", False)
        with model:
            if method == "nuts":
                kwargs = nuts_kwargs(model, kwargs)
                with quiet_sampler_warnings():
                    idata = pm.sample(**kwargs)
            elif method == "map":
                point = find_map(kwargs)
                idata = az.from_dict(
                    posterior={n: np.asarray(point[n])[None, None] for n in self.param_names}
                )
            else:
                idata = advi_draws(kwargs)
        self.idata_ = idata
        self.method_ = method
        self.n_customers_ = data.n_customers
        self.time_unit_ = data.time_unit
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "idata_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet. Call .fit(data) first.")

    def draws(self, thin: int = 1) -> pd.DataFrame:
        """The posterior draws, one row per (chain, draw), one column per parameter."""
        self._check_fitted()
        post = self.idata_.posterior
        cols = {n: post[n].to_numpy()[:, :: int(thin)].ravel() for n in self.param_names}
        return pd.DataFrame(cols)

    @property
    def params_(self) -> pd.Series:
        """Posterior means."""
        return self.draws().mean().rename("coef")

    def summary(self, alpha: float = 0.1) -> pd.DataFrame:
        """Posterior mean, sd, ``1 - alpha`` equal-tailed interval, r_hat and bulk ESS."""
        self._check_fitted()
        draws = self.draws()
        lo, hi = draws.quantile(alpha / 2), draws.quantile(1 - alpha / 2)
        out = pd.DataFrame(
            {"mean": draws.mean(), "sd": draws.std(ddof=1), "lower": lo, "upper": hi}
        )
        post = self.idata_.posterior
        if post.sizes["chain"] > 1 and post.sizes["draw"] > 3:
            names = self.param_names
            rhat, ess = az.rhat(post[names]), az.ess(post[names])
            out["r_hat"] = [float(rhat[n]) for n in names]
            out["ess_bulk"] = [float(ess[n]) for n in names]
        out.index.name = "param"
        return out

    def point_models(self, thin: int = 1) -> list[Any]:
        """One maximum-likelihood model per posterior draw (for predictions)."""
        names = self.param_names
        out = []
        for _, row in self.draws(thin).iterrows():
            doc = {
                "init": {
                    "purchase_covariates": self.purchase_covariates,
                    "dropout_covariates": self.dropout_covariates,
                },
                "params": {n: float(row[n]) for n in names},
                "covariance": np.full((len(names), len(names)), np.nan).tolist(),
                "log_likelihood": float("nan"),
                "n_customers": self.n_customers_,
                "converged": True,
                "time_unit": self.time_unit_,
            }
            out.append(self.mle_class.from_dict(doc))
        return out

    def predict(
        self,
        data: TimeVaryingData,
        horizon: float,
        path: pd.DataFrame | None = None,
        *,
        discount_rate: float | None = None,
        thin: int = 10,
    ) -> pd.DataFrame:
        """Posterior mean of the maximum-likelihood model's :meth:`predict` over the draws."""
        frames = [
            m.predict(data, horizon, path, discount_rate=discount_rate)
            for m in self.point_models(thin)
        ]
        return sum(frames[1:], frames[0]) / len(frames)

    def __repr__(self) -> str:
        state = "unfitted" if not hasattr(self, "idata_") else f"fitted by {self.method_}"
        return f"<{type(self).__name__} ({state})>"


class ParetoNBDDynamicModel(TimeVaryingBayesModel):
    """Bayesian Pareto/NBD with time-varying covariates (:class:`clv.models.ParetoNBDDynamicModel`).

    Default priors: ``HalfNormal(10)`` on ``r, s``, ``HalfNormal(100)`` on
    ``alpha, beta`` (periods of the data's time unit), ``Normal(0, 1)`` on
    the coefficients.
    """

    mle_class = _MLEParetoNBDDynamicModel
    default_priors: ClassVar[Mapping[str, Prior]] = _BayesParetoNBDModel.default_priors


class BetaGeoDynamicModel(TimeVaryingBayesModel):
    """Bayesian BG/NBD with time-varying covariates (:class:`clv.models.BetaGeoDynamicModel`).

    Default priors: ``HalfNormal(10)`` on ``r, a, b``, ``HalfNormal(100)`` on
    ``alpha``, ``Normal(0, 1)`` on the coefficients.
    """

    mle_class = _MLEBetaGeoDynamicModel
    default_priors: ClassVar[Mapping[str, Prior]] = _BayesBetaGeoModel.default_priors
