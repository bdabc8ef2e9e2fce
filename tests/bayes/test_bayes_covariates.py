"""Covariates in the Bayesian models: one likelihood and one link with the MLE, priors, draws.

Default tier: no sampling (compiled log-densities, MAP, mocked posteriors).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pymc")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import arviz as az

    import clv.bayes as cb
import clv.models as cm
from clv.bayes import _covariates as bcov
from clv.models import bgbb, bgnbd, gamma_gamma, mbgnbd, pareto_nbd
from clv.models._covariates import individual_params

RFM = ["frequency", "recency", "T"]
KW = {
    "pareto": {"purchase_covariates": ["nps"], "dropout_covariates": ["complaints"]},
    "bgnbd": {"purchase_covariates": ["nps"], "dropout_covariates": ["complaints"]},
    "gg": {"spend_covariates": ["nps"]},
    "mbgnbd": {"purchase_covariates": ["nps"], "dropout_covariates": ["complaints"]},
    "bgbb": {"purchase_covariates": ["nps"], "dropout_covariates": ["complaints"]},
}
CLASSES = {
    "pareto": (cb.ParetoNBDModel, cm.ParetoNBDModel, pareto_nbd, RFM),
    "bgnbd": (cb.BetaGeoModel, cm.BetaGeoModel, bgnbd, RFM),
    "gg": (cb.GammaGammaModel, cm.GammaGammaModel, gamma_gamma, ["frequency", "monetary_value"]),
    "mbgnbd": (cb.ModifiedBetaGeoModel, cm.ModifiedBetaGeoModel, mbgnbd, RFM),
    "bgbb": (cb.BetaGeoBetaBinomModel, cm.BetaGeoBetaBinomModel, bgbb, RFM),
}


def _covariates(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """An uncentred (``nps``) and a count (``complaints``) covariate per customer."""
    return pd.DataFrame(
        {"nps": rng.normal(5.0, 2.0, n), "complaints": rng.poisson(1.0, n).astype(float)},
        index=pd.RangeIndex(n, name="customer_id"),
    )


def _world(n: int, seed: int) -> pd.DataFrame:
    """Pareto/NBD customers with an uncentred and a count covariate, and their spend."""
    rng = np.random.default_rng(seed)
    X = _covariates(n, rng)
    p = individual_params(
        pareto_nbd.PNBDParams(0.7, 20.0, 0.8, 15.0),
        cm.ParetoNBDModel._levers,
        {"purchase": X[["nps"]].to_numpy(), "dropout": X[["complaints"]].to_numpy()},
        {"purchase": [0.3], "dropout": [0.4]},
    )
    sim = pareto_nbd.simulate(p, rng.uniform(20.0, 52.0, n), rng=rng)
    g = individual_params(
        gamma_gamma.GGParams(5.0, 4.0, 20.0),
        cm.GammaGammaModel._levers,
        {"spend": X[["nps"]].to_numpy()},
        {"spend": [0.1]},
    )
    spend = gamma_gamma.simulate(g, sim["frequency"], rng=rng)
    out = pd.DataFrame({c: sim[c] for c in RFM}, index=X.index).join(X)
    out["monetary_value"] = np.where(out["frequency"] > 0, spend["monetary_value"], 0.0)
    return out


def _bgnbd_world(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = _covariates(n, rng)
    p = individual_params(
        bgnbd.BGNBDParams(0.7, 20.0, 0.6, 2.5),
        cm.BetaGeoModel._levers,
        {"purchase": X[["nps"]].to_numpy(), "dropout": X[["complaints"]].to_numpy()},
        {"purchase": [0.3], "dropout": [0.4]},
    )
    sim = bgnbd.simulate(p, rng.uniform(20.0, 52.0, n), rng=rng)
    return pd.DataFrame({c: sim[c] for c in RFM}, index=X.index).join(X)


def _other_world(key: str, n: int, seed: int) -> pd.DataFrame:
    """MBG/NBD or BG/BB customers with purchase (``nps``) and dropout (``complaints``) effects."""
    rng = np.random.default_rng(seed)
    X = _covariates(n, rng)
    module, cls = CLASSES[key][2], CLASSES[key][1]
    base = mbgnbd.MBGNBDParams(0.7, 20.0, 0.6, 2.5) if key == "mbgnbd" else bgbb.BGBBParams(
        0.6, 1.2, 0.7, 2.8
    )
    p = individual_params(
        base,
        cls._levers,
        {"purchase": X[["nps"]].to_numpy(), "dropout": X[["complaints"]].to_numpy()},
        {"purchase": [0.3], "dropout": [0.4]},
    )
    T = rng.uniform(20.0, 52.0, n) if key == "mbgnbd" else rng.integers(6, 12, n).astype(float)
    sim = module.simulate(p, T, rng=rng)
    return pd.DataFrame({c: sim[c] for c in RFM}, index=X.index).join(X)


@pytest.fixture(scope="module")
def fitted() -> dict[str, tuple[pd.DataFrame, Any]]:
    pareto = _world(1200, 4)
    data = {
        "pareto": pareto,
        "bgnbd": _bgnbd_world(1200, 5),
        "gg": pareto,
        "mbgnbd": _other_world("mbgnbd", 1000, 6),
        "bgbb": _other_world("bgbb", 1000, 7),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the Gamma-Gamma independence check
        return {k: (d, CLASSES[k][1](**KW[k]).fit(d)) for k, d in data.items()}


def _flat(key: str) -> Any:
    bayes_cls = CLASSES[key][0]
    return bayes_cls(priors=bayes_cls.flat_priors(), coefficient_prior=("Flat", {}), **KW[key])


def _numpy_ll(key: str, data: pd.DataFrame, mle: Any, params: pd.Series) -> float:
    """The maximum-likelihood path: per-customer parameters, then the module's likelihood."""
    module, cols = CLASSES[key][2], CLASSES[key][3]
    frame = data[data["frequency"] > 0] if key == "gg" else data
    theta = mle._customer_params(frame, params)
    return float(np.sum(module.log_likelihood(theta, *(frame[c].to_numpy(float) for c in cols))))


