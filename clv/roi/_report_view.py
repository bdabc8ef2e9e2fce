"""Plain-language pieces of the finance report: units, labels, sentences, caveats.

Pure functions from the finance table, the portfolio and the valuation settings
to text. No HTML here: the template (autoescaped) lays the text out, so any
name, segment or column coming from a user is always rendered as text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from clv.roi.spec import Investment, Shift

__all__ = [
    "Units",
    "column_label",
    "format_money",
    "format_probability",
    "investment_sentence",
    "shift_text",
    "target_text",
]

#: Human names of the built-in CX features and common columns.
COLUMN_LABELS = {
    "wait_minutes": "wait time (minutes)",
    "complaints": "complaints",
    "fcr_rate": "first-contact resolution rate",
    "promoter": "promoter status (NPS 9-10)",
    "detractor": "detractor status (NPS 0-6)",
    "nps": "NPS answer",
    "csat_last": "last satisfaction score (CSAT)",
    "ces_last": "last customer-effort score",
    "promoter_share": "share of promoters in the market",
    "channel": "channel",
    "segment": "segment",
    "region": "region",
    "service_contacts": "service contacts",
}
#: What "<column>_missing == 0" means, per column (default: "a recorded <label>").
_RECORDED = {
    "wait_minutes": "a recorded wait time (customers who contacted service)",
    "nps": "an NPS answer",
    "csat_last": "a satisfaction score",
    "ces_last": "an effort score",
}
GRADE_WORDS = {"A": "experiment", "B": "quasi-experiment", "C": "association", "D": "assumption"}
_CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥", "CHF": "CHF "}
_PERIODS_PER_YEAR = {"day": 365.25, "week": 365.25 / 7, "month": 12.0, "quarter": 4.0, "year": 1.0}
_UNIT_DAYS = {"D": 1.0, "W": 7.0, "M": 365.25 / 12, "Q": 365.25 / 4, "Y": 365.25}


MODEL_NAMES = {
    "ParetoNBDModel": "Pareto/NBD",
    "GammaGammaModel": "Gamma-Gamma",
    "BetaGeoModel": "BG/NBD",
    "ModifiedBetaGeoModel": "MBG/NBD",
}


def model_name(name: str) -> str:
    """Published name of a model class (``ParetoNBDModel`` -> ``Pareto/NBD``)."""
    return MODEL_NAMES.get(name, name)


def column_label(column: str) -> str:
    """Human name of a feature or attribute column.

    Examples
    --------
    >>> column_label("fcr_rate")
    'first-contact resolution rate'
    >>> column_label("loyalty_tier")
    'loyalty tier'
    """
    if column in COLUMN_LABELS:
        return COLUMN_LABELS[column]
    if column.endswith("_missing"):
        return f"no recorded {column_label(column[:-8])}"
    return column.replace("_", " ")


class Units:
    """Currency and period of the report: formats money, rates and durations.

    Parameters
    ----------
    currency : str
        ISO code (``"EUR"``) or symbol; empty: "currency units".
    period : str
        Name of the valuation period (``"month"``, ``"week"``, ...).
    periods_per_year : float, optional
        Default from ``period``; NaN when unknown.
    """

    def __init__(
        self, currency: str = "", period: str = "period", periods_per_year: float | None = None
    ) -> None:
        self.currency = str(currency or "")
        self.symbol = _CURRENCY_SYMBOLS.get(self.currency.upper(), "")
        self.period = str(period)
        self.periods_per_year = (
            float(periods_per_year)
            if periods_per_year is not None
            else _PERIODS_PER_YEAR.get(self.period, float("nan"))
        )

    @property
    def money_name(self) -> str:
        """The currency in words for headers."""
        return self.currency or "currency units"

    def money(self, value: float, *, signed: bool = False) -> str:
        """``€ 12,300`` / ``−€ 1,200`` / ``12,300 currency units``."""
        return format_money(value, self.currency, signed=signed)

    def periods(self, n: float) -> str:
        """``24 months``, ``1 month``."""
        if n is None or (isinstance(n, float) and not math.isfinite(n)):
            return "not within the horizon"
        k = float(n)
        word = self.period if abs(k - 1.0) < 1e-9 else _plural(self.period)
        return f"{k:,.0f} {word}" if k == round(k) else f"{k:,.1f} {word}"

    def annual_rate(self, per_period: float) -> float:
        """The annual rate equivalent to a rate per period."""
        if not math.isfinite(self.periods_per_year):
            return float("nan")
        return (1.0 + per_period) ** self.periods_per_year - 1.0

    def rate_text(self, per_period: float) -> str:
        """``10.0 % a year (0.80 % a month)``."""
        annual = self.annual_rate(per_period)
        if not math.isfinite(annual):
            return f"{100 * per_period:.3g} % per {self.period}"
        return f"{100 * annual:.1f} % a year ({100 * per_period:.2f} % a {self.period})"


def _plural(word: str) -> str:
    return word if word.endswith("s") else f"{word}s"


def period_units(assumptions: Mapping[str, Any], currency: str = "") -> Units:
    """:class:`Units` of a :meth:`RoiResult.assumptions` dictionary."""
    label = str(assumptions.get("time_unit", "period"))
    per_year = _PERIODS_PER_YEAR.get(label)
    if per_year is None:  # e.g. "14 × D": length × unit
        m = re.fullmatch(r"([0-9.]+) × ([DWMQY])", label)
        if m:
            per_year = 365.25 / (float(m.group(1)) * _UNIT_DAYS[m.group(2)])
            label = "period"
    return Units(currency, label, per_year)


def format_money(value: float, currency: str = "", *, signed: bool = False) -> str:
    """Money with thousands separators and the currency.

    Examples
    --------
    >>> format_money(-1234.6, "EUR").replace("\u2060", "")
    '−€1,235'
    >>> format_money(1234.6, "NOK")
    'NOK 1,235'
    >>> format_money(10, "")
    '10'
    """
    if value is None or not math.isfinite(float(value)):
        return "n/a"
    v = float(value)
    sign = "−\u2060" if round(v) < 0 else ("+\u2060" if signed and round(v) > 0 else "")
    digits = f"{abs(v):,.0f}"
    symbol = _CURRENCY_SYMBOLS.get(str(currency).upper())
    if symbol is not None:
        return f"{sign}{symbol}{digits}"
    return f"{sign}{currency} {digits}" if currency else f"{sign}{digits}"


def format_pct(value: float, digits: int = 0) -> str:
    """``-35 %`` with a real minus sign; n/a for NaN."""
    if value is None or not math.isfinite(float(value)):
        return "n/a"
    text = f"{100 * float(value):,.{digits}f}\u00a0%"
    return text.replace("-", "−\u2060")


def format_probability(p: float, n_draws: int | None = None) -> str:
    """A probability estimated from finite draws: never "100 %" or "0 %".

    Examples
    --------
    >>> [t.replace("\u00a0", " ") for t in (format_probability(1.0), format_probability(0.0),
    ...                                      format_probability(0.4567))]
    ['> 99 %', '< 1 %', '46 %']
    """
    if p is None or not math.isfinite(float(p)):
        return "n/a"
    q = float(p)
    if q >= 0.995:
        return "> 99\u00a0%"
    if q <= 0.005:
        return "< 1\u00a0%"
    return f"{100 * q:.0f}\u00a0%"


_OP_WORDS = {
    "==": "is",
    "!=": "is not",
    ">=": "at least",
    "<=": "at most",
    ">": "above",
    "<": "below",
}


def _node_text(node: Any) -> str:
    """One node of a parsed condition (:mod:`clv.roi.conditions`) in words."""
    from clv.roi import conditions as c

    if isinstance(node, c.BoolOp):
        return f" {node.op} ".join(_node_text(p) for p in node.operands)
    if isinstance(node, c.Not):
        return f"not ({_node_text(node.operand)})"
    if isinstance(node, c.Truth):
        return f"with {column_label(node.column.name)}"
    if isinstance(node, c.Member):
        vals = " or ".join(c.literal_text(v, quote=False) for v in node.values)
        return f"whose {column_label(node.column.name)} is {'not ' if node.negate else ''}{vals}"
    left, right, op = node.left, node.right, node.op
    if isinstance(right, c.Column) and isinstance(left, c.Literal):
        flip = {"<": ">", ">": "<", "<=": ">=", ">=": "<="}
        left, right, op = right, left, flip.get(op, op)
    if not (isinstance(left, c.Column) and isinstance(right, c.Literal)):
        return describe_plain(node)
    col, value = left.name, right.value
    flag = value in (0, 1) and not isinstance(value, str) and op in ("==", "!=")
    if col.endswith("_missing") and flag:
        base = col[:-8]
        recorded = (value == 0) == (op == "==")
        what = _RECORDED.get(base, f"a recorded {column_label(base)}")
        bare = re.sub(r"^(a|an) ", "", what.split(" (")[0])
        return f"with {what}" if recorded else f"with no {bare}"
    if flag and col in COLUMN_LABELS:
        positive = (value == 1) == (op == "==")
        return f"with {column_label(col)}" if positive else f"without {column_label(col)}"
    return f"whose {column_label(col)} is {_OP_WORDS[op]} {c.literal_text(value, quote=False)}"


def describe_plain(node: Any) -> str:
    """Fallback: the condition module's own wording."""
    from clv.roi import conditions as c

    return c.describe_condition(c.Condition("", node))


