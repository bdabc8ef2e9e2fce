"""lifetimes' ``utils`` test expectations, run against clv.compat.lifetimes.utils.

Each test names the lifetimes test it ports (``lifetimes/tests/test_utils.py``,
CamDavidsonPilon/lifetimes master); test code written here, numbers lifetimes'.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_almost_equal
from pandas.testing import assert_frame_equal

import clv.compat.lifetimes as lt
from clv.compat.lifetimes import utils
from clv.compat.lifetimes.datasets import load_dataset, load_transaction_data


@pytest.fixture
def transaction_level_data():
    d = [
        [1, "2015-02-01"],
        [1, "2015-02-06"],
        [2, "2015-01-01"],
        [3, "2015-01-01"],
        [3, "2015-01-02"],
        [3, "2015-01-05"],
    ]
    return pd.DataFrame(d, columns=["id", "date"])


@pytest.fixture
def large_transaction_level_data():
    d = [
        [1, "2015-01-01"],
        [1, "2015-02-06"],
        [2, "2015-01-01"],
        [3, "2015-01-01"],
        [3, "2015-01-02"],
        [3, "2015-01-05"],
        [4, "2015-01-16"],
        [4, "2015-02-02"],
        [4, "2015-02-05"],
        [5, "2015-01-16"],
        [5, "2015-01-17"],
        [5, "2015-01-18"],
        [6, "2015-02-02"],
    ]
    return pd.DataFrame(d, columns=["id", "date"])


@pytest.fixture
def large_transaction_level_data_with_monetary_value(large_transaction_level_data):
    out = large_transaction_level_data.copy()
    out["monetary_value"] = [1, 2, 2, 3, 1, 5, 6, 3, 3, 3, 1, 8, 5]
    return out


@pytest.fixture(scope="module")
def example_transactions():
    return load_transaction_data(parse_dates=["date"])


@pytest.fixture(scope="module")
def example_summary(example_transactions):
    return utils.summary_data_from_transaction_data(
        example_transactions, "id", "date", observation_period_end=max(example_transactions.date)
    )


@pytest.fixture(scope="module")
def fitted_bg(example_summary):
    return lt.BetaGeoFitter().fit(
        example_summary["frequency"], example_summary["recency"], example_summary["T"]
    )


@pytest.fixture(scope="module")
def cdnow_transactions():
    tx = load_dataset("CDNOW_sample.txt", header=None, sep=r"\s+")
    tx.columns = ["id_total", "id_sample", "date", "num_cd_purc", "total_value"]
    return tx[["id_sample", "date"]]


def _frame(rows, columns):
    return pd.DataFrame(rows, columns=columns).set_index(columns[0])


def test_summary_returns_correct_results(transaction_level_data):
    """test_summary_data_from_transaction_data_returns_correct_results."""
    actual = utils.summary_data_from_transaction_data(
        transaction_level_data, "id", "date", observation_period_end="2015-02-07"
    )
    expected = _frame(
        [[1, 1.0, 5.0, 6.0], [2, 0.0, 0.0, 37.0], [3, 2.0, 4.0, 37.0]],
        ["id", "frequency", "recency", "T"],
    )
    assert_frame_equal(actual, expected)


def test_summary_with_string_ids():
    """test_summary_data_from_transaction_data_works_with_string_customer_ids."""
    d = [
        ["X", "2015-02-01"],
        ["X", "2015-02-06"],
        ["Y", "2015-01-01"],
        ["Y", "2015-01-01"],
        ["Y", "2015-01-02"],
        ["Y", "2015-01-05"],
    ]
    out = utils.summary_data_from_transaction_data(
        pd.DataFrame(d, columns=["id", "date"]), "id", "date"
    )
    assert list(out.index) == ["X", "Y"]
    assert out.loc["Y", "frequency"] == 2.0  # the two orders of 2015-01-01 are one purchase


def test_summary_keeps_int_ids():
    """test_summary_data_from_transaction_data_works_with_int_customer_ids_and_doesnt_coerce_to_float."""
    d = [
        [1, "2015-02-01"],
        [1, "2015-02-06"],
        [1, "2015-01-01"],
        [2, "2015-01-01"],
        [2, "2015-01-02"],
        [2, "2015-01-05"],
    ]
    out = utils.summary_data_from_transaction_data(
        pd.DataFrame(d, columns=["id", "date"]), "id", "date"
    )
    assert out.index.dtype == "int64"


def test_summary_with_datetime_format(transaction_level_data):
    """test_summary_data_from_transaction_data_with_specific_datetime_format."""
    tx = transaction_level_data.assign(date=transaction_level_data["date"].str.replace("-", ""))
    actual = utils.summary_data_from_transaction_data(
        tx, "id", "date", observation_period_end="20150207", datetime_format="%Y%m%d"
    )
    expected = _frame(
        [[1, 1.0, 5.0, 6.0], [2, 0.0, 0.0, 37.0], [3, 2.0, 4.0, 37.0]],
        ["id", "frequency", "recency", "T"],
    )
    assert_frame_equal(actual, expected)


def test_summary_weekly(large_transaction_level_data):
    """test_summary_date_from_transaction_data_with_specific_non_daily_frequency."""
    actual = utils.summary_data_from_transaction_data(
        large_transaction_level_data, "id", "date", observation_period_end="20150207", freq="W"
    )
    expected = _frame(
        [
            [1, 1.0, 5.0, 5.0],
            [2, 0.0, 0.0, 5.0],
            [3, 1.0, 1.0, 5.0],
            [4, 1.0, 3.0, 3.0],
            [5, 0.0, 0.0, 3.0],
            [6, 0.0, 0.0, 0.0],
        ],
        ["id", "frequency", "recency", "T"],
    )
    assert_frame_equal(actual, expected)


def test_summary_with_monetary_values(large_transaction_level_data_with_monetary_value):
    """test_summary_date_from_transaction_with_monetary_values."""
    actual = utils.summary_data_from_transaction_data(
        large_transaction_level_data_with_monetary_value,
        "id",
        "date",
        monetary_value_col="monetary_value",
        observation_period_end="20150207",
    )
    expected = _frame(
        [
            [1, 1.0, 36.0, 37.0, 2],
            [2, 0.0, 0.0, 37.0, 0],
            [3, 2.0, 4.0, 37.0, 3],
            [4, 2.0, 20.0, 22.0, 3],
            [5, 2.0, 2.0, 22.0, 4.5],
            [6, 0.0, 0.0, 5.0, 0],
        ],
        ["id", "frequency", "recency", "T", "monetary_value"],
    ).astype(float)
    assert_frame_equal(actual, expected)


def test_summary_drops_the_right_first_order():
    """test_summary_data_from_transaction_data_will_choose_the_correct_first_order_to_drop_in_monetary_transactions."""
    cust = [2, 2, 2]
    ordered = pd.DataFrame(
        {
            "date": pd.to_datetime(["2014-03-14", "2014-04-09", "2014-05-21"]),
            "id": cust,
            "sales": [10, 20, 25],
        }
    )
    unordered = pd.DataFrame(
        {
            "date": pd.to_datetime(["2014-04-09", "2014-03-14", "2014-05-21"]),
            "id": cust,
            "sales": [20, 10, 25],
        }
    )
    a = utils.summary_data_from_transaction_data(ordered, "id", "date", "sales")
    b = utils.summary_data_from_transaction_data(unordered, "id", "date", "sales")
    assert_frame_equal(a, b)
    assert a["monetary_value"].loc[2] == 22.5


def test_summary_statistics_identical_to_hardie_paper():
    """test_summary_statistics_are_indentical_to_hardies_paper_confirming_correct_aggregations."""
    df = load_dataset(
        "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["_id", "id", "date", "cds_bought", "spent"],
    )
    df["date"] = pd.to_datetime(df["date"].astype(str), format="%Y%m%d")
    summary = utils.summary_data_from_transaction_data(
        df[df["date"] < "1997-10-01"], "id", "date", "spent"
    )
    res = summary[summary["frequency"] > 0]["monetary_value"].describe()
    assert [np.round(res.loc[k]) for k in ("mean", "std", "min", "50%", "max", "count")] == [
        35,
        30,
        3,
        27,
        300,
        946,
    ]


def test_include_first_transaction(large_transaction_level_data_with_monetary_value):
    """lifetimes' ``include_first_transaction=True``: every period counted, recency unchanged."""
    tx = large_transaction_level_data_with_monetary_value
    plain = utils.summary_data_from_transaction_data(
        tx, "id", "date", "monetary_value", observation_period_end="20150207"
    )
    incl = utils.summary_data_from_transaction_data(
        tx,
        "id",
        "date",
        "monetary_value",
        observation_period_end="20150207",
        include_first_transaction=True,
    )
    assert_allclose(incl["frequency"], plain["frequency"] + 1)
    assert_allclose(incl["recency"], plain["recency"])
    # customer 3: 3 + 1 + 5 over 3 periods; customer 5: 3 + 1 + 8
    assert incl.loc[3, "monetary_value"] == 3.0 and incl.loc[5, "monetary_value"] == 4.0


