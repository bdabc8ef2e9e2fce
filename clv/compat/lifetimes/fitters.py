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
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import optimize

from clv.compat.lifetimes._base import BaseFitter, _float_array
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

_Fn = Callable[..., Any]  # a pure function of clv.models

__all__ = [
    "BaseFitter",
    "BetaGeoBetaBinomFitter",
    "BetaGeoFitter",
    "GammaGammaFitter",
    "ModifiedBetaGeoFitter",
    "ParetoNBDFitter",
]


class _TransactionFitter(BaseFitter):
    """Shared ``fit`` of the continuous-time fitters (BG/NBD, MBG/NBD, Pareto/NBD)."""

    _p_alive: ClassVar[Callable[..., Any]]
    _expected: ClassVar[Callable[..., Any]]
    _expected_new: ClassVar[Callable[..., Any]]
    _simulate: ClassVar[Callable[..., Any]]

    def fit(
        self,
        frequency: Any,
        recency: Any,
        T: Any,
        weights: Any = None,
        initial_params: Any = None,
        verbose: bool = False,
        tol: float = 1e-7,
        index: Any = None,
        **kwargs: Any,
    ) -> _TransactionFitter:
        """Fit on the RFM arrays (``weights``: customers per row); returns ``self``.

        ``verbose``, ``tol``, ``iterative_fitting`` and optimiser ``kwargs`` are
        accepted and ignored: clv's Newton optimiser converges to machine
        precision with analytic derivatives.
        """
        x = np.asarray(frequency)
        t_x = _float_array(recency)
        age = _float_array(T)
        scale = 1.0 / float(np.max(age))
        columns = {
            "frequency": x.astype(np.int64) if np.all(x == np.round(x)) else x,
            "recency": t_x,
            "T": age,
        }
        fitted = {"frequency": x, "recency": t_x, "T": age}
        self._fit_arrays(fitted, columns, weights, initial_params, scale, index)
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
        return self._at_params(type(self)._expected, t, frequency, recency, T)

    def conditional_probability_alive(self, frequency: Any, recency: Any, T: Any) -> Any:
        """Probability of being alive at ``T`` (an array, as in lifetimes)."""
        out = self._at_params(type(self)._p_alive, frequency, recency, T)
        return out if isinstance(out, pd.Series) else np.atleast_1d(out)

    def conditional_probability_alive_matrix(
        self, max_frequency: int | None = None, max_recency: int | None = None
    ) -> np.ndarray:
        """``Z[t_x, x]``: P(alive) at recency ``t_x``, frequency ``x`` and ``T = max_recency``."""
        max_frequency = max_frequency or int(self.data["frequency"].max())
        max_recency = max_recency or int(self.data["T"].max())
        t_x, x = np.meshgrid(
            np.arange(max_recency + 1.0), np.arange(max_frequency + 1.0), indexing="ij"
        )
        return np.asarray(type(self)._p_alive(self._p(), x, t_x, float(max_recency)))

    def expected_number_of_purchases_up_to_time(self, t: Any) -> Any:
        """Expected repeat purchases of a new customer in ``(0, t]``."""
        return self._at_params(type(self)._expected_new, t)


class BetaGeoFitter(_TransactionFitter):
    """lifetimes' BG/NBD fitter on :class:`clv.models.BetaGeoModel` ([FHL2005])."""

    _names = ("r", "alpha", "a", "b")
    _model: ClassVar[type[ParametricModel]] = BetaGeoModel
    _time_params = ("alpha",)
    _p_alive: ClassVar[_Fn] = staticmethod(_bgnbd.probability_alive)
    _expected: ClassVar[_Fn] = staticmethod(_bgnbd.expected_purchases)
    _expected_new: ClassVar[_Fn] = staticmethod(_bgnbd.expected_purchases_new_customer)
    _simulate: ClassVar[_Fn] = staticmethod(_bgnbd.simulate)
    _pmf_new: ClassVar[_Fn] = staticmethod(_bgnbd.probability_of_purchases)
    _pmf_given: ClassVar[_Fn] = staticmethod(conditional.bgnbd_probability_of_purchases)

    def probability_of_n_purchases_up_to_time(self, t: Any, n: Any) -> Any:
        """Probability that a new customer makes exactly ``n`` repeat purchases in ``(0, t]``."""
        return self._at_params(type(self)._pmf_new, n, t, like=(t, n))

    def conditional_probability_of_n_purchases_up_to_time(
        self, n: Any, t: Any, frequency: Any, recency: Any, T: Any
    ) -> Any:
        """Probability of exactly ``n`` purchases in ``(T, T + t]`` given the history (clv)."""
        return self._at_params(type(self)._pmf_given, n, t, frequency, recency, T)


