"""customer_lifetime_value: lifetimes oracle, discounting properties, validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clv.data.datasets import load_cdnow_summary_with_spend
from clv.data.units import with_time_unit
from clv.exceptions import ClvWarning, DataError
from clv.models.bgnbd import BetaGeoModel, BGNBDParams
from clv.models.gamma_gamma import GammaGammaModel, GGParams
from clv.value import customer_lifetime_value, customer_lifetime_value_table

BG = BGNBDParams(r=0.243, alpha=4.414, a=0.793, b=2.426)  # FHL (2005) on CDNOW
GG = GGParams(p=6.25, q=3.74, v=15.44)  # Hardie note 025 on CDNOW
WEEKS_PER_MONTH = 4.345  # lifetimes' factor for freq="W"


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    """CDNOW 2,357 customers (weeks) with the mean value of repeat transactions (lifetimes' CSV)."""
    return load_cdnow_summary_with_spend()


def _model(cls: type, params: tuple, time_unit: str | None = "W"):
    """A model 'fitted' at given parameters (predictions only use params_)."""
    model = cls()
    model.params_ = pd.Series(list(params), index=list(type(params)._fields), dtype=np.float64)
    model.time_unit_ = time_unit
    return model


@pytest.fixture(scope="module")
def models() -> tuple[BetaGeoModel, GammaGammaModel]:
    return _model(BetaGeoModel, BG), _model(GammaGammaModel, GG)


def _lifetimes_models(bg: BGNBDParams, spend: GGParams):
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    lbg = BetaGeoFitter()
    lbg.params_ = pd.Series(bg._asdict())
    lbg.predict = (
        lbg.conditional_expected_number_of_purchases_up_to_time
    )  # set by fit() in lifetimes
    lgg = GammaGammaFitter()
    lgg.params_ = pd.Series(spend._asdict())
    return lbg, lgg


# --------------------------------------------------------------------------- lifetimes oracle
def test_equals_lifetimes_with_monthly_periods(cdnow: pd.DataFrame, models) -> None:
    """lifetimes with freq="M" has no month factor (factor 1), so its periods are the data's.

    lifetimes 0.11.3::

        ggf.customer_lifetime_value(bgf, x, t_x, T, m, time=12, discount_rate=0.01, freq="M")

    sums ``m_hat * (E[N(k)] - E[N(k-1)]) / 1.01**k`` for k = 1..12 in the data's
    own periods: exactly ``horizon=12, discount_rate_per_period=0.01`` here.
    """
    bg, spend = models
    lbg, lgg = _lifetimes_models(BG, GG)
    expected = lgg.customer_lifetime_value(
        lbg,
        cdnow["frequency"],
        cdnow["recency"],
        cdnow["T"],
        cdnow["monetary_value"],
        time=12,
        discount_rate=0.01,
        freq="M",
    )
    ours = customer_lifetime_value(bg, spend, cdnow, horizon=12, discount_rate_per_period=0.01)
    assert ours.index.equals(cdnow.index)
    np.testing.assert_allclose(ours.to_numpy(), expected.to_numpy(), rtol=1e-10)


def test_equals_lifetimes_weekly_data_with_monthly_horizon(cdnow: pd.DataFrame, models) -> None:
    """lifetimes' freq="W" convention, reproduced by changing the period to 4.345 weeks.

    lifetimes 0.11.3::

        ggf.customer_lifetime_value(bgf, x, t_x, T, m, time=12, discount_rate_per_period=0.01,
                                    freq="W")

    evaluates expected purchases at t = 4.345 k weeks (k = 1..12 "months") and
    discounts by 1.01**k. In clv terms the period is 4.345 weeks: divide
    ``recency`` and ``T`` by 4.345 and the BG/NBD scale ``alpha`` by 4.345
    (the model is invariant to the time unit), then ``horizon=12`` periods and
    ``discount_rate_per_period=0.01`` per period. clv has no hidden month factor, so the
    user makes this choice explicitly.
    """
    _, spend = models
    lbg, lgg = _lifetimes_models(BG, GG)
    expected = lgg.customer_lifetime_value(
        lbg,
        cdnow["frequency"],
        cdnow["recency"],
        cdnow["T"],
        cdnow["monetary_value"],
        time=12,
        discount_rate=0.01,
        freq="W",
    )
    monthly = cdnow.copy()
    monthly[["recency", "T"]] /= WEEKS_PER_MONTH
    monthly = with_time_unit(monthly, "4.345W")
    bg_monthly = _model(BetaGeoModel, BG._replace(alpha=BG.alpha / WEEKS_PER_MONTH), "4.345W")
    ours = customer_lifetime_value(
        bg_monthly, spend, monthly, horizon=12, discount_rate_per_period=0.01
    )
    np.testing.assert_allclose(ours.to_numpy(), expected.to_numpy(), rtol=1e-10)


# --------------------------------------------------------------------------- definition
def test_matches_the_definition_computed_per_period(cdnow: pd.DataFrame, models) -> None:
    bg, spend = models
    horizon, d, margin = 26, 0.003, 0.4
    spend_hat = spend.expected_spend(cdnow)
    expected = pd.Series(0.0, index=cdnow.index)
    for k in range(1, horizon + 1):
        step = bg.expected_purchases(k, cdnow) - bg.expected_purchases(k - 1, cdnow)
        expected += margin * spend_hat * step / (1 + d) ** k
    ours = customer_lifetime_value(
        bg, spend, cdnow, horizon=horizon, discount_rate_per_period=d, margin=margin
    )
    np.testing.assert_allclose(ours, expected, rtol=1e-12)


def test_horizon_one_and_zero_discount(cdnow: pd.DataFrame, models) -> None:
    bg, spend = models
    one = customer_lifetime_value(bg, spend, cdnow, horizon=1, discount_rate_per_period=0.02)
    np.testing.assert_allclose(
        one, spend.expected_spend(cdnow) * bg.expected_purchases(1, cdnow) / 1.02, rtol=1e-12
    )
    flat = customer_lifetime_value(bg, spend, cdnow, horizon=52, discount_rate_per_period=0.0)
    np.testing.assert_allclose(
        flat, spend.expected_spend(cdnow) * bg.expected_purchases(52, cdnow), rtol=1e-12
    )


def test_zero_repeat_customers_use_the_population_mean_spend(cdnow: pd.DataFrame, models) -> None:
    bg, spend = models
    table = customer_lifetime_value_table(
        bg, spend, cdnow, horizon=52, discount_rate_per_period=0.002
    )
    zero = cdnow["frequency"] == 0
    np.testing.assert_allclose(
        table.loc[zero, "expected_spend"], spend.expected_spend_new_customer()
    )
    assert (table.loc[zero, "clv"] > 0).all()


def test_steps_per_period(cdnow: pd.DataFrame, models) -> None:
    bg, spend = models
    base = customer_lifetime_value(bg, spend, cdnow, horizon=20, discount_rate_per_period=0.0)
    fine = customer_lifetime_value(
        bg, spend, cdnow, horizon=20, discount_rate_per_period=0.0, steps_per_period=7
    )
    np.testing.assert_allclose(fine, base, rtol=1e-12)  # without discounting only the total counts
    d = 0.01
    coarse = customer_lifetime_value(bg, spend, cdnow, horizon=20, discount_rate_per_period=d)
    finer = customer_lifetime_value(
        bg, spend, cdnow, horizon=20, discount_rate_per_period=d, steps_per_period=4
    )
    # discounting each quarter-period at its own end discounts less than at the period's end
    assert (finer >= coarse).all() and (finer <= base).all()
    # steps_per_period=s on periods == steps_per_period=1 on periods s times shorter
    short = cdnow.copy()
    short[["recency", "T"]] *= 4
    short = with_time_unit(short, "1.75D")
    bg_short = _model(BetaGeoModel, BG._replace(alpha=BG.alpha * 4), "1.75D")
    same = customer_lifetime_value(
        bg_short, spend, short, horizon=80, discount_rate_per_period=(1 + d) ** 0.25 - 1
    )
    np.testing.assert_allclose(same, finer, rtol=1e-9)


# --------------------------------------------------------------------------- properties
def test_non_decreasing_in_horizon(cdnow: pd.DataFrame, models) -> None:
    bg, spend = models
    values = np.column_stack(
        [
            customer_lifetime_value(bg, spend, cdnow, horizon=h, discount_rate_per_period=0.005)
            for h in (1, 2, 5, 13, 52, 104)
        ]
    )
    assert np.all(np.diff(values, axis=1) >= 0)
    assert np.all(values > 0)


def test_decreasing_in_discount_rate(cdnow: pd.DataFrame, models) -> None:
    bg, spend = models
    values = np.column_stack(
        [
            customer_lifetime_value(bg, spend, cdnow, horizon=52, discount_rate_per_period=d)
            for d in (0.0, 0.001, 0.01, 0.05, 0.2)
        ]
    )
    assert np.all(np.diff(values, axis=1) < 0)


@pytest.mark.parametrize("margin", [0.05, 0.3, 1.0, 2.5])
def test_linear_in_margin(cdnow: pd.DataFrame, models, margin: float) -> None:
    bg, spend = models
    unit = customer_lifetime_value(bg, spend, cdnow, horizon=52, discount_rate_per_period=0.002)
    scaled = customer_lifetime_value(
        bg, spend, cdnow, horizon=52, discount_rate_per_period=0.002, margin=margin
    )
    np.testing.assert_allclose(scaled, margin * unit, rtol=1e-14)


def test_scales_with_currency(cdnow: pd.DataFrame, models) -> None:
    bg, _ = models
    c = 0.92  # e.g. USD -> EUR
    spend_c = _model(GammaGammaModel, GG._replace(v=GG.v * c))
    converted = cdnow.copy()
    converted["monetary_value"] *= c
    ours = customer_lifetime_value(
        bg, spend_c, converted, horizon=52, discount_rate_per_period=0.002
    )
    base = customer_lifetime_value(bg, models[1], cdnow, horizon=52, discount_rate_per_period=0.002)
    np.testing.assert_allclose(ours, c * base, rtol=1e-12)


def test_time_rescaling_invariance(cdnow: pd.DataFrame, models) -> None:
    """Days instead of weeks: horizon × 7, per-day rate, alpha × 7, 7 steps → same CLV."""
    bg, spend = models
    weekly = customer_lifetime_value(
        bg, spend, cdnow, horizon=10, discount_rate_per_period=0.0, steps_per_period=1
    )
    days = cdnow.copy()
    days[["recency", "T"]] *= 7
    days = with_time_unit(days, "D")
    daily = customer_lifetime_value(
        _model(BetaGeoModel, BG._replace(alpha=BG.alpha * 7), "D"),
        spend,
        days,
        horizon=70,
        discount_rate_per_period=0.0,
    )
    np.testing.assert_allclose(daily, weekly, rtol=1e-9)


# --------------------------------------------------------------------------- vectorisation
def test_fast_path_does_not_call_the_per_customer_method(
    cdnow: pd.DataFrame, models, monkeypatch: pytest.MonkeyPatch
) -> None:
    bg, spend = models

    def fail(*args, **kwargs):
        raise AssertionError("expected_purchases(t, data) should not be called on the fast path")

    monkeypatch.setattr(bg, "expected_purchases", fail)
    customer_lifetime_value(bg, spend, cdnow, horizon=52, discount_rate_per_period=0.002)


def test_generic_transaction_models_and_chunking(
    cdnow: pd.DataFrame, models, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Any object with expected_purchases(t, data) works; chunked evaluation agrees."""
    bg, spend = models

    class Wrapper:
        def expected_purchases(self, t, data):
            return bg.expected_purchases(t, data)

    generic = customer_lifetime_value(
        Wrapper(), spend, cdnow, horizon=30, discount_rate_per_period=0.004
    )
    fast = customer_lifetime_value(bg, spend, cdnow, horizon=30, discount_rate_per_period=0.004)
    np.testing.assert_allclose(generic, fast, rtol=1e-12)
    import clv.value

    monkeypatch.setattr(clv.value, "_MAX_CELLS", 100)  # 3 customers per chunk
    chunked = customer_lifetime_value(bg, spend, cdnow, horizon=30, discount_rate_per_period=0.004)
    np.testing.assert_allclose(chunked, fast, rtol=1e-14)
    table = customer_lifetime_value_table(
        Wrapper(), spend, cdnow, horizon=30, discount_rate_per_period=0.004
    )
    assert table["probability_alive"].isna().all()


# --------------------------------------------------------------------------- table and alignment
def test_table_columns_and_consistency(cdnow: pd.DataFrame, models) -> None:
    bg, spend = models
    table = customer_lifetime_value_table(
        bg, spend, cdnow, horizon=52, discount_rate_per_period=0.002, margin=0.3
    )
    assert list(table.columns) == [
        "expected_purchases",
        "discounted_purchases",
        "probability_alive",
        "expected_spend",
        "clv",
    ]
    assert table.index.equals(cdnow.index)
    np.testing.assert_allclose(
        table["expected_purchases"], bg.expected_purchases(52, cdnow), rtol=1e-12
    )
    np.testing.assert_allclose(table["probability_alive"], bg.probability_alive(cdnow), rtol=1e-14)
    np.testing.assert_allclose(table["expected_spend"], spend.expected_spend(cdnow), rtol=1e-14)
    np.testing.assert_allclose(
        table["clv"], 0.3 * table["expected_spend"] * table["discounted_purchases"], rtol=1e-14
    )
    np.testing.assert_allclose(
        table["clv"],
        customer_lifetime_value(
            bg, spend, cdnow, horizon=52, discount_rate_per_period=0.002, margin=0.3
        ),
        rtol=1e-14,
    )
    assert (table["discounted_purchases"] <= table["expected_purchases"]).all()


def test_index_alignment_and_input_unchanged(cdnow: pd.DataFrame, models) -> None:
    bg, spend = models
    shuffled = cdnow.sample(frac=1.0, random_state=11)
    shuffled.index = "c" + shuffled.index.astype(str)
    before = shuffled.copy()
    value = customer_lifetime_value(bg, spend, shuffled, horizon=52, discount_rate_per_period=0.002)
    pd.testing.assert_frame_equal(shuffled, before)
    assert value.index.equals(shuffled.index) and value.name == "clv"
    reference = customer_lifetime_value(
        bg, spend, cdnow, horizon=52, discount_rate_per_period=0.002
    )
    np.testing.assert_allclose(
        value.to_numpy(), reference.loc[[int(i[1:]) for i in shuffled.index]].to_numpy(), rtol=1e-14
    )


def test_with_fitted_models(cdnow: pd.DataFrame) -> None:
    bg = BetaGeoModel().fit(cdnow)
    spend = GammaGammaModel().fit(cdnow)
    value = customer_lifetime_value(bg, spend, cdnow, horizon=52, discount_rate_per_period=0.002)
    assert np.isfinite(value).all() and (value > 0).all()


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize("horizon", [0, -1, 1.5, True, np.nan, np.inf, "52", None])
def test_invalid_horizon(cdnow: pd.DataFrame, models, horizon) -> None:
    bg, spend = models
    with pytest.raises(ValueError, match="horizon must be a whole number >= 1"):
        customer_lifetime_value(bg, spend, cdnow, horizon=horizon, discount_rate_per_period=0.01)


def test_whole_number_horizons_of_any_type(cdnow: pd.DataFrame, models) -> None:
    bg, spend = models
    a = customer_lifetime_value(bg, spend, cdnow, horizon=12, discount_rate_per_period=0.01)
    b = customer_lifetime_value(
        bg, spend, cdnow, horizon=np.int64(12), discount_rate_per_period=0.01
    )
    c = customer_lifetime_value(bg, spend, cdnow, horizon=12.0, discount_rate_per_period=0.01)
    pd.testing.assert_series_equal(a, b)
    pd.testing.assert_series_equal(a, c)


@pytest.mark.parametrize("rate", [-0.01, np.nan, np.inf, "x"])
@pytest.mark.parametrize("name", ["discount_rate_per_period", "annual_discount_rate"])
def test_invalid_discount_rate(cdnow: pd.DataFrame, models, rate, name) -> None:
    bg, spend = models
    with pytest.raises(ValueError, match=f"{name} must be"):
        customer_lifetime_value(bg, spend, cdnow, horizon=12, **{name: rate})


def test_high_discount_rate_warns(cdnow: pd.DataFrame, models) -> None:
    bg, spend = models
    with pytest.warns(ClvWarning, match="annual_discount_rate= instead"):
        customer_lifetime_value(bg, spend, cdnow, horizon=12, discount_rate_per_period=0.6)


@pytest.mark.parametrize("margin", [0.0, -0.2, np.nan, np.inf])
def test_invalid_margin(cdnow: pd.DataFrame, models, margin) -> None:
    bg, spend = models
    with pytest.raises(ValueError, match="margin must be"):
        customer_lifetime_value(
            bg, spend, cdnow, horizon=12, discount_rate_per_period=0.01, margin=margin
        )


@pytest.mark.parametrize("steps", [0, 2.5, -1])
def test_invalid_steps_per_period(cdnow: pd.DataFrame, models, steps) -> None:
    bg, spend = models
    with pytest.raises(ValueError, match="steps_per_period"):
        customer_lifetime_value(
            bg, spend, cdnow, horizon=12, discount_rate_per_period=0.01, steps_per_period=steps
        )


def test_time_unit_mismatch_is_an_error(cdnow: pd.DataFrame, models) -> None:
    _, spend = models
    daily_model = _model(BetaGeoModel, BG, "D")
    with pytest.raises(DataError, match="fitted in periods of 1 days"):
        customer_lifetime_value(
            daily_model, spend, cdnow, horizon=12, discount_rate_per_period=0.01
        )


def test_data_must_be_a_frame(models) -> None:
    bg, spend = models
    with pytest.raises(TypeError, match="DataFrame"):
        customer_lifetime_value(
            bg, spend, np.zeros((3, 4)), horizon=12, discount_rate_per_period=0.01
        )
