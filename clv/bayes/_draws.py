"""Summaries of predictions over posterior draws, and the memory bounds of evaluating them.

Pure NumPy/xarray helpers of the Bayesian layer: a tidy per-customer summary
(mean, sd, equal-tailed interval), the customer blocks that keep draws x
customers arrays bounded, and the check of ``thin``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

__all__ = [
    "MAX_BLOCK_CELLS",
    "MAX_LOG_LIKELIHOOD_CELLS",
    "SUMMARY_COLUMNS",
    "chunk_sizes",
    "summarize_draws",
]


def summarize_draws(
    values: xr.DataArray, *, quantiles: tuple[float, float] = (0.05, 0.95)
) -> pd.DataFrame:
    """Tidy per-customer summary of a prediction over draws.

    Parameters
    ----------
    values : DataArray
        Dims ``("chain", "draw", "customer_id")``, as returned by the prediction
        methods of the Bayesian models (or ``("chain", "draw", <dim>)`` for
        another single dimension, e.g. ``period``).
    quantiles : pair of float, default (0.05, 0.95)
        Lower and upper equal-tailed quantiles.

    Returns
    -------
    DataFrame
        Indexed by ``customer_id`` (the other dimension); columns ``mean``,
        ``sd`` and the quantiles (``"5%"``, ``"95%"`` by default).
    """
    others = [d for d in values.dims if d not in ("chain", "draw")]
    if len(others) != 1:
        raise ValueError(f"expected dims ('chain', 'draw', <one more>), got {values.dims}")
    dim = str(others[0])
    stacked = values.stack(sample=("chain", "draw")).transpose(dim, "sample")
    arr = np.asarray(stacked.values, dtype=np.float64)
    lo, hi = np.quantile(arr, quantiles, axis=1)
    sd = arr.std(axis=1, ddof=1) if arr.shape[1] > 1 else np.zeros(arr.shape[0])
    index = pd.Index(values.coords[dim].values, name=dim)
    return pd.DataFrame(
        {"mean": arr.mean(axis=1), "sd": sd, f"{quantiles[0]:.0%}": lo, f"{quantiles[1]:.0%}": hi},
        index=index,
    )


SUMMARY_COLUMNS = ("mean", "sd", "5%", "95%")
"""Columns of the per-customer summaries (``summary_only=True``)."""

MAX_LOG_LIKELIHOOD_CELLS = 20_000_000
"""Above this many draws x customers, ``fit`` does not store the pointwise log-likelihood."""

MAX_BLOCK_CELLS = 2_000_000
"""Draws x customers evaluated at once by the prediction methods (16 MB of float64)."""


def _check_thin(thin: Any) -> int:
    if isinstance(thin, bool) or not isinstance(thin, int | np.integer) or thin < 1:
        raise ValueError(
            f"thin must be a whole number >= 1 (keep every thin-th draw), got {thin!r}"
        )
    return int(thin)


def chunk_sizes(
    n_customers: int, n_samples: int, chunk_size: int | None = None
) -> list[tuple[int, int]]:
    """Customer blocks ``(lo, hi)`` so that ``n_samples x (hi - lo)`` stays bounded.

    Parameters
    ----------
    n_customers, n_samples : int
        Customers to predict and posterior samples per customer.
    chunk_size : int, optional
        Customers per block; by default ``MAX_BLOCK_CELLS // n_samples``.

    Returns
    -------
    list of (int, int)

    Examples
    --------
    >>> chunk_sizes(10, 4, 3)
    [(0, 3), (3, 6), (6, 9), (9, 10)]
    >>> max(hi - lo for lo, hi in chunk_sizes(1_000_000, 4000)) * 4000 <= MAX_BLOCK_CELLS
    True
    """
    if chunk_size is None:
        chunk_size = max(1, MAX_BLOCK_CELLS // max(n_samples, 1))
    elif (
        isinstance(chunk_size, bool)
        or not isinstance(chunk_size, int | np.integer)
        or chunk_size < 1
    ):
        raise ValueError(f"chunk_size must be a whole number >= 1, got {chunk_size!r}")
    return [
        (lo, min(n_customers, lo + int(chunk_size)))
        for lo in range(0, n_customers, int(chunk_size))
    ]


def _summary_block(values: np.ndarray, quantiles: tuple[float, float] = (0.05, 0.95)) -> np.ndarray:
    """Per-column mean, sd, and quantiles of a ``(samples, customers)`` block."""
    lo, hi = np.quantile(values, quantiles, axis=0)
    sd = values.std(axis=0, ddof=1) if values.shape[0] > 1 else np.zeros(values.shape[1])
    return np.column_stack([values.mean(axis=0), sd, lo, hi])
