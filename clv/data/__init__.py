"""The data layer: transaction logs in, validated RFM frames out.

``clv.data`` owns time (ARCHITECTURE §2): it turns a transaction log into an
RFM frame in explicit period units, validates inputs with messages that name
the column, the rows and the fix, and ships the CDNOW and donations datasets.
Models never see dates.
"""

from clv.data.datasets import (
    load_cdnow_sample_transactions,
    load_cdnow_summary,
    load_cdnow_summary_with_spend,
    load_cdnow_transactions,
    load_donations,
)
from clv.data.rfm import calibration_holdout_split, rfm_summary
from clv.data.segments import rfm_segments
from clv.data.transactions import period_codes
from clv.data.validate import validate_rfm, validate_transactions

__all__ = [
    # summaries
    "rfm_summary",
    "calibration_holdout_split",
    "period_codes",
    "rfm_segments",
    # validation
    "validate_transactions",
    "validate_rfm",
    # datasets
    "load_cdnow_transactions",
    "load_cdnow_sample_transactions",
    "load_cdnow_summary",
    "load_cdnow_summary_with_spend",
    "load_donations",
]
