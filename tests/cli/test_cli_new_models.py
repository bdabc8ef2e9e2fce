"""``clv fit/score/evaluate`` with the NBD and CNBD-k models and the Gamma-Gamma options."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clv.cli.main import main
from clv.data import calibration_holdout_split, rfm_summary
from clv.exceptions import ConvergenceWarning
from clv.models import BetaGeoCNBDModel, ModifiedBetaGeoCNBDModel, NBDModel
from clv.models.gamma_gamma import GammaGammaModel
from clv.scoring.bundle import read_bundle
from clv.value import customer_lifetime_value_table

AS_OF = "2021-12-31"
SCORE_ARGS = ["--as-of", AS_OF, "--horizon", "52", "--discount-rate-per-period", "0.002"]
SCORES = ["probability_alive", "expected_purchases", "expected_spend", "clv"]


def regular_transactions(rng: np.random.Generator, n_customers: int = 250) -> pd.DataFrame:
    """A 2021 log with Erlang-3 (regular) gaps and dropout after each purchase."""
    start = pd.Timestamp("2021-01-01")
    rows = []
    for i in range(n_customers):
        day = float(rng.integers(0, 120))
        rate = rng.gamma(3.0, 1 / 60.0)  # Erlang-3: mean gap 3 / rate days
        dropout = rng.beta(1.0, 6.0)
        mean_value = rng.gamma(4.0, 6.0)
        while day < 365:
            rows.append(
                (
                    f"c{i:04d}",
                    start + pd.Timedelta(days=int(day)),
                    round(float(rng.gamma(6.0, mean_value / 6.0)) + 0.01, 2),
                )
            )
            if rng.random() < dropout:
                break
            day += float(rng.gamma(3.0, 1 / rate))
    return pd.DataFrame(rows, columns=["customer_id", "date", "value"])


@pytest.fixture(scope="module")
def tx() -> pd.DataFrame:
    return regular_transactions(np.random.default_rng(11))


@pytest.fixture(scope="module")
def csv(tmp_path_factory: pytest.TempPathFactory, tx: pd.DataFrame) -> Path:
    path = tmp_path_factory.mktemp("inputs") / "tx.csv"
    tx.to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def rfm(tx: pd.DataFrame) -> pd.DataFrame:
    return rfm_summary(
        tx,
        customer_id_col="customer_id",
        date_col="date",
        value_col="value",
        time_unit="W",
        observation_end=AS_OF,
        litt=True,
    )


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


MODELS = {
    "nbd": NBDModel,
    "mbgcnbd": ModifiedBetaGeoCNBDModel,
    "bgcnbd": BetaGeoCNBDModel,
}


@pytest.mark.parametrize("name", list(MODELS))
def test_fit_and_score_equal_the_python_api(tmp_path, capsys, csv, rfm, name):
    model_path = tmp_path / "model.json"
    code, _, err = run(
        capsys, "fit", csv, "--value-col", "value", "--as-of", AS_OF, "--model", name,
        "--out", model_path, "-q",
    )  # fmt: skip
    assert code == 0, err
    want = MODELS[name]().fit(rfm)
    bundle = read_bundle(model_path)
    assert type(bundle.transaction_model) is MODELS[name]
    assert bundle.transaction_model.params_.to_dict() == pytest.approx(
        want.params_.to_dict(), rel=1e-9
    )
    record = json.loads(model_path.with_name("model.json.run.json").read_text())
    assert record["model"]["transaction_model"] == MODELS[name].__name__
    assert record["model"]["log_likelihood"] == pytest.approx(want.log_likelihood_, rel=1e-9)
    assert set(record["model"]["params"]) == set(want.params_.index)
    if name != "nbd":
        assert bundle.transaction_model.k_ == want.k_ == record["model"]["k"]
        assert want.k_ > 1  # the world is regular: the order is found, litt was used

    out = tmp_path / "scores.csv"
    code, _, err = run(
        capsys, "score", csv, "--model", model_path, *SCORE_ARGS, "--margin", "0.5",
        "--out", out, "-q",
    )  # fmt: skip
    assert code == 0, err
    got = pd.read_csv(out, dtype={"customer_id": "str"}).set_index("customer_id")
    spend = GammaGammaModel().fit(rfm)
    ref = customer_lifetime_value_table(
        want, spend, rfm, horizon=52, discount_rate_per_period=0.002, margin=0.5
    )
    assert list(got.index) == list(ref.index)
    for column in SCORES:
        np.testing.assert_allclose(got[column], ref[column], rtol=1e-8, err_msg=column)
    assert got["clv"].notna().all() and (got["clv"] > 0).all()


def test_cnbd_litt_is_in_the_fit_time_unit(tmp_path, capsys, csv, tx):
    """With --time-unit D the summary's litt is in days: the fit equals the daily API fit."""
    model_path = tmp_path / "model.json"
    code, _, err = run(
        capsys, "fit", csv, "--as-of", AS_OF, "--model", "mbgcnbd", "--time-unit", "D",
        "--out", model_path, "-q",
    )  # fmt: skip
    assert code == 0, err
    daily = rfm_summary(
        tx, customer_id_col="customer_id", date_col="date", time_unit="D",
        observation_end=AS_OF, litt=True,
    )  # fmt: skip
    want = ModifiedBetaGeoCNBDModel().fit(daily)
    got = read_bundle(model_path).transaction_model
    assert got.k_ == want.k_
    assert got.params_.to_dict() == pytest.approx(want.params_.to_dict(), rel=1e-9)
    assert got.time_unit_ == "D"


