"""Abe (2009) hierarchical-Bayes Pareto/NBD with correlated log-normal rates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pymc")

from clv.bayes import abe
from clv.exceptions import DataError, NotFittedError
from clv.models import pareto_nbd


def test_probability_alive_given_rates_matches_the_likelihood_terms():
    lam, mu, x, t_x, T = 0.3, 0.05, 4.0, 20.0, 40.0
    k = lam + mu
    alive = lam**x * np.exp(-k * T)
    total = alive + lam**x * mu / k * (np.exp(-k * t_x) - np.exp(-k * T))
    assert float(abe.probability_alive_given_rates(lam, mu, x, t_x, T)) == pytest.approx(
        alive / total, rel=1e-12
    )
    assert np.exp(pareto_nbd.individual_log_likelihood(lam, mu, x, t_x, T)) == pytest.approx(
        total, rel=1e-12
    )


def test_unfitted_and_bad_input_are_clear_errors():
    model = abe.AbeParetoNBDModel()
    with pytest.raises(NotFittedError):
        model.summary()
    with pytest.raises(DataError, match="recency"):
        model.fit(pd.DataFrame({"frequency": [1.0], "T": [3.0]}))


@pytest.mark.slow
def test_recovers_the_population_and_the_correlation():
    """400 simulated customers: log rates with means (log 0.15, log 0.03), sd 0.775, corr 0.6."""
    rng = np.random.default_rng(3)
    cov = np.array([[0.6, 0.36], [0.36, 0.6]])
    truth = np.array([np.log(0.15), np.log(0.03)])
    sim = abe.simulate(truth, cov, rng.uniform(40, 80, 400), rng=rng)
    frame = pd.DataFrame({k: sim[k] for k in ("frequency", "recency", "T")})
    model = abe.AbeParetoNBDModel().fit(
        frame, draws=300, tune=300, chains=2, cores=1, random_state=1
    )
    table = model.summary()
    assert table.loc["mean[log_lambda]", "mean"] == pytest.approx(truth[0], abs=0.25)
    assert table.loc["mean[log_mu]", "mean"] == pytest.approx(truth[1], abs=0.3)
    corr = table.loc["correlation"]
    assert corr["hdi_3%"] < 0.6 < corr["hdi_97%"]
    assert corr["hdi_3%"] > 0.0  # the positive correlation is detected
    p_alive = model.probability_alive(frame)
    assert p_alive[sim["alive"]].mean() > p_alive[~sim["alive"]].mean() + 0.2
