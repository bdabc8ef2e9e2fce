"""Synthetic customer bases with known ground truth, for recovery and ROI tests.

``simulate_cx_world`` generates transactions, CX events, customer attributes,
a contractual view and an acquisition series in which CX signals drive the
purchase, dropout, spend, churn and acquisition levers, together with the
exact truth (parameters, covariates, latent rates and an expected-purchases
oracle). ``simulate_dated_change_world`` is a world built outside the models'
assumptions in which one region's support vendor fails on a known date, with
the oracle value of fixing it.

``simulate_purchase_times``, ``simulate_opportunities`` and
``simulate_transaction_log`` draw full purchase histories (not only RFM
summaries) from the BG/NBD, MBG/NBD, Pareto/NBD and BG/BB models.
``simulate_trap_world`` (:mod:`clv.synth.traps`) builds worlds where CX is
associated with behaviour without causing it (or with effects the models
misspecify), to test that the ROI layer does not turn association into value.
"""

from clv.synth.dated_change import (
    DatedChangeParams,
    DatedChangeTruth,
    DatedChangeWorld,
    simulate_dated_change_world,
)
from clv.synth.transactions import (
    rfm_from_purchase_times,
    simulate_opportunities,
    simulate_purchase_times,
    simulate_transaction_log,
)
from clv.synth.traps import TRAP_WORLDS, TrapWorld, simulate_trap_world
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
    "TRAP_WORLDS",
    "TrapWorld",
    "CXWorld",
    "DatedChangeParams",
    "DatedChangeTruth",
    "DatedChangeWorld",
    "simulate_dated_change_world",
    "Truth",
    "WorldParams",
    "simulate_cx_world",
    "simulate_trap_world",
    "world_feature_builder",
]
