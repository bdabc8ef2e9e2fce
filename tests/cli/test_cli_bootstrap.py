"""``clv fit --bootstrap N`` stores draws, ``clv score --intervals bootstrap`` reads them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clv.cli.main import main
from clv.data import rfm_summary
from clv.models.bgnbd import BetaGeoModel
from clv.models.bootstrap import model_at
from clv.persistence import content_checksum
from clv.scoring.bundle import read_bundle
from clv.value import customer_lifetime_value_table

AS_OF = "2021-12-31"
SCORE_ARGS = ["--as-of", AS_OF, "--horizon", "52", "--discount-rate-per-period", "0.002"]
N = 12


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def tx() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    start = pd.Timestamp("2021-01-01")
    rows = []
    for i in range(300):
        day = float(rng.integers(0, 150))
        rate, dropout = rng.gamma(0.9, 1 / 20.0), rng.beta(1.0, 5.0)
        mean_value = rng.gamma(4.0, 6.0)
        n = 0
        while day < 365:
            rows.append((f"c{i:04d}", start + pd.Timedelta(days=int(day)),
                         round(float(rng.gamma(6.0, mean_value / 6.0)) + 0.01, 2)))  # fmt: skip
            if n and rng.random() < dropout:
                break
            n += 1
            day += rng.exponential(1 / rate)
    return pd.DataFrame(rows, columns=["customer_id", "date", "value"])


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory, tx: pd.DataFrame) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("boot")
    csv, model = base / "tx.csv", base / "model.json"
    tx.to_csv(csv, index=False)
    argv = ["fit", csv, "--value-col", "value", "--as-of", AS_OF, "--bootstrap", N,
            "--seed", "7", "--out", model, "-q"]  # fmt: skip
    assert main([str(a) for a in argv]) == 0
    return {"csv": csv, "model": model}


def test_fit_stores_seeded_draws_equal_to_the_api(tx, fitted):
    bundle = read_bundle(fitted["model"])
    rfm = rfm_summary(tx, customer_id_col="customer_id", date_col="date", value_col="value",
                      time_unit="W", observation_end=AS_OF)  # fmt: skip
    bg = BetaGeoModel().fit(rfm)
    want = bg.bootstrap(rfm, N, random_state=7, progress=False)
    got = np.asarray(bundle.bootstrap["transaction"]["draws"])
    assert got.shape[1] == 4 and 2 <= got.shape[0] <= N
    np.testing.assert_allclose(got, want.to_numpy()[: len(got)], rtol=1e-9)
    spend = np.asarray(bundle.bootstrap["spend"]["draws"])
    assert spend.shape == (len(got), 3) and (spend[:, 1] > 1).all()
    record = json.loads(fitted["model"].with_name("model.json.run.json").read_text())
    assert record["model"]["bootstrap"] == {"n_requested": N, "n_draws": len(got), "seed": 7}
    assert "bootstrap" in record["timings_s"]


def test_score_intervals_are_quantiles_over_the_draws(tmp_path, capsys, tx, fitted):
    out = tmp_path / "scores.csv"
    code, _, err = run(capsys, "score", fitted["csv"], "--model", fitted["model"], *SCORE_ARGS,
                       "--intervals", "bootstrap", "--out", out, "-q")  # fmt: skip
    assert code == 0, err
    got = pd.read_csv(out, dtype={"customer_id": "str"}).set_index("customer_id")
    assert list(got.columns[-8:]) == [
        f"{s}_{q}"
        for s in ("probability_alive", "expected_purchases", "expected_spend", "clv")
        for q in ("p05", "p95")
    ]
    bundle = read_bundle(fitted["model"])
    rfm = rfm_summary(tx, customer_id_col="customer_id", date_col="date", value_col="value",
                      time_unit="W", observation_end=AS_OF)  # fmt: skip
    columns = ["r", "alpha", "a", "b"]
    tx_draws = pd.DataFrame(bundle.bootstrap["transaction"]["draws"], columns=columns)
    sp_draws = pd.DataFrame(bundle.bootstrap["spend"]["draws"], columns=["p", "q", "v"])
    clv = np.vstack([
        customer_lifetime_value_table(
            model_at(bundle.transaction_model, tx_draws.iloc[i]),
            model_at(bundle.spend_model, sp_draws.iloc[i]),
            rfm, horizon=52, discount_rate_per_period=0.002,
        )["clv"].to_numpy()
        for i in range(len(tx_draws))
    ])  # fmt: skip
    lo, hi = np.quantile(clv, [0.05, 0.95], axis=0)
    np.testing.assert_allclose(got["clv_p05"], lo, rtol=1e-8)
    np.testing.assert_allclose(got["clv_p95"], hi, rtol=1e-8)
    assert (got["clv_p05"] < got["clv_p95"]).all()
    # the point estimate is the same as without intervals, and lies within a wide band
    plain = tmp_path / "plain.csv"
    assert run(capsys, "score", fitted["csv"], "--model", fitted["model"], *SCORE_ARGS,
               "--out", plain, "-q")[0] == 0  # fmt: skip
    base = pd.read_csv(plain, dtype={"customer_id": "str"}).set_index("customer_id")
    np.testing.assert_allclose(got["clv"], base["clv"], rtol=1e-12)
    record = json.loads((tmp_path / "scores.csv.run.json").read_text())
    assert record["parameters"]["intervals"] == "bootstrap"
    assert record["parameters"]["bootstrap_draws"] == len(tx_draws)
    # --max-draws bounds the scoring time: evenly spaced draws, the same quantile rule
    capped = tmp_path / "capped.csv"
    flags = [*SCORE_ARGS, "--intervals", "bootstrap", "--max-draws", "4", "--out", capped, "-q"]
    code, _, err = run(capsys, "score", fitted["csv"], "--model", fitted["model"], *flags)
    assert code == 0, err
    few = pd.read_csv(capped, dtype={"customer_id": "str"}).set_index("customer_id")
    keep = (np.arange(4) * len(tx_draws)) // 4
    lo4, hi4 = np.quantile(clv[keep], [0.05, 0.95], axis=0)
    np.testing.assert_allclose(few["clv_p05"], lo4, rtol=1e-8)
    np.testing.assert_allclose(few["clv_p95"], hi4, rtol=1e-8)
    assert (
        json.loads((tmp_path / "capped.csv.run.json").read_text())["parameters"]["bootstrap_draws"]
        == 4
    )


def test_bootstrap_errors(tmp_path, capsys, tx, fitted):
    out = tmp_path / "s.csv"
    plain = tmp_path / "plain.json"
    assert run(capsys, "fit", fitted["csv"], "--as-of", AS_OF, "--out", plain, "-q")[0] == 0
    code, _, err = run(capsys, "score", fitted["csv"], "--model", plain, *SCORE_ARGS,
                       "--intervals", "bootstrap", "--out", out)  # fmt: skip
    assert code == 2 and "--bootstrap" in err and "refit" in err
    code, _, err = run(capsys, "fit", fitted["csv"], "--bootstrap", "1", "--out", plain)
    assert code == 2 and "--bootstrap must be" in err
    # damaged draws are a model-file error (exit 5)
    doc = json.loads(fitted["model"].read_text())
    doc["bootstrap"]["transaction"]["draws"][0][0] = -1.0
    doc["checksum"] = content_checksum(doc)  # consistent file, damaged draws
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    code, _, err = run(capsys, "score", fitted["csv"], "--model", bad, *SCORE_ARGS,
                       "--out", out)  # fmt: skip
    assert code == 5 and "bootstrap draws" in err and "not finite and positive" in err
    assert not out.exists()
