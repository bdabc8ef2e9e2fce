"""Errors of predictions against what happened: the one definition of each metric.

Pure NumPy, used by the holdout evaluation (:mod:`clv.holdout`, which exposes
:func:`prediction_errors`), ``clv evaluate`` and the acquisition model's holdout check.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["mean_absolute_percentage_error", "prediction_errors", "total_error_pct"]


def total_error_pct(actual_total: float, predicted_total: float) -> float | None:
    """``100 (predicted - actual) / actual``; ``None`` when nothing happened (actual 0)."""
    if actual_total == 0:
        return None
    return float(100.0 * (predicted_total - actual_total) / actual_total)


def mean_absolute_percentage_error(actual: ArrayLike, predicted: ArrayLike) -> float:
    """MAPE in percent over the entries with ``actual > 0`` (NaN when there are none).

    >>> mean_absolute_percentage_error([0, 10, 20], [5, 11, 18])
    10.0
    """
    a = np.asarray(actual, dtype=np.float64)
    p = np.asarray(predicted, dtype=np.float64)
    pos = a > 0
    if not pos.any():
        return float("nan")
    return float(np.mean(np.abs(p[pos] - a[pos]) / a[pos]) * 100)


def prediction_errors(actual: ArrayLike, predicted: ArrayLike) -> dict[str, float | None]:
    """Errors of predictions, one value per unit (customer or period).

    Parameters
    ----------
    actual, predicted : array_like
        What happened and the model's expectation, aligned.

    Returns
    -------
    dict
        ``mae``, ``rmse``, ``actual_total``, ``predicted_total``,
        ``total_error_pct`` (``None`` when the actual total is 0) and Pearson
        ``correlation`` (``None`` when either side is constant).

    Examples
    --------
    >>> prediction_errors([0, 1, 3], [0.5, 1.0, 2.5])["mae"]
    0.3333333333333333
    """
    a = np.asarray(actual, dtype=np.float64)
    p = np.asarray(predicted, dtype=np.float64)
    err = p - a
    sa, sp = float(np.std(a)), float(np.std(p))
    corr = (
        None if sa == 0 or sp == 0 else float(np.mean((a - a.mean()) * (p - p.mean())) / (sa * sp))
    )
    total_a, total_p = float(a.sum()), float(p.sum())
    return {
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "actual_total": total_a,
        "predicted_total": total_p,
        "total_error_pct": total_error_pct(total_a, total_p),
        "correlation": corr,
    }
