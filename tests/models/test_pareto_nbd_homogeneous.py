"""Pareto/NBD fits on a world where every customer has the same dropout rate.

With no dropout heterogeneity the likelihood keeps rising, ever more slowly,
as ``s -> inf`` with ``s / beta`` (the mean dropout rate) fixed. The engine
holds ``s`` at its homogeneous limit instead of crawling along that ridge, says
so in a structured :class:`~clv.exceptions.ConvergenceWarning`, and the
predictions are those of a constant dropout rate.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pytest

from clv.exceptions import ConvergenceWarning
from clv.models import ParetoNBDModel, _mle
from clv.models._spec import ModelSpec
from clv.models.pareto_nbd import PNBDParams, expected_purchases, simulate

MU = 0.03  # the weekly dropout rate of every customer
TRUE_RATE = (0.8, 8.0)  # purchase rates Gamma(r, alpha)


def _world(n: int, seed: int) -> pd.DataFrame:
    """Customers of ages 26, 39 or 52 weeks, recency to the day (few distinct rows)."""
    rng = np.random.default_rng(seed)
    T = rng.choice([26.0, 39.0, 52.0], n)
    # s = 1e12: the Gamma(s, s / MU) mixing distribution is a point mass at MU
    sim = simulate(PNBDParams(*TRUE_RATE, 1e12, 1e12 / MU), T, rng=rng)
    return pd.DataFrame(
        {"frequency": sim["frequency"], "recency": np.ceil(sim["recency"] * 7) / 7, "T": T}
    )


def _true_expected(frame: pd.DataFrame, t: float) -> np.ndarray:
    """Expected purchases under the true (constant dropout rate) population."""
    s = 1e8
    return expected_purchases(
        PNBDParams(*TRUE_RATE, s, s / MU), t, frame["frequency"], frame["recency"], frame["T"]
    )


@pytest.fixture(scope="module")
def fitted() -> tuple[ParetoNBDModel, pd.DataFrame, list[ConvergenceWarning]]:
    data = _world(2000, seed=5)
    with pytest.warns(ConvergenceWarning) as record:
        model = ParetoNBDModel().fit(data)
    return model, data, [w.message for w in record if isinstance(w.message, ConvergenceWarning)]


def test_the_fit_holds_s_at_the_limit_in_few_iterations(fitted) -> None:
    model, _, _ = fitted
    result = model.optimizer_
    assert result.params_at_limit == ("s",)
    assert model.params_["s"] == pytest.approx(_mle._SHAPE_LIMIT)
    # the ridge used to take 40+ Newton iterations (and end with a singular Hessian)
    assert result.n_iterations <= 25
    assert model.converged_
    # the mean dropout rate s / beta is what the data identify
    assert model.params_["s"] / model.params_["beta"] == pytest.approx(MU, rel=0.15)
    # standard errors: conditional on s (none along the ridge), finite for the others
    se = np.sqrt(np.diag(model.covariance_.to_numpy()))
    assert se[2] == 0.0
    assert np.all(np.isfinite(se)) and np.all(se[[0, 1, 3]] > 0)
    # so the estimates can be sampled (a NaN covariance could not): s stays at the limit
    draws = model.sample_params(50, random_state=0)
    np.testing.assert_allclose(draws["s"], _mle._SHAPE_LIMIT, rtol=1e-12)
    assert draws["beta"].std() > 0


def test_the_warning_is_structured_and_says_what_it_means(fitted) -> None:
    _, _, warned = fitted
    limit = [w for w in warned if w.reason == "homogeneous_limit"]
    assert len(limit) == 1 and len(warned) == 1  # no singular-Hessian warning besides
    w = limit[0]
    assert w.params_at_bound == ("s",)
    text = str(w)
    assert "no heterogeneity" in text and "not identified" in text
    assert "same for every customer fits these data as well" in text


def test_predictions_match_a_constant_dropout_rate(fitted) -> None:
    model, data, _ = fitted
    fitted_52 = model.expected_purchases(52, data).to_numpy()
    truth_52 = _true_expected(data, 52)
    assert fitted_52.sum() == pytest.approx(truth_52.sum(), rel=0.08)
    assert np.median(np.abs(fitted_52 / truth_52 - 1.0)) < 0.10
    # a far larger shape on the same ridge (same mean dropout rate) predicts the same: the
    # held value is already the limit as far as predictions go
    p = model.params_
    ratio = p["s"] / p["beta"]
    far = PNBDParams(p["r"], p["alpha"], 1e7, 1e7 / ratio)
    far_52 = expected_purchases(far, 52, data["frequency"], data["recency"], data["T"])
    np.testing.assert_allclose(fitted_52, far_52, rtol=5e-3)  # O(1/s), far below sampling error


def test_a_heterogeneous_world_is_not_held() -> None:
    rng = np.random.default_rng(3)
    T = rng.choice([26.0, 39.0, 52.0], 1500)
    sim = simulate(PNBDParams(0.8, 8.0, 0.7, 20.0), T, rng=rng)
    data = pd.DataFrame(
        {"frequency": sim["frequency"], "recency": np.ceil(sim["recency"] * 7) / 7, "T": T}
    )
    model = ParetoNBDModel().fit(data)  # filterwarnings=error: no warning
    assert model.optimizer_.params_at_limit == ()
    assert 0.2 < model.params_["s"] < 3.0


# ------------------------------------------------------------------ engine, toy problem
class _Toy(NamedTuple):
    s: float
    b: float


def _toy_spec(s_opt: float) -> ModelSpec:
    """``-log L = sqrt(1 + log(s/s_opt)^2) + b/2 - log(b/2)``: optimum at (s_opt, 2).

    Pseudo-Huber in log s: Newton's steps from ``s = 1`` are long and, from
    below ``s_opt``, land beyond it.
    """

    def log_likelihood(params: Any, x: Any, ops: Any = None) -> Any:
        s, b = params
        d = np.log(s / s_opt)
        return -(np.sqrt(1 + d**2) + b / 2 - np.log(b / 2)) + 0.0 * np.asarray(x)

    def hessian(params: Any, x: Any, weights: Any) -> tuple[float, Any, Any]:
        s, b = params
        w = float(np.sum(weights))
        d = np.log(s / s_opt)
        f1, f2 = d / np.sqrt(1 + d**2), (1 + d**2) ** -1.5  # derivatives in d = log s
        ll = w * float(log_likelihood(params, 0.0))
        grad = -w * np.array([f1 / s, 0.5 - 1 / b])
        return ll, grad, -w * np.diag([(f2 - f1) / s**2, 1 / b**2])

    return ModelSpec(
        name="toy",
        params=_Toy,
        start=_Toy(1.0, 1.0),
        columns=("x",),
        log_likelihood=log_likelihood,
        hessian=hessian,
        homogeneous_limits=(("s", "b", "toy rate"),),
    )


def test_an_overshoot_past_the_limit_is_released() -> None:
    # the second Newton step jumps from s = e^5 to about 2000, past 1e3; the held point's
    # gradient points back inside, so s is released and the optimum below the limit is found
    spec = _toy_spec(700.0)
    result = _mle.maximise(spec, {"x": np.zeros(3)})
    assert result.params_at_limit == ()
    np.testing.assert_allclose(result.params, [700.0, 2.0], rtol=1e-6)
    # the path did pass the limit: one step with the ridge rule off lands beyond it
    objective = _mle._Objective(spec, [np.zeros(1)], np.ones(1), 0.0)
    off = _mle._newton(objective, np.zeros(2), [(-30.0, 30.0)] * 2, 2)
    assert off.x[0] > np.log(_mle._SHAPE_LIMIT)


def test_an_optimum_beyond_the_limit_is_reported_as_the_limit() -> None:
    with pytest.warns(ConvergenceWarning, match="show no heterogeneity of the toy rate") as record:
        result = _mle.maximise(_toy_spec(1e5), {"x": np.zeros(3)})
    assert result.params_at_limit == ("s",)
    assert record[0].message.params_at_bound == ("s",)
    assert result.params[0] == pytest.approx(_mle._SHAPE_LIMIT)


@pytest.mark.slow
def test_a_covariate_fit_holds_s_too() -> None:
    # the covariate fit runs BFGS on the augmented spec: the same rule applies (it took
    # 110 s crawling to s = 5186 before; about 15 s now)
    data = _world(2000, seed=5)
    data["noise"] = np.random.default_rng(0).standard_normal(len(data))
    with pytest.warns(ConvergenceWarning, match="show no heterogeneity of the dropout rate"):
        model = ParetoNBDModel(dropout_covariates=["noise"]).fit(data)
    assert model.optimizer_.params_at_limit == ("s",)
    assert model.params_["s"] == pytest.approx(_mle._SHAPE_LIMIT)
    assert abs(model.params_["dropout[noise]"]) < 0.2
    assert model.params_["s"] / model.params_["beta"] == pytest.approx(MU, rel=0.15)


def test_short_histories_of_a_heterogeneous_world_are_not_called_homogeneous() -> None:
    # dropout rates that truly vary (s = 2: coefficient of variation 71 %) seen over only 4
    # periods: the fit reaches the limit, and the warning must not claim that customers are
    # alike, only that these data cannot tell them apart
    sim = simulate(
        PNBDParams(0.8, 8.0, 2.0, 10.0), np.full(3000, 4.0), rng=np.random.default_rng(1)
    )
    data = pd.DataFrame({k: sim[k] for k in ("frequency", "recency", "T")})
    with pytest.warns(ConvergenceWarning, match="homogeneous|heterogeneity") as record:
        model = ParetoNBDModel().fit(data)
    assert model.optimizer_.params_at_limit == ("s",)
    text = " ".join(str(w.message) for w in record)
    assert "these data show no heterogeneity of the dropout rate" in text
    assert "histories too short" in text and "not read it as evidence" in text
