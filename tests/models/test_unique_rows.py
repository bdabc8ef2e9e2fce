"""Compression of identical rows: distinct rows in order of first appearance, exact counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clv.models._mle import compress, unique_rows


def _reference(cols: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    """Distinct rows by hashing whole tuples (slow and plain): codes in order of appearance."""
    codes, uniques = pd.factorize(pd.Series(list(zip(*cols, strict=True))), sort=False)
    rows = np.array(list(uniques), dtype=np.float64).reshape(len(uniques), len(cols))
    return [rows[:, j] for j in range(len(cols))], codes


def _cases() -> dict[str, list[np.ndarray]]:
    rng = np.random.default_rng(12)
    n = 20_000
    T = rng.integers(1, 730, n).astype(float)
    return {
        # counts and day-granular times: dense codes, one int32 key
        "days": [rng.integers(0, 30, n).astype(float), np.floor(T * rng.random(n)), T],
        # fractional values: hashed codes
        "fractions": [rng.integers(0, 9, n).astype(float), rng.random(n).round(2), T / 7.0],
        # spans whose product does not fit int32: one int64 key
        "wide": [
            rng.integers(0, 15_000, n).astype(float),
            rng.integers(0, 19_000, n).astype(float),
            rng.integers(0, 12_000, n).astype(float),
        ],
        # more combinations than int64 holds: the key is refactorised along the way
        "huge": [rng.random(n).round(3) * 1e9 + j for j in range(7)],
        # negative whole numbers and a constant column
        "negative": [rng.integers(-3, 3, n).astype(float), np.full(n, 2.0)],
    }


@pytest.mark.parametrize("case", sorted(_cases()))
def test_unique_rows_are_the_distinct_rows_in_order_of_appearance(case: str) -> None:
    cols = _cases()[case]
    rows, key = unique_rows(cols)
    want_rows, want_key = _reference(cols)
    np.testing.assert_array_equal(key, want_key)
    assert key.dtype == np.intp
    for got, want in zip(rows, want_rows, strict=True):
        np.testing.assert_array_equal(got, want)
    for got, col in zip(rows, cols, strict=True):
        np.testing.assert_array_equal(got[key], col)  # every row is its distinct row


def test_compress_counts_and_weights() -> None:
    cols = _cases()["days"]
    rows, counts = compress(cols)
    want_rows, key = unique_rows(cols)
    for got, want in zip(rows, want_rows, strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(counts, np.bincount(key).astype(float))
    assert counts.dtype == np.float64 and counts.sum() == len(cols[0])
    w = np.random.default_rng(1).random(len(cols[0]))
    _, weighted = compress(cols, w)
    np.testing.assert_allclose(weighted, np.bincount(key, weights=w), rtol=0, atol=0)
