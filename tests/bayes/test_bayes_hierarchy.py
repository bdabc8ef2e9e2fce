"""Segment-level parameters: full pooling is the plain model, no pooling is independent models,
partial pooling is the same likelihood at exp(mu + tau z); predictions per segment."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pymc")
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "ArviZ is undergoing", FutureWarning)
    import arviz as az
    import pymc as pm

    import clv.bayes as cb
import clv.models as cm
from clv.data.datasets import load_cdnow_summary
from clv.exceptions import DataError
from clv.models import bgnbd

PARAMS = {"A": (0.25, 4.0, 0.8, 2.5), "B": (0.4, 6.0, 1.2, 3.0), "C": (0.2, 3.0, 0.6, 1.9)}


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rfm = load_cdnow_summary().copy()
    rfm["region"] = np.array(["A", "B", "C"])[np.arange(len(rfm)) % 3]
    return rfm


def _potential(model: pm.Model, point: dict[str, np.ndarray]) -> float:
    """The likelihood term alone (the ``log_likelihood`` potential) at ``point``."""
    (pot,) = model.replace_rvs_by_values([model.potentials[0]])
    fn = model.compile_fn(pot, inputs=model.value_vars, on_unused_input="ignore")
    return float(fn(point))


def _numpy_ll(frame: pd.DataFrame, params: tuple[float, ...]) -> float:
    cols = [frame[c].to_numpy() for c in ("frequency", "recency", "T")]
    return float(np.sum(bgnbd.log_likelihood(bgnbd.BGNBDParams(*params), *cols)))


def test_full_pooling_is_the_plain_model(data: pd.DataFrame) -> None:
    params = PARAMS["A"]
    plain = cb.BetaGeoModel().build_model(data)
    full = cb.BetaGeoModel(segment="region", pooling="full").build_model(data)
    point = {f"{n}_log__": np.log(v) for n, v in zip(("r", "alpha", "a", "b"), params, strict=True)}
    assert _potential(full, point) == pytest.approx(_potential(plain, point), rel=1e-12)
    assert float(full.compile_logp()(point)) == pytest.approx(
        float(plain.compile_logp()(point)), rel=1e-12
    )
    assert _potential(full, point) == pytest.approx(_numpy_ll(data, params), rel=1e-10)


def test_no_pooling_is_independent_models(data: pd.DataFrame) -> None:
    model = cb.BetaGeoModel(segment="region", pooling="none").build_model(data)
    assert list(model.coords["segment"]) == ["A", "B", "C"]
    names = ("r", "alpha", "a", "b")
    point = {f"{n}_log__": np.log([PARAMS[g][i] for g in "ABC"]) for i, n in enumerate(names)}
    independent = 0.0
    for g in "ABC":
        part = data[data["region"] == g]
        plain = cb.BetaGeoModel().build_model(part)
        independent += float(
            plain.compile_logp()({f"{n}_log__": np.log(PARAMS[g][i]) for i, n in enumerate(names)})
        )
    assert float(model.compile_logp()(point)) == pytest.approx(independent, rel=1e-10)
    assert _potential(model, point) == pytest.approx(
        sum(_numpy_ll(data[data["region"] == g], PARAMS[g]) for g in "ABC"), rel=1e-10
    )


def test_partial_pooling_is_non_centred_on_the_log_scale(data: pd.DataFrame) -> None:
    model = cb.BetaGeoModel(segment="region", pooling="partial").build_model(data)
    names = ("r", "alpha", "a", "b")
    assert {f"{n}_{h}" for n in names for h in ("mu", "tau", "z")} <= set(model.named_vars)
    mu = {"r": -1.2, "alpha": 1.5, "a": -0.2, "b": 0.9}
    tau = {"r": 0.3, "alpha": 0.2, "a": 0.5, "b": 0.1}
    z = {n: np.array([-1.0, 0.5, 2.0]) * (i + 1) / 4 for i, n in enumerate(names)}
    point = {}
    for n in names:
        point[f"{n}_mu"] = np.asarray(mu[n])
        point[f"{n}_tau_log__"] = np.log(tau[n])
        point[f"{n}_z"] = z[n]
    expected = 0.0
    for j, g in enumerate("ABC"):
        theta = tuple(float(np.exp(mu[n] + tau[n] * z[n][j])) for n in names)
        expected += _numpy_ll(data[data["region"] == g], theta)
    assert _potential(model, point) == pytest.approx(expected, rel=1e-10)


def _segment_idata(spread: float = 0.0) -> az.InferenceData:
    rng = np.random.default_rng(0)
    names = ("r", "alpha", "a", "b")
    post = {n: np.array([[PARAMS[g][i] for g in "ABC"]] * 3)[None] for i, n in enumerate(names)}
    post = {n: v * np.exp(spread * rng.standard_normal(v.shape)) for n, v in post.items()}
    return az.from_dict(
        posterior=post, dims={n: ["segment"] for n in names}, coords={"segment": ["A", "B", "C"]}
    )


def test_predictions_use_each_customers_segment(tmp_path, data: pd.DataFrame) -> None:
    bayes = cb.BetaGeoModel.from_idata(_segment_idata(0.02), segment="region")
    pa = bayes.probability_alive(data)
    ll = bayes.pointwise_log_likelihood(data)
    assert pa.shape == (1, 3, len(data))
    post = bayes.idata_.posterior
    for g in "ABC":
        rows = (data["region"] == g).to_numpy()
        ref = cm.BetaGeoModel()
        ref.params_ = pd.Series(
            {n: float(post[n].sel(segment=g)[0, 1]) for n in ("r", "alpha", "a", "b")}
        )
        np.testing.assert_allclose(
            pa[0, 1].values[rows], ref.probability_alive(data[rows]), rtol=1e-13
        )
        np.testing.assert_allclose(
            ll[0, 1].values[rows],
            bgnbd.log_likelihood(
                ref._p, *(data[rows][c].to_numpy() for c in ("frequency", "recency", "T"))
            ),
            rtol=1e-13,
        )
    # chunked summary path and the per-segment point models
    tidy = bayes.expected_purchases(10, data, summary_only=True, chunk_size=100)
    np.testing.assert_allclose(
        tidy["mean"], bayes.expected_purchases(10, data).mean(("chain", "draw")), rtol=1e-12
    )
    first_b = bayes.point_models(segment="B")[0]
    assert first_b.params_["r"] == float(post["r"].sel(segment="B")[0, 0])
    with pytest.raises(ValueError, match="segment="):
        bayes.point_models()
    table = bayes.summary()
    assert "r[A]" in table.index and len(table) == 12
    with pytest.raises(DataError, match="not fitted on"):
        bayes.probability_alive(data.assign(region="Z"))
    # file round trip keeps the segment column name
    bayes.to_netcdf(tmp_path / "seg.nc")
    loaded = cb.BetaGeoModel.from_netcdf(tmp_path / "seg.nc")
    assert loaded.segment == "region"
    np.testing.assert_array_equal(loaded.probability_alive(data).values, pa.values)


def test_map_with_segments_and_bad_pooling(data: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="pooling"):
        cb.BetaGeoModel(segment="region", pooling="some")
    with pytest.raises(DataError, match="region"):
        cb.BetaGeoModel(segment="region").build_model(data.drop(columns="region"))
    bayes = cb.BetaGeoModel(
        priors=cb.BetaGeoModel.flat_priors(), segment="region", pooling="none"
    ).fit(data, method="map", tol=1e-12)
    for g in "AC":
        mle = cm.BetaGeoModel().fit(data[data["region"] == g])
        got = bayes.summary()["mean"]
        np.testing.assert_allclose(
            [got[f"{n}[{g}]"] for n in mle.params_.index], mle.params_, rtol=2e-3
        )


def test_clv_over_draws_uses_each_customers_segment(data: pd.DataFrame) -> None:
    from clv.data.datasets import load_cdnow_summary_with_spend
    from clv.value import customer_lifetime_value as mle_clv

    rfm = load_cdnow_summary_with_spend().iloc[:90].copy()
    rfm["region"] = np.array(["A", "B", "C"])[np.arange(len(rfm)) % 3]
    tx = cb.BetaGeoModel.from_idata(_segment_idata(0.02), segment="region")
    gg = cm.GammaGammaModel().fit(load_cdnow_summary_with_spend())
    spend = cb.GammaGammaModel.from_idata(
        az.from_dict(posterior={k: np.array([[v]]) for k, v in gg.params_.items()})
    )
    clv = cb.customer_lifetime_value(tx, spend, rfm, horizon=20, discount_rate_per_period=0.01)
    assert clv.shape == (1, 3, len(rfm))
    for g in "ABC":
        rows = (rfm["region"] == g).to_numpy()
        point = tx.point_models(segment=g)[2]
        want = mle_clv(point, gg, rfm[rows], horizon=20, discount_rate_per_period=0.01)
        np.testing.assert_array_equal(clv[0, 2].values[rows], want.to_numpy())
    tidy = cb.customer_lifetime_value(
        tx, spend, rfm, horizon=20, discount_rate_per_period=0.01, summary_only=True, chunk_size=7
    )
    np.testing.assert_allclose(tidy["mean"], clv.mean(("chain", "draw")).values, rtol=1e-12)
