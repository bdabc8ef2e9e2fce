"""Contractual retention data and the shared base of the retention models (sBG, BdW).

In a contractual (subscription) setting churn is *observed*: a customer either
renews at the end of a period or tells the firm that they leave.  Two data
formats are accepted, and every model sees the same validated counts:

* **per customer**: one row per customer with ``periods_observed`` (whole
  number >= 1) and ``churned`` (bool).  A customer lost in period ``t`` has
  ``periods_observed = t, churned = True``; one still active after ``n``
  renewal periods has ``periods_observed = n, churned = False``.  Optional
  ``cohort`` and ``weight`` (number of identical customers) columns.
* **survival table**: columns ``cohort`` (optional), ``period`` and
  ``n_alive``: the number of customers of each cohort still active after
  ``period`` periods, starting with the cohort size at period 0 (the layout
  of Table 1 in Fader & Hardie 2007).  :func:`survival_table_to_counts`
  turns it into weighted per-customer rows.

:class:`RetentionModel` validates either format, fits one set of parameters
for all cohorts (``shared=True``) or one per cohort, and maps the model's pure
functions (declared in a :class:`RetentionSpec`) to survival, retention rates,
(discounted) expected lifetimes and simulation.
"""

from __future__ import annotations

import html
import warnings
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from clv._typing import FloatArray
from clv.exceptions import ConvergenceError, DataError, Problem
from clv.models import _covariates as cov
from clv.models._base import ParametricModel, damaged_file, init_kwargs
from clv.models._covariates import Lever
from clv.models._mle import MLEResult, maximise
from clv.models._retention_data import (
    _COLUMNS,
    empirical_survival,
    refuse_survival_table,
    retention_counts,
    survival_table_to_counts,
)
from clv.models._retention_math import _check_periods, _check_rate, residual_lifetime_sum
from clv.models._spec import ModelSpec

__all__ = [
    "RetentionModel",
    "RetentionSpec",
    "empirical_survival",
    "residual_lifetime_sum",
    "retention_counts",
    "survival_table_to_counts",
]


@dataclass(frozen=True)
class RetentionSpec(ModelSpec):
    """A :class:`~clv.models._spec.ModelSpec` with the pure functions of a retention model.

    Attributes
    ----------
    log_survival : callable
        ``log_survival(params, t) -> log S(t)``, for ``t >= 0`` (``S(0) = 1``).
    expected_lifetime : callable, optional
        Closed form of ``expected_lifetime(params, discount_rate)``; without
        it the survival function is summed numerically.
    expected_residual_lifetime : callable, optional
        Closed form of ``expected_residual_lifetime(params, renewals,
        discount_rate)``; without it the survival function is summed.
    tail_exponent : callable, optional
        ``tail_exponent(params)``: the exponent :math:`e` of the power-law
        tail :math:`S(t) \\sim t^{-e}` (finite undiscounted lifetime iff
        :math:`e > 1`), used by the numerical sums.
    """

    log_survival: Callable[..., Any] | None = None
    expected_lifetime: Callable[..., Any] | None = None
    expected_residual_lifetime: Callable[..., Any] | None = None
    tail_exponent: Callable[..., Any] | None = None


