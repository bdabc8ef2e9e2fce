"""lifetimes' fitter classes (``BetaGeoFitter`` ...) as thin shells over clv's models.

Each fitter keeps lifetimes' constructor (``penalizer_coef``), ``fit``
signature (arrays, not a frame), attribute names (``params_``, ``data``,
``summary``, ``_scale``, ``variance_matrix_`` ...) and prediction method
names, and computes everything with the pure functions of
:mod:`clv.models` at the parameters in ``params_`` (so assigning
``params_`` by hand works as in lifetimes). The penalty is lifetimes' own:
``penalizer_coef * sum(params**2)`` on the time-rescaled parameters, added to
the mean negative log-likelihood (to the total for the Pareto/NBD, as lifetimes
does). Differences from lifetimes are listed in ``docs/migration_lifetimes.md``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import optimize

from clv.io import atomic_write
from clv.models import bgbb as _bgbb
from clv.models import bgnbd as _bgnbd
from clv.models import conditional
from clv.models import gamma_gamma as _gg
from clv.models import mbgnbd as _mbgnbd
from clv.models import pareto_nbd as _pnbd
from clv.models._base import ParametricModel
from clv.models.bgbb import BetaGeoBetaBinomModel
from clv.models.bgnbd import BetaGeoModel
from clv.models.gamma_gamma import GammaGammaModel
from clv.models.mbgnbd import ModifiedBetaGeoModel
from clv.models.pareto_nbd import ParetoNBDModel

__all__ = [
    "BaseFitter",
    "BetaGeoBetaBinomFitter",
    "BetaGeoFitter",
    "GammaGammaFitter",
    "ModifiedBetaGeoFitter",
    "ParetoNBDFitter",
]

_Z95 = 1.96  # lifetimes' confidence intervals: coef +- 1.96 se


def _float_array(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def _wrap(values: Any, *inputs: Any) -> Any:
    """Return ``values`` like lifetimes: a Series when an input is one, else an array/float."""
    arr = np.asarray(values, dtype=np.float64)
    for v in inputs:
        if isinstance(v, pd.Series) and arr.ndim == 1 and len(v) == arr.shape[0]:
            return pd.Series(arr, index=v.index)
    return arr[()] if arr.ndim == 0 else arr


class BaseFitter:
    """Common state and reprs of the lifetimes-style fitters."""

    _names: ClassVar[tuple[str, ...]] = ()
    _model: ClassVar[type[ParametricModel]]
    _time_params: ClassVar[tuple[str, ...]] = ()  # parameters in the unit of time (rescaled)

    def __init__(self, penalizer_coef: float = 0.0) -> None:
        self.penalizer_coef = penalizer_coef

    def __repr__(self) -> str:
        """``<lifetimes.BetaGeoFitter: fitted with 2357 subjects, a: 0.79, ...>``, as lifetimes."""
        name = type(self).__name__
        data = getattr(self, "data", None)
        has_rows = data is not None and hasattr(data, "shape")
        subjects = f" fitted with {data.shape[0]:d} subjects," if has_rows else ""
        if not hasattr(self, "params_"):
            return f"<lifetimes.{name}>"
        params = ", ".join(f"{k}: {v:.2f}" for k, v in sorted(self.params_.items()))
        return f"<lifetimes.{name}:{subjects} {params}>"

    def _unload_params(self, *names: str) -> list[float]:
        if not hasattr(self, "params_"):
            raise ValueError("Model has not been fit yet. Please call the .fit method first.")
        return [self.params_[n] for n in names]

    def _p(self) -> Any:
        """The parameters as the model's NamedTuple (clv order)."""
        spec = self._model.spec
        return spec.params(*(float(self.params_[n]) for n in spec.params._fields))

    @property
    def summary(self) -> pd.DataFrame:
        """``coef``, ``se(coef)``, ``lower 95% bound``, ``upper 95% bound`` (lifetimes' layout)."""
        df = pd.DataFrame(index=self.params_.index)
        df["coef"] = self.params_
        df["se(coef)"] = self.standard_errors_
        df["lower 95% bound"] = self.confidence_intervals_["lower 95% bound"]
        df["upper 95% bound"] = self.confidence_intervals_["upper 95% bound"]
        return df

    def print_summary(self) -> None:
        """Print :attr:`summary`."""
        print(self.summary)  # noqa: T201 - lifetimes prints here

    # ------------------------------------------------------------------ fitting
    def _native_penalizer(self, n_rows: int) -> float:
        return float(self.penalizer_coef)

    def _initial(self, initial_params: Any, scale: float) -> dict[str, float] | None:
        """lifetimes' ``initial_params`` are log-parameters of the time-rescaled problem."""
        if initial_params is None:
            return None
        logs = np.asarray(initial_params, dtype=np.float64).ravel()
        if logs.size != len(self._names):
            raise ValueError(f"initial_params needs {len(self._names)} values "
                             f"(log {', '.join(self._names)}), got {logs.size}.")
        values = np.exp(logs)
        return {n: float(v / scale if n in self._time_params else v)
                for n, v in zip(self._names, values, strict=True)}

    def _fit_native(self, frame: pd.DataFrame, initial: dict[str, float] | None) -> ParametricModel:
        model = self._model(penalizer=self._native_penalizer(len(frame)))
        return model.fit(frame, initial_params=initial)

    def _store(self, model: ParametricModel, columns: dict[str, np.ndarray],
               weights: np.ndarray, scale: float, index: Any) -> None:
        names = list(self._names)
        self.params_ = pd.Series(model.params_[names].to_numpy(), index=names)
        self.variance_matrix_ = pd.DataFrame(model.covariance_.loc[names, names].to_numpy(),
                                             index=names, columns=names)
        se = np.sqrt(np.clip(np.diag(self.variance_matrix_.to_numpy()), 0.0, None))
        self.standard_errors_ = pd.Series(se, index=names)
        self.confidence_intervals_ = pd.DataFrame(
            {"lower 95% bound": self.params_ - _Z95 * self.standard_errors_,
             "upper 95% bound": self.params_ + _Z95 * self.standard_errors_}, index=names)
        self._scale = scale
        self.data = pd.DataFrame({**columns, "weights": weights}, index=index)
        self._negative_log_likelihood_ = self._objective(columns, weights, scale)
        self.predict = getattr(self, "conditional_expected_number_of_purchases_up_to_time", None)

    def _objective(self, columns: dict[str, np.ndarray], weights: np.ndarray,
                   scale: float) -> float:
        """lifetimes' minimised value: penalised mean negative log-likelihood, rescaled time."""
        spec = self._model.spec
        params = spec.params(*(float(self.params_[n]) * (scale if n in self._time_params else 1.0)
                               for n in spec.params._fields))
        data = [_float_array(columns[c]) * (scale if c in ("recency", "T") and self._time_params
                                            else 1.0) for c in self._likelihood_columns]
        ll = np.asarray(spec.log_likelihood(params, *data), dtype=np.float64)
        penalty = self.penalizer_coef * float(np.sum(np.square(np.asarray(params, dtype=float))))
        return float(-(weights * ll).sum() / self._objective_norm(weights) + penalty)

    _likelihood_columns: ClassVar[tuple[str, ...]] = ("frequency", "recency", "T")

    def _objective_norm(self, weights: np.ndarray) -> float:
        return float(weights.sum())

    # ------------------------------------------------------------------ persistence
    def save_model(self, path: str | os.PathLike[str], save_data: bool = True,
                   save_generate_data_method: bool = True,
                   values_to_save: list[Any] | None = None) -> None:
        """Save the fitted state as JSON (lifetimes pickles with dill; clv never pickles).

        ``save_data=False`` drops ``data`` (stored as ``values_to_save[0]``,
        default ``None``, like lifetimes); ``save_generate_data_method`` is
        accepted for compatibility (the simulator is rebuilt from ``params_``).
        """
        doc: dict[str, Any] = {
            "format": "clv.compat.lifetimes",
            "fitter": type(self).__name__,
            "penalizer_coef": self.penalizer_coef,
            "params": {k: float(v) for k, v in self.params_.items()},
        }
        for attr in ("_scale", "_negative_log_likelihood_"):
            if hasattr(self, attr):
                doc[attr] = float(getattr(self, attr))
        if hasattr(self, "variance_matrix_"):
            doc["variance_matrix"] = self.variance_matrix_.to_numpy().tolist()
        if save_data and getattr(self, "data", None) is not None:
            doc["data"] = json.loads(self.data.to_json(orient="split"))
        else:
            doc["data_placeholder"] = (values_to_save or [None])[0]
        doc["generate_new_data"] = bool(save_generate_data_method)
        with atomic_write(path) as fh:
            json.dump(doc, fh)

    def load_model(self, path: str | os.PathLike[str]) -> None:
        """Load a model written by :meth:`save_model`."""
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        if doc.get("format") != "clv.compat.lifetimes" or doc.get("fitter") != type(self).__name__:
            raise ValueError(f"'{path}' is not a saved {type(self).__name__} "
                             "(clv.compat.lifetimes JSON).")
        self.penalizer_coef = doc["penalizer_coef"]
        self.params_ = pd.Series(doc["params"])
        for attr in ("_scale", "_negative_log_likelihood_"):
            if attr in doc:
                setattr(self, attr, doc[attr])
        names = list(self.params_.index)
        if "variance_matrix" in doc:
            self.variance_matrix_ = pd.DataFrame(doc["variance_matrix"], index=names,
                                                 columns=names)
            se = np.sqrt(np.clip(np.diag(self.variance_matrix_.to_numpy()), 0.0, None))
            self.standard_errors_ = pd.Series(se, index=names)
            self.confidence_intervals_ = pd.DataFrame(
                {"lower 95% bound": self.params_ - _Z95 * self.standard_errors_,
                 "upper 95% bound": self.params_ + _Z95 * self.standard_errors_}, index=names)
        if "data" in doc:
            split = doc["data"]
            self.data = pd.DataFrame(split["data"], index=split["index"], columns=split["columns"])
        else:
            self.data = doc.get("data_placeholder")
        self.predict = getattr(self, "conditional_expected_number_of_purchases_up_to_time", None)
        if not doc.get("generate_new_data", True):
            self.generate_new_data = None


