"""clv.compat.lifetimes.plotting: lifetimes' plot functions draw what the models predict.

Ports the intent of ``lifetimes/tests/test_plotting.py`` (which compares
rendered images): every function runs on the Agg backend with lifetimes'
arguments, and the drawn data are checked against the fitters.
"""

from __future__ import annotations

import numpy as np
import pytest

import clv.compat.lifetimes as lt
from clv.compat.lifetimes import plotting, utils
from clv.compat.lifetimes.datasets import (
    load_cdnow_summary,
    load_donations,
    load_transaction_data,
)

pytestmark = pytest.mark.usefixtures("close_figures")


@pytest.fixture(scope="module")
def cd():
    return load_cdnow_summary()


@pytest.fixture(scope="module")
def bgf(cd):
    return lt.BetaGeoFitter().fit(cd["frequency"], cd["recency"], cd["T"])


@pytest.fixture(scope="module")
def transactions():
    return load_transaction_data(parse_dates=["date"])


@pytest.mark.parametrize("cls", [lt.BetaGeoFitter, lt.ModifiedBetaGeoFitter, lt.ParetoNBDFitter])
def test_period_transactions_expected_counts(cls, cd):
    """TestPlotting::test_plot_period_transactions(_mbgf, _max_frequency, _labels)."""
    f = cls().fit(cd["frequency"], cd["recency"], cd["T"])
    table = plotting.period_transactions_table(f, max_frequency=7)
    assert table["Model"].sum() == pytest.approx(len(cd))
    assert table["Actual"].sum() == len(cd)
    assert table.loc[0, "Actual"] == (cd["frequency"] == 0).sum() == 1411
    # a fitted model reproduces the zero class within 3 %
    assert table.loc[0, "Model"] == pytest.approx(1411, rel=0.03)
    ax = plotting.plot_period_transactions(f, max_frequency=5, title="t", xlabel="x", ylabel="y")
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("t", "x", "y")
    heights = [p.get_height() for p in ax.patches]
    assert heights[:6] == list(plotting.period_transactions_table(f, 5)["Actual"])


def test_period_transactions_bgbb():
    d = load_donations()
    f = lt.BetaGeoBetaBinomFitter().fit(d["frequency"], d["recency"], d["periods"], d["weights"])
    table = plotting.period_transactions_table(f, max_frequency=6)
    model = f.expected_number_of_transactions_in_first_n_periods(6)["model"]
    np.testing.assert_allclose(table["Model"].to_numpy()[:6], model.to_numpy()[:6])


def test_matrices(bgf):
    """TestPlotting::test_plot_frequency_recency_matrix / test_plot_probability_alive_matrix."""
    ax = plotting.plot_frequency_recency_matrix(bgf, T=5, max_frequency=10, max_recency=20)
    Z = ax.get_images()[0].get_array()
    assert Z.shape == (21, 11)
    assert Z[20, 10] == pytest.approx(
        float(bgf.conditional_expected_number_of_purchases_up_to_time(5, 10, 20, 20))
    )
    ax.figure.clf()
    ax = plotting.plot_probability_alive_matrix(bgf)
    np.testing.assert_array_equal(
        ax.get_images()[0].get_array(), bgf.conditional_probability_alive_matrix()
    )


def test_expected_repeat_purchases(bgf):
    """TestPlotting::test_plot_expected_repeat_purchases(_with_label)."""
    ax = plotting.plot_expected_repeat_purchases(bgf, label="bgf")
    x, y = ax.lines[0].get_data()
    np.testing.assert_allclose(y, bgf.expected_number_of_purchases_up_to_time(x))
    assert ax.get_legend() is not None


def test_heterogeneity(bgf, cd):
    """TestPlotting::test_plot_transaction_rate_heterogeneity / ..._dropout_rate_heterogeneity."""
    ax = plotting.plot_transaction_rate_heterogeneity(bgf)
    y = ax.lines[0].get_ydata()
    assert np.all(y > 0) and "mean: 0.055" in ax.get_title()  # r / alpha = 0.243 / 4.414
    ax.figure.clf()
    ptf = lt.ParetoNBDFitter().fit(cd["frequency"], cd["recency"], cd["T"])
    ax = plotting.plot_dropout_rate_heterogeneity(ptf)
    assert ax.get_xlabel() == "Dropout Rate"


def test_calibration_vs_holdout(transactions):
    """TestPlotting::test_plot_calibration_purchases_vs_holdout_purchases(_time_since_last_purchase)."""
    summary = utils.calibration_and_holdout_data(
        transactions, "id", "date", "2014-09-01", "2014-12-31"
    )
    f = lt.BetaGeoFitter().fit(summary["frequency_cal"], summary["recency_cal"], summary["T_cal"])
    for kind in ("frequency_cal", "time_since_last_purchase"):
        ax = plotting.plot_calibration_purchases_vs_holdout_purchases(f, summary, kind=kind)
        actual = ax.lines[0].get_ydata()
        assert len(ax.lines) == 2 and np.all(actual >= 0)
        ax.figure.clf()


def test_history_alive_and_tracking(bgf, transactions):
    """TestPlotting::test_plot_history_alive / cumulative and incremental transactions."""
    user = transactions[transactions["id"] == 35]
    ax = plotting.plot_history_alive(bgf, 200, user, "date")
    assert ax.lines[0].get_ydata()[0] == 1.0
    ax.figure.clf()
    summary = utils.summary_data_from_transaction_data(transactions, "id", "date")
    f = lt.BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    ax = plotting.plot_cumulative_transactions(f, transactions, "date", "id", 100, 50)
    cum = utils.expected_cumulative_transactions(f, transactions, "date", "id", 100)
    np.testing.assert_allclose(ax.lines[1].get_ydata(), cum["predicted"])
    ax.figure.clf()
    ax = plotting.plot_incremental_transactions(f, transactions, "date", "id", 100, 50)
    np.testing.assert_allclose(ax.lines[1].get_ydata()[1:], np.diff(cum["predicted"]))
