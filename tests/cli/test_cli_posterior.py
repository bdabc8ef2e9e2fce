"""`clv fit --bayes` and `clv score --model model.nc`: posterior model files and chunked scoring."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from clv.cli.main import main
from clv.data import rfm_summary
from clv.exceptions import ModelFileError
from clv.models.bgnbd import BetaGeoModel
from clv.models.gamma_gamma import GammaGammaModel
from clv.scoring.posterior import (
    POSTERIOR_SCHEMA_VERSION,
    load_posterior_models,
    read_posterior_bundle,
    write_posterior_bundle,
)
from clv.scoring.posterior_scores import draw_indices, posterior_score_table
from tests.cli.test_cli import AS_OF, make_transactions, read_scores

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
SCORES = ("probability_alive", "expected_purchases", "expected_spend", "clv")


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def posterior_models(
    rfm: pd.DataFrame, *, chains: int = 2, draws: int = 15, seed: int = 0
) -> tuple[object, object]:
    """clv.bayes models whose draws are the MLE fits' asymptotic normal (log scale) draws."""
    import arviz as az

    import clv.bayes

    rng = np.random.default_rng(seed)
    out = []
    for mle, bayes in (
        (BetaGeoModel().fit(rfm), clv.bayes.BetaGeoModel),
        (GammaGammaModel().fit(rfm), clv.bayes.GammaGammaModel),
    ):
        names = list(mle.params_.index)
        mean = np.log(mle.params_.to_numpy())
        scale = np.diag(1 / mle.params_.to_numpy())
        cov = scale @ mle.covariance_.to_numpy() @ scale  # delta method: covariance of log θ
        values = np.exp(rng.multivariate_normal(mean, cov, size=chains * draws))
        posterior = {n: values[:, j].reshape(chains, draws) for j, n in enumerate(names)}
        model = bayes.from_idata(az.from_dict(posterior=posterior), method="external")
        model.time_unit_ = "W"
        out.append(model)
    return out[0], out[1]


@pytest.fixture(scope="module")
def tx() -> pd.DataFrame:
    return make_transactions(np.random.default_rng(11), n_customers=250)


@pytest.fixture(scope="module")
def rfm(tx: pd.DataFrame) -> pd.DataFrame:
    return rfm_summary(
        tx,
        customer_id_col="customer_id",
        date_col="date",
        value_col="value",
        time_unit="W",
        observation_end=AS_OF,
    )


@pytest.fixture(scope="module")
def files(
    tmp_path_factory: pytest.TempPathFactory, tx: pd.DataFrame, rfm: pd.DataFrame
) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("posterior")
    paths = {"csv": base / "tx.csv", "model": base / "model.nc", "json": base / "model.json"}
    tx.to_csv(paths["csv"], index=False)
    bg, gg = posterior_models(rfm)
    write_posterior_bundle(
        bg,
        gg,
        paths["model"],
        time_unit="W",
        columns={"customer_col": "customer_id", "date_col": "date", "value_col": "value"},
        training={"fingerprint": "sha256:test", "observation_end": AS_OF},
    )
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
                str(paths["json"]),
                "--quiet",
            ]
        )
        == 0
    )
    return paths


def direct_summary(rfm: pd.DataFrame, path: Path, thin: int = 1) -> pd.DataFrame:
    """The scores computed with clv.bayes over the draws (mean, 5%, 95%)."""
    from clv.bayes import customer_lifetime_value

    bg, gg = load_posterior_models(path)
    parts = {
        "probability_alive": bg.probability_alive(rfm, thin=thin, summary_only=True),
        "expected_purchases": bg.expected_purchases(52, rfm, thin=thin, summary_only=True),
        "expected_spend": gg.summarize(gg.expected_spend(rfm).isel(draw=slice(None, None, thin))),
        "clv": customer_lifetime_value(
            bg,
            gg,
            rfm,
            horizon=52,
            discount_rate_per_period=0.002,
            margin=0.5,
            thin=thin,
            summary_only=True,
        ),
    }
    return pd.DataFrame(
        {
            f"{name}{suffix}": part[col].to_numpy()
            for name, part in parts.items()
            for suffix, col in (("", "mean"), ("_p05", "5%"), ("_p95", "95%"))
        },
        index=rfm.index,
    )


