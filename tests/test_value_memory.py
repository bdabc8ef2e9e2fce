"""Discounted CLV keeps two numbers per customer, not customers x horizon."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from clv.data.datasets import load_cdnow_summary_with_spend
from clv.models import BetaGeoModel, GammaGammaModel
from clv.value import customer_lifetime_value_table


@pytest.mark.slow
def test_discounted_clv_memory_does_not_grow_with_customers_times_horizon():
    data = load_cdnow_summary_with_spend()
    bg, gg = BetaGeoModel().fit(data), GammaGammaModel().fit(data)
    n, h = 20_000, 520
    rows = data.sample(n, replace=True, random_state=1).reset_index(drop=True)
    rows["T"] = rows["T"] + np.random.default_rng(0).uniform(0, 1, n)  # all rows distinct
    rows["recency"] = np.minimum(rows["recency"], rows["T"])
    tracemalloc.start()
    try:
        table = customer_lifetime_value_table(
            bg, gg, rows, horizon=h, discount_rate_per_period=0.002
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # customers x (horizon + 1) float64, twice, would be 166 MB (251 MB peak before)
    assert peak < 2 * n * (h + 1) * 8 * 0.9
    assert np.isfinite(table["clv"]).all()
