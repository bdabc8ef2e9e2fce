"""Odd inputs and damaged artifacts get the documented exit code and a short message.

Covers: implausible dates, ragged CSV rows, nested Parquet ids, job files that set one
option twice, model files (checksum, nesting, huge integers, wrong model per role, q <= 1
spend draws, a netCDF named .json, flipped bytes), bounded error messages, and the exit
codes of a negative penalizer, a DuckDB query with other columns and an unwritable
`roi` directory.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from types import SimpleNamespace

import duckdb
import h5py
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from clv.cli.main import main
from clv.scoring.posterior import write_posterior_bundle
from tests.cli.test_cli import AS_OF, SCORE_ARGS, make_transactions

PREVIOUS = "customer_id,clv\nc1,1\n"


@pytest.fixture(scope="module")
def tx() -> pd.DataFrame:
    return make_transactions(np.random.default_rng(5), n_customers=150)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, tx: pd.DataFrame) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("rules")
    paths = {"csv": base / "tx.csv", "model": base / "model.json", "nc": base / "model.nc"}
    tx.to_csv(paths["csv"], index=False)
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
    write_fake_posterior(paths["nc"], json.loads(paths["model"].read_text()))
    return paths


def fake_model(
    name: str,
    params: dict[str, float],
    n: int = 8,
    q: np.ndarray | None = None,
    spread: float = 0.05,
):
    """An object with what write_posterior_bundle reads from a clv.bayes model."""
    gen = np.random.default_rng(1)
    draws = {k: v * np.exp(gen.normal(0, spread, (2, n))) for k, v in params.items()}
    if q is not None:
        draws["q"] = q.reshape(2, n)
    posterior = xr.Dataset({k: (("chain", "draw"), v) for k, v in draws.items()})
    cls = type(name, (), {"param_names": lambda self: list(draws), "method_": "external"})
    model = cls()
    model.idata_ = SimpleNamespace(
        posterior=posterior, attrs={"model": name, "clv_schema_version": 1}
    )
    return model


def write_fake_posterior(
    path: Path, bundle: dict, q: np.ndarray | None = None, spread: float = 0.05
) -> None:
    tm = bundle["transaction_model"]["params"]
    sm = bundle["spend_model"]["params"]
    write_posterior_bundle(
        fake_model(bundle["transaction_model"]["model"], tm, spread=spread),
        fake_model("GammaGammaModel", sm, q=q, spread=spread),
        path,
        time_unit="W",
        columns={"customer_col": "customer_id", "date_col": "date", "value_col": "value"},
        training={"fingerprint": "sha256:x", "observation_end": AS_OF},
    )


def run(capsys, *argv) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def score(capsys, files, src, *extra, model=None, out=None) -> tuple[int, str]:
    return run(
        capsys,
        "score",
        src,
        "--model",
        model or files["model"],
        "--horizon",
        "52",
        "--out",
        out or (Path(src).parent / "scores.csv"),
        *extra,
    )


# ---------------------------------------------------------------------- dates, CSV, Parquet
def test_a_future_date_without_as_of_is_refused_naming_the_customer(tmp_path, capsys, tx, files):
    frame = tx.copy()
    frame.loc[5, "date"] = pd.Timestamp("2099-01-01")
    src = tmp_path / "tx.csv"
    frame.to_csv(src, index=False)
    for command in (
        ["validate", src],
        ["score", src, "--model", files["model"], "--horizon", "52", "--out", tmp_path / "s.csv"],
    ):
        code, err = run(capsys, *command)
        assert code == 3, err
        assert "dated after the run date (the latest is 2099-01-01)" in err
        assert repr(frame.loc[5, "customer_id"]) in err
    # with --as-of the row lies after the observation end and is left out
    code, err = score(capsys, files, src, "--as-of", AS_OF, "--quiet")
    assert code == 0, err


@pytest.mark.parametrize("day", ["1500-03-01", "0001-01-01"])
def test_dates_centuries_before_the_log_are_refused(tmp_path, capsys, tx, files, day):
    src = tmp_path / "tx.csv"
    text = tx.to_csv(index=False).splitlines()
    row = text[3].split(",")
    row[1] = day
    text[3] = ",".join(row)
    src.write_text("\n".join(text) + "\n")
    code, err = score(capsys, files, src, "--as-of", AS_OF)
    assert code == 3 and "dated before 1900-01-02" in err, err


def test_a_row_with_more_fields_than_the_header_is_a_data_error(tmp_path, capsys, files):
    src = tmp_path / "tx.csv"
    lines = files["csv"].read_text().splitlines()
    for position in (1, 4):  # first data row (pandas would make it an index) and later
        bad = lines.copy()
        bad[position] = bad[position] + ",234.50"
        src.write_text("\n".join(bad) + "\n")
        out = tmp_path / "scores.csv"
        out.write_text(PREVIOUS)
        code, err = score(capsys, files, src, "--as-of", AS_OF, out=out)
        assert code == 3, err
        assert "cannot be parsed as CSV" in err and out.read_text() == PREVIOUS


@pytest.mark.parametrize("expr", ["[customer_id]", "{'id': customer_id}"])
def test_nested_parquet_ids_are_a_data_error(tmp_path, capsys, files, expr):
    src = tmp_path / "tx.parquet"
    csv = str(files["csv"]).replace("'", "''")
    target = str(src).replace("'", "''")
    with duckdb.connect() as con:
        con.execute(
            f"COPY (SELECT {expr} AS customer_id, date, value FROM read_csv('{csv}')) "
            f"TO '{target}' (FORMAT parquet)"
        )
    code, err = score(capsys, files, src, "--as-of", AS_OF)
    assert code == 3 and "has the nested or binary type" in err and "Traceback" not in err, err


def test_job_file_setting_as_of_twice_is_a_usage_error(tmp_path, capsys, files):
    job = tmp_path / "job.toml"
    job.write_text(
        f'input = "{files["csv"]}"\nas_of = 2021-06-30\n"as-of" = 2021-12-31\n'
        "observation_end = 2021-09-30\n"
    )
    code, err = run(capsys, "validate", "--config", job)
    assert code == 2 and "'as_of' and 'as-of' set the same option" in err


# ---------------------------------------------------------------------- model files
def edited(path: Path, target: Path, change) -> Path:
    doc = json.loads(path.read_text())
    change(doc)
    target.write_text(json.dumps(doc))
    return target


def _rechecksum(doc: dict) -> None:
    from clv.persistence import content_checksum

    doc["checksum"] = content_checksum(doc)


def _swap_roles(doc: dict) -> None:
    doc["spend_model"], doc["transaction_model"] = doc["transaction_model"], doc["spend_model"]
    _rechecksum(doc)


def _spend_is_bgnbd(doc: dict) -> None:
    doc["spend_model"] = doc["transaction_model"]
    _rechecksum(doc)


def _edit_param(doc: dict) -> None:
    doc["transaction_model"]["params"]["r"] *= 2


def _q_below_one(doc: dict) -> None:
    doc["spend_model"]["params"]["q"] = 0.8
    doc["spend_model"]["checksum"] = None
    _rechecksum(doc)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_edit_param, "does not match its checksum"),
        (_swap_roles, "its transaction model is a GammaGammaModel"),
        (_spend_is_bgnbd, "its spend model is a BetaGeoModel"),
        (_q_below_one, "q are <= 1"),
    ],
)
def test_damaged_bundles_exit_5(tmp_path, capsys, files, change, message):
    model = edited(files["model"], tmp_path / "m.json", change)
    out = tmp_path / "scores.csv"
    out.write_text(PREVIOUS)
    code, err = score(capsys, files, files["csv"], "--as-of", AS_OF, model=model, out=out)
    assert code == 5 and message in err and "Traceback" not in err, err
    assert out.read_text() == PREVIOUS


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested more than 32 levels"),
        ('{"schema_version": ' + "9" * 5000 + "}", "not valid JSON"),
        ('{"a": {"b": ' * 40 + "1" + "}" * 80, "nested more than 32 levels"),
    ],
)
def test_hostile_json_model_files_exit_5(tmp_path, capsys, files, text, message):
    model = tmp_path / "m.json"
    model.write_text(text)
    code, err = score(capsys, files, files["csv"], "--as-of", AS_OF, model=model)
    assert code == 5 and message in err and "Traceback" not in err, err


def test_posterior_with_q_draws_at_or_below_one_is_refused(tmp_path, capsys, files):
    q = np.full(16, 3.0)
    q[[2, 9]] = [0.9, 1.0]
    model = tmp_path / "q.nc"
    write_fake_posterior(model, json.loads(files["model"].read_text()), q=q)
    code, err = score(capsys, files, files["csv"], "--as-of", AS_OF, model=model)
    assert code == 5 and "2 of 16 draws of the spend model's q are <= 1" in err, err


def test_netcdf_with_flipped_bytes_or_named_json_is_refused(tmp_path, capsys, files):
    code, err = score(capsys, files, files["csv"], "--as-of", AS_OF, "--quiet", model=files["nc"])
    assert code == 0, err
    flipped = tmp_path / "flipped.nc"
    flipped.write_bytes(files["nc"].read_bytes())
    with h5py.File(flipped, "a") as fh:  # one draw changed in place: HDF5 does not notice
        fh["transaction_posterior/r"][0, 3] = fh["transaction_posterior/r"][0, 3] * 1.5
    code, err = score(capsys, files, files["csv"], "--as-of", AS_OF, model=flipped)
    assert code == 5 and "match its checksum" in err, err
    named = tmp_path / "model.json"
    named.write_bytes(files["nc"].read_bytes())
    code, err = score(capsys, files, files["csv"], "--as-of", AS_OF, model=named)
    assert code == 5 and "posterior model files end with .nc" in err, err


@pytest.mark.parametrize("value", ["[" * 50_000 + "]" * 50_000, '{"a": ' + "9" * 5000 + "}"])
def test_hostile_netcdf_attributes_exit_5(tmp_path, capsys, files, value):
    model = tmp_path / "m.nc"
    model.write_bytes(files["nc"].read_bytes())
    with h5py.File(model, "a") as fh:
        fh.attrs["columns_json"] = value
    code, err = score(capsys, files, files["csv"], "--as-of", AS_OF, model=model)
    assert code == 5 and "attribute 'columns_json'" in err and "Traceback" not in err, err


# ---------------------------------------------------------------------- messages, exit codes
def test_error_messages_never_echo_a_huge_value_in_full(tmp_path, capsys, files):
    src = tmp_path / "tx.csv"
    src.write_text("customer_id,date,value\n" + "c1,2021-01-01," + "9" * 2_000_000 + "x\n")
    code, err = score(capsys, files, src, "--as-of", AS_OF)
    assert code == 3 and "more characters" in err
    assert len(err) < 10_000


def test_negative_penalizer_is_a_usage_error(tmp_path, capsys, files):
    code, err = run(
        capsys,
        "fit",
        files["csv"],
        "--penalizer",
        "-0.5",
        "--as-of",
        AS_OF,
        "--out",
        tmp_path / "m.json",
    )
    assert code == 2 and "--penalizer must be >= 0" in err


def test_duckdb_query_with_other_columns_is_a_usage_error(tmp_path, capsys, tx, files):
    db = tmp_path / "wh.duckdb"
    with duckdb.connect(str(db)) as con:
        con.register("frame", tx)
        con.execute("CREATE TABLE t AS SELECT * FROM frame")
    code, err = run(
        capsys,
        "score",
        db,
        "--query",
        "SELECT customer_id AS id, date FROM t",
        "--model",
        files["model"],
        *SCORE_ARGS,
        "--out",
        tmp_path / "s.csv",
    )
    assert code == 2 and "--query returns the columns" in err, err


def test_roi_into_an_unwritable_directory_is_an_io_error_before_any_work(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "ro,size=64k", "tmpfs", str(ro)],
            check=True,
            capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("needs root to mount a read-only tmpfs")
    try:
        inv = tmp_path / "inv.json"
        inv.write_text(
            '{"investments": [{"name": "x", "cost": 1, "shifts": [{"column": '
            '"nps", "mode": "add", "amount": 1}]}]}'
        )
        code, err = run(
            capsys,
            "roi",
            tmp_path / "missing.csv",
            "--cx-events",
            tmp_path / "missing_events.csv",
            "--investments",
            inv,
            "--as-of",
            AS_OF,
            "--out",
            ro / "out",
        )
        assert code == 5 and "not writable" in err, err
    finally:
        subprocess.run(["umount", str(ro)], check=False, capture_output=True)


@pytest.mark.parametrize("r", [1e8, 1e12])
def test_extreme_finite_draws_are_scored_quickly_and_like_the_json_bundle(
    tmp_path, capsys, files, r
):
    """r near 1e8 used to spin in the 2F1 series for minutes: the series is bounded and the
    quadrature takes over, giving the scores of the JSON bundle with the same parameters."""
    import time

    doc = json.loads(files["model"].read_text())
    doc["transaction_model"]["params"].update(r=r, alpha=5.0 * r)
    doc["transaction_model"].pop("checksum", None)
    from clv.persistence import content_checksum

    doc["checksum"] = content_checksum(doc)
    bundle = tmp_path / "extreme.json"
    bundle.write_text(json.dumps(doc))
    posterior = tmp_path / "extreme.nc"
    write_fake_posterior(posterior, doc, spread=0.0)
    outs = {}
    for name, model in (("json", bundle), ("nc", posterior)):
        outs[name] = tmp_path / f"{name}.csv"
        start = time.perf_counter()
        code, err = run(
            capsys,
            "score",
            files["csv"],
            "--model",
            model,
            "--as-of",
            AS_OF,
            "--horizon",
            "52",
            "--discount-rate",
            "0.002",
            "--out",
            outs[name],
        )
        assert code == 0, err
        assert time.perf_counter() - start < 20
    a = pd.read_csv(outs["json"]).set_index("customer_id")
    b = pd.read_csv(outs["nc"]).set_index("customer_id")
    for column in ("probability_alive", "expected_purchases", "clv"):
        assert np.isfinite(b[column]).all()
        np.testing.assert_allclose(b[column], a[column], rtol=1e-6)
