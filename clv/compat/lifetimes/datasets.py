"""lifetimes' ``datasets`` loaders, reading the files that ship with the lifetimes package.

The frames are lifetimes' raw layouts (``load_cdnow_summary()`` has columns
``ID, frequency, recency, T``); clv's own loaders (:mod:`clv.data.datasets`)
return RFM frames indexed by ``customer_id`` with the time unit recorded.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from clv.data.datasets import _lifetimes_file

__all__ = [
    "load_cdnow_summary",
    "load_cdnow_summary_data_with_monetary_value",
    "load_dataset",
    "load_donations",
    "load_transaction_data",
]


def load_dataset(filename: str, **kwargs: Any) -> pd.DataFrame:
    """Read ``filename`` from lifetimes' datasets folder with ``pandas.read_csv(**kwargs)``."""
    return pd.read_csv(_lifetimes_file(filename), **kwargs)


def load_donations(**kwargs: Any) -> pd.DataFrame:
    """Donations (BG/BB) data: ``frequency, recency, periods, weights``."""
    return load_dataset("donations.csv", **kwargs)


def load_cdnow_summary(**kwargs: Any) -> pd.DataFrame:
    """CDNOW 2,357-customer summary: ``ID, frequency, recency, T`` (weeks)."""
    return load_dataset("cdnow_customers_summary.csv", **kwargs)


def load_transaction_data(**kwargs: Any) -> pd.DataFrame:
    """lifetimes' simulated example transactions: ``date, id``."""
    return load_dataset("example_transactions.csv", **kwargs)


def load_cdnow_summary_data_with_monetary_value(**kwargs: Any) -> pd.DataFrame:
    """CDNOW summary with mean repeat spend, indexed by ``customer_id``."""
    df = load_dataset("cdnow_customers_summary_with_transactions.csv", **kwargs)
    df.columns = ["customer_id", "frequency", "recency", "T", "monetary_value"]
    return df.set_index("customer_id")
