"""Bootstrapped parameter draws and percentile intervals of the MLE models."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from clv.exceptions import ConvergenceWarning
from clv.models import BetaGeoModel, GammaGammaModel
from clv.models.bgnbd import BGNBDParams, simulate
from clv.models.bootstrap import (
    bootstrap,
    model_at,
    percentile_interval,
    predictions_over_draws,
)
from clv.value import customer_lifetime_value

TRUE = BGNBDParams(0.5, 8.0, 0.7, 2.5)


def _world(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sim = simulate(TRUE, rng.uniform(30.0, 50.0, n), rng=rng)
    frame = pd.DataFrame({c: sim[c] for c in ("frequency", "recency", "T")})
    frame.index.name = "customer_id"
    return frame


def _spread_ratio(draws: pd.DataFrame, model: BetaGeoModel) -> pd.Series:
    """Bootstrap SD over the delta-method SE, on the log scale (the draws are skewed)."""
    summary = model.summary()
    return np.log(draws).std() / (summary["se"] / summary["coef"])


@pytest.fixture(scope="module")
def fitted():
    data = _world(800, 1)
    return BetaGeoModel().fit(data), data


def test_draws_have_the_layout_of_sample_params_and_are_seeded(fitted):
    model, data = fitted
    draws = model.bootstrap(data, n=30, random_state=4, progress=False)
    assert list(draws.columns) == list(model.params_.index) and len(draws) == 30
    assert draws.index.name == "draw" and draws.attrs["n_failed"] == 0
    again = bootstrap(model, data, 30, random_state=4, progress=False)
    pd.testing.assert_frame_equal(draws, again)
    other = bootstrap(model, data, 30, random_state=5, progress=False)
    assert not np.allclose(draws.to_numpy(), other.to_numpy())
    # the spread is the sampling spread of the estimates: close to the asymptotic SE
    assert _spread_ratio(draws, model).between(0.6, 1.6).all()
    assert (draws > 0).all().all()


def test_weighted_rows_resample_the_customers_they_stand_for(fitted):
    model, data = fitted
    compressed = data.groupby(["frequency", "recency", "T"]).size().rename("weight").reset_index()
    compressed.index.name = "customer_id"
    refit = BetaGeoModel().fit(compressed)
    np.testing.assert_allclose(refit.params_, model.params_, rtol=1e-6)
    draws = refit.bootstrap(compressed, n=30, random_state=0, progress=False)
    assert _spread_ratio(draws, model).between(0.6, 1.6).all()


def test_intervals_of_predictions_and_clv(fitted):
    model, data = fitted
    draws = model.bootstrap(data, n=40, random_state=0, progress=False)
    rows = data.head(25).assign(monetary_value=20.0)
    values = predictions_over_draws(model, draws, lambda m: m.expected_purchases(10, rows))
    assert values.shape == (40, 25) and values.columns.equals(rows.index)
    interval = percentile_interval(values, alpha=0.1)
    point = model.expected_purchases(10, rows)
    assert (interval["lower"] <= interval["upper"]).all()
    assert ((interval["lower"] <= point) & (point <= interval["upper"])).mean() > 0.9
    spend = GammaGammaModel()
    spend.params_ = pd.Series({"p": 6.0, "q": 3.7, "v": 15.0})
    clv = predictions_over_draws(
        model,
        draws,
        lambda m: customer_lifetime_value(
            m, spend, rows, horizon=26, discount_rate_per_period=0.002, time_unit="W"
        ),
    )
    assert clv.shape == (40, 25) and np.all(np.isfinite(clv.to_numpy()))
    twin = model_at(model, draws.iloc[3])
    pd.testing.assert_series_equal(twin.params_, draws.iloc[3].rename("coef"), check_names=False)
    assert model.params_["r"] != twin.params_["r"]  # the original is untouched


def test_bad_arguments_and_time_budget(fitted):
    model, data = fitted
    with pytest.raises(ValueError, match="whole number"):
        model.bootstrap(data, n=1)
    with pytest.raises(ValueError, match="max_seconds"):
        model.bootstrap(data, n=10, max_seconds=0)
    from clv.models import ShiftedBetaGeoModel

    table = pd.DataFrame({"period": range(4), "n_alive": [1000, 631, 468, 382]})
    with pytest.raises(NotImplementedError, match="sample_params"):
        ShiftedBetaGeoModel().fit(table).bootstrap(table, n=10)
    with pytest.warns(ConvergenceWarning, match="max_seconds"):
        draws = model.bootstrap(data, n=10_000, max_seconds=0.3, random_state=0, progress=False)
    assert 2 <= len(draws) < 10_000


@pytest.mark.slow
def test_percentile_intervals_cover_the_truth():
    """90 % intervals of a new customer's expected purchases over 16 replications of the world."""
    truth = float(BetaGeoModel.spec.expected_purchases_new_customer(TRUE, 20.0))
    covered = 0
    widths = []
    for seed in range(16):
        data = _world(600, 100 + seed)
        with warnings.catch_warnings():
            # a small world may leave a flat Hessian (no SE); the bootstrap does not need it
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = BetaGeoModel().fit(data)
        draws = model.bootstrap(data, n=40, random_state=seed, progress=False)
        values = predictions_over_draws(
            model, draws, lambda m: pd.Series([float(m.expected_purchases_new_customer(20.0))])
        )
        interval = percentile_interval(values, alpha=0.1).iloc[0]
        covered += bool(interval["lower"] <= truth <= interval["upper"])
        widths.append(interval["upper"] - interval["lower"])
    # Binomial(16, 0.9): P(X <= 11) = 0.017
    assert covered >= 12, covered
    assert np.median(widths) < 0.5 * truth  # informative, not trivially wide
