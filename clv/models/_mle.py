"""Maximum-likelihood engine shared by every model.

:func:`maximise` fits any :class:`~clv.models._spec.ModelSpec`:

* parameters are optimised on the log scale (all BTYD parameters are positive),
  or, per parameter as declared in ``spec.transforms``, on the logit scale
  (shares in (0, 1)) or unchanged ("identity": coefficients of any sign);
* data columns in ``spec.scale_columns`` are divided by their maximum so the
  problem is well conditioned, and the parameters in ``spec.scale_params``
  (those with the same unit, e.g. ``alpha``) are mapped back afterwards;
* identical data rows are compressed into one row with a weight;
* Newton's method with the spec's analytic Hessian when it has one (BFGS with the
  analytic gradient otherwise); a final Newton step below 1e-6 is taken without
  another evaluation;
* a Gamma shape declared in ``spec.homogeneous_limits`` that runs past
  ``_SHAPE_LIMIT`` (outwards) is moved back to the limit along its ridge (the
  mean rate ``shape / scale`` kept) and held there while the other parameters
  converge: the likelihood rises ever more slowly towards the homogeneous limit
  (shape → ∞), where it would otherwise take hundreds of iterations. It is
  released if, at the constrained optimum, the likelihood prefers a smaller shape
  (a Newton step overshot the limit from an optimum below it); an optimum beyond
  the limit is reported as the limit (predictions within O(1/shape)). A held
  shape is reported with a :class:`~clv.exceptions.ConvergenceWarning`
  (``reason="homogeneous_limit"``);
* the covariance is the inverse of the Hessian of the negative log-likelihood
  in log-parameters (central differences of the gradient, symmetrised),
  mapped to the natural scale by the delta method ``J Σ J`` with ``J = diag(θ)``
  (``J = diag(dθ/du)`` in general: ``θ`` for log, ``θ(1-θ)`` for logit, 1 for
  identity parameters).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special

from clv._typing import FloatArray
from clv.exceptions import ConvergenceError, ConvergenceWarning
from clv.models._spec import ModelSpec

__all__ = ["MLEResult", "compress", "maximise"]

_LOG_BOUND = 30.0  # |log θ| ≤ 30 on the scaled problem: θ in [1e-13, 1e13]
_NEWTON_STEP_TOL = 1e-6  # largest final Newton step (log-parameters) taken unevaluated
#: a Gamma shape above this has a coefficient of variation below 3.2 %: no heterogeneity the
#: data could detect, and predictions within O(1/shape) = 0.1 % of the homogeneous limit
_SHAPE_LIMIT = 1e3
_LOG_SHAPE_LIMIT = float(np.log(_SHAPE_LIMIT))
#: a held shape is released when, at the constrained optimum, the mean log-likelihood gains
#: more than this per unit of log-shape by going back inside (a step overshot the limit)
_RELEASE_GTOL = 1e-7
#: codes 0, 1, 2, 3 in _Objective.kinds; "log1" is θ = 1 + e^u (a parameter above 1, e.g.
#: the Gamma-Gamma q of a model whose mean spend must exist)
_TRANSFORMS = ("log", "logit", "identity", "log1")


def _transform_codes(spec: ModelSpec) -> np.ndarray:
    """Transform of each parameter as a code (0 log, 1 logit, 2 identity); all log by default."""
    k = len(spec.params._fields)
    kinds = tuple(getattr(spec, "transforms", ()) or ("log",) * k)
    if len(kinds) != k or any(t not in _TRANSFORMS for t in kinds):
        raise ValueError(
            f"{spec.name}: spec.transforms must give one of {_TRANSFORMS} for each "
            f"of the {k} parameters, got {kinds}."
        )
    return np.array([_TRANSFORMS.index(t) for t in kinds], dtype=np.int64)


def _forward(u: FloatArray, kinds: np.ndarray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Natural parameters ``θ(u)`` and the derivatives ``dθ/du``, ``d²θ/du²``."""
    u = np.asarray(u, dtype=np.float64)
    if not kinds.any():  # all log-parameters (every BTYD model without covariates)
        e = np.exp(u)
        return e, e.copy(), e.copy()
    positive = (kinds == 0) | (kinds == 3)
    e = np.exp(np.where(positive, u, 0.0))
    p = special.expit(u)
    d_logit = p * (1.0 - p)
    theta = np.where(kinds == 0, e, np.where(kinds == 1, p, u))
    theta = np.where(kinds == 3, 1.0 + e, theta)
    d1 = np.where(positive, e, np.where(kinds == 1, d_logit, 1.0))
    d2 = np.where(positive, e, np.where(kinds == 1, d_logit * (1.0 - 2.0 * p), 0.0))
    return theta, d1, d2


