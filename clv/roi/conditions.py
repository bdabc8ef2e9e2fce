"""A small, safe condition language for investment targets and shift restrictions.

Investment files come from outside (finance teams, e-mail), so a target such as
``"wait_minutes_missing == 0 and fcr_rate < 1"`` is parsed here by the package's
own grammar and evaluated with NumPy comparisons. Nothing is ever handed to
Python's ``eval``, ``DataFrame.eval`` or ``DataFrame.query``: a string that is not
in the grammar is refused with a clear error, and no input can run code.

Grammar (case-sensitive column names, keywords in lower case)::

    condition  := or_expr
    or_expr    := and_expr (("or" | "|") and_expr)*
    and_expr   := not_expr (("and" | "&") not_expr)*
    not_expr   := ("not" | "~") not_expr | atom
    atom       := "(" condition ")" | comparison
    comparison := operand [cmp operand]          (a lone column must be 0/1 or true/false)
                | operand ["not"] "in" list
    cmp        := "==" | "!=" | "<" | "<=" | ">" | ">="
    operand    := column | number | string | "True" | "False"
    column     := identifier | `any text in backticks`
    list       := "[" [literal ("," literal)*] "]" | "(" [literal ("," literal)*] ")"
    literal    := number | string | "True" | "False"

Examples
--------
>>> import pandas as pd
>>> frame = pd.DataFrame({"channel": ["phone", "web", "phone"], "waits": [3.0, 1.0, 9.0]})
>>> cond = parse_condition("channel == 'phone' and waits > 5")
>>> evaluate_condition(cond, frame).tolist()
[False, False, True]
>>> describe_condition(cond)
"channel is 'phone' and waits > 5"
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Union

import numpy as np
import pandas as pd

__all__ = [
    "ConditionError",
    "Condition",
    "parse_condition",
    "evaluate_condition",
    "describe_condition",
    "condition_columns",
]

MAX_LENGTH = 2_000
MAX_DEPTH = 40
MAX_LIST = 1_000


class ConditionError(ValueError):
    """A condition string that is not in the grammar, or cannot be evaluated."""


# ----------------------------------------------------------------------------- syntax tree
@dataclass(frozen=True)
class Column:
    name: str


@dataclass(frozen=True)
class Literal:
    value: float | str | bool


@dataclass(frozen=True)
class Compare:
    op: str
    left: Column | Literal
    right: Column | Literal


@dataclass(frozen=True)
class Member:
    column: Column
    values: tuple[float | str | bool, ...]
    negate: bool


@dataclass(frozen=True)
class Truth:
    column: Column


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class BoolOp:
    op: str  # "and" | "or"
    operands: tuple[Node, ...]


Node = Union[Compare, Member, Truth, Not, BoolOp]  # noqa: UP007 (recursive alias)


@dataclass(frozen=True)
class Condition:
    """A parsed condition: the source text and its syntax tree."""

    text: str
    tree: Node


# ----------------------------------------------------------------------------- tokens
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<backtick>`[^`]+`)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|<|>|&&?|\|\|?|~|!|\(|\)|\[|\]|,|-)
""",
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "in", "True", "False", "true", "false"}
_CMP = {"==", "!=", "<", "<=", ">", ">="}


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _clip(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _tokenize(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise ConditionError(
                f"condition {_clip(text)!r}: unexpected character {text[pos]!r} at position "
                f"{pos}. Conditions use column names, numbers, quoted strings, comparisons "
                "(== != < <= > >=), 'in [...]', and/or/not and parentheses."
            )
        kind = m.lastgroup or ""
        if kind != "ws":
            tok = m.group()
            if kind == "name" and tok in _KEYWORDS:
                kind = "kw"
            out.append(_Tok(kind, tok, pos))
        pos = m.end()
    return out


# ----------------------------------------------------------------------------- parser
class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0
        self.depth = 0

    def _err(self, msg: str) -> ConditionError:
        tok = self.toks[self.i] if self.i < len(self.toks) else None
        where = f"at {tok.text!r} (position {tok.pos})" if tok else "at the end"
        return ConditionError(f"condition {_clip(self.text)!r}: {msg} {where}.")

    def _peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def _take(self, *texts: str) -> bool:
        tok = self._peek()
        if tok is not None and tok.kind in ("op", "kw") and tok.text in texts:
            self.i += 1
            return True
        return False

    def parse(self) -> Node:
        if not self.toks:
            raise ConditionError("condition is empty; give e.g. \"channel == 'phone'\" or 'all'.")
        node = self._or()
        if self._peek() is not None:
            raise self._err("unexpected text")
        return node

    def _nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ConditionError(
                f"condition {_clip(self.text)!r}: nested more than {MAX_DEPTH} "
                "levels deep; simplify it."
            )

    def _or(self) -> Node:
        parts = [self._and()]
        while self._take("or", "|", "||"):
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else BoolOp("or", tuple(parts))

    def _and(self) -> Node:
        parts = [self._not()]
        while self._take("and", "&", "&&"):
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts))

    def _not(self) -> Node:
        if self._take("not", "~", "!"):
            self._nest()
            node = Not(self._not())
            self.depth -= 1
            return node
        return self._atom()

    def _atom(self) -> Node:
        if self._take("("):
            self._nest()
            node = self._or()
            self.depth -= 1
            if not self._take(")"):
                raise self._err("expected ')'")
            return node
        left = self._operand()
        if self._take("not"):
            if not self._take("in"):
                raise self._err("expected 'in' after 'not'")
            return self._member(left, negate=True)
        if self._take("in"):
            return self._member(left, negate=False)
        tok = self._peek()
        if tok is not None and tok.kind == "op" and tok.text in _CMP:
            self.i += 1
            right = self._operand()
            if isinstance(left, Literal) and isinstance(right, Literal):
                raise ConditionError(
                    f"condition {_clip(self.text)!r}: a comparison needs at least one column name."
                )
            return Compare(tok.text, left, right)
        if tok is not None and tok.kind == "op" and tok.text == "=":
            raise self._err("use '==' to compare")
        if not isinstance(left, Column):
            raise self._err("expected a comparison")
        return Truth(left)

    def _member(self, left: Column | Literal, *, negate: bool) -> Node:
        if not isinstance(left, Column):
            raise self._err("'in' needs a column name on its left")
        close = "]" if self._take("[") else ")" if self._take("(") else None
        if close is None:
            raise self._err("expected a list such as ['a', 'b'] after 'in'")
        values: list[float | str | bool] = []
        if not self._take(close):
            while True:
                lit = self._operand()
                if not isinstance(lit, Literal):
                    raise self._err("list items must be numbers, quoted strings, True or False")
                values.append(lit.value)
                if len(values) > MAX_LIST:
                    raise self._err(f"lists hold at most {MAX_LIST} items")
                if self._take(close):
                    break
                if not self._take(","):
                    raise self._err(f"expected ',' or '{close}'")
                if self._take(close):  # trailing comma, as in ('gold',)
                    break
        return Member(left, tuple(values), negate)

    def _operand(self) -> Column | Literal:
        tok = self._peek()
        if tok is None:
            raise self._err("expected a column name or a value")
        negative = False
        if tok.kind == "op" and tok.text == "-":
            self.i += 1
            negative = True
            tok = self._peek()
            if tok is None or tok.kind != "number":
                raise self._err("expected a number after '-'")
        self.i += 1
        if tok.kind == "number":
            value = float(tok.text)
            if not math.isfinite(value):
                raise self._err("numbers must be finite")
            return Literal(-value if negative else value)
        if tok.kind == "string":
            body = tok.text[1:-1]
            return Literal(re.sub(r"\\(.)", r"\1", body))
        if tok.kind == "backtick":
            return Column(tok.text[1:-1])
        if tok.kind == "name":
            return Column(tok.text)
        if tok.kind == "kw" and tok.text in ("True", "true"):
            return Literal(True)
        if tok.kind == "kw" and tok.text in ("False", "false"):
            return Literal(False)
        self.i -= 1
        raise self._err("expected a column name or a value")