# ---------------------------------------------------------------------- scoring
def test_score_equals_direct_computation_over_draws(tmp_path, capsys, rfm, files):
    out = tmp_path / "scores.csv"
    code, _, stderr = run(
        capsys,
        "score",
        files["csv"],
        "--model",
        files["model"],
        *SCORE_ARGS,
        "--max-draws",
        "0",
        "--out",
        out,
    )
    assert code == 0, stderr
    got = read_scores(out)
    want = direct_summary(rfm, files["model"])
    assert list(got.columns[:8]) == ["frequency", "recency", "T", "monetary_value", *SCORES]
    assert list(got.columns[8:]) == [f"{s}_{q}" for s in SCORES for q in ("p05", "p95")]
    assert list(got.index) == list(want.index)
    for column in want.columns:
        np.testing.assert_allclose(
            got[column].to_numpy(), want[column].to_numpy(), rtol=1e-9, err_msg=column
        )
    assert (got["clv_p05"] < got["clv_p95"]).all()
    record = json.loads(out.with_name(out.name + ".run.json").read_text())
    assert record["model"]["format"] == "netcdf"
    assert record["model"]["training_fingerprint"] == "sha256:test"
    assert record["parameters"]["max_draws"] is None


def test_thin_equals_direct_computation_with_thin(tmp_path, capsys, rfm, files):
    out = tmp_path / "scores.csv"
    code, _, stderr = run(
        capsys,
        "score",
        files["csv"],
        "--model",
        files["model"],
        *SCORE_ARGS,
        "--thin",
        "3",
        "--max-draws",
        "0",
        "--out",
        out,
    )
    assert code == 0, stderr
    got, want = read_scores(out), direct_summary(rfm, files["model"], thin=3)
    for column in want.columns:
        np.testing.assert_allclose(
            got[column].to_numpy(), want[column].to_numpy(), rtol=1e-9, err_msg=column
        )


def test_draw_selection():
    assert draw_indices(2, 6, thin=3).tolist() == [0, 3, 6, 9]
    assert draw_indices(2, 6, max_draws=4).tolist() == [0, 3, 6, 9]
    assert draw_indices(1, 5, max_draws=10).tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="thin"):
        draw_indices(1, 5, thin=0)


@pytest.mark.parametrize("discount_rate", [0.0, 0.002])
def test_chunked_equals_unchunked(rfm, files, discount_rate):
    bundle = read_posterior_bundle(files["model"])
    kwargs = {"horizon": 52, "discount_rate": discount_rate, "margin": 0.5, "max_draws": None}
    whole = posterior_score_table(bundle, rfm, chunk_cells=10**9, **kwargs)
    chunked = posterior_score_table(bundle, rfm, chunk_cells=30 * 7, **kwargs)  # 7 customers
    pd.testing.assert_frame_equal(chunked, whole, check_exact=False, rtol=1e-13)
    assert whole["customer_id"].tolist() == rfm.index.tolist()


def test_zero_discount_uses_the_telescoped_sum(rfm, files):
    """d = 0: CLV = margin x spend x E[N(0, H]] per draw, as clv.bayes computes it."""
    from clv.bayes import customer_lifetime_value

    bundle = read_posterior_bundle(files["model"])
    got = posterior_score_table(
        bundle, rfm, horizon=52, discount_rate=0.0, margin=0.5, max_draws=None
    )
    bg, gg = load_posterior_models(files["model"])
    want = customer_lifetime_value(
        bg, gg, rfm, horizon=52, discount_rate_per_period=0.0, margin=0.5, summary_only=True
    )
    np.testing.assert_allclose(got["clv"], want["mean"], rtol=1e-9)
    np.testing.assert_allclose(got["clv_p95"], want["95%"], rtol=1e-9)


