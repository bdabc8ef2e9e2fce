"""Customer equity: sum of its parts, no acquisition, discounting, new-customer value, waterfall."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from clv.equity import CustomerEquity, customer_equity, new_customer_value
from clv.models import acquisition as acq
from clv.models.acquisition import AcquisitionModel, AcquisitionParams


@pytest.fixture(scope="module")
def models():
    """BG/NBD and Gamma-Gamma fitted on the CDNOW sample (weeks, dollars)."""
    from clv.data.datasets import load_cdnow_summary_with_spend
    from clv.models.bgnbd import BetaGeoModel
    from clv.models.gamma_gamma import GammaGammaModel

    rfm = load_cdnow_summary_with_spend()
    return BetaGeoModel().fit(rfm), GammaGammaModel().fit(rfm), rfm


@pytest.fixture(scope="module")
def acquisition_model() -> AcquisitionModel:
    counts = acq.simulate(
        AcquisitionParams(1.5, 20.0, 1.0, 5000.0), 26, rng=np.random.default_rng(5)
    )["counts"]
    return AcquisitionModel().fit(pd.Series(counts, index=range(1, 27)))


flows = st.lists(st.floats(0.0, 1e4), min_size=1, max_size=60)


@given(
    arrivals=flows,
    value=st.floats(0.0, 500.0),
    cost=st.floats(0.0, 200.0),
    d=st.floats(0.0, 0.2),
    existing=st.lists(st.floats(0.0, 1e4), max_size=20),
)
def test_equity_is_the_sum_of_its_parts(arrivals, value, cost, d, existing):
    h = len(arrivals)
    ce = customer_equity(
        existing,
        arrivals,
        horizon=h,
        discount_rate_per_period=d,
        value_per_new_customer=value,
        acquisition_cost=cost,
    )
    cf = ce.cash_flows
    assert ce.existing == pytest.approx(sum(existing))
    assert ce.future == pytest.approx(cf["discounted"].sum())
    assert ce.total == pytest.approx(ce.existing + ce.future)
    # atol: subnormal inputs (hypothesis tries 5e-324) round to 0 in the products
    np.testing.assert_allclose(
        cf["net"], cf["value_from_new"] - cf["acquisition_spend"], atol=1e-300
    )
    np.testing.assert_allclose(
        cf["discounted"], cf["net"] * (1 + d) ** -np.arange(1.0, h + 1), rtol=1e-12, atol=1e-300
    )
    tolerance = 1e-6 * (1 + ce.future_value)
    assert ce.future == pytest.approx(ce.future_value - ce.future_cost, abs=tolerance)
    assert ce.totals.to_dict() == {"existing": ce.existing, "future": ce.future, "total": ce.total}


def test_zero_acquisition_means_equity_equals_existing(acquisition_model):
    existing = pd.Series([10.0, 20.0, 30.5])
    for new in (None, np.zeros(12)):
        ce = customer_equity(
            existing,
            new,
            horizon=12,
            discount_rate_per_period=0.01,
            value_per_new_customer=80.0,
            acquisition_cost=5.0,
        )
        assert ce.future == 0.0 and ce.total == pytest.approx(60.5)
        assert len(ce.cash_flows) == 12
    free = customer_equity(
        existing,
        acquisition_model,
        horizon=12,
        discount_rate_per_period=0.01,
        value_per_new_customer=0.0,
    )
    assert free.total == pytest.approx(60.5)


def test_discounting_is_monotone(acquisition_model):
    totals = [
        customer_equity(
            100.0,
            acquisition_model,
            horizon=52,
            discount_rate_per_period=d,
            value_per_new_customer=40.0,
            acquisition_cost=10.0,
        ).future
        for d in (0.0, 0.001, 0.01, 0.05)
    ]
    assert np.all(np.diff(totals) < 0)
    undiscounted = customer_equity(
        100.0,
        acquisition_model,
        horizon=52,
        discount_rate_per_period=0.0,
        value_per_new_customer=40.0,
        acquisition_cost=10.0,
    )
    assert undiscounted.future == pytest.approx(undiscounted.cash_flows["net"].sum())


def test_uses_the_acquisition_forecast_after_calibration(acquisition_model):
    ce = customer_equity(
        0.0, acquisition_model, horizon=10, discount_rate_per_period=0.0, value_per_new_customer=1.0
    )
    expected = acquisition_model.expected_arrivals(36)["expected"].iloc[26:]
    np.testing.assert_allclose(ce.cash_flows["new_customers"], expected)
    assert ce.cash_flows["model_period"].tolist() == list(range(27, 37))
    later = customer_equity(
        0.0,
        acquisition_model,
        horizon=10,
        discount_rate_per_period=0.0,
        value_per_new_customer=1.0,
        start_period=31,
    )
    assert later.cash_flows["model_period"].iloc[0] == 31
    assert later.future < ce.future  # arrivals decline over time (exponential-gamma)


def test_per_cohort_values_and_costs():
    ce = customer_equity(
        0.0,
        [1.0, 2.0, 3.0],
        horizon=3,
        discount_rate_per_period=0.0,
        value_per_new_customer=[30.0, 20.0, 10.0],
        acquisition_cost=[5.0, 5.0, 0.0],
    )
    assert ce.cash_flows["net"].tolist() == [25.0, 30.0, 30.0]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"horizon": 0}, "horizon"),
        ({"discount_rate_per_period": -0.1}, "discount_rate"),
        ({"value_per_new_customer": [1.0, 2.0]}, "value_per_new_customer"),
        ({"acquisition_cost": np.nan}, "acquisition_cost"),
    ],
)
def test_invalid_arguments(kwargs, match):
    args = {"horizon": 3, "discount_rate_per_period": 0.01, "value_per_new_customer": 10.0} | kwargs
    with pytest.raises(ValueError, match=match):
        customer_equity(10.0, [1.0, 1.0, 1.0], **args)
    with pytest.raises(ValueError, match="existing_clv"):
        customer_equity([1.0, np.nan], None, horizon=3, discount_rate_per_period=0.0)


def test_new_customer_value_matches_a_direct_sum(models):
    bg, gg, _ = models
    d, H = 0.01, 39
    cumulative = np.array([float(bg.expected_purchases_new_customer(t)) for t in range(1, H + 1)])
    increments = np.diff(np.concatenate([[0.0], cumulative]))
    spend = gg.expected_spend_new_customer()
    direct = 0.3 * spend * (1 + np.sum(increments / (1 + d) ** np.arange(1, H + 1)))
    value = new_customer_value(bg, gg, horizon=H, discount_rate_per_period=d, margin=0.3)
    assert value == pytest.approx(direct, rel=1e-12)
    no_first = new_customer_value(
        bg, gg, horizon=H, discount_rate_per_period=d, margin=0.3, include_first_purchase=False
    )
    assert direct - no_first == pytest.approx(0.3 * spend)
    values = new_customer_value(bg, gg, horizon=[0, 10, H], discount_rate_per_period=d)
    assert values[0] == pytest.approx(spend)
    assert values[2] == pytest.approx(
        new_customer_value(bg, gg, horizon=H, discount_rate_per_period=d)
    )
    assert np.all(np.diff(values) > 0)
    assert new_customer_value(
        bg, gg, horizon=H, discount_rate_per_period=0.05
    ) < new_customer_value(bg, gg, horizon=H, discount_rate_per_period=0.0)
    with pytest.raises(ValueError, match="horizon"):
        new_customer_value(bg, gg, horizon=-1, discount_rate_per_period=d)


def test_customer_equity_from_fitted_models(models, acquisition_model):
    """Within-horizon convention: the cohort of future period k is valued over H - k periods."""
    from clv.value import customer_lifetime_value

    bg, gg, rfm = models
    H, d = 52, 0.002
    existing = customer_lifetime_value(
        bg, gg, rfm, horizon=H, discount_rate_per_period=d, margin=0.3
    )
    per_cohort = new_customer_value(
        bg, gg, horizon=H - np.arange(1, H + 1), discount_rate_per_period=d, margin=0.3
    )
    ce = customer_equity(
        existing,
        acquisition_model,
        horizon=H,
        discount_rate_per_period=d,
        value_per_new_customer=per_cohort,
        acquisition_cost=5.0,
    )
    assert isinstance(ce, CustomerEquity)
    assert ce.existing == pytest.approx(existing.sum())
    assert ce.total == pytest.approx(ce.existing + ce.future)
    assert np.all(np.diff(ce.cash_flows["value_from_new"] / ce.cash_flows["new_customers"]) < 0)
    assert "CustomerEquity over 52 periods" in repr(ce)


def test_equity_waterfall_data_and_plot(close_figures):
    from clv.plotting.acquisition import equity_waterfall, plot_equity_waterfall

    ce = customer_equity(
        [100.0, 50.0],
        [2.0, 2.0],
        horizon=2,
        discount_rate_per_period=0.0,
        value_per_new_customer=30.0,
        acquisition_cost=10.0,
    )
    steps = equity_waterfall(ce)
    assert steps.index.tolist() == [
        "Existing customers",
        "Future customers",
        "Acquisition cost",
        "Customer equity",
    ]
    assert steps["value"].tolist() == [150.0, 120.0, -40.0, 230.0]
    assert steps["end"].tolist() == [150.0, 270.0, 230.0, 230.0]
    ax = plot_equity_waterfall(ce, currency="$")
    heights = [bar.get_height() for bar in ax.patches]
    bottoms = [bar.get_y() for bar in ax.patches]
    assert heights == [150.0, 120.0, 40.0, 230.0] and bottoms == [0.0, 150.0, 230.0, 0.0]
    assert ax.get_xticklabels()[0].get_text() == "Existing\ncustomers"
    assert ax.get_ylabel() == "Discounted value ($)"
    assert [t.get_text() for t in ax.texts] == ["$150", "$120", "-$40", "$230"]


def test_annual_rate_equals_its_per_period_rate():
    """annual_discount_rate=0.10 on weekly models == the exact weekly rate, and is the default."""
    from clv.data import load_cdnow_summary
    from clv.models import BetaGeoModel

    bg = BetaGeoModel().fit(load_cdnow_summary())

    class Spend:
        def expected_spend_new_customer(self):
            return 30.0

    weekly = 1.10 ** (7 / 365.2425) - 1
    annual = new_customer_value(bg, Spend(), horizon=52, annual_discount_rate=0.10)
    assert annual == pytest.approx(
        new_customer_value(bg, Spend(), horizon=52, discount_rate_per_period=weekly), rel=1e-12
    )
    assert new_customer_value(bg, Spend(), horizon=52) == annual
    assert annual < new_customer_value(bg, Spend(), horizon=52, discount_rate_per_period=0.0)
    with pytest.warns(DeprecationWarning, match="PER PERIOD"):
        new_customer_value(bg, Spend(), horizon=52, discount_rate=weekly)
