"""Pointwise log-likelihood, LOO comparison and the posterior predictive check plot."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pymc")
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "ArviZ is undergoing", FutureWarning)
    import arviz as az

    import clv.bayes as cb
import clv.models as cm
from clv.data.datasets import load_cdnow_summary_with_spend
from clv.models import bgnbd
from clv.plotting import period_transactions, period_transactions_ppc, plot_period_transactions_ppc


@pytest.fixture(scope="module")
def mles(cdnow: pd.DataFrame) -> dict[str, pd.Series]:
    return {
        "bgnbd": cm.BetaGeoModel().fit(cdnow).params_,
        "pnbd": cm.ParetoNBDModel().fit(cdnow).params_,
        "mbgnbd": cm.ModifiedBetaGeoModel().fit(cdnow).params_,
    }


def _mock(
    params: pd.Series, chains: int = 2, draws: int = 40, seed: int = 0, spread: float = 0.02
) -> az.InferenceData:
    rng = np.random.default_rng(seed)
    return az.from_dict(
        posterior={
            k: v * np.exp(spread * rng.standard_normal((chains, draws))) for k, v in params.items()
        }
    )


def test_pointwise_log_likelihood_sums_to_the_total(cdnow: pd.DataFrame, mles) -> None:
    bayes = cb.BetaGeoModel.from_idata(_mock(mles["bgnbd"], draws=5))
    ll = bayes.pointwise_log_likelihood(cdnow)
    assert ll.dims == ("chain", "draw", "customer_id") and ll.shape == (2, 5, len(cdnow))
    np.testing.assert_array_equal(ll["customer_id"].values, cdnow.index.to_numpy())
    post = bayes.idata_.posterior
    cols = [cdnow[c].to_numpy() for c in ("frequency", "recency", "T")]
    for c, d in [(0, 0), (1, 4)]:
        p = bgnbd.BGNBDParams(*(float(post[k][c, d]) for k in ("r", "alpha", "a", "b")))
        np.testing.assert_allclose(ll[c, d].values, bgnbd.log_likelihood(p, *cols), rtol=1e-13)
    with pytest.raises(ValueError, match="weight"):
        bayes.pointwise_log_likelihood(cdnow.assign(weight=1.0))


def test_spend_pointwise_log_likelihood_uses_repeat_buyers_only(mles) -> None:
    spend = load_cdnow_summary_with_spend()
    gg = cm.GammaGammaModel().fit(spend)
    bayes = cb.GammaGammaModel.from_idata(_mock(gg.params_, draws=3))
    ll = bayes.pointwise_log_likelihood(spend)
    assert ll.sizes["customer_id"] == int((spend["frequency"] > 0).sum())
    at_mle = cb.GammaGammaModel.from_idata(
        az.from_dict(posterior={k: np.array([[v]]) for k, v in gg.params_.items()})
    )
    assert float(at_mle.pointwise_log_likelihood(spend).sum()) == pytest.approx(
        gg.log_likelihood_, rel=1e-10
    )


def test_compare_ranks_models_by_loo(tmp_path, cdnow: pd.DataFrame, mles) -> None:
    models = {
        "BG/NBD": cb.BetaGeoModel.from_idata(_mock(mles["bgnbd"], seed=1)),
        "Pareto/NBD": cb.ParetoNBDModel.from_idata(_mock(mles["pnbd"], seed=2)),
        "MBG/NBD": cb.ModifiedBetaGeoModel.from_idata(_mock(mles["mbgnbd"], seed=3)),
    }
    with pytest.raises(ValueError, match="add_log_likelihood"):
        cb.compare(models)
    for m in models.values():
        m.add_log_likelihood(cdnow)
    table = cb.compare(models)
    assert set(table.index) == set(models)
    assert {"elpd_loo", "se", "p_loo", "weight", "warning", "rank"} <= set(table.columns)
    assert table["weight"].sum() == pytest.approx(1.0)
    assert list(table["rank"]) == [0, 1, 2]
    assert table["elpd_loo"].is_monotonic_decreasing
    # a posterior concentrated at the MLE: elpd_loo is just below the maximised log-likelihood
    bg_ll = cm.BetaGeoModel().fit(cdnow).log_likelihood_
    elpd = table.loc["BG/NBD", "elpd_loo"]
    assert bg_ll - 10 < elpd < bg_ll + 1
    # the pointwise log-likelihood survives a netCDF round trip
    path = tmp_path / "bg.nc"
    models["BG/NBD"].to_netcdf(path)
    loaded = cb.BetaGeoModel.from_netcdf(path)
    assert "log_likelihood" in loaded.idata_.groups()
    with pytest.raises(ValueError, match="at least two"):
        cb.compare({"BG/NBD": loaded})
    other = cb.ParetoNBDModel.from_idata(_mock(mles["pnbd"])).add_log_likelihood(cdnow.iloc[:100])
    with pytest.raises(ValueError, match="different numbers of customers"):
        cb.compare({"a": loaded, "b": other})


def test_retention_models_have_no_pointwise_log_likelihood() -> None:
    bayes = cb.ShiftedBetaGeoModel.from_idata(_mock(pd.Series({"alpha": 0.7, "beta": 1.2})))
    with pytest.raises(ValueError, match="aggregated"):
        bayes.pointwise_log_likelihood(
            pd.DataFrame({"periods_observed": [1, 2], "churned": [True, False]})
        )


def test_posterior_predictive_period_transactions(cdnow: pd.DataFrame, mles) -> None:
    params = mles["bgnbd"]
    at_mle = cb.BetaGeoModel.from_idata(
        az.from_dict(posterior={k: np.full((1, 30), v) for k, v in params.items()})
    )
    table = period_transactions_ppc(at_mle, cdnow, n_draws=30, random_state=4)
    assert list(table.columns) == ["actual", "mean", "5%", "95%"]
    assert table["actual"].sum() == len(cdnow)
    assert table["mean"].sum() == pytest.approx(len(cdnow))
    assert (table["5%"] <= table["mean"]).all() and (table["mean"] <= table["95%"]).all()
    mle = cm.BetaGeoModel().fit(cdnow)
    expected = period_transactions(mle, cdnow)["model"]
    # 30 simulations of 2,357 customers: the mean is within a few customers of the expectation
    np.testing.assert_allclose(table["mean"], expected, atol=12, rtol=0.05)
    wide = cb.BetaGeoModel.from_idata(_mock(params, spread=0.1))
    assert (
        (wide_t := period_transactions_ppc(wide, cdnow, n_draws=40, random_state=1))["95%"]
        - wide_t["5%"]
    ).iloc[0] > (table["95%"] - table["5%"]).iloc[0]


def test_plot_period_transactions_ppc(cdnow: pd.DataFrame, mles, close_figures) -> None:
    bayes = cb.BetaGeoModel.from_idata(_mock(mles["bgnbd"], draws=10))
    ax = plot_period_transactions_ppc(bayes, cdnow, n_draws=10, random_state=0)
    assert [t.get_text() for t in ax.get_xticklabels()][-1] == "≥7"
    assert len(ax.patches) == 8
    assert "posterior predictive" in ax.get_title()


def test_unknown_sampler_is_refused(cdnow: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="sampler must be"):
        cb.BetaGeoModel().fit(cdnow.iloc[:50], sampler="stan")
    assert cb.ParetoNBDModel()._sampler("auto") == "pymc"  # its 2F1 Op has no numba code
    assert cb.BetaGeoModel()._sampler("auto") == "pymc"  # the fused likelihood is faster
    assert cb.BetaGeoModel()._sampler("nutpie") == "nutpie"


@pytest.mark.slow
def test_short_nuts_fits_store_the_log_likelihood_and_compare(cdnow: pd.DataFrame) -> None:
    from clv.exceptions import ConvergenceWarning

    fits = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # short chains
        for name, cls in [("BG/NBD", cb.BetaGeoModel), ("MBG/NBD", cb.ModifiedBetaGeoModel)]:
            fits[name] = cls().fit(cdnow, chains=2, draws=150, tune=150, random_seed=3)
    for model in fits.values():
        assert model.idata_.log_likelihood["customers"].shape == (2, 150, len(cdnow))
    table = cb.compare(fits)
    assert set(table.index) == set(fits)
    assert np.isfinite(table["elpd_loo"]).all() and (table["p_loo"] > 0).all()
