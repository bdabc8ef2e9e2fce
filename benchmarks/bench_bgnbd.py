"""BG/NBD fit and scoring: clv vs lifetimes, side by side in one process.

Run: ``.venv/bin/python benchmarks/bench_bgnbd.py [--quick]``.
Reports best-of-N wall times and the ratio lifetimes / clv.
"""

from __future__ import annotations

import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _timing import best_of, report  # noqa: E402

warnings.filterwarnings("ignore")  # lifetimes' deprecation noise

import lifetimes  # noqa: E402

from clv.datasets import load_cdnow_summary  # noqa: E402
from clv.models import bgnbd  # noqa: E402
from clv.models.bgnbd import BetaGeoModel, BGNBDParams  # noqa: E402

QUICK = "--quick" in sys.argv


def simulated(n: int, seed: int = 1) -> pd.DataFrame:
    """``n`` customers with day-granular recency and T over two years."""
    rng = np.random.default_rng(seed)
    T = rng.integers(1, 730, n).astype(float)
    sim = bgnbd.simulate(BGNBDParams(0.5, 30.0, 0.8, 2.5), T, rng=rng)
    return pd.DataFrame({"frequency": sim["frequency"], "recency": np.floor(sim["recency"]), "T": T})


def main() -> None:
    rows = []
    cdnow = load_cdnow_summary()
    f, r, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    ours = best_of(lambda: BetaGeoModel().fit(cdnow), repeat=30)
    theirs = best_of(lambda: lifetimes.BetaGeoFitter().fit(f, r, T), repeat=5)
    rows.append(("BG/NBD fit, CDNOW (2,357 customers)", ours, theirs))

    n = 100_000 if QUICK else 1_000_000
    big = simulated(n)
    ours = best_of(lambda: BetaGeoModel().fit(big), repeat=3)
    theirs = best_of(lambda: lifetimes.BetaGeoFitter().fit(big["frequency"], big["recency"], big["T"]),
                     repeat=1, budget=0)
    rows.append((f"BG/NBD fit, {n:,} simulated customers (days)", ours, theirs))

    model = BetaGeoModel().fit(big)
    lt = lifetimes.BetaGeoFitter()
    lt.params_ = model.params_.copy()

    def score_ours() -> None:
        model.expected_purchases(52, big)
        model.probability_alive(big)

    def score_theirs() -> None:
        lt.conditional_expected_number_of_purchases_up_to_time(52, big["frequency"], big["recency"], big["T"])
        lt.conditional_probability_alive(big["frequency"], big["recency"], big["T"])

    rows.append((f"score {n:,}: E[purchases, 52] + P(alive)", best_of(score_ours, repeat=3),
                 best_of(score_theirs, repeat=1, budget=0)))

    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import clv"], check=True)
    import_clv = time.perf_counter() - t0
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    bare = time.perf_counter() - t0
    rows.append(("import clv (subprocess, minus bare interpreter start)", import_clv - bare, None))
    report(rows)


if __name__ == "__main__":
    main()
