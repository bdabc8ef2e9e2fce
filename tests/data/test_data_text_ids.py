"""Text customer ids: the numbered-id fast path gives exactly pandas.factorize(sort=True)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clv.data.rfm import rfm_summary
from clv.data.transactions import _factorize_customers, _factorize_numbered_text

ARROW = pd.StringDtype("pyarrow")
ARROW_NAN = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' default ``str``


def _expected(values: list[str], dtype: pd.StringDtype) -> tuple[np.ndarray, pd.Index]:
    codes, uniques = pd.factorize(pd.Series(values, dtype=dtype), sort=True)
    return codes, pd.Index(uniques, name="customer_id")


def _check_same(values: list[str], dtype: pd.StringDtype = ARROW_NAN) -> None:
    codes, uniques = _factorize_customers(pd.Series(values, dtype=dtype))
    want_codes, want_uniques = _expected(values, dtype)
    assert codes.dtype == np.int64
    np.testing.assert_array_equal(codes, want_codes)
    pd.testing.assert_index_equal(uniques, want_uniques, exact=True)


@pytest.mark.parametrize(
    "values",
    [
        ["C100042", "C9", "C100042", "C1000000", "C10"],  # prefix, no leading zeros
        ["CUST-000042", "CUST-000007", "CUST-000042", "CUST-100000"],  # zero-padded, one width
        ["00042", "00007", "10000", "00042"],  # digits only (CSV ids read as text)
        ["42", "7", "0", "100", "7"],  # digits only, a lone zero
        ["é-3", "é-20", "é-3"],  # non-ASCII prefix
        ["C1", "C99999999999", "C5"],  # a sparse range: hashed numbers
        ["ID123456789012345678", "ID1"],  # 18 digits
        ["x"],  # one id
    ],
)
@pytest.mark.parametrize("dtype", [ARROW, ARROW_NAN])
def test_numbered_ids_match_pandas(values: list[str], dtype: pd.StringDtype) -> None:
    assert _factorize_numbered_text(pd.Series(values, dtype=dtype)) is not None or values == ["x"]
    _check_same(values, dtype)


@pytest.mark.parametrize(
    "values",
    [
        ["C042", "C42", "C7"],  # '042' and '42' are two customers with one number
        ["C1", "D2"],  # two prefixes
        ["C1", "C"],  # an id without digits
        ["C1a", "C2a"],  # digits not at the end
        ["C1234567890123456789", "C1"],  # 19 digits: beyond int64
        ["C١٢", "C1"],  # non-ASCII digits
        ["C1", "C+2"],  # a sign is not a digit
    ],
)
def test_other_ids_fall_back_to_pandas(values: list[str]) -> None:
    assert _factorize_numbered_text(pd.Series(values, dtype=ARROW_NAN)) is None
    _check_same(values)


def test_missing_ids_and_other_dtypes_are_not_taken() -> None:
    assert _factorize_numbered_text(pd.Series(["C1", None], dtype=ARROW)) is None
    assert _factorize_numbered_text(pd.Series(["C1", "C2"], dtype=object)) is None
    assert _factorize_numbered_text(pd.Series(["C1"], dtype=ARROW).iloc[:0]) is None


@settings(max_examples=60, deadline=None)
@given(
    prefix=st.sampled_from(["", "C", "cust_", "0", "Z9x"]),
    numbers=st.lists(st.integers(0, 10**7), min_size=1, max_size=40),
    width=st.sampled_from([None, 8]),
)
def test_property_numbered_ids_match_pandas(
    prefix: str, numbers: list[int], width: int | None
) -> None:
    digits = [str(n) if width is None else str(n).zfill(width) for n in numbers]
    _check_same([prefix + d for d in digits])


def test_rfm_summary_same_with_arrow_and_object_ids() -> None:
    rng = np.random.default_rng(3)
    n = 2_000
    numbers = rng.integers(0, 300, n)
    frame = pd.DataFrame(
        {
            "customer_id": pd.array([f"C{k}" for k in numbers], dtype=ARROW_NAN),
            "date": pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 365, n), "D"),
            "value": rng.gamma(2.0, 10.0, n),
        }
    )
    as_objects = frame.astype({"customer_id": object})
    fast = rfm_summary(
        frame, customer_id_col="customer_id", date_col="date", value_col="value", time_unit="W"
    )
    slow = rfm_summary(
        as_objects, customer_id_col="customer_id", date_col="date", value_col="value", time_unit="W"
    )
    assert list(fast.index) == sorted({f"C{k}" for k in numbers})
    pd.testing.assert_frame_equal(fast, slow, check_index_type=False)
    assert fast.index.dtype == frame["customer_id"].dtype
