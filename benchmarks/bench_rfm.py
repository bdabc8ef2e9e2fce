"""Benchmark: RFM summary of a large transaction log, clv vs lifetimes.

Simulates a log of ``--rows`` transactions (default 10M) of ``--customers``
customers (default 1M) with day-resolution dates over two years and amounts,
then times, each in a fresh subprocess:

- lifetimes ``summary_data_from_transaction_data(..., freq=unit)``;
- clv ``rfm_summary(..., engine="pandas")``;
- clv ``rfm_summary(..., engine="duckdb")``;
- clv ``rfm_summary(..., engine="polars")``.

Peak memory is the process high-water mark (``VmHWM``) during the call alone:
it is reset (``/proc/self/clear_refs``) after the data is loaded, and the
resident size of the loaded data is subtracted, so the number is what the
summary itself needs. Where the reset is not available it falls back to
``ru_maxrss`` (which then includes loading the data).

Usage::

    python benchmarks/bench_rfm.py                       # 10M rows, W and D
    python benchmarks/bench_rfm.py --rows 1000000 3000000 --units W --repeat 3
    python benchmarks/bench_rfm.py --lifetimes-max-rows 3000000   # if lifetimes is too slow
    python benchmarks/bench_rfm.py --quick   # smoke: 20,000 rows, weekly, clv's engines only
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

IMPLEMENTATIONS = ("lifetimes", "clv-pandas", "clv-duckdb", "clv-polars")


def simulate(rows: int, customers: int, seed: int = 2024) -> dict[str, np.ndarray]:
    """A transaction log: uniform customers and days over two years, gamma amounts."""
    rng = np.random.default_rng(seed)
    customer_id = rng.integers(0, customers, rows) + 100_000
    day = rng.integers(0, 730, rows)
    date = (np.datetime64("2022-01-01", "D") + day.astype("timedelta64[D]")).astype(
        "datetime64[ns]"
    )
    value = np.round(rng.gamma(2.0, 20.0, rows), 2)
    return {"customer_id": customer_id, "date": date, "value": value}


def _status(field: str) -> int:
    """A ``/proc/self/status`` field in bytes (0 when unavailable)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def child(impl: str, data: str, unit: str) -> None:
    """Run one implementation on the saved log and print a JSON record."""
    arrays = np.load(data)
    frame = pd.DataFrame({k: arrays[k] for k in ("customer_id", "date", "value")}, copy=False)
    del arrays
    if impl == "lifetimes":
        from lifetimes.utils import summary_data_from_transaction_data

        def run() -> pd.DataFrame:
            return summary_data_from_transaction_data(
                frame, "customer_id", "date", monetary_value_col="value", freq=unit
            )
    else:
        from clv.data.rfm import rfm_summary

        engine = impl.removeprefix("clv-")

        def run() -> pd.DataFrame:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # duplicate-row / T == 0 DataWarnings
                return rfm_summary(
                    frame,
                    customer_id_col="customer_id",
                    date_col="date",
                    value_col="value",
                    time_unit=unit,
                    engine=engine,
                )

    if impl == "clv-duckdb":
        import duckdb  # noqa: F401  (import time is not part of the measurement)
    if impl == "clv-polars":
        import polars  # noqa: F401  (import time is not part of the measurement)
    baseline = _status("VmRSS")
    exact = _reset_peak()
    start, cpu_start = time.perf_counter(), time.process_time()
    result = run()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    if exact:
        peak = _status("VmHWM") - baseline
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - baseline
    summary = {
        "impl": impl,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_bytes": peak,
        "exact_peak": exact,
        "customers": len(result),
        "checksum": float(result["frequency"].sum() + result["recency"].sum()),
        "T_sum": float(result["T"].sum()),
    }
    print(json.dumps(summary))


def run_child(impl: str, data: Path, unit: str) -> dict[str, object]:
    repo = Path(__file__).resolve().parent.parent
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        impl,
        "--data",
        str(data),
        "--units",
        unit,
    ]
    out = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        check=False,
        cwd=repo,
        env={**_env(), "PYTHONPATH": str(repo)},
    )
    if out.returncode != 0:
        raise RuntimeError(f"{impl} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000_000])
    parser.add_argument(
        "--customers-per-row",
        type=float,
        default=0.1,
        help="customers = rows * this (default 0.1: 1M customers for 10M rows)",
    )
    parser.add_argument("--units", nargs="+", default=["W", "D"])
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="runs per implementation (fresh process each); the fastest and the range are shown",
    )
    parser.add_argument(
        "--lifetimes-max-rows",
        type=int,
        default=10_000_000,
        help="skip lifetimes above this many rows",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 20,000 rows, weekly, without lifetimes"
    )
    parser.add_argument("--child", choices=IMPLEMENTATIONS, help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.units, args.repeat, args.lifetimes_max_rows = [20_000], ["W"], 1, 0
    if args.child:
        child(args.child, args.data, args.units[0])
        return

    print(
        f"python {sys.version.split()[0]}, numpy {np.__version__}, pandas {pd.__version__}, "
        f"cores {__import__('os').cpu_count()}"
    )
    header = (
        f"{'rows':>11} {'unit':>4} {'implementation':<14} {'seconds':>8} {'CPU s':>6} "
        f"{'peak MB':>8} {'speed-up':>8} {'CPU':>6} {'memory':>7} {'wall range':>12}"
    )
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            data = Path(tmp) / f"log_{rows}.npz"
            np.savez(data, **simulate(rows, max(1, int(rows * args.customers_per_row))))
            for unit in args.units:
                results = {}
                for impl in IMPLEMENTATIONS:
                    if impl == "lifetimes" and rows > args.lifetimes_max_rows:
                        continue
                    runs = [run_child(impl, data, unit) for _ in range(args.repeat)]
                    results[impl] = min(runs, key=lambda r: r["seconds"])
                    results[impl]["peak_bytes"] = min(r["peak_bytes"] for r in runs)
                    results[impl]["spread"] = (
                        f"{min(r['seconds'] for r in runs):.2f}-"
                        f"{max(r['seconds'] for r in runs):.2f}"
                    )
                ref = results.get("lifetimes")
                for impl, r in results.items():
                    if ref is not None and impl != "lifetimes":
                        same = (r["checksum"], r["T_sum"], r["customers"]) == (
                            ref["checksum"],
                            ref["T_sum"],
                            ref["customers"],
                        )
                        if not same:
                            raise AssertionError(f"{impl} disagrees with lifetimes: {r} vs {ref}")
                    speed = f"{ref['seconds'] / r['seconds']:.1f}x" if ref else "-"
                    cpu = f"{ref['cpu_seconds'] / r['cpu_seconds']:.1f}x" if ref else "-"
                    memory = f"{ref['peak_bytes'] / r['peak_bytes']:.1f}x" if ref else "-"
                    print(
                        f"{rows:>11,} {unit:>4} {impl:<14} {r['seconds']:>8.2f} "
                        f"{r['cpu_seconds']:>6.2f} {r['peak_bytes'] / 2**20:>8.0f} {speed:>8} "
                        f"{cpu:>6} {memory:>7} {r['spread']:>12}",
                        flush=True,
                    )
    print(
        "seconds: wall time of the call (fastest run); CPU s: its CPU time, all threads; "
        "speed-up (wall), CPU and memory: lifetimes / implementation (higher is better); "
        "peak MB: extra resident memory during the call; wall range: fastest-slowest run"
    )


if __name__ == "__main__":
    main()
