"""The compiled draw of the ROI engine (clv.roi._jit) against the NumPy closed form it speeds up."""

from __future__ import annotations

import numpy as np
import pytest

from clv.cx.contacts import ContactModel
from clv.data.datasets import load_cdnow_summary_with_spend
from clv.models import GammaGammaModel, ParetoNBDModel
from clv.roi import Evidence, Investment, ServiceCost, Shift, _jit
from clv.roi.engine import CounterfactualEngine

pytestmark = pytest.mark.skipif(not _jit.AVAILABLE, reason="numba is not installed")

N_DRAWS = 5
H = 20
TOL = {"rtol": 1e-10, "atol": 1e-9}


@pytest.fixture(scope="module")
def engine():
    data = load_cdnow_summary_with_spend().copy()
    gen = np.random.default_rng(3)
    n = len(data)
    data["wait_minutes"] = gen.gamma(2.0, 3.0, n)
    data["complaints"] = gen.poisson(0.4, n).astype(float)
    data["fcr_rate"] = gen.uniform(0, 1, n)
    data["channel"] = np.where(gen.random(n) < 0.5, "phone", "web")
    contacts = gen.poisson(np.exp(-3.0 - 1.0 * data["fcr_rate"]) * (data["T"] + 1))
    contact_model = ContactModel(["fcr_rate"]).fit(contacts, data["T"] + 1, data)
    service = ServiceCost(contact_model, {"phone": 6.0, "web": 1.5}, "channel")
    tm, sm = ParetoNBDModel().fit(data), GammaGammaModel().fit(data)
    return CounterfactualEngine(tm, sm, data, H, 0.004, 0.3, N_DRAWS, 2, 1.0, True, None, service)


INVESTMENTS = [
    Investment(  # uncertain amount, ramp-up: several runs of periods, every customer
        "Support",
        cost=100.0,
        shifts=[Shift("wait_minutes", "relative", -0.3, sd=0.05)],
        ramp_periods=3,
        evidence=Evidence.assumption(
            {
                "dropout[wait_minutes]": (0.05, 0.02),
                "purchase[wait_minutes]": (-0.02, 0.01),
                "spend[wait_minutes]": (-0.01, 0.005),
            }
        ),
    ),
    Investment(  # a subset of customers, a limited duration
        "Recovery",
        cost=100.0,
        shifts=[Shift("complaints", "relative", -0.5)],
        duration=9,
        start=2,
        target="channel == 'phone'",
        evidence=Evidence.experiment({"dropout[complaints]": (0.3, 0.1)}),
    ),
    Investment(  # the contact rate only: the cost to serve moves without longer lives
        "Resolution", cost=100.0, shifts=[Shift("fcr_rate", "add", 0.2)], ramp_periods=2
    ),
]


def _both(engine, monkeypatch, **kw):
    """(compiled, NumPy) results of ``engine.flows_batch(**kw)``."""
    fast = engine.flows_batch(**kw)
    with monkeypatch.context() as m:
        m.setattr(_jit, "AVAILABLE", False)
        slow = engine.flows_batch(**kw)
    return fast, slow


@pytest.mark.parametrize("full_only", [False, True])
def test_the_compiled_draw_equals_the_numpy_closed_form(engine, monkeypatch, full_only) -> None:
    units = [engine.unit(inv) for inv in INVESTMENTS]
    variants = [[u] for u in units] + [units, units[:2]]
    fast, slow = _both(engine, monkeypatch, variants=variants, full_only=full_only)
    for (f_full, f_tot, f_serv), (s_full, s_tot, s_serv) in zip(fast, slow, strict=True):
        np.testing.assert_allclose(f_full, s_full, **TOL)
        np.testing.assert_allclose(f_tot, s_tot, **TOL)
        np.testing.assert_allclose(f_serv, s_serv, **TOL)
        assert np.any(f_tot[:, 31] != 0.0)
    # the cost to serve moved where the contact rate or the lives moved
    assert np.all(fast[2][2] != 0.0)


