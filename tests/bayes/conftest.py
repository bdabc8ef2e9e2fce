"""Shared set-up of the Bayesian tests: warning filters and the CDNOW frames."""

from __future__ import annotations

import pandas as pd
import pytest

from clv.datasets import load_cdnow_summary, load_cdnow_summary_with_spend

_FILTERS = (
    # PyTensor warns once that it found no BLAS library (pip install); it only slows matrix ops
    "ignore:PyTensor could not link to a BLAS:UserWarning",
    # ArviZ >= 0.22 announces its 1.0 refactor with a FutureWarning
    "ignore:ArviZ is undergoing:FutureWarning",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/bayes/" in item.nodeid.replace("\\", "/"):
            for f in _FILTERS:
                item.add_marker(pytest.mark.filterwarnings(f))


@pytest.fixture(scope="session")
def cdnow() -> pd.DataFrame:
    """CDNOW RFM summary (2,357 customers)."""
    return load_cdnow_summary()


@pytest.fixture(scope="session")
def cdnow_spend() -> pd.DataFrame:
    """CDNOW RFM summary with ``monetary_value``."""
    return load_cdnow_summary_with_spend()