def test_rerun_is_byte_identical_and_max_draws_changes_scores(tmp_path, capsys, files):
    outs = [tmp_path / f"s{i}.csv" for i in range(3)]
    for out, draws in zip(outs, ("7", "7", "0"), strict=True):
        assert (
            run(
                capsys,
                "score",
                files["csv"],
                "--model",
                files["model"],
                *SCORE_ARGS,
                "--max-draws",
                draws,
                "--out",
                out,
                "-q",
            )[0]
            == 0
        )
    assert outs[0].read_bytes() == outs[1].read_bytes()
    assert outs[0].read_bytes() != outs[2].read_bytes()


def test_score_with_a_posterior_never_imports_pymc(tmp_path, files):
    out = tmp_path / "scores.csv"
    code = (
        "import sys\n"
        "from clv.cli.main import main\n"
        f"rc = main(['score', {str(files['csv'])!r}, '--model', {str(files['model'])!r}, "
        f"'--as-of', '{AS_OF}', '--horizon', '52', '--out', {str(out)!r}, '-q'])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pymc', 'pytensor', 'arviz', 'matplotlib'))\n"
        "print(rc, heavy)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "0 []", proc.stdout + proc.stderr[-2000:]
    assert len(read_scores(out)) > 0


# ---------------------------------------------------------------------- errors
def test_time_unit_mismatch_is_the_usage_error(tmp_path, capsys, files):
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
    assert not out.exists()


def _foreign(path: Path) -> None:
    xr.Dataset({"temperature": ("x", np.arange(3.0))}).to_netcdf(path, engine="h5netcdf")


def _single_posterior(path: Path, files: dict[str, Path]) -> None:
    bg, _ = load_posterior_models(files["model"])
    bg.to_netcdf(path)


def _schema(path: Path, files: dict[str, Path]) -> None:
    path.write_bytes(files["model"].read_bytes())
    with h5py.File(path, "a") as fh:
        fh.attrs["schema_version"] = POSTERIOR_SCHEMA_VERSION + 1


def _other_model(path: Path, files: dict[str, Path]) -> None:
    path.write_bytes(files["model"].read_bytes())
    with h5py.File(path, "a") as fh:
        fh.attrs["transaction_model"] = "ShiftedBetaGeoModel"
        fh["transaction_posterior"].attrs["model"] = "ShiftedBetaGeoModel"


def _truncated(path: Path, files: dict[str, Path]) -> None:
    data = files["model"].read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _garbage(path: Path, files: dict[str, Path]) -> None:
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 8)


def _negative_draws(path: Path, files: dict[str, Path]) -> None:
    path.write_bytes(files["model"].read_bytes())
    with h5py.File(path, "a") as fh:
        fh["transaction_posterior/alpha"][0, 0] = -1.0


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p, f: _foreign(p), "not a clv posterior model file"),
        (_single_posterior, "single BetaGeoModel posterior"),
        (_schema, f"schema version {POSTERIOR_SCHEMA_VERSION + 1}"),
        (_other_model, "ShiftedBetaGeoModel"),
        (_truncated, "not a readable netCDF"),
        (_garbage, "not a readable netCDF"),
        (_negative_draws, "not all finite and positive"),
    ],
)
def test_foreign_damaged_or_other_version_model_file_exit_5(tmp_path, capsys, files, make, message):
    model, out = tmp_path / "bad.nc", tmp_path / "scores.csv"
    out.write_text("previous\n")
    make(model, files)
    code, _, stderr = run(
        capsys, "score", files["csv"], "--model", model, *SCORE_ARGS, "--out", out
    )
    assert code == 5, stderr
    assert "model file error" in stderr and message in stderr, stderr
    assert "Traceback" not in stderr
    assert out.read_text() == "previous\n"