def parse_condition(text: str | Condition) -> Condition:
    """Parse a condition string (see the module docstring for the grammar).

    Parameters
    ----------
    text : str
        For example ``"channel in ['phone', 'chat'] and not complaints > 0"``.

    Returns
    -------
    Condition

    Raises
    ------
    ConditionError
        When the text is not in the grammar (e.g. function calls, attribute access,
        ``@`` names, arithmetic), is longer than 2,000 characters or nested deeper
        than 40 levels. Nothing in the text is ever executed.
    """
    if isinstance(text, Condition):
        return text
    if not isinstance(text, str):
        raise ConditionError(f"a condition must be a string, got {type(text).__name__}.")
    if len(text) > MAX_LENGTH:
        raise ConditionError(
            f"condition is {len(text):,} characters long; at most {MAX_LENGTH:,} are accepted."
        )
    return Condition(text, _Parser(text).parse())


# ----------------------------------------------------------------------------- evaluation
def condition_columns(cond: Condition | str) -> list[str]:
    """The column names a condition reads, in order of first use."""
    tree = parse_condition(cond).tree
    seen: dict[str, None] = {}

    def walk(node: Any) -> None:
        if isinstance(node, Column):
            seen.setdefault(node.name)
        elif isinstance(node, Compare):
            walk(node.left)
            walk(node.right)
        elif isinstance(node, Member | Truth):
            walk(node.column)
        elif isinstance(node, Not):
            walk(node.operand)
        elif isinstance(node, BoolOp):
            for part in node.operands:
                walk(part)

    walk(tree)
    return list(seen)


