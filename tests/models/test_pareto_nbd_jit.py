"""The compiled weighted total of the Pareto/NBD likelihood against the NumPy rows path."""

from __future__ import annotations

import numpy as np
import pytest

from clv import _special_jit
from clv.data.datasets import load_cdnow_summary
from clv.models import _pareto_nbd_math as pnbd_math
from clv.models import pareto_nbd
from clv.models._mle import compress

pytestmark = pytest.mark.skipif(not _special_jit.AVAILABLE, reason="numba is not installed")


def _reference(params, x, t_x, T, w):  # the per-row NumPy path, summed
    rows, grad = pnbd_math.log_likelihood_gradient(params, x, t_x, T)
    return float(np.dot(rows, w)), grad @ w


@pytest.fixture(scope="module")
def cdnow() -> tuple[list[np.ndarray], np.ndarray]:
    d = load_cdnow_summary()
    cols, w = compress([d[c].to_numpy(float) for c in ("frequency", "recency", "T")], None)
    return cols, w


POINTS = [
    (0.553, 10.58, 0.606, 11.67),  # MLE: alpha < beta
    (0.553, 10.58, 8.0, 300.0),  # far along the (s, beta) ridge
    (2.0, 40.0, 0.3, 5.0),  # alpha >= beta
    (0.05, 1e-3, 50.0, 1e-3),  # alpha == beta: z = 0
    (0.2, 1e-4, 0.5, 1e7),  # z within 1e-10 of 1: rows left to the integral representation
]


@pytest.mark.parametrize("params", POINTS)
def test_compiled_total_equals_the_numpy_rows_on_cdnow(cdnow, params):
    (x, t_x, T), w = cdnow
    p = pareto_nbd.PNBDParams(*params)
    ll, grad = pareto_nbd.log_likelihood_total_gradient(p, x, t_x, T, w)
    ll_ref, grad_ref = _reference(params, x, t_x, T, w)
    assert np.isfinite(ll) and np.all(np.isfinite(grad))
    assert ll == pytest.approx(ll_ref, rel=1e-11)
    np.testing.assert_allclose(grad, grad_ref, rtol=1e-8, atol=1e-8 * np.abs(grad_ref).max())


def test_compiled_total_on_few_rows_with_ties_and_zero_weights():
    # under 256 rows (no pair table), t_x == T (no dead term) and a weight 0
    x = np.array([0.0, 1.0, 3.0, 3.0, 7.0])
    t_x = np.array([0.0, 5.0, 20.0, 31.0, 31.0])
    T = np.array([31.0, 31.0, 31.0, 31.0, 31.0])
    w = np.array([3.0, 1.0, 0.0, 2.0, 1.0])
    for params in POINTS[:4]:
        ll, grad = pnbd_math.log_likelihood_total_gradient(params, x, t_x, T, w)
        ll_ref, grad_ref = _reference(params, x, t_x, T, w)
        assert ll == pytest.approx(ll_ref, rel=1e-12)
        np.testing.assert_allclose(grad, grad_ref, rtol=1e-9, atol=1e-12)


def test_compiled_gradient_matches_finite_differences(cdnow):
    (x, t_x, T), w = cdnow
    params = np.array([0.6, 9.0, 1.5, 40.0])
    _, grad = pnbd_math.log_likelihood_total_gradient(params, x, t_x, T, w)
    for j in range(4):
        h = 1e-6 * params[j]
        up, down = params.copy(), params.copy()
        up[j] += h
        down[j] -= h
        numeric = (
            pnbd_math.log_likelihood_total_gradient(up, x, t_x, T, w)[0]
            - pnbd_math.log_likelihood_total_gradient(down, x, t_x, T, w)[0]
        ) / (2 * h)
        assert grad[j] == pytest.approx(numeric, rel=1e-5, abs=1e-4)


def test_without_numba_the_total_is_the_numpy_rows(cdnow, monkeypatch):
    (x, t_x, T), w = cdnow
    params = POINTS[1]
    compiled = pnbd_math.log_likelihood_total_gradient(params, x, t_x, T, w)
    monkeypatch.setattr(_special_jit, "AVAILABLE", False)
    plain = pnbd_math.log_likelihood_total_gradient(params, x, t_x, T, w)
    ll_ref, grad_ref = _reference(params, x, t_x, T, w)
    assert plain[0] == ll_ref
    np.testing.assert_array_equal(plain[1], grad_ref)
    assert compiled[0] == pytest.approx(plain[0], rel=1e-11)
