"""calibration_holdout_split: equality with lifetimes on CDNOW, windows and errors."""

from __future__ import annotations

import pandas as pd
import pytest

from clv.data.datasets import load_cdnow_transactions
from clv.data.rfm import calibration_holdout_split
from clv.exceptions import DataError, DataWarning

IGNORE_DATA_WARNINGS = pytest.mark.filterwarnings("ignore::clv.exceptions.DataWarning")
RENAME = {
    "frequency_cal": "frequency",
    "recency_cal": "recency",
    "T_cal": "T",
    "monetary_value_cal": "monetary_value",
}


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return load_cdnow_transactions()


def lifetimes_split(tx: pd.DataFrame, time_unit: str) -> pd.DataFrame:
    from lifetimes.utils import calibration_and_holdout_data

    out = calibration_and_holdout_data(
        tx,
        "customer_id",
        "date",
        calibration_period_end="1997-09-30",
        monetary_value_col="value",
        freq=time_unit,
    )
    out.index.name = "customer_id"
    return out.rename(columns=RENAME)


def split(tx: pd.DataFrame, time_unit: str, engine: str = "auto") -> pd.DataFrame:
    return calibration_holdout_split(
        tx,
        customer_id_col="customer_id",
        date_col="date",
        value_col="value",
        calibration_end="1997-09-30",
        time_unit=time_unit,
        engine=engine,
    )


@IGNORE_DATA_WARNINGS
@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
@pytest.mark.parametrize("time_unit", ["W", "D"])
def test_equals_lifetimes_on_cdnow(cdnow, time_unit, engine):
    """Oracle: ``lifetimes.utils.calibration_and_holdout_data(cdnow, "customer_id", "date",
    calibration_period_end="1997-09-30", monetary_value_col="value", freq=time_unit)``,
    columns renamed. monetary_value_holdout is checked separately (lifetimes averages rows)."""
    ours = split(cdnow, time_unit, engine)
    ref = lifetimes_split(cdnow, time_unit)
    assert list(ours.columns) == [
        "frequency",
        "recency",
        "T",
        "monetary_value",
        "frequency_holdout",
        "monetary_value_holdout",
        "duration_holdout",
        "period_days",
    ]
    assert (ours["period_days"] == (7.0 if time_unit == "W" else 1.0)).all()
    exact = ["frequency", "recency", "T", "frequency_holdout", "duration_holdout"]
    pd.testing.assert_frame_equal(ours[exact], ref[exact], check_exact=True)
    pd.testing.assert_series_equal(ours["monetary_value"], ref["monetary_value"], rtol=1e-12)
    assert ours.attrs == {
        "time_unit": time_unit,
        "calibration_end": "1997-09-30T00:00:00",
        "observation_end": "1998-06-30T00:00:00",
    }


@IGNORE_DATA_WARNINGS
def test_holdout_spend_is_per_period_and_equals_lifetimes_on_one_row_per_period(cdnow):
    """lifetimes' monetary_value_holdout is the mean of the holdout *rows*; ours is the mean of
    the holdout *periods* (same-period rows summed), like the calibration monetary_value.
    With one row per customer-day, daily periods make the two definitions coincide."""
    daily = cdnow.groupby(["customer_id", "date"], as_index=False)["value"].sum()
    ours = split(daily, "D")
    ref = lifetimes_split(daily, "D")
    pd.testing.assert_series_equal(
        ours["monetary_value_holdout"], ref["monetary_value_holdout"], rtol=1e-12
    )
    # weekly: independent computation from the definition
    weekly = split(cdnow, "W")
    holdout = cdnow[cdnow["date"] > "1997-09-30"]
    per_week = holdout.groupby(["customer_id", holdout["date"].dt.to_period("W")])["value"].sum()
    expected = per_week.groupby(level="customer_id").mean()
    expected = expected.reindex(weekly.index, fill_value=0.0).rename("monetary_value_holdout")
    pd.testing.assert_series_equal(weekly["monetary_value_holdout"], expected, rtol=1e-12)
    differs = (weekly["monetary_value_holdout"] - ref_rows(cdnow, weekly.index)).abs() > 1e-9
    assert differs.sum() > 0  # the two definitions really differ on CDNOW


