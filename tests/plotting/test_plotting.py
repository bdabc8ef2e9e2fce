"""clv.plotting: the numbers behind each plot, and the labels, Axes and inputs of the plots."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from clv.exceptions import DataError
from clv.models import BetaGeoModel
from clv.plotting import (
    conditional_expectations,
    frequency_recency_grid,
    period_transactions,
    plot_calibration_holdout,
    plot_expected_purchases_matrix,
    plot_period_transactions,
    plot_probability_alive_history,
    plot_probability_alive_matrix,
    probability_alive_history,
)

N_CDNOW = 2357
HISTORY = [0.0, 2.0, 3.5, 9.0, 10.0, 20.5]


# ---------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def model(cdnow_rfm: pd.DataFrame) -> BetaGeoModel:
    return BetaGeoModel().fit(cdnow_rfm)


def _cdnow_calibration_holdout() -> pd.DataFrame:
    """FHL (2005) split of the 2,357-customer CDNOW sample: 39 weeks + 39 weeks holdout.

    Built here because lifetimes' ``calibration_and_holdout_data`` fails on pandas 3.
    Same-day purchases are merged; times are days / 7.
    """
    from lifetimes.datasets import load_dataset

    tx = load_dataset(
        "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["customer_id", "id2", "date", "quantity", "amount"],
    )
    tx["date"] = pd.to_datetime(tx["date"].astype(str), format="%Y%m%d")
    tx = tx.drop_duplicates(["customer_id", "date"])
    calibration_end, observation_end = pd.Timestamp("1997-09-30"), pd.Timestamp("1998-06-30")
    first = tx.groupby("customer_id")["date"].transform("min")
    tx["t"] = (tx["date"] - first).dt.days / 7
    cal = tx[tx["date"] <= calibration_end].groupby("customer_id")
    out = pd.DataFrame(
        {
            "frequency": cal.size() - 1.0,
            "recency": cal["t"].max(),
            "T": (calibration_end - cal["date"].min()).dt.days / 7,
        }
    )
    holdout = tx[tx["date"] > calibration_end].groupby("customer_id").size()
    out["frequency_holdout"] = holdout.reindex(out.index, fill_value=0).astype(float)
    out["duration_holdout"] = (observation_end - calibration_end).days / 7
    out.attrs["time_unit"] = "W"
    return out


@pytest.fixture(scope="module")
def cal_holdout() -> pd.DataFrame:
    return _cdnow_calibration_holdout()


@pytest.fixture(scope="module")
def cal_model(cal_holdout: pd.DataFrame) -> BetaGeoModel:
    return BetaGeoModel().fit(cal_holdout)


def _snapshot(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    return frame.copy(deep=True), dict(frame.attrs)


def _assert_unchanged(frame: pd.DataFrame, snapshot: tuple[pd.DataFrame, dict]) -> None:
    pd.testing.assert_frame_equal(frame, snapshot[0])
    assert frame.attrs == snapshot[1]


# ---------------------------------------------------------------------- frequency_recency_grid
def test_grid_equals_model_probability_alive_on_the_same_rows(model, cdnow_rfm):
    grid = frequency_recency_grid(model, data=cdnow_rfm)
    T = cdnow_rfm["T"].max()
    assert grid.index.name == "frequency" and grid.columns.name == "recency"
    assert list(grid.index) == list(range(int(cdnow_rfm["frequency"].max()) + 1))
    assert grid.columns[0] == 0 and grid.columns[-1] == pytest.approx(T)
    x, t_x = np.meshgrid(grid.index.to_numpy(float), grid.columns.to_numpy(float), indexing="ij")
    rows = pd.DataFrame(
        {"frequency": x[1:].ravel(), "recency": t_x[1:].ravel(), "T": T, "period_days": 7.0}
    )
    expected = model.probability_alive(rows).to_numpy().reshape(x[1:].shape)
    np.testing.assert_allclose(grid.to_numpy()[1:], expected, rtol=1e-12)
    # frequency 0 has recency 0: the row repeats that value (1 for BG/NBD)
    np.testing.assert_array_equal(grid.loc[0].to_numpy(), 1.0)
    assert grid.attrs == {"quantity": "probability_alive", "T": T, "t": 1.0, "time_unit": "W"}


def test_grid_expected_purchases_and_explicit_ranges(model):
    grid = frequency_recency_grid(
        model,
        max_frequency=5,
        max_recency=20,
        T=30,
        t=10,
        quantity="expected_purchases",
        n_recency=11,
    )
    assert grid.shape == (6, 11)
    np.testing.assert_allclose(grid.columns, np.linspace(0, 20, 11))
    x, t_x = np.meshgrid(np.arange(6.0), np.linspace(0, 20, 11), indexing="ij")
    rows = pd.DataFrame(
        {
            "frequency": x.ravel(),
            "recency": np.where(x == 0, 0, t_x).ravel(),
            "T": 30.0,
            "period_days": 7.0,
        }
    )
    expected = model.expected_purchases(10, rows).to_numpy().reshape(x.shape)
    np.testing.assert_allclose(grid.to_numpy(), expected, rtol=1e-12)
    # a recent purchase means a customer is more likely alive and buys more
    assert np.all(np.diff(grid.to_numpy()[1:], axis=1) > 0)


def test_grid_default_max_frequency_without_data_is_the_models_99th_percentile(model):
    grid = frequency_recency_grid(model, T=39)
    n = len(grid) - 1
    cdf = np.cumsum(model.probability_of_purchases(np.arange(n + 1), 39))
    assert cdf[n] >= 0.99 > cdf[n - 1]
    assert grid.columns[-1] == 39 and len(grid.columns) == 40


class _OpportunityModel(BetaGeoModel):
    """BG/NBD formulas with BG/BB's data contract: recency and T count opportunities."""

    _integer_T = True


