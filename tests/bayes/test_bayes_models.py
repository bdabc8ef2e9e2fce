"""Every Bayesian model: its PyMC log-density is the NumPy likelihood, MAP == MLE, and its
predictions over a mocked posterior are the maximum-likelihood predictions at each draw.

No sampling here (ARCHITECTURE.md §12.6-12.7).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pymc")
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "ArviZ is undergoing", FutureWarning)
    import arviz as az
    import pymc as pm
    import pytensor
    import pytensor.tensor as pt

    import clv.bayes as cb
import clv.models as cm
from clv.data.datasets import load_cdnow_summary, load_donations
from clv.models import bdw, bgbb, mbgnbd, pareto_nbd, sbg
from clv.models._retention_data import retention_counts

_REGULAR = pd.DataFrame({"period": range(8), "n_alive": [1000, 631, 468, 382, 326, 289, 262, 241]})
_HIGH_END = pd.DataFrame({"period": range(5), "n_alive": [1000, 869, 743, 653, 593]})

CASES: dict[str, tuple[type, type, Any, Callable[[], pd.DataFrame]]] = {
    "pareto_nbd": (cb.ParetoNBDModel, cm.ParetoNBDModel, pareto_nbd, load_cdnow_summary),
    "mbgnbd": (cb.ModifiedBetaGeoModel, cm.ModifiedBetaGeoModel, mbgnbd, load_cdnow_summary),
    "bgbb": (cb.BetaGeoBetaBinomModel, cm.BetaGeoBetaBinomModel, bgbb, load_donations),
    "sbg": (cb.ShiftedBetaGeoModel, cm.ShiftedBetaGeoModel, sbg, lambda: _REGULAR.copy()),
    "bdw": (
        cb.BetaDiscreteWeibullModel,
        cm.BetaDiscreteWeibullModel,
        bdw,
        lambda: _HIGH_END.copy(),
    ),
}
TRANSACTION = ("pareto_nbd", "mbgnbd", "bgbb")


@pytest.fixture(scope="module")
def fitted() -> dict[str, tuple[pd.DataFrame, Any]]:
    out = {}
    for key, (_, mle_cls, _, load) in CASES.items():
        data = load()
        out[key] = (data, mle_cls().fit(data))
    return out


def _point(model: pm.Model, params: dict[str, float]) -> dict[str, float]:
    return {model.rvs_to_values[v].name: np.log(params[v.name]) for v in model.free_RVs}


def _numpy_ll(key: str, data: pd.DataFrame, params: pd.Series) -> float:
    _, mle_cls, module, _ = CASES[key]
    theta = mle_cls.spec.params(*params.to_numpy())
    if key in ("sbg", "bdw"):
        counts = retention_counts(data)
        cols = [counts[c].to_numpy(dtype=np.float64) for c in ("periods_observed", "churned")]
        weights = counts["weight"].to_numpy()
    else:
        cols = [data[c].to_numpy(dtype=np.float64) for c in ("frequency", "recency", "T")]
        weights = data["weight"].to_numpy() if "weight" in data else np.ones(len(data))
    return float(np.sum(weights * module.log_likelihood(theta, *cols)))


def _mock(params: pd.Series, chains: int = 2, draws: int = 3, seed: int = 0) -> az.InferenceData:
    rng = np.random.default_rng(seed)
    return az.from_dict(
        posterior={
            k: v * np.exp(0.02 * rng.standard_normal((chains, draws))) for k, v in params.items()
        }
    )


def _at(mle_cls: type, post: Any, c: int, d: int) -> Any:
    ref = mle_cls()
    names = list(mle_cls.spec.params._fields)
    ref.params_ = pd.Series({k: float(post[k][c, d]) for k in names}, dtype=np.float64)
    ref.params_.index.name = "param"
    ref.time_unit_ = None
    return ref


# ---------------------------------------------------------------------- one likelihood
@pytest.mark.parametrize("key", list(CASES))
def test_pymc_logp_equals_numpy_log_likelihood(key: str, fitted: dict) -> None:
    bayes_cls = CASES[key][0]
    data, mle = fitted[key]
    model = bayes_cls(priors=bayes_cls.flat_priors()).build_model(data)
    logp = float(model.compile_logp(jacobian=False)(_point(model, mle.params_.to_dict())))
    expected = _numpy_ll(key, data, mle.params_)
    assert logp == pytest.approx(expected, rel=1e-8)
    assert expected == pytest.approx(mle.log_likelihood_, rel=1e-8)
    # and away from the optimum
    moved = mle.params_ * np.linspace(0.8, 1.3, len(mle.params_))
    logp = float(model.compile_logp(jacobian=False)(_point(model, moved.to_dict())))
    assert logp == pytest.approx(_numpy_ll(key, data, moved), rel=1e-8)


def test_pareto_nbd_gradient_matches_finite_differences(fitted: dict) -> None:
    data, mle = fitted["pareto_nbd"]
    model = cb.ParetoNBDModel(priors=cb.ParetoNBDModel.flat_priors()).build_model(data)
    dlogp = model.compile_dlogp(jacobian=False)
    point = _point(model, mle.params_.to_dict())
    grad = np.asarray(dlogp(point))  # w.r.t. log-parameters
    base = mle.params_.to_numpy()
    h = 1e-6
    for i in range(4):
        up, down = base.copy(), base.copy()
        up[i] *= np.exp(h)
        down[i] *= np.exp(-h)
        fd = (
            _numpy_ll("pareto_nbd", data, pd.Series(up, index=mle.params_.index))
            - _numpy_ll("pareto_nbd", data, pd.Series(down, index=mle.params_.index))
        ) / (2 * h)
        assert grad[i] == pytest.approx(fd, abs=1e-4 * max(1.0, abs(fd)))
    assert np.all(np.isfinite(grad))


def test_pytensor_log_hyp2f1_matches_numpy_near_one() -> None:
    from clv._special import log_hyp2f1_1bc

    b, c, z = pt.dvector("b"), pt.dvector("c"), pt.dvector("z")
    out = cb.PYTENSOR.log_hyp2f1(1.0, b, c, z)
    f = pytensor.function([b, c, z], [out, *pt.grad(out.sum(), [b, c, z])])
    bv = np.array([0.3, 2.0, 50.0, 1.6])
    cv = np.array([1.9, 3.7, 52.0, 2.1])
    zv = np.array([0.1, 0.9, 0.999, 1 - 1e-7])
    got = f(bv, cv, zv)
    want = log_hyp2f1_1bc(bv, cv, zv, order=1)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12)


# ---------------------------------------------------------------------- MAP == MLE
@pytest.mark.parametrize("key", list(CASES))
def test_map_with_flat_priors_is_the_mle(key: str, fitted: dict) -> None:
    bayes_cls = CASES[key][0]
    data, mle = fitted[key]
    bayes = bayes_cls(priors=bayes_cls.flat_priors()).fit(data, method="map")
    got = bayes.summary()["mean"]
    np.testing.assert_allclose(got[mle.params_.index], mle.params_, rtol=1e-3)


# ---------------------------------------------------------------------- predictions
@pytest.mark.parametrize("key", TRANSACTION)
def test_transaction_predictions_over_mocked_draws(key: str, fitted: dict) -> None:
    bayes_cls, mle_cls = CASES[key][:2]
    data, mle = fitted[key]
    data = data.iloc[:40]
    bayes = bayes_cls.from_idata(_mock(mle.params_))
    pa = bayes.probability_alive(data)
    ep = bayes.expected_purchases(5.0, data)
    new = bayes.expected_purchases_new_customer(5.0)
    pp = bayes.probability_of_purchases(2, 5.0)
    for da in (pa, ep):
        assert da.dims == ("chain", "draw", "customer_id")
        assert da.shape == (2, 3, len(data))
    assert new.dims == pp.dims == ("chain", "draw")
    post = bayes.idata_.posterior
    for c, d in [(0, 0), (1, 2)]:
        ref = _at(mle_cls, post, c, d)
        np.testing.assert_allclose(pa[c, d].values, ref.probability_alive(data), rtol=1e-12)
        np.testing.assert_allclose(ep[c, d].values, ref.expected_purchases(5.0, data), rtol=1e-12)
        assert float(new[c, d]) == pytest.approx(
            float(ref.expected_purchases_new_customer(5.0)), rel=1e-12
        )
        assert float(pp[c, d]) == pytest.approx(
            float(ref.probability_of_purchases(2, 5.0)), rel=1e-12
        )


def test_pareto_nbd_discounted_residual_transactions_over_draws(fitted: dict) -> None:
    data, mle = fitted["pareto_nbd"]
    data = data.iloc[:30]
    bayes = cb.ParetoNBDModel.from_idata(_mock(mle.params_))
    got = bayes.expected_discounted_residual_transactions(data, 0.01)
    ref = _at(cm.ParetoNBDModel, bayes.idata_.posterior, 1, 1)
    np.testing.assert_allclose(
        got[1, 1].values, ref.expected_discounted_residual_transactions(data, 0.01), rtol=1e-12
    )


@pytest.mark.parametrize("key", ["sbg", "bdw"])
def test_retention_predictions_over_mocked_draws(key: str, fitted: dict) -> None:
    bayes_cls, mle_cls = CASES[key][:2]
    _, mle = fitted[key]
    bayes = bayes_cls.from_idata(_mock(mle.params_))
    t = np.arange(1, 6)
    surv = bayes.survival(t)
    rate = bayes.retention_rate(t)
    churn = bayes.probability_of_churn(t)
    life = bayes.expected_lifetime(discount_rate=0.1)
    periods = pd.Series([1, 4, 7], index=["a", "b", "c"])
    derl = bayes.expected_residual_lifetime(periods, discount_rate=0.1)
    assert surv.dims == ("chain", "draw", "t") and surv.shape == (2, 3, 5)
    assert life.dims == ("chain", "draw")
    assert derl.dims == ("chain", "draw", "customer_id")
    assert list(derl["customer_id"].values) == ["a", "b", "c"]
    post = bayes.idata_.posterior
    for c, d in [(0, 1), (1, 2)]:
        ref = _at(mle_cls, post, c, d)
        np.testing.assert_array_equal(surv[c, d].values, ref.survival(t))
        np.testing.assert_array_equal(rate[c, d].values, ref.retention_rate(t))
        np.testing.assert_array_equal(churn[c, d].values, ref.probability_of_churn(t))
        assert float(life[c, d]) == ref.expected_lifetime(discount_rate=0.1)
        np.testing.assert_array_equal(
            derl[c, d].values, ref.expected_residual_lifetime(periods, discount_rate=0.1)
        )


def test_retention_fit_accepts_per_customer_rows(fitted: dict) -> None:
    _, mle = fitted["sbg"]
    rows = mle.simulate(300, 6, random_state=3)
    bayes = cb.ShiftedBetaGeoModel(priors=cb.ShiftedBetaGeoModel.flat_priors())
    bayes.fit(rows, method="map")
    ref = cm.ShiftedBetaGeoModel().fit(rows)
    np.testing.assert_allclose(bayes.summary()["mean"], ref.params_, rtol=1e-3)
    assert bayes.n_customers_ == 300


def test_netcdf_round_trip_of_a_new_model(tmp_path, fitted: dict) -> None:
    data, mle = fitted["pareto_nbd"]
    bayes = cb.ParetoNBDModel.from_idata(_mock(mle.params_))
    bayes.to_netcdf(tmp_path / "pnbd.nc")
    loaded = cb.ParetoNBDModel.from_netcdf(tmp_path / "pnbd.nc")
    np.testing.assert_array_equal(
        loaded.probability_alive(data.iloc[:20]).values,
        bayes.probability_alive(data.iloc[:20]).values,
    )
