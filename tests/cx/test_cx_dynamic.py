"""value_path_change: ΔCLV of a change of the future CX covariate path."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import clv.cx as cx
from clv.cx.dynamic import changed_path, fit_dynamic_cx, restored_path, value_path_change
from clv.cx.paths import feature_paths
from clv.exceptions import DataError

sys.path.insert(0, str(Path(__file__).parent))
import _dated_world as W

H, RATE, MARGIN = 52, 1.1 ** (1 / 52) - 1, 0.3


def _fit(variant: str, n: int, seed: int = 1):
    w = W.simulate(n, variant=variant, seed=seed)
    fb = cx.FeatureBuilder(
        [
            cx.last(
                "contact_wait_seconds", scale=60, name="wait", fill=W.NORMAL_WAIT, indicator=False
            )
        ]
    )
    paths = feature_paths(fb, w.events, w.transactions, observation_end=W.CUTOFF)
    fitted = fit_dynamic_cx(
        w.transactions, paths, observation_end=W.CUTOFF, dropout_covariates=["wait"], spend=W.SPEND
    )
    return w, paths, fitted


@pytest.fixture(scope="module")
def small():
    return _fit("ongoing", 250)


def test_same_seed_same_numbers_and_unchanged_customers_are_zero(small) -> None:
    w, _, f = small
    region_a = w.region.index[w.region == "A"]
    fix = changed_path(f.data, W.CUTOFF, H, {"wait": W.NORMAL_WAIT}, customers=region_a)
    kw = {"horizon": H, "discount_rate": RATE, "margin": MARGIN, "n_draws": 30}
    v1 = value_path_change(f, fix, random_state=3, **kw)
    v2 = value_path_change(f, fix, random_state=3, **kw)
    np.testing.assert_array_equal(v1.draws, v2.draws)
    assert v1.total == v2.total and v1.lower <= v1.upper
    pc = v1.per_customer
    assert (pc.loc[w.region.index[w.region == "B"], "delta_clv"] == 0).all()
    assert np.isclose(pc["delta_clv"].sum(), v1.total)
    np.testing.assert_allclose(pc["clv_changed"] - pc["clv_baseline"], pc["delta_clv"])
    assert (pc["delta_lower"] <= pc["delta_upper"]).all()
    # the baseline CLV is margin * spend * the model's discounted purchases
    dect = f.model.expected_discounted_purchases(H, f.data, RATE)
    np.testing.assert_allclose(pc["clv_baseline"], MARGIN * W.SPEND * dect, rtol=1e-10)


def test_no_change_is_worth_exactly_zero(small) -> None:
    _, _, f = small
    same = changed_path(f.data, W.CUTOFF, 4, {})
    v = value_path_change(f, same, horizon=H, discount_rate=RATE, margin=MARGIN, n_draws=10)
    assert v.total == 0.0 and v.lower == 0.0 and v.upper == 0.0


def test_prevent_and_fix_are_different_paths(small) -> None:
    w, _, f = small
    region_a = w.region.index[w.region == "A"]
    later = changed_path(f.data, W.CUTOFF + 8 * W.WEEK, H, {"wait": W.BAD_WAIT}, customers=region_a)
    fix = changed_path(f.data, W.CUTOFF, H, {"wait": W.NORMAL_WAIT}, customers=region_a)
    kw = {"horizon": H, "discount_rate": RATE, "margin": MARGIN, "n_draws": 10}
    prevent = value_path_change(f, None, baseline=later, **kw)
    fixed = value_path_change(f, fix, **kw)
    assert prevent.total != fixed.total
    # a per-customer level is accepted too
    level = pd.Series(W.NORMAL_WAIT, index=region_a)
    fix2 = changed_path(f.data, W.CUTOFF, H, {"wait": level}, customers=region_a)
    assert value_path_change(f, fix2, **kw).total == fixed.total


def test_restored_path_changes_only_customers_worse_than_the_level(small) -> None:
    w, _, f = small
    region_a = w.region.index[w.region == "A"]
    current = pd.Series(f.data.current_X[:, 0], index=f.data.customer_ids)
    path = restored_path(
        f.data, W.CUTOFF, H, "wait", W.NORMAL_WAIT, tolerance=1.0, customers=region_a
    )
    worse = current[region_a][current[region_a] > W.NORMAL_WAIT + 1.0].index
    assert 0 < len(worse) < len(region_a)
    assert set(path["customer_id"]) == set(worse)
    assert (path["wait"] == W.NORMAL_WAIT).all()
    kw = {"horizon": H, "discount_rate": RATE, "margin": MARGIN, "n_draws": 10}
    # nothing worse than the level: an empty path, worth exactly 0
    none = restored_path(f.data, W.CUTOFF, H, "wait", 1e6, customers=region_a)
    assert len(none) == 0
    v = value_path_change(f, none, **kw)
    assert (v.total, v.lower, v.upper) == (0.0, 0.0, 0.0)
    # higher-is-better direction
    up = restored_path(f.data, W.CUTOFF, H, "wait", 1e6, lower_is_better=False)
    assert set(up["customer_id"]) == set(f.data.customer_ids)


def test_bad_inputs(small) -> None:
    w, paths, f = small
    with pytest.raises(DataError, match="not a covariate"):
        changed_path(f.data, W.CUTOFF, 4, {"nope": 1.0})
    with pytest.raises(DataError, match="no value"):
        changed_path(f.data, W.CUTOFF, 4, {"wait": pd.Series({0: 1.0})})
    with pytest.raises(DataError, match="cannot change the past"):
        changed_path(f.data, W.CUTOFF - 3 * W.WEEK, 4, {"wait": 1.0})
    with pytest.raises(ValueError, match="interval"):
        value_path_change(f, None, horizon=4, discount_rate=RATE, margin=MARGIN, interval=1.5)
    with pytest.raises(DataError, match="value_col"):
        fit_dynamic_cx(w.transactions, paths, observation_end=W.CUTOFF, dropout_covariates=["wait"])
