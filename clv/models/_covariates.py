r"""Time-invariant customer covariates: the link from covariates to per-customer parameters.

Every lever of customer value (purchase rate, dropout, spend, churn) is moved by
covariates through one log-linear link,

.. math:: \theta_i = \theta_0 \exp(\pm\gamma^\top x_i),

where :math:`\theta_0` is the parameter of a customer with :math:`x = 0` and the
sign makes a positive coefficient raise the lever (a purchase coefficient
raises the purchase rate, so it *lowers* the Gamma scale :math:`\alpha`).
The link is written once, against the ``ops`` namespace, so the same function
builds per-customer parameters in NumPy (maximum likelihood) and PyTensor
(Bayesian fits); the likelihoods themselves are unchanged, they broadcast over
per-customer parameter arrays.

This module also holds what a fit with covariates needs around the engine of
:mod:`clv.models._mle`: validation of the covariate columns, standardisation
(for conditioning) and the exact map back to coefficients per natural unit,
the augmented :class:`~clv.models._spec.ModelSpec` (base parameters followed
by the coefficients, optimised on the identity scale) with a gradient from the
per-row chain rule, and the L2 penalty / Gaussian priors on the coefficients.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from clv._ops import NUMPY
from clv._typing import FloatArray, Ops
from clv.exceptions import DataError, Problem
from clv.models._spec import ModelSpec

__all__ = [
    "FEATURE_FIX",
    "Lever",
    "covariate_multiplier",
    "covariate_problems",
    "linear_predictor",
]

FEATURE_FIX = (
    "build features with clv.cx.FeatureBuilder, which adds explicit missing-value "
    "indicators, or fill/drop those customers"
)
_STEP = 1e-5  # central-difference step on the log scale of a per-row parameter


@dataclass(frozen=True)
class Lever:
    """A process that covariates can move.

    Attributes
    ----------
    process : str
        Name used for the constructor argument (``<process>_covariates``) and
        the coefficient labels (``<process>[<column>]``).
    param : str or None
        The base parameter multiplied by :math:`\\exp(\\text{sign}\\cdot\\gamma^\\top x)`;
        ``None`` when the multiplier enters the likelihood directly (the
        proportional-hazards churn of the retention models).
    sign : float
        ``+1`` or ``-1``: the direction that makes a positive coefficient raise
        the process.
    """

    process: str
    param: str | None
    sign: float


def linear_predictor(X: Any, coefficients: Sequence[Any]) -> Any:
    r"""The linear predictor :math:`\eta_i = \sum_j X_{ij}\gamma_j`, as a sum over columns.

    Elementwise (no matrix product), so it works for NumPy arrays and PyTensor
    tensors alike and stays fast on one-dimensional data.

    Parameters
    ----------
    X : 2-D array or sequence of 1-D arrays
        Covariates, one row per customer (or one array per column).
    coefficients : sequence
        One coefficient per column.

    Examples
    --------
    >>> linear_predictor(np.array([[1.0, 2.0], [0.0, 1.0]]), [0.5, -1.0]).tolist()
    [-1.5, -1.0]
    """
    columns = [X[:, j] for j in range(len(coefficients))] if hasattr(X, "ndim") else list(X)
    eta: Any = 0.0
    for j, g in enumerate(coefficients):
        eta = eta + columns[j] * g
    return eta


def covariate_multiplier(
    X: Any, coefficients: Sequence[Any], sign: float = 1.0, *, ops: Ops = NUMPY
) -> Any:
    r"""Per-customer multiplier :math:`\exp(\text{sign}\cdot\sum_j X_{ij}\gamma_j)`.

    A per-customer parameter is ``base * covariate_multiplier(X, gamma, sign)``,
    e.g. the Pareto/NBD purchase scale :math:`\alpha_i = \alpha_0 e^{-\gamma_p^\top x_i}`.

    Examples
    --------
    >>> X = np.array([[0.0], [1.0]])
    >>> np.round(10.0 * covariate_multiplier(X, [np.log(2.0)], -1.0), 6).tolist()
    [10.0, 5.0]
    """
    if len(coefficients) == 0:
        return ops.exp(0.0 * sign)
    return ops.exp(sign * linear_predictor(X, coefficients))


def individual_params(
    params: Any,
    levers: Sequence[Lever],
    X: Mapping[str, Any],
    coefficients: Mapping[str, Sequence[Any]],
    *,
    ops: Ops = NUMPY,
) -> Any:
    """Per-customer parameters: the base ``params`` tuple with each lever's parameter multiplied.

    Parameters
    ----------
    params : NamedTuple
        Base parameters (their value at ``x = 0``).
    levers : sequence of Lever
        Levers with a ``param`` (others are skipped).
    X, coefficients : mapping of process name
        Covariates (2-D, or a sequence of columns) and coefficients of each process.

    Examples
    --------
    >>> from clv.models.gamma_gamma import GGParams
    >>> p = individual_params(GGParams(6.0, 3.0, 10.0), [Lever("spend", "v", 1.0)],
    ...                       {"spend": np.array([[0.0], [1.0]])}, {"spend": [np.log(3.0)]})
    >>> np.round(p.v, 6).tolist()
    [10.0, 30.0]
    """
    values = dict(params._asdict())
    for lever in levers:
        g = coefficients.get(lever.process, ())
        if lever.param is None or len(g) == 0:
            continue
        values[lever.param] = values[lever.param] * covariate_multiplier(
            X[lever.process], g, lever.sign, ops=ops
        )
    return type(params)(**values)


# ------------------------------------------------------------------------------- validation
def covariate_problems(frame: pd.DataFrame, columns: Sequence[str]) -> list[Problem]:
    """Missing, non-numeric or non-finite covariate columns, with example customer ids."""
    problems: list[Problem] = []
    for c in dict.fromkeys(columns):
        if c not in frame.columns:
            problems.append(
                Problem(
                    c,
                    "is a covariate of the model but missing from the data",
                    f"add the column '{c}' (one value per customer); " + FEATURE_FIX,
                )
            )
            continue
        col = frame[c]
        if pd.api.types.is_bool_dtype(col):
            col = col.astype(np.float64)
        if not pd.api.types.is_numeric_dtype(col):
            problems.append(
                Problem(
                    c,
                    f"is a covariate but not numeric (dtype {col.dtype})",
                    "encode it as numbers (e.g. 0/1 indicators for categories); " + FEATURE_FIX,
                )
            )
            continue
        v = col.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isfinite(v)
        if bad.any():
            problems.append(
                Problem(
                    c,
                    f"has {int(bad.sum())} missing or infinite values",
                    FEATURE_FIX,
                    list(frame.index[bad][:5]),
                )
            )
    return problems


def covariate_matrix(frame: pd.DataFrame, columns: Sequence[str], what: str) -> FloatArray:
    """The covariate columns as a float matrix ``(n, k)``; DataError on bad input."""
    problems = covariate_problems(frame, columns)
    if problems:
        raise DataError(problems, what=what)
    if not columns:
        return np.zeros((len(frame), 0))
    return np.column_stack([frame[c].to_numpy(dtype=np.float64) for c in columns])


# ------------------------------------------------------------------------------- design
@dataclass(frozen=True)
class Design:
    """Covariate layout of a model: coefficient names, processes, columns and standardisation."""

    levers: tuple[Lever, ...]
    columns: dict[str, tuple[str, ...]]  # process -> covariate columns

    @property
    def active(self) -> tuple[Lever, ...]:
        return tuple(lv for lv in self.levers if self.columns.get(lv.process))

    @property
    def names(self) -> list[str]:
        """Coefficient labels ``process[column]`` in parameter order."""
        return [f"{lv.process}[{c}]" for lv in self.active for c in self.columns[lv.process]]

    @property
    def coef_columns(self) -> list[str]:
        """The data column of each coefficient."""
        return [c for lv in self.active for c in self.columns[lv.process]]

    @property
    def coef_levers(self) -> list[Lever]:
        return [lv for lv in self.active for _ in self.columns[lv.process]]

    def __bool__(self) -> bool:
        return bool(self.names)

    def split(self, coefficients: Sequence[Any]) -> dict[str, list[Any]]:
        """Coefficients grouped by process."""
        out: dict[str, list[Any]] = {}
        k = 0
        for lv in self.active:
            n = len(self.columns[lv.process])
            out[lv.process] = [coefficients[k + j] for j in range(n)]
            k += n
        return out

    def matrices(self, frame: pd.DataFrame, what: str) -> dict[str, FloatArray]:
        """Covariate matrix of each active process (validated)."""
        problems = covariate_problems(frame, self.coef_columns)
        if problems:
            raise DataError(problems, what=what)
        return {
            lv.process: covariate_matrix(frame, self.columns[lv.process], what)
            for lv in self.active
        }


def standardise(
    Z: FloatArray,
    weights: FloatArray,
    names: Sequence[str],
    columns: Sequence[str],
    frame_index: pd.Index,
    *,
    center: bool,
    what: str,
) -> tuple[FloatArray, FloatArray]:
    """Means (0 unless ``center``) and scales of each coefficient's column; checks identification.

    Raises DataError for a constant column and for exactly collinear columns
    within one process.
    """
    w = weights / weights.sum()
    mean = np.array([float(np.sum(w * Z[:, j])) for j in range(Z.shape[1])])
    sd = np.array([float(np.sqrt(np.sum(w * (Z[:, j] - mean[j]) ** 2))) for j in range(Z.shape[1])])
    problems = []
    for j, name in enumerate(names):
        if not sd[j] > 1e-12 * max(1.0, abs(mean[j])):
            problems.append(
                Problem(
                    columns[j],
                    f"has the same value for every customer fitted, so "
                    f"its coefficient {name} is not identified",
                    "drop the column from the model's covariates (or fit on data where it varies)",
                    list(frame_index[:3]),
                )
            )
    if problems:
        raise DataError(problems, what=what)
    scale = sd
    if not center:
        # no centering (the base parameters must stay the x = 0 values): scale by the RMS
        scale = np.array([float(np.sqrt(np.sum(w * Z[:, j] ** 2))) for j in range(Z.shape[1])])
        mean = np.zeros_like(mean)
    return mean, scale


def check_collinear(Zs: FloatArray, names: Sequence[str], groups: Sequence[str], what: str) -> None:
    """DataError when the standardised columns of one process are (almost) linearly dependent."""
    for g in dict.fromkeys(groups):
        idx = [j for j, grp in enumerate(groups) if grp == g]
        if len(idx) < 2:
            continue
        sub = Zs[:, idx] - Zs[:, idx].mean(axis=0)
        sv = np.linalg.svd(sub / np.sqrt(len(sub)), compute_uv=False)
        if sv[-1] < 1e-6 * sv[0]:
            cols = [names[j] for j in idx]
            raise DataError(
                [
                    Problem(
                        None,
                        f"the {g} covariates {cols} are collinear (one is a "
                        "linear combination of the others), so their coefficients "
                        "are not identified",
                        "drop one of the columns (e.g. one level of a one-hot encoded category)",
                    )
                ],
                what=what,
            )


# ------------------------------------------------------------------------------- priors
def penalty_function(
    n_total: float,
    l2: float | FloatArray,
    scales: FloatArray,
    prior_mean: FloatArray,
    prior_sd: FloatArray,
    n_base: int,
) -> Callable[[FloatArray], tuple[float, FloatArray]]:
    r"""Penalty on the standardised coefficients, in total-log-likelihood units.

    ``n·Σ_k λ_k g_k² + Σ_k (g_k/s_k - m_k)² / (2 sd_k²)`` (priors with
    ``sd = inf`` add nothing), so the objective ``-lnL/n + penalty/n`` is
    CLVTools' ``-lnL/n + λ_trans‖γ_trans‖² + λ_life‖γ_life‖²`` plus the
    Gaussian log-priors of a MAP fit. ``l2`` is one strength or one per
    coefficient (a penalty on natural-unit coefficients :math:`\gamma_k = g_k/s_k`
    with strength :math:`\lambda` is ``l2 = λ / s_k²``).
    Returns ``penalty(theta) -> (value, gradient w.r.t. theta)``.
    """
    has_prior = np.isfinite(prior_sd)
    inv_var = np.where(has_prior, 1.0 / np.where(has_prior, prior_sd, 1.0) ** 2, 0.0)
    lam = np.broadcast_to(np.asarray(l2, dtype=np.float64), np.shape(scales))

    def penalty(theta: FloatArray) -> tuple[float, FloatArray]:
        g = np.asarray(theta[n_base:], dtype=np.float64)
        nat = g / scales
        dev = np.where(has_prior, nat - prior_mean, 0.0)
        value = n_total * float(np.sum(lam * g * g)) + 0.5 * float(np.sum(inv_var * dev * dev))
        grad = np.zeros(len(theta))
        grad[n_base:] = 2.0 * n_total * lam * g + inv_var * dev / scales
        return value, grad

    return penalty


# ------------------------------------------------------------------------------- augmented spec
LikelihoodWithMultipliers = Callable[..., Any]
"""``f(base_params, multipliers: dict[process, array], *columns, ops) -> per-row ll``."""


def multiply_params(spec: ModelSpec, levers: Sequence[Lever]) -> LikelihoodWithMultipliers:
    """The likelihood of a model whose levers multiply base parameters."""

    def ll(base: Any, mult: Mapping[str, Any], *columns: Any, ops: Ops = NUMPY) -> Any:
        values = dict(base._asdict())
        for lv in levers:
            if lv.process in mult:
                assert lv.param is not None
                values[lv.param] = values[lv.param] * mult[lv.process]
        return spec.log_likelihood(spec.params(**values), *columns, ops=ops)

    return ll


def augmented_spec(
    spec: ModelSpec,
    design: Design,
    ll_mult: LikelihoodWithMultipliers,
    penalty: Callable[[FloatArray], tuple[float, FloatArray]] | None,
) -> ModelSpec:
    """A spec over base parameters followed by the (standardised) coefficients.

    Columns are the base columns followed by one standardised covariate column
    per coefficient; the gradient is the per-row chain rule from central
    differences of the likelihood in each base parameter and each lever's
    log-multiplier (``2 × (base + levers without a parameter)`` evaluations,
    however many covariates).
    """
    base_names = list(spec.params._fields)
    n_base, n_cols = len(base_names), len(spec.columns)
    names = design.names
    fields = base_names + [f"g{k}" for k in range(len(names))]
    Params = namedtuple("CovariateParams", fields)  # type: ignore[misc]
    levers = design.active
    groups = [
        [k for k, lv in enumerate(design.coef_levers) if lv.process == L.process] for L in levers
    ]

    def multipliers(g: Sequence[Any] | FloatArray, Z: Sequence[Any], ops: Ops) -> dict[str, Any]:
        return {
            lv.process: ops.exp(
                lv.sign * linear_predictor([Z[k] for k in grp], [g[k] for k in grp])
            )
            for lv, grp in zip(levers, groups, strict=True)
        }

    def log_likelihood(params: Any, *columns: Any, ops: Ops = NUMPY) -> Any:
        base = spec.params(*params[:n_base])
        mult = multipliers(params[n_base:], columns[n_cols:], ops)
        return ll_mult(base, mult, *columns[:n_cols], ops=ops)

    row_gradient = spec.row_gradient if all(lv.param is not None for lv in levers) else None

    def gradient(params: Any, *columns: Any) -> tuple[FloatArray, FloatArray]:
        theta = np.asarray(params, dtype=np.float64)
        base = spec.params(*theta[:n_base])
        data, Z = columns[:n_cols], columns[n_cols:]
        mult = multipliers(theta[n_base:], Z, NUMPY)
        if row_gradient is not None:  # analytic per-row derivatives, then the chain rule
            values = dict(base._asdict())
            for lv in levers:
                values[lv.param] = values[lv.param] * mult[lv.process]  # type: ignore[index]
            ll, d_rows = row_gradient(spec.params(**values), *data)
            grad = np.empty((len(theta), len(ll)))
            for j, name in enumerate(base_names):
                scale = values[name] / base[j]  # dθ_i/dθ_0 (1 without a lever)
                grad[j] = d_rows[j] * scale
            d_log: dict[str, FloatArray] = {
                lv.process: d_rows[base_names.index(lv.param)]  # type: ignore[arg-type]
                * values[lv.param]
                for lv in levers
            }  # type: ignore[index]
            for k, lv in enumerate(design.coef_levers):
                grad[n_base + k] = lv.sign * Z[k] * d_log[lv.process]
            return ll, grad
        ll = np.asarray(ll_mult(base, mult, *data), dtype=np.float64)
        n = ll.shape[0]
        grad = np.empty((len(theta), n))
        up, down = np.exp(_STEP), np.exp(-_STEP)
        d_log = {}
        for j, name in enumerate(base_names):
            hi = base._replace(**{name: base[j] * up})
            lo = base._replace(**{name: base[j] * down})
            d = np.asarray(ll_mult(hi, mult, *data)) - np.asarray(ll_mult(lo, mult, *data))
            d = d / (2.0 * _STEP)  # d ll_i / d log θ_j
            grad[j] = d / base[j]
            for lv in levers:
                if lv.param == name:
                    d_log[lv.process] = d  # θ_i = θ_0 · multiplier: same derivative
        for lv in levers:
            if lv.process not in d_log:
                hi_m = {**mult, lv.process: mult[lv.process] * up}
                lo_m = {**mult, lv.process: mult[lv.process] * down}
                d_log[lv.process] = (
                    np.asarray(ll_mult(base, hi_m, *data)) - np.asarray(ll_mult(base, lo_m, *data))
                ) / (2.0 * _STEP)
        for k, lv in enumerate(design.coef_levers):
            grad[n_base + k] = lv.sign * Z[k] * d_log[lv.process]
        return ll, grad

    initial = None
    if spec.initial is not None:
        base_initial = spec.initial

        def initial(*columns: Any) -> Any:
            return Params(*base_initial(*columns[:n_cols]), *([0.0] * len(names)))

    transforms = tuple(spec.transforms or ("log",) * n_base) + ("identity",) * len(names)
    return replace(
        spec,
        params=Params,
        start=Params(*spec.start, *([0.0] * len(names))),
        columns=tuple(spec.columns) + tuple(f"__covariate_{k}" for k in range(len(names))),
        log_likelihood=log_likelihood,
        gradient=gradient,
        hessian=None,
        initial=initial,
        transforms=transforms,
        penalty=penalty,
    )


def natural_map(
    base_names: Sequence[str], design: Design, mean: FloatArray, scale: FloatArray
) -> FloatArray:
    r"""Linear map ``A`` from the optimised (standardised) to the natural unconstrained scale.

    With :math:`z = (x - m)/s`: :math:`\gamma = g/s` and, for the lever's
    parameter, :math:`\log\theta_0 = \log\theta_c - \text{sign}\sum_k g_k m_k/s_k`.
    """
    nb, k = len(base_names), len(design.names)
    A = np.eye(nb + k)
    for j, lv in enumerate(design.coef_levers):
        A[nb + j, nb + j] = 1.0 / scale[j]
        if lv.param is not None:
            A[list(base_names).index(lv.param), nb + j] = -lv.sign * mean[j] / scale[j]
    return A


# ------------------------------------------------------------------------------- constraints
def shared_groups(design: Design, constrained: Sequence[str]) -> list[list[int]]:
    """Groups of coefficient indices that share one value; singletons for the free ones.

    A constrained column (CLVTools' ``names.cov.constr``) has one coefficient
    for all the processes it acts on. Groups are ordered by their first index.

    Examples
    --------
    >>> d = Design((Lever("purchase", "alpha", -1.0), Lever("dropout", "beta", -1.0)),
    ...            {"purchase": ("gender", "age"), "dropout": ("gender",)})
    >>> shared_groups(d, ["gender"])
    [[0, 2], [1]]
    """
    columns = design.coef_columns
    groups: list[list[int]] = []
    seen: dict[str, int] = {}
    for k, c in enumerate(columns):
        if c in constrained:
            if c in seen:
                groups[seen[c]].append(k)
                continue
            seen[c] = len(groups)
        groups.append([k])
    return groups


def expansion_matrix(n_base: int, groups: Sequence[Sequence[int]]) -> FloatArray:
    """The 0/1 matrix ``E`` with ``theta_full = E @ theta_tied`` (base parameters unchanged).

    Examples
    --------
    >>> expansion_matrix(1, [[0, 2], [1]]).astype(int).tolist()
    [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 1, 0]]
    """
    n_full = n_base + sum(len(g) for g in groups)
    E = np.zeros((n_full, n_base + len(groups)))
    E[np.arange(n_base), np.arange(n_base)] = 1.0
    for j, group in enumerate(groups):
        for k in group:
            E[n_base + k, n_base + j] = 1.0
    return E


def tied_spec(spec: ModelSpec, n_base: int, groups: Sequence[Sequence[int]]) -> ModelSpec:
    """``spec`` (base parameters and coefficients) with each group of coefficients tied to one.

    The likelihood, gradient and penalty are those of the expanded parameter
    vector (a penalty thus counts a shared coefficient once per process, as
    CLVTools' regularisation after its constraint layer); the gradient of a
    tied coefficient is the sum over its group (chain rule of ``E``).
    """
    E = expansion_matrix(n_base, groups)
    fields = list(spec.params._fields[:n_base]) + [f"g{k}" for k in range(len(groups))]
    Params = namedtuple("TiedParams", fields)  # type: ignore[misc]
    first = [n_base + g[0] for g in groups]
    keep = list(range(n_base)) + first

    def expand(params: Any) -> Any:
        theta = np.asarray([float(v) for v in params])
        return spec.params(*(E @ theta))

    def log_likelihood(params: Any, *columns: Any, ops: Ops = NUMPY) -> Any:
        return spec.log_likelihood(expand(params), *columns, ops=ops)

    gradient = None
    if spec.gradient is not None:
        full_gradient = spec.gradient

        def gradient(params: Any, *columns: Any) -> tuple[FloatArray, FloatArray]:
            ll, grad = full_gradient(expand(params), *columns)
            return ll, E.T @ np.asarray(grad)

    penalty = None
    if spec.penalty is not None:
        full_penalty = spec.penalty

        def penalty(theta: FloatArray) -> tuple[float, FloatArray]:
            value, grad = full_penalty(E @ np.asarray(theta, dtype=np.float64))
            return value, E.T @ np.asarray(grad)

    initial = None
    if spec.initial is not None:
        full_initial = spec.initial

        def initial(*columns: Any) -> Any:
            return Params(*(float(full_initial(*columns)[i]) for i in keep))

    transforms = tuple(spec.transforms or ("log",) * n_base)
    return replace(
        spec,
        params=Params,
        start=Params(*(float(spec.start[i]) for i in keep)),
        log_likelihood=log_likelihood,
        gradient=gradient,
        hessian=None,
        row_gradient=None,
        initial=initial,
        transforms=tuple(transforms[i] for i in keep),
        penalty=penalty,
    )
