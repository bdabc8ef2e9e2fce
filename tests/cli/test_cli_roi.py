"""``clv roi`` / ``clv report``: the CX-to-ROI job from files, its outputs and its errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from clv.cli.main import main
from clv.cx.analysis import run_cx_roi
from clv.roi.examples import example_investments
from clv.synth import simulate_cx_world

N = 3000


@pytest.fixture(scope="module")
def world_files(tmp_path_factory) -> tuple[Path, object]:
    world = simulate_cx_world(N, seed=3)
    d = tmp_path_factory.mktemp("world")
    world.transactions.to_csv(d / "tx.csv", index=False)
    world.cx_events.to_parquet(d / "events.parquet", index=False)
    world.customers.to_csv(d / "customers.csv", index=False)
    invs = example_investments(N)[:3]
    (d / "inv.json").write_text(json.dumps({"investments": [i.to_dict() for i in invs]}))
    return d, world


def _args(d: Path, out: Path, *extra: str) -> list[str]:
    return [
        str(d / "tx.csv"),
        "--cx-events",
        str(d / "events.parquet"),
        "--customers",
        str(d / "customers.csv"),
        "--investments",
        str(d / "inv.json"),
        "--as-of",
        "2024-12-29",
        "--draws",
        "20",
        "--out",
        str(out),
        "--quiet",
        *extra,
    ]


def test_report_writes_every_output_and_matches_the_api(world_files, tmp_path) -> None:
    d, world = world_files
    out = tmp_path / "out"
    assert main(["report", *_args(d, out, "--holdout-end", "2025-06-29", "--budget", "5000")]) == 0
    names = {p.name for p in out.iterdir()}
    assert {
        "report.html",
        "roi.csv",
        "roi_cash_flows.csv",
        "roi_sensitivity.csv",
        "roi_portfolio.csv",
        "drivers.csv",
        "cx_holdout.csv",
        "run.json",
    } <= names
    table = pd.read_csv(out / "roi.csv", index_col="rank")
    api = run_cx_roi(
        world.transactions,
        world.cx_events,
        world.customers,
        example_investments(N)[:3],
        cutoff=world.calibration_end,
        observation_end=world.truth.observation_end,
        n_draws=20,
        with_sensitivity=False,
    ).roi.table()
    pd.testing.assert_series_equal(table["investment"], api["investment"])
    pd.testing.assert_series_equal(table["npv_mean"], api["npv_mean"], rtol=1e-3)
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "ok" and record["parameters"]["draws"] == 20
    assert len(record["results"]["table"]) == 3
    # controls by default, a decision per investment, observational values under the prior
    assert "channel=web" in record["parameters"]["controls"]
    assert record["parameters"]["causal_share"].startswith("causal share ~ Beta(1, 1)")
    assert set(table["recommendation"]) <= {"fund", "test first", "do not fund"}
    assert table["reason"].str.len().gt(10).all()
    assert (table.loc[table["evidence_grade"] == "C", "recommendation"] != "fund").all()
    assert {"cx_timing.csv", "cx_survey_weighting.csv"} <= names


def test_roi_reruns_identically_and_has_no_html(world_files, tmp_path) -> None:
    d, _ = world_files
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["roi", *_args(d, a)]) == 0
    assert main(["roi", *_args(d, b)]) == 0
    assert not (a / "report.html").exists()
    assert (a / "roi.csv").read_bytes() == (b / "roi.csv").read_bytes()


def test_roi_errors_have_exit_codes(world_files, tmp_path, capsys) -> None:
    d, _ = world_files
    out = tmp_path / "out"
    no_inv = [a for a in _args(d, out) if a not in ("--investments", str(d / "inv.json"))]
    assert main(["roi", *no_inv]) == 2
    assert "--investments is required" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text('[[investments]]\nname = "x"\ncost = -1\nshifts = []\n')
    args = _args(d, out)
    args[args.index(str(d / "inv.json"))] = str(bad)
    assert main(["roi", *args]) == 2
    assert "bad.toml" in capsys.readouterr().err
    events = pd.read_parquet(d / "events.parquet")
    events.loc[events["signal"] == "nps", "value"] = 42.0
    broken = tmp_path / "events.csv"
    events.to_csv(broken, index=False)
    args = _args(d, out)
    args[args.index(str(d / "events.parquet"))] = str(broken)
    assert main(["roi", *args]) == 3
    err = capsys.readouterr().err
    assert "nps" in err and "Traceback" not in err
    assert not out.exists()  # nothing written on failure
    assert main(["roi", *_args(d, out, "--causal-share", "x,y")]) == 2
    assert "--causal-share" in capsys.readouterr().err
    survey = tmp_path / "survey.toml"
    survey.write_text(
        '[[investments]]\nname = "Survey everyone"\ncost = 100\n'
        '[[investments.shifts]]\ncolumn = "nps_missing"\nmode = "set"\n'
        "amount = 0.0\n"
    )
    args = _args(d, out)
    args[args.index(str(d / "inv.json"))] = str(survey)
    assert main(["roi", *args]) == 3
    err = capsys.readouterr().err
    assert "Survey everyone" in err and "nps_missing" in err and "Traceback" not in err
    assert not out.exists()


def test_cost_per_contact_shows_the_resolution_saving(world_files, tmp_path, capsys) -> None:
    """First-contact resolution pays through fewer repeat contacts once they have a cost."""
    d, _ = world_files
    plain, served = tmp_path / "plain", tmp_path / "served"
    assert main(["roi", *_args(d, plain)]) == 0
    assert (
        main(
            [
                "roi",
                *_args(
                    d,
                    served,
                    "--cost-per-contact",
                    "phone=6,store=4,default=2",
                    "--contact-channel-col",
                    "channel",
                ),
            ]
        )
        == 0
    )
    before = pd.read_csv(plain / "roi.csv").set_index("investment")
    after = pd.read_csv(served / "roi.csv").set_index("investment")
    fcr = "First-contact resolution"
    assert before.loc[fcr, "gain_service_cost"] == 0
    assert after.loc[fcr, "gain_service_cost"] > 0
    assert after.loc[fcr, "service_cost_grade"] == "C"
    # the ROI moves by the change of the incremental value over the (unchanged) cost
    change = after.loc[fcr, "incremental_clv_mean"] - before.loc[fcr, "incremental_clv_mean"]
    assert after.loc[fcr, "roi_mean"] - before.loc[fcr, "roi_mean"] == pytest.approx(
        change / before.loc[fcr, "cost_pv"],
        abs=1e-5
        * (
            abs(after.loc[fcr, "incremental_clv_mean"])
            + abs(before.loc[fcr, "incremental_clv_mean"])
        )
        / before.loc[fcr, "cost_pv"]
        + 1e-6,
    )  # roi.csv keeps 6 significant digits: two roundings bound the error
    assert after.loc[fcr, "roi_mean"] > before.loc[fcr, "roi_mean"]
    record = json.loads((served / "run.json").read_text())
    assert record["parameters"]["cost_per_contact"] == {"phone": 6.0, "store": 4.0, "default": 2.0}
    contact = record["models"]["contact_model"]
    assert contact["params"]["contact[fcr_rate]"] < 0 and contact["dispersion"] > 0
    capsys.readouterr()
    assert main(["roi", *_args(d, tmp_path / "x", "--contact-covariates", "fcr_rate")]) == 2
    assert "--contact-covariates needs --cost-per-contact" in capsys.readouterr().err
    assert main(["roi", *_args(d, tmp_path / "x", "--cost-per-contact", "phone=6")]) == 2
    assert "--contact-channel-col" in capsys.readouterr().err
    assert main(["roi", *_args(d, tmp_path / "x", "--cost-per-contact", "cheap")]) == 2
    assert "--cost-per-contact must be" in capsys.readouterr().err


def test_investment_target_payload_runs_nothing_and_exits_2(
    world_files, tmp_path, capsys, monkeypatch
) -> None:
    """A target that tried to reach os.system through pandas' eval is refused before any work."""
    d, _ = world_files
    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "evil.toml"
    evil.write_text(
        '[[investments]]\nname = "Faster support"\ncost = 7000\n'
        "target = \"(@pd.io.common.os.system('touch PWNED') == 0) | (wait_minutes == "
        'wait_minutes)"\n'
        'shifts = [{column = "wait_minutes", mode = "relative", amount = -0.3}]\n'
    )
    out = tmp_path / "out"
    args = _args(d, out)
    args[args.index(str(d / "inv.json"))] = str(evil)
    assert main(["report", *args]) == 2
    err = capsys.readouterr().err
    assert "unexpected character '@'" in err and "Traceback" not in err
    assert not (tmp_path / "PWNED").exists()
    assert not (out / "report.html").exists()