def _condition_text(expr: str) -> str | None:
    """A condition in words (None when it does not parse)."""
    from clv.roi.conditions import ConditionError, parse_condition

    try:
        return _node_text(parse_condition(expr).tree)
    except ConditionError:
        return None


def target_text(target: Any, label: str | None = None) -> str:
    """The targeted customers in plain words.

    Examples
    --------
    >>> target_text("wait_minutes_missing == 0")
    'customers with a recorded wait time (customers who contacted service)'
    >>> target_text({"channel": ["phone", "web"]})
    'customers whose channel is phone or web'
    >>> target_text("all")
    'all customers'
    >>> target_text("complaints >= 2 and promoter == 0")
    'customers whose complaints is at least 2 and without promoter status (NPS 9-10)'
    """
    if label:
        return str(label)
    if isinstance(target, str) and target == "all":
        return "all customers"
    if isinstance(target, Mapping):
        parts = []
        for col, values in target.items():
            vals = list(values) if isinstance(values, list | tuple | set) else [values]
            parts.append(f"whose {column_label(str(col))} is " + " or ".join(str(v) for v in vals))
        return "customers " + " and ".join(parts)
    words = _condition_text(str(target))
    if words is not None:
        return f"customers {words}"
    return f"customers selected by the rule “{target}”"