def test_grid_of_a_discrete_model_uses_whole_opportunities_and_masks_impossible_cells(model):
    discrete = _OpportunityModel()
    discrete.params_, discrete.time_unit_ = model.params_, None
    grid = frequency_recency_grid(discrete, max_frequency=6, T=5)
    assert list(grid.columns) == [0, 1, 2, 3, 4, 5]
    x, t_x = np.meshgrid(grid.index, grid.columns, indexing="ij")
    impossible = (x > 0) & ((t_x == 0) | (x > t_x))  # one purchase per opportunity at most
    assert np.isnan(grid.to_numpy()[impossible]).all()
    assert np.isfinite(grid.to_numpy()[~impossible]).all()
    with pytest.raises(ValueError, match="counts purchase opportunities"):
        frequency_recency_grid(discrete, max_frequency=3, T=5.5)
    h = probability_alive_history(discrete, [0, 2, 3], T=6)
    assert h["time"].tolist() == [1, 2, 3, 4, 5, 6]
    assert h["frequency"].tolist() == [0, 1, 2, 2, 2, 2]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "pass T="),
        ({"T": 10, "max_recency": 12}, "max_recency must be between 0 and T"),
        ({"T": -1}, "T must be a finite age"),
        ({"T": 10, "quantity": "clv"}, "quantity must be"),
        ({"T": 10, "max_frequency": 2.5}, "max_frequency must be a whole number"),
    ],
)
def test_grid_rejects_bad_arguments(model, kwargs, match):
    with pytest.raises(ValueError, match=match):
        frequency_recency_grid(model, **kwargs)


def test_grid_names_the_bad_column_of_data(model, cdnow_rfm):
    with pytest.raises(DataError, match="'T'"):
        frequency_recency_grid(model, data=cdnow_rfm.drop(columns="T"))


# ---------------------------------------------------------------------- period_transactions
def test_period_transactions_counts_and_model_expectation(model, cdnow_rfm):
    table = period_transactions(model, cdnow_rfm, max_purchases=7)
    assert list(table.index) == ["0", "1", "2", "3", "4", "5", "6", "≥7"]
    assert list(table.columns) == ["actual", "model"]
    assert table["actual"].sum() == N_CDNOW
    assert table["model"].sum() == pytest.approx(N_CDNOW, abs=1e-6)
    counts = cdnow_rfm["frequency"].clip(upper=7).value_counts().sort_index()
    np.testing.assert_array_equal(table["actual"].to_numpy(), counts.to_numpy())
    # the vectorised sum over distinct T equals the plain per-customer sum
    T = cdnow_rfm["T"].to_numpy()
    per_customer = [model.probability_of_purchases(n, T).sum() for n in range(7)]
    np.testing.assert_allclose(table["model"].to_numpy()[:7], per_customer, rtol=1e-10)
    # and the model fits CDNOW: no bin is off by more than 10% of the customers in it, or 25
    assert np.all(np.abs(table["model"] - table["actual"]) < np.maximum(25, 0.1 * table["actual"]))