def test_calibration_and_holdout(large_transaction_level_data):
    """test_calibration_and_holdout_data."""
    actual = utils.calibration_and_holdout_data(
        large_transaction_level_data,
        "id",
        "date",
        "2015-02-01",
        observation_period_end="2015-02-07",
    )
    assert actual.loc[1]["frequency_holdout"] == 1
    assert actual.loc[2]["frequency_holdout"] == 0
    with pytest.raises(KeyError):
        actual.loc[6]


def test_calibration_and_holdout_error_if_observation_end_too_early(large_transaction_level_data):
    """test_calibration_and_holdout_data_throws_better_error_if_observation_period_end_is_too_early."""
    with pytest.raises(ValueError, match="There is no data available"):
        utils.calibration_and_holdout_data(
            large_transaction_level_data,
            "id",
            "date",
            "2014-02-01",
            observation_period_end="2014-02-07",
        )


def test_calibration_and_holdout_other_indexes(large_transaction_level_data, rng):
    """test_calibration_and_holdout_data_is_okay_with_other_indexes."""
    tx = large_transaction_level_data.copy()
    tx.index = rng.integers(0, len(tx), size=len(tx))
    actual = utils.calibration_and_holdout_data(
        tx, "id", "date", "2015-02-01", observation_period_end="2015-02-07"
    )
    assert actual.loc[1]["frequency_holdout"] == 1
    assert actual.loc[2]["frequency_holdout"] == 0


