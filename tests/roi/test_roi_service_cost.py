"""The service-cost lever: a contact-rate model, cost to serve in the engine, its evidence grade."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clv.cx.contacts import ContactModel, count_contacts, fit_poisson_rate
from clv.data.datasets import load_cdnow_summary_with_spend
from clv.exceptions import ConvergenceError, DataError
from clv.models import GammaGammaModel, ParetoNBDModel
from clv.roi import Evidence, Investment, ServiceCost, Shift, evaluate_investments

N_DRAWS = 16
H = 26
RATE = 0.002
MARGIN = 0.3
BETA_FCR = -1.2  # true effect of the resolution rate on the contact rate (log scale)


def test_contact_model_recovers_an_overdispersed_rate() -> None:
    gen = np.random.default_rng(11)
    n = 20_000
    frame = pd.DataFrame({"fcr_rate": gen.uniform(0, 1, n), "wait": gen.gamma(2.0, 2.0, n)})
    exposure = gen.uniform(5, 50, n)
    mean = exposure * np.exp(-2.0 + BETA_FCR * frame["fcr_rate"] + 0.1 * frame["wait"])
    counts = gen.poisson(mean * gen.gamma(2.0, 0.5, n))  # gamma frailty: over-dispersed
    model = ContactModel(["fcr_rate", "wait"]).fit(counts, exposure, frame)
    s = model.summary()
    for name, truth in (("contact[fcr_rate]", BETA_FCR), ("contact[wait]", 0.1)):
        assert abs(s.loc[name, "coef"] - truth) < 3 * s.loc[name, "se"]
    assert model.dispersion_ > 1.5
    # the sandwich errors are wider than the Poisson ones when counts are over-dispersed
    X = np.column_stack([np.ones(n), frame.to_numpy()])
    mu = exposure * np.exp(X @ model.params_.to_numpy())
    naive = np.sqrt(np.diag(np.linalg.inv((X * mu[:, None]).T @ X)))
    assert np.all(s["se"].to_numpy() > 1.2 * naive)
    draws = model.sample_params(4000, random_state=1)
    np.testing.assert_allclose(draws.std().to_numpy(), s["se"].to_numpy(), rtol=0.1)
    np.testing.assert_allclose(model.rate(frame.iloc[:3]), mean.iloc[:3] / exposure[:3], rtol=0.2)


def test_contact_model_rejects_bad_input_and_separation() -> None:
    frame = pd.DataFrame({"x": [0.0, 0.0, 1.0, 1.0, 1.0]})
    with pytest.raises(DataError, match="counts must be finite"):
        ContactModel(["x"]).fit([1, -1, 0, 2, 1], np.ones(5), frame)
    with pytest.raises(DataError, match="exposure"):
        ContactModel(["x"]).fit([1, 1, 0, 2, 1], np.zeros(5), frame)
    with pytest.raises(DataError, match="contact-model covariate is missing"):
        ContactModel(["y"]).fit([1, 1, 0, 2, 1], np.ones(5), frame)
    with pytest.raises(ConvergenceError, match="separate"):  # x = 1 has no contacts at all
        fit_poisson_rate(
            np.column_stack([np.ones(6), [0, 0, 0, 1, 1, 1.0]]),
            np.array([3, 2, 4, 0, 0, 0.0]),
            np.ones(6),
        )


def test_count_contacts_uses_only_events_before_the_cutoff() -> None:
    events = pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 2, 3],
            "timestamp": pd.to_datetime(
                ["2024-01-01", "2024-01-05", "2024-03-01", "2024-01-02", "2024-01-03"]
            ),
            "signal": ["contact_wait_seconds"] * 3 + ["contact_resolved_first", "nps"],
            "value": [10.0, 20.0, 30.0, 1.0, 9.0],
        }
    )
    assert count_contacts(events, "2024-02-01").to_dict() == {1: 2}
    assert count_contacts(events, "2024-02-01", signal="contact_resolved_first").to_dict() == {2: 1}


def _world(confounded: bool) -> tuple:
    """CDNOW customers with a resolution rate and contacts.

    ``confounded=False``: contacts per week fall with the resolution rate (causal, BETA_FCR).
    ``confounded=True``: a hidden trait drives both; the resolution rate itself does nothing.
    """
    data = load_cdnow_summary_with_spend().copy()
    gen = np.random.default_rng(5)
    n = len(data)
    trait = gen.standard_normal(n)
    if confounded:
        data["fcr_rate"] = 1 / (1 + np.exp(-(0.5 - 1.5 * trait)))
        log_rate = -3.0 + 1.0 * trait
    else:
        data["fcr_rate"] = gen.uniform(0, 1, n)
        log_rate = -3.0 + BETA_FCR * data["fcr_rate"].to_numpy()
    data["channel"] = np.where(gen.random(n) < 0.5, "phone", "web")
    data["complaints"] = gen.poisson(0.5, n).astype(float)
    data["contacts"] = gen.poisson(np.exp(log_rate) * (data["T"].to_numpy() + 1))
    model = ContactModel(["fcr_rate"]).fit(data["contacts"], data["T"] + 1, data)
    return ParetoNBDModel().fit(data), GammaGammaModel().fit(data), data, model


@pytest.fixture(scope="module")
def causal():
    return _world(confounded=False)


FCR = Investment("First-contact resolution", cost=500.0, shifts=[Shift("fcr_rate", "add", 0.2)])
SUPPORT = Investment(
    "Loyalty",
    cost=500.0,
    shifts=[Shift("complaints", "add", -1.0)],
    evidence=Evidence.assumption({"dropout[complaints]": (0.3, 0.05)}),
)


def _run(world, invs, cost_per_contact=3.0, **kw):
    tm, sm, data, model = world
    service = None if cost_per_contact is None else ServiceCost(model, cost_per_contact, "channel")
    return evaluate_investments(
        invs,
        transaction_model=tm,
        spend_model=sm,
        data=data,
        horizon=H,
        discount_rate=RATE,
        margin=MARGIN,
        n_draws=N_DRAWS,
        random_state=2,
        breakeven=False,
        service_cost=service,
        **{"causal_share": None, **kw},
    )  # exact arithmetic


def test_a_resolution_investment_pays_through_fewer_contacts(causal) -> None:
    tm, sm, data, model = causal
    res = _run(causal, [FCR], customer_uncertainty=False)
    d = res.investments[FCR.name]
    # only the service-cost lever moves (the resolution rate is not in the purchase models)
    np.testing.assert_allclose(d.levers[:4], 0.0, atol=1e-9)
    np.testing.assert_allclose(d.levers[4], d.incremental_clv, rtol=1e-10)
    assert d.incremental_clv.mean() > 0
    # at the point estimates it is the saved contacts × cost × expected time alive, discounted
    eng = res.engine
    eng.transaction_draws_ = pd.DataFrame([tm.params_] * N_DRAWS).reset_index(drop=True)
    eng.spend_draws_ = pd.DataFrame([sm.params_] * N_DRAWS).reset_index(drop=True)
    eng.contact_draws_ = pd.DataFrame([model.params_] * N_DRAWS).reset_index(drop=True)
    eng._states = [eng._baseline(i) for i in range(N_DRAWS)]
    _, totals = eng.flows([eng.unit(FCR)], draws=[0], full_only=True)
    ind = tm.individual_params(data)
    purchases_per_alive_time = (tm.params_["r"] + data["frequency"]) / (ind["alpha"] + data["T"])
    cum = np.column_stack([tm.expected_purchases(t, data) for t in range(H + 1)])
    alive_time = np.diff(cum, axis=1) / purchases_per_alive_time.to_numpy()[:, None]
    new_fcr = np.clip(data["fcr_rate"] + 0.2, None, data["fcr_rate"].max())
    rate0 = model.rate(data)
    rate1 = model.rate(data.assign(fcr_rate=new_fcr))
    saved = 3.0 * (rate0 - rate1)[:, None] * alive_time * (1 + RATE) ** -np.arange(1.0, H + 1)
    assert totals[0, -1] == pytest.approx(saved.sum(), rel=1e-6)
    table = res.table()
    assert table.loc[1, "gain_service_cost"] > 0 and table.loc[1, "service_cost_grade"] == "C"


def test_cost_per_contact_by_channel_scales_the_saving(causal) -> None:
    flat = _run(causal, [FCR], cost_per_contact=3.0).investments[FCR.name].incremental_clv
    double = _run(causal, [FCR], cost_per_contact={"phone": 6.0, "web": 6.0})
    np.testing.assert_allclose(double.investments[FCR.name].incremental_clv, 2 * flat, rtol=1e-9)
    phone_only = _run(causal, [FCR], cost_per_contact={"phone": 3.0, "default": 0.0})
    assert 0 < phone_only.investments[FCR.name].incremental_clv.mean() < flat.mean()
    with pytest.raises(ValueError, match="no cost per contact for channel"):
        _run(causal, [FCR], cost_per_contact={"phone": 3.0})


def test_retention_gains_are_net_of_serving_customers_longer(causal) -> None:
    with_cost = _run(causal, [SUPPORT]).investments["Loyalty"]
    without = _run(causal, [SUPPORT], cost_per_contact=None).investments["Loyalty"]
    np.testing.assert_allclose(with_cost.levers[4], 0.0, atol=1e-9)  # contact rate unchanged
    np.testing.assert_allclose(with_cost.levers.sum(axis=0), with_cost.incremental_clv, rtol=1e-10)
    assert np.all(with_cost.incremental_clv < without.incremental_clv)  # longer lives cost


def test_a_confounded_contact_model_is_graded_and_an_experiment_overrides_it() -> None:
    """The world where the claim is wrong: resolution does not cause fewer contacts."""
    world = _world(confounded=True)
    model = world[3]
    assert model.params_["contact[fcr_rate]"] < -0.5  # a strong association nonetheless
    tested = Investment(
        "FCR (tested)",
        cost=500.0,
        shifts=[Shift("fcr_rate", "add", 0.2)],
        evidence=Evidence.experiment(
            {"contact[fcr_rate]": (0.0, 0.02)}, source="call-centre pilot"
        ),
    )
    res = _run(world, [FCR, tested])
    table = res.table().set_index("investment")
    assert table.loc[FCR.name, "service_cost_grade"] == "C"  # the report says: association
    assert table.loc[FCR.name, "gain_service_cost"] > 0
    assert table.loc["FCR (tested)", "service_cost_grade"] == "A"
    saved = res.investments["FCR (tested)"].incremental_clv
    assert abs(saved.mean()) < 0.1 * table.loc[FCR.name, "gain_service_cost"]
    with pytest.raises(ValueError, match="needs service_cost"):
        _run(world, [tested], cost_per_contact=None)


def test_the_report_shows_the_saving_and_its_grade(causal, tmp_path, close_figures) -> None:
    from clv.roi import render_report
    from clv.roi._report_view import format_money

    res = _run(causal, [FCR, SUPPORT])
    saving = res.table().set_index("investment").loc[FCR.name, "gain_service_cost"]
    doc = render_report(res, currency="EUR").replace("\u2060", "")
    assert f"includes {format_money(saving, 'EUR')} saved on service contacts" in doc
    assert "Cost-to-serve effect" in doc and "grade C (association)" in doc
    assert "cost per contact €3" in doc  # the assumptions page states the cost to serve


def test_margin_sensitivity_leaves_the_cost_to_serve_alone(causal) -> None:
    """A pure contact saving does not grow with the margin; a revenue gain does."""
    from clv.roi import sensitivity

    res = _run(causal, [FCR, SUPPORT])
    sens = sensitivity(res).set_index(["investment", "factor"])
    fcr = sens.loc[(FCR.name, "margin")]
    np.testing.assert_allclose([fcr["npv_low"], fcr["npv_high"]], fcr["npv_base"], rtol=1e-9)
    d = res.investments["Loyalty"]
    serve = d.service_cost_change
    assert serve is not None and np.all(serve > 0)  # longer lives, more contacts
    loyalty = sens.loc[("Loyalty", "margin")]
    expected = ((d.incremental_clv + serve) * 1.2 - serve - d.cost_pv).mean()
    assert loyalty["npv_high"] == pytest.approx(expected, rel=1e-9)
    fcr_cost = sens.loc[(FCR.name, "cost_per_contact")]
    saving = res.investments[FCR.name].service_cost_change.mean()  # negative: fewer contacts
    assert fcr_cost["npv_high"] - fcr_cost["npv_base"] == pytest.approx(-0.5 * saving, rel=1e-9)
