"""Valuing a dated regional CX change: time-varying vs static covariates against the oracle.

World (tests/cx/_dated_world.py, not built from the model's formulas): 3,000
customers, weekly calendar, region A's support vendor degrades 12 weeks before
the cutoff (waits ~2 -> ~15 minutes) and its dropout hazard triples while it
lasts; "ongoing" at the cutoff or "fixed" 4 weeks before it. The covariate is
the region's mean contact wait of the past week (pooled unit signal).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

import clv.cx as cx
from clv.cx.dynamic import changed_path, fit_dynamic_cx, restored_path, value_path_change
from clv.cx.paths import feature_paths

sys.path.insert(0, str(Path(__file__).parent))
import _dated_world as W

pytestmark = pytest.mark.slow

H, RATE, MARGIN, DRAWS = 52, 1.1 ** (1 / 52) - 1, 0.3, 60


def _builder() -> cx.FeatureBuilder:
    return cx.FeatureBuilder(
        [
            cx.mean(
                "contact_wait_seconds",
                window=7,
                scale=60,
                name="wait",
                fill=W.NORMAL_WAIT,
                indicator=False,
            )
        ]
    )


def _case(variant: str, *, static: bool = False) -> dict:
    w = W.simulate(3000, variant=variant, seed=1)
    paths = feature_paths(
        _builder(), w.events, w.transactions, observation_end=W.CUTOFF, group=w.region
    )
    in_a = paths["customer_id"].map(w.region) == "A"
    weekly = paths[in_a].groupby("cov_date")["wait"].first()  # one value per week and region
    before = weekly[weekly.index < W.ORIGIN + w.bad_from * W.WEEK].iloc[-20:]
    pre, tol = before.mean(), 3 * before.std()
    if static:  # the static-covariate model: each customer's value at the cutoff, all along
        paths = paths.assign(wait=paths.groupby("customer_id")["wait"].transform("last"))
    f = fit_dynamic_cx(
        w.transactions, paths, observation_end=W.CUTOFF, dropout_covariates=["wait"], spend=W.SPEND
    )
    region_a = w.region.index[w.region == "A"]
    fix = restored_path(f.data, W.CUTOFF, H, "wait", pre, tolerance=tol, customers=region_a)
    kw = {"horizon": H, "discount_rate": RATE, "margin": MARGIN, "n_draws": DRAWS}
    return {
        "world": w,
        "fitted": f,
        "pre": pre,
        "region_a": region_a,
        "fix": value_path_change(f, fix, **kw),
        "kw": kw,
    }


@pytest.fixture(scope="module")
def ongoing() -> dict:
    return _case("ongoing")


def test_ongoing_fix_covers_the_oracle(ongoing) -> None:
    v, truth = ongoing["fix"], W.oracle_fix(ongoing["world"], H, RATE, MARGIN)
    assert truth > 5000
    assert v.lower <= truth <= v.upper, (v.lower, v.total, v.upper, truth)
    assert v.lower > 0


def test_prevent_a_future_problem_covers_the_oracle(ongoing) -> None:
    # in the ongoing world: from the cutoff the fix holds, unless the problem returns in 8 weeks
    f, a, pre = ongoing["fitted"], ongoing["region_a"], ongoing["pre"]
    good = changed_path(f.data, W.CUTOFF, H, {"wait": pre}, customers=a)
    ok_then_bad = changed_path(f.data, W.CUTOFF, 8, {"wait": pre}, customers=a)
    bad = changed_path(f.data, W.CUTOFF + 8 * W.WEEK, H, {"wait": W.BAD_WAIT}, customers=a)
    baseline = pd.concat([ok_then_bad, bad], ignore_index=True)
    v = value_path_change(f, good, baseline=baseline, **ongoing["kw"])
    truth = W.oracle_prevent(ongoing["world"], 8, H, RATE, MARGIN)
    assert v.lower <= truth <= v.upper, (v.lower, v.total, v.upper, truth)
    assert abs(v.total - ongoing["fix"].total) > 0.1 * ongoing["fix"].total


def test_already_fixed_is_worth_about_nothing(ongoing) -> None:
    case = _case("fixed")
    v = case["fix"]
    assert W.oracle_fix(case["world"], H, RATE, MARGIN) == 0.0
    assert v.lower <= 0.0 <= v.upper, (v.lower, v.total, v.upper)
    assert abs(v.total) < 0.1 * ongoing["fix"].total
    # the same fix in the ongoing world changes every region-A path
    assert (ongoing["fix"].per_customer.loc[ongoing["region_a"], "delta_clv"] > 0).mean() > 0.3


def test_static_covariates_dilute_the_dated_change(ongoing) -> None:
    case = _case("ongoing", static=True)
    v, truth = case["fix"], W.oracle_fix(case["world"], H, RATE, MARGIN)
    # the dynamic model covers the truth (test above); the static one is far below it
    assert v.upper < 0.5 * truth, (v.lower, v.total, v.upper, truth)