class _TransactionFitter(BaseFitter):
    """Shared ``fit`` of the continuous-time fitters (BG/NBD, MBG/NBD, Pareto/NBD)."""

    _p_alive: ClassVar[Callable[..., Any]]
    _expected: ClassVar[Callable[..., Any]]
    _expected_new: ClassVar[Callable[..., Any]]
    _simulate: ClassVar[Callable[..., Any]]

    def fit(self, frequency: Any, recency: Any, T: Any, weights: Any = None,
            initial_params: Any = None, verbose: bool = False, tol: float = 1e-7,
            index: Any = None, **kwargs: Any) -> _TransactionFitter:
        """Fit on the RFM arrays (``weights``: customers per row); returns ``self``.

        ``verbose``, ``tol``, ``iterative_fitting`` and optimiser ``kwargs`` are
        accepted and ignored: clv's Newton optimiser converges to machine
        precision with analytic derivatives.
        """
        x = np.asarray(frequency)
        t_x = _float_array(recency)
        age = _float_array(T)
        w = np.ones(t_x.shape, dtype=np.int64) if weights is None else np.asarray(weights)
        frame = pd.DataFrame({"frequency": x.astype(np.float64), "recency": t_x, "T": age,
                              "weight": w.astype(np.float64)})
        scale = 1.0 / float(np.max(age))
        model = self._fit_native(frame, self._initial(initial_params, scale))
        columns = {"frequency": x.astype(np.int64) if np.all(x == np.round(x)) else x,
                   "recency": t_x, "T": age}
        self._store(model, columns, w, scale, index)
        self.generate_new_data = self._generate
        return self

    def _generate(self, size: int = 1) -> pd.DataFrame:
        ages = np.resize(_float_array(self.data["T"]), int(size))
        sim = type(self)._simulate(self._p(), ages, rng=np.random.default_rng())
        return pd.DataFrame(sim)

    def conditional_expected_number_of_purchases_up_to_time(
        self, t: Any, frequency: Any, recency: Any, T: Any
    ) -> Any:
        """Expected repeat purchases in the next ``t`` periods given ``(frequency, recency, T)``."""
        values = type(self)._expected(self._p(), _float_array(t), _float_array(frequency),
                                      _float_array(recency), _float_array(T))
        return _wrap(values, t, frequency, recency, T)

    def conditional_probability_alive(self, frequency: Any, recency: Any, T: Any) -> Any:
        """Probability of being alive at ``T`` (an array, as in lifetimes)."""
        values = type(self)._p_alive(self._p(), _float_array(frequency), _float_array(recency),
                                     _float_array(T))
        out = _wrap(values, frequency, recency, T)
        return out if isinstance(out, pd.Series) else np.atleast_1d(out)

    def conditional_probability_alive_matrix(self, max_frequency: int | None = None,
                                             max_recency: int | None = None) -> np.ndarray:
        """``Z[t_x, x]``: P(alive) at recency ``t_x``, frequency ``x`` and ``T = max_recency``."""
        max_frequency = max_frequency or int(self.data["frequency"].max())
        max_recency = max_recency or int(self.data["T"].max())
        t_x, x = np.meshgrid(np.arange(max_recency + 1.0), np.arange(max_frequency + 1.0),
                             indexing="ij")
        return np.asarray(type(self)._p_alive(self._p(), x, t_x, float(max_recency)))

    def expected_number_of_purchases_up_to_time(self, t: Any) -> Any:
        """Expected repeat purchases of a new customer in ``(0, t]``."""
        values = type(self)._expected_new(self._p(), _float_array(t))
        return _wrap(values, t)


