"""``--engine spark`` against the pandas engine: fit bundle, run records, data errors."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

pytest.importorskip("pyspark")
pytest.importorskip("pyarrow")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("the Spark tests need Java (17+)", allow_module_level=True)

from clv.cli.main import main
from clv.data.datasets import load_cdnow_transactions
from clv.scoring.bundle import read_bundle
from clv.spark.checks import FINGERPRINT_PREFIX

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pyspark.*"),
]


def cli(*argv) -> int:
    return main([str(a) for a in argv])


@pytest.fixture(scope="module")
def cdnow_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("spark_parity") / "cdnow.csv"
    load_cdnow_transactions()[["customer_id", "date", "value"]].to_csv(path, index=False)
    return path


def assert_close(got, want, rtol, where=""):
    """Equal JSON documents, numbers to ``rtol``."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and list(got) == list(want), where
        for key in want:
            assert_close(got[key], want[key], rtol, f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_close(g, w, rtol, f"{where}[{i}]")
    elif isinstance(want, float):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=0, err_msg=where)
    else:
        assert got == want, where


def test_fit_bundle_and_run_record_equal_pandas(spark, tmp_path, cdnow_csv):
    """Spark summarises, the driver fits the collected summary: the pandas engine's bundle."""
    args = ["fit", cdnow_csv, "--value-col", "value", "--as-of", "1998-03-31", "--quiet"]
    assert cli(*args, "--out", tmp_path / "pandas.json") == 0
    assert cli(*args, "--out", tmp_path / "spark.json", "--engine", "spark") == 0
    want, got = read_bundle(tmp_path / "pandas.json"), read_bundle(tmp_path / "spark.json")
    for role in ("transaction_model", "spend_model"):
        w, g = getattr(want, role), getattr(got, role)
        assert type(g) is type(w)
        np.testing.assert_allclose(
            g.params_.to_numpy(), w.params_.to_numpy(), rtol=1e-9, atol=0, err_msg=role
        )
    # the RFM summaries are equal (monetary_value to the last bits, summed in another
    # order); everything in the bundle agrees to 1e-6 (the Gamma-Gamma covariance, from a
    # numerical Hessian, to 1e-8), except the fingerprint of the input rows
    docs = {k: json.loads((tmp_path / f"{k}.json").read_text()) for k in ("pandas", "spark")}
    fingerprints = [d["training"].pop("fingerprint") for d in docs.values()]
    assert fingerprints[0].startswith("sha256:") and fingerprints[1].startswith(FINGERPRINT_PREFIX)
    # each model's content checksum hashes its exact numbers, so it differs with the last
    # bits of the Gamma-Gamma fit; it must still verify (read_bundle above checked it)
    for d in docs.values():
        assert d.pop("checksum").startswith("sha256:")
        for role in ("transaction_model", "spend_model"):
            assert d[role].pop("checksum").startswith("sha256:")
    assert_close(docs["spark"], docs["pandas"], rtol=1e-6)

    records = {
        k: json.loads((tmp_path / f"{k}.json.run.json").read_text()) for k in ("pandas", "spark")
    }
    assert_same_record(records["spark"], records["pandas"])
    assert records["spark"]["input"]["n_rows_after_as_of"] == 5906
    assert {"spark_session", "read", "summarise", "collect", "fit_bgnbd"} <= set(
        records["spark"]["timings_s"]
    )


def assert_same_record(got: dict, want: dict) -> None:
    """Run records of the two engines: the same fields and values but paths, engine, times."""
    got, want = json.loads(json.dumps(got)), json.loads(json.dumps(want))
    for record in (got, want):
        for key in ("started_at", "argv", "timings_s"):
            record.pop(key)
        record["input"].pop("engine", None)
        for section in ("model", "output"):
            if section in record:
                record[section].pop("path", None)
                record[section].pop("sha256", None)
    assert got["input"].pop("spark_master").startswith("local")
    assert got["input"].pop("fingerprint").startswith(FINGERPRINT_PREFIX)
    assert want["input"].pop("fingerprint").startswith("sha256:")
    assert got["warnings"] and got["warnings"] == want["warnings"]
    assert_close(got, want, rtol=1e-9)


BAD = {
    "missing_ids": "1,1997-01-01,5\n,1997-01-02,3\n2,1997-01-03,4\n,1997-01-05,1\n",
    "bad_and_missing_dates": "1,1997-01-01,5\n1,yesterday,3\n2,,4\n3,1997-02-01,1\n"
    "4,1997-13-01,2\n5,soon,1\n6,later,1\n",
    "numbers_as_dates": "1,19970101,5\n2,19970102,3\n2,19970301,3\n",
    "bad_amounts": "1,1997-01-01,5\n1,1997-01-08,12x\n2,1997-01-03,\n2,1997-01-09,inf\n"
    "3,1997-01-04,-3\n3,1997-01-05,-3.5\n4,1997-01-06,NaN\n",
    "all_after_as_of": "1,1998-01-01,5\n2,1998-01-02,3\n",
    "no_rows": "",
}
EXPECTED = {
    "missing_ids": "column 'customer_id' is missing in 2 rows (row labels shown) (e.g. 1, 3)",
    "bad_and_missing_dates": "column 'date' has 4 values that are not dates ('yesterday', "
    "'1997-13-01', 'soon', ...), for customer_id (e.g. '1', '4', '5', "
    "'6')",
    "numbers_as_dates": "column 'date' holds numbers (19970101, 19970102, 19970301), not dates",
    "bad_amounts": "column 'value' is negative in 2 rows (-3.0, -3.5), for customer_id (e.g. '3')",
    "all_after_as_of": "column 'date' has no transaction on or before --as-of 1997-12-31 (all "
    "2 rows are later)",
    "no_rows": "there are no transaction rows",
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_gives_the_pandas_data_error(spark, tmp_path, capsys, case):
    """Each class of bad input: exit code 3 and the very message of the pandas engine."""
    path = tmp_path / "tx.csv"
    path.write_text("customer_id,date,value\n" + BAD[case])
    args = [
        "fit",
        path,
        "--value-col",
        "value",
        "--as-of",
        "1997-12-31",
        "--out",
        tmp_path / "model.json",
    ]
    assert cli(*args) == 3
    want = capsys.readouterr().err
    assert EXPECTED[case] in want, want
    assert cli(*args, "--engine", "spark") == 3
    got = capsys.readouterr().err
    assert got == want
    assert not (tmp_path / "model.json").exists()


def test_fingerprint_ignores_row_order_and_partitioning(spark):
    """The Spark fingerprint identifies the rows, not their order or partitioning."""
    import pandas as pd

    from clv.spark.rfm import check_transactions_spark

    tx = pd.DataFrame(
        {
            "id": ["a", "a", "b", "c"],
            "day": ["2024-01-01", "2024-01-09", "2024-01-03", "2024-02-01"],
            "amount": [1.0, 2.0, 3.0, 4.0],
        }
    )

    def fingerprint(frame: pd.DataFrame, partitions: int) -> str:
        df = spark.createDataFrame(frame).repartition(partitions)
        return check_transactions_spark(
            df, customer_id_col="id", date_col="day", value_col="amount", check_duplicates=False
        ).counts.fingerprint

    base = fingerprint(tx, 1)
    assert base.startswith(FINGERPRINT_PREFIX)
    assert fingerprint(tx.iloc[::-1], 3) == base
    assert fingerprint(tx.assign(amount=[1.0, 2.0, 3.0, 4.5]), 1) != base
    assert fingerprint(tx.assign(id=["a", "b", "a", "c"]), 1) != base
    assert fingerprint(tx.iloc[:3], 2) != base
