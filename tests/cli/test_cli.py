"""The ``clv`` command line: end-to-end runs, exit codes, atomic outputs, config files."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clv.cli.files import frame_fingerprint
from clv.cli.main import main
from clv.data import calibration_holdout_split, rfm_summary
from clv.exceptions import ConvergenceError
from clv.models.bgnbd import BetaGeoModel
from clv.models.gamma_gamma import GammaGammaModel
from clv.value import customer_lifetime_value_table

AS_OF = "2021-12-31"
SCORE_COLUMNS = [
    "customer_id",
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "probability_alive",
    "expected_purchases",
    "expected_spend",
    "clv",
]
SCORE_ARGS = [
    "--as-of",
    AS_OF,
    "--horizon",
    "52",
    "--discount-rate-per-period",
    "0.002",
    "--margin",
    "0.5",
]


def make_transactions(rng: np.random.Generator, n_customers: int = 400) -> pd.DataFrame:
    """Synthetic 2021 log from the BG/NBD story (Poisson purchases, dropout after a repeat).

    Customers arrive in the first half year. Values are continuous and positive (no exact
    duplicate rows, no zero amounts), so the data layer and the fits issue no warning and
    the Python API can be called with warnings as errors.
    """
    start = pd.Timestamp("2021-01-01")
    rows = []
    for i in range(n_customers):
        day = float(rng.integers(0, 180))
        rate = rng.gamma(0.8, 1 / 25.0)  # purchases per day
        dropout = rng.beta(1.0, 4.0)
        mean_value = rng.gamma(4.0, 6.0)
        purchases = 0
        while day < 365:
            rows.append(
                (
                    f"c{i:04d}",
                    start + pd.Timedelta(days=int(day)),
                    round(float(rng.gamma(8.0, mean_value / 8.0)) + 0.01, 2),
                )
            )
            if purchases > 0 and rng.random() < dropout:
                break
            purchases += 1
            day += rng.exponential(1 / rate)
    return pd.DataFrame(rows, columns=["customer_id", "date", "value"])


@pytest.fixture(scope="module")
def tx() -> pd.DataFrame:
    return make_transactions(np.random.default_rng(3))


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, tx: pd.DataFrame) -> dict[str, Path]:
    """The same transactions as CSV, Parquet and a DuckDB table, and a model fitted on them."""
    base = tmp_path_factory.mktemp("inputs")
    paths = {"csv": base / "tx.csv", "parquet": base / "tx.parquet", "duckdb": base / "tx.duckdb"}
    tx.to_csv(paths["csv"], index=False)
    con = duckdb.connect(str(paths["duckdb"]))
    con.register("frame", tx)
    con.execute("CREATE TABLE transactions AS SELECT * FROM frame")
    pq = str(paths["parquet"]).replace("'", "''")
    con.execute(f"COPY transactions TO '{pq}' (FORMAT parquet)")
    con.close()
    paths["model"] = base / "model.json"
    assert (
        main(
            [
                "fit",
                str(paths["csv"]),
                "--value-col",
                "value",
                "--as-of",
                AS_OF,
                "--out",
                str(paths["model"]),
                "--quiet",
            ]
        )
        == 0
    )
    return paths


def reference_scores(tx: pd.DataFrame, **value_kwargs: float) -> pd.DataFrame:
    """What the Python API gives for the CLI's score run."""
    rfm = rfm_summary(
        tx,
        customer_id_col="customer_id",
        date_col="date",
        value_col="value",
        time_unit="W",
        observation_end=AS_OF,
    )
    bg = BetaGeoModel().fit(rfm)
    gg = GammaGammaModel().fit(rfm)
    table = customer_lifetime_value_table(bg, gg, rfm, horizon=52, **value_kwargs)
    return rfm.join(table)


def read_scores(path: Path) -> pd.DataFrame:
    if path.suffix == ".csv":
        frame = pd.read_csv(path, dtype={"customer_id": "str"})
    else:
        with duckdb.connect() as con:
            frame = con.execute("SELECT * FROM read_parquet(?)", [str(path)]).df()
    return frame.set_index("customer_id")


