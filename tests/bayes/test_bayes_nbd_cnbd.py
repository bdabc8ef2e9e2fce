"""Bayesian NBD, MBG/CNBD-k and BG/CNBD-k: one likelihood with the MLE, predictions over draws,
persistence, the fixed order ``k``, CDNOW and recovery from the simulator."""

from __future__ import annotations

import time
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
from clv.data import rfm_summary
from clv.data.datasets import load_cdnow_sample_transactions, load_cdnow_summary
from clv.exceptions import ConvergenceWarning, DataError, ModelFileError
from clv.models import _cnbd_math as m
from clv.models import nbd

CNBD = {
    "MBG": (cb.ModifiedBetaGeoCNBDModel, cm.ModifiedBetaGeoCNBDModel, True),
    "BG": (cb.BetaGeoCNBDModel, cm.BetaGeoCNBDModel, False),
}
#: the simulation set-up of BTYDplus's own CNBD-k test (regular buyers, k = 3)
REGULAR = m.CNBDParams(k=3, r=0.85, alpha=1.45, a=0.79, b=2.42)
#: one evaluation needs no C compilation of the graph (the same graph, evaluated in Python)
_QUICK = {"mode": "FAST_COMPILE"}


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return load_cdnow_summary()


@pytest.fixture(scope="module")
def cdnow_litt() -> pd.DataFrame:
    tx = load_cdnow_sample_transactions().drop_duplicates()
    return rfm_summary(
        tx[tx["date"] <= "1997-09-30"],
        customer_id_col="customer_id",
        date_col="date",
        time_unit="7D",
        observation_end="1997-09-30",
        litt=True,
    )


def _point(model: pm.Model, params: dict[str, float]) -> dict[str, float]:
    return {model.rvs_to_values[v].name: np.log(params[v.name]) for v in model.free_RVs}


def _logp(
    bayes: cb.BayesModel, data: pd.DataFrame, params: pd.Series, graph: bool = False
) -> float:
    """Log-density at ``params``; ``graph``: the elementwise PyTensor graph, not the fused Op."""
    model = bayes.build_model(data, mutable_data=graph)
    fn = model.compile_logp(jacobian=False, **_QUICK)
    return float(fn(_point(model, params.to_dict())))


def _mock(params: pd.Series, chains: int = 2, draws: int = 3, seed: int = 0) -> az.InferenceData:
    rng = np.random.default_rng(seed)
    return az.from_dict(
        posterior={
            k: v * np.exp(0.02 * rng.standard_normal((chains, draws))) for k, v in params.items()
        }
    )


