"""Gamma-Gamma and CLV timings: clv vs lifetimes' GammaGammaFitter, in one process.

Run::

    python benchmarks/bench_gamma_gamma.py [--repeat 7] [--quick]

Prints the median wall time of each operation for both libraries and the ratio
lifetimes / clv (> 1 means clv is faster). Both fits start from their defaults
and reach the same optimum (checked). The CLV comparison uses lifetimes'
``freq="M"`` setting, which has no month factor, so both compute exactly the
same numbers (checked).  ``--quick`` is a smoke run: one timing of each
operation of clv's side only (no lifetimes), 2,000 simulated customers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd

from clv.data.datasets import load_cdnow_summary_with_spend
from clv.models import gamma_gamma as gg
from clv.models.bgnbd import BetaGeoModel
from clv.models.gamma_gamma import GammaGammaModel
from clv.value import customer_lifetime_value


def _median_time(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _row(name: str, ours: float, theirs: float | None) -> str:
    if theirs is None:
        return f"{name:<44} {ours * 1e3:>10.2f} {'n/a':>12} {'n/a':>9}"
    return f"{name:<44} {ours * 1e3:>10.2f} {theirs * 1e3:>12.2f} {theirs / ours:>8.1f}x"


def main() -> None:
    """Time fit, expected spend and CLV for both libraries and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: clv only, one timing, 2,000 customers"
    )
    args = parser.parse_args()
    if args.quick:
        args.repeat = 1
    else:
        with warnings.catch_warnings():  # lifetimes sets a deprecated pandas option at import
            warnings.simplefilter("ignore")
            from lifetimes import BetaGeoFitter, GammaGammaFitter
    warnings.simplefilter("ignore", DeprecationWarning)
    warnings.simplefilter("ignore", FutureWarning)

    cdnow = load_cdnow_summary_with_spend()
    repeat_buyers = cdnow[cdnow["frequency"] > 0]
    rng = np.random.default_rng(2024)
    n_big = 2_000 if args.quick else 50_000
    big_x = rng.integers(1, 15, n_big).astype(float)
    big = pd.DataFrame(gg.simulate(gg.GGParams(6.25, 3.74, 15.44), big_x, rng=rng))[
        ["frequency", "monetary_value"]
    ]

    rows = []
    sets = (("CDNOW, 946 repeat buyers", repeat_buyers), (f"simulated, {n_big:,}", big))
    for label, data in sets:
        ours_model = GammaGammaModel().fit(data)
        t_ours = _median_time(lambda data=data: GammaGammaModel().fit(data), args.repeat)
        if args.quick:
            rows.append(_row(f"fit ({label})", t_ours, None))
            t_ours = _median_time(lambda m=ours_model, data=data: m.expected_spend(data), 1)
            rows.append(_row(f"expected spend ({label})", t_ours, None))
            continue
        ref_model = GammaGammaFitter().fit(data["frequency"], data["monetary_value"])
        np.testing.assert_allclose(
            ours_model.params_.to_numpy(), ref_model.params_.to_numpy(), rtol=1e-3
        )
        t_ref = _median_time(
            lambda data=data: GammaGammaFitter().fit(data["frequency"], data["monetary_value"]),
            args.repeat,
        )
        rows.append(_row(f"fit ({label})", t_ours, t_ref))

        t_ours = _median_time(lambda m=ours_model, data=data: m.expected_spend(data), args.repeat)
        t_ref = _median_time(
            lambda m=ref_model, data=data: m.conditional_expected_average_profit(
                data["frequency"], data["monetary_value"]
            ),
            args.repeat,
        )
        rows.append(_row(f"expected spend ({label})", t_ours, t_ref))

    # CLV on all 2,357 CDNOW customers, BG/NBD + Gamma-Gamma at the same parameters
    bg = BetaGeoModel().fit(cdnow)
    spend = GammaGammaModel().fit(cdnow)
    for horizon in (12, 52) if args.quick else ():
        ours_clv = customer_lifetime_value(
            bg, spend, cdnow, horizon=horizon, discount_rate_per_period=0.01
        )
        assert np.isfinite(ours_clv.to_numpy()).all()
        rows.append(
            _row(
                f"CLV, horizon {horizon} (CDNOW, 2,357)",
                _median_time(
                    lambda h=horizon: customer_lifetime_value(
                        bg, spend, cdnow, horizon=h, discount_rate_per_period=0.01
                    ),
                    1,
                ),
                None,
            )
        )
    if not args.quick:  # the same CLV with lifetimes
        lbg = BetaGeoFitter()
        lbg.params_ = pd.Series(bg.params_.to_dict())
        lbg.predict = lbg.conditional_expected_number_of_purchases_up_to_time
        lgg = GammaGammaFitter()
        lgg.params_ = pd.Series(spend.params_.to_dict())
        for horizon in (12, 52):

            def ref(horizon: int = horizon) -> pd.Series:
                return lgg.customer_lifetime_value(
                    lbg,
                    cdnow["frequency"],
                    cdnow["recency"],
                    cdnow["T"],
                    cdnow["monetary_value"],
                    time=horizon,
                    discount_rate=0.01,
                    freq="M",
                )

            def ours(horizon: int = horizon) -> pd.Series:
                return customer_lifetime_value(
                    bg, spend, cdnow, horizon=horizon, discount_rate_per_period=0.01
                )

            np.testing.assert_allclose(ours().to_numpy(), ref().to_numpy(), rtol=1e-10)
            rows.append(
                _row(
                    f"CLV, horizon {horizon} (CDNOW, 2,357)",
                    _median_time(ours, args.repeat),
                    _median_time(ref, args.repeat),
                )
            )

    threads = os.environ.get("OPENBLAS_NUM_THREADS", "unset")
    print(
        f"median of {args.repeat} runs; OPENBLAS_NUM_THREADS={threads}; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(f"{'operation':<44} {'clv (ms)':>10} {'lifetimes':>12} {'ratio':>9}")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
