"""The compiled BG/NBD kernels of posterior scoring equal the NumPy path to 1e-10.

The reference is the NumPy path the scorer keeps for installs without numba:
:func:`clv.scoring.posterior_scores._purchases_if_alive` with the model's own
functions (SciPy's 2F1 where the joint series declines), and
:func:`clv.models.bgnbd.probability_alive`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clv import _special_jit
from clv.models import bgnbd
from clv.scoring import _posterior_jit
from clv.scoring.posterior import PosteriorBundle, PosteriorDraws
from clv.scoring.posterior_scores import (
    _bgnbd_purchases_if_alive,
    _purchases_if_alive,
    posterior_score_table,
)

pytestmark = pytest.mark.skipif(not _special_jit.AVAILABLE, reason="numba is not installed")

SPECIAL = np.array(
    [
        [5.0, 2.0, 1.001, 0.5],  # near the removable singularity a = 1
        [0.3, 8.0, 0.999, 3.0],
        [0.3, 8.0, 1.0 + 1e-8, 3.0],  # at it: declined by the kernel, averaged by NumPy
        [2.4, 10.0, 0.84, 8.9],  # the shape of the benchmark's posterior
    ]
)
EXTREME = np.array(
    [
        [1e-3, 1e-3, 1e-3, 1e-3],
        [200.0, 1e4, 0.05, 0.05],
        [0.05, 0.01, 100.0, 0.2],
        [24.5, 38.6, 0.525, 0.0294],
        [40.0, 0.05, 0.02, 0.02],
        [0.01, 500.0, 30.0, 60.0],
    ]
)


def _draws(rng: np.random.Generator, n: int, extra: np.ndarray = SPECIAL) -> bgnbd.BGNBDParams:
    """Random BG/NBD draws as ``(1, n)`` arrays, with ``extra`` ones appended."""
    r = np.exp(rng.uniform(np.log(0.05), np.log(20.0), n))
    alpha = np.exp(rng.uniform(np.log(0.1), np.log(200.0), n))
    a = np.exp(rng.uniform(np.log(0.05), np.log(10.0), n))
    b = np.exp(rng.uniform(np.log(0.1), np.log(30.0), n))
    cols = [np.concatenate([v, extra[:, j]])[None, :] for j, v in enumerate((r, alpha, a, b))]
    return bgnbd.BGNBDParams(*cols)


def _numpy_path(params, x, T, grid, factors):
    """The NumPy path, one draw at a time (its series runs as long as the slowest entry)."""
    cols = [
        _purchases_if_alive(
            bgnbd.SPEC, bgnbd.BGNBDParams(*(v[:, j : j + 1] for v in params)), x, T, grid, factors
        )
        for j in range(params.r.shape[1])
    ]
    return np.hstack([c[0] for c in cols]), np.hstack([c[1] for c in cols])


def _pairs(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.concatenate([rng.integers(0, 40, n).astype(float), [0.0, 0.0, 1.0, 300.0, 2000.0]])
    T = np.concatenate([rng.uniform(0.0, 150.0, n), [0.0, 500.0, 1e-3, 52.0, 2000.0]])
    T = np.maximum(T, x * 0.01)
    return x, T


def _grid(discount: float, horizon: int = 52) -> tuple[np.ndarray, np.ndarray]:
    grid = (
        np.arange(horizon + 1, dtype=np.float64)
        if discount > 0
        else np.array([0.0, float(horizon)])
    )
    return grid, np.exp(-grid[1:] * np.log1p(discount))


@pytest.mark.parametrize("discount", [0.0, 0.002, 0.15])
def test_pair_kernel_equals_the_numpy_path(discount: float) -> None:
    rng = np.random.default_rng(20261208)
    params = _draws(rng, 30)
    x, T = _pairs(rng, 40)
    grid, factors = _grid(discount)
    with np.errstate(all="ignore"):
        want_total, want_disc = _numpy_path(params, x, T, grid, factors)
        got_total, got_disc = _bgnbd_purchases_if_alive(params, x, T, grid, factors)
        raw_total, raw_disc = _posterior_jit.bgnbd_pairs(params, x, T, grid[1:], factors)
    # the kernel computes nearly everything itself; what it declines is NaN for the caller
    declined = np.isnan(raw_total)
    assert declined.mean() < 0.1
    assert declined[:, -2].all()  # a = 1 + 1e-8: the removable singularity
    assert np.array_equal(declined, np.isnan(raw_disc))
    assert np.all(np.isfinite(got_total)) and np.all(np.isfinite(got_disc))
    np.testing.assert_allclose(got_total, want_total, rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(got_disc, want_disc, rtol=1e-10, atol=1e-300)
    ok = ~declined
    np.testing.assert_allclose(raw_total[ok], want_total[ok], rtol=1e-10, atol=1e-300)
    if discount == 0:  # one period: the discounted sum is the total
        np.testing.assert_array_equal(got_disc, got_total)
    else:
        assert np.all(got_disc <= got_total * (1 + 1e-12))


def test_pair_kernel_extreme_draws_are_finite_and_equal_the_numpy_path() -> None:
    rng = np.random.default_rng(4)
    params = _draws(rng, 0, EXTREME)
    x, T = _pairs(rng, 8)
    grid, factors = _grid(0.01, horizon=26)
    with np.errstate(all="ignore"):
        got = _bgnbd_purchases_if_alive(params, x, T, grid, factors)
        want = _numpy_path(params, x, T, grid, factors)
    for g, w in zip(got, want, strict=True):
        assert np.all(np.isfinite(g)) and np.all(g >= 0)
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-300)


def test_pair_kernel_declines_a_degenerate_fit_to_the_numpy_quadrature() -> None:
    draws = np.array([[1e8, 1e8, 0.8, 3.0], [2.4, 10.0, 0.84, 8.9]])  # degenerate, then usual
    params = bgnbd.BGNBDParams(*(draws[:, j][None, :] for j in range(4)))
    x, T = np.array([0.0, 3.0, 40.0]), np.array([5.0, 20.0, 90.0])
    grid, factors = _grid(0.01, horizon=12)
    with np.errstate(all="ignore"):
        raw, _ = _posterior_jit.bgnbd_pairs(params, x, T, grid[1:], factors)
        got = _bgnbd_purchases_if_alive(params, x, T, grid, factors)
        want = _purchases_if_alive(bgnbd.SPEC, params, x, T, grid, factors)
    assert np.isnan(raw[:, 0]).all() and np.isfinite(raw[:, 1]).all()
    for g, w in zip(got, want, strict=True):
        assert np.all(np.isfinite(g))
        np.testing.assert_allclose(g, w, rtol=1e-10)


def test_pair_kernel_with_a_whole_number_of_days_and_fractional_periods() -> None:
    rng = np.random.default_rng(3)
    params = _draws(rng, 10)
    x, T = _pairs(rng, 30)
    grid = np.linspace(0.0, 13.0, 27)  # half periods
    factors = np.exp(-grid[1:] * np.log1p(0.01))
    with np.errstate(all="ignore"):
        want = _numpy_path(params, x, T, grid, factors)
        got = _bgnbd_purchases_if_alive(params, x, T, grid, factors)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-300)


def test_history_kernel_equals_probability_alive_and_the_lines() -> None:
    rng = np.random.default_rng(11)
    params = _draws(rng, 30)
    n = 400
    x = np.sort(np.concatenate([rng.integers(0, 30, n - 4), [0, 1, 500, 2000]]).astype(float))
    T = rng.uniform(0.0, 200.0, n)
    T[-2:] = [1e-3, 3000.0]
    t_x = np.where(x > 0, T * rng.uniform(0.0, 1.0, n), 0.0)
    t_x[x > 0] = np.maximum(t_x[x > 0], 1e-9)
    s = params.r.shape[1]
    pairs = rng.integers(0, 7, n)
    codes = rng.integers(0, 5, n)
    if_alive, if_alive_disc = rng.random((7, s)), rng.random((7, s))
    intercept, slope = rng.random((5, s)) * 10, rng.random((5, s))
    with np.errstate(all="ignore"):
        alive, purchases, scale, offset = _posterior_jit.bgnbd_histories(
            params, x, t_x, T, pairs, codes, if_alive, if_alive_disc, intercept, slope, 0.3
        )
        want = bgnbd.probability_alive(params, x[:, None], t_x[:, None], T[:, None])
    assert scale is not None and offset is not None
    assert np.all((alive >= 0) & (alive <= 1))
    np.testing.assert_allclose(alive, want, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(purchases, if_alive[pairs] * want, rtol=1e-12, atol=1e-300)
    sc = if_alive_disc[pairs] * want * 0.3
    np.testing.assert_allclose(scale, sc * slope[codes], rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(offset, sc * intercept[codes], rtol=1e-12, atol=1e-300)
    only = _posterior_jit.bgnbd_histories(
        params, x, t_x, T, pairs, codes, if_alive, if_alive_disc, None, None, 0.3
    )
    np.testing.assert_array_equal(only[0], alive)
    assert only[2] is None and only[3] is None


def test_lines_kernel() -> None:
    rng = np.random.default_rng(2)
    scale, offset = rng.random((6, 9)), rng.random((6, 9))
    row, values = rng.integers(0, 6, 40), rng.random(40) * 100
    got, mean = _posterior_jit.lines(scale, offset, row, values)
    want = scale[row] * values[:, None] + offset[row]
    np.testing.assert_array_equal(got, want)
    np.testing.assert_allclose(mean, want.mean(axis=1), rtol=1e-14)


@pytest.mark.parametrize("discount_rate", [0.0, 0.01])
def test_score_table_equals_the_numpy_path(
    discount_rate: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(8)
    T = rng.integers(1, 80, 600).astype(float)
    rfm = pd.DataFrame(bgnbd.simulate(bgnbd.BGNBDParams(0.6, 5.0, 0.8, 3.0), T, rng=rng))
    rfm["monetary_value"] = np.where(rfm["frequency"] > 0, rng.gamma(4.0, 10.0, len(rfm)), 0.0)
    rfm.index = pd.Index(np.arange(len(rfm)), name="customer_id")
    rfm["period_days"] = 7.0
    centres = {"r": 0.6, "alpha": 5.0, "a": 0.8, "b": 3.0}
    tx = {k: v * np.exp(rng.normal(0.0, 0.15, (2, 30))) for k, v in centres.items()}
    tx["a"][0, :3] = [1.0, 1.0 + 1e-7, 0.9999999]  # the removable singularity
    sp = {
        k: v * np.exp(rng.normal(0.0, 0.1, (2, 30))) for k, v in (("p", 6), ("q", 3.7), ("v", 15))
    }
    bundle = PosteriorBundle(
        PosteriorDraws("BetaGeoModel", tx, {}),
        PosteriorDraws("GammaGammaModel", sp, {}),
        "W",
        {"customer_col": "customer_id"},
    )
    kwargs = {"horizon": 52, "discount_rate": discount_rate, "margin": 0.4, "max_draws": None}
    fast = posterior_score_table(bundle, rfm, chunk_cells=60 * 50, **kwargs)
    monkeypatch.setattr(_special_jit, "AVAILABLE", False)
    slow = posterior_score_table(bundle, rfm, chunk_cells=60 * 50, **kwargs)
    assert list(fast.columns) == list(slow.columns)
    for column in fast.columns:
        np.testing.assert_allclose(
            fast[column].to_numpy(), slow[column].to_numpy(), rtol=1e-10, err_msg=column
        )
