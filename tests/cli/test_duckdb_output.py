"""``clv score --out db.duckdb --out-table T``: a DuckDB table replaced in one transaction."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import warnings

import duckdb
import numpy as np
import pandas as pd
import pytest

from clv.cli.files import read_duckdb_table
from clv.cli.main import main
from clv.data import rfm_summary
from clv.data.datasets import load_cdnow_transactions
from clv.exceptions import DataWarning
from clv.models.bgnbd import BetaGeoModel
from clv.models.gamma_gamma import GammaGammaModel
from clv.value import customer_lifetime_value_table

AS_OF = "1998-06-30"
ARGS = [
    "--as-of",
    AS_OF,
    "--horizon",
    "52",
    "--discount-rate-per-period",
    "0.002",
    "--margin",
    "0.3",
]


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("cdnow")
    tx = load_cdnow_transactions()[["customer_id", "date", "value"]]
    path = base / "cdnow.parquet"
    with duckdb.connect() as con:
        con.register("tx", tx)
        con.execute(f"COPY tx TO '{path}' (FORMAT parquet)")
    model = base / "model.json"
    assert (
        main(
            [
                "fit",
                str(path),
                "--value-col",
                "value",
                "--as-of",
                AS_OF,
                "--out",
                str(model),
                "--quiet",
            ]
        )
        == 0
    )
    return {"tx": tx, "input": path, "model": model}


def run(capsys, *argv) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def python_api_scores(tx: pd.DataFrame) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)  # CDNOW: duplicates, one zero spender
        rfm = rfm_summary(
            tx,
            customer_id_col="customer_id",
            date_col="date",
            value_col="value",
            observation_end=AS_OF,
        )
    bg = BetaGeoModel().fit(rfm)
    spenders = rfm[(rfm["frequency"] > 0) & (rfm["monetary_value"] > 0)]
    gg = GammaGammaModel().fit(spenders)
    data = rfm.copy()
    zero = (data["frequency"] > 0) & (data["monetary_value"] <= 0)
    data.loc[zero, "monetary_value"] = np.finfo(np.float64).tiny  # as clv score does
    table = customer_lifetime_value_table(
        bg, gg, data, horizon=52, discount_rate_per_period=0.002, margin=0.3
    )
    return rfm.join(table.drop(columns="discounted_purchases"))


def test_score_to_duckdb_table_equals_python_api_and_reruns_identically(tmp_path, capsys, cdnow):
    db = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(db)) as con:  # another table of the database is left alone
        con.execute("CREATE TABLE customers AS SELECT 1 AS id")
    args = [
        "score",
        cdnow["input"],
        "--model",
        cdnow["model"],
        *ARGS,
        "--out",
        db,
        "--out-table",
        "clv_scores",
        "--quiet",
    ]
    code, err = run(capsys, *args)
    assert code == 0, err
    got = read_duckdb_table(db, "clv_scores")
    assert list(got.columns) == [
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
    want = python_api_scores(cdnow["tx"])
    assert got["customer_id"].tolist() == want.index.tolist()
    for column in got.columns[1:]:
        np.testing.assert_allclose(got[column], want[column], rtol=1e-12, atol=0, err_msg=column)
    record = json.loads((tmp_path / "warehouse.duckdb.clv_scores.run.json").read_text())
    assert record["output"]["format"] == "duckdb" and record["output"]["table"] == "clv_scores"
    assert record["output"]["n_rows"] == len(want)

    assert run(capsys, *args)[0] == 0
    again = read_duckdb_table(db, "clv_scores")
    pd.testing.assert_frame_equal(again, got)
    record2 = json.loads((tmp_path / "warehouse.duckdb.clv_scores.run.json").read_text())
    assert record2["output"]["fingerprint"] == record["output"]["fingerprint"]
    with duckdb.connect(str(db), read_only=True) as con:
        tables = sorted(r[0] for r in con.execute("SHOW TABLES").fetchall())
    assert tables == ["clv_scores", "customers"]  # no staging table left behind


def test_failure_inside_the_transaction_keeps_the_previous_table(
    tmp_path, capsys, cdnow, monkeypatch
):
    import clv.cli.files as cli_io

    db = tmp_path / "w.duckdb"
    args = ["score", cdnow["input"], "--model", cdnow["model"], *ARGS, "--out", db, "--quiet"]
    assert run(capsys, *args)[0] == 0
    before = read_duckdb_table(db, "scores")
    real = cli_io._replace_table

    def drop_then_fail(con, staging, table):
        con.execute(f'DROP TABLE "{table}"')  # the old table is gone inside the transaction
        raise duckdb.IOException("disk I/O error while renaming")

    monkeypatch.setattr(cli_io, "_replace_table", drop_then_fail)
    code, err = run(capsys, *args[:-1], "--margin", "0.9")
    assert code == 5 and "previous table is unchanged" in err and "disk I/O error" in err
    pd.testing.assert_frame_equal(read_duckdb_table(db, "scores"), before)
    monkeypatch.setattr(cli_io, "_replace_table", real)
    with duckdb.connect(str(db), read_only=True) as con:
        assert [r[0] for r in con.execute("SHOW TABLES").fetchall()] == ["scores"]


_WRITER = """
import sys
import numpy as np
import pandas as pd
from clv.cli.files import write_duckdb_table