def _inverse(theta: FloatArray, kinds: np.ndarray) -> FloatArray:
    """Unconstrained ``u(θ)``; NaN or infinite outside a parameter's domain."""
    theta = np.asarray(theta, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        logit = special.logit(theta)
        u = np.where(kinds == 0, np.log(theta), np.where(kinds == 1, logit, theta))
        return np.where(kinds == 3, np.log(theta - 1.0), u)


def to_unconstrained(theta: ArrayLike, kinds: Sequence[str]) -> FloatArray:
    """``u(θ)`` for parameters with the named transforms (``"log"``, ``"logit"``,
    ``"identity"``, ``"log1"``), over the last axis of ``theta``."""
    return _inverse(np.asarray(theta, dtype=np.float64), _codes(kinds))


def from_unconstrained(u: ArrayLike, kinds: Sequence[str]) -> FloatArray:
    """``θ(u)``, the inverse of :func:`to_unconstrained` (an unbounded log-parameter gives inf)."""
    with np.errstate(over="ignore"):
        return _forward(np.asarray(u, dtype=np.float64), _codes(kinds))[0]


def du_dtheta(theta: ArrayLike, kinds: Sequence[str]) -> FloatArray:
    """Derivative of the unconstrained scale, ``du/dθ`` (the delta method's factor)."""
    codes = _codes(kinds)
    return 1.0 / _forward(_inverse(np.asarray(theta, dtype=np.float64), codes), codes)[1]


def _codes(kinds: Sequence[str]) -> np.ndarray:
    return np.array([_TRANSFORMS.index(k) for k in kinds], dtype=np.int64)


@dataclass
class MLEResult:
    """Raw record of one maximum-likelihood fit (natural-scale parameters).

    ``log_params_covariance`` is the covariance of the optimised (unconstrained)
    parameters: log-parameters, or logit / identity ones per ``spec.transforms``.
    """

    params: FloatArray
    log_params_covariance: FloatArray
    covariance: FloatArray
    log_likelihood: float
    converged: bool
    message: str
    n_iterations: int
    n_evaluations: int
    gradient_norm: float
    starts_tried: int
    hessian_positive_definite: bool
    history: list[str] = field(default_factory=list)
    #: Gamma shapes held at ``_SHAPE_LIMIT`` (the homogeneous limit, see :func:`maximise`)
    params_at_limit: tuple[str, ...] = ()


def unique_rows(columns: Sequence[FloatArray]) -> tuple[list[FloatArray], np.ndarray]:
    """Distinct rows of ``columns`` and, for every row, the index of its distinct row.

    Hash-based (``pandas.factorize``), so it costs O(n) rather than a sort:
    about 0.06 s for a million customers with whole-number columns (one int32
    key). Distinct rows come in order of first appearance.
    """
    cols = [np.asarray(c, dtype=np.float64) for c in columns]
    n = len(cols[0])
    if n == 0:
        return cols, np.zeros(0, dtype=np.intp)
    if n < 10_000:  # small data: one lexsort beats four hash passes
        order = np.lexsort(cols[::-1])
        sorted_cols = [c[order] for c in cols]
        change = np.zeros(n, dtype=bool)
        change[0] = True
        for c in sorted_cols:
            change[1:] |= c[1:] != c[:-1]
        key = np.empty(n, dtype=np.intp)
        key[order] = np.cumsum(change) - 1
        return [c[change] for c in sorted_cols], key
    # one integer code per column, combined arithmetically into one key while the product of
    # the cardinalities fits in int64, then factorised once; int32 keys when they fit (the
    # hash table is half the size and twice as fast)
    coded = [_column_codes(c) for c in cols]
    key = np.zeros(n, dtype=np.int32 if _product([k for _, k in coded]) < 2**31 else np.int64)
    size = 1
    for codes, n_codes in coded:
        if size * n_codes >= 2**62:
            key, _ = pd.factorize(key, sort=False)
            size = int(key.max()) + 1
        key = key * key.dtype.type(n_codes) + codes.astype(key.dtype, copy=False)
        size *= n_codes
    key, _ = pd.factorize(key, sort=False)
    # codes are numbered in order of first appearance: a row is the first of its distinct row
    # where the running maximum of the codes grows
    running = np.maximum.accumulate(key)
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.greater(running[1:], running[:-1], out=new[1:])
    first = np.flatnonzero(new)  # indices, not the mask: one scan instead of one per column
    return [c[first] for c in cols], key


def _product(values: Sequence[int]) -> int:
    out = 1
    for v in values:
        out *= int(v)
    return out


def _column_codes(c: FloatArray) -> tuple[np.ndarray, int]:
    """Integer codes of a column's values and their number (an upper bound when dense).

    Whole numbers in a range shorter than the column (counts, day-granular
    times) are their own codes, offset by the minimum: no hashing needed.
    """
    lo = float(c.min())
    span = float(c.max()) - lo
    if np.isfinite(span) and span < c.size:
        offset = c - lo
        codes = offset.astype(np.int32 if span < 2**31 else np.int64)
        if np.array_equal(codes, offset):
            return codes, int(span) + 1
    codes, uniques = pd.factorize(c, sort=False)
    return codes, len(uniques)


def compress(
    columns: Sequence[FloatArray], weights: FloatArray | None = None
) -> tuple[list[FloatArray], FloatArray]:
    """Collapse identical rows of ``columns`` into unique rows and summed weights."""
    n = len(columns[0])
    if n == 0:
        w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
        return [np.asarray(c, dtype=np.float64) for c in columns], w
    unique, key = unique_rows(columns)
    if weights is None:  # counts: an integer bincount, exact and faster than summing ones
        return unique, np.bincount(key).astype(np.float64)
    w = np.asarray(weights, dtype=np.float64)
    return unique, np.asarray(np.bincount(key, weights=w), dtype=np.float64)


@dataclass
class _RunResult:
    """Outcome of one optimiser run from one starting point."""

    x: FloatArray
    fun: float
    jac: FloatArray
    success: bool
    message: str
    nit: int
    hess: FloatArray | None = None  # Hessian of the mean objective at x (Newton only)
    held: tuple[int, ...] = ()  # shapes held at the homogeneous limit


class _Ridge:
    """Gamma shapes held at the homogeneous limit while the optimiser runs along their ridge.

    ``pairs`` are the (shape, scale) indices of ``spec.homogeneous_limits`` (both
    log-parameters). ``free`` masks the coordinates the optimiser may move.
    """

    def __init__(self, pairs: Sequence[tuple[int, int]], k: int):
        self.pairs = list(pairs)
        self.free = np.ones(k, dtype=bool)
        self.released: set[int] = set()

    @property
    def held(self) -> tuple[int, ...]:
        return tuple(j for j, _ in self.pairs if not self.free[j])

    def hold(self, x: FloatArray, p: FloatArray) -> FloatArray | None:
        """``x`` moved back to the limit along the ridge when a shape passed it going
        outwards (the shape then held), else None."""
        out = None
        for j, k in self.pairs:
            if self.free[j] and j not in self.released and x[j] > _LOG_SHAPE_LIMIT and p[j] > 0:
                out = x.copy() if out is None else out
                excess = out[j] - _LOG_SHAPE_LIMIT
                out[j] -= excess
                out[k] -= excess  # same shape / scale: the mean rate is kept
                self.free[j] = False
        return out

    def release(self, g: FloatArray) -> bool:
        """Free the held shapes whose gradient points back inside; True if any was."""
        back = [j for j in self.held if g[j] > _RELEASE_GTOL]
        for j in back:
            self.free[j] = True
            self.released.add(j)
        return bool(back)

    def mask(self, g: FloatArray) -> FloatArray:
        """``g`` with the held coordinates zeroed."""
        return np.where(self.free, g, 0.0)


def _limit_pairs(spec: ModelSpec, kinds: np.ndarray) -> list[tuple[int, int]]:
    """Indices of the (shape, scale) pairs of ``spec.homogeneous_limits`` (log-parameters)."""
    names = list(spec.params._fields)
    out = []
    for shape, scale, _ in getattr(spec, "homogeneous_limits", ()):
        if shape in names and scale in names:
            j, k = names.index(shape), names.index(scale)
            if kinds[j] == 0 and kinds[k] == 0:
                out.append((j, k))
    return out


class _Objective:
    """Negative mean log-likelihood (and gradient) in log-parameters on the scaled data."""

    def __init__(
        self, spec: ModelSpec, data: list[FloatArray], weights: FloatArray, penalizer: float
    ):
        self.spec = spec
        self.data = data
        self.weights = weights
        self.total = float(weights.sum())
        self.penalizer = penalizer
        self.n_evaluations = 0
        self.kinds = _transform_codes(spec)

    def params(self, u: FloatArray) -> tuple[float, ...]:
        return tuple(_forward(u, self.kinds)[0])

    def value(self, u: FloatArray) -> float:
        self.n_evaluations += 1
        theta = _forward(u, self.kinds)[0]
        ll = self.spec.log_likelihood(self.spec.params(*theta), *self.data)
        total = float(np.sum(self.weights * ll))  # elementwise: BLAS threads only add overhead
        if not np.isfinite(total):
            return np.inf
        extra = 0.0 if self.spec.penalty is None else self.spec.penalty(theta)[0] / self.total
        return -total / self.total + self.penalizer * float(np.sum(theta**2)) + extra

    def value_and_gradient(self, u: FloatArray) -> tuple[float, FloatArray]:
        self.n_evaluations += 1
        theta, d1, _ = _forward(u, self.kinds)
        assert self.spec.gradient is not None
        # a line-search trial far out can overflow; a non-finite result is rejected just below
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            ll, grad = self.spec.gradient(self.spec.params(*theta), *self.data)
            total = float(np.sum(self.weights * ll))  # elementwise: BLAS threads only add overhead
            g = (np.asarray(grad) * self.weights).sum(axis=1)  # d sum ll / d theta
        if not (np.isfinite(total) and np.all(np.isfinite(g))):
            return np.inf, np.zeros_like(u)
        f = -total / self.total + self.penalizer * float(np.sum(theta**2))
        du = -g * d1 / self.total + self.penalizer * 2.0 * theta * d1
        if self.spec.penalty is not None:
            pen, pen_grad = self.spec.penalty(theta)
            f += pen / self.total
            du = du + np.asarray(pen_grad) * d1 / self.total
        return f, du

    def value_grad_hess(self, u: FloatArray) -> tuple[float, FloatArray, FloatArray]:
        """Value, gradient and Hessian in log-parameters (needs ``spec.hessian``)."""
        self.n_evaluations += 1
        theta, d1, d2 = _forward(u, self.kinds)
        assert self.spec.hessian is not None
        total, g, h = self.spec.hessian(self.spec.params(*theta), *self.data, self.weights)
        if not (np.isfinite(total) and np.all(np.isfinite(g)) and np.all(np.isfinite(h))):
            return np.inf, np.zeros_like(u), np.eye(u.size)
        f = -total / self.total + self.penalizer * float(np.sum(theta**2))
        du = -g * d1 / self.total + self.penalizer * 2.0 * theta * d1
        huu = -(h * np.outer(d1, d1) + np.diag(g * d2)) / self.total
        huu += np.diag(self.penalizer * 2.0 * (d1**2 + theta * d2))
        return f, du, 0.5 * (huu + huu.T)

    def gradient(self, u: FloatArray) -> FloatArray:
        if self.spec.gradient is not None:
            return self.value_and_gradient(u)[1]
        return _grad_for_hessian(self, u)


def _hessian(objective: _Objective, u: FloatArray) -> FloatArray:
    """Hessian of the total negative log-likelihood in log-parameters.

    Analytic when the spec has one, else central differences of the gradient.
    """
    if objective.spec.hessian is not None:
        return objective.value_grad_hess(u)[2] * objective.total
    k = len(u)
    h = np.empty((k, k))
    for j in range(k):
        step = 1e-4 * max(1.0, abs(u[j]))
        e = np.zeros(k)
        e[j] = step
        h[:, j] = (_grad_for_hessian(objective, u + e) - _grad_for_hessian(objective, u - e)) / (
            2 * step
        )
    h = 0.5 * (h + h.T)
    return h * objective.total


def _grad_for_hessian(objective: _Objective, u: FloatArray) -> FloatArray:
    if objective.spec.gradient is not None:
        return objective.value_and_gradient(u)[1]
    # central differences of the value: accurate enough for a Hessian of a smooth function
    k = len(u)
    g = np.empty(k)
    for j in range(k):
        step = 1e-5 * max(1.0, abs(u[j]))
        e = np.zeros(k)
        e[j] = step
        g[j] = (objective.value(u + e) - objective.value(u - e)) / (2 * step)
    return g


def maximise(
    spec: ModelSpec,
    data: Mapping[str, FloatArray],
    weights: FloatArray | None = None,
    *,
    initial_params: Mapping[str, float] | None = None,
    penalizer: float = 0.0,
    n_starts: int = 1,
    random_state: int | np.random.Generator | None = None,
    max_iterations: int = 2000,
) -> MLEResult:
    """Fit ``spec`` to ``data`` by maximum likelihood.

    Parameters
    ----------
    spec : ModelSpec
        The model.
    data : mapping of str to ndarray
        One array per ``spec.columns`` entry (one row per customer).
    weights : ndarray, optional
        Number of customers each row stands for.
    initial_params : mapping, optional
        Starting values on the natural scale; defaults to ``spec.start``.
    penalizer : float
        L2 penalty on the (scaled) parameters, as in lifetimes; 0 means plain MLE.
    n_starts : int
        Number of starting points. The first is ``initial_params``; the others
        are deterministic random perturbations of it (seeded by
        ``random_state``). The best converged run is kept.
    random_state : int or numpy.random.Generator, optional
        Seed for the extra starting points.
    max_iterations : int
        Iteration limit of each L-BFGS-B run.

    Returns
    -------
    MLEResult

    Raises
    ------
    ConvergenceError
        When no start converged to a finite optimum, saying what was tried and
        what to try next.
    """
    columns = [np.asarray(data[c], dtype=np.float64) for c in spec.columns]
    cols, w = compress(columns, weights)
    scale = dict.fromkeys(spec.columns, 1.0)
    for c in spec.scale_columns:
        m = float(np.max(np.abs(cols[spec.columns.index(c)]))) if len(cols[0]) else 1.0
        scale[c] = m if m > 0 and np.isfinite(m) else 1.0
    # all scale columns share one unit: use the largest scale among them
    factor = max((scale[c] for c in spec.scale_columns), default=1.0)
    scaled = [
        col / factor if c in spec.scale_columns else col
        for c, col in zip(spec.columns, cols, strict=True)
    ]
    names = list(spec.params._fields)
    scale_vec = np.array([factor if n in spec.scale_params else 1.0 for n in names])

    start = dict(spec.start._asdict())
    if initial_params is not None:
        unknown = set(initial_params) - set(names)
        if unknown:
            raise ValueError(
                f"initial_params has unknown parameter(s) {sorted(unknown)}; expected {names}."
            )
        start.update({k: float(v) for k, v in initial_params.items()})
    elif spec.initial is not None:
        start.update(spec.initial(*scaled)._asdict())
        # spec.initial works on the scaled data: undo the scaling so the next line redoes it
        start = {n: start[n] * (scale_vec[i]) for i, n in enumerate(names)}
    objective = _Objective(spec, scaled, w, penalizer)
    theta0 = np.array([start[n] for n in names], dtype=np.float64) / scale_vec
    u0 = _inverse(theta0, objective.kinds)
    if not np.all(np.isfinite(u0)):
        raise ValueError(
            f"initial parameters must be finite and in each parameter's domain "
            f"(positive; in (0, 1) for a share), got {start}."
        )
    rng = np.random.default_rng(random_state)
    starts = [u0] + [u0 + rng.normal(0.0, 1.0, size=u0.shape) for _ in range(max(n_starts, 1) - 1)]
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(u0)
    history: list[str] = []
    best: _RunResult | None = None
    for i, s in enumerate(starts):
        res = _run(objective, s, bounds, max_iterations)
        history.append(f"start {i + 1}: {res.message} (f={res.fun:.6g}, {res.nit} iterations)")
        if np.isfinite(res.fun) and (best is None or res.fun < best.fun - 1e-10):
            best = res
    if best is None or not np.isfinite(best.fun):
        raise ConvergenceError(
            f"{spec.name}: the log-likelihood was not finite at any of {len(starts)} starting "
            f"point(s) ({'; '.join(history)}).",
            remedy="Try initial_params= closer to plausible values, n_starts=10, or "
            "penalizer=0.01; check the data for extreme values.",
            reason="not_finite",
            attempts=history,
        )
    moving = np.ones(len(names), dtype=bool)
    moving[list(best.held)] = False  # a held shape's gradient is the ridge's residual slope
    jac_free = best.jac[moving]
    gnorm = float(np.max(np.abs(jac_free))) if np.all(np.isfinite(jac_free)) else np.inf
    converged = bool(best.success) or gnorm < 1e-4
    at_bound = np.abs(best.x) >= _LOG_BOUND - 1e-6
    if at_bound.any():
        bad = [names[j] for j in np.flatnonzero(at_bound)]
        raise ConvergenceError(
            f"{spec.name}: parameter(s) {bad} ran to the edge of the allowed range "
            f"(|log θ| = {_LOG_BOUND}, or |logit θ|, |θ| for logit and identity parameters); "
            "the data do not identify them. Tried "
            f"{len(starts)} start(s): {'; '.join(history)}.",
            remedy="Try penalizer=0.01, or a simpler model (e.g. without dropout when nobody "
            "appears to churn).",
            reason="at_bound",
            params_at_bound=bad,
            attempts=history,
        )
    if not converged:
        raise ConvergenceError(
            f"{spec.name}: the optimiser did not converge (largest gradient {gnorm:.2e}). "
            f"Tried {len(starts)} start(s): {'; '.join(history)}.",
            remedy="Try n_starts=10, initial_params=..., or max_iterations larger.",
            reason="not_converged",
            attempts=history,
        )

    theta_scaled, d1, _ = _forward(best.x, objective.kinds)
    theta = theta_scaled * scale_vec
    hess = best.hess * objective.total if best.hess is not None else _hessian(objective, best.x)
    pd_ok = True
    try:
        # a held shape is fixed: the covariance of the others is conditional on it (its own
        # rows are zero: no uncertainty is drawn along the ridge, where predictions do not move)
        chol = np.linalg.cholesky(hess[np.ix_(moving, moving)])
        inv_chol = np.linalg.inv(chol)
        cov_log = np.zeros_like(hess)
        cov_log[np.ix_(moving, moving)] = inv_chol.T @ inv_chol
    except np.linalg.LinAlgError:
        pd_ok = False
        cov_log = np.full_like(hess, np.nan)
        warnings.warn(
            f"{spec.name}: the Hessian at the optimum is not positive definite, so standard "
            "errors are not available (covariance_ is NaN). The parameters may be poorly "
            "identified by these data; consider penalizer= or more data.",
            ConvergenceWarning,
            stacklevel=3,
        )
    cov_log = 0.5 * (cov_log + cov_log.T)
    jac = d1 * scale_vec  # dθ/du at the optimum: θ for log-parameters
    cov = cov_log * np.outer(jac, jac)
    held = _report_held(spec, best.held, theta)
    # log-likelihood of the unscaled data at the unscaled parameters
    ll = spec.log_likelihood(spec.params(*theta), *cols)
    return MLEResult(
        params=theta,
        log_params_covariance=cov_log,
        covariance=cov,
        log_likelihood=float(np.dot(w, ll)),
        converged=converged,
        message=str(best.message),
        n_iterations=int(best.nit),
        n_evaluations=objective.n_evaluations,
        gradient_norm=gnorm,
        starts_tried=len(starts),
        hessian_positive_definite=pd_ok,
        history=history,
        params_at_limit=held,
    )


def _report_held(spec: ModelSpec, held: Sequence[int], theta: FloatArray) -> tuple[str, ...]:
    """Warn about the shapes held at the homogeneous limit; their names."""
    names = list(spec.params._fields)
    out = []
    for shape, scale, what in getattr(spec, "homogeneous_limits", ()):
        if shape not in names or names.index(shape) not in held:
            continue
        mean = theta[names.index(shape)] / theta[names.index(scale)]
        warnings.warn(
            ConvergenceWarning(
                f"{spec.name}: these data show no heterogeneity of the {what} across "
                f"customers: {shape} ran towards infinity with {shape}/{scale} (the mean "
                f"{what}, {mean:.4g} per period) fixed, so {shape} is not identified; a {what} "
                f"that is the same for every customer fits these data as well. That is either "
                f"the truth or histories too short to show how the {what} varies (customers "
                f"who would churn late look like the rest): do not read it as evidence that "
                f"all customers are alike. {shape} is held at {_SHAPE_LIMIT:g} "
                f"(coefficient of variation {1 / np.sqrt(_SHAPE_LIMIT):.1%}) and {scale} at "
                f"{shape}/{mean:.4g}: predictions are those of the constant-rate limit; the "
                f"standard errors are conditional on {shape} (its own is 0).",
                reason="homogeneous_limit",
                params_at_bound=(shape,),
            ),
            stacklevel=3,
        )
        out.append(shape)
    return tuple(out)


def _run(
    objective: _Objective, u0: FloatArray, bounds: list[tuple[float, float]], maxiter: int
) -> _RunResult:
    """Minimise: Newton's method when the spec has an analytic Hessian, else BFGS."""
    ridge = _Ridge(_limit_pairs(objective.spec, objective.kinds), len(u0))
    if objective.spec.hessian is not None:
        return _newton(objective, u0, bounds, maxiter, ridge)
    return _bfgs(objective, u0, bounds, maxiter, ridge)


def _box_step(x: FloatArray, p: FloatArray, lo: FloatArray, hi: FloatArray) -> float:
    """Largest step in (0, 1] along ``p`` that stays in the box (0 if none)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(p > 0, (hi - x) / p, np.where(p < 0, (lo - x) / p, np.inf))
    limit = float(np.min(ratios))
    return min(1.0, limit) if limit > 0 else 0.0


def _stop_at(f: float, g: FloatArray, gtol: float) -> tuple[str, bool] | None:
    """Why an iteration at value ``f`` and gradient ``g`` stops (message, success), or None."""
    if not np.isfinite(f):
        return "objective not finite at the starting point", False
    if np.max(np.abs(g)) < gtol:
        return "gradient below tolerance", True
    return None


def _newton(
    objective: _Objective,
    u0: FloatArray,
    bounds: list[tuple[float, float]],
    maxiter: int,
    ridge: _Ridge | None = None,
) -> _RunResult:
    """Damped Newton's method with a Levenberg shift and backtracking line search.

    Coordinates ``ridge`` holds (shapes at their homogeneous limit) do not move.
    """
    lo = np.array([b[0] for b in bounds])
    hi = np.array([b[1] for b in bounds])
    x = np.clip(np.asarray(u0, dtype=np.float64), lo, hi)
    ridge = ridge or _Ridge((), x.size)
    f, g, H = objective.value_grad_hess(x)
    message, success, it = "iteration limit reached", False, 0
    for it in range(1, maxiter + 1):  # noqa: B007  (the final value of `it` is reported)
        free = ridge.free.copy()
        gf = ridge.mask(g)
        if (stop := _stop_at(f, gf, 1e-10)) is not None:
            if stop[1] and ridge.release(g):
                continue
            message, success = stop
            break
        Hf = H[np.ix_(free, free)]
        kf = int(free.sum())
        shift = 0.0
        scale = max(1e-12, float(np.max(np.abs(np.diag(Hf)))))
        while True:
            try:
                chol = np.linalg.cholesky(Hf + shift * np.eye(kf))
                break
            except np.linalg.LinAlgError:
                shift = max(1e-8 * scale, shift * 10.0)
        p = np.zeros_like(x)
        p[free] = -np.linalg.solve(chol.T, np.linalg.solve(chol, gf[free]))
        norm = float(np.max(np.abs(p)))
        if shift == 0.0 and norm < _NEWTON_STEP_TOL:
            if ridge.release(g):
                continue
            # converged quadratically: the remaining Newton step is exact to O(|p|^2) and
            # moves the Hessian by O(|p|) relative, far below the precision of standard errors;
            # take it without another evaluation of the likelihood
            x = np.clip(x + p, lo, hi)
            message, success = "Newton step below tolerance", True
            break
        if norm > 5.0:  # never move a log-parameter by more than 5 in one step
            p *= 5.0 / norm
        slope = float(gf @ p)
        step = _box_step(x, p, lo, hi)
        if step <= 0:
            message = "a parameter reached the bound of the search box"
            break
        if -slope <= 1e-11 * max(1.0, abs(f)):
            # the predicted decrease (the Newton decrement) is near the rounding error of f
            # (a mean over customers), so the Armijo test is decided by noise and can backtrack
            # for thousands of iterations; this close to the optimum the full Newton step is
            # accurate: take it unless it worsens the gradient, and stop
            f_new, g_new, H_new = objective.value_grad_hess(x + step * p)
            if np.isfinite(f_new) and np.max(np.abs(ridge.mask(g_new))) <= np.max(np.abs(gf)):
                x, f, g, H = x + step * p, f_new, g_new, H_new
            if ridge.release(g):
                continue
            message, success = "predicted decrease below rounding error", True
            break
        # the full step is accepted almost always near the optimum: evaluate it with the
        # Hessian so the next iteration needs no further evaluation
        f_new, g_new, H_new = objective.value_grad_hess(x + step * p)
        accepted = np.isfinite(f_new) and f_new <= f + 1e-4 * step * slope
        while not accepted and step >= 1e-14:
            step *= 0.5
            f_try = objective.value(x + step * p)
            accepted = bool(np.isfinite(f_try) and f_try <= f + 1e-4 * step * slope)
            if accepted:
                f_new, g_new, H_new = objective.value_grad_hess(x + step * p)
        if not accepted:
            if np.max(np.abs(gf)) < 1e-7:
                if ridge.release(g):
                    continue
                message, success = "no further decrease possible (gradient small)", True
            else:
                message = "line search failed"
            break
        x = x + step * p
        f, g, H = f_new, g_new, H_new
        if (held := ridge.hold(x, p)) is not None:  # past the limit: back to it, and hold
            x = held
            f, g, H = objective.value_grad_hess(x)
    return _RunResult(
        x=x, fun=f, jac=g, success=success, message=message, nit=it, hess=H, held=ridge.held
    )


def _bfgs(
    objective: _Objective,
    u0: FloatArray,
    bounds: list[tuple[float, float]],
    maxiter: int,
    ridge: _Ridge | None = None,
) -> _RunResult:
    """Minimise with BFGS and a backtracking (Armijo) line search.

    A small NumPy implementation: the models have 2-4 parameters, where
    SciPy's L-BFGS-B costs more per iteration than the likelihood itself.
    Iterates are kept inside ``bounds`` (log-parameters) so a parameter that
    runs away is reported instead of overflowing. Coordinates ``ridge`` holds
    (shapes at their homogeneous limit) do not move.
    """
    lo = np.array([b[0] for b in bounds])
    hi = np.array([b[1] for b in bounds])
    if objective.spec.gradient is not None:
        fg = objective.value_and_gradient
    else:

        def fg(u: FloatArray) -> tuple[float, FloatArray]:
            return objective.value(u), _grad_for_hessian(objective, u)

    x = np.clip(np.asarray(u0, dtype=np.float64), lo, hi)
    ridge = ridge or _Ridge((), x.size)
    f, g_full = fg(x)
    g = ridge.mask(g_full)
    k = x.size
    H = np.eye(k)
    message = "iteration limit reached"
    success = False
    it = 0
    stalled = 0
    for it in range(1, maxiter + 1):
        if (stop := _stop_at(f, g, 1e-9)) is not None:
            if stop[1] and ridge.release(g_full):
                g, H = ridge.mask(g_full), np.eye(k)
                continue
            message, success = stop
            break
        p = ridge.mask(-H @ g)
        slope = float(g @ p)
        if slope >= 0:  # not a descent direction: restart from steepest descent
            H = np.eye(k)
            p = -g
            slope = float(g @ p)
        step = _box_step(x, p, lo, hi)
        if step <= 0:
            message = "a parameter reached the bound of the search box"
            break
        while True:
            x_new = x + step * p
            f_new, g_new_full = fg(x_new)
            g_new = ridge.mask(g_new_full)
            if np.isfinite(f_new) and f_new <= f + 1e-4 * step * slope:
                break
            step *= 0.5
            if step < 1e-14:
                break
        if step < 1e-14:
            if np.max(np.abs(g)) < 1e-6:
                if ridge.release(g_full):
                    g, H = ridge.mask(g_full), np.eye(k)
                    continue
                message, success = "no further decrease possible (gradient small)", True
            else:
                message = "line search failed"
            break
        s_vec = x_new - x
        y_vec = g_new - g
        sy = float(s_vec @ y_vec)
        decrease = f - f_new
        x, f, g, g_full = x_new, f_new, g_new, g_new_full
        if (held := ridge.hold(x, p)) is not None:  # past the limit: back to it, and hold
            x = held
            f, g_full = fg(x)
            g, H, stalled = ridge.mask(g_full), np.eye(k), 0
            continue
        if sy > 1e-12 * float(np.linalg.norm(s_vec) * np.linalg.norm(y_vec)):
            if it == 1:
                H = np.eye(k) * (sy / float(y_vec @ y_vec))
            rho = 1.0 / sy
            V = np.eye(k) - rho * np.outer(s_vec, y_vec)
            H = V @ H @ V.T + rho * np.outer(s_vec, s_vec)
        stalled = stalled + 1 if decrease <= 1e-15 * max(1.0, abs(f)) else 0
        if stalled >= 3:
            success = np.max(np.abs(g)) < 1e-6
            if success and ridge.release(g_full):
                g, H, stalled = ridge.mask(g_full), np.eye(k), 0
                continue
            message = "objective stopped decreasing" + ("" if success else " with a large gradient")
            break
    return _RunResult(
        x=x, fun=f, jac=g_full, success=success, message=message, nit=it, held=ridge.held
    )
