"""Tracking plots and P(alive) histories computed from a transaction log."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from clv.data import calibration_holdout_split, load_cdnow_sample_transactions, rfm_summary
from clv.exceptions import DataError, DataWarning
from clv.models import BetaGeoModel
from clv.plotting import (
    customer_history,
    plot_customer_probability_alive,
    plot_transaction_tracking,
    probability_alive_history,
    probability_alive_history_from_transactions,
    transaction_tracking,
)

CAL_END, END = "1997-09-30", "1998-06-30"


@pytest.fixture(scope="module")
def tx() -> pd.DataFrame:
    return load_cdnow_sample_transactions()


@pytest.fixture(scope="module")
def split(tx) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        return calibration_holdout_split(
            tx,
            customer_id_col="customer_id",
            date_col="date",
            calibration_end=CAL_END,
            observation_end=END,
            time_unit="7D",
        )


@pytest.fixture(scope="module")
def model(split) -> BetaGeoModel:
    return BetaGeoModel().fit(split)


@pytest.fixture(scope="module")
def tracking(model, tx) -> pd.DataFrame:
    return transaction_tracking(model, tx, calibration_end=CAL_END, observation_end=END)


def test_actual_counts_are_the_rfm_repeat_purchases(tracking, split):
    cal = tracking[~tracking["holdout"]]
    # the last calibration period ends on 1997-10-01 (weeks from 1997-01-01): nothing after
    # calibration_end is in it, so the calibration total is every calibration repeat purchase
    assert cal["cumulative_actual"].iloc[-1] == split["frequency"].sum()
    assert tracking["cumulative_actual"].iloc[-1] == (
        split["frequency"].sum() + split["frequency_holdout"].sum()
    )
    np.testing.assert_allclose(tracking["actual"].cumsum(), tracking["cumulative_actual"])
    assert tracking.attrs["n_customers"] == len(split)


def test_expected_is_the_sum_over_birth_dates(tracking, model, tx):
    first = tx.groupby("customer_id")["date"].min()
    edge = tracking.index[20]
    ages = np.maximum((edge - first).dt.days.to_numpy() / 7.0, 0.0)
    want = float(np.sum(model.expected_purchases_new_customer(ages)))
    assert tracking["cumulative_expected"].iloc[20] == pytest.approx(want, rel=1e-12)
    assert (np.diff(tracking["cumulative_expected"]) >= 0).all()
    # over the calibration period the model fits the cohort's total within 5 %
    cal = tracking[~tracking["holdout"]]
    assert cal["cumulative_expected"].iloc[-1] == pytest.approx(
        cal["cumulative_actual"].iloc[-1], rel=0.05
    )


def test_customer_history_matches_rfm_summary(tx):
    calibration = tx[tx["date"] <= CAL_END]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        rfm = rfm_summary(
            calibration,
            customer_id_col="customer_id",
            date_col="date",
            time_unit="7D",
            observation_end=CAL_END,
        )
    for cid in (1, 2, 18, 1000, 2357):
        times, T, first = customer_history(
            calibration, cid, time_unit="7D", observation_end=CAL_END
        )
        row = rfm.loc[cid]
        assert len(times) - 1 == row["frequency"]
        assert times[-1] == pytest.approx(row["recency"], abs=1e-12)
        assert pytest.approx(row["T"], abs=1e-12) == T
        assert first == calibration.loc[calibration["customer_id"] == cid, "date"].min()


def test_history_from_transactions_equals_the_hand_built_one(model, tx):
    calibration = tx[tx["date"] <= CAL_END]
    h = probability_alive_history_from_transactions(model, calibration, 1, observation_end=CAL_END)
    times, T, _ = customer_history(calibration, 1, time_unit="7D", observation_end=CAL_END)
    ref = probability_alive_history(model, times, T)
    pd.testing.assert_frame_equal(h.drop(columns="date"), ref)
    assert h["date"].iloc[-1] == pd.Timestamp(CAL_END)


def test_unknown_customer_and_model_without_unit(model, tx, split):
    with pytest.raises(DataError, match="no transaction of customer"):
        customer_history(tx, -5, time_unit="W")
    bare = BetaGeoModel().fit(split.drop(columns="period_days").rename_axis(None))
    bare.time_unit_ = None
    with pytest.raises(DataError, match="no time unit"):
        transaction_tracking(bare, tx, calibration_end=CAL_END)


def test_plots_draw_the_data(close_figures, tracking, model, tx):
    ax = plot_transaction_tracking(tracking)
    lines = ax.get_lines()
    np.testing.assert_allclose(lines[0].get_ydata(), tracking["cumulative_actual"])
    np.testing.assert_allclose(lines[1].get_ydata(), tracking["cumulative_expected"])
    assert ax.get_ylabel() == "Cumulative repeat purchases"
    ax2 = plot_transaction_tracking(tracking, cumulative=False)
    assert "per 7-day period" in ax2.get_ylabel()
    ax3 = plot_customer_probability_alive(
        model, tx[tx["date"] <= CAL_END], 1, observation_end=CAL_END
    )
    assert ax3.get_ylabel() == "P(alive)" and len(ax3.get_lines()) >= 2
