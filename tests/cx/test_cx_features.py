import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import clv.cx as cx
from clv.exceptions import DataWarning, ModelFileError, NotFittedError

T0 = pd.Timestamp("2024-01-01")
CUTOFF = T0 + pd.Timedelta(days=100)
SIGNALS = ["nps", "csat", "complaint", "contact_resolved_first", "contact_wait_seconds"]
FEATURES = [
    cx.last("nps"),
    cx.mean("csat"),
    cx.mean("csat", window=30),
    cx.count("complaint"),
    cx.count("complaint", window=30),
    cx.decayed_count("complaint", half_life=20),
    cx.rate("contact_resolved_first"),
    cx.mean("contact_wait_seconds", scale=60, name="wait_minutes"),
    cx.flag("contact_wait_seconds", name="contacted"),
    cx.nps_groups(),
    cx.interaction("contacted", "wait_minutes"),
]
IDS = [1, 2, 3, 4]


def _value(signal, u):
    values = {
        "nps": float(round(u * 10)),
        "csat": float(1 + round(u * 4)),
        "complaint": 1.0,
        "contact_resolved_first": float(u > 0.5),
        "contact_wait_seconds": round(u * 900.0),
    }
    return values[signal]


event = st.tuples(
    st.sampled_from(IDS), st.integers(0, 200), st.sampled_from(SIGNALS), st.floats(0, 1)
)


def _frame(rows):
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "timestamp": [T0 + pd.Timedelta(days=r[1]) for r in rows],
            "signal": [r[2] for r in rows],
            "value": [_value(r[2], r[3]) for r in rows],
        }
    )


@pytest.mark.filterwarnings("ignore:no customer has a value:clv.exceptions.DataWarning")
@given(before=st.lists(event, min_size=1, max_size=25), after=st.lists(event, max_size=25))
def test_events_at_or_after_cutoff_never_change_features(before, after):
    base = [r for r in before if T0 + pd.Timedelta(days=r[1]) < CUTOFF] or [(1, 0, "nps", 0.5)]
    late = [(c, max(d, 100), s, u) for c, d, s, u in after]  # day 100 == the cutoff itself
    fb = cx.FeatureBuilder(FEATURES)
    X1 = fb.fit_transform(_frame(base), customer_ids=IDS, cutoff=CUTOFF)
    X2 = fb.transform(_frame(base + late), customer_ids=IDS, cutoff=CUTOFF)
    pd.testing.assert_frame_equal(X1, X2)
    raw1 = cx.features_as_of(
        cx.validate_cx_events(_frame(base)), FEATURES, CUTOFF, customer_ids=IDS
    )
    raw2 = cx.features_as_of(
        cx.validate_cx_events(_frame(base + late)), FEATURES, CUTOFF, customer_ids=IDS
    )
    pd.testing.assert_frame_equal(raw1, raw2)


def _brute(rows, cid, cutoff):
    """Per-customer loop over the events, straight from the definitions."""
    mine = sorted(
        (
            (T0 + pd.Timedelta(days=d), i, s, _value(s, u))
            for i, (c, d, s, u) in enumerate(rows)
            if c == cid
        ),
        key=lambda e: (e[0], e[1]),
    )
    mine = [e for e in mine if e[0] < cutoff]

    def vals(sig, window=None):
        return [
            v
            for t, _, s, v in mine
            if s == sig and (window is None or t >= cutoff - pd.Timedelta(days=window))
        ]

    def avg(xs):
        return sum(xs) / len(xs) if xs else math.nan

    nps = vals("nps")
    comp_times = [t for t, _, s, _ in mine if s == "complaint"]
    return {
        "nps_last": nps[-1] if nps else math.nan,
        "csat_mean": avg(vals("csat")),
        "csat_mean_30d": avg(vals("csat", 30)),
        "complaint_count": len(comp_times),
        "complaint_count_30d": len(vals("complaint", 30)),
        "complaint_decayed_20d": sum(
            2 ** (-((cutoff - t) / pd.Timedelta(days=1)) / 20) for t in comp_times
        ),
        "contact_resolved_first_rate": avg(vals("contact_resolved_first")),
        "wait_minutes": avg([v / 60 for v in vals("contact_wait_seconds")]),
        "contacted": float(bool(vals("contact_wait_seconds"))),
        "promoter": (nps[-1] >= 9) * 1.0 if nps else math.nan,
        "detractor": (nps[-1] <= 6) * 1.0 if nps else math.nan,
    }


@given(rows=st.lists(event, min_size=1, max_size=30), cut_day=st.integers(1, 210))
def test_raw_features_equal_brute_force(rows, cut_day):
    cutoff = T0 + pd.Timedelta(days=cut_day)
    raw = cx.features_as_of(cx.validate_cx_events(_frame(rows)), FEATURES, cutoff, customer_ids=IDS)
    expected = pd.DataFrame([_brute(rows, c, cutoff) for c in IDS], index=raw.index)
    pd.testing.assert_frame_equal(raw, expected[raw.columns], check_dtype=False, rtol=1e-12)


def test_decayed_count_formula_and_last_tie_rule():
    ev = pd.DataFrame(
        {
            "customer_id": [1, 1, 1, 1],
            "signal": ["complaint", "complaint", "nps", "nps"],
            "timestamp": [CUTOFF - pd.Timedelta(days=60), CUTOFF - pd.Timedelta(days=1), T0, T0],
            "value": [None, None, 3, 10],
        }
    )
    raw = cx.features_as_of(
        cx.validate_cx_events(ev),
        [cx.decayed_count("complaint", half_life=pd.Timedelta(days=60)), cx.last("nps")],
        CUTOFF,
        customer_ids=[1],
    )
    assert raw.loc[1, "complaint_decayed_60d"] == pytest.approx(0.5 + 2 ** (-1 / 60), rel=1e-14)
    assert raw.loc[1, "nps_last"] == 10.0  # same timestamp: the later row wins