def test_evaluate_compares_old_and_new_models(tmp_path, capsys, csv, tx):
    out = tmp_path / "holdout.csv"
    code, stdout, err = run(
        capsys, "evaluate", csv, "--calibration-end", "2021-09-30", "--as-of", AS_OF,
        "--model", "bgnbd,nbd,mbgcnbd", "--out", out, "--json",
    )  # fmt: skip
    assert code == 0, err
    result = json.loads(stdout)
    names = [m["model"] for m in result["metrics"]]
    assert names == ["bgnbd", "nbd", "mbgcnbd"]
    frame = calibration_holdout_split(
        tx, customer_id_col="customer_id", date_col="date", time_unit="W",
        calibration_end="2021-09-30", observation_end=AS_OF, litt=True,
    )  # fmt: skip
    calibration = frame.drop(columns=[c for c in frame.columns if c.endswith("_holdout")])
    with warnings.catch_warnings():  # the CLI logs the same (Hessian) warnings
        warnings.simplefilter("ignore", ConvergenceWarning)
        want = ModifiedBetaGeoCNBDModel().fit(calibration)
    cnbd = result["metrics"][2]
    assert cnbd["k"] == want.k_
    assert cnbd["log_likelihood"] == pytest.approx(want.log_likelihood_, rel=1e-9)
    table = pd.read_csv(out)
    predicted = want.expected_purchases(frame["duration_holdout"].to_numpy(), calibration)
    np.testing.assert_allclose(table["predicted_mbgcnbd"], predicted.to_numpy(), rtol=1e-8)


def test_unknown_model_and_unfittable_combinations_exit_2(tmp_path, capsys, csv):
    code, _, err = run(capsys, "fit", csv, "--model", "cnbd", "--out", tmp_path / "m.json")
    assert code == 2
    assert "--model must be one of" in err and "mbgcnbd" in err
    code, _, err = run(
        capsys, "evaluate", csv, "--calibration-end", "2021-09-30", "--model", "bgnbd,foo"
    )
    assert code == 2 and "'foo'" in err
    code, _, err = run(
        capsys, "fit", csv, "--model", "nbd", "--cx-events", csv, "--as-of", AS_OF,
        "--out", tmp_path / "m.json",
    )  # fmt: skip
    assert code == 2 and "--cx-events" in err and "--model nbd" in err
    code, _, err = run(
        capsys, "fit", csv, "--model", "bgcnbd", "--engine", "spark", "--as-of", AS_OF,
        "--out", tmp_path / "m.json",
    )  # fmt: skip
    assert code == 2 and "--engine spark" in err and "pandas engine" in err
    code, _, err = run(
        capsys, "fit", csv, "--model", "mbgcnbd", "--bayes", "map", "--out", tmp_path / "m.nc"
    )
    assert code == 2 and "--bayes fits --model bgnbd or mbgnbd or pnbd or nbd" in err
    assert not (tmp_path / "m.json").exists()


