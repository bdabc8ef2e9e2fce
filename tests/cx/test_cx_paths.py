"""feature_paths: per-period CX covariates, lagged (events before the period start), as rates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import clv.cx as cx
from clv.cx.paths import feature_paths
from clv.exceptions import DataError
from clv.models import time_varying_data

END = pd.Timestamp("2024-03-04")


def _world(seed: int = 0, n: int = 30) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01")
    days = 63
    first = rng.uniform(0, 40, n)
    tx = pd.DataFrame(
        {
            "customer_id": np.r_[np.arange(n), rng.integers(0, n, 3 * n)],
            "date": start + pd.to_timedelta(np.r_[first, rng.uniform(40, days, 3 * n)], unit="D"),
        }
    )
    m = 6 * n
    ev = pd.DataFrame(
        {
            "customer_id": rng.integers(0, n, m),
            "signal": rng.choice(["complaint", "contact_wait_seconds"], m),
            "timestamp": start + pd.to_timedelta(rng.uniform(-10, days + 5, m), unit="D"),
        }
    )
    ev["value"] = np.where(ev["signal"] == "complaint", np.nan, rng.uniform(10, 900, m))
    return tx, ev


def _builder() -> cx.FeatureBuilder:
    return cx.FeatureBuilder(
        [
            cx.count("complaint"),
            cx.count("complaint", window=14),
            cx.mean("contact_wait_seconds", scale=60, name="wait", fill=2.0),
            cx.flag("contact_wait_seconds", name="contacted"),
        ]
    )


def test_paths_feed_time_varying_data_directly() -> None:
    tx, ev = _world()
    paths = feature_paths(_builder(), ev, tx, observation_end=END)
    cols = [c for c in paths.columns if c not in ("customer_id", "cov_date")]
    data = time_varying_data(
        tx, paths, columns=cols, observation_end=END, time_unit="W", cov_date_col="cov_date"
    )
    assert data.n_customers == tx["customer_id"].nunique()
    # one row per customer and week, from the week of the first purchase to the last week
    first = tx.groupby("customer_id")["date"].min()
    per = paths.groupby("customer_id")["cov_date"].agg(["min", "max", "size"])
    assert (per["min"] <= first).all() and (per["min"] + pd.Timedelta(weeks=1) > first).all()
    assert (per["max"] < END).all() and (per["max"] + pd.Timedelta(weeks=1) >= END).all()
    assert ((per["max"] - per["min"]) / pd.Timedelta(weeks=1) + 1 == per["size"]).all()


def test_counts_are_rates_per_active_period() -> None:
    tx = pd.DataFrame({"customer_id": [1], "date": [pd.Timestamp("2024-01-01")]})
    ev = pd.DataFrame(
        {
            "customer_id": [1] * 4,
            "signal": "complaint",
            "value": None,
            "timestamp": pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-16", "2024-01-30"]),
        }
    )
    fb = cx.FeatureBuilder([cx.count("complaint"), cx.count("complaint", window=7)])
    p = feature_paths(fb, ev, tx, observation_end="2024-02-05")
    # weeks start Jan 1, 8, 15, 22, 29: lifetime counts 0, 2, 2, 3, 3 over 1, 1, 2, 3, 4 weeks
    np.testing.assert_allclose(p["complaint_count"], [0, 2, 1, 1, 0.75])
    # last 7 days: exposure min(7 days, active time) -> plain counts per week here
    np.testing.assert_allclose(p["complaint_count_7d"], [0, 2, 0, 1, 0])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_events_at_or_after_a_period_start_never_change_its_row(seed: int) -> None:
    tx, ev = _world(seed)
    fb = _builder().fit(ev, None, cutoff=END, customer_ids=sorted(tx["customer_id"].unique()))
    base = feature_paths(fb, ev, tx, observation_end=END)
    rng = np.random.default_rng(seed)
    # move events later (never earlier) and add new late ones: rows starting at or before
    # the old timestamp... only rows with start <= min(old, new) time may not change
    cut = pd.Timestamp("2024-01-01") + pd.Timedelta(days=float(rng.uniform(10, 50)))
    late = ev["timestamp"] >= cut
    changed = ev.copy()
    changed.loc[late, "value"] = np.where(
        changed.loc[late, "signal"] == "complaint", np.nan, rng.uniform(1000, 5000, int(late.sum()))
    )
    extra = changed[late].assign(timestamp=lambda d: d["timestamp"] + pd.Timedelta(days=1))
    changed = pd.concat([changed, extra], ignore_index=True)
    after = feature_paths(fb, changed, tx, observation_end=END)
    assert after[["customer_id", "cov_date"]].equals(base[["customer_id", "cov_date"]])
    keep = (base["cov_date"] <= cut).to_numpy()
    pd.testing.assert_frame_equal(after[keep], base[keep])
    assert not after[~keep].equals(base[~keep])  # the test can fail: later rows do change


def test_event_exactly_at_a_period_start_counts_from_the_next_period() -> None:
    tx = pd.DataFrame({"customer_id": [1], "date": [pd.Timestamp("2024-01-01")]})
    ev = pd.DataFrame(
        {
            "customer_id": [1],
            "signal": "complaint",
            "value": None,
            "timestamp": [pd.Timestamp("2024-01-08")],
        }
    )
    p = feature_paths(
        cx.FeatureBuilder([cx.flag("complaint")]), ev, tx, observation_end="2024-01-22"
    )
    assert p["complaint_any"].tolist() == [0.0, 0.0, 1.0]


def test_bad_inputs() -> None:
    tx, ev = _world()
    with pytest.raises(ValueError, match="standardize"):
        feature_paths(
            cx.FeatureBuilder([cx.count("complaint")], standardize=True),
            ev,
            tx,
            observation_end=END,
        )
    from clv.exceptions import DataError

    with pytest.raises(DataError, match="time_unit"):
        feature_paths(_builder(), ev, tx, observation_end=END, time_unit="M")
    with pytest.raises(DataError, match="no purchase"):
        feature_paths(_builder(), ev, tx, observation_end="2020-01-01")
    with pytest.raises(DataError, match="missing"):
        feature_paths(_builder(), ev, tx.rename(columns={"date": "d"}), observation_end=END)


def test_group_paths_pool_the_unit_events() -> None:
    tx, ev = _world()
    ids = np.sort(tx["customer_id"].unique())
    group = pd.Series(np.where(ids % 2 == 0, "A", "B"), index=ids)
    fb = cx.FeatureBuilder([cx.mean("contact_wait_seconds", window=14, name="wait", fill=0.0)])
    p = feature_paths(fb, ev, tx, observation_end=END, group=group)
    own = feature_paths(
        cx.FeatureBuilder([cx.mean("contact_wait_seconds", window=14, name="wait", fill=0.0)]),
        ev,
        tx,
        observation_end=END,
    )
    assert p[["customer_id", "cov_date"]].equals(own[["customer_id", "cov_date"]])
    # every member of a unit has the unit's value: the mean of the unit's events in the window
    row = p.iloc[len(p) // 2]
    members = group.index[group == group[row["customer_id"]]]
    c = row["cov_date"]
    m = (
        ev["customer_id"].isin(members)
        & (ev["signal"] == "contact_wait_seconds")
        & (ev["timestamp"] < c)
        & (ev["timestamp"] >= c - pd.Timedelta(days=14))
    )
    assert row["wait"] == pytest.approx(ev.loc[m, "value"].mean())
    same = p[p["cov_date"] == c].groupby(p["customer_id"].map(group))["wait"].nunique()
    assert (same == 1).all()
    with pytest.raises(DataError, match="no unit"):
        feature_paths(fb, ev, tx, observation_end=END, group=group.iloc[1:])
