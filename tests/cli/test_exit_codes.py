"""Every command, every documented exit code: one table (``EXIT_TABLE``), one function.

0 ok, 1 unexpected, 2 usage, 3 data, 4 fit, 5 I/O or model file (docs/production.md).
Exit 0 of roi/report/demo is covered by their own tests (tests/cli/test_cli_roi.py,
test_cli.py); here each failure code is provoked through each command that can meet it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import clv.cli.main as cli
from clv.cli.main import (
    EXIT_DATA,
    EXIT_FIT,
    EXIT_IO,
    EXIT_OK,
    EXIT_TABLE,
    EXIT_UNEXPECTED,
    EXIT_USAGE,
    main,
)
from clv.exceptions import ConvergenceError
from tests.cli.test_cli import AS_OF, make_transactions

COMMANDS = ("validate", "fit", "score", "evaluate", "roi", "report", "demo")


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("codes")
    tx = make_transactions(np.random.default_rng(8), n_customers=120)
    paths = {
        "csv": base / "tx.csv",
        "model": base / "model.json",
        "bad": base / "bad.csv",
        "inv": base / "inv.json",
        "events": base / "events.csv",
        "base": base,
    }
    tx.to_csv(paths["csv"], index=False)
    paths["bad"].write_text("customer_id,date,value\nc1,not a date,1\nc2,2021-01-01,-5\n")
    paths["inv"].write_text(
        json.dumps(
            {
                "investments": [
                    {
                        "name": "x",
                        "cost": 1.0,
                        "shifts": [{"column": "nps", "mode": "add", "amount": 1.0}],
                    }
                ]
            }
        )
    )
    paths["events"].write_text("customer_id,timestamp,signal,value\nc0000,2021-03-01,nps,9\n")
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


def argv(command: str, p: dict[str, Path], out: Path, *, src: Path | None = None) -> list[str]:
    src = p["csv"] if src is None else src
    common = {
        "validate": [src, "--value-col", "value"],
        "fit": [src, "--value-col", "value", "--as-of", AS_OF, "--out", out / "m.json"],
        "score": [
            src,
            "--model",
            p["model"],
            "--as-of",
            AS_OF,
            "--horizon",
            "52",
            "--out",
            out / "s.csv",
        ],
        "evaluate": [
            src,
            "--calibration-end",
            "2021-09-30",
            "--as-of",
            AS_OF,
            "--out",
            out / "h.csv",
        ],
        "roi": [
            src,
            "--cx-events",
            p["events"],
            "--investments",
            p["inv"],
            "--as-of",
            AS_OF,
            "--draws",
            "5",
            "--out",
            out / "roi",
        ],
        "demo": ["--out", out / "demo"],
    }
    common["report"] = common["roi"]
    return [command, *map(str, common[command]), "--quiet"]


def run(capsys, args: list[str]) -> tuple[int, str]:
    code = main(args)
    return code, capsys.readouterr().err


def test_the_table_orders_specific_classes_first():
    classes = [row[0] for row in EXIT_TABLE]
    for i, cls in enumerate(classes):
        assert not any(issubclass(cls, earlier) for earlier in classes[:i]), cls
    assert [row[1] for row in EXIT_TABLE] == [2, 3, 4, 5, 5]


@pytest.mark.parametrize("command", ["validate", "fit", "score", "evaluate"])
def test_exit_0(tmp_path, capsys, inputs, command):
    code, err = run(capsys, argv(command, inputs, tmp_path))
    assert code == EXIT_OK, err


@pytest.mark.parametrize("command", COMMANDS)
def test_exit_1_unexpected(tmp_path, capsys, inputs, command, monkeypatch):
    def boom(run):
        raise RuntimeError("a bug")

    monkeypatch.setattr(cli, "_handler", lambda name: boom)
    code, err = run(capsys, argv(command, inputs, tmp_path))
    assert code == EXIT_UNEXPECTED and "unexpected error (RuntimeError)" in err
    assert "please report it" in err and "Traceback" not in err


@pytest.mark.parametrize("command", COMMANDS)
def test_exit_2_usage(tmp_path, capsys, inputs, command):
    code, err = run(capsys, [*argv(command, inputs, tmp_path), "--log-level", "NOPE"])
    assert code == EXIT_USAGE and "usage error" in err, err


@pytest.mark.parametrize("command", ["validate", "fit", "score", "evaluate", "roi", "report"])
def test_exit_3_data(tmp_path, capsys, inputs, command):
    code, err = run(capsys, argv(command, inputs, tmp_path, src=inputs["bad"]))
    assert code == EXIT_DATA and "data error" in err, err
    assert "Traceback" not in err


@pytest.mark.parametrize("command", ["fit", "evaluate", "roi", "report"])
def test_exit_4_fit(tmp_path, capsys, inputs, command, monkeypatch):
    def no_convergence(*args, **kwargs):
        raise ConvergenceError("the optimiser stopped at the edge of the parameter box")

    if command in ("roi", "report"):
        import clv.cx.analysis

        monkeypatch.setattr(clv.cx.analysis, "run_cx_roi", no_convergence)
    else:
        from clv.models.bgnbd import BetaGeoModel

        monkeypatch.setattr(BetaGeoModel, "fit", no_convergence)
    code, err = run(capsys, argv(command, inputs, tmp_path))
    assert code == EXIT_FIT and "fit failed" in err, err
    assert not list(tmp_path.iterdir())  # nothing written


@pytest.mark.parametrize("command", COMMANDS)
def test_exit_5_io(tmp_path, capsys, inputs, command):
    if command == "demo":
        blocker = tmp_path / "file"
        blocker.write_text("")
        args = ["demo", "--out", str(blocker / "out"), "--quiet"]
    else:
        args = argv(command, inputs, tmp_path, src=tmp_path / "missing.csv")
    code, err = run(capsys, args)
    assert code == EXIT_IO and ("I/O error" in err or "model file error" in err), err


def test_exit_5_model_file(tmp_path, capsys, inputs):
    broken = tmp_path / "m.json"
    broken.write_text("{")
    args = argv("score", inputs, tmp_path)
    args[args.index(str(inputs["model"]))] = str(broken)
    code, err = run(capsys, args)
    assert code == EXIT_IO and "model file error" in err