def _logp(bayes: Any, data: pd.DataFrame, params: pd.Series) -> float:
    model = bayes.build_model(data)
    scaling = bayes.covariate_scaling_
    point = bcov.free_point(
        model, bayes._design, params, scaling["mean"].to_numpy(), scaling["scale"].to_numpy()
    )
    return float(model.compile_logp(jacobian=False)(point))


def _mock(
    params: pd.Series, chains: int = 2, draws: int = 3, seed: int = 0, spread: float = 0.02
) -> az.InferenceData:
    """A posterior around ``params``: coefficients +- 0.05, the rest x exp(+- ``spread``)."""
    rng = np.random.default_rng(seed)
    post = {}
    for k, v in params.items():
        noise = rng.standard_normal((chains, draws))
        post[k] = v + 0.05 * noise if "[" in k else v * np.exp(spread * noise)
    return az.from_dict(posterior=post)


def _mle_at(key: str, post: Any, c: int, d: int) -> Any:
    ref = CLASSES[key][1](**KW[key])
    ref.params_ = pd.Series({k: float(post[k][c, d]) for k in post.data_vars}, dtype=np.float64)
    ref.time_unit_ = None
    return ref


# ---------------------------------------------------------------------- one likelihood
@pytest.mark.parametrize("key", list(CLASSES))
def test_pymc_logp_equals_the_numpy_covariate_log_likelihood(key: str, fitted: dict) -> None:
    data, mle = fitted[key]
    bayes = _flat(key)
    assert _logp(bayes, data, mle.params_) == pytest.approx(mle.log_likelihood_, rel=1e-8)
    assert _numpy_ll(key, data, mle, mle.params_) == pytest.approx(mle.log_likelihood_, rel=1e-8)
    moved = mle.params_ * np.linspace(0.8, 1.3, len(mle.params_))
    assert _logp(bayes, data, moved) == pytest.approx(_numpy_ll(key, data, mle, moved), rel=1e-8)


