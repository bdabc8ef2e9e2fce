"""Segment-level parameters: no, partial or full pooling across a ``segment`` column.

With ``pooling="partial"`` each parameter is log-normal across segments,
non-centred: :math:`\\log\\theta_{j} = \\mu + \\tau z_j`, :math:`z_j \\sim N(0, 1)`,
with hyperpriors on :math:`\\mu` and :math:`\\tau`.  ``"none"`` gives every
segment its own parameters under the model's priors (independent models);
``"full"`` one set for all (the plain model).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pymc as pm
import pytensor.tensor as pt

from clv.exceptions import DataError, Problem

__all__ = ["POOLING", "HYPER_PRIORS", "segment_codes", "segment_parameters"]

POOLING = ("partial", "none", "full")
"""Accepted values of ``pooling``."""

HYPER_PRIORS: Mapping[str, tuple[str, dict[str, float]]] = {
    "mu": ("Normal", {"mu": 0.0, "sigma": 3.0}),
    "tau": ("HalfNormal", {"sigma": 1.0}),
}
"""Default hyperpriors of partial pooling, on the log scale of every parameter."""


def check_pooling(segment: str | None, pooling: str) -> None:
    if pooling not in POOLING:
        raise ValueError(f"pooling must be one of {list(POOLING)}, got {pooling!r}")
    if segment is not None and not isinstance(segment, str):
        raise ValueError(f"segment must be the name of a column, got {segment!r}")


def segment_codes(
    frame: pd.DataFrame, segment: str, labels: np.ndarray | None = None, *, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """Integer code of each row's segment and the segment labels (sorted, or the given ones).

    Raises
    ------
    DataError
        Missing column, missing values, or (with ``labels``) segments the
        model was not fitted on.
    """
    if segment not in frame.columns:
        raise DataError(
            [
                Problem(
                    segment,
                    "is the segment column but missing",
                    "add it, or build the model without segment=",
                )
            ],
            what=what,
        )
    values = frame[segment]
    if values.isna().any():
        raise DataError(
            [
                Problem(
                    segment,
                    "has missing values",
                    "give every customer a segment",
                    list(frame.index[values.isna().to_numpy()][:5]),
                )
            ],
            what=what,
        )
    if labels is None:
        labels = np.asarray(pd.unique(values))
        with contextlib.suppress(TypeError):  # mixed types: keep the order of appearance
            labels = np.sort(labels)
    index = pd.Index(labels)
    codes = index.get_indexer(values.to_numpy())
    unknown = codes < 0
    if unknown.any():
        raise DataError(
            [
                Problem(
                    segment,
                    "has segments the model was not fitted on",
                    f"use one of {list(labels)[:10]}",
                    list(frame.index[unknown][:5]),
                )
            ],
            what=what,
        )
    return codes.astype(np.int64), np.asarray(labels)


def segment_parameters(
    name: str,
    prior: tuple[str, dict[str, Any]],
    pooling: str,
    hyper: Mapping[str, tuple[str, dict[str, Any]]],
) -> Any:
    """The PyMC variable of one parameter with dims ``("segment",)`` (inside a model context)."""
    if pooling == "none":
        dist, kwargs = prior
        return getattr(pm, dist)(name, **kwargs, dims="segment")
    mu_dist, mu_kw = hyper["mu"]
    tau_dist, tau_kw = hyper["tau"]
    mu = getattr(pm, mu_dist)(f"{name}_mu", **mu_kw)
    tau = getattr(pm, tau_dist)(f"{name}_tau", **tau_kw)
    z = pm.Normal(f"{name}_z", 0.0, 1.0, dims="segment")
    return pm.Deterministic(name, pt.exp(mu + tau * z), dims="segment")
