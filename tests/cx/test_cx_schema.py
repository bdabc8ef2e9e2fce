import numpy as np
import pandas as pd
import pytest

from clv.cx import validate_customers, validate_cx_events
from clv.exceptions import DataError


def _events(**over):
    base = {
        "customer_id": [1, 2],
        "timestamp": ["2024-01-01", "2024-01-02"],
        "signal": ["nps", "csat"],
        "value": [9, 4],
    }
    base.update(over)
    return pd.DataFrame(base)


def _problem(exc, column):
    return [p for p in exc.value.problems if p.column == column]


@pytest.mark.parametrize(
    ("signal", "bad", "good"),
    [
        ("nps", [11, -1, 7.5], [0, 10]),
        ("csat", [0, 6, 2.5], [1, 5]),
        ("ces", [0, 8, 1.5], [1, 7]),
        ("contact_wait_seconds", [-1.0], [0.0, 3600.5]),
        ("contact_resolved_first", [2, 0.5, -1], [0, 1]),
        ("pillar_empathy", [-0.1, 10.5], [0, 7.5, 10]),
        ("complaint", [0, 2], [1]),
    ],
)
def test_each_built_in_range_is_checked(signal, bad, good):
    n = len(bad) + len(good)
    ev = pd.DataFrame(
        {
            "customer_id": range(n),
            "timestamp": ["2024-01-01"] * n,
            "signal": [signal] * n,
            "value": [*bad, *good],
        }
    )
    with pytest.raises(DataError) as exc:
        validate_cx_events(ev)
    (p,) = exc.value.problems
    assert p.column == "value" and signal in p.message
    assert list(p.rows) == list(range(len(bad)))  # exactly the bad rows, by index label
    out = validate_cx_events(ev.iloc[len(bad) :])
    assert out["value"].tolist() == [float(g) for g in good]


def test_complaint_without_value_counts_as_one_and_input_not_mutated():
    ev = _events(signal=["complaint", "my_custom"], value=[None, -3.5])
    before = ev.copy()
    out = validate_cx_events(ev)
    assert out["value"].tolist() == [1.0, -3.5]  # custom signals: any finite number
    pd.testing.assert_frame_equal(ev, before)
    assert out["timestamp"].dtype.kind == "M"


def test_every_problem_is_collected_in_one_error():
    ev = pd.DataFrame(
        {
            "customer_id": [1, None, 3, 4, 5, 6],
            "timestamp": [
                "2024-01-01",
                "2024-01-01",
                "nope",
                "2024-01-01",
                "2024-01-01",
                "2024-01-01",
            ],
            "signal": ["nps", "nps", "nps", "pillar_speed", None, "x"],
            "value": [3, 3, 3, 3, 3, np.inf],
        }
    )
    with pytest.raises(DataError) as exc:
        validate_cx_events(ev)
    text = str(exc.value)
    assert len(_problem(exc, "customer_id")) == 1
    assert len(_problem(exc, "timestamp")) == 1
    assert len(_problem(exc, "signal")) == 2  # missing + unknown pillar
    assert "pillar_integrity" in text and "pillar_time_effort" in text
    assert "infinite" in text


def test_missing_columns_named_with_guess():
    ev = _events().rename(columns={"timestamp": "ts", "value": "Value"})
    with pytest.raises(DataError) as exc:
        validate_cx_events(ev)
    assert {p.column for p in exc.value.problems} == {"timestamp", "value"}
    assert "did you mean 'Value'" in str(exc.value)


def test_non_numeric_and_missing_values():
    ev = _events(value=["high", None])
    with pytest.raises(DataError) as exc:
        validate_cx_events(ev)
    msgs = [p.message for p in exc.value.problems]
    assert any("non-numeric" in m for m in msgs) and any("missing" in m for m in msgs)
    assert len(msgs) == 2  # the non-numeric cell is not also reported out of range


def test_timezone_aware_and_mixed_timestamps():
    aware = _events(timestamp=pd.to_datetime(["2024-01-01", "2024-01-02"]).tz_localize("UTC"))
    with pytest.raises(DataError, match="timezone"):
        validate_cx_events(aware)
    mixed = _events(timestamp=[pd.Timestamp("2024-01-01", tz="UTC"), pd.Timestamp("2024-01-01")])
    with pytest.raises(DataError, match="timezone"):
        validate_cx_events(mixed)


def test_empty_table_and_custom_column_names():
    with pytest.raises(DataError, match="no rows"):
        validate_cx_events(_events().iloc[:0])
    ev = _events().rename(columns={"customer_id": "cid", "signal": "kind"})
    out = validate_cx_events(ev, customer_id_col="cid", signal_col="kind")
    assert list(out.columns[:4]) == ["customer_id", "timestamp", "signal", "value"]


def test_validate_customers_kinds_and_errors():
    c = pd.DataFrame(
        {
            "customer_id": [1, 2, 3],
            "channel": ["a", "b", "a"],
            "vip": [True, False, True],
            "seg": pd.Categorical(["x", "y", "x"]),
            "age": [30, 40, np.nan],
            "since": pd.to_datetime(["2020-01-01"] * 3),
        }
    )
    out = validate_customers(c)
    assert out.categorical == ("channel", "vip", "seg")
    assert out.numeric == ("age",) and out.other == ("since",)
    assert out.frame.index.name == "customer_id"
    bad = pd.DataFrame({"customer_id": [1, 1, None], "x": [1, 2, 3]})
    with pytest.raises(DataError) as exc:
        validate_customers(bad)
    msgs = " ".join(p.message for p in exc.value.problems)
    assert "missing" in msgs and "repeats" in msgs
    with pytest.raises(DataError, match="not in the frame"):
        validate_customers(pd.DataFrame({"id": [1]}))