_SLOW_GRAPH = {"bgbb"}  # the BG/BB graph unrolls its sum over opportunities: slow to compile


@pytest.mark.parametrize(
    "key", [pytest.param(k, marks=pytest.mark.slow) if k in _SLOW_GRAPH else k for k in CLASSES]
)
def test_zero_coefficients_give_the_plain_model_logp(key: str, fitted: dict) -> None:
    data, mle = fitted[key]
    bayes_cls = CLASSES[key][0]
    params = mle.params_.copy()
    params[[n for n in params.index if "[" in n]] = 0.0
    base = params[list(bayes_cls.param_names())]
    plain = bayes_cls(priors=bayes_cls.flat_priors()).build_model(data)
    point = {plain.rvs_to_values[v].name: np.log(base[v.name]) for v in plain.free_RVs}
    expected = float(plain.compile_logp(jacobian=False)(point))
    assert _logp(_flat(key), data, params) == pytest.approx(expected, rel=1e-10)


# ---------------------------------------------------------------------- MAP == MLE
# BG/BB: its log-density equals the NumPy likelihood above, so its MAP is the MLE too; the
# optimisation through the unrolled graph alone takes 80 s, so it is not repeated here
@pytest.mark.parametrize(
    "key",
    [
        pytest.param(k, marks=pytest.mark.slow) if k == "mbgnbd" else k
        for k in CLASSES
        if k not in _SLOW_GRAPH
    ],
)
def test_map_with_flat_priors_is_the_covariate_mle(key: str, fitted: dict) -> None:
    data, mle = fitted[key]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        bayes = _flat(key).fit(data, method="map")
    got = bayes.summary()["mean"]
    assert list(got.index) == list(mle.params_.index)
    np.testing.assert_allclose(got, mle.params_, rtol=1e-3, atol=1e-4)


def test_prior_in_natural_units_pins_a_coefficient(fitted: dict) -> None:
    data, mle = fitted["bgnbd"]
    priors = {
        **cb.BetaGeoModel.flat_priors(),
        "dropout[complaints]": ("Normal", {"mu": 0.03, "sigma": 1e-4}),
    }
    bayes = cb.BetaGeoModel(priors=priors, **KW["bgnbd"])
    assert bayes.coefficient_names == ["purchase[nps]", "dropout[complaints]"]
    assert bayes.coefficient_prior == ("Normal", {"mu": 0.0, "sigma": 1.0})
    model = bayes.build_model(data)
    free = {v.name for v in model.free_RVs}
    assert {"dropout[complaints]", "purchase[nps]_std", "alpha_at_mean", "a_at_mean"} <= free
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        bayes.fit(data, method="map")
    got = bayes.params_
    assert got["dropout[complaints]"] == pytest.approx(0.03, abs=5e-4)
    assert abs(mle.params_["dropout[complaints]"] - 0.03) > 0.1  # the prior moved it
    # the unconstrained coefficient still reaches its (conditional) optimum
    assert got["purchase[nps]"] == pytest.approx(mle.params_["purchase[nps]"], abs=0.05)


def test_default_prior_is_per_standard_deviation(fitted: dict) -> None:
    data, _ = fitted["pareto"]
    bayes = cb.ParetoNBDModel(**KW["pareto"])
    model = bayes.build_model(data)
    sd = data["nps"].std(ddof=0)
    assert bayes.covariate_scaling_.loc["purchase[nps]", "scale"] == pytest.approx(sd)
    assert bayes.covariate_scaling_.loc["purchase[nps]", "mean"] == pytest.approx(
        data["nps"].mean()
    )
    # the natural coefficient is the standardised one over the column's SD
    value = model.rvs_to_values[model["purchase[nps]_std"]]
    f = model.compile_fn(
        model.replace_rvs_by_values([model["purchase[nps]"]])[0],
        inputs=[value],
        on_unused_input="ignore",
    )
    assert float(f({"purchase[nps]_std": 0.5})) == pytest.approx(0.5 / sd)


