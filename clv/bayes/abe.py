r"""Hierarchical-Bayes Pareto/NBD with correlated log-normal rates (Abe 2009).

Each customer has their own purchase rate :math:`\lambda_i` and dropout rate
:math:`\mu_i`; across customers

.. math:: (\log\lambda_i, \log\mu_i) \sim \mathcal{N}(m, \Sigma),

so purchase and dropout may correlate freely (the correlation of the two logs,
``correlation``, anywhere in (-1, 1), unlike the narrow Sarmanov range of
:class:`clv.models.ParetoNBDCorrelatedModel`).  Given the rates, the
likelihood of ``(x, t_x, T)`` is the individual-level Pareto/NBD,
:func:`clv.models.pareto_nbd.individual_log_likelihood` (the same function the
NumPy code uses, here with PyTensor ops): the alive indicator and the lifetime
that Abe's Gibbs sampler draws are integrated out, and NUTS samples the rest.
The rates are sampled non-centred (:math:`\log\theta_i = m + L z_i`,
:math:`\Sigma = LL^\top`), except the purchase rate of customers with two
repeat purchases or more, sampled centred.

The population parameters are ``log_lambda_mean``, ``log_mu_mean`` (:math:`m`),
``log_lambda_sd``, ``log_mu_sd`` and ``correlation`` (:math:`\Sigma`); the
posterior also holds every customer's ``log_lambda`` and ``log_mu``, from
which the predictions are computed in closed form, draw by draw:

.. math::

   P(\text{alive at } T) &= \Bigl[1 + \tfrac{\mu}{\lambda+\mu}
       \bigl(e^{(\lambda+\mu)(T-t_x)} - 1\bigr)\Bigr]^{-1}, \\
   E[X(T, T+t] \mid \lambda, \mu, x, t_x, T] &= P(\text{alive at } T)\,
       \tfrac{\lambda}{\mu}\bigl(1 - e^{-\mu t}\bigr), \\
   P(\text{alive at } T+t) &= P(\text{alive at } T)\, e^{-\mu t}.

References
----------
.. [Abe2009] Abe, M. (2009). "Counting your customers" one by one: A
   hierarchical Bayes extension to the Pareto/NBD model. Marketing Science,
   28(3), 541-553.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar, Self

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr
from numpy.typing import ArrayLike

from clv._typing import FloatArray
from clv.bayes._base import BayesModel, Prior
from clv.bayes._draws import SUMMARY_COLUMNS, _check_thin, _summary_block, chunk_sizes
from clv.bayes._transaction import _horizon
from clv.exceptions import DataError, Problem
from clv.models._simulation import observe_purchases
from clv.models.pareto_nbd import ParetoNBDModel as _MLEParetoNBDModel
from clv.models.pareto_nbd import individual_log_likelihood

__all__ = [
    "AbeParetoNBDModel",
    "expected_purchases_given_rates",
    "expected_purchases_new_customer",
    "probability_alive_at_given_rates",
    "probability_alive_given_rates",
    "simulate",
]

_RFM = ("frequency", "recency", "T")
RATES = ("log_lambda", "log_mu")
POPULATION = ("log_lambda_mean", "log_mu_mean", "log_lambda_sd", "log_mu_sd", "correlation")
_QUADRATURE_NODES = 40


def probability_alive_given_rates(
    lam: ArrayLike, mu: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    r"""P(alive at ``T``) of a customer with known rates (first term of :math:`L` over :math:`L`).

    .. math:: P = \Bigl[1 + \frac{\mu}{\lambda+\mu}\bigl(e^{(\lambda+\mu)(T-t_x)} - 1\bigr)
              \Bigr]^{-1}

    Evaluated in log space (no overflow for long inactivity).

    Examples
    --------
    >>> round(float(probability_alive_given_rates(0.5, 0.05, 3, 20.0, 20.0)), 12)  # t_x = T
    1.0
    >>> round(float(probability_alive_given_rates(0.5, 0.05, 3, 10.0, 20.0)), 4)
    0.0432
    """
    lam, mu, x, t_x, T = (np.asarray(v, dtype=np.float64) for v in (lam, mu, frequency, recency, T))
    log_alive = x * np.log(lam) - (lam + mu) * T
    return np.exp(log_alive - individual_log_likelihood(lam, mu, x, t_x, T))


def probability_alive_at_given_rates(
    lam: ArrayLike,
    mu: ArrayLike,
    t: ArrayLike,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
) -> FloatArray:
    r"""P(alive at ``T + t``) given the rates and the history: :math:`P_{T}\,e^{-\mu t}`.

    Examples
    --------
    >>> p0 = probability_alive_given_rates(0.5, 0.05, 3, 10.0, 20.0)
    >>> bool(np.isclose(probability_alive_at_given_rates(0.5, 0.05, 10.0, 3, 10.0, 20.0),
    ...                 p0 * np.exp(-0.5)))
    True
    """
    mu = np.asarray(mu, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    return probability_alive_given_rates(lam, mu, frequency, recency, T) * np.exp(-mu * t)


def expected_purchases_given_rates(
    lam: ArrayLike,
    mu: ArrayLike,
    t: ArrayLike,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
) -> FloatArray:
    r"""Expected purchases in ``(T, T + t]`` given the rates and the history ``(x, t_x, T)``.

    .. math:: P(\text{alive at }T)\,\frac{\lambda}{\mu}\bigl(1 - e^{-\mu t}\bigr)

    (an alive customer stays for an exponential time with rate :math:`\mu`,
    buying at rate :math:`\lambda` meanwhile).

    Examples
    --------
    >>> round(float(expected_purchases_given_rates(0.5, 0.05, 10.0, 3, 20.0, 20.0)), 6)
    3.934693
    """
    lam = np.asarray(lam, dtype=np.float64)
    mu = np.asarray(mu, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    alive = probability_alive_given_rates(lam, mu, frequency, recency, T)
    return alive * lam * (-np.expm1(-mu * t)) / mu


def expected_purchases_new_customer(
    mean: ArrayLike, chol: ArrayLike, t: float, *, nodes: int = _QUADRATURE_NODES
) -> FloatArray:
    r"""Expected purchases in ``(0, t]`` of a new customer of the population ``N(mean, L L')``.

    :math:`E[\tfrac{\lambda}{\mu}(1 - e^{-\mu t})]` over the bivariate
    log-normal rates, by Gauss-Hermite quadrature (``nodes`` per dimension).

    Parameters
    ----------
    mean : array, shape (..., 2)
        Means of ``(log lambda, log mu)``, one row per draw.
    chol : array, shape (..., 2, 2)
        Lower Cholesky factors of their covariance.
    t : float
        Horizon.

    Examples
    --------
    >>> # no heterogeneity: lambda / mu * (1 - exp(-mu t)) at the mean rates
    >>> value = expected_purchases_new_customer([np.log(0.5), np.log(0.05)], np.zeros((2, 2)), 10.0)
    >>> round(float(value), 6)
    3.934693
    """
    mean = np.asarray(mean, dtype=np.float64)
    chol = np.asarray(chol, dtype=np.float64)
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    u, v = (a.ravel() for a in np.meshgrid(x, x, indexing="ij"))
    weight = np.outer(w, w).ravel()
    log_lam = mean[..., 0, None] + chol[..., 0, 0, None] * u
    log_mu = mean[..., 1, None] + chol[..., 1, 0, None] * u + chol[..., 1, 1, None] * v
    mu = np.exp(log_mu)
    value = np.exp(log_lam) * (-np.expm1(-mu * float(t))) / mu
    return np.sum(weight * value, axis=-1)


def simulate(
    mean: ArrayLike, cov: ArrayLike, T: ArrayLike, *, rng: np.random.Generator
) -> dict[str, FloatArray]:
    """Simulate customers with bivariate log-normal ``(lambda, mu)`` (Abe's population model).

    Returns the RFM columns, the rates ``lambda`` and ``mu`` and ``alive``
    (alive at ``T``); by memorylessness an alive customer's remaining lifetime
    is a fresh exponential with rate ``mu``.

    Examples
    --------
    >>> sim = simulate([-2.0, -4.0], [[0.5, 0.2], [0.2, 0.5]], np.full(3, 52.0),
    ...                rng=np.random.default_rng(0))
    >>> bool(np.all(sim["recency"] <= sim["T"]))
    True
    """
    T = np.asarray(T, dtype=np.float64)
    n = T.shape[0]
    logs = rng.multivariate_normal(np.asarray(mean, float), np.asarray(cov, float), size=n)
    lam, mu = np.exp(logs[:, 0]), np.exp(logs[:, 1])
    lifetime = rng.standard_exponential(n) / mu
    return observe_purchases(lam, lifetime, T, rng, {"lambda": lam, "mu": mu})


class AbeParetoNBDModel(BayesModel):
    r"""Hierarchical-Bayes Pareto/NBD with correlated log-normal rates ([Abe2009]_), NUTS.

    The population parameters are ``log_lambda_mean``, ``log_mu_mean``,
    ``log_lambda_sd``, ``log_mu_sd`` (priors in ``priors``) and
    ``correlation`` (an LKJ prior of concentration ``lkj_eta``); the posterior
    (``idata_``) also holds each fitted customer's ``log_lambda`` and
    ``log_mu``.  Predictions are for the fitted customers, from their own
    posterior rates; :meth:`expected_purchases_new_customer` is for a new
    customer of the population.

    Parameters
    ----------
    priors : mapping, optional
        ``{parameter: (distribution, kwargs)}`` for the means and standard
        deviations of the log rates.  Defaults: ``Normal(0, 10)`` on the means
        (Abe's and BTYDplus's diffuse prior, precision 0.01) and
        ``HalfNormal(2)`` on the standard deviations.
    lkj_eta : float, default 1.5
        Concentration of the LKJ prior of the correlation, whose density is
        proportional to :math:`(1 - \rho^2)^{\eta - 1}`; 1.5 is the marginal
        prior of the correlation under the inverse-Wishart(4, 4I) prior of
        Abe's Gibbs sampler as implemented in BTYDplus, 1 is uniform.

    Examples
    --------
    >>> AbeParetoNBDModel.param_names()
    ('log_lambda_mean', 'log_mu_mean', 'log_lambda_sd', 'log_mu_sd', 'correlation')
    """

    mle_class = _MLEParetoNBDModel  # validates the RFM frame and its period
    centred_from: ClassVar[int] = 2
    """Customers with at least this many repeat purchases have their log purchase rate
    sampled centred (it is pinned down by their purchases; non-centred, it would move in
    lockstep with the population mean), the others non-centred.  The log dropout rate,
    weakly identified for almost everyone, is non-centred given the purchase rate."""
    pointwise = False
    latent_variables: ClassVar[tuple[str, ...]] = RATES
    default_priors: ClassVar[Mapping[str, Prior]] = MappingProxyType(
        {
            "log_lambda_mean": ("Normal", {"mu": 0.0, "sigma": 10.0}),
            "log_mu_mean": ("Normal", {"mu": 0.0, "sigma": 10.0}),
            "log_lambda_sd": ("HalfNormal", {"sigma": 2.0}),
            "log_mu_sd": ("HalfNormal", {"sigma": 2.0}),
        }
    )

    def __init__(self, priors: Mapping[str, Prior] | None = None, *, lkj_eta: float = 1.5) -> None:
        if priors is not None and "correlation" in priors:
            raise ValueError(
                "AbeParetoNBDModel: the correlation has an LKJ prior; set its "
                "concentration with lkj_eta= instead of priors['correlation']."
            )
        eta = float(lkj_eta)
        if isinstance(lkj_eta, bool) or not np.isfinite(eta) or eta <= 0:
            raise ValueError(f"lkj_eta must be a finite number > 0, got {lkj_eta!r}.")
        self.lkj_eta = lkj_eta
        super().__init__(priors)

    @classmethod
    def param_names(cls) -> tuple[str, ...]:
        """The population parameters (means, standard deviations and correlation of the logs)."""
        return POPULATION

    @classmethod
    def flat_priors(cls) -> dict[str, Prior]:
        """Flat priors on the means (``Flat``) and standard deviations (``HalfFlat``)."""
        return {
            "log_lambda_mean": ("Flat", {}),
            "log_mu_mean": ("Flat", {}),
            "log_lambda_sd": ("HalfFlat", {}),
            "log_mu_sd": ("HalfFlat", {}),
        }

    def _covariates_json(self) -> str:
        return json.dumps({"lkj_eta": float(self.lkj_eta)})

    @classmethod
    def _from_attrs(cls, priors: dict[str, Prior], attrs: Mapping[str, Any], extra: dict) -> Self:
        return cls(priors=priors, **extra)

    # ------------------------------------------------------------------ data
    def _rfm(self, data: pd.DataFrame, what: str) -> pd.DataFrame:
        """The validated RFM frame: one row per customer, unique ids, no ``weight``."""
        frame = self.mle_class()._frame(data, for_fit=True)
        if "weight" in frame.columns:
            raise DataError(
                [
                    Problem(
                        "weight",
                        "each customer gets their own rates, so a row cannot stand for several",
                        "pass one row per customer (drop the weight column)",
                    )
                ],
                what=what,
            )
        duplicated = frame.index[frame.index.duplicated()].unique()
        if len(duplicated):
            raise DataError(
                [
                    Problem(
                        None,
                        f"customer ids repeat in the index: {list(duplicated[:10])}",
                        "pass one row per customer, indexed by a unique customer id",
                    )
                ],
                what=what,
            )
        return frame

    def build_model(self, data: pd.DataFrame, *, mutable_data: bool = False) -> Any:
        """The PyMC model: population priors, non-centred log rates, per-customer likelihood."""
        import pymc as pm
        import pytensor.tensor as pt

        from clv.bayes._ops import PYTENSOR

        if mutable_data:
            raise NotImplementedError(
                "AbeParetoNBDModel has one pair of rates per customer of the data; "
                "build the model for each data set instead of swapping data."
            )
        frame = self._rfm(data, "the data passed to AbeParetoNBDModel")
        x, t_x, T = (frame[c].to_numpy(dtype=np.float64) for c in _RFM)
        priors = self._priors
        with pm.Model(coords={"customer_id": frame.index.to_numpy()}) as model:
            m_lam, m_mu, sd_lam, sd_mu = (
                getattr(pm, priors[n][0])(n, **priors[n][1]) for n in POPULATION[:4]
            )
            eta = float(self.lkj_eta)  # LKJ for two dimensions: (1 + rho) / 2 ~ Beta(eta, eta)
            unit = pm.Beta("correlation_unit", alpha=eta, beta=eta)
            rho = pm.Deterministic("correlation", 2.0 * unit - 1.0)
            # log lambda: centred where the purchases pin it down, non-centred elsewhere
            centred = np.flatnonzero(x >= self.centred_from)
            loose = np.flatnonzero(x < self.centred_from)
            z_lam = pt.zeros(len(x))
            log_lam = pt.zeros(len(x))
            if loose.size:
                z_loose = pm.Normal("z_log_lambda", 0.0, 1.0, shape=loose.size)
                z_lam = pt.set_subtensor(z_lam[loose], z_loose)
                log_lam = pt.set_subtensor(log_lam[loose], m_lam + sd_lam * z_loose)
            if centred.size:
                direct = pm.Normal("log_lambda_centred", m_lam, sd_lam, shape=centred.size)
                z_lam = pt.set_subtensor(z_lam[centred], (direct - m_lam) / sd_lam)
                log_lam = pt.set_subtensor(log_lam[centred], direct)
            log_lam = pm.Deterministic("log_lambda", log_lam, dims="customer_id")
            z_mu = pm.Normal("z_log_mu", 0.0, 1.0, dims="customer_id")
            log_mu = pm.Deterministic(
                "log_mu",
                m_mu + sd_mu * (rho * z_lam + pt.sqrt(1.0 - rho**2) * z_mu),
                dims="customer_id",
            )
            ll = individual_log_likelihood(pt.exp(log_lam), pt.exp(log_mu), x, t_x, T, ops=PYTENSOR)
            pm.Potential("log_likelihood", pt.sum(ll))
        return model

    def fit(
        self,
        data: pd.DataFrame,
        method: str = "nuts",
        *,
        sampler: str = "pymc",
        log_likelihood: bool | None = None,
        **sampler_kwargs: Any,
    ) -> Self:
        """Sample the posterior (see :meth:`clv.bayes.BayesModel.fit`).

        ``method`` is ``"nuts"`` or ``"advi"``: the posterior mode of a
        hierarchical model sits where the standard deviations collapse to 0,
        so ``"map"`` is refused.  There is no pointwise log-likelihood (the
        per-customer rates are parameters), so ``log_likelihood`` must stay off.
        """
        if method == "map":
            raise ValueError(
                "AbeParetoNBDModel: the MAP of a hierarchical model collapses the "
                "spread of the rates to 0; use method='nuts' (or 'advi')."
            )
        if log_likelihood:
            raise ValueError(
                "AbeParetoNBDModel has no pointwise log-likelihood (each customer's "
                "rates are parameters of the model)."
            )
        frame = self._rfm(data, "the data passed to AbeParetoNBDModel")
        super().fit(frame, method, sampler=sampler, log_likelihood=False, **sampler_kwargs)
        self.idata_.add_groups(
            constant_data=xr.Dataset(
                {c: ("customer_id", frame[c].to_numpy(dtype=np.float64)) for c in _RFM},
                coords={"customer_id": frame.index.to_numpy()},
            )
        )
        return self

    @classmethod
    def from_idata(  # type: ignore[override]
        cls,
        idata: az.InferenceData,
        *,
        priors: Mapping[str, Prior] | None = None,
        method: str = "external",
        lkj_eta: float = 1.5,
    ) -> Self:
        """A fitted model from a posterior holding the population parameters and the
        per-customer ``log_lambda``, ``log_mu`` (dims ``chain, draw, customer_id``)."""
        return cls(priors=priors, lkj_eta=lkj_eta)._attach(idata, method)

    def _missing_draws(self, posterior: xr.Dataset) -> list[str]:
        missing = super()._missing_draws(posterior)
        return missing + [
            n for n in RATES if n not in posterior or "customer_id" not in posterior[n].dims
        ]

    def _with_attrs(self, idata: az.InferenceData, method: str) -> az.InferenceData:
        out = super()._with_attrs(idata, method)
        if "constant_data" in idata.groups():
            out.add_groups(constant_data=idata["constant_data"])
        return out

    def pointwise_log_likelihood(self, data: pd.DataFrame, *, thin: int = 1) -> xr.DataArray:
        """Not available: each customer's rates are parameters (no marginal pointwise term)."""
        raise NotImplementedError(
            "AbeParetoNBDModel has no pointwise log-likelihood: each customer's "
            "rates are parameters of the model."
        )

    def point_models(self, thin: int = 1, *, segment: Any = None) -> Any:
        """Not available: the population is log-normal, not a Pareto/NBD parameter set."""
        raise NotImplementedError(
            "AbeParetoNBDModel has no Pareto/NBD point models (its population is "
            "log-normal); use its own predictions."
        )

    # ------------------------------------------------------------------ population
    def population_draws(self, thin: int = 1) -> pd.DataFrame:
        """Draws of the mean and covariance of ``(log lambda, log mu)``, one row per draw.

        Columns ``log_lambda, log_mu, var_log_lambda, cov_log_lambda_log_mu,
        var_log_mu``, the layout of BTYDplus's ``abe.mcmc.DrawParameters``
        cohort-level draws.
        """
        self._check_fitted()
        post = self.idata_["posterior"].isel(draw=slice(None, None, _check_thin(thin)))

        def flat(n: str) -> np.ndarray:
            return np.asarray(post[n].transpose("chain", "draw").values, np.float64).ravel()

        sd_l, sd_m, rho = flat("log_lambda_sd"), flat("log_mu_sd"), flat("correlation")
        return pd.DataFrame(
            {
                "log_lambda": flat("log_lambda_mean"),
                "log_mu": flat("log_mu_mean"),
                "var_log_lambda": sd_l**2,
                "cov_log_lambda_log_mu": rho * sd_l * sd_m,
                "var_log_mu": sd_m**2,
            }
        ).rename_axis(columns="param")

    def individual_params(self, data: pd.DataFrame, params: Any = None) -> pd.DataFrame:
        """Posterior means of each customer's ``lambda`` and ``mu`` (fitted customers only)."""
        if params is not None:
            raise ValueError(
                "AbeParetoNBDModel.individual_params takes no params: each customer's "
                "rates come from their own posterior draws."
            )
        lam, mu, _, _, _ = self._rates(data, 1)
        return pd.DataFrame({"lambda": lam.mean(axis=0), "mu": mu.mean(axis=0)}, index=data.index)

    # ------------------------------------------------------------------ predictions
    def _rates(
        self, data: pd.DataFrame, thin: int
    ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray], np.ndarray, np.ndarray]:
        """Draws ``(samples, customers)`` of ``lambda`` and ``mu`` for the rows of ``data``,
        their RFM columns, and the chain and draw labels."""
        self._check_fitted()
        what = "the data passed to AbeParetoNBDModel"
        cols = self._customer_arrays(data, _RFM)
        post = self.idata_["posterior"].isel(draw=slice(None, None, _check_thin(thin)))
        fitted = pd.Index(post.coords["customer_id"].values)
        pos = fitted.get_indexer(data.index) if fitted.is_unique else None
        if pos is None or np.any(pos < 0):
            unknown = list(data.index[pos < 0][:10]) if pos is not None else []
            raise DataError(
                [
                    Problem(
                        None,
                        f"customer(s) {unknown} were not in the data the model was fitted on",
                        "the posterior holds rates for the fitted customers only; refit "
                        "with them included",
                    )
                ],
                what=what,
            )
        if "constant_data" in self.idata_.groups():
            const = self.idata_["constant_data"]
            for name, col in zip(_RFM, cols, strict=True):
                seen = np.asarray(const[name].values, dtype=np.float64)[pos]
                bad = ~np.isclose(col, seen, rtol=1e-9, atol=1e-9)
                if bad.any():
                    raise DataError(
                        [
                            Problem(
                                name,
                                f"differs from the fitted history for customer(s) "
                                f"{list(data.index[bad][:10])}",
                                "the rates were conditioned on the calibration history; "
                                "pass the frame the model was fitted on (or refit)",
                            )
                        ],
                        what=what,
                    )
        chains, draws = post.coords["chain"].values, post.coords["draw"].values
        lam, mu = (
            np.exp(
                np.asarray(
                    post[n].transpose("chain", "draw", "customer_id").values, np.float64
                ).reshape(chains.size * draws.size, -1)[:, pos]
            )
            for n in RATES
        )
        return lam, mu, cols, chains, draws

    def _over_customers(
        self,
        func: Callable[..., FloatArray],
        data: pd.DataFrame,
        name: str,
        *,
        thin: int,
        summary_only: bool,
        chunk_size: int | None,
    ) -> xr.DataArray | pd.DataFrame:
        """``func(lam, mu, x, t_x, T)`` at every draw (rows) and customer (columns)."""
        lam, mu, cols, chains, draws = self._rates(data, thin)
        n_samples, n = lam.shape
        ids = data.index.to_numpy()
        steps = chunk_sizes(n, n_samples, chunk_size)

        def block(lo: int, hi: int) -> np.ndarray:
            return func(lam[:, lo:hi], mu[:, lo:hi], *(c[None, lo:hi] for c in cols))

        if summary_only:
            parts = [_summary_block(block(lo, hi)) for lo, hi in steps]
            return pd.DataFrame(
                np.concatenate(parts, axis=0) if parts else np.empty((0, len(SUMMARY_COLUMNS))),
                columns=list(SUMMARY_COLUMNS),
                index=pd.Index(ids, name="customer_id"),
            )
        full = np.empty((n_samples, n))
        for lo, hi in steps:
            full[:, lo:hi] = block(lo, hi)
        return xr.DataArray(
            full.reshape(chains.size, draws.size, n),
            dims=("chain", "draw", "customer_id"),
            coords={"chain": chains, "draw": draws, "customer_id": ids},
            name=name,
        )

    def probability_alive(
        self,
        data: pd.DataFrame,
        *,
        thin: int = 1,
        summary_only: bool = False,
        chunk_size: int | None = None,
    ) -> xr.DataArray | pd.DataFrame:
        """P(alive at ``T``) per draw, from each customer's own rates: (chain, draw, customer_id).

        ``data`` holds fitted customers (by index) with their calibration RFM.
        """
        return self._over_customers(
            probability_alive_given_rates,
            data,
            "probability_alive",
            thin=thin,
            summary_only=summary_only,
            chunk_size=chunk_size,
        )

    def probability_alive_at(
        self,
        t: ArrayLike,
        data: pd.DataFrame,
        *,
        thin: int = 1,
        summary_only: bool = False,
        chunk_size: int | None = None,
    ) -> xr.DataArray | pd.DataFrame:
        """P(alive at ``T + t``) per draw (see :func:`probability_alive_at_given_rates`)."""
        h = _horizon(t)
        return self._over_customers(
            lambda lam, mu, x, t_x, T: probability_alive_at_given_rates(lam, mu, h, x, t_x, T),
            data,
            "probability_alive_at",
            thin=thin,
            summary_only=summary_only,
            chunk_size=chunk_size,
        )

    def expected_purchases(
        self,
        t: ArrayLike,
        data: pd.DataFrame,
        *,
        thin: int = 1,
        summary_only: bool = False,
        chunk_size: int | None = None,
    ) -> xr.DataArray | pd.DataFrame:
        """Expected purchases in ``(T, T + t]`` given each customer's history, per draw.

        See :func:`expected_purchases_given_rates`; the posterior mean over the
        draws is the Bayesian conditional expectation.
        """
        h = _horizon(t)
        return self._over_customers(
            lambda lam, mu, x, t_x, T: expected_purchases_given_rates(lam, mu, h, x, t_x, T),
            data,
            "expected_purchases",
            thin=thin,
            summary_only=summary_only,
            chunk_size=chunk_size,
        )

    def expected_purchases_new_customer(self, t: ArrayLike, *, thin: int = 1) -> xr.DataArray:
        """Expected purchases of a new customer of the population in ``(0, t]``: (chain, draw)."""
        h = _horizon(t)
        self._check_fitted()
        post = self.idata_["posterior"].isel(draw=slice(None, None, _check_thin(thin)))

        def flat(n: str) -> np.ndarray:
            return np.asarray(post[n].transpose("chain", "draw").values, np.float64)

        sd_l, sd_m, rho = flat("log_lambda_sd"), flat("log_mu_sd"), flat("correlation")
        mean = np.stack([flat("log_lambda_mean"), flat("log_mu_mean")], axis=-1)
        chol = np.zeros((*sd_l.shape, 2, 2))
        chol[..., 0, 0] = sd_l
        chol[..., 1, 0] = rho * sd_m
        chol[..., 1, 1] = sd_m * np.sqrt(np.clip(1.0 - rho**2, 0.0, None))
        return xr.DataArray(
            expected_purchases_new_customer(mean, chol, h),
            dims=("chain", "draw"),
            coords={"chain": post.coords["chain"].values, "draw": post.coords["draw"].values},
            name="expected_purchases_new_customer",
        )