def assert_scores_equal(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Equal to the 10 significant digits of the CSV float format."""
    assert list(got.index) == list(want.index)
    for column in SCORE_COLUMNS[1:]:
        np.testing.assert_allclose(
            got[column].to_numpy(), want[column].to_numpy(), rtol=1e-9, atol=1e-300, err_msg=column
        )


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


# ---------------------------------------------------------------------- end to end
@pytest.mark.parametrize("fmt", ["csv", "parquet", "duckdb"])
def test_score_equals_python_api(tmp_path, capsys, tx, files, fmt):
    extra = ["--table", "transactions"] if fmt == "duckdb" else []
    out = tmp_path / "scores.csv"
    code, stdout, stderr = run(
        capsys, "score", files[fmt], *extra, "--model", files["model"], *SCORE_ARGS, "--out", out
    )
    assert code == 0, stderr
    assert f"scored {tx['customer_id'].nunique()} customers" in stdout
    got = read_scores(out)
    assert list(got.reset_index().columns) == SCORE_COLUMNS
    assert_scores_equal(got, reference_scores(tx, discount_rate_per_period=0.002, margin=0.5))


def test_duckdb_query_input_and_parquet_output(tmp_path, capsys, tx, files):
    out = tmp_path / "scores.parquet"
    code, _, stderr = run(
        capsys,
        "score",
        files["duckdb"],
        "--query",
        "SELECT customer_id, date, value FROM transactions",
        "--model",
        files["model"],
        *SCORE_ARGS,
        "--out",
        out,
    )
    assert code == 0, stderr
    assert_scores_equal(
        read_scores(out), reference_scores(tx, discount_rate_per_period=0.002, margin=0.5)
    )


def test_fit_bundle_holds_both_models_and_training_fingerprint(tx, files):
    doc = json.loads(files["model"].read_text())
    assert doc["model"] == "ClvBundle" and doc["schema_version"] == 1
    assert doc["time_unit"] == "W"
    assert doc["columns"] == {
        "customer_col": "customer_id",
        "date_col": "date",
        "value_col": "value",
    }
    assert doc["transaction_model"]["model"] == "BetaGeoModel"
    assert doc["spend_model"]["model"] == "GammaGammaModel"
    csv = pd.read_csv(files["csv"], dtype={"customer_id": "str"})
    assert doc["training"]["fingerprint"] == frame_fingerprint(csv)
    assert doc["training"]["observation_end"] == AS_OF
    rfm = rfm_summary(
        tx, customer_id_col="customer_id", date_col="date", value_col="value", observation_end=AS_OF
    )
    want = BetaGeoModel().fit(rfm).params_
    assert doc["transaction_model"]["params"] == pytest.approx(want.to_dict(), rel=1e-12)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_rerun_is_byte_identical(tmp_path, capsys, files, suffix):
    out = tmp_path / f"scores{suffix}"
    args = ["score", files["csv"], "--model", files["model"], *SCORE_ARGS, "--out", out, "-q"]
    assert run(capsys, *args)[0] == 0
    first = out.read_bytes()
    assert run(capsys, *args)[0] == 0
    assert out.read_bytes() == first


def test_run_record(tmp_path, capsys, tx, files):
    out = tmp_path / "scores.csv"
    assert (
        run(capsys, "score", files["csv"], "--model", files["model"], *SCORE_ARGS, "--out", out)[0]
        == 0
    )
    record = json.loads((tmp_path / "scores.csv.run.json").read_text())
    import hashlib

    from clv import __version__

    assert record["status"] == "ok" and record["command"] == "score"
    assert record["clv_version"] == __version__
    assert record["model"]["sha256"] == hashlib.sha256(files["model"].read_bytes()).hexdigest()
    assert record["model"]["training_fingerprint"] == record["input"]["fingerprint"]
    assert record["input"]["n_rows"] == len(tx)
    assert record["input"]["n_customers"] == tx["customer_id"].nunique()
    assert record["output"]["n_rows"] == tx["customer_id"].nunique()
    assert record["output"]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert record["parameters"] == {
        "as_of": AS_OF,
        "horizon": 52,
        "discount_rate_per_period": 0.002,
        "annual_discount_rate": pytest.approx(1.002 ** (365.2425 / 7) - 1, rel=1e-12),
        "discount_rate_given_as": "discount_rate_per_period",
        "margin": 0.5,
        "time_unit": "W",
    }
    assert {"read", "summarise", "score", "write", "total"} <= set(record["timings_s"])
    assert record["warnings"] == []


def test_as_of_ignores_later_transactions(tmp_path, capsys, tx, files):
    """A rerun "as of" a past day gives that day's scores even when the log has grown."""
    grown = pd.concat(
        [
            tx,
            pd.DataFrame(
                {
                    "customer_id": ["c0000", "new"],
                    "date": pd.to_datetime(["2022-01-05", "2022-01-06"]),
                    "value": [10.0, 20.0],
                }
            ),
        ]
    )
    path = tmp_path / "grown.csv"
    grown.to_csv(path, index=False)
    base, later = tmp_path / "base.csv", tmp_path / "later.csv"
    for src, out in ((files["csv"], base), (path, later)):
        assert (
            run(capsys, "score", src, "--model", files["model"], *SCORE_ARGS, "--out", out)[0] == 0
        )
    assert base.read_bytes() == later.read_bytes()
    record = json.loads((tmp_path / "later.csv.run.json").read_text())
    assert record["input"]["n_rows_after_as_of"] == 2


def test_unknown_customers_are_scored_from_their_own_history(tmp_path, capsys, tx):
    """Customers absent from the training data are scored with the population parameters."""
    ids = sorted(tx["customer_id"].unique())
    train = tx[tx["customer_id"].isin(ids[:200])]
    train_csv, all_csv = tmp_path / "train.csv", tmp_path / "all.csv"
    train.to_csv(train_csv, index=False)
    tx.to_csv(all_csv, index=False)
    model, out = tmp_path / "model.json", tmp_path / "scores.csv"
    assert (
        run(capsys, "fit", train_csv, "--value-col", "value", "--as-of", AS_OF, "--out", model)[0]
        == 0
    )
    code, _, stderr = run(capsys, "score", all_csv, "--model", model, *SCORE_ARGS, "--out", out)
    assert code == 0, stderr
    got = read_scores(out)
    assert len(got) == len(ids)
    kw = {
        "customer_id_col": "customer_id",
        "date_col": "date",
        "value_col": "value",
        "observation_end": AS_OF,
    }
    rfm_train = rfm_summary(train, **kw)
    rfm_all = rfm_summary(tx, **kw)
    table = customer_lifetime_value_table(
        BetaGeoModel().fit(rfm_train),
        GammaGammaModel().fit(rfm_train),
        rfm_all,
        horizon=52,
        discount_rate_per_period=0.002,
        margin=0.5,
    )
    assert_scores_equal(got, rfm_all.join(table))


def test_config_file_with_command_table_and_flag_override(tmp_path, capsys, tx, files):
    job = tmp_path / "job.toml"
    job.write_text(
        f'input = "{files["csv"]}"\n'
        'value_col = "value"\n'
        "horizon = 26\n"
        "[score]\n"
        f'model = "{files["model"]}"\n'
        f"as_of = {AS_OF}\n"  # a TOML date
        "discount-rate = 0.002\n"  # dashes work too
        "margin = 0.5\n"
        'out = "scores.csv"\n'  # relative to the job file
        "[fit]\n"
        'model = "bgnbd"\n'
    )
    code, _, stderr = run(capsys, "score", "--config", job, "--horizon", "52", "-q")
    assert code == 0, stderr
    got = read_scores(tmp_path / "scores.csv")
    assert_scores_equal(got, reference_scores(tx, discount_rate_per_period=0.002, margin=0.5))


def test_evaluate_reports_holdout_metrics(tmp_path, capsys, tx, files):
    out = tmp_path / "holdout.csv"
    code, stdout, stderr = run(
        capsys,
        "evaluate",
        files["csv"],
        "--calibration-end",
        "2021-09-30",
        "--as-of",
        AS_OF,
        "--model",
        "bgnbd",
        "--out",
        out,
        "--json",
    )
    assert code == 0, stderr
    result = json.loads(stdout)
    (metrics,) = [m for m in result["metrics"] if m["model"] == "bgnbd"]
    frame = calibration_holdout_split(
        tx,
        customer_id_col="customer_id",
        date_col="date",
        calibration_end="2021-09-30",
        observation_end=AS_OF,
    )
    cal = frame[["frequency", "recency", "T"]]
    predicted = BetaGeoModel().fit(cal).expected_purchases(frame["duration_holdout"], cal)
    actual = frame["frequency_holdout"]
    assert metrics["mae"] == pytest.approx(float(np.mean(np.abs(predicted - actual))), rel=1e-9)
    assert metrics["rmse"] == pytest.approx(
        float(np.sqrt(np.mean((predicted - actual) ** 2))), rel=1e-9
    )
    assert metrics["actual_total"] == float(actual.sum())
    assert metrics["predicted_total"] == pytest.approx(float(predicted.sum()), rel=1e-9)
    assert metrics["correlation"] == pytest.approx(
        float(np.corrcoef(predicted, actual)[0, 1]), rel=1e-9
    )
    per_customer = read_scores(out)
    np.testing.assert_allclose(per_customer["predicted_bgnbd"], predicted, rtol=1e-9)
    record = json.loads((tmp_path / "holdout.csv.run.json").read_text())
    assert record["metrics"][0]["mae"] == metrics["mae"]
    # the table form
    code, stdout, _ = run(
        capsys, "evaluate", files["csv"], "--calibration-end", "2021-09-30", "--as-of", AS_OF
    )
    assert code == 0 and "MAE" in stdout and "bgnbd" in stdout


def test_validate(capsys, tx, files):
    code, stdout, _ = run(capsys, "validate", files["csv"], "--value-col", "value", "--json")
    assert code == 0
    result = json.loads(stdout)
    assert result["n_rows"] == len(tx)
    assert result["n_customers"] == tx["customer_id"].nunique()


def test_demo_writes_every_output(tmp_path, capsys):
    out = tmp_path / "demo"
    code, stdout, stderr = run(capsys, "demo", "--out", out)
    assert code == 0, stderr
    for name in ("scores.csv", "model.json", "holdout.csv", "run.json", "period_transactions.png"):
        assert (out / name).stat().st_size > 0, name
    assert str(out.resolve()) in stdout and "bgnbd" in stdout
    scores = pd.read_csv(out / "scores.csv")
    assert len(scores) == 23570 and list(scores.columns) == SCORE_COLUMNS
    record = json.loads((out / "run.json").read_text())
    assert record["parameters"]["calibration_end"] == "1997-09-30"
    assert record["output"]["n_rows"] == 23570
    equity = pd.read_csv(out / "equity.csv")
    assert len(equity) == 52 and (equity["new_customers"] > 0).all()
    summary = record["equity"]
    assert summary["total"] == pytest.approx(summary["existing"] + summary["future"])
    assert summary["future"] == pytest.approx(equity["discounted"].sum())
    assert abs(summary["acquisition_holdout_cumulative_error_pct"]) < 5.0
    assert "Customer equity as of 1997-03-25" in stdout
    world = out / "cx_world"
    counts = pd.read_csv(world / "new_customers.csv")
    assert list(counts.columns) == ["period", "new_customers", "promoter_share"]
    invs = json.loads((world / "investments.json").read_text())["investments"]
    assert "Referral programme" in [i["name"] for i in invs]
    assert f"--new-customers {world / 'new_customers.csv'}" in stdout
    assert any(
        r["investment"] == "Referral programme" and r["gain_acquisition"] > 0
        for r in record["cx"]["table"]
    )
    # the onboarding call's evidence comes from the world's simulated randomised test
    effects = pd.read_csv(out / "experiment_effects.csv").set_index("lever")
    assert effects["measured"].all()
    assert effects.loc["purchase", "lower"] <= 0.2 <= effects.loc["purchase", "upper"]
    assert effects.loc["dropout", "lower"] <= -0.5 <= effects.loc["dropout", "upper"]
    assert "Onboarding A/B test" in stdout
    onboarding = next(r for r in record["cx"]["table"] if r["investment"] == "Onboarding call")
    # the test randomised new customers at their first purchase: for the existing base the
    # effect is extrapolated, so it is neither grade A nor funded on it
    assert onboarding["evidence_grade"] == "C" and onboarding["share_grade_A"] == 0.0
    assert onboarding["customers_in_tested_scope"] == 0
    assert onboarding["recommendation"] != "fund" and "extrapolated" in onboarding["reason"]
    assert all(r["evidence_grade"] == "C" for r in record["cx"]["table"])
    assert all(
        r["recommendation"] in ("fund", "test first", "do not fund") for r in record["cx"]["table"]
    )
    assert "recommendation" in stdout


# ---------------------------------------------------------------------- exit codes
def test_usage_error_exit_2(capsys, files, tmp_path):
    code, _, stderr = run(capsys, "score", files["csv"], "--no-such-flag")
    assert code == 2 and "unrecognized arguments: --no-such-flag" in stderr
    code, _, stderr = run(
        capsys, "score", files["csv"], "--model", files["model"], "--out", tmp_path / "s.csv"
    )
    assert code == 2 and "--horizon is required" in stderr
    code, _, stderr = run(
        capsys,
        "score",
        files["csv"],
        "--model",
        files["model"],
        "--horizon",
        "1.5",
        "--out",
        tmp_path / "s.csv",
    )
    assert code == 2 and "whole number" in stderr
    code, _, stderr = run(
        capsys, "fit", files["csv"], "--as-of", "31/12/2021", "--out", tmp_path / "m.json"
    )
    assert code == 2 and "--as-of must be a date written YYYY-MM-DD" in stderr
    code, _, stderr = run(
        capsys,
        "score",
        files["csv"],
        "--model",
        files["model"],
        "--horizon",
        "52",
        "--out",
        tmp_path / "s.xlsx",
    )
    assert code == 2 and ".csv or .parquet" in stderr
    assert run(capsys)[0] == 2
    assert not list(tmp_path.iterdir())


def test_config_errors(tmp_path, capsys, files):
    job = tmp_path / "job.toml"
    job.write_text("horizon = 52\nhorizn = 3\n")
    code, _, stderr = run(capsys, "score", "--config", job)
    assert code == 2 and "unknown key 'horizn'" in stderr and str(job) in stderr
    job.write_text('horizon = "fifty"\n')
    code, _, stderr = run(capsys, "score", "--config", job)
    assert code == 2 and "--horizon" in stderr and "must be a number" in stderr
    job.write_text("horizon = [\n")
    code, _, stderr = run(capsys, "score", "--config", job)
    assert code == 2 and "not valid TOML" in stderr
    code, _, stderr = run(capsys, "score", "--config", tmp_path / "missing.toml")
    assert code == 5 and "missing.toml" in stderr and "does not exist" in stderr


def test_time_unit_mismatch_is_a_usage_error(tmp_path, capsys, files):
    out = tmp_path / "scores.csv"
    code, _, stderr = run(
        capsys,
        "score",
        files["csv"],
        "--model",
        files["model"],
        "--time-unit",
        "D",
        *SCORE_ARGS,
        "--out",
        out,
    )
    assert code == 2
    assert "fitted with time unit 'W'" in stderr and "--time-unit D" in stderr
    assert "refit" in stderr
    assert not out.exists()


def test_missing_column_is_a_data_error(tmp_path, capsys, files):
    code, _, stderr = run(
        capsys, "fit", files["csv"], "--customer-col", "cust", "--out", tmp_path / "m.json"
    )
    assert code == 3
    assert "column 'cust' is not in the input" in stderr
    assert "--customer-col" in stderr and "'customer_id'" in stderr  # the fix: existing names
    assert str(files["csv"]) in stderr
    assert "Traceback" not in stderr


def test_bad_values_are_a_data_error_naming_column_and_rows(tmp_path, capsys, tx):
    bad = tx.copy()
    bad.loc[[3, 7], "value"] = -5.0
    bad["date"] = bad["date"].dt.strftime("%Y-%m-%d")
    bad.loc[10, "date"] = "not a date"
    path = tmp_path / "bad.csv"
    bad.to_csv(path, index=False)
    code, _, stderr = run(capsys, "fit", path, "--value-col", "value", "--out", tmp_path / "m.json")
    assert code == 3
    assert "column 'value'" in stderr and "negative" in stderr
    assert "column 'date'" in stderr and "not a date" in stderr
    assert bad.loc[3, "customer_id"] in stderr  # rows named by customer id
    assert "Fix:" in stderr


def test_malformed_csv_is_a_data_error(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_bytes(b'customer_id,date\n1,2021-01-01\n2,"2021-01-02\n3,2021,x,y\n')
    code, _, stderr = run(capsys, "validate", path)
    assert code == 3 and str(path) in stderr and "Traceback" not in stderr
    path.write_bytes(b"\xff\xfe\x00garbage\x00\x01")
    code, _, stderr = run(capsys, "validate", path)
    assert code == 3 and "Traceback" not in stderr


@pytest.mark.parametrize("content", [b"", b"customer_id,date,value\n"])
def test_empty_input_is_a_data_error(tmp_path, capsys, content):
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    code, _, stderr = run(capsys, "fit", path, "--out", tmp_path / "m.json")
    assert code == 3
    assert "empty" in stderr or "no transaction rows" in stderr


def test_all_one_time_buyers_is_a_data_error(tmp_path, capsys, tx, files):
    """Decision: no repeat buyer -> no repeat-purchase model can be estimated -> exit 3."""
    once = tx.drop_duplicates("customer_id")
    path = tmp_path / "once.csv"
    once.to_csv(path, index=False)
    code, _, stderr = run(capsys, "fit", path, "--out", tmp_path / "m.json")
    assert code == 3
    assert f"column 'frequency' is 0 for all {len(once)} customers" in stderr
    assert "longer observation window" in stderr
    # scoring such a log with an existing model is fine: everyone gets a prediction
    out = tmp_path / "scores.csv"
    code, _, stderr = run(
        capsys, "score", path, "--model", files["model"], *SCORE_ARGS, "--out", out
    )
    assert code == 0, stderr
    assert len(read_scores(out)) == len(once)


def test_fit_failure_exit_4(tmp_path, capsys, files, monkeypatch):
    def fail(self, data, **kwargs):
        raise ConvergenceError("the optimiser stopped after 1000 iterations (ABNORMAL)")

    monkeypatch.setattr(BetaGeoModel, "fit", fail)
    out = tmp_path / "m.json"
    code, _, stderr = run(capsys, "fit", files["csv"], "--out", out)
    assert code == 4
    assert "fit failed: the optimiser stopped" in stderr and "--penalizer" in stderr
    assert not out.exists()


def test_io_errors_exit_5(tmp_path, capsys, files):
    code, _, stderr = run(capsys, "fit", tmp_path / "nope.csv", "--out", tmp_path / "m.json")
    assert code == 5 and "nope.csv' does not exist" in stderr
    code, _, stderr = run(capsys, "fit", files["csv"], "--out", tmp_path / "no" / "m.json")
    assert code == 5 and "does not exist" in stderr and "mkdir" in stderr
    code, _, stderr = run(
        capsys,
        "score",
        files["duckdb"],
        "--table",
        "nope",
        "--model",
        files["model"],
        "--horizon",
        "52",
        "--out",
        tmp_path / "s.csv",
    )
    assert code == 5 and "table 'nope'" in stderr and "transactions" in stderr
    code, _, stderr = run(
        capsys,
        "score",
        files["csv"],
        "--model",
        tmp_path / "none.json",
        "--horizon",
        "52",
        "--out",
        tmp_path / "s.csv",
    )
    assert code == 5 and "none.json" in stderr


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_unwritable_output_dir_exit_5(tmp_path, capsys, files):  # pragma: no cover - non-root
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    code, _, stderr = run(capsys, "fit", files["csv"], "--out", locked / "m.json")
    assert code == 5 and "not writable" in stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a clv model file"),
        ('{"a": 1}', "not a clv model file"),
        ('{"schema_version": 99, "model": "ClvBundle"}', "schema_version 99"),
        ('{"schema_version": 1, "model": "Something"}', "not a clv model bundle"),
    ],
)
def test_corrupt_or_foreign_model_file_exit_5(tmp_path, capsys, files, content, message):
    model = tmp_path / "model.json"
    model.write_text(content)
    code, _, stderr = run(
        capsys,
        "score",
        files["csv"],
        "--model",
        model,
        "--horizon",
        "52",
        "--out",
        tmp_path / "s.csv",
    )
    assert code == 5
    assert str(model) in stderr and message in stderr
    assert "Traceback" not in stderr


