"""The investment condition grammar: parses what finance writes, refuses code, runs nothing."""

from __future__ import annotations

import contextlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clv.roi import Investment, Shift
from clv.roi.conditions import (
    ConditionError,
    condition_columns,
    describe_condition,
    evaluate_condition,
    parse_condition,
)


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "channel": ["phone", "web", "phone", None],
            "wait": [3.0, np.nan, 9.0, 1.0],
            "flag": [1, 0, 1, 0],
            "tier": ["gold", "silver", "bronze", "gold"],
            "wait (min)": [1.0, 2.0, 3.0, 4.0],
        }
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("channel == 'phone'", [True, False, True, False]),
        ('channel != "phone"', [False, True, False, True]),
        ("wait > 2", [True, False, True, False]),
        ("wait <= 3", [True, False, False, True]),
        ("2 < wait", [True, False, True, False]),
        ("wait >= -1.5e0", [True, False, True, True]),
        ("flag", [True, False, True, False]),
        ("not flag", [False, True, False, True]),
        ("~flag", [False, True, False, True]),
        ("flag == 1 and wait > 5", [False, False, True, False]),
        ("(flag == 1) & (wait > 5)", [False, False, True, False]),
        ("flag == 1 or tier == 'gold'", [True, False, True, True]),
        ("(flag == 1) | (tier == 'gold')", [True, False, True, True]),
        ("tier in ['gold', 'bronze']", [True, False, True, True]),
        ("tier not in ('gold',)", [False, True, True, False]),
        ("tier in []", [False, False, False, False]),
        ("`wait (min)` > 2.5", [False, False, True, True]),
        ("not (flag == 1 and (tier == 'gold' or wait > 5))", [False, True, False, True]),
        ("flag == True", [True, False, True, False]),
    ],
)
def test_conditions_evaluate_like_their_meaning(frame, text, expected):
    assert evaluate_condition(text, frame).tolist() == expected


@pytest.mark.parametrize(
    "payload",
    [
        "(@pd.io.common.os.system('touch PWNED') == 0) | (flag == flag)",
        "__import__('os').system('touch PWNED')",
        "flag.__class__",
        "channel.str.len() > 0",
        "wait + 1 > 2",
        "exec('x')",
        "flag == 1; import os",
        "lambda: 0",
        "flag = 1",
        "",
        "flag ==",
        "(flag == 1",
        "'a' == 'b'",
        "tier in 'gold'",
    ],
)
def test_payloads_and_non_grammar_text_are_refused_and_run_nothing(
    frame, payload, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConditionError):
        evaluate_condition(payload, frame)
    assert not (tmp_path / "PWNED").exists()


def test_investment_with_code_payload_is_refused_at_construction(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    payload = "(@pd.io.common.os.system('touch PWNED') == 0) | (age == age)"
    with pytest.raises(ValueError, match="Investment 'x': target condition"):
        Investment("x", cost=1.0, shifts=[Shift("wait", "add", -1.0)], target=payload)
    with pytest.raises(ValueError, match=r"Shift\.where for 'wait'"):
        Shift("wait", "add", -1.0, where="__import__('os').system('touch PWNED')")
    assert not (tmp_path / "PWNED").exists()


def test_investments_file_with_payload_runs_nothing(tmp_path, monkeypatch):
    from clv.roi import load_investments

    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "inv.toml"
    spec.write_text(
        '[[investments]]\nname = "evil"\ncost = 10\n'
        "target = \"(@pd.io.common.os.system('touch PWNED') == 0) | (age == age)\"\n"
        'shifts = [{column = "wait", mode = "add", amount = -1.0}]\n'
    )
    with pytest.raises(ValueError, match="unexpected character '@'"):
        load_investments(spec)
    assert not (tmp_path / "PWNED").exists()


def test_unknown_column_and_mixed_kinds_get_clear_errors(frame):
    with pytest.raises(ConditionError, match="column 'region' is not in the data"):
        evaluate_condition("region == 'north'", frame)
    with pytest.raises(ConditionError, match="cannot order-compare"):
        evaluate_condition("tier > 3", frame)
    with pytest.raises(ConditionError, match="not a 0/1 flag"):
        evaluate_condition("wait", frame)


def test_limits_bound_length_and_depth():
    with pytest.raises(ConditionError, match="at most 2,000"):
        parse_condition("flag == 1 and " * 200 + "flag == 1")
    with pytest.raises(ConditionError, match="nested more than"):
        parse_condition("(" * 100 + "flag" + ")" * 100)
    with pytest.raises(ConditionError, match="nested more than"):
        parse_condition("not " * 100 + "flag")


def test_columns_and_description():
    cond = parse_condition("wait_minutes_missing == 0 and tier in ['gold'] or not contacted")
    assert condition_columns(cond) == ["wait_minutes_missing", "tier", "contacted"]
    assert describe_condition(cond) == (
        "(wait_minutes_missing is 0 and tier in {'gold'}) or not contacted is yes"
    )


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text_is_parsed_or_refused_cleanly(text):
    with contextlib.suppress(ConditionError):
        parse_condition(text)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(["gold", "silver", "bronze"]), min_size=1, max_size=3),
    st.floats(-5, 15, allow_nan=False),
)
def test_agrees_with_direct_numpy(values, threshold):
    frame = pd.DataFrame(
        {"tier": ["gold", "silver", "bronze", "gold"], "wait": [3.0, 0.5, 9.0, 12.0]}
    )
    text = f"tier in {values!r} and wait > {threshold!r}"
    want = frame["tier"].isin(values).to_numpy() & (frame["wait"].to_numpy() > threshold)
    np.testing.assert_array_equal(evaluate_condition(text, frame), want)
