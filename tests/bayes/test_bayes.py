"""Tests of ``clv.bayes``: one likelihood, MAP == MLE, predictions on a mocked posterior, files.

Only the ``slow`` test samples; everything else uses MAP or a synthetic posterior
(ARCHITECTURE.md §12.6-12.7).
"""

from __future__ import annotations

import json
import time
import warnings

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pymc")
with warnings.catch_warnings():
    # ArviZ >= 0.22 announces its 1.0 refactor with a FutureWarning at import time
    warnings.filterwarnings("ignore", "ArviZ is undergoing", FutureWarning)
    import arviz as az
    import pymc as pm

    import clv.bayes as cb
from clv.bayes._base import BAYES_SCHEMA_VERSION
from clv.exceptions import ConvergenceWarning, ModelFileError
from clv.models import BetaGeoModel as MLEBetaGeo
from clv.models import GammaGammaModel as MLEGammaGamma
from clv.models import bgnbd, gamma_gamma


@pytest.fixture(scope="module")
def bg_mle(cdnow: pd.DataFrame) -> MLEBetaGeo:
    return MLEBetaGeo().fit(cdnow)


@pytest.fixture(scope="module")
def gg_mle(cdnow_spend: pd.DataFrame) -> MLEGammaGamma:
    return MLEGammaGamma().fit(cdnow_spend)


def _point(model: pm.Model, params: dict[str, float]) -> dict[str, float]:
    """Values on the (log-)transformed scale PyMC samples on."""
    return {model.rvs_to_values[v].name: np.log(params[v.name]) for v in model.free_RVs}


def _mock_idata(
    params: pd.Series, *, chains: int = 2, draws: int = 5, seed: int = 0
) -> az.InferenceData:
    """A synthetic posterior: draws scattered by 2% around ``params`` (no sampling)."""
    rng = np.random.default_rng(seed)
    return az.from_dict(
        posterior={
            k: v * np.exp(0.02 * rng.standard_normal((chains, draws))) for k, v in params.items()
        }
    )


# ---------------------------------------------------------------------- one likelihood
def test_pytensor_ops_mirror_numpy_ops() -> None:
    from clv._ops import NUMPY

    assert set(vars(cb.PYTENSOR)) == set(vars(NUMPY))
    a, b = np.array([0.3, 2.5, 40.0]), np.array([1.7, 0.2, 300.0])
    for name in ("gammaln", "log", "log1p", "exp"):
        got = getattr(cb.PYTENSOR, name)(a).eval()
        np.testing.assert_allclose(got, getattr(NUMPY, name)(a), rtol=1e-12)
    for name in ("betaln", "logaddexp", "maximum", "minimum", "logsubexp"):
        x, y = (b, a) if name == "logsubexp" else (a, b)
        x, y = (np.maximum(x, y), np.minimum(x, y)) if name == "logsubexp" else (x, y)
        got = getattr(cb.PYTENSOR, name)(x, y).eval()
        np.testing.assert_allclose(got, getattr(NUMPY, name)(x, y), rtol=1e-10)
    np.testing.assert_allclose(cb.PYTENSOR.log1mexp(-a).eval(), NUMPY.log1mexp(-a), rtol=1e-12)
    np.testing.assert_allclose(
        cb.PYTENSOR.log_gammainc(a, b).eval(), NUMPY.log_gammainc(a, b), rtol=1e-11
    )


