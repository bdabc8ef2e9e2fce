"""Fast ROI kernels against the reference (customers × periods) arithmetic they replace."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from clv.cx.contacts import ContactModel
from clv.data.datasets import load_cdnow_summary_with_spend
from clv.models import GammaGammaModel, ParetoNBDModel
from clv.roi import Evidence, Investment, ServiceCost, Shift, _math
from clv.roi.confounding import CausalShare
from clv.roi.engine import CounterfactualEngine

N_DRAWS = 6
H = 26
TOL = {"rtol": 1e-10, "atol": 1e-9}


@pytest.mark.parametrize("discount_rate", [0.0, 0.004])
@pytest.mark.parametrize("ramp, duration", [(0, None), (4, None), (3, 10), (0, 1)])
def test_survival_runs_match_the_per_period_integrals(discount_rate, ramp, duration) -> None:
    gen = np.random.default_rng(3)
    n = 400
    mu = np.concatenate([gen.gamma(0.5, 0.05, n - 3), [0.0, 1e-13, 5.0]])
    step = 7.0
    profile = _math.ramp_profile(H, ramp_periods=ramp, duration=duration)
    log_mult = gen.normal(0.0, 0.4, n)[:, None] * profile[None, :]  # (n, H)
    ref = _math.period_survival_integrals(mu, np.exp(log_mult), H, step)
    starts, lengths = _math.profile_runs(profile[None, :])
    runs = _math.survival_runs(mu, np.ascontiguousarray(log_mult[:, starts].T), lengths, step)
    lead = step * runs.start * runs.frac
    weight = gen.gamma(1.0, 2.0, n)
    got = _math.run_period_sums([lead * weight], [runs.factor], lengths)
    np.testing.assert_allclose(got, weight @ ref, rtol=1e-11)
    disc = _math.discounted_run_sums(runs, starts, lengths, discount_rate, step)
    expected = ref @ _math.discount_factors(H, discount_rate)
    np.testing.assert_allclose(disc.sum(axis=0), expected, rtol=1e-11, atol=1e-300)
    # no multiplier: the baseline integrals
    base = _math.survival_runs(mu, None, lengths, step)
    np.testing.assert_allclose(
        _math.run_period_sums([step * base.start * base.frac], [base.factor], lengths),
        _math.period_survival_integrals(mu, None, H, step).sum(axis=0),
        rtol=1e-11,
    )


def test_profile_runs_split_at_every_change_of_any_profile() -> None:
    profiles = np.stack([_math.ramp_profile(8, ramp_periods=2), _math.ramp_profile(8, duration=5)])
    starts, lengths = _math.profile_runs(profiles)
    assert starts.tolist() == [0, 1, 5]
    assert lengths.tolist() == [1, 4, 3]
    assert _math.profile_runs(np.zeros((0, 4)))[0].tolist() == [0]


@pytest.fixture(scope="module")
def world():
    data = load_cdnow_summary_with_spend().copy()
    gen = np.random.default_rng(9)
    n = len(data)
    data["wait_minutes"] = gen.gamma(2.0, 3.0, n)
    data["complaints"] = gen.poisson(0.4, n).astype(float)
    data["fcr_rate"] = gen.uniform(0, 1, n)
    data["channel"] = np.where(gen.random(n) < 0.5, "phone", "web")
    contacts = gen.poisson(np.exp(-3.0 - 1.0 * data["fcr_rate"]) * (data["T"] + 1))
    contact_model = ContactModel(["fcr_rate"]).fit(contacts, data["T"] + 1, data)
    return ParetoNBDModel().fit(data), GammaGammaModel().fit(data), data, contact_model


INVESTMENTS = [
    Investment(
        "Support",
        cost=100.0,
        shifts=[Shift("wait_minutes", "relative", -0.3, sd=0.05)],
        ramp_periods=4,
        evidence=Evidence.assumption(
            {"dropout[wait_minutes]": (0.05, 0.02), "purchase[wait_minutes]": (-0.02, 0.01)}
        ),
    ),
    Investment(
        "Recovery",
        cost=100.0,
        shifts=[Shift("complaints", "relative", -0.5)],
        duration=12,
        target="channel == 'phone'",
        evidence=Evidence.experiment(
            {"dropout[complaints]": (0.3, 0.1), "spend[complaints]": (-0.05, 0.02)}
        ),
    ),
    Investment("Resolution", cost=100.0, shifts=[Shift("fcr_rate", "add", 0.2)], ramp_periods=2),
]


@pytest.mark.parametrize("service", [False, True])
def test_closed_form_flows_equal_the_reference_flows(world, service) -> None:
    tm, sm, data, contact_model = world
    engine = CounterfactualEngine(
        tm,
        sm,
        data,
        H,
        0.003,
        0.3,
        N_DRAWS,
        4,
        1.0,
        True,
        None,
        ServiceCost(contact_model, {"phone": 6.0, "web": 1.5}, "channel") if service else None,
    )
    invs = INVESTMENTS if service else INVESTMENTS[:2]
    units = [engine.unit(inv) for inv in invs]
    for group in [[u] for u in units] + [units]:
        for full_only in (False, True):
            engine.closed_form = True
            fast_full, fast = engine.flows(group, full_only=full_only)
            fast_service = engine.last_service_change_.copy()
            engine.closed_form = False
            ref_full, ref = engine.flows(group, full_only=full_only)
            np.testing.assert_allclose(fast_full, ref_full, **TOL)
            cols = [31] if full_only else slice(None)
            np.testing.assert_allclose(fast[:, cols], ref[:, cols], **TOL)
            np.testing.assert_allclose(fast_service, engine.last_service_change_, **TOL)
    engine.closed_form = True
    # the per-period baseline of the lazily recomputed integrals
    ref_base = np.stack([st.weight @ st.j0 for st in engine._states])
    np.testing.assert_allclose(
        np.stack([st.baseline_flows() for st in engine._states]), ref_base, rtol=1e-11
    )


def test_an_investment_that_changes_nothing_adds_exactly_nothing(world) -> None:
    tm, sm, data, _ = world
    engine = CounterfactualEngine(tm, sm, data, H, 0.003, 0.3, N_DRAWS, 4)
    unit = engine.unit(INVESTMENTS[0])
    still = dataclasses.replace(unit, delta={c: np.zeros_like(d) for c, d in unit.delta.items()})
    full, totals = engine.flows([still])
    assert np.all(full == 0.0)
    assert np.all(totals == 0.0)


@pytest.mark.parametrize("uncertainty", [True, False])
def test_a_longer_horizon_reuses_the_draws_of_a_fresh_engine(world, uncertainty) -> None:
    tm, sm, data, _ = world
    args = (tm, sm, data)
    kw = {
        "discount_rate": 0.003,
        "margin": 0.3,
        "n_draws": N_DRAWS,
        "random_state": 4,
        "customer_uncertainty": uncertainty,
        "causal_share": CausalShare(2.0, 3.0),
    }
    short = CounterfactualEngine(*args, horizon=H, **kw)
    fresh = CounterfactualEngine(*args, horizon=H + 13, **kw)
    longer = short.with_horizon(H + 13)
    inv = INVESTMENTS[1]
    np.testing.assert_array_equal(longer.share_draws_, fresh.share_draws_)
    np.testing.assert_allclose(
        longer.flows([longer.unit(inv)])[0], fresh.flows([fresh.unit(inv)])[0], rtol=1e-12
    )
    np.testing.assert_allclose(
        longer.baseline_cash_flows(), fresh.baseline_cash_flows(), rtol=1e-12
    )
    # without the causal-share prior: a fresh engine without it
    causal = short.with_horizon(H + 13, fully_causal=True)
    plain = CounterfactualEngine(*args, horizon=H + 13, **{**kw, "causal_share": None})
    assert causal.share_draws_ is None and short.share_draws_ is not None
    np.testing.assert_allclose(
        causal.flows([causal.unit(inv)])[1], plain.flows([plain.unit(inv)])[1], rtol=1e-12
    )
    assert short.horizon == H  # the original is untouched
    assert short.flows([short.unit(inv)])[0].shape == (N_DRAWS, H)


def test_a_scaled_unit_equals_a_unit_built_at_that_scale(world) -> None:
    tm, sm, data, _ = world
    engine = CounterfactualEngine(tm, sm, data, H, 0.003, 0.3, N_DRAWS, 4)
    for inv in INVESTMENTS[:2]:
        for k in (0.0, 0.37, 2.5):
            cached = engine.unit(inv, scale=k, share=1.0)
            built = engine._unit(inv, scale=k, share=1.0)
            assert cached.delta.keys() == built.delta.keys()
            for column, change in built.delta.items():
                np.testing.assert_array_equal(cached.delta[column], change)
            np.testing.assert_array_equal(engine.flows([cached])[1], engine.flows([built])[1])


def test_one_batch_equals_separate_passes(world) -> None:
    tm, sm, data, _ = world
    engine = CounterfactualEngine(tm, sm, data, H, 0.003, 0.3, N_DRAWS, 4)
    support, recovery = (engine.unit(inv) for inv in INVESTMENTS[:2])
    causal = engine.unit(INVESTMENTS[0], share=1.0)
    variants = [[support], [recovery], [causal], [support, recovery]]
    batch = engine.flows_batch(variants, draws=[0, 3, 5])
    for units, (full, totals, service) in zip(variants, batch, strict=True):
        ref_full, ref_totals = engine.flows(units, draws=[0, 3, 5])
        np.testing.assert_array_equal(full, ref_full)
        np.testing.assert_array_equal(totals, ref_totals)
        np.testing.assert_array_equal(service, engine.last_service_change_)