def test_single_model_file_is_not_a_bundle(tmp_path, capsys, tx, files):
    rfm = rfm_summary(tx, customer_id_col="customer_id", date_col="date", observation_end=AS_OF)
    single = tmp_path / "bgnbd.json"
    BetaGeoModel().fit(rfm).to_json(single)
    code, _, stderr = run(
        capsys,
        "score",
        files["csv"],
        "--model",
        single,
        "--horizon",
        "52",
        "--out",
        tmp_path / "s.csv",
    )
    assert code == 5 and "single BetaGeoModel" in stderr and "clv fit" in stderr


def test_damaged_bundle_exit_5(tmp_path, capsys, files):
    doc = json.loads(files["model"].read_text())
    del doc["transaction_model"]["params"]["alpha"]
    model = tmp_path / "model.json"
    model.write_text(json.dumps(doc))
    code, _, stderr = run(
        capsys,
        "score",
        files["csv"],
        "--model",
        model,
        "--horizon",
        "52",
        "--out",
        tmp_path / "s.csv",
    )
    assert code == 5 and "damaged" in stderr and str(model) in stderr


def test_unexpected_error_exit_1_traceback_only_with_debug(tmp_path, capsys, files, monkeypatch):
    import clv.cli.score as cli_score

    def boom(*args, **kwargs):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(cli_score, "score_customers", boom)
    args = [
        "score",
        files["csv"],
        "--model",
        files["model"],
        *SCORE_ARGS,
        "--out",
        tmp_path / "s.csv",
    ]
    code, _, stderr = run(capsys, *args)
    assert code == 1 and "unexpected error (RuntimeError): kaboom" in stderr
    assert "Traceback" not in stderr and "--debug" in stderr
    code, _, stderr = run(capsys, *args, "--debug")
    assert code == 1 and "Traceback" in stderr and "kaboom" in stderr


