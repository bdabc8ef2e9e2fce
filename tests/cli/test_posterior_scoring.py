"""Posterior scoring (`clv score --model model.nc`) against the maximum-likelihood API per draw.

The scorer evaluates each model's pure functions in a factored, vectorised form
(purchases given alive once per (frequency, T) pair, spend and CLV as lines in
monetary value, threads). These tests pin every shortcut to the plain API: for
each draw, a maximum-likelihood model with that draw's parameters scored by
:func:`clv.scoring.tables.score_table` (that is :mod:`clv.value`), then the mean and
quantiles over the draws with NumPy.
"""

from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

from clv.models.bgnbd import BGNBDParams, simulate
from clv.models.gamma_gamma import GGParams
from clv.models.gamma_gamma import simulate as simulate_spend
from clv.scoring.posterior import SCORABLE, SPEND_MODELS, PosteriorBundle, PosteriorDraws
from clv.scoring.posterior_scores import QUANTILES, _sort_order, posterior_score_table
from clv.scoring.tables import score_table

CENTRES = {
    "BetaGeoModel": {"r": 0.6, "alpha": 5.0, "a": 0.8, "b": 3.0},
    "ModifiedBetaGeoModel": {"r": 0.6, "alpha": 5.0, "a": 0.8, "b": 3.0},
    "ParetoNBDModel": {"r": 0.6, "alpha": 5.0, "s": 0.7, "beta": 9.0},
    "NBDModel": {"r": 0.4, "alpha": 12.0},
    "GammaGammaModel": {"p": 6.0, "q": 3.7, "v": 15.0},
}
SCORES = ("probability_alive", "expected_purchases", "expected_spend", "clv")


def draws(model: str, chains: int = 2, n: int = 6, seed: int = 0) -> PosteriorDraws:
    """Draws spread +-15% around CENTRES (wide enough that the draws' orders differ by row)."""
    rng = np.random.default_rng(seed)
    params = {k: v * np.exp(rng.normal(0.0, 0.15, (chains, n))) for k, v in CENTRES[model].items()}
    return PosteriorDraws(model, params, {})


def bundle(model: str = "BetaGeoModel", spend: bool = True) -> PosteriorBundle:
    return PosteriorBundle(
        draws(model),
        draws("GammaGammaModel", seed=1) if spend else None,
        "W",
        {"customer_col": "customer_id"},
    )


@pytest.fixture(scope="module")
def rfm() -> pd.DataFrame:
    """Whole-week and fractional histories, repeated rows and zero-value repeat buyers."""
    rng = np.random.default_rng(5)
    T = rng.integers(1, 60, 700).astype(np.float64)
    T[:200] += rng.integers(0, 7, 200) / 7.0  # day-granular ages
    frame = pd.DataFrame(simulate(BGNBDParams(0.6, 5.0, 0.8, 3.0), T, rng=rng))
    # whole weeks: repeated histories (a repeat purchase is at least one week after the first)
    frame["recency"] = np.where(
        frame["frequency"] > 0, np.maximum(np.floor(frame["recency"].to_numpy()), 1.0), 0.0
    )
    frame["monetary_value"] = simulate_spend(GGParams(6.0, 3.7, 15.0), frame["frequency"], rng=rng)[
        "monetary_value"
    ]
    frame = pd.concat([frame, frame.iloc[:150]], ignore_index=True)  # identical rows
    repeat = np.flatnonzero(frame["frequency"].to_numpy() > 0)[:5]
    frame.loc[repeat, "monetary_value"] = 0.0  # repeat buyers with only zero-value purchases
    frame.index = pd.Index(np.arange(len(frame)) * 7 + 3, name="customer_id")
    frame["period_days"] = 7.0  # weeks, as the bundle's models
    return frame


def reference(b: PosteriorBundle, rfm: pd.DataFrame, *, discount_rate: float) -> pd.DataFrame:
    """Mean and quantiles over the draws of the maximum-likelihood score table."""
    tx, sp = b.transaction_model, b.spend_model
    tx_cls = getattr(importlib.import_module(SCORABLE[tx.model]), tx.model)
    per_draw = []
    for i in range(tx.params[next(iter(tx.params))].size):
        models = []
        for d, cls in ((tx, tx_cls), (sp, None)):
            if d is None:
                models.append(None)
                continue
            cls = cls or getattr(importlib.import_module(SPEND_MODELS[d.model]), d.model)
            names = list(d.params)
            models.append(
                cls.from_dict(
                    {
                        "params": {k: float(v.reshape(-1)[i]) for k, v in d.params.items()},
                        "covariance": np.zeros((len(names), len(names))).tolist(),
                        "log_likelihood": 0.0,
                        "n_customers": len(rfm),
                        "converged": True,
                        "time_unit": "W",
                    }
                )
            )
        table = score_table(
            models[0], models[1], rfm, horizon=52, discount_rate=discount_rate, margin=0.4
        )
        per_draw.append(table[[s for s in SCORES if s in table.columns]].to_numpy())
    stack = np.stack(per_draw, axis=-1)
    names = [s for s in SCORES if s in table.columns]
    quantiles = np.quantile(stack, QUANTILES, axis=-1)
    out = {}
    for j, name in enumerate(names):
        out[name] = stack[:, j].mean(axis=-1)
        out[f"{name}_p05"] = quantiles[0, :, j]
        out[f"{name}_p95"] = quantiles[1, :, j]
    return pd.DataFrame(out, index=rfm.index)


