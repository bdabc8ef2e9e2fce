"""Plots of fitted models, and the tested functions that compute what they draw.

Needs matplotlib (``pip install clv[plot]``), imported only when a ``plot_*``
function is called, so ``import clv.plotting`` stays cheap and ``import clv``
never imports it. Every ``plot_*`` function takes ``ax=None`` (default: the
current Axes), draws on that Axes only and returns it.

Data functions (pandas in, pandas out; no matplotlib):

- :func:`frequency_recency_grid`
- :func:`period_transactions`
- :func:`conditional_expectations`
- :func:`probability_alive_history`

Plots:

- :func:`plot_probability_alive_matrix`, :func:`plot_expected_purchases_matrix`
- :func:`plot_period_transactions`, :func:`plot_calibration_holdout`
- :func:`plot_probability_alive_history`
- :func:`plot_survival`, :func:`plot_retention_rates` (contractual retention;
  data: :func:`retention_curves`)
- :func:`plot_acquisition`, :func:`plot_equity_waterfall` (data:
  :func:`acquisition_curve`, :func:`equity_waterfall`)
- :func:`plot_period_transactions_ppc` (posterior predictive check of a
  :mod:`clv.bayes` model; data: :func:`period_transactions_ppc`)
"""

from clv.plotting._data import (
    conditional_expectations,
    frequency_recency_grid,
    period_transactions,
    probability_alive_history,
)
from clv.plotting.acquisition import (
    acquisition_curve,
    equity_waterfall,
    plot_acquisition,
    plot_equity_waterfall,
)
from clv.plotting.bayes import period_transactions_ppc, plot_period_transactions_ppc
from clv.plotting.diagnostics import (
    plot_calibration_holdout,
    plot_period_transactions,
    plot_probability_alive_history,
)
from clv.plotting.matrices import plot_expected_purchases_matrix, plot_probability_alive_matrix
from clv.plotting.retention import plot_retention_rates, plot_survival, retention_curves
from clv.plotting.tracking import (
    customer_history,
    plot_customer_probability_alive,
    plot_transaction_tracking,
    probability_alive_history_from_transactions,
    transaction_tracking,
)

__all__ = [
    # data
    "frequency_recency_grid",
    "period_transactions",
    "conditional_expectations",
    "probability_alive_history",
    "probability_alive_history_from_transactions",
    "customer_history",
    "transaction_tracking",
    "retention_curves",
    "acquisition_curve",
    "equity_waterfall",
    "period_transactions_ppc",
    # plots
    "plot_probability_alive_matrix",
    "plot_expected_purchases_matrix",
    "plot_period_transactions",
    "plot_calibration_holdout",
    "plot_probability_alive_history",
    "plot_customer_probability_alive",
    "plot_transaction_tracking",
    "plot_survival",
    "plot_retention_rates",
    "plot_acquisition",
    "plot_equity_waterfall",
    "plot_period_transactions_ppc",
]
