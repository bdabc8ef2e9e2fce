"""CLV over posterior draws and the memory-bounded (chunked, summary-only) prediction path."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pymc")
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "ArviZ is undergoing", FutureWarning)
    import arviz as az

    import clv.bayes as cb
from clv.bayes._draws import MAX_BLOCK_CELLS, chunk_sizes
from clv.data.datasets import load_cdnow_summary, load_cdnow_summary_with_spend
from clv.models import BetaGeoModel as MLEBetaGeo
from clv.models import GammaGammaModel as MLEGammaGamma
from clv.value import customer_lifetime_value as mle_clv


@pytest.fixture(scope="module")
def rfm() -> pd.DataFrame:
    return load_cdnow_summary_with_spend().iloc[:300]


@pytest.fixture(scope="module")
def fits() -> tuple[MLEBetaGeo, MLEGammaGamma]:
    data = load_cdnow_summary_with_spend()
    return MLEBetaGeo().fit(data), MLEGammaGamma().fit(data)


def _mock(params: pd.Series, chains: int = 2, draws: int = 4, seed: int = 0) -> az.InferenceData:
    rng = np.random.default_rng(seed)
    return az.from_dict(
        posterior={
            k: v * np.exp(0.02 * rng.standard_normal((chains, draws))) for k, v in params.items()
        }
    )


def _models(fits, chains: int = 2, draws: int = 4) -> tuple[cb.BetaGeoModel, cb.GammaGammaModel]:
    bg, gg = fits
    return (
        cb.BetaGeoModel.from_idata(_mock(bg.params_, chains, draws, seed=1)),
        cb.GammaGammaModel.from_idata(_mock(gg.params_, chains, draws, seed=2)),
    )


def test_clv_per_draw_is_the_mle_clv_at_that_draw(rfm: pd.DataFrame, fits) -> None:
    tx, spend = _models(fits)
    clv = cb.customer_lifetime_value(
        tx, spend, rfm, horizon=52, discount_rate_per_period=0.002, margin=0.3
    )
    assert clv.dims == ("chain", "draw", "customer_id") and clv.shape == (2, 4, len(rfm))
    np.testing.assert_array_equal(clv["customer_id"].values, rfm.index.to_numpy())
    tx_points, sp_points = tx.point_models(), spend.point_models()
    for c, d in [(0, 0), (1, 3)]:
        i = c * 4 + d
        ref = mle_clv(
            tx_points[i], sp_points[i], rfm, horizon=52, discount_rate_per_period=0.002, margin=0.3
        )
        np.testing.assert_array_equal(clv[c, d].values, ref.to_numpy())
        assert tx_points[i].params_["r"] == float(tx.idata_.posterior["r"][c, d])


def test_single_draw_clv_equals_the_mle_clv(rfm: pd.DataFrame, fits) -> None:
    bg, gg = fits
    tx = cb.BetaGeoModel.from_idata(
        az.from_dict(posterior={k: np.array([[v]]) for k, v in bg.params_.items()})
    )
    spend = cb.GammaGammaModel.from_idata(
        az.from_dict(posterior={k: np.array([[v]]) for k, v in gg.params_.items()})
    )
    got = cb.customer_lifetime_value(tx, spend, rfm, horizon=26, discount_rate_per_period=0.01)
    want = mle_clv(bg, gg, rfm, horizon=26, discount_rate_per_period=0.01)
    np.testing.assert_array_equal(got.values.reshape(-1), want.to_numpy())


def test_map_spend_model_is_paired_with_every_draw(rfm: pd.DataFrame, fits) -> None:
    tx, _ = _models(fits)
    gg = fits[1]
    spend = cb.GammaGammaModel.from_idata(
        az.from_dict(posterior={k: np.array([[v]]) for k, v in gg.params_.items()})
    )
    clv = cb.customer_lifetime_value(tx, spend, rfm, horizon=10, discount_rate_per_period=0.0)
    assert clv.shape == (2, 4, len(rfm))
    _, other = _models(fits, draws=3)
    with pytest.raises(ValueError, match="same chains and draws"):
        cb.customer_lifetime_value(tx, other, rfm, horizon=10, discount_rate_per_period=0.0)


def test_chunked_summary_equals_the_full_path(rfm: pd.DataFrame, fits) -> None:
    tx, spend = _models(fits)
    kw = {"horizon": 52, "discount_rate_per_period": 0.002, "margin": 0.3}
    full = cb.customer_lifetime_value(tx, spend, rfm, **kw)
    tidy = cb.customer_lifetime_value(tx, spend, rfm, summary_only=True, chunk_size=37, **kw)
    pd.testing.assert_frame_equal(tidy, cb.summarize_draws(full), rtol=1e-12)
    # the same for the prediction methods, with thinning
    pa = tx.probability_alive(rfm, thin=2)
    assert pa.sizes["draw"] == 2
    np.testing.assert_array_equal(pa.values, tx.probability_alive(rfm).values[:, ::2])
    tidy_pa = tx.probability_alive(rfm, thin=2, summary_only=True, chunk_size=11)
    pd.testing.assert_frame_equal(tidy_pa, cb.summarize_draws(pa), rtol=1e-12)
    ep = tx.expected_purchases(10, rfm, chunk_size=50)
    np.testing.assert_array_equal(ep.values, tx.expected_purchases(10, rfm).values)


def test_chunks_bound_the_block_size() -> None:
    for n, s in [(1_000_000, 4000), (1_000_000, 1), (10, 4_000_000), (0, 10)]:
        blocks = chunk_sizes(n, s)
        assert sum(hi - lo for lo, hi in blocks) == n
        assert all(lo < hi for lo, hi in blocks)
        assert all((hi - lo) * s <= max(MAX_BLOCK_CELLS, s) for lo, hi in blocks)
    with pytest.raises(ValueError, match="chunk_size"):
        chunk_sizes(10, 4, 0)
    with pytest.raises(ValueError, match="thin"):
        cb.BetaGeoModel.from_idata(
            _mock(pd.Series({"r": 0.2, "alpha": 4.0, "a": 0.8, "b": 2.0}))
        ).probability_alive(load_cdnow_summary(), thin=0)


def test_summary_only_never_allocates_the_full_array(fits) -> None:
    bg = fits[0]
    tx = cb.BetaGeoModel.from_idata(_mock(bg.params_, chains=4, draws=50))
    base = load_cdnow_summary()
    data = pd.concat([base] * 27, ignore_index=True)  # 63,639 customers x 200 draws
    full_bytes = 8 * 200 * len(data)  # 102 MB; one block of 1000 customers is 1.6 MB
    tracemalloc.start()
    try:
        tidy = tx.probability_alive(data, summary_only=True, chunk_size=1000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(tidy) == len(data)
    assert peak < full_bytes / 8, f"peak {peak / 1e6:.1f} MB vs full array {full_bytes / 1e6:.1f}"
