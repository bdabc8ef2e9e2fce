import numpy as np
import pandas as pd
import pytest

from clv.cx import validate_cx_events
from clv.data import rfm_summary, validate_transactions
from clv.models import ParetoNBDModel
from clv.synth import COVARIATES, WorldParams, simulate_cx_world


@pytest.fixture(scope="module")
def world():
    return simulate_cx_world(20_000, seed=7)


def test_deterministic_given_seed():
    a, b = simulate_cx_world(300, seed=3), simulate_cx_world(300, seed=3)
    pd.testing.assert_frame_equal(a.transactions, b.transactions)
    pd.testing.assert_frame_equal(a.cx_events, b.cx_events)
    pd.testing.assert_frame_equal(a.truth.latent, b.truth.latent)
    pd.testing.assert_frame_equal(a.acquisition, b.acquisition)
    c = simulate_cx_world(300, seed=4)
    assert not c.transactions["value"].equals(a.transactions["value"])


def test_tables_pass_the_validators(world):
    validate_transactions(world.transactions, "customer_id", "date", "value")
    ev = validate_cx_events(world.cx_events)
    assert len(ev) == len(world.cx_events)
    assert (world.cx_events["timestamp"] < world.calibration_end).all()
    assert list(world.customers.columns) == ["customer_id", "channel", "region", "age"]
    assert set(world.subscriptions.columns) == {"customer_id", "periods_observed", "churned"}
    assert world.transactions.groupby("customer_id")["date"].min().size == 20_000


def test_feature_builder_reproduces_truth_covariates(world):
    X = world.feature_builder().fit_transform(
        world.cx_events, world.customers, cutoff=world.calibration_end
    )
    assert list(X.columns) == list(COVARIATES)
    pd.testing.assert_frame_equal(X, world.truth.covariates)


def test_surveys_reach_a_minority_and_covariates_vary(world):
    x = world.truth.covariates
    assert 0.1 < 1 - x["nps_missing"].mean() < 0.35
    assert 0.2 < x["wait_minutes_missing"].mean() < 0.5
    assert x["complaints"].max() >= 2 and x["promoter"].sum() > 500


def test_latent_rates_follow_the_covariate_links(world):
    t, p = world.truth, world.truth.params
    X = t.covariates.to_numpy()
    lam_ratio = t.latent["lambda"] / t.latent["lambda_base"]
    np.testing.assert_allclose(np.log(lam_ratio), X @ p.coefficients("purchase"), atol=1e-12)
    np.testing.assert_allclose(
        np.log(t.latent["mu"] / t.latent["mu_base"]), X @ p.coefficients("dropout"), atol=1e-12
    )
    # E[lambda_base] = r / alpha0; 20k draws, sd of the mean ~ sqrt(r)/alpha0/sqrt(n)
    se = np.sqrt(p.r) / p.alpha0 / np.sqrt(20_000)
    assert abs(t.latent["lambda_base"].mean() - p.r / p.alpha0) < 4 * se


def test_repeat_purchase_count_matches_the_truth(world):
    t = world.truth
    lat = t.latent
    first = world.transactions.groupby("customer_id").size() - 1
    active = np.minimum(lat["lifetime"], 78 - lat["birth_week"])
    expected = (lat["lambda"] * active).sum()
    assert abs(first.sum() - expected) < 4 * np.sqrt(expected) + 0.01 * expected


def test_expected_purchases_oracle():
    w = simulate_cx_world(2000, seed=5)
    t = w.truth
    e = t.expected_purchases(26)
    lat = t.latent
    closed = np.where(lat["alive"], lat["lambda"] / lat["mu"] * (1 - np.exp(-lat["mu"] * 26)), 0)
    np.testing.assert_allclose(e, closed)
    less = t.expected_purchases(26, shift={"complaints": 1.0})
    assert (less[lat["alive"]] < e[lat["alive"]]).all()
    zero = simulate_cx_world(500, seed=5, params=WorldParams(gamma_purchase={}, gamma_dropout={}))
    np.testing.assert_allclose(
        zero.truth.expected_purchases(10, shift={"complaints": 3}),
        zero.truth.expected_purchases(10),
    )
    with pytest.raises(ValueError, match="unknown covariate"):
        t.expected_purchases(1, shift={"nps": 1})


def test_spend_truth(world):
    p = world.truth.params
    lat = world.truth.latent
    v = p.v0 * np.exp(world.truth.covariates.to_numpy() @ p.coefficients("spend"))
    z = world.transactions["value"].to_numpy()
    expected = (p.p * v / (p.q - 1)).mean()  # E[z | x] averaged; per customer weights differ
    assert 0.8 * expected < z.mean() < 1.25 * expected
    np.testing.assert_allclose(world.truth.expected_spend(), p.p / lat["nu"])


def test_bad_knobs():
    with pytest.raises(ValueError, match="unknown covariates"):
        WorldParams(gamma_purchase={"csat": 1.0})
    with pytest.raises(ValueError, match="before the cutoff"):
        simulate_cx_world(10, seed=1, calibration_weeks=20)


def test_paretonbd_recovers_no_covariate_world():
    zero = WorldParams(gamma_purchase={}, gamma_dropout={}, gamma_spend={})
    w = simulate_cx_world(20_000, seed=11, params=zero)
    cal = w.calibration_transactions()
    rfm = rfm_summary(
        cal,
        customer_id_col="customer_id",
        date_col="date",
        time_unit="D",
        observation_end=w.calibration_end - pd.Timedelta(seconds=1),
    )
    fit = ParetoNBDModel().fit(rfm)
    r, alpha, s, beta = (fit.params_[k] for k in ("r", "alpha", "s", "beta"))
    assert r == pytest.approx(zero.r, rel=0.15)
    assert alpha / 7 == pytest.approx(zero.alpha0, rel=0.2)  # days -> weeks
    assert (s / beta * 7) == pytest.approx(zero.s / zero.beta0, rel=0.25)