def test_older_bundle_still_loads(tmp_path, capsys, csv):
    """A bundle written before these models (BG/NBD) loads and scores as before."""
    model_path = tmp_path / "model.json"
    assert run(capsys, "fit", csv, "--as-of", AS_OF, "--out", model_path, "-q")[0] == 0
    doc = json.loads(model_path.read_text())
    assert doc["schema_version"] == 1 and doc["transaction_model"]["model"] == "BetaGeoModel"
    out = tmp_path / "scores.csv"
    code, _, err = run(capsys, "score", csv, "--model", model_path, *SCORE_ARGS, "--out", out, "-q")
    assert code == 0, err


# ---------------------------------------------------------------------- Gamma-Gamma options
@pytest.mark.parametrize(
    ("flags", "likelihood", "q_constraint"),
    [
        (["--spend-likelihood", "transactions"], "transactions", False),
        (["--q-constraint"], "mean", True),
        (["--spend-likelihood", "transactions", "--q-constraint"], "transactions", True),
    ],
)
def test_spend_options_fit_persist_and_score(
    tmp_path, capsys, csv, tx, flags, likelihood, q_constraint
):
    model_path = tmp_path / "model.json"
    code, _, err = run(
        capsys, "fit", csv, "--value-col", "value", "--as-of", AS_OF, *flags,
        "--out", model_path, "-q",
    )  # fmt: skip
    assert code == 0, err
    rfm = rfm_summary(
        tx, customer_id_col="customer_id", date_col="date", value_col="value",
        time_unit="W", observation_end=AS_OF, mean_log_value=True,
    )  # fmt: skip
    want = GammaGammaModel(likelihood=likelihood, q_constraint=q_constraint).fit(rfm)
    spend = read_bundle(model_path).spend_model
    assert (spend.likelihood, spend.q_constraint) == (likelihood, q_constraint)
    assert spend.params_.to_dict() == pytest.approx(want.params_.to_dict(), rel=1e-8)
    record = json.loads(model_path.with_name("model.json.run.json").read_text())
    assert record["model"]["spend_likelihood"] == likelihood
    assert record["model"]["q_constraint"] is q_constraint
    if likelihood == "transactions":  # another likelihood: other estimates than the default
        mean_fit = GammaGammaModel().fit(rfm)
        assert abs(want.params_["p"] / mean_fit.params_["p"] - 1) > 1e-4

    out = tmp_path / "scores.csv"
    code, _, err = run(capsys, "score", csv, "--model", model_path, *SCORE_ARGS, "--out", out, "-q")
    assert code == 0, err
    got = pd.read_csv(out, dtype={"customer_id": "str"}).set_index("customer_id")
    np.testing.assert_allclose(
        got["expected_spend"], want.expected_spend(rfm).to_numpy(), rtol=1e-8
    )


def test_mean_log_value_is_the_mean_log_of_repeat_period_totals():
    """Same-week purchases merge into one value; the first period is left out."""
    log = pd.DataFrame(
        {
            "id": ["a", "a", "a", "a", "b"],
            "day": pd.to_datetime(
                ["2021-01-01", "2021-01-05", "2021-01-06", "2021-01-20", "2021-01-04"]
            ),
            "v": [1.0, 2.0, 3.0, 4.0, 5.0],
        }
    )
    rfm = rfm_summary(
        log, customer_id_col="id", date_col="day", value_col="v", time_unit="W",
        observation_end="2021-02-01", mean_log_value=True,
    )  # fmt: skip
    assert rfm.loc["a", "frequency"] == 2 and rfm.loc["a", "monetary_value"] == 4.5
    assert rfm.loc["a", "mean_log_value"] == pytest.approx((np.log(5.0) + np.log(4.0)) / 2)
    assert rfm.loc["b", "mean_log_value"] == 0.0


def test_spend_option_errors(tmp_path, capsys, csv, tx):
    out = tmp_path / "m.json"
    code, _, err = run(capsys, "fit", csv, "--q-constraint", "--out", out)
    assert code == 2 and "--q-constraint" in err and "--value-col" in err
    code, _, err = run(
        capsys, "fit", csv, "--value-col", "value", "--spend-likelihood", "values", "--out", out
    )
    assert code == 2 and "--spend-likelihood" in err and "transactions" in err
    code, _, err = run(
        capsys, "fit", csv, "--value-col", "value", "--spend-likelihood", "transactions",
        "--engine", "spark", "--out", out,
    )  # fmt: skip
    assert code == 2 and "pandas engine" in err
    # a repeat period worth 0: its log is -inf -> data error naming the fix
    zero = tx.copy()
    later = zero.groupby("customer_id")["date"].transform("min") < zero["date"]
    zero.loc[later[later].index[:1], "value"] = 0.0
    path = tmp_path / "zero.csv"
    zero.to_csv(path, index=False)
    code, _, err = run(
        capsys, "fit", path, "--value-col", "value", "--as-of", AS_OF,
        "--spend-likelihood", "transactions", "--out", out,
    )  # fmt: skip
    assert code == 3 and "--spend-likelihood mean" in err and "zero-value rows" in err
    assert not out.exists()


