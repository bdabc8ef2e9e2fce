"""Investment specifications: what an experience investment costs, whom it reaches, what it shifts.

An :class:`Investment` is plain data (JSON/TOML/YAML/CSV-friendly):

* ``cost``: a one-off amount at the start (period 0) or a schedule ``{period: amount}``;
* ``target``: ``"all"``, a segment ``{"column": value}`` or a condition string
  (:mod:`clv.roi.conditions`, a safe grammar of its own) on the
  scoring frame (features and attributes), e.g. ``"contacted == 1"``;
* ``shifts``: the signal (feature) changes it buys, each additive, relative or set-to;
* ``ramp_periods`` / ``duration``: how fast the effect builds up and how long it lasts;
* ``evidence``: where the effect size comes from, which sets the evidence grade.
"""

from __future__ import annotations

import csv
import json
import math
import os
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from clv.roi.conditions import ConditionError, parse_condition

__all__ = ["GRADES", "TENURE_COLUMN", "Evidence", "Investment", "Shift", "load_investments"]

#: Evidence grades shown to finance.
GRADES = {
    "A": "experiment (randomised test)",
    "B": "quasi-experiment (instrument, difference-in-differences, discontinuity)",
    "C": "observational association (fitted model; not proof of cause)",
    "D": "assumption (stated by the user, no data)",
}
_KIND_GRADE = {"experiment": "A", "quasi_experiment": "B", "observational": "C", "assumption": "D"}
_MODES = ("add", "relative", "set")
#: Column the engine derives from the scoring frame's ``T`` (days since the first purchase) so an
#: evidence population can name the customers' tenure, e.g. ``"tenure_days <= 30"``.
TENURE_COLUMN = "tenure_days"


def coefficient_parts(name: str) -> tuple[str, str] | None:
    """``"dropout[wait]" -> ("dropout", "wait")``; None for base parameters such as ``"r"``.

    Examples
    --------
    >>> coefficient_parts("purchase[onboarding_call]")
    ('purchase', 'onboarding_call')
    """
    if name.endswith("]") and "[" in name:
        process, column = name[:-1].split("[", 1)
        return process, column
    return None


@dataclass(frozen=True)
class Shift:
    """A change to one signal (feature column) for the targeted customers, in the future only.

    Parameters
    ----------
    column : str
        Feature column of the scoring frame (a covariate of the fitted models),
        e.g. ``"wait_minutes"``.
    mode : {"add", "relative", "set"}
        ``add``: :math:`x + a`; ``relative``: :math:`x (1 + a)` (``-0.3`` = 30 % less);
        ``set``: :math:`a` (e.g. detractor flag set to 0).
    amount : float
        The change :math:`a`.
    sd : float, default 0.0
        Uncertainty of the amount (same units), e.g. operations' uncertainty about
        how many seconds of wait the money buys. Drawn per parameter draw.
    where : str, optional
        Extra condition (:mod:`clv.roi.conditions` grammar) restricting which targeted
        rows are shifted,
        e.g. ``"detractor == 1"``.

    Notes
    -----
    Rows whose value is a fill for a missing signal (``<column>_missing == 1``) are
    never shifted. Shifted values are clipped to the range observed in the scoring
    data (no extrapolation beyond the best and worst customers seen; flags stay 0/1).

    Examples
    --------
    >>> Shift("wait_minutes", "relative", -0.3)
    Shift(column='wait_minutes', mode='relative', amount=-0.3, sd=0.0, where=None)
    """

    column: str
    mode: str
    amount: float
    sd: float = 0.0
    where: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.column, str) or not self.column:
            raise ValueError(f"Shift.column must be a feature column name, got {self.column!r}.")
        if self.mode not in _MODES:
            raise ValueError(
                f"Shift.mode for {self.column!r} must be one of {_MODES}, got {self.mode!r}."
            )
        for name in ("amount", "sd"):
            value = getattr(self, name)
            if (
                not isinstance(value, int | float)
                or isinstance(value, bool)
                or not math.isfinite(value)
            ):
                raise ValueError(
                    f"Shift.{name} for {self.column!r} must be a finite number, got {value!r}."
                )
        if self.sd < 0:
            raise ValueError(f"Shift.sd for {self.column!r} must be >= 0, got {self.sd!r}.")
        if self.where is not None:
            try:
                parse_condition(self.where)
            except ConditionError as exc:
                raise ValueError(f"Shift.where for {self.column!r}: {exc}") from None


