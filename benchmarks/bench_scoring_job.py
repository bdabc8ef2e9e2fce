"""Benchmark: the nightly scoring job on a 10M-transaction, 1M-customer log.

Writes a simulated log (``--rows`` transactions of ``--customers`` customers, day
dates over two years, churn and heterogeneous rates, gamma amounts) to a Parquet
file in a temporary directory, fits a model bundle on it once
(``clv fit ... --model bgnbd --value-col value``), then measures, each run in a fresh subprocess:

``read``
    Parquet -> pandas, as ``clv score`` reads its input
    (:func:`clv.cli.files.read_transactions`), and the input fingerprint of the run
    record (:func:`clv.cli.files.frame_fingerprint`), timed apart.
``summary``
    :func:`clv.data.rfm_summary` on the transactions read from the Parquet file
    (weekly periods, the default engine). The read is not timed.
``score``
    The table ``clv score`` writes (expected purchases over 52 periods, P(alive),
    expected spend, CLV over 52 periods), computed from the RFM frame alone; the
    frame is loaded from a ``.npy`` file, so the process holds nothing else.
``clv score``
    The whole command end to end (``python -m clv score tx.parquet --model
    model.json --horizon 52 --out scores.parquet``): start-up and imports, read,
    summarise, score, atomic Parquet write, run record.

Wall time is the time of the step itself (for ``clv score``: of the whole
process). CPU time and peak RSS are those of the whole child process, from
``os.wait4`` (so peak RSS includes the interpreter, the libraries and, for
``summary``, the loaded transactions); ``step MB`` is the peak of the step alone
(``VmHWM`` after a reset, minus what was resident before). The targets are those
of issue 7: summary <= 5 s, scoring <= 5 s, peak memory <= 4 GB.

Usage::

    python benchmarks/bench_scoring_job.py                 # 10M rows, 1M customers, 2 runs
    python benchmarks/bench_scoring_job.py --rows 1000000 --customers 100000 --repeat 1
    python benchmarks/bench_scoring_job.py --string-ids    # customer ids as text
    python benchmarks/bench_scoring_job.py --profile score # cProfile one step (stderr)
    python benchmarks/bench_scoring_job.py --quick         # smoke: 20,000 rows, one run
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
STEPS = ("read", "summary", "score", "clv score")
# The log ends on Sunday 2023-12-31. The models reject customers with T = 0 (first purchase in
# the week of the observation end), which `clv fit` and `clv score` then report as a data error,
# so the job runs as of the end of the following week.
AS_OF = "2024-01-07"
HORIZON = 52
TARGET_SECONDS = {"summary": 5.0, "score": 5.0}
TARGET_PEAK_MB = 4096.0


# ---------------------------------------------------------------------- data
def write_log(path: Path, rows: int, customers: int, *, string_ids: bool, seed: int = 2024) -> None:
    """Simulate a log with churn and write it to Parquet (day dates) with DuckDB.

    Close to the BG/NBD story: each customer makes a first purchase on a uniform
    day of the two years, then repeat purchases at a gamma-distributed rate, and
    leaves after each repeat purchase with a beta-distributed probability; the
    repeat purchases are subsampled to exactly ``rows - customers``. A log with
    uniform customers and days (as ``bench_rfm.py`` simulates) has neither churn
    nor heterogeneity: BG/NBD then fits a degenerate limit (r, alpha or a, b in
    the thousands or millions), where scoring takes a very slow path.
    """
    import duckdb
    import pandas as pd

    rng = np.random.default_rng(seed)
    rate = rng.gamma(2.0, 0.027, customers)  # purchases per day while alive
    dropout = rng.beta(0.8, 12.0, customers)  # chance of leaving after each repeat purchase
    birth = rng.integers(0, 730, customers)  # day of the first purchase
    window = 730 - birth
    n_time = rng.poisson(rate * window)
    n_drop = rng.geometric(dropout)
    repeat = np.minimum(n_time, n_drop)
    # repeat purchases fall uniformly in the part of the window before the dropout
    alive = window * np.minimum(1.0, n_drop / np.maximum(n_time, 1))
    owner = np.repeat(np.arange(customers), repeat)
    keep = rows - customers
    if len(owner) < keep:
        raise ValueError(
            f"the simulation gave {len(owner) + customers} rows < {rows}: lower --customers"
        )
    owner = np.sort(rng.choice(owner, keep, replace=False))
    cust = np.concatenate([np.arange(customers), owner])
    day = np.concatenate(
        [birth, birth[owner] + 1 + (rng.random(keep) * alive[owner]).astype(np.int64)]
    )
    day = np.minimum(day, 729)
    order = rng.permutation(rows)  # a log in no particular order
    cust, day = cust[order], day[order]
    frame = pd.DataFrame(
        {
            "customer_id": cust + 100_000,
            "date": (np.datetime64("2022-01-01", "D") + day.astype("timedelta64[D]")).astype(
                "M8[s]"
            ),
            "value": np.round(rng.gamma(2.0, 20.0, rows), 2),
        },
        copy=False,
    )
    del cust, day, owner, order
    ident = "'C' || CAST(customer_id AS VARCHAR)" if string_ids else "customer_id"
    con = duckdb.connect()
    try:
        con.register("log", frame)
        target = str(path).replace("'", "''")
        con.execute(
            f"COPY (SELECT {ident} AS customer_id, CAST(date AS DATE) AS date, value FROM log) "
            f"TO '{target}' (FORMAT parquet)"
        )
    finally:
        con.close()


# ---------------------------------------------------------------------- children
def _status(field: str) -> int:
    """A ``/proc/self/status`` field in bytes (0 when unavailable)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _measure(fn: Callable[[], Any], profile: bool) -> tuple[Any, dict[str, float]]:
    """Run ``fn`` once: wall and CPU seconds, and the peak resident memory it added."""
    baseline = _status("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        exact = True
    except OSError:
        exact = False
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    start, cpu_start = time.perf_counter(), time.process_time()
    result = fn()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    if profiler is not None:
        import pstats

        profiler.disable()
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("cumulative").print_stats(30)
        stats.sort_stats("tottime").print_stats(15)
    step_peak = (_status("VmHWM") - baseline) if exact else float("nan")
    return result, {"seconds": seconds, "cpu_seconds": cpu, "step_peak_bytes": step_peak}


def _read_log(path: str) -> Any:
    from clv.cli.files import read_transactions

    frame, _ = read_transactions(path, ["customer_id", "date", "value"], id_column="customer_id")
    return frame


def child(step: str, args: argparse.Namespace) -> None:
    """Run one step in this (fresh) process and print a JSON record on stdout."""
    import pandas as pd

    import clv.cli.files  # imports are not part of the step
    import clv.data
    import clv.value

    record: dict[str, Any] = {}
    if step == "read":
        from clv.cli.files import frame_fingerprint

        frame, record = _measure(lambda: _read_log(args.data), args.profile)
        _, fingerprint = _measure(lambda: frame_fingerprint(frame), False)
        record["fingerprint_seconds"] = fingerprint["seconds"]
        record["rows"] = len(frame)
        record["dtypes"] = {str(k): str(v) for k, v in frame.dtypes.items()}
    elif step == "summary":
        from clv.data import rfm_summary

        frame = _read_log(args.data)
        end = pd.Timestamp(AS_OF) + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")

        def run() -> pd.DataFrame:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # same-day duplicates: DataWarning
                return rfm_summary(
                    frame,
                    customer_id_col="customer_id",
                    date_col="date",
                    value_col="value",
                    time_unit="W",
                    observation_end=end,
                )

        rfm, record = _measure(run, args.profile)
        record["customers"] = len(rfm)
        if args.save_rfm:
            del frame
            np.save(args.save_rfm, rfm.index.to_numpy(), allow_pickle=True)
            np.save(
                args.save_rfm.replace(".npy", ".cols.npy"),
                rfm[["frequency", "recency", "T", "monetary_value"]].to_numpy(),
            )
    elif step == "score":
        from clv.cli.steps import score_customers
        from clv.scoring.bundle import read_bundle

        index = np.load(args.rfm, allow_pickle=True)
        values = np.load(args.rfm.replace(".npy", ".cols.npy"))
        rfm = pd.DataFrame(
            values,
            index=pd.Index(index, name="customer_id"),
            columns=["frequency", "recency", "T", "monetary_value"],
        )
        del index, values
        rfm = clv.data.with_time_unit(rfm, "W")  # the unit of the summary step (lost in .npy)
        bundle = read_bundle(args.model)
        table, record = _measure(
            lambda: score_customers(bundle, rfm, horizon=HORIZON, discount_rate=0.0, margin=1.0),
            args.profile,
        )
        record["customers"] = len(table)
        record["clv_sum"] = float(table["clv"].sum())
    print(json.dumps(record))


# ---------------------------------------------------------------------- parent
def _spawn(cmd: list[str]) -> dict[str, Any]:
    """Run ``cmd``; wall seconds, CPU seconds and peak RSS of that process alone."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=REPO, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{stderr}")
    return {
        "process_seconds": wall,
        "process_cpu_seconds": usage.ru_utime + usage.ru_stime,
        "peak_bytes": usage.ru_maxrss * 1024,
        "stdout": stdout,
        "stderr": stderr,
    }


def run_step(step: str, tmp: Path, args: argparse.Namespace, save_rfm: bool) -> dict[str, Any]:
    data, model, rfm = tmp / "tx.parquet", tmp / "model.json", tmp / "rfm.npy"
    if step == "clv score":
        out = tmp / "scores.parquet"
        cmd = [
            sys.executable,
            "-m",
            "clv",
            "score",
            str(data),
            "--model",
            str(model),
            "--as-of",
            AS_OF,
            "--horizon",
            str(HORIZON),
            "--out",
            str(out),
            "--quiet",
        ]
        result = _spawn(cmd)
        run_record = json.loads(out.with_name(out.name + ".run.json").read_text())
        result["seconds"] = result["process_seconds"]
        result["timings"] = run_record["timings_s"]
        return result
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        step,
        "--data",
        str(data),
        "--model",
        str(model),
        "--rfm",
        str(rfm),
    ]
    if save_rfm:
        cmd += ["--save-rfm", str(rfm)]
    if args.profile == step:
        cmd += ["--profile", step]
    result = _spawn(cmd)
    if args.profile == step:
        print(result["stderr"], file=sys.stderr)
    result.update(json.loads(result["stdout"].strip().splitlines()[-1]))
    return result


def _fmt_range(values: list[float], spec: str) -> str:
    lo, hi = min(values), max(values)
    return f"{lo:{spec}}" if len(values) == 1 else f"{lo:{spec}}-{hi:{spec}}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each step (fresh process)")
    parser.add_argument("--string-ids", action="store_true", help="customer ids as text ('C123')")
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS))
    parser.add_argument(
        "--profile",
        choices=("read", "summary", "score"),
        help="cProfile this step (in its first run) and print the top functions",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 20,000 rows, 2,000 customers, one run"
    )
    parser.add_argument("--child", choices=("read", "summary", "score"), help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--rfm", help=argparse.SUPPRESS)
    parser.add_argument("--save-rfm", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.customers, args.repeat = 20_000, 2_000, 1
    if args.child:
        args.profile = args.profile is not None
        child(args.child, args)
        return

    import duckdb
    import pandas as pd

    print(
        f"python {sys.version.split()[0]}, numpy {np.__version__}, pandas {pd.__version__}, "
        f"duckdb {duckdb.__version__}, cores {os.cpu_count()}, "
        f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    with tempfile.TemporaryDirectory(prefix="clv-bench-") as tmpdir:
        tmp = Path(tmpdir)
        start = time.perf_counter()
        write_log(tmp / "tx.parquet", args.rows, args.customers, string_ids=args.string_ids)
        size = (tmp / "tx.parquet").stat().st_size / 2**20
        print(
            f"log: {args.rows:,} rows, {args.customers:,} customers "
            f"({'text' if args.string_ids else 'integer'} ids), {size:.0f} MB Parquet, "
            f"written in {time.perf_counter() - start:.1f} s"
        )
        fit = _spawn(
            [
                sys.executable,
                "-m",
                "clv",
                "fit",
                str(tmp / "tx.parquet"),
                "--customer-col",
                "customer_id",
                "--date-col",
                "date",
                "--value-col",
                "value",
                "--model",
                "bgnbd",
                "--as-of",
                AS_OF,
                "--out",
                str(tmp / "model.json"),
                "--quiet",
            ]
        )
        params = json.loads((tmp / "model.json").read_text())["transaction_model"]["params"]
        print(
            f"clv fit (bgnbd + gamma-gamma, weekly): {fit['process_seconds']:.1f} s wall, "
            f"peak {fit['peak_bytes'] / 2**20:,.0f} MB; BG/NBD "
            + ", ".join(f"{k} {v:.3g}" for k, v in params.items())
        )

        steps = list(args.steps)
        if "score" in steps and "summary" not in steps:
            steps.insert(0, "summary")  # the scoring step needs the saved RFM frame
        results: dict[str, list[dict[str, Any]]] = {s: [] for s in steps}
        for i in range(args.repeat):
            for step in steps:
                if args.profile == step and i > 0:
                    args.profile = None  # profile the first run only
                results[step].append(run_step(step, tmp, args, save_rfm=(i == 0)))
        print()
        _print_table(results)
        if "clv score" in results:
            print("\n`clv score` run record timings_s (per run):")
            for r in results["clv score"]:
                print("  " + ", ".join(f"{k} {v:.2f}" for k, v in r["timings"].items()))
        if "read" in results:
            r = results["read"][0]
            print(
                f"\nread: dtypes {r['dtypes']}; fingerprint "
                f"{_fmt_range([x['fingerprint_seconds'] for x in results['read']], '.2f')} s"
            )


def _print_table(results: dict[str, list[dict[str, Any]]]) -> None:
    header = (
        f"{'step':<10} {'wall s':>11} {'CPU s':>11} {'proc CPU s':>11} {'peak RSS MB':>13} "
        f"{'step MB':>9} {'target':>20} {'result':>6}"
    )
    print(header)
    print("-" * len(header))
    for step, runs in results.items():
        walls = [r["seconds"] for r in runs]
        cpus = [r.get("cpu_seconds", r["process_cpu_seconds"]) for r in runs]
        proc_cpus = [r["process_cpu_seconds"] for r in runs]
        peaks = [r["peak_bytes"] / 2**20 for r in runs]
        steps = [r.get("step_peak_bytes", float("nan")) / 2**20 for r in runs]
        limit = TARGET_SECONDS.get(step)
        target = (f"<= {limit:g} s, " if limit else "") + f"<= {TARGET_PEAK_MB / 1024:g} GB"
        ok = max(peaks) <= TARGET_PEAK_MB and (limit is None or min(walls) <= limit)
        step_mb = "" if np.isnan(steps[0]) else f"{max(steps):,.0f}"
        print(
            f"{step:<10} {_fmt_range(walls, '.2f'):>11} {_fmt_range(cpus, '.1f'):>11} "
            f"{_fmt_range(proc_cpus, '.1f'):>11} {_fmt_range(peaks, ',.0f'):>13} {step_mb:>9} "
            f"{target:>20} {'pass' if ok else 'FAIL':>6}"
        )
    print(
        "(wall and CPU: the step; proc CPU and peak RSS: its whole process; ranges over "
        "the runs; a time target passes on the fastest run)"
    )


if __name__ == "__main__":
    main()