def test_mean_log_value_matches_spend_summary_without_merged_periods(tx):
    """Daily periods and one purchase a day: the repeat-period totals are the repeat values."""
    from clv.models.gamma_gamma import spend_summary

    daily = tx.drop_duplicates(["customer_id", "date"])
    rfm = rfm_summary(
        daily, customer_id_col="customer_id", date_col="date", value_col="value",
        time_unit="D", observation_end=AS_OF, mean_log_value=True,
    )  # fmt: skip
    first = daily.groupby("customer_id")["date"].transform("min")
    repeat = daily[daily["date"] > first]
    want = spend_summary(repeat, customer_id_col="customer_id", value_col="value")
    got = rfm.loc[want.index]
    np.testing.assert_allclose(got["mean_log_value"], want["mean_log_value"], rtol=1e-12)
    np.testing.assert_allclose(got["monetary_value"], want["monetary_value"], rtol=1e-12)
    assert (rfm.loc[rfm["frequency"] == 0, "mean_log_value"] == 0).all()


# ---------------------------------------------------------------------- evaluate: spend options
CAL_END = "2021-09-30"


@pytest.mark.parametrize(
    ("flags", "likelihood", "q_constraint"),
    [
        ([], "mean", False),
        (["--spend-likelihood", "transactions"], "transactions", False),
        (["--spend-likelihood", "transactions", "--q-constraint"], "transactions", True),
    ],
)
def test_evaluate_fits_the_calibration_spend_model_with_the_spend_options(
    capsys, csv, tx, flags, likelihood, q_constraint
):
    code, stdout, err = run(
        capsys, "evaluate", csv, "--value-col", "value", "--calibration-end", CAL_END,
        "--as-of", AS_OF, "--model", "bgnbd", *flags, "--json",
    )  # fmt: skip
    assert code == 0, err
    spend = json.loads(stdout)["metrics"][-1]
    assert spend["model"] == "gamma_gamma"
    assert (spend["spend_likelihood"], spend["q_constraint"]) == (likelihood, q_constraint)
    # the spend model of the calibration period alone: the log cut at calibration_end
    cal = rfm_summary(
        tx[tx["date"] <= CAL_END], customer_id_col="customer_id", date_col="date",
        value_col="value", time_unit="W", observation_end=CAL_END, mean_log_value=True,
    )  # fmt: skip
    want = GammaGammaModel(likelihood=likelihood, q_constraint=q_constraint).fit(cal)
    assert spend["params"] == pytest.approx(want.params_.to_dict(), rel=1e-8)
    assert spend["log_likelihood"] == pytest.approx(want.log_likelihood_, rel=1e-10)
    if likelihood == "transactions":  # the option reached the fit: not the default estimates
        assert abs(want.params_["p"] / GammaGammaModel().fit(cal).params_["p"] - 1) > 1e-4


def test_calibration_split_mean_log_value_is_that_of_the_calibration_log(tx):
    split = calibration_holdout_split(
        tx, customer_id_col="customer_id", date_col="date", value_col="value", time_unit="W",
        calibration_end=CAL_END, observation_end=AS_OF, mean_log_value=True,
    )  # fmt: skip
    cal = rfm_summary(
        tx[tx["date"] <= CAL_END], customer_id_col="customer_id", date_col="date",
        value_col="value", time_unit="W", observation_end=CAL_END, mean_log_value=True,
    )  # fmt: skip
    assert split.index.equals(cal.index)
    np.testing.assert_array_equal(split["mean_log_value"], cal["mean_log_value"])
    # holdout purchases are left out: the full log's values differ for some customers
    full = rfm_summary(
        tx, customer_id_col="customer_id", date_col="date", value_col="value", time_unit="W",
        observation_end=AS_OF, mean_log_value=True,
    )  # fmt: skip
    assert (full.loc[cal.index, "mean_log_value"] != cal["mean_log_value"]).any()
    plain = calibration_holdout_split(
        tx, customer_id_col="customer_id", date_col="date", value_col="value", time_unit="W",
        calibration_end=CAL_END, observation_end=AS_OF,
    )  # fmt: skip
    assert "mean_log_value" not in plain.columns