class BetaGeoFitter(_TransactionFitter):
    """lifetimes' BG/NBD fitter on :class:`clv.models.BetaGeoModel` ([FHL2005])."""

    _names = ("r", "alpha", "a", "b")
    _model = BetaGeoModel
    _time_params = ("alpha",)
    _p_alive = staticmethod(_bgnbd.probability_alive)
    _expected = staticmethod(_bgnbd.expected_purchases)
    _expected_new = staticmethod(_bgnbd.expected_purchases_new_customer)
    _simulate = staticmethod(_bgnbd.simulate)
    _pmf_new = staticmethod(_bgnbd.probability_of_purchases)
    _pmf_given = staticmethod(conditional.bgnbd_probability_of_purchases)

    def probability_of_n_purchases_up_to_time(self, t: Any, n: Any) -> Any:
        """Probability that a new customer makes exactly ``n`` repeat purchases in ``(0, t]``."""
        return _wrap(type(self)._pmf_new(self._p(), _float_array(n), _float_array(t)), t, n)

    def conditional_probability_of_n_purchases_up_to_time(
        self, n: Any, t: Any, frequency: Any, recency: Any, T: Any
    ) -> Any:
        """Probability of exactly ``n`` purchases in ``(T, T + t]`` given the history (clv)."""
        values = type(self)._pmf_given(self._p(), _float_array(n), _float_array(t),
                                       _float_array(frequency), _float_array(recency),
                                       _float_array(T))
        return _wrap(values, n, t, frequency, recency, T)


