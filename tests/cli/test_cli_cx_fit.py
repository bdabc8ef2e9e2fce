"""``clv fit --cx-events`` / ``clv score --cx-events``: CX covariate models in the scoring job."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clv.cli.main import main
from clv.cx import FeatureBuilder, validate_cx_events
from clv.cx.analysis import default_feature_builder
from clv.data import rfm_summary
from clv.models import BetaGeoModel, GammaGammaModel
from clv.synth import simulate_cx_world
from clv.value import customer_lifetime_value

FIT_AS_OF = "2024-12-29"  # the world's cutoff is 2024-12-30
SCORE_AS_OF = "2025-03-30"
PENALIZER = 0.01
HORIZON = 52
DISCOUNT = 0.002


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cxfit")
    world = simulate_cx_world(2000, seed=11)
    paths = {"tx": root / "tx.csv", "ev": root / "ev.csv", "cust": root / "customers.csv"}
    world.transactions.to_csv(paths["tx"], index=False)
    world.cx_events.to_csv(paths["ev"], index=False)
    world.customers.to_csv(paths["cust"], index=False)
    return paths


def _fit_args(files: dict[str, Path], out: Path, *extra: str) -> list[str]:
    return [
        "fit",
        str(files["tx"]),
        "--value-col",
        "value",
        "--model",
        "bgnbd",
        "--cx-events",
        str(files["ev"]),
        "--customers",
        str(files["cust"]),
        "--as-of",
        FIT_AS_OF,
        "--penalizer",
        str(PENALIZER),
        "--out",
        str(out),
        "-q",
        *extra,
    ]


def _score_args(files: dict[str, Path], model: Path, out: Path, *extra: str) -> list[str]:
    return [
        "score",
        str(files["tx"]),
        "--model",
        str(model),
        "--cx-events",
        str(files["ev"]),
        "--customers",
        str(files["cust"]),
        "--as-of",
        SCORE_AS_OF,
        "--horizon",
        str(HORIZON),
        "--discount-rate-per-period",
        str(DISCOUNT),
        "--out",
        str(out),
        "-q",
        *extra,
    ]


@pytest.fixture(scope="module")
def fitted(files: dict[str, Path]) -> dict[str, Path]:
    root = files["tx"].parent
    bundle = root / "model.json"
    assert main(_fit_args(files, bundle)) == 0
    scores = root / "scores.parquet"
    assert main(_score_args(files, bundle, scores)) == 0
    return {"bundle": bundle, "scores": scores}


def _api(files: dict[str, Path]) -> dict[str, object]:
    """The same job with the Python API (ids read as text, as the command line does)."""
    tx = pd.read_csv(files["tx"], dtype={"customer_id": str})
    tx["date"] = pd.to_datetime(tx["date"])
    events = pd.read_csv(files["ev"]).astype({"customer_id": str})
    customers = pd.read_csv(files["cust"]).astype({"customer_id": str})

    def rfm_at(day: str) -> pd.DataFrame:
        end = pd.Timestamp(day) + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")
        return rfm_summary(
            tx[tx["date"] <= end],
            customer_id_col="customer_id",
            date_col="date",
            value_col="value",
            time_unit="W",
            observation_end=end,
        )

    def joined(rfm: pd.DataFrame, X: pd.DataFrame) -> pd.DataFrame:
        data = rfm.join(X)
        data.attrs = dict(rfm.attrs)
        return data

    cutoff = pd.Timestamp(FIT_AS_OF) + pd.Timedelta(days=1)
    fb = default_feature_builder(validate_cx_events(events)["signal"].unique())
    rfm = rfm_at(FIT_AS_OF)
    data = joined(rfm, fb.fit_transform(events, customers, cutoff=cutoff, customer_ids=rfm.index))
    varying = [c for c in fb.feature_names_ if data[c].nunique() > 1]
    tm = BetaGeoModel(
        penalizer=PENALIZER, purchase_covariates=varying, dropout_covariates=varying
    ).fit(data)
    repeat = data[data["frequency"] > 0]
    spend = [c for c in varying if repeat[c].nunique() > 1]
    sm = GammaGammaModel(penalizer=PENALIZER, spend_covariates=spend).fit(data)
    score_cutoff = pd.Timestamp(SCORE_AS_OF) + pd.Timedelta(days=1)
    rfm2 = rfm_at(SCORE_AS_OF)
    X2 = fb.transform(events, customers, cutoff=score_cutoff, customer_ids=rfm2.index)
    data2 = joined(rfm2, X2)
    return {
        "fb": fb,
        "tm": tm,
        "sm": sm,
        "varying": varying,
        "spend": spend,
        "data2": data2,
        "X2": X2,
        "events": events,
        "customers": customers,
        "cutoff": score_cutoff,
    }


@pytest.fixture(scope="module")
def api(files: dict[str, Path]) -> dict[str, object]:
    return _api(files)


def test_bundle_has_features_section(fitted: dict[str, Path], api: dict[str, object]) -> None:
    doc = json.loads(fitted["bundle"].read_text())
    assert doc["schema_version"] == 1 and doc["model"] == "ClvBundle"
    section = doc["features"]
    assert section["cutoff"] == "2024-12-30"
    assert section["builder"]["kind"] == "FeatureBuilder"
    assert section["purchase_covariates"] == api["varying"]
    assert section["dropout_covariates"] == api["varying"]
    assert section["spend_covariates"] == api["spend"]
    assert section["cx_events"]["fingerprint"].startswith("sha256:")
    assert section["customers"]["n_rows"] == 2000
    assert len(api["varying"]) >= 3


def test_scores_equal_python_api(fitted: dict[str, Path], api: dict[str, object]) -> None:
    scores = pd.read_parquet(fitted["scores"]).set_index("customer_id")
    data2 = api["data2"]
    tm, sm = api["tm"], api["sm"]
    assert list(scores.columns) == [
        "frequency",
        "recency",
        "T",
        "monetary_value",
        "probability_alive",
        "expected_purchases",
        "expected_spend",
        "clv",
    ]
    assert scores.index.tolist() == data2.index.tolist()
    expected = {
        "probability_alive": tm.probability_alive(data2),
        "expected_purchases": tm.expected_purchases(float(HORIZON), data2),
        "expected_spend": sm.expected_spend(data2),
        "clv": customer_lifetime_value(
            tm, sm, data2, horizon=HORIZON, discount_rate_per_period=DISCOUNT
        ),
    }
    for column, values in expected.items():
        np.testing.assert_allclose(
            scores[column].to_numpy(),
            np.asarray(values, dtype=float),
            rtol=1e-9,
            atol=0,
            err_msg=column,
        )
    # the covariates matter: customers with the same RFM row get different scores
    dup = data2.duplicated(["frequency", "recency", "T", "monetary_value"], keep=False)
    assert scores.loc[dup, "clv"].nunique() > 1


def test_bundle_round_trips_the_builder(fitted: dict[str, Path], api: dict[str, object]) -> None:
    doc = json.loads(fitted["bundle"].read_text())
    rebuilt = FeatureBuilder.from_dict(doc["features"]["builder"])
    ids = api["data2"].index
    later = api["cutoff"] + pd.Timedelta(days=30)
    pd.testing.assert_frame_equal(
        rebuilt.transform(api["events"], api["customers"], cutoff=later, customer_ids=ids),
        api["fb"].transform(api["events"], api["customers"], cutoff=later, customer_ids=ids),
    )


def test_customers_without_events_get_the_documented_fills(api: dict[str, object]) -> None:
    X2 = api["X2"]
    with_events = set(api["events"]["customer_id"])
    none = [c for c in X2.index if c not in with_events]
    assert none, "the synthetic world should have customers without CX events"
    assert (X2.loc[none, "complaints"] == 0).all()
    assert (X2.loc[none, "nps_missing"] == 1).all()
    assert (X2.loc[none, "wait_minutes_missing"] == 1).all()


def test_rerun_is_byte_identical(
    files: dict[str, Path], fitted: dict[str, Path], tmp_path: Path
) -> None:
    first = fitted["bundle"].read_bytes()
    assert main(_fit_args(files, fitted["bundle"])) == 0
    assert fitted["bundle"].read_bytes() == first
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    assert main(_score_args(files, fitted["bundle"], a)) == 0
    assert main(_score_args(files, fitted["bundle"], b)) == 0
    assert a.read_bytes() == b.read_bytes()


def test_score_needs_cx_events_for_a_cx_bundle(
    files: dict[str, Path],
    fitted: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "s.csv"
    code = main(
        [
            "score",
            str(files["tx"]),
            "--model",
            str(fitted["bundle"]),
            "--as-of",
            SCORE_AS_OF,
            "--horizon",
            "52",
            "--out",
            str(out),
        ]
    )
    assert code == 2
    assert "--cx-events" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("extra", [["--model", "mbgnbd"], ["--as-of", ""], ["--engine", "spark"]])
def test_fit_usage_errors(files: dict[str, Path], tmp_path: Path, extra: list[str]) -> None:
    out = tmp_path / "m.json"
    args = _fit_args(files, out)
    if extra[0] == "--model":
        args[args.index("bgnbd")] = extra[1]
    elif extra[0] == "--engine":  # CX covariates are fitted by the pandas engine only
        args += extra
    else:  # no --as-of
        i = args.index("--as-of")
        del args[i : i + 2]
    assert main(args) == 2
    assert not out.exists()


def test_plain_bundle_unchanged_and_refuses_cx_events(
    files: dict[str, Path], tmp_path: Path
) -> None:
    bundle = tmp_path / "plain.json"
    assert (
        main(
            [
                "fit",
                str(files["tx"]),
                "--value-col",
                "value",
                "--as-of",
                FIT_AS_OF,
                "--out",
                str(bundle),
                "-q",
            ]
        )
        == 0
    )
    assert "features" not in json.loads(bundle.read_text())
    out = tmp_path / "s.csv"
    assert (
        main(
            [
                "score",
                str(files["tx"]),
                "--model",
                str(bundle),
                "--as-of",
                SCORE_AS_OF,
                "--horizon",
                "52",
                "--out",
                str(out),
                "-q",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "score",
                str(files["tx"]),
                "--model",
                str(bundle),
                "--cx-events",
                str(files["ev"]),
                "--as-of",
                SCORE_AS_OF,
                "--horizon",
                "52",
                "--out",
                str(tmp_path / "s2.csv"),
                "-q",
            ]
        )
        == 2
    )
