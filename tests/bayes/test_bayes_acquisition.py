"""Bayesian acquisition model: one likelihood (PyMC log-density == NumPy), MAP == MLE,
predictions over a mocked posterior == the pure functions at each draw, netCDF, the ROI
engine's acquisition lever; NUTS against the MLE on CDNOW and recovery (slow tier)."""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pymc")
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "ArviZ is undergoing", FutureWarning)
    import arviz as az
    import pymc as pm

    import clv.bayes as cb
from clv.exceptions import ConvergenceWarning, DataError, ModelFileError, NotFittedError
from clv.models import acquisition as acq
from clv.models.acquisition import AcquisitionModel, AcquisitionParams

T = 52
POOL = 100_000.0


def _series(counts: Any) -> pd.Series:
    return pd.Series(
        np.asarray(counts, dtype=float),
        index=pd.RangeIndex(1, len(counts) + 1, name="period"),
        name="new_customers",
    )


def _covariates(rng: np.random.Generator, n: int, first: int = 1) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "spend": rng.gamma(2.0, 0.5, n),
            "holiday": (np.arange(first, first + n) % 13 == 0).astype(float),
        },
        index=pd.RangeIndex(first, first + n, name="period"),
    )


# distribution, pool, covariates, true parameters by params_ name
CASES: dict[str, tuple[str, float | None, bool, dict[str, float]]] = {
    "eg": ("exponential-gamma", None, False, {"r": 1.5, "alpha": 20.0, "m": 5000.0}),
    "eg_pool_x": (
        "exponential-gamma",
        POOL,
        True,
        {
            "r": 2.0,
            "alpha": 50.0,
            "p": 0.3,
            "acquisition[spend]": -0.3,
            "acquisition[holiday]": 0.8,
        },
    ),
    "wg": (
        "weibull-gamma",
        None,
        True,
        {
            "r": 0.8,
            "alpha": 30.0,
            "c": 1.4,
            "m": 20_000.0,
            "acquisition[spend]": 0.4,
            "acquisition[holiday]": -0.5,
        },
    ),
    "wg_pool": ("weibull-gamma", POOL, False, {"r": 1.0, "alpha": 40.0, "c": 1.3, "p": 0.3}),
    "exp": ("exponential", POOL, False, {"lambda": 0.02, "p": 0.2}),
    "exp_x": (
        "exponential",
        None,
        True,
        {"lambda": 0.01, "m": 30_000.0, "acquisition[spend]": 0.5, "acquisition[holiday]": 0.6},
    ),
    "weibull": ("weibull", None, False, {"lambda": 0.01, "c": 1.2, "m": 80_000.0}),
    "weibull_pool_x": (
        "weibull",
        POOL,
        True,
        {
            "lambda": 0.005,
            "c": 1.3,
            "p": 0.5,
            "acquisition[spend]": 0.4,
            "acquisition[holiday]": 0.6,
        },
    ),
}


@pytest.fixture(scope="module")
def data() -> dict[str, tuple[pd.Series, pd.DataFrame | None]]:
    """Counts simulated from each case's parameters (and its covariates)."""
    out = {}
    for key, (dist, pool, with_x, truth) in CASES.items():
        gen = np.random.default_rng(sum(map(ord, key)))
        x = _covariates(gen, T) if with_x else None
        names = list(truth)
        params = AcquisitionModel(distribution=dist, pool_size=pool)._canonical(
            [truth[n] for n in names], names
        )
        sim = acq.simulate(
            AcquisitionParams(*(float(v) for v in params[:4]), np.asarray(params.beta).reshape(-1)),
            T,
            pool_size=None if pool is None else int(pool),
            covariates=None if x is None else x.to_numpy(),
            rng=gen,
        )
        out[key] = (_series(sim["counts"]), x)
    return out


def _flat(key: str) -> cb.AcquisitionModel:
    dist, pool, _, _ = CASES[key]
    return cb.AcquisitionModel(
        cb.AcquisitionModel.flat_priors(distribution=dist, pool_size=pool),
        distribution=dist,
        pool_size=pool,
        coefficient_prior=("Flat", {}),
    )


