r"""Bayesian acquisition (trial) model: priors and wiring onto :mod:`clv.models.acquisition`.

The data are new-customer counts per period (plus optional period covariates),
validated exactly as for the maximum-likelihood fit.  The PyMC model evaluates
the maximum-likelihood path's own
:func:`clv.models.acquisition.log_likelihood_gradient` (the per-period
log-likelihood and its analytic gradient, summed over periods) through the
:class:`clv.bayes._fused.TotalLogLikelihood` ``Op``: there is no second copy of
the likelihood.  Predictions evaluate the pure NumPy functions
(:func:`~clv.models.acquisition.expected_arrivals`,
:func:`~clv.models.acquisition.future_arrivals`) at every posterior draw.

Covariates follow the convention of the other Bayesian models: a coefficient
without a prior of its own is sampled per standard deviation of its column
over the calibration periods (``acquisition[x]_std``) and reported per natural
unit (``acquisition[x]``); the timing scale (``alpha``, or ``lambda``) is
sampled at the covariate means (``alpha_at_mean``), where its prior applies,
and reported at :math:`x = 0` as in the maximum-likelihood model
(:math:`\alpha = \alpha_{\bar x} e^{\beta^\top \bar x}`,
:math:`\lambda = \lambda_{\bar x} e^{-\beta^\top \bar x}`: both give the same
:math:`B(t)/\alpha`).
"""

from __future__ import annotations

import copy
import functools
import json
import os
from collections import namedtuple
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar, Self

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt
import xarray as xr
from numpy.typing import ArrayLike

from clv.bayes import _covariates as bcov
from clv.bayes._base import (
    BayesModel,
    Prior,
    _check_coefficient_prior,
    _check_priors,
    _check_thin,
)
from clv.bayes._fused import TotalLogLikelihood
from clv.bayes._hierarchy import check_pooling
from clv.bayes._ops import op_outputs
from clv.exceptions import DataError, ModelFileError, Problem
from clv.models import acquisition as acq
from clv.models._covariates import Design
from clv.models.acquisition import AcquisitionModel as _MLEAcquisitionModel
from clv.models.acquisition import AcquisitionParams

__all__ = ["AcquisitionModel"]

_COEF = "acquisition["


@functools.cache
def _theta_type(n_coefficients: int) -> type:
    """Flat parameter tuple ``(r, alpha, c, m, beta_0, ...)`` the likelihood ``Op`` takes."""
    return namedtuple(
        "AcquisitionTheta",  # type: ignore[misc]
        ["r", "alpha", "c", "m", *(f"beta_{j}" for j in range(n_coefficients))],
    )


@functools.cache
def _total(pool_size: float | None) -> Callable[..., tuple[float, np.ndarray]]:
    """Summed ll and gradient of :func:`clv.models.acquisition.log_likelihood_gradient`."""

    def total(theta: Any, counts: np.ndarray, *columns: np.ndarray) -> tuple[float, np.ndarray]:
        x = np.column_stack(columns) if columns else None
        r, alpha, c, m = theta[:4]
        params = AcquisitionParams(r, alpha, c, m, np.asarray(theta[4:], dtype=np.float64))
        ll, grad = acq.log_likelihood_gradient(params, counts, pool_size=pool_size, covariates=x)
        return float(ll.sum()), grad.sum(axis=1)

    return total