class ModifiedBetaGeoFitter(BetaGeoFitter):
    """lifetimes' MBG/NBD fitter on :class:`clv.models.ModifiedBetaGeoModel` (Batislam et al.)."""

    _model = ModifiedBetaGeoModel
    _p_alive = staticmethod(_mbgnbd.probability_alive)
    _expected = staticmethod(_mbgnbd.expected_purchases)
    _expected_new = staticmethod(_mbgnbd.expected_purchases_new_customer)
    _simulate = staticmethod(_mbgnbd.simulate)
    _pmf_new = staticmethod(_mbgnbd.probability_of_purchases)
    _pmf_given = staticmethod(conditional.mbgnbd_probability_of_purchases)


class ParetoNBDFitter(_TransactionFitter):
    """lifetimes' Pareto/NBD fitter on :class:`clv.models.ParetoNBDModel` ([SMC1987])."""

    _names = ("r", "alpha", "s", "beta")
    _model = ParetoNBDModel
    _time_params = ("alpha", "beta")
    _p_alive = staticmethod(_pnbd.probability_alive)
    _expected = staticmethod(_pnbd.expected_purchases)
    _expected_new = staticmethod(_pnbd.expected_purchases_new_customer)
    _simulate = staticmethod(_pnbd.simulate)

    def _native_penalizer(self, n_rows: int) -> float:
        # lifetimes' Pareto/NBD objective is the total (not mean) negative log-likelihood
        # (divided by mean(weights)) plus the penalty; clv's is the mean, hence / n_rows
        return float(self.penalizer_coef) / max(n_rows, 1)

    def _objective_norm(self, weights: np.ndarray) -> float:
        return float(weights.mean())

    def probability_of_n_purchases_up_to_time(self, t: Any, n: Any) -> Any:
        """Probability that a new customer makes exactly ``n`` repeat purchases in ``(0, t]``.

        Not in lifetimes' Pareto/NBD fitter; added for ``plot_period_transactions``.
        """
        return _wrap(_pnbd.probability_of_purchases(self._p(), _float_array(n), _float_array(t)),
                     t, n)

    def conditional_probability_of_n_purchases_up_to_time(
        self, n: Any, t: Any, frequency: Any, recency: Any, T: Any
    ) -> Any:
        """Probability of exactly ``n`` purchases in ``(T, T + t]`` given the history."""
        values = conditional.pareto_nbd_probability_of_purchases(
            self._p(), _float_array(n), _float_array(t), _float_array(frequency),
            _float_array(recency), _float_array(T))
        return _wrap(values, n, t, frequency, recency, T)