@dataclass(frozen=True)
class Evidence:
    """Where an investment's effect sizes come from.

    Parameters
    ----------
    kind : {"observational", "experiment", "quasi_experiment", "assumption"}
        ``observational`` uses the fitted model's coefficients (grade C);
        the others replace the named coefficients by ``Normal(mean, se)``
        draws: a randomised experiment (A), a quasi-experiment (B) or a stated
        assumption (D).
    coefficients : mapping, optional
        ``{"dropout[wait_minutes]": (mean, se), ...}`` per natural unit of the
        signal, with the models' naming (``purchase[...]``, ``dropout[...]``,
        ``spend[...]``).
    source : str, optional
        Where the numbers come from (test id, study, owner and date).
    grades : mapping, optional
        Grade of each listed coefficient when they differ (kind ``"mixed"``, built by
        :meth:`combine`); by default every listed coefficient has the kind's grade.
    population : str or mapping, optional
        The **tested scope**: a condition on the scoring frame
        (:mod:`clv.roi.conditions` grammar, never evaluated by Python) selecting the
        customers like those the evidence was measured on, e.g. ``"tenure_days <= 0"``
        for a test randomised at the first purchase (``tenure_days``, days since the
        first purchase, is derived from ``T`` by the engine when the frame has no such
        column). A mapping ``{coefficient: condition}`` scopes coefficients
        separately (built by :meth:`combine`). Outside the scope a listed coefficient
        falls back to the fitted model's (grade C, under the causal-share prior; no
        effect when the models have no such coefficient). None: the evidence is
        taken to hold for every targeted customer.
    tested : str, optional
        The tested population and timing in words (who was randomised, when, at which
        tenure, for how long), for reports; :meth:`from_experiment` fills it.

    Notes
    -----
    Evidence is graded **per coefficient**: a coefficient listed here has the
    grade of its source, every other coefficient an investment uses is the fitted
    model's (grade C). An experiment that measured the purchase lever only thus
    makes ``purchase[...]`` grade A and leaves ``dropout[...]`` at C; the finance
    table splits each investment's value by these grades
    (:func:`clv.roi.grades.grade_split`).

    Examples
    --------
    >>> Evidence.experiment({"dropout[wait_minutes]": (0.03, 0.01)}, source="AB-17").grade
    'A'
    >>> Evidence().grade
    'C'
    >>> ev = Evidence.combine(Evidence.experiment({"purchase[call]": (0.1, 0.03)}),
    ...                       Evidence.quasi_experiment({"dropout[call]": (-0.2, 0.1)}))
    >>> ev.kind, ev.coefficient_grade("purchase[call]"), ev.coefficient_grade("dropout[call]")
    ('mixed', 'A', 'B')
    >>> ev.coefficient_grade("spend[call]")
    'C'
    >>> scoped = Evidence.experiment({"dropout[call]": (-0.3, 0.1)}, population="tenure_days <= 30")
    >>> scoped.coefficient_population("dropout[call]"), scoped.coefficient_population("x[y]")
    ('tenure_days <= 30', None)
    """

    kind: str = "observational"
    coefficients: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    source: str | None = None
    grades: Mapping[str, str] = field(default_factory=dict)
    population: str | Mapping[str, str] | None = None
    tested: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in (*_KIND_GRADE, "mixed"):
            raise ValueError(
                f"Evidence.kind must be one of {(*_KIND_GRADE, 'mixed')}, got {self.kind!r}."
            )
        clean: dict[str, tuple[float, float]] = {}
        for name, value in dict(self.coefficients).items():
            try:
                mean, se = (float(v) for v in value)
            except (TypeError, ValueError):
                raise ValueError(
                    f"Evidence coefficient {name!r} must be (mean, se), got {value!r}."
                ) from None
            if not (math.isfinite(mean) and math.isfinite(se) and se >= 0):
                raise ValueError(
                    f"Evidence coefficient {name!r}: mean must be finite and "
                    f"se >= 0, got ({mean}, {se})."
                )
            clean[str(name)] = (mean, se)
        if self.kind == "observational" and clean:
            raise ValueError(
                "observational evidence uses the fitted coefficients; give "
                "coefficients only for experiment, quasi_experiment or assumption."
            )
        if self.kind != "observational" and not clean:
            raise ValueError(
                f"{self.kind} evidence needs coefficients "
                "{'dropout[wait_minutes]': (mean, se), ...}."
            )
        object.__setattr__(self, "coefficients", clean)
        grades = {str(k): str(v) for k, v in dict(self.grades).items()}
        bad = sorted(k for k, v in grades.items() if k not in clean or v not in GRADES)
        if bad:
            raise ValueError(
                f"Evidence.grades {bad}: each must name a listed coefficient and "
                f"be one of {tuple(GRADES)}."
            )
        if self.kind == "mixed" and set(grades) != set(clean):
            raise ValueError(
                "mixed evidence needs a grade for every coefficient "
                "(build it with Evidence.combine)."
            )
        object.__setattr__(self, "grades", grades)
        object.__setattr__(self, "population", self._check_population(self.population, clean))
        if self.tested is not None and not isinstance(self.tested, str):
            raise ValueError(f"Evidence.tested must be text, got {self.tested!r}.")

    @staticmethod
    def _check_population(
        population: Any, coefficients: Mapping[str, Any]
    ) -> str | dict[str, str] | None:
        """Validate the tested scope: a condition, or ``{coefficient: condition}``."""
        if population is None:
            return None
        if isinstance(population, str):
            items = {"": population}
        elif isinstance(population, Mapping):
            items = {str(k): v for k, v in population.items()}
            stray = sorted(k for k in items if k not in coefficients)
            if stray:
                raise ValueError(
                    f"Evidence.population names {stray}, which are not listed coefficients."
                )
        else:
            raise ValueError(
                "Evidence.population must be a condition string or {coefficient: condition}, "
                f"got {population!r}."
            )
        for key, text in items.items():
            if not isinstance(text, str):
                raise ValueError(f"Evidence.population {key!r} must be a condition string.")
            try:
                parse_condition(text)
            except ConditionError as exc:
                raise ValueError(f"Evidence.population: {exc}") from None
        return population if isinstance(population, str) else items

    def coefficient_population(self, name: str) -> str | None:
        """The tested scope (condition) of one listed coefficient; None: unscoped or unlisted."""
        if name not in self.coefficients or self.population is None:
            return None
        if isinstance(self.population, str):
            return self.population
        return self.population.get(name)

    @property
    def scoped(self) -> bool:
        """True when some listed coefficient holds only for a tested population."""
        return any(self.coefficient_population(n) for n in self.coefficients)

    @property
    def grade(self) -> str:
        """Evidence grade: A experiment, B quasi-experiment, C observational, D assumption.

        For mixed evidence the weakest grade of its coefficients; the finance table
        grades an investment by the share of value each grade carries instead
        (:func:`clv.roi.grades.overall_grade`).
        """
        if self.kind == "mixed":
            return max(self.grades.values())
        return _KIND_GRADE[self.kind]

    def coefficient_grade(self, name: str) -> str:
        """Grade of one coefficient ``process[column]``: its source's, or C (fitted) if unlisted."""
        if name not in self.coefficients:
            return "C"
        return self.grades.get(name, _KIND_GRADE.get(self.kind, "C"))

    @property
    def description(self) -> str:
        """Grade with its meaning, the coefficients it covers and the source, for reports."""
        if self.kind == "mixed":
            by_grade: dict[str, list[str]] = {}
            for name in self.coefficients:
                by_grade.setdefault(self.grades[name], []).append(name)
            text = "; ".join(
                f"{g}: {GRADES[g]} for {', '.join(names)}" for g, names in sorted(by_grade.items())
            )
        else:
            text = f"{self.grade}: {GRADES[self.grade]}"
            if self.coefficients:
                text += f" for {', '.join(self.coefficients)}"
        if self.coefficients:
            text += "; other coefficients fitted (C)"
        if self.scoped:
            pops = sorted({p for n in self.coefficients if (p := self.coefficient_population(n))})
            text += (
                f"; tested on customers with {' / '.join(pops)} only (C elsewhere)"
                if len(pops) == 1 or isinstance(self.population, str)
                else "; tested populations: "
                + ", ".join(f"{n}: {self.coefficient_population(n)}" for n in self.coefficients)
            )
        if self.tested:
            text += f" ({self.tested})"
        return f"{text}; source: {self.source}" if self.source else text

    @classmethod
    def experiment(
        cls,
        coefficients: Mapping[str, tuple[float, float]],
        *,
        source: str | None = None,
        population: str | Mapping[str, str] | None = None,
        tested: str | None = None,
    ) -> Evidence:
        """Effect sizes from a randomised experiment (grade A)."""
        return cls("experiment", coefficients, source, population=population, tested=tested)

    @classmethod
    def quasi_experiment(
        cls,
        coefficients: Mapping[str, tuple[float, float]],
        *,
        source: str | None = None,
        population: str | Mapping[str, str] | None = None,
        tested: str | None = None,
    ) -> Evidence:
        """Effect sizes from a quasi-experiment (grade B)."""
        return cls("quasi_experiment", coefficients, source, population=population, tested=tested)

    @classmethod
    def assumption(
        cls,
        coefficients: Mapping[str, tuple[float, float]],
        *,
        source: str | None = None,
        population: str | Mapping[str, str] | None = None,
        tested: str | None = None,
    ) -> Evidence:
        """Effect sizes stated as an assumption (grade D)."""
        return cls("assumption", coefficients, source, population=population, tested=tested)

    @classmethod
    def from_experiment(
        cls,
        result: Any,
        *,
        source: str | None = None,
        population: str | None = None,
        extrapolate: bool = False,
    ) -> Evidence:
        """Grade-A evidence for the levers a randomised experiment measured, scoped to its
        tested population.

        ``result`` is an :class:`clv.cx.experiments.ExperimentResult`; only the
        levers it measured (``result.coefficients()``) are listed, so every other
        coefficient an investment uses stays the fitted model's (grade C).
        Refuses a result whose arms are not balanced on the pre-period covariates.

        The grade applies only to customers like the randomised ones: by default the
        tenure (days since the first purchase) at which they were randomised, from
        ``result.enrolment`` (``"tenure_days <= 0"`` for a test at the first purchase,
        so an existing base valued on such a test is graded C, not A). ``population``
        replaces that scope by a condition of your own (e.g. ``"channel == 'web'"``
        when the test ran on web customers of any tenure); ``extrapolate=True``
        drops it (you state that the effect carries over to every targeted customer;
        the description says so). ``tested`` records who was randomised, when and
        for how long.
        """
        if not getattr(result, "balanced", True):
            raise ValueError(
                "the experiment's arms are not balanced on the pre-period "
                f"covariates ({', '.join(result.imbalanced)}): randomisation looks "
                "broken, so its effects are not grade-A evidence."
            )
        coefs = dict(result.coefficients())
        if not coefs:
            raise ValueError("the experiment measured no lever (see its effects table).")
        enrol = dict(getattr(result, "enrolment", None) or {})
        tested = _describe_enrolment(enrol)
        scope = population
        if scope is None and not extrapolate:
            scope = _tenure_condition(enrol)
        if extrapolate:
            scope = None
            tested = (tested + "; " if tested else "") + "assumed to carry over to all targeted"
        return cls(
            "experiment",
            coefs,
            source or getattr(result, "source", None),
            population=scope,
            tested=tested or None,
        )

    @classmethod
    def from_quasi_experiment(
        cls, result: Any, *, source: str | None = None, population: str | None = None
    ) -> Evidence:
        """Grade-B evidence from a difference-in-differences / event study.

        ``result`` is a :class:`clv.cx.quasi.DiDResult`. Refuses a result whose
        pre-trend test rejects parallel trends. The estimate is the effect on the
        treated groups; ``population`` (a condition on the scoring frame, e.g.
        ``"region == 'south'"``) limits grade B to customers like them when the
        investment reaches others too. ``tested`` records the treated and control
        customers and the change date.
        """
        if getattr(result, "pretrend_rejected", False):
            raise ValueError(
                "the pre-trend test rejects parallel trends (p = "
                f"{result.pretrend_pvalue:.3g}): the difference-in-differences is "
                "not credible evidence."
            )
        coefs = dict(result.coefficients())
        if not coefs:
            raise ValueError("the quasi-experiment gives no coefficient.")
        tested = None
        if getattr(result, "n_treated", None) is not None and hasattr(result, "change_date"):
            tested = (
                f"{int(result.n_treated):,} treated and {int(result.n_control):,} control "
                f"customers around a change on {_date_text(result.change_date)}"
            )
        return cls(
            "quasi_experiment",
            coefs,
            source or getattr(result, "source", None),
            population=population,
            tested=tested,
        )

    @classmethod
    def combine(cls, *parts: Evidence, source: str | None = None) -> Evidence:
        """One evidence from several sources, each coefficient keeping its own grade.

        A coefficient given by two sources takes the better-graded one.
        """
        parts = tuple(p for p in parts if p.kind != "observational")
        if not parts:
            return cls()
        coefs: dict[str, tuple[float, float]] = {}
        grades: dict[str, str] = {}
        scopes: dict[str, str] = {}
        for part in sorted(parts, key=lambda p: p.grade, reverse=True):  # best grade last wins
            for name, value in part.coefficients.items():
                coefs[name] = value
                grades[name] = part.coefficient_grade(name)
                scopes.pop(name, None)
                if (pop := part.coefficient_population(name)) is not None:
                    scopes[name] = pop
        if len(set(grades.values())) == 1 and len(parts) == 1:
            return parts[0]
        text = source or "; ".join(p.source for p in parts if p.source) or None
        tested = "; ".join(p.tested for p in parts if p.tested) or None
        return cls("mixed", coefs, text, grades, population=scopes or None, tested=tested)


