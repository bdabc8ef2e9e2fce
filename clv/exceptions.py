"""Errors and warnings raised by clv.

::

    ClvError
    ├── DataError(ClvError, ValueError)          bad input data: column, rows, fix
    ├── NotFittedError(ClvError, AttributeError) a fitted attribute was used before fit()
    ├── ConvergenceError(ClvError, RuntimeError) the optimiser failed: what was tried, what to try
    └── ModelFileError(ClvError, ValueError)     unknown schema_version / wrong model in a file
    ClvWarning(UserWarning)
    ├── ConvergenceWarning                       converged, but e.g. the Hessian is not definite
    └── DataWarning                              suspicious but valid data
        └── DuplicateRowsWarning                 rows identical in every column
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ClvError",
    "ConvergenceError",
    "ConvergenceWarning",
    "ClvWarning",
    "DataError",
    "DataWarning",
    "DuplicateRowsWarning",
    "ModelFileError",
    "NotFittedError",
    "Problem",
]

MAX_IDS_SHOWN = 5


class ClvError(Exception):
    """Base class of every error raised by clv."""


@dataclass(frozen=True)
class Problem:
    """One problem found while validating input data.

    Parameters
    ----------
    column : str or None
        Column the problem is in (``None`` for frame-level problems).
    message : str
        What is wrong, e.g. ``"is missing for 3 rows"``.
    fix : str
        What the user should do about it.
    rows : sequence
        Example customer ids or row labels where it happens (all of them; only
        the first few are shown in the message).
    n_rows : int, optional
        How many ids or labels there are in all, when ``rows`` holds only the
        first few (a distributed engine does not collect them all).

    Examples
    --------
    >>> print(Problem("amount", "is negative in 2 rows", "drop them.", ["a", "b"]).render())
      - column 'amount' is negative in 2 rows (e.g. 'a', 'b').
        Fix: drop them.
    >>> Problem("id", "is missing", "fill it.", [0, 1, 2, 3, 4], n_rows=9).render().splitlines()[0]
    "  - column 'id' is missing (e.g. 0, 1, 2, 3, 4 and 4 more)."
    """

    column: str | None
    message: str
    fix: str
    rows: Sequence[object] = field(default_factory=tuple)
    n_rows: int | None = None

    def render(self) -> str:
        """Return the problem as a human readable, multi-line string."""
        where = f"column '{self.column}' " if self.column is not None else ""
        text = f"  - {where}{self.message}"
        total = len(self.rows) if self.n_rows is None else self.n_rows
        if len(self.rows):
            shown = ", ".join(clip(repr(_plain(r)), 60) for r in list(self.rows)[:MAX_IDS_SHOWN])
            more = f" and {total - MAX_IDS_SHOWN} more" if total > MAX_IDS_SHOWN else ""
            text += f" (e.g. {shown}{more})"
        text += f".\n    Fix: {self.fix}"
        return text


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most about ``limit`` characters, saying how much was left out.

    Examples
    --------
    >>> clip("x" * 50, 10)
    'xxxxxxxxxx... (40 more characters)'
    """
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


def _plain(value: object) -> object:
    """Turn NumPy scalars into plain Python values for readable messages."""
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return item()
        except (TypeError, ValueError):
            return value
    return value


class DataError(ClvError, ValueError):
    """Input data is invalid.

    Carries every problem found (``.problems``), each naming the column, example
    rows and the fix, so one run shows everything that needs fixing.
    """

    def __init__(self, problems: Sequence[Problem] | str, *, what: str = "the data") -> None:
        if isinstance(problems, str):
            problems = [Problem(None, problems, "see the message above")]
        self.problems: list[Problem] = list(problems)
        n = len(self.problems)
        header = f"{n} problem{'s' if n != 1 else ''} in {what}:"
        super().__init__("\n".join([header, *(p.render() for p in self.problems)]))


class NotFittedError(ClvError, AttributeError):
    """A model was used before it was fitted."""


class ConvergenceError(ClvError, RuntimeError):
    """Maximum-likelihood estimation did not converge.

    The text is ``message`` followed by ``remedy``; the fields let callers act
    on the failure without parsing the text.

    Parameters
    ----------
    message : str
        What went wrong (with the starts tried).
    reason : {"", "not_finite", "at_bound", "not_converged"}
        The kind of failure.
    params_at_bound : sequence of str
        Parameters that ran to the edge of the allowed range.
    attempts : sequence of str
        One line per starting point tried (optimiser message, objective, iterations).
    remedy : str
        The suggested fix (what a caller with better advice replaces).
    """

    def __init__(
        self,
        message: str = "",
        *,
        reason: str = "",
        params_at_bound: Sequence[str] = (),
        attempts: Sequence[str] = (),
        remedy: str = "",
    ) -> None:
        self.message = message
        self.reason = reason
        self.params_at_bound = tuple(params_at_bound)
        self.attempts = tuple(attempts)
        self.remedy = remedy
        super().__init__(" ".join(t for t in (message, remedy) if t))

    def __reduce__(self) -> tuple[Any, ...]:
        return (
            _convergence_error,
            (self.message, self.reason, self.params_at_bound, self.attempts, self.remedy),
        )


def _convergence_error(
    message: str, reason: str, params_at_bound: Sequence[str], attempts: Sequence[str], remedy: str
) -> ConvergenceError:
    return ConvergenceError(
        message, reason=reason, params_at_bound=params_at_bound, attempts=attempts, remedy=remedy
    )


class ModelFileError(ClvError, ValueError):
    """A model file is unreadable, of an unknown schema version, or for another model."""


class ClvWarning(UserWarning):
    """Base class of warnings issued by clv."""


class ConvergenceWarning(ClvWarning):
    """The fit converged but the result is doubtful (e.g. singular Hessian).

    Parameters
    ----------
    message : str
        What is doubtful and what it means for the results.
    reason : str
        The kind of doubt, e.g. ``"homogeneous_limit"`` (a Gamma shape was held
        at a large value because the data show no heterogeneity).
    params_at_bound : sequence of str
        Parameters held at (or run to) the edge of their range.
    """

    def __init__(
        self, message: str = "", *, reason: str = "", params_at_bound: Sequence[str] = ()
    ) -> None:
        self.message = message
        self.reason = reason
        self.params_at_bound = tuple(params_at_bound)
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_convergence_warning, (self.message, self.reason, self.params_at_bound))


def _convergence_warning(
    message: str, reason: str, params_at_bound: Sequence[str]
) -> ConvergenceWarning:
    return ConvergenceWarning(message, reason=reason, params_at_bound=params_at_bound)


class DataWarning(ClvWarning):
    """Input data is valid but unusual enough to doubt the results."""


class DuplicateRowsWarning(DataWarning):
    """The transaction log has rows identical in every column (kept and merged per period).

    A separate class so a job that reads only some columns (where such rows are
    expected) can silence exactly this warning.
    """