class BetaGeoBetaBinomFitter(BaseFitter):
    """lifetimes' BG/BB fitter on :class:`clv.models.BetaGeoBetaBinomModel` ([FHS2010])."""

    _names = ("alpha", "beta", "gamma", "delta")
    _model = BetaGeoBetaBinomModel

    def fit(self, frequency: Any, recency: Any, n_periods: Any, weights: Any = None,
            initial_params: Any = None, verbose: bool = False, tol: float = 1e-7,
            index: Any = None, **kwargs: Any) -> BetaGeoBetaBinomFitter:
        """Fit on ``(frequency, recency, n_periods)`` (opportunities) with optional weights."""
        x, t_x, n = (np.asarray(v) for v in (frequency, recency, n_periods))
        w = np.ones(x.shape, dtype=np.int64) if weights is None else np.asarray(weights)
        frame = pd.DataFrame({"frequency": x.astype(np.float64), "recency": t_x.astype(np.float64),
                              "T": n.astype(np.float64), "weight": w.astype(np.float64)})
        model = self._fit_native(frame, self._initial(initial_params, 1.0))
        self._store(model, {"frequency": x, "recency": t_x, "n_periods": n}, w, 1.0, index)
        self.generate_new_data = self._generate
        return self

    _likelihood_columns = ("frequency", "recency", "n_periods")

    def _generate(self, size: int = 1) -> pd.DataFrame:
        n = np.repeat(_float_array(self.data["n_periods"]),
                      np.asarray(self.data["weights"], dtype=np.int64))
        sim = _bgbb.simulate(self._p(), np.resize(n, int(size)), rng=np.random.default_rng())
        return pd.DataFrame(sim)

    def conditional_expected_number_of_purchases_up_to_time(
        self, m_periods_in_future: Any, frequency: Any, recency: Any, n_periods: Any
    ) -> Any:
        """Expected transactions in the next ``m_periods_in_future`` opportunities."""
        values = _bgbb.expected_purchases(self._p(), _float_array(m_periods_in_future),
                                          _float_array(frequency), _float_array(recency),
                                          _float_array(n_periods))
        return _wrap(values, m_periods_in_future, frequency, recency, n_periods)

    def conditional_probability_alive(self, m_periods_in_future: Any, frequency: Any,
                                      recency: Any, n_periods: Any) -> Any:
        """Probability of being alive at opportunity ``n_periods + m_periods_in_future``."""
        values = conditional.bgbb_probability_alive_at(
            self._p(), _float_array(m_periods_in_future), _float_array(frequency),
            _float_array(recency), _float_array(n_periods))
        return _wrap(values, m_periods_in_future, frequency, recency, n_periods)

    def expected_number_of_transactions_in_first_n_periods(self, n: int) -> pd.DataFrame:
        """Expected number of customers with ``x`` transactions in the first ``n`` opportunities.

        Indexed by the frequencies present in ``data`` (lifetimes' layout), column ``model``.
        """
        counts = self.data.groupby("frequency")["weights"].sum()
        x = np.asarray(counts.index, dtype=np.float64)
        pmf = _bgbb.probability_of_purchases(self._p(), x, float(n))
        return pd.DataFrame(np.asarray(pmf) * float(counts.sum()),
                            index=pd.Index(counts.index, name="frequency"), columns=["model"])


class _UnscaledGammaGamma(GammaGammaModel):
    """Gamma-Gamma with lifetimes' penalty convention (on the unscaled ``v``)."""

    spec = dataclasses.replace(GammaGammaModel.spec, scale_columns=(), scale_params=())


