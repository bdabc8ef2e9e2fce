"""Churn covariates on the Bayesian sBG and BdW: one likelihood with the MLE, MAP, draws, drivers.

Default tier: compiled log-densities, MAP and mocked posteriors; the NUTS
recovery run on the synthetic CX world is in the slow tier.
"""

from __future__ import annotations

import time
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
from clv.exceptions import DataError
from clv.models import _retention_covariates as ph
from clv.models import sbg
from clv.models._covariates import covariate_multiplier
from tests.bayes.test_bayes_covariates import _logp
from tests.bayes.test_bayes_covariates import _mock as _covariate_mock

COLS = ["nps", "complaints"]
TRUE = {"churn[nps]": -0.2, "churn[complaints]": 0.4}
CLASSES = {
    "sbg": (cb.ShiftedBetaGeoModel, cm.ShiftedBetaGeoModel),
    "bdw": (cb.BetaDiscreteWeibullModel, cm.BetaDiscreteWeibullModel),
}


def _subscriptions(n: int, seed: int, c: float = 1.0) -> pd.DataFrame:
    """Customers with an uncentred and a count covariate under discrete proportional hazards."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {"nps": rng.normal(5.0, 2.0, n), "complaints": rng.poisson(1.0, n).astype(float)},
        index=pd.RangeIndex(n, name="customer_id"),
    )
    theta = rng.beta(1.0, 3.0, n)
    k = np.asarray(covariate_multiplier(X[COLS].to_numpy(), list(TRUE.values())))
    theta_k = -np.expm1(k * np.log1p(-theta))  # P(T > t) = (1 - θ)^{k t^c}
    sim = sbg.simulate_lifetimes(theta_k, c, rng.integers(4, 13, n).astype(float), rng)
    return pd.DataFrame(
        {"periods_observed": sim["periods_observed"], "churned": sim["churned"]}, index=X.index
    ).join(X)


@pytest.fixture(scope="module")
def fitted() -> dict[str, tuple[pd.DataFrame, Any]]:
    data = {"sbg": _subscriptions(1000, 21), "bdw": _subscriptions(1000, 22, c=1.3)}
    return {k: (d, CLASSES[k][1](churn_covariates=COLS).fit(d)) for k, d in data.items()}


def _flat(key: str) -> Any:
    cls = CLASSES[key][0]
    return cls(priors=cls.flat_priors(), coefficient_prior=("Flat", {}), churn_covariates=COLS)


def _numpy_ll(data: pd.DataFrame, mle: Any, params: pd.Series) -> float:
    """The maximum-likelihood path: the churn multiplier, then the proportional-hazards ll."""
    base = mle.spec.params(*params[list(mle.spec.params._fields)])
    k = mle.individual_params(data, params)["churn_multiplier"].to_numpy()
    return float(
        np.sum(
            ph.log_likelihood(
                base,
                {"churn": k},
                data["periods_observed"].to_numpy(float),
                data["churned"].to_numpy(float),
            )
        )
    )


def _mock(params: pd.Series, chains: int = 2, draws: int = 3, seed: int = 0) -> az.InferenceData:
    return _covariate_mock(params, chains, draws, seed, spread=0.05)


def _mle_at(key: str, post: Any, c: int, d: int) -> Any:
    ref = CLASSES[key][1](churn_covariates=COLS)
    ref.params_ = pd.Series({k: float(post[k][c, d]) for k in post.data_vars}, dtype=np.float64)
    ref.time_unit_ = None
    return ref


# ---------------------------------------------------------------------- one likelihood
@pytest.mark.parametrize("key", list(CLASSES))
def test_pymc_logp_equals_the_numpy_churn_log_likelihood(key: str, fitted: dict) -> None:
    data, mle = fitted[key]
    bayes = _flat(key)
    assert _logp(bayes, data, mle.params_) == pytest.approx(mle.log_likelihood_, rel=1e-9)
    assert _numpy_ll(data, mle, mle.params_) == pytest.approx(mle.log_likelihood_, rel=1e-9)
    moved = mle.params_ * np.linspace(0.8, 1.3, len(mle.params_))
    assert _logp(bayes, data, moved) == pytest.approx(_numpy_ll(data, mle, moved), rel=1e-9)
    # identical rows are compressed: fewer likelihood rows than customers, same value
    _, counts, _ = bayes._fit_data(data.round({"nps": 0}))
    assert len(counts) < len(data) and counts.sum() == len(data)


def test_zero_coefficients_give_the_aggregated_model_logp(fitted: dict) -> None:
    data, mle = fitted["sbg"]
    params = mle.params_.copy()
    params[list(TRUE)] = 0.0
    plain = cb.ShiftedBetaGeoModel(priors=cb.ShiftedBetaGeoModel.flat_priors()).build_model(data)
    point = {plain.rvs_to_values[v].name: np.log(params[v.name]) for v in plain.free_RVs}
    expected = float(plain.compile_logp(jacobian=False)(point))
    assert _logp(_flat("sbg"), data, params) == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize("key", list(CLASSES))
def test_map_with_flat_priors_is_the_covariate_mle(key: str, fitted: dict) -> None:
    data, mle = fitted[key]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        bayes = _flat(key).fit(data, method="map")
    got = bayes.summary()["mean"]
    assert list(got.index) == list(mle.params_.index)
    np.testing.assert_allclose(got, mle.params_, rtol=1e-3)


def test_default_coefficient_prior_is_per_standard_deviation(fitted: dict) -> None:
    data, _ = fitted["sbg"]
    bayes = cb.ShiftedBetaGeoModel(churn_covariates=COLS)
    assert bayes.coefficient_names == list(TRUE)
    model = bayes.build_model(data)
    assert {"churn[nps]_std", "churn[complaints]_std", "alpha", "beta"} == {
        v.name for v in model.free_RVs
    }
    sd = data["nps"].std(ddof=0)
    assert bayes.covariate_scaling_.loc["churn[nps]", "scale"] == pytest.approx(sd)
    # a prior under the coefficient's own name is in natural units: the log-density is the
    # likelihood plus that prior at the coefficient per unit of its column
    _, mle = fitted["sbg"]
    priors = {
        **cb.ShiftedBetaGeoModel.flat_priors(),
        "churn[complaints]": ("Normal", {"mu": 0.1, "sigma": 0.05}),
    }
    named = cb.ShiftedBetaGeoModel(
        priors=priors, coefficient_prior=("Flat", {}), churn_covariates=COLS
    )
    g = mle.params_["churn[complaints]"]
    log_prior = -0.5 * ((g - 0.1) / 0.05) ** 2 - np.log(0.05 * np.sqrt(2.0 * np.pi))
    assert _logp(named, data, mle.params_) == pytest.approx(
        mle.log_likelihood_ + log_prior, rel=1e-10
    )


def test_bad_inputs_are_rejected(fitted: dict) -> None:
    table = pd.DataFrame({"period": range(4), "n_alive": [100, 80, 70, 64]})
    with pytest.raises(DataError, match="survival table"):
        cb.ShiftedBetaGeoModel(churn_covariates=["nps"]).build_model(table)
    data, _ = fitted["sbg"]
    with pytest.raises(DataError, match="wait"):
        cb.BetaDiscreteWeibullModel(churn_covariates=["wait"]).build_model(data)
    with pytest.raises(DataError, match="same value"):
        cb.ShiftedBetaGeoModel(churn_covariates=["one"]).build_model(data.assign(one=1.0))
    with pytest.raises(ValueError, match="segment"):
        cb.ShiftedBetaGeoModel(churn_covariates=["nps"], segment="region")
    with pytest.raises(TypeError):
        cb.ShiftedBetaGeoModel(purchase_covariates=["nps"])


# ---------------------------------------------------------------------- predictions
@pytest.mark.parametrize("key", list(CLASSES))
def test_predictions_per_customer_equal_the_mle_at_each_draw(key: str, fitted: dict) -> None:
    data, mle = fitted[key]
    rows = data.iloc[:25]
    bayes = CLASSES[key][0].from_idata(_mock(mle.params_), churn_covariates=COLS)
    t_rows = rows["periods_observed"].to_numpy(float)
    surv = bayes.survival(t_rows, covariates=rows)
    rate = bayes.retention_rate(3, covariates=rows)
    churn = bayes.probability_of_churn(2, covariates=rows)
    derl = bayes.expected_residual_lifetime(t_rows, discount_rate=0.1, covariates=rows)
    life = bayes.expected_lifetime(discount_rate=0.1, covariates=rows)
    assert surv.dims == ("chain", "draw", "customer_id")
    assert list(derl.coords["customer_id"].values) == list(rows.index)
    post = bayes.idata_.posterior
    for c, d in [(0, 0), (1, 2)]:
        ref = _mle_at(key, post, c, d)
        pairs = [
            (surv, ref.survival(t_rows, covariates=rows)),
            (rate, ref.retention_rate(3, covariates=rows)),
            (churn, ref.probability_of_churn(2, covariates=rows)),
            (derl, ref.expected_residual_lifetime(t_rows, discount_rate=0.1, covariates=rows)),
            (life, ref.expected_lifetime(discount_rate=0.1, covariates=rows)),
        ]
        for got, want in pairs:
            np.testing.assert_allclose(got.values[c, d], want.to_numpy(), rtol=1e-12)
    # customers differ: more complaints -> more churn at every draw
    worse = rows.assign(complaints=rows["complaints"] + 2.0)
    assert np.all(
        bayes.probability_of_churn(1, covariates=worse).values
        > bayes.probability_of_churn(1, covariates=rows).values
    )
    summary = bayes.survival(4, covariates=rows, summary_only=True)
    np.testing.assert_allclose(
        summary["mean"], bayes.survival(4, covariates=rows).values.reshape(-1, 25).mean(0)
    )
    # without covariates=: the customer with every covariate at 0, as in the MLE
    ref = _mle_at(key, post, 1, 1)
    np.testing.assert_allclose(bayes.survival([2, 5]).values[1, 1], ref.survival([2, 5]))
    with pytest.raises(ValueError, match="one value per customer"):
        bayes.survival([1.0, 2.0], covariates=rows)


def test_parameter_draws_and_individual_params(fitted: dict) -> None:
    data, mle = fitted["sbg"]
    bayes = cb.ShiftedBetaGeoModel.from_idata(_mock(mle.params_), churn_covariates=COLS)
    draws = bayes.sample_params(6)
    assert list(draws.columns) == list(mle.params_.index)
    ind = bayes.individual_params(data.iloc[:5], params=draws.iloc[2])
    ref = _mle_at("sbg", bayes.idata_.posterior, 0, 2).individual_params(data.iloc[:5])
    pd.testing.assert_frame_equal(ind, ref)
    assert (ind["churn_multiplier"] != 1.0).all()
    points = bayes.point_models()
    assert len(points) == 6 and points[4].params_["churn[nps]"] == pytest.approx(
        float(bayes.idata_.posterior["churn[nps]"][1, 1])
    )


def test_pointwise_log_likelihood_and_netcdf(fitted: dict, tmp_path) -> None:
    data, mle = fitted["bdw"]
    bayes = cb.BetaDiscreteWeibullModel.from_idata(_mock(mle.params_), churn_covariates=COLS)
    assert bayes.pointwise
    ll = bayes.pointwise_log_likelihood(data)
    assert ll.dims == ("chain", "draw", "customer_id")
    ref = _mle_at("bdw", bayes.idata_.posterior, 1, 0)
    assert float(ll.values[1, 0].sum()) == pytest.approx(
        _numpy_ll(data, ref, ref.params_), rel=1e-12
    )
    with pytest.raises(ValueError, match="weight"):
        bayes.pointwise_log_likelihood(data.assign(weight=1.0))
    path = tmp_path / "bdw.nc"
    bayes.add_log_likelihood(data).to_netcdf(path)
    back = cb.BetaDiscreteWeibullModel.from_netcdf(path)
    assert back.coefficient_names == list(TRUE)
    np.testing.assert_allclose(
        back.survival(3, covariates=data.iloc[:4]).values,
        bayes.survival(3, covariates=data.iloc[:4]).values,
    )
    assert not cb.BetaDiscreteWeibullModel().pointwise


def test_drivers_read_a_bayesian_churn_model(fitted: dict) -> None:
    from clv.cx import drivers

    data, mle = fitted["sbg"]
    bayes = cb.ShiftedBetaGeoModel.from_idata(
        _mock(mle.params_, chains=2, draws=50), churn_covariates=COLS
    )
    table = drivers(retention_model=bayes, data=data).set_index("coefficient_name")
    post = bayes.idata_.posterior
    for name in TRUE:
        row = table.loc[name]
        assert row["lever"] == "retention" and row["effect_on"] == "churn hazard"
        assert row["coefficient"] == pytest.approx(float(post[name].mean()))
        assert row["se"] == pytest.approx(float(post[name].std(ddof=1)), rel=1e-10)
        assert row["effect_per_unit"] == pytest.approx(np.exp(float(post[name].mean())))


# ---------------------------------------------------------------------- NUTS recovery
@pytest.mark.slow
def test_nuts_recovers_churn_coefficients_of_the_cx_world() -> None:
    from clv.synth import simulate_cx_world

    world = simulate_cx_world(3000, seed=7)
    truth = world.truth.params.gamma_churn
    cols = sorted(truth)
    subs = world.subscriptions.set_index("customer_id").join(world.truth.covariates[cols])
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "run at least 4 chains"
        # PyMC's step-size adaptation overflows a kinetic energy in the first tuning steps (a
        # rejected proposal); the divergences of the kept draws are checked below
        warnings.simplefilter("ignore", RuntimeWarning)
        bayes = cb.ShiftedBetaGeoModel(churn_covariates=cols).fit(
            subs, chains=2, draws=400, tune=400, random_seed=3
        )
    elapsed = time.perf_counter() - start
    summary = bayes.summary()
    for col in cols:
        row = summary.loc[f"churn[{col}]"]
        assert abs(row["mean"] - truth[col]) < 4 * row["sd"], (col, row.to_dict())
        assert np.sign(row["mean"]) == np.sign(truth[col])
    prm = world.truth.params
    for name, value in (("alpha", prm.churn_alpha), ("beta", prm.churn_beta)):
        assert abs(summary.loc[name, "mean"] - value) < 4 * summary.loc[name, "sd"], name
    assert (summary["r_hat"] < 1.02).all(), summary
    assert (summary["ess_bulk"] > 200).all(), summary
    assert int(bayes.idata_.sample_stats["diverging"].sum()) == 0
    assert elapsed < 60, elapsed
