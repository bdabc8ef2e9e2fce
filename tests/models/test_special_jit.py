"""The compiled kernel of log 2F1(1, b; c; z) against the NumPy path and against mpmath."""

from __future__ import annotations

import itertools

import mpmath
import numpy as np
import pytest

from clv import _special, _special_jit
from clv._special import log_hyp2f1_1bc
from clv.models import _pareto_nbd_math as pnbd_math

pytestmark = pytest.mark.skipif(not _special_jit.AVAILABLE, reason="numba is not installed")


@pytest.fixture
def numpy_only(monkeypatch: pytest.MonkeyPatch):  # the reference: the vectorised NumPy path
    def run(fn, *args, **kwargs):
        with monkeypatch.context() as m:
            m.setattr(_special_jit, "AVAILABLE", False)
            return fn(*args, **kwargs)

    return run


def _extreme_grid(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    b = np.exp(rng.uniform(np.log(0.01), np.log(5e4), n))
    c = b + np.exp(rng.uniform(np.log(1e-3), np.log(5e4), n))
    c = np.maximum(c, 1.0 + 1e-3)
    b = np.minimum(b, c - 1e-3)
    z = np.concatenate(
        [rng.uniform(0.0, 0.5, n // 2), 1.0 - np.exp(rng.uniform(np.log(1e-10), np.log(0.5), n))]
    )[:n]
    return b, c, z


def test_kernel_equals_the_numpy_path_on_an_extreme_grid(numpy_only):
    b, c, z = _extreme_grid(6000, 11)
    fast = np.array(log_hyp2f1_1bc(b, c, z, order=1))
    ref = np.array(numpy_only(log_hyp2f1_1bc, b, c, z, order=1))
    assert np.isfinite(fast).all()
    scale = 1.0 + np.abs(ref)
    assert np.max(np.abs(fast[0] - ref[0]) / scale[0]) < 1e-12
    assert np.max(np.abs(fast[1:] - ref[1:]) / scale[1:]) < 1e-10
    value = log_hyp2f1_1bc(b, c, z)
    np.testing.assert_allclose(value, numpy_only(log_hyp2f1_1bc, b, c, z), rtol=1e-12, atol=0)


def _mp_log_f(b: float, c: float, z: float) -> mpmath.mpf:
    return mpmath.log(mpmath.hyp2f1(1, b, c, z))


@pytest.mark.parametrize(
    ("b", "c", "z"),
    [
        (0.553, 4.16, 0.02),
        (0.01, 1.001, 0.3),
        (4.0, 30.6, 0.6),
        (1.55, 30.6, 0.93),  # the (s, beta) ridge of a Pareto/NBD posterior on CDNOW
        (9.0, 38.1, 0.965),
        (21.0, 51.6, 0.999),
        (3000.5, 4000.2, 0.9999),
        (0.3, 1.2, 1.0 - 1e-9),  # beyond both budgets: the integral representation
        (4e4, 4.5e4, 0.7),
    ],
)
def test_values_and_gradients_match_mpmath(b, c, z):
    mpmath.mp.dps = 40
    ref = [_mp_log_f(b, c, z)]
    for k in range(3):  # central differences of the 40-digit value
        h = mpmath.mpf(10) ** -15 * max(1.0, (b, c, z)[k] if k < 2 else 1.0)
        if k == 2:
            h = mpmath.mpf(10) ** -15 * (1 - z)
        up = [mpmath.mpf(b), mpmath.mpf(c), mpmath.mpf(z)]
        dn = list(up)
        up[k] += h
        dn[k] -= h
        ref.append((_mp_log_f(*up) - _mp_log_f(*dn)) / (2 * h))
    out = log_hyp2f1_1bc(np.array([b]), np.array([c]), np.array([z]), order=1)
    for got, want in zip(out, ref, strict=True):
        assert np.isfinite(got[0])
        assert got[0] == pytest.approx(float(want), rel=1e-11, abs=1e-13)


def test_no_nan_or_overflow_at_extreme_parameters():
    values = (1e-6, 0.01, 1.0, 30.0, 1e4, 1e6)
    zs = (0.0, 1e-12, 0.49, 0.51, 0.9, 0.999, 1.0 - 1e-9, 1.0 - 1e-14)
    b, c, z = (np.array(v) for v in zip(*itertools.product(values, values, zs), strict=True))
    keep = (b < c) & (c > 1.0)
    out = np.array(log_hyp2f1_1bc(b[keep], c[keep], z[keep], order=1))
    assert np.isfinite(out).all()
    # outside the domain: NaN, as the NumPy path
    bad = np.array(log_hyp2f1_1bc(np.array([2.0, 0.5]), np.array([1.5, 2.0]), np.array([0.3, 1.0])))
    assert np.isnan(bad).all()


def test_pareto_nbd_likelihood_and_gradient_are_unchanged(numpy_only):
    rng = np.random.default_rng(2)
    T = rng.uniform(30.0, 80.0, 500)
    freq = np.floor(rng.exponential(3.0, 500))
    t_x = np.where(freq > 0, T * rng.uniform(0.0, 1.0, 500), 0.0)
    for params in ((0.553, 10.58, 0.606, 11.67), (0.553, 10.58, 6.0, 250.0), (2.0, 5.0, 0.2, 90.0)):
        ll, grad = pnbd_math.log_likelihood_gradient(params, freq, t_x, T)
        ll_ref, grad_ref = numpy_only(pnbd_math.log_likelihood_gradient, params, freq, t_x, T)
        np.testing.assert_allclose(ll, ll_ref, rtol=1e-12, atol=0.0)
        np.testing.assert_allclose(grad, grad_ref, rtol=1e-9, atol=1e-12 * np.abs(grad_ref).max())


def test_kernel_is_faster_on_the_ridge(numpy_only):
    import time

    b = np.full(1000, 4.0)
    c = 4.6 + np.arange(1000) % 30
    z = np.linspace(0.6, 0.97, 1000)
    log_hyp2f1_1bc(b, c, z, order=1)
    t = []
    for fn in (
        lambda: log_hyp2f1_1bc(b, c, z, order=1),
        lambda: numpy_only(log_hyp2f1_1bc, b, c, z, order=1),
    ):
        t0 = time.process_time()
        for _ in range(5):
            fn()
        t.append(time.process_time() - t0)
    assert t[0] < t[1]


def test_the_thresholds_of_the_numpy_path_apply(monkeypatch: pytest.MonkeyPatch):
    b, c, z = np.array([9.0]), np.array([38.1]), np.array([0.965])
    monkeypatch.setattr(_special, "_SERIES_TERMS", 8)
    monkeypatch.setattr(_special, "_CF_TERMS", 8)  # neither converges: the integral
    out = np.array(log_hyp2f1_1bc(b, c, z, order=1))
    assert float(out[0, 0]) == pytest.approx(float(_mp_log_f(9.0, 38.1, 0.965)), rel=1e-12)
