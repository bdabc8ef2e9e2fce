r"""Pareto/NBD with time-varying covariates (Bachmann, Meierer & Näf 2021).

The extended Pareto/NBD of [BMN2021]_ (CLVTools' ``pnbd()`` with dynamic
covariates): the purchase and dropout rates are multiplied by
:math:`e^{\gamma_p^\top x_p(t)}` and :math:`e^{\gamma_d^\top x_d(t)}`,
where the covariates are constant within each period of the data's time
unit and may differ across customers and periods (seasons, campaigns, a
dated change in service).  The likelihood and its derivation are in
:mod:`clv.models._pareto_nbd_dyncov_math`; the data layout in
:mod:`clv.models._dyncov_data`.

Usage::

    data = time_varying_data(transactions, covariates, columns=["season", "nps"],
                             observation_end="2006-12-31", time_unit="W")
    model = ParetoNBDDynamicModel(purchase_covariates=["season"],
                                  dropout_covariates=["nps"]).fit(data)
    path = future_covariates(data, start="2007-03-04", periods=8, add={"nps": 1.0})
    model.predict(data, horizon=26, path=path)

References
----------
.. [BMN2021] Bachmann, P., Meierer, M., & Näf, J. (2021). The role of
   time-varying contextual factors in latent attrition models for customer
   base analysis. Marketing Science, 40(4), 783-809.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np
import pandas as pd
from scipy import optimize, special

from clv._typing import FloatArray
from clv.exceptions import ConvergenceWarning, DataError, NotFittedError, Problem
from clv.models import _pareto_nbd_dyncov_math as _math
from clv.models._base import EstimatorParams, damaged_file, fitted_state
from clv.models._dyncov_data import TimeVaryingData, _unit, future_covariates, time_varying_data
from clv.models._dyncov_predict import FuturePathPredictions
from clv.models.pareto_nbd import ParetoNBDModel
from clv.persistence import JsonModel

__all__ = [
    "ParetoNBDDynamicModel",
    "TimeVaryingData",
    "future_covariates",
    "simulate_transactions",
    "time_varying_data",
]

_BASE = ("r", "alpha", "s", "beta")
_BOUND = 20.0  # search box of log base parameters and coefficients
_MAX_LOG_MULTIPLIER = 30.0  # extra log rate multipliers are clipped to +-30 (finite arithmetic)


class _TimeVaryingModel(JsonModel, EstimatorParams):
    """Shared machinery of the time-varying models: parameters, fit, summary, files.

    A subclass declares ``_base`` (names of the positive base parameters),
    ``_make_arrays(data)`` and either ``_math`` (a math module with
    ``log_likelihood(base, gp, gd, arrays)`` and ``log_likelihood_gradient``)
    or its own ``_ll(base, gp, gd, arrays)`` and
    ``_ll_grad(base, gp, gd, arrays) -> (ll, grad)``; a model with a static
    twin names it in ``_static`` (its fit gives the starting values).  A model
    whose data are not :class:`TimeVaryingData` names their class in
    ``_data_type`` and how to build them in ``_data_hint``; ``_labels`` name
    the coefficients of the purchase and dropout covariates.
    """

    _base: tuple[str, ...] = ()
    #: the class of the model's data, and how to build it (for the error message)
    _data_type: type = TimeVaryingData
    _data_hint = "build it with clv.models.time_varying_data(...)"
    #: coefficient names: ``<label>[<column>]`` for the purchase and dropout covariates
    _labels = ("purchase", "dropout")
    #: the model's math module (used by the default ``_ll``/``_ll_grad``)
    _math: Any = None
    #: the static model whose fit gives the base starting values
    _static: Any = None
    #: the data's period, or None when a model file written without one is loaded
    time_unit_: str | None

    def __init__(
        self, *, purchase_covariates: Sequence[str] = (), dropout_covariates: Sequence[str] = ()
    ) -> None:
        for name, cols in (("purchase", purchase_covariates), ("dropout", dropout_covariates)):
            if isinstance(cols, str) or len(set(cols)) != len(cols):
                raise ValueError(
                    f"{name}_covariates must be a sequence of distinct column names, got {cols!r}."
                )
        # stored as given (get_params/clone)
        self.purchase_covariates = purchase_covariates
        self.dropout_covariates = dropout_covariates

    # ------------------------------------------------------------------ parameters
    def _param_names(self) -> list[str]:
        return (
            [*self._base]
            + [f"{self._labels[0]}[{c}]" for c in self.purchase_covariates]
            + [f"{self._labels[1]}[{c}]" for c in self.dropout_covariates]
        )

    def _split(self, values: Any) -> tuple[tuple[float, ...], FloatArray, FloatArray]:
        v = np.asarray(values, dtype=np.float64)
        kp, nb = len(self.purchase_covariates), len(self._base)
        return tuple(float(a) for a in v[:nb]), v[nb : nb + kp], v[nb + kp :]

    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet. Call .fit(data) "
                f"first (or {type(self).__name__}.from_json(path))."
            )

    def _make_arrays(self, data: Any) -> Any:
        raise NotImplementedError

    def _ll(self, base: Any, gp: Any, gd: Any, arrays: Any) -> FloatArray:
        return self._math.log_likelihood(base, gp, gd, arrays)  # type: ignore[no-any-return]

    def _ll_grad(self, base: Any, gp: Any, gd: Any, arrays: Any) -> tuple[FloatArray, FloatArray]:
        return self._math.log_likelihood_gradient(base, gp, gd, arrays)  # type: ignore[no-any-return]

    def _static_start(self, rfm: pd.DataFrame) -> list[float]:
        if self._static is None:
            raise NotImplementedError
        return list(self._static().fit(rfm).params_.to_numpy())

    def _arrays(self, data: Any) -> Any:
        if not isinstance(data, self._data_type):
            raise DataError(
                [
                    Problem(
                        None,
                        f"expected {self._data_type.__name__}, got {type(data).__name__}",
                        self._data_hint,
                    )
                ],
                what=f"the data passed to {type(self).__name__}",
            )
        return self._make_arrays(data)

    def log_likelihood(self, data: TimeVaryingData, params: Any = None) -> pd.Series:
        """Per-customer log-likelihood at ``params`` (default: the fitted values)."""
        if params is None:
            self._check_fitted()
            params = self.params_.to_numpy()
        base, gp, gd = self._split(params)
        ll = self._ll(base, gp, gd, self._arrays(data))
        return pd.Series(ll, index=data.customer_ids, name="log_likelihood")

    # ------------------------------------------------------------------ fit
    def fit(
        self,
        data: TimeVaryingData,
        *,
        initial_params: Mapping[str, float] | None = None,
        n_starts: int = 1,
        random_state: int | np.random.Generator | None = None,
    ) -> Self:
        """Estimate the parameters by maximum likelihood.

        Optimises log base parameters and the coefficients with L-BFGS-B,
        starting from the static model's fit with coefficients 0; extra
        starts are seeded perturbations of it.
        """
        arrays = self._arrays(data)
        n = data.n_customers
        names = self._param_names()
        nb = len(self._base)
        start = self._start(data, initial_params)
        u0 = np.concatenate([np.log(start[:nb]), start[nb:]])

        def objective(u: FloatArray) -> tuple[float, FloatArray]:
            theta = np.concatenate([np.exp(u[:nb]), u[nb:]])
            base, gp, gd = self._split(theta)
            with np.errstate(all="ignore"):  # far from the optimum; non-finite -> rejected
                ll, grad = self._ll_grad(base, gp, gd, arrays)
                value = -float(np.sum(ll)) / n
                g = -grad.sum(axis=1) / n
            g[:nb] *= theta[:nb]
            if not (np.isfinite(value) and np.all(np.isfinite(g))):
                return 1e10, np.zeros_like(u)
            return value, g

        rng = np.random.default_rng(random_state)
        bounds = [(-_BOUND, _BOUND)] * len(names)
        best = None
        for k in range(max(1, int(n_starts))):
            u_start = u0 if k == 0 else u0 + rng.normal(0.0, 0.3, u0.size)
            res = optimize.minimize(
                objective,
                u_start,
                jac=True,
                method="L-BFGS-B",
                bounds=bounds,
                options={"maxiter": 3000, "ftol": 1e-13, "gtol": 1e-7},
            )
            if best is None or res.fun < best.fun:
                best = res
        assert best is not None
        u = best.x
        hess = _hessian(lambda v: objective(v)[1], u) * n
        theta = np.concatenate([np.exp(u[:nb]), u[nb:]])
        jac = np.concatenate([theta[:nb], np.ones(u.size - nb)])
        finite = bool(np.all(np.isfinite(hess)))
        ev, vec = np.linalg.eigh(hess) if finite else (np.full(u.size, np.nan), None)
        ok = bool(finite and np.all(ev > 0))
        cov = np.linalg.inv(hess) * np.outer(jac, jac) if ok else np.full((u.size, u.size), np.nan)
        # one flat direction (e.g. the s/beta ridge of a nearly homogeneous dropout, s -> inf):
        # the pseudo-inverse draws no uncertainty along it, where predictions hardly move
        flat = ev <= 1e-5 * np.max(ev) if finite else np.zeros(u.size, dtype=bool)
        ridge = bool(
            not ok
            and finite
            and np.max(ev) > 0
            and flat.sum() == 1
            and np.min(ev) > -1e-4 * np.max(ev)
        )
        if ridge:
            assert vec is not None
            keep = vec[:, ~flat]
            cov = (keep / ev[~flat]) @ keep.T * np.outer(jac, jac)
        grad_norm = float(np.max(np.abs(objective(u)[1])))
        at_bound = [names[j] for j in np.flatnonzero(np.abs(u) >= _BOUND - 1e-6)]
        self.converged_ = bool(ok and grad_norm < 1e-5 and not at_bound)
        if at_bound:
            warnings.warn(
                f"{type(self).__name__}: {at_bound} ran to the search bound "
                f"(|log| or |coefficient| = {_BOUND:g}): the likelihood keeps rising "
                "towards infinity there, so no finite maximum-likelihood estimate "
                "exists for it. Drop that covariate from that process or add "
                "information.",
                ConvergenceWarning,
                stacklevel=2,
            )
        elif not self.converged_:
            warnings.warn(
                f"{type(self).__name__}: the optimiser stopped with max |gradient| "
                f"{grad_norm:.2g} per customer and a Hessian that is "
                f"{'' if ok else 'not '}positive definite ({best.message}). "
                + (
                    "The likelihood is flat along one direction (e.g. the s/beta ridge "
                    "of a nearly homogeneous dropout): covariance_ is the pseudo-inverse, "
                    "with no uncertainty along it. "
                    if ridge
                    else ""
                )
                + "Check summary(), try initial_params or n_starts > 1.",
                ConvergenceWarning,
                stacklevel=2,
            )
        self.params_ = pd.Series(theta, index=names, name="coef", dtype=np.float64)
        self.covariance_ = pd.DataFrame(cov, index=names, columns=names)
        self.log_likelihood_ = -float(best.fun) * n
        self.n_customers_ = n
        self.time_unit_ = data.time_unit
        self.n_iterations_ = int(best.nit)
        return self

    def _start(self, data: TimeVaryingData, initial: Mapping[str, float] | None) -> FloatArray:
        names = self._param_names()
        k = len(names)
        if initial is not None:
            unknown = set(initial) - set(names)
            if unknown:
                raise ValueError(
                    f"initial_params has unknown names {sorted(unknown)}; valid names are {names}."
                )
        nb = len(self._base)
        if initial is not None and all(n in initial for n in self._base):
            base = [float(initial[n]) for n in self._base]
        else:
            rfm = pd.DataFrame({"frequency": data.frequency, "recency": data.recency, "T": data.T})
            with warnings.catch_warnings():  # a rough start is enough
                warnings.simplefilter("ignore")
                base = self._static_start(rfm)
        start = np.zeros(k)
        start[:nb] = base
        for j, n in enumerate(names[nb:], start=nb):
            start[j] = float((initial or {}).get(n, 0.0))
        return start

    def sample_params(
        self, n_draws: int, *, random_state: int | np.random.Generator | None = None
    ) -> pd.DataFrame:
        """Draws from the asymptotic normal distribution of the estimates.

        The normal is taken on the optimised scale (log base parameters,
        coefficients as they are) with the covariance implied by
        ``covariance_``, and mapped back, so every draw is a valid parameter set.

        Parameters
        ----------
        n_draws : int
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
        theta = self.params_.to_numpy(dtype=np.float64)
        cov = self.covariance_.to_numpy(dtype=np.float64)
        if not np.all(np.isfinite(cov)):
            raise NotFittedError(
                f"{type(self).__name__} has no finite covariance_ (the fit did not "
                "converge), so the estimates cannot be sampled."
            )
        nb = len(self._base)
        scale = np.ones(theta.size)
        scale[:nb] = theta[:nb]
        u_cov = cov / np.outer(scale, scale)
        u_hat = np.concatenate([np.log(theta[:nb]), theta[nb:]])
        rng = np.random.default_rng(random_state)
        u = rng.multivariate_normal(u_hat, (u_cov + u_cov.T) / 2, size=n, method="eigh")
        draws = np.concatenate([np.exp(u[:, :nb]), u[:, nb:]], axis=1)
        return pd.DataFrame(draws, columns=self.params_.index)

    def _param_rows(self, params: Any) -> tuple[FloatArray, bool]:
        """``params`` as a (S, p) array and whether it was a single parameter set."""
        if params is None:
            self._check_fitted()
            return self.params_.to_numpy(dtype=np.float64)[None, :], True
        values: FloatArray
        if isinstance(params, pd.DataFrame | pd.Series):
            values = params[self._param_names()].to_numpy(dtype=np.float64)
        else:
            values = np.asarray(params, dtype=np.float64)
        single = values.ndim == 1
        values = np.atleast_2d(values)
        if values.shape[1] != len(self._param_names()):
            raise ValueError(
                f"params needs {len(self._param_names())} values per set "
                f"({self._param_names()}), got shape {values.shape}."
            )
        return values, single

    # ------------------------------------------------------------------ reporting
    def summary(self, alpha: float = 0.05) -> pd.DataFrame:
        """Estimate, delta-method standard error and a ``1 - alpha`` interval per parameter.

        Intervals of the positive base parameters are computed on the log
        scale; coefficients get ``coef ± z·se``.
        """
        self._check_fitted()
        z = float(special.ndtri(1 - alpha / 2))
        coef = self.params_.to_numpy()
        se = np.sqrt(np.clip(np.diag(self.covariance_.to_numpy()), 0, None))
        is_base = np.arange(coef.size) < len(self._base)
        with np.errstate(all="ignore"):
            lower = np.where(is_base, coef * np.exp(-z * se / coef), coef - z * se)
            upper = np.where(is_base, coef * np.exp(z * se / coef), coef + z * se)
        return pd.DataFrame(
            {"coef": coef, "se": se, "lower": lower, "upper": upper},
            index=pd.Index(self.params_.index, name="param"),
        )

    def to_dict(self) -> dict[str, Any]:
        """The fitted state as a JSON-serialisable document."""
        self._check_fitted()
        return {
            "init": {
                "purchase_covariates": self.purchase_covariates,
                "dropout_covariates": self.dropout_covariates,
            },
            **fitted_state(self),
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], *, source: str = "the model document") -> Self:
        """Rebuild a fitted model from :meth:`to_dict` output."""
        with damaged_file(cls.__name__, source):
            model = cls(**dict(doc["init"]))
            names = model._param_names()
            model.params_ = pd.Series(
                [float(doc["params"][n]) for n in names], index=names, name="coef", dtype=np.float64
            )
            cov = np.asarray(doc["covariance"], dtype=np.float64).reshape(len(names), len(names))
            model.covariance_ = pd.DataFrame(cov, index=names, columns=names)
            model.log_likelihood_ = float(doc["log_likelihood"])
            model.n_customers_ = doc["n_customers"]
            model.converged_ = bool(doc["converged"])
            model.time_unit_ = doc.get("time_unit")
        return model

    def __repr__(self) -> str:
        name = type(self).__name__
        if not hasattr(self, "params_"):
            return f"<{name} (unfitted)>"
        ps = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return (
            f"<{name} fitted on {self.n_customers_} customers: {ps}, "
            f"log-likelihood={self.log_likelihood_:.2f}>"
        )

    def bootstrap(self, data: Any, n: int = 200, **kwargs: Any) -> pd.DataFrame:
        """Not available: the time-varying models are fitted on per-period rows.

        Their parameter uncertainty is the asymptotic normal of the MLE
        (``covariance_``, the intervals of :meth:`summary`).

        Raises
        ------
        NotImplementedError
            Always.
        """
        raise NotImplementedError(
            f"bootstrap resamples customers of a one-row-per-customer summary; "
            f"{type(self).__name__} is fitted on per-period rows (customer x period), so use "
            "the asymptotic intervals of summary() (covariance_) for its uncertainty."
        )


