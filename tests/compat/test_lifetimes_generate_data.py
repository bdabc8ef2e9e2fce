"""clv.compat.lifetimes.generate_data: lifetimes' simulators, drawn by clv's.

Ports ``lifetimes/tests/test_generate_data.py`` (positivity, hitting the
maximum, alive probabilities, parameters recovered from simulated data).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import clv.compat.lifetimes as lt
from clv.compat.lifetimes import generate_data as gd

BGBB = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}


def test_bgbb_positivity_and_max():
    """TestBetaGeoBetaBinomGeneration::test_positivity / test_hitting_max."""
    sim = gd.beta_geometric_beta_binom_model(6, *BGBB.values(), size=5000, random_state=1)
    assert (sim[["frequency", "recency", "n_periods"]] >= 0).all().all()
    assert sim["frequency"].max() == 6 and sim["recency"].max() == 6
    assert list(sim.columns) == [
        "frequency",
        "recency",
        "n_periods",
        "p",
        "theta",
        "alive",
        "customer_id",
    ]


def test_bgbb_params_recovered():
    """TestBetaGeoBetaBinomGeneration::test_params_same_from_sim_data."""
    sim = gd.beta_geometric_beta_binom_model(6, *BGBB.values(), size=60_000, random_state=2)
    g = sim.groupby(["frequency", "recency", "n_periods"]).size().reset_index(name="weights")
    f = lt.BetaGeoBetaBinomFitter().fit(g["frequency"], g["recency"], g["n_periods"], g["weights"])
    z = (f.params_ - pd.Series(BGBB)) / f.standard_errors_
    assert np.all(np.abs(z) < 4), z


@pytest.mark.parametrize(
    ("fn", "fitter", "params"),
    [
        (gd.beta_geometric_nbd_model, lt.BetaGeoFitter, (0.243, 4.414, 0.793, 2.426)),
        (
            gd.modified_beta_geometric_nbd_model,
            lt.ModifiedBetaGeoFitter,
            (0.525, 6.183, 0.891, 1.614),
        ),
        (gd.pareto_nbd_model, lt.ParetoNBDFitter, (0.553, 10.578, 0.606, 11.669)),
    ],
)
def test_continuous_models_recover_params(fn, fitter, params):
    sim = fn(np.linspace(20, 52, 15_000), *params, size=15_000, random_state=3)
    f = fitter().fit(sim["frequency"], sim["recency"], sim["T"])
    z = (f.params_.to_numpy() - np.asarray(params)) / f.standard_errors_.to_numpy()
    assert np.all(np.abs(z) < 4), z
    assert sim.index.name == "customer_id" and len(sim) == 15_000


def test_transactional_data_summarises_to_the_model():
    """test_beta_geometric_nbd_model_transactional_data: the log's summary fits the model."""
    params = (0.243, 4.414, 0.793, 2.426)
    ages = np.full(20_000, 39.0)
    tx = gd.beta_geometric_nbd_model_transactional_data(
        ages, *params, observation_period_end="2019-01-01", freq="W", size=20_000, random_state=4
    )
    assert tx["date"].max() <= pd.Timestamp("2019-01-01")
    assert (
        tx.groupby("customer_id")["date"]
        .min()
        .eq(pd.Timestamp("2019-01-01") - pd.Timedelta(weeks=39))
        .all()
    )
    summary = lt.utils.summary_data_from_transaction_data(tx, "customer_id", "date", freq="h")
    f = lt.BetaGeoFitter().fit(
        summary["frequency"], summary["recency"] / 168.0, summary["T"] / 168.0
    )
    z = (f.params_.to_numpy() - np.asarray(params)) / f.standard_errors_.to_numpy()
    assert np.all(np.abs(z) < 4), z


def test_same_seed_same_data_and_short_T_refused():
    a = gd.pareto_nbd_model(30.0, 0.5, 10.0, 0.6, 11.0, size=100, random_state=9)
    b = gd.pareto_nbd_model(30.0, 0.5, 10.0, 0.6, 11.0, size=100, random_state=9)
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(ValueError, match="fewer than size"):
        gd.beta_geometric_nbd_model([30.0, 31.0], 0.5, 10.0, 0.8, 2.0, size=3)