def test_roi_without_customers_runs(world_files, tmp_path) -> None:
    """--customers is optional: every customer of the transactions gets CX features."""
    d, _ = world_files
    out = tmp_path / "out"
    args = [a for a in _args(d, out) if a not in ("--customers", str(d / "customers.csv"))]
    assert main(["roi", *args]) == 0
    record = json.loads((out / "run.json").read_text())
    assert record["input"]["customers"] is None and len(record["results"]["table"]) == 3


def test_a_failure_while_writing_keeps_every_previous_output(
    world_files, tmp_path, monkeypatch
) -> None:
    """The tables, the report and run.json are installed together: a failure while the
    report is written (after the tables) leaves the previous set byte for byte."""
    import clv.roi

    d, _ = world_files
    out = tmp_path / "out"
    assert main(["report", *_args(d, out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(clv.roi, "write_report", full_disk)
    assert main(["report", *_args(d, out, "--seed", "7")]) == 5
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def _documented_report_command() -> list[str]:
    """The `clv report` command of the README, as a list of arguments."""
    import shlex

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.S)
    lines = next(b for b in blocks if "clv report" in b and "examples/investments.toml" in b)
    command = re.search(
        r"\.venv/bin/clv (report .*?)(?:\n(?!\s)|$)", lines.replace("\\\n", " "), re.S
    )
    assert command is not None
    return shlex.split(command.group(1))


def test_the_documented_report_command_runs(world_files, tmp_path) -> None:
    """README: `make demo` writes out/cx_world/, then `clv report ... examples/investments.toml`."""
    _, world = world_files
    cx_world = tmp_path / "out" / "cx_world"  # what the demo writes, on a smaller world
    cx_world.mkdir(parents=True)
    world.transactions.to_csv(cx_world / "transactions.csv", index=False)
    world.cx_events.to_csv(cx_world / "cx_events.csv", index=False)
    world.customers.to_csv(cx_world / "customers.csv", index=False)
    args = _documented_report_command()
    assert args[0] == "report" and "examples/investments.toml" in args
    repo = Path(__file__).parents[2]
    args = [
        str(tmp_path / a)
        if a.startswith("out/")
        else str(repo / a)
        if a.startswith("examples/")
        else str(tmp_path / a)
        if a == "roi/"
        else a
        for a in args
    ]
    assert main([*args, "--draws", "20", "--quiet"]) == 0
    out = tmp_path / "roi"
    table = pd.read_csv(out / "roi.csv").set_index("investment")
    assert len(table) == 5 and table.loc["first-contact-resolution", "gain_service_cost"] > 0
    doc = (out / "report.html").read_text(encoding="utf-8")
    assert "First-contact resolution" in doc and "€" in doc  # labels and currency
    assert "customers who contacted service" in doc
    record = json.loads((out / "run.json").read_text())
    assert record["parameters"]["budget"] == 20000


def test_revenue_warning_and_fund_option(world_files, tmp_path, capsys) -> None:
    """No --margin: values are revenue, said on stdout, in roi.csv and in the report; --fund
    widens what the budget may fund, and the portfolio says so."""
    d, _ = world_files
    out = tmp_path / "out"
    args = [a for a in _args(d, out, "--budget", "5000", "--fund", "all") if a != "--quiet"]
    assert main(["report", *args]) == 0
    stdout = capsys.readouterr().out
    assert "WARNING: No margin given: every value is REVENUE" in stdout
    assert "REVENUE: no margin given" in stdout
    assert "EVERY investment whatever its recommendation" in stdout
    table = pd.read_csv(out / "roi.csv")
    assert (table["value_basis"] == "revenue").all()
    portfolio = pd.read_csv(out / "roi_portfolio.csv")
    assert portfolio["eligible"].str.contains("EVERY investment").all()
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="revenue-banner"' in html and 'class="warning" id="eligible"' in html
    record = json.loads((out / "run.json").read_text())
    assert record["parameters"]["value_basis"] == "revenue"
    assert record["parameters"]["fund"] == "all"
    bad = _args(d, tmp_path / "bad", "--budget", "5000", "--fund", "maybe")
    assert main(["roi", *bad]) == 2
    assert "--fund must be 'all'" in capsys.readouterr().err
