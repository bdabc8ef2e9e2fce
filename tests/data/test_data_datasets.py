"""Bundled datasets: shapes, dtypes, meaning, fresh copies, no lifetimes import."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clv.data import datasets


def test_cdnow_transactions():
    tx = datasets.load_cdnow_transactions()
    assert list(tx.columns) == ["customer_id", "date", "quantity", "value"]
    assert tx.dtypes.astype(str).tolist() == ["int64", "datetime64[ns]", "int64", "float64"]
    assert tx.shape == (69_659, 4)
    assert tx["customer_id"].nunique() == 23_570
    assert tx.iloc[0].tolist() == [1, pd.Timestamp("1997-01-01"), 1, 11.77]
    assert (tx["date"] == tx["date"].dt.normalize()).all()
    assert int((tx["value"] == 0).sum()) == 80
    assert isinstance(tx.index, pd.RangeIndex)


def test_cdnow_sample_transactions_match_the_summary_ids():
    tx = datasets.load_cdnow_sample_transactions()
    assert list(tx.columns) == ["customer_id", "date", "quantity", "value", "master_customer_id"]
    assert tx.shape == (6_919, 5)
    assert tx.iloc[0].tolist() == [1, pd.Timestamp("1997-01-01"), 2, 29.33, 4]
    summary = datasets.load_cdnow_summary()
    assert sorted(tx["customer_id"].unique()) == summary.index.tolist()
    master = datasets.load_cdnow_transactions()
    # the sample's rows are the master log's rows of the sampled customers
    sampled = master[master["customer_id"].isin(tx["master_customer_id"])]
    assert len(sampled) == len(tx)
    assert np.isclose(sampled["value"].sum(), tx["value"].sum())


def test_cdnow_summary():
    rfm = datasets.load_cdnow_summary()
    assert rfm.shape == (2_357, 4)
    assert rfm.index.name == "customer_id" and rfm.index.dtype == np.int64
    assert list(rfm.columns) == ["frequency", "recency", "T", "period_days"]
    assert (rfm.dtypes == np.float64).all()
    assert rfm.attrs == {"time_unit": "W", "observation_end": "1997-09-30T00:00:00"}
    assert rfm.loc[1].tolist() == [2.0, 30.43, 38.86, 7.0]
    assert int(rfm["frequency"].sum()) == 2_457  # repeat purchases in weeks 1-39 (FHL 2005)


def test_cdnow_summary_with_spend():
    rfm = datasets.load_cdnow_summary_with_spend()
    assert rfm.shape == (2_357, 5)
    assert list(rfm.columns) == ["frequency", "recency", "T", "monetary_value", "period_days"]
    pd.testing.assert_frame_equal(
        rfm[["frequency", "recency", "T", "period_days"]],
        datasets.load_cdnow_summary(),
        check_exact=True,
    )
    repeaters = rfm[rfm["frequency"] > 0]
    assert len(repeaters) == 946  # the Gamma-Gamma sample of Fader, Hardie & Lee
    assert (repeaters["monetary_value"] > 0).all()
    assert (rfm.loc[rfm["frequency"] == 0, "monetary_value"] == 0).all()
    assert rfm.loc[1, "monetary_value"] == 22.35


def test_donations():
    d = datasets.load_donations()
    assert list(d.columns) == ["frequency", "recency", "T", "weight", "period_days"]
    assert (d.dtypes == np.float64).all()
    assert len(d) == 22 and d["weight"].sum() == 11_104
    assert (d["T"] == 6).all()
    assert d.iloc[0].tolist() == [0.0, 0.0, 6.0, 3464.0, 365.2425]
    assert (d["recency"] >= d["frequency"]).all()
    assert d.index.name == "pattern"


@pytest.mark.parametrize(
    "loader",
    [
        datasets.load_cdnow_transactions,
        datasets.load_cdnow_sample_transactions,
        datasets.load_cdnow_summary,
        datasets.load_cdnow_summary_with_spend,
        datasets.load_donations,
    ],
)
def test_each_call_returns_a_fresh_copy(loader):
    first = loader()
    pristine = loader()
    first.iloc[0, 0] = 999
    first.attrs["changed"] = True
    again = loader()
    pd.testing.assert_frame_equal(again, pristine)
    assert "changed" not in again.attrs


def test_missing_file_explains_where_data_comes_from():
    with pytest.raises(FileNotFoundError, match="ship with lifetimes"):
        datasets._lifetimes_file("no_such_file.csv")
