"""The period is data: it survives pandas operations and every entry point checks it."""

from __future__ import annotations

import io
import math
import warnings

import numpy as np
import pandas as pd
import pytest

from clv.data import (
    annual_rate,
    data_time_unit,
    load_cdnow_sample_transactions,
    parse_time_unit,
    rate_per_period,
    rfm_summary,
    with_time_unit,
)
from clv.exceptions import DataError, DataWarning
from clv.models import BetaGeoModel, GammaGammaModel
from clv.value import customer_lifetime_value, customer_lifetime_value_table


@pytest.fixture(scope="module")
def tx() -> pd.DataFrame:
    log = load_cdnow_sample_transactions()
    return log[log["date"] <= "1997-09-30"]


def _rfm(tx: pd.DataFrame, unit: str) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)  # T == 0 customers
        rfm = rfm_summary(
            tx,
            customer_id_col="customer_id",
            date_col="date",
            value_col="value",
            time_unit=unit,
            observation_end="1997-09-30",
        )
    return rfm[rfm["T"] > 0]


@pytest.fixture(scope="module")
def weekly(tx) -> pd.DataFrame:
    return _rfm(tx, "W")


@pytest.fixture(scope="module")
def daily(tx) -> pd.DataFrame:
    return _rfm(tx, "D")


@pytest.fixture(scope="module")
def fitted(weekly):
    features = pd.DataFrame({"segment": np.arange(len(weekly)) % 3}, index=weekly.index)
    joined = weekly.join(features)  # DataFrame.join drops attrs; the column stays
    bg = BetaGeoModel().fit(joined)
    spend = GammaGammaModel().fit(
        joined[(joined["frequency"] > 0) & (joined["monetary_value"] > 0)]
    )
    return bg, spend


def test_unit_survives_join_merge_concat_and_csv(weekly):
    features = pd.DataFrame({"nps": 1.0}, index=weekly.index)
    joined = weekly.join(features)
    merged = weekly.reset_index().merge(features.reset_index(), on="customer_id")
    buffer = io.StringIO()
    weekly.to_csv(buffer)
    buffer.seek(0)
    from_csv = pd.read_csv(buffer, index_col="customer_id")
    for frame in (joined, merged, pd.concat([weekly, weekly]), from_csv):
        unit = data_time_unit(frame)
        assert unit is not None and unit.days == 7.0, frame.columns
    assert from_csv.attrs == {}  # what attrs alone would have lost


def test_model_fitted_after_join_records_the_unit_and_refuses_daily_data(fitted, daily):
    bg, spend = fitted
    assert bg.time_unit_ == "W"
    with pytest.raises(DataError, match="fitted in periods of 7 days"):
        customer_lifetime_value(bg, spend, daily, horizon=52)
    with pytest.raises(DataError, match="period_days"):
        bg.probability_alive(daily)


def test_weekly_model_on_weekly_data_scores(fitted, weekly):
    bg, spend = fitted
    clv = customer_lifetime_value(bg, spend, weekly, horizon=52, annual_discount_rate=0.10)
    assert np.isfinite(clv).all() and clv.mean() > 0
    assert clv.attrs["discount_rate_per_period"] == pytest.approx(1.1 ** (7 / 365.2425) - 1)


def test_7d_and_w_have_the_same_length_and_are_compatible(fitted, tx):
    bg, spend = fitted
    sevens = _rfm(tx, "7D")
    assert data_time_unit(sevens).name == "7D"
    assert np.isfinite(customer_lifetime_value(bg, spend, sevens, horizon=10)).all()


def test_frames_without_a_unit_need_one_when_the_model_has_one(fitted, weekly):
    bg, spend = fitted
    bare = weekly.drop(columns="period_days")
    bare.attrs = {}
    with pytest.raises(DataError, match="carries no time unit"):
        customer_lifetime_value(bg, spend, bare, horizon=52)
    with pytest.raises(DataError, match="with_time_unit"):
        bg.expected_purchases(10, bare)
    a = customer_lifetime_value(bg, spend, bare, horizon=52, time_unit="W")
    b = customer_lifetime_value(bg, spend, weekly, horizon=52)
    np.testing.assert_allclose(a, b, rtol=1e-12)
    with pytest.raises(DataError, match="time_unit='D'"):
        customer_lifetime_value(bg, spend, weekly, horizon=52, time_unit="D")


def test_concatenating_units_is_refused(weekly, daily):
    mixed = pd.concat([weekly.head(5), daily.tail(5).rename(index=lambda i: -i)])
    with pytest.raises(DataError, match="mixes period lengths"):
        BetaGeoModel().fit(mixed)