@pytest.mark.parametrize("flat", [True, False])
def test_bgnbd_pymc_logp_equals_numpy_log_likelihood(
    cdnow: pd.DataFrame, bg_mle: MLEBetaGeo, flat: bool
) -> None:
    params = bg_mle.params_.to_dict()
    priors = cb.BetaGeoModel.flat_priors() if flat else None
    bayes = cb.BetaGeoModel(priors=priors)
    model = bayes.build_model(cdnow)
    expected = float(
        np.sum(
            bgnbd.log_likelihood(
                bgnbd.BGNBDParams(**params),
                *(cdnow[c].to_numpy() for c in ("frequency", "recency", "T")),
            )
        )
    )
    logp = float(model.compile_logp(jacobian=True)(_point(model, params)))
    log_jacobian = sum(np.log(v) for v in params.values())  # d theta / d log(theta) = theta
    prior_logp = sum(
        float(pm.logp(getattr(pm, dist).dist(**kw), params[name]).eval())
        for name, (dist, kw) in bayes.priors.items()
    )
    if flat:
        assert prior_logp == 0.0
    assert logp - log_jacobian - prior_logp == pytest.approx(expected, rel=1e-8)
    assert expected == pytest.approx(bg_mle.log_likelihood_, rel=1e-10)


def test_gamma_gamma_pymc_logp_equals_numpy_log_likelihood(
    cdnow_spend: pd.DataFrame, gg_mle: MLEGammaGamma
) -> None:
    params = gg_mle.params_.to_dict()
    model = cb.GammaGammaModel(priors=cb.GammaGammaModel.flat_priors()).build_model(cdnow_spend)
    expected = float(
        np.sum(
            gamma_gamma.log_likelihood(
                gamma_gamma.GGParams(**params),
                cdnow_spend["frequency"].to_numpy(),
                cdnow_spend["monetary_value"].fillna(0.0).to_numpy(),
            )
        )
    )
    logp = float(model.compile_logp(jacobian=False)(_point(model, params)))
    assert logp == pytest.approx(expected, rel=1e-8)


def test_identical_rows_are_compressed_with_counts(cdnow: pd.DataFrame) -> None:
    bayes = cb.BetaGeoModel()
    cols, counts, _ = bayes._fit_data(cdnow)
    assert len(cols[0]) < len(cdnow)
    assert counts.sum() == len(cdnow)


# ---------------------------------------------------------------------- MAP == MLE
def test_bgnbd_map_with_flat_priors_is_the_mle(cdnow: pd.DataFrame, bg_mle: MLEBetaGeo) -> None:
    bayes = cb.BetaGeoModel(priors=cb.BetaGeoModel.flat_priors()).fit(cdnow, method="map")
    post = bayes.idata_.posterior
    assert dict(post.sizes) == {"chain": 1, "draw": 1}
    got = bayes.summary()["mean"]
    np.testing.assert_allclose(got[bg_mle.params_.index], bg_mle.params_, rtol=1e-3)
    assert bayes.summary()[["r_hat", "ess_bulk"]].isna().all().all()


def test_gamma_gamma_map_with_flat_priors_is_the_mle(
    cdnow_spend: pd.DataFrame, gg_mle: MLEGammaGamma
) -> None:
    bayes = cb.GammaGammaModel(priors=cb.GammaGammaModel.flat_priors())
    bayes.fit(cdnow_spend, method="map", random_seed=3)
    got = bayes.summary()["mean"]
    np.testing.assert_allclose(got[gg_mle.params_.index], gg_mle.params_, rtol=1e-3)


# ---------------------------------------------------------------------- priors config
def test_priors_are_copied_never_mutated() -> None:
    user = {"r": ("Gamma", {"alpha": 1.0, "beta": 1.0})}
    snapshot = json.dumps(user)
    model = cb.BetaGeoModel(priors=user)
    model.priors["r"][1]["alpha"] = 99.0  # a copy: the model is unchanged
    assert model.priors["r"] == ("Gamma", {"alpha": 1.0, "beta": 1.0})
    assert json.dumps(user) == snapshot
    assert model.priors["alpha"] == cb.BetaGeoModel.default_priors["alpha"]
    assert cb.BetaGeoModel.default_priors["r"] == ("HalfNormal", {"sigma": 10.0})


