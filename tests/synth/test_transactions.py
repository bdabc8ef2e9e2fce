"""clv.synth.transactions: the transaction-log simulators recover their parameters.

A dated log from ``simulate_transaction_log`` goes through the whole pipeline
(``rfm_summary`` in hours, then weeks; the model's MLE), and the estimates must
be within 4 standard errors of the truth.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clv.data import rfm_summary
from clv.models import BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel
from clv.models.bgbb import BGBBParams
from clv.models.bgnbd import BGNBDParams
from clv.models.mbgnbd import MBGNBDParams
from clv.models.pareto_nbd import PNBDParams
from clv.synth import simulate_opportunities, simulate_purchase_times, simulate_transaction_log

CASES = [
    ("bgnbd", BGNBDParams(0.243, 4.414, 0.793, 2.426), BetaGeoModel),
    ("mbgnbd", MBGNBDParams(0.525, 6.183, 0.891, 1.614), ModifiedBetaGeoModel),
    ("pareto_nbd", PNBDParams(0.553, 10.578, 0.606, 11.669), ParetoNBDModel),
]


@pytest.mark.parametrize(("model", "params", "cls"), CASES)
def test_log_to_rfm_to_fit_recovers_parameters(model, params, cls):
    rng = np.random.default_rng(5)
    log, truth = simulate_transaction_log(
        model,
        params,
        12_000,
        acquisition_periods=12.0,
        observation_periods=52.0,
        time_unit="W",
        rng=rng,
    )
    assert log["customer_id"].nunique() == 12_000
    rfm = rfm_summary(
        log,
        customer_id_col="customer_id",
        date_col="date",
        time_unit="h",
        observation_end=pd.Timestamp("2024-01-01") + pd.Timedelta(weeks=52),
    )
    rfm[["recency", "T"]] /= 168.0  # hours -> weeks
    fit = cls().fit(rfm)
    names = list(params._fields)
    z = (fit.params_[names].to_numpy() - np.asarray(params)) / fit.summary().loc[names, "se"]
    assert np.all(np.abs(z) < 4), z
    # the truth: ages are observation end minus each first purchase
    np.testing.assert_allclose(
        np.sort(rfm["T"].to_numpy()), np.sort(52.0 - truth["birth"]), atol=1 / 168
    )


def test_purchase_times_respect_the_model_rules():
    rng = np.random.default_rng(1)
    horizon = np.full(5000, 30.0)
    bg = simulate_purchase_times("bgnbd", BGNBDParams(1.0, 2.0, 1.0, 3.0), horizon, rng=rng)
    # BG/NBD: a dropout happens at a purchase, so the last purchase of a dead customer is it
    dead = np.isfinite(bg["death"])
    last = np.full(5000, -1.0)
    np.maximum.at(last, bg["customer"], bg["time"])
    np.testing.assert_array_equal(last[dead], bg["death"][dead])
    mbg = simulate_purchase_times("mbgnbd", MBGNBDParams(1.0, 2.0, 1.0, 3.0), horizon, rng=rng)
    at_zero = mbg["death"] == 0.0
    assert at_zero.any() and not np.isin(np.flatnonzero(at_zero), mbg["customer"]).any()
    pn = simulate_purchase_times("pareto_nbd", PNBDParams(1.0, 2.0, 1.0, 3.0), horizon, rng=rng)
    assert np.all(pn["time"] < pn["death"][pn["customer"]])
    with pytest.raises(ValueError, match="model"):
        simulate_purchase_times("ggg", BGNBDParams(1, 1, 1, 1), horizon, rng=rng)


def test_opportunities_and_seeds():
    a = simulate_opportunities(
        BGBBParams(1.2, 0.75, 0.66, 2.8), 6, 50_000, rng=np.random.default_rng(3)
    )
    b = simulate_opportunities(
        BGBBParams(1.2, 0.75, 0.66, 2.8), 6, 50_000, rng=np.random.default_rng(3)
    )
    np.testing.assert_array_equal(a["transactions"], b["transactions"])
    # survival to opportunity k is E[(1 - theta)^k] = B(gamma, delta + k) / B(gamma, delta)
    from scipy import special

    k = np.arange(1, 7)
    expected = np.exp(special.betaln(0.66, 2.8 + k) - special.betaln(0.66, 2.8))
    observed = a["alive"].mean(axis=0)
    assert np.all(np.abs(observed - expected) < 4 * np.sqrt(expected * (1 - expected) / 50_000))
    with pytest.raises(ValueError, match="time_unit"):
        simulate_transaction_log(
            "bgnbd",
            BGNBDParams(1, 1, 1, 1),
            5,
            acquisition_periods=1,
            observation_periods=2,
            time_unit="M",
            rng=np.random.default_rng(0),
        )