def test_period_transactions_weight_column_counts_identical_customers(model, cdnow_rfm):
    rows = cdnow_rfm.iloc[:200]
    weighted = rows.assign(weight=3.0)
    tripled = pd.concat([rows, rows, rows], ignore_index=True)
    pd.testing.assert_frame_equal(
        period_transactions(model, weighted, max_purchases=4),
        period_transactions(model, tripled, max_purchases=4),
    )


def test_period_transactions_rejects_bad_max_and_data(model, cdnow_rfm):
    with pytest.raises(ValueError, match="max_purchases"):
        period_transactions(model, cdnow_rfm, max_purchases=0)
    with pytest.raises(DataError, match="'frequency'"):
        period_transactions(model, cdnow_rfm.drop(columns="frequency"))


# ---------------------------------------------------------------------- conditional_expectations
def test_calibration_holdout_split_matches_the_published_cdnow_summary(cal_holdout, cdnow_rfm):
    assert len(cal_holdout) == N_CDNOW
    assert cal_holdout["frequency"].sum() == cdnow_rfm["frequency"].sum()  # 2,457 repeat purchases
    assert np.allclose(np.sort(cal_holdout["T"]), np.sort(cdnow_rfm["T"]), atol=0.01)


def test_conditional_expectations_by_calibration_frequency(cal_model, cal_holdout):
    table = conditional_expectations(cal_model, cal_holdout, max_frequency=7)
    assert list(table.index) == ["0", "1", "2", "3", "4", "5", "6", "≥7"]
    assert list(table.columns) == ["n_customers", "actual", "model"]
    assert table["n_customers"].sum() == N_CDNOW
    bins = cal_holdout["frequency"].clip(upper=7)
    actual = cal_holdout.groupby(bins)["frequency_holdout"].mean()
    predicted = cal_model.expected_purchases(
        cal_holdout["duration_holdout"], cal_holdout[["frequency", "recency", "T"]]
    )
    model_mean = predicted.groupby(bins).mean()
    np.testing.assert_allclose(table["actual"], actual.to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(table["model"], model_mean.to_numpy(), rtol=1e-12)
    np.testing.assert_array_equal(table["n_customers"], bins.value_counts().sort_index())
    # FHL (2005) Figure 4: the model tracks the holdout means (within 0.4 purchases per bin)
    assert np.all(np.abs(table["model"] - table["actual"]) < 0.4)
    assert table["model"].is_monotonic_increasing
    assert table.attrs["duration_holdout"] == 39.0


def test_conditional_expectations_empty_bins_are_nan(cal_model, cal_holdout):
    few = cal_holdout[cal_holdout["frequency"].isin([0, 2])]
    table = conditional_expectations(cal_model, few, max_frequency=3)
    assert table["n_customers"].tolist() == [
        (few["frequency"] == 0).sum(),
        0,
        (few["frequency"] == 2).sum(),
        0,
    ]
    assert table.loc[["1", "≥3"]].drop(columns="n_customers").isna().all().all()


def test_conditional_expectations_needs_the_holdout_columns(cal_model, cal_holdout):
    with pytest.raises(DataError, match=r"'frequency_holdout'.*calibration_holdout_split"):
        conditional_expectations(cal_model, cal_holdout.drop(columns="frequency_holdout"))
    bad = cal_holdout.assign(duration_holdout=-1.0)
    with pytest.raises(DataError, match="'duration_holdout'"):
        conditional_expectations(cal_model, bad)


# ---------------------------------------------------------------------- probability_alive_history
def test_history_state_at_each_time_and_values(model):
    h = probability_alive_history(model, [10.0, 0.0, 2.5], T=30, grid=[1, 2.5, 5, 10, 30])
    assert list(h.columns) == ["time", "frequency", "recency", "probability_alive"]
    assert h["frequency"].tolist() == [0, 1, 1, 2, 2]
    assert h["recency"].tolist() == [0, 2.5, 2.5, 10, 10]
    rows = h[["frequency", "recency"]].assign(T=h["time"], period_days=7.0)
    np.testing.assert_allclose(h["probability_alive"], model.probability_alive(rows), rtol=1e-12)


def test_history_default_grid_covers_the_purchases_and_jumps_up_at_them(model):
    h = probability_alive_history(model, HISTORY, T=38.86)
    assert h["time"].iloc[-1] == pytest.approx(38.86) and h["time"].iloc[0] > 0
    assert h["time"].is_monotonic_increasing
    assert set(HISTORY[1:]) <= set(h["time"])
    p = h.set_index("time")["probability_alive"]
    for s in HISTORY[2:]:  # the first repeat purchase turns BG/NBD's P = 1 into P < 1
        before = p[p.index < s].iloc[-1]
        assert p[s] > before
    assert np.all(np.diff(p[p.index > HISTORY[-1]]) < 0)  # silence: it only falls


@pytest.mark.parametrize(
    ("times", "kwargs", "match"),
    [
        ([1.0, 3.0], {"T": 10}, "first must be 0"),
        ([0.0, 12.0], {"T": 10}, r"must be <= T"),
        ([0.0, 2.0], {"T": 10, "grid": [0, 5]}, r"grid times must be finite and in \(0, T"),
        ([], {"T": 10}, "non-empty"),
        ([0.0], {"T": 0}, "T must be a finite age"),
    ],
)
def test_history_rejects_bad_input(model, times, kwargs, match):
    with pytest.raises(ValueError, match=match):
        probability_alive_history(model, times, **kwargs)


# ---------------------------------------------------------------------- plots
def _colorbar_label(ax) -> str:
    others = [a for a in ax.figure.axes if a is not ax]
    assert len(others) == 1
    return others[0].get_ylabel()


def test_probability_alive_matrix_plot(close_figures, model, cdnow_rfm):
    import matplotlib.pyplot as plt

    snapshot = _snapshot(cdnow_rfm)
    _, ax = plt.subplots()
    out = plot_probability_alive_matrix(model, data=cdnow_rfm, ax=ax)
    assert out is ax
    _assert_unchanged(cdnow_rfm, snapshot)
    assert ax.get_xlabel() == "Recency: age at last purchase (weeks)"
    assert ax.get_ylabel() == "Frequency (repeat purchases)"
    assert ax.get_title() == "Probability alive\ncustomers aged 38.86 weeks"
    assert _colorbar_label(ax) == "P(alive)"
    (image,) = ax.get_images()
    grid = frequency_recency_grid(model, data=cdnow_rfm)
    np.testing.assert_allclose(image.get_array(), grid.to_numpy())
    assert image.get_clim() == (0.0, 1.0)


def test_matrix_plot_passes_imshow_kwargs_and_uses_the_current_axes(close_figures, model):
    import matplotlib.pyplot as plt

    plt.figure()
    ax = plot_probability_alive_matrix(model, max_frequency=10, T=20, cmap="magma")
    assert ax is plt.gca()
    assert ax.get_images()[0].get_cmap().name == "magma"
    assert ax.get_images()[0].get_array().shape == (11, 21)


def test_plots_open_a_constrained_layout_figure_when_none_is_open(close_figures, model):
    import matplotlib.pyplot as plt

    plt.close("all")
    ax = plot_probability_alive_matrix(model, T=20)
    assert ax.figure.get_layout_engine() is not None


def test_expected_purchases_matrix_plot(close_figures, model, cdnow_rfm):
    import matplotlib.pyplot as plt

    snapshot = _snapshot(cdnow_rfm)
    _, ax = plt.subplots()
    assert plot_expected_purchases_matrix(model, t=52, data=cdnow_rfm, ax=ax) is ax
    _assert_unchanged(cdnow_rfm, snapshot)
    assert ax.get_title() == "Expected purchases in the next 52 weeks\ncustomers aged 38.86 weeks"
    assert _colorbar_label(ax) == "Expected repeat purchases"
    grid = frequency_recency_grid(model, data=cdnow_rfm, t=52, quantity="expected_purchases")
    np.testing.assert_allclose(ax.get_images()[0].get_array(), grid.to_numpy())
    _, ax1 = plt.subplots()
    plot_expected_purchases_matrix(model, T=39, ax=ax1)  # no data: the model's unit, singular
    assert ax1.get_title().startswith("Expected purchases in the next 1 week\n")


def test_time_unit_falls_back_to_periods(close_figures, cdnow_rfm):
    import matplotlib.pyplot as plt

    plain = cdnow_rfm.copy()
    plain.attrs = {}
    unitless = BetaGeoModel().fit(plain)
    _, ax = plt.subplots()
    plot_probability_alive_matrix(unitless, data=plain, ax=ax)
    assert ax.get_xlabel() == "Recency: age at last purchase (periods)"
    _, ax = plt.subplots()
    plot_probability_alive_matrix(unitless, data=plain, time_unit="D", ax=ax)
    assert ax.get_xlabel() == "Recency: age at last purchase (days)"


def test_period_transactions_plot(close_figures, model, cdnow_rfm):
    import matplotlib.pyplot as plt

    snapshot = _snapshot(cdnow_rfm)
    _, ax = plt.subplots()
    assert plot_period_transactions(model, cdnow_rfm, ax=ax) is ax
    _assert_unchanged(cdnow_rfm, snapshot)
    table = period_transactions(model, cdnow_rfm)
    heights = [bar.get_height() for bar in ax.patches]
    np.testing.assert_allclose(heights, np.r_[table["actual"], table["model"]])
    assert [t.get_text() for t in ax.get_xticklabels()] == list(table.index)
    assert ax.get_xlabel() == "Repeat purchases in the calibration period"
    assert ax.get_ylabel() == "Customers"
    assert ax.get_title() == "Repeat purchases per customer: actual vs model"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Actual", "Model"]


def test_calibration_holdout_plot(close_figures, cal_model, cal_holdout):
    import matplotlib.pyplot as plt

    snapshot = _snapshot(cal_holdout)
    _, ax = plt.subplots()
    assert plot_calibration_holdout(cal_model, cal_holdout, ax=ax) is ax
    _assert_unchanged(cal_holdout, snapshot)
    table = conditional_expectations(cal_model, cal_holdout)
    actual, predicted = ax.get_lines()
    np.testing.assert_allclose(actual.get_ydata(), table["actual"])
    np.testing.assert_allclose(predicted.get_ydata(), table["model"])
    assert ax.get_xticklabels()[0].get_text() == "0\nn=1,411"
    assert ax.get_xlabel() == "Repeat purchases in the calibration period"
    assert ax.get_ylabel() == "Mean repeat purchases in the holdout (39 weeks)"
    assert ax.get_title() == "Calibration vs holdout: conditional expectations"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Actual", "Model"]


def test_probability_alive_history_plot(close_figures, model):
    import matplotlib.pyplot as plt

    times = np.array(HISTORY)
    _, ax = plt.subplots()
    assert plot_probability_alive_history(model, times, 38.86, ax=ax) is ax
    np.testing.assert_array_equal(times, HISTORY)
    line, markers = ax.get_lines()
    h = probability_alive_history(model, HISTORY, T=38.86)
    np.testing.assert_allclose(line.get_ydata(), h["probability_alive"])
    np.testing.assert_allclose(markers.get_xdata(), HISTORY)
    assert ax.get_xlabel() == "Time since first purchase (weeks)"
    assert ax.get_ylabel() == "P(alive)"
    assert ax.get_title() == "Probability alive over the customer's history"
    assert ax.get_xlim() == (0.0, 38.86)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["P(alive)", "Purchase"]


def test_import_clv_does_not_import_plotting_nor_plotting_matplotlib():
    code = (
        "import sys, clv\n"
        "assert 'clv.plotting' not in sys.modules, 'import clv imported clv.plotting'\n"
        "import clv.plotting\n"
        "assert 'matplotlib' not in sys.modules, 'import clv.plotting imported matplotlib'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
