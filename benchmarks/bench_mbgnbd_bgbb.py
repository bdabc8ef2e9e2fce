"""MBG/NBD and BG/BB fit and scoring: clv vs lifetimes, side by side in one process.

Run: ``.venv/bin/python benchmarks/bench_mbgnbd_bgbb.py [--quick]``.
Reports best-of-N wall times and the ratio lifetimes / clv.  ``--quick`` is a
smoke run: 2,000 simulated customers, one timing each, without lifetimes.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _timing import best_of, report

warnings.filterwarnings("ignore")  # lifetimes' deprecation noise

from clv.data.datasets import load_cdnow_summary, load_donations  # noqa: E402
from clv.models import bgbb, mbgnbd  # noqa: E402
from clv.models.bgbb import BetaGeoBetaBinomModel, BGBBParams  # noqa: E402
from clv.models.mbgnbd import MBGNBDParams, ModifiedBetaGeoModel  # noqa: E402

QUICK = "--quick" in sys.argv
lifetimes: Any = None if QUICK else importlib.import_module("lifetimes")


def timing(fn: Callable[[], object], *, repeat: int, budget: float = 20.0) -> float:
    """Best-of-``repeat`` wall time of clv's side (one run with ``--quick``)."""
    return best_of(fn, repeat=1 if QUICK else repeat, budget=budget)


def peer(fn: Callable[[], object], *, repeat: int, budget: float = 20.0) -> float | None:
    """Best-of-``repeat`` wall time of lifetimes' side (not run with ``--quick``)."""
    return None if QUICK else best_of(fn, repeat=repeat, budget=budget)


def simulated_mbg(n: int, seed: int = 1) -> pd.DataFrame:
    """``n`` MBG/NBD customers with day-granular recency and T over two years."""
    rng = np.random.default_rng(seed)
    T = rng.integers(1, 730, n).astype(float)
    sim = mbgnbd.simulate(MBGNBDParams(0.5, 30.0, 0.9, 1.6), T, rng=rng)
    return pd.DataFrame({"frequency": sim["frequency"], "recency": np.ceil(sim["recency"]), "T": T})


def simulated_bgbb(n: int, opportunities: int, seed: int = 1) -> pd.DataFrame:
    """``n`` BG/BB customers with the same number of opportunities (one row per customer)."""
    rng = np.random.default_rng(seed)
    sim = bgbb.simulate(BGBBParams(1.2, 0.75, 0.66, 2.8), np.full(n, float(opportunities)), rng=rng)
    return pd.DataFrame({k: sim[k] for k in ("frequency", "recency", "T")})


def main() -> None:
    rows = []
    cdnow = load_cdnow_summary()
    f, r, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    rows.append(
        (
            "MBG/NBD fit, CDNOW (2,357 customers)",
            timing(lambda: ModifiedBetaGeoModel().fit(cdnow), repeat=30),
            peer(lambda: lifetimes.ModifiedBetaGeoFitter().fit(f, r, T), repeat=5),
        )
    )

    donors = load_donations()
    x, tx, n_opp, w = (donors[c] for c in ("frequency", "recency", "T", "weight"))
    rows.append(
        (
            "BG/BB fit, donations (22 patterns, 11,104 donors)",
            timing(lambda: BetaGeoBetaBinomModel().fit(donors), repeat=30),
            peer(lambda: lifetimes.BetaGeoBetaBinomFitter().fit(x, tx, n_opp, w), repeat=5),
        )
    )

    size = 2_000 if QUICK else 200_000
    big = simulated_mbg(size)
    rows.append(
        (
            f"MBG/NBD fit, {size:,} simulated customers (days)",
            timing(lambda: ModifiedBetaGeoModel().fit(big), repeat=3),
            peer(
                lambda: lifetimes.ModifiedBetaGeoFitter().fit(
                    big["frequency"], big["recency"], big["T"]
                ),
                repeat=1,
                budget=0,
            ),
        )
    )
    model = ModifiedBetaGeoModel().fit(big)
    if lifetimes is not None:
        lt = lifetimes.ModifiedBetaGeoFitter()
        lt.params_ = model.params_.copy()

    def score_mbg_ours() -> None:
        model.expected_purchases(52, big)
        model.probability_alive(big)

    def score_mbg_theirs() -> None:
        lt.conditional_expected_number_of_purchases_up_to_time(
            52, big["frequency"], big["recency"], big["T"]
        )
        lt.conditional_probability_alive(big["frequency"], big["recency"], big["T"])

    rows.append(
        (
            f"MBG/NBD score {size:,}: E[purchases, 52] + P(alive)",
            timing(score_mbg_ours, repeat=3),
            peer(score_mbg_theirs, repeat=1, budget=0),
        )
    )

    # lifetimes' BG/BB likelihood adds 1e-15 to the finite sum, which swamps the summands once
    # histories are long (it does not converge with 52 opportunities), so it is timed with 12
    # opportunities on the compressed histories (as its documentation recommends); clv also
    # on one row per customer and with 52 opportunities.
    monthly = simulated_bgbb(size, 12)
    cells = monthly.groupby(["frequency", "recency", "T"]).size().rename("weight").reset_index()
    rows.append(
        (
            f"BG/BB fit, {size:,} x 12 opportunities ({len(cells)} histories)",
            timing(lambda: BetaGeoBetaBinomModel().fit(cells), repeat=5),
            peer(
                lambda: lifetimes.BetaGeoBetaBinomFitter().fit(
                    cells["frequency"], cells["recency"], cells["T"], cells["weight"]
                ),
                repeat=2,
                budget=0,
            ),
        )
    )
    rows.append(
        (
            "BG/BB fit, same, one row per customer",
            timing(lambda: BetaGeoBetaBinomModel().fit(monthly), repeat=3),
            None,
        )
    )
    weekly = simulated_bgbb(size, 52)
    rows.append(
        (
            f"BG/BB fit, {size:,} x 52 opportunities (lifetimes fails)",
            timing(lambda: BetaGeoBetaBinomModel().fit(weekly), repeat=3),
            None,
        )
    )
    bb = BetaGeoBetaBinomModel().fit(monthly)
    if lifetimes is not None:
        lb = lifetimes.BetaGeoBetaBinomFitter()
        lb.params_ = bb.params_.copy()

    def score_bgbb_ours() -> None:
        bb.expected_purchases(10, monthly)
        bb.probability_alive(monthly)

    def score_bgbb_theirs() -> None:
        lb.conditional_expected_number_of_purchases_up_to_time(
            10, monthly["frequency"], monthly["recency"], monthly["T"]
        )
        lb.conditional_probability_alive(1, monthly["frequency"], monthly["recency"], monthly["T"])

    rows.append(
        (
            f"BG/BB score {size:,} x 12: E[purchases, 10] + P(alive)",
            timing(score_bgbb_ours, repeat=3),
            peer(score_bgbb_theirs, repeat=1, budget=0),
        )
    )
    report(rows)


if __name__ == "__main__":
    main()
