"""Edge cases of ``clv score``: fuzzed inputs, damaged models, other time units, empty logs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clv.cli.main import main
from clv.data import rfm_summary
from clv.models.bgnbd import BetaGeoModel
from clv.models.gamma_gamma import GammaGammaModel
from clv.value import customer_lifetime_value_table
from tests.cli.test_cli import AS_OF, SCORE_ARGS, assert_scores_equal, make_transactions

PREVIOUS = b"customer_id,clv\nc1,1.5\n"


@pytest.fixture(scope="module")
def tx() -> pd.DataFrame:
    return make_transactions(np.random.default_rng(11), n_customers=300)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory, tx: pd.DataFrame):
    base = tmp_path_factory.mktemp("robust")
    csv = base / "tx.csv"
    tx.to_csv(csv, index=False)
    models = {}
    for unit in ("W", "D"):
        models[unit] = base / f"model_{unit}.json"
        assert (
            main(
                [
                    "fit",
                    str(csv),
                    "--value-col",
                    "value",
                    "--as-of",
                    AS_OF,
                    "--time-unit",
                    unit,
                    "--out",
                    str(models[unit]),
                    "--quiet",
                ]
            )
            == 0
        )
    return {"csv": csv, **models}


def run(capsys, *argv) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    body=st.binary(max_size=200),
    header=st.sampled_from([b"customer_id,date,value\n", b"customer_id,date\n", b""]),
)
def test_fuzz_score_bytes_is_a_data_error_and_keeps_previous_output(
    tmp_path, capsys, inputs, body, header
):
    """Arbitrary bytes (any encoding, NUL, broken quotes) to `clv score`: exit 0 or 3, no
    traceback, and the previous output untouched unless the run succeeded."""
    path = tmp_path / "fuzz.csv"
    path.write_bytes(header + body)
    out = tmp_path / "scores.csv"
    out.write_bytes(PREVIOUS)
    code, err = run(
        capsys, "score", path, "--model", inputs["W"], "--horizon", "52", "--out", out, "--quiet"
    )
    assert code in (0, 3), err
    assert "Traceback" not in err
    if code == 3:
        assert out.read_bytes() == PREVIOUS and "Nothing was written" in err


def test_model_fitted_in_days_scores_in_days(tmp_path, capsys, tx, inputs):
    """score uses the bundle's time unit: a daily model gives daily RFM and a daily horizon."""
    out = tmp_path / "scores.csv"
    code, err = run(
        capsys,
        "score",
        inputs["csv"],
        "--model",
        inputs["D"],
        "--as-of",
        AS_OF,
        "--horizon",
        "364",
        "--discount-rate-per-period",
        "0.0003",
        "--margin",
        "0.5",
        "--out",
        out,
    )
    assert code == 0, err
    got = pd.read_csv(out, dtype={"customer_id": "str"}).set_index("customer_id")
    rfm = rfm_summary(
        tx,
        customer_id_col="customer_id",
        date_col="date",
        value_col="value",
        time_unit="D",
        observation_end=AS_OF,
    )
    table = customer_lifetime_value_table(
        BetaGeoModel().fit(rfm),
        GammaGammaModel().fit(rfm),
        rfm,
        horizon=364,
        discount_rate_per_period=0.0003,
        margin=0.5,
    )
    assert_scores_equal(got, rfm.join(table))
    assert got["T"].max() > 200  # days, not weeks
    record = json.loads((tmp_path / "scores.csv.run.json").read_text())
    assert record["parameters"]["time_unit"] == "D" and record["model"]["time_unit"] == "D"
    code, err = run(
        capsys,
        "score",
        inputs["csv"],
        "--model",
        inputs["D"],
        "--time-unit",
        "W",
        *SCORE_ARGS,
        "--out",
        tmp_path / "w.csv",
    )
    assert code == 2 and "fitted with time unit 'D'" in err and not (tmp_path / "w.csv").exists()


@pytest.mark.parametrize(
    "damage", ["truncated", "binary", "bad_time_unit", "nan_param", "spend_model_kind"]
)
def test_damaged_model_files_exit_5_and_keep_previous_output(tmp_path, capsys, inputs, damage):
    text = inputs["W"].read_text()
    doc = json.loads(text)
    model = tmp_path / "model.json"
    if damage == "truncated":
        model.write_text(text[: len(text) // 2])
    elif damage == "binary":
        model.write_bytes(b"PAR1\x00\x01\x02\xff" * 10)
    elif damage == "bad_time_unit":
        doc["time_unit"] = "fortnight"
        model.write_text(json.dumps(doc))
    elif damage == "nan_param":
        doc["transaction_model"]["params"]["alpha"] = "NaN"
        model.write_text(json.dumps(doc))
    else:
        doc["spend_model"]["model"] = "Pickle"
        model.write_text(json.dumps(doc))
    out = tmp_path / "scores.csv"
    out.write_bytes(PREVIOUS)
    code, err = run(capsys, "score", inputs["csv"], "--model", model, *SCORE_ARGS, "--out", out)
    assert code == 5, err
    assert str(model) in err and "Traceback" not in err
    assert out.read_bytes() == PREVIOUS


@pytest.mark.parametrize("content", [b"", b"customer_id,date,value\n", b"\n\n"])
def test_score_empty_input_is_a_data_error_and_keeps_previous_output(
    tmp_path, capsys, inputs, content
):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    out = tmp_path / "scores.csv"
    out.write_bytes(PREVIOUS)
    code, err = run(capsys, "score", path, "--model", inputs["W"], *SCORE_ARGS, "--out", out)
    assert code == 3, err
    assert out.read_bytes() == PREVIOUS
    assert not (tmp_path / "scores.csv.run.json").exists()