def _numpy_ll(
    key: str, counts: pd.Series, x: pd.DataFrame | None, params: dict[str, float]
) -> float:
    dist, pool, _, _ = CASES[key]
    names = list(params)
    p = AcquisitionModel(distribution=dist, pool_size=pool)._canonical(
        [params[n] for n in names], names
    )
    return float(
        acq.log_likelihood(
            p, counts.to_numpy(), pool_size=pool, covariates=None if x is None else x.to_numpy()
        ).sum()
    )


def _free_point(
    model: pm.Model, bayes: cb.AcquisitionModel, params: dict[str, float]
) -> dict[str, float]:
    """Values of the free variables (transformed scale) for parameters named as in params_."""
    natural = dict(params)
    coefs = [n for n in params if n.startswith("acquisition[")]
    if coefs:
        sc = bayes.covariate_scaling_
        shift = sum(params[n] * sc.loc[n, "mean"] for n in coefs)
        for n in coefs:
            natural[f"{n}_std"] = params[n] * sc.loc[n, "scale"]
        natural["alpha_at_mean"] = params.get("alpha", np.nan) * np.exp(-shift)
        natural["lambda_at_mean"] = params.get("lambda", np.nan) * np.exp(shift)
    out = {}
    for rv in model.free_RVs:
        value = np.float64(natural[rv.name])
        transform = model.rvs_to_transforms.get(rv)
        if transform is not None:
            value = transform.forward(value, *rv.owner.inputs).eval()
        out[model.rvs_to_values[rv].name] = float(value)
    return out


# ---------------------------------------------------------------------- one likelihood
@pytest.mark.parametrize("key", list(CASES))
def test_pymc_logp_equals_numpy_log_likelihood(key: str, data: dict) -> None:
    counts, x = data[key]
    bayes = _flat(key)
    model = bayes.build_model(counts, covariates=x)
    logp = model.compile_logp(jacobian=False)
    truth = CASES[key][3]
    for factor in (1.0, 0.9, 1.15):
        params = {n: v * factor for n, v in truth.items()}
        if "p" in params:
            params["p"] = min(params["p"], 0.9)
        expected = _numpy_ll(key, counts, x, params)
        assert np.isfinite(expected)
        assert float(logp(_free_point(model, bayes, params))) == pytest.approx(expected, rel=1e-10)


def test_default_priors_add_their_log_density(data: dict) -> None:
    """With the default priors the log-density is the likelihood plus the priors' log-densities."""
    counts, x = data["wg"]
    bayes = cb.AcquisitionModel(distribution="weibull-gamma")
    model = bayes.build_model(counts, covariates=x)
    params = CASES["wg"][3]
    point = _free_point(model, bayes, params)
    prior = sum(
        float(pm.logp(rv, np.float64(_natural(rv.name, bayes, params))).eval())
        for rv in model.free_RVs
    )
    logp = float(model.compile_logp(jacobian=False)(point))
    assert logp == pytest.approx(_numpy_ll("wg", counts, x, params) + prior, rel=1e-10)


def _natural(name: str, bayes: cb.AcquisitionModel, params: dict[str, float]) -> float:
    sc = bayes.covariate_scaling_
    coefs = [n for n in params if n.startswith("acquisition[")]
    if name.endswith("_std"):
        return params[name[:-4]] * sc.loc[name[:-4], "scale"]
    if name == "alpha_at_mean":
        return params["alpha"] * np.exp(-sum(params[n] * sc.loc[n, "mean"] for n in coefs))
    return params[name]


def test_gradient_matches_finite_differences(data: dict) -> None:
    counts, x = data["weibull_pool_x"]
    bayes = _flat("weibull_pool_x")
    model = bayes.build_model(counts, covariates=x)
    point = _free_point(model, bayes, CASES["weibull_pool_x"][3])
    logp, dlogp = model.compile_logp(jacobian=False), model.compile_dlogp(jacobian=False)
    grad = np.asarray(dlogp(point))
    names = [model.rvs_to_values[rv].name for rv in model.free_RVs]
    h = 1e-5
    for i, name in enumerate(names):
        up, down = dict(point), dict(point)
        up[name] += h
        down[name] -= h
        fd = (float(logp(up)) - float(logp(down))) / (2 * h)
        assert grad[i] == pytest.approx(fd, rel=1e-5, abs=1e-4), name