def _values(operand: Column | Literal, frame: pd.DataFrame, text: str) -> Any:
    if isinstance(operand, Literal):
        return operand.value
    if operand.name not in frame.columns:
        cols = ", ".join(map(str, list(frame.columns)[:30]))
        raise ConditionError(
            f"condition {_clip(text)!r}: column {operand.name!r} is not in the "
            f"data (columns: {cols}). Check the spelling, or add the column."
        )
    return frame[operand.name].to_numpy()


_OPS = {
    "==": np.equal,
    "!=": np.not_equal,
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
}


def _compare(op: str, left: Any, right: Any, text: str) -> np.ndarray:
    try:
        if op in ("==", "!="):
            # element-wise equality that never raises on mixed types: unequal types differ
            lhs = left if isinstance(left, np.ndarray) else None
            rhs = right if isinstance(right, np.ndarray) else None
            arr = lhs if lhs is not None else rhs
            other = right if lhs is not None else left
            if isinstance(other, np.ndarray):
                eq = pd.Series(arr).eq(pd.Series(other)).to_numpy(dtype=bool)
            else:
                eq = pd.Series(arr).eq(other).to_numpy(dtype=bool)
            return eq if op == "==" else ~eq
        with np.errstate(invalid="ignore"):
            out = _OPS[op](left, right)
        return np.asarray(out, dtype=bool)
    except TypeError:
        raise ConditionError(
            f"condition {_clip(text)!r}: cannot order-compare values of "
            "different kinds (e.g. text with a number) with "
            f"{op!r}."
        ) from None


def evaluate_condition(cond: Condition | str, frame: pd.DataFrame) -> np.ndarray:
    """Evaluate a condition row by row on ``frame``.

    Parameters
    ----------
    cond : Condition or str
        A parsed condition or a string in the grammar.
    frame : pandas.DataFrame
        One row per customer.

    Returns
    -------
    numpy.ndarray of bool, one value per row. Missing values compare false
    (except ``!=`` and ``not in``, which are true for them).
    """
    cond = parse_condition(cond)
    n = len(frame)

    def ev(node: Any) -> np.ndarray:
        if isinstance(node, BoolOp):
            parts = [ev(p) for p in node.operands]
            out = parts[0].copy()
            for p in parts[1:]:
                out = (out & p) if node.op == "and" else (out | p)
            return out
        if isinstance(node, Not):
            return ~ev(node.operand)
        if isinstance(node, Truth):
            x = _values(node.column, frame, cond.text)
            series = pd.Series(x)
            ok = series.isna() | series.isin([0, 1, True, False])
            if not bool(ok.all()):
                raise ConditionError(
                    f"condition {_clip(cond.text)!r}: column {node.column.name!r} is not a 0/1 "
                    f"flag, so it cannot stand alone; compare it, e.g. "
                    f"'{node.column.name} > 0'."
                )
            return series.fillna(0).astype(bool).to_numpy()
        if isinstance(node, Member):
            x = pd.Series(_values(node.column, frame, cond.text))
            hit = x.isin(list(node.values)).to_numpy(dtype=bool)
            return ~hit if node.negate else hit
        if isinstance(node, Compare):
            left = _values(node.left, frame, cond.text)
            right = _values(node.right, frame, cond.text)
            return _compare(node.op, left, right, cond.text)
        raise AssertionError(node)  # pragma: no cover - the parser builds only these nodes

    mask = np.asarray(ev(cond.tree), dtype=bool)
    if mask.shape != (n,):
        mask = np.broadcast_to(mask, (n,)).copy()
    return mask


# ----------------------------------------------------------------------------- description
_WORDS = {"==": "is", "!=": "is not", "<": "<", "<=": "≤", ">": ">", ">=": "≥"}


def literal_text(value: Any, *, quote: bool = True) -> str:
    """A condition's literal in words: ``yes``/``no``, ``2.5``, ``'phone'`` (``phone`` unquoted)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return repr(value) if quote else str(value)


def describe_condition(cond: Condition | str) -> str:
    """Plain-language rendering of a condition, for reports (e.g. ``"channel is 'phone'"``)."""
    cond = parse_condition(cond)

    def side(x: Column | Literal) -> str:
        return x.name if isinstance(x, Column) else literal_text(x.value)

    def d(node: Any, top: bool = False) -> str:
        if isinstance(node, BoolOp):
            s = f" {node.op} ".join(d(p) for p in node.operands)
            return s if top else f"({s})"
        if isinstance(node, Not):
            return f"not {d(node.operand)}"
        if isinstance(node, Truth):
            return f"{node.column.name} is yes"
        if isinstance(node, Member):
            vals = ", ".join(literal_text(v) for v in node.values)
            return f"{node.column.name} {'not ' if node.negate else ''}in {{{vals}}}"
        if isinstance(node, Compare):
            return f"{side(node.left)} {_WORDS[node.op]} {side(node.right)}"
        raise AssertionError(node)  # pragma: no cover

    return d(cond.tree, top=True)