n = 6_000_000
rng = np.random.default_rng(0)
frame = pd.DataFrame({"customer_id": np.arange(n)})
for name in ("frequency", "recency", "T", "probability_alive", "expected_purchases", "clv"):
    frame[name] = rng.random(n)
print("ready", flush=True)
write_duckdb_table(frame, sys.argv[1], "scores")
print("done", flush=True)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_killed_mid_write_leaves_previous_table(tmp_path):
    db = tmp_path / "w.duckdb"
    previous = pd.DataFrame({"customer_id": [1, 2], "clv": [1.5, 2.5]})
    from clv.cli.files import write_duckdb_table

    write_duckdb_table(previous, db, "scores")
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(db)], stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        time.sleep(0.4)  # inside the transaction: writing 6M rows takes seconds
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
        assert proc.stdout.read() == b"", "the write finished before it could be killed"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    pd.testing.assert_frame_equal(read_duckdb_table(db, "scores"), previous)


def test_out_table_usage_errors(tmp_path, capsys, cdnow):
    base = ["score", cdnow["input"], "--model", cdnow["model"], *ARGS]
    code, err = run(capsys, *base, "--out", tmp_path / "s.csv", "--out-table", "x")
    assert code == 2 and "--out-table only applies to a DuckDB output" in err
    code, err = run(capsys, *base, "--out", tmp_path / "s.duckdb", "--out-table", "a; DROP")
    assert code == 2 and "plain table name" in err
    code, err = run(capsys, *base, "--out", tmp_path / "missing" / "s.duckdb")
    assert code == 5 and "does not exist" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_evaluate_writes_a_duckdb_table_equal_to_its_csv(tmp_path, capsys, cdnow):
    args = [
        "evaluate",
        cdnow["input"],
        "--calibration-end",
        "1997-09-30",
        "--as-of",
        AS_OF,
        "--quiet",
    ]
    assert run(capsys, *args, "--out", tmp_path / "holdout.csv")[0] == 0
    code, err = run(capsys, *args, "--out", tmp_path / "e.duckdb", "--out-table", "holdout")
    assert code == 0, err
    got = read_duckdb_table(tmp_path / "e.duckdb", "holdout")
    want = pd.read_csv(tmp_path / "holdout.csv")
    assert list(got.columns) == list(want.columns)
    assert got["customer_id"].tolist() == want["customer_id"].tolist()
    for column in want.columns[1:]:  # the CSV has 10 significant digits
        np.testing.assert_allclose(got[column], want[column], rtol=1e-9, err_msg=column)
    assert (tmp_path / "e.duckdb.holdout.run.json").exists()