# ---------------------------------------------------------------------- MAP == MLE
@pytest.mark.parametrize("key", ["eg", "eg_pool_x", "wg", "weibull_pool_x"])
def test_map_with_flat_priors_equals_mle(key: str, data: dict) -> None:
    counts, x = data[key]
    dist, pool, _, _ = CASES[key]
    mle = AcquisitionModel(distribution=dist, pool_size=pool).fit(counts, covariates=x)
    bayes = _flat(key).fit(counts, "map", covariates=x)
    assert bayes.params_.index.tolist() == mle.params_.index.tolist()
    np.testing.assert_allclose(bayes.params_.to_numpy(), mle.params_.to_numpy(), rtol=1e-3)


def test_fixed_parameters_are_constants_and_reported(data: dict) -> None:
    counts, _ = data["weibull"]
    mle = AcquisitionModel(distribution="weibull", fixed={"m": 1e5}).fit(counts)
    prior = cb.AcquisitionModel.flat_priors(distribution="weibull", fixed={"m": 1e5})
    assert set(prior) == {"lambda", "c"}
    bayes = cb.AcquisitionModel(prior, distribution="weibull", fixed={"m": 1e5}).fit(counts, "map")
    assert [rv.name for rv in bayes.build_model().free_RVs] == ["lambda", "c"]
    np.testing.assert_allclose(bayes.params_.to_numpy(), mle.params_.to_numpy(), rtol=1e-3)
    assert bayes.sample_params(3, random_state=0)["m"].tolist() == [1e5] * 3
    with pytest.raises(ValueError, match="fixed"):
        cb.AcquisitionModel({"m": ("HalfFlat", {})}, distribution="weibull", fixed={"m": 1e5})


# ---------------------------------------------------------------------- predictions (mocked)
def _mock(
    key: str, data: dict, chains: int = 2, draws: int = 4, seed: int = 0
) -> tuple[cb.AcquisitionModel, az.InferenceData]:
    counts, x = data[key]
    dist, pool, _, truth = CASES[key]
    rng = np.random.default_rng(seed)
    post = {n: v * np.exp(0.05 * rng.standard_normal((chains, draws))) for n, v in truth.items()}
    idata = az.from_dict(posterior=post)
    model = cb.AcquisitionModel.from_idata(
        idata, counts, covariates=x, distribution=dist, pool_size=pool
    )
    return model, idata


def _at(key: str, idata: az.InferenceData, c: int, d: int) -> AcquisitionParams:
    dist, pool, _, truth = CASES[key]
    names = list(truth)
    return AcquisitionModel(distribution=dist, pool_size=pool)._canonical(
        [float(idata.posterior[n][c, d]) for n in names], names
    )


