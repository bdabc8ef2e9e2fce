"""Abe (2009) hierarchical-Bayes Pareto/NBD with correlated log-normal rates."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pymc")
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "ArviZ is undergoing", FutureWarning)
    import arviz as az

    from clv.bayes import AbeParetoNBDModel, abe
from clv.exceptions import DataError, ModelFileError, NotFittedError
from clv.models import pareto_nbd

POPULATION = ("log_lambda_mean", "log_mu_mean", "log_lambda_sd", "log_mu_sd", "correlation")


def test_probability_alive_given_rates_matches_the_likelihood_terms():
    lam, mu, x, t_x, T = 0.3, 0.05, 4.0, 20.0, 40.0
    k = lam + mu
    alive = lam**x * np.exp(-k * T)
    total = alive + lam**x * mu / k * (np.exp(-k * t_x) - np.exp(-k * T))
    assert float(abe.probability_alive_given_rates(lam, mu, x, t_x, T)) == pytest.approx(
        alive / total, rel=1e-12
    )
    assert np.exp(pareto_nbd.individual_log_likelihood(lam, mu, x, t_x, T)) == pytest.approx(
        total, rel=1e-12
    )
    # long inactivity of a fast buyer: no overflow, probability ~ 0
    p = abe.probability_alive_given_rates(5.0, 0.5, 50.0, 1.0, 1000.0)
    assert np.isfinite(p) and 0.0 <= p < 1e-100


def _future(sim: dict, t: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Purchases in (T, T+t] and alive at T+t; an alive customer's remaining life is Exp(mu)."""
    remaining = np.where(sim["alive"], rng.standard_exponential(len(sim["T"])) / sim["mu"], 0.0)
    purchases = rng.poisson(sim["lambda"] * np.minimum(remaining, t))
    return purchases, remaining > t


def test_conditional_predictions_match_monte_carlo():
    """Closed forms given the rates and the history against simulated futures, by history group."""
    rng = np.random.default_rng(11)
    n, t = 200_000, 26.0
    cov = [[0.8, 0.3], [0.3, 1.0]]
    sim = abe.simulate([np.log(0.1), np.log(0.02)], cov, rng.uniform(20, 60, n), rng=rng)
    future, alive_later = _future(sim, t, rng)
    args = (sim["lambda"], sim["mu"], t, sim["frequency"], sim["recency"], sim["T"])
    expected = abe.expected_purchases_given_rates(*args)
    p_later = abe.probability_alive_at_given_rates(*args)
    p_now = abe.probability_alive_given_rates(*args[:2], *args[3:])
    gap = sim["T"] - sim["recency"]
    groups = {
        "no repeat purchase": sim["frequency"] == 0,
        "recent buyers": (sim["frequency"] > 0) & (gap < 5),
        "lapsed buyers": (sim["frequency"] > 0) & (gap > 15),
    }
    for name, rows in groups.items():
        assert rows.sum() > 5000, name
        se = future[rows].std() / np.sqrt(rows.sum())
        assert expected[rows].mean() == pytest.approx(future[rows].mean(), abs=4 * se), name
        se_alive = np.sqrt(p_later[rows].mean() * (1 - p_later[rows].mean()) / rows.sum())
        assert p_later[rows].mean() == pytest.approx(alive_later[rows].mean(), abs=4 * se_alive)
        assert p_now[rows].mean() == pytest.approx(sim["alive"][rows].mean(), abs=0.01), name
    # ignoring the history (everyone alive) would be far off for the lapsed buyers
    lapsed = groups["lapsed buyers"]
    naive = sim["lambda"] / sim["mu"] * -np.expm1(-sim["mu"] * t)
    assert naive[lapsed].mean() > 2 * future[lapsed].mean()


def test_new_customer_expectation_matches_monte_carlo():
    rng = np.random.default_rng(5)
    mean, t = np.array([np.log(0.12), np.log(0.03)]), 39.0
    cov = np.array([[1.2, -0.4], [-0.4, 1.5]])
    sim = abe.simulate(mean, cov, np.full(400_000, t), rng=rng)
    chol = np.linalg.cholesky(cov)
    value = float(abe.expected_purchases_new_customer(mean, chol, t))
    se = sim["frequency"].std() / np.sqrt(sim["frequency"].size)
    assert value == pytest.approx(sim["frequency"].mean(), abs=4 * se)


