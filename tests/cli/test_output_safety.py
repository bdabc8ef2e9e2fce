"""Outputs never destroy inputs, user tables or each other, and never carry live formulas.

Covers: an output that names an input, staging tables that collide with user tables,
output + run record committed as one unit (SIGKILL at every rename, a full disk at every
step, two concurrent jobs), a new DuckDB file on a full disk, CSV formula injection and
YAML tags in investment files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from clv.cli.commit import recover
from clv.cli.main import main
from clv.persistence import spreadsheet_safe
from clv.roi import load_investments
from tests.cli.test_cli import AS_OF, SCORE_ARGS, make_transactions

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def tx() -> pd.DataFrame:
    return make_transactions(np.random.default_rng(21), n_customers=150)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, tx: pd.DataFrame) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("safety")
    paths = {"csv": base / "tx.csv", "duckdb": base / "tx.duckdb", "model": base / "model.json"}
    tx.to_csv(paths["csv"], index=False)
    with duckdb.connect(str(paths["duckdb"])) as con:
        con.register("frame", tx)
        con.execute("CREATE TABLE transactions AS SELECT * FROM frame")
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


def run(capsys, *argv) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    return code, capsys.readouterr().err


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_consistent(out: Path) -> None:
    """The run record describes the output next to it (same hash)."""
    record = json.loads(Path(f"{out}.run.json").read_text())
    assert record["output"]["sha256"] == sha256(out)


# ---------------------------------------------------------------------- outputs naming inputs
def test_score_out_naming_the_input_is_refused_and_input_kept(tmp_path, capsys, files):
    src = tmp_path / "tx.csv"
    src.write_bytes(files["csv"].read_bytes())
    before = src.read_bytes()
    code, err = run(capsys, "score", src, "--model", files["model"], *SCORE_ARGS, "--out", src)
    assert code == 2 and "would replace what it reads" in err
    assert src.read_bytes() == before
    # through another spelling of the same path
    code, _ = run(
        capsys,
        "score",
        src,
        "--model",
        files["model"],
        *SCORE_ARGS,
        "--out",
        tmp_path / "." / "tx.csv",
    )
    assert code == 2 and src.read_bytes() == before


def test_evaluate_and_fit_cannot_write_over_the_input(tmp_path, capsys, files):
    src = tmp_path / "tx.csv"
    src.write_bytes(files["csv"].read_bytes())
    before = src.read_bytes()
    code, err = run(
        capsys, "evaluate", src, "--calibration-end", "2021-09-30", "--as-of", AS_OF, "--out", src
    )
    assert code == 2 and "would replace what it reads" in err
    code, err = run(capsys, "fit", src, "--as-of", AS_OF, "--out", src)
    assert code == 2 and ".json" in err
    assert src.read_bytes() == before


def test_duckdb_out_table_naming_the_input_table_is_refused(tmp_path, capsys, files):
    db = tmp_path / "wh.duckdb"
    db.write_bytes(files["duckdb"].read_bytes())
    code, err = run(
        capsys,
        "score",
        db,
        "--table",
        "transactions",
        "--model",
        files["model"],
        *SCORE_ARGS,
        "--out",
        db,
        "--out-table",
        "transactions",
    )
    assert code == 2 and "--out-table 'transactions'" in err
    code, _ = run(
        capsys,
        "score",
        db,
        "--query",
        "SELECT * FROM transactions",
        "--model",
        files["model"],
        *SCORE_ARGS,
        "--out",
        db,
        "--out-table",
        "TRANSACTIONS",
    )
    assert code == 2
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM transactions").fetchone()[0] > 0
    # another table of the same database is fine
    code, err = run(
        capsys,
        "score",
        db,
        "--table",
        "transactions",
        "--model",
        files["model"],
        *SCORE_ARGS,
        "--out",
        db,
        "--out-table",
        "scores",
        "--quiet",
    )
    assert code == 0, err


def test_fit_with_a_top_level_out_meant_for_score_does_not_replace_scores(tmp_path, capsys, files):
    scores = tmp_path / "scores.csv"
    scores.write_text("customer_id,clv\nc1,1\n")
    job = tmp_path / "job.toml"
    job.write_text(f'input = "{files["csv"]}"\nvalue_col = "value"\nout = "scores.csv"\n')
    code, err = run(capsys, "fit", "--config", job, "--as-of", AS_OF)
    assert code == 2 and "must end with .json" in err
    assert scores.read_text() == "customer_id,clv\nc1,1\n"


# ---------------------------------------------------------------------- DuckDB names
def test_staging_table_never_touches_a_user_table(tmp_path, capsys, files):
    db = tmp_path / "wh.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE keep__clv_staging AS SELECT 42 AS answer")
    code, err = run(
        capsys,
        "score",
        files["csv"],
        "--model",
        files["model"],
        *SCORE_ARGS,
        "--out",
        db,
        "--out-table",
        "keep",
        "--quiet",
    )
    assert code == 0, err
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT answer FROM keep__clv_staging").fetchall() == [(42,)]
        names = {
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
    assert names == {"keep", "keep__clv_staging"}


def test_too_long_out_table_is_refused_before_changing_the_database(tmp_path, capsys, files):
    db = tmp_path / "wh.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute("CREATE TABLE other AS SELECT 1 AS x")
    before = db.read_bytes()
    code, err = run(
        capsys,
        "score",
        files["csv"],
        "--model",
        files["model"],
        *SCORE_ARGS,
        "--out",
        db,
        "--out-table",
        "t" * 250,
    )
    assert code == 2 and "--out-table is too long" in err
    assert db.read_bytes() == before
    with duckdb.connect(str(db), read_only=True) as con:
        assert [
            r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
        ] == ["other"]


# ---------------------------------------------------------------------- kill / full disk
_DRIVER = textwrap.dedent("""
    import os, signal, sys
    kill_at = int(os.environ["CLV_KILL_AT_REPLACE"])
    calls = [0]
    real = os.replace
    def replace(src, dst, *a, **k):
        calls[0] += 1
        if calls[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(src, dst, *a, **k)
    os.replace = replace
    from clv.cli.main import main
    sys.exit(main(sys.argv[1:]))
""")


def _killed_run(argv: list[str], kill_at: int) -> int:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CLV_KILL_AT_REPLACE": str(kill_at)}
    proc = subprocess.run(
        [sys.executable, "-c", _DRIVER, *map(str, argv)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return proc.returncode


@pytest.mark.parametrize(
    "kill_at",
    [
        pytest.param(1, marks=pytest.mark.slow),
        pytest.param(2, marks=pytest.mark.slow),
        3,
        pytest.param(4, marks=pytest.mark.slow),
        5,
    ],
)
def test_sigkill_at_any_rename_leaves_output_and_record_consistent(tmp_path, files, kill_at):
    """Renames of a score run: staged scores, staged record, journal, scores, record.

    Killed before any of them, the previous pair stays (or, killed between the two
    installs, the next run completes the commit): output and record always match."""
    out = tmp_path / "scores.csv"
    base = [
        "score",
        str(files["csv"]),
        "--model",
        str(files["model"]),
        "--horizon",
        "52",
        "--quiet",
        "--out",
        str(out),
    ]
    assert main([*base, "--as-of", "2021-10-31"]) == 0
    old = (out.read_bytes(), Path(f"{out}.run.json").read_bytes())
    code = _killed_run([*base, "--as-of", AS_OF], kill_at)
    assert code == -9
    recover(out)
    assert_consistent(out)
    if kill_at <= 3:  # nothing was installed yet
        assert (out.read_bytes(), Path(f"{out}.run.json").read_bytes()) == old
    else:  # the journal was on disk: the commit was completed
        assert out.read_bytes() != old[0]
    # a killed job may leave hidden temporary files (documented), never a visible one
    visible = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("."))
    assert visible == ["scores.csv", "scores.csv.run.json"]
    assert not list(tmp_path.glob(".clv-commit-*"))


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", [1, 2])
def test_sigkill_around_a_duckdb_commit_keeps_table_and_record_together(tmp_path, files, kill_at):
    """DuckDB output: renames are the staged record, the journal, then the record after the
    database commit. A kill at either leaves the table and the record in step."""
    db = tmp_path / "wh.duckdb"
    base = [
        "score",
        str(files["csv"]),
        "--model",
        str(files["model"]),
        "--horizon",
        "52",
        "--quiet",
        "--out",
        str(db),
    ]
    assert main([*base, "--as-of", "2021-10-31"]) == 0
    code = _killed_run([*base, "--as-of", AS_OF], kill_at)
    assert code == -9
    recover(db)
    record = json.loads(Path(f"{db}.scores.run.json").read_text())
    from clv.cli.files import frame_fingerprint

    with duckdb.connect(str(db), read_only=True) as con:
        assert frame_fingerprint(con.table("scores").df()) == record["output"]["fingerprint"]


def test_sigkill_between_database_commit_and_record_completes_the_record(tmp_path, files):
    """Kill after the DuckDB transaction committed, before the record's rename: recovery
    installs the new record, because the table holds the rows it describes."""
    db = tmp_path / "wh.duckdb"
    base = [
        "score",
        str(files["csv"]),
        "--model",
        str(files["model"]),
        "--horizon",
        "52",
        "--quiet",
        "--out",
        str(db),
    ]
    assert main([*base, "--as-of", "2021-10-31"]) == 0
    old_record = Path(f"{db}.scores.run.json").read_bytes()
    assert _killed_run([*base, "--as-of", AS_OF], 3) == -9
    assert recover(db)
    new_record = json.loads(Path(f"{db}.scores.run.json").read_text())
    assert Path(f"{db}.scores.run.json").read_bytes() != old_record
    assert new_record["parameters"]["as_of"] == AS_OF


@contextlib.contextmanager
def small_disk(path: Path, size_kb: int):
    path.mkdir()
    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", str(path)],
            check=True,
            capture_output=True,
        )
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("needs root to mount a small tmpfs")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=False, capture_output=True)


def _fill(disk: Path, leave: int) -> None:
    st = os.statvfs(disk)
    free = st.f_bavail * st.f_frsize
    (disk / "filler").write_bytes(b"\0" * max(free - leave, 0))


def test_full_disk_at_every_step_keeps_output_and_record_together(tmp_path, capsys, files):
    """Scores (about 20 KB) and record on a tmpfs with 0..60 KB free: every run either
    succeeds with a matching pair or exits 5 with the previous pair byte for byte."""
    with small_disk(tmp_path / "disk", 512) as disk:
        out = disk / "scores.csv"
        base = [
            "score",
            files["csv"],
            "--model",
            files["model"],
            "--horizon",
            "52",
            "--out",
            out,
            "--quiet",
        ]
        codes = []
        for leave_kb in range(0, 64, 4):
            for extra in ("filler",):
                (disk / extra).unlink(missing_ok=True)
            assert run(capsys, *base, "--as-of", "2021-10-31")[0] == 0
            old = (out.read_bytes(), Path(f"{out}.run.json").read_bytes())
            _fill(disk, leave_kb * 1024)
            code, err = run(capsys, *base, "--as-of", AS_OF)
            codes.append(code)
            assert code in (0, 5), err
            assert "Traceback" not in err
            assert_consistent(out)
            if code == 5:
                assert "No space left" in err
                assert (out.read_bytes(), Path(f"{out}.run.json").read_bytes()) == old
            left = sorted(p.name for p in disk.iterdir())
            assert left == ["filler", "scores.csv", "scores.csv.run.json"], left
        assert 5 in codes and 0 in codes


def test_new_duckdb_file_on_a_full_disk_leaves_no_truncated_database(tmp_path, capsys, files):
    with small_disk(tmp_path / "disk", 1024) as disk:
        db = disk / "new.duckdb"
        _fill(disk, 64 * 1024)
        code, err = run(
            capsys, "score", files["csv"], "--model", files["model"], *SCORE_ARGS, "--out", db
        )
        assert code == 5, err
        assert sorted(p.name for p in disk.iterdir()) == ["filler"]
        (disk / "filler").unlink()
        code, err = run(
            capsys,
            "score",
            files["csv"],
            "--model",
            files["model"],
            *SCORE_ARGS,
            "--out",
            db,
            "--quiet",
        )
        assert code == 0, err


@pytest.mark.slow
def test_two_concurrent_scores_on_one_output_leave_a_matching_pair(tmp_path, files):
    out = tmp_path / "scores.csv"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "clv",
                "score",
                str(files["csv"]),
                "--model",
                str(files["model"]),
                "--horizon",
                "52",
                "--as-of",
                as_of,
                "--out",
                str(out),
                "--quiet",
            ],
            env=env,
            stderr=subprocess.PIPE,
        )
        for as_of in ("2021-10-31", AS_OF)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert_consistent(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.csv", "scores.csv.run.json"]


# ---------------------------------------------------------------------- formulas, YAML
def test_customer_ids_that_look_like_formulas_are_written_as_text(tmp_path, capsys, files, tx):
    evil = [
        '=HYPERLINK("http://x","y")',
        "=cmd|' /C calc'!A0",
        "@SUM(1+1)",
        "+1+1",
        "-2+3",
        "\tx",
        "-12",
    ]
    frame = tx.copy()
    ids = frame["customer_id"].unique()
    frame["customer_id"] = frame["customer_id"].replace(dict(zip(ids, evil, strict=False)))
    src = tmp_path / "tx.csv"
    frame.to_csv(src, index=False)
    out = tmp_path / "scores.csv"
    code, err = run(capsys, "score", src, "--model", files["model"], *SCORE_ARGS, "--out", out)
    assert code == 0, err
    written = set(pd.read_csv(out, dtype=str, keep_default_na=False)["customer_id"])
    for value in evil[:-1]:
        assert "'" + value in written and value not in written
    assert "-12" in written  # a plain number stays as it is


def test_spreadsheet_safe_covers_index_and_columns_and_keeps_numbers():
    frame = pd.DataFrame(
        {"=x": ["=a", "b"], "n": [-1.0, 2.0]}, index=pd.Index(["@i", "j"], name="investment")
    )
    safe = spreadsheet_safe(frame)
    assert list(safe.columns) == ["'=x", "n"]
    assert list(safe.index) == ["'@i", "j"] and list(safe["'=x"]) == ["'=a", "b"]
    assert safe["n"].tolist() == [-1.0, 2.0]
    assert list(frame.columns) == ["=x", "n"]  # the caller's frame is untouched


def test_yaml_investment_tags_are_refused_and_never_constructed(tmp_path, capsys):
    marker = tmp_path / "ran"
    spec = tmp_path / "inv.yaml"
    spec.write_text(f'investments:\n  - !!python/object/apply:os.system ["touch {marker}"]\n')
    with pytest.raises(ValueError, match=r"inv\.yaml: not a valid investments YAML"):
        load_investments(spec)
    code, err = run(
        capsys,
        "roi",
        tmp_path / "tx.csv",
        "--cx-events",
        tmp_path / "cx.csv",
        "--investments",
        spec,
        "--as-of",
        AS_OF,
        "--out",
        tmp_path / "roi",
    )
    assert code == 2 and "inv.yaml" in err and "Traceback" not in err
    assert not marker.exists()
