"""``clv roi`` / ``clv report`` with the acquisition lever: inputs, API agreement, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clv.cli.acquisition import read_new_customers
from clv.cli.config import ACQUISITION_DISTRIBUTIONS, load_config
from clv.cli.main import main
from clv.cx.analysis import run_cx_roi
from clv.exceptions import DataError
from clv.models import AcquisitionModel
from clv.models.acquisition import DISTRIBUTIONS
from clv.roi.examples import example_investments, monthly_acquisition, monthly_new_customers
from clv.synth import simulate_cx_world

N = 3000
DRAWS = 10
REFERRAL = "Referral programme"


def _investments():
    invs = example_investments(N, acquisition=True)
    return [invs[0], next(i for i in invs if i.name == REFERRAL)]


@pytest.fixture(scope="module")
def world_files(tmp_path_factory) -> tuple[Path, object]:
    world = simulate_cx_world(N, seed=3)
    d = tmp_path_factory.mktemp("acq_world")
    world.transactions.to_csv(d / "tx.csv", index=False)
    world.cx_events.to_parquet(d / "events.parquet", index=False)
    world.customers.to_csv(d / "customers.csv", index=False)
    monthly_new_customers(world).to_csv(d / "new_customers.csv", index=False)
    (d / "inv.json").write_text(json.dumps({"investments": [i.to_dict() for i in _investments()]}))
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
        str(DRAWS),
        "--out",
        str(out),
        "--quiet",
        *extra,
    ]


@pytest.fixture(scope="module")
def cli_table(world_files, tmp_path_factory) -> pd.DataFrame:
    d, _ = world_files
    out = tmp_path_factory.mktemp("acq_out") / "out"
    assert main(["roi", *_args(d, out, "--new-customers", str(d / "new_customers.csv"))]) == 0
    record = json.loads((out / "run.json").read_text())
    acq = record["input"]["acquisition"]
    assert acq["new_customers"].endswith("new_customers.csv") and acq["period"] == "M"
    assert acq["covariates"] == "calibration mean"
    return _table(out)


def _table(out: Path) -> pd.DataFrame:
    """The finance table at full precision (roi.csv is rounded for reading)."""
    record = json.loads((out / "run.json").read_text())
    return pd.DataFrame(record["results"]["table"]).set_index("investment")


COMPARED = [
    "incremental_clv_mean",
    "incremental_clv_p05",
    "incremental_clv_p95",
    "npv_mean",
    "roi_mean",
    "gain_acquisition",
    "cost_pv",
]


def test_roi_with_new_customers_matches_the_python_api(world_files, cli_table) -> None:
    d, world = world_files
    # the Python route (clv.roi.examples) and the file agree up to the CSV's 10 digits
    model, future = monthly_acquisition(world, horizon=24)
    counts, cov = read_new_customers(d / "new_customers.csv")
    from_file = AcquisitionModel().fit(counts, covariates=cov)
    pd.testing.assert_series_equal(from_file.params_, model.params_, rtol=1e-6)
    model = from_file
    future = future.assign(promoter_share=float(cov["promoter_share"].mean()))
    api = run_cx_roi(
        world.transactions,
        world.cx_events,
        world.customers,
        _investments(),
        cutoff=world.calibration_end,
        n_draws=DRAWS,
        with_sensitivity=False,
        acquisition_model=model,
        acquisition_covariates=future,
    )
    table = api.roi.table().set_index("investment")
    row, ref = cli_table.loc[REFERRAL], table.loc[REFERRAL]
    assert row["gain_acquisition"] > 0 and row["customers_affected"] == 0
    pd.testing.assert_series_equal(
        row[COMPARED].astype(float), ref[COMPARED].astype(float), rtol=1e-10
    )
    other = "Faster support"
    assert cli_table.loc[other, "gain_acquisition"] == 0
    # the covariate models fitted on the transactions read back from CSV agree to ~1e-7
    assert cli_table.loc[other, "npv_mean"] == pytest.approx(table.loc[other, "npv_mean"], rel=1e-5)


def test_acquisition_model_file_gives_the_same_row(world_files, cli_table, tmp_path) -> None:
    d, _ = world_files
    counts, cov = read_new_customers(d / "new_customers.csv")
    AcquisitionModel().fit(counts, covariates=cov, time_unit="M").to_json(tmp_path / "acq.json")
    out = tmp_path / "out"
    assert main(["roi", *_args(d, out, "--acquisition", str(tmp_path / "acq.json"))]) == 0
    row = _table(out).loc[REFERRAL]
    pd.testing.assert_series_equal(
        row[COMPARED].astype(float), cli_table.loc[REFERRAL, COMPARED].astype(float), rtol=1e-9
    )


def test_weekly_counts_are_mapped_onto_monthly_valuation(world_files, cli_table, tmp_path) -> None:
    """Weekly arrivals with --acquisition-period W: weekly model, gain cumulated into months."""
    d, world = world_files
    weekly = world.acquisition[world.acquisition["week_start"] < world.calibration_end]
    frame = pd.DataFrame(
        {
            "new_customers": weekly["new_customers"].to_numpy(),
            "promoter_share": weekly["promoter_share_lag1"].to_numpy(),
        }
    )
    frame.to_csv(tmp_path / "weekly.csv", index=False)
    out = tmp_path / "out"
    assert (
        main(
            [
                "roi",
                *_args(
                    d,
                    out,
                    "--new-customers",
                    str(tmp_path / "weekly.csv"),
                    "--acquisition-period",
                    "w",
                ),
            ]
        )
        == 0
    )
    row = _table(out).loc[REFERRAL]
    record = json.loads((out / "run.json").read_text())
    beta_w = record["input"]["acquisition"]["params"]["acquisition[promoter_share]"]
    assert beta_w == pytest.approx(
        world.truth.acquisition["beta"]["promoter_share_lag1"], abs=0.5
    )  # weekly counts recover the weekly effect
    counts, cov = read_new_customers(d / "new_customers.csv")
    beta_m = AcquisitionModel().fit(counts, covariates=cov).params_["acquisition[promoter_share]"]
    # the same baseline arrivals, raised by exp(0.1 beta) - 1 while the share is +0.1 higher
    # (monthly means attenuate the weekly effect, so the monthly fit finds a smaller beta)
    ratio = row["gain_acquisition"] / cli_table.loc[REFERRAL, "gain_acquisition"]
    assert ratio == pytest.approx(np.expm1(0.1 * beta_w) / np.expm1(0.1 * beta_m), rel=0.25)
    assert record["input"]["acquisition"]["period_days"] == 7.0


def test_acquisition_shift_without_acquisition_input(world_files, tmp_path, capsys) -> None:
    d, _ = world_files
    out = tmp_path / "out"
    assert main(["roi", *_args(d, out)]) == 3
    err = capsys.readouterr().err
    assert REFERRAL in err and "promoter_share" in err
    assert "--new-customers" in err and "--acquisition" in err and "Traceback" not in err
    assert not out.exists()


def _counts_error(tmp_path: Path, text: str) -> str:
    p = tmp_path / "counts.csv"
    p.write_text(text)
    with pytest.raises(DataError) as info:
        read_new_customers(p)
    return str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("period,count,share\n1,3,0.1\n", ["'new_customers'", "is missing", "count"]),
        ("new_customers,share\n", ["no rows"]),
        (
            "new_customers,share\n3,0.1\n-1,0.2\n2.5,0.3\n,0.1\n",
            ["'new_customers'", "whole number >= 0", "3, 4, 5"],
        ),
        ("period,new_customers,share\n1,3,0.1\n3,4,0.2\n", ["'period'", "without gaps", "3"]),
        ("period,new_customers,share\n1,3,0.1\n2,4,high\n", ["'share'", "finite number", "3"]),
    ],
)
def test_malformed_counts_name_column_rows_and_fix(tmp_path, text, expected) -> None:
    message = _counts_error(tmp_path, text)
    assert "counts.csv" in message and "Fix" in message
    for part in expected:
        assert part in message, (part, message)


def test_acquisition_usage_errors(world_files, tmp_path, capsys) -> None:
    d, _ = world_files
    out = tmp_path / "out"
    nc = str(d / "new_customers.csv")
    assert main(["roi", *_args(d, out, "--new-customers", nc, "--acquisition", nc)]) == 2
    assert "not both" in capsys.readouterr().err
    assert main(["roi", *_args(d, out, "--acquisition-covariates", nc)]) == 2
    assert "needs --acquisition or --new-customers" in capsys.readouterr().err
    assert (
        main(
            [
                "roi",
                *_args(d, out, "--new-customers", nc, "--acquisition-distribution", "lognormal"),
            ]
        )
        == 2
    )
    assert "exponential-gamma" in capsys.readouterr().err
    plain = tmp_path / "plain.json"
    counts, _ = read_new_customers(d / "new_customers.csv")
    AcquisitionModel().fit(counts).to_json(plain)
    assert main(["roi", *_args(d, out, "--acquisition", str(plain))]) == 2
    assert "has no period covariates" in capsys.readouterr().err
    assert (
        main(
            [
                "roi",
                *_args(
                    d, out, "--acquisition", str(plain), "--acquisition-distribution", "weibull"
                ),
            ]
        )
        == 2
    )
    assert "--acquisition-distribution is for --new-customers" in capsys.readouterr().err
    assert main(["roi", *_args(d, out, "--acquisition", str(tmp_path / "none.json"))]) == 5
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "bare.csv").write_text("new_customers\n5\n4\n3\n")
    assert main(["roi", *_args(d, out, "--new-customers", str(tmp_path / "bare.csv"))]) == 3
    assert "no covariate column" in capsys.readouterr().err
    (tmp_path / "bad.csv").write_text("new_customers,share\n5,0.1\n-4,0.2\n")
    assert main(["roi", *_args(d, out, "--new-customers", str(tmp_path / "bad.csv"))]) == 3
    err = capsys.readouterr().err
    assert "bad.csv" in err and "new_customers" in err and "file lines (e.g. 3)" in err
    future = tmp_path / "future.csv"
    future.write_text("period,promoter_share\n13,0.3\n14,0.3\n")
    assert (
        main(
            ["roi", *_args(d, out, "--new-customers", nc, "--acquisition-covariates", str(future))]
        )
        == 3
    )
    assert "periods 13..14; the valuation needs 13..36" in capsys.readouterr().err
    assert not out.exists()


def test_acquisition_options_in_the_job_file(tmp_path) -> None:
    assert ACQUISITION_DISTRIBUTIONS == DISTRIBUTIONS
    job = tmp_path / "job.toml"
    job.write_text(
        '[roi]\nnew_customers = "nc.csv"\nacquisition_distribution = "weibull"\n'
        'acquisition-period = "w"\nacquisition_covariates = "future.csv"\n'
        'acquisition = "acq.json"\n'
    )
    opts = load_config(job, "roi")
    here = str(tmp_path)  # relative paths are relative to the job file's directory
    assert opts == {
        "new_customers": f"{here}/nc.csv",
        "acquisition_distribution": "weibull",
        "acquisition_period": "W",
        "acquisition_covariates": f"{here}/future.csv",
        "acquisition": f"{here}/acq.json",
    }


def test_every_path_in_the_job_file_is_relative_to_it(tmp_path) -> None:
    job = tmp_path / "jobs" / "job.toml"
    job.parent.mkdir()
    job.write_text(
        'input = "tx.csv"\n[roi]\ncx_events = "cx/events.csv"\n'
        'customers = "customers.parquet"\ninvestments = "/abs/investments.toml"\n'
        'out = "out"\n'
    )
    opts = load_config(job, "roi")
    base = job.parent
    assert opts == {
        "input": str(base / "tx.csv"),
        "cx_events": str(base / "cx/events.csv"),
        "customers": str(base / "customers.parquet"),
        "investments": "/abs/investments.toml",
        "out": str(base / "out"),
    }


def test_demo_report_command_reproduces_its_roi_table(tmp_path, monkeypatch) -> None:
    """The demo's CX world on a small world: its printed `clv report` rerun gives its table."""
    from types import SimpleNamespace

    from clv.cli import demo

    monkeypatch.setattr(demo, "CX_CUSTOMERS", N)
    monkeypatch.setattr(demo, "CX_SEED", 3)
    monkeypatch.setattr(demo, "CX_DRAWS", DRAWS)
    out = tmp_path / "demo"
    record = demo._cx_world(
        SimpleNamespace(progress=lambda message: None), out, margin_note=1.0
    )  # the CLI default margin
    world = out / "cx_world"
    assert {"new_customers.csv", "investments.json"} <= {p.name for p in world.iterdir()}
    names = [i["name"] for i in json.loads((world / "investments.json").read_text())["investments"]]
    assert REFERRAL in names and len(names) == 6
    args = demo.report_command(out, record, str(tmp_path / "rerun"))
    assert main([*args, "--quiet"]) == 0
    demo_table = pd.DataFrame(record["table"]).set_index("investment")
    rerun = _table(tmp_path / "rerun")
    assert list(rerun.index) == list(demo_table.index)
    assert demo_table.loc[REFERRAL, "gain_acquisition"] > 0
    # the demo values the cost to serve: first-contact resolution shows its contact saving
    fcr = demo_table.loc["First-contact resolution"]
    assert fcr["gain_service_cost"] > 0 and fcr["service_cost_grade"] == "C"
    assert record["budget"] > 0 and (out / "report.html").exists()
    pd.testing.assert_series_equal(
        rerun.loc[REFERRAL, COMPARED].astype(float),
        demo_table.loc[REFERRAL, COMPARED].astype(float),
        rtol=1e-10,
    )
    # existing-customer investments go through transactions read back from CSV
    pd.testing.assert_series_equal(rerun["npv_mean"], demo_table["npv_mean"], rtol=1e-4)
