"""Base classes: the one contract every fitted model follows.

A concrete model declares ``spec`` (a :class:`~clv.models._spec.ModelSpec`) and
thin methods that map its pure functions over customers; validation, fitting,
``summary``, JSON persistence and reprs live here once.
"""

from __future__ import annotations

import contextlib
import html
import inspect
import warnings
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from scipy import special

from clv._units import check_same_period, resolve_time_unit
from clv.exceptions import ConvergenceError, DataError, ModelFileError, NotFittedError, Problem
from clv.models import _covariates as cov
from clv.models._covariates import Design, Lever
from clv.models._mle import (
    MLEResult,
    _forward,
    _inverse,
    _transform_codes,
    du_dtheta,
    from_unconstrained,
    maximise,
    to_unconstrained,
)
from clv.models._spec import ModelSpec
from clv.persistence import JsonModel

__all__ = ["EstimatorParams", "ParametricModel", "rfm_problems"]


def rfm_problems(
    frame: pd.DataFrame,
    columns: Iterable[str],
    *,
    integer_T: bool = False,
    for_fit: bool = False,
) -> list[Problem]:
    """Check the RFM columns a model needs; return every problem found.

    The rules are :func:`clv.data.validate.rfm_rule_problems`, shared with
    :func:`clv.data.validate_rfm`; models also accept ``T == 0`` for customers
    without repeat purchases (unless ``integer_T``).

    Parameters
    ----------
    frame : DataFrame
        RFM data, one row per customer (index = customer id).
    columns : iterable of str
        Columns the model uses (a subset of ``frequency, recency, T,
        monetary_value``; ``weight`` is checked when present).
    integer_T : bool
        Whether ``recency`` and ``T`` count discrete opportunities (BG/BB).
    for_fit : bool
        Data to fit on: also refuse ``recency == 0`` with repeat purchases
        (predictions accept it as the limit of a recent repeat purchase).
    """
    from clv.data.validate import rfm_rule_problems

    return rfm_rule_problems(
        frame, list(columns), zero_T_ok=not integer_T, integer_T=integer_T, repeat_recency=for_fit
    )


def check_penalizer(penalizer: object) -> float:
    """``penalizer`` as a float, or ``ValueError`` unless it is a finite number >= 0.

    Examples
    --------
    >>> check_penalizer(0.01)
    0.01
    """
    try:
        value = float(penalizer)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"penalizer must be a number >= 0, got {penalizer!r}.") from None
    if not (np.isfinite(value) and value >= 0):
        raise ValueError(
            f"penalizer must be a finite number >= 0 (an L2 penalty), got {penalizer!r}."
        )
    return value


def repeat_buyer_problems(frame: pd.DataFrame) -> list[Problem]:
    """The problem of a non-empty RFM ``frame`` in which nobody made a repeat purchase.

    Returns an empty list when some row has ``frequency > 0`` (or there are no rows).
    """
    if not len(frame) or bool((frame["frequency"].to_numpy() > 0).any()):
        return []
    return [
        Problem(
            "frequency",
            f"is 0 for all {len(frame)} customers (nobody made a "
            "repeat purchase): the purchase rate and the dropout cannot be told "
            "apart, so no estimate would mean anything",
            "use a longer observation window, or check the customer and date "
            "columns of the transaction log",
        )
    ]


def fit_arrays(
    frame: pd.DataFrame, columns: Iterable[str]
) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """The likelihood columns of a validated RFM ``frame`` and its ``weight`` column (or None)."""
    arrays = {c: frame[c].to_numpy(dtype=np.float64) for c in columns}
    weights = frame["weight"].to_numpy(dtype=np.float64) if "weight" in frame.columns else None
    return arrays, weights


@contextlib.contextmanager
def damaged_file(model: str, source: str) -> Iterator[None]:
    """Turn a malformed model document into a :class:`ModelFileError` naming ``source``."""
    try:
        yield
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ModelFileError(
            f"'{source}' is a damaged {model} file ({type(exc).__name__}: "
            f"{exc}). Refit and save the model again."
        ) from None