class ModifiedBetaGeoFitter(BetaGeoFitter):
    """lifetimes' MBG/NBD fitter on :class:`clv.models.ModifiedBetaGeoModel` (Batislam et al.)."""

    _model: ClassVar[type[ParametricModel]] = ModifiedBetaGeoModel
    _p_alive: ClassVar[_Fn] = staticmethod(_mbgnbd.probability_alive)
    _expected: ClassVar[_Fn] = staticmethod(_mbgnbd.expected_purchases)
    _expected_new: ClassVar[_Fn] = staticmethod(_mbgnbd.expected_purchases_new_customer)
    _simulate: ClassVar[_Fn] = staticmethod(_mbgnbd.simulate)
    _pmf_new: ClassVar[_Fn] = staticmethod(_mbgnbd.probability_of_purchases)
    _pmf_given: ClassVar[_Fn] = staticmethod(conditional.mbgnbd_probability_of_purchases)


class ParetoNBDFitter(_TransactionFitter):
    """lifetimes' Pareto/NBD fitter on :class:`clv.models.ParetoNBDModel` ([SMC1987])."""

    _names = ("r", "alpha", "s", "beta")
    _model: ClassVar[type[ParametricModel]] = ParetoNBDModel
    _time_params = ("alpha", "beta")
    _p_alive: ClassVar[_Fn] = staticmethod(_pnbd.probability_alive)
    _expected: ClassVar[_Fn] = staticmethod(_pnbd.expected_purchases)
    _expected_new: ClassVar[_Fn] = staticmethod(_pnbd.expected_purchases_new_customer)
    _simulate: ClassVar[_Fn] = staticmethod(_pnbd.simulate)

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
        return self._at_params(_pnbd.probability_of_purchases, n, t, like=(t, n))

    def conditional_probability_of_n_purchases_up_to_time(
        self, n: Any, t: Any, frequency: Any, recency: Any, T: Any
    ) -> Any:
        """Probability of exactly ``n`` purchases in ``(T, T + t]`` given the history."""
        return self._at_params(
            conditional.pareto_nbd_probability_of_purchases, n, t, frequency, recency, T
        )


class BetaGeoBetaBinomFitter(BaseFitter):
    """lifetimes' BG/BB fitter on :class:`clv.models.BetaGeoBetaBinomModel` ([FHS2010])."""

    _names = ("alpha", "beta", "gamma", "delta")
    _model = BetaGeoBetaBinomModel

    def fit(
        self,
        frequency: Any,
        recency: Any,
        n_periods: Any,
        weights: Any = None,
        initial_params: Any = None,
        verbose: bool = False,
        tol: float = 1e-7,
        index: Any = None,
        **kwargs: Any,
    ) -> BetaGeoBetaBinomFitter:
        """Fit on ``(frequency, recency, n_periods)`` (opportunities) with optional weights."""
        x, t_x, n = (np.asarray(v) for v in (frequency, recency, n_periods))
        fitted = {"frequency": x, "recency": t_x, "T": n}
        columns = {"frequency": x, "recency": t_x, "n_periods": n}
        self._fit_arrays(fitted, columns, weights, initial_params, 1.0, index)
        self.generate_new_data = self._generate
        return self

    _likelihood_columns = ("frequency", "recency", "n_periods")

    def _generate(self, size: int = 1) -> pd.DataFrame:
        n = np.repeat(
            _float_array(self.data["n_periods"]), np.asarray(self.data["weights"], dtype=np.int64)
        )
        sim = _bgbb.simulate(self._p(), np.resize(n, int(size)), rng=np.random.default_rng())
        return pd.DataFrame(sim)

    def conditional_expected_number_of_purchases_up_to_time(
        self, m_periods_in_future: Any, frequency: Any, recency: Any, n_periods: Any
    ) -> Any:
        """Expected transactions in the next ``m_periods_in_future`` opportunities."""
        return self._at_params(
            _bgbb.expected_purchases, m_periods_in_future, frequency, recency, n_periods
        )

    def conditional_probability_alive(
        self, m_periods_in_future: Any, frequency: Any, recency: Any, n_periods: Any
    ) -> Any:
        """Probability of being alive at opportunity ``n_periods + m_periods_in_future``."""
        return self._at_params(
            conditional.bgbb_probability_alive_at,
            m_periods_in_future,
            frequency,
            recency,
            n_periods,
        )

    def expected_number_of_transactions_in_first_n_periods(self, n: int) -> pd.DataFrame:
        """Expected number of customers with ``x`` transactions in the first ``n`` opportunities.

        Indexed by the frequencies present in ``data`` (lifetimes' layout), column ``model``.
        """
        counts = self.data.groupby("frequency")["weights"].sum()
        x = np.asarray(counts.index, dtype=np.float64)
        pmf = _bgbb.probability_of_purchases(self._p(), x, float(n))
        return pd.DataFrame(
            np.asarray(pmf) * float(counts.sum()),
            index=pd.Index(counts.index, name="frequency"),
            columns=["model"],
        )


