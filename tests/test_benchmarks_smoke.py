"""Every benchmark script runs end to end in its ``--quick`` mode (tiny sizes, no peers).

The benchmarks are not run by the fast test suite, so a change in the package
(a renamed function, a new validation rule) can break them unnoticed; this
runs each once in a subprocess (two at a time), as a user would, and checks
its exit status and that it printed its result lines.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"

# script -> regular expressions that its output must contain (one result line each)
EXPECTED: dict[str, list[str]] = {
    "bench_bayes.py": [r"clv\.bayes\s+BG/NBD CDNOW \(2,357\)\s+pymc\s+[\d.]+ s"],
    "bench_bayes_pareto.py": [
        r"logp \+ gradient at MLE\s+[\d.]+ ms CPU, of which 2F1",
        r"clv\.bayes\s+[\d.]+ s wall,\s+[\d.]+ s CPU",
    ],
    "bench_bayes_scoring.py": [r"posterior model file: ", r"^score\s+10\s+0\.002\s+[\d.]+"],
    "bench_bgnbd.py": [
        r"BG/NBD fit, CDNOW \(2,357 customers\)\s+[\d.]+s\s+n/a",
        r"score 5,000: E\[purchases, 52\] \+ P\(alive\) \+ CLV\(52\)\s+[\d.]+s",
    ],
    "bench_cx_roi.py": [
        r"Pareto/NBD, no covariates\s+[\d.]+",
        r"sensitivity \(margin, rate, horizon, effect\)\s+[\d.]+",
    ],
    "bench_dyncov.py": [r"B \(150 customers\) clv [\d.]+s, log-likelihood -[\d.]+"],
    "bench_gamma_gamma.py": [
        r"fit \(CDNOW, 946 repeat buyers\)\s+[\d.]+\s+n/a",
        r"CLV, horizon 52 \(CDNOW, 2,357\)\s+[\d.]+",
    ],
    "bench_mbgnbd_bgbb.py": [
        r"MBG/NBD fit, CDNOW \(2,357 customers\)\s+[\d.]+s",
        r"BG/BB score 2,000 x 12: E\[purchases, 10\] \+ P\(alive\)\s+[\d.]+s",
    ],
    "bench_pareto_nbd.py": [
        r"Pareto/NBD fit, CDNOW \(2,357 customers\)\s+[\d.]+s",
        r"score 5,000: DERT .*\s+[\d.]+s",
    ],
    "bench_rfm.py": [r"20,000\s+W\s+clv-pandas\s+[\d.]+", r"20,000\s+W\s+clv-duckdb\s+[\d.]+"],
    "bench_roi.py": [r"2,000 customers, \d+ investments, 20 draws", r"^evaluate\s+[\d.]+"],
    "bench_scoring_job.py": [r"log: 20,000 rows, 2,000 customers", r"^summary\s+[\d.]+"],
    "bench_spark.py": [r"2,000 customers, pandas -> Parquet\s+wall\s+[\d.]+ s"],
}


def test_every_benchmark_script_has_a_smoke_run() -> None:
    scripts = {p.name for p in BENCHMARKS.glob("bench_*.py")}
    assert scripts == set(EXPECTED)
    for name in scripts:
        assert "--quick" in (BENCHMARKS / name).read_text(), name


def _run(script: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.fixture(scope="module")
def runs(request: pytest.FixtureRequest) -> dict[str, subprocess.CompletedProcess[str]]:
    """The quick runs of the selected scripts, two at a time (most are one busy process)."""
    wanted = {
        item.callspec.params["script"]
        for item in request.session.items
        if item.module is request.module
        and hasattr(item, "callspec")
        and "script" in item.callspec.params
    }
    slow_first = sorted(wanted, key=lambda name: ("bayes" not in name, name))
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(slow_first, pool.map(_run, slow_first), strict=True))


@pytest.mark.parametrize("script", sorted(EXPECTED))
def test_benchmark_quick_run(
    script: str, runs: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    proc = runs[script]
    assert proc.returncode == 0, f"{script} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    for pattern in EXPECTED[script]:
        assert re.search(pattern, proc.stdout, re.MULTILINE), (
            f"{script}: no line matching {pattern!r} in its output:\n{proc.stdout[-3000:]}"
        )
