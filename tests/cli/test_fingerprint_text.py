"""The fingerprint of Arrow-backed text columns is that of pandas' row hashes."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clv.cli.files import _hash_values, frame_fingerprint


def _reference(frame: pd.DataFrame) -> str:
    """The fingerprint as defined: column name, dtype, then pandas' hash of every value."""
    digest = hashlib.sha256()
    for name in frame.columns:
        column = frame[name]
        digest.update(f"{name}\x00{column.dtype}\x00".encode())
        digest.update(pd.util.hash_pandas_object(column, index=False).to_numpy().tobytes())
    return "sha256:" + digest.hexdigest()


@pytest.mark.parametrize(
    "dtype", [pd.StringDtype("pyarrow"), pd.StringDtype("pyarrow", na_value=np.nan), object]
)
@pytest.mark.parametrize(
    "ids",
    [
        ["C100042", "C9", "C100042", "C1000000"],  # numbered ids
        ["00042", "00007", "00042"],
        ["ana@example.com", "bo", "ana@example.com", "é", ""],  # free text
        ["C1", None, "C2", "C1"],  # missing values
    ],
)
def test_fingerprint_matches_pandas_hashes(ids: list[str | None], dtype: object) -> None:
    frame = pd.DataFrame(
        {"customer_id": pd.Series(ids, dtype=dtype), "value": np.arange(len(ids), dtype=float)}
    )
    assert frame_fingerprint(frame) == _reference(frame)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=6), min_size=1, max_size=30))
def test_property_text_hashes_match_pandas(values: list[str]) -> None:
    column = pd.Series(values, dtype=pd.StringDtype("pyarrow", na_value=np.nan))
    np.testing.assert_array_equal(
        _hash_values(column), pd.util.hash_pandas_object(column, index=False).to_numpy()
    )