# --------------------------------------------------------------------------------- model
class RetentionModel(ParametricModel):
    """Base class of the contractual retention models (sBG, BdW).

    Parameters
    ----------
    shared : bool, default True
        With several cohorts, fit one set of parameters for all of them
        (``True``) or one set per cohort (``False``; needs a ``cohort``
        column).  Per-cohort parameters are in ``params_`` under a
        ``(cohort, param)`` MultiIndex and predictions then take ``cohort=``.
    penalizer : float, default 0.0
        L2 penalty on the parameters; keep 0 for maximum likelihood.
    """

    spec: ClassVar[RetentionSpec]
    _levers = (Lever("churn", None, 1.0),)
    _center_covariates = False  # the base parameters stay those of a customer with x = 0

    def __init__(
        self,
        *,
        shared: bool = True,
        penalizer: float = 0.0,
        churn_covariates: Sequence[str] | None = None,
        covariate_penalty: float | Mapping[str, float] = 0.0,
        coefficient_priors: Mapping[str, tuple[float, float]] | None = None,
        covariate_penalty_units: str = "standardised",
    ) -> None:
        super().__init__(
            penalizer=penalizer,
            covariates={"churn": churn_covariates},
            covariate_penalty=covariate_penalty,
            coefficient_priors=coefficient_priors,
            covariate_penalty_units=covariate_penalty_units,
        )
        self.shared = shared
        if self._design and not shared:
            raise ValueError(
                "churn_covariates need shared=True (one set of parameters for all "
                "cohorts); add cohort indicators as covariates instead."
            )

    def _init_kwargs(self) -> dict[str, Any]:
        return {"shared": self.shared, "penalizer": self.penalizer, **self._covariate_kwargs()}

    # ------------------------------------------------------------------ fit
    def _starting_points(self, counts: pd.DataFrame) -> list[Mapping[str, float] | None]:
        """Starting values to try when the user gives none (``None``: the spec's defaults).

        Every start is fitted and the highest likelihood is kept.
        """
        return [None]

    def _maximise(
        self,
        counts: pd.DataFrame,
        initial_params: Mapping[str, float] | None,
        n_starts: int,
        random_state: int | np.random.Generator | None,
    ) -> MLEResult:
        arrays = {
            "periods_observed": counts["periods_observed"].to_numpy(dtype=np.float64),
            "churned": counts["churned"].to_numpy(dtype=np.float64),
        }
        weights = counts["weight"].to_numpy(dtype=np.float64)
        starts = [initial_params] if initial_params is not None else self._starting_points(counts)
        if len(starts) == 1:
            return maximise(
                self.spec,
                arrays,
                weights,
                initial_params=starts[0],
                penalizer=self.penalizer,
                n_starts=n_starts,
                random_state=random_state,
            )
        best: tuple[MLEResult, list[warnings.WarningMessage]] | None = None
        failure: ConvergenceError | None = None
        for start in starts:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    result = maximise(
                        self.spec,
                        arrays,
                        weights,
                        initial_params=start,
                        penalizer=self.penalizer,
                        n_starts=n_starts,
                        random_state=random_state,
                    )
                except ConvergenceError as exc:
                    failure = failure or exc
                    continue
            if best is None or result.log_likelihood > best[0].log_likelihood + 1e-9:
                best = (result, list(caught))
        if best is None:
            assert failure is not None
            raise failure
        for w in best[1]:  # re-issue the warnings of the fit that is kept
            warnings.warn(w.message, w.category, stacklevel=3)
        return best[0]

    def fit(
        self,
        data: pd.DataFrame,
        *,
        initial_params: Mapping[str, float] | None = None,
        n_starts: int = 1,
        random_state: int | np.random.Generator | None = None,
    ) -> Self:
        """Estimate the parameters by maximum likelihood.

        Parameters
        ----------
        data : DataFrame
            Per-customer rows (``periods_observed``, ``churned``, optional
            ``cohort`` and ``weight``) or a survival table (``period``,
            ``n_alive``, optional ``cohort``); see :mod:`clv.models._retention`.
        initial_params : mapping, optional
            Starting values on the natural scale (for every cohort).
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
            Invalid data (see :func:`retention_counts`), no renewal period
            observed, or ``shared=False`` without a ``cohort`` column.
        ConvergenceError
            The likelihood could not be maximised.
        """
        what = f"the data passed to {type(self).__name__}"
        if self._design:
            refuse_survival_table(data, self._design.coef_columns, what)
        counts = retention_counts(data)
        if len(counts) == 0:
            raise DataError(
                [
                    Problem(
                        None,
                        "no renewal period is observed",
                        "pass customers "
                        "observed for at least one period (periods_observed >= 1, "
                        "or a survival table with periods after 0)",
                    )
                ],
                what=what,
            )
        names = list(self.spec.params._fields)
        labels = list(pd.unique(counts["cohort"]))
        if self._design:
            arrays = {c: counts[c].to_numpy(dtype=np.float64) for c in _COLUMNS}
            weights = counts["weight"].to_numpy(dtype=np.float64)
            from clv.models import _retention_covariates as ph

            self._fit_covariates(
                data,
                arrays,
                weights,
                initial_params,
                n_starts,
                random_state,
                ph.log_likelihood,
                plain_fit=lambda: self._maximise(counts, None, 1, None),
            )
            self.params_.index.name = "param"
            self.covariance_.index.name = self.covariance_.columns.name = "param"
        elif self.shared:
            result = self._maximise(counts, initial_params, n_starts, random_state)
            flat = pd.Index(names, name="param")
            self.params_ = pd.Series(result.params, index=flat, name="coef", dtype=np.float64)
            self.covariance_ = pd.DataFrame(result.covariance, index=flat, columns=flat)
            self.log_likelihood_ = result.log_likelihood
            self.converged_ = result.converged
            self.optimizer_: MLEResult | dict[Hashable, MLEResult] = result
        else:
            has_cohort = "cohort" in data.columns
            if not has_cohort:
                raise DataError(
                    [
                        Problem(
                            "cohort",
                            "is required with shared=False but missing",
                            "add a cohort column, or use shared=True for one set of parameters",
                        )
                    ],
                    what=what,
                )
            all_cohorts = list(pd.unique(data["cohort"]))
            empty = [c for c in all_cohorts if c not in set(labels)]
            if empty:
                raise DataError(
                    [
                        Problem(
                            "cohort",
                            "has cohorts without any observed renewal "
                            "period, so their parameters cannot be estimated",
                            "drop them, or use shared=True",
                            empty,
                        )
                    ],
                    what=what,
                )
            results = {
                c: self._maximise(
                    counts[counts["cohort"] == c], initial_params, n_starts, random_state
                )
                for c in labels
            }
            index = pd.MultiIndex.from_tuples(
                [(c, n) for c in labels for n in names], names=["cohort", "param"]
            )
            self.params_ = pd.Series(
                np.concatenate([r.params for r in results.values()]),
                index=index,
                name="coef",
                dtype=np.float64,
            )
            k = len(names)
            cov = np.zeros((k * len(labels), k * len(labels)))
            for i, r in enumerate(results.values()):
                cov[i * k : (i + 1) * k, i * k : (i + 1) * k] = r.covariance
            self.covariance_ = pd.DataFrame(cov, index=index, columns=index)
            self.log_likelihood_ = float(sum(r.log_likelihood for r in results.values()))
            self.converged_ = all(r.converged for r in results.values())
            self.optimizer_ = results
        self.cohorts_ = labels
        total = float(counts["weight"].sum())
        self.n_customers_ = int(total) if total.is_integer() else total
        self.time_unit_ = data.attrs.get("time_unit")
        return self

    # ------------------------------------------------------------------ parameters
    @property
    def _per_cohort(self) -> bool:
        return isinstance(self.params_.index, pd.MultiIndex)

    def _params(self, cohort: Hashable | None = None) -> Any:
        """The parameter tuple of ``cohort`` (or the shared one)."""
        self._check_fitted()
        if cohort is not None and cohort not in self.cohorts_:
            raise ValueError(
                f"unknown cohort {cohort!r}; the model was fitted on cohorts {self.cohorts_}."
            )
        if not self._per_cohort:
            return self.spec.params(*self.params_[list(self.spec.params._fields)].to_numpy())
        if cohort is None:
            raise ValueError(
                f"{type(self).__name__} has one set of parameters per cohort; pass "
                f"cohort= (one of {self.cohorts_})."
            )
        return self.spec.params(*self.params_.loc[cohort].to_numpy())

    @property
    def _p(self) -> Any:
        return self._params(None)

    # ------------------------------------------------------------------ predictions
    def survival(
        self,
        t: ArrayLike,
        *,
        cohort: Hashable | None = None,
        covariates: pd.DataFrame | None = None,
    ) -> np.ndarray | pd.Series:
        """Share of a new cohort still active after ``t`` periods, :math:`S(t)`.

        Parameters
        ----------
        t : array_like
            Periods, ``t >= 0`` (``S(0) = 1``).
        cohort : hashable, optional
            Required when the model has one set of parameters per cohort.
        covariates : DataFrame, optional
            For a model with churn covariates: one row per customer with the
            covariate columns; the result is a Series aligned to its index
            (``t`` a scalar or one value per row). Without it, the values of
            a customer with every covariate at 0.

        Returns
        -------
        ndarray or Series
        """
        assert self.spec.log_survival is not None
        t_arr = _check_periods(t, 0.0, "t")
        if covariates is not None:
            return self._per_customer(
                covariates, t_arr, lambda f, k: np.exp(f(k, t_arr)), "survival"
            )
        return np.exp(self.spec.log_survival(self._params(cohort), t_arr))

    def _per_customer(
        self, covariates: pd.DataFrame, t: FloatArray, fn: Callable[..., Any], name: str
    ) -> pd.Series:
        """``fn(log_survival, multiplier)`` for each customer of ``covariates`` (a Series)."""
        from clv.models import _retention_covariates as ph

        if not isinstance(covariates, pd.DataFrame):
            raise TypeError("covariates must be a DataFrame with one row per customer.")
        p = self._p
        k = self.individual_params(covariates)["churn_multiplier"].to_numpy()
        values = fn(lambda mult, tt: ph.log_survival(p, mult, tt), k)
        return pd.Series(
            np.asarray(values, dtype=np.float64) * np.ones(len(covariates)),
            index=covariates.index,
            name=name,
        )

    def individual_params(self, data: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        """Per-customer parameters: the base ones and the churn hazard multiplier.

        The retention covariates act as discrete proportional hazards, so
        ``alpha, beta`` (and ``c``) are shared and each customer has a
        ``churn_multiplier`` :math:`k_i = e^{\\gamma_c^\top x_i}` (1 without
        covariates): :math:`S_i(t) = B(\alpha, \beta + k_i t^c)/B(\alpha, \beta)`.
        """
        out = super().individual_params(data, params)
        p = self.params_ if params is None else pd.Series(params, dtype=np.float64)
        k = np.ones(len(data))
        if self._design:
            X = self._design.matrices(data, f"the covariates passed to {type(self).__name__}")
            g = self._coefficients(p)["churn"]
            k = np.asarray(cov.covariate_multiplier(X["churn"], g, 1.0)) * k
        out["churn_multiplier"] = k
        return out

    def retention_rate(
        self,
        t: ArrayLike,
        *,
        cohort: Hashable | None = None,
        covariates: pd.DataFrame | None = None,
    ) -> np.ndarray | pd.Series:
        """Share of the customers active in period ``t`` who renew: :math:`r_t = S(t)/S(t-1)`.

        Parameters
        ----------
        t : array_like
            Periods, ``t >= 1``.
        cohort : hashable, optional
            Required when the model has one set of parameters per cohort.
        covariates : DataFrame, optional
            For a model with churn covariates: one row per customer with the
            covariate columns; the result is a Series aligned to its index
            (``t`` a scalar or one value per row). Without it, the values of
            a customer with every covariate at 0.

        Returns
        -------
        ndarray or Series
        """
        assert self.spec.log_survival is not None
        t_arr = _check_periods(t, 1.0, "t")
        if covariates is not None:
            return self._per_customer(
                covariates,
                t_arr,
                lambda f, k: np.exp(np.minimum(f(k, t_arr) - f(k, t_arr - 1.0), 0.0)),
                "retention_rate",
            )
        p = self._params(cohort)
        diff = self.spec.log_survival(p, t_arr) - self.spec.log_survival(p, t_arr - 1.0)
        return np.exp(np.minimum(diff, 0.0))

    def probability_of_churn(
        self,
        t: ArrayLike,
        *,
        cohort: Hashable | None = None,
        covariates: pd.DataFrame | None = None,
    ) -> np.ndarray | pd.Series:
        """Probability that a new customer is lost in period ``t``, :math:`S(t-1) - S(t)`.

        Parameters
        ----------
        t : array_like
            Periods, ``t >= 1``.
        cohort : hashable, optional
            Required when the model has one set of parameters per cohort.

        Returns
        -------
        ndarray
        """
        t_arr = _check_periods(t, 1.0, "t")
        if covariates is not None:
            from clv.models import _retention_covariates as ph

            p = self._p
            return self._per_customer(
                covariates,
                t_arr,
                lambda f, k: np.exp(ph.log_likelihood(p, {"churn": k}, t_arr, 1.0)),
                "probability_of_churn",
            )
        p = self._params(cohort)
        ll = self.spec.log_likelihood(p, t_arr, np.ones_like(t_arr))
        return np.exp(ll)

    def expected_lifetime(
        self,
        *,
        discount_rate: float = 0.0,
        cohort: Hashable | None = None,
        covariates: pd.DataFrame | None = None,
    ) -> float | pd.Series:
        r"""(Discounted) expected lifetime of a new customer, in periods: DEL.

        :math:`\mathrm{DEL}(d) = \sum_{t \ge 0} S(t) / (1+d)^t`, the expected
        discounted number of payments when every active period is paid at its
        start (the first one at acquisition, undiscounted).  With ``d = 0``
        this is :math:`E[T]`, which is infinite for heavy-tailed lifetimes.
        With churn covariates it is the value for a customer with every
        covariate at 0, or, with ``covariates=`` (one row per new customer),
        a Series of per-customer values.

        Parameters
        ----------
        discount_rate : float, default 0
            Per period, ``>= 0``.
        cohort : hashable, optional
            Required when the model has one set of parameters per cohort.

        Returns
        -------
        float
        """
        d = _check_rate(discount_rate)
        if covariates is not None:
            future = self.expected_residual_lifetime(
                np.zeros(len(covariates)), discount_rate=d, covariates=covariates
            )
            assert isinstance(future, pd.Series)  # per customer with covariates
            return (1.0 + future / (1.0 + d)).rename("expected_lifetime")
        p = self._params(cohort)  # x = 0 with covariates: a baseline new customer
        if self.spec.expected_lifetime is not None:
            return float(self.spec.expected_lifetime(p, d))
        future = self._residual(p, 0.0, d)
        return float(1.0 + future / (1.0 + d))

    def expected_residual_lifetime(
        self,
        periods_observed: ArrayLike,
        *,
        discount_rate: float = 0.0,
        cohort: Hashable | None = None,
        covariates: pd.DataFrame | None = None,
    ) -> np.ndarray | pd.Series:
        r"""Discounted expected residual lifetime (DERL) of active customers.

        For a customer still active after ``n = periods_observed`` periods
        (who has renewed ``n`` times), the expected discounted number of
        *future* renewals, valued just before the next renewal decision, as in
        Fader & Hardie (2010):

        .. math:: \mathrm{DERL}(d \mid n) = \sum_{k \ge 1}
                  \frac{S(n+k)}{S(n)} \frac{1}{(1+d)^{k-1}}

        (their :math:`n - 1` renewals are our ``n``).  Divide by
        :math:`1+d` to value it at the start of the current period instead.
        With ``d = 0`` it is the expected number of future renewals,
        :math:`E[T - n - 1 \mid T > n]`.

        Parameters
        ----------
        periods_observed : array_like or Series
            Renewal periods survived so far (``>= 0``; 0 for a customer just
            acquired).  A Series gives a Series with the same index.
        discount_rate : float, default 0
            Per period, ``>= 0``.
        cohort : hashable, optional
            Required when the model has one set of parameters per cohort.
        covariates : DataFrame, optional
            For a model with churn covariates: one row per customer (aligned
            with ``periods_observed``) with the covariate columns; the result
            is a Series indexed like ``covariates``. Without it every
            covariate is 0.

        Returns
        -------
        ndarray or Series
        """
        d = _check_rate(discount_rate)
        n = _check_periods(periods_observed, 0.0, "periods_observed")
        if covariates is not None:
            from clv.models import _retention_covariates as ph

            if not isinstance(covariates, pd.DataFrame):
                raise TypeError("covariates must be a DataFrame with one row per customer.")
            p = self._p
            k = self.individual_params(covariates)["churn_multiplier"].to_numpy()
            exponent = (
                None if self.spec.tail_exponent is None else float(self.spec.tail_exponent(p))
            )
            values = residual_lifetime_sum(
                lambda q, t, kk: ph.log_survival(q, kk, t),
                p,
                n * np.ones(len(k)),
                d,
                tail_exponent=exponent,
                multiplier=k,
            )
            return pd.Series(values, index=covariates.index, name="expected_residual_lifetime")
        values = self._residual(self._params(cohort), n, d)
        if isinstance(periods_observed, pd.Series):
            return pd.Series(
                np.asarray(values, dtype=np.float64) * np.ones(len(periods_observed)),
                index=periods_observed.index,
                name="expected_residual_lifetime",
            )
        return np.asarray(values)

    def _residual(self, p: Any, n: ArrayLike, d: float) -> FloatArray:
        if self.spec.expected_residual_lifetime is not None:
            return np.asarray(self.spec.expected_residual_lifetime(p, n, d))
        assert self.spec.log_survival is not None
        exponent = None if self.spec.tail_exponent is None else float(self.spec.tail_exponent(p))
        return residual_lifetime_sum(self.spec.log_survival, p, n, d, tail_exponent=exponent)

    def simulate(
        self,
        n_customers: int,
        n_periods: ArrayLike,
        *,
        random_state: int | np.random.Generator | None = None,
        cohort: Hashable | None = None,
    ) -> pd.DataFrame:
        """Simulate customers from the fitted parameters (every covariate at 0, if any).

        Parameters
        ----------
        n_customers : int
            Number of customers.
        n_periods : int or array_like
            Observation length in periods (one value, or one per customer).
        random_state : int or Generator, optional
            Seed.
        cohort : hashable, optional
            Required when the model has one set of parameters per cohort.

        Returns
        -------
        DataFrame
            ``periods_observed`` and ``churned``, indexed by ``customer_id``.
        """
        assert self.spec.simulate is not None
        rng = np.random.default_rng(random_state)
        horizon = np.broadcast_to(np.asarray(n_periods), (int(n_customers),))
        horizon = _check_periods(horizon, 1.0, "n_periods")
        sim = self.spec.simulate(self._params(cohort), horizon, rng=rng)
        frame = pd.DataFrame(
            {
                "periods_observed": sim["periods_observed"].astype(np.int64),
                "churned": sim["churned"].astype(bool),
            }
        )
        frame.index.name = "customer_id"
        if self.time_unit_ is not None:
            frame.attrs["time_unit"] = self.time_unit_
        return frame

    # ------------------------------------------------------------------ persistence, reprs
    def to_dict(self) -> dict[str, Any]:
        """The fitted state as a JSON-ready document; per-cohort parameters as
        ``[[cohort, {param: value}], ...]`` (JSON keys must be text)."""
        self._check_fitted()
        names = self._param_names()
        if self._per_cohort:
            params: Any = [
                [_json_label(c), {n: float(self.params_[(c, n)]) for n in names}]
                for c in self.cohorts_
            ]
        else:
            params = {n: float(self.params_[n]) for n in names}
        return {
            **super().to_dict(),
            "params": params,
            "cohorts": [_json_label(c) for c in self.cohorts_],
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], *, source: str = "the model document") -> Self:
        """Rebuild a fitted model from :meth:`to_dict` output (or a loaded model file)."""
        with damaged_file(cls.__name__, source):
            model = cls(**init_kwargs(doc))
            names = model._param_names()
            raw = doc["params"]
            if isinstance(raw, dict):
                values = [float(raw[n]) for n in names]
                index: pd.Index = pd.Index(names, name="param")
            else:
                labels = [c for c, _ in raw]
                values = [float(p[n]) for _, p in raw for n in names]
                index = pd.MultiIndex.from_tuples(
                    [(c, n) for c in labels for n in names], names=["cohort", "param"]
                )
            model._restore(doc, index, values)
            model.cohorts_ = list(doc["cohorts"])
        return model

    def summary(self, alpha: float = 0.05) -> pd.DataFrame:
        """Parameter table: estimate, standard error and a ``1 - alpha`` interval.

        The interval is computed on the log scale and mapped back, so it stays
        positive; per-cohort models have a ``(cohort, param)`` index.
        """
        out = super().summary(alpha)
        if self._per_cohort:
            out.index = self.params_.index
        return out

    def __repr__(self) -> str:
        name = type(self).__name__
        if not hasattr(self, "params_"):
            return f"<{name} (unfitted)>"
        if self._per_cohort:
            pairs = zip(self.params_.index.tolist(), self.params_.tolist(), strict=True)
            ps = ", ".join(f"{n}[{c}]={v:.4g}" for (c, n), v in pairs)
        else:
            ps = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return (
            f"<{name} fitted on {self.n_customers_} customers: {ps}, "
            f"log-likelihood={self.log_likelihood_:.2f}>"
        )

    def _repr_html_(self) -> str:
        if not hasattr(self, "params_"):
            return f"<p><b>{html.escape(type(self).__name__)}</b> (unfitted)</p>"
        return super()._repr_html_()


def _json_label(label: Hashable) -> Any:
    """A cohort label as a JSON value (numbers and strings kept, others as text)."""
    item = getattr(label, "item", None)
    if callable(item):
        label = item()
    return label if isinstance(label, str | int | float | bool) else str(label)