def test_read_errors_are_model_file_errors(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        read_posterior_bundle(tmp_path / "missing.nc")


def test_usage_errors(tmp_path, capsys, files):
    code, _, stderr = run(
        capsys, "fit", files["csv"], "--bayes", "map", "--out", tmp_path / "m.json"
    )
    assert code == 2 and "must end with .nc" in stderr
    code, _, stderr = run(capsys, "fit", files["csv"], "--out", tmp_path / "m.nc")
    assert code == 2 and "--bayes" in stderr
    code, _, stderr = run(
        capsys, "fit", files["csv"], "--bayes", "gibbs", "--out", tmp_path / "m.nc"
    )
    assert code == 2
    code, _, stderr = run(
        capsys,
        "score",
        files["csv"],
        "--model",
        files["model"],
        *SCORE_ARGS,
        "--thin",
        "0",
        "--out",
        tmp_path / "s.csv",
    )
    assert code == 2 and "--thin" in stderr
    code, _, stderr = run(
        capsys,
        "score",
        files["csv"],
        "--model",
        files["model"],
        *SCORE_ARGS,
        "--engine",
        "spark",
        "--out",
        tmp_path / "s.csv",
    )
    assert code == 2 and "posterior model file" in stderr


# ---------------------------------------------------------------------- clv fit --bayes
def test_fit_bayes_map_writes_a_posterior_model_file(tmp_path, capsys, rfm, files):
    model = tmp_path / "map.nc"
    code, stdout, stderr = run(
        capsys,
        "fit",
        files["csv"],
        "--value-col",
        "value",
        "--as-of",
        AS_OF,
        "--bayes",
        "map",
        "--out",
        model,
    )
    assert code == 0, stderr
    assert "BetaGeoModel (map) posterior" in stdout
    with h5py.File(model, "r") as fh:
        assert set(fh) >= {"transaction_posterior", "spend_posterior"}
    with xr.open_dataset(model, engine="h5netcdf") as root:
        attrs = dict(root.attrs)
    with xr.open_dataset(model, group="transaction_posterior", engine="h5netcdf") as group:
        assert group.attrs["model"] == "BetaGeoModel"
        assert dict(group.sizes) == {"chain": 1, "draw": 1}
    assert attrs["model"] == "ClvPosteriorBundle"
    assert int(attrs["schema_version"]) == POSTERIOR_SCHEMA_VERSION
    assert attrs["time_unit"] == "W" and attrs["method"] == "map" and attrs["clv_version"]
    training = json.loads(attrs["training_json"])
    bundle = json.loads(files["json"].read_text())
    assert training["fingerprint"] == bundle["training"]["fingerprint"]
    assert json.loads(attrs["columns_json"])["value_col"] == "value"
    # one draw: the quantiles are the point values, computed by the MLE pure functions
    out = tmp_path / "scores.csv"
    assert run(capsys, "score", files["csv"], "--model", model, *SCORE_ARGS, "--out", out)[0] == 0
    got = read_scores(out)
    for score in SCORES:
        np.testing.assert_array_equal(got[f"{score}_p05"], got[score])
        np.testing.assert_array_equal(got[f"{score}_p95"], got[score])
    draws = read_posterior_bundle(model).transaction_model.params
    mle = BetaGeoModel()
    mle.params_ = pd.Series({k: float(v[0, 0]) for k, v in draws.items()}, dtype=np.float64)
    np.testing.assert_allclose(got["probability_alive"], mle.probability_alive(rfm), rtol=1e-9)


@pytest.mark.slow
def test_fit_bayes_nuts_then_score(tmp_path, capsys, files):
    model = tmp_path / "nuts.nc"
    code, _, stderr = run(
        capsys,
        "fit",
        files["csv"],
        "--as-of",
        AS_OF,
        "--bayes",
        "nuts",
        "--draws",
        "60",
        "--tune",
        "60",
        "--chains",
        "2",
        "--seed",
        "1",
        "--out",
        model,
        "-q",
    )
    assert code == 0, stderr
    bundle = read_posterior_bundle(model)
    assert bundle.spend_model is None and bundle.transaction_model.shape == (2, 60)
    out = tmp_path / "scores.csv"
    assert run(capsys, "score", files["csv"], "--model", model, *SCORE_ARGS, "--out", out)[0] == 0
    got = read_scores(out)
    assert "clv" not in got.columns
    assert (got["expected_purchases_p05"] <= got["expected_purchases"]).all()
    assert (got["expected_purchases"] <= got["expected_purchases_p95"]).all()
