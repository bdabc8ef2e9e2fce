"""No margin given: values are revenue, said loudly, and revenue alone never earns 'fund'."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clv.data.datasets import load_cdnow_summary_with_spend
from clv.models import ParetoNBDModel
from clv.roi import Evidence, Investment, Shift, evaluate_investments, render_report
from clv.roi.decision import REVENUE_FUND_MARGIN


@pytest.fixture(scope="module")
def world() -> tuple[ParetoNBDModel, pd.DataFrame]:
    data = load_cdnow_summary_with_spend().copy()
    data["complaints"] = np.random.default_rng(3).poisson(0.3, len(data)).astype(float)
    return ParetoNBDModel().fit(data), data


def _tested(cost: float) -> Investment:
    return Investment(
        f"Recovery {cost:g}",
        cost=cost,
        shifts=[Shift("complaints", "set", 0.0)],
        evidence=Evidence.experiment({"dropout[complaints]": (1.0, 0.02)}),
    )


def _run(world, invs, margin):
    tm, data = world
    return evaluate_investments(
        invs,
        transaction_model=tm,
        spend_model=20.0,
        data=data,
        horizon=26,
        discount_rate=0.002,
        margin=margin,
        n_draws=16,
        random_state=2,
        breakeven=False,
    )


def test_revenue_values_are_labelled_and_need_a_low_margin_to_fund(world) -> None:
    probe = _run(world, [_tested(1.0)], None).table().iloc[0]
    revenue_gain = probe["incremental_clv_mean"]
    # three costs: pays at a 10 % margin; pays on revenue only; does not pay even on revenue
    cheap, middle, dear = 0.05 * revenue_gain, 0.5 * revenue_gain, 2.0 * revenue_gain
    invs = [_tested(cheap), _tested(middle), _tested(dear)]
    res = _run(world, invs, None)
    assert not res.margin_given and res.value_basis == "revenue"
    table = res.table().set_index("investment")
    assert (table["value_basis"] == "revenue").all()
    rec = table["recommendation"]
    assert rec[f"Recovery {cheap:g}"] == "fund"
    assert f"at a {REVENUE_FUND_MARGIN:.0%} margin" in table.loc[f"Recovery {cheap:g}", "reason"]
    # pays back on revenue (ROI > 0) but not at a 10 % margin: not 'fund'
    mid = table.loc[f"Recovery {middle:g}"]
    assert mid["roi_mean"] > 0 and mid["npv_evidenced_mean"] > 0
    assert mid["recommendation"] == "test first" and "REVENUE" in mid["reason"]
    assert mid["breakeven_margin"] == pytest.approx(middle / revenue_gain, rel=0.05)
    assert rec[f"Recovery {dear:g}"] == "do not fund"
    # the same investment with a margin given is decided on profit
    res_m = _run(world, [_tested(middle)], 1.0)
    row = res_m.table().iloc[0]
    assert row["value_basis"] == "margin" and row["recommendation"] == "fund"
    # the report: a banner and a labelled NPV heading without margin, neither with one
    html = render_report(res)
    assert 'id="revenue-banner"' in html and "Values are REVENUE, not profit" in html
    assert "Expected NPV (revenue)" in html
    html_m = render_report(res_m)
    assert "revenue-banner" not in html_m and "Expected NPV (revenue)" not in html_m
