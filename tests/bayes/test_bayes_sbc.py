"""Simulation-based calibration of the Bayesian BG/NBD (slow tier).

Draw parameters from the prior, simulate customers, approximate the posterior
(MAP + Laplace on the log scale, with the log-Jacobian), and rank the true
value among posterior draws: if priors, likelihood and inference agree, the
ranks are uniform (Talts et al. 2018).  The PyMC log-density is compiled once
and reused on each simulated data set through ``pm.Data``.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

pytest.importorskip("pymc")
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "ArviZ is undergoing", FutureWarning)
    import pymc as pm

    import clv.bayes as cb
from clv.models import bgnbd

PRIOR = {  # Gamma(shape, rate), informative enough for 300 customers
    "r": (8.0, 32.0),
    "alpha": (8.0, 2.0),
    "a": (8.0, 10.0),
    "b": (8.0, 3.2),
}
N_CUSTOMERS = 300
REPLICATES = 60
DRAWS = 99  # ranks 0..99: 100 possible values, in 5 bins of 20


def _simulate(theta: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    T = rng.uniform(20.0, 52.0, N_CUSTOMERS)
    sim = bgnbd.simulate(bgnbd.BGNBDParams(*theta), T, rng=rng)
    return pd.DataFrame({"frequency": sim["frequency"], "recency": sim["recency"], "T": T})


def _sbc_pvalues(simulation_prior: dict[str, tuple[float, float]]) -> dict[str, float]:
    """Chi-square p-values of the rank histograms, simulating from ``simulation_prior``."""
    rng = np.random.default_rng(20261127)
    names = list(PRIOR)
    priors = {n: ("Gamma", {"alpha": a, "beta": b}) for n, (a, b) in PRIOR.items()}
    bayes = cb.BetaGeoModel(priors=priors)

    def prior_draw() -> np.ndarray:
        return np.array([rng.gamma(a, 1.0 / b) for a, b in simulation_prior.values()])

    model = bayes.build_model(_simulate(prior_draw(), rng), mutable_data=True)
    values = [model.rvs_to_values[model[n]].name for n in names]
    logp = model.compile_logp(jacobian=True)
    dlogp = model.compile_dlogp(jacobian=True)

    def point(u: np.ndarray) -> dict[str, np.ndarray]:
        return {v: np.asarray(x) for v, x in zip(values, u, strict=True)}

    ranks = np.zeros((REPLICATES, len(names)), dtype=np.int64)
    for rep in range(REPLICATES):
        theta = prior_draw()
        cols, counts, _ = bayes._fit_data(_simulate(theta, rng))
        pm.set_data(
            {
                "data_frequency": cols[0],
                "data_recency": cols[1],
                "data_T": cols[2],
                "data_counts": counts,
            },
            model=model,
        )
        res = optimize.minimize(
            lambda u: -float(logp(point(u))),
            np.log([a / b for a, b in PRIOR.values()]),
            jac=lambda u: -np.asarray(dlogp(point(u))),
            method="BFGS",
        )
        h = 1e-4
        hess = np.empty((4, 4))
        for j in range(4):
            e = np.zeros(4)
            e[j] = h
            hess[j] = (
                np.asarray(dlogp(point(res.x + e))) - np.asarray(dlogp(point(res.x - e)))
            ) / (2 * h)
        cov = np.linalg.inv(-(hess + hess.T) / 2)
        draws = rng.multivariate_normal(res.x, cov, size=DRAWS)
        ranks[rep] = (draws < np.log(theta)).sum(axis=0)
    out = {}
    for j, name in enumerate(names):
        counts_per_bin = np.bincount(ranks[:, j] // 20, minlength=5)
        out[name] = float(stats.chisquare(counts_per_bin).pvalue)
        print(f"  {name}: rank histogram {counts_per_bin.tolist()}, p = {out[name]:.3g}")  # noqa: T201
    return out


@pytest.mark.slow
def test_sbc_ranks_are_uniform() -> None:
    start = time.perf_counter()
    pvalues = _sbc_pvalues(PRIOR)
    elapsed = time.perf_counter() - start
    print(f"SBC: {REPLICATES} replicates x {N_CUSTOMERS} customers in {elapsed:.1f} s")  # noqa: T201
    for name, p in pvalues.items():
        assert p > 0.01 / len(pvalues), name
    assert elapsed < 60


@pytest.mark.slow
def test_sbc_detects_a_mismatched_prior() -> None:
    """The check has power: simulating from another prior than the model's is rejected."""
    shifted = dict(PRIOR, r=(8.0, 16.0), b=(8.0, 1.6))  # twice the prior means of r and b
    pvalues = _sbc_pvalues(shifted)
    assert min(pvalues.values()) < 0.01 / len(pvalues)