def test_calibration_and_holdout_weekly(large_transaction_level_data):
    """test_calibration_and_holdout_data_works_with_specific_frequency."""
    actual = utils.calibration_and_holdout_data(
        large_transaction_level_data,
        "id",
        "date",
        "2015-02-01",
        observation_period_end="2015-02-07",
        freq="W",
    )
    cols = ["id", "frequency_cal", "recency_cal", "T_cal", "frequency_holdout", "duration_holdout"]
    expected = _frame(
        [
            [1, 0.0, 0.0, 4.0, 1, 1],
            [2, 0.0, 0.0, 4.0, 0, 1],
            [3, 1.0, 1.0, 4.0, 0, 1],
            [4, 0.0, 0.0, 2.0, 1, 1],
            [5, 0.0, 0.0, 2.0, 0, 1],
        ],
        cols,
    )
    assert_frame_equal(actual, expected, check_dtype=False)


def test_calibration_and_holdout_date_boundaries():
    """test_calibration_and_holdout_data_gives_correct_date_boundaries."""
    d = [
        [1, "2015-01-01"],
        [1, "2015-02-06"],
        [2, "2015-01-01"],
        [3, "2015-01-01"],
        [3, "2015-01-02"],
        [3, "2015-01-05"],
        [4, "2015-01-16"],
        [4, "2015-02-02"],
        [4, "2015-02-05"],
        [5, "2015-01-16"],
        [5, "2015-01-17"],
        [5, "2015-01-18"],
        [6, "2015-02-02"],
    ]
    actual = utils.calibration_and_holdout_data(
        pd.DataFrame(d, columns=["id", "date"]),
        "id",
        "date",
        calibration_period_end="2015-02-01",
        observation_period_end="2015-02-04",
    )
    assert actual["frequency_holdout"].loc[1] == 0
    assert actual["frequency_holdout"].loc[4] == 1


def test_calibration_and_holdout_with_monetary_value(
    large_transaction_level_data_with_monetary_value,
):
    """test_calibration_and_holdout_data_with_monetary_value."""
    actual = utils.calibration_and_holdout_data(
        large_transaction_level_data_with_monetary_value,
        "id",
        "date",
        "2015-02-01",
        observation_period_end="2015-02-07",
        monetary_value_col="monetary_value",
    )
    assert (actual["monetary_value_cal"] == [0, 0, 3, 0, 4.5]).all()
    assert (actual["monetary_value_holdout"] == [2, 0, 0, 3, 0]).all()


