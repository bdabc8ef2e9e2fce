"""The fused BG/NBD and Pareto/NBD likelihood ``Op`` equals the elementwise graph and NumPy."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pymc")
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "ArviZ is undergoing", FutureWarning)
    import pymc as pm

    import clv.bayes as cb
from clv.bayes._fused import TotalLogLikelihood
from clv.models import bgnbd, pareto_nbd

POINTS = [
    {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    {"r": 2.0, "alpha": 0.5, "a": 0.05, "b": 30.0},
    {"r": 0.01, "alpha": 300.0, "a": 8.0, "b": 0.2},
]


PNBD_POINTS = [
    {"r": 0.553, "alpha": 10.58, "s": 0.606, "beta": 11.67},
    {"r": 2.0, "alpha": 0.5, "s": 0.05, "beta": 30.0},
    {"r": 0.05, "alpha": 300.0, "s": 8.0, "beta": 0.2},
]


class _Graph(cb.BetaGeoModel):
    fused = False


class _PNBDGraph(cb.ParetoNBDModel):
    fused = False


def _uses_op(model: pm.Model) -> bool:
    from pytensor.graph.traversal import ancestors

    return any(
        v.owner is not None and isinstance(v.owner.op, TotalLogLikelihood)
        for v in ancestors([model.potentials[0]])
    )


def _point(model: pm.Model, params: dict[str, float]) -> dict[str, float]:
    return {model.rvs_to_values[v].name: np.log(params[v.name]) for v in model.free_RVs}


def test_total_gradient_equals_per_row_numpy(cdnow: pd.DataFrame) -> None:
    cols = [cdnow[c].to_numpy(dtype=np.float64) for c in ("frequency", "recency", "T")]
    w = np.random.default_rng(0).integers(1, 5, len(cdnow)).astype(np.float64)
    for point in POINTS:
        p = bgnbd.BGNBDParams(**point)
        ll, grad = bgnbd.log_likelihood_total_gradient(p, *cols, w)
        rows, row_grad = bgnbd.log_likelihood_gradient(p, *cols)
        assert ll == pytest.approx(float(np.sum(rows * w)), rel=1e-10)
        np.testing.assert_allclose(grad, (row_grad * w).sum(axis=1), rtol=1e-8, atol=1e-8)
        ll_h, grad_h, _ = bgnbd.log_likelihood_hessian(p, *cols, w)
        assert ll == ll_h
        np.testing.assert_array_equal(grad, grad_h)


def test_pareto_nbd_total_gradient_equals_per_row_numpy(cdnow: pd.DataFrame) -> None:
    cols = [cdnow[c].to_numpy(dtype=np.float64) for c in ("frequency", "recency", "T")]
    w = np.random.default_rng(0).integers(1, 5, len(cdnow)).astype(np.float64)
    for point in PNBD_POINTS:
        p = pareto_nbd.PNBDParams(**point)
        ll, grad = pareto_nbd.log_likelihood_total_gradient(p, *cols, w)
        rows = pareto_nbd.log_likelihood(p, *cols)
        assert ll == pytest.approx(float(np.sum(rows * w)), rel=1e-10)
        _, grad_h, _ = pareto_nbd.log_likelihood_hessian(p, *cols, w)
        np.testing.assert_allclose(grad, grad_h, rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize(
    ("fused_cls", "graph_cls", "points"),
    [(cb.BetaGeoModel, _Graph, POINTS), (cb.ParetoNBDModel, _PNBDGraph, PNBD_POINTS)],
)
def test_fused_model_matches_the_elementwise_graph(
    cdnow: pd.DataFrame, fused_cls, graph_cls, points
) -> None:
    fused = fused_cls().build_model(cdnow)
    graph = graph_cls().build_model(cdnow)
    assert _uses_op(fused)
    assert not _uses_op(graph)
    f_logp, g_logp = fused.compile_logp(), graph.compile_logp()
    f_dlogp, g_dlogp = fused.compile_dlogp(), graph.compile_dlogp()
    for params in points:
        point = _point(fused, params)
        assert float(f_logp(point)) == pytest.approx(float(g_logp(point)), rel=1e-8)
        np.testing.assert_allclose(f_dlogp(point), g_dlogp(point), rtol=1e-8, atol=1e-8)


def test_segments_mutable_data_and_compiled_samplers_keep_the_graph(cdnow: pd.DataFrame) -> None:
    data = cdnow.assign(channel=np.where(np.arange(len(cdnow)) % 2 == 0, "web", "store"))
    assert not _uses_op(cb.BetaGeoModel(segment="channel").build_model(data))
    assert _uses_op(cb.BetaGeoModel(segment="channel", pooling="full").build_model(data))
    assert not _uses_op(cb.BetaGeoModel().build_model(cdnow, mutable_data=True))
    seen = []

    class Spy(cb.BetaGeoModel):
        def build_model(self, data: pd.DataFrame, *, mutable_data: bool = False) -> pm.Model:
            model = super().build_model(data, mutable_data=mutable_data)
            seen.append(_uses_op(model))
            raise RuntimeError("stop")

    for kwargs, fused in (
        ({"sampler": "nutpie"}, False),
        ({"nuts_sampler": "numpyro"}, False),
        ({}, True),
        ({"method": "advi"}, True),
    ):
        with pytest.raises(RuntimeError, match="stop"):
            Spy().fit(cdnow, **kwargs)
        assert seen.pop() is fused
    assert not hasattr(Spy(), "_graph_only")


def test_advi_and_map_run_on_the_fused_likelihood(cdnow: pd.DataFrame) -> None:
    # the same objective and gradients: ADVI from the same seed takes the same path
    fits = [
        cls().fit(cdnow, method="advi", n=400, draws=20, random_seed=1, log_likelihood=True)
        for cls in (cb.BetaGeoModel, _Graph)
    ]
    for name in POINTS[0]:
        np.testing.assert_allclose(
            fits[0].idata_.posterior[name].values, fits[1].idata_.posterior[name].values, rtol=1e-6
        )
    ll = fits[0].idata_.log_likelihood["customers"]  # per customer, from the NumPy function
    assert ll.sizes["customer_id"] == len(cdnow)
    assert np.isfinite(ll.values).all()
    point = cb.BetaGeoModel(priors=cb.BetaGeoModel.flat_priors()).fit(cdnow, method="map")
    for name, value in POINTS[0].items():
        assert float(point.idata_.posterior[name].squeeze()) == pytest.approx(value, rel=2e-3)


def test_degenerate_parameters_give_minus_infinity_not_an_error(cdnow: pd.DataFrame) -> None:
    model = cb.BetaGeoModel().build_model(cdnow)
    logp, dlogp = model.compile_logp(), model.compile_dlogp()
    point = _point(model, POINTS[0]) | {"a_log__": -800.0}  # a underflows to 0
    assert float(logp(point)) == -np.inf
    assert np.isfinite(dlogp(point)).all()


def test_prepared_likelihood_is_built_once_and_equals_the_function(cdnow: pd.DataFrame) -> None:
    import pytensor.tensor as pt

    from clv.bayes._fused import total_log_likelihood

    calls = []

    def prepare(*data):
        calls.append(1)
        return pareto_nbd.WeightedTotalGradient(*data)

    cols = [cdnow[c].to_numpy(dtype=np.float64) for c in ("frequency", "recency", "T")]
    w = np.random.default_rng(1).integers(1, 4, len(cdnow)).astype(np.float64)
    theta = [pt.dscalar(n) for n in ("r", "alpha", "s", "beta")]
    func = pareto_nbd.log_likelihood_total_gradient
    prepared = total_log_likelihood(func, pareto_nbd.PNBDParams, theta, cols, w, prepare=prepare)
    plain = total_log_likelihood(func, pareto_nbd.PNBDParams, theta, cols, w)
    import pytensor

    f = pytensor.function(theta, [prepared, *pytensor.grad(prepared, theta)])
    g = pytensor.function(theta, [plain, *pytensor.grad(plain, theta)])
    for point in PNBD_POINTS:
        got, want = f(*point.values()), g(*point.values())
        np.testing.assert_allclose(got, want, rtol=1e-10)
        assert got[0] == pytest.approx(func(pareto_nbd.PNBDParams(**point), *cols, w)[0], rel=1e-12)
    assert len(calls) == 1  # the data were prepared once for all evaluations


def test_pareto_nbd_model_prepares_its_data_and_bgnbd_does_not(cdnow: pd.DataFrame) -> None:
    from pytensor.graph.traversal import ancestors

    def prepares(model: pm.Model) -> list[object]:
        return [
            v.owner.op.prepare
            for v in ancestors([model.potentials[-1]])
            if v.owner is not None and isinstance(v.owner.op, TotalLogLikelihood)
        ]

    assert prepares(cb.ParetoNBDModel().build_model(cdnow)) == [pareto_nbd.WeightedTotalGradient]
    assert prepares(cb.BetaGeoModel().build_model(cdnow)) == [None]