def _simulated(params: m.CNBDParams, n: int, T: float, seed: int, at_zero: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sim = m.simulate(params, np.full(n, T), rng=rng, dropout_at_zero=at_zero)
    return pd.DataFrame({c: sim[c] for c in ("frequency", "recency", "T", "litt")})


# ---------------------------------------------------------------------- one likelihood
def test_nbd_logp_is_the_mle_log_likelihood(cdnow: pd.DataFrame) -> None:
    mle = cm.NBDModel().fit(cdnow)
    bayes = cb.NBDModel(priors=cb.NBDModel.flat_priors())
    assert _logp(bayes, cdnow, mle.params_) == pytest.approx(mle.log_likelihood_, rel=1e-8)
    moved = mle.params_ * [0.7, 1.4]
    cols = [cdnow[c].to_numpy(dtype=np.float64) for c in ("frequency", "recency", "T")]
    expected = float(np.sum(nbd.log_likelihood(nbd.NBDParams(*moved), *cols)))
    assert _logp(bayes, cdnow, moved) == pytest.approx(expected, rel=1e-8)


@pytest.mark.parametrize("graph", [False, True], ids=["fused", "graph"])
@pytest.mark.parametrize("variant", list(CNBD))
@pytest.mark.parametrize("k", [1, 3])
def test_cnbd_logp_is_the_mle_log_likelihood(
    variant: str, k: int, graph: bool, cdnow_litt: pd.DataFrame
) -> None:
    """Both forms of the PyMC model (the fused Op and the ops graph) are the MLE likelihood."""
    bayes_cls, mle_cls, at_zero = CNBD[variant]
    mle = mle_cls(k=k).fit(cdnow_litt)
    bayes = bayes_cls(k=k, priors=bayes_cls.flat_priors())
    # at the optimum: the MLE's log-likelihood, litt term included
    got = _logp(bayes, cdnow_litt, mle.params_, graph)
    assert got == pytest.approx(mle.log_likelihood_, rel=1e-8)
    # and away from it: the NumPy function of the model module
    moved = mle.params_ * np.array([0.8, 1.3, 1.1, 0.9])
    cols = [cdnow_litt[c].to_numpy(dtype=np.float64) for c in ("frequency", "recency", "T")]
    expected = float(
        np.sum(
            m.log_likelihood(
                m.CNBDParams(k, *moved),
                *cols,
                cdnow_litt["litt"].to_numpy(dtype=np.float64),
                dropout_at_zero=at_zero,
            )
        )
    )
    assert _logp(bayes, cdnow_litt, moved, graph) == pytest.approx(expected, rel=1e-8)


@pytest.mark.parametrize("graph", [False, True], ids=["fused", "graph"])
@pytest.mark.parametrize("variant", list(CNBD))
def test_cnbd_gradient_is_the_mle_gradient(variant: str, graph: bool) -> None:
    """dlogp == the MLE's analytic gradient (also where x = 0 masks a term)."""
    bayes_cls, _, at_zero = CNBD[variant]
    data = _simulated(REGULAR, 300, 40.0, seed=5, at_zero=at_zero)
    assert (data["frequency"] == 0).any()
    bayes = bayes_cls(k=3, priors=bayes_cls.flat_priors())
    model = bayes.build_model(data, mutable_data=graph)
    rates = {"r": 0.7, "alpha": 2.0, "a": 1.1, "b": 2.0}
    point = _point(model, rates)
    grad = model.compile_dlogp(jacobian=False, **_QUICK)(point)
    names = [v.name for v in model.free_RVs]
    cols = [data[c].to_numpy(dtype=np.float64) for c in ("frequency", "recency", "T")]
    _, g = m.core_log_likelihood_gradient(
        m.CNBDParams(3, *rates.values()), *cols, dropout_at_zero=at_zero
    )
    by_name = dict(zip(("r", "alpha", "a", "b"), g.sum(axis=1), strict=True))
    # the graph differentiates w.r.t. log(theta): d/dlog(theta) = theta d/dtheta
    want = np.array([rates[n] * by_name[n] for n in names])
    np.testing.assert_allclose(np.asarray(grad), want, rtol=1e-8)


@pytest.mark.parametrize("variant", list(CNBD))
def test_cnbd_map_with_flat_priors_is_the_mle(variant: str, cdnow_litt: pd.DataFrame) -> None:
    bayes_cls, mle_cls, _ = CNBD[variant]
    mle = mle_cls(k=2).fit(cdnow_litt)
    bayes = bayes_cls(k=2, priors=bayes_cls.flat_priors()).fit(cdnow_litt, method="map")
    np.testing.assert_allclose(bayes.summary()["mean"][mle.params_.index], mle.params_, rtol=1e-3)


def test_nbd_map_with_flat_priors_is_the_mle(cdnow: pd.DataFrame) -> None:
    mle = cm.NBDModel().fit(cdnow)
    bayes = cb.NBDModel(priors=cb.NBDModel.flat_priors()).fit(cdnow, method="map")
    np.testing.assert_allclose(bayes.params_[["r", "alpha"]], mle.params_, rtol=1e-3)
    # BTYDplus nbd.EstimateParameters on CDNOW
    np.testing.assert_allclose(mle.params_, [0.3848, 12.072], rtol=1e-3)


# ---------------------------------------------------------------------- predictions over draws
@pytest.mark.parametrize("key", ["NBD", "MBG", "BG"])
def test_predictions_over_mocked_draws_are_the_mle_predictions(
    key: str, cdnow_litt: pd.DataFrame
) -> None:
    data = cdnow_litt.iloc[:40]
    if key == "NBD":
        bayes_cls, mle_cls, k = cb.NBDModel, cm.NBDModel, None
    else:
        bayes_cls, mle_cls, _ = CNBD[key]
        k = 3
    mle = (mle_cls() if k is None else mle_cls(k=k)).fit(cdnow_litt)
    kwargs = {} if k is None else {"k": k}
    bayes = bayes_cls.from_idata(_mock(mle.params_), **kwargs)
    pa = bayes.probability_alive(data)
    ep = bayes.expected_purchases(5.0, data)
    new = bayes.expected_purchases_new_customer(5.0)
    pp = bayes.probability_of_purchases(2, 5.0)
    assert pa.dims == ep.dims == ("chain", "draw", "customer_id") and pa.shape == (2, 3, 40)
    assert new.dims == pp.dims == ("chain", "draw")
    points = bayes.point_models()
    post = bayes.idata_.posterior
    for i, (c, d) in enumerate([(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]):
        ref = points[i]
        assert ref.params_["r"] == float(post["r"][c, d])
        if k is not None:
            assert ref.k_ == k
        np.testing.assert_allclose(pa[c, d].values, ref.probability_alive(data), rtol=1e-12)
        np.testing.assert_allclose(ep[c, d].values, ref.expected_purchases(5.0, data), rtol=1e-12)
        assert float(new[c, d]) == pytest.approx(
            float(ref.expected_purchases_new_customer(5.0)), rel=1e-12
        )
        assert float(pp[c, d]) == pytest.approx(
            float(ref.probability_of_purchases(2, 5.0)), rel=1e-12
        )
    if key == "NBD":
        assert float(pa.min()) == float(pa.max()) == 1.0


# ---------------------------------------------------------------------- the order k
@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2", None])
def test_cnbd_order_must_be_a_whole_number(bad: object) -> None:
    with pytest.raises(ValueError, match="k must be a whole number >= 1"):
        cb.ModifiedBetaGeoCNBDModel(k=bad)  # type: ignore[arg-type]


def test_cnbd_default_order_is_one_and_needs_no_litt(cdnow: pd.DataFrame) -> None:
    """k = 1 (the default) is the MBG/NBD: same log-density, no litt column needed."""
    mle = cm.ModifiedBetaGeoModel().fit(cdnow)
    bayes = cb.ModifiedBetaGeoCNBDModel(priors=cb.ModifiedBetaGeoCNBDModel.flat_priors())
    assert bayes.k == 1 and bayes.get_params()["k"] == 1
    twin = cb.ModifiedBetaGeoModel(priors=cb.ModifiedBetaGeoModel.flat_priors())
    assert _logp(bayes, cdnow, mle.params_) == pytest.approx(
        _logp(twin, cdnow, mle.params_), rel=1e-10
    )


def test_cnbd_order_above_one_needs_litt(cdnow: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="litt"):
        cb.BetaGeoCNBDModel(k=2).build_model(cdnow)


def test_cnbd_pointwise_log_likelihood_compares_orders(cdnow_litt: pd.DataFrame) -> None:
    """The pointwise log-likelihood has the litt term, so its sum is the profile likelihood."""
    profile = cm.ModifiedBetaGeoCNBDModel(max_k=3).fit(cdnow_litt).profile_
    for k in (1, 2, 3):
        mle = cm.ModifiedBetaGeoCNBDModel(k=k).fit(cdnow_litt)
        post = az.from_dict(posterior={n: np.full((1, 1), v) for n, v in mle.params_.items()})
        bayes = cb.ModifiedBetaGeoCNBDModel.from_idata(post, k=k)
        ll = bayes.pointwise_log_likelihood(cdnow_litt)
        assert ll.shape == (1, 1, len(cdnow_litt))
        assert float(ll.sum()) == pytest.approx(profile[k], rel=1e-9)


# ---------------------------------------------------------------------- persistence
def test_cnbd_netcdf_round_trip_keeps_the_order(tmp_path, cdnow_litt: pd.DataFrame) -> None:
    mle = cm.BetaGeoCNBDModel(k=3).fit(cdnow_litt)
    priors = {"r": ("Gamma", {"alpha": 2.0, "beta": 4.0})}
    bayes = cb.BetaGeoCNBDModel.from_idata(_mock(mle.params_), k=3, priors=priors)
    path = tmp_path / "bgcnbd.nc"
    bayes.to_netcdf(path)
    loaded = cb.BetaGeoCNBDModel.from_netcdf(path)
    assert loaded.k == 3 and loaded.priors == bayes.priors
    assert "k=3" in repr(loaded)
    data = cdnow_litt.iloc[:25]
    np.testing.assert_array_equal(
        loaded.expected_purchases(10.0, data).values, bayes.expected_purchases(10.0, data).values
    )
    with pytest.raises(ModelFileError, match="BetaGeoCNBDModel posterior, not a"):
        cb.ModifiedBetaGeoCNBDModel.from_netcdf(path)


def test_nbd_netcdf_round_trip(tmp_path, cdnow: pd.DataFrame) -> None:
    mle = cm.NBDModel().fit(cdnow)
    bayes = cb.NBDModel.from_idata(_mock(mle.params_))
    bayes.to_netcdf(tmp_path / "nbd.nc")
    loaded = cb.NBDModel.from_netcdf(tmp_path / "nbd.nc")
    np.testing.assert_array_equal(
        loaded.expected_purchases(39.0, cdnow.iloc[:20]).values,
        bayes.expected_purchases(39.0, cdnow.iloc[:20]).values,
    )


# ---------------------------------------------------------------------- NUTS
def test_nbd_nuts_on_cdnow_is_near_the_mle(cdnow: pd.DataFrame) -> None:
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        bayes = cb.NBDModel().fit(
            cdnow, chains=2, draws=300, tune=300, cores=1, random_seed=3, log_likelihood=False
        )
    elapsed = time.perf_counter() - start
    for w in caught:  # short chains may leave r_hat just above 1.01; nothing else may warn
        assert issubclass(w.category, ConvergenceWarning), w
    table = bayes.summary()
    for name, value in {"r": 0.3848, "alpha": 12.072}.items():  # BTYDplus / the MLE
        assert abs(table.loc[name, "mean"] - value) < 2 * table.loc[name, "sd"], table
        assert abs(table.loc[name, "mean"] / value - 1) < 0.05, table
    assert elapsed < 60


@pytest.mark.slow
@pytest.mark.parametrize("variant", list(CNBD))
def test_cnbd_nuts_recovers_the_simulated_parameters(variant: str) -> None:
    """NUTS at k = 3 on customers simulated by the model module's simulator."""
    bayes_cls, mle_cls, at_zero = CNBD[variant]
    data = _simulated(REGULAR, 1000, 52.0, seed=11, at_zero=at_zero)
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        bayes = bayes_cls(k=3).fit(
            data, chains=2, draws=200, tune=500, cores=1, random_seed=5, log_likelihood=False
        )
    elapsed = time.perf_counter() - start
    print(f"{variant}/CNBD-3 NUTS 2x200 (+500 tune), 1000 customers: {elapsed:.1f} s")  # noqa: T201
    for w in caught:
        assert issubclass(w.category, ConvergenceWarning), w
        assert "divergent" not in str(w.message), w.message
    table = bayes.summary(alpha=0.01)
    truth = dict(zip(("r", "alpha", "a", "b"), REGULAR[1:], strict=True))
    for name, value in truth.items():
        assert table.loc[name, "lower"] < value < table.loc[name, "upper"], (name, table)
    # and the posterior is centred where the maximum-likelihood fit at k = 3 is
    mle = mle_cls(k=3).fit(data)
    for name in truth:
        assert abs(table.loc[name, "mean"] - mle.params_[name]) < table.loc[name, "sd"], table
    assert elapsed < 60


def test_cnbd_segments_use_the_graph_of_the_same_likelihood() -> None:
    """pooling="none": the log-density is the sum of each segment's NumPy log-likelihood."""
    data = _simulated(REGULAR, 200, 40.0, seed=2, at_zero=False)
    data["seg"] = np.where(np.arange(200) % 3 == 0, "a", "b")
    bayes = cb.BetaGeoCNBDModel(
        k=3, segment="seg", pooling="none", priors=cb.BetaGeoCNBDModel.flat_priors()
    )
    model = bayes.build_model(data)
    values = {"a": [0.7, 1.2, 0.9, 2.1], "b": [1.1, 1.8, 0.6, 2.9]}
    labels = list(model.coords["segment"])
    point = {
        model.rvs_to_values[v].name: np.log([values[s][j] for s in labels])
        for j, v in enumerate(model.free_RVs)
    }
    assert [v.name for v in model.free_RVs] == ["r", "alpha", "a", "b"]
    got = float(model.compile_logp(jacobian=False, **_QUICK)(point))
    want = 0.0
    for s, rows in data.groupby("seg"):
        cols = [rows[c].to_numpy(dtype=np.float64) for c in ("frequency", "recency", "T", "litt")]
        params = m.CNBDParams(3, *values[str(s)])
        want += float(np.sum(m.log_likelihood(params, *cols, dropout_at_zero=False)))
    assert got == pytest.approx(want, rel=1e-10)


def test_cnbd_clones_with_its_order() -> None:
    base = pytest.importorskip("sklearn.base")
    model = cb.ModifiedBetaGeoCNBDModel(k=4)
    twin = base.clone(model)
    assert twin.k == 4 and twin.get_params() == model.get_params()
    with pytest.raises(ValueError, match="k must be a whole number"):
        twin.set_params(k=0)


@pytest.mark.slow
@pytest.mark.parametrize("variant", list(CNBD))
def test_cnbd_nuts_on_cdnow_is_near_the_mle(variant: str, cdnow_litt: pd.DataFrame) -> None:
    """CDNOW's profile-likelihood order is k = 1 for both; the posterior sits at the MLE."""
    bayes_cls, mle_cls, _ = CNBD[variant]
    mle = mle_cls().fit(cdnow_litt)
    assert mle.k_ == 1
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        bayes = bayes_cls(k=mle.k_).fit(
            cdnow_litt, chains=2, draws=250, tune=500, cores=1, random_seed=7,
            log_likelihood=False,
        )  # fmt: skip
    elapsed = time.perf_counter() - start
    print(f"{variant}/CNBD-1 NUTS 2x250 (+500 tune) on CDNOW: {elapsed:.1f} s")  # noqa: T201
    for w in caught:
        assert issubclass(w.category, ConvergenceWarning), w
        assert "divergent" not in str(w.message), w.message
    table = bayes.summary()
    for name, value in mle.params_.items():
        assert abs(table.loc[name, "mean"] - value) < 2 * table.loc[name, "sd"], (name, table)
    assert elapsed < 60
