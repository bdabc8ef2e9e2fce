"""Posterior scoring's fast BG/NBD path equals today's generic path to 1e-10.

The reference is the generic path (expected purchases / P(alive) per period)
with SciPy's 2F1 for every value; the fast path uses the model's
``expected_purchases_if_alive`` and the jointly summed series of
:func:`clv._special.hyp2f1_grid`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from clv import _special, _special_jit
from clv.models import bgnbd
from clv.scoring.posterior_scores import _purchases_if_alive


def _draws(rng: np.random.Generator, n: int) -> bgnbd.BGNBDParams:
    """Random BG/NBD draws as ``(1, n)`` arrays, with extreme ones appended."""
    r = np.exp(rng.uniform(np.log(0.01), np.log(50.0), n))
    alpha = np.exp(rng.uniform(np.log(0.05), np.log(500.0), n))
    a = np.exp(rng.uniform(np.log(0.02), np.log(30.0), n))
    b = np.exp(rng.uniform(np.log(0.02), np.log(60.0), n))
    extreme = np.array(
        [
            [1e-3, 1e-3, 1e-3, 1e-3],
            [200.0, 1e4, 0.05, 0.05],
            [0.05, 0.01, 100.0, 0.2],
            [5.0, 2.0, 1.001, 0.5],  # near the removable singularity a = 1
            [0.3, 8.0, 0.999, 3.0],
        ]
    )
    cols = [np.concatenate([v, extreme[:, j]])[None, :] for j, v in enumerate((r, alpha, a, b))]
    return bgnbd.BGNBDParams(*cols)


def _pairs(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.concatenate([rng.integers(0, 40, n).astype(float), [0.0, 0.0, 1.0, 300.0, 2000.0]])
    T = np.concatenate([rng.uniform(0.0, 150.0, n), [0.0, 500.0, 1e-3, 52.0, 2000.0]])
    T = np.maximum(T, x * 0.01)
    return x, T


@pytest.mark.parametrize("discount", [0.0, 0.002, 0.15])
def test_if_alive_path_matches_generic_path(
    discount: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(20261207)
    params = _draws(rng, 40)
    x, T = _pairs(rng, 60)
    horizon = 52
    grid = np.arange(horizon + 1, dtype=np.float64) if discount > 0 else np.array([0.0, 52.0])
    factors = np.exp(-grid[1:] * np.log1p(discount))
    generic = dataclasses.replace(bgnbd.SPEC, expected_purchases_if_alive=None)
    with np.errstate(all="ignore"):
        total_new, disc_new = _purchases_if_alive(bgnbd.SPEC, params, x, T, grid, factors)
        monkeypatch.setattr(bgnbd, "hyp2f1_grid", _special.hyp2f1)  # SciPy per value
        total_old, disc_old = _purchases_if_alive(generic, params, x, T, grid, factors)
    for new, old in ((total_new, total_old), (disc_new, disc_old)):
        assert new.shape == (x.size, params[0].size)
        assert np.all(np.isfinite(new))
        assert np.all(new >= 0)
        np.testing.assert_allclose(new, old, rtol=1e-10, atol=0)


def test_if_alive_is_expected_purchases_over_probability_alive() -> None:
    rng = np.random.default_rng(7)
    params = _draws(rng, 30)
    x, T = _pairs(rng, 30)
    x, T = x[:, None], T[:, None]
    t_x = T * rng.uniform(0.0, 1.0, T.shape)
    t = 13.0
    with np.errstate(all="ignore"):
        ratio = bgnbd.expected_purchases(params, t, x, t_x, T) / bgnbd.probability_alive(
            params, x, t_x, T
        )
        direct = bgnbd.expected_purchases_if_alive(params, t, x, T)
    ok = np.isfinite(ratio)  # P(alive) can underflow for long-silent customers
    assert ok.mean() > 0.9
    np.testing.assert_allclose(direct[ok], ratio[ok], rtol=1e-10, atol=0)
    zero = bgnbd.expected_purchases_if_alive(bgnbd.BGNBDParams(1.0, 2.0, 0.5, 2.0), 0.0, 3, 10.0)
    assert float(zero) == 0.0


@pytest.mark.skipif(not _special_jit.AVAILABLE, reason="numba not installed")
def test_hyp2f1_grid_matches_scipy_path() -> None:
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    rng = np.random.default_rng(3)
    rows = 400
    a = rng.uniform(-30.0, 60.0, (rows, 1))
    b = rng.uniform(-1.0, 40.0, (rows, 1))
    c = rng.uniform(0.01, 80.0, (rows, 1))
    t = np.arange(1.0, 53.0)
    z = t / (rng.uniform(0.01, 300.0, (rows, 1)) + t)  # up to 0.9998
    z[:5] = np.linspace(0.0, 0.99999, 52)  # z near 1: the kernel hands over
    with np.errstate(all="ignore"):
        fast = _special.hyp2f1_grid(a, b, c, z)
        ref = _special.hyp2f1(a, b, c, z)
    both = np.isfinite(ref)
    assert both.mean() > 0.95
    assert np.array_equal(np.isfinite(fast), both)
    off = both & ~np.isclose(fast, ref, rtol=1e-10, atol=0)
    assert off.mean() < 1e-3  # SciPy loses ~1e-10 for some large a, c: check with mpmath
    for i, k in zip(*np.nonzero(off), strict=True):
        exact = float(mpmath.hyp2f1(a[i, 0], b[i, 0], c[i, 0], z[i, k]))
        assert abs(fast[i, k] / exact - 1.0) < 1e-13
    # parameters that vary along the last axis: the plain path
    vary = _special.hyp2f1_grid(a[:3, 0], 0.5, 2.0, z[:3, 0])
    np.testing.assert_array_equal(vary, _special.hyp2f1(a[:3, 0], 0.5, 2.0, z[:3, 0]))