@dataclass(frozen=True)
class Investment:
    """An experience investment: its cost, target population, signal shifts and evidence.

    Parameters
    ----------
    name : str
        Unique, shown in every table.
    cost : float or mapping
        One-off amount paid at the start (period 0), or ``{period: amount}``
        (period 0 = now, 1 = end of the first period, ...), in currency.
    shifts : sequence of Shift
        The signal changes bought.
    target : "all", mapping or str, default "all"
        Everyone, a segment ``{"channel": "phone"}`` (values may be lists), or a
        condition on the scoring frame in the package's own safe grammar
        (:mod:`clv.roi.conditions`: column names, comparisons, ``in`` lists,
        ``and``/``or``/``not``; never evaluated by Python or pandas).
    ramp_periods : int, default 0
        Periods for the effect to build up linearly (0: full effect at once).
    duration : int, optional
        Periods the effect lasts (default: the whole horizon).
    cost_sd : float, default 0.0
        Relative uncertainty of the cost (e.g. 0.1 = ±10 %; lognormal, mean kept).
    evidence : Evidence, default observational
        Source of the effect sizes (evidence grade).
    description : str, optional
        One line for the report.
    label : str, optional
        Name shown in the report instead of ``name`` (e.g. with spaces or
        punctuation a file key should not carry).
    target_label : str, optional
        The target population in plain words for the report, e.g. "customers who
        called us"; default: derived from ``target``.

    Examples
    --------
    >>> inv = Investment("Faster support", cost=250_000,
    ...                  shifts=[Shift("wait_minutes", "relative", -0.3)])
    >>> inv.cost_schedule
    {0: 250000.0}
    """

    name: str
    cost: float | Mapping[int, float]
    shifts: tuple[Shift, ...]
    target: Any = "all"
    ramp_periods: int = 0
    duration: int | None = None
    cost_sd: float = 0.0
    evidence: Evidence = field(default_factory=Evidence)
    description: str | None = None
    label: str | None = None
    target_label: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError("Investment.name must be a non-empty string.")
        shifts = tuple(self.shifts)
        if not shifts or not all(isinstance(s, Shift) for s in shifts):
            raise ValueError(
                f"Investment {self.name!r}: shifts must be a non-empty list of Shift objects."
            )
        object.__setattr__(self, "shifts", shifts)
        schedule = self._schedule(self.cost)
        object.__setattr__(self, "cost", schedule)  # always {period: amount}
        for name in ("ramp_periods",):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"Investment {self.name!r}: {name} must be a whole number >= 0.")
        if self.duration is not None and (
            not isinstance(self.duration, int)
            or isinstance(self.duration, bool)
            or self.duration < 1
        ):
            raise ValueError(f"Investment {self.name!r}: duration must be a whole number >= 1.")
        if not (math.isfinite(self.cost_sd) and self.cost_sd >= 0):
            raise ValueError(f"Investment {self.name!r}: cost_sd must be >= 0.")
        if not isinstance(self.evidence, Evidence):
            raise ValueError(f"Investment {self.name!r}: evidence must be an Evidence.")
        for name in ("description", "label", "target_label"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"Investment {self.name!r}: {name} must be text, got {value!r}.")
        if not (self.target == "all" or isinstance(self.target, str | Mapping)):
            raise ValueError(
                f"Investment {self.name!r}: target must be 'all', a mapping "
                "{column: value(s)} or a condition string."
            )
        if isinstance(self.target, str) and self.target != "all":
            try:
                parse_condition(self.target)
            except ConditionError as exc:
                raise ValueError(f"Investment {self.name!r}: target {exc}") from None

    def _schedule(self, cost: Any) -> dict[int, float]:
        items = cost.items() if isinstance(cost, Mapping) else [(0, cost)]
        out: dict[int, float] = {}
        for period, amount in items:
            try:
                p, a = int(period), float(amount)
            except (TypeError, ValueError):
                raise ValueError(
                    f"Investment {self.name!r}: cost must be an amount or "
                    f"{{period: amount}}, got {cost!r}."
                ) from None
            if p < 0 or p != float(period) or not math.isfinite(a) or a < 0:
                raise ValueError(
                    f"Investment {self.name!r}: cost periods must be whole numbers "
                    f">= 0 and amounts finite and >= 0, got {period!r}: {amount!r}."
                )
            out[p] = out.get(p, 0.0) + a
        if sum(out.values()) <= 0:
            raise ValueError(f"Investment {self.name!r}: the total cost must be > 0.")
        return out

    @property
    def cost_schedule(self) -> dict[int, float]:
        """Cost as ``{period: amount}``."""
        return self._schedule(self.cost)

    @property
    def grade(self) -> str:
        """Evidence grade of the effect sizes."""
        return self.evidence.grade

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable form (inverse of :meth:`from_dict`)."""
        doc = asdict(self)
        doc["cost"] = {str(k): v for k, v in self.cost_schedule.items()}
        doc["evidence"]["coefficients"] = {
            k: list(v) for k, v in self.evidence.coefficients.items()
        }
        return doc

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Investment:
        """Build from a plain mapping (as in a TOML/YAML/JSON file).

        Examples
        --------
        >>> Investment.from_dict({"name": "Recovery", "cost": 1e5,
        ...     "shifts": [{"column": "complaints", "mode": "relative", "amount": -0.5}],
        ...     "evidence": {"kind": "assumption",
        ...                  "coefficients": {"dropout[complaints]": [0.3, 0.1]}}}).grade
        'D'
        """
        d = dict(doc)
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(
                f"unknown investment field(s) {sorted(unknown)}; valid: "
                f"{sorted(cls.__dataclass_fields__)}."
            )
        if "name" not in d or "cost" not in d or "shifts" not in d:
            raise ValueError("an investment needs 'name', 'cost' and 'shifts'.")
        shifts = []
        for s in d["shifts"]:
            if isinstance(s, Shift):
                shifts.append(s)
            else:
                try:
                    shifts.append(Shift(**dict(s)))
                except TypeError as exc:
                    msg = f"investment {d['name']!r}: bad shift {s!r} ({exc})."
                    raise ValueError(msg) from None
        d["shifts"] = tuple(shifts)
        cost = d["cost"]
        if isinstance(cost, Mapping):
            d["cost"] = {int(k): float(v) for k, v in cost.items()}
        ev = d.get("evidence")
        if isinstance(ev, Mapping):
            d["evidence"] = Evidence(
                ev.get("kind", "observational"),
                {k: tuple(v) for k, v in dict(ev.get("coefficients", {})).items()},
                ev.get("source"),
                dict(ev.get("grades") or {}),
                population=ev.get("population"),
                tested=ev.get("tested"),
            )
        elif isinstance(ev, str):
            d["evidence"] = Evidence(ev)
        elif ev is None:
            d.pop("evidence", None)
        return cls(**d)


def _date_text(value: Any) -> str:
    """A date-like value as ``YYYY-MM-DD`` (its text when it has no ``date()``)."""
    try:
        return str(value.date())
    except AttributeError:
        return str(value)


def _tenure_condition(enrol: Mapping[str, Any]) -> str | None:
    """``"tenure_days <= hi"`` (with a lower bound when > 0) from an experiment's enrolment."""
    lo, hi = enrol.get("tenure_days_min"), enrol.get("tenure_days_max")
    if lo is None or hi is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    lo_i, hi_i = math.floor(float(lo)), math.ceil(float(hi))
    upper = f"{TENURE_COLUMN} <= {hi_i}"
    return upper if lo_i <= 0 else f"{TENURE_COLUMN} >= {lo_i} and {upper}"


