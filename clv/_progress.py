"""Progress bars for steps that take more than a couple of seconds.

``progress=None`` (the default everywhere) shows a bar when someone is
watching: in a Jupyter notebook (``tqdm.auto`` draws a widget there) or when
stderr is a terminal. Scheduled jobs, CI and pipes (stderr not a TTY) stay
quiet unless ``progress=True`` (``clv ... --progress``); ``progress=False``
silences the bar everywhere. Without tqdm installed there is no bar.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any

__all__ = ["progress_bar", "progress_enabled"]


def _in_notebook() -> bool:
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return type(shell).__name__ == "ZMQInteractiveShell"


def progress_enabled(progress: bool | None) -> bool:
    """Whether to show progress: ``progress`` if given, else notebook or terminal stderr.

    Examples
    --------
    >>> progress_enabled(True), progress_enabled(False)
    (True, False)
    """
    if progress is not None:
        return bool(progress)
    if _in_notebook():
        return True
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


class _Quiet:
    """A do-nothing stand-in for a tqdm bar."""

    def __init__(self, iterable: Iterable[Any] | None) -> None:
        self._iterable = iterable

    def __iter__(self) -> Iterator[Any]:
        return iter(self._iterable if self._iterable is not None else ())

    def __enter__(self) -> _Quiet:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int = 1) -> None:
        """Ignore progress."""

    def set_description(self, desc: str) -> None:
        """Ignore the description."""

    def close(self) -> None:
        """Nothing to close."""


def progress_bar(
    iterable: Iterable[Any] | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    progress: bool | None = None,
) -> Any:
    """A ``tqdm.auto`` bar over ``iterable`` (or a manual one with ``total``), or a quiet one.

    Parameters
    ----------
    iterable : iterable, optional
        What to iterate over.
    total : int, optional
        Number of steps (default ``len(iterable)`` when it has one).
    desc : str
        Label shown before the bar.
    progress : bool, optional
        See :func:`progress_enabled`.

    Returns
    -------
    tqdm or a quiet stand-in
        Iterable, usable as a context manager, with ``update``.

    Examples
    --------
    >>> [x for x in progress_bar(range(3), progress=False)]
    [0, 1, 2]
    """
    if not progress_enabled(progress):
        return _Quiet(iterable)
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency; tolerate its absence
        return _Quiet(iterable)
    return tqdm(iterable, total=total, desc=desc, leave=False, file=sys.stderr, dynamic_ncols=True)
