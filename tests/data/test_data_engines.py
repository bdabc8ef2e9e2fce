"""Engines and period codes: pandas, DuckDB and polars agree, codes equal Period ordinals."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from clv.data import engines
from clv.data.datasets import load_cdnow_transactions
from clv.data.engines import ENGINES, period_stats, resolve_engine
from clv.data.rfm import calibration_holdout_split, rfm_summary
from clv.data.transactions import _period_start_ticks, period_codes

IGNORE_DATA_WARNINGS = pytest.mark.filterwarnings("ignore::clv.exceptions.DataWarning")
#: The engines that must reproduce ``engine="pandas"`` exactly.
OTHER_ENGINES = ("duckdb", "polars")


def assert_identical(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Same index, columns, dtypes, values (bit for bit) and attrs."""
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert a.attrs == b.attrs


def test_period_stats_engines_agree(rng):
    codes = rng.integers(0, 300, 5_000)
    periods = rng.integers(-50, 200, 5_000)
    n = 310  # ten customers without rows
    unsorted = period_stats(codes, periods, n, engine="pandas")
    order = np.lexsort((periods, codes))
    presorted = period_stats(codes[order], periods[order], n, engine="pandas", presorted=True)
    others = [period_stats(codes, periods, n, engine=e) for e in OTHER_ENGINES]
    for stats in (presorted, *others):
        for field in ("n_periods", "first", "last"):
            np.testing.assert_array_equal(getattr(stats, field), getattr(unsorted, field))
    frame = pd.DataFrame({"c": codes, "p": periods})
    expected = frame.groupby("c")["p"].agg(["nunique", "min", "max"]).reindex(range(n))
    np.testing.assert_array_equal(unsorted.n_periods, expected["nunique"].fillna(0))
    np.testing.assert_array_equal(unsorted.first, expected["min"].fillna(0))
    np.testing.assert_array_equal(unsorted.last, expected["max"].fillna(0))


@pytest.mark.parametrize(
    ("n", "low", "high"),
    [(300, -50, 200), (300, -(2**40), 2**40), (2**20, 0, 2**44)],
    ids=["32-bit key", "64-bit key", "unpacked"],
)
def test_period_stats_polars_key_widths(n, low, high, rng):
    """The polars engine packs (customer, period) into 32 or 64 bits, or not at all."""
    codes = rng.integers(0, n, 3_000)
    periods = rng.integers(low, high, 3_000)
    codes[:300], periods[:300] = codes[300:600], periods[300:600]  # repeated pairs
    expected = period_stats(codes, periods, n + 5, engine="pandas")
    stats = period_stats(codes, periods, n + 5, engine="polars")
    for field in ("n_periods", "first", "last"):
        np.testing.assert_array_equal(getattr(stats, field), getattr(expected, field))
        assert getattr(stats, field).dtype == np.int64


def test_period_stats_of_no_rows():
    stats = period_stats(np.array([], dtype=np.int64), np.array([], dtype=np.int64), 3)
    assert stats.n_periods.tolist() == [0, 0, 0]


@IGNORE_DATA_WARNINGS
@pytest.mark.parametrize("engine", OTHER_ENGINES)
@pytest.mark.parametrize("time_unit", ["D", "W", "M", "Q", "Y"])
def test_rfm_engines_identical_on_cdnow(time_unit, engine):
    tx = load_cdnow_transactions()
    common = {
        "customer_id_col": "customer_id",
        "date_col": "date",
        "value_col": "value",
        "time_unit": time_unit,
    }
    a = rfm_summary(tx, engine="pandas", **common)
    assert_identical(a, rfm_summary(tx, engine=engine, **common))
    assert_identical(a, rfm_summary(tx, engine="auto", **common))
    a = calibration_holdout_split(tx, engine="pandas", calibration_end="1997-12-31", **common)
    b = calibration_holdout_split(tx, engine=engine, calibration_end="1997-12-31", **common)
    assert_identical(a, b)


@st.composite
def small_logs(draw: st.DrawFn) -> pd.DataFrame:
    """Up to 6 customers and 40 rows over ~3 years (hours, cents; duplicates allowed)."""
    rows = draw(
        st.lists(
            st.tuples(
                st.integers(0, 5),  # customer
                st.integers(0, 1_100),  # day: spans month, quarter and year boundaries
                st.integers(0, 23),  # hour
                st.integers(0, 20_000),  # cents (0 allowed)
            ),
            min_size=1,
            max_size=40,
        )
    )
    customer, day, hour, cents = (np.array(col) for col in zip(*rows, strict=True))
    start = pd.Timestamp("2023-12-20")
    return pd.DataFrame(
        {
            "id": customer * 11 + 5,
            "date": start + pd.to_timedelta(day * 24 + hour, unit="h"),
            "value": cents / 100.0,
        }
    )


@IGNORE_DATA_WARNINGS
@settings(max_examples=40, deadline=None, database=None)
@given(
    tx=small_logs(),
    unit=st.sampled_from(["D", "W", "M", "Q", "Y"]),
    cut=st.integers(0, 1_100),
)
def test_engines_identical_property(tx, unit, cut):
    common = {"customer_id_col": "id", "date_col": "date", "value_col": "value", "time_unit": unit}
    expected = rfm_summary(tx, engine="pandas", **common)
    for engine in (*OTHER_ENGINES, "auto"):
        assert_identical(expected, rfm_summary(tx, engine=engine, **common))
    cal_end = pd.Timestamp("2023-12-20") + pd.Timedelta(days=cut)
    assume(cal_end >= tx["date"].min())  # else there is no calibration period (an error)
    expected = calibration_holdout_split(
        tx, engine="pandas", calibration_end=cal_end, observation_end="2027-01-01", **common
    )
    for engine in OTHER_ENGINES:
        split = calibration_holdout_split(
            tx, engine=engine, calibration_end=cal_end, observation_end="2027-01-01", **common
        )
        assert_identical(expected, split)