def test_totals_without_per_period_flows_are_the_same_numbers(engine, monkeypatch) -> None:
    units = [[engine.unit(inv)] for inv in INVESTMENTS]
    for compiled in (True, False):
        with monkeypatch.context() as m:
            m.setattr(_jit, "AVAILABLE", compiled)
            both = engine.flows_batch(units, full_only=True, per_period=True)
            totals = engine.flows_batch(units, full_only=True, per_period=False)
            mixed = engine.flows_batch(units, full_only=True, per_period=[True, False, True])
        for (full, tot, serv), (none, tot2, serv2) in zip(both, totals, strict=True):
            np.testing.assert_array_equal(tot, tot2)
            np.testing.assert_array_equal(serv, serv2)
            assert np.all(none == 0.0) and np.any(full != 0.0)
            # the discounted flows are the total over the horizon
            np.testing.assert_allclose(full @ engine.discount_, tot[:, 31], rtol=1e-10)
        np.testing.assert_array_equal(mixed[0][0], both[0][0])
        assert np.all(mixed[1][0] == 0.0)
    with pytest.raises(ValueError, match="one flag per variant"):
        engine.flows_batch(units, per_period=[True])


def test_the_sums_do_not_depend_on_the_number_of_threads(engine, monkeypatch) -> None:
    assert len(engine.data) > _jit.BLOCK  # at least two blocks of customers
    units = [engine.unit(INVESTMENTS[0])]
    monkeypatch.setattr(_jit, "MIN_BLOCKS_PER_THREAD", 1)
    monkeypatch.setenv("CLV_NUMBA_THREADS", "1")
    one = engine.flows(units)
    monkeypatch.setenv("CLV_NUMBA_THREADS", "2")
    assert _jit._threads(2) == 2
    two = engine.flows(units)
    for a, b in zip(one, two, strict=True):
        np.testing.assert_array_equal(a, b)


def test_nothing_changed_adds_exactly_nothing_in_compiled_code(engine) -> None:
    unit = engine.unit(INVESTMENTS[1], scale=0.0)
    full, totals = engine.flows([unit])
    assert np.all(full == 0.0) and np.all(totals == 0.0)


def test_baselines_built_in_threads_are_the_same_draws(engine, monkeypatch) -> None:
    monkeypatch.setattr(_jit, "MIN_BLOCKS_PER_THREAD", 1)
    monkeypatch.setenv("CLV_NUMBA_THREADS", "2")
    assert _jit._threads(2) == 2
    threaded = CounterfactualEngine(
        engine.transaction_model, engine.spend_model, engine.data, H, 0.004, 0.3, N_DRAWS, 2,
        1.0, True, None, engine.service_cost,
    )  # fmt: skip
    for a, b in zip(threaded._states, engine._states, strict=True):
        for name in ("weight", "mu", "contact"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_customers_without_a_change_are_left_out_and_change_nothing(engine, monkeypatch) -> None:
    import dataclasses

    from clv.roi.engine import changed_rows

    unit = engine.unit(INVESTMENTS[1])  # complaints halved: nothing for those without any
    mask = changed_rows(unit)
    assert 0 < mask.sum() < len(unit.rows)
    assert engine._plan([unit])["rows"].size == mask.sum()
    # every targeted customer evaluated (the mask of a unit that changes them all)
    every = dataclasses.replace(unit, changed=None)
    every.changed = (tuple(every.delta.values()), np.ones(len(unit.rows), dtype=bool))
    for compiled in (True, False):
        with monkeypatch.context() as m:
            m.setattr(_jit, "AVAILABLE", compiled)
            for a, b in zip(engine.flows([unit]), engine.flows([every]), strict=True):
                np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-9)
    # new changes on a copy are found anew, a scaled copy keeps the customers
    moved = dataclasses.replace(unit, delta={c: d + 100.0 for c, d in unit.delta.items()})
    assert changed_rows(moved).all()
    assert changed_rows(engine.unit(INVESTMENTS[1], scale=2.0)) is mask


def test_compiled_baseline_flows_equal_the_numpy_ones(engine, monkeypatch) -> None:
    rows = engine.unit(INVESTMENTS[1]).rows
    fast = engine.baseline_rows(rows)
    net = engine.baseline_cash_flows()
    with monkeypatch.context() as m:
        m.setattr(_jit, "AVAILABLE", False)
        np.testing.assert_allclose(fast, engine.baseline_rows(rows), rtol=1e-12)
        np.testing.assert_allclose(net, engine.baseline_cash_flows(), rtol=1e-12)
    assert fast.shape == (N_DRAWS, H) and np.all(fast > 0)