@pytest.mark.parametrize("key", ["eg", "wg_pool", "weibull_pool_x"])
def test_predictions_over_draws_equal_the_pure_functions(key: str, data: dict) -> None:
    model, idata = _mock(key, data)
    _, x = data[key]
    horizon = 6
    future = None if x is None else _covariates(np.random.default_rng(1), horizon, T + 1)
    full = None if x is None else pd.concat([x, future]).to_numpy()
    n = T + horizon
    arrivals = model.expected_arrivals(n, covariates=future)
    cumulative = model.expected_arrivals([3, n], covariates=future, cumulative=True)
    mean = model.forecast(horizon, covariates=future, noise=False)
    assert arrivals.dims == ("chain", "draw", "period")
    assert arrivals.coords["period"].values.tolist() == list(range(1, n + 1))
    assert mean.coords["period"].values.tolist() == list(range(T + 1, n + 1))
    observed = float(data[key][0].sum())
    pool = CASES[key][1]
    for c in range(2):
        for d in range(4):
            p = _at(key, idata, c, d)
            want = acq.expected_arrivals(p, n, full)
            np.testing.assert_allclose(arrivals[c, d].values, want, rtol=1e-12)
            np.testing.assert_allclose(
                cumulative[c, d].values, np.cumsum(want)[[2, n - 1]], rtol=1e-12
            )
            scalar = AcquisitionParams(
                *(np.atleast_1d(v) for v in p[:4]), np.asarray(p.beta).reshape(1, -1)
            )
            fut = acq.future_arrivals(
                scalar, T, n, observed=observed, pool_size=pool, covariates=full, noise=False
            )[0]
            np.testing.assert_allclose(mean[c, d].values, fut, rtol=1e-12)
            if pool is None:  # without a pool the expected future arrivals are m dF
                np.testing.assert_allclose(mean[c, d].values, want[T:], rtol=1e-12)
    # the same draw as a maximum-likelihood model gives the same table
    point = model.point_models()[5]
    np.testing.assert_allclose(
        point.expected_arrivals(n, covariates=future)["expected"], arrivals[1, 1].values, rtol=1e-12
    )
    fc = point.forecast(3, covariates=future, n_draws=200, random_state=0)
    np.testing.assert_allclose(fc["expected"], arrivals[1, 1].values[T : T + 3], rtol=1e-12)
    assert np.all(fc["lower"] <= fc["expected"]) and np.all(fc["expected"] <= fc["upper"])
    table = model.summarize(arrivals)
    assert table.index.name == "period" and list(table.columns) == ["mean", "sd", "5%", "95%"]
    np.testing.assert_allclose(table["mean"], arrivals.mean(("chain", "draw")).values)


def test_forecast_with_noise_is_seeded_and_respects_the_pool(data: dict) -> None:
    model, _ = _mock("wg_pool", data, chains=1, draws=400)
    a = model.forecast(8, random_state=3)
    b = model.forecast(8, random_state=3)
    np.testing.assert_array_equal(a.values, b.values)
    assert np.all(a.values == np.round(a.values)) and np.all(a.values >= 0)
    left = POOL - float(data["wg_pool"][0].sum())
    assert np.all(a.values.sum(axis=-1) <= left)
    expected = model.forecast(8, noise=False)
    # posterior predictive mean ~ posterior mean of the expectation (400 draws)
    sd = float(np.sqrt(expected.values.mean()))
    assert abs(float(a.values.mean() - expected.values.mean())) < 4 * sd / np.sqrt(400 * 8)
    cum = model.forecast(8, random_state=3, cumulative=True)
    np.testing.assert_allclose(
        cum.values, float(data["wg_pool"][0].sum()) + np.cumsum(a.values, axis=-1)
    )
    assert model.summarize(cum).index.tolist() == list(range(T + 1, T + 9))


def test_sample_params_are_the_posterior_draws(data: dict) -> None:
    model, idata = _mock("eg_pool_x", data)
    draws = model.sample_params(8)
    assert list(draws.columns) == ["r", "alpha", "p", "acquisition[spend]", "acquisition[holiday]"]
    np.testing.assert_array_equal(
        draws["alpha"].to_numpy(), idata.posterior["alpha"].values.reshape(-1)
    )
    resampled = model.sample_params(50, random_state=1)
    assert len(resampled) == 50 and set(resampled["r"]) <= set(draws["r"])
    pd.testing.assert_frame_equal(resampled, model.sample_params(50, random_state=1))
    assert model.params_.index.tolist() == list(draws.columns)
    assert model.covariate_names_ == ["spend", "holiday"]
    assert model.coefficient_names == ["acquisition[spend]", "acquisition[holiday]"]


