"""CX layer and ROI engine: wall times of each step on the synthetic CX world.

No other package links CX signals to CLV or values experience investments, so
there is nothing to run side by side; the numbers are absolute. For scale, the
Pareto/NBD covariate fit is also timed against the plain fit on the same data.

Run: ``.venv/bin/python benchmarks/bench_cx_roi.py [n_customers] [--quick]``
(``--quick``: a smoke run on 2,000 customers with 20 draws).
"""

from __future__ import annotations

import sys
import time

import pandas as pd

from clv.cx import drivers
from clv.data import rfm_summary
from clv.models import GammaGammaModel, ParetoNBDModel
from clv.roi import evaluate_investments, period_rate, select_portfolio, sensitivity
from clv.roi.examples import example_investments
from clv.synth import simulate_cx_world


def timed(label: str, fn, rows: list) -> object:
    t0 = time.perf_counter()
    out = fn()
    rows.append((label, time.perf_counter() - t0))
    return out


def main(n: int = 20_000, *, draws: int = 200) -> None:
    rows: list[tuple[str, float]] = []
    world = timed(f"simulate_cx_world({n:,})", lambda: simulate_cx_world(n, seed=1), rows)
    fb = world.feature_builder()
    X = timed(
        "features as of the cutoff",
        lambda: fb.fit_transform(world.cx_events, world.customers, cutoff=world.calibration_end),
        rows,
    )
    rfm = timed(
        "RFM summary (daily periods)",
        lambda: rfm_summary(
            world.calibration_transactions(),
            customer_id_col="customer_id",
            date_col="date",
            value_col="value",
            time_unit="D",
            observation_end=world.calibration_end - pd.Timedelta("1s"),
        ),
        rows,
    )
    data = rfm.join(X)
    cols = list(X.columns)
    timed("Pareto/NBD, no covariates", lambda: ParetoNBDModel().fit(data), rows)
    tm = timed(
        f"Pareto/NBD, {len(cols)} covariates x 2 processes",
        lambda: ParetoNBDModel(purchase_covariates=cols, dropout_covariates=cols).fit(data),
        rows,
    )
    sm = timed(
        f"Gamma-Gamma, {len(cols)} spend covariates",
        lambda: GammaGammaModel(spend_covariates=cols).fit(data),
        rows,
    )
    kw = {
        "horizon": 24,
        "discount_rate": period_rate(0.10, 12),
        "margin": 0.3,
        "period_length": 365.25 / 12,
    }
    timed(
        f"driver table (CLV changes on up to 5,000 customers, {min(50, draws)} draws)",
        lambda: drivers(tm, sm, data, n_draws=min(50, draws), **kw),
        rows,
    )
    invs = example_investments(n)
    res = timed(
        f"{len(invs)} investments x {draws} draws x 24 months (+ break-even)",
        lambda: evaluate_investments(
            invs, transaction_model=tm, spend_model=sm, data=data, n_draws=draws, **kw
        ),
        rows,
    )
    timed(
        "portfolio (MILP) + joint re-evaluation",
        lambda: select_portfolio(
            res, 0.5 * sum(d.cost_pv.mean() for d in res.investments.values())
        ),
        rows,
    )
    timed("sensitivity (margin, rate, horizon, effect)", lambda: sensitivity(res), rows)
    print(f"{'step':62s} {'seconds':>9s}")
    for label, secs in rows:
        print(f"{label:62s} {secs:9.2f}")


if __name__ == "__main__":
    if "--quick" in sys.argv:
        main(2_000, draws=20)
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