def fitted_state(model: Any) -> dict[str, Any]:
    """The fitted fields every model document has, after its ``init`` entry.

    ``params``, ``covariance``, ``log_likelihood``, ``n_customers``,
    ``converged`` and ``time_unit``, as JSON-serialisable values.
    """
    return {
        "params": {k: float(v) for k, v in model.params_.items()},
        "covariance": model.covariance_.to_numpy().tolist(),
        "log_likelihood": model.log_likelihood_,
        "n_customers": model.n_customers_,
        "converged": model.converged_,
        "time_unit": model.time_unit_,
    }


def init_kwargs(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The constructor arguments stored in a model document (JSON lists back to tuples)."""
    init = dict(doc.get("init", {}))
    if "coefficient_priors" in init:
        init["coefficient_priors"] = {k: tuple(v) for k, v in init["coefficient_priors"].items()}
    return init


def _parse_penalty(
    penalty: float | Mapping[str, float], processes: Sequence[str]
) -> dict[str, float]:
    """``{process: strength}`` of the positive penalties; ValueError for a bad value or name."""
    if isinstance(penalty, Mapping):
        unknown = sorted(set(map(str, penalty)) - set(processes))
        if unknown:
            raise ValueError(
                f"covariate_penalty names unknown process(es) {unknown}; the processes "
                f"are {list(processes)}."
            )
        items = {str(k): v for k, v in penalty.items()}
    else:
        items = dict.fromkeys(processes, penalty)
    out: dict[str, float] = {}
    for k, v in items.items():
        try:
            value = float(v)
        except (TypeError, ValueError):
            value = float("nan")
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(f"covariate_penalty must be a number >= 0, got {penalty!r}.")
        if value > 0:
            out[k] = value
    return out


def _parse_constrain(constrain: Sequence[str] | None, design: Design) -> tuple[str, ...]:
    """The constrained columns; each must be a covariate of two processes or more."""
    if constrain is None:
        return ()
    columns = (constrain,) if isinstance(constrain, str) else tuple(constrain)
    problems = []
    for c in columns:
        used = [p for p, cols in design.columns.items() if c in cols]
        if len(used) < 2:
            problems.append(
                Problem(
                    str(c),
                    f"is named in constrain but is a covariate of {used or 'no process'}; a "
                    "shared coefficient needs the column in two processes or more",
                    "add it to both purchase_covariates and dropout_covariates (or drop it "
                    "from constrain)",
                )
            )
    if problems:  # DataError is a ValueError
        raise DataError(problems, what="constrain=")
    if len(set(columns)) != len(columns):
        raise ValueError(f"constrain must name distinct columns, got {list(columns)}.")
    return columns


class EstimatorParams:
    """scikit-learn style ``get_params``/``set_params``, derived from ``__init__``.

    A subclass's constructor takes keyword arguments and stores each one, as
    given, under its own name (parsed copies go in private attributes), so
    ``type(m)(**m.get_params())`` is an unfitted copy and ``sklearn.base.clone``
    works.
    """

    @classmethod
    def _get_param_names(cls) -> list[str]:
        """Names of the constructor arguments (keyword parameters of ``__init__``)."""
        sig = inspect.signature(cls.__init__)
        return [
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Constructor arguments, as scikit-learn's ``get_params`` (``deep`` is accepted and
        ignored: models hold no sub-estimators).

        ``type(model)(**model.get_params())`` is an unfitted copy of ``model``.
        """
        return {name: self._param_value(name) for name in self._get_param_names()}

    def _param_value(self, name: str) -> Any:
        """The constructor argument ``name`` as given (by default the attribute ``name``)."""
        return getattr(self, name)

    def set_params(self, **params: Any) -> Self:
        """Change constructor arguments (validated as by ``__init__``); refit afterwards.

        Raises
        ------
        ValueError
            For a name that is not a constructor argument, or an invalid value.
        """
        valid = self._get_param_names()
        unknown = sorted(set(params) - set(valid))
        if unknown:
            raise ValueError(
                f"{type(self).__name__} has no parameter(s) {unknown}; valid "
                f"parameters are {valid}."
            )
        type(self).__init__(self, **{**self.get_params(), **params})
        return self


class ParametricModel(JsonModel, EstimatorParams):
    r"""Base class of the maximum-likelihood models.

    Parameters
    ----------
    penalizer : float, default 0.0
        L2 penalty on the parameters (on the rescaled problem), as in lifetimes.
        Keep 0 for maximum-likelihood estimates; a small value (0.001-0.1)
        stabilises fits on tiny or degenerate data sets.
    covariates : mapping of process name to column names, optional
        Time-invariant customer covariates per lever (the concrete models
        expose them as ``purchase_covariates=``, ``dropout_covariates=``,
        ``spend_covariates=`` or ``churn_covariates=``). Each lever's
        parameter becomes :math:`\theta_i = \theta_0 e^{\pm\gamma^\top x_i}`
        (see :mod:`clv.models._covariates`); coefficients are reported per
        natural unit as ``process[column]`` after the base parameters.
    covariate_penalty : float or mapping of process name to float, default 0.0
        L2 penalty on the coefficients: the objective is
        :math:`-\ln L/n + \sum_p \lambda_p \lVert g_p \rVert^2` (CLVTools'
        convention). One number for every process, or one per process, e.g.
        ``{"purchase": 8.0, "dropout": 3.0}`` (CLVTools' ``reg.lambdas =
        c(trans = 8, life = 3)``; a process not named is not penalised).
    covariate_penalty_units : {"standardised", "natural"}, default "standardised"
        What the penalty acts on: the coefficients per standard deviation of
        their column (``"standardised"``: the same strength means the same for
        every column), or per unit of the column as given (``"natural"``:
        exactly CLVTools' ``reg.lambdas``).
    coefficient_priors : mapping of str to (mean, sd), optional
        Gaussian priors on coefficients in natural units, e.g.
        ``{"dropout[complaints]": (0.3, 0.1)}`` from an experiment: the fit is
        then a penalised-likelihood (MAP) estimate.
    constrain : sequence of str, optional
        Covariate columns whose coefficient is the same for every process
        they act on (CLVTools' ``names.cov.constr``); each must be a covariate
        of at least two processes. The shared estimate is reported under each
        process's name (``purchase[col]`` and ``dropout[col]``, equal, with a
        correlation of 1).
    """

    spec: ClassVar[ModelSpec]
    _integer_T: ClassVar[bool] = False
    _levers: ClassVar[tuple[Lever, ...]] = ()
    _center_covariates: ClassVar[bool] = True
    # defaults for subclasses with their own __init__ (no covariates)
    _design: Design = Design((), {})
    covariate_penalty: float | Mapping[str, float] = 0.0
    covariate_penalty_units: str = "standardised"
    constrain: Sequence[str] | None = None
    coefficient_priors: Mapping[str, tuple[float, float]] | None = None
    #: the optimiser's result; per cohort (keyed by label) for cohort-wise retention fits
    optimizer_: MLEResult | dict[Hashable, MLEResult]
    _priors: dict[str, tuple[float, float]] = {}  # noqa: RUF012 - replaced, never mutated
    _penalties: dict[str, float] = {}  # noqa: RUF012 - replaced, never mutated
    _constrained: tuple[str, ...] = ()
    #: Repeat-purchase models cannot be estimated without a single repeat buyer.
    _needs_repeat_buyers: ClassVar[bool] = False

    def __init__(
        self,
        *,
        penalizer: float = 0.0,
        covariates: Mapping[str, Sequence[str] | None] | None = None,
        covariate_penalty: float | Mapping[str, float] = 0.0,
        coefficient_priors: Mapping[str, tuple[float, float]] | None = None,
        constrain: Sequence[str] | None = None,
        covariate_penalty_units: str = "standardised",
    ) -> None:
        # constructor arguments are stored as given (get_params/clone); parsed copies are private
        check_penalizer(penalizer)  # a negative or non-finite penalty is refused at once
        self.penalizer = penalizer
        if type(self).__init__ is ParametricModel.__init__:
            self.covariates = covariates
        covariates = dict(covariates or {})
        unknown = set(covariates) - {lv.process for lv in self._levers}
        if unknown:
            raise ValueError(f"{type(self).__name__} has no covariate lever(s) {sorted(unknown)}.")
        columns: dict[str, tuple[str, ...]] = {}
        for lv in self._levers:
            cols = covariates.get(lv.process)
            if isinstance(cols, str):
                cols = [cols]
            cols = tuple(cols or ())
            if len(set(cols)) != len(cols) or not all(isinstance(c, str) and c for c in cols):
                raise ValueError(
                    f"{lv.process}_covariates must be distinct column names, got {list(cols)}."
                )
            columns[lv.process] = cols
            setattr(self, f"{lv.process}_covariates", covariates.get(lv.process))
        self._design = Design(tuple(self._levers), columns)
        self._penalties = _parse_penalty(covariate_penalty, [lv.process for lv in self._levers])
        self.covariate_penalty = covariate_penalty
        if covariate_penalty_units not in ("standardised", "natural"):
            raise ValueError(
                "covariate_penalty_units must be 'standardised' or 'natural', got "
                f"{covariate_penalty_units!r}."
            )
        self.covariate_penalty_units = covariate_penalty_units
        self._constrained = _parse_constrain(constrain, self._design)
        self.constrain = constrain
        priors = {str(k): (float(v[0]), float(v[1])) for k, v in (coefficient_priors or {}).items()}
        valid = self._design.names
        bad = [k for k in priors if k not in valid]
        if bad:
            raise ValueError(
                f"coefficient_priors has unknown coefficient name(s) {bad}; valid "
                f"names are {valid} (process[column] of the model's covariates)."
            )
        for k, (_, sd) in priors.items():
            if not (np.isfinite(sd) and sd > 0):
                raise ValueError(f"the prior sd of {k} must be > 0, got {sd!r}.")
        self.coefficient_priors = coefficient_priors
        self._priors = priors

    def _estimation_spec(self) -> ModelSpec:
        """The spec the fit maximises (``spec`` unless a constructor option changes the
        likelihood or a parameter's domain, e.g. Gamma-Gamma's ``q_constraint``)."""
        return self.spec

    # ------------------------------------------------------------------ data
    def _frame(
        self,
        data: pd.DataFrame,
        columns: Iterable[str] | None = None,
        *,
        for_fit: bool = False,
        check_unit: bool = True,
    ) -> pd.DataFrame:
        what = f"the data passed to {type(self).__name__}"
        if not isinstance(data, pd.DataFrame):
            raise DataError(
                f"expected a pandas DataFrame of RFM data, got {type(data).__name__}",
                what=what,
            )
        cols = list(self.spec.columns if columns is None else columns)
        problems = rfm_problems(data, cols, integer_T=self._integer_T, for_fit=for_fit)
        if problems:
            raise DataError(problems, what=what)
        if check_unit and ("T" in cols or "recency" in cols):
            # the period is data: refuse RFM data of another period than the fit's
            check_same_period(
                getattr(self, "time_unit_", None),
                data,
                model=f"this {type(self).__name__}",
                what=what,
            )
        return data

    def _arrays(self, data: pd.DataFrame, columns: Iterable[str] | None = None) -> list[np.ndarray]:
        cols = list(self.spec.columns if columns is None else columns)
        frame = self._frame(data, cols)
        return [frame[c].to_numpy(dtype=np.float64) for c in cols]

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        data: pd.DataFrame,
        *,
        initial_params: Mapping[str, float] | None = None,
        n_starts: int = 1,
        random_state: int | np.random.Generator | None = None,
        time_unit: str | None = None,
    ) -> Self:
        """Estimate the parameters by maximum likelihood.

        Parameters
        ----------
        data : DataFrame
            RFM frame, one row per customer (``clv.data.rfm_summary``). An
            optional ``weight`` column says how many identical customers a row
            stands for. Its ``period_days`` column (or ``attrs["time_unit"]``)
            is recorded as ``time_unit_``; predictions then refuse data of
            another period length.
        initial_params : mapping, optional
            Starting values on the natural scale.
        n_starts : int, default 1
            Number of starting points (extra ones are seeded perturbations).
        random_state : int or Generator, optional
            Seed for the extra starting points.
        time_unit : str, optional
            Unit of ``recency`` and ``T`` (``"W"``, ``"7D"``, ``"M"`` ...) when
            the frame carries none; must agree with the frame's otherwise.

        Returns
        -------
        self
        """
        self._before_fit(data)
        try:
            self._fit_parameters(data, initial_params, n_starts, random_state, time_unit)
        except ConvergenceError as exc:
            explained = self._explain_failure(exc)
            if explained is None:
                raise
            raise explained from exc
        self._after_fit(data)
        return self

    def _before_fit(self, data: pd.DataFrame) -> None:
        """Model-specific checks of the data before :meth:`fit` (none by default).

        Warnings issued here should use ``stacklevel=3`` (the caller of ``fit``).
        """

    def _after_fit(self, data: pd.DataFrame) -> None:
        """Model-specific statistics after a successful :meth:`fit` (none by default)."""

    def _explain_failure(self, exc: ConvergenceError) -> ConvergenceError | None:
        """A model-specific :class:`ConvergenceError` for ``exc``, or None to raise it as is."""
        return None

    def _fit_parameters(
        self,
        data: pd.DataFrame,
        initial_params: Mapping[str, float] | None,
        n_starts: int,
        random_state: int | np.random.Generator | None,
        time_unit: str | None,
    ) -> None:
        """The maximum-likelihood fit of :meth:`fit`, between its hooks."""
        unit = resolve_time_unit(data, time_unit, what=f"the data passed to {type(self).__name__}")
        spec = self._estimation_spec()
        frame = self._frame(data, spec.columns, for_fit=True, check_unit=False)
        if spec.fit_rows is not None:
            frame = frame[np.asarray(spec.fit_rows(frame), dtype=bool)]
        elif self._needs_repeat_buyers and (problems := repeat_buyer_problems(frame)):
            raise DataError(problems, what=f"the data passed to {type(self).__name__}")
        if len(frame) == 0:
            raise DataError(
                [
                    Problem(
                        None,
                        "there are no customers to fit on",
                        "pass a non-empty RFM frame"
                        + (" with repeat buyers (frequency > 0)" if spec.fit_rows else ""),
                    )
                ],
                what=f"the data passed to {type(self).__name__}",
            )
        arrays, weights = fit_arrays(frame, spec.columns)
        if self._design:
            self._fit_covariates(
                frame,
                arrays,
                weights,
                initial_params,
                n_starts,
                random_state,
                cov.multiply_params(spec, self._levers),
            )
            self.time_unit_ = None if unit is None else unit.name
            return
        result = maximise(
            spec,
            arrays,
            weights,
            initial_params=initial_params,
            penalizer=self.penalizer,
            n_starts=n_starts,
            random_state=random_state,
        )
        self._set_result(
            result, n_customers=float(len(frame) if weights is None else weights.sum())
        )
        self.time_unit_ = None if unit is None else unit.name

    def _fit_covariates(
        self,
        frame: pd.DataFrame,
        arrays: dict[str, np.ndarray],
        weights: np.ndarray | None,
        initial_params: Mapping[str, float] | None,
        n_starts: int,
        random_state: int | np.random.Generator | None,
        ll_mult: cov.LikelihoodWithMultipliers,
        plain_fit: Any = None,
    ) -> None:
        """Fit base parameters and covariate coefficients (standardised, mapped back exactly)."""
        design = self._design
        spec = self._estimation_spec()
        what = f"the data passed to {type(self).__name__}"
        names = design.names
        Z = cov.covariate_matrix(frame, design.coef_columns, what)
        w = np.ones(len(frame)) if weights is None else weights
        mean, scale = cov.standardise(
            Z, w, names, design.coef_columns, frame.index, center=self._center_covariates, what=what
        )
        Zs = (Z - mean) / scale
        cov.check_collinear(Zs, names, [lv.process for lv in design.coef_levers], what)
        base_names = list(spec.params._fields)
        # start from the fit without covariates (fast: analytic Hessians), coefficients at 0
        start: dict[str, float] = {}
        if initial_params is not None:
            start.update({k: float(v) for k, v in initial_params.items() if k in base_names})
        else:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    plain = (
                        plain_fit()
                        if plain_fit is not None
                        else maximise(spec, arrays, weights, penalizer=self.penalizer)
                    )
                start.update(dict(zip(base_names, map(float, plain.params), strict=True)))
            except ConvergenceError:
                pass
        if start:
            start = {**dict(spec.start._asdict()), **start}
        priors = self._priors
        prior_mean = np.array([priors.get(n, (0.0, np.inf))[0] for n in names])
        prior_sd = np.array([priors.get(n, (0.0, np.inf))[1] for n in names])
        lam = np.array([self._penalties.get(lv.process, 0.0) for lv in design.coef_levers])
        if self.covariate_penalty_units == "natural":
            lam = lam / scale**2  # λ γ² with γ = g / s
        penalty = None
        if np.any(lam > 0) or priors:
            penalty = cov.penalty_function(
                float(w.sum()), lam, scale, prior_mean, prior_sd, len(base_names)
            )
        full = cov.augmented_spec(spec, design, ll_mult, penalty)
        groups = cov.shared_groups(design, self._constrained)
        aug = cov.tied_spec(full, len(base_names), groups) if self._constrained else full
        E = cov.expansion_matrix(len(base_names), groups)
        data = dict(arrays)
        data.update({c: Zs[:, k] for k, c in enumerate(aug.columns[len(spec.columns) :])})
        init = None
        if start:
            init = {**start, **{f"g{k}": 0.0 for k in range(len(groups))}}
        result = maximise(
            aug,
            data,
            weights,
            initial_params=init,
            penalizer=self.penalizer,
            n_starts=n_starts,
            random_state=random_state,
        )
        kinds = _transform_codes(full)
        # tied coefficients back to one per process (E), then to natural units (A)
        A = cov.natural_map(base_names, design, mean, scale) @ E
        u_nat = A @ _inverse(result.params, _transform_codes(aug))
        theta, d1, _ = _forward(u_nat, kinds)
        cov_u = A @ result.log_params_covariance @ A.T
        result.params = theta
        result.log_params_covariance = cov_u
        result.covariance = cov_u * np.outer(d1, d1)
        self.covariate_scaling_ = pd.DataFrame(
            {"mean": mean, "scale": scale}, index=pd.Index(names, name="param")
        )
        self._set_result(result, n_customers=float(w.sum()))

    def _set_result(self, result: MLEResult, *, n_customers: float) -> None:
        names = pd.Index(self._param_names())
        self.params_ = pd.Series(result.params, index=names, name="coef", dtype=np.float64)
        self.covariance_ = pd.DataFrame(result.covariance, index=names, columns=names)
        self.log_likelihood_ = result.log_likelihood
        self.n_customers_ = int(n_customers) if float(n_customers).is_integer() else n_customers
        self.converged_ = result.converged
        self.optimizer_ = result

    # ------------------------------------------------------------------ state
    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet. Call .fit(data) first "
                f"(or {type(self).__name__}.from_json(path))."
            )

    def _param_names(self) -> list[str]:
        """Names of all parameters: the base ones, then the covariate coefficients."""
        return list(self.spec.params._fields) + self._design.names

    def _transforms(self) -> list[str]:
        """Unconstrained scale of each entry of ``params_`` (log, logit or identity)."""
        spec = self._estimation_spec()
        k = len(spec.params._fields)
        base = list(spec.transforms or ("log",) * k)
        kinds = dict(zip(spec.params._fields, base, strict=True))
        names = [n[-1] if isinstance(n, tuple) else n for n in self.params_.index]
        return [kinds.get(n, "identity") for n in names]

    @property
    def _p(self) -> Any:
        """Base parameters (for a customer with all covariates 0)."""
        self._check_fitted()
        return self.spec.params(*self.params_[list(self.spec.params._fields)].to_numpy())

    def _coefficients(self, params: pd.Series | None = None) -> dict[str, list[float]]:
        p = self.params_ if params is None else params
        return self._design.split([float(p[n]) for n in self._design.names])

    def _customer_params(self, data: pd.DataFrame, params: Any = None) -> Any:
        """Per-customer parameter tuple (arrays) for the rows of ``data``; base values otherwise."""
        self._check_fitted()
        p = self.params_ if params is None else pd.Series(params, dtype=np.float64)
        missing = [n for n in self._param_names() if n not in p.index]
        if missing:
            raise ValueError(f"params is missing {missing}; expected {self._param_names()}.")
        base = self.spec.params(*p[list(self.spec.params._fields)].to_numpy(dtype=np.float64))
        if not self._design:
            return base
        what = f"the covariates passed to {type(self).__name__}"
        X = self._design.matrices(data, what)
        return cov.individual_params(base, self._levers, X, self._coefficients(p))

    def individual_params(self, data: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        """Per-customer base parameters after applying the covariates.

        Parameters
        ----------
        data : DataFrame
            One row per customer with the model's covariate columns (other
            columns are ignored); the index is kept.
        params : mapping or Series, optional
            One parameter draw (e.g. a row of :meth:`sample_params`);
            defaults to ``params_``.

        Returns
        -------
        DataFrame
            One column per base parameter, indexed like ``data``; constant
            columns for a model without covariates.
        """
        if not isinstance(data, pd.DataFrame):
            raise DataError(
                f"expected a pandas DataFrame, got {type(data).__name__}",
                what=f"the data passed to {type(self).__name__}",
            )
        p = self._customer_params(data, params)
        n = len(data)
        return pd.DataFrame(
            {
                k: np.broadcast_to(np.asarray(v, dtype=np.float64), (n,))
                for k, v in p._asdict().items()
            },
            index=data.index,
        )

    def sample_params(
        self, n_draws: int, *, random_state: int | np.random.Generator | None = None
    ) -> pd.DataFrame:
        """Draws from the asymptotic normal distribution of the estimates.

        The normal is taken on the optimised (unconstrained) scale of each
        parameter (log for positive parameters, logit for shares, identity for
        covariate coefficients), with the covariance implied by ``covariance_``,
        and mapped back, so every draw is a valid parameter set.

        Parameters
        ----------
        n_draws : int
            Number of draws.
        random_state : int or Generator, optional
            Seed; the same seed gives the same draws.

        Returns
        -------
        DataFrame
            ``n_draws`` rows, one column per entry of ``params_``.
        """
        self._check_fitted()
        n = int(n_draws)
        if n < 1:
            raise ValueError(f"n_draws must be >= 1, got {n_draws!r}.")
        kinds = self._transforms()
        theta = self.params_.to_numpy(dtype=np.float64)
        du = du_dtheta(theta, kinds)
        cov_nat = self.covariance_.to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(cov_nat)):
            raise ValueError(
                f"{type(self).__name__} has no finite covariance_ (the Hessian was "
                "singular), so the estimates cannot be sampled."
            )
        cov_u = cov_nat * np.outer(du, du)
        rng = np.random.default_rng(random_state)
        u = rng.multivariate_normal(
            to_unconstrained(theta, kinds), 0.5 * (cov_u + cov_u.T), size=n, method="eigh"
        )
        draws = from_unconstrained(u, kinds)
        columns = self.params_.index
        return pd.DataFrame(draws, columns=columns, index=pd.RangeIndex(n, name="draw"))

    def bootstrap(
        self,
        data: pd.DataFrame,
        n: int = 200,
        *,
        random_state: int | np.random.Generator | None = None,
        progress: bool | None = None,
        max_seconds: float | None = None,
    ) -> pd.DataFrame:
        """Parameter draws from refits on customers resampled with replacement.

        The nonparametric alternative to :meth:`sample_params`, with the same
        layout (one row per draw, one column per entry of ``params_``); see
        :func:`clv.models.bootstrap.bootstrap` for the arguments and
        :func:`~clv.models.bootstrap.predictions_over_draws` /
        :func:`~clv.models.bootstrap.percentile_interval` for intervals of
        predictions.
        """
        from clv.models.bootstrap import bootstrap

        return bootstrap(
            self, data, n, random_state=random_state, progress=progress, max_seconds=max_seconds
        )

    def _bootstrap_fixed_params(self) -> dict[str, Any]:
        """Constructor settings the bootstrap refits keep at their fitted values (none here)."""
        return {}

    def summary(self, alpha: float = 0.05) -> pd.DataFrame:
        """Parameter table: estimate, standard error and a ``1 - alpha`` interval.

        The interval of a positive parameter is computed on the log scale and
        mapped back (``coef * exp(±z·se/coef)``), so it never includes
        impossible non-positive values; covariate coefficients (any sign) get
        ``coef ± z·se``. ``se`` is the delta-method standard error.
        """
        self._check_fitted()
        z = float(special.ndtri(1 - alpha / 2))
        coef = self.params_.to_numpy()
        se = np.sqrt(np.clip(np.diag(self.covariance_.to_numpy()), 0, None))
        identity = np.array([t == "identity" for t in self._transforms()], dtype=bool)
        # NaN se stays NaN; the log-scale branch is discarded for identity (coefficient) rows,
        # where a coefficient near 0 would overflow it
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            se_log = se / coef
            lower = np.where(identity, coef - z * se, coef * np.exp(-z * se_log))
            upper = np.where(identity, coef + z * se, coef * np.exp(z * se_log))
        out = pd.DataFrame(
            {"coef": coef, "se": se, "lower": lower, "upper": upper},
            index=pd.Index(self.params_.index, name="param"),
        )
        return out

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """The fitted state as a JSON-serialisable document (without the file header)."""
        self._check_fitted()
        return {"init": self._init_kwargs(), **fitted_state(self)}

    def _init_kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = {"penalizer": self.penalizer}
        out.update(self._covariate_kwargs())
        return out

    def _covariate_kwargs(self) -> dict[str, Any]:
        """Constructor arguments of the covariate configuration (empty without covariates)."""
        if not self._design:
            return {}
        out: dict[str, Any] = {
            f"{lv.process}_covariates": list(self._design.columns[lv.process])
            for lv in self._design.active
        }
        if self._penalties:
            out["covariate_penalty"] = (
                self.covariate_penalty
                if isinstance(self.covariate_penalty, int | float)
                else dict(self._penalties)
            )
        if self.covariate_penalty_units != "standardised":
            out["covariate_penalty_units"] = self.covariate_penalty_units
        if self._constrained:
            out["constrain"] = list(self._constrained)
        if self._priors:
            out["coefficient_priors"] = {k: list(v) for k, v in self._priors.items()}
        return out

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], *, source: str = "the model document") -> Self:
        """Rebuild a fitted model from :meth:`to_dict` output (or a loaded model file)."""
        with damaged_file(cls.__name__, source):
            model = cls(**init_kwargs(doc))
            names = model._param_names()
            params = [float(doc["params"][n]) for n in names]
            model._restore(doc, pd.Index(names), params)
        return model

    def _restore(self, doc: Mapping[str, Any], index: pd.Index, params: Sequence[float]) -> None:
        """Set the fitted state from a document: ``params`` on ``index`` and the fit summary."""
        k = len(index)
        cov = np.asarray(doc["covariance"], dtype=np.float64).reshape(k, k)
        self.params_ = pd.Series(params, index=index, name="coef", dtype=np.float64)
        self.covariance_ = pd.DataFrame(cov, index=index, columns=index)
        self.log_likelihood_ = float(doc["log_likelihood"])
        self.n_customers_ = doc["n_customers"]
        self.converged_ = bool(doc["converged"])
        self.time_unit_ = doc.get("time_unit")

    # ------------------------------------------------------------------ reprs
    def __repr__(self) -> str:
        name = type(self).__name__
        if not hasattr(self, "params_"):
            return f"<{name} (unfitted)>"
        ps = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        ll = self.log_likelihood_
        return f"<{name} fitted on {self.n_customers_} customers: {ps}, log-likelihood={ll:.2f}>"

    def _repr_html_(self) -> str:
        name = html.escape(type(self).__name__)
        if not hasattr(self, "params_"):
            return f"<p><b>{name}</b> (unfitted)</p>"
        head = (
            f"<p><b>{name}</b> ({html.escape(self.spec.name)}) fitted on {self.n_customers_} "
            "customers; "
            f"log-likelihood {self.log_likelihood_:.3f}; converged: {self.converged_}"
            + (f"; time unit: {html.escape(str(self.time_unit_))}" if self.time_unit_ else "")
            + "</p>"
        )
        return head + self.summary().to_html(float_format=lambda v: f"{v:.4g}")
