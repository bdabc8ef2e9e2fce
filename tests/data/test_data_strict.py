"""One set of input rules for rfm_summary, validate_rfm and every fit: odd but parseable
inputs are refused with a DataError naming the column and the rows, never accepted."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from clv.data import rfm_summary, validate_rfm
from clv.exceptions import DataError
from clv.models import BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel


def log() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["a", "a", "b", "b", "c"],
            "date": pd.to_datetime(
                ["2020-01-01", "2020-03-01", "2020-01-05", "2020-02-01", "2020-01-09"]
            ),
            "v": [1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )


def summarise(frame: pd.DataFrame, **kwargs: str) -> pd.DataFrame:
    return rfm_summary(
        frame,
        customer_id_col=kwargs.get("c", "id"),
        date_col=kwargs.get("d", "date"),
        value_col=kwargs.get("vc", "v"),
    )


def complex_values() -> pd.DataFrame:
    frame = log()
    frame["v"] = frame["v"].astype(complex)
    return frame


def complex_object() -> pd.DataFrame:
    frame = log()
    frame["v"] = frame["v"].astype(object)
    frame.loc[0, "v"] = 1 + 2j
    return frame


def early(day: object) -> pd.DataFrame:
    frame = log()
    frame["date"] = frame["date"].astype(object)
    frame.loc[3, "date"] = day
    return frame


def ids(values: list[object]) -> pd.DataFrame:
    frame = log()
    frame["id"] = pd.Series(values, dtype=object)
    return frame


@pytest.mark.parametrize(
    ("frame", "message", "shown"),
    [
        (complex_values(), "column 'v' has 5 non-numeric values", "'a'"),
        (complex_object(), "column 'v' has 1 non-numeric value ((1+2j))", "'a'"),
        (early(dt.date(1500, 1, 1)), "dated before 1900-01-02 (the earliest is 1500-01-01)", "'b'"),
        (early(dt.datetime(1, 1, 1)), "the earliest is 0001-01-01", "'b'"),
        (ids([[1], [1], [2], [2], [3]]), "holds list values instead of single ids", "0, 1"),
        (ids([b"a", b"a", b"b", b"b", b"c"]), "holds bytes values", "0, 1"),
        (ids([{"k": 1}] * 5), "holds dict values", "0, 1"),
    ],
)
def test_odd_values_are_data_errors_naming_column_and_rows(frame, message, shown):
    before = frame.copy()
    with pytest.raises(DataError, match="problem") as info:
        summarise(frame)
    assert message in str(info.value) and f"(e.g. {shown}" in str(info.value)
    pd.testing.assert_frame_equal(frame, before)  # never modified


def test_one_column_in_two_roles_is_refused():
    with pytest.raises(DataError, match="'id' is given both as customer_id_col and as date_col"):
        summarise(log(), d="id")
    with pytest.raises(DataError, match="both as date_col and as value_col"):
        summarise(log(), vc="date")


def test_validate_rfm_refuses_recency_0_with_repeat_purchases_and_complex_columns():
    rfm = pd.DataFrame(
        {"frequency": [1.0, 0.0], "recency": [0.0, 0.0], "T": [5.0, 3.0]},
        index=pd.Index(["x", "y"], name="customer_id"),
    )
    with pytest.raises(
        DataError,
        match=r"'recency' is 0 for 1 customer with repeat purchases"
        r" \(frequency > 0\) \(e\.g\. 'x'\)",
    ):
        validate_rfm(rfm)
    with pytest.raises(DataError, match="recency"):
        BetaGeoModel().fit(rfm)  # the fits share the rule
    with pytest.raises(DataError, match=r"'frequency' is not numeric \(dtype complex128\)"):
        validate_rfm(rfm.assign(recency=[1.0, 0.0]).astype(complex))


@pytest.mark.parametrize("cls", [BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel])
def test_fits_without_any_repeat_buyer_are_refused(cls):
    rfm = pd.DataFrame({"frequency": np.zeros(6), "recency": np.zeros(6), "T": np.arange(3.0, 9.0)})
    with pytest.raises(DataError, match="'frequency' is 0 for all 6 customers"):
        cls().fit(rfm)


def test_negative_or_non_finite_penalizer_is_a_value_error():
    for bad in (-1.0, float("nan"), float("inf"), "x"):
        with pytest.raises(ValueError, match="penalizer must be"):
            BetaGeoModel(penalizer=bad)


def test_time_unit_mismatch_between_model_and_data_is_a_data_error():
    from clv.data.datasets import load_cdnow_summary_with_spend
    from clv.models import GammaGammaModel
    from clv.value import customer_lifetime_value_table

    rfm = load_cdnow_summary_with_spend().copy()
    rfm.attrs["time_unit"] = "W"
    bg, gg = BetaGeoModel().fit(rfm), GammaGammaModel().fit(rfm)
    from clv.data import with_time_unit

    daily = with_time_unit(rfm, "D")  # the period is data (period_days), not only attrs
    with pytest.raises(
        DataError,
        match=r"is 1 days \('D'\) but the transaction model was "
        r"fitted in periods of 7 days \('W'\)",
    ):
        customer_lifetime_value_table(bg, gg, daily, horizon=10, discount_rate_per_period=0.0)
    relabelled = rfm.copy()
    relabelled.attrs["time_unit"] = "D"  # attrs that contradict period_days are refused too
    with pytest.raises(DataError, match="rescaled by hand"):
        customer_lifetime_value_table(bg, gg, relabelled, horizon=10, discount_rate_per_period=0.0)


def _frame(**columns: list[float]) -> pd.DataFrame:
    base = {"frequency": [2.0, 0.0, 1.0], "recency": [5.0, 0.0, 3.0], "T": [9.0, 4.0, 6.0]}
    base.update(columns)
    return pd.DataFrame(base, index=pd.Index(["a", "b", "c"], name="customer_id"))


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (_frame(frequency=[2.0, -1.0, 1.0]), "'frequency' is negative for 1 customer"),
        (_frame(frequency=[2.5, 0.0, 1.0]), "'frequency' has non-integer values"),
        (_frame(recency=[10.0, 0.0, 3.0]), "'recency' is greater than 'T'"),
        (_frame(recency=[5.0, 1.0, 3.0]), "'recency' is not 0 for 1 customer with frequency 0"),
        (_frame(recency=[5.0, 0.0, 0.0]), "'recency' is 0 for 1 customer with repeat purchases"),
        (_frame(T=[9.0, -4.0, 6.0]), "'T' is <= 0"),
        (_frame(T=[9.0, 4.0, np.inf]), "'T' is missing or infinite"),
        (_frame().assign(weight=[1.0, 0.0, 1.0]), "'weight' is <= 0"),
        (_frame().set_axis(pd.Index(["a", "a", "c"], name="customer_id")), "index repeats"),
    ],
)
def test_validate_rfm_and_fit_share_one_set_of_rules(frame, message):
    with pytest.raises(DataError, match="problem") as direct:
        validate_rfm(frame)
    with pytest.raises(DataError, match="problem") as fitted:
        BetaGeoModel().fit(frame)
    assert message in str(direct.value) and message in str(fitted.value)