@pytest.mark.parametrize("model", sorted(SCORABLE))
@pytest.mark.parametrize("discount_rate", [0.0, 0.01])
def test_every_model_equals_the_api_draw_by_draw(rfm, model, discount_rate):
    b = bundle(model)
    got = posterior_score_table(
        b,
        rfm,
        horizon=52,
        discount_rate=discount_rate,
        margin=0.4,
        max_draws=None,
        chunk_cells=12 * 90,
    )  # several blocks
    want = reference(b, rfm, discount_rate=discount_rate)
    assert got["customer_id"].tolist() == rfm.index.tolist()
    for column in want.columns:
        np.testing.assert_allclose(
            got[column].to_numpy(), want[column].to_numpy(), rtol=1e-9, atol=0, err_msg=column
        )


def test_without_a_spend_posterior(rfm):
    b = bundle(spend=False)
    got = posterior_score_table(b, rfm, horizon=52, discount_rate=0.0, margin=1.0, max_draws=None)
    want = reference(b, rfm[["frequency", "recency", "T", "period_days"]], discount_rate=0.0)
    assert "clv" not in got.columns
    for column in want.columns:
        np.testing.assert_allclose(
            got[column].to_numpy(), want[column].to_numpy(), rtol=1e-9, err_msg=column
        )


@pytest.mark.parametrize("discount_rate", [0.0, 0.01])
def test_threads_and_blocks_give_byte_identical_scores(rfm, discount_rate):
    b = bundle()
    kwargs = {"horizon": 52, "discount_rate": discount_rate, "margin": 0.4, "max_draws": None}
    one = posterior_score_table(b, rfm, workers=1, **kwargs)
    for workers in (2, 3):
        pd.testing.assert_frame_equal(
            posterior_score_table(b, rfm, workers=workers, **kwargs), one, check_exact=True
        )
    small = posterior_score_table(b, rfm, workers=2, chunk_cells=12 * 40, **kwargs)
    pd.testing.assert_frame_equal(small, one, check_exact=False, rtol=1e-13)


def test_workers_must_be_a_whole_number(rfm):
    with pytest.raises(ValueError, match="workers"):
        posterior_score_table(bundle(), rfm, horizon=52, discount_rate=0.0, margin=1.0, workers=0)


@pytest.mark.parametrize("model", sorted(SCORABLE))
def test_purchases_factor_into_alive_times_a_function_of_frequency_and_t(model):
    """What the scorer relies on: E[N(0,t] | x, t_x, T] / P(alive | x, t_x, T) ignores t_x."""
    spec = importlib.import_module(SCORABLE[model]).SPEC
    params = spec.params(**CENTRES[model])
    x = np.array([0.0, 1, 1, 4, 4, 30, 30])[:, None]
    T = np.array([3.0, 10, 10, 40, 40, 80, 80])[:, None]
    t = np.array([[0.5, 1.0, 13.0, 52.0]])
    ratios = [
        spec.expected_purchases(params, t, x, t_x, T) / spec.probability_alive(params, x, t_x, T)
        for t_x in (
            np.where(x > 0, 0.3 * T, 0.0),
            np.where(x > 0, T, 0.0),
            np.where(x > 0, 0.9 * T, 0.0),
        )
    ]
    np.testing.assert_allclose(ratios[1], ratios[0], rtol=1e-12)
    np.testing.assert_allclose(ratios[2], ratios[0], rtol=1e-12)


@pytest.mark.parametrize("model", sorted(SPEND_MODELS))
def test_expected_spend_is_a_line_in_monetary_value(model):
    """What the scorer relies on: expected spend = intercept + slope x monetary_value."""
    spec = importlib.import_module(SPEND_MODELS[model]).SPEC
    params = spec.params(**CENTRES[model])
    x = np.array([1.0, 2.0, 7.0, 40.0])[:, None]
    m = np.array([[0.0, 1.0, 3.5, 20.0, 1000.0]])
    spend = spec.expected_spend(params, x, m)
    line = spend[:, :1] + (spend[:, 1:2] - spend[:, :1]) * m
    np.testing.assert_allclose(line, spend, rtol=1e-13)


def test_sort_order_is_lexsort_order():
    rng = np.random.default_rng(3)
    cols = [
        rng.integers(0, 5, 3000).astype(np.float64),  # whole numbers
        rng.choice(rng.random(40) * 100, 3000),  # repeated fractions
        rng.random(3000),
    ]
    cols[1][:10] = -3.25
    np.testing.assert_array_equal(_sort_order(*cols), np.lexsort(cols[::-1]))
    np.testing.assert_array_equal(_sort_order(cols[0], cols[1]), np.lexsort(cols[1::-1]))