@pytest.mark.parametrize(
    "priors, match",
    [
        ({"zeta": ("Gamma", {"alpha": 1.0})}, "no parameter"),
        ({"r": ("NotADistribution", {})}, "unknown PyMC distribution"),
        ({"r": "Gamma"}, "must be a pair"),
        ({"r": ("Gamma", {"alpha": object()})}, "JSON"),
    ],
)
def test_bad_priors_are_refused(priors: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        cb.BetaGeoModel(priors=priors)


def test_unknown_method_is_refused(cdnow: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="method must be one of"):
        cb.BetaGeoModel().fit(cdnow, method="mcmc")


# ---------------------------------------------------------------------- predictions
def test_predictions_over_mocked_draws(cdnow: pd.DataFrame, bg_mle: MLEBetaGeo) -> None:
    bayes = cb.BetaGeoModel.from_idata(_mock_idata(bg_mle.params_))
    pa = bayes.probability_alive(cdnow)
    ep = bayes.expected_purchases(10.0, cdnow)
    for da in (pa, ep):
        assert da.dims == ("chain", "draw", "customer_id")
        assert da.shape == (2, 5, len(cdnow))
        np.testing.assert_array_equal(da["customer_id"].values, cdnow.index.to_numpy())
    # every draw equals the MLE class evaluated at that draw's parameters
    post = bayes.idata_.posterior
    for c, d in [(0, 0), (1, 3)]:
        ref = MLEBetaGeo()
        ref.params_ = pd.Series({k: float(post[k][c, d]) for k in bg_mle.params_.index})
        np.testing.assert_array_equal(pa[c, d].values, ref.probability_alive(cdnow).to_numpy())
        np.testing.assert_array_equal(
            ep[c, d].values, ref.expected_purchases(10.0, cdnow).to_numpy()
        )
    new = bayes.expected_purchases_new_customer(39.0)
    assert new.dims == ("chain", "draw")


def test_single_draw_at_the_mle_is_the_mle_prediction(
    cdnow: pd.DataFrame, bg_mle: MLEBetaGeo
) -> None:
    idata = az.from_dict(posterior={k: np.array([[v]]) for k, v in bg_mle.params_.items()})
    bayes = cb.BetaGeoModel.from_idata(idata)
    pa = bayes.probability_alive(cdnow).mean(("chain", "draw"))
    np.testing.assert_array_equal(pa.values, bg_mle.probability_alive(cdnow).to_numpy())
    ep = bayes.expected_purchases(39.0, cdnow).mean(("chain", "draw"))
    np.testing.assert_array_equal(ep.values, bg_mle.expected_purchases(39.0, cdnow).to_numpy())
    new = bayes.expected_purchases_new_customer(39.0)
    assert float(new.mean()) == float(bg_mle.expected_purchases_new_customer(39.0))


def test_spend_predictions_over_mocked_draws(
    cdnow_spend: pd.DataFrame, gg_mle: MLEGammaGamma
) -> None:
    idata = az.from_dict(posterior={k: np.array([[v]]) for k, v in gg_mle.params_.items()})
    bayes = cb.GammaGammaModel.from_idata(idata)
    es = bayes.expected_spend(cdnow_spend)
    assert es.dims == ("chain", "draw", "customer_id")
    np.testing.assert_array_equal(
        es.mean(("chain", "draw")).values, gg_mle.expected_spend(cdnow_spend).to_numpy()
    )
    assert float(bayes.expected_spend_new_customer().mean()) == pytest.approx(
        gg_mle.expected_spend_new_customer(), rel=1e-14
    )
    wide = cb.GammaGammaModel.from_idata(_mock_idata(gg_mle.params_, chains=3, draws=4))
    assert wide.expected_spend(cdnow_spend).shape == (3, 4, len(cdnow_spend))


def test_tidy_prediction_summary(cdnow: pd.DataFrame, bg_mle: MLEBetaGeo) -> None:
    bayes = cb.BetaGeoModel.from_idata(_mock_idata(bg_mle.params_, draws=50))
    pa = bayes.probability_alive(cdnow)
    tidy = bayes.summarize(pa)
    assert list(tidy.columns) == ["mean", "sd", "5%", "95%"]
    assert tidy.index.name == "customer_id"
    assert tidy.index.equals(pd.Index(cdnow.index.to_numpy(), name="customer_id"))
    flat = pa.values.reshape(-1, len(cdnow))
    np.testing.assert_allclose(tidy["mean"], flat.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(tidy["sd"], flat.std(axis=0, ddof=1), rtol=1e-12)
    assert (tidy["5%"] <= tidy["mean"] + 1e-12).all()
    assert (tidy["mean"] <= tidy["95%"] + 1e-12).all()


def test_parameter_summary_and_convergence_warning(bg_mle: MLEBetaGeo) -> None:
    # two chains centred on different values: r_hat far above 1.01
    rng = np.random.default_rng(1)
    shift = np.array([[1.0], [1.5]])
    idata = az.from_dict(
        posterior={
            k: v * shift * np.exp(0.01 * rng.standard_normal((2, 100)))
            for k, v in bg_mle.params_.items()
        }
    )
    bayes = cb.BetaGeoModel.from_idata(idata)
    table = bayes.summary()
    assert list(table.columns) == ["mean", "sd", "lower", "upper", "r_hat", "ess_bulk"]
    assert list(table.index) == ["r", "alpha", "a", "b"]
    assert (table["r_hat"] > 1.01).all()
    with pytest.warns(ConvergenceWarning, match=r"r_hat of 'r' is .*increase tune and draws"):
        bayes._check_convergence()
    q = bayes.summary(interval="quantile")
    assert (q["lower"] < q["mean"]).all()


def test_unfitted_model_raises() -> None:
    from clv.exceptions import NotFittedError

    with pytest.raises(NotFittedError, match="fit"):
        cb.BetaGeoModel().summary()


# ---------------------------------------------------------------------- netCDF
def test_netcdf_round_trip(tmp_path, bg_mle: MLEBetaGeo, cdnow: pd.DataFrame) -> None:
    priors = {"r": ("Gamma", {"alpha": 1.0, "beta": 1.0})}
    bayes = cb.BetaGeoModel.from_idata(_mock_idata(bg_mle.params_), priors=priors)
    path = tmp_path / "bgnbd.nc"
    bayes.to_netcdf(path)
    loaded = cb.BetaGeoModel.from_netcdf(path)
    assert loaded.priors == bayes.priors
    attrs = loaded.idata_.attrs
    assert attrs["model"] == "BetaGeoModel"
    assert int(attrs["clv_schema_version"]) == BAYES_SCHEMA_VERSION
    assert {"priors_json", "clv_version"} <= set(attrs)
    np.testing.assert_array_equal(
        loaded.probability_alive(cdnow).values, bayes.probability_alive(cdnow).values
    )
    assert [p.name for p in tmp_path.iterdir()] == ["bgnbd.nc"]  # no temporary file left


def test_netcdf_refuses_another_model_or_schema(tmp_path, bg_mle: MLEBetaGeo) -> None:
    bayes = cb.BetaGeoModel.from_idata(_mock_idata(bg_mle.params_))
    path = tmp_path / "bgnbd.nc"
    bayes.to_netcdf(path)
    with pytest.raises(ModelFileError, match="holds a BetaGeoModel posterior, not a GammaGamma"):
        cb.GammaGammaModel.from_netcdf(path)
    bayes.idata_.attrs["clv_schema_version"] = BAYES_SCHEMA_VERSION + 1
    bayes.to_netcdf(path)
    with pytest.raises(ModelFileError, match="schema version"):
        cb.BetaGeoModel.from_netcdf(path)
    del bayes.idata_.attrs["model"]
    bayes.to_netcdf(path)
    with pytest.raises(ModelFileError, match="not a clv posterior"):
        cb.BetaGeoModel.from_netcdf(path)
    bad = tmp_path / "junk.nc"
    bad.write_text("not netcdf")
    with pytest.raises(ModelFileError, match="not a readable"):
        cb.BetaGeoModel.from_netcdf(bad)


def test_import_clv_does_not_import_clv_bayes() -> None:
    import subprocess
    import sys

    code = (
        "import sys, clv; print(sorted(m for m in ('pymc', 'arviz', 'pytensor', 'clv.bayes') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------- NUTS (slow)
@pytest.mark.slow
def test_nuts_on_cdnow_recovers_the_published_estimates(cdnow: pd.DataFrame) -> None:
    published = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        bayes = cb.BetaGeoModel().fit(cdnow, chains=2, draws=300, tune=300, random_seed=7)
    elapsed = time.perf_counter() - start
    print(f"NUTS 2x300 (+300 tune) on CDNOW: {elapsed:.1f} s")  # noqa: T201
    # 2 x 300 draws is short: r_hat may exceed 1.01 (observed 1.02 for r, alpha with seed 7),
    # and the fit must then say so; any other warning is a failure
    for w in caught:
        assert issubclass(w.category, ConvergenceWarning), w
        assert "increase tune and draws" in str(w.message)
    table = bayes.summary()
    assert dict(bayes.idata_.posterior.sizes) == {"chain": 2, "draw": 300}
    for name, value in published.items():
        assert abs(table.loc[name, "mean"] - value) < 2 * table.loc[name, "sd"], name
    assert elapsed < 300


@pytest.mark.slow
@pytest.mark.parametrize("key", ["pareto_nbd", "gamma_gamma"])
def test_nuts_on_cdnow_recovers_the_other_published_estimates(
    key: str, cdnow: pd.DataFrame, cdnow_spend: pd.DataFrame
) -> None:
    """Pareto/NBD (Fader, Hardie & Lee 2005: r=0.553, alpha=10.578, s=0.606, beta=11.669) and
    Gamma-Gamma (Fader & Hardie note 025: p=6.25, q=3.74, v=15.44) with the default weak priors
    and sampler settings (dense mass matrix; Pareto/NBD at target_accept 0.95)."""
    published = {
        "pareto_nbd": {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669},
        "gamma_gamma": {"p": 6.25, "q": 3.74, "v": 15.44},
    }[key]
    model, data = {
        "pareto_nbd": (cb.ParetoNBDModel(), cdnow),
        "gamma_gamma": (cb.GammaGammaModel(), cdnow_spend),
    }[key]
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(data, chains=2, draws=300, tune=500, random_seed=11, log_likelihood=False)
    print(f"{key} NUTS 2x300 (+500 tune) on CDNOW: {time.perf_counter() - start:.1f} s")  # noqa: T201
    for w in caught:  # short chains may leave r_hat just above 1.01; nothing else may warn
        assert issubclass(w.category, ConvergenceWarning), w
        assert "divergent" not in str(w.message), w.message
    table = model.summary()
    for name, value in published.items():
        assert abs(table.loc[name, "mean"] - value) < 2 * table.loc[name, "sd"], (name, table)


def test_weight_column_counts_customers(cdnow: pd.DataFrame, bg_mle: MLEBetaGeo) -> None:
    cols = ["frequency", "recency", "T"]
    grouped = cdnow.groupby(cols).size().rename("weight").reset_index().astype(float)
    bayes = cb.BetaGeoModel(priors=cb.BetaGeoModel.flat_priors())
    full, weighted = bayes.build_model(cdnow), bayes.build_model(grouped)
    params = bg_mle.params_.to_dict()
    a = float(full.compile_logp(jacobian=False)(_point(full, params)))
    b = float(weighted.compile_logp(jacobian=False)(_point(weighted, params)))
    assert b == pytest.approx(a, rel=1e-12)
