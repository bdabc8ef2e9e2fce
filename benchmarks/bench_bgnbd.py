"""BG/NBD fit and scoring: clv vs lifetimes, side by side in one process.

Run: ``.venv/bin/python benchmarks/bench_bgnbd.py [--quick]``.
Reports best-of-N wall times and the ratio lifetimes / clv.  ``--quick`` is a
smoke run: 5,000 simulated customers, one timing each, without lifetimes.
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
from _timing import best_of, report

warnings.filterwarnings("ignore")  # lifetimes' deprecation noise

from clv.data.datasets import load_cdnow_summary  # noqa: E402
from clv.models import bgnbd  # noqa: E402
from clv.models.bgnbd import BetaGeoModel, BGNBDParams  # noqa: E402
from clv.models.gamma_gamma import GammaGammaModel  # noqa: E402
from clv.value import customer_lifetime_value  # noqa: E402

QUICK = "--quick" in sys.argv
REPEAT = 1 if QUICK else None  # --quick: one timing of each, no peer


def simulated(n: int, seed: int = 1) -> pd.DataFrame:
    """``n`` customers with day-granular recency and T over two years."""
    rng = np.random.default_rng(seed)
    T = rng.integers(1, 730, n).astype(float)
    sim = bgnbd.simulate(BGNBDParams(0.5, 30.0, 0.8, 2.5), T, rng=rng)
    return pd.DataFrame({"frequency": sim["frequency"], "recency": np.ceil(sim["recency"]), "T": T})


def main() -> None:
    rows = []
    cdnow = load_cdnow_summary()
    f, r, T = cdnow["frequency"], cdnow["recency"], cdnow["T"]
    ours = best_of(lambda: BetaGeoModel().fit(cdnow), repeat=REPEAT or 30)
    lifetimes = None if QUICK else __import__("lifetimes")
    theirs = lifetimes and best_of(lambda: lifetimes.BetaGeoFitter().fit(f, r, T), repeat=5)
    rows.append(("BG/NBD fit, CDNOW (2,357 customers)", ours, theirs))

    n = 5_000 if QUICK else 1_000_000
    big = simulated(n)
    ours = best_of(lambda: BetaGeoModel().fit(big), repeat=REPEAT or 3)
    theirs = lifetimes and best_of(
        lambda: lifetimes.BetaGeoFitter().fit(big["frequency"], big["recency"], big["T"]),
        repeat=1,
        budget=0,
    )
    rows.append((f"BG/NBD fit, {n:,} simulated customers (days)", ours, theirs))

    # scoring: expected purchases over 52 periods, P(alive) and CLV over 52 periods with a
    # Gamma-Gamma spend model. lifetimes' CLV has no month factor with freq="M", so its
    # `time` is then in the data's periods, as ours is (see tests/test_value.py).
    rng = np.random.default_rng(7)
    big = big.assign(
        monetary_value=np.where(big["frequency"] > 0, rng.gamma(6.0, 5.0, len(big)), 0.0)
    )
    model = BetaGeoModel().fit(big)
    spend = GammaGammaModel().fit(big)
    if lifetimes is not None:
        lt = lifetimes.BetaGeoFitter()
        lt.params_ = model.params_.copy()
        lt.predict = lt.conditional_expected_number_of_purchases_up_to_time
        lgg = lifetimes.GammaGammaFitter()
        lgg.params_ = pd.Series(
            {"p": spend.params_["p"], "q": spend.params_["q"], "v": spend.params_["v"]}
        )

    def score_ours() -> None:
        model.expected_purchases(52, big)
        model.probability_alive(big)
        customer_lifetime_value(model, spend, big, horizon=52, discount_rate_per_period=0.002)

    def score_theirs() -> None:
        lt.conditional_expected_number_of_purchases_up_to_time(
            52, big["frequency"], big["recency"], big["T"]
        )
        lt.conditional_probability_alive(big["frequency"], big["recency"], big["T"])
        lgg.customer_lifetime_value(
            lt,
            big["frequency"],
            big["recency"],
            big["T"],
            big["monetary_value"],
            time=52,
            discount_rate=0.002,
            freq="M",
        )

    rows.append(
        (
            f"score {n:,}: E[purchases, 52] + P(alive) + CLV(52)",
            best_of(score_ours, repeat=REPEAT or 2),
            lifetimes and best_of(score_theirs, repeat=1, budget=0),
        )
    )

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