class GammaGammaFitter(BaseFitter):
    """lifetimes' Gamma-Gamma fitter on :class:`clv.models.GammaGammaModel` ([FH2013])."""

    _names = ("p", "q", "v")
    _model = GammaGammaModel
    _likelihood_columns = ("frequency", "monetary_value")

    def _fit_native(self, frame: pd.DataFrame, initial: dict[str, float] | None) -> ParametricModel:
        model_cls = _UnscaledGammaGamma if self.penalizer_coef else GammaGammaModel
        return model_cls(penalizer=float(self.penalizer_coef)).fit(frame, initial_params=initial)

    def fit(self, frequency: Any, monetary_value: Any, weights: Any = None,
            initial_params: Any = None, verbose: bool = False, tol: float = 1e-7,
            index: Any = None, q_constraint: bool = False, **kwargs: Any) -> GammaGammaFitter:
        """Fit on the repeat buyers' ``(frequency, monetary_value)``.

        ``q_constraint=True`` keeps ``q >= 1`` (so the population mean spend
        ``p v / (q - 1)`` exists), as in lifetimes.
        """
        x = np.asarray(frequency)
        m = _float_array(monetary_value)
        w = np.ones(x.shape, dtype=np.int64) if weights is None else np.asarray(weights)
        frame = pd.DataFrame({"frequency": x.astype(np.float64), "monetary_value": m,
                              "weight": w.astype(np.float64)})
        model = self._fit_native(frame, self._initial(initial_params, 1.0))
        self._store(model, {"frequency": x, "monetary_value": m}, w, 1.0, index)
        self.data = self.data[["monetary_value", "frequency", "weights"]]
        if q_constraint and float(self.params_["q"]) < 1.0:
            self._fit_with_q_at_least_one(x.astype(np.float64), m, w.astype(np.float64))
        return self

    def _fit_with_q_at_least_one(self, x: np.ndarray, m: np.ndarray, w: np.ndarray) -> None:
        """Maximise the penalised likelihood with ``log q >= 0`` (the free optimum is below)."""
        rows = x > 0
        x, m, w = x[rows], m[rows], w[rows]

        def objective(logs: np.ndarray) -> float:
            params = _gg.GGParams(*np.exp(logs))
            ll = np.asarray(_gg.log_likelihood(params, x, m), dtype=np.float64)
            return float(-(w * ll).sum() / w.sum()
                         + self.penalizer_coef * np.sum(np.exp(2.0 * logs)))

        start = np.log(np.maximum(self.params_.to_numpy(dtype=np.float64), 1e-3))
        start[1] = 0.0
        res = optimize.minimize(objective, start, method="L-BFGS-B",
                                bounds=[(None, None), (0.0, None), (None, None)])
        self.params_ = pd.Series(np.exp(res.x), index=list(self._names))
        self._negative_log_likelihood_ = float(res.fun)
        nan = pd.Series(np.nan, index=self.params_.index)
        self.variance_matrix_ = pd.DataFrame(np.nan, index=self.params_.index,
                                             columns=self.params_.index)
        self.standard_errors_ = nan
        self.confidence_intervals_ = pd.DataFrame({"lower 95% bound": nan,
                                                   "upper 95% bound": nan})

    def _objective(self, columns: dict[str, np.ndarray], weights: np.ndarray,
                   scale: float) -> float:
        rows = np.asarray(columns["frequency"]) > 0  # only repeat buyers enter the likelihood
        return super()._objective({k: np.asarray(v)[rows] for k, v in columns.items()},
                                  weights[rows], scale)

    def conditional_expected_average_profit(self, frequency: Any = None,
                                            monetary_value: Any = None) -> Any:
        """Expected mean value of a customer's future transactions ([FH2013] eq. 5)."""
        if monetary_value is None:
            monetary_value = self.data["monetary_value"]
        if frequency is None:
            frequency = self.data["frequency"]
        values = _gg.expected_spend(self._p(), _float_array(frequency),
                                    _float_array(monetary_value))
        return _wrap(values, frequency, monetary_value)

    def customer_lifetime_value(self, transaction_prediction_model: Any, frequency: Any,
                                recency: Any, T: Any, monetary_value: Any, time: int = 12,
                                discount_rate: float = 0.01, freq: str = "D") -> pd.Series:
        """lifetimes' CLV: monthly steps of expected purchases x expected spend, discounted.

        See :func:`clv.compat.lifetimes.utils.customer_lifetime_value`.
        """
        from clv.compat.lifetimes.utils import customer_lifetime_value

        spend = self.conditional_expected_average_profit(frequency, monetary_value)
        return customer_lifetime_value(transaction_prediction_model, frequency, recency, T,
                                       spend, time=time, discount_rate=discount_rate, freq=freq)