def test_evaluate_spend_option_errors_are_those_of_fit(tmp_path, capsys, csv, tx):
    """Same checks and messages as `clv fit` (one shared helper), before any work is done."""
    ev = ["evaluate", "--calibration-end", CAL_END, "--as-of", AS_OF]
    fit = ["fit", "--as-of", AS_OF, "--out", tmp_path / "m.json"]
    cases = [
        (["--q-constraint"], 2),
        (["--spend-likelihood", "transactions"], 2),
        (["--value-col", "value", "--spend-likelihood", "values"], 2),
    ]
    for flags, want in cases:
        code_ev, _, err_ev = run(capsys, ev[0], csv, *ev[1:], *flags)
        code_fit, _, err_fit = run(capsys, fit[0], csv, *fit[1:], *flags)
        assert code_ev == code_fit == want, (flags, err_ev)
        assert err_ev.startswith("clv evaluate: usage error: --"), err_ev
        assert err_ev.replace("clv evaluate:", "clv fit:", 1) == err_fit
    code, _, err = run(capsys, ev[0], csv, *ev[1:], "--q-constraint")
    assert "--q-constraint set the Gamma-Gamma spend model" in err and "add --value-col" in err
    code, _, err = run(
        capsys, ev[0], csv, *ev[1:], "--value-col", "value", "--spend-likelihood", "x"
    )
    assert "--spend-likelihood must be one of mean, transactions; got 'x'" in err
    # a repeat period worth 0 in the calibration period: data error naming the fix
    zero = tx.copy()
    later = (zero.groupby("customer_id")["date"].transform("min") < zero["date"]) & (
        zero["date"] <= CAL_END
    )
    zero.loc[later[later].index[:1], "value"] = 0.0
    path = tmp_path / "zero.csv"
    zero.to_csv(path, index=False)
    out = tmp_path / "holdout.csv"
    code, _, err = run(
        capsys, *ev[:1], path, *ev[1:], "--value-col", "value",
        "--spend-likelihood", "transactions", "--out", out,
    )  # fmt: skip
    assert code == 3 and "--spend-likelihood mean" in err and "zero-value rows" in err
    assert not out.exists()


# ---------------------------------------------------------------------- fit --bayes: NBD
def test_fit_bayes_nbd_writes_a_posterior_that_scores_like_the_mle(tmp_path, capsys, csv, rfm):
    """`--bayes map --model nbd`: one draw, scored by the NBD module's pure functions.

    (No --value-col: Gamma-Gamma's posterior is tested with the other models.)"""
    from clv.scoring.posterior import load_posterior_models, read_posterior_bundle

    model = tmp_path / "nbd.nc"
    code, stdout, err = run(
        capsys, "fit", csv, "--as-of", AS_OF, "--model", "nbd", "--bayes", "map", "--out", model,
    )  # fmt: skip
    assert code == 0, err
    assert "NBDModel (map) posterior" in stdout
    bundle = read_posterior_bundle(model)
    assert bundle.transaction_model.model == "NBDModel"
    draws = bundle.transaction_model.params
    assert set(draws) == {"r", "alpha"} and draws["r"].shape == (1, 1)
    # MAP under the weak default priors is close to the MLE
    mle = NBDModel().fit(rfm)
    for name in ("r", "alpha"):
        assert float(draws[name][0, 0]) == pytest.approx(mle.params_[name], rel=0.02)
    out = tmp_path / "scores.csv"
    code, _, err = run(capsys, "score", csv, "--model", model, *SCORE_ARGS, "--out", out, "-q")
    assert code == 0, err
    got = pd.read_csv(out, dtype={"customer_id": "str"}).set_index("customer_id")
    point = NBDModel()
    point.params_ = pd.Series({k: float(v[0, 0]) for k, v in draws.items()}, dtype=np.float64)
    point.params_.index.name = "param"
    np.testing.assert_array_equal(got["probability_alive"], 1.0)
    np.testing.assert_allclose(
        got["expected_purchases"], point.expected_purchases(52, rfm).to_numpy(), rtol=1e-9
    )
    tm, sm = load_posterior_models(model)
    assert type(tm).__name__ == "NBDModel" and sm is None
