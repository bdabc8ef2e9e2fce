r"""How much of an investment's value rests on each evidence grade.

An investment's incremental value is a function of the coefficients it uses
(every ``process[column]`` whose column it shifts, and the acquisition
coefficients of the covariates it moves). Each coefficient has an evidence
grade (:meth:`clv.roi.Evidence.coefficient_grade`): A for a randomised
experiment, B for a quasi-experiment, C for a fitted association, D for an
assumption. :func:`grade_split` attributes the value to the grades by the
exact **Shapley value over grade groups**: the players are the grades present,
the value of a coalition is the incremental value with only that coalition's
coefficients switched on (the others set to 0, i.e. "that evidence shows no
effect"), per parameter draw with the engine's common random numbers. The parts
add up to the investment's incremental value in every draw, and interactions
(a retention gain raising the base a purchase gain acts on) are shared evenly
between the grades that cause them, as for the lever split.

:func:`overall_grade` turns the split into one grade for the finance table:
the **weakest grade carrying more than** :data:`GRADE_SHARE_THRESHOLD` (20 %)
**of the value** (shares of the absolute parts). A partial experiment that
covers one lever therefore no longer makes the whole investment "grade A":
if a fifth or more of the value rests on fitted associations, it is grade C.

**Tested scope.** Evidence measured on a subpopulation (an onboarding test on new
customers) holds only there (:attr:`clv.roi.Evidence.population`). For customers
outside it the coefficient is the fitted one, so that part of the value is grade C
(and under the causal-share prior): the grade players are then the evidence's
grade for in-scope customers and C for the others. :func:`scope_counts` counts the
customers inside, :func:`value_in_scope` the value they carry.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from clv.roi.spec import GRADES, Investment

__all__ = [
    "GRADE_SHARE_THRESHOLD",
    "coefficient_grades",
    "grade_split",
    "overall_grade",
    "scope_counts",
    "value_in_scope",
]

#: A grade "carries" an investment when its share of the value exceeds this.
GRADE_SHARE_THRESHOLD = 0.20


def coefficient_grades(inv: Investment, unit: Any) -> dict[str, str]:
    """Grade of every coefficient the investment's effect uses (``process[column]`` -> grade).

    For a scoped evidence coefficient this is its grade inside the tested population;
    outside it the coefficient is the fitted one (grade C, see :func:`_row_grades`).
    """
    out: dict[str, str] = {}
    for name in unit.coefs:
        if name.endswith("]") and "[" in name:
            process, column = name[:-1].split("[", 1)
            if process != "acquisition" and column in unit.delta:
                out[name] = inv.evidence.coefficient_grade(name)
    for column, *_ in unit.acquisition:
        name = f"acquisition[{column}]"
        out[name] = inv.evidence.coefficient_grade(name)
    return out


def _outside(unit: Any, used: dict[str, str]) -> dict[str, np.ndarray]:
    """Scoped coefficients with customers outside their tested population: name -> mask.

    Only customers the investment actually moves count (a scope that covers all of
    them leaves the grade as it is).
    """
    out = {}
    for name, mask in getattr(unit, "scope", {}).items():
        if name not in used:
            continue
        if np.any(_moved(unit, name) & ~mask):
            out[name] = mask
    return out


def _moved(unit: Any, name: str) -> np.ndarray:
    """Rows whose shifted column of coefficient ``name`` changes in some draw."""
    column = name[:-1].split("[", 1)[1]
    if column not in unit.delta:
        return np.zeros(len(unit.rows), dtype=bool)
    return np.asarray(np.any(unit.delta[column] != 0, axis=0))


def _present(unit: Any, used: dict[str, str], outside: dict[str, np.ndarray]) -> list[str]:
    """Grades carrying some value: a scoped coefficient's grade only when a moved customer is
    inside its population, C when one is outside."""
    grades = set()
    scope = getattr(unit, "scope", {})
    for name, grade in used.items():
        if name not in scope or np.any(_moved(unit, name) & scope[name]):
            grades.add(grade)
    if outside:
        grades.add("C")
    return sorted(grades)


def _masked(
    engine: Any,
    unit: Any,
    keep: set[str],
    used: dict[str, str],
    outside: dict[str, np.ndarray] | None = None,
) -> Any:
    """The unit with every used coefficient whose grade is not in ``keep`` set to 0.

    A scoped coefficient keeps its in-scope part if its grade is kept and its
    out-of-scope (fitted, grade C) part if C is kept.
    """
    coefs = dict(unit.coefs)
    zero = np.zeros(engine.n_draws)
    for name, grade in used.items():
        mask = (outside or {}).get(name)
        if mask is not None:
            weight = np.where(mask, float(grade in keep), float("C" in keep))
            coefs[name] = np.asarray(coefs[name], dtype=np.float64) * weight
        elif grade not in keep:
            coefs[name] = zero
    return dataclasses.replace(unit, coefs=coefs)


def scope_counts(engine: Any, unit: Any) -> tuple[int, int]:
    """Customers the investment moves inside the tested scope of its evidence, and in all.

    Inside means: in the population of every scoped coefficient the investment uses
    (customers of an unscoped investment are all inside).
    """
    moved = np.zeros(len(unit.rows), dtype=bool)
    for d in unit.delta.values():
        moved |= np.any(d != 0, axis=0)
    inside = moved.copy()
    for name, mask in getattr(unit, "scope", {}).items():
        column = name[:-1].split("[", 1)[1]
        if column in unit.delta:
            inside &= mask
    return int(inside.sum()), int(moved.sum())


def value_in_scope(engine: Any, unit: Any) -> np.ndarray | None:
    """Per-draw incremental value from the customers inside the tested scope (None: unscoped).

    The investment's shifts are kept only for customers in the population of every
    scoped coefficient it uses; everything else (coefficients, ramp-up) is unchanged.
    """
    from clv.roi.engine import ALL

    scoped = [n for n in getattr(unit, "scope", {}) if n[:-1].split("[", 1)[1] in unit.delta]
    if not scoped:
        return None
    inside = np.ones(len(unit.rows), dtype=bool)
    for name in scoped:
        inside &= unit.scope[name]
    delta = {c: np.where(inside[None, :], d, 0.0) for c, d in unit.delta.items()}
    masked = dataclasses.replace(unit, delta=delta, acquisition=[])
    return engine.flows([masked], full_only=True)[1][:, ALL]


def grade_split(
    engine: Any, inv: Investment, unit: Any, total: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Per-draw incremental value attributed to each evidence grade (Shapley over grades).

    Parameters
    ----------
    engine : CounterfactualEngine
    inv : Investment
    unit : the engine's unit of ``inv`` (:meth:`CounterfactualEngine.unit`)
    total : array (S,), optional
        The investment's incremental value per draw (recomputed if not given).

    Returns
    -------
    dict
        ``{grade: (S,) array}`` for every grade in :data:`clv.roi.GRADES` (zeros for
        grades the investment does not use); the arrays sum to ``total``.
    """
    from clv.roi.engine import ALL, shapley_split

    used = coefficient_grades(inv, unit)
    outside = _outside(unit, used)
    present = _present(unit, used, outside)
    out = {g: np.zeros(engine.n_draws) for g in GRADES}
    if total is None:
        total = engine.flows([unit], full_only=True)[1][:, ALL]
    if len(present) <= 1:
        out[present[0] if present else "C"] = np.asarray(total, dtype=np.float64).copy()
        return out
    full = frozenset(range(len(present)))

    def value(coalition: frozenset[int]) -> np.ndarray:
        if not coalition:
            return np.zeros(engine.n_draws)
        if coalition == full:
            return np.asarray(total, dtype=np.float64)
        keep = {g for g in present if present.index(g) in coalition}
        masked = _masked(engine, unit, keep, used, outside)
        return engine.flows([masked], full_only=True)[1][:, ALL]

    parts = shapley_split(value, len(present))
    for j, g in enumerate(present):
        out[g] = parts[j]
    return out


