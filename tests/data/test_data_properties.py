"""Property tests of the RFM summary (ARCHITECTURE §12.3, data layer)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clv.data.rfm import calibration_holdout_split, rfm_summary

pytestmark = pytest.mark.filterwarnings("ignore::clv.exceptions.DataWarning")

SETTINGS = settings(max_examples=50, deadline=None, database=None)
START = pd.Timestamp("2023-12-20")


@st.composite
def transaction_logs(draw: st.DrawFn) -> pd.DataFrame:
    """Small logs: up to 6 customers, 40 rows, 150 days, hours, amounts in cents (0 allowed)."""
    rows = draw(
        st.lists(
            st.tuples(
                st.integers(0, 5),  # customer
                st.integers(0, 150),  # day
                st.integers(0, 23),  # hour
                st.integers(0, 20_000),  # cents
            ),
            min_size=1,
            max_size=40,
        )
    )
    customer, day, hour, cents = (np.array(col) for col in zip(*rows, strict=True))
    return pd.DataFrame(
        {
            "id": customer * 11 + 5,
            "date": START + pd.to_timedelta(day * 24 + hour, unit="h"),
            "value": cents / 100.0,
        }
    )


def summarise(tx: pd.DataFrame, time_unit: str, **kwargs) -> pd.DataFrame:
    return rfm_summary(
        tx, customer_id_col="id", date_col="date", value_col="value", time_unit=time_unit, **kwargs
    )


def assert_same_summary(a: pd.DataFrame, b: pd.DataFrame) -> None:
    counts = ["frequency", "recency", "T"]
    pd.testing.assert_frame_equal(a[counts], b[counts], check_exact=True)
    pd.testing.assert_series_equal(a["monetary_value"], b["monetary_value"], rtol=1e-12)


time_units = st.sampled_from(["D", "W", "M"])


@SETTINGS
@given(tx=transaction_logs(), unit=time_units, seed=st.integers(0, 2**32 - 1))
def test_invariant_to_row_order(tx, unit, seed):
    shuffled = tx.sample(frac=1.0, random_state=np.random.default_rng(seed))
    assert_same_summary(summarise(shuffled, unit), summarise(tx, unit))


@SETTINGS
@given(tx=transaction_logs(), unit=time_units, data=st.data())
def test_duplicating_a_transaction_changes_no_count(tx, unit, data):
    row = data.draw(st.integers(0, len(tx) - 1))
    doubled = pd.concat([tx, tx.iloc[[row]]], ignore_index=True)
    counts = ["frequency", "recency", "T"]
    pd.testing.assert_frame_equal(
        summarise(doubled, unit)[counts], summarise(tx, unit)[counts], check_exact=True
    )


@SETTINGS
@given(tx=transaction_logs(), unit=time_units, data=st.data())
def test_a_free_purchase_within_a_purchase_period_changes_nothing(tx, unit, data):
    row = data.draw(st.integers(0, len(tx) - 1))
    extra = tx.iloc[[row]].assign(value=0.0)
    assert_same_summary(
        summarise(pd.concat([extra, tx], ignore_index=True), unit), summarise(tx, unit)
    )


@SETTINGS
@given(tx=transaction_logs(), unit=time_units, end_days=st.integers(0, 60))
def test_rfm_ranges(tx, unit, end_days):
    rfm = summarise(tx, unit, observation_end=tx["date"].max() + pd.Timedelta(days=end_days))
    f, r, t = (rfm[c].to_numpy() for c in ("frequency", "recency", "T"))
    assert np.all((f >= 0) & (f == np.floor(f)))
    assert np.all((r >= 0) & (r <= t))
    assert np.all(r[f == 0] == 0)
    assert np.all(f <= r)  # each repeat purchase is in a later period
    assert np.all(rfm["monetary_value"].to_numpy()[f == 0] == 0)
    assert set(rfm.index) == set(tx["id"])


@SETTINGS
@given(tx=transaction_logs(), unit=time_units)
def test_engines_are_identical(tx, unit):
    pd.testing.assert_frame_equal(
        summarise(tx, unit, engine="pandas"), summarise(tx, unit, engine="duckdb"), check_exact=True
    )


@SETTINGS
@given(tx=transaction_logs(), unit=st.sampled_from(["D", "W"]))
def test_agrees_with_lifetimes(tx, unit):
    """Oracle: ``summary_data_from_transaction_data(tx, "id", "date", monetary_value_col="value",
    freq=unit)`` on random logs with several purchases a day and zero amounts."""
    from lifetimes.utils import summary_data_from_transaction_data

    ref = summary_data_from_transaction_data(
        tx, "id", "date", monetary_value_col="value", freq=unit
    )
    ref.index.name = "customer_id"
    assert_same_summary(summarise(tx, unit), ref)


@SETTINGS
@given(tx=transaction_logs(), unit=time_units, cut=st.integers(0, 150))
def test_calibration_part_is_the_summary_of_the_calibration_rows(tx, unit, cut):
    cal_end = START + pd.Timedelta(days=cut)
    end = max(tx["date"].max(), cal_end) + pd.Timedelta(days=35)  # a month after cal_end
    if tx["date"].min() > cal_end:
        return
    out = calibration_holdout_split(
        tx,
        customer_id_col="id",
        date_col="date",
        value_col="value",
        calibration_end=cal_end,
        observation_end=end,
        time_unit=unit,
    )
    calibration = tx[tx["date"] <= cal_end]
    assert_same_summary(out, summarise(calibration, unit, observation_end=cal_end))
    holdout = tx[tx["date"] > cal_end]
    periods = holdout["date"].dt.to_period(unit)
    expected = holdout.assign(p=periods).groupby("id")["p"].nunique()
    expected = expected.reindex(out.index, fill_value=0).astype(float)
    np.testing.assert_array_equal(out["frequency_holdout"], expected)
    assert out["duration_holdout"].nunique() == 1
