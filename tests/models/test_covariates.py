"""Time-invariant covariates on every lever of the MLE models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clv.exceptions import DataError
from clv.models import _retention_covariates as ph
from clv.models import bdw, bgnbd, gamma_gamma, pareto_nbd, sbg
from clv.models._covariates import covariate_multiplier, individual_params, linear_predictor

RFM = ["frequency", "recency", "T"]


# ----------------------------------------------------------------------------- simulation
def _features(n: int, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "nps": rng.normal(5.0, 2.0, n),  # not centred: checks the map back to x = 0
            "complaints": rng.poisson(1.0, n).astype(float),
            "noise": rng.normal(0.0, 1.0, n),
        },
        index=pd.RangeIndex(n, name="customer_id"),
    )


def _pareto_data(
    n: int, seed: int, g_p=(0.3,), g_d=(0.4,), p_cols=("nps",), d_cols=("complaints",)
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = _features(n, rng)
    base = pareto_nbd.PNBDParams(0.7, 20.0, 0.8, 15.0)
    p = individual_params(
        base,
        pareto_nbd.ParetoNBDModel._levers,
        {"purchase": X[list(p_cols)].to_numpy(), "dropout": X[list(d_cols)].to_numpy()},
        {"purchase": list(g_p), "dropout": list(g_d)},
    )
    sim = pareto_nbd.simulate(p, rng.uniform(20.0, 52.0, n), rng=rng)
    return pd.DataFrame({c: sim[c] for c in RFM}, index=X.index).join(X)


def _bgnbd_data(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = _features(n, rng)
    base = bgnbd.BGNBDParams(0.7, 20.0, 0.6, 2.5)
    p = individual_params(
        base,
        bgnbd.BetaGeoModel._levers,
        {"purchase": X[["nps"]].to_numpy(), "dropout": X[["complaints"]].to_numpy()},
        {"purchase": [0.3], "dropout": [0.4]},
    )
    sim = bgnbd.simulate(p, rng.uniform(20.0, 52.0, n), rng=rng)
    return pd.DataFrame({c: sim[c] for c in RFM}, index=X.index).join(X)


def _gg_data(n: int, seed: int, g: float = 0.25) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = _features(n, rng)
    p = individual_params(
        gamma_gamma.GGParams(5.0, 4.0, 20.0),
        gamma_gamma.GammaGammaModel._levers,
        {"spend": X[["nps"]].to_numpy()},
        {"spend": [g]},
    )
    sim = gamma_gamma.simulate(p, rng.poisson(2.0, n), rng=rng)
    return pd.DataFrame(
        {"frequency": sim["frequency"], "monetary_value": sim["monetary_value"]}, index=X.index
    ).join(X)


def _retention_data(n: int, seed: int, c: float = 1.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = _features(n, rng)
    theta = rng.beta(1.0, 3.0, n)
    k = np.asarray(covariate_multiplier(X[["nps", "complaints"]].to_numpy(), [-0.2, 0.4]))
    theta_k = -np.expm1(k * np.log1p(-theta))  # P(T > t) = (1 - θ)^{k t^c}
    sim = sbg.simulate_lifetimes(theta_k, c, np.full(n, 12.0), rng)
    return pd.DataFrame(
        {"periods_observed": sim["periods_observed"], "churned": sim["churned"]}, index=X.index
    ).join(X)


def _inside(model, name: str, truth: float) -> bool:
    row = model.summary().loc[name]
    return bool(row["lower"] <= truth <= row["upper"])


# ----------------------------------------------------------------------------- link
def test_link_is_a_sum_over_columns():
    X = np.array([[1.0, 2.0], [3.0, -1.0]])
    assert np.allclose(linear_predictor(X, [0.5, 2.0]), X @ np.array([0.5, 2.0]))
    assert np.allclose(covariate_multiplier(X, [0.5, 2.0], -1.0), np.exp(-(X @ [0.5, 2.0])))


@pytest.mark.parametrize(
    "module, params, levers",
    [
        (pareto_nbd, pareto_nbd.PNBDParams(0.55, 10.6, 0.61, 11.7), ("purchase", "dropout")),
        (bgnbd, bgnbd.BGNBDParams(0.24, 4.4, 0.79, 2.4), ("purchase", "dropout")),
    ],
)
def test_zero_coefficients_equal_the_plain_transaction_model(module, params, levers):
    data = _pareto_data(500, 0)
    model_cls = module.ParetoNBDModel if module is pareto_nbd else module.BetaGeoModel
    X = {lv: data[["nps", "complaints"]].to_numpy() for lv in levers}
    p = individual_params(params, model_cls._levers, X, {lv: [0.0, 0.0] for lv in levers})
    cols = [data[c].to_numpy() for c in RFM]
    assert np.allclose(
        module.log_likelihood(p, *cols), module.log_likelihood(params, *cols), rtol=0, atol=1e-9
    )


def test_zero_coefficients_equal_the_plain_spend_and_retention_models():
    data = _gg_data(500, 0)
    gp = gamma_gamma.GGParams(6.0, 3.7, 15.4)
    p = individual_params(
        gp,
        gamma_gamma.GammaGammaModel._levers,
        {"spend": data[["nps"]].to_numpy()},
        {"spend": [0.0]},
    )
    cols = [data["frequency"].to_numpy(), data["monetary_value"].to_numpy()]
    assert np.allclose(
        gamma_gamma.log_likelihood(p, *cols),
        gamma_gamma.log_likelihood(gp, *cols),
        atol=1e-9,
        rtol=0,
    )
    t = np.arange(1.0, 200.0)
    for lost in (np.ones_like(t), np.zeros_like(t)):
        s = sbg.SBGParams(0.704, 1.182)
        assert np.allclose(
            ph.log_likelihood(s, {"churn": np.ones_like(t)}, t, lost),
            sbg.log_likelihood(s, t, lost),
            atol=1e-9,
            rtol=0,
        )
        b = bdw.BdWParams(0.26, 1.72, 1.58)
        assert np.allclose(
            ph.log_likelihood(b, {"churn": np.ones_like(t)}, t, lost),
            bdw.log_likelihood(b, t, lost),
            atol=1e-9,
            rtol=0,
        )


# ----------------------------------------------------------------------------- recovery
@pytest.fixture(scope="module")
def pareto_fit():
    data = _pareto_data(6000, 11)
    model = pareto_nbd.ParetoNBDModel(
        purchase_covariates=["nps", "noise"], dropout_covariates=["complaints"]
    ).fit(data)
    return model, data


def test_pareto_nbd_recovers_coefficients(pareto_fit):
    model, _ = pareto_fit
    assert list(model.params_.index) == [
        "r",
        "alpha",
        "s",
        "beta",
        "purchase[nps]",
        "purchase[noise]",
        "dropout[complaints]",
    ]
    assert _inside(model, "purchase[nps]", 0.3) and _inside(model, "dropout[complaints]", 0.4)
    assert _inside(model, "alpha", 20.0) and _inside(model, "beta", 15.0)
    assert _inside(model, "purchase[noise]", 0.0)  # no effect: the interval covers 0
    assert model.params_["purchase[nps]"] > 0 and model.params_["dropout[complaints]"] > 0


def test_bgnbd_recovers_coefficients():
    data = _bgnbd_data(6000, 12)
    model = bgnbd.BetaGeoModel(purchase_covariates=["nps"], dropout_covariates=["complaints"]).fit(
        data
    )
    assert _inside(model, "purchase[nps]", 0.3) and _inside(model, "dropout[complaints]", 0.4)


def test_gamma_gamma_recovers_spend_coefficient():
    data = _gg_data(6000, 13)
    model = gamma_gamma.GammaGammaModel(spend_covariates=["nps", "noise"]).fit(data)
    assert _inside(model, "spend[nps]", 0.25) and _inside(model, "spend[noise]", 0.0)
    assert _inside(model, "v", 20.0)


@pytest.mark.parametrize("cls", [sbg.ShiftedBetaGeoModel, bdw.BetaDiscreteWeibullModel])
def test_retention_models_recover_churn_coefficients(cls):
    data = _retention_data(6000, 14)
    model = cls(churn_covariates=["nps", "complaints"]).fit(data)
    assert _inside(model, "churn[nps]", -0.2) and _inside(model, "churn[complaints]", 0.4)
    assert _inside(model, "alpha", 1.0) and _inside(model, "beta", 3.0)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(5))
def test_pareto_nbd_recovery_over_seeds(seed):
    data = _pareto_data(10000, 100 + seed)
    model = pareto_nbd.ParetoNBDModel(
        purchase_covariates=["nps"], dropout_covariates=["complaints"]
    ).fit(data)
    # each 95% interval misses with probability 5%: allow a 3-se band for a stable test
    se = model.summary()["se"]
    assert abs(model.params_["purchase[nps]"] - 0.3) < 3 * se["purchase[nps]"]
    assert abs(model.params_["dropout[complaints]"] - 0.4) < 3 * se["dropout[complaints]"]


def test_null_covariate_interval_covers_zero_in_most_seeds():
    covered = 0
    for seed in range(4):
        data = _gg_data(1500, 200 + seed)
        model = gamma_gamma.GammaGammaModel(spend_covariates=["noise"]).fit(data)
        covered += _inside(model, "spend[noise]", 0.0)
    assert covered >= 3


# ----------------------------------------------------------------------------- reporting
def test_coefficients_are_per_natural_unit(pareto_fit):
    model, data = pareto_fit
    scaled = data.assign(nps=data["nps"] * 10.0)
    refit = pareto_nbd.ParetoNBDModel(
        purchase_covariates=["nps", "noise"], dropout_covariates=["complaints"]
    ).fit(scaled)
    assert refit.params_["purchase[nps]"] == pytest.approx(
        model.params_["purchase[nps]"] / 10, rel=1e-4
    )
    assert refit.log_likelihood_ == pytest.approx(model.log_likelihood_, abs=1e-5)
    assert refit.params_["alpha"] == pytest.approx(model.params_["alpha"], rel=1e-4)


def test_predictions_use_each_customers_parameters(pareto_fit):
    model, data = pareto_fit
    row = data.iloc[[0]]
    ip = model.individual_params(row).iloc[0]
    p = pareto_nbd.PNBDParams(*ip[["r", "alpha", "s", "beta"]])
    expected = pareto_nbd.expected_purchases(p, 10.0, *(row[c].to_numpy() for c in RFM))
    assert model.expected_purchases(10.0, row).iloc[0] == pytest.approx(float(expected[0]))
    alpha0 = model.params_["alpha"] * np.exp(
        -model.params_["purchase[nps]"] * row["nps"].iloc[0]
        - model.params_["purchase[noise]"] * row["noise"].iloc[0]
    )
    assert ip["alpha"] == pytest.approx(alpha0)
    dert = model.expected_discounted_residual_transactions(data.head(3), 0.01)
    assert dert.index.equals(data.head(3).index) and np.all(dert > 0)


def _pareto_model(g_p: float, g_d: float) -> pareto_nbd.ParetoNBDModel:
    names = ["r", "alpha", "s", "beta", "purchase[nps]", "dropout[complaints]"]
    return pareto_nbd.ParetoNBDModel.from_dict(
        {
            "init": {"purchase_covariates": ["nps"], "dropout_covariates": ["complaints"]},
            "params": dict(zip(names, [0.6, 10.0, 0.7, 12.0, g_p, g_d], strict=True)),
            "covariance": np.eye(6).tolist(),
            "log_likelihood": 0.0,
            "n_customers": 1,
            "converged": True,
        }
    )


def test_monotone_in_the_covariates():
    frame = pd.DataFrame(
        {
            "frequency": [2.0, 2.0],
            "recency": [20.0, 20.0],
            "T": [30.0, 30.0],
            "nps": [0.0, 3.0],
            "complaints": [0.0, 3.0],
        }
    )
    model = _pareto_model(0.3, 0.4)
    e = model.expected_purchases(10.0, frame.assign(complaints=0.0))
    assert e.iloc[1] > e.iloc[0]  # positive purchase coefficient: more purchases
    pa = model.probability_alive(frame.assign(nps=0.0))
    assert pa.iloc[1] < pa.iloc[0]  # positive dropout coefficient: lower P(alive)
    new = model.expected_purchases_new_customer(10.0, covariates=frame.assign(complaints=0.0))
    assert new.iloc[1] > new.iloc[0]
    assert model.expected_purchases_new_customer(10.0) == pytest.approx(new.iloc[0])
    gg = gamma_gamma.GammaGammaModel(spend_covariates=["nps"]).fit(_gg_data(3000, 3))
    spend = gg.expected_spend(
        pd.DataFrame({"frequency": [2, 2], "monetary_value": [30.0, 30.0], "nps": [0.0, 3.0]})
    )
    assert spend.iloc[1] > spend.iloc[0]
    churn = sbg.ShiftedBetaGeoModel(churn_covariates=["complaints"]).fit(_retention_data(3000, 4))
    s = churn.survival(5, covariates=pd.DataFrame({"complaints": [0.0, 3.0]}))
    assert s.iloc[1] < s.iloc[0]
    assert churn.survival(5) == pytest.approx(s.iloc[0])


# ----------------------------------------------------------------------------- sampling
def test_sample_params_match_the_estimates(pareto_fit):
    model, _ = pareto_fit
    draws = model.sample_params(20000, random_state=5)
    assert list(draws.columns) == list(model.params_.index)
    assert draws.equals(model.sample_params(20000, random_state=5))
    se = np.sqrt(np.diag(model.covariance_))
    assert np.allclose(draws.mean(), model.params_, atol=0.05 * se + 1e-12, rtol=0.01)
    assert np.allclose(draws.std(), se, rtol=0.1)


def test_sample_params_on_a_plain_model():
    from clv.data.datasets import load_cdnow_summary

    model = bgnbd.BetaGeoModel().fit(load_cdnow_summary())
    draws = model.sample_params(20000, random_state=1)
    # normal on the log scale: the median maps to the estimate, the log-draws' covariance is
    # the delta-method covariance divided by θθᵀ
    assert np.allclose(draws.median(), model.params_, rtol=0.01)
    theta = model.params_.to_numpy()
    log_cov = np.log(draws).cov().to_numpy() * np.outer(theta, theta)
    assert np.allclose(
        log_cov,
        model.covariance_.to_numpy(),
        rtol=0.05,
        atol=0.05 * np.abs(model.covariance_.to_numpy()).max(),
    )
    assert (draws > 0).all().all()


# ----------------------------------------------------------------------------- penalties
def test_penalty_shrinks_and_prior_pins_coefficients():
    data = _gg_data(2000, 6)
    free = gamma_gamma.GammaGammaModel(spend_covariates=["nps"]).fit(data)
    shrunk = gamma_gamma.GammaGammaModel(spend_covariates=["nps"], covariate_penalty=10.0).fit(data)
    assert abs(shrunk.params_["spend[nps]"]) < 0.5 * abs(free.params_["spend[nps]"])
    pinned = gamma_gamma.GammaGammaModel(
        spend_covariates=["nps"], coefficient_priors={"spend[nps]": (0.1, 1e-4)}
    ).fit(data)
    assert pinned.params_["spend[nps]"] == pytest.approx(0.1, abs=1e-3)


def test_unknown_prior_name_is_rejected():
    with pytest.raises(ValueError, match=r"spend\[nps\]"):
        gamma_gamma.GammaGammaModel(
            spend_covariates=["nps"], coefficient_priors={"spend[csat]": (0.0, 1.0)}
        )


# ----------------------------------------------------------------------------- bad input
def test_bad_covariate_columns_raise_data_errors():
    data = _pareto_data(300, 7)
    model = pareto_nbd.ParetoNBDModel(purchase_covariates=["nps"])
    with pytest.raises(DataError, match=r"nps.*missing"):
        model.fit(data.drop(columns="nps"))
    bad = data.copy()
    bad.loc[[3, 5], "nps"] = np.nan
    with pytest.raises(DataError, match="FeatureBuilder") as err:
        model.fit(bad)
    assert "3" in str(err.value)
    with pytest.raises(DataError, match="not numeric"):
        model.fit(data.assign(nps="high"))
    with pytest.raises(DataError, match="same value"):
        model.fit(data.assign(nps=1.0))
    with pytest.raises(DataError, match="collinear"):
        pareto_nbd.ParetoNBDModel(purchase_covariates=["nps", "nps2"]).fit(
            data.assign(nps2=2.0 * data["nps"] + 1.0)
        )
    assert "nps" in data.columns and not data["nps"].isna().any()  # caller's frame untouched


def test_retention_covariates_need_customer_rows():
    table = pd.DataFrame({"period": range(4), "n_alive": [100, 80, 70, 64]})
    with pytest.raises(DataError, match="survival table"):
        sbg.ShiftedBetaGeoModel(churn_covariates=["nps"]).fit(table)
    with pytest.raises(ValueError, match="shared=True"):
        sbg.ShiftedBetaGeoModel(churn_covariates=["nps"], shared=False)


@pytest.mark.parametrize("cls", [sbg.ShiftedBetaGeoModel, bdw.BetaDiscreteWeibullModel])
def test_residual_lifetime_per_customer(cls):
    model = cls(churn_covariates=["complaints"]).fit(_retention_data(2000, 8))
    rows = pd.DataFrame({"complaints": [0.0, 2.0]}, index=["a", "b"])
    derl = model.expected_residual_lifetime(3, discount_rate=0.1, covariates=rows)
    assert list(derl.index) == ["a", "b"] and derl["b"] < derl["a"]
    assert derl["a"] == pytest.approx(float(model.expected_residual_lifetime(3, discount_rate=0.1)))
    k = float(model.individual_params(rows)["churn_multiplier"].iloc[1])
    t = np.arange(4.0, 4000.0)
    p = model._p
    terms = np.exp(ph.log_survival(p, k, t) - ph.log_survival(p, k, 3.0)) / 1.1 ** (t - 4.0)
    assert derl["b"] == pytest.approx(terms.sum(), rel=1e-8)
    life = model.expected_lifetime(discount_rate=0.1, covariates=rows)
    assert life["a"] == pytest.approx(model.expected_lifetime(discount_rate=0.1), rel=1e-8)
    assert life["b"] < life["a"]


# ----------------------------------------------------------------------------- persistence
def test_json_round_trip(tmp_path, pareto_fit):
    model, data = pareto_fit
    path = tmp_path / "m.json"
    model.to_json(path)
    back = pareto_nbd.ParetoNBDModel.from_json(path)
    pd.testing.assert_series_equal(back.params_, model.params_)
    pd.testing.assert_frame_equal(back.covariance_, model.covariance_)
    pd.testing.assert_series_equal(
        back.expected_purchases(5, data.head()), model.expected_purchases(5, data.head())
    )
    assert "purchase[nps]" in repr(back) and "purchase[nps]" in back._repr_html_()
    churn = bdw.BetaDiscreteWeibullModel(
        churn_covariates=["nps"],
        covariate_penalty=0.01,
        coefficient_priors={"churn[nps]": (0.0, 1.0)},
    )
    churn.fit(_retention_data(800, 9))
    churn.to_json(tmp_path / "r.json")
    back_r = bdw.BetaDiscreteWeibullModel.from_json(tmp_path / "r.json")
    pd.testing.assert_series_equal(back_r.params_, churn.params_)
    assert back_r.coefficient_priors == {"churn[nps]": (0.0, 1.0)}


def test_individual_params_without_covariates():
    from clv.data.datasets import load_cdnow_summary

    rfm = load_cdnow_summary().head(4)
    model = pareto_nbd.ParetoNBDModel().fit(load_cdnow_summary())
    ip = model.individual_params(rfm)
    assert list(ip.columns) == ["r", "alpha", "s", "beta"] and ip.index.equals(rfm.index)
    assert np.allclose(ip.to_numpy(), model.params_.to_numpy())


def test_customer_lifetime_value_uses_the_covariates(pareto_fit):
    from clv.value import customer_lifetime_value

    model, data = pareto_fit
    rows = data.head(2).assign(
        frequency=[2.0, 2.0],
        recency=[20.0, 20.0],
        T=[30.0, 30.0],
        nps=[0.0, 5.0],
        noise=0.0,
        complaints=0.0,
        monetary_value=[20.0, 20.0],
    )
    spend = gamma_gamma.GammaGammaModel().fit(_gg_data(2000, 1))
    clv = customer_lifetime_value(model, spend, rows, horizon=20, discount_rate_per_period=0.01)
    values = clv.iloc[:, 0] if isinstance(clv, pd.DataFrame) else clv
    assert values.iloc[1] > values.iloc[0]  # higher nps, positive purchase coefficient


def test_link_runs_unchanged_in_pytensor():
    pytensor = pytest.importorskip("pytensor")
    pt = pytest.importorskip("pytensor.tensor")
    from clv.bayes._ops import PYTENSOR

    X, g = pt.matrix("X"), pt.vector("g")
    fn = pytensor.function([X, g], covariate_multiplier(X, [g[0], g[1]], -1.0, ops=PYTENSOR))
    Xv = np.array([[1.0, 2.0], [0.0, 1.0]])
    assert np.allclose(fn(Xv, [0.5, -1.0]), covariate_multiplier(Xv, [0.5, -1.0], -1.0))


def test_pareto_nbd_row_gradient_matches_finite_differences():
    from clv.models import _pareto_nbd_math as pm

    rng = np.random.default_rng(0)
    n = 500
    sim = pareto_nbd.simulate(
        pareto_nbd.PNBDParams(0.55, 10.0, 0.6, 11.0), rng.uniform(1.0, 40.0, n), rng=rng
    )
    cols = [sim[c] for c in RFM]
    # per-row alpha and beta on both sides of alpha = beta (both hypergeometric families)
    p = pareto_nbd.PNBDParams(
        0.55, 10.0 * np.exp(rng.normal(0, 1, n)), 0.6, 11.0 * np.exp(rng.normal(0, 1, n))
    )
    ll, grad = pm.log_likelihood_gradient_rows(p, *cols)
    assert np.allclose(ll, pareto_nbd.log_likelihood(p, *cols), atol=1e-10, rtol=0)
    for j in range(4):
        up, down = list(p), list(p)
        up[j], down[j] = up[j] * (1 + 1e-6), down[j] * (1 - 1e-6)
        num = (
            pareto_nbd.log_likelihood(pareto_nbd.PNBDParams(*up), *cols)
            - pareto_nbd.log_likelihood(pareto_nbd.PNBDParams(*down), *cols)
        ) / (2e-6 * np.asarray(p[j]))
        assert np.allclose(num, grad[j], rtol=1e-6, atol=1e-6)
    scalar = pareto_nbd.PNBDParams(0.55, 10.0, 0.6, 11.0)
    assert np.allclose(
        pm.log_likelihood_gradient_rows(scalar, *cols)[1],
        pm.log_likelihood_gradient(scalar, *cols)[1],
        atol=1e-12,
    )


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(3))
def test_recovery_over_seeds_other_models(seed):
    bg = bgnbd.BetaGeoModel(purchase_covariates=["nps"], dropout_covariates=["complaints"])
    bg.fit(_bgnbd_data(10000, 300 + seed))
    gg = gamma_gamma.GammaGammaModel(spend_covariates=["nps"]).fit(_gg_data(10000, 400 + seed))
    churn = sbg.ShiftedBetaGeoModel(churn_covariates=["nps", "complaints"])
    churn.fit(_retention_data(10000, 500 + seed))
    for model, truth in (
        (bg, {"purchase[nps]": 0.3, "dropout[complaints]": 0.4}),
        (gg, {"spend[nps]": 0.25}),
        (churn, {"churn[nps]": -0.2, "churn[complaints]": 0.4}),
    ):
        se = model.summary()["se"]
        for name, value in truth.items():
            assert abs(model.params_[name] - value) < 3 * se[name], (type(model), name)