def test_bad_configurations_are_rejected(fitted: dict) -> None:
    with pytest.raises(ValueError, match="no parameter"):
        cb.ParetoNBDModel(
            priors={"dropout[nps]": ("Normal", {"mu": 0.0, "sigma": 1.0})}, **KW["pareto"]
        )
    with pytest.raises(ValueError, match="segment"):
        cb.ParetoNBDModel(segment="channel", **KW["pareto"])
    with pytest.raises(ValueError, match="unknown PyMC distribution"):
        cb.GammaGammaModel(spend_covariates=["nps"], coefficient_prior=("Nope", {}))
    from clv.exceptions import DataError

    # churn covariates need one row per customer: a survival table is refused
    table = pd.DataFrame({"period": range(3), "n_alive": [100, 80, 70]})
    with pytest.raises(DataError, match="survival table"):
        cb.ShiftedBetaGeoModel(churn_covariates=["nps"]).build_model(table)
    data, _ = fitted["pareto"]
    with pytest.raises(DataError, match="wait"):
        cb.ParetoNBDModel(dropout_covariates=["wait"]).build_model(data)


# ---------------------------------------------------------------------- predictions
@pytest.mark.parametrize("key", ["pareto", "bgnbd"])
def test_predictions_use_each_customers_parameters(key: str, fitted: dict) -> None:
    data, mle = fitted[key]
    data = data.iloc[:60]
    bayes = CLASSES[key][0].from_idata(_mock(mle.params_), **KW[key])
    pa = bayes.probability_alive(data)
    ep = bayes.expected_purchases(7.0, data)
    new = bayes.expected_purchases_new_customer(7.0)
    post = bayes.idata_.posterior
    for c, d in [(0, 0), (1, 2)]:
        ref = _mle_at(key, post, c, d)
        np.testing.assert_allclose(pa.values[c, d], ref.probability_alive(data), rtol=1e-10)
        np.testing.assert_allclose(ep.values[c, d], ref.expected_purchases(7.0, data), rtol=1e-10)
        assert float(new.values[c, d]) == pytest.approx(
            float(ref.expected_purchases_new_customer(7.0)), rel=1e-10
        )
    # the covariates matter: a customer with other covariates gets another prediction
    moved = data.assign(nps=data["nps"] + 3.0)
    assert not np.allclose(bayes.expected_purchases(7.0, moved).values, ep.values)
    summary = bayes.expected_purchases(7.0, data, summary_only=True, chunk_size=7)
    np.testing.assert_allclose(summary["mean"], ep.values.reshape(-1, len(data)).mean(axis=0))


def test_spend_and_pointwise_log_likelihood_per_customer(fitted: dict) -> None:
    data, mle = fitted["gg"]
    bayes = cb.GammaGammaModel.from_idata(_mock(mle.params_), **KW["gg"])
    spend = bayes.expected_spend(data.iloc[:50])
    ll = bayes.pointwise_log_likelihood(data)
    post = bayes.idata_.posterior
    ref = _mle_at("gg", post, 1, 1)
    np.testing.assert_allclose(spend.values[1, 1], ref.expected_spend(data.iloc[:50]), rtol=1e-10)
    assert float(ll.values[1, 1].sum()) == pytest.approx(
        _numpy_ll("gg", data, ref, ref.params_), rel=1e-10
    )


def test_pareto_clv_over_draws_uses_the_covariates(fitted: dict) -> None:
    from clv.value import customer_lifetime_value as mle_clv

    data, mle = fitted["pareto"]
    data = data.iloc[:30]
    _, gg = fitted["gg"]
    tx = cb.ParetoNBDModel.from_idata(_mock(mle.params_, 1, 2), **KW["pareto"])
    sp = cb.GammaGammaModel.from_idata(_mock(gg.params_, 1, 2, seed=1), **KW["gg"])
    got = cb.customer_lifetime_value(tx, sp, data, horizon=12, discount_rate_per_period=0.01)
    post_t, post_s = tx.idata_.posterior, sp.idata_.posterior
    want = mle_clv(
        _mle_at("pareto", post_t, 0, 1),
        _mle_at("gg", post_s, 0, 1),
        data,
        horizon=12,
        discount_rate_per_period=0.01,
    )
    np.testing.assert_allclose(np.asarray(got.values)[0, 1], want, rtol=1e-8)


