"""The Spark engine gives the pandas engine's RFM summary and scores (CDNOW, local mode)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark")
pytest.importorskip("pyarrow")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("the Spark tests need Java (17+)", allow_module_level=True)

from clv.data import rfm_summary
from clv.data.datasets import load_cdnow_transactions
from clv.exceptions import DataError, DataWarning
from clv.models.bgnbd import BetaGeoModel
from clv.models.gamma_gamma import GammaGammaModel
from clv.scoring.tables import score_table
from clv.spark import rfm_summary_spark, score_spark
from clv.spark.rfm import summary_metadata

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pyspark.*"),
]

KW = {"customer_id_col": "customer_id", "date_col": "date", "value_col": "value"}
RFM = ["frequency", "recency", "T", "monetary_value", "period_days"]


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return load_cdnow_transactions()[["customer_id", "date", "value"]]


@pytest.fixture(scope="module")
def cdnow_spark(spark, cdnow):
    return spark.createDataFrame(cdnow).cache()


def collect(frame) -> pd.DataFrame:
    return frame.toPandas().set_index("customer_id").sort_index()


def pandas_rfm(tx: pd.DataFrame, **kwargs) -> pd.DataFrame:
    import warnings

    from clv.exceptions import DataWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)  # CDNOW has duplicates and zero spend
        return rfm_summary(tx, **kwargs)


@pytest.mark.parametrize("time_unit", ["W", "D", "M", "Q", "Y"])
def test_rfm_equals_pandas_on_cdnow(cdnow, cdnow_spark, time_unit):
    want = pandas_rfm(cdnow, **KW, time_unit=time_unit)
    summary = rfm_summary_spark(cdnow_spark, **KW, time_unit=time_unit, warn=False)
    got = collect(summary)
    assert got.index.equals(want.index.rename("customer_id"))
    assert list(got.columns) == RFM
    for column in ["frequency", "recency", "T", "period_days"]:
        np.testing.assert_array_equal(got[column].to_numpy(), want[column].to_numpy(), column)
    # the same amounts summed in another order: equal to the last bits (1.8e-15 seen)
    np.testing.assert_allclose(got["monetary_value"], want["monetary_value"], rtol=1e-12, atol=0)
    meta = summary_metadata(summary)
    assert meta.pop("fingerprint").startswith("spark-rows:sha256:")
    assert meta == {
        "time_unit": time_unit,
        "n_rows": len(cdnow),
        "n_rows_after": 0,
        "observation_end": want.attrs["observation_end"],
    }


def test_string_dates_observation_end_and_no_value(spark, cdnow):
    """ISO strings from a CSV, an explicit observation_end with a time of day, no values."""
    tx = cdnow.assign(
        date=cdnow["date"].dt.strftime("%Y-%m-%d"), customer_id=cdnow["customer_id"].astype(str)
    )
    end = pd.Timestamp("1998-07-15 23:59:59")
    kw = {
        "customer_id_col": "customer_id",
        "date_col": "date",
        "time_unit": "W",
        "observation_end": end,
    }
    with warnings.catch_warnings(record=True) as want_warnings:
        warnings.simplefilter("always", DataWarning)
        want = rfm_summary(tx, **kw)
    with warnings.catch_warnings(record=True) as got_warnings:
        warnings.simplefilter("always", DataWarning)
        got = collect(rfm_summary_spark(spark.createDataFrame(tx), **kw))

    def texts(caught):
        return [
            f"{w.category.__name__}: {w.message}"
            for w in caught
            if issubclass(w.category, DataWarning)
        ]

    # same-day purchases are exact duplicates without the amounts: same count, same example ids
    assert texts(got_warnings) == texts(want_warnings) != []
    assert list(got.columns) == ["frequency", "recency", "T", "period_days"]
    pd.testing.assert_frame_equal(got, want, check_names=False, check_index_type=False)


def test_bad_rows_raise_one_data_error(spark):
    tx = pd.DataFrame(
        {
            "id": ["a", "a", "b", None, "c"],
            "day": ["2024-01-01", "not a date", "2024-01-03", "2024-01-04", "2024-02-01"],
            "amount": ["1.5", "2", "-3", "4", "12x"],
        }
    )
    with pytest.raises(DataError) as info:
        rfm_summary_spark(
            spark.createDataFrame(tx),
            customer_id_col="id",
            date_col="day",
            value_col="amount",
            observation_end="2024-01-31",
        )
    text = str(info.value)
    for part in (
        "column 'id' is missing in 1 row (row labels shown) (e.g. 3)",
        "column 'day' has 1 value that is not a date ('not a date'), for customer_id (e.g. 'a')",
        "has 1 row after observation_end (2024-01-31T00:00:00; the last "
        "is 2024-02-01T00:00:00), for customer_id (e.g. 'c')",
        "column 'amount' is negative in 1 row (-3.0), for customer_id (e.g. 'b')",
        "column 'amount' has 1 non-numeric value ('12x'), for customer_id (e.g. 'c')",
    ):
        assert part in text, text
    with pytest.raises(DataError, match="not in the DataFrame"):
        rfm_summary_spark(spark.createDataFrame(tx), customer_id_col="cust", date_col="day")


def test_scores_equal_pandas_on_cdnow(cdnow, cdnow_spark):
    rfm = pandas_rfm(cdnow, **KW, time_unit="W")
    bg = BetaGeoModel().fit(rfm)
    gg = GammaGammaModel().fit(rfm[rfm["monetary_value"] > 0])
    want = score_table(bg, gg, rfm, horizon=52, discount_rate=0.002, margin=0.5)  # per period
    want = want.set_index("customer_id")
    summary = rfm_summary_spark(cdnow_spark, **KW, time_unit="W", warn=False)
    got = collect(
        score_spark(summary, (bg, gg), horizon=52, discount_rate_per_period=0.002, margin=0.5)
    )
    assert list(got.columns) == list(want.columns)
    assert got.index.equals(want.index)
    for column in want.columns:
        np.testing.assert_allclose(
            got[column], want[column], rtol=1e-10, atol=1e-300, err_msg=column
        )
    with pytest.raises(DataError, match=r"30.4369 days \('M'\) but the model was fitted"):
        score_spark(
            rfm_summary_spark(cdnow_spark, **KW, time_unit="M", warn=False), (bg, gg), horizon=12
        )


def test_import_clv_does_not_import_pyspark():
    code = "import sys, clv, clv.cli.main; print('pyspark' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert out.strip() == "False"


# ---------------------------------------------------------------------- clv score --engine spark
def cli(*argv) -> int:
    from clv.cli.main import main

    return main([str(a) for a in argv])


@pytest.fixture(scope="module")
def cdnow_files(tmp_path_factory, cdnow):
    base = tmp_path_factory.mktemp("spark_cli")
    csv = base / "cdnow.csv"
    cdnow.to_csv(csv, index=False)
    model = base / "model.json"
    assert (
        cli("fit", csv, "--value-col", "value", "--as-of", "1998-06-30", "--out", model, "--quiet")
        == 0
    )
    return {"csv": csv, "model": model}


SCORE = ["--horizon", "52", "--discount-rate-per-period", "0.002", "--margin", "0.5", "--quiet"]


def test_cli_spark_csv_and_duckdb_outputs_equal_the_pandas_engine(spark, tmp_path, cdnow_files):
    """Same job, both engines: the CSV files are byte-identical, the DuckDB tables equal."""
    from clv.cli.files import read_duckdb_table

    args = [
        "score",
        cdnow_files["csv"],
        "--model",
        cdnow_files["model"],
        "--as-of",
        "1998-03-31",
        *SCORE,
    ]  # --as-of drops the later transactions in both engines
    assert cli(*args, "--out", tmp_path / "pandas.csv") == 0
    assert cli(*args, "--out", tmp_path / "spark.csv", "--engine", "spark") == 0
    assert (tmp_path / "spark.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()
    record = json.loads((tmp_path / "spark.csv.run.json").read_text())
    assert record["input"]["engine"] == "spark"
    assert record["parameters"]["as_of"] == "1998-03-31"
    assert {"spark_session", "read", "summarise", "score", "write"} <= set(record["timings_s"])
    # the run records agree but for the engine, times, output path and input fingerprint
    want = json.loads((tmp_path / "pandas.csv.run.json").read_text())
    assert list(record) == list(want)
    assert record["input"].pop("fingerprint").startswith("spark-rows:sha256:")
    assert want["input"].pop("fingerprint").startswith("sha256:")
    assert record["input"].pop("spark_master").startswith("local")
    assert want["input"].pop("engine") == "pandas" and record["input"].pop("engine") == "spark"
    assert record["input"] == want["input"] and want["input"]["n_rows_after_as_of"] == 5906
    assert record["output"].pop("path") != want["output"].pop("path")
    for key in (
        "command",
        "status",
        "clv_version",
        "config",
        "model",
        "parameters",
        "output",
        "warnings",
    ):
        assert record[key] == want[key], key
    assert len(want["warnings"]) == 2  # exact duplicates, zero repeat spend

    db = tmp_path / "w.duckdb"
    assert cli(*args, "--out", db, "--out-table", "pandas_scores") == 0
    assert cli(*args, "--out", db, "--out-table", "spark_scores", "--engine", "spark") == 0
    got, want = read_duckdb_table(db, "spark_scores"), read_duckdb_table(db, "pandas_scores")
    assert got["customer_id"].tolist() == want["customer_id"].tolist()
    for column in want.columns[1:]:
        np.testing.assert_allclose(
            got[column], want[column], rtol=1e-10, atol=1e-300, err_msg=column
        )


def test_cli_spark_parquet_directory_output(spark, tmp_path, cdnow_files):
    import duckdb

    out = tmp_path / "scores"
    args = [
        "score",
        cdnow_files["csv"],
        "--model",
        cdnow_files["model"],
        "--as-of",
        "1998-06-30",
        *SCORE,
        "--engine",
        "spark",
        "--out",
        f"{out}/",
    ]
    assert cli(*args) == 0
    assert cli(*args) == 0  # a rerun swaps in a new directory
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores", "scores.run.json"]
    assert (
        cli(
            "score",
            cdnow_files["csv"],
            "--model",
            cdnow_files["model"],
            "--as-of",
            "1998-06-30",
            *SCORE,
            "--out",
            tmp_path / "pandas.parquet",
        )
        == 0
    )
    with duckdb.connect() as con:
        got = con.execute(
            f"SELECT * FROM read_parquet('{out}/*.parquet') ORDER BY customer_id"
        ).df()
        want = con.execute(f"SELECT * FROM read_parquet('{tmp_path / 'pandas.parquet'}')").df()
    assert got["customer_id"].tolist() == want["customer_id"].tolist()
    for column in want.columns[1:]:
        np.testing.assert_allclose(
            got[column], want[column], rtol=1e-10, atol=1e-300, err_msg=column
        )
    record = json.loads((tmp_path / "scores.run.json").read_text())
    assert record["output"]["n_rows"] == len(want)


def test_cli_spark_bad_input_is_a_data_error(spark, tmp_path, cdnow_files, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,date,value\n1,1997-01-01,5\n1,yesterday,-3\n2,1997-02-01,4\n")
    out = tmp_path / "scores.csv"
    out.write_text("previous\n")
    code = cli(
        "score",
        bad,
        "--model",
        cdnow_files["model"],
        "--horizon",
        "52",
        "--engine",
        "spark",
        "--out",
        out,
    )
    err = capsys.readouterr().err
    assert code == 3, err
    assert "column 'date' has 1 value that is not a date ('yesterday')" in err
    assert "column 'value' is negative in 1 row" in err and "Traceback" not in err
    assert out.read_text() == "previous\n"
    code = cli(
        "score",
        bad,
        "--model",
        cdnow_files["model"],
        "--horizon",
        "52",
        "--engine",
        "spark",
        "--customer-col",
        "cust",
        "--out",
        out,
    )
    assert code == 3 and "column 'cust' is not in the input" in capsys.readouterr().err
