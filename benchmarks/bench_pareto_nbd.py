"""Pareto/NBD fit and scoring: clv vs lifetimes, side by side in one process.

Run: ``.venv/bin/python benchmarks/bench_pareto_nbd.py [--quick]``.
Reports best-of-N wall times and the ratio lifetimes / clv, and checks that
both libraries reach the same estimates.

Data sets:

* CDNOW: the 2,357-customer sample (FHL 2005).
* "CDNOW-like": 100,000 customers simulated at the published CDNOW estimates,
  acquired over 12 weeks and observed to week 39, purchase times to the day
  (what ``clv.data.rfm_summary`` produces from daily dates, in weeks).
* "continuous": the same customers with ages and
  purchase times to 0.01 week, so that far fewer rows are identical.

``--quick`` is a smoke run: 5,000 CDNOW-like customers, one timing each, no
"continuous" design, without lifetimes.

lifetimes fits every customer row (Nelder-Mead over the per-customer
likelihood); clv compresses identical rows and uses Newton's method with the
analytic gradient and Hessian.  A third timing gives lifetimes the same
compressed rows through its ``weights=`` argument.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
from _timing import best_of, report

warnings.filterwarnings("ignore")  # lifetimes' deprecation noise

from clv.data.datasets import load_cdnow_summary  # noqa: E402
from clv.models import _pareto_nbd_math, pareto_nbd  # noqa: E402
from clv.models._mle import compress  # noqa: E402
from clv.models.pareto_nbd import ParetoNBDModel, PNBDParams  # noqa: E402

QUICK = "--quick" in sys.argv
PUBLISHED = PNBDParams(r=0.553, alpha=10.578, s=0.606, beta=11.669)


def simulated(n: int, *, daily: bool, seed: int = 2024) -> pd.DataFrame:
    """``n`` CDNOW-like customers: first purchase in weeks 0-12, observed to week 39."""
    rng = np.random.default_rng(seed)
    if daily:
        T = (273 - rng.integers(0, 84, n)) / 7.0
    else:
        T = np.round(39.0 - rng.uniform(0.0, 12.0, n), 2)
    sim = pareto_nbd.simulate(PUBLISHED, T, rng=rng)
    grid = 7.0 if daily else 100.0  # days, or hundredths of a week
    # a repeat purchase has recency > 0: round up to the grid, never past T
    recency = np.minimum(np.ceil(sim["recency"] * grid) / grid, T)
    return pd.DataFrame({"frequency": sim["frequency"], "recency": recency, "T": T})


def fit_clv(data: pd.DataFrame) -> ParetoNBDModel:
    """Fit from scratch: drop the (x, t) pairs cached by an earlier fit of the same data."""
    _pareto_nbd_math._LAST_PAIRS[0] = None
    return ParetoNBDModel().fit(data)


def fit_lifetimes(data: pd.DataFrame, *, weighted: bool = False) -> Any:
    import lifetimes

    model = lifetimes.ParetoNBDFitter()
    np.random.seed(0)  # noqa: NPY002  (lifetimes draws its Nelder-Mead start from the global RNG)
    if not weighted:
        return model.fit(data["frequency"], data["recency"], data["T"])
    cols, w = compress([data[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T")])
    return model.fit(cols[0], cols[1], cols[2], weights=w)


def agree(ours: ParetoNBDModel, theirs: Any) -> str:
    """Largest relative difference between the two sets of estimates."""
    a = ours.params_.to_numpy()
    b = theirs.params_[["r", "alpha", "s", "beta"]].to_numpy()
    return f"max |rel. diff| of estimates {np.max(np.abs(a / b - 1)):.1e}"


def main() -> None:
    rows = []
    notes = []
    cdnow = load_cdnow_summary()
    ours = best_of(lambda: fit_clv(cdnow), repeat=1 if QUICK else 20)
    if QUICK:
        rows.append(("Pareto/NBD fit, CDNOW (2,357 customers)", ours, None))
    else:
        theirs = best_of(lambda: fit_lifetimes(cdnow), repeat=3)
        rows.append(("Pareto/NBD fit, CDNOW (2,357 customers)", ours, theirs))
        notes.append("CDNOW: " + agree(ParetoNBDModel().fit(cdnow), fit_lifetimes(cdnow)))

    designs = [("CDNOW-like, daily", True)] + ([] if QUICK else [("continuous", False)])
    n = 5_000 if QUICK else 100_000
    for label, daily in designs:
        data = simulated(n, daily=daily)
        unique = len(compress([data[c].to_numpy(dtype=float) for c in data])[1])
        model = ParetoNBDModel().fit(data)
        ours = best_of(lambda data=data: fit_clv(data), repeat=1 if QUICK else 5)
        if QUICK:
            rows.append((f"fit {n:,} {label} ({unique:,} distinct rows)", ours, None))
            continue
        theirs = best_of(lambda data=data: fit_lifetimes(data), repeat=1, budget=0)
        rows.append((f"fit {n:,} {label} ({unique:,} distinct rows)", ours, theirs))
        weighted = best_of(lambda data=data: fit_lifetimes(data, weighted=True), repeat=1, budget=0)
        rows.append(("  lifetimes given the distinct rows as weights=", ours, weighted))
        notes.append(
            f"{label}: "
            + agree(model, fit_lifetimes(data, weighted=True))
            + f"; clv: {model.optimizer_.n_iterations} Newton iterations"
        )

    big = simulated(n, daily=True)
    model = ParetoNBDModel().fit(big)
    x, t_x, T = big["frequency"], big["recency"], big["T"]
    if not QUICK:
        import lifetimes

        lt = lifetimes.ParetoNBDFitter()
        lt.params_ = model.params_.copy()

    def score_ours() -> None:
        _pareto_nbd_math._LAST_PAIRS[0] = None
        model.expected_purchases(52, big)
        model.probability_alive(big)

    def score_theirs() -> None:
        lt.conditional_expected_number_of_purchases_up_to_time(52, x, t_x, T)
        lt.conditional_probability_alive(x, t_x, T)

    rows.append(
        (
            f"score {n:,}: E[purchases, 52] + P(alive)",
            best_of(score_ours, repeat=1 if QUICK else 3),
            None if QUICK else best_of(score_theirs, repeat=3),
        )
    )
    weekly = 1.15 ** (1 / 52) - 1
    dert = best_of(
        lambda: model.expected_discounted_residual_transactions(big, weekly),
        repeat=1 if QUICK else 3,
    )
    rows.append((f"score {n:,}: DERT (15 % a year; not in lifetimes)", dert, None))
    report(rows)
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
