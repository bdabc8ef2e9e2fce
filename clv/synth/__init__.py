"""Synthetic customer bases with known ground truth, for recovery and ROI tests.

``simulate_cx_world`` generates transactions, CX events, customer attributes,
a contractual view and an acquisition series in which CX signals drive the
purchase, dropout, spend, churn and acquisition levers, together with the
exact truth (parameters, covariates, latent rates and an expected-purchases
oracle).

``simulate_purchase_times``, ``simulate_opportunities`` and
``simulate_transaction_log`` draw full purchase histories (not only RFM
summaries) from the BG/NBD, MBG/NBD, Pareto/NBD and BG/BB models.
"""

from clv.synth.transactions import (
    rfm_from_purchase_times,
    simulate_opportunities,
    simulate_purchase_times,
    simulate_transaction_log,
)
from clv.synth.world import (
    COVARIATES,
    CXWorld,
    Truth,
    WorldParams,
    simulate_cx_world,
    world_feature_builder,
)

__all__ = [
    "rfm_from_purchase_times",
    "simulate_opportunities",
    "simulate_purchase_times",
    "simulate_transaction_log",
    "COVARIATES",
    "CXWorld",
    "Truth",
    "WorldParams",
    "simulate_cx_world",
    "world_feature_builder",
]