def test_annual_rate_equals_its_per_period_conversion(fitted, weekly):
    """--annual-discount-rate 0.10 and discount_rate_per_period=(1.1)^(7/365.2425)-1 agree."""
    bg, spend = fitted
    d = 1.1 ** (7 / 365.2425) - 1
    annual = customer_lifetime_value_table(
        bg, spend, weekly, horizon=104, annual_discount_rate=0.10, margin=0.3
    )
    per = customer_lifetime_value_table(
        bg, spend, weekly, horizon=104, discount_rate_per_period=d, margin=0.3
    )
    np.testing.assert_allclose(annual["clv"], per["clv"], rtol=1e-12)
    # the default is the same 10 % a year
    default = customer_lifetime_value(bg, spend, weekly, horizon=104, margin=0.3)
    np.testing.assert_allclose(default, per["clv"], rtol=1e-12)
    # and a different rate gives a different number (the assertion can fail)
    other = customer_lifetime_value(
        bg, spend, weekly, horizon=104, margin=0.3, annual_discount_rate=0.30
    )
    assert (other < per["clv"] - 1e-9)[per["clv"] > 0.01].all()


def test_deprecated_discount_rate_says_what_it_means(fitted, weekly):
    bg, spend = fitted
    with pytest.warns(DeprecationWarning, match=r"0.002 is read as a rate PER PERIOD.*week"):
        old = customer_lifetime_value(bg, spend, weekly, horizon=20, discount_rate=0.002)
    new = customer_lifetime_value(bg, spend, weekly, horizon=20, discount_rate_per_period=0.002)
    np.testing.assert_allclose(old, new, rtol=0)
    with pytest.raises(ValueError, match="not both"):
        customer_lifetime_value(
            bg, spend, weekly, horizon=20, discount_rate_per_period=0.002, annual_discount_rate=0.1
        )


def test_annual_rate_needs_a_period(weekly):
    bare = weekly.drop(columns="period_days")
    bare.attrs = {}
    bg = BetaGeoModel().fit(bare)
    spend = GammaGammaModel().fit(bare[(bare["frequency"] > 0) & (bare["monetary_value"] > 0)])
    assert bg.time_unit_ is None
    with pytest.raises(DataError, match="needs the period"):
        customer_lifetime_value(bg, spend, bare, horizon=10, annual_discount_rate=0.1)
    clv = customer_lifetime_value(
        bg, spend, bare, horizon=10, annual_discount_rate=0.1, time_unit="W"
    )
    assert clv.attrs["time_unit"] == "W"


@pytest.mark.parametrize(
    ("unit", "days", "per_year"),
    [
        ("W", 7.0, 365.2425 / 7),
        ("7D", 7.0, 365.2425 / 7),
        ("M", 30.436875, 12.0),
        ("30D", 30.0, 365.2425 / 30),
        ("h", 1 / 24, 365.2425 * 24),
        ("Q", 91.310625, 4.0),
        ("Y", 365.2425, 1.0),
        ("W-SUN", 7.0, 365.2425 / 7),
    ],
)
def test_parse_and_exact_rate_conversion(unit, days, per_year):
    u = parse_time_unit(unit)
    assert u.days == pytest.approx(days, rel=1e-15)
    assert u.periods_per_year == pytest.approx(per_year, rel=1e-15)
    d = rate_per_period(0.10, u)
    assert (1 + d) ** per_year == pytest.approx(1.10, rel=1e-13)
    assert annual_rate(d, u) == pytest.approx(0.10, rel=1e-12)


@pytest.mark.parametrize("bad", ["fortnight", "0D", "-3W", "", 7, None])
def test_bad_units(bad):
    with pytest.raises(ValueError, match="time_unit"):
        parse_time_unit(bad)


def test_time_scaler_and_multiples(tx):
    days = _rfm(tx, "D")
    sevens = _rfm(tx, "7D")
    thirty = _rfm(tx, "30D")
    np.testing.assert_allclose(sevens["T"], days["T"] / 7, rtol=1e-15)
    np.testing.assert_allclose(thirty["recency"], days["recency"] / 30, rtol=1e-15)
    np.testing.assert_array_equal(sevens["frequency"], days["frequency"])
    assert (thirty["period_days"] == 30.0).all() and thirty.attrs["time_unit"] == "30D"
    assert math.isclose(parse_time_unit(thirty.attrs["time_unit"]).days, 30.0)


def test_with_time_unit_does_not_modify_the_input(weekly):
    bare = weekly.drop(columns="period_days")
    before = bare.copy()
    labelled = with_time_unit(bare, "M")
    pd.testing.assert_frame_equal(bare, before)
    assert (labelled["period_days"] == 30.436875).all()


def test_bad_period_days_column(weekly):
    broken = weekly.copy()
    broken.iloc[0, broken.columns.get_loc("period_days")] = -1.0
    with pytest.raises(DataError, match="not > 0"):
        BetaGeoModel().fit(broken)


def test_model_file_keeps_the_unit(fitted, tmp_path, daily):
    bg, _ = fitted
    bg.to_json(tmp_path / "bg.json")
    loaded = BetaGeoModel.from_json(tmp_path / "bg.json")
    assert loaded.time_unit_ == "W"
    with pytest.raises(DataError, match="period_days"):
        loaded.expected_purchases(4, daily)
