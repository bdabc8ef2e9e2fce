"""Gamma-Gamma on individual transaction values, and lifetimes' ``q_constraint``."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from clv.exceptions import DataError
from clv.models._gg_transactions import (
    log_likelihood_transactions,
    log_likelihood_transactions_gradient,
)
from clv.models.gamma_gamma import (
    GammaGammaModel,
    GGParams,
    log_likelihood,
    simulate,
    simulate_transactions,
    spend_summary,
)

COLS = ["frequency", "monetary_value", "mean_log_value"]


def _frame(sim: dict) -> pd.DataFrame:
    out = pd.DataFrame({c: sim[c] for c in COLS})
    out.index.name = "customer_id"
    return out


@pytest.mark.parametrize("values", [[12.0], [20.0, 31.5], [3.0, 80.0, 41.0, 9.5]])
def test_log_likelihood_integrates_the_latent_rate(values):
    """Oracle: the closed form equals the integral over nu of the product of Gamma densities."""
    params = GGParams(2.5, 3.2, 40.0)
    z = np.asarray(values)

    def integrand(nu: float) -> float:
        dens = np.prod(stats.gamma.pdf(z, params.p, scale=1.0 / nu))
        return float(dens * stats.gamma.pdf(nu, params.q, scale=1.0 / params.v))

    expected, _ = integrate.quad(integrand, 0.0, np.inf, limit=200, epsabs=0.0, epsrel=1e-11)
    got = log_likelihood_transactions(params, len(z), z.mean(), np.log(z).mean())
    assert float(got) == pytest.approx(np.log(expected), abs=1e-8)


def test_extra_information_is_about_p_only():
    """lnL(values) - lnL(mean) does not depend on q or v: the spread informs p alone."""
    rng = np.random.default_rng(0)
    sim = simulate_transactions(GGParams(3.0, 4.0, 20.0), rng.integers(0, 6, 200), rng=rng)
    x, m, ell = (sim[c] for c in COLS)
    diffs = [
        log_likelihood_transactions(GGParams(3.0, q, v), x, m, ell)
        - log_likelihood(GGParams(3.0, q, v), x, m)
        for q, v in [(4.0, 20.0), (1.5, 300.0), (9.0, 2.0)]
    ]
    np.testing.assert_allclose(diffs[1], diffs[0], atol=1e-9)
    np.testing.assert_allclose(diffs[2], diffs[0], atol=1e-9)
    assert np.all(diffs[0][x == 0] == 0.0)
    # one value per customer: the two likelihoods are the same
    one = x == 1
    np.testing.assert_allclose(diffs[0][one], 0.0, atol=1e-9)


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    sim = simulate_transactions(GGParams(3.0, 4.0, 20.0), rng.integers(0, 6, 50), rng=rng)
    data = [sim[c] for c in COLS]
    theta = np.array([2.7, 3.6, 17.0])
    _, grad = log_likelihood_transactions_gradient(GGParams(*theta), *data)
    for j in range(3):
        h = 1e-6 * theta[j]
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        fd = (
            log_likelihood_transactions(GGParams(*up), *data)
            - log_likelihood_transactions(GGParams(*down), *data)
        ) / (2 * h)
        np.testing.assert_allclose(grad[j], fd, rtol=1e-5, atol=1e-7)


@pytest.fixture(scope="module")
def simulated():
    rng = np.random.default_rng(7)
    sim = simulate_transactions(GGParams(3.0, 4.0, 20.0), rng.integers(0, 8, 3000), rng=rng)
    return _frame(sim), sim


def test_recovers_parameters_and_is_more_precise(simulated):
    data, _ = simulated
    mean_fit = GammaGammaModel().fit(data)
    values_fit = GammaGammaModel(likelihood="transactions").fit(data)
    summary = values_fit.summary()
    for name, truth in zip("pqv", (3.0, 4.0, 20.0), strict=True):
        assert summary.loc[name, "lower"] <= truth <= summary.loc[name, "upper"], name
    # the within-customer spread pins p down: a much smaller standard error
    assert summary.loc["p", "se"] < 0.5 * mean_fit.summary().loc["p", "se"]
    # same prediction function of (frequency, monetary_value)
    spend = values_fit.expected_spend(data)
    p, q, v = values_fit.params_
    x, m = data["frequency"], data["monetary_value"]
    np.testing.assert_allclose(spend[x > 0], (p * (v + x * m) / (p * x + q - 1))[x > 0], rtol=1e-12)


def test_spend_summary_and_data_checks(simulated):
    _, sim = simulated
    log = pd.DataFrame({"id": sim["customer"], "amount": sim["values"]})
    summary = spend_summary(log, customer_id_col="id", value_col="amount")
    buyers = np.flatnonzero(sim["frequency"] > 0)
    np.testing.assert_allclose(summary.loc[buyers, COLS].to_numpy(), _frame(sim).iloc[buyers])
    bad = log.copy()
    bad.loc[3, "amount"] = -5.0
    with pytest.raises(DataError, match="amount") as info:
        spend_summary(bad, customer_id_col="id", value_col="amount")
    assert "Fix:" in str(info.value)
    broken = _frame(sim).copy()
    row = broken.index[broken["frequency"] > 1][0]
    broken.loc[row, "mean_log_value"] = np.log(broken.loc[row, "monetary_value"]) + 0.5
    with pytest.raises(DataError, match="mean_log_value"):
        GammaGammaModel(likelihood="transactions").fit(broken)
    with pytest.raises(DataError, match="mean_log_value"):
        GammaGammaModel(likelihood="transactions").fit(broken.drop(columns="mean_log_value"))
    with pytest.raises(ValueError, match="likelihood"):
        GammaGammaModel(likelihood="values")


def test_round_trip_with_options(simulated, tmp_path):
    data, _ = simulated
    model = GammaGammaModel(likelihood="transactions", q_constraint=True).fit(data)
    path = tmp_path / "gg.json"
    model.to_json(path)
    doc = json.loads(path.read_text())
    assert doc["init"]["likelihood"] == "transactions" and doc["init"]["q_constraint"] is True
    loaded = GammaGammaModel.from_json(path)
    pd.testing.assert_series_equal(loaded.params_, model.params_)
    pd.testing.assert_series_equal(loaded.expected_spend(data), model.expected_spend(data))


def test_covariates_with_individual_values():
    rng = np.random.default_rng(11)
    n = 2000
    nps = rng.normal(0.0, 1.0, n)
    v = 20.0 * np.exp(0.3 * nps)
    sim = simulate_transactions(GGParams(3.0, 4.0, v), rng.integers(1, 6, n), rng=rng)
    data = _frame(sim).assign(nps=nps)
    model = GammaGammaModel(spend_covariates=["nps"], likelihood="transactions").fit(data)
    row = model.summary().loc["spend[nps]"]
    assert row["lower"] <= 0.3 <= row["upper"]


# ---------------------------------------------------------------------- q_constraint
def test_q_constraint_is_inactive_when_q_exceeds_one():
    """CDNOW (q = 3.74): the same estimates as lifetimes with and without the constraint.

    lifetimes 0.11.3: ``GammaGammaFitter().fit(frequency, monetary_value,
    q_constraint=True)`` on the 946 CDNOW repeat buyers; its optimiser stops at
    a relative precision of about 1e-5.
    """
    from lifetimes import GammaGammaFitter

    from clv.data.datasets import load_cdnow_summary_with_spend

    rfm = load_cdnow_summary_with_spend()
    repeat = rfm[rfm["frequency"] > 0]
    ours = GammaGammaModel(q_constraint=True).fit(rfm)
    plain = GammaGammaModel().fit(rfm)
    np.testing.assert_allclose(ours.params_, plain.params_, rtol=1e-6)
    theirs = GammaGammaFitter().fit(
        repeat["frequency"], repeat["monetary_value"], q_constraint=True
    )
    np.testing.assert_allclose(ours.params_.to_numpy(), theirs.params_.to_numpy(), rtol=1e-4)
    draws = ours.sample_params(2000, random_state=0)
    assert (draws["q"] > 1.0).all()


def test_q_constraint_on_heavy_tailed_spend():
    """Unconstrained q < 1 (no mean spend); constrained: the boundary, as lifetimes.

    lifetimes 0.11.3 ``fit(..., q_constraint=True)`` (L-BFGS-B with log q >= 0)
    returns q = 1 exactly on these data; ours approaches it from above.
    """
    from lifetimes import GammaGammaFitter

    rng = np.random.default_rng(5)
    x = rng.integers(1, 6, 2000).astype(float)
    data = pd.DataFrame(
        {
            "frequency": x,
            "monetary_value": simulate(GGParams(2.0, 0.8, 10.0), x, rng=rng)["monetary_value"],
        }
    )
    free = GammaGammaModel().fit(data)
    assert free.params_["q"] < 1.0
    with pytest.raises(ValueError, match="infinite"):
        free.expected_spend_new_customer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the flat Hessian at the boundary
        bound = GammaGammaModel(q_constraint=True).fit(data)
    q = bound.params_["q"]
    assert 1.0 < q < 1.0 + 1e-6
    assert bound.log_likelihood_ < free.log_likelihood_
    assert np.isfinite(bound.expected_spend_new_customer())
    theirs = GammaGammaFitter().fit(data["frequency"], data["monetary_value"], q_constraint=True)
    assert theirs.params_["q"] == pytest.approx(1.0, abs=1e-9)
    np.testing.assert_allclose(
        bound.params_[["p", "v"]].to_numpy(), theirs.params_[["p", "v"]].to_numpy(), rtol=1e-3
    )
