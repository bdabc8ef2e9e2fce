"""validate_rfm: the RFM contract (ARCHITECTURE §2.1), one DataError listing every problem."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clv.data.datasets import load_cdnow_summary, load_cdnow_summary_with_spend, load_donations
from clv.data.validate import validate_rfm
from clv.exceptions import DataError


def good() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "frequency": [2.0, 0.0, 5.0, 1.0],
            "recency": [30.43, 0.0, 20.0, 1.0],
            "T": [38.86, 38.86, 25.0, 3.0],
            "monetary_value": [22.35, 0.0, 10.0, 4.0],
        },
        index=pd.Index([17, 58, 93, 201], name="customer_id"),
    )


def edit(column: str, position: int, value: object) -> pd.DataFrame:
    frame = good()
    if column not in frame.columns:
        frame[column] = 1.0
    frame[column] = frame[column].astype(object) if isinstance(value, str) else frame[column]
    frame.iloc[position, frame.columns.get_loc(column)] = value
    return frame


CASES = {
    "missing column": (
        lambda: good().drop(columns="T"),
        {},
        "T",
        "is not in the frame",
        "pass the name of the T (customer age) column",
        None,
    ),
    "lifetimes calibration names": (
        lambda: good().rename(columns={"recency": "recency_cal"}),
        {},
        "recency",
        "'recency_cal' is (lifetimes' calibration names)",
        "rfm.rename(columns={'recency_cal': 'recency'})",
        None,
    ),
    "non-numeric column": (
        lambda: good().assign(frequency=["2", "0", "5", "1"]),
        {},
        "frequency",
        "is not numeric",
        "pd.to_numeric",
        None,
    ),
    "missing value": (
        lambda: edit("T", 2, np.nan),
        {},
        "T",
        "is missing or infinite for 1 customer",
        "finite number",
        "93",
    ),
    "infinite value": (
        lambda: edit("monetary_value", 0, np.inf),
        {},
        "monetary_value",
        "is missing or infinite for 1 customer",
        "finite number",
        "17",
    ),
    "negative frequency": (
        lambda: edit("frequency", 3, -1.0),
        {},
        "frequency",
        "is negative for 1 customer",
        ">= 0",
        "201",
    ),
    "non-integer frequency": (
        lambda: edit("frequency", 2, 2.5),
        {},
        "frequency",
        "has non-integer values for 1 customer (2.5)",
        "re-aggregate the transactions",
        "93",
    ),
    "negative recency": (
        lambda: edit("recency", 3, -1.0),
        {},
        "recency",
        "is negative for 1 customer",
        "recency is the time from the first to the last purchase",
        "201",
    ),
    "recency above T": (
        lambda: edit("recency", 2, 30.0),
        {},
        "recency",
        "is greater than 'T' for 1 customer",
        "recency must be <= T. Check that observation_end is after every transaction.",
        "93",
    ),
    "recency without repeats": (
        lambda: edit("recency", 1, 4.0),
        {},
        "recency",
        "is not 0 for 1 customer with frequency 0",
        "set recency to 0 where frequency is 0",
        "58",
    ),
    "T zero": (
        lambda: edit("T", 1, 0.0),
        {},
        "T",
        "is <= 0 for 1 customer",
        "rfm[rfm['T'] > 0]",
        "58",
    ),
    "negative monetary value": (
        lambda: edit("monetary_value", 1, -2.0),
        {},
        "monetary_value",
        "is negative for 1 customer",
        "net returns",
        "58",
    ),
    "mixed period lengths": (
        lambda: good().assign(period_days=[7.0, 7.0, 1.0, 7.0]),
        {},
        "period_days",
        "mixes period lengths (1 and 7 days)",
        "same time_unit",
        None,
    ),
    "zero weight": (
        lambda: edit("weight", 0, 0.0),
        {},
        "weight",
        "is <= 0 for 1 customer",
        "weight counts identical customers",
        "17",
    ),
    "missing customer id": (
        lambda: good().set_axis(pd.Index([17.0, np.nan, 93.0, 201.0], name="customer_id")),
        {},
        "customer_id",
        "index has 1 missing id",
        "drop or fill in the customers without an id",
        None,
    ),
    "repeated customer id": (
        lambda: good().set_axis(pd.Index([17, 58, 17, 201], name="customer_id")),
        {},
        "customer_id",
        "index repeats 1 customer id",
        "one row per customer",
        "17",
    ),
    "empty frame": (
        lambda: good().iloc[:0],
        {},
        None,
        "has no rows",
        "at least one customer",
        None,
    ),
    "required spend column": (
        lambda: good().drop(columns="monetary_value"),
        {"columns": ("frequency", "monetary_value")},
        "monetary_value",
        "is not in the frame",
        "monetary_value",
        None,
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_each_rule_names_column_fix_and_customers(case):
    make, kwargs, column, problem, fix, example = CASES[case]
    frame = make()
    before = frame.copy(deep=True)
    with pytest.raises(DataError) as err:
        validate_rfm(frame, **kwargs)
    text = str(err.value)
    assert [p.column for p in err.value.problems] == [column], text
    if column is not None:
        assert f"column '{column}'" in text
    assert problem in text
    assert "Fix:" in text and fix in text
    if example is not None:
        assert f"(e.g. {example}" in text, text
    pd.testing.assert_frame_equal(frame, before)


def test_several_problems_in_one_error_like_the_style_guide():
    frame = pd.DataFrame(
        {
            "frequency": [1.0, 2.5, 3.0, 1.0, 0.0],
            "recency": [40.0, 2.0, 50.0, 60.0, 0.0],
            "T": [30.0, 10.0, 40.0, 50.0, 5.0],
        },
        index=pd.Index([17, 58, 93, 201, 7], name="customer_id"),
    )
    with pytest.raises(DataError) as err:
        validate_rfm(frame)
    text = str(err.value)
    assert text.startswith("2 problems in the RFM data:")
    assert "column 'recency' is greater than 'T' for 3 customers (e.g. 17, 93, 201)." in text
    assert "column 'frequency' has non-integer values for 1 customer (2.5) (e.g. 58)." in text


def test_columns_argument_limits_the_checks():
    frame = good()
    frame.iloc[0, frame.columns.get_loc("monetary_value")] = -1.0
    with pytest.raises(DataError):
        validate_rfm(frame)
    validate_rfm(frame, columns=("frequency", "recency", "T"))  # a transaction model ignores spend


@pytest.mark.parametrize(
    "loader", [load_cdnow_summary, load_cdnow_summary_with_spend, load_donations]
)
def test_bundled_summaries_are_valid(loader):
    validate_rfm(loader())


def test_not_a_dataframe_is_a_type_error():
    with pytest.raises(TypeError, match="pandas DataFrame"):
        validate_rfm(good().to_numpy())


def test_zero_spend_of_repeat_buyers_is_valid():
    """Repeat purchases worth 0 are data, not an error: spend models fit without them."""
    rfm = good()
    rfm.iloc[0, rfm.columns.get_loc("monetary_value")] = 0.0
    validate_rfm(rfm)
