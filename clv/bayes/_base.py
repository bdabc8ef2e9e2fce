"""``BayesModel``: priors, the PyMC model, inference, diagnostics, predictions and persistence.

A concrete model declares the maximum-likelihood class it mirrors (``mle_class``,
whose ``spec`` carries the pure functions) and its default priors; everything
else lives here once.  The PyMC model calls the model module's
``log_likelihood(..., ops=PYTENSOR)`` inside ``pm.Potential``: there is no
second copy of any likelihood.  Predictions map the pure NumPy functions over
the posterior draws with :func:`xarray.apply_ufunc`.
"""

from __future__ import annotations

import copy
import io
import json
import os
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Self

import arviz as az
import numpy as np
import pandas as pd
import pymc as pm
import xarray as xr

from clv._progress import progress_enabled
from clv._units import resolve_time_unit
from clv._version import __version__
from clv.bayes import _covariates as bcov
from clv.bayes._draws import MAX_BLOCK_CELLS as MAX_BLOCK_CELLS
from clv.bayes._draws import (
    MAX_LOG_LIKELIHOOD_CELLS,
    SUMMARY_COLUMNS,
    _check_thin,
    _summary_block,
    chunk_sizes,
    summarize_draws,
)
from clv.bayes._hierarchy import HYPER_PRIORS, check_pooling, segment_codes, segment_parameters
from clv.bayes._ops import PYTENSOR
from clv.bayes._priors import BetaPair, base_variables, beta_pair_priors, parse_prior
from clv.bayes._sampling import advi_draws, find_map, nuts_kwargs, quiet_sampler_warnings
from clv.exceptions import ConvergenceWarning, DataError, ModelFileError, NotFittedError, Problem
from clv.models import _covariates as cov
from clv.models._base import EstimatorParams, ParametricModel
from clv.models._mle import compress, unique_rows
from clv.persistence import atomic_write_with

__all__ = ["BAYES_SCHEMA_VERSION", "METHODS", "BayesModel", "Prior", "summarize_draws"]

BAYES_SCHEMA_VERSION = 1
"""Version of the netCDF layout written by :meth:`BayesModel.to_netcdf`."""

METHODS = ("nuts", "map", "advi")
"""Inference methods accepted by :meth:`BayesModel.fit` (the first is the default)."""

Prior = tuple[str, dict[str, float]]
"""A prior: a PyMC distribution name and its keyword arguments, e.g. ``("Gamma", {...})``."""

R_HAT_MAX = 1.01
ESS_PER_CHAIN_MIN = 100


def _check_priors(
    priors: Mapping[str, Any], names: tuple[str, ...], model: str
) -> dict[str, Prior]:
    """Validate a prior config and return a deep, JSON-normalised copy of it."""
    unknown = sorted(set(priors) - set(names))
    if unknown:
        raise ValueError(f"{model} has no parameter(s) {unknown}; its parameters are {list(names)}")
    out: dict[str, Prior] = {}
    for name, prior in priors.items():
        dist, kwargs = parse_prior(name, prior)
        if not isinstance(getattr(pm, dist, None), type) or not issubclass(
            getattr(pm, dist), pm.Distribution
        ):
            raise ValueError(f"the prior of '{name}' names an unknown PyMC distribution {dist!r}")
        try:  # the config must survive JSON (it is stored in the netCDF attributes)
            kw = json.loads(json.dumps(dict(kwargs)))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"the prior of '{name}' is not JSON-serialisable: {exc}") from None
        out[name] = (dist, kw)
    return out


def _check_coefficient_prior(prior: Prior | None, model: str) -> Prior:
    """The validated prior of the coefficients without their own (default: standard normal)."""
    checked = _check_priors(
        {"coefficient_prior": prior or bcov.COEFFICIENT_PRIOR}, ("coefficient_prior",), model
    )
    return checked["coefficient_prior"]


def read_posterior_file(
    path: str | os.PathLike[str], model: str, schema_version: int
) -> tuple[Any, dict[str, Any]]:
    """The ``InferenceData`` of a clv posterior file and its attributes, checked.

    Raises :class:`~clv.exceptions.ModelFileError` for an unreadable file, a file
    that is not a clv posterior, the posterior of another model (naming the class
    to load it with) or another schema version.
    """
    try:
        idata = az.from_netcdf(path)
    except (OSError, ValueError) as exc:
        raise ModelFileError(f"'{path}' is not a readable netCDF posterior: {exc}") from None
    attrs = dict(getattr(idata, "attrs", {}) or {})
    found = attrs.get("model")
    if found is None or "clv_schema_version" not in attrs:
        raise ModelFileError(
            f"'{path}' is not a clv posterior file (no 'model' or 'clv_schema_version' attribute)."
        )
    if found != model:
        raise ModelFileError(
            f"'{path}' holds a {found} posterior, not a {model}; load "
            f"it with clv.bayes.{found}.from_netcdf."
        )
    version = int(attrs["clv_schema_version"])
    if version != schema_version:
        raise ModelFileError(
            f"'{path}' has posterior schema version {version}, but this clv "
            f"({__version__}) reads version {schema_version}; refit the model and save "
            "it again (or use the clv version that wrote it, "
            f"{attrs.get('clv_version', 'unknown')})."
        )
    return idata, attrs


