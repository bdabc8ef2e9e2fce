"""The continued-fraction path of log 2F1(1, b; c; z) against the series/integral path."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from clv import _special
from clv._special import log_hyp2f1_1bc
from clv.models import _pareto_nbd_math as pnbd_math


@pytest.fixture
def series_only(monkeypatch: pytest.MonkeyPatch):  # the reference: no continued fraction
    def run(fn, *args, **kwargs):
        with monkeypatch.context() as m:
            m.setattr(_special, "_CF_MIN_Z", 2.0)
            return fn(*args, **kwargs)

    return run


def test_continued_fraction_equals_series_on_an_extreme_grid(series_only):
    rng = np.random.default_rng(3)
    n = 4000
    b = np.exp(rng.uniform(np.log(0.05), np.log(5e3), n))
    c = b + np.exp(rng.uniform(np.log(0.02), np.log(5e3), n))
    c = np.maximum(c, 1.0 + 1e-3 + 0.0 * b)
    b = np.minimum(b, c - 1e-3)
    z = 1.0 - np.exp(rng.uniform(np.log(1e-6), np.log(0.5), n))
    fast = np.array(log_hyp2f1_1bc(b, c, z, order=1))
    ref = np.array(series_only(log_hyp2f1_1bc, b, c, z, order=1))
    assert np.isfinite(fast).all()
    scale = 1.0 + np.abs(ref)
    assert np.max(np.abs(fast[0] - ref[0]) / scale[0]) < 1e-12
    assert np.max(np.abs(fast[1:] - ref[1:]) / scale[1:]) < 1e-8
    assert log_hyp2f1_1bc(b, c, z) == pytest.approx(fast[0], rel=1e-15, abs=0.0)


@pytest.mark.parametrize(
    "r, s, beta, x, t_scale",
    [
        (0.553, 8.0, 300.0, 2.0, 1.0),
        (50.0, 1e3, 1e4, 3000.0, 50.0),
        (0.05, 1e4, 1e3, 0.0, 1.0),
        (2.0, 0.3, 5e3, 800.0, 10.0),
        (20.0, 3.0, 90.0, 40.0, 100.0),
    ],
)
def test_likelihood_and_gradient_equal_the_series_path(series_only, r, s, beta, x, t_scale):
    rng = np.random.default_rng(5)
    T = t_scale * rng.uniform(5.0, 80.0, 300)
    t_x = T * rng.uniform(0.0, 1.0, 300)
    freq = np.floor(x * rng.uniform(0.0, 1.0, 300))
    t_x[freq == 0] = 0.0
    for alpha in (10.58, beta * 3.0, beta / 30.0):
        params = (r, alpha, s, beta)
        ll, grad = pnbd_math.log_likelihood_gradient(params, freq, t_x, T)
        ll_ref, grad_ref = series_only(pnbd_math.log_likelihood_gradient, params, freq, t_x, T)
        assert np.isfinite(ll).all() and np.isfinite(grad).all()
        np.testing.assert_allclose(ll, ll_ref, rtol=1e-10, atol=0.0)
        np.testing.assert_allclose(grad, grad_ref, rtol=1e-8, atol=1e-10 * np.abs(grad_ref).max())


def test_continued_fraction_is_cheaper_where_the_series_is_slow(series_only):
    import time

    b = np.full(2000, 9.0)
    c = 9.5 + np.arange(2000) % 40
    z = np.linspace(0.85, 0.97, 2000)
    for fn in (
        lambda: log_hyp2f1_1bc(b, c, z, order=1),
        lambda: series_only(log_hyp2f1_1bc, b, c, z, order=1),
    ):
        fn()
    t = []
    for fn in (
        lambda: log_hyp2f1_1bc(b, c, z, order=1),
        lambda: series_only(log_hyp2f1_1bc, b, c, z, order=1),
    ):
        t0 = time.process_time()
        for _ in range(3):
            fn()
        t.append(time.process_time() - t0)
    assert t[0] < t[1]


def test_grid_of_families_is_finite():
    for b, c, z in itertools.product((0.01, 1.0, 1e4), (1.001, 2.0, 2e4), (0.51, 0.9, 1 - 1e-9)):
        if b < c:
            out = log_hyp2f1_1bc(b, c, z, order=1)
            assert all(np.isfinite(v) for v in out)