# ---------------------------------------------------------------------- parameter draws
def test_parameter_table_of_the_posterior(fitted: dict) -> None:
    data, mle = fitted["pareto"]
    bayes = cb.ParetoNBDModel.from_idata(_mock(mle.params_, 2, 5), **KW["pareto"])
    post = bayes.idata_.posterior
    flat = {k: post[k].values.reshape(-1) for k in mle.params_.index}
    all_draws = bayes.sample_params(10)
    assert list(all_draws.columns) == list(mle.params_.index)
    np.testing.assert_array_equal(all_draws["purchase[nps]"], flat["purchase[nps]"])
    a = bayes.sample_params(4, random_state=1)
    b = bayes.sample_params(4, random_state=1)
    pd.testing.assert_frame_equal(a, b)
    assert len(set(map(tuple, a.to_numpy()))) == 4  # fewer: without replacement
    assert set(map(tuple, a.to_numpy())) <= set(map(tuple, all_draws.to_numpy()))
    assert len(bayes.sample_params(25, random_state=2)) == 25
    np.testing.assert_allclose(bayes.params_, all_draws.mean(axis=0))
    np.testing.assert_allclose(bayes.covariance_, np.cov(all_draws.to_numpy().T))
    row = all_draws.iloc[3]
    ind = bayes.individual_params(data.iloc[:20], params=row)
    ref = cm.ParetoNBDModel(**KW["pareto"])
    ref.params_ = row
    pd.testing.assert_frame_equal(ind, ref.individual_params(data.iloc[:20]))
    with pytest.raises(ValueError, match="n_draws"):
        bayes.sample_params(0)


def test_netcdf_round_trip_keeps_the_covariates(tmp_path, fitted: dict) -> None:
    data, mle = fitted["bgnbd"]
    priors = {"dropout[complaints]": ("Normal", {"mu": 0.3, "sigma": 0.1})}
    bayes = cb.BetaGeoModel.from_idata(
        _mock(mle.params_),
        priors=priors,
        coefficient_prior=("Normal", {"mu": 0.0, "sigma": 0.5}),
        **KW["bgnbd"],
    )
    bayes.to_netcdf(tmp_path / "m.nc")
    back = cb.BetaGeoModel.from_netcdf(tmp_path / "m.nc")
    assert back.coefficient_names == bayes.coefficient_names
    assert back.priors == bayes.priors
    assert back.coefficient_prior == ("Normal", {"mu": 0.0, "sigma": 0.5})
    pd.testing.assert_frame_equal(back.summary(), bayes.summary())
    np.testing.assert_allclose(
        back.probability_alive(data.iloc[:10]).values,
        bayes.probability_alive(data.iloc[:10]).values,
    )


# ---------------------------------------------------------------------- drivers and ROI
@pytest.fixture(scope="module")
def roi_world(fitted: dict) -> dict[str, Any]:
    """MLE models and Bayesian models whose posterior is the engine's own MLE draws."""
    from clv.roi.engine import _model_draws

    data, tm = fitted["pareto"]
    _, sm = fitted["gg"]
    n, seed = 16, 3
    out: dict[str, Any] = {"data": data.iloc[:300], "tm": tm, "sm": sm, "n": n, "seed": seed}
    for key, mle in (("btm", tm), ("bsm", sm)):
        draws = _model_draws(mle, n, seed)  # the draws the engine takes from the MLE fit
        idata = az.from_dict(posterior={c: draws[c].to_numpy()[None, :] for c in draws})
        cls = cb.ParetoNBDModel if key == "btm" else cb.GammaGammaModel
        out[key] = cls.from_idata(idata, **KW["pareto" if key == "btm" else "gg"])
    return out