def _rfm(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cov = [[0.5, 0.2], [0.2, 0.6]]
    sim = abe.simulate([np.log(0.15), np.log(0.03)], cov, rng.uniform(30, 50, n), rng=rng)
    frame = pd.DataFrame({k: sim[k] for k in ("frequency", "recency", "T")})
    return frame.set_axis(pd.Index([f"c{i}" for i in range(n)], name="customer_id"))


def _mock(data: pd.DataFrame, chains: int = 2, draws: int = 4, seed: int = 0) -> az.InferenceData:
    """A posterior with population parameters and per-customer log rates near the truth."""
    rng = np.random.default_rng(seed)
    n = len(data)
    shape = (chains, draws)
    post = {
        "log_lambda_mean": np.log(0.15) + 0.05 * rng.standard_normal(shape),
        "log_mu_mean": np.log(0.03) + 0.05 * rng.standard_normal(shape),
        "log_lambda_sd": 0.7 + 0.02 * rng.random(shape),
        "log_mu_sd": 0.8 + 0.02 * rng.random(shape),
        "correlation": 0.3 + 0.05 * rng.random(shape),
        "log_lambda": np.log(0.15) + 0.7 * rng.standard_normal((*shape, n)),
        "log_mu": np.log(0.03) + 0.8 * rng.standard_normal((*shape, n)),
    }
    ids = data.index.to_numpy()
    return az.from_dict(
        posterior=post,
        dims={"log_lambda": ["customer_id"], "log_mu": ["customer_id"]},
        coords={"customer_id": ids},
        constant_data={c: data[c].to_numpy() for c in ("frequency", "recency", "T")},
        constant_data_dims={c: ["customer_id"] for c in ("frequency", "recency", "T")},
    )


def test_predictions_over_a_mocked_posterior_are_the_closed_forms_per_draw():
    data = _rfm(30, seed=2)
    model = AbeParetoNBDModel.from_idata(_mock(data))
    post = model.idata_.posterior
    lam = np.exp(post["log_lambda"].values)
    mu = np.exp(post["log_mu"].values)
    x, t_x, T = (data[c].to_numpy() for c in ("frequency", "recency", "T"))
    got = model.expected_purchases(10.0, data)
    assert got.dims == ("chain", "draw", "customer_id")
    want = abe.expected_purchases_given_rates(lam, mu, 10.0, x, t_x, T)
    np.testing.assert_allclose(got.values, want, rtol=1e-12)
    np.testing.assert_allclose(
        model.probability_alive(data).values,
        abe.probability_alive_given_rates(lam, mu, x, t_x, T),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        model.probability_alive_at(10.0, data).values,
        abe.probability_alive_given_rates(lam, mu, x, t_x, T) * np.exp(-10.0 * mu),
        rtol=1e-12,
    )
    # rows in another order and a subset: matched by customer id
    subset = data.iloc[[5, 2, 17]]
    np.testing.assert_allclose(
        model.expected_purchases(10.0, subset).values, want[..., [5, 2, 17]], rtol=1e-12
    )
    tidy = model.expected_purchases(10.0, data, summary_only=True, chunk_size=7)
    assert list(tidy.index) == list(data.index)
    np.testing.assert_allclose(tidy["mean"], want.mean(axis=(0, 1)), rtol=1e-12)
    means = model.individual_params(subset)
    np.testing.assert_allclose(means["mu"], mu.mean(axis=(0, 1))[[5, 2, 17]], rtol=1e-12)
    # a new customer: quadrature over each draw's population
    new = model.expected_purchases_new_customer(10.0)
    assert new.dims == ("chain", "draw") and np.all(new.values > 0)
    table = model.summary()
    assert list(table.index) == list(POPULATION)
    pop = model.population_draws()
    np.testing.assert_allclose(
        pop["cov_log_lambda_log_mu"],
        (post["correlation"] * post["log_lambda_sd"] * post["log_mu_sd"]).values.ravel(),
    )


def test_predictions_refuse_unknown_customers_or_another_history():
    data = _rfm(12, seed=3)
    model = AbeParetoNBDModel.from_idata(_mock(data))
    other = data.rename(index={"c3": "stranger"})
    with pytest.raises(DataError, match="stranger"):
        model.probability_alive(other)
    later = data.assign(T=data["T"] + 10.0)
    with pytest.raises(DataError, match="fitted history"):
        model.expected_purchases(5.0, later)
    with pytest.raises(ValueError, match="horizon"):
        model.expected_purchases(-1.0, data)


def test_netcdf_round_trip_keeps_the_rates_and_the_history(tmp_path):
    data = _rfm(20, seed=4)
    model = AbeParetoNBDModel.from_idata(_mock(data), lkj_eta=2.5)
    path = tmp_path / "abe.nc"
    model.to_netcdf(path)
    again = AbeParetoNBDModel.from_netcdf(path)
    assert again.lkj_eta == 2.5 and again.priors == model.priors
    pd.testing.assert_frame_equal(again.summary(), model.summary())
    np.testing.assert_array_equal(
        again.expected_purchases(8.0, data).values, model.expected_purchases(8.0, data).values
    )
    with pytest.raises(DataError, match="fitted history"):  # the history travels with the file
        again.probability_alive(data.assign(frequency=data["frequency"] + 1))
    from clv.bayes import ParetoNBDModel

    with pytest.raises(ModelFileError, match="AbeParetoNBDModel"):
        ParetoNBDModel.from_netcdf(path)
    broken = az.from_dict(posterior={n: np.zeros((1, 4)) for n in POPULATION})
    with pytest.raises(ValueError, match="log_lambda"):
        AbeParetoNBDModel.from_idata(broken)


def test_unfitted_and_bad_input_are_clear_errors():
    model = AbeParetoNBDModel()
    with pytest.raises(NotFittedError):
        model.summary()
    with pytest.raises(NotFittedError):
        model.expected_purchases(1.0, _rfm(3, seed=0))
    with pytest.raises(DataError, match="recency"):
        model.fit(pd.DataFrame({"frequency": [1.0], "T": [3.0]}))
    data = _rfm(5, seed=1)
    with pytest.raises(DataError, match="weight"):
        model.fit(data.assign(weight=2.0))
    with pytest.raises(DataError, match="repeat"):
        model.fit(pd.concat([data, data.iloc[:1]]))
    with pytest.raises(ValueError, match="MAP"):
        model.fit(data, method="map")
    with pytest.raises(ValueError, match="lkj_eta"):
        AbeParetoNBDModel(priors={"correlation": ("Uniform", {"lower": -1, "upper": 1})})
    with pytest.raises(ValueError, match="lkj_eta"):
        AbeParetoNBDModel(lkj_eta=0.0)
    with pytest.raises(ValueError, match="no parameter"):
        AbeParetoNBDModel(priors={"r": ("HalfNormal", {"sigma": 1.0})})


def test_pymc_log_density_is_the_individual_likelihood_plus_the_population():
    data = _rfm(25, seed=6)
    pm_model = AbeParetoNBDModel(priors=AbeParetoNBDModel.flat_priors(), lkj_eta=1.0).build_model(
        data
    )
    rng = np.random.default_rng(0)
    z = rng.standard_normal((2, len(data)))
    m, sd, rho = np.array([-2.0, -3.5]), np.array([0.7, 0.9]), 0.4
    x = data["frequency"].to_numpy()
    centred = x >= AbeParetoNBDModel.centred_from
    assert 0 < centred.sum() < len(x)  # both parametrisations in play
    point = {
        "log_lambda_mean": m[0],
        "log_mu_mean": m[1],
        "log_lambda_sd_log__": np.log(sd[0]),
        "log_mu_sd_log__": np.log(sd[1]),
        "correlation_unit_logodds__": np.log((1 + rho) / (1 - rho)),
        "z_log_lambda": z[0][~centred],
        "log_lambda_centred": m[0] + sd[0] * z[0][centred],
        "z_log_mu": z[1],
    }
    # the Python linker: no C compilation (seconds instead of ~15 s on a busy machine)
    logp_fn = pm_model.compile_fn(pm_model.logp(jacobian=False), mode="FAST_COMPILE")
    logp = float(logp_fn(point))
    log_lam = m[0] + sd[0] * z[0]
    log_mu = m[1] + sd[1] * (rho * z[0] + np.sqrt(1 - rho**2) * z[1])
    t_x, T = (data[c].to_numpy() for c in ("recency", "T"))
    ll = pareto_nbd.individual_log_likelihood(np.exp(log_lam), np.exp(log_mu), x, t_x, T).sum()
    normal = -0.5 * (z**2).sum() - z.size * 0.5 * np.log(2 * np.pi)
    # centred: the normal density of log lambda itself, 1 / sd times that of z
    normal -= centred.sum() * np.log(sd[0])
    assert logp == pytest.approx(ll + normal, rel=1e-10)  # flat priors; Beta(1, 1) is flat


@pytest.mark.slow
def test_recovers_the_population_and_the_correlation():
    """400 simulated customers: log rates with means (log 0.15, log 0.03), sd 0.775, corr 0.6."""
    rng = np.random.default_rng(3)
    cov = np.array([[0.6, 0.36], [0.36, 0.6]])
    truth = np.array([np.log(0.15), np.log(0.03)])
    sim = abe.simulate(truth, cov, rng.uniform(40, 80, 400), rng=rng)
    frame = pd.DataFrame({k: sim[k] for k in ("frequency", "recency", "T")})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short chains: ESS warnings
        model = AbeParetoNBDModel().fit(
            frame, draws=400, tune=400, chains=2, cores=2, random_seed=1, progressbar=False
        )
    table = model.summary(alpha=0.06)
    assert table.loc["log_lambda_mean", "mean"] == pytest.approx(truth[0], abs=0.25)
    assert table.loc["log_mu_mean", "mean"] == pytest.approx(truth[1], abs=0.3)
    corr = table.loc["correlation"]
    assert corr["lower"] < 0.6 < corr["upper"]
    assert corr["lower"] > 0.0  # the positive correlation is detected
    p_alive = model.probability_alive(frame).mean(("chain", "draw")).values
    assert p_alive[sim["alive"]].mean() > p_alive[~sim["alive"]].mean() + 0.2


# BTYDplus 1.2.0 ``abe.mcmc.DrawParameters`` on the same CDNOW frame (M1, no covariates;
# 2 chains x 7,500 kept of 10,000 Gibbs steps, thin 10, set.seed(1)): posterior mean and sd of
# its cohort-level draws, its mean P(alive) and its expected purchases in the 39 holdout weeks
BTYDPLUS_M1 = {
    "log_lambda": (-3.481, 0.135),
    "log_mu": (-3.547, 0.248),
    "var_log_lambda": (1.298, 0.184),
    "cov_log_lambda_log_mu": (0.192, 0.241),
    "var_log_mu": (3.437, 1.049),
}
BTYDPLUS_MEAN_P_ALIVE = 0.422
BTYDPLUS_HOLDOUT_PURCHASES = 1630.8
# the BTYDplus vignette's M1 table (2.5 %, 50 %, 97.5 %), which "matches Table 3 in Abe (2009)"
PUBLISHED_M1 = {
    "log_lambda": (-3.70, -3.54, -3.32),
    "log_mu": (-3.96, -3.59, -3.26),
    "var_log_lambda": (1.10, 1.34, 1.65),
    "cov_log_lambda_log_mu": (-0.20, 0.13, 0.74),
    "var_log_mu": (1.44, 2.62, 5.05),
}


def _cdnow_weeks() -> tuple[pd.DataFrame, pd.Series]:
    """CDNOW sample: 39-week calibration RFM in 7-day weeks (as BTYDplus ``elog2cbs``) and the
    number of purchase days of each customer in the 39 holdout weeks."""
    from clv.data import rfm_summary
    from clv.data.datasets import load_cdnow_sample_transactions

    tx = load_cdnow_sample_transactions()
    end = pd.Timestamp("1997-09-30")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 9 duplicated rows of the log, merged per day
        rfm = rfm_summary(
            tx[tx["date"] <= end],
            customer_id_col="customer_id",
            date_col="date",
            time_unit="7D",
            observation_end=end,
        )
    later = tx[tx["date"] > end].drop_duplicates(["customer_id", "date"])
    holdout = later.groupby("customer_id").size().reindex(rfm.index, fill_value=0)
    return rfm, holdout


@pytest.mark.slow
def test_cdnow_population_matches_btydplus_and_the_published_table():
    rfm, holdout = _cdnow_weeks()
    assert len(rfm) == 2357 and rfm["T"].max() == pytest.approx(38.857, abs=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ESS of the short chains
        model = AbeParetoNBDModel().fit(
            rfm, draws=700, tune=700, chains=2, cores=2, random_seed=1, progressbar=False
        )
    draws = model.population_draws()
    for name, (mean, sd) in BTYDPLUS_M1.items():
        # two short MCMC runs (NUTS here, Gibbs there; the dropout spread mixes slowly in
        # both) under slightly different priors on the covariance (HalfNormal sds and LKJ
        # here, inverse Wishart there): the two posterior means differ by less than the sd
        # of their difference. Time in days instead of weeks would move log_lambda by
        # log(7) = 1.95, a missing correlation would move the covariance by 0.3 and more.
        ours = draws[name].std()
        assert draws[name].mean() == pytest.approx(mean, abs=np.hypot(sd, ours)), name
        low, _, high = PUBLISHED_M1[name]
        assert low < draws[name].median() < high, name
    assert model.summary().loc["log_lambda_sd", "r_hat"] < 1.1
    alive = model.probability_alive(rfm, summary_only=True)["mean"]
    assert alive.mean() == pytest.approx(BTYDPLUS_MEAN_P_ALIVE, abs=0.03)
    expected = model.expected_purchases(39.0, rfm, summary_only=True)["mean"]
    assert expected.sum() == pytest.approx(BTYDPLUS_HOLDOUT_PURCHASES, rel=0.05)
    assert int(holdout.sum()) == 1882  # Abe's model under-forecasts CDNOW's holdout by ~13 %
    assert np.corrcoef(expected, holdout)[0, 1] > 0.55  # 0.62 with 2 x 1000 draws