def test_summary_squashes_period_purchases():
    """test_summary_data_from_transaction_data_squashes_period_purchases_to_one_purchase."""
    tx = pd.DataFrame([[1, "2015-01-01"], [1, "2015-01-01"]], columns=["id", "t"])
    assert (
        utils.summary_data_from_transaction_data(tx, "id", "t", freq="W").loc[1]["frequency"] == 0.0
    )


def test_calculate_alive_path(example_transactions, example_summary, fitted_bg):
    """test_calculate_alive_path."""
    user = example_transactions[example_transactions["id"] == 33]
    frequency, recency, T = example_summary.loc[33]
    path = utils.calculate_alive_path(fitted_bg, user, "date", 205)
    assert path[0] == 1
    assert path[T] == fitted_bg.conditional_probability_alive(frequency, recency, T)[0]


def test_summary_obeys_data_constraints(example_summary):
    """test_summary_data_from_transaction_data_obeys_data_contraints (clv's validate_rfm)."""
    from clv.data import validate_rfm

    validate_rfm(example_summary.rename_axis("customer_id"))


def test_customer_lifetime_value_with_known_values(fitted_bg):
    """test_customer_lifetime_value_with_known_values.

    lifetimes' fixture fits with ``iterative_fitting=2, tol=1e-6``; its docstring
    prints r = 0.16, alpha = 1.86, a = 1.85, b = 3.18 and the 30-day predictions
    below, which clv's (unique) maximum reproduces to 5 decimals.
    """
    t = fitted_bg.data.head()
    expected = np.array([0.016053, 0.021171, 0.030461, 0.031686, 0.001607])
    one = pd.Series([1, 1, 1, 1, 1])
    args = (fitted_bg, t["frequency"], t["recency"], t["T"])
    assert_almost_equal(
        utils._customer_lifetime_value(
            *args, monetary_value=one, time=1, discount_rate=0.0
        ).to_numpy(),
        expected,
        5,
    )
    assert_almost_equal(
        utils._customer_lifetime_value(
            *args, monetary_value=one, time=1, discount_rate=1.0
        ).to_numpy(),
        expected / 2.0,
        5,
    )
    assert_allclose(
        utils._customer_lifetime_value(
            *args, monetary_value=one, time=2, discount_rate=0
        ).to_numpy(),
        expected * 2.0,
        rtol=0.1,
    )
    assert_allclose(
        utils._customer_lifetime_value(
            *args, monetary_value=one, time=2, discount_rate=1.0
        ).to_numpy(),
        expected / 2.0 + expected / 4.0,
        rtol=0.1,
    )


def test_expected_cumulative_transactions_dedups_inside_a_period(fitted_bg, example_transactions):
    """test_expected_cumulative_transactions_dedups_inside_a_time_period."""
    by_week = utils.expected_cumulative_transactions(
        fitted_bg, example_transactions, "date", "id", 10, freq="W"
    )
    by_day = utils.expected_cumulative_transactions(
        fitted_bg, example_transactions, "date", "id", 10, freq="D"
    )
    assert (by_week["actual"] >= by_day["actual"]).all()


@pytest.fixture(scope="module")
def df_cum_transactions(cdnow_transactions):
    summary = utils.summary_data_from_transaction_data(
        cdnow_transactions,
        "id_sample",
        "date",
        datetime_format="%Y%m%d",
        freq="D",
        freq_multiplier=7,
        observation_period_end="19970930",
    )
    model = lt.ParetoNBDFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    return utils.expected_cumulative_transactions(
        model,
        cdnow_transactions,
        "date",
        "id_sample",
        25 * 7,
        "%Y%m%d",
        "D",
        set_index_date=False,
        freq_multiplier=7,
    )


def test_expected_cumulative_transactions_r_btyd(df_cum_transactions):
    """test_expected_cumulative_transactions_equals_r_btyd_walktrough (BTYD walkthrough)."""
    assert_allclose(df_cum_transactions["actual"].iloc[19:25], [1359, 1414, 1484, 1517, 1573, 1672])
    assert_allclose(
        df_cum_transactions["predicted"].iloc[19:25].round(), [1309, 1385, 1460, 1533, 1604, 1674]
    )


def test_incremental_transactions_r_btyd(df_cum_transactions):
    """test_incremental_transactions_equals_r_btyd_walktrough (BTYD walkthrough)."""
    inc = df_cum_transactions.diff()
    assert_allclose(inc["actual"].iloc[19:25], [73.00, 55.00, 70.00, 33.00, 56.00, 99.00])
    assert_allclose(
        inc["predicted"].iloc[19:25].round(2), [78.31, 76.42, 74.65, 72.98, 71.41, 69.93], atol=1e-2
    )


