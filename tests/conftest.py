"""Shared fixtures: seeded generators, bundled data sets, hypothesis profiles."""

from __future__ import annotations

import os
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")

settings.register_profile(
    "dev", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci",
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> np.random.Generator:
    """A generator seeded from the test's name: fixed per test, different across tests."""
    seed = sum(ord(ch) * (i + 1) for i, ch in enumerate(request.node.nodeid)) % (2**32)
    return np.random.default_rng(seed)


@pytest.fixture(scope="session")
def cdnow_rfm() -> pd.DataFrame:
    """The 2,357-customer CDNOW sample, 39-week calibration (FHL 2005)."""
    from lifetimes.datasets import load_cdnow_summary

    frame = load_cdnow_summary(index_col=[0]).astype(float)
    frame.index.name = "customer_id"
    frame.attrs["time_unit"] = "W"
    return frame


@pytest.fixture
def close_figures():
    """Close every matplotlib figure a plotting test opened."""
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


# ---------------------------------------------------------------------- Bayesian tests
_BAYES_FILTERS = (
    # PyTensor warns once that it found no BLAS library (pip install); it only slows matrix ops
    "ignore:PyTensor could not link to a BLAS:UserWarning",
    # ArviZ >= 0.22 announces its 1.0 refactor with a FutureWarning
    "ignore:ArviZ is undergoing:FutureWarning",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Warning filters every test of ``tests/bayes`` needs (PyMC/ArviZ import-time notices)."""
    for item in items:
        if "tests/bayes/" in item.nodeid.replace("\\", "/"):
            for f in _BAYES_FILTERS:
                item.add_marker(pytest.mark.filterwarnings(f))


@pytest.fixture(scope="session")
def cdnow() -> pd.DataFrame:
    """CDNOW RFM summary as bundled (2,357 customers)."""
    from clv.data.datasets import load_cdnow_summary

    return load_cdnow_summary()


@pytest.fixture(scope="session")
def cdnow_spend() -> pd.DataFrame:
    """CDNOW RFM summary with ``monetary_value``."""
    from clv.data.datasets import load_cdnow_summary_with_spend

    return load_cdnow_summary_with_spend()


@pytest.fixture(scope="session")
def spark():
    """One local Spark session shared by every Spark test (each start costs seconds)."""
    pytest.importorskip("pyspark")
    from clv.spark import local_session

    session = local_session(2, shuffle_partitions=4)
    yield session
    session.stop()


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On a pytest-xdist worker, hand the summary lines to the controller that prints them."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["clv_summaries"] = list(getattr(session.config, "clv_summaries", []))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """Collect the summary lines of a finished pytest-xdist worker."""
    lines = getattr(node, "workeroutput", {}).get("clv_summaries", [])
    node.config.clv_summaries = [*getattr(node.config, "clv_summaries", []), *lines]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the summary lines tests left in ``config.clv_summaries`` (e.g. the fuzz totals)."""
    for line in getattr(terminalreporter.config, "clv_summaries", []):
        terminalreporter.write_line(line)
