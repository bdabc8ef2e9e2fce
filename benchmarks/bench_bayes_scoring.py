"""Benchmark: `clv score` with a posterior model file, 1M customers, 10M transactions.

The log is the one of ``bench_scoring_job.py`` (same generator, integer ids). A
BG/NBD + Gamma-Gamma bundle is fitted on it with ``clv fit``; the posterior
model file then holds 1000 draws (4 chains x 250) of each model's parameters
from the fits' asymptotic normal distribution on the log scale (the
delta-method covariance of the maximum-likelihood fit), written with
:func:`clv.scoring.posterior.write_posterior_bundle`. NUTS on a million customers
is not part of this benchmark: scoring cost depends only on the number of
draws, not on how they were obtained.

Steps, each in a fresh process:

``score``
    :func:`clv.scoring.posterior_scores.posterior_score_table` on the RFM frame
    (loaded from ``.npy``), for every ``--max-draws`` and ``--discount-rate``.
``clv score``
    The whole command (``python -m clv score tx.parquet --model model.nc
    --max-draws N ...``): imports, read, summary, scoring over draws, Parquet
    write, run record.

Peak memory: ``step MB`` is the step's own peak (``VmHWM`` after a reset,
minus the resident size before it); ``peak RSS`` is the whole process's.

The machine may be shared: ``load`` is the 1-minute load average when the step
starts, and ``wait s`` the time the step's main thread spent runnable but
waiting for a CPU (``/proc/thread-self/schedstat``). With ``--workers 1``,
``wall s`` is ``CPU s + wait s`` (plus any I/O wait): a wall time far above the
CPU time then measures other processes on the cores, not the scorer. With
more workers, ``CPU s`` adds up the threads and ``wait s`` is the main
thread's alone.

Usage::

    python benchmarks/bench_bayes_scoring.py                        # 100 draws, d = 0 and 0.002
    python benchmarks/bench_bayes_scoring.py --max-draws 50 100 1000 --discount-rate 0
    python benchmarks/bench_bayes_scoring.py --rows 1000000 --customers 100000
    python benchmarks/bench_bayes_scoring.py --workers 1 --data-dir /tmp/clv-bench  # reuse data
    python benchmarks/bench_bayes_scoring.py --quick   # smoke: 20,000 rows, 10 draws, d = 0.002
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_scoring_job import AS_OF, HORIZON, _measure, _spawn, write_log

TARGET_SECONDS = 5.0
CHAINS, DRAWS = 4, 250


def build(tmp: Path) -> None:
    """RFM frame (``.npy``) and the posterior model file, from the fitted JSON bundle."""
    import arviz as az
    import pandas as pd

    import clv.bayes
    from clv.cli.files import read_transactions
    from clv.data import rfm_summary
    from clv.scoring.bundle import read_bundle
    from clv.scoring.posterior import write_posterior_bundle

    frame, _ = read_transactions(tmp / "tx.parquet", ["customer_id", "date", "value"])
    end = pd.Timestamp(AS_OF) + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rfm = rfm_summary(
            frame,
            customer_id_col="customer_id",
            date_col="date",
            value_col="value",
            time_unit="W",
            observation_end=end,
        )
    np.save(tmp / "rfm.npy", rfm.index.to_numpy())
    np.save(tmp / "rfm.cols.npy", rfm[["frequency", "recency", "T", "monetary_value"]].to_numpy())
    bundle = read_bundle(tmp / "model.json")
    rng = np.random.default_rng(2024)
    models = []
    for mle in (bundle.transaction_model, bundle.spend_model):
        values = mle.params_.to_numpy()
        scale = np.diag(1.0 / values)
        cov = scale @ mle.covariance_.to_numpy() @ scale  # covariance of log(params)
        draws = np.exp(rng.multivariate_normal(np.log(values), cov, size=CHAINS * DRAWS))
        posterior = {n: draws[:, j].reshape(CHAINS, DRAWS) for j, n in enumerate(mle.params_.index)}
        cls = getattr(clv.bayes, type(mle).__name__)
        models.append(cls.from_idata(az.from_dict(posterior=posterior), method="external"))
    write_posterior_bundle(
        models[0],
        models[1],
        tmp / "model.nc",
        time_unit="W",
        columns=bundle.columns,
        training=bundle.training,
    )


def _runqueue_wait() -> float:
    """Seconds this thread has waited runnable for a CPU (NaN where not available)."""
    try:
        return int(Path("/proc/thread-self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return float("nan")


def child_score(
    tmp: Path, max_draws: int, discount_rate: float, workers: int | None
) -> dict[str, Any]:
    import pandas as pd

    from clv.data import with_time_unit
    from clv.scoring.posterior import read_posterior_bundle
    from clv.scoring.posterior_scores import posterior_score_table

    index = np.load(tmp / "rfm.npy", allow_pickle=True)
    values = np.load(tmp / "rfm.cols.npy")
    rfm = pd.DataFrame(
        values,
        index=pd.Index(index, name="customer_id"),
        columns=["frequency", "recency", "T", "monetary_value"],
    )
    del index, values
    bundle = read_posterior_bundle(tmp / "model.nc")
    rfm = with_time_unit(rfm, bundle.time_unit)  # the .npy frame carries no unit
    load, wait = os.getloadavg()[0], _runqueue_wait()
    table, record = _measure(
        lambda: posterior_score_table(
            bundle,
            rfm,
            horizon=HORIZON,
            discount_rate=discount_rate,
            margin=1.0,
            max_draws=max_draws or None,
            workers=workers,
        ),
        False,
    )
    record["wait_seconds"] = _runqueue_wait() - wait
    record["load"] = load
    record["customers"] = len(table)
    record["clv_sum"] = float(table["clv"].sum())
    return record


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--max-draws", type=int, nargs="+", default=[100])
    parser.add_argument("--discount-rate", type=float, nargs="+", default=[0.0, 0.002])
    parser.add_argument("--workers", type=int, help="threads of the scorer (default: automatic)")
    parser.add_argument("--no-command", action="store_true", help="skip the `clv score` runs")
    parser.add_argument(
        "--data-dir",
        help="keep the log, model files and RFM frame here and "
        "reuse them on the next run (default: a temporary directory)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 20,000 rows, 10 draws, one rate"
    )
    parser.add_argument("--child", choices=("build", "score"), help=argparse.SUPPRESS)
    parser.add_argument("--tmp", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick and not args.child:
        args.rows, args.customers, args.max_draws, args.discount_rate = 20_000, 2_000, [10], [0.002]
    if args.child == "build":
        build(Path(args.tmp))
        return
    if args.child == "score":
        print(
            json.dumps(
                child_score(Path(args.tmp), args.max_draws[0], args.discount_rate[0], args.workers)
            )
        )
        return

    with contextlib.ExitStack() as stack:
        if args.data_dir:
            tmp = Path(args.data_dir) / f"{args.rows}-{args.customers}"
            tmp.mkdir(parents=True, exist_ok=True)
        else:
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="clv-bench-")))
        tmpdir = str(tmp)
        if not (tmp / "model.nc").exists():
            start = time.perf_counter()
            write_log(tmp / "tx.parquet", args.rows, args.customers, string_ids=False)
            print(
                f"log: {args.rows:,} rows, {args.customers:,} customers (integer ids), written "
                f"in {time.perf_counter() - start:.1f} s"
            )
            _spawn(
                [
                    sys.executable,
                    "-m",
                    "clv",
                    "fit",
                    str(tmp / "tx.parquet"),
                    "--value-col",
                    "value",
                    "--as-of",
                    AS_OF,
                    "--out",
                    str(tmp / "model.json"),
                    "--quiet",
                ]
            )
            built = _spawn([sys.executable, __file__, "--child", "build", "--tmp", tmpdir])
            print(
                f"posterior model file: {CHAINS} chains x {DRAWS} draws from the MLE fits' "
                f"asymptotic normal, {(tmp / 'model.nc').stat().st_size / 2**10:.0f} KB (built "
                f"in {built['process_seconds']:.1f} s)"
            )
        else:
            print(f"reusing the log and posterior model file in {tmp}")
        header = (
            f"{'step':<10} {'draws':>6} {'discount':>9} {'wall s':>8} {'CPU s':>8} "
            f"{'wait s':>7} {'load':>5} {'step MB':>8} {'peak RSS MB':>12} {'<= 5 s':>7}"
        )
        print(header)
        print("-" * len(header))
        for draws in args.max_draws:
            for rate in args.discount_rate:
                cmd = [
                    sys.executable,
                    __file__,
                    "--child",
                    "score",
                    "--tmp",
                    tmpdir,
                    "--max-draws",
                    str(draws),
                    "--discount-rate",
                    str(rate),
                ]
                r = _spawn(cmd + ([] if args.workers is None else ["--workers", str(args.workers)]))
                r.update(json.loads(r["stdout"].strip().splitlines()[-1]))
                _row(
                    "score",
                    draws,
                    rate,
                    r["seconds"],
                    r["cpu_seconds"],
                    r["wait_seconds"],
                    r["load"],
                    r["step_peak_bytes"],
                    r["peak_bytes"],
                )
                if args.no_command:
                    continue
                out = tmp / "scores.parquet"
                c = _spawn(
                    [
                        sys.executable,
                        "-m",
                        "clv",
                        "score",
                        str(tmp / "tx.parquet"),
                        "--model",
                        str(tmp / "model.nc"),
                        "--as-of",
                        AS_OF,
                        "--horizon",
                        str(HORIZON),
                        "--discount-rate",
                        str(rate),
                        "--max-draws",
                        str(draws),
                        "--out",
                        str(out),
                        "--quiet",
                    ]
                )
                timings = json.loads(out.with_name(out.name + ".run.json").read_text())
                _row(
                    "clv score",
                    draws,
                    rate,
                    c["process_seconds"],
                    c["process_cpu_seconds"],
                    float("nan"),
                    os.getloadavg()[0],
                    float("nan"),
                    c["peak_bytes"],
                )
                print(
                    "           timings_s: "
                    + ", ".join(f"{k} {v:.2f}" for k, v in timings["timings_s"].items())
                )


def _row(
    step: str,
    draws: int,
    rate: float,
    wall: float,
    cpu: float,
    wait: float,
    load: float,
    step_bytes: float,
    peak: float,
) -> None:
    step_mb = "" if np.isnan(step_bytes) else f"{step_bytes / 2**20:,.0f}"
    waited = "" if np.isnan(wait) else f"{wait:.1f}"
    ok = "" if step == "clv score" else ("pass" if wall <= TARGET_SECONDS else "FAIL")
    print(
        f"{step:<10} {draws or 'all':>6} {rate:>9g} {wall:>8.2f} {cpu:>8.1f} {waited:>7} "
        f"{load:>5.1f} {step_mb:>8} {peak / 2**20:>12,.0f} {ok:>7}",
        flush=True,
    )


if __name__ == "__main__":
    main()