def test_missing_indicators_fills_and_zero_counts():
    ev = pd.DataFrame(
        {"customer_id": [1, 2], "signal": ["nps", "nps"], "timestamp": [T0, T0], "value": [10, 4]}
    )
    fb = cx.FeatureBuilder(
        [
            cx.last("nps"),
            cx.last("nps", name="nps0", fill=0.0),
            cx.count("complaint"),
            cx.nps_groups(),
        ]
    )
    X = fb.fit_transform(ev, customer_ids=[1, 2, 3], cutoff=CUTOFF)
    assert X.loc[3].to_dict() == {
        "nps_last": 7.0,
        "nps_last_missing": 1.0,
        "nps0": 0.0,
        "nps0_missing": 1.0,
        "complaint_count": 0.0,
        "promoter": 0.0,
        "detractor": 0.0,
        "nps_missing": 1.0,
    }
    assert X.loc[2, "detractor"] == 1.0 and X.loc[1, "promoter"] == 1.0
    assert (X.dtypes == np.float64).all()
    # the fitted fill is reused unchanged on new data
    X2 = fb.transform(None, customer_ids=[9], cutoff=CUTOFF)
    assert X2.loc[9, "nps_last"] == 7.0


def test_indicator_off_needs_explicit_fill_and_bad_specs():
    with pytest.raises(ValueError, match="explicit numeric fill"):
        cx.mean("csat", indicator=False)
    with pytest.raises(ValueError, match="not columns"):
        cx.FeatureBuilder([cx.interaction("a", "b")])
    with pytest.raises(ValueError, match="used twice"):
        cx.FeatureBuilder([cx.count("complaint"), cx.count("complaint")])
    with pytest.raises(ValueError, match="positive"):
        cx.count("complaint", window=0)
    with pytest.raises(NotFittedError):
        cx.FeatureBuilder([cx.count("complaint")]).transform(None, customer_ids=[1], cutoff=T0)


def _customers():
    return pd.DataFrame(
        {"customer_id": [1, 2, 3], "channel": ["web", "store", "app"], "age": [30.0, np.nan, 50.0]}
    )


def test_one_hot_reference_level_and_unseen_categories_warn():
    fb = cx.FeatureBuilder(
        [cx.count("complaint")], customers_categorical=["channel"], customers_numeric=["age"]
    )
    X = fb.fit_transform(None, _customers(), cutoff=CUTOFF)
    assert fb.feature_names_ == [
        "complaint_count",
        "channel=store",
        "channel=web",
        "age",
        "age_missing",
    ]  # 'app' is the reference (first sorted level)
    assert X.loc[2, "age"] == 40.0 and X.loc[2, "age_missing"] == 1.0
    new = pd.DataFrame({"customer_id": [7, 8], "channel": ["phone", "web"], "age": [20.0, 21.0]})
    with pytest.warns(DataWarning, match="'phone'"):
        X2 = fb.transform(None, new, cutoff=CUTOFF)
    assert X2.loc[7, ["channel=store", "channel=web"]].tolist() == [0.0, 0.0]
    assert X2.loc[8, "channel=web"] == 1.0


@pytest.mark.filterwarnings("ignore:no customer has a value:clv.exceptions.DataWarning")
def test_json_round_trip_reproduces_features(tmp_path):
    ev = pd.DataFrame(
        {
            "customer_id": [1, 2, 2],
            "signal": ["csat", "csat", "complaint"],
            "timestamp": [T0, T0, T0],
            "value": [5, 2, None],
        }
    )
    fb = cx.FeatureBuilder(
        FEATURES, customers_categorical=["channel"], customers_numeric=["age"], standardize=True
    )
    X = fb.fit_transform(ev, _customers(), cutoff=CUTOFF)
    doc = json.loads(json.dumps(fb.to_dict()))
    fb2 = cx.FeatureBuilder.from_dict(doc)
    pd.testing.assert_frame_equal(fb2.transform(ev, _customers(), cutoff=CUTOFF), X)
    fb.to_json(tmp_path / "fb.json")
    fb3 = cx.FeatureBuilder.from_json(tmp_path / "fb.json")
    assert fb3.feature_names_ == fb.feature_names_
    assert abs(X["complaint_count"].mean()) < 1e-12  # standardized with the fitted moments
    with pytest.raises(ModelFileError, match="schema_version"):
        cx.FeatureBuilder.from_dict({**doc, "schema_version": 99})


def test_several_cutoffs_give_a_path_and_rate_checks_binary():
    ev = pd.DataFrame(
        {
            "customer_id": [1, 1],
            "signal": ["complaint"] * 2,
            "timestamp": [T0, T0 + pd.Timedelta(days=40)],
            "value": [1, 1],
        }
    )
    fb = cx.FeatureBuilder([cx.count("complaint")])
    X = fb.fit_transform(ev, customer_ids=[1], cutoff=[T0, T0 + pd.Timedelta(days=41)])
    assert X["complaint_count"].tolist() == [0.0, 2.0]
    assert X.index.names == ["cutoff", "customer_id"]
    bad = pd.DataFrame({"customer_id": [1], "signal": ["score"], "timestamp": [T0], "value": [3.0]})
    with pytest.raises(cx.schema.DataError, match="not 0/1"):
        cx.FeatureBuilder([cx.rate("score")]).fit(bad, customer_ids=[1], cutoff=CUTOFF)
