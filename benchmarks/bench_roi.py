"""ROI engine, sensitivity: wall and CPU time per step, before/after, against the targets.

The synthetic CX world (:func:`clv.synth.simulate_cx_world`) with ``--customers``
customers; the Pareto/NBD and Gamma-Gamma models (6 CX covariates on each
process) are fitted on its first ``--fit-customers`` customers and value all of
them. ``--investments`` investments (the 5 of :func:`clv.roi.examples.example_investments`,
then the same at half the shift) x ``--draws`` parameter draws x 24 months, with
break-even shares, then the tornado (:func:`clv.roi.sensitivity`).

With ``--before PATH`` (a checkout of an older clv, e.g. ``git worktree add
/tmp/clv-before <commit>``) the same workload also runs in a subprocess that
imports clv from ``PATH``, and the table shows both, their ratio, and the
largest relative difference of the expected NPVs and of the tornado values.

Run: ``.venv/bin/python benchmarks/bench_roi.py --customers 20000 --before /tmp/clv-before``.
The machine may be shared: compare CPU seconds and the ratios, not single wall times.
``--quick`` (a smoke run): 2,000 customers, 20 draws.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

TARGETS = {  # the targets of the performance issue (1M customers, 10 investments, 200 draws)
    "evaluate": "1M customers x 200 draws x 10 investments: <= 60 s, <= 8 GB",
    "sensitivity": "5 investments, 20k customers: <= 5 s",
}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def workload(args: argparse.Namespace) -> dict[str, Any]:
    """Run every step in this process; return the timings and the numbers to compare."""
    import warnings

    import pandas as pd

    from clv.data import rfm_summary
    from clv.models import GammaGammaModel, ParetoNBDModel
    from clv.roi import evaluate_investments, period_rate, sensitivity
    from clv.roi.examples import example_investments
    from clv.synth import simulate_cx_world

    warnings.simplefilter("ignore")
    world = simulate_cx_world(args.customers, seed=1)
    X = world.feature_builder().fit_transform(
        world.cx_events, world.customers, cutoff=world.calibration_end
    )
    rfm = rfm_summary(
        world.calibration_transactions(),
        customer_id_col="customer_id",
        date_col="date",
        value_col="value",
        time_unit="D",
        observation_end=world.calibration_end - pd.Timedelta("1s"),
    )
    data = rfm.join(X)
    cols = list(X.columns)
    train = data.iloc[: args.fit_customers]
    tm = ParetoNBDModel(purchase_covariates=cols, dropout_covariates=cols).fit(train)
    sm = GammaGammaModel(spend_covariates=cols).fit(train)
    invs = example_investments(args.customers)
    extra = [
        dataclasses.replace(
            inv,
            name=f"{inv.name} (half)",
            shifts=[dataclasses.replace(s, amount=0.5 * s.amount) for s in inv.shifts],
        )
        for inv in invs
        if all(s.mode != "set" for s in inv.shifts)
    ]
    invs = (invs + extra)[: args.investments]
    kw = {
        "horizon": 24,
        "discount_rate": period_rate(0.10, 12),
        "margin": 0.3,
        "period_length": 365.25 / 12,
    }
    steps: dict[str, dict[str, float]] = {}

    def timed(name: str, fn: Any) -> Any:
        before = _peak_mb()
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        steps[name] = {
            "wall": time.perf_counter() - t0,
            "cpu": time.process_time() - c0,
            "peak_mb": _peak_mb(),
            "peak_before_mb": before,
        }
        return out

    res = timed(
        "evaluate",
        lambda: evaluate_investments(
            invs, transaction_model=tm, spend_model=sm, data=data, n_draws=args.draws, **kw
        ),
    )
    sens = None
    if args.sensitivity:
        sens = timed("sensitivity", lambda: sensitivity(res, progress=False))
    table = res.table()
    return {
        "steps": steps,
        "npv": {n: float(v) for n, v in zip(table["investment"], table["npv_mean"], strict=True)},
        "tornado": []
        if sens is None
        else [
            [r.investment, r.factor, float(r.npv_low), float(r.npv_high)] for r in sens.itertuples()
        ],
        "customers": len(data),
        "investments": len(invs),
        "draws": args.draws,
    }


def _before(args: argparse.Namespace) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--child"] + [
        a for a in sys.argv[1:] if a not in ("--before", args.before)
    ]
    env = {**os.environ, "PYTHONPATH": str(Path(args.before).resolve())}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _difference(new: dict[str, Any], old: dict[str, Any]) -> tuple[float, float]:
    npv = max(
        abs(new["npv"][n] - old["npv"][n]) / max(abs(old["npv"][n]), 1e-9) for n in new["npv"]
    )
    tornado = 0.0
    old_rows = {(r[0], r[1]): r for r in old["tornado"]}
    for row in new["tornado"]:
        ref = old_rows.get((row[0], row[1]))
        if ref is not None:
            for a, b in zip(row[2:], ref[2:], strict=True):
                tornado = max(tornado, abs(a - b) / max(abs(b), 1e-9))
    return npv, tornado


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--fit-customers", type=int, default=20_000)
    parser.add_argument("--investments", type=int, default=5)
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--no-sensitivity", dest="sensitivity", action="store_false")
    parser.add_argument("--before", help="checkout of an older clv to compare with")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2,000 customers, 20 draws")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.customers, args.fit_customers, args.draws = 2_000, 2_000, 20
    if args.child:
        print(json.dumps(workload(args)))
        return
    old = _before(args) if args.before else None
    new = workload(args)
    print(
        f"{new['customers']:,} customers, {new['investments']} investments, "
        f"{new['draws']} draws, 24 months, break-even on; load {os.getloadavg()[0]:.1f}"
    )
    print(f"{'step':<12} {'wall s':>9} {'CPU s':>9} {'peak MB':>9}", end="")
    print(f" {'before wall':>12} {'before CPU':>11} {'CPU ratio':>10}" if old else "")
    for name, step in new["steps"].items():
        line = f"{name:<12} {step['wall']:9.2f} {step['cpu']:9.2f} {step['peak_mb']:9.0f}"
        if old and name in old["steps"]:
            ref = old["steps"][name]
            line += f" {ref['wall']:12.2f} {ref['cpu']:11.2f} {ref['cpu'] / step['cpu']:9.1f}x"
        print(line)
    if old:
        npv, tornado = _difference(new, old)
        print(f"largest relative difference: expected NPV {npv:.1e}, tornado values {tornado:.1e}")
    for name, target in TARGETS.items():
        print(f"target {name}: {target}")


if __name__ == "__main__":
    main()
