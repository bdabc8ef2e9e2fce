"""CX covariates in ``clv fit`` and ``clv score``: the features section of a model bundle.

``clv fit ... --cx-events ev.csv --as-of DATE`` builds CX features as of the
day after ``--as-of`` (events strictly before it) with
:func:`clv.cx.analysis.default_feature_builder`, fits the transaction model
with every varying feature column on purchases and dropout (and Gamma-Gamma
with the columns that vary among its repeat buyers on spend), and stores the
fitted :class:`~clv.cx.FeatureBuilder` in the bundle's ``features`` section.
``clv score`` rebuilds that builder and only *transforms* (never refits) the
events as of the day after its own ``--as-of``.

The section (see :func:`features_section`)::

    "features": {
      "builder": {...FeatureBuilder.to_dict()...},
      "purchase_covariates": [...], "dropout_covariates": [...],
      "spend_covariates": [...],
      "cutoff": "2024-12-30",
      "cx_events": {"path": ..., "fingerprint": "sha256:...", "n_rows": ...},
      "customers": {"path": ..., "fingerprint": ..., "n_rows": ...} or null
    }
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from clv.cli.config import UsageError

if TYPE_CHECKING:
    from clv.cx import FeatureBuilder

__all__ = [
    "CX_MODELS",
    "CxInputs",
    "cutoff_of",
    "features_section",
    "fit_covariate_models",
    "join_features",
    "read_cx_inputs",
]

#: ``--model`` names that take CX covariates.
CX_MODELS = ("bgnbd", "pnbd")


def cutoff_of(as_of: _dt.date) -> pd.Timestamp:
    """The feature cutoff of an ``--as-of`` day: the start of the next day.

    Examples
    --------
    >>> import datetime
    >>> cutoff_of(datetime.date(2024, 12, 29))
    Timestamp('2024-12-30 00:00:00')
    """
    return pd.Timestamp(as_of) + pd.Timedelta(days=1)


class CxInputs:
    """CX events and customer attributes read for one run, ids typed like the transactions."""

    def __init__(
        self, events: pd.DataFrame, customers: pd.DataFrame | None, info: dict[str, Any]
    ) -> None:
        self.events = events
        self.customers = customers
        self.info = info


def read_cx_inputs(
    events_path: str, customers_path: str | None, like: pd.Series, id_col: str = "customer_id"
) -> CxInputs:
    """Read ``--cx-events`` (and ``--customers``); give their ids the transactions' id type.

    Parameters
    ----------
    events_path, customers_path : str
        ``.csv`` or ``.parquet`` files (``customers_path`` optional).
    like : Series
        The transactions' customer ids (their dtype is the target type).
    id_col : str
        The customer id column of both files (the builder's).
    """
    from clv.cli.files import frame_fingerprint, read_frame
    from clv.cx.analysis import _align_ids

    events = read_frame(events_path, "--cx-events")
    customers = read_frame(customers_path, "--customers") if customers_path else None
    events = _align_ids(events, id_col, like)
    customers = _align_ids(customers, id_col, like)
    info: dict[str, Any] = {
        "cx_events": {
            "path": str(events_path),
            "fingerprint": frame_fingerprint(events),
            "n_rows": len(events),
        },
        "customers": (
            None
            if customers is None
            else {
                "path": str(customers_path),
                "fingerprint": frame_fingerprint(customers),
                "n_rows": len(customers),
            }
        ),
    }
    return CxInputs(events, customers, info)


def join_features(rfm: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """The RFM frame with the feature columns (aligned on the customer id; attrs kept)."""
    data = rfm.join(features, how="left")
    data.attrs = dict(rfm.attrs)
    return data


def _varying(frame: pd.DataFrame, columns: list[str]) -> list[str]:
    return [c for c in columns if frame[c].nunique() > 1]


def fit_covariate_models(
    cls: type,
    data: pd.DataFrame,
    columns: list[str],
    *,
    penalizer: float,
    with_spend: bool,
    zero: Any = None,
) -> tuple[Any, Any, dict[str, list[str]]]:
    """Fit the covariate transaction model (and Gamma-Gamma) on RFM + feature columns.

    The transaction model takes every column that varies across customers on
    purchases and dropout; Gamma-Gamma (``with_spend``) the columns that vary
    among its repeat buyers (``zero``: mask of customers left out of its fit).

    Returns
    -------
    transaction_model, spend_model, covariates
        ``covariates``: ``purchase_covariates``, ``dropout_covariates``,
        ``spend_covariates`` lists.
    """
    from clv.models.gamma_gamma import GammaGammaModel

    varying = _varying(data, columns)
    tm = cls(penalizer=penalizer, purchase_covariates=varying, dropout_covariates=varying).fit(data)
    sm = None
    spend: list[str] = []
    if with_spend:
        kept = data if zero is None else data.loc[~zero]
        spend = _varying(kept.loc[kept["frequency"] > 0], varying)
        sm = GammaGammaModel(penalizer=penalizer, spend_covariates=spend).fit(kept)
    return (
        tm,
        sm,
        {
            "purchase_covariates": list(varying),
            "dropout_covariates": list(varying),
            "spend_covariates": spend,
        },
    )


def features_section(
    builder: FeatureBuilder,
    covariates: Mapping[str, list[str]],
    cutoff: pd.Timestamp,
    inputs: CxInputs,
) -> dict[str, Any]:
    """The bundle's ``features`` section (JSON-ready)."""
    return {
        "builder": builder.to_dict(),
        **{k: list(v) for k, v in covariates.items()},
        "cutoff": cutoff.date().isoformat(),
        **inputs.info,
    }


def require_cx_model(model_name: str) -> None:
    """``--cx-events`` works with the covariate models only (usage error otherwise)."""
    if model_name not in CX_MODELS:
        raise UsageError(
            f"--cx-events fits CX covariates, which --model {model_name} does not "
            f"take; use --model {' or --model '.join(CX_MODELS)}, or drop "
            "--cx-events."
        )
