"""Shared fixtures: seeded generators, bundled data sets, hypothesis profiles."""

from __future__ import annotations

import os

import matplotlib
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")

settings.register_profile("dev", max_examples=50, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", max_examples=300, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
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