def _signed(value: float, fmt: str) -> str:
    text = format(value, fmt)
    return text.replace("-", "−", 1) if text.startswith("-") else text


def shift_text(shift: Shift) -> str:
    """What one shift changes, in words.

    Examples
    --------
    >>> shift_text(Shift("wait_minutes", "relative", -0.3, sd=0.05))
    'wait time (minutes) −30 % (± 5 %)'
    >>> shift_text(Shift("fcr_rate", "add", 0.15))
    'first-contact resolution rate +0.15'
    """
    label = column_label(shift.column)
    if shift.mode == "relative":
        text = f"{label} {_signed(100 * shift.amount, '+.0f')} %"
        if shift.sd:
            text += f" (± {100 * shift.sd:.0f} %)"
    elif shift.mode == "add":
        text = f"{label} {_signed(shift.amount, '+g')}"
        if shift.sd:
            text += f" (± {shift.sd:g})"
    else:
        text = f"{label} set to {_signed(shift.amount, 'g')}"
        if shift.sd:
            text += f" (± {shift.sd:g})"
    if shift.where:
        cond = _condition_text(shift.where)
        text += f", for customers {cond}" if cond else f", where “{shift.where}”"
    return text


def investment_name(inv: Investment) -> str:
    """The display name: ``label`` when given."""
    return inv.label or inv.name


def _interval(units: Units, lo: float, hi: float) -> str:
    return f"{units.money(lo)} to {units.money(hi)}"


