"""Tested scope of evidence: which customers an experiment's effect may be applied to.

An experiment measures an effect on the customers it randomised, at the moment it
randomised them (e.g. new customers at their first purchase). Valuing an investment
on other customers (the existing base, years after onboarding) extrapolates the
effect: that part of the value is not experimental evidence. Evidence therefore
carries a **population** (:attr:`clv.roi.Evidence.population`, a condition in the
safe grammar of :mod:`clv.roi.conditions`); inside it a listed coefficient has its
evidence's grade, outside it the coefficient falls back to the fitted model's
(grade C, scaled by the causal-share prior like any fitted effect; no effect when
the models have no such coefficient).

The engine stores, per investment unit, an in-scope mask per scoped coefficient
(:func:`scope_masks`) and coefficient draws that vary by customer
(:func:`apply_scope`: shape ``(S, rows)`` instead of ``(S,)``); :mod:`clv.roi.grades`
splits the value between the grade inside and grade C outside.

``tenure_days`` (days since the first purchase, :data:`clv.roi.spec.TENURE_COLUMN`)
may be named in a population even when the scoring frame has no such column: it is
derived from ``T`` and the frame's time unit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from clv._units import data_time_unit
from clv.roi.conditions import condition_columns
from clv.roi.spec import TENURE_COLUMN, Investment

__all__ = ["apply_scope", "scope_masks", "with_tenure"]


def _days_per_period(data: pd.DataFrame, model: Any) -> float | None:
    """Days in one unit of ``T``: the frame's time unit, else the model's (None if unknown)."""
    from clv._units import parse_time_unit

    unit = data_time_unit(data)
    if unit is None:
        name = getattr(model, "time_unit_", None)
        if name is None:
            return None
        try:
            unit = parse_time_unit(name)
        except ValueError:
            return None
    return float(unit.days)


def with_tenure(frame: pd.DataFrame, full: pd.DataFrame, model: Any, where: str) -> pd.DataFrame:
    """``frame`` with a ``tenure_days`` column derived from ``T`` (unchanged if it has one).

    Raises
    ------
    ValueError
        When the time unit of ``T`` is unknown (name it with
        :func:`clv.data.with_time_unit`, or add a ``tenure_days`` column).
    """
    if TENURE_COLUMN in frame.columns:
        return frame
    days = _days_per_period(full, model)
    if days is None:
        raise ValueError(
            f"{where}: the evidence population uses {TENURE_COLUMN!r} but the time unit of "
            f"'T' is unknown; give the scoring data a time unit (clv.data.with_time_unit) "
            f"or a {TENURE_COLUMN!r} column."
        )
    return frame.assign(**{TENURE_COLUMN: frame["T"].to_numpy(dtype=np.float64) * days})


def scope_masks(
    inv: Investment,
    frame: pd.DataFrame,
    full: pd.DataFrame,
    model: Any,
    evaluate: Callable[[str, pd.DataFrame], np.ndarray],
) -> dict[str, np.ndarray]:
    """``{coefficient: in-scope mask over frame's rows}`` for the scoped evidence coefficients.

    ``evaluate(condition, frame)`` is the engine's condition evaluator (safe grammar).
    """
    out: dict[str, np.ndarray] = {}
    cache: dict[str, np.ndarray] = {}
    for name in inv.evidence.coefficients:
        pop = inv.evidence.coefficient_population(name)
        if pop is None:
            continue
        if pop not in cache:
            sub = frame
            if TENURE_COLUMN in condition_columns(pop):
                sub = with_tenure(frame, full, model, f"investment {inv.name!r}")
            cache[pop] = np.asarray(evaluate(pop, sub), dtype=bool)
        out[name] = cache[pop]
    return out


def apply_scope(
    coefs: Mapping[str, np.ndarray],
    fallback: Mapping[str, np.ndarray],
    masks: Mapping[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Coefficient draws with evidence inside each scope and the fitted fallback outside.

    A scoped coefficient becomes an ``(S, rows)`` array (evidence draws where the
    mask is true, the fitted draws, or 0 without a fitted coefficient, elsewhere);
    fully in-scope coefficients keep their ``(S,)`` draws.

    Examples
    --------
    >>> out = apply_scope({"dropout[x]": np.array([1.0, 2.0])}, {},
    ...                   {"dropout[x]": np.array([True, False, True])})
    >>> out["dropout[x]"].tolist()
    [[1.0, 0.0, 1.0], [2.0, 0.0, 2.0]]
    """
    out = dict(coefs)
    for name, mask in masks.items():
        if mask.all():
            continue
        inside = np.asarray(coefs[name], dtype=np.float64)
        outside = fallback.get(name)
        outside = np.zeros_like(inside) if outside is None else np.asarray(outside, np.float64)
        out[name] = np.where(mask[None, :], inside[:, None], outside[:, None])
    return out
