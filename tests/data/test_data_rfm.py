"""rfm_summary: equality with lifetimes on CDNOW, the output contract, units and inputs."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from clv.data.datasets import (
    load_cdnow_sample_transactions,
    load_cdnow_summary,
    load_cdnow_summary_with_spend,
    load_cdnow_transactions,
)
from clv.data.rfm import calibration_holdout_split, rfm_summary
from clv.data.validate import validate_rfm
from clv.exceptions import DataWarning

IGNORE_DATA_WARNINGS = pytest.mark.filterwarnings("ignore::clv.exceptions.DataWarning")


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return load_cdnow_transactions()


def lifetimes_summary(tx: pd.DataFrame, time_unit: str, value_col: str | None) -> pd.DataFrame:
    from lifetimes.utils import summary_data_from_transaction_data

    out = summary_data_from_transaction_data(
        tx, "customer_id", "date", monetary_value_col=value_col, freq=time_unit, freq_multiplier=1
    )
    out.index.name = "customer_id"
    return out


@IGNORE_DATA_WARNINGS
@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
@pytest.mark.parametrize("value_col", [None, "value"])
@pytest.mark.parametrize("time_unit", ["W", "D"])
def test_equals_lifetimes_on_cdnow(cdnow, time_unit, value_col, engine):
    """Oracle: ``lifetimes.utils.summary_data_from_transaction_data(cdnow, "customer_id",
    "date", monetary_value_col=value_col, freq=time_unit, freq_multiplier=1)``.
    frequency/recency/T are integers in float64 and must match exactly; monetary_value
    is a mean of sums, compared at rtol 1e-12 (summation order differs)."""
    ours = rfm_summary(
        cdnow,
        customer_id_col="customer_id",
        date_col="date",
        value_col=value_col,
        time_unit=time_unit,
        engine=engine,
    )
    ref = lifetimes_summary(cdnow, time_unit, value_col)
    assert len(ours) == 23_570
    pd.testing.assert_frame_equal(
        ours[["frequency", "recency", "T"]], ref[["frequency", "recency", "T"]], check_exact=True
    )
    if value_col is None:
        assert "monetary_value" not in ours.columns
    else:
        pd.testing.assert_series_equal(
            ours["monetary_value"], ref["monetary_value"], rtol=1e-12, atol=0.0
        )


def test_cdnow_warns_about_its_exact_duplicates_and_zero_spend(cdnow):
    with pytest.warns(DataWarning) as record:
        rfm_summary(cdnow, customer_id_col="customer_id", date_col="date", value_col="value")
    messages = [str(w.message) for w in record]
    assert any("255 rows" in m and "exact duplicates" in m for m in messages)
    assert any("'monetary_value' is 0 for 1 customer" in m for m in messages)


@IGNORE_DATA_WARNINGS
def test_reproduces_the_published_cdnow_summary():
    """The BG/NBD paper's CDNOW summary (lifetimes' cdnow_customers_summary.csv) is the
    39-week calibration of the 2,357-customer sample in days / 7, rounded to 2 decimals."""
    tx = load_cdnow_sample_transactions()
    split = calibration_holdout_split(
        tx,
        customer_id_col="customer_id",
        date_col="date",
        value_col="value",
        calibration_end="1997-09-30",
        time_unit="7D",  # 7-day weeks from each customer's first day, same-day purchases merged
    )
    published = load_cdnow_summary()
    weeks = split[["frequency", "recency", "T", "period_days"]].round(2)
    pd.testing.assert_frame_equal(weeks, published, check_exact=True, check_flags=False)
    assert split.attrs["time_unit"] == "7D"
    daily = calibration_holdout_split(
        tx,
        customer_id_col="customer_id",
        date_col="date",
        calibration_end="1997-09-30",
        time_unit="D",
        time_scaler=7,
    )
    pd.testing.assert_frame_equal(
        daily, split.drop(columns=["monetary_value", "monetary_value_holdout"])
    )
    spend = load_cdnow_summary_with_spend()
    # zbar is printed to the cent (rounded half up): within half a cent
    diff = (split["monetary_value"] - spend["monetary_value"]).abs()
    assert diff.max() <= 0.005 + 1e-9


def small_log() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cust": ["b", "a", "a", "a", "a", "b", "c", "a"],
            "when": pd.to_datetime(
                [
                    "2024-01-10",  # b: Wed, week of 2024-01-08
                    "2024-01-01",  # a: Mon, week of 2024-01-01 (first period)
                    "2024-01-07",  # a: Sun, same week -> merged into the first purchase
                    "2024-01-15",  # a: week of 01-15
                    "2024-01-16",  # a: same week -> merged, values summed
                    "2024-02-01",  # b: week of 01-29
                    "2024-02-04",  # c: Sun, week of 01-29
                    "2024-02-06",  # a: Tue, week of 02-05
                ]
            ),
            "amount": [5.0, 10.0, 1.0, 20.0, 4.0, 8.0, 0.0, 6.0],
        }
    )


def test_hand_computed_weekly_summary():
    rfm = rfm_summary(
        small_log(),
        customer_id_col="cust",
        date_col="when",
        value_col="amount",
        observation_end="2024-02-07",
    )
    expected = pd.DataFrame(
        {
            "frequency": [2.0, 1.0, 0.0],
            "recency": [5.0, 3.0, 0.0],
            "T": [5.0, 4.0, 1.0],
            "monetary_value": [15.0, 8.0, 0.0],  # a: (20 + 4 + 6) / 2 repeat weeks
            "period_days": [7.0, 7.0, 7.0],
        },
        index=pd.Index(["a", "b", "c"], name="customer_id"),
    )
    pd.testing.assert_frame_equal(rfm, expected, check_index_type=False)
    assert rfm.attrs == {"time_unit": "W", "observation_end": "2024-02-07T00:00:00"}
    validate_rfm(rfm)


def test_observation_end_defaults_to_last_transaction():
    rfm = rfm_summary(small_log(), customer_id_col="cust", date_col="when", time_unit="D")
    assert rfm.attrs["observation_end"] == "2024-02-06T00:00:00"
    assert rfm.loc["a", "T"] == 36.0
    assert rfm.loc["a", "recency"] == 36.0
    assert rfm.loc["a", "frequency"] == 4.0  # 01-01, 01-07, 01-15, 01-16, 02-06: five days
    assert rfm.loc["c", "T"] == 2.0


def test_output_contract():
    rfm = rfm_summary(small_log(), customer_id_col="cust", date_col="when", value_col="amount")
    assert rfm.index.name == "customer_id"
    assert rfm.index.is_unique and rfm.index.is_monotonic_increasing
    assert list(rfm.columns) == ["frequency", "recency", "T", "monetary_value", "period_days"]
    assert all(dtype == np.float64 for dtype in rfm.dtypes)


def reference_rfm(tx: pd.DataFrame, time_unit: str, end: str) -> pd.DataFrame:
    """Independent oracle with pandas Periods (lifetimes cannot do months/quarters/years)."""
    periods = tx["when"].dt.to_period(time_unit)
    per = tx.assign(p=periods).groupby(["cust", "p"])["amount"].sum().reset_index()
    first = per.groupby("cust")["p"].min()
    rows = []
    end_p = pd.Period(end, time_unit)
    for cust, group in per.groupby("cust"):
        repeat = group[group["p"] > first[cust]]
        rows.append(
            {
                "customer_id": cust,
                "frequency": float(len(group) - 1),
                "recency": float((group["p"].max() - first[cust]).n),
                "T": float((end_p - first[cust]).n),
                "monetary_value": float(repeat["amount"].mean()) if len(repeat) else 0.0,
            }
        )
    return pd.DataFrame(rows).set_index("customer_id")


@IGNORE_DATA_WARNINGS  # customers first seen in the last year have T == 0
@pytest.mark.parametrize("time_unit", ["D", "W", "M", "Q", "Y"])
def test_every_time_unit_matches_pandas_periods(time_unit):
    rng = np.random.default_rng(7)
    n = 400
    tx = pd.DataFrame(
        {
            "cust": rng.integers(0, 40, n),
            "when": pd.Timestamp("1968-11-03")
            + pd.to_timedelta(rng.integers(0, 4 * 365 * 24, n), unit="h"),
            "amount": rng.integers(1, 10_000, n) / 100,
        }
    )
    end = "1972-12-31 23:00"
    ours = rfm_summary(
        tx,
        customer_id_col="cust",
        date_col="when",
        value_col="amount",
        time_unit=time_unit,
        observation_end=end,
    )
    ref = reference_rfm(tx, time_unit, end)
    pd.testing.assert_frame_equal(
        ours[["frequency", "recency", "T"]], ref[["frequency", "recency", "T"]], check_exact=True
    )
    pd.testing.assert_series_equal(ours["monetary_value"], ref["monetary_value"], rtol=1e-12)


def test_dates_as_strings_objects_and_resolutions_give_the_same_summary():
    base = small_log()
    ref = rfm_summary(base, customer_id_col="cust", date_col="when", value_col="amount")
    variants = {
        "iso strings": base.assign(when=base["when"].dt.strftime("%Y-%m-%d")),
        "date objects": base.assign(when=[d.date() for d in base["when"]]),
        "datetime objects": base.assign(when=[d.to_pydatetime() for d in base["when"]]),
        "seconds": base.assign(when=base["when"].astype("datetime64[s]")),
        "milliseconds": base.assign(when=base["when"].astype("datetime64[ms]")),
    }
    for name, frame in variants.items():
        got = rfm_summary(frame, customer_id_col="cust", date_col="when", value_col="amount")
        pd.testing.assert_frame_equal(got, ref, obj=name)
    custom = base.assign(when=base["when"].dt.strftime("%d/%m/%Y"))
    got = rfm_summary(
        custom, customer_id_col="cust", date_col="when", value_col="amount", date_format="%d/%m/%Y"
    )
    pd.testing.assert_frame_equal(got, ref)


def test_times_within_a_day_and_inclusive_observation_end():
    tx = pd.DataFrame(
        {
            "id": [1, 1, 1, 2],
            "t": pd.to_datetime(
                ["2024-03-01 08:00", "2024-03-01 21:30", "2024-03-03 10:00", "2024-03-02 12:00"]
            ),
        }
    )
    rfm = rfm_summary(
        tx, customer_id_col="id", date_col="t", time_unit="D", observation_end="2024-03-03 10:00"
    )
    assert rfm.loc[1].tolist() == [1.0, 2.0, 2.0, 1.0]
    assert rfm.loc[2].tolist() == [0.0, 0.0, 1.0, 1.0]


@pytest.mark.parametrize(
    "ids",
    [
        pytest.param([10, 10, 20, 30], id="compact-int"),
        pytest.param([10**15, 10**15, 3, 10**12], id="sparse-int"),
        pytest.param(["x", "x", "y", "z"], id="str"),
        pytest.param(pd.array([5, 5, 6, 7], dtype="Int64"), id="nullable-int"),
        pytest.param(np.array([5, 5, 6, 7], dtype=np.uint16), id="uint16"),
    ],
)
def test_customer_id_types(ids):
    tx = pd.DataFrame(
        {"id": ids, "t": pd.to_datetime(["2024-01-01", "2024-01-20", "2024-01-02", "2024-01-09"])}
    )
    rfm = rfm_summary(tx, customer_id_col="id", date_col="t", time_unit="D")
    expected_ids = sorted(set(pd.Series(ids).tolist()))
    assert rfm.index.tolist() == expected_ids
    first = rfm.loc[pd.Series(ids).iloc[0]]
    assert first.tolist() == [1.0, 19.0, 19.0, 1.0]


@pytest.mark.parametrize("call", ["rfm", "split"])
def test_caller_frame_is_not_modified(call):
    tx = small_log().assign(when=lambda d: d["when"].dt.strftime("%Y-%m-%d"))
    tx.index = pd.Index([7, 3, 9, 1, 5, 2, 8, 4], name="row")
    before = tx.copy(deep=True)
    if call == "rfm":
        rfm_summary(tx, customer_id_col="cust", date_col="when", value_col="amount")
    else:
        calibration_holdout_split(
            tx,
            customer_id_col="cust",
            date_col="when",
            value_col="amount",
            calibration_end="2024-01-20",
        )
    pd.testing.assert_frame_equal(tx, before)


def test_warns_when_a_customer_has_T_zero():
    tx = pd.DataFrame(
        {"id": [1, 1, 2], "t": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-02-01"])}
    )
    with pytest.warns(DataWarning, match=r"(?s)'T' is 0 for 1 customer.*rfm\['T'\] > 0"):
        rfm = rfm_summary(tx, customer_id_col="id", date_col="t")
    assert rfm.loc[2, "T"] == 0.0


def test_warns_about_zero_spend_repeat_buyers():
    tx = pd.DataFrame(
        {
            "id": [1, 1, 2, 2],
            "t": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-01-01", "2024-02-01"]),
            "v": [10.0, 0.0, 5.0, 6.0],
        }
    )
    with pytest.warns(DataWarning, match=r"(?s)'monetary_value' is 0 for 1 customer.*> 0"):
        rfm = rfm_summary(tx, customer_id_col="id", date_col="t", value_col="v")
    assert rfm["frequency"].tolist() == [1.0, 1.0]  # zero amounts are purchases
    assert rfm["monetary_value"].tolist() == [0.0, 6.0]


def test_single_customer_warns_but_summarises():
    tx = pd.DataFrame({"id": [4, 4], "t": [dt.date(2024, 1, 1), dt.date(2024, 1, 20)]})
    with pytest.warns(DataWarning, match="single customer"):
        rfm = rfm_summary(tx, customer_id_col="id", date_col="t", time_unit="D")
    assert rfm.loc[4].tolist() == [1.0, 19.0, 19.0, 1.0]


def test_bad_arguments_raise_value_error():
    tx = small_log()
    with pytest.raises(ValueError, match="time_unit='H'"):
        rfm_summary(tx, customer_id_col="cust", date_col="when", time_unit="H")
    with pytest.raises(ValueError, match="engine='spark'"):
        rfm_summary(tx, customer_id_col="cust", date_col="when", engine="spark")
    with pytest.raises(TypeError, match="pandas DataFrame"):
        rfm_summary(tx.to_dict(), customer_id_col="cust", date_col="when")