def test_evaluate_investments_accepts_bayesian_models(roi_world: dict) -> None:
    from clv.roi import Evidence, Investment, Shift, evaluate_investments

    w = roi_world
    inv = [
        Investment("Fewer complaints", cost=50.0, shifts=[Shift("complaints", "relative", -0.5)]),
        Investment(
            "Happier",
            cost=80.0,
            shifts=[Shift("nps", "add", 1.0)],
            evidence=Evidence.experiment({"purchase[nps]": (0.2, 0.05)}),
        ),
    ]

    def run(tm: Any, sm: Any) -> pd.DataFrame:
        return evaluate_investments(
            inv,
            transaction_model=tm,
            spend_model=sm,
            data=w["data"],
            horizon=8,
            discount_rate=0.001,
            margin=0.3,
            n_draws=w["n"],
            random_state=w["seed"],
            breakeven=False,
        )

    mle = run(w["tm"], w["sm"])
    bayes = run(w["btm"], w["bsm"])
    pd.testing.assert_frame_equal(bayes.table(), mle.table())  # same draws -> same answer
    assert np.isfinite(bayes.table().select_dtypes("number").to_numpy()).any()


def test_drivers_accept_bayesian_models(roi_world: dict) -> None:
    from clv.cx import drivers

    w = roi_world
    kw = {"horizon": 8, "margin": 0.3, "n_draws": w["n"], "random_state": w["seed"]}
    mle = drivers(w["tm"], w["sm"], w["data"], **kw).set_index("coefficient_name")
    bayes = drivers(w["btm"], w["bsm"], w["data"], **kw).set_index("coefficient_name")
    assert list(bayes.index) == list(mle.index)
    # CLV changes come from the engine's draws: identical
    np.testing.assert_allclose(bayes["clv_change_pct"], mle["clv_change_pct"], rtol=1e-12)
    assert bayes["clv_change_pct"].notna().all()
    # coefficients: posterior means and sds, close to the MLE and its standard errors
    for name in mle.index:
        draws = pd.concat([w["btm"].sample_params(w["n"]), w["bsm"].sample_params(w["n"])], axis=1)[
            name
        ]
        assert bayes.loc[name, "coefficient"] == pytest.approx(draws.mean())
        assert bayes.loc[name, "se"] == pytest.approx(draws.std(ddof=1))
        assert (
            abs(bayes.loc[name, "coefficient"] - mle.loc[name, "coefficient"])
            < 4.0 * mle.loc[name, "se"] / np.sqrt(w["n"]) * 2
        )
        assert 0.4 < bayes.loc[name, "se"] / mle.loc[name, "se"] < 1.8


def test_engine_still_rejects_other_model_families(fitted: dict) -> None:
    from clv.roi.engine import CounterfactualEngine

    data, mle = fitted["bgnbd"]
    bayes = cb.BetaGeoModel.from_idata(_mock(mle.params_), **KW["bgnbd"])
    with pytest.raises(TypeError, match="ParetoNBDModel"):
        CounterfactualEngine(bayes, 1.0, data, 4, 0.0)


# ---------------------------------------------------------------------- NUTS (slow tier)
@pytest.mark.slow
def test_nuts_recovers_the_spend_coefficient() -> None:
    data = _world(1500, 21)  # truth: p, q, v = 5, 4, 20 and spend[nps] = 0.1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mle = cm.GammaGammaModel(**KW["gg"]).fit(data)
    priors = {"v": ("HalfNormal", {"sigma": 100.0})}  # spend is in units of about 10
    bayes = cb.GammaGammaModel(priors, **KW["gg"]).fit(
        data, chains=2, cores=1, tune=600, draws=500, random_seed=5
    )
    s = bayes.summary()
    truth = {"p": 5.0, "q": 4.0, "v": 20.0, "spend[nps]": 0.1}
    for name, value in truth.items():
        assert abs(s.loc[name, "mean"] - value) < 3.5 * s.loc[name, "sd"], name
    # weak priors: the posterior of the coefficient is centred on the MLE, with its spread
    se = np.sqrt(mle.covariance_.loc["spend[nps]", "spend[nps]"])
    assert s.loc["spend[nps]", "mean"] == pytest.approx(mle.params_["spend[nps]"], abs=0.5 * se)
    assert 0.7 < s.loc["spend[nps]", "sd"] / se < 1.4