def grade_shares(values: dict[str, float]) -> dict[str, float]:
    """Signed share of the (mean) value per grade; sums to 1 (NaN when the value is 0).

    Examples
    --------
    >>> grade_shares({"A": 30.0, "B": 0.0, "C": 10.0, "D": 0.0})["A"]
    0.75
    """
    total = float(sum(values.values()))
    if total == 0.0 or not np.isfinite(total):
        return {g: float("nan") for g in values}
    return {g: float(v) / total for g, v in values.items()}


def overall_grade(
    values: dict[str, float], threshold: float = GRADE_SHARE_THRESHOLD, *, default: str = "C"
) -> str:
    """The weakest grade carrying more than ``threshold`` of the value (absolute shares).

    ``default`` is returned when the value is 0 (e.g. the investment's own grade).

    Examples
    --------
    >>> overall_grade({"A": 85.0, "C": 15.0})
    'A'
    >>> overall_grade({"A": 60.0, "C": 40.0})
    'C'
    >>> overall_grade({"A": 0.0, "C": 0.0})
    'C'
    """
    weights = {g: abs(float(v)) for g, v in values.items()}
    total = sum(weights.values())
    if total == 0.0 or not np.isfinite(total):
        return default
    carrying = [g for g, w in weights.items() if w / total > threshold]
    return max(carrying) if carrying else max(weights, key=weights.__getitem__)