def test_acquisition_lever_with_a_bayesian_model(cdnow_spend) -> None:
    """With a posterior made of the engine's own MLE draws, the lever's value is identical."""
    from clv.models import ParetoNBDModel
    from clv.roi import Investment, NewCustomers, Shift, evaluate_investments

    gen = np.random.default_rng(3)
    weeks, horizon, n_draws = 40, 26, 12
    share = pd.DataFrame(
        {"promoter_share": 0.3 + 0.1 * gen.standard_normal(weeks + horizon)},
        index=pd.RangeIndex(1, weeks + horizon + 1, name="period"),
    )
    counts = _series(
        gen.poisson(
            60
            * np.exp(-np.arange(weeks) / 30)
            * np.exp(2.0 * (share["promoter_share"][:weeks] - 0.3))
        )
    )
    mle = AcquisitionModel().fit(counts, covariates=share.iloc[:weeks])
    # the draws the engine takes from the MLE model (same seed, same class name)
    from clv.roi.engine import _seed

    rng = np.random.default_rng(_seed(5, "params", "AcquisitionModel"))
    own = mle.sample_params(n_draws, random_state=rng)
    idata = az.from_dict(posterior={n: own[n].to_numpy()[None, :] for n in own.columns})
    bayes = cb.AcquisitionModel.from_idata(idata, counts, covariates=share.iloc[:weeks])
    tm = ParetoNBDModel().fit(cdnow_spend)
    promo = Investment(
        "Referral push", cost=500.0, shifts=[Shift("promoter_share", "add", 0.05)], duration=10
    )
    results = [
        evaluate_investments(
            [promo],
            transaction_model=tm,
            spend_model=40.0,
            data=cdnow_spend,
            horizon=horizon,
            discount_rate=0.002,
            margin=0.3,
            n_draws=n_draws,
            random_state=5,
            breakeven=False,
            new_customers=NewCustomers(model, share.iloc[weeks:], 25.0),
        )
        for model in (mle, bayes)
    ]
    a, b = (r.investments["Referral push"] for r in results)
    assert a.incremental_clv.mean() > 0
    np.testing.assert_allclose(b.incremental_clv, a.incremental_clv, rtol=1e-12)
    np.testing.assert_allclose(b.levers, a.levers, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------- persistence, checks
def test_netcdf_round_trip_and_refusals(data: dict, tmp_path) -> None:
    model, _ = _mock("weibull_pool_x", data)
    path = tmp_path / "acq.nc"
    model.to_netcdf(path)
    back = cb.AcquisitionModel.from_netcdf(path)
    assert (back.distribution, back.pool_size) == ("weibull", POOL)
    pd.testing.assert_series_equal(back.params_, model.params_)
    pd.testing.assert_series_equal(back.counts_, model.counts_, check_names=False)
    future = _covariates(np.random.default_rng(2), 4, T + 1)
    np.testing.assert_allclose(
        back.expected_arrivals(T + 4, covariates=future).values,
        model.expected_arrivals(T + 4, covariates=future).values,
    )
    with pytest.raises(ModelFileError, match="holds a AcquisitionModel posterior"):
        cb.ShiftedBetaGeoModel.from_netcdf(path)
    other = tmp_path / "sbg.nc"
    cb.ShiftedBetaGeoModel.from_idata(
        az.from_dict(posterior={"alpha": np.ones((1, 2)), "beta": np.ones((1, 2))})
    ).to_netcdf(other)
    with pytest.raises(ModelFileError, match="ShiftedBetaGeoModel posterior, not a Acquisition"):
        cb.AcquisitionModel.from_netcdf(other)
    idata = az.from_netcdf(path)
    idata.attrs["clv_schema_version"] = 99
    idata.to_netcdf(tmp_path / "v99.nc")
    with pytest.raises(ModelFileError, match="schema version 99"):
        cb.AcquisitionModel.from_netcdf(tmp_path / "v99.nc")
    del idata.attrs["acquisition_json"]
    idata.attrs["clv_schema_version"] = back.idata_.attrs["clv_schema_version"]
    idata.to_netcdf(tmp_path / "damaged.nc")
    with pytest.raises(ModelFileError, match="damaged"):
        cb.AcquisitionModel.from_netcdf(tmp_path / "damaged.nc")


def test_convergence_warning_on_disagreeing_chains(data: dict) -> None:
    counts, _ = data["eg"]
    rng = np.random.default_rng(0)
    post = {
        "r": np.stack([np.full(50, 1.0), np.full(50, 2.0)]) + 0.01 * rng.random((2, 50)),
        "alpha": 20 + rng.random((2, 50)),
        "m": 5000 + rng.random((2, 50)),
    }
    model = cb.AcquisitionModel.from_idata(az.from_dict(posterior=post), counts)
    with pytest.warns(ConvergenceWarning, match="r_hat of 'r'"):
        model._check_convergence()
    assert model.summary().index.tolist() == ["r", "alpha", "m"]


def test_bad_inputs(data: dict) -> None:
    counts, x = data["wg"]
    with pytest.raises(NotFittedError):
        cb.AcquisitionModel().expected_arrivals(3)
    with pytest.raises(DataError, match="same value in every calibration period"):
        cb.AcquisitionModel().build_model(counts, covariates=x.assign(spend=1.0))
    with pytest.raises(ValueError, match="priors name coefficient"):
        cb.AcquisitionModel({"acquisition[tv]": ("Normal", {"mu": 0, "sigma": 1})}).build_model(
            counts, covariates=x
        )
    with pytest.raises(ValueError, match="has no parameter"):
        cb.AcquisitionModel({"c": ("HalfFlat", {})})  # exponential-gamma has no c
    with pytest.raises(ValueError, match="distribution must be one of"):
        cb.AcquisitionModel(distribution="gamma")
    with pytest.raises(DataError, match="pool"):
        cb.AcquisitionModel(pool_size=10.0).build_model(counts)
    with pytest.raises(ValueError, match="per-customer"):
        cb.AcquisitionModel().pointwise_log_likelihood(counts)


# ---------------------------------------------------------------------- sampling (slow)
@pytest.fixture(scope="module")
def cdnow_weekly() -> pd.Series:
    """New customers per week of CDNOW's 1997 cohort (the MLE tests' CDNOW check)."""
    from clv.data.datasets import load_cdnow_transactions

    first = load_cdnow_transactions().groupby("customer_id")["date"].min()
    return acq.arrivals_per_period(first, time_unit="W")


@pytest.mark.slow
def test_nuts_posterior_agrees_with_the_mle_on_cdnow(cdnow_weekly) -> None:
    """Weibull timing on weeks 1-8 with m fixed at 1e9 (as the MLE CDNOW check, c = 1.1136):
    with flat priors the posterior means are within 2 posterior sd of the MLE."""
    start = time.perf_counter()
    weeks = cdnow_weekly.loc[:8]
    opts = {"distribution": "weibull", "fixed": {"m": 1e9}}
    mle = AcquisitionModel(**opts).fit(weeks)
    model = cb.AcquisitionModel(cb.AcquisitionModel.flat_priors(**opts), **opts).fit(
        weeks, chains=2, draws=500, tune=500, random_seed=11
    )
    s = model.summary()
    z = (s["mean"] - mle.params_[s.index]) / s["sd"]
    assert np.all(np.abs(z) < 2), z
    assert s.loc["c", "mean"] == pytest.approx(1.1136, abs=2 * s.loc["c", "sd"] + 1e-3)
    # posterior sd ~ the MLE standard error (a flat prior, 20k customers)
    np.testing.assert_allclose(
        s["sd"], np.sqrt(np.diag(mle.covariance_.loc[s.index, s.index])), rtol=0.25
    )
    assert time.perf_counter() - start < 60


@pytest.mark.slow
def test_nuts_recovers_simulated_parameters() -> None:
    """Default priors, weibull-gamma with a covariate: the truth within 3 posterior sd."""
    start = time.perf_counter()
    rng = np.random.default_rng(2024)
    x = _covariates(rng, T)[["spend"]]
    truth = {"r": 1.2, "alpha": 30.0, "c": 1.2, "m": 20_000.0, "acquisition[spend]": 0.4}
    counts = acq.simulate(
        AcquisitionParams(1.2, 30.0, 1.2, 20_000.0, np.array([0.4])),
        T,
        covariates=x.to_numpy(),
        rng=rng,
    )["counts"]
    model = cb.AcquisitionModel(distribution="weibull-gamma").fit(
        _series(counts), covariates=x, chains=2, draws=400, tune=400, random_seed=5
    )
    s = model.summary()
    z = (s["mean"] - pd.Series(truth)) / s["sd"]
    assert np.all(np.abs(z[list(truth)]) < 3), z
    assert time.perf_counter() - start < 60
