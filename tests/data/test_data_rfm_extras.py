"""rfm_summary: pandas Period ends, hourly periods, include_first_transaction; rfm_segments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clv.data import calibration_holdout_split, period_codes, rfm_segments, rfm_summary
from clv.exceptions import DataError


@pytest.fixture
def tx():
    return pd.DataFrame(
        {
            "id": [1, 1, 1, 2, 3, 3],
            "t": pd.to_datetime(
                [
                    "2024-01-01 10:15",
                    "2024-01-01 10:50",
                    "2024-01-03 13:05",
                    "2024-01-02 12:00",
                    "2024-01-05 09:00",
                    "2024-01-20 18:30",
                ]
            ),
            "v": [1.0, 2.0, 5.0, 7.0, 4.0, 6.0],
        }
    )


def test_observation_end_period_is_the_whole_period(tx):
    by_period = rfm_summary(
        tx,
        customer_id_col="id",
        date_col="t",
        time_unit="D",
        observation_end=pd.Period("2024-01", "M"),
    )
    by_date = rfm_summary(
        tx, customer_id_col="id", date_col="t", time_unit="D", observation_end="2024-01-31"
    )
    pd.testing.assert_frame_equal(by_period, by_date, check_like=True)
    assert by_period.loc[1, "T"] == 30.0
    # a Period that ends before a transaction is refused like any early observation_end
    with pytest.raises(DataError, match="observation_end"):
        rfm_summary(
            tx, customer_id_col="id", date_col="t", observation_end=pd.Period("2024-01-10", "D")
        )


def test_calibration_end_period(tx):
    split = calibration_holdout_split(
        tx,
        customer_id_col="id",
        date_col="t",
        time_unit="D",
        calibration_end=pd.Period("2024-01-03", "D"),
        observation_end=pd.Period("2024-01", "M"),
    )
    assert split.loc[1, "frequency"] == 1.0  # the 13:05 purchase of Jan 3 is in calibration
    assert split["duration_holdout"].iloc[0] == 28.0


def test_hourly_periods_match_pandas(tx):
    rfm = rfm_summary(
        tx, customer_id_col="id", date_col="t", time_unit="h", observation_end="2024-01-31 23:00"
    )
    hours = pd.DatetimeIndex(tx["t"]).to_period("h").asi8
    first = pd.Series(hours).groupby(tx["id"]).min()
    end = pd.Period("2024-01-31 23:00", "h").ordinal
    np.testing.assert_array_equal(rfm["T"].to_numpy(), (end - first).to_numpy())
    assert rfm.loc[1, "frequency"] == 1.0  # 10:15 and 10:50 share an hour
    assert rfm.loc[1, "recency"] == 2 * 24 + 3  # 10:00 Jan 1 -> 13:00 Jan 3
    assert rfm.attrs["time_unit"] == "h"
    assert period_codes(pd.DatetimeIndex(tx["t"]), "h").tolist() == hours.tolist()


def test_hourly_equals_daily_times_24_for_midnight_dates():
    days = pd.to_datetime(["2024-01-01", "2024-01-04", "2024-01-02", "2024-01-09"])
    tx = pd.DataFrame({"id": [1, 1, 2, 2], "t": days})
    d = rfm_summary(
        tx, customer_id_col="id", date_col="t", time_unit="D", observation_end="2024-01-10"
    )
    h = rfm_summary(
        tx, customer_id_col="id", date_col="t", time_unit="h", observation_end="2024-01-10"
    )
    np.testing.assert_array_equal(
        h[["recency", "T"]].to_numpy(), 24 * d[["recency", "T"]].to_numpy()
    )


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_hourly_engines_agree(tx, engine):
    pytest.importorskip(engine)
    a = rfm_summary(
        tx, customer_id_col="id", date_col="t", value_col="v", time_unit="h", engine=engine
    )
    b = rfm_summary(
        tx, customer_id_col="id", date_col="t", value_col="v", time_unit="h", engine="pandas"
    )
    pd.testing.assert_frame_equal(a, b)


def test_unknown_unit_is_refused(tx):
    with pytest.raises(ValueError, match="use one of h, D"):
        rfm_summary(tx, customer_id_col="id", date_col="t", time_unit="min")


def test_include_first_transaction_adds_columns_without_changing_others(tx):
    plain = rfm_summary(tx, customer_id_col="id", date_col="t", value_col="v", time_unit="D")
    full = rfm_summary(
        tx,
        customer_id_col="id",
        date_col="t",
        value_col="v",
        time_unit="D",
        include_first_transaction=True,
    )
    pd.testing.assert_frame_equal(full[plain.columns], plain)
    np.testing.assert_array_equal(full["n_purchases"], plain["frequency"] + 1)
    # customer 1: day totals 3 (two orders on Jan 1) and 5 -> 4; customer 2: 7; customer 3: 5
    np.testing.assert_array_equal(full["monetary_value_all"], [4.0, 7.0, 5.0])
    assert "monetary_value_all" not in rfm_summary(
        tx, customer_id_col="id", date_col="t", time_unit="D", include_first_transaction=True
    )


def test_rfm_segments_scores_and_ties():
    rfm = pd.DataFrame(
        {
            "frequency": [0.0, 0, 0, 0, 2, 3, 7, 9],
            "recency": [0.0, 0, 0, 0, 10, 20, 35, 39],
            "T": [40.0] * 8,
            "monetary_value": [0.0, 0, 0, 0, 10, 20, 30, 40],
        },
        index=pd.Index(list("abcdefgh"), name="customer_id"),
    )
    before = rfm.copy()
    out = rfm_segments(rfm)
    pd.testing.assert_frame_equal(rfm, before)
    assert out.index.equals(rfm.index)
    assert (out.loc[list("abcd"), "f_score"] == 1).all()  # ties share the lowest score
    assert out.loc["h", "rfm_score"] == "444"
    assert out.loc["h", "segment"] == "Premium Customer"
    assert out.loc["a", "segment"] == "Inactive Customer"
    np.testing.assert_array_equal(out["periods_since_last_purchase"], 40 - rfm["recency"])
    # scores rise with recency, frequency and spend
    for dim, col in (("r", "recency"), ("f", "frequency"), ("m", "monetary_value")):
        order = np.argsort(rfm[col].to_numpy(), kind="stable")
        assert np.all(np.diff(out[f"{dim}_score"].to_numpy()[order]) >= 0)


def test_rfm_segments_invariant_to_row_order(rng):
    n = 500
    rfm = pd.DataFrame({"frequency": rng.poisson(2, n).astype(float), "T": rng.uniform(20, 52, n)})
    rfm["recency"] = np.where(rfm["frequency"] > 0, rfm["T"] * rng.uniform(0, 1, n), 0.0)
    a = rfm_segments(rfm, n_bins=5)
    shuffled = rfm.sample(frac=1.0, random_state=1)
    b = rfm_segments(shuffled, n_bins=5).loc[a.index]
    pd.testing.assert_frame_equal(a, b)
    assert set(a["r_score"]) == {1, 2, 3, 4, 5}
    assert "m_score" not in a


def test_rfm_segments_bad_input():
    with pytest.raises(DataError, match="recency"):
        rfm_segments(pd.DataFrame({"frequency": [1.0], "T": [3.0]}))
    with pytest.raises(ValueError, match="n_bins"):
        rfm_segments(pd.DataFrame({"frequency": [1.0], "recency": [1.0], "T": [3.0]}), n_bins=1)
    with pytest.raises(ValueError, match="dimension"):
        rfm_segments(
            pd.DataFrame({"frequency": [1.0], "recency": [1.0], "T": [3.0]}),
            segments={"x": {"q": (1, 2)}},
        )


def test_litt_sums_log_gaps_between_distinct_purchase_periods(tx):
    """Customer 1: days 0, 0, 2 (same-day purchases merged): litt = log 2; 3: log 15; 2: 0."""
    plain = rfm_summary(tx, customer_id_col="id", date_col="t", time_unit="D")
    out = rfm_summary(tx, customer_id_col="id", date_col="t", time_unit="D", litt=True)
    pd.testing.assert_frame_equal(out.drop(columns="litt"), plain)
    np.testing.assert_allclose(out["litt"], [np.log(2.0), 0.0, np.log(15.0)])
    assert list(out.columns[-2:]) == ["litt", "period_days"]
    weeks = rfm_summary(tx, customer_id_col="id", date_col="t", time_unit="7D", litt=True)
    np.testing.assert_allclose(weeks["litt"], [np.log(2 / 7), 0.0, np.log(15 / 7)])
    shuffled = rfm_summary(
        tx.sample(frac=1.0, random_state=1), customer_id_col="id", date_col="t", litt=True,
        time_unit="D",
    )
    pd.testing.assert_series_equal(shuffled["litt"], out["litt"])
    split = calibration_holdout_split(
        tx, customer_id_col="id", date_col="t", time_unit="D", calibration_end="2024-01-10",
        observation_end="2024-01-31", litt=True,
    )
    np.testing.assert_allclose(split["litt"], [np.log(2.0), 0.0, 0.0])  # day 20 is holdout


def test_litt_on_cdnow_equals_btydplus():
    """BTYDplus ``elog2cbs(cdnowElog, T.cal = "1997-09-30")``: sum(litt) = 2909.50466859 (weeks,
    from its CSV output with 15 significant digits; every customer agrees to 1e-13)."""
    from clv.data.datasets import load_cdnow_sample_transactions

    tx = load_cdnow_sample_transactions().drop_duplicates()
    cal = tx[tx["date"] <= "1997-09-30"]
    rfm = rfm_summary(
        cal, customer_id_col="customer_id", date_col="date", time_unit="7D",
        observation_end="1997-09-30", litt=True,
    )
    assert rfm["litt"].sum() == pytest.approx(2909.5046686, abs=1e-6)
    # each customer's gaps add up to recency, so litt <= x log(recency / x)
    x, t_x = rfm["frequency"].to_numpy(), rfm["recency"].to_numpy()
    buyers = x > 0
    bound = x[buyers] * np.log(t_x[buyers] / x[buyers])
    assert np.all(rfm["litt"].to_numpy()[buyers] <= bound + 1e-9)
    assert np.all(rfm["litt"].to_numpy()[~buyers] == 0.0)
