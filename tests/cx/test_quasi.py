"""Difference-in-differences / event study on the dated regional-change world."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clv.cx.quasi import difference_in_differences, signal_change
from clv.exceptions import DataError
from clv.roi import Evidence, Investment, Shift, evaluate_investments, period_rate
from clv.synth.dated_change import DatedChangeParams, simulate_dated_change_world

N = 20_000


def _world(seed: int = 1, **kw):
    return simulate_dated_change_world(N, seed=seed, params=DatedChangeParams(**kw))


def _did(world, **kw):
    return difference_in_differences(
        world.transactions,
        world.customers,
        change_date=world.change_date,
        treated="south",
        end=world.cutoff,
        column="vendor_degraded",
        **kw,
    )


@pytest.fixture(scope="module")
def ongoing():
    return _world()


@pytest.fixture(scope="module")
def fixed():
    return _world(fix_weeks_before_cutoff=4)


def test_did_recovers_the_regional_change(ongoing) -> None:
    res = _did(ongoing)
    truth = ongoing.truth.log_rate_ratio()
    assert truth < -0.05
    assert res.lower <= truth <= res.upper, (res.lower, truth, res.upper)
    assert res.upper < 0  # the change is detected
    assert not res.pretrend_rejected
    assert res.pretrend_df == 7
    es = res.event_study
    assert es.loc[-1, "coefficient"] == 0.0 and list(es.index) == list(range(-8, 3))
    assert es.loc[2, "coefficient"] < es.loc[0, "coefficient"]  # dropout effect compounds
    ev = Evidence.from_quasi_experiment(res)
    assert ev.grade == "B" and set(ev.coefficients) == {"purchase[vendor_degraded]"}
    # the activity proxy moves the same way and maps to no lever
    act = _did(ongoing, outcome="active")
    assert act.estimate < 0 and act.coefficients() == {}


def test_no_change_gives_an_interval_around_zero() -> None:
    res = _did(_world(seed=4, hazard_multiplier=1.0))
    assert res.lower <= 0.0 <= res.upper
    assert not res.pretrend_rejected


def test_pretrend_test_rejects_diverging_trends() -> None:
    world = _world(pretrend=-0.5)
    res = _did(world)
    assert res.pretrend_rejected and res.pretrend_pvalue < 0.01
    assert not res.lower <= world.truth.log_rate_ratio() <= res.upper  # biased, as it should be
    with pytest.raises(ValueError, match="parallel trends"):
        Evidence.from_quasi_experiment(res)


def test_already_fixed_change_is_worth_nothing(ongoing, fixed) -> None:
    """Purchases stay down after the fix (lost customers are lost), but the fix is worth 0."""
    assert fixed.truth.fix_value() == 0.0
    assert ongoing.truth.fix_value() > 1000.0
    values = {}
    for name, world in (("ongoing", ongoing), ("fixed", fixed)):
        did = _did(world)
        assert did.upper < 0  # the DiD of purchase counts is negative in both
        sig = signal_change(
            world.cx_events,
            world.customers,
            signal="contact_wait_seconds",
            change_date=world.change_date,
            treated="south",
            end=world.cutoff,
        )
        assert sig.after_did > 100.0  # waits rose after the change in both worlds
        assert sig.in_force == (name == "ongoing")
        values[name] = _fix_value(world, did, sig.in_force)
    assert values["fixed"] == 0.0
    assert values["ongoing"] > 0.0


def _fix_value(world, did, in_force: bool) -> float:
    from clv.data import rfm_summary
    from clv.models import ParetoNBDModel

    keep = world.customers["customer_id"].to_numpy()[:4000]
    tx = world.transactions[world.transactions["customer_id"].isin(keep)]
    rfm = rfm_summary(
        tx,
        customer_id_col="customer_id",
        date_col="date",
        value_col="value",
        time_unit="W",
        observation_end=world.cutoff - pd.Timedelta(seconds=1),
    )
    region = world.customers.set_index("customer_id")["region"].reindex(rfm.index)
    data = rfm.assign(vendor_degraded=((region == "south") & in_force).astype(float))
    inv = Investment(
        "Fix the vendor",
        cost=1000.0,
        shifts=[Shift("vendor_degraded", "set", 0.0)],
        evidence=Evidence.from_quasi_experiment(did),
    )
    res = evaluate_investments(
        [inv],
        transaction_model=ParetoNBDModel().fit(rfm),
        spend_model=30.0,
        data=data,
        horizon=26,
        discount_rate=period_rate(0.10, 52),
        margin=0.3,
        n_draws=8,
        breakeven=False,
    )
    row = res.table().iloc[0]
    assert row["evidence_grade"] == "B"
    return float(row["incremental_clv_mean"])


def test_clustered_by_group_warns_about_few_clusters(ongoing) -> None:
    res = _did(ongoing, cluster="group")
    assert res.notes and "4 groups" in res.notes[0]
    assert np.isfinite(res.se)


def test_bad_inputs_have_clear_messages(ongoing) -> None:
    with pytest.raises(DataError, match="not found"):
        difference_in_differences(
            ongoing.transactions, ongoing.customers, change_date=ongoing.change_date, treated="mars"
        )
    every = ongoing.customers.assign(region="south")
    with pytest.raises(DataError, match="control"):
        difference_in_differences(
            ongoing.transactions, every, change_date=ongoing.change_date, treated="south"
        )
    with pytest.raises(DataError, match="region"):
        difference_in_differences(
            ongoing.transactions,
            ongoing.customers[["customer_id"]],
            change_date=ongoing.change_date,
            treated="south",
        )
    with pytest.raises(ValueError, match="periods_before"):
        _did(ongoing, periods_before=2)
    with pytest.raises(DataError, match="not before"):
        difference_in_differences(
            ongoing.transactions,
            ongoing.customers,
            change_date=ongoing.cutoff + pd.Timedelta(days=400),
            treated="south",
        )


@pytest.mark.slow
def test_did_coverage_and_pretrend_size_over_seeds() -> None:
    """Over 20 worlds: the 90 % interval covers the true log rate ratio in >= 75 % of them,
    and the 5 % pre-trend test rejects parallel trends in <= 20 %."""
    covered, rejected = 0, 0
    seeds = range(100, 120)
    for seed in seeds:
        world = _world(seed=seed)
        res = _did(world)
        truth = world.truth.log_rate_ratio()
        covered += res.lower <= truth <= res.upper
        rejected += res.pretrend_rejected
    assert covered >= 15, covered
    assert rejected <= 4, rejected