# ---------------------------------------------------------------------- outputs are safe
def test_failing_run_leaves_previous_output_byte_identical(tmp_path, capsys, tx, files):
    out = tmp_path / "scores.csv"
    assert (
        run(capsys, "score", files["csv"], "--model", files["model"], *SCORE_ARGS, "--out", out)[0]
        == 0
    )
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    bad = tx.copy()
    bad.loc[0, "value"] = -1.0
    bad_csv = tmp_path / "bad.csv"
    bad.to_csv(bad_csv, index=False)
    code, _, stderr = run(
        capsys, "score", bad_csv, "--model", files["model"], *SCORE_ARGS, "--out", out
    )
    assert code == 3 and "Nothing was written" in stderr
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name != "bad.csv"}
    assert after == before


def test_failure_while_writing_leaves_previous_output(tmp_path, capsys, files, monkeypatch):
    out = tmp_path / "scores.csv"
    assert (
        run(capsys, "score", files["csv"], "--model", files["model"], *SCORE_ARGS, "--out", out)[0]
        == 0
    )
    before = out.read_bytes()
    real = pd.DataFrame.to_csv

    def half_then_fail(self, fh, **kwargs):
        real(self.head(10), fh, **kwargs)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_then_fail)
    code, _, stderr = run(
        capsys, "score", files["csv"], "--model", files["model"], *SCORE_ARGS, "--out", out
    )
    assert code == 5 and "No space left on device" in stderr and str(out) in stderr
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.csv", "scores.csv.run.json"]