def test_expected_cumulative_transactions_date_index(cdnow_transactions):
    """test_expected_cumulative_transactions_date_index."""
    summary = utils.summary_data_from_transaction_data(
        cdnow_transactions,
        "id_sample",
        "date",
        datetime_format="%Y%m%d",
        freq="D",
        observation_period_end="19970930",
    )
    model = lt.BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    df = utils.expected_cumulative_transactions(
        model, cdnow_transactions, "date", "id_sample", 14, "%Y%m%d", "D", set_index_date=True
    )
    index = df.iloc[-4:].index.to_timestamp().astype(str)
    assert list(index) == ["1997-01-11", "1997-01-12", "1997-01-13", "1997-01-14"]
    assert_allclose(df["actual"].iloc[-4:], [11, 12, 15, 19])
    assert_allclose(df["predicted"].iloc[-4:].round(2), [10.67, 12.67, 14.87, 17.24], atol=1e-2)


def test_callers_frame_is_not_modified(large_transaction_level_data_with_monetary_value):
    tx = large_transaction_level_data_with_monetary_value
    before = tx.copy()
    utils.summary_data_from_transaction_data(
        tx,
        "id",
        "date",
        "monetary_value",
        observation_period_end="2015-02-07",
        include_first_transaction=True,
    )
    utils.calibration_and_holdout_data(
        tx, "id", "date", "2015-02-01", "2015-02-07", monetary_value_col="monetary_value"
    )
    pd.testing.assert_frame_equal(tx, before)


def test_observation_period_end_as_period(large_transaction_level_data):
    """lifetimes accepts a pandas Period as observation_period_end (its start timestamp)."""
    a = utils.summary_data_from_transaction_data(
        large_transaction_level_data,
        "id",
        "date",
        observation_period_end=pd.Period("2015-02-07", "D"),
    )
    b = utils.summary_data_from_transaction_data(
        large_transaction_level_data, "id", "date", observation_period_end="2015-02-07"
    )
    assert_frame_equal(a, b)


def test_quickstart_runs_end_to_end(example_transactions):
    """lifetimes' README/quickstart flow with ``import clv.compat.lifetimes as lifetimes``."""
    import clv.compat.lifetimes as lifetimes
    from clv.compat.lifetimes.plotting import plot_period_transactions

    summary = lifetimes.utils.summary_data_from_transaction_data(
        example_transactions, "id", "date", observation_period_end="2014-12-31"
    )
    bgf = lifetimes.BetaGeoFitter(penalizer_coef=0.0)
    bgf.fit(summary["frequency"], summary["recency"], summary["T"])
    summary["predicted_purchases"] = bgf.conditional_expected_number_of_purchases_up_to_time(
        30, summary["frequency"], summary["recency"], summary["T"]
    )
    summary["p_alive"] = bgf.conditional_probability_alive(
        summary["frequency"], summary["recency"], summary["T"]
    )
    top = summary.sort_values("predicted_purchases").tail(5)
    assert top["predicted_purchases"].is_monotonic_increasing and len(top) == 5
    assert summary["p_alive"].between(0, 1).all()
    import matplotlib.pyplot as plt

    plot_period_transactions(bgf)
    plt.close("all")
    holdout = lifetimes.utils.calibration_and_holdout_data(
        example_transactions,
        "id",
        "date",
        calibration_period_end="2014-09-01",
        observation_period_end="2014-12-31",
    )
    cal = lifetimes.BetaGeoFitter().fit(
        holdout["frequency_cal"], holdout["recency_cal"], holdout["T_cal"]
    )
    pred = cal.predict(
        holdout["duration_holdout"],
        holdout["frequency_cal"],
        holdout["recency_cal"],
        holdout["T_cal"],
    )
    assert pred.index.equals(holdout.index) and np.all(np.isfinite(pred))
    # the same calibration frame in lifetimes itself gives the same predictions
    ref_lifetimes = pytest.importorskip("lifetimes")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = ref_lifetimes.BetaGeoFitter().fit(
            holdout["frequency_cal"], holdout["recency_cal"], holdout["T_cal"]
        )
        ref_pred = ref.predict(
            holdout["duration_holdout"],
            holdout["frequency_cal"],
            holdout["recency_cal"],
            holdout["T_cal"],
        )
    assert_allclose(pred.to_numpy(), ref_pred.to_numpy(), rtol=1e-4)
