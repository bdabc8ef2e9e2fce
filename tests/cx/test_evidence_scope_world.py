"""An onboarding test valued on the existing base: the tested effect must not be graded A there.

World: :func:`clv.synth.simulate_cx_world` with a randomised welcome call at the first
purchase (30 % of the customers enrolled, half called). The call works for new
customers (purchase x1.22, dropout x0.61); the world has no mechanism by which calling
an *existing* customer changes anything, so the truth of "call every existing customer
not yet called" is an incremental value of 0 and an NPV of minus the cost.
"""

from __future__ import annotations

import pytest

from clv.cx.analysis import run_cx_roi
from clv.cx.experiments import analyse_experiment
from clv.roi import Evidence, Investment, Shift
from clv.synth import WorldParams, simulate_cx_world

pytestmark = pytest.mark.slow

N = 3000


@pytest.fixture(scope="module")
def table():
    world = simulate_cx_world(N, seed=3, params=WorldParams(experiment_share=0.3))
    result = analyse_experiment(
        world.experiment,
        world.calibration_transactions(),
        end=world.calibration_end,
        column="onboarding_call",
        expected_share=0.5,
    )
    treated = world.experiment.loc[world.experiment["arm"] == "treatment", "customer_id"]
    customers = world.customers.assign(
        onboarding_call=world.customers["customer_id"].isin(treated).astype(float)
    )
    cost = 1_500.0

    def call(name: str, evidence: Evidence) -> Investment:
        return Investment(
            name, cost=cost, shifts=[Shift("onboarding_call", "set", 1.0)], evidence=evidence
        )

    invs = [
        call("scoped", Evidence.from_experiment(result)),
        call("extrapolated", Evidence.from_experiment(result, extrapolate=True)),
    ]
    analysis = run_cx_roi(
        world.transactions,
        world.cx_events,
        customers,
        invs,
        cutoff=world.calibration_end,
        horizon=24,
        n_draws=30,
        random_state=1,
        margin=0.3,
        with_sensitivity=False,
        diagnostics=False,
    )
    return result, analysis.roi.table().set_index("investment")


def test_onboarding_test_is_not_grade_a_for_the_existing_base(table) -> None:
    result, tab = table
    assert result.enrolment["tenure_days_max"] == 0.0  # randomised at the first purchase
    scoped = tab.loc["scoped"]
    # truth: calling existing customers changes nothing (NPV = -cost); the tool must not
    # present the extrapolated value as tested
    assert scoped["evidence_grade"] == "C"
    assert scoped["share_grade_A"] == 0.0
    assert scoped["customers_in_tested_scope"] == 0
    assert scoped["share_value_in_tested_scope"] == 0.0
    assert scoped["recommendation"] != "fund"
    assert "extrapolated" in scoped["reason"]
    assert scoped["npv_evidenced_mean"] == pytest.approx(-1_500.0)
    # the same numbers stated as carrying over (the old behaviour) would be funded on grade A:
    # the over-claim the scope prevents
    extra = tab.loc["extrapolated"]
    assert extra["evidence_grade"] == "A"
    assert extra["npv_evidenced_mean"] > 0