#: Gamma-Gamma with lifetimes' penalty convention (on the unscaled ``v``: no rescaling)
_UnscaledGammaGamma: type[GammaGammaModel] = type(
    "_UnscaledGammaGamma",
    (GammaGammaModel,),
    {"spec": dataclasses.replace(GammaGammaModel.spec, scale_columns=(), scale_params=())},
)


class GammaGammaFitter(BaseFitter):
    """lifetimes' Gamma-Gamma fitter on :class:`clv.models.GammaGammaModel` ([FH2013])."""

    _names = ("p", "q", "v")
    _model = GammaGammaModel
    _likelihood_columns = ("frequency", "monetary_value")

    def _fit_native(self, frame: pd.DataFrame, initial: dict[str, float] | None) -> ParametricModel:
        model_cls = _UnscaledGammaGamma if self.penalizer_coef else GammaGammaModel
        return model_cls(penalizer=float(self.penalizer_coef)).fit(frame, initial_params=initial)

    def fit(
        self,
        frequency: Any,
        monetary_value: Any,
        weights: Any = None,
        initial_params: Any = None,
        verbose: bool = False,
        tol: float = 1e-7,
        index: Any = None,
        q_constraint: bool = False,
        **kwargs: Any,
    ) -> GammaGammaFitter:
        """Fit on the repeat buyers' ``(frequency, monetary_value)``.

        ``q_constraint=True`` keeps ``q >= 1`` (so the population mean spend
        ``p v / (q - 1)`` exists), as in lifetimes.
        """
        x = np.asarray(frequency)
        m = _float_array(monetary_value)
        columns = {"frequency": x, "monetary_value": m}
        w = self._fit_arrays(columns, columns, weights, initial_params, 1.0, index)
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
            return float(
                -(w * ll).sum() / w.sum() + self.penalizer_coef * np.sum(np.exp(2.0 * logs))
            )

        start = np.log(np.maximum(self.params_.to_numpy(dtype=np.float64), 1e-3))
        start[1] = 0.0
        res = optimize.minimize(
            objective, start, method="L-BFGS-B", bounds=[(None, None), (0.0, None), (None, None)]
        )
        self.params_ = pd.Series(np.exp(res.x), index=list(self._names))
        self._negative_log_likelihood_ = float(res.fun)
        nan = pd.Series(np.nan, index=self.params_.index)
        self.variance_matrix_ = pd.DataFrame(
            np.nan, index=self.params_.index, columns=self.params_.index
        )
        self.standard_errors_ = nan
        self.confidence_intervals_ = pd.DataFrame({"lower 95% bound": nan, "upper 95% bound": nan})

    def _objective(
        self, columns: dict[str, np.ndarray], weights: np.ndarray, scale: float
    ) -> float:
        rows = np.asarray(columns["frequency"]) > 0  # only repeat buyers enter the likelihood
        return super()._objective(
            {k: np.asarray(v)[rows] for k, v in columns.items()}, weights[rows], scale
        )

    def conditional_expected_average_profit(
        self, frequency: Any = None, monetary_value: Any = None
    ) -> Any:
        """Expected mean value of a customer's future transactions ([FH2013] eq. 5)."""
        if monetary_value is None:
            monetary_value = self.data["monetary_value"]
        if frequency is None:
            frequency = self.data["frequency"]
        return self._at_params(_gg.expected_spend, frequency, monetary_value)

    def customer_lifetime_value(
        self,
        transaction_prediction_model: Any,
        frequency: Any,
        recency: Any,
        T: Any,
        monetary_value: Any,
        time: int = 12,
        discount_rate: float = 0.01,
        freq: str = "D",
    ) -> pd.Series:
        """lifetimes' CLV: monthly steps of expected purchases x expected spend, discounted.

        See :func:`clv.compat.lifetimes.utils.customer_lifetime_value`.
        """
        from clv.compat.lifetimes.utils import customer_lifetime_value

        spend = self.conditional_expected_average_profit(frequency, monetary_value)
        return customer_lifetime_value(
            transaction_prediction_model,
            frequency,
            recency,
            T,
            spend,
            time=time,
            discount_rate=discount_rate,
            freq=freq,
        )
