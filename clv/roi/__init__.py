"""Prioritise experience investments: counterfactual CLV, ROI with uncertainty, portfolio, report.

>>> from clv.roi import Investment, Shift
>>> Investment("Faster support", cost=1e5, shifts=[Shift("wait_minutes", "relative", -0.3)]).grade
'C'
"""

from clv.roi.engine import LEVERS, CounterfactualEngine, NewCustomers, ServiceCost, period_rate
from clv.roi.finance import InvestmentDraws, RoiResult, evaluate_investments
from clv.roi.portfolio import Portfolio, select_portfolio, solve_knapsack
from clv.roi.report import render_report, write_report, write_tables
from clv.roi.sensitivity import sensitivity
from clv.roi.spec import GRADES, Evidence, Investment, Shift, load_investments

__all__ = [
    "GRADES",
    "LEVERS",
    "CounterfactualEngine",
    "Evidence",
    "Investment",
    "InvestmentDraws",
    "NewCustomers",
    "Portfolio",
    "RoiResult",
    "ServiceCost",
    "Shift",
    "evaluate_investments",
    "load_investments",
    "period_rate",
    "render_report",
    "select_portfolio",
    "sensitivity",
    "solve_knapsack",
    "write_report",
    "write_tables",
]