class ParetoNBDDynamicModel(FuturePathPredictions, _TimeVaryingModel):
    r"""Pareto/NBD with piecewise-constant time-varying covariates, by maximum likelihood.

    :math:`\lambda_i(t) = \lambda_{0i} e^{\gamma_p^\top x_p(t)}`,
    :math:`\mu_i(t) = \mu_{0i} e^{\gamma_d^\top x_d(t)}`,
    :math:`\lambda_0 \sim \mathrm{Gamma}(r, \alpha)`,
    :math:`\mu_0 \sim \mathrm{Gamma}(s, \beta)`.  A positive coefficient
    raises the purchase (dropout) rate while the covariate is up.  With
    covariates constant over time this is the static-covariate Pareto/NBD
    (:class:`clv.models.ParetoNBDModel`, same sign convention and base
    parameters); with all coefficients 0 it is the plain Pareto/NBD.

    Parameters
    ----------
    purchase_covariates, dropout_covariates : sequence of str
        Covariate columns of the :class:`~clv.models._dyncov_data.TimeVaryingData`
        acting on each process; coefficients ``purchase[col]``, ``dropout[col]``.

    Attributes
    ----------
    params_ : Series
        ``r, alpha, s, beta`` then the coefficients.
    covariance_ : DataFrame
        Delta-method covariance (inverse numerical Hessian in log-parameters).
    log_likelihood_ : float
    converged_ : bool
    n_customers_ : int
    time_unit_ : str
    """

    _base = _BASE
    _math = _math
    _static = ParetoNBDModel

    def _make_arrays(self, data: TimeVaryingData) -> _math.DynCovArrays:
        return data.arrays(self.purchase_covariates, self.dropout_covariates)

    # ------------------------------------------------------------------ predictions
    def expected_purchases_by_period(
        self,
        data: TimeVaryingData,
        period_ends: Sequence[float],
        path: pd.DataFrame | None = None,
        *,
        params: Any = None,
        customers: Sequence[Any] | None = None,
        log_multipliers: Mapping[str, FloatArray] | None = None,
        customer_id_col: str = "customer_id",
        cov_date_col: str = "cov_date",
    ) -> FloatArray:
        """Expected repeat purchases in each future interval, per customer (and parameter set).

        Parameters
        ----------
        data : TimeVaryingData
        period_ends : sequence of float
            Increasing ends ``e1 < e2 < ...``, in periods after
            ``observation_end``: the intervals are ``(0, e1], (e1, e2], ...``
            (e.g. ``np.arange(1, 25) * 4.348`` for 24 months of a weekly model).
        path : DataFrame, optional
            Future covariate path (default: the last values carried forward).
        params : Series, array or DataFrame, optional
            As in :meth:`expected_discounted_purchases`.
        customers : sequence, optional
            Only these customer ids, in this order (default all).
        log_multipliers : mapping, optional
            ``{"purchase": L_p, "dropout": L_d}``: extra log multipliers of the
            future rates on the grid of :meth:`TimeVaryingData.future` (period 0
            is the rest of the current period), e.g. an investment's effect valued
            with its own coefficients; the history is always conditioned on
            ``params``.  Shapes: ``(customers, periods)``; ``(scenarios,
            customers, periods)`` for several futures evaluated on one
            conditioning; or ``(sets, scenarios, customers, periods)`` with one
            block per parameter set (e.g. effects that scale with each draw's
            coefficients).  Fewer periods than the grid are padded with 0; values
            are clipped to +-30.

        Returns
        -------
        ndarray
            Shape ``(customers, intervals)``, with a leading ``sets`` axis for
            several parameter sets and a ``scenarios`` axis (after it) when the
            multipliers have one.  Each row sums to :meth:`expected_purchases` at
            the last end (without multipliers).
        """
        ends = np.asarray(period_ends, dtype=np.float64)
        values, single = self._param_rows(params)
        arrays, future, _ = self._prepared(
            data, float(ends.max(initial=0.0)), path, customers, customer_id_col, cov_date_col
        )
        n, width = future.length.shape
        raw = dict(log_multipliers or {})
        unknown = set(raw) - {"purchase", "dropout"}
        if unknown:
            raise ValueError(
                f"log_multipliers keys must be 'purchase' or 'dropout', got {sorted(unknown)}."
            )
        blocks: dict[str, np.ndarray] = {}
        scenarios = None
        for key, arr in raw.items():
            arr = np.asarray(arr, dtype=np.float64)
            if arr.ndim == 2:
                arr = arr[None, None]
            elif arr.ndim == 3:
                arr = arr[None]
                scenarios = arr.shape[1]
            elif arr.ndim == 4:
                scenarios = arr.shape[1]
            if (
                arr.ndim != 4
                or arr.shape[0] not in (1, len(values))
                or arr.shape[2] != n
                or arr.shape[3] > width
            ):
                raise ValueError(
                    f"log_multipliers[{key!r}] must have shape ([sets,] [scenarios,] "
                    f"{n} customers, <= {width} periods), got {np.shape(raw[key])}."
                )
            pad = np.zeros((arr.shape[0], arr.shape[1], n, width))
            pad[..., : arr.shape[3]] = np.clip(arr, -_MAX_LOG_MULTIPLIER, _MAX_LOG_MULTIPLIER)
            blocks[key] = pad
        n_scen = max([b.shape[1] for b in blocks.values()], default=1)
        if any(b.shape[1] not in (1, n_scen) for b in blocks.values()):
            raise ValueError("log_multipliers: the scenario axes of purchase and dropout differ.")

        def offset(key: str, i: int, c: int) -> FloatArray | None:
            b = blocks.get(key)
            if b is None:
                return None
            return b[min(i, b.shape[0] - 1), min(c, b.shape[1] - 1)]

        out = np.empty((len(values), n_scen, n, ends.size))
        for i, v in enumerate(values):
            base, gp, gd = self._split(v)
            state = _math.state_at_T(base, gp, gd, arrays)
            for c in range(n_scen):
                cum = _math.expected_purchases_by_period(
                    base,
                    gp,
                    gd,
                    arrays,
                    future,
                    ends,
                    purchase_offset=offset("purchase", i, c),
                    dropout_offset=offset("dropout", i, c),
                    state=state,
                )
                out[i, c] = np.diff(cum, axis=1, prepend=0.0)
        if scenarios is None:
            out = out[:, 0]
        return out[0] if single else out


