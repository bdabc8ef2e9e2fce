"""Synthetic customer bases with known ground truth, for recovery and ROI tests.

``simulate_cx_world`` generates transactions, CX events, customer attributes,
a contractual view and an acquisition series in which CX signals drive the
purchase, dropout, spend, churn and acquisition levers, together with the
exact truth (parameters, covariates, latent rates and an expected-purchases
oracle).
"""

from clv.synth.world import (
    COVARIATES,
    CXWorld,
    Truth,
    WorldParams,
    simulate_cx_world,
    world_feature_builder,
)

__all__ = [
    "COVARIATES",
    "CXWorld",
    "Truth",
    "WorldParams",
    "simulate_cx_world",
    "world_feature_builder",
]