def _describe_enrolment(enrol: Mapping[str, Any]) -> str:
    """Who was randomised, when and for how long, in words (empty without the facts)."""
    if not enrol.get("customers"):
        return ""
    text = f"{int(enrol['customers']):,} customers randomised"
    if enrol.get("start_first") and enrol.get("start_last"):
        text += f" {enrol['start_first']} to {enrol['start_last']}"
    lo, hi = enrol.get("tenure_days_min"), enrol.get("tenure_days_max")
    if lo is not None and hi is not None:
        text += (
            " at their first purchase"
            if hi <= 0
            else f" {lo:,.0f}-{hi:,.0f} days after their first purchase"
        )
    if enrol.get("post_days_max"):
        text += f", followed up to {int(enrol['post_days_max']):,} days"
    return text


def _from_rows(rows: Iterable[Mapping[str, str]], source: str) -> list[Investment]:
    """CSV: one row per shift; rows with the same name form one investment."""
    grouped: dict[str, dict[str, Any]] = {}
    for i, row in enumerate(rows, start=2):
        name = (row.get("name") or "").strip()
        if not name:
            raise ValueError(
                f"{source} line {i}: column 'name' is empty; every row needs the investment name."
            )
        try:
            inv = grouped.setdefault(name, {"name": name, "cost": float(row["cost"]), "shifts": []})
            inv["shifts"].append(
                {
                    "column": row["column"],
                    "mode": row["mode"],
                    "amount": float(row["amount"]),
                    "sd": float(row.get("sd") or 0.0),
                    "where": row.get("where") or None,
                }
            )
            for key, conv in (("ramp_periods", int), ("duration", int), ("cost_sd", float)):
                if row.get(key):
                    inv[key] = conv(row[key])
            if row.get("target"):
                inv["target"] = row["target"]
            for key in ("description", "label", "target_label"):
                if row.get(key):
                    inv[key] = row[key]
            if row.get("evidence_kind"):
                ev = inv.setdefault(
                    "evidence",
                    {
                        "kind": row["evidence_kind"],
                        "coefficients": {},
                        "source": row.get("evidence_source") or None,
                        "population": row.get("evidence_population") or None,
                    },
                )
                if row.get("coefficient"):
                    ev["coefficients"][row["coefficient"]] = (
                        float(row["coefficient_mean"]),
                        float(row["coefficient_se"]),
                    )
        except (KeyError, ValueError) as exc:
            raise ValueError(
                f"{source} line {i}: {exc}. Columns: name, cost, column, mode, "
                "amount[, sd, where, target, ramp_periods, duration, cost_sd, "
                "description, label, target_label, evidence_kind, evidence_source, "
                "evidence_population, "
                "coefficient, coefficient_mean, coefficient_se]."
            ) from None
    return [Investment.from_dict(d) for d in grouped.values()]