def investment_sentence(row: Mapping[str, Any] | pd.Series, units: Units) -> str:
    """The plain sentence after an investment's name: the reason for the recommendation when
    the table has one, then the facts that decide it (expected NPV with its 90 % interval, the
    chance of a positive return, the evidence grade)."""
    grade = str(row.get("evidence_grade", ""))
    saving = row.get("gain_service_cost")
    service = ""
    if isinstance(saving, int | float) and math.isfinite(saving) and abs(saving) >= 0.5:
        service = (
            f"; includes {units.money(saving)} saved on service contacts"
            if saving > 0
            else f"; after {units.money(-saving)} more spent on service contacts"
        )
    facts = (
        f"expected NPV {units.money(row['npv_mean'])} (90 % interval "
        f"{_interval(units, row['npv_p05'], row['npv_p95'])}{service}), "
        f"{format_probability(row['p_roi_positive'])} chance of a positive return, "
        f"evidence {grade} ({GRADE_WORDS.get(grade, 'unknown')})."
    )
    reason = row.get("reason")
    if isinstance(row.get("recommendation"), str) and isinstance(reason, str) and reason:
        return f"{reason.strip().rstrip('.')}. {facts[:1].upper()}{facts[1:]}"
    return facts


def caveats(
    table: pd.DataFrame,
    *,
    portfolio: Any,
    notes: Sequence[str],
    units: Units,
    service_cost: Mapping[str, Any] | None,
    limit: int = 3,
) -> list[str]:
    """The caveats that matter most, in order of how much they could change the decision."""
    out: list[tuple[int, str]] = []
    chosen = set(portfolio.chosen) if portfolio is not None else set(table["investment"])
    focus = table[table["investment"].isin(chosen)] if chosen else table
    weak = focus[focus["evidence_grade"].isin(["C", "D"])]
    if len(weak):
        names = ", ".join(weak["investment"].head(3))
        out.append(
            (
                0,
                f"{len(weak)} of {len(focus)} "
                f"{'funded ' if portfolio is not None and chosen else ''}investments "
                f"rest on associations or assumptions, not experiments ({names}): the "
                "effects may be smaller. Test before scaling; the break-even share "
                "says how much of the effect is needed.",
            )
        )
    risky = focus[(focus["p_roi_positive"] < 0.8) & (focus["p_roi_positive"] >= 0.2)]
    if len(risky):
        names = ", ".join(risky["investment"].head(3))
        out.append((1, f"The 90 % interval of the NPV includes a loss for {names}."))
    if any("do NOT improve" in n for n in notes):
        out.append(
            (
                0,
                "The CX signals do not improve the out-of-sample forecast of the "
                "purchase models: treat their effects with extra caution.",
            )
        )
    if portfolio is None:
        out.append((2, "No budget was given: the ranking is not a funding decision."))
    elif len(portfolio.joint_npv):
        joint = float(portfolio.joint_npv.mean())
        additive = float(portfolio.additive_npv.mean())
        if abs(joint - additive) > 0.05 * max(abs(additive), 1.0):
            out.append(
                (
                    2,
                    f"Funded together, the effects interact: joint expected NPV "
                    f"{units.money(joint)} against {units.money(additive)} summed "
                    "separately.",
                )
            )
    if service_cost is not None:
        out.append(
            (
                3,
                "Cost-to-serve savings come from an association between contact "
                "quality and repeat contacts (evidence C).",
            )
        )
    out.append(
        (
            4,
            "Values are present values of contribution margin over the horizon; "
            "costs are as stated in the investment plans.",
        )
    )
    return [text for _, text in sorted(out, key=lambda t: t[0])][:limit]


def tornado_label(factor: str, low: float, high: float, units: Units) -> str:
    """Human label of one sensitivity factor and its low / high settings.

    Examples
    --------
    >>> tornado_label("discount_rate", 0.00398707, 0.0119612, Units("EUR", "month"))
    'Discount rate 4.9 % / 15.3 % a year'
    """
    if factor == "discount_rate":
        lo, hi = units.annual_rate(low), units.annual_rate(high)
        if math.isfinite(lo):
            return f"Discount rate {100 * lo:.1f} % / {100 * hi:.1f} % a year"
        return f"Discount rate {100 * low:.2f} % / {100 * high:.2f} % a {units.period}"
    if factor == "margin":
        return f"Margin {100 * low:.0f} % / {100 * high:.0f} % of spend"
    if factor == "horizon":
        return f"Horizon {low:.0f} / {high:.0f} {_plural(units.period)}"
    if factor == "cost_per_contact":
        return f"Cost per contact {100 * low:.0f} % / {100 * high:.0f} % of stated"
    if factor == "effect_size":
        return f"Effect {100 * low:.0f} % / {100 * high:.0f} % of estimate"
    return f"{column_label(factor).capitalize()} {low:g} / {high:g}"