class BayesModel(EstimatorParams):
    """Base class of the Bayesian models.

    Parameters
    ----------
    priors : mapping, optional
        ``{parameter: (distribution, kwargs)}`` with the name of a PyMC
        distribution, e.g. ``{"r": ("Gamma", {"alpha": 1.0, "beta": 1.0})}``.
        Parameters not given keep :attr:`default_priors`.  The mapping is
        copied (never modified) and must be JSON-serialisable.  Use
        ``("HalfFlat", {})`` for a flat prior on a positive parameter.
        A covariate coefficient (``"dropout[wait_minutes]"``) may get a prior
        here too, in natural units (per unit of its column), e.g. an
        experimental estimate; see :mod:`clv.bayes._covariates`.
    segment, pooling : optional
        Parameters per segment (see :mod:`clv.bayes._hierarchy`).
    covariates : mapping of process name to column names, optional
        Time-invariant customer covariates per lever, as in the
        maximum-likelihood models (the concrete models expose them as
        ``purchase_covariates=``, ``dropout_covariates=``, ``spend_covariates=``,
        ``churn_covariates=``).
    coefficient_prior : (distribution, kwargs), optional
        Prior of every coefficient without a prior of its own in ``priors``,
        on the *standardised* scale (effect per standard deviation of the
        column in the fitted data); default ``("Normal", {"mu": 0, "sigma": 1})``.

    Notes
    -----
    The constructor arguments are kept as given, so ``get_params``,
    ``set_params`` and ``sklearn.base.clone`` work as for the
    maximum-likelihood models (``priors`` and ``coefficient_prior`` are then
    the arguments; the attributes of those names are the merged priors).
    """

    mle_class: ClassVar[type[ParametricModel]]
    pointwise: ClassVar[bool] = True
    """Whether :meth:`pointwise_log_likelihood` is available (one row per customer)."""
    default_priors: ClassVar[Mapping[str, Prior]]
    beta_pairs: ClassVar[tuple[BetaPair, ...]] = ()
    """Beta-shape pairs that also take priors on their mean and concentration
    (``((phi_name, kappa_name), (x, y))``, see :mod:`clv.bayes._priors`)."""

    def __init__(
        self,
        priors: Mapping[str, Prior] | None = None,
        *,
        segment: str | None = None,
        pooling: str = "partial",
        covariates: Mapping[str, Sequence[str] | None] | None = None,
        coefficient_prior: Prior | None = None,
        constrain: Sequence[str] | None = None,
    ) -> None:
        # constructor arguments as given (get_params/clone); parsed copies are private
        self._given: dict[str, Any] = {"priors": priors, "coefficient_prior": coefficient_prior}
        if type(self).__init__ is BayesModel.__init__:
            self.covariates = covariates
        self.constrain = constrain
        self._constrain_kwargs: dict[str, Any] = (
            {} if constrain is None else {"constrain": constrain}
        )
        for k, v in (covariates or {}).items():
            setattr(self, f"{k}_covariates", v)
        self._covariate_kwargs: dict[str, Any] = {
            f"{k}_covariates": [v] if isinstance(v, str) else list(v)
            for k, v in (covariates or {}).items()
            if v
        }
        self._template = self._new_mle()  # validates the columns (and constrain)
        self._design = self._template._design
        self._constrained: tuple[str, ...] = tuple(self._template._constrained)
        self._groups = (
            cov.shared_groups(self._design, self._constrained) if self._constrained else None
        )
        names = self.param_names() + tuple(self._design.names)
        merged, self._pairs = beta_pair_priors(
            copy.deepcopy(dict(self.default_priors)), dict(priors or {}), self.beta_pairs
        )
        derived = tuple(n for (mc, _) in self.beta_pairs for n in mc)
        self._priors = _check_priors(merged, names + derived, type(self).__name__)
        self._coefficient_prior = _check_coefficient_prior(coefficient_prior, type(self).__name__)
        self._check_shared_priors()
        check_pooling(segment, pooling)
        if self._pairs and (self._design or segment is not None):
            raise ValueError(
                f"{type(self).__name__}: priors on a mean and concentration "
                f"({[mc for mc, _ in self._pairs]}) are available without covariates or "
                "segments; give priors on the shapes themselves there."
            )
        if self._design and segment is not None:
            raise ValueError(
                f"{type(self).__name__} takes either covariates or segment=, not "
                "both; add the segment as indicator covariates instead."
            )
        self.segment = segment
        self.pooling = pooling

    def _new_mle(self) -> ParametricModel:
        """An unfitted :attr:`mle_class` model with this model's covariate columns.

        The concrete classes name their covariate arguments per process
        (``purchase_covariates=``...), which the base class's signature cannot
        spell, hence the call through a plain factory.
        """
        factory: Callable[..., ParametricModel] = self.mle_class
        return factory(**self._covariate_kwargs, **getattr(self, "_constrain_kwargs", {}))

    def _check_shared_priors(self) -> None:
        """A shared (constrained) coefficient takes at most one prior, under any of its names."""
        names = self._design.names
        for group in self._groups or ():
            given = {names[k]: self._priors[names[k]] for k in group if names[k] in self._priors}
            if len({json.dumps(list(v)) for v in given.values()}) > 1:
                raise ValueError(
                    f"{type(self).__name__}: {sorted(given)} are one shared coefficient "
                    "(constrain=) but have different priors; give one prior."
                )

    def _param_value(self, name: str) -> Any:
        """The constructor argument ``name`` as given (``priors`` and ``coefficient_prior``
        are attributes only in their merged, validated form)."""
        return self._given[name] if name in self._given else getattr(self, name)

    @property
    def coefficient_names(self) -> list[str]:
        """Covariate coefficients ``process[column]`` (empty without covariates)."""
        return list(self._design.names)

    @property
    def coefficient_prior(self) -> Prior:
        """Prior of the coefficients without their own prior, per standard deviation."""
        return copy.deepcopy(self._coefficient_prior)

    @property
    def _segmented(self) -> bool:
        """Whether the parameters vary by segment (``segment`` given, pooling not ``"full"``)."""
        return self.segment is not None and self.pooling != "full"

    @property
    def _spec(self) -> Any:
        """The spec whose pure functions this model evaluates (the ``mle_class``'s).

        A model with a fixed hyperparameter (the Erlang order of the CNBD-k
        models) returns the functions bound to it, with the parameters it
        samples.
        """
        return self.mle_class.spec

    # ------------------------------------------------------------------ config
    @classmethod
    def param_names(cls) -> tuple[str, ...]:
        """Names of the model parameters, in the order of the pure functions."""
        return tuple(cls.mle_class.spec.params._fields)

    @classmethod
    def flat_priors(cls) -> dict[str, Prior]:
        """A flat (``HalfFlat``) prior on every parameter: MAP then equals the MLE."""
        return {name: ("HalfFlat", {}) for name in cls.param_names()}

    @property
    def priors(self) -> dict[str, Prior]:
        """A copy of the prior config (changing it does not change the model)."""
        return copy.deepcopy(self._priors)

    def _priors_json(self) -> str:
        return json.dumps({k: [d, kw] for k, (d, kw) in self._priors.items()}, sort_keys=True)

    def _covariates_json(self) -> str:
        doc: dict[str, Any] = dict(self._covariate_kwargs)
        if self._constrained:
            doc["constrain"] = list(self._constrained)
        if self._design:
            doc["coefficient_prior"] = list(self._coefficient_prior)
        return json.dumps(doc, sort_keys=True)

    # ------------------------------------------------------------------ data
    def _fit_data(self, data: pd.DataFrame) -> tuple[list[np.ndarray], np.ndarray, pd.DataFrame]:
        """Validated, filtered and compressed columns with their row counts."""
        spec = self._spec
        frame = self.mle_class()._frame(data, spec.columns)
        if spec.fit_rows is not None:
            frame = frame[np.asarray(spec.fit_rows(frame), dtype=bool)]
        if len(frame) == 0:
            raise DataError(
                [Problem(None, "there are no customers to fit on", "pass a non-empty RFM frame")],
                what=f"the data passed to {type(self).__name__}",
            )
        cols = [frame[c].to_numpy(dtype=np.float64) for c in spec.columns]
        if self._design:  # the covariate column of each coefficient, after the model's columns
            w = (
                frame["weight"].to_numpy(dtype=np.float64)
                if "weight" in frame
                else np.ones(len(frame))
            )
            cols.extend(self._fit_covariates(frame, w, f"the data passed to {type(self).__name__}"))
        if self._segmented:
            assert self.segment is not None
            codes, self._segment_labels = segment_codes(
                frame, self.segment, what=f"the data passed to {type(self).__name__}"
            )
            cols.append(codes.astype(np.float64))  # compressed with the data: the last column
        weights = frame["weight"].to_numpy(dtype=np.float64) if "weight" in frame else None
        unique, counts = compress(cols, weights)
        return unique, counts, frame

    def _likelihood_with_multipliers(self) -> cov.LikelihoodWithMultipliers | None:
        """Likelihood with the multipliers of levers without a base parameter (None: no such lever).

        The retention models return the proportional-hazards likelihood of
        :mod:`clv.models._retention_covariates`, the one their
        maximum-likelihood fit maximises.
        """
        return None

    def _fit_covariates(
        self, frame: pd.DataFrame, weights: np.ndarray, what: str
    ) -> list[np.ndarray]:
        """The covariate column of each coefficient; sets ``covariate_scaling_`` (weighted
        mean and scale of each column, by which the coefficient priors are scaled)."""
        assert self._design is not None
        names = self._design.names
        Z = cov.covariate_matrix(frame, self._design.coef_columns, what)
        mean, scale = cov.standardise(
            Z, weights, names, self._design.coef_columns, frame.index, center=True, what=what
        )
        cov.check_collinear(
            (Z - mean) / scale, names, [lv.process for lv in self._design.coef_levers], what
        )
        self.covariate_scaling_ = pd.DataFrame(
            {"mean": mean, "scale": scale}, index=pd.Index(names, name="param")
        )
        return [Z[:, k] for k in range(Z.shape[1])]

    latent_variables: ClassVar[tuple[str, ...]] = ()
    """Per-customer variables kept in the stored posterior besides the parameters
    (e.g. each customer's own rates in :class:`clv.bayes.AbeParetoNBDModel`)."""

    dense_target_accept: ClassVar[float | None] = None
    """``target_accept`` with the default dense mass matrix (:mod:`clv.bayes._sampling`);
    ``None``: PyMC's 0.8."""

    nutpie_ok: ClassVar[bool] = True
    """Whether the PyTensor graph of the likelihood compiles for nutpie (numba backend)."""

    def _sampler(self, sampler: str) -> str:
        if sampler not in ("pymc", "nutpie", "auto"):
            raise ValueError(f"sampler must be 'pymc', 'nutpie' or 'auto', got {sampler!r}")
        if sampler == "auto":
            import importlib.util

            return "nutpie" if self.nutpie_ok and importlib.util.find_spec("nutpie") else "pymc"
        return sampler

    def _n_customers(self, data: pd.DataFrame) -> float:
        return float(data["weight"].sum()) if "weight" in data else float(len(data))

    def build_model(self, data: pd.DataFrame, *, mutable_data: bool = False) -> pm.Model:
        """The PyMC model: the priors and the likelihood of ``data`` as a ``pm.Potential``.

        Identical rows are compressed and their log-likelihood weighted by the
        number of customers they stand for.

        Parameters
        ----------
        data : DataFrame
            RFM frame with the columns of the model (optional ``weight``).
        mutable_data : bool, default False
            Hold the compressed columns and counts in ``pm.Data`` containers
            (``data_<column>``, ``data_counts``), so that compiled functions
            can be reused on other data with :func:`pymc.set_data` (e.g. for
            simulation-based calibration).  Needs a likelihood that takes
            symbolic data (not BG/BB, whose sum length depends on the data).

        Returns
        -------
        pymc.Model
        """
        spec = self._spec
        cols, counts, _ = self._fit_data(data)
        if self._design:
            n_cols = len(spec.columns)
            scaling = self.covariate_scaling_
            with pm.Model() as model:
                if mutable_data:
                    names = [*spec.columns, *(f"covariate_{k}" for k in range(len(cols) - n_cols))]
                    cols = [pm.Data(f"data_{c}", v) for c, v in zip(names, cols, strict=True)]
                    counts = pm.Data("data_counts", counts)
                ll = bcov.covariate_log_likelihood(
                    spec,
                    self._design,
                    self._priors,
                    self._coefficient_prior,
                    scaling["mean"].to_numpy(),
                    scaling["scale"].to_numpy(),
                    cols[:n_cols],
                    cols[n_cols:],
                    self._likelihood_with_multipliers(),
                    groups=self._groups,
                )
                pm.Potential("log_likelihood", (counts * ll).sum())
            return model
        if not self._segmented:
            with pm.Model() as model:
                theta = self._prior_variables()
                if mutable_data:
                    cols = [
                        pm.Data(f"data_{c}", v) for c, v in zip(spec.columns, cols, strict=True)
                    ]
                    counts = pm.Data("data_counts", counts)
                ll = spec.log_likelihood(spec.params(*theta), *cols, ops=PYTENSOR)
                pm.Potential("log_likelihood", (counts * ll).sum())
            return model
        codes = cols.pop().astype(np.int64)
        with pm.Model(coords={"segment": self._segment_labels}) as model:
            theta = [
                segment_parameters(name, self._priors[name], self.pooling, HYPER_PRIORS)[codes]
                for name in self.param_names()
            ]
            ll = spec.log_likelihood(spec.params(*theta), *cols, ops=PYTENSOR)
            pm.Potential("log_likelihood", (counts * ll).sum())
        return model

    def _prior_variables(self) -> list[Any]:
        """One PyMC random variable per base parameter, from its prior (in a model context)."""
        return list(base_variables(pm, self._priors, self.param_names(), self._pairs))

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        data: pd.DataFrame,
        method: str = "nuts",
        *,
        sampler: str = "pymc",
        log_likelihood: bool | None = None,
        **sampler_kwargs: Any,
    ) -> Self:
        """Draw from (or approximate) the posterior of the parameters.

        Parameters
        ----------
        data : DataFrame
            RFM frame with the columns of the model (optional ``weight``).
        method : {"nuts", "map", "advi"}, default "nuts"
            ``"nuts"``: :func:`pymc.sample`; ``"map"``: :func:`pymc.find_MAP`,
            stored as one chain of one draw; ``"advi"``: mean-field ADVI
            (:func:`pymc.fit`, then ``draws`` samples of the approximation).
        sampler : {"pymc", "nutpie", "auto"}, default "pymc"
            NUTS implementation: PyMC's own, or nutpie (``pip install nutpie``;
            the log-density is compiled with numba, so compilation is slower
            and sampling much faster).  ``"auto"`` uses nutpie when it is
            installed and the model's operations support it.
        log_likelihood : bool, optional
            Store the per-customer log-likelihood of every draw in the
            ``log_likelihood`` group of :attr:`idata_` (needed by
            :func:`clv.bayes.compare`).  Default: for NUTS and ADVI when
            draws x customers is at most :data:`MAX_LOG_LIKELIHOOD_CELLS`
            (add it later with :meth:`add_log_likelihood`).
        **sampler_kwargs
            Passed through to PyMC (``chains``, ``draws``, ``tune``,
            ``random_seed``, ``target_accept``, ``cores``, ``init``, ...); for
            ADVI ``n`` (iterations, default 20000) and ``draws`` (default
            1000).  PyMC's NUTS defaults here to 4 chains, one worker process
            per usable CPU and, for models with at most 50 free parameters, a
            dense mass matrix (:mod:`clv.bayes._sampling`).

        Returns
        -------
        self

        Warns
        -----
        ConvergenceWarning
            After NUTS, when an r_hat exceeds 1.01, a bulk ESS is below 100
            per chain, or there are divergent transitions.
        """
        if method not in METHODS:
            raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
        idata = self._infer(self.build_model(data), method, sampler, sampler_kwargs)
        self.idata_ = idata
        self.method_ = method
        self.n_customers_ = self._n_customers(data)
        unit = resolve_time_unit(data, what=f"the data passed to {type(self).__name__}")
        self.time_unit_ = None if unit is None else unit.name
        if log_likelihood is None:
            post = idata["posterior"]
            cells = post.sizes["chain"] * post.sizes["draw"] * self.n_customers_
            log_likelihood = (
                method != "map"
                and self.pointwise
                and "weight" not in data.columns
                and cells <= MAX_LOG_LIKELIHOOD_CELLS
            )
        if log_likelihood:
            self.add_log_likelihood(data)
        if method == "nuts":
            self._check_convergence()
        return self

    def _infer(
        self, model: pm.Model, method: str, sampler: str, sampler_kwargs: Mapping[str, Any]
    ) -> az.InferenceData:
        """Run ``method`` on ``model``; the posterior with this model's attributes."""
        if method not in METHODS:
            raise ValueError(f"method must be one of {list(METHODS)}, got {method!r}")
        kwargs = dict(sampler_kwargs)
        # a bar while someone watches (notebook, terminal); quiet in scheduled jobs and CI
        kwargs.setdefault("progressbar", progress_enabled(None))
        with model:
            if method == "nuts":
                kwargs.setdefault("nuts_sampler", self._sampler(sampler))
                if kwargs["nuts_sampler"] == "pymc":
                    kwargs = nuts_kwargs(
                        model, kwargs, dense_target_accept=self.dense_target_accept
                    )
                with quiet_sampler_warnings():
                    idata = pm.sample(**kwargs)
            elif method == "map":
                point = find_map(kwargs)
                keep = [
                    n
                    for n in point
                    if n in model.named_vars and not model.named_vars[n].name.endswith("__")
                ]
                idata = az.from_dict(
                    posterior={
                        n: np.asarray(point[n], dtype=np.float64)[None, None, ...] for n in keep
                    },
                    dims={n: ["segment"] for n in keep if np.ndim(point[n]) == 1},
                    coords={"segment": self._segment_labels} if self._segmented else None,
                )
            else:
                idata = advi_draws(kwargs)
        return self._with_attrs(idata, method)

    def pointwise_log_likelihood(self, data: pd.DataFrame, *, thin: int = 1) -> xr.DataArray:
        """Log-likelihood of each customer (row of ``data``) at every draw.

        The model module's NumPy ``log_likelihood`` evaluated once per distinct
        row and draw, then spread to the customers.  Rows excluded from the
        fit (Gamma-Gamma: customers without repeat purchases) are left out.

        Returns
        -------
        DataArray
            Dims ``("chain", "draw", "customer_id")``.

        Raises
        ------
        ValueError
            For data with a ``weight`` column (one row is not one customer).
        """
        if "weight" in data.columns:
            raise ValueError(
                "the pointwise log-likelihood needs one row per customer; data has "
                "a 'weight' column (rows standing for several customers). Pass the "
                "unweighted per-customer frame."
            )
        spec = self._spec
        frame = self.mle_class()._frame(data, spec.columns)
        if spec.fit_rows is not None:
            frame = frame[np.asarray(spec.fit_rows(frame), dtype=bool)]
        cols = [frame[c].to_numpy(dtype=np.float64) for c in spec.columns]
        n_cols = len(cols)
        cols.extend(self._covariate_columns(frame))
        codes = self._codes(frame)
        if codes is not None:
            cols.append(codes.astype(np.float64))
        unique, key = unique_rows(cols)
        ucodes = unique.pop().astype(np.int64) if codes is not None else None
        theta, chains, draws = self._param_draws(thin)
        coefs = self._coef_draws(thin)
        per_row = np.empty((theta[0].shape[0], len(unique[0])))
        for lo, hi in chunk_sizes(len(unique[0]), theta[0].shape[0]):
            per_row[:, lo:hi] = self._block(
                spec.log_likelihood,
                theta,
                (),
                [u[lo:hi] for u in unique[:n_cols]],
                per_draw=False,
                codes=None if ucodes is None else ucodes[lo:hi],
                coefs=coefs,
                Z=[u[lo:hi] for u in unique[n_cols:]],
            )
        values = per_row[:, key].reshape(chains.size, draws.size, len(frame))
        return xr.DataArray(
            values,
            dims=("chain", "draw", "customer_id"),
            coords={"chain": chains, "draw": draws, "customer_id": frame.index.to_numpy()},
            name="log_likelihood",
        )

    def add_log_likelihood(self, data: pd.DataFrame) -> Self:
        """Store :meth:`pointwise_log_likelihood` of ``data`` in ``idata_.log_likelihood``.

        Returns
        -------
        self
        """
        self._check_fitted()
        ll = self.pointwise_log_likelihood(data)
        if "log_likelihood" in self.idata_.groups():
            del self.idata_["log_likelihood"]
        self.idata_.add_groups(log_likelihood=xr.Dataset({"customers": ll}))
        return self

    @classmethod
    def from_idata(
        cls,
        idata: az.InferenceData,
        *,
        priors: Mapping[str, Prior] | None = None,
        method: str = "external",
        segment: str | None = None,
        pooling: str = "partial",
        **covariates: Any,
    ) -> Self:
        """A fitted model from an existing posterior (e.g. sampled elsewhere, or synthetic).

        Parameters
        ----------
        idata : InferenceData
            Its ``posterior`` group must hold every parameter with dims
            ``(chain, draw)``.
        priors : mapping, optional
            The priors the posterior was drawn under (recorded in the attributes).
        method : str, default "external"
            Recorded as the inference method.
        segment, pooling : optional
            For a posterior with a ``segment`` dimension: the name of the
            segment column of the data, and the pooling it was fitted with.
        **covariates
            The model's covariate arguments (``purchase_covariates=[...]``...);
            the posterior must then hold every coefficient ``process[column]``
            per natural unit, and its base parameters at ``x = 0``.
        """
        model = cls(priors=priors, segment=segment, pooling=pooling, **covariates)
        return model._attach(idata, method)

    def _all_names(self) -> list[str]:
        """Base parameters, then the covariate coefficients."""
        return list(self.param_names()) + list(self._design.names)

    def _missing_draws(self, posterior: xr.Dataset) -> list[str]:
        """The parameters of this model that ``posterior`` has no draws of."""
        return [n for n in self._all_names() if n not in posterior]

    def _attach(self, idata: az.InferenceData, method: str) -> Self:
        """Take ``idata`` as the fitted posterior (it must hold every parameter's draws)."""
        missing = self._missing_draws(idata["posterior"])
        if missing:
            raise ValueError(f"the posterior has no draws of {missing}")
        self.idata_ = self._with_attrs(idata, method)
        self.method_ = method
        return self

    def _with_attrs(self, idata: az.InferenceData, method: str) -> az.InferenceData:
        names = self._all_names()
        names += [
            f"{n}_{h}"
            for n in self.param_names()
            for h in ("mu", "tau")
            if f"{n}_{h}" in idata["posterior"]
        ]
        names += [n for n in self.latent_variables if n in idata["posterior"]]
        posterior = idata["posterior"][names]
        out = az.InferenceData(posterior=posterior)
        for group in ("sample_stats", "log_likelihood"):
            if group in idata.groups():
                out.add_groups({group: getattr(idata, group)})
        out.attrs = {
            "clv_schema_version": BAYES_SCHEMA_VERSION,
            "model": type(self).__name__,
            "priors_json": self._priors_json(),
            "clv_version": __version__,
            "method": method,
            "segment": self.segment or "",
            "pooling": self.pooling,
            "covariates_json": self._covariates_json(),
        }
        if self._design and hasattr(self, "covariate_scaling_"):
            out.attrs["covariate_scaling_json"] = self.covariate_scaling_.to_json(orient="split")
        return out

    # ------------------------------------------------------------------ diagnostics
    def _check_fitted(self) -> None:
        if not hasattr(self, "idata_"):
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet. Call .fit(data) first "
                f"(or {type(self).__name__}.from_netcdf(path))."
            )

    def _entries(self) -> dict[str, xr.DataArray]:
        """Every scalar parameter with dims (chain, draw): ``"r"``, or ``"r[segment]"``."""
        post = self.idata_["posterior"]
        out = {}
        for n in self._all_names():
            da = post[n]
            if "segment" in da.dims:
                for label in da.coords["segment"].values:
                    out[f"{n}[{label}]"] = da.sel(segment=label)
            else:
                out[n] = da
        return out

    def _diagnostics(self) -> tuple[dict[str, float], dict[str, float]]:
        post = self.idata_["posterior"]
        entries = self._entries()
        names = list(entries)
        if post.sizes["chain"] * post.sizes["draw"] < 4 or post.sizes["draw"] < 4:
            nan = dict.fromkeys(names, np.nan)
            return nan, dict(nan)
        ds = xr.Dataset({n: da.drop_vars("segment", errors="ignore") for n, da in entries.items()})
        ess = az.ess(ds, method="bulk")
        if post.sizes["chain"] < 2:  # r_hat compares chains
            return dict.fromkeys(names, np.nan), {n: float(ess[n]) for n in names}
        rhat = az.rhat(ds)
        return ({n: float(rhat[n]) for n in names}, {n: float(ess[n]) for n in names})

    def _check_convergence(self) -> None:
        rhat, ess = self._diagnostics()
        chains = self.idata_["posterior"].sizes["chain"]
        problems = []
        for n in rhat:
            if rhat[n] > R_HAT_MAX:
                problems.append(f"r_hat of '{n}' is {rhat[n]:.3f} (> {R_HAT_MAX})")
            if ess[n] < ESS_PER_CHAIN_MIN * chains:
                problems.append(
                    f"bulk ESS of '{n}' is {ess[n]:.0f} (< {ESS_PER_CHAIN_MIN} per chain)"
                )
        advice = "run longer chains (increase tune and draws) or use more informative priors"
        if "sample_stats" in self.idata_.groups() and "diverging" in self.idata_["sample_stats"]:
            n_div = int(self.idata_["sample_stats"]["diverging"].sum())
            if n_div:
                problems.append(f"{n_div} divergent transitions")
                advice = (
                    "raise target_accept (e.g. fit(..., target_accept=0.95)), "
                    "or use more informative priors; " + advice
                )
        if problems:
            warnings.warn(
                f"{type(self).__name__} NUTS fit may not have converged: "
                + "; ".join(problems)
                + f". Do not trust the posterior yet: {advice}.",
                ConvergenceWarning,
                stacklevel=3,
            )

    def summary(self, alpha: float = 0.1, *, interval: str = "hdi") -> pd.DataFrame:
        """Parameter table: posterior mean and sd, a ``1 - alpha`` interval, r_hat and ESS.

        Parameters
        ----------
        alpha : float, default 0.1
            One minus the interval's probability.
        interval : {"hdi", "quantile"}, default "hdi"
            Highest-density or equal-tailed interval.

        Returns
        -------
        DataFrame
            Indexed by ``param``; columns ``mean``, ``sd``, ``lower``, ``upper``,
            ``r_hat``, ``ess_bulk`` (NaN for MAP, a single draw).
        """
        self._check_fitted()
        rhat, ess = self._diagnostics()
        rows = {}
        for n, da in self._entries().items():
            v = np.asarray(da.values, dtype=np.float64).reshape(-1)
            if v.size < 2:
                lo = hi = float(v[0])
            elif interval == "hdi":
                lo, hi = (float(b) for b in az.hdi(v, hdi_prob=1 - alpha))
            elif interval == "quantile":
                lo, hi = (float(b) for b in np.quantile(v, [alpha / 2, 1 - alpha / 2]))
            else:
                raise ValueError(f"interval must be 'hdi' or 'quantile', got {interval!r}")
            sd = float(v.std(ddof=1)) if v.size > 1 else 0.0
            rows[n] = {
                "mean": float(v.mean()),
                "sd": sd,
                "lower": lo,
                "upper": hi,
                "r_hat": rhat[n],
                "ess_bulk": ess[n],
            }
        return pd.DataFrame.from_dict(rows, orient="index").rename_axis("param")

    # ------------------------------------------------------------------ parameter draws
    def _draws_frame(self) -> pd.DataFrame:
        """Every posterior draw (rows, flattened over chains) of every parameter (columns)."""
        self._check_fitted()
        post = self.idata_["posterior"]
        if any("segment" in post[n].dims for n in self.param_names()):
            raise ValueError(
                f"{type(self).__name__} has parameters per segment; parameter draws "
                "as one table need a model without segments."
            )
        columns = {
            n: np.asarray(post[n].transpose("chain", "draw").values, dtype=np.float64).reshape(-1)
            for n in self._all_names()
        }
        return pd.DataFrame(columns).rename_axis(columns="param")

    @property
    def params_(self) -> pd.Series:
        """Posterior means of the parameters (base parameters at ``x = 0``, then coefficients).

        Named like ``params_`` of the maximum-likelihood models, so code written
        for a fitted maximum-likelihood model can read it.
        """
        out = self._draws_frame().mean(axis=0)
        out.index.name = "param"
        return out.rename("coef")

    @property
    def covariance_(self) -> pd.DataFrame:
        """Posterior covariance of the parameters (NaN for a single draw, e.g. MAP)."""
        draws = self._draws_frame()
        names = list(draws.columns)
        if len(draws) < 2:
            values = np.full((len(names), len(names)), np.nan)
        else:
            values = np.atleast_2d(np.cov(draws.to_numpy().T, ddof=1))
        return pd.DataFrame(values, index=pd.Index(names, name="param"), columns=names)

    def sample_params(
        self, n_draws: int, *, random_state: int | np.random.Generator | None = None
    ) -> pd.DataFrame:
        """Posterior draws of the parameters as a table, one row per draw.

        Parameters
        ----------
        n_draws : int
            Number of draws.  When it equals the number of posterior draws
            (chains x draws) they are returned in order; otherwise they are
            resampled with ``random_state`` (without replacement when fewer
            are asked for, with replacement when more are).
        random_state : int or Generator, optional
            Seed of the resampling.

        Returns
        -------
        DataFrame
            ``n_draws`` rows; one column per parameter (base parameters at
            ``x = 0``, then the coefficients ``process[column]`` per natural
            unit), as :meth:`clv.models.ParetoNBDModel.sample_params`.
        """
        if isinstance(n_draws, bool) or not isinstance(n_draws, int | np.integer) or n_draws < 1:
            raise ValueError(f"n_draws must be a whole number >= 1, got {n_draws!r}.")
        draws = self._draws_frame()
        n = int(n_draws)
        if n != len(draws):
            rng = np.random.default_rng(random_state)
            draws = draws.iloc[rng.choice(len(draws), size=n, replace=n > len(draws))]
        return draws.set_axis(pd.RangeIndex(n, name="draw"), axis=0)

    def individual_params(self, data: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        """Per-customer base parameters after applying the covariates.

        Parameters
        ----------
        data : DataFrame
            One row per customer with the model's covariate columns.
        params : mapping or Series, optional
            One parameter draw (e.g. a row of :meth:`sample_params`); defaults
            to the posterior means :attr:`params_`.

        Returns
        -------
        DataFrame
            One column per base parameter, indexed like ``data`` (through the
            same link as :meth:`clv.models.ParetoNBDModel.individual_params`).
        """
        point = self._new_mle()
        point.params_ = self.params_
        return point.individual_params(data, params=params)

    # ------------------------------------------------------------------ predictions
    def _param_draws(self, thin: int = 1) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
        """Parameter draws flattened to ``(samples,)`` arrays, with the chain and draw labels."""
        self._check_fitted()
        thin = _check_thin(thin)
        post = self.idata_["posterior"].isel(draw=slice(None, None, thin))
        chains = post.coords["chain"].values
        draws = post.coords["draw"].values
        theta: list[np.ndarray] = []
        for n in self.param_names():
            da = post[n]
            if "segment" in da.dims:  # (samples, segments)
                values = da.transpose("chain", "draw", "segment").values
                theta.append(np.asarray(values, dtype=np.float64).reshape(-1, da.sizes["segment"]))
            else:
                theta.append(
                    np.asarray(da.transpose("chain", "draw").values, dtype=np.float64).reshape(-1)
                )
        return theta, chains, draws

    def _codes(self, data: pd.DataFrame) -> np.ndarray | None:
        """Segment code of each customer of ``data`` (None without segments)."""
        post = self.idata_["posterior"]
        if not any("segment" in post[n].dims for n in self.param_names()):
            return None
        if self.segment is None:
            raise ValueError(
                f"{type(self).__name__} has parameters per segment; it needs the "
                "name of the segment column (segment=...)."
            )
        labels = post.coords["segment"].values
        codes, _ = segment_codes(
            data, self.segment, labels, what=f"the data passed to {type(self).__name__}"
        )
        return codes

    def point_models(self, thin: int = 1, *, segment: Any = None) -> Sequence[ParametricModel]:
        """One maximum-likelihood model per posterior draw (flattened over chains).

        Each is an instance of :attr:`mle_class` whose ``params_`` are that
        draw, so every prediction of :mod:`clv.models` (and the functions of
        :mod:`clv.value`) can be evaluated at the draw without any new maths.
        """
        theta, _, _ = self._param_draws(thin)
        if theta[0].ndim > 1:
            labels = list(self.idata_["posterior"].coords["segment"].values)
            if segment not in labels:
                raise ValueError(
                    f"{type(self).__name__} has parameters per segment; pass "
                    f"segment= (one of {labels[:10]})."
                )
            theta = [t[:, labels.index(segment)] for t in theta]
        theta = theta + self._coef_draws(thin)
        index = pd.Index(self._all_names(), name="param")
        out = []
        for i in range(theta[0].size):
            point = self._new_mle()
            point.params_ = pd.Series(
                [float(t[i]) for t in theta], index=index, dtype=np.float64, name="coef"
            )
            point.time_unit_ = getattr(self, "time_unit_", None)
            out.append(point)
        return out

    def _coef_draws(self, thin: int = 1) -> list[np.ndarray]:
        """Draws of each covariate coefficient, flattened to ``(samples,)`` like the parameters."""
        post = self.idata_["posterior"].isel(draw=slice(None, None, _check_thin(thin)))
        return [
            np.asarray(post[n].transpose("chain", "draw").values, dtype=np.float64).reshape(-1)
            for n in self._design.names
        ]

    def _covariate_columns(self, data: pd.DataFrame) -> list[np.ndarray]:
        """The covariate column of each coefficient (natural units), validated."""
        if not self._design:
            return []
        Z = cov.covariate_matrix(
            data, self._design.coef_columns, f"the covariates passed to {type(self).__name__}"
        )
        return [Z[:, k] for k in range(Z.shape[1])]

    def _block(
        self,
        func: Callable[..., Any],
        theta: list[np.ndarray],
        extra: tuple[Any, ...],
        cols: list[np.ndarray],
        per_draw: bool,
        codes: np.ndarray | None = None,
        coefs: list[np.ndarray] | None = None,
        Z: list[np.ndarray] | None = None,
    ) -> np.ndarray:
        """``func`` for every draw (rows) and customer of ``cols`` (columns).

        ``codes`` gives each customer's segment (a column of the ``(samples,
        segments)`` parameter draws); without it the parameters are shared.
        ``coefs`` (draws of each coefficient) and ``Z`` (each coefficient's
        covariate column for the customers) give every customer their own
        parameters.
        """
        params_cls = self._spec.params
        n_samples = theta[0].shape[0]
        n = cols[0].size if cols else 1
        if coefs:
            if per_draw:
                raise ValueError(
                    f"{type(self).__name__}: this prediction takes scalar "
                    "parameters only and is not available with covariates."
                )
            assert Z is not None
            base = params_cls(*(t[:, None] for t in theta))
            params = cov.individual_params(
                base,
                self._design.active,
                self._design.split([z[None, :] for z in Z]),
                self._design.split([g[:, None] for g in coefs]),
            )
            values = func(params, *extra, *(c[None, :] for c in cols))
            return np.broadcast_to(np.asarray(values, dtype=np.float64), (n_samples, n))
        if per_draw:  # the pure function takes scalar parameters only
            out = np.empty((n_samples, n))
            groups = (
                [(slice(None), None)]
                if codes is None
                else [(codes == g, g) for g in np.unique(codes)]
            )
            for i in range(n_samples):
                for rows, g in groups:
                    p = params_cls(*(float(t[i] if g is None else t[i, g]) for t in theta))
                    out[i, rows] = func(p, *extra, *(c[rows] for c in cols))
            return out
        params = params_cls(*(t[:, None] if codes is None else t[:, codes] for t in theta))
        values = func(params, *extra, *(c[None, :] for c in cols))
        return np.broadcast_to(np.asarray(values, dtype=np.float64), (n_samples, n))

    def _customer_arrays(self, data: pd.DataFrame, columns: tuple[str, ...]) -> list[np.ndarray]:
        template = self.mle_class()
        template.time_unit_ = getattr(self, "time_unit_", None)  # refuse another period
        return template._arrays(data, columns)

    def _over_draws(
        self,
        func: Callable[..., Any],
        data: pd.DataFrame | None,
        columns: tuple[str, ...],
        *extra: Any,
        name: str,
        per_draw: bool = False,
        thin: int = 1,
        summary_only: bool = False,
        chunk_size: int | None = None,
    ) -> xr.DataArray | pd.DataFrame:
        """Map a pure NumPy function ``func(params, *extra, *columns)`` over the draws.

        The draws are evaluated in blocks of customers (``chunk_size``, by
        default as many as fit in :data:`MAX_BLOCK_CELLS` values), so at most
        one block of ``samples x chunk_size`` values is computed at a time.
        With covariates, each customer's parameters are built from the draw
        by the shared link (:func:`clv.models._covariates.individual_params`).
        With ``summary_only=True`` each block is reduced to its per-customer
        summary at once and the full ``(chain, draw, customer_id)`` array is
        never allocated.

        Returns
        -------
        DataArray or DataFrame
            Dims ``("chain", "draw", "customer_id")`` (``("chain", "draw")``
            when ``data`` is None); with ``summary_only=True`` and ``data``
            the tidy summary of :func:`summarize_draws`.
        """
        theta, chains, draws = self._param_draws(thin)
        n_samples = theta[0].shape[0]
        if data is None:
            if theta[0].ndim > 1:
                raise ValueError(
                    f"{type(self).__name__} has parameters per segment: predict for "
                    "customers (pass data with the segment column)."
                )
            values = self._block(func, theta, extra, [], per_draw)[:, 0]
            return xr.DataArray(
                values.reshape(chains.size, draws.size),
                dims=("chain", "draw"),
                coords={"chain": chains, "draw": draws},
                name=name,
            )
        cols = self._customer_arrays(data, columns)
        codes = self._codes(data)
        coefs = self._coef_draws(thin)
        Z = self._covariate_columns(data)
        n = len(data)
        step = chunk_sizes(n, n_samples, chunk_size)

        def block(lo: int, hi: int) -> np.ndarray:
            return self._block(
                func,
                theta,
                extra,
                [c[lo:hi] for c in cols],
                per_draw,
                None if codes is None else codes[lo:hi],
                coefs,
                [z[lo:hi] for z in Z],
            )

        if summary_only:
            parts = [_summary_block(block(lo, hi)) for lo, hi in step]
            return pd.DataFrame(
                np.concatenate(parts, axis=0),
                columns=list(SUMMARY_COLUMNS),
                index=pd.Index(data.index.to_numpy(), name="customer_id"),
            )
        full = np.empty((n_samples, n))
        for lo, hi in step:
            full[:, lo:hi] = block(lo, hi)
        return xr.DataArray(
            full.reshape(chains.size, draws.size, n),
            dims=("chain", "draw", "customer_id"),
            coords={"chain": chains, "draw": draws, "customer_id": data.index.to_numpy()},
            name=name,
        )

    @staticmethod
    def summarize(
        values: xr.DataArray, *, quantiles: tuple[float, float] = (0.05, 0.95)
    ) -> pd.DataFrame:
        """Tidy per-customer summary (``mean``, ``sd``, ``5%``, ``95%``).

        See :func:`summarize_draws`.
        """
        return summarize_draws(values, quantiles=quantiles)

    # ------------------------------------------------------------------ persistence
    def to_netcdf(self, path: str | os.PathLike[str]) -> None:
        """Save the posterior (and its attributes) as netCDF, atomically.

        Parameters
        ----------
        path : path-like
            Destination file; its directory must exist.
        """
        self._check_fitted()
        atomic_write_with(path, self.idata_.to_netcdf)

    @classmethod
    def from_netcdf(cls, path: str | os.PathLike[str]) -> Self:
        """Load a model saved with :meth:`to_netcdf`.

        Raises
        ------
        ModelFileError
            For a file of another model, another schema version, or a file
            that is not a clv posterior.
        """
        idata, attrs = read_posterior_file(path, cls.__name__, BAYES_SCHEMA_VERSION)
        try:
            priors = {k: (d, kw) for k, (d, kw) in json.loads(attrs["priors_json"]).items()}
            extra = json.loads(attrs.get("covariates_json", "{}"))
            if "coefficient_prior" in extra:
                extra["coefficient_prior"] = tuple(extra["coefficient_prior"])
            out = cls._from_attrs(priors, attrs, extra)
            if "covariate_scaling_json" in attrs:
                out.covariate_scaling_ = pd.read_json(
                    io.StringIO(attrs["covariate_scaling_json"]), orient="split"
                ).rename_axis("param")
            missing = out._missing_draws(idata["posterior"])
            if missing:
                raise KeyError(f"posterior has no {missing}")
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(
                f"'{path}' is a damaged {cls.__name__} posterior file "
                f"({type(exc).__name__}: {exc})."
            ) from None
        out.idata_ = idata
        out.method_ = attrs.get("method", "nuts")
        return out

    @classmethod
    def _from_attrs(cls, priors: dict[str, Prior], attrs: Mapping[str, Any], extra: dict) -> Self:
        """An unfitted model with the constructor arguments recorded in a posterior file."""
        return cls(
            priors=priors,
            segment=attrs.get("segment") or None,
            pooling=attrs.get("pooling", "partial"),
            **extra,
        )

    # ------------------------------------------------------------------ reprs
    def __repr__(self) -> str:
        name = type(self).__name__
        if not hasattr(self, "idata_"):
            return f"<{name} (unfitted)>"
        post = self.idata_["posterior"]
        means = ", ".join(f"{n}={float(post[n].mean()):.4g}" for n in self.param_names())
        return (
            f"<{name} {self.method_}: {post.sizes['chain']} chain(s) x "
            f"{post.sizes['draw']} draw(s); posterior means {means}>"
        )
