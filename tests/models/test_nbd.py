"""NBD (Ehrenberg 1959): BTYDplus's CDNOW estimates, recovery, Monte Carlo, identities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clv.models import nbd
from clv.models.nbd import NBDModel, NBDParams

TRUE = NBDParams(r=0.6, alpha=8.0)


def test_reproduces_btydplus_estimates_on_cdnow(cdnow_rfm):
    """BTYDplus 1.2.0 (mplatzer/BTYDplus, R/nbd.R), as in its ``demo/cdnow.R``::

        cbs <- elog2cbs(cdnowElog, T.cal = "1997-09-30", T.tot = "1998-06-30")
        nbd.EstimateParameters(cbs)   # r = 0.3847659, alpha = 12.0720137
        nbd.cbs.LL(params.nbd, cbs)   # -9763.657615

    BTYDplus measures weeks as exact days / 7; the bundled summary rounds them
    to 2 decimals, which moves the log-likelihood by 0.003 (checked at
    BTYDplus's own estimates below).
    """
    model = NBDModel().fit(cdnow_rfm)
    assert model.params_["r"] == pytest.approx(0.3847659, abs=5e-5)
    assert model.params_["alpha"] == pytest.approx(12.0720137, abs=5e-4)
    assert model.log_likelihood_ == pytest.approx(-9763.6576, abs=0.01)
    x, t_x, T = (cdnow_rfm[c].to_numpy() for c in ("frequency", "recency", "T"))
    at_btydplus = nbd.log_likelihood(NBDParams(0.3847658753, 12.0720137321), x, t_x, T).sum()
    assert at_btydplus == pytest.approx(-9763.6576, abs=0.01)
    assert at_btydplus <= model.log_likelihood_ + 1e-9


def test_gradient_matches_finite_differences():
    x = np.array([0.0, 3, 10, 4000])
    T = np.array([1e-3, 30.0, 52.0, 1e4])
    _, grad = nbd.log_likelihood_gradient(TRUE, x, x * 0, T)
    for j in range(2):
        h = 1e-6 * TRUE[j]
        up = nbd.log_likelihood(TRUE._replace(**{TRUE._fields[j]: TRUE[j] + h}), x, x * 0, T)
        down = nbd.log_likelihood(TRUE._replace(**{TRUE._fields[j]: TRUE[j] - h}), x, x * 0, T)
        np.testing.assert_allclose(grad[j], (up - down) / (2 * h), rtol=1e-5, atol=1e-7)


def test_recovers_simulated_parameters():
    rng = np.random.default_rng(3)
    sim = nbd.simulate(TRUE, rng.uniform(20, 60, 5000), rng=rng)
    data = pd.DataFrame({k: sim[k] for k in ("frequency", "recency", "T")})
    model = NBDModel().fit(data)
    z = (model.params_ - pd.Series(TRUE._asdict())) / model.summary()["se"]
    assert np.all(np.abs(z) < 4), z


def test_predictions_match_monte_carlo():
    """Simulated purchase logs cut at T: the next t periods are what the model predicts."""
    from clv.synth.transactions import rfm_from_purchase_times, simulate_purchase_times

    rng = np.random.default_rng(8)
    n, t = 30_000, 20.0
    T = rng.uniform(10, 40, n)
    sim = simulate_purchase_times("nbd", TRUE, T + t, rng=rng)
    rfm = rfm_from_purchase_times(sim["customer"], sim["time"], T)
    x, t_x = rfm["frequency"], rfm["recency"]
    later = (sim["time"] > T[sim["customer"]]) & (sim["time"] <= T[sim["customer"]] + t)
    future = np.bincount(sim["customer"][later], minlength=n)
    for rows in (x == 0, (x > 0) & (x <= 3), x > 3):
        m = int(rows.sum())
        ep = nbd.expected_purchases(TRUE, t, x[rows], t_x[rows], T[rows])
        assert abs(ep.mean() - future[rows].mean()) < 4 * future[rows].std() / np.sqrt(m)
        for k in range(3):
            share = float(np.mean(future[rows] == k))
            pmf = nbd.conditional_probability_of_purchases(TRUE, k, t, x[rows], t_x[rows], T[rows])
            assert abs(pmf.mean() - share) < 4 * np.sqrt(share * (1 - share) / m) + 1e-4
    first = sim["time"] <= 30.0
    counts = np.bincount(sim["customer"][first], minlength=n)[T + t >= 30.0]
    for k in range(3):
        share = float(np.mean(counts == k))
        pred = float(nbd.probability_of_purchases(TRUE, k, 30.0))
        assert abs(pred - share) < 4 * np.sqrt(share * (1 - share) / counts.size)


def test_identities_and_extreme_inputs():
    n = np.arange(2000.0)
    pmf = nbd.probability_of_purchases(TRUE, n, 52.0)
    assert pmf.sum() == pytest.approx(1.0, abs=1e-10)
    assert n @ pmf == pytest.approx(float(nbd.expected_purchases_new_customer(TRUE, 52.0)))
    cond = nbd.conditional_probability_of_purchases(TRUE, n, 26.0, 7.0, 30.0, 40.0)
    assert n @ cond == pytest.approx(float(nbd.expected_purchases(TRUE, 26.0, 7, 30.0, 40.0)))
    x = np.array([0.0, 5000, 1])
    T = np.array([1e-3, 1e4, 1e4])
    assert np.all(np.isfinite(nbd.log_likelihood(TRUE, x, x * 0, T)))
    assert np.all(np.isfinite(nbd.expected_purchases(TRUE, 100.0, x, x * 0, T)))
    # discounting: the integral of the posterior rate, checked by quadrature
    grid = np.linspace(0.0, 52.0, 200_001)
    rate = float(nbd.expected_purchases(TRUE, 1.0, 3, 20.0, 30.0))
    numeric = np.trapezoid(np.exp(-0.02 * grid) * rate, grid)
    value = nbd.expected_discounted_purchases(TRUE, 0.02, 3, 20.0, 30.0, horizon=52.0)
    assert float(value) == pytest.approx(numeric, rel=1e-9)
    with pytest.raises(ValueError, match="horizon"):
        nbd.expected_discounted_purchases(TRUE, 0.0, 3, 20.0, 30.0)


def test_model_methods(cdnow_rfm):
    model = NBDModel().fit(cdnow_rfm)
    rows = cdnow_rfm.head(5)
    assert (model.probability_alive(rows) == 1.0).all()
    assert (model.probability_alive_at(10, rows) == 1.0).all()
    dert = model.expected_discounted_purchases(rows, 0.01)
    assert dert.index.equals(rows.index)
    np.testing.assert_allclose(dert, model.expected_purchases(1.0, rows) / 0.01)
    pmf = model.conditional_probability_of_purchases(0, 39, rows)
    assert pmf.between(0, 1).all()
    # history enters only through (x, T): recency does not matter
    moved = rows.assign(recency=rows["recency"] / 2)
    pd.testing.assert_series_equal(
        model.expected_purchases(39, moved), model.expected_purchases(39, rows)
    )