class AcquisitionModel(BayesModel):
    r"""Trial model of new-customer arrivals with priors (see :class:`clv.models.AcquisitionModel`).

    Parameters
    ----------
    priors : mapping, optional
        ``{parameter: (PyMC distribution, kwargs)}`` for ``r, alpha`` (or
        ``lambda``), ``c``, ``m`` (or ``p`` with ``pool_size``) and, in natural
        units, a coefficient ``acquisition[<covariate>]``.  Others keep
        :attr:`default_priors`.
    distribution : {"exponential-gamma", "weibull-gamma", "exponential", "weibull"}
        Timing distribution, as in the maximum-likelihood model.
    pool_size : float, optional
        Number of prospects :math:`N`; the model then has the share ``p``
        (default prior ``Beta(1, 1)``) instead of ``m``.
    fixed : mapping of str to float, optional
        Parameters held at given values (no prior), e.g. ``{"m": 1e9}``.
    coefficient_prior : (distribution, kwargs), optional
        Prior of every coefficient without its own prior, per standard
        deviation of its covariate over the calibration periods; default
        ``("Normal", {"mu": 0, "sigma": 1})``.

    Notes
    -----
    Default priors (weak, proper; scale parameters log-normal over many
    orders of magnitude): ``r ~ HalfNormal(10)``, ``alpha ~ LogNormal(3, 3)``,
    ``lambda ~ LogNormal(-3, 3)``, ``c ~ HalfNormal(2)``,
    ``m ~ LogNormal(10, 5)`` (median 22,000 ever-acquirers, 95% between 1 and
    4e8), ``p ~ Beta(1, 1)``.  Where the window shows no depletion of the
    pool, ``m`` is identified by its prior only: give it an informative prior
    (or ``fixed``).

    Examples
    --------
    >>> from clv.bayes import AcquisitionModel
    >>> AcquisitionModel(distribution="weibull", pool_size=1e5).param_names()
    ('lambda', 'c', 'p')
    """

    mle_class = _MLEAcquisitionModel
    _template: _MLEAcquisitionModel
    # calibration data, set by _set_data (as on the maximum-likelihood model)
    counts_: pd.Series
    covariates_: pd.DataFrame | None
    n_periods_: int
    start_: Any
    time_unit_: str | None
    pointwise = False
    nutpie_ok = False  # the likelihood Op runs NumPy code
    default_priors: ClassVar[Mapping[str, Prior]] = MappingProxyType(
        {
            "r": ("HalfNormal", {"sigma": 10.0}),
            "alpha": ("LogNormal", {"mu": 3.0, "sigma": 3.0}),
            "lambda": ("LogNormal", {"mu": -3.0, "sigma": 3.0}),
            "c": ("HalfNormal", {"sigma": 2.0}),
            "m": ("LogNormal", {"mu": 10.0, "sigma": 5.0}),
            "p": ("Beta", {"alpha": 1.0, "beta": 1.0}),
        }
    )

    def __init__(
        self,
        priors: Mapping[str, Prior] | None = None,
        *,
        distribution: str = "exponential-gamma",
        pool_size: float | None = None,
        fixed: Mapping[str, float] | None = None,
        coefficient_prior: Prior | None = None,
        segment: str | None = None,
        pooling: str = "partial",
    ) -> None:
        if segment is not None:
            raise ValueError(
                "AcquisitionModel is fitted on counts per period and takes no "
                "segment=; fit one model per segment instead."
            )
        check_pooling(segment, pooling)
        # constructor arguments as given (get_params/clone); parsed copies are private
        self._given: dict[str, Any] = {
            "priors": priors,
            "coefficient_prior": coefficient_prior,
            "fixed": fixed,
        }
        self._template = _MLEAcquisitionModel(
            distribution=distribution, pool_size=pool_size, fixed=fixed
        )
        base = self._template._names([])
        extra = [k for k in (fixed or {}) if str(k).startswith(_COEF)]
        self._fixed_values = self._template._fixed(base + extra)
        given = dict(priors or {})
        on_fixed = sorted(set(given) & set(self._fixed_values))
        if on_fixed:
            raise ValueError(f"{on_fixed} are fixed (fixed=...), so they take no prior.")
        allowed = tuple(base) + tuple(k for k in given if str(k).startswith(_COEF))
        merged = {
            n: copy.deepcopy(self.default_priors[n]) for n in base if n not in self._fixed_values
        }
        merged.update(given)
        self._priors = _check_priors(merged, allowed, type(self).__name__)
        self._coefficient_prior = _check_coefficient_prior(coefficient_prior, type(self).__name__)
        self._covariate_kwargs: dict[str, Any] = {}
        self._design = Design((), {})
        self._covariate_names: list[str] = []
        self.segment = None
        self.pooling = pooling
        self.distribution = distribution
        self.pool_size = pool_size
        self.fixed = None if fixed is None else {str(k): float(v) for k, v in fixed.items()}

    # ------------------------------------------------------------------ structure
    def param_names(self) -> tuple[str, ...]:  # type: ignore[override]
        """Base parameters of this configuration, as in ``params_`` of the MLE model."""
        return tuple(self._template._names([]))

    @classmethod
    def flat_priors(cls, **options: Any) -> dict[str, Prior]:  # type: ignore[override]
        """Flat priors (``HalfFlat``; ``Uniform(0, 1)`` for ``p``): MAP then equals the MLE.

        ``options`` are the constructor's (``distribution``, ``pool_size``,
        ``fixed``); fixed parameters get no prior.  For the coefficients pass
        ``coefficient_prior=("Flat", {})`` to the constructor.
        """
        fixed = options.get("fixed") or {}
        names = _MLEAcquisitionModel(
            distribution=options.get("distribution", "exponential-gamma"),
            pool_size=options.get("pool_size"),
        )._names([])
        return {
            n: ("Uniform", {"lower": 0.0, "upper": 1.0}) if n == "p" else ("HalfFlat", {})
            for n in names
            if n not in fixed
        }

    def _names(self) -> list[str]:
        """Every parameter (fixed ones included), in the order of the MLE ``params_``."""
        return self._template._names(self._covariate_names)

    def _all_names(self) -> list[str]:
        """The parameters in the posterior: every parameter that is not fixed."""
        return [n for n in self._names() if n not in self._fixed_values]

    @property
    def coefficient_names(self) -> list[str]:
        """Covariate coefficients ``acquisition[<covariate>]`` (empty without covariates)."""
        return [n for n in self._names() if n.startswith(_COEF)]

    @property
    def covariate_names_(self) -> list[str]:
        """Covariate names, in the order of the ``acquisition[*]`` parameters."""
        self._check_fitted()
        return list(self._covariate_names)

    def _covariates_json(self) -> str:
        return json.dumps(
            {
                "distribution": self.distribution,
                "pool_size": self.pool_size,
                "fixed": self.fixed,
                "coefficient_prior": list(self._coefficient_prior),
            },
            sort_keys=True,
        )

    def _canonical(self, values: Any, names: list[str]) -> AcquisitionParams:
        """``AcquisitionParams`` from values in ``names`` order (arrays broadcast)."""
        return self._template._canonical(values, names)

    # ------------------------------------------------------------------ data
    def _set_data(
        self, counts: pd.Series, cov: pd.DataFrame | None, attrs: Mapping[str, Any]
    ) -> None:
        names = [] if cov is None else [str(c) for c in cov.columns]
        coefs = [f"{_COEF}{c}]" for c in names]
        self._template._fixed(self._template._names(names))  # fixed coefficients must exist
        unknown = sorted(n for n in self._priors if n.startswith(_COEF) and n not in coefs)
        if unknown:
            raise ValueError(
                f"priors name coefficient(s) {unknown} but the covariates are {names}."
            )
        if cov is not None:
            x = cov.to_numpy(dtype=np.float64)
            mean, sd = x.mean(axis=0), x.std(axis=0)
            flat = [
                c
                for c, s, m in zip(names, sd, mean, strict=True)
                if not s > 1e-12 * max(1.0, abs(m))
            ]
            if flat:
                raise DataError(
                    [
                        Problem(
                            c,
                            "has the same value in every calibration period, so "
                            f"{_COEF}{c}] is not identified (it only rescales the "
                            "timing)",
                            "drop it from covariates",
                        )
                        for c in flat
                    ],
                    what="the covariates passed to AcquisitionModel",
                )
            self.covariate_scaling_ = pd.DataFrame(
                {"mean": mean, "scale": sd}, index=pd.Index(coefs, name="param")
            )
        self._covariate_names = names
        vars(self).update(acq.calibration_state(counts, cov, attrs))

    def build_model(
        self,
        data: Any = None,
        *,
        mutable_data: bool = False,
        covariates: pd.DataFrame | None = None,
        time_unit: str | None = None,
        start: Any = None,
        end: Any = None,
    ) -> pm.Model:
        """The PyMC model: the priors and the acquisition likelihood as a ``pm.Potential``.

        Parameters
        ----------
        data, covariates, time_unit, start, end
            As for :meth:`fit` (default: the data of the last fit).
        mutable_data : bool, default False
            Not available: the counts are the whole data set, so there is no
            per-customer data to swap for predictions.

        Returns
        -------
        pymc.Model
            Free variables at initial values from the maximum-likelihood
            model's starting heuristic (an ``m`` that matches the arrivals).
        """
        if mutable_data:
            raise ValueError(
                "AcquisitionModel has no per-customer data to swap (mutable_data=True); "
                "pass the counts to build_model instead."
            )
        if data is not None:
            self._set_data(
                *self._template._fit_inputs(
                    data, covariates, time_unit=time_unit, start=start, end=end
                )
            )
        elif not hasattr(self, "counts_"):
            raise ValueError("build_model needs the counts (build_model(counts, covariates=...)).")
        names, fixed, pool = self._names(), self._fixed_values, self._template._pool()
        counts = self.counts_.to_numpy(dtype=np.float64)
        x = None if self.covariates_ is None else self.covariates_.to_numpy(dtype=np.float64)
        init = self._template._start(names, fixed, float(counts.sum()), len(counts))
        coef_names = [n for n in names if n.startswith(_COEF)]

        def rv(name: str, prior: Prior, initval: float) -> Any:
            dist, kwargs = prior
            return getattr(pm, dist)(name, initval=initval, **kwargs)

        with pm.Model() as model:
            coefs: list[Any] = []
            for j, name in enumerate(coef_names):
                if name in fixed:
                    coefs.append(pt.constant(fixed[name]))
                elif name in self._priors:
                    coefs.append(rv(name, self._priors[name], 0.0))
                else:
                    g = rv(bcov.std_name(name), self._coefficient_prior, 0.0)
                    scale = float(self.covariate_scaling_["scale"].iloc[j])
                    coefs.append(pm.Deterministic(name, g / scale))
            shift: Any = 0.0
            if coef_names:
                mean = self.covariate_scaling_["mean"].to_numpy()
                shift = sum(c * float(mu) for c, mu in zip(coefs, mean, strict=True))
            values: dict[str, Any] = {}
            for name in names:
                if name in fixed:
                    values[name] = float(fixed[name])
                elif name in ("alpha", "lambda") and coef_names:
                    sign = 1.0 if name == "alpha" else -1.0
                    at = rv(bcov.at_mean_name(name), self._priors[name], init[name])
                    values[name] = pm.Deterministic(name, at * pt.exp(sign * shift))
                elif not name.startswith(_COEF):
                    values[name] = rv(name, self._priors[name], init[name])
            r = values.get("r", np.inf)
            alpha = values["alpha"] if "alpha" in values else 1.0 / values["lambda"]
            c = values.get("c", 1.0)
            m = values["p"] * pool if pool else values["m"]
            op = TotalLogLikelihood(_total(pool), _theta_type(len(coef_names)))
            columns = [counts] + ([] if x is None else [x[:, j] for j in range(x.shape[1])])
            ll = op_outputs(
                op, r, alpha, c, m, *coefs, *(pt.constant(np.ascontiguousarray(v)) for v in columns)
            )[0]
            pm.Potential("log_likelihood", ll)
        return model

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        data: Any,
        method: str = "nuts",
        *,  # type: ignore[override]
        covariates: pd.DataFrame | None = None,
        time_unit: str | None = None,
        start: Any = None,
        end: Any = None,
        sampler: str = "pymc",
        **sampler_kwargs: Any,
    ) -> Self:
        """Draw from (or approximate) the posterior of the parameters.

        Parameters
        ----------
        data : Series, DataFrame or dates
            New-customer counts per period (or first-purchase dates), as for
            :meth:`clv.models.AcquisitionModel.fit`.
        method : {"nuts", "map", "advi"}, default "nuts"
            As for the other Bayesian models.
        covariates : DataFrame, optional
            Period covariates, as for the maximum-likelihood fit.
        time_unit, start, end
            For dates: see :func:`clv.models.acquisition.arrivals_per_period`.
        sampler : {"pymc", "nutpie", "auto"}, default "pymc"
            ``"auto"`` uses PyMC's NUTS (the likelihood ``Op`` has no numba
            implementation).
        **sampler_kwargs
            Passed to PyMC (``chains``, ``draws``, ``tune``, ``random_seed``, ...).
            Unless ``initvals`` or ``init`` are given, NUTS starts every chain
            at the MAP and adapts a full mass matrix (``init="adapt_full"``):
            the posterior of thousands of arrivals is too concentrated for
            PyMC's jittered default start, and its parameters are strongly
            correlated (``r`` and ``alpha``, ``lambda`` and ``c``).

        Returns
        -------
        self

        Warns
        -----
        ConvergenceWarning
            After NUTS, for r_hat > 1.01, a bulk ESS below 100 per chain or
            divergent transitions.
        """
        model = self.build_model(
            data, covariates=covariates, time_unit=time_unit, start=start, end=end
        )
        kwargs = dict(sampler_kwargs)
        if method == "nuts" and "initvals" not in kwargs and "init" not in kwargs:
            # thousands of arrivals make the posterior very concentrated (sd ~1% on the log
            # scale): PyMC's default start, jittered by +-1 on that scale, is so far out that
            # the first leapfrog steps overflow.  Start every chain at the MAP instead, and adapt
            # a full mass matrix (r and alpha, lambda and c are strongly correlated).
            with model:
                point = pm.find_MAP(progressbar=False, seed=kwargs.get("random_seed"))
            kwargs["initvals"] = {rv.name: point[rv.name] for rv in model.free_RVs}
            kwargs["init"] = "adapt_full"
        self.idata_ = self._infer(model, method, sampler, kwargs)
        self.method_ = method
        if method == "nuts":
            self._check_convergence()
        return self

    def pointwise_log_likelihood(self, data: Any, *, thin: int = 1) -> xr.DataArray:
        """Not available: the data are counts per period, not one row per customer."""
        raise ValueError(
            "AcquisitionModel is fitted on counts per period; a per-customer "
            "log-likelihood (and LOO) is not available for it."
        )

    def individual_params(self, data: Any, params: Any = None) -> pd.DataFrame:
        """Not available: the acquisition model has no per-customer parameters."""
        raise ValueError(
            "AcquisitionModel has no per-customer parameters; use sample_params() "
            "for the parameter draws."
        )

    @classmethod
    def from_idata(
        cls,
        idata: az.InferenceData,
        data: Any = None,
        *,  # type: ignore[override]
        covariates: pd.DataFrame | None = None,
        time_unit: str | None = None,
        start: Any = None,
        end: Any = None,
        priors: Mapping[str, Prior] | None = None,
        method: str = "external",
        **options: Any,
    ) -> Self:
        """A fitted model from an existing posterior and the counts it was drawn for.

        ``idata.posterior`` needs every parameter that is not fixed (names as
        in ``params_``, coefficients per natural unit), dims ``(chain, draw)``;
        ``options`` are the constructor's (``distribution``, ``pool_size``,
        ``fixed``, ``coefficient_prior``).
        """
        if data is None:
            raise ValueError("from_idata needs the counts the posterior was drawn for (data=).")
        model = cls(priors=priors, **options)
        model._set_data(
            *model._template._fit_inputs(
                data, covariates, time_unit=time_unit, start=start, end=end
            )
        )
        return model._attach(idata, method)

    # ------------------------------------------------------------------ draws
    def _draws_frame(self) -> pd.DataFrame:
        """Every posterior draw of every parameter (fixed ones constant), MLE column order."""
        return self._draw_table(1)

    def _draw_table(self, thin: int) -> pd.DataFrame:
        self._check_fitted()
        post = self.idata_["posterior"].isel(draw=slice(None, None, _check_thin(thin)))
        size = post.sizes["chain"] * post.sizes["draw"]
        columns = {
            n: (
                np.full(size, self._fixed_values[n])
                if n in self._fixed_values
                else np.asarray(
                    post[n].transpose("chain", "draw").values, dtype=np.float64
                ).reshape(-1)
            )
            for n in self._names()
        }
        return pd.DataFrame(columns).rename_axis(columns="param")

    def _draw_params(self, thin: int) -> tuple[AcquisitionParams, np.ndarray, np.ndarray]:
        """Canonical parameters at every draw (arrays over draws) with the chain/draw labels."""
        table = self._draw_table(thin)
        post = self.idata_["posterior"].isel(draw=slice(None, None, thin))
        params = self._canonical(table.to_numpy().T, list(table.columns))
        return params, post.coords["chain"].values, post.coords["draw"].values

    def _point(self, params: pd.Series | None = None) -> _MLEAcquisitionModel:
        """The maximum-likelihood model with the fitted data at one parameter set."""
        point = _MLEAcquisitionModel(**self._template._init_kwargs())
        point.params_ = self.params_ if params is None else params
        names = point.params_.index  # one draw: no parameter uncertainty left
        point.covariance_ = pd.DataFrame(0.0, index=names, columns=names)
        point._set_data(
            self.counts_, self.covariates_, {"time_unit": self.time_unit_, "start": self.start_}
        )
        return point

    def point_models(self, thin: int = 1, *, segment: Any = None) -> list[_MLEAcquisitionModel]:
        """One maximum-likelihood model per posterior draw (with the calibration data).

        Each has a zero ``covariance_``: its ``forecast`` interval is the arrival noise
        at that draw (the posterior's spread is across the models).
        """
        table = self._draw_table(thin)
        return [self._point(row.rename("coef")) for _, row in table.iterrows()]

    def _covariates_for(self, n_periods: int, covariates: pd.DataFrame | None) -> np.ndarray | None:
        """Covariates of periods 1..``n_periods``: calibration rows, then ``covariates``."""
        self._check_fitted()
        if not self._covariate_names:
            return None
        return self._point()._covariates_for(n_periods, covariates)

    # ------------------------------------------------------------------ predictions
    def _over_periods(
        self,
        values: np.ndarray,
        chains: np.ndarray,
        draws: np.ndarray,
        periods: np.ndarray,
        name: str,
    ) -> xr.DataArray:
        return xr.DataArray(
            values.reshape(chains.size, draws.size, periods.size),
            dims=("chain", "draw", "period"),
            coords={"chain": chains, "draw": draws, "period": periods},
            name=name,
        )

    def expected_arrivals(
        self,
        periods: int | ArrayLike,
        *,
        covariates: pd.DataFrame | None = None,
        cumulative: bool = False,
        thin: int = 1,
    ) -> xr.DataArray:
        """Expected new customers per period at every draw: dims ``(chain, draw, period)``.

        Parameters
        ----------
        periods : int or array_like of int
            Number of periods from period 1, or the period numbers wanted.
        covariates : DataFrame, optional
            Covariates of the periods after calibration (models with covariates).
        cumulative : bool, default False
            The expected total from period 1, :math:`m F(t)`, instead.
        thin : int, default 1
            Keep every ``thin``-th draw.
        """
        self._check_fitted()
        n, wanted = _MLEAcquisitionModel._horizon(periods)
        params, chains, draws = self._draw_params(thin)
        per = acq.expected_arrivals(params, n, self._covariates_for(n, covariates))
        per = np.broadcast_to(per, (chains.size * draws.size, n))
        values = np.cumsum(per, axis=-1) if cumulative else per
        return self._over_periods(
            values[:, wanted - 1],
            chains,
            draws,
            wanted,
            "cumulative_arrivals" if cumulative else "expected_arrivals",
        )

    def forecast(
        self,
        horizon: int,
        *,
        covariates: pd.DataFrame | None = None,
        noise: bool = True,
        cumulative: bool = False,
        random_state: int | np.random.Generator | None = None,
        thin: int = 1,
    ) -> xr.DataArray:
        """New customers in the ``horizon`` periods after calibration, per draw.

        Each draw's parameters give one simulated path (Poisson counts, or,
        with a pool, a multinomial split of the prospects not yet acquired;
        :func:`clv.models.acquisition.future_arrivals`), so the spread over
        draws is the posterior predictive distribution; ``noise=False`` gives
        the expected counts (the posterior of the mean).

        Returns
        -------
        DataArray
            Dims ``(chain, draw, period)``, periods ``n_periods_ + 1`` to
            ``n_periods_ + horizon``; with ``cumulative=True`` the customers
            acquired since period 1 (the observed calibration total plus the
            forecast).  :meth:`summarize` gives mean, sd, 5% and 95%.
        """
        self._check_fitted()
        if not (
            isinstance(horizon, int | np.integer) and not isinstance(horizon, bool) and horizon >= 1
        ):
            raise ValueError(f"horizon must be a whole number of periods >= 1, got {horizon!r}.")
        T = self.n_periods_
        n = T + int(horizon)
        params, chains, draws = self._draw_params(thin)
        observed = float(self.counts_.sum())
        sims = acq.future_arrivals(
            params,
            T,
            n,
            observed=observed,
            pool_size=self._template._pool(),
            covariates=self._covariates_for(n, covariates),
            noise=noise,
            rng=np.random.default_rng(random_state),
        )
        values = observed + np.cumsum(sims, axis=1) if cumulative else np.asarray(sims, float)
        return self._over_periods(
            values,
            chains,
            draws,
            np.arange(T + 1, n + 1),
            "cumulative_forecast" if cumulative else "forecast",
        )

    # ------------------------------------------------------------------ persistence
    def _with_attrs(self, idata: az.InferenceData, method: str) -> az.InferenceData:
        out = super()._with_attrs(idata, method)
        cov = self.covariates_
        out.attrs["acquisition_json"] = json.dumps(
            {
                "counts": self.counts_.tolist(),
                "covariates": None
                if cov is None
                else {str(c): cov[c].tolist() for c in cov.columns},
                "time_unit": self.time_unit_,
                "start": self.start_,
            }
        )
        return out

    @classmethod
    def from_netcdf(cls, path: str | os.PathLike[str]) -> Self:
        """Load a model saved with :meth:`to_netcdf` (the calibration counts included).

        Raises
        ------
        ModelFileError
            For a file of another model, another schema version, or a file
            that is not a clv posterior.
        """
        out = super().from_netcdf(path)
        try:
            doc = json.loads(out.idata_.attrs["acquisition_json"])
            counts = np.asarray(doc["counts"], dtype=np.float64)
            index = pd.RangeIndex(1, len(counts) + 1, name="period")
            cov = (
                None
                if doc["covariates"] is None
                else pd.DataFrame(
                    {k: np.asarray(v, dtype=np.float64) for k, v in doc["covariates"].items()},
                    index=index,
                )
            )
            out._set_data(
                pd.Series(counts, index=index, name="new_customers"),
                cov,
                {"time_unit": doc.get("time_unit"), "start": doc.get("start")},
            )
            missing = out._missing_draws(out.idata_["posterior"])
            if missing:
                raise KeyError(f"posterior has no {missing}")
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(
                f"'{path}' is a damaged {cls.__name__} posterior file "
                f"({type(exc).__name__}: {exc})."
            ) from None
        return out

    def __repr__(self) -> str:
        name = type(self).__name__
        if not hasattr(self, "idata_"):
            return f"<{name} ({self.distribution}, unfitted)>"
        post = self.idata_["posterior"]
        means = ", ".join(f"{n}={v:.4g}" for n, v in self.params_.items())
        return (
            f"<{name} ({self.distribution}) {self.method_}: {post.sizes['chain']} chain(s) x "
            f"{post.sizes['draw']} draw(s); posterior means {means}>"
        )