_WRITER = """
import sys
import numpy as np
import pandas as pd
from clv.cli.files import write_table

n = 4_000_000
rng = np.random.default_rng(0)
frame = pd.DataFrame({"customer_id": np.arange(n)})
for name in ("frequency", "recency", "T", "probability_alive", "expected_purchases", "clv"):
    frame[name] = rng.random(n)
print("ready", flush=True)
write_table(frame, sys.argv[1])
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_killed_mid_write_leaves_previous_output_intact(tmp_path):
    """SIGKILL a real process while it writes a large score file: the old file survives."""
    out = tmp_path / "scores.csv"
    previous = b"customer_id,clv\nc1,1.5\n"
    out.write_bytes(previous)
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(out)], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        deadline = time.monotonic() + 60
        temp: list[Path] = []
        while time.monotonic() < deadline:
            temp = [p for p in tmp_path.glob(".scores.csv.*.tmp") if p.stat().st_size > 1 << 20]
            if temp or proc.poll() is not None:
                break
            time.sleep(0.002)
        assert temp, "the writer finished (or never wrote) before it could be killed"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    assert out.read_bytes() == previous
    # the partial file stays a dot-file next to the target (never the target itself)
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name != "scores.csv")
    assert all(name.startswith(".scores.csv.") and name.endswith(".tmp") for name in leftovers)


# ---------------------------------------------------------------------- light imports
def test_python_m_clv_score_does_not_import_matplotlib(tmp_path, files):
    """A real `python -m clv score` run; -X importtime lists every module it imported."""
    out = tmp_path / "scores.csv"
    proc = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "clv",
            "score",
            str(files["csv"]),
            "--model",
            str(files["model"]),
            "--as-of",
            AS_OF,
            "--horizon",
            "52",
            "--out",
            str(out),
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "clv.value" in imported  # the listing is complete enough to see lazy imports
    heavy = {m for m in imported if m.split(".")[0] in ("matplotlib", "pymc", "arviz", "pytensor")}
    assert heavy == set()
    assert len(read_scores(out)) > 0


def test_python_m_clv_exit_code(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "clv",
            "fit",
            str(tmp_path / "nope.csv"),
            "--out",
            str(tmp_path / "m.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 5 and "does not exist" in proc.stderr


def test_progress_lines_only_on_a_tty_and_not_quiet(tmp_path, files, monkeypatch, capsys):
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    args = [
        "score",
        str(files["csv"]),
        "--model",
        str(files["model"]),
        *SCORE_ARGS,
        "--out",
        str(tmp_path / "s.csv"),
    ]
    for extra, shown in (([], True), (["--quiet"], False)):
        fake = Tty()
        monkeypatch.setattr(sys, "stderr", fake)
        assert main([*args, *extra]) == 0
        assert ("clv score: scoring 400 customers ..." in fake.getvalue()) is shown
    monkeypatch.undo()
    assert main(args) == 0  # capsys' stderr is not a TTY: no progress lines
    assert "scoring" not in capsys.readouterr().err


def test_log_levels(tmp_path, capsys, files):
    args = [
        "score",
        files["csv"],
        "--model",
        files["model"],
        *SCORE_ARGS,
        "--out",
        tmp_path / "s.csv",
    ]
    assert "clv: INFO: read" in run(capsys, *args, "-v")[2]
    assert "clv: DEBUG:" in run(capsys, *args, "--log-level", "debug")[2]
    assert run(capsys, *args)[2] == ""
    code, stdout, stderr = run(capsys, *args, "--quiet")
    assert code == 0 and stdout == "" and stderr == ""


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    body=st.text(alphabet=st.sampled_from(list('ab1-9,."\n\r \t;x0')), max_size=120),
    header=st.sampled_from(["customer_id,date", "customer_id,date,value", "id,date", ""]),
)
def test_fuzz_malformed_csv_is_a_data_error_never_a_traceback(tmp_path, capsys, body, header):
    path = tmp_path / "fuzz.csv"
    path.write_text(header + "\n" + body if header else body, encoding="utf-8")
    code = main(
        ["validate", str(path), "--value-col", "value"]
        if "value" in header
        else ["validate", str(path)]
    )
    err = capsys.readouterr().err
    assert code in (0, 3), err
    assert "Traceback" not in err


def test_non_numeric_value_column_is_a_data_error(tmp_path, capsys):
    path = tmp_path / "tx.csv"
    path.write_text("customer_id,date,value\na,2021-01-01,12x\nb,2021-01-02,3\n")
    code, _, stderr = run(capsys, "validate", path, "--value-col", "value")
    assert code == 3, stderr
    assert "column 'value'" in stderr and "12x" in stderr
