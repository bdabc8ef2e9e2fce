"""Benchmark: ``clv fit|score --engine spark`` in local mode, on CDNOW and a 1M-customer log.

Two measurements, each ``clv`` command run in a fresh process (so the JVM start
is included) and compared with the pandas engine on the same job:

``cdnow``
    The CDNOW log (69,659 transactions, 23,570 customers) as CSV; a BG/NBD +
    Gamma-Gamma bundle fitted by ``clv fit`` with either engine (the bundles'
    parameters are compared); ``clv score --engine spark`` to a CSV file
    (collected to the driver, same writer as the pandas engine).
``large``
    ``--rows`` transactions of ``--customers`` customers with integer ids (the
    simulation of ``bench_scoring_job.py``) in a Parquet file;
    ``clv score --engine spark`` to a Parquet directory written by Spark
    (``--out scores/``) and to one Parquet file (collected).

Printed per run: the wall time of the process and the step timings of its run
record. Spark evaluates lazily: ``summarise`` is the check pass (one
aggregation, plus one for exact duplicates) and the summary's warnings (the
summary is computed and cached then); scoring runs in ``score``. For ``fit``,
``collect`` brings the summary to the driver.

Usage::

    python benchmarks/bench_spark.py                       # both, local[2]
    python benchmarks/bench_spark.py --only cdnow
    python benchmarks/bench_spark.py --rows 1000000 --customers 100000
    python benchmarks/bench_spark.py --quick   # smoke: 20,000 rows, pandas engine only

``--quick`` runs only the pandas-engine side of ``large`` (``clv fit`` and ``clv score``)
on a small log, without Spark.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_scoring_job import AS_OF, write_log  # noqa: E402


def clv(*argv: str, env: dict[str, str]) -> float:
    """Run ``python -m clv ...``; return the wall time (raise on failure)."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "clv", *argv, "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(
            f"clv {' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
        )
    return wall


def report(label: str, wall: float, record_path: Path) -> None:
    record = json.loads(record_path.read_text())
    steps = ", ".join(f"{k} {v:.2f}" for k, v in record["timings_s"].items())
    print(f"{label:<44} wall {wall:7.2f} s | {steps}", flush=True)


def bench_cdnow(tmp: Path, env: dict[str, str], master: str) -> None:
    from clv.data.datasets import load_cdnow_transactions

    csv = tmp / "cdnow.csv"
    load_cdnow_transactions()[["customer_id", "date", "value"]].to_csv(csv, index=False)
    model = tmp / "cdnow_model.json"
    fit = ["fit", str(csv), "--value-col", "value", "--as-of", "1998-06-30"]
    report(
        "CDNOW fit, pandas engine",
        clv(*fit, "--out", str(model), env=env),
        Path(f"{model}.run.json"),
    )
    model_spark = tmp / "cdnow_model_spark.json"
    wall = clv(
        *fit, "--out", str(model_spark), "--engine", "spark", "--spark-master", master, env=env
    )
    report(f"CDNOW fit, Spark {master}", wall, Path(f"{model_spark}.run.json"))
    params = [
        json.loads(p.read_text())["transaction_model"]["params"] for p in (model, model_spark)
    ]
    worst = max(abs(params[1][k] / params[0][k] - 1) for k in params[0])
    print(f"  largest relative difference of the BG/NBD parameters: {worst:.1e}")
    job = ["score", str(csv), "--model", str(model), "--as-of", "1998-06-30", "--horizon", "52"]
    out = tmp / "cdnow_pandas.csv"
    report(
        "CDNOW, pandas engine -> CSV",
        clv(*job, "--out", str(out), env=env),
        Path(f"{out}.run.json"),
    )
    out_spark = tmp / "cdnow_spark.csv"
    wall = clv(
        *job, "--out", str(out_spark), "--engine", "spark", "--spark-master", master, env=env
    )
    report(f"CDNOW, Spark {master} -> CSV", wall, Path(f"{out_spark}.run.json"))
    same = out.read_bytes() == out_spark.read_bytes()
    print(f"  Spark CSV byte-identical to the pandas CSV: {same}")


def bench_large(
    tmp: Path, env: dict[str, str], master: str, rows: int, customers: int, *, spark: bool = True
) -> None:
    log = tmp / "tx.parquet"
    start = time.perf_counter()
    write_log(log, rows, customers, string_ids=False)
    print(
        f"simulated {rows:,} transactions of {customers:,} customers in "
        f"{time.perf_counter() - start:.1f} s",
        flush=True,
    )
    model = tmp / "model.json"
    clv("fit", str(log), "--value-col", "value", "--as-of", AS_OF, "--out", str(model), env=env)
    job = ["score", str(log), "--model", str(model), "--as-of", AS_OF, "--horizon", "52"]
    out = tmp / "pandas.parquet"
    report(
        f"{customers:,} customers, pandas -> Parquet",
        clv(*job, "--out", str(out), env=env),
        Path(f"{out}.run.json"),
    )
    if not spark:
        return
    spark_args = ["--engine", "spark", "--spark-master", master]
    out_dir = tmp / "spark_scores"
    wall = clv(*job, "--out", f"{out_dir}/", *spark_args, env=env)
    report(f"{customers:,} customers, Spark {master} -> dir/", wall, tmp / "spark_scores.run.json")
    out_file = tmp / "spark.parquet"
    wall = clv(*job, "--out", str(out_file), *spark_args, env=env)
    report(
        f"{customers:,} customers, Spark {master} -> Parquet", wall, Path(f"{out_file}.run.json")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("cdnow", "large"))
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--driver-memory", default="4g")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: small log, pandas engine only, no Spark"
    )
    args = parser.parse_args()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env["PYSPARK_SUBMIT_ARGS"] = f"--driver-memory {args.driver_memory} pyspark-shell"
    with tempfile.TemporaryDirectory(prefix="clv-bench-spark-") as tmpdir:
        tmp = Path(tmpdir)
        if args.quick:
            bench_large(tmp, env, args.master, 20_000, 2_000, spark=False)
            return
        if args.only in (None, "cdnow"):
            bench_cdnow(tmp, env, args.master)
        if args.only in (None, "large"):
            bench_large(tmp, env, args.master, args.rows, args.customers)


if __name__ == "__main__":
    main()
