"""Driver analysis: effects per unit and per SD, CLV changes, evidence grades, forest plot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clv.cx import drivers, plot_drivers
from clv.data import rfm_summary
from clv.models import GammaGammaModel, ParetoNBDModel
from clv.synth import COVARIATES, simulate_cx_world


@pytest.fixture(scope="module")
def fitted():
    world = simulate_cx_world(4000, seed=5)
    cal = world.calibration_transactions()
    rfm = rfm_summary(
        cal,
        customer_id_col="customer_id",
        date_col="date",
        value_col="value",
        time_unit="D",
        observation_end=world.calibration_end - pd.Timedelta("1s"),
    )
    data = rfm.join(world.truth.covariates).join(world.customers.set_index("customer_id"))
    cols = ["complaints", "wait_minutes", "wait_minutes_missing", "promoter", "nps_missing"]
    tm = ParetoNBDModel(purchase_covariates=cols, dropout_covariates=cols).fit(data)
    sm = GammaGammaModel(spend_covariates=["promoter", "complaints"]).fit(data)
    return tm, sm, data


def test_driver_table_effects_and_clv_changes(fitted) -> None:
    tm, sm, data = fitted
    t = drivers(
        tm, sm, data, horizon=12, discount_rate=0.0, margin=0.3, n_draws=20, period_length=30.0
    )
    assert len(t) == 2 * 5 + 2
    assert set(t["lever"]) == {"repeat_purchase", "retention", "spend"}
    np.testing.assert_allclose(t["effect_per_unit"], np.exp(t["coefficient"]))
    row = t.set_index("coefficient_name").loc["purchase[promoter]"]
    assert row["coefficient"] == pytest.approx(tm.params_["purchase[promoter]"])
    assert row["se"] == pytest.approx(
        np.sqrt(tm.covariance_.loc["purchase[promoter]", "purchase[promoter]"])
    )
    assert row["effect_per_unit_lo"] < row["effect_per_unit"] < row["effect_per_unit_hi"]
    assert row["signal_sd"] == pytest.approx(data["promoter"].std())
    assert row["clv_change_pct"] > 0 and row["evidence_grade"] == "C"
    # signs of the CLV change follow the coefficients: more complaints, fewer purchases
    assert t.set_index("coefficient_name").loc["purchase[complaints]", "clv_change_pct"] < 0
    assert not any(c.startswith("segment_") for c in t.columns)


def test_experimental_evidence_replaces_the_fitted_coefficient(fitted) -> None:
    tm, sm, data = fitted
    t = drivers(
        tm, sm, data, evidence={"dropout[complaints]": (0.5, 0.05, "AB-9")}, clv_change=False
    )
    row = t.set_index("coefficient_name").loc["dropout[complaints]"]
    assert row["coefficient"] == 0.5 and row["se"] == 0.05
    assert row["evidence_grade"] == "A" and "AB-9" in row["evidence"]
    q = drivers(
        tm,
        sm,
        data,
        clv_change=False,
        evidence={"dropout[complaints]": {"mean": 0.5, "se": 0.1, "kind": "quasi_experiment"}},
    )
    assert q.set_index("coefficient_name").loc["dropout[complaints]", "evidence_grade"] == "B"
    with pytest.raises(ValueError, match="unknown coefficient"):
        drivers(tm, sm, data, evidence={"dropout[nope]": (0.1, 0.1)}, clv_change=False)


def test_segment_and_forest_plot(fitted, close_figures) -> None:
    tm, _, data = fitted
    t = drivers(
        tm, None, data, segment={"channel": "phone"}, horizon=6, n_draws=10, period_length=30.0
    )
    assert t["segment_clv_change_pct"].notna().any()
    ax = plot_drivers(t)
    assert len(ax.get_yticklabels()) == len(t)
    with pytest.raises(ValueError, match="per must be"):
        plot_drivers(t, per="week")


def test_models_without_covariates_are_refused(fitted) -> None:
    _, _, data = fitted
    with pytest.raises(ValueError, match="no covariate coefficients"):
        drivers(ParetoNBDModel().fit(data), None, data)
    assert set(COVARIATES) >= {"complaints", "promoter"}