def ref_rows(cdnow: pd.DataFrame, index: pd.Index) -> pd.Series:
    holdout = cdnow[cdnow["date"] > "1997-09-30"]
    return holdout.groupby("customer_id")["value"].mean().reindex(index, fill_value=0.0)


def log() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 1, 1, 1, 2, 3, 3],
            "day": pd.to_datetime(
                [
                    "2024-01-01",
                    "2024-01-10",
                    "2024-01-31",  # holdout
                    "2024-02-01",  # holdout, same week as 01-31 for W
                    "2024-01-05",
                    "2024-01-25",  # first purchase after calibration_end: not in the frame
                    "2024-02-10",
                ]
            ),
            "value": [10.0, 20.0, 3.0, 5.0, 7.0, 1.0, 2.0],
        }
    )


def test_hand_computed_split():
    out = calibration_holdout_split(
        log(),
        customer_id_col="id",
        date_col="day",
        value_col="value",
        calibration_end="2024-01-20",
        observation_end="2024-02-20",
        time_unit="D",
    )
    assert out.index.tolist() == [1, 2]
    assert out.loc[1].tolist() == [1.0, 9.0, 19.0, 20.0, 2.0, 4.0, 31.0, 1.0]
    assert out.loc[2].tolist() == [0.0, 0.0, 15.0, 0.0, 0.0, 0.0, 31.0, 1.0]
    weekly = calibration_holdout_split(
        log(),
        customer_id_col="id",
        date_col="day",
        value_col="value",
        calibration_end="2024-01-20",
        observation_end="2024-02-20",
    )
    # 01-31 (Wed) and 02-01 (Thu) are one holdout purchase of 8.0
    assert weekly.loc[1, ["frequency_holdout", "monetary_value_holdout"]].tolist() == [1.0, 8.0]
    assert weekly["duration_holdout"].tolist() == [5.0, 5.0]


@pytest.mark.parametrize(
    ("calibration_end", "observation_end", "expected"),
    [
        ("2024-03-01", "2024-02-20", "is not before observation_end"),
        ("2024-02-19", "2024-02-20", "fall in the same period"),
        ("2023-12-01", "2024-02-20", "no transaction is on or before calibration_end"),
        ("not a date", "2024-02-20", "calibration_end='not a date' is not a date"),
    ],
)
def test_bad_windows_are_data_errors(calibration_end, observation_end, expected):
    with pytest.raises(DataError, match=expected) as err:
        calibration_holdout_split(
            log(),
            customer_id_col="id",
            date_col="day",
            calibration_end=calibration_end,
            observation_end=observation_end,
        )
    assert "Fix:" in str(err.value)


def test_window_problems_are_reported_with_data_problems():
    tx = log()
    tx.loc[0, "value"] = -1.0
    with pytest.raises(DataError) as err:
        calibration_holdout_split(
            tx,
            customer_id_col="id",
            date_col="day",
            value_col="value",
            calibration_end="2024-03-01",
            observation_end="2024-02-20",
        )
    text = str(err.value)
    assert "is negative" in text and "is not before observation_end" in text


def test_transactions_after_observation_end_are_an_error():
    with pytest.raises(DataError, match=r"(?s)'day' has 1 row after observation_end.*holdout"):
        calibration_holdout_split(
            log(),
            customer_id_col="id",
            date_col="day",
            calibration_end="2024-01-20",
            observation_end="2024-02-01",
        )


def test_empty_holdout_warns():
    tx = log()[lambda d: d["day"] <= "2024-01-20"]
    with pytest.warns(DataWarning, match="no transactions between calibration_end"):
        out = calibration_holdout_split(
            tx,
            customer_id_col="id",
            date_col="day",
            calibration_end="2024-01-10",
            observation_end="2024-03-01",
        )
    assert (out["frequency_holdout"] == 0).all()
