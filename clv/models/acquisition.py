r"""Acquisition ("trial") model: how many new customers arrive in each period.

A pool of :math:`N` prospects is exposed from period 1 (the launch, or the
start of the acquisition window). A share :math:`p` of them will ever be
acquired; the others never will. An ever-acquirer with acquisition rate
:math:`\lambda` is acquired at the first event of a process with cumulative
hazard :math:`\lambda B(t)`, and :math:`\lambda \sim \mathrm{Gamma}(r, \alpha)`
across prospects, so the share acquired by the end of period :math:`t` is
([FHZ2003]_, [HFW1998]_)

.. math::

   P(\text{acquired by } t) = p\,F(t), \qquad
   F(t) = 1 - \Bigl(\frac{\alpha}{\alpha + B(t)}\Bigr)^{r},

   B(t) = \sum_{i=1}^{t}\bigl[i^{c} - (i-1)^{c}\bigr]\, e^{\beta' x(i)} .

Without covariates :math:`B(t) = t^c`: :math:`c = 1` is the exponential-gamma
(Pareto II) model, a free :math:`c` the Weibull-gamma model. Without
heterogeneity (every ever-acquirer has the same rate :math:`\lambda`, the limit
:math:`r \to \infty`) they become the exponential and Weibull models,
:math:`F(t) = 1 - e^{-\lambda B(t)}`. Period covariates :math:`x(i)`
(marketing spend, seasonality, referrals) scale the hazard of period :math:`i`
proportionally ([Gup1991]_).

Data are new-customer counts :math:`n_1, \dots, n_T` per period, interval
censored: with the pool size :math:`N` known the likelihood is multinomial,

.. math::

   L = \prod_{t=1}^{T} \bigl[p\,(F(t) - F(t-1))\bigr]^{n_t}
       \bigl[1 - p\,F(T)\bigr]^{N - \sum_t n_t};

without a pool size the model is its limit :math:`N \to \infty`,
:math:`N p \to m` (independent Poisson counts with means
:math:`m\,[F(t) - F(t-1)]`), where :math:`m` is the expected number of
ever-acquirers. Unless the window covers a good part of the pool's
depletion only :math:`m = N p` is identified, so ``pool_size=None``
(estimate :math:`m`) is the default.

The pure functions (NumPy only; the period axis is the last axis and the
parameters broadcast over leading axes, e.g. posterior or bootstrap draws) live
in :mod:`clv.models._acquisition_math` and are importable from here;
:class:`AcquisitionModel` binds fitted parameters to them.

References
----------
.. [FHZ2003] Fader, P. S., Hardie, B. G. S., & Zeithammer, R. (2003). Forecasting
   new product trial in a controlled test market environment. Journal of
   Forecasting, 22(5), 391-410.
.. [HFW1998] Hardie, B. G. S., Fader, P. S., & Wisniewski, M. (1998). An empirical
   comparison of new product trial forecasting models. Journal of Forecasting,
   17(3-4), 209-229.
.. [Gup1991] Gupta, S. (1991). Stochastic models of interpurchase time with
   time-dependent covariates. Journal of Marketing Research, 28(1), 1-15.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import special

from clv._metrics import mean_absolute_percentage_error, total_error_pct
from clv._typing import FloatArray
from clv.exceptions import (
    ConvergenceError,
    ConvergenceWarning,
    DataError,
    Problem,
)
from clv.models._acquisition_data import (
    _counts_from,
    _covariate_rows,
    _index_problems,
    arrivals_per_period,
)
from clv.models._acquisition_math import (
    AcquisitionParams,
    baseline,
    expected_arrivals,
    future_arrivals,
    log_likelihood,
    log_likelihood_gradient,
    log_survival,
    probability_acquired,
    simulate,
)
from clv.models._base import ParametricModel, damaged_file
from clv.models._mle import du_dtheta, from_unconstrained, maximise, to_unconstrained
from clv.models._spec import ModelSpec

__all__ = [
    "AcquisitionParams",
    "AcquisitionModel",
    "HoldoutCheck",
    "arrivals_per_period",
    "baseline",
    "log_survival",
    "probability_acquired",
    "expected_arrivals",
    "future_arrivals",
    "log_likelihood",
    "log_likelihood_gradient",
    "simulate",
]

DISTRIBUTIONS = ("exponential-gamma", "weibull-gamma", "exponential", "weibull")
#: Standard error (on the log / logit scale) above which a parameter counts as unidentified.
_WEAK_SE = 5.0


# ============================================================================ model
def _flat_type(names: Sequence[str]) -> type:
    """A NamedTuple-like type with any field names (covariate names need not be identifiers)."""
    fields = tuple(names)

    class FlatParams(tuple):
        _fields = fields

        def __new__(cls, *values: Any) -> FlatParams:
            return tuple.__new__(cls, values)

        def _asdict(self) -> dict[str, Any]:
            return dict(zip(fields, self, strict=True))

    return FlatParams


def _transform_of(name: str) -> str:
    return "logit" if name == "p" else ("identity" if name.startswith("acquisition[") else "log")


def calibration_state(
    counts: pd.Series, covariates: pd.DataFrame | None, attrs: Mapping[str, Any]
) -> dict[str, Any]:
    """The fitted attributes that describe the calibration data (shared with the Bayesian model)."""
    total = float(counts.sum())
    return {
        "counts_": counts,
        "covariates_": covariates,
        "n_periods_": len(counts),
        "n_customers_": int(total) if total.is_integer() else total,
        "time_unit_": attrs.get("time_unit"),
        "start_": attrs.get("start"),
    }


@dataclass(frozen=True)
class HoldoutCheck:
    """Forecast against actual new-customer counts in the periods after calibration.

    Attributes
    ----------
    table : DataFrame
        Per holdout period: ``actual``, ``expected``, ``cumulative_actual`` and
        ``cumulative_expected`` (both counted from period 1, so they include the
        calibration arrivals).
    metrics : DataFrame
        Rows ``per_period`` and ``cumulative``; columns ``mae`` (mean absolute
        error, customers) and ``mape`` (mean absolute percentage error, %,
        over periods with actual > 0).
    cumulative_error : float
        Signed error of the cumulative count at the last holdout period, in %
        of the actual: ``100 * (expected - actual) / actual``.
    """

    table: pd.DataFrame
    metrics: pd.DataFrame
    cumulative_error: float


class AcquisitionModel(ParametricModel):
    r"""Trial model of new-customer arrivals ([FHZ2003]_), fitted by maximum likelihood.

    Each of :math:`N` prospects will ever be acquired with probability
    :math:`p`; an ever-acquirer's time to acquisition is exponential-gamma
    (:math:`F(t) = 1 - (\alpha/(\alpha+t))^r`), Weibull-gamma
    (:math:`F(t) = 1 - (\alpha/(\alpha+t^c))^r`), or, without heterogeneity in
    the acquisition rate, exponential (:math:`1 - e^{-\lambda t}`) or Weibull
    (:math:`1 - e^{-\lambda t^c}`), the component models of [FHZ2003]_.
    Period covariates :math:`x(t)` multiply the hazard by
    :math:`e^{\beta' x(t)}` (see the module docstring). Fitted on new-customer
    counts per period.

    Parameters
    ----------
    distribution : {"exponential-gamma", "weibull-gamma", "exponential", "weibull"}
        Timing distribution of the ever-acquirers. The Weibull variants (``c``
        free) can produce arrivals that first rise and then fall.
    pool_size : float, optional
        Number of prospects :math:`N` (e.g. the estimated market size). Given,
        the model estimates the share :math:`p` of ever-acquirers (parameter
        ``p``). ``None`` (default) fits the :math:`N \to \infty` limit and
        estimates ``m`` :math:`= N p`, the expected number of ever-acquirers:
        the data identify :math:`N p`, never :math:`N` and :math:`p`
        separately (the likelihood with a large known :math:`N` is the same).
    fixed : mapping of str to float, optional
        Parameters held at given values instead of estimated, e.g.
        ``{"p": 1.0}`` (everyone in the pool is eventually acquired) or
        ``{"m": 60_000}`` (outside knowledge of the market). Needed when the
        calibration window shows no sign of the pool being used up (see Notes).
    penalizer : float, default 0.0
        L2 penalty on the natural-scale parameters; 0 for plain MLE.

    Attributes
    ----------
    params_ : Series
        ``r, alpha`` (gamma heterogeneity) or ``lambda`` (rate), ``c`` (Weibull),
        ``p`` (with a pool) or ``m``, and ``acquisition[<covariate>]`` per covariate;
        fixed parameters at their values.
    covariance_ : DataFrame
        Delta-method covariance of ``params_`` (zero for fixed parameters).
    counts_ : Series
        New customers per calibration period (index 1..T).
    covariates_ : DataFrame or None
        Covariates of the calibration periods.
    n_periods_ : int
        Number of calibration periods :math:`T`.
    n_customers_ : int
        Customers acquired in the calibration periods.

    Notes
    -----
    How many prospects will ever be acquired shows only once arrivals slow
    down as the pool is used up. While arrivals still grow (as in the first
    weeks of CDNOW's 1997 cohort), the likelihood keeps increasing with
    :math:`m` and the fit stops with a :class:`~clv.exceptions.ConvergenceError`
    that says so; then fix ``m`` (or ``pool_size`` with ``fixed={"p": 1.0}``)
    from outside knowledge, or use a longer window. Likewise ``r`` running
    away means no detectable heterogeneity: use ``"exponential"`` or
    ``"weibull"``.

    Examples
    --------
    >>> true = AcquisitionParams(r=1.5, alpha=20.0, c=1.0, m=5000.0)
    >>> counts = simulate(true, 26, rng=np.random.default_rng(3))["counts"]
    >>> model = AcquisitionModel().fit(pd.Series(counts, index=range(1, 27)))
    >>> model.params_.index.tolist()
    ['r', 'alpha', 'm']
    >>> forecast = model.expected_arrivals(52)
    >>> bool(forecast["cumulative"].is_monotonic_increasing)
    True
    """

    spec: ClassVar[ModelSpec] = ModelSpec(
        name="acquisition (trial) model",
        params=AcquisitionParams,
        start=AcquisitionParams(1.0, 1.0),
        columns=("period", "new_customers"),
        log_likelihood=log_likelihood,
        simulate=simulate,
    )

    # fitted state set by calibration_state (declared for type checkers)
    counts_: pd.Series
    covariates_: pd.DataFrame | None
    n_periods_: int
    start_: Any

    def __init__(
        self,
        *,
        distribution: str = "exponential-gamma",
        pool_size: float | None = None,
        fixed: Mapping[str, float] | None = None,
        penalizer: float = 0.0,
    ) -> None:
        self.distribution = distribution
        self.pool_size = pool_size
        self.fixed = fixed
        self.penalizer = penalizer

    # ------------------------------------------------------------------ structure
    def _init_kwargs(self) -> dict[str, Any]:
        return {
            "distribution": self.distribution,
            "pool_size": self.pool_size,
            "fixed": (None if self.fixed is None else {k: float(v) for k, v in self.fixed.items()}),
            "penalizer": self.penalizer,
        }

    def _pool(self) -> float | None:
        if self.distribution not in DISTRIBUTIONS:
            raise ValueError(
                f"distribution must be one of {DISTRIBUTIONS}, got {self.distribution!r}."
            )
        pool = self.pool_size
        if pool is None:
            return None
        ok = isinstance(pool, int | float | np.integer | np.floating) and not isinstance(pool, bool)
        if not (ok and np.isfinite(pool) and pool > 0):
            raise ValueError(
                f"pool_size must be a positive number of prospects (or None), got {pool!r}."
            )
        return float(pool)

    def _names(self, covariate_names: Sequence[str]) -> list[str]:
        pool = self._pool()
        gamma = self.distribution.endswith("-gamma")
        return (
            (["r", "alpha"] if gamma else ["lambda"])
            + (["c"] if self.distribution.startswith("weibull") else [])
            + (["p"] if pool else ["m"])
            + [f"acquisition[{n}]" for n in covariate_names]
        )

    def _fixed(self, names: Sequence[str]) -> dict[str, float]:
        fixed = {str(k): float(v) for k, v in (self.fixed or {}).items()}
        unknown = sorted(set(fixed) - set(names))
        if unknown:
            raise ValueError(
                f"fixed has unknown parameter(s) {unknown}; this model has {list(names)}."
            )
        for k, v in fixed.items():
            kind = _transform_of(k)
            ok = np.isfinite(v) and (
                v > 0 if kind == "log" else 0 < v <= 1 if kind == "logit" else True
            )
            if not ok:
                raise ValueError(
                    f"fixed value {k}={v} is outside the parameter's range "
                    "(positive; 0 < p <= 1; any finite coefficient)."
                )
        if len(fixed) == len(names):
            raise ValueError("every parameter is fixed: leave at least one to estimate.")
        return fixed

    def _canonical(self, values: Iterable[Any], names: Sequence[str]) -> AcquisitionParams:
        """``AcquisitionParams`` from values in ``names`` order (arrays broadcast)."""
        v = {n: np.asarray(x, dtype=np.float64) for n, x in zip(names, values, strict=True)}
        pool = self._pool()
        if "r" in v:
            r, alpha = v["r"], v["alpha"]
        else:
            r, alpha = np.full_like(v["lambda"], np.inf), 1.0 / v["lambda"]
        c = v.get("c", 1.0)
        m = v["p"] * pool if pool else v["m"]
        betas = [x for n, x in v.items() if n.startswith("acquisition[")]
        beta = np.stack(betas, axis=-1) if betas else np.zeros((*np.shape(m), 0))
        return AcquisitionParams(r, alpha, c, m, beta)

    def _engine_spec(
        self,
        names: list[str],
        free: list[str],
        fixed: Mapping[str, float],
        start: Mapping[str, float],
    ) -> ModelSpec:
        pool = self._pool()
        rows = {"r": 0, "alpha": 1, "lambda": 1, "c": 2, "m": 3, "p": 3}
        betas = [q for q in names if q.startswith("acquisition[")]
        free_rows = [rows[n] if n in rows else 4 + betas.index(n) for n in free]
        Flat = _flat_type(free)

        def full(flat: Sequence[float]) -> AcquisitionParams:
            vals = dict(fixed)
            vals.update(zip(free, (float(f) for f in flat), strict=True))
            return self._canonical([vals[n] for n in names], names)

        def split(period: FloatArray, xs: tuple[FloatArray, ...]) -> tuple[np.ndarray, Any]:
            order = np.argsort(period, kind="stable")
            return order, (np.column_stack(xs)[order] if xs else None)

        def ll(flat: Any, period: FloatArray, count: FloatArray, *xs: FloatArray) -> FloatArray:
            order, x = split(period, xs)
            out = np.empty_like(count)
            out[order] = log_likelihood(full(flat), count[order], pool_size=pool, covariates=x)
            return out

        def grad(
            flat: Any, period: FloatArray, count: FloatArray, *xs: FloatArray
        ) -> tuple[FloatArray, FloatArray]:
            order, x = split(period, xs)
            p = full(flat)
            values, g = log_likelihood_gradient(p, count[order], pool_size=pool, covariates=x)
            g = g[free_rows]
            for j, n in enumerate(free):
                if n == "lambda":  # alpha = 1 / lambda
                    g[j] *= -(float(p.alpha) ** 2)
                elif n == "p":  # m = N p
                    g[j] *= pool
            out_ll = np.empty_like(count)
            out_ll[order] = values
            out_g = np.empty_like(g)
            out_g[:, order] = g
            return out_ll, out_g

        return ModelSpec(
            name=f"AcquisitionModel ({self.distribution})",
            params=Flat,
            start=Flat(*(start[n] for n in free)),
            columns=(
                "period",
                "new_customers",
                *[f"x{j}" for j in range(sum(q.startswith("acquisition[") for q in names))],
            ),
            log_likelihood=ll,
            gradient=grad,
            transforms=tuple(_transform_of(n) for n in free),
        )

    def _start(
        self, names: Sequence[str], fixed: Mapping[str, float], total: float, T: int
    ) -> dict[str, float]:
        """Starting values: the pool share and the timing scale agree with the observed total."""
        pool = self._pool()
        if "m" in fixed or "p" in fixed:
            ever = fixed["m"] if "m" in fixed else fixed["p"] * (pool or 1.0)
        else:
            ever = 2.0 * total
        share = min(max(total / ever, 1e-6), 0.9)  # F(T) to aim at
        c = fixed.get("c", 1.0)
        start = {
            "r": fixed.get("r", 1.0),
            "c": c,
            "m": ever,
            "p": min(ever / pool, 0.5 * (1 + total / pool)) if pool else 0.5,
        }
        r = start["r"]
        # F(T) = 1 - (alpha / (alpha + T^c))^r  =>  alpha = T^c / ((1 - F)^(-1/r) - 1)
        start["alpha"] = float(T) ** c / ((1.0 - share) ** (-1.0 / r) - 1.0)
        start["lambda"] = -math.log1p(-share) / float(T) ** c
        start.update({n: 0.0 for n in names if n.startswith("acquisition[")})
        start.update(fixed)
        return start

    def _fit_inputs(
        self,
        data: Any,
        covariates: pd.DataFrame | None,
        *,
        time_unit: str | None,
        start: Any,
        end: Any,
    ) -> tuple[pd.Series, pd.DataFrame | None, dict[str, Any]]:
        """Validated counts (index 1..T), covariates of those periods and the time attributes."""
        what = f"the data passed to {type(self).__name__}"
        pool = self._pool()
        counts, attrs = _counts_from(data, time_unit=time_unit, start=start, end=end, what=what)
        total = float(counts.to_numpy().sum())
        if pool is not None and total > pool:
            raise DataError(
                [
                    Problem(
                        "new_customers",
                        f"adds up to {total:g} customers, more than "
                        f"the pool of pool_size={pool:g} prospects",
                        "pass a pool_size at least as large as everyone acquired "
                        "(or pool_size=None)",
                    )
                ],
                what=what,
            )
        if total == 0:
            raise DataError(
                [
                    Problem(
                        "new_customers",
                        "is 0 in every period",
                        "nobody was acquired: the model cannot be estimated",
                    )
                ],
                what=what,
            )
        cov = _covariate_rows(
            covariates,
            np.arange(1, len(counts) + 1),
            None,
            start=attrs.get("start"),
            time_unit=attrs.get("time_unit"),
            what=what,
        )
        return counts, cov, attrs

    # ------------------------------------------------------------------ fit
    def fit(  # type: ignore[override]
        self,
        data: Any,
        *,
        covariates: pd.DataFrame | None = None,
        time_unit: str | None = None,
        start: Any = None,
        end: Any = None,
        initial_params: Mapping[str, float] | None = None,
        n_starts: int = 1,
        random_state: int | np.random.Generator | None = None,
    ) -> Self:
        """Estimate the parameters by maximum likelihood.

        Parameters
        ----------
        data : Series, DataFrame or dates
            New-customer counts per period: a Series indexed by period
            1..T (every period present, zeros included; e.g. from
            :func:`arrivals_per_period`) or a frame with a ``new_customers``
            column; or the customers' first-purchase dates (datetime Series /
            index / array), counted per period with ``time_unit``, ``start``
            and ``end`` as in :func:`arrivals_per_period`.
        covariates : DataFrame, optional
            One numeric column per covariate, a row per period, indexed by
            period number (or by a date in the period, when the window's
            start is known); rows for other periods are ignored. Covariates
            are rescaled internally (by their largest absolute value); the
            reported ``acquisition[*]`` are per unit of the covariate as given.
        time_unit, start, end
            For dates: see :func:`arrivals_per_period`. ``time_unit`` and
            ``start`` are recorded for counts (and override their ``attrs``).
        initial_params : mapping, optional
            Starting values on the natural scale, by ``params_`` name.
        n_starts : int, default 1
            Number of starting points (extra ones are seeded perturbations).
        random_state : int or Generator, optional
            Seed for the extra starting points.

        Returns
        -------
        self

        Raises
        ------
        DataError
            Negative, non-integer or missing counts; periods duplicated, out of
            order or with gaps; covariates missing for a period; more arrivals
            than ``pool_size``.
        ConvergenceError
            When the data do not identify a parameter (it runs to the edge of
            its range), with the acquisition-specific remedy.
        """
        counts, cov, attrs = self._fit_inputs(
            data, covariates, time_unit=time_unit, start=start, end=end
        )
        n = counts.to_numpy()
        T = len(n)
        total = float(n.sum())
        names = self._names([] if cov is None else list(cov.columns))
        fixed = self._fixed(names)
        free = [q for q in names if q not in fixed]
        x = None if cov is None else cov.to_numpy()
        k = 0 if x is None else x.shape[1]
        scale = np.ones(k) if x is None else np.max(np.abs(x), axis=0)
        scale = np.where(scale > 0, scale, 1.0)
        unscale = {q: 1.0 / scale[j] for j, q in enumerate(names[len(names) - k :])}
        # the engine sees covariates divided by `scale`, so its coefficients are beta * scale
        fixed_scaled = {q: v / unscale.get(q, 1.0) for q, v in fixed.items()}
        start_vals = self._start(names, fixed_scaled, total, T)
        init = None
        if initial_params is not None:
            bad = sorted(set(initial_params) - set(free))
            if bad:
                raise ValueError(
                    f"initial_params has unknown or fixed parameter(s) {bad}; "
                    f"estimated parameters: {free}."
                )
            init = {q: float(v) / unscale.get(q, 1.0) for q, v in initial_params.items()}
        spec = self._engine_spec(names, free, fixed_scaled, start_vals)
        arrays = {"period": np.arange(1.0, T + 1), "new_customers": n}
        for j in range(k):
            arrays[f"x{j}"] = x[:, j] / scale[j]  # type: ignore[index]
        try:
            result = maximise(
                spec,
                arrays,
                None,
                initial_params=init,
                penalizer=self.penalizer,
                n_starts=n_starts,
                random_state=random_state,
            )
        except ConvergenceError as exc:
            if exc.reason != "at_bound":
                raise
            # the engine's generic tip is about repeat-purchase models: replace it
            raise ConvergenceError(
                exc.message + _advice(exc.params_at_bound, self.distribution),
                reason=exc.reason,
                params_at_bound=exc.params_at_bound,
                attempts=exc.attempts,
            ) from None
        factor = np.array([unscale.get(q, 1.0) for q in free])
        est = dict(fixed)
        est.update(zip(free, result.params * factor, strict=True))
        cov_free = result.covariance * np.outer(factor, factor)
        idx = [names.index(q) for q in free]
        covariance = np.zeros((len(names), len(names)))
        covariance[np.ix_(idx, idx)] = cov_free
        self.params_ = pd.Series(
            [est[q] for q in names], index=names, name="coef", dtype=np.float64
        )
        self.covariance_ = pd.DataFrame(covariance, index=names, columns=names)
        self.log_likelihood_ = result.log_likelihood
        self.converged_ = result.converged
        self.optimizer_ = result
        self._set_data(counts, cov, attrs)
        weak = self._unidentified()
        if weak:
            warnings.warn(
                f"AcquisitionModel: the data hardly identify {weak} (standard error above "
                f"{_WEAK_SE:g} on the log/logit scale); forecasts beyond the calibration window "
                "and their intervals are unreliable, and forecast() leaves out parameter "
                "uncertainty." + _advice(weak, self.distribution),
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def _unidentified(self) -> list[str]:
        """Estimated parameters whose standard error on the transformed scale exceeds _WEAK_SE."""
        names = list(self.params_.index)
        free = self._free()
        idx = [names.index(q) for q in free]
        theta = self.params_.to_numpy()[idx]
        se = np.sqrt(np.clip(np.diag(self.covariance_.to_numpy())[idx], 0, None))
        se_u = se * np.abs(du_dtheta(theta, [_transform_of(q) for q in free]))
        return [q for q, v in zip(free, se_u, strict=True) if not v <= _WEAK_SE]

    def _set_data(
        self, counts: pd.Series, cov: pd.DataFrame | None, attrs: Mapping[str, Any]
    ) -> None:
        vars(self).update(calibration_state(counts, cov, attrs))

    # ------------------------------------------------------------------ parameters
    @property
    def _p(self) -> AcquisitionParams:
        self._check_fitted()
        return self._canonical(self.params_.to_numpy(), list(self.params_.index))

    @property
    def covariate_names_(self) -> list[str]:
        """Covariate names, in the order of the ``acquisition[*]`` parameters."""
        self._check_fitted()
        return [] if self.covariates_ is None else list(self.covariates_.columns)

    def _free(self) -> list[str]:
        fixed = self._fixed(list(self.params_.index))
        return [q for q in self.params_.index if q not in fixed]

    def _transforms(self) -> list[str]:
        """Optimised scale of each parameter (logit for ``p``, identity for ``acquisition[*]``)."""
        return [_transform_of(str(n)) for n in self.params_.index]

    def summary(self, alpha: float = 0.05) -> pd.DataFrame:
        """Parameter table: estimate, standard error and a ``1 - alpha`` interval.

        Intervals are symmetric on the scale the parameter was estimated on
        and mapped back: log for ``r, alpha, lambda, c, m``, logit for the
        share ``p`` (so they stay inside (0, 1)), natural for the
        coefficients ``acquisition[*]``. Fixed parameters have ``se`` 0.
        """
        self._check_fitted()
        z = float(special.ndtri(1 - alpha / 2))
        coef = self.params_.to_numpy()
        se = np.sqrt(np.clip(np.diag(self.covariance_.to_numpy()), 0, None))
        lower, upper = coef.copy(), coef.copy()
        free = [list(self.params_.index).index(q) for q in self._free()]
        kinds = [_transform_of(self.params_.index[j]) for j in free]
        u = to_unconstrained(coef[free], kinds)
        se_u = se[free] * np.abs(du_dtheta(coef[free], kinds))
        lower[free] = from_unconstrained(u - z * se_u, kinds)
        upper[free] = from_unconstrained(u + z * se_u, kinds)
        out = pd.DataFrame(
            {"coef": coef, "se": se, "lower": lower, "upper": upper},
            index=pd.Index(list(self.params_.index), name="param"),
        )
        return out

    # ------------------------------------------------------------------ predictions
    def _covariates_for(self, n_periods: int, covariates: pd.DataFrame | None) -> FloatArray | None:
        names = self.covariate_names_
        if not names:
            return None
        known = self.covariates_
        assert known is not None
        periods = np.arange(1, n_periods + 1)
        future = periods[periods > self.n_periods_]
        rows = [known.loc[periods[periods <= self.n_periods_]]]
        if future.size:
            extra = _covariate_rows(
                covariates,
                future,
                names,
                start=self.start_,
                time_unit=self.time_unit_,
                what="the covariates of the forecast periods",
            )
            if extra is not None:  # None only without covariate names
                rows.append(extra)
        return pd.concat(rows).to_numpy()

    @staticmethod
    def _horizon(periods: Any) -> tuple[int, np.ndarray]:
        if isinstance(periods, int | np.integer) and not isinstance(periods, bool):
            if periods < 1:
                raise ValueError(f"periods must be >= 1, got {periods}.")
            return int(periods), np.arange(1, int(periods) + 1)
        wanted = np.asarray(periods)
        if (
            wanted.ndim != 1
            or wanted.size == 0
            or wanted.dtype.kind not in "iuf"
            or not np.all(wanted == np.round(wanted))
            or np.any(wanted < 1)
        ):
            raise ValueError("periods must be a number of periods or whole period numbers >= 1.")
        return int(wanted.max()), wanted.astype(np.int64)

    def expected_arrivals(
        self, periods: int | ArrayLike, *, covariates: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """Expected new customers per period and cumulated from period 1.

        Parameters
        ----------
        periods : int or array_like of int
            Number of periods from the start of the window (``52`` gives
            periods 1..52), or the period numbers wanted.
        covariates : DataFrame, optional
            Covariates of the periods after calibration (needed when the model
            has covariates and ``periods`` goes beyond ``n_periods_``).

        Returns
        -------
        DataFrame
            Indexed by ``period``: ``expected`` and ``cumulative``
            (:math:`m F(t)`: non-decreasing and below :math:`m`).
        """
        self._check_fitted()
        n, wanted = self._horizon(periods)
        x = self._covariates_for(n, covariates)
        per = expected_arrivals(self._p, n, x)
        out = pd.DataFrame(
            {"expected": per, "cumulative": np.cumsum(per)},
            index=pd.RangeIndex(1, n + 1, name="period"),
        )
        return out.loc[wanted]

    def _parameter_draws(self, n_draws: int, rng: np.random.Generator) -> FloatArray:
        """Draws of ``params_`` from N(estimate, covariance) on the transformed scale."""
        names = list(self.params_.index)
        theta = self.params_.to_numpy(dtype=np.float64)
        out = np.tile(theta, (n_draws, 1)).astype(np.float64, copy=False)
        free = [names.index(q) for q in self._free()]
        cov = self.covariance_.to_numpy()[np.ix_(free, free)]
        if not np.all(np.isfinite(cov)) or self._unidentified():
            warnings.warn(
                "the covariance is not available (singular Hessian) or some parameters "
                "are not identified: the forecast interval leaves out parameter "
                "uncertainty.",
                ConvergenceWarning,
                stacklevel=3,
            )
            return out
        kinds = [_transform_of(names[j]) for j in free]
        d = du_dtheta(theta[free], kinds)
        cov_u = cov * np.outer(d, d)
        vals, vecs = np.linalg.eigh(0.5 * (cov_u + cov_u.T))
        root = vecs * np.sqrt(np.clip(vals, 0.0, None))
        noise = rng.standard_normal((n_draws, len(free))) @ root.T
        u = to_unconstrained(theta[free], kinds) + noise
        out[:, free] = from_unconstrained(u, kinds)
        return out

    def forecast(
        self,
        horizon: int,
        *,
        covariates: pd.DataFrame | None = None,
        level: float = 0.9,
        n_draws: int = 2000,
        noise: bool = True,
        random_state: int | np.random.Generator | None = None,
    ) -> pd.DataFrame:
        r"""Forecast new customers in the ``horizon`` periods after calibration, with intervals.

        The interval combines parameter uncertainty (``n_draws`` draws from
        the normal approximation of the estimates on the scale they were
        estimated on: log, logit, natural for coefficients) with the
        randomness of arrivals given the parameters: Poisson counts
        (``pool_size=None``), or a multinomial split of the prospects not yet
        acquired (with a pool: each is acquired in period :math:`t > T` with
        probability :math:`p\,\Delta F_t / (1 - p F(T))`). ``noise=False``
        leaves out the latter: an interval for the expected count.

        Parameters
        ----------
        horizon : int
            Number of periods after the calibration periods.
        covariates : DataFrame, optional
            Covariates of periods ``n_periods_ + 1 ..`` (models with covariates).
        level : float, default 0.9
            Coverage of the central interval.
        n_draws : int, default 2000
            Number of simulations.
        noise : bool, default True
            Include the randomness of arrivals (a prediction interval).
        random_state : int or Generator, optional
            Seed.

        Returns
        -------
        DataFrame
            Indexed by ``period`` (``n_periods_ + 1`` to ``n_periods_ + horizon``):
            ``expected``, ``lower``, ``upper`` (this period's arrivals),
            ``cumulative``, ``cumulative_lower``, ``cumulative_upper``
            (customers acquired since period 1: the observed calibration total
            plus the forecast).
        """
        self._check_fitted()
        if not (
            isinstance(horizon, int | np.integer) and not isinstance(horizon, bool) and horizon >= 1
        ):
            raise ValueError(f"horizon must be a whole number of periods >= 1, got {horizon!r}.")
        if not 0 < level < 1:
            raise ValueError(f"level must be between 0 and 1, got {level!r}.")
        rng = np.random.default_rng(random_state)
        T = self.n_periods_
        n = T + int(horizon)
        x = self._covariates_for(n, covariates)
        observed = float(self.counts_.sum())
        p = self._canonical(self._parameter_draws(int(n_draws), rng).T, list(self.params_.index))
        sims = future_arrivals(
            p, T, n, observed=observed, pool_size=self._pool(), covariates=x, noise=noise, rng=rng
        )
        cum = observed + np.cumsum(sims, axis=1)
        lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
        point = self.expected_arrivals(n, covariates=covariates)["expected"].to_numpy()[T:]
        return pd.DataFrame(
            {
                "expected": point,
                "lower": np.quantile(sims, lo, axis=0),
                "upper": np.quantile(sims, hi, axis=0),
                "cumulative": observed + np.cumsum(point),
                "cumulative_lower": np.quantile(cum, lo, axis=0),
                "cumulative_upper": np.quantile(cum, hi, axis=0),
            },
            index=pd.RangeIndex(T + 1, n + 1, name="period"),
        )

    def holdout_check(
        self, actual: pd.Series, *, covariates: pd.DataFrame | None = None
    ) -> HoldoutCheck:
        """Compare the forecast with the actual arrivals after the calibration periods.

        Parameters
        ----------
        actual : Series
            New customers per period, indexed by period number; periods up to
            ``n_periods_`` are ignored, the rest must follow on without gaps
            (``n_periods_ + 1, n_periods_ + 2, ...``).
        covariates : DataFrame, optional
            Covariates of the holdout periods (models with covariates).

        Returns
        -------
        HoldoutCheck
            ``table`` per period, ``metrics`` (MAE and MAPE of the per-period
            and of the cumulative counts) and ``cumulative_error`` (signed %
            error of the cumulative count at the last period).
        """
        self._check_fitted()
        what = "the holdout counts"
        if not isinstance(actual, pd.Series):
            raise DataError(
                [
                    Problem(
                        None,
                        f"expected a Series of counts indexed by period, got "
                        f"{type(actual).__name__}",
                        "pass e.g. counts.loc[T + 1:]",
                    )
                ],
                what=what,
            )
        T = self.n_periods_
        problems = _index_problems(
            actual.index,
            expect_first=int(actual.index[0])
            if len(actual) and pd.api.types.is_integer_dtype(actual.index.dtype)
            else 1,
        )
        if problems:
            raise DataError(problems, what=what)
        later = actual[np.asarray(actual.index) > T]
        v = later.to_numpy(dtype=np.float64, na_value=np.nan)
        if len(v) == 0 or int(later.index[0]) != T + 1:
            problems.append(
                Problem(
                    "period",
                    f"has no periods right after the calibration (from {T + 1})",
                    "pass the counts of periods T+1, T+2, ...",
                )
            )
        elif (~np.isfinite(v) | (v < 0)).any():
            problems.append(
                Problem("new_customers", "has missing or negative counts", "counts must be >= 0")
            )
        if problems:
            raise DataError(problems, what=what)
        n = T + len(v)
        expected = self.expected_arrivals(n, covariates=covariates)["expected"].to_numpy()[T:]
        observed = float(self.counts_.sum())
        cum_a, cum_e = observed + np.cumsum(v), observed + np.cumsum(expected)
        table = pd.DataFrame(
            {
                "actual": v,
                "expected": expected,
                "cumulative_actual": cum_a,
                "cumulative_expected": cum_e,
            },
            index=pd.RangeIndex(T + 1, n + 1, name="period"),
        )
        metrics = pd.DataFrame(
            [_errors(v, expected), _errors(cum_a, cum_e)],
            index=pd.Index(["per_period", "cumulative"], name="counts"),
            columns=["mae", "mape"],
        )
        total = total_error_pct(float(cum_a[-1]), float(cum_e[-1]))
        return HoldoutCheck(table, metrics, float("nan") if total is None else total)

    def simulate(
        self,
        n_periods: int,
        *,
        covariates: pd.DataFrame | None = None,
        random_state: int | np.random.Generator | None = None,
    ) -> pd.Series:
        """Simulate new-customer counts for periods 1..``n_periods`` at the fitted parameters."""
        self._check_fitted()
        x = self._covariates_for(int(n_periods), covariates)
        p = self._p
        params = AcquisitionParams(
            float(p.r), float(p.alpha), float(p.c), float(p.m), np.asarray(p.beta).reshape(-1)
        )
        pool = None if self.pool_size is None else round(self.pool_size)
        sim = simulate(
            params,
            int(n_periods),
            pool_size=pool,
            covariates=x,
            rng=np.random.default_rng(random_state),
        )
        return pd.Series(
            sim["counts"],
            index=pd.RangeIndex(1, int(n_periods) + 1, name="period"),
            name="new_customers",
        )

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """The fitted state, with the calibration counts and covariates, as a JSON-ready dict."""
        doc = super().to_dict()
        doc["counts"] = self.counts_.tolist()
        doc["covariates"] = (
            None
            if self.covariates_ is None
            else {str(c): self.covariates_[c].tolist() for c in self.covariates_.columns}
        )
        doc["start"] = self.start_
        return doc

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], *, source: str = "the model document") -> Self:
        """Rebuild a fitted model from :meth:`to_dict` output (or a loaded model file)."""
        with damaged_file(cls.__name__, source):
            model = cls(**doc.get("init", {}))
            counts = np.asarray(doc["counts"], dtype=np.float64)
            index = pd.RangeIndex(1, len(counts) + 1, name="period")
            cov_doc = doc.get("covariates")
            cov = (
                None
                if cov_doc is None
                else pd.DataFrame(
                    {k: np.asarray(v, dtype=np.float64) for k, v in cov_doc.items()}, index=index
                )
            )
            names = model._names([] if cov is None else list(cov.columns))
            params = [float(doc["params"][q]) for q in names]
            model._restore(doc, pd.Index(names), params)
            model._set_data(
                pd.Series(counts, index=index, name="new_customers"),
                cov,
                {"time_unit": doc.get("time_unit"), "start": doc.get("start")},
            )
        return model

    def __repr__(self) -> str:
        name = type(self).__name__
        if not hasattr(self, "params_"):
            return f"<{name} ({self.distribution}, unfitted)>"
        ps = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return (
            f"<{name} ({self.distribution}) fitted on {self.n_periods_} periods, "
            f"{self.n_customers_} new customers: {ps}, "
            f"log-likelihood={self.log_likelihood_:.2f}>"
        )


def _errors(actual: FloatArray, expected: FloatArray) -> list[float]:
    """Mean absolute error and mean absolute percentage error (periods with actual > 0)."""
    return [
        float(np.mean(np.abs(expected - actual))),
        mean_absolute_percentage_error(actual, expected),
    ]


def _advice(names: Sequence[str], distribution: str) -> str:
    """What parameters running to the edge of their range mean for the acquisition model."""
    bad = set(names)
    tips = []
    if bad & {"m", "p"}:
        tips.append(
            "The arrivals show no sign of the pool of prospects being used up in the "
            "calibration window, so the data cannot tell how many will ever be acquired "
            "(the likelihood keeps increasing with m = N p). Fix it from outside "
            "knowledge, fixed={'m': ...} (or pool_size=N with fixed={'p': 1.0}), or "
            "calibrate on a longer window."
        )
    if bad & {"m", "p"}:
        bad -= {"r", "alpha", "lambda"}  # their scale follows m
    if bad & {"r", "alpha"}:
        simpler = "weibull" if distribution.startswith("weibull") else "exponential"
        tips.append(
            "r or alpha running away means no detectable heterogeneity in acquisition "
            f"rates: use distribution='{simpler}'."
        )
    if bad & {"lambda", "c"}:
        tips.append(
            "lambda or c running away means the arrivals' timing is not identified: "
            "check the counts, or fix c (fixed={'c': 1.0})."
        )
    if any(b.startswith("acquisition[") for b in bad):
        tips.append(
            "A covariate coefficient ran away: check that the covariate varies over "
            "the calibration periods and is not collinear with time."
        )
    return "" if not tips else "\n" + " ".join(tips)
