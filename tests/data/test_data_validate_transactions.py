"""validate_transactions: every problem names its column, example rows and the fix."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest

from clv.data.rfm import rfm_summary
from clv.data.validate import validate_transactions
from clv.exceptions import DataError, DataWarning, Problem


def good() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [101, 101, 102, 103, 103, 104],
            "date": pd.to_datetime(
                ["2024-01-02", "2024-02-10", "2024-01-05", "2024-01-07", "2024-03-01", "2024-02-02"]
            ),
            "value": [10.0, 12.5, 3.0, 8.0, 1.0, 4.0],
            "order": ["o1", "o2", "o3", "o4", "o5", "o6"],
        }
    )


def with_column(name: str, values: list) -> pd.DataFrame:
    frame = good()
    frame[name] = pd.Series(values, dtype=object) if name != "value" else values
    return frame


def check(frame: pd.DataFrame, **kwargs) -> DataError:
    args = {"customer_id_col": "customer_id", "date_col": "date", "value_col": "value"}
    args.update(kwargs)
    with pytest.raises(DataError) as err:
        validate_transactions(frame, **args)
    return err.value


# Each case: the frame (or its factory), extra arguments, then what the message must contain:
# the column, a phrase of the problem, a phrase of the fix, and an example id or row label.
CASES = {
    "missing column with suggestion": (
        lambda: good().rename(columns={"customer_id": "customer"}),
        {},
        "customer_id",
        "is not in the frame",
        "did you mean 'customer'?",
        None,
    ),
    "missing column case-insensitive": (
        lambda: good().rename(columns={"value": "Value"}),
        {},
        "value",
        "is not in the frame",
        "did you mean 'Value'?",
        None,
    ),
    "missing customer ids": (
        lambda: (
            good()
            .astype({"customer_id": "Int64"})
            .assign(customer_id=lambda d: d["customer_id"].mask(d.index == 4))
        ),
        {},
        "customer_id",
        "is missing in 1 row (row labels shown)",
        "fill in the customer id",
        "4",
    ),
    "mixed-type customer ids": (
        lambda: with_column("customer_id", [101, 101, "102", 103, 103, 104]),
        {},
        "customer_id",
        "mixes types",
        ".astype(str)",
        "2",
    ),
    "missing dates": (
        lambda: good().assign(date=lambda d: d["date"].mask(d.index == 2)),
        {},
        "date",
        "is missing in 1 row",
        "drop the rows without a date",
        "102",
    ),
    "unparseable dates": (
        lambda: with_column(
            "date",
            ["2024-01-02", "2024-02-10", "yesterday", "2024-01-07", "2024-03-01", "2024-02-02"],
        ),
        {},
        "date",
        "1 value that is not a date ('yesterday')",
        "date_format=",
        "102",
    ),
    "numeric YYYYMMDD dates": (
        lambda: good().assign(date=[20240102, 20240210, 20240105, 20240107, 20240301, 20240202]),
        {},
        "date",
        "holds numbers",
        "format='%Y%m%d'",
        None,
    ),
    "numeric epoch dates": (
        lambda: good().assign(date=np.arange(6) * 86_400 + 1.7e9),
        {},
        "date",
        "holds numbers",
        "unit='s'",
        None,
    ),
    "timezone-aware dates": (
        lambda: good().assign(date=lambda d: d["date"].dt.tz_localize("Europe/Paris")),
        {},
        "date",
        "is timezone-aware (Europe/Paris)",
        ".dt.tz_convert(None)",
        None,
    ),
    "timezone-aware date strings": (
        lambda: with_column("date", [f"2024-01-0{i + 1}T10:00:00+01:00" for i in range(6)]),
        {},
        "date",
        "timezone-aware",
        ".dt.tz_convert(None)",
        None,
    ),
    "mixed aware and naive timestamps": (
        lambda: with_column(
            "date",
            [pd.Timestamp("2024-01-02", tz="UTC")] + [pd.Timestamp("2024-01-03")] * 5,
        ),
        {},
        "date",
        "timezone-aware",
        ".dt.tz_convert(None)",
        None,
    ),
    "dates mixed with numbers": (
        lambda: with_column("date", ["2024-01-02", 5, "2024-01-05", "2024-01-07", "2024-03-01", 7]),
        {},
        "date",
        "mixes dates with other types (int) in 2 rows",
        "make every value a date",
        "101",
    ),
    "missing values": (
        lambda: good().assign(value=[10.0, np.nan, 3.0, 8.0, 1.0, 4.0]),
        {},
        "value",
        "is missing in 1 row",
        "fill in the amounts",
        "101",
    ),
    "non-numeric values": (
        lambda: with_column("value", ["10", "12.5", "3,00", "8", "1", "$4"]),
        {},
        "value",
        "2 non-numeric values ('3,00', '$4')",
        "pd.to_numeric",
        "102",
    ),
    "numbers stored as text": (
        lambda: with_column("value", ["10", "12.5", "3", "8", "1", "4"]),
        {},
        "value",
        "instead of numbers",
        "pd.to_numeric",
        None,
    ),
    "boolean values": (
        lambda: good().assign(value=[True, False, True, True, True, True]),
        {},
        "value",
        "non-numeric",
        "pd.to_numeric",
        "101",
    ),
    "infinite values": (
        lambda: good().assign(value=[10.0, np.inf, 3.0, 8.0, 1.0, 4.0]),
        {},
        "value",
        "is infinite in 1 row",
        "replace the infinite amounts",
        "101",
    ),
    "negative values (returns)": (
        lambda: good().assign(value=[10.0, 12.5, -3.0, 8.0, 1.0, 4.0]),
        {},
        "value",
        "is negative in 1 row (-3.0)",
        "net returns against their purchase",
        "102",
    ),
    "transactions after observation_end": (
        good,
        {"observation_end": "2024-02-15"},
        "date",
        "has 1 row after observation_end (2024-02-15T00:00:00; the last is 2024-03-01",
        "pass a later observation_end",
        "103",
    ),
    "unparseable observation_end": (
        good,
        {"observation_end": "end of year"},
        None,
        "observation_end='end of year' is not a date",
        "pass observation_end as a date",
        None,
    ),
    "numeric observation_end": (
        good,
        {"observation_end": 20240301},
        None,
        "is a number, not a date",
        "pass observation_end as a date",
        None,
    ),
    "timezone-aware observation_end": (
        good,
        {"observation_end": pd.Timestamp("2024-06-01", tz="UTC")},
        None,
        "is timezone-aware",
        "timezone-naive",
        None,
    ),
    "empty frame": (
        lambda: good().iloc[:0],
        {},
        None,
        "has no rows",
        "non-empty",
        None,
    ),
    "repeated column name": (
        lambda: pd.concat([good(), good()[["value"]]], axis=1),
        {},
        "value",
        "appears 2 times",
        "unique name",
        None,
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_each_problem_names_column_fix_and_rows(case):
    make, kwargs, column, problem, fix, example = CASES[case]
    frame = make()
    before = frame.copy(deep=True)
    err = check(frame, **kwargs)
    text = str(err)
    assert isinstance(err, ValueError)
    assert len(err.problems) == 1, text
    found = err.problems[0]
    assert isinstance(found, Problem)
    assert found.column == column
    if column is not None:
        assert f"column '{column}'" in text
    assert problem in text
    assert "Fix:" in text and fix in text
    if example is not None:
        assert f"(e.g. {example}" in text or f"(e.g. '{example}'" in text, text
    pd.testing.assert_frame_equal(frame, before)


def test_all_problems_are_reported_at_once():
    frame = good()
    frame["date"] = pd.Series(
        ["2024-01-02", "2024-02-10", "someday", "2024-01-07", "2024-03-01", None], dtype=object
    )
    frame["value"] = [10.0, -1.0, 3.0, np.nan, 1.0, 4.0]
    frame = frame.rename(columns={"customer_id": "cust"})
    before = frame.copy(deep=True)
    with pytest.raises(DataError) as err:
        validate_transactions(frame, "customer_id", "date", "value", "2024-02-01")
    text = str(err.value)
    assert text.startswith("6 problems in the transactions:")
    for phrase in [
        "'customer_id' (customer id) is not in the frame",
        "did you mean 'cust'?",
        "1 value that is not a date ('someday')",
        "'date' is missing in 1 row",
        "'value' is missing in 1 row",
        "'value' is negative in 1 row",
        "rows after observation_end",
    ]:
        assert phrase in text, phrase
    pd.testing.assert_frame_equal(frame, before)


def test_at_most_five_example_ids_are_shown():
    frame = pd.DataFrame(
        {"customer_id": range(12), "date": ["2024-01-01"] * 12, "value": [-1.0] * 12}
    )
    err = check(frame)
    assert "(e.g. 0, 1, 2, 3, 4 and 7 more)" in str(err)
    assert list(err.problems[0].rows) == list(range(12))


def test_exact_duplicate_rows_warn_and_are_kept():
    frame = pd.concat([good(), good().iloc[[1, 1, 3]]], ignore_index=True)
    with pytest.warns(
        DataWarning,
        match=r"(?s)3 rows of the transaction log are exact duplicates"
        r".*drop_duplicates",
    ):
        validate_transactions(frame, "customer_id", "date", "value")
    with pytest.warns(DataWarning, match="exact duplicates"):
        rfm = rfm_summary(frame, customer_id_col="customer_id", date_col="date", value_col="value")
    # same-period merge: duplicates do not change the purchase counts, their values add up
    assert rfm.loc[101, "frequency"] == 1.0
    assert rfm.loc[101, "monetary_value"] == 12.5 * 3


def test_rows_differing_in_another_column_are_not_duplicates():
    frame = pd.concat([good(), good().iloc[[1]].assign(order="o7")], ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate_transactions(frame, "customer_id", "date", "value")


def test_duplicates_found_with_unhashable_columns():
    frame = pd.concat([good(), good().iloc[[2]]], ignore_index=True)
    frame["tags"] = [["a"]] * len(frame)
    with pytest.warns(DataWarning, match="1 row of the transaction log"):
        validate_transactions(frame, "customer_id", "date", "value")


def test_single_customer_warns():
    frame = good()[lambda d: d["customer_id"] == 101]
    with pytest.warns(DataWarning, match=r"(?s)'customer_id' has a single customer.*all customers"):
        validate_transactions(frame, "customer_id", "date", "value")


def test_zero_amounts_are_valid():
    frame = good().assign(value=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate_transactions(frame, "customer_id", "date", "value")


def test_valid_inputs_pass_silently():
    frames = {
        "datetime64": good(),
        "strings": good().assign(date=lambda d: d["date"].dt.strftime("%Y-%m-%d")),
        "date objects": good().assign(date=lambda d: [x.date() for x in d["date"]]),
        "mixed datetime and strings": with_column(
            "date",
            [
                dt.datetime(2024, 1, 2),
                "2024-02-10",
                pd.Timestamp("2024-01-05"),
                dt.date(2024, 1, 7),
                "2024-03-01",
                "2024-02-02",
            ],
        ),
        "no value column": good().drop(columns="value"),
        "integer values": good().assign(value=[1, 2, 3, 4, 5, 6]),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name, frame in frames.items():
            value_col = "value" if "value" in frame.columns else None
            validate_transactions(frame, "customer_id", "date", value_col, "2024-03-01")
            assert name


def test_date_format_is_used():
    frame = good().assign(date=lambda d: d["date"].dt.strftime("%d.%m.%Y"))
    validate_transactions(frame, "customer_id", "date", "value", date_format="%d.%m.%Y")
    with pytest.raises(DataError, match="date_format="):
        validate_transactions(frame, "customer_id", "date", "value", date_format="%Y-%m-%d")


def test_not_a_dataframe_is_a_type_error():
    with pytest.raises(TypeError, match="pandas DataFrame"):
        validate_transactions(good().to_numpy(), "customer_id", "date")


def test_exact_duplicates_have_their_own_warning_class():
    """Jobs that read only some columns silence exactly this warning (the CLI does)."""
    import clv
    from clv.data import rfm_summary

    tx = pd.DataFrame(
        {
            "id": [1, 1, 2, 2],
            "date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-01-02", "2024-02-01"]),
        }
    )
    with pytest.warns(clv.DuplicateRowsWarning, match="exact duplicates"):
        rfm_summary(tx, customer_id_col="id", date_col="date")
    assert issubclass(clv.DuplicateRowsWarning, clv.DataWarning)
