"""Which columns an investment may shift: actionable experience, descriptive signals, controls.

A covariate plays one of four roles:

``actionable``
    An experience the business can buy (a wait, a resolution rate, a
    promoter share reached by a better experience): shifts in any direction.
``reducible``
    A count of events that is a symptom (complaints, contacts): an investment
    may *reduce* it (fix the cause), never raise it; "provoke a complaint from
    every customer" is refused.
``descriptive``
    Says who the customer is or what was measured, not an experience:
    ``*_missing`` indicators (who answered a survey, who ever called);
    refused.
``control``
    A customer attribute (channel, region, tier, tenure, acquisition
    source...) entered to adjust for confounding; refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from clv.exceptions import DataError, Problem

__all__ = ["ROLES", "check_shifts", "control_columns", "default_roles", "encode_controls"]

ROLES = ("actionable", "reducible", "descriptive", "control")
_COUNT_WORDS = ("complaint", "contact", "count", "calls", "tickets", "escalation")
_ID_LIKE = ("customer_id", "id")
_MAX_LEVELS = 30


def default_roles(columns: Iterable[str], controls: Iterable[str] = ()) -> dict[str, str]:
    """Roles: controls; ``*_missing`` descriptive; counts reducible; else actionable.

    Examples
    --------
    >>> default_roles(["complaints", "wait_minutes", "nps_missing", "channel=web"],
    ...               controls=["channel=web"])
    {'complaints': 'reducible', 'wait_minutes': 'actionable', 'nps_missing': 'descriptive', \
'channel=web': 'control'}
    """
    ctl = set(controls)
    out = {}
    for col in columns:
        name = str(col).lower()
        if col in ctl:
            out[col] = "control"
        elif name.endswith("_missing"):
            out[col] = "descriptive"
        elif any(w in name for w in _COUNT_WORDS) and not name.endswith(("_rate", "_share")):
            out[col] = "reducible"
        else:
            out[col] = "actionable"
    return out


def _direction(shift: Any, values: pd.Series | None) -> float:
    """Sign of a shift's change (+1 raises, -1 lowers, 0 none) for typical (non-zero) values."""
    if shift.mode == "add":
        return float((shift.amount > 0) - (shift.amount < 0))
    if shift.mode == "relative":
        return float((shift.amount > 0) - (shift.amount < 0))
    if shift.mode == "restore":  # back to the pre-change level: undoes a rise
        return -1.0
    if shift.mode == "prevent":  # keeps the level where the baseline would move by amount
        return float((shift.amount < 0) - (shift.amount > 0))
    if values is None or not len(values):
        return 1.0
    mean = float(values.mean())
    return float((shift.amount > mean) - (shift.amount < mean))


def check_shifts(
    investments: Sequence[Any], roles: Mapping[str, str], data: pd.DataFrame | None = None
) -> None:
    """Refuse shifts of descriptive columns, controls, and increases of reducible counts.

    Raises
    ------
    DataError
        One problem per refused shift, naming the investment, the column and the fix.
    """
    problems = []
    for inv in investments:
        for shift in inv.shifts:
            role = roles.get(shift.column)
            col = shift.column
            if role == "descriptive":
                problems.append(
                    Problem(
                        col,
                        f"investment {inv.name!r} shifts {col!r}, which "
                        "describes who was measured (a missing-signal "
                        "indicator), not an experience money can buy; changing "
                        "it would value, e.g., surveying everyone as if answering "
                        "made customers buy",
                        "shift the experience itself (e.g. the promoter share or "
                        "the wait) or declare the column actionable with "
                        f"roles={{'{col}': 'actionable'}} if it truly is",
                    )
                )
            elif role == "control":
                problems.append(
                    Problem(
                        col,
                        f"investment {inv.name!r} shifts {col!r}, a "
                        "customer attribute entered as a control for "
                        "confounding, not an experience",
                        "target the segment instead (target={...}) and shift "
                        "an experience column, or leave the attribute out of "
                        "controls=",
                    )
                )
            elif role == "reducible":
                values = data[col] if data is not None and col in data.columns else None
                if _direction(shift, values) > 0:
                    problems.append(
                        Problem(
                            col,
                            f"investment {inv.name!r} raises {col!r}, a "
                            "count of events that signals a problem; more "
                            "complaints or contacts is not an experience to buy "
                            "(an association with buying more usually means "
                            "purchases trigger them)",
                            "only reduce it (mode 'relative' with a negative "
                            "amount), or declare it actionable with "
                            f"roles={{'{col}': 'actionable'}}",
                        )
                    )
    if problems:
        raise DataError(problems, what="the investments")


def control_columns(
    customers: pd.DataFrame | None, id_col: str, controls: str | Sequence[str] | None = "auto"
) -> list[str]:
    """Customer attributes to adjust for: all usable ones (``"auto"``), a list, or none.

    ``"auto"`` keeps numeric columns and categorical columns with 2-30 levels,
    and skips the id and constant columns.
    """
    if customers is None or controls is None:
        return []
    if isinstance(controls, str) and controls != "auto":
        controls = [c.strip() for c in controls.split(",") if c.strip()]
    cols = [c for c in customers.columns if str(c) != id_col and str(c).lower() not in _ID_LIKE]
    if isinstance(controls, str):
        out = []
        for c in cols:
            s = customers[c]
            levels = s.nunique(dropna=True)
            if levels < 2:
                continue
            numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)
            if numeric or levels <= _MAX_LEVELS:
                out.append(str(c))
        return out
    missing = [c for c in controls if c not in customers.columns]
    if missing:
        raise DataError(
            [
                Problem(
                    c,
                    "is not a column of the customers table",
                    f"choose from {list(map(str, cols))}",
                )
                for c in missing
            ],
            what="the controls",
        )
    return list(controls)


def encode_controls(attrs: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Model-ready controls: numeric columns as they are (missing -> median), categories as
    0/1 columns ``<column>=<level>`` (first level the reference; missing is its own level)."""
    parts = {}
    for c in columns:
        s = attrs[c]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            v = s.astype("float64")
            parts[str(c)] = v.fillna(v.median() if v.notna().any() else 0.0)
            continue
        labels = s.astype("string").fillna("(missing)")
        levels = sorted(labels.unique())
        for level in levels[1:]:
            parts[f"{c}={level}"] = (labels == level).astype("float64")
    return pd.DataFrame(parts, index=attrs.index)