def _hessian(grad: Any, u: FloatArray) -> FloatArray:
    """Central differences of an analytic gradient, symmetrised."""
    k = u.size
    h = 1e-5 * np.maximum(1.0, np.abs(u))
    H = np.empty((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = h[i]
        H[:, i] = (grad(u + e) - grad(u - e)) / (2 * h[i])
    return (H + H.T) / 2


def simulate_transactions(
    params: Mapping[str, float],
    covariates: pd.DataFrame,
    first_purchase: pd.Series,
    *,
    end: Any,
    purchase_covariates: Sequence[str] = (),
    dropout_covariates: Sequence[str] = (),
    customer_id_col: str = "customer_id",
    cov_date_col: str = "cov_date",
    date_col: str = "date",
    time_unit: str = "W",
    rng: np.random.Generator,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate a transaction log under the time-varying Pareto/NBD.

    Vectorised over customers and periods: a customer's purchases are a
    Poisson process on the purchase clock :math:`\\lambda_0 B(t)` (uniform
    points on :math:`[0, \\lambda_0 B(\\text{end})]` mapped back through the
    piecewise-linear :math:`B`), the lifetime ends where
    :math:`\\mu_0 D(\\tau)` reaches an Exp(1) draw.

    Parameters
    ----------
    params : mapping
        ``r, alpha, s, beta`` and ``purchase[col]`` / ``dropout[col]``
        coefficients (missing coefficients are 0).
    covariates : DataFrame
        Long layout (customer id, period start, covariate columns) covering
        each customer from the first purchase to ``end``.
    first_purchase : Series
        First purchase time per customer (index: customer id).
    end : date-like
        Simulate up to this time.
    rng : numpy.random.Generator

    Returns
    -------
    transactions : DataFrame
        ``customer_id_col``, ``date_col`` (the first purchase included).
    latent : DataFrame
        Per customer ``lambda``, ``mu`` and ``death`` (timestamp; NaT if
        alive at ``end``).
    """
    unit_ns = _unit(time_unit).value
    end_ns = pd.Timestamp(end).to_datetime64().astype("datetime64[ns]").astype(np.int64)
    ids = first_purchase.index.to_numpy()
    n = ids.size
    first_ns = pd.to_datetime(first_purchase).to_numpy(dtype="datetime64[ns]").astype(np.int64)
    cust = pd.Index(ids).get_indexer(covariates[customer_id_col])
    keep = cust >= 0
    c_ns = (
        pd.to_datetime(covariates[cov_date_col])
        .to_numpy(dtype="datetime64[ns]")
        .astype(np.int64)[keep]
    )
    cust = cust[keep]

    def mult(cols: Sequence[str], prefix: str) -> FloatArray:
        eta = np.zeros(keep.sum())
        for c in cols:
            eta += (
                float(params.get(f"{prefix}[{c}]", 0.0))
                * covariates[c].to_numpy(dtype=np.float64)[keep]
            )
        return np.exp(eta)

    a, c = mult(purchase_covariates, "purchase"), mult(dropout_covariates, "dropout")
    order = np.lexsort((c_ns, cust))
    cust, c_ns, a, c = cust[order], c_ns[order], a[order], c[order]
    horizon = (end_ns - first_ns) / unit_ns
    lo = np.clip((c_ns - first_ns[cust]) / unit_ns, 0.0, horizon[cust])
    hi = np.clip((c_ns - first_ns[cust]) / unit_ns + 1.0, 0.0, horizon[cust])
    length = hi - lo
    covered = np.bincount(cust, weights=length, minlength=n)
    if np.any(covered < horizon - 1e-9):
        raise DataError(
            [
                Problem(
                    cov_date_col,
                    "does not cover every customer from the first purchase to `end`",
                    "add the missing periods",
                )
            ],
            what="the covariates passed to simulate_transactions",
        )
    lam = rng.gamma(float(params["r"]), 1.0 / float(params["alpha"]), size=n)
    mu = rng.gamma(float(params["s"]), 1.0 / float(params["beta"]), size=n)
    # global running sums of the clocks: monotone across customers, so one searchsorted
    Bg = np.cumsum(a * length)
    Dg = np.cumsum(c * length)
    row_end = np.cumsum(np.bincount(cust, minlength=n))
    row_start = row_end - np.bincount(cust, minlength=n)
    B_start = np.where(row_start > 0, Bg[np.maximum(row_start - 1, 0)], 0.0)
    D_start = np.where(row_start > 0, Dg[np.maximum(row_start - 1, 0)], 0.0)
    D_total = Dg[row_end - 1] - D_start
    # death when D(tau) reaches an Exp(1) draw / mu (never for mu = 0, e.g. s = 0)
    target = np.divide(rng.standard_exponential(n), mu, out=np.full(n, np.inf), where=mu > 0)
    dies = target < D_total
    death = np.full(n, np.inf)
    if dies.any():
        g = D_start[dies] + target[dies]
        row = np.searchsorted(Dg, g, side="left")
        prev = np.where(row > 0, Dg[np.maximum(row - 1, 0)], 0.0)
        death[dies] = lo[row] + (g - prev) / c[row]
    stop = np.minimum(death, horizon)
    # purchase clock at the stop time
    b_stop = np.bincount(cust, weights=np.clip(stop[cust] - lo, 0.0, length) * a, minlength=n)
    counts = rng.poisson(lam * b_stop)
    owner = np.repeat(np.arange(n), counts)
    g = B_start[owner] + (1.0 - rng.random(owner.size)) * b_stop[owner]
    row = np.minimum(np.searchsorted(Bg, g, side="left"), cust.size - 1)
    prev = np.where(row > 0, Bg[np.maximum(row - 1, 0)], 0.0)
    t = lo[row] + (g - prev) / a[row]
    times = np.concatenate([first_ns, first_ns[owner] + np.rint(t * unit_ns).astype(np.int64)])
    who = np.concatenate([np.arange(n), owner])
    tx = pd.DataFrame({customer_id_col: ids[who], date_col: pd.to_datetime(times)})
    tx = tx.sort_values([customer_id_col, date_col], kind="stable").reset_index(drop=True)
    death_ts = pd.to_datetime(
        np.where(
            np.isfinite(death),
            first_ns + np.rint(np.where(np.isfinite(death), death, 0) * unit_ns).astype(np.int64),
            np.iinfo(np.int64).min,
        )
    )
    latent = pd.DataFrame(
        {"lambda": lam, "mu": mu, "death": death_ts}, index=pd.Index(ids, name=customer_id_col)
    )
    return tx, latent
