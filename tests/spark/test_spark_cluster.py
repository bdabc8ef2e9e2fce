"""``clv score --engine spark`` on a real standalone Spark cluster (a master and two workers).

The cluster runs on localhost, started and stopped by the test with the launcher
that ships inside the ``pyspark`` wheel (``bin/spark-class``): a master and two
workers of one core each, separate JVMs talking over the network, as on a
real cluster. The job runs in a fresh process (a local session of another test
must not be reused), and its scores must equal the pandas engine's.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark")
pytest.importorskip("pyarrow")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("the Spark tests need Java (17+)", allow_module_level=True)

from clv.cli.main import main
from clv.data.datasets import load_cdnow_transactions

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

N_WORKERS = 2
START_TIMEOUT_S = 120.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def _alive_workers(ui_port: int) -> int:
    """Number of ALIVE workers the master's status page lists (0 while it is starting)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=2) as resp:
            status = json.load(resp)
    except OSError:
        return 0
    return sum(1 for w in status.get("workers", []) if w.get("state") == "ALIVE")


@contextlib.contextmanager
def standalone_cluster(work: Path) -> Iterator[str]:
    """Start a master and ``N_WORKERS`` one-core workers on localhost; yield the master URL."""
    home = _spark_home()
    spark_class = home / "bin" / "spark-class"
    if not spark_class.exists():
        pytest.skip(f"the pyspark install has no {spark_class}")
    port, ui_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "SPARK_HOME": str(home),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "SPARK_LOG_DIR": str(work / "logs"),
        "SPARK_WORKER_DIR": str(work / "workers"),
        "PYSPARK_PYTHON": sys.executable,
    }
    url = f"spark://127.0.0.1:{port}"
    procs: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []

    def launch(name: str, *args: str) -> None:
        log = work / f"{name}.log"
        logs.append(log)
        with log.open("wb") as out:
            procs.append(
                subprocess.Popen(
                    [str(spark_class), *args],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: stopped as one
                )
            )

    try:
        launch(
            "master",
            "org.apache.spark.deploy.master.Master",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--webui-port",
            str(ui_port),
        )
        for i in range(N_WORKERS):
            launch(
                f"worker{i}",
                "org.apache.spark.deploy.worker.Worker",
                url,
                "--host",
                "127.0.0.1",
                "--cores",
                "1",
                "--memory",
                "1g",
                "--webui-port",
                str(_free_port()),
                "--work-dir",
                str(work / f"worker{i}"),
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while _alive_workers(ui_port) < N_WORKERS:
            dead = [p.args[1] for p in procs if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                tail = "\n".join(log.read_text(errors="replace")[-2000:] for log in logs)
                pytest.fail(f"the standalone cluster did not start ({dead or 'timeout'}):\n{tail}")
            time.sleep(0.5)
        yield url
    finally:
        for p in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)


def test_score_on_a_standalone_cluster_equals_pandas(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Fit once (pandas), score with pandas and on the cluster: the same scores, to 1e-9."""
    data = tmp_path / "cdnow.csv"
    tx = load_cdnow_transactions()[["customer_id", "date", "value"]]
    tx[tx["customer_id"] <= 5000].to_csv(data, index=False)  # 5,000 customers: bounded time
    bundle = tmp_path / "model.json"
    common = ["--as-of", "1998-06-30", "--quiet"]
    scoring = ["--horizon", "52", *common]
    assert main(["fit", str(data), "--value-col", "value", "--out", str(bundle), *common]) == 0
    want_path = tmp_path / "pandas.csv"
    score = ["score", str(data), "--model", str(bundle)]
    assert main([*score, "--out", str(want_path), *scoring]) == 0

    got_path = tmp_path / "cluster.csv"
    with standalone_cluster(tmp_path) as url:
        cluster = ["--engine", "spark", "--spark-master", url]
        started = time.perf_counter()
        job = subprocess.run(
            [sys.executable, "-m", "clv", *score, "--out", str(got_path), *cluster, *scoring],
            env={**os.environ, "PYSPARK_PYTHON": sys.executable},
            capture_output=True,
            text=True,
            timeout=400,
        )
        seconds = time.perf_counter() - started  # includes the JVM start of the driver
    assert job.returncode == 0, job.stderr[-3000:]
    record = json.loads((tmp_path / "cluster.csv.run.json").read_text())
    assert record["input"]["spark_master"] == url  # ran on the cluster, not a local session
    want = pd.read_csv(want_path).sort_values("customer_id").reset_index(drop=True)
    got = pd.read_csv(got_path).sort_values("customer_id").reset_index(drop=True)
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want) == 5000
    numeric = want.select_dtypes("number").columns
    np.testing.assert_allclose(
        got[numeric].to_numpy(float), want[numeric].to_numpy(float), rtol=1e-9, atol=1e-12
    )
    steps = ", ".join(f"{k} {v:.1f} s" for k, v in record["timings_s"].items())
    # printed at the end of the run by tests/conftest.py (pytest_terminal_summary)
    request.config.clv_summaries = [
        *getattr(request.config, "clv_summaries", []),
        f"standalone Spark cluster ({N_WORKERS} workers x 1 core): 5,000 customers scored "
        f"in {seconds:.1f} s ({steps})",
    ]