def _short(exc: BaseException, limit: int = 300) -> str:
    """One line of an exception's text, at most ``limit`` characters."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def load_investments(path: str | os.PathLike[str]) -> list[Investment]:
    """Read investments from a TOML, YAML, JSON or CSV file.

    TOML/YAML/JSON: a list under ``investments`` (``[[investments]]`` tables in
    TOML), each with the fields of :class:`Investment` and ``shifts`` as a list
    of tables. CSV: one row per shift with columns ``name, cost, column, mode,
    amount`` and optional ``sd, where, target, ramp_periods, duration, cost_sd,
    description, label, target_label, evidence_kind, evidence_source, evidence_population,
    coefficient, coefficient_mean,
    coefficient_se``.

    Raises
    ------
    ValueError
        Naming the file and the problem.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    try:
        if suffix == ".csv":
            with p.open(newline="", encoding="utf-8") as fh:
                out = _from_rows(csv.DictReader(fh), str(p))
        else:
            text = p.read_text(encoding="utf-8")
            if suffix == ".toml":
                doc: Any = tomllib.loads(text)
            elif suffix in (".yaml", ".yml"):
                try:
                    import yaml
                except ImportError:  # pragma: no cover - pyyaml ships with the dev extra
                    raise ValueError(
                        f"{p}: reading YAML needs PyYAML (pip install pyyaml); "
                        "or use TOML/JSON/CSV."
                    ) from None
                try:
                    # the safe loader builds plain lists, dicts, strings and numbers only: a
                    # ``!!python/...`` tag is refused, never constructed
                    doc = yaml.load(text, Loader=yaml.SafeLoader)
                except yaml.YAMLError as exc:
                    raise ValueError(
                        f"{p}: not a valid investments YAML file "
                        f"({_short(exc)}); only plain YAML (no tags such as "
                        "!!python/...) is read."
                    ) from None
            elif suffix == ".json":
                doc = json.loads(text)
            else:
                raise ValueError(
                    f"{p}: unknown investment file type {suffix!r}; use .toml, "
                    ".yaml, .json or .csv."
                )
            items = doc.get("investments") if isinstance(doc, Mapping) else doc
            if not isinstance(items, list) or not items:
                raise ValueError(f"{p}: expected a non-empty list 'investments'.")
            out = [Investment.from_dict(item) for item in items]
    except (OSError, tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{p}: cannot read investments ({_short(exc)}).") from None
    except RecursionError:
        raise ValueError(f"{p}: the investments file is nested too deeply.") from None
    except ValueError as exc:
        msg = str(exc)
        raise ValueError(msg if msg.startswith(str(p)) else f"{p}: {msg}") from None
    names = [inv.name for inv in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"{p}: investment names must be unique; repeated: {dupes}.")
    return out