def test_resolve_engine():
    assert ENGINES == ("auto", "pandas", "duckdb", "polars")
    assert resolve_engine("auto") == "pandas"
    for engine in ("pandas", "duckdb", "polars"):
        assert resolve_engine(engine) == engine
    with pytest.raises(ValueError, match="'spark' is not one of"):
        resolve_engine("spark")
    with pytest.raises(ValueError, match="'spark' is not one of"):
        rfm_summary(
            pd.DataFrame({"id": [1], "t": pd.to_datetime(["2024-01-01"])}),
            customer_id_col="id",
            date_col="t",
            engine="spark",
        )


def test_polars_engine_without_polars_says_how_to_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "polars", None)  # `import polars` now raises ImportError
    with pytest.raises(ImportError, match='engine="polars" needs polars'):
        engines.period_stats(np.array([0]), np.array([1]), 1, engine="polars")


@pytest.mark.parametrize("time_unit", ["D", "W", "M", "Q", "Y"])
@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_period_codes_are_pandas_ordinals(time_unit, unit, rng):
    seconds = rng.integers(-(40 * 365 * 86_400), 60 * 365 * 86_400, 2_000)
    dates = pd.DatetimeIndex(seconds.astype("datetime64[s]").astype(f"datetime64[{unit}]"))
    expected = dates.to_period(time_unit).asi8
    np.testing.assert_array_equal(period_codes(dates, time_unit), expected)
    np.testing.assert_array_equal(period_codes(pd.Series(dates), time_unit), expected)


@pytest.mark.parametrize("time_unit", ["D", "W", "M", "Q", "Y"])
def test_period_start_ticks_invert_period_codes(time_unit):
    codes = np.arange(-250, 250)  # years stay inside the datetime64[ns] range
    for unit in ("s", "ns"):
        start = _period_start_ticks(codes, unit, time_unit)
        first = start.view(f"datetime64[{unit}]")
        before = (start - 1).view(f"datetime64[{unit}]")
        np.testing.assert_array_equal(period_codes(first, time_unit), codes)
        np.testing.assert_array_equal(period_codes(before, time_unit), codes - 1)


def test_period_codes_reject_bad_input():
    with pytest.raises(ValueError, match="timezone-aware"):
        period_codes(pd.Series(pd.date_range("2024-01-01", periods=2, tz="UTC")), "D")
    with pytest.raises(ValueError, match="NaT"):
        period_codes(pd.to_datetime(["2024-01-01", None]), "D")
    with pytest.raises(ValueError, match="time_unit='H'"):
        period_codes(pd.to_datetime(["2024-01-01"]), "H")


def test_import_and_dataset_loading_stay_light():
    """``import clv.data`` and the loaders import neither DuckDB nor polars (lazy, per
    engine call) nor lifetimes (located with importlib, never imported: it changes pandas
    options); nor does a small ``rfm_summary`` with ``engine="auto"``."""
    code = (
        "import sys, clv; from clv.data import datasets as d; d.load_cdnow_summary(); "
        "tx = d.load_cdnow_transactions(); d.load_donations(); "
        "from clv.data import rfm_summary; "
        "rfm_summary(tx.head(200), customer_id_col='customer_id', date_col='date'); "
        "mods = ('duckdb', 'polars', 'lifetimes', 'matplotlib'); "
        "print(sorted(m for m in mods if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_large_sparse_customer_ids_and_sub_second_times():
    """Exercise the non-compact id path and the 64-bit sort key."""
    rng = np.random.default_rng(3)
    n = 20_000
    ids = rng.choice(rng.integers(0, 2**60, 3_000), n)
    ticks = rng.integers(0, 10**15, n)  # nanoseconds over ~11 days
    tx = pd.DataFrame({"id": ids, "t": ticks.astype("datetime64[ns]"), "v": rng.random(n) + 0.1})
    common = {"customer_id_col": "id", "date_col": "t", "value_col": "v", "time_unit": "D"}
    a = rfm_summary(tx, engine="pandas", **common)
    for engine in OTHER_ENGINES:
        assert_identical(a, rfm_summary(tx, engine=engine, **common))
    day = tx["t"].dt.floor("D")
    g = tx.assign(day=day).groupby("id")["day"]
    expected_freq = g.nunique() - 1
    np.testing.assert_array_equal(a["frequency"], expected_freq.astype(float))


@IGNORE_DATA_WARNINGS
def test_lexsort_fallback_when_the_sort_key_needs_more_than_63_bits():
    rng = np.random.default_rng(4)
    n = 40_000
    ids = np.arange(n) % 20_000  # 15 bits of customers
    ticks = rng.integers(0, 2**51, n)  # 51 bits of nanoseconds (26 days)
    ticks[:10] = ticks[10:20]
    ids[:10] = ids[10:20]  # ten exact duplicates
    tx = pd.DataFrame({"id": ids, "t": ticks.astype("datetime64[ns]")})
    a = rfm_summary(tx, customer_id_col="id", date_col="t", time_unit="D", engine="pandas")
    for engine in OTHER_ENGINES:
        b = rfm_summary(tx, customer_id_col="id", date_col="t", time_unit="D", engine=engine)
        assert_identical(a, b)
    day = tx["t"].dt.floor("D")
    expected = tx.assign(day=day).groupby("id")["day"].nunique() - 1
    np.testing.assert_array_equal(a["frequency"], expected.astype(float))
