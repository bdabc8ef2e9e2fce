r"""Hierarchical-Bayes Pareto/NBD with correlated log-normal rates (Abe 2009).

Each customer has their own purchase rate :math:`\lambda_i` and dropout rate
:math:`\mu_i`; across customers

.. math:: (\log\lambda_i, \log\mu_i) \sim \mathcal{N}(m, \Sigma),

so purchase and dropout may correlate freely (the correlation of the two logs,
``correlation``, anywhere in (-1, 1), unlike the narrow Sarmanov range of
:class:`clv.models.ParetoNBDCorrelatedModel`).  Given the rates, the
likelihood of ``(x, t_x, T)`` is the individual-level Pareto/NBD,
:func:`clv.models.pareto_nbd.individual_log_likelihood` (the same function the
NumPy code uses, here with PyTensor ops).  The rates are sampled non-centred
(:math:`\log\theta_i = m + L z_i`, :math:`\Sigma = LL^\top`) with an LKJ prior
on the correlation.

References
----------
.. [Abe2009] Abe, M. (2009). "Counting your customers" one by one: A
   hierarchical Bayes extension to the Pareto/NBD model. Marketing Science,
   28(3), 541-553.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from clv._typing import FloatArray
from clv.exceptions import DataError, NotFittedError
from clv.models._simulation import observe_purchases
from clv.models.pareto_nbd import individual_log_likelihood

__all__ = ["AbeParetoNBDModel", "build_model", "probability_alive_given_rates", "simulate"]

_RFM = ("frequency", "recency", "T")
RATES = ("log_lambda", "log_mu")


def probability_alive_given_rates(
    lam: ArrayLike, mu: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    r"""P(alive at ``T``) of a customer with known rates (first term of :math:`L` over :math:`L`).

    .. math:: P = \Bigl[1 + \frac{\mu}{\lambda+\mu}\bigl(e^{(\lambda+\mu)(T-t_x)} - 1\bigr)
              \Bigr]^{-1}

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


def simulate(
    mean: ArrayLike, cov: ArrayLike, T: ArrayLike, *, rng: np.random.Generator
) -> dict[str, FloatArray]:
    """Simulate customers with bivariate log-normal ``(lambda, mu)`` (Abe's population model).

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


def build_model(data: pd.DataFrame, *, lkj_eta: float = 2.0) -> Any:
    """The PyMC model of :class:`AbeParetoNBDModel` for an RFM frame.

    Priors: ``mean ~ Normal(log(sum x / sum T), 3)`` for the log purchase rate
    and ``Normal(log(1 / max T), 3)`` for the log dropout rate; standard
    deviations ``HalfNormal(2)``; correlation ``LKJ(lkj_eta)``.
    """
    import pymc as pm
    import pytensor.tensor as pt

    from clv.bayes._ops import PYTENSOR

    x, t_x, T = (np.asarray(data[c], dtype=np.float64) for c in _RFM)
    rate = max(float(x.sum() / T.sum()), 1e-3)
    centre = np.array([np.log(rate), -np.log(float(T.max()))])
    coords = {"customer": np.asarray(data.index), "rate": list(RATES)}
    with pm.Model(coords=coords) as model:
        mean = pm.Normal("mean", mu=centre, sigma=3.0, dims="rate")
        chol, corr, sd = pm.LKJCholeskyCov(
            "chol", n=2, eta=lkj_eta, sd_dist=pm.HalfNormal.dist(2.0), compute_corr=True
        )
        pm.Deterministic("sd", sd, dims="rate")
        pm.Deterministic("correlation", corr[0, 1])
        z = pm.Normal("z", 0.0, 1.0, dims=("customer", "rate"))
        logs = pm.Deterministic("log_rates", mean + pt.dot(z, chol.T), dims=("customer", "rate"))
        lam, mu = pt.exp(logs[:, 0]), pt.exp(logs[:, 1])
        ll = individual_log_likelihood(lam, mu, x, t_x, T, ops=PYTENSOR)
        pm.Potential("log_likelihood", pt.sum(ll))
    return model


class AbeParetoNBDModel:
    """Hierarchical-Bayes Pareto/NBD with correlated log-normal rates ([Abe2009]_), NUTS.

    After :meth:`fit`, ``idata`` holds the posterior; :meth:`summary` the
    population parameters (means and standard deviations of the log rates,
    their correlation); :meth:`probability_alive` averages each customer's
    probability over the posterior draws of their own rates.

    Parameters
    ----------
    lkj_eta : float, default 2.0
        Concentration of the LKJ prior on the correlation (1: uniform).
    """

    def __init__(self, *, lkj_eta: float = 2.0) -> None:
        self.lkj_eta = lkj_eta
        self.idata: Any = None

    def fit(
        self,
        data: pd.DataFrame,
        *,
        draws: int = 1000,
        tune: int = 1000,
        chains: int = 2,
        random_state: int | None = None,
        **sample_kwargs: Any,
    ) -> Self:
        """Sample the posterior with PyMC's NUTS (``sample_kwargs`` go to ``pm.sample``)."""
        import pymc as pm

        missing = [c for c in _RFM if c not in data.columns]
        if missing:
            raise DataError(
                f"AbeParetoNBDModel.fit: missing column(s) {missing}; "
                "pass an RFM frame (clv.data.rfm_summary)."
            )
        self._data_index = data.index
        with build_model(data, lkj_eta=self.lkj_eta):
            self.idata = pm.sample(
                draws=draws,
                tune=tune,
                chains=chains,
                random_seed=random_state,
                progressbar=False,
                **sample_kwargs,
            )
        return self

    def _posterior(self) -> Any:
        if self.idata is None:
            raise NotFittedError("AbeParetoNBDModel: call fit() first.")
        return self.idata.posterior

    def summary(self) -> pd.DataFrame:
        """Posterior mean, sd and 94 % interval of the population parameters."""
        post = self._posterior()
        rows: dict[str, FloatArray] = {}
        for k, rate in enumerate(RATES):
            rows[f"mean[{rate}]"] = post["mean"].values[..., k].ravel()
            rows[f"sd[{rate}]"] = post["sd"].values[..., k].ravel()
        rows["correlation"] = post["correlation"].values.ravel()
        return pd.DataFrame(
            {
                "mean": {k: float(np.mean(v)) for k, v in rows.items()},
                "sd": {k: float(np.std(v)) for k, v in rows.items()},
                "hdi_3%": {k: float(np.quantile(v, 0.03)) for k, v in rows.items()},
                "hdi_97%": {k: float(np.quantile(v, 0.97)) for k, v in rows.items()},
            }
        )

    def probability_alive(self, data: pd.DataFrame) -> pd.Series:
        """Posterior mean of P(alive at ``T``) for the customers the model was fitted on."""
        logs = self._posterior()["log_rates"].values  # (chain, draw, customer, rate)
        if len(data) != logs.shape[2]:
            raise DataError(
                "AbeParetoNBDModel.probability_alive: pass the frame the model was fitted on "
                f"({logs.shape[2]} customers), got {len(data)} rows."
            )
        x, t_x, T = (np.asarray(data[c], dtype=np.float64) for c in _RFM)
        lam, mu = np.exp(logs[..., 0]), np.exp(logs[..., 1])
        p = probability_alive_given_rates(lam, mu, x, t_x, T).mean(axis=(0, 1))
        return pd.Series(p, index=data.index, name="probability_alive")
