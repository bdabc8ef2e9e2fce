"""Bundled real data sets (CDNOW, donations), read from lifetimes' package data; no network."""

from clv.data.datasets import (
    load_cdnow_sample_transactions,
    load_cdnow_summary,
    load_cdnow_summary_with_spend,
    load_cdnow_transactions,
    load_donations,
)

__all__ = [
    "load_cdnow_sample_transactions",
    "load_cdnow_summary",
    "load_cdnow_summary_with_spend",
    "load_cdnow_transactions",
    "load_donations",
]
