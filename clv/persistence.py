"""Safe file output and the model-file format.

Every file clv writes goes through :func:`atomic_write`: the content is written
to a temporary file in the target directory, flushed to disk and then renamed
over the target, so a crash or a kill never leaves a truncated file and never
destroys the previous output.

Model files are JSON documents with a ``schema_version``; pickle is never used.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ClassVar, Self, final

from clv._version import __version__
from clv.exceptions import ModelFileError

__all__ = [
    "MODEL_SCHEMA_VERSION",
    "JsonModel",
    "atomic_write",
    "atomic_write_with",
    "read_model_json",
    "spreadsheet_safe",
    "write_model_json",
]

if TYPE_CHECKING:
    import pandas as pd

MODEL_SCHEMA_VERSION = 1

#: First characters that make a spreadsheet read a cell as a formula (or, for tab and
#: carriage return, let one through after the spreadsheet strips them).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike[str], mode: str = "w", **open_kwargs: Any
) -> Iterator[IO[Any]]:
    """Open a temporary file that replaces ``path`` only if the block succeeds.

    Parameters
    ----------
    path : path-like
        Final destination.  Its directory must exist.
    mode : {"w", "wb"}
        Text or binary mode.
    **open_kwargs
        Passed to :func:`open` (e.g. ``encoding``, ``newline``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> with atomic_write(target) as fh:
    ...     _ = fh.write("hello")
    >>> target.read_text()
    'hello'
    """
    if mode not in ("w", "wb"):
        raise ValueError("atomic_write supports mode 'w' or 'wb'")
    target = Path(path)
    if "b" not in mode:
        open_kwargs.setdefault("encoding", "utf-8")
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        # mkstemp creates 0600; give the file the permissions a plain open() would (umask)
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, mode, **open_kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_with(path: str | os.PathLike[str], write: Callable[[str], object]) -> None:
    """:func:`atomic_write` for writers that take a file name, not a file object.

    ``write(tmp)`` writes the whole file to a temporary name (a ``str``) in the
    target's directory (e.g. ``idata.to_netcdf``); it then replaces ``path``, or is
    removed if ``write`` fails, so the previous file is never lost.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
    >>> atomic_write_with(target, lambda tmp: pathlib.Path(tmp).write_text("hello"))
    >>> target.read_text()
    'hello'
    """
    target = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp_name)
        tmp.replace(target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


#: Largest model file read (bytes): model documents are a few kilobytes.
MAX_MODEL_BYTES = 16 * 2**20
#: Deepest nesting of lists and objects accepted in a model document.
MAX_MODEL_DEPTH = 32


def content_checksum(document: dict[str, Any]) -> str:
    """SHA-256 of a model document's content (every key but ``checksum``), canonical JSON.

    Examples
    --------
    >>> content_checksum({"a": 1, "b": [1.5]}) == content_checksum({"b": [1.5], "a": 1})
    True
    """
    body = {k: v for k, v in document.items() if k != "checksum"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_model_json(path: str | os.PathLike[str], model: str, payload: dict[str, Any]) -> None:
    """Write a model file: ``payload`` plus ``schema_version``, ``model``, ``clv_version``.

    The document also gets ``checksum``, the :func:`content_checksum` of the
    rest, which :func:`read_model_json` verifies: a file changed by hand or
    damaged on disk is refused instead of scored.
    """
    document = {
        "schema_version": MODEL_SCHEMA_VERSION,
        "model": model,
        "clv_version": __version__,
        **payload,
    }
    document["checksum"] = content_checksum(document)
    with atomic_write(path) as fh:
        json.dump(document, fh, indent=2, allow_nan=True)
        fh.write("\n")


def read_model_json(path: str | os.PathLike[str], model: str | None = None) -> dict[str, Any]:
    """Read a model file written by :func:`write_model_json` and check it.

    Raises
    ------
    ModelFileError
        If the file is not JSON, has an unknown ``schema_version``, or holds
        another model than ``model``.
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_MODEL_BYTES + 1)
    except FileNotFoundError:
        raise ModelFileError(f"model file '{path}' does not exist.") from None
    if len(raw) > MAX_MODEL_BYTES:
        raise ModelFileError(
            f"'{path}' is larger than {MAX_MODEL_BYTES // 2**20} MB; clv model "
            "files are a few kilobytes. Pick the right file."
        )
    if raw[:8] == b"\x89HDF\r\n\x1a\n" or raw[:4] in (b"CDF\x01", b"CDF\x02"):
        raise ModelFileError(
            f"'{path}' is a netCDF file, not a JSON model file. Posterior model "
            "files written by `clv fit --bayes` end with .nc: rename it."
        )
    if _nesting_depth(raw) > MAX_MODEL_DEPTH:
        raise ModelFileError(
            f"'{path}' is not a clv model file: its JSON is nested more than "
            f"{MAX_MODEL_DEPTH} levels deep."
        )
    try:
        document = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # ValueError includes json.JSONDecodeError and integers of more than 4300 digits
        text = " ".join(str(exc).split())[:200]
        raise ModelFileError(
            f"'{path}' is not a clv model file (not valid JSON: {text}). "
            "Model files are written by `model.to_json(path)` or `clv fit --out`."
        ) from None
    if not isinstance(document, dict) or "schema_version" not in document:
        raise ModelFileError(
            f"'{path}' is not a clv model file (no 'schema_version'). "
            "Model files are written by `model.to_json(path)` or `clv fit --out`."
        )
    version = document["schema_version"]
    if version != MODEL_SCHEMA_VERSION:
        raise ModelFileError(
            f"'{path}' has model schema_version {version!r}; this clv ({__version__}) reads "
            f"schema_version {MODEL_SCHEMA_VERSION}. Refit the model with this version of clv."
        )
    if model is not None and document.get("model") != model:
        raise ModelFileError(
            f"'{path}' holds a {document.get('model')!r} model, not a {model!r}. "
            f"Load it with {document.get('model')}.from_json(...) or pick the right file."
        )
    checksum = document.get("checksum")
    if checksum is not None and checksum != content_checksum(document):
        raise ModelFileError(
            f"'{path}' is damaged or was edited after clv wrote it: its content does not "
            "match its checksum. Refit the model, or restore the file from a backup."
        )
    return document


def _nesting_depth(raw: bytes) -> int:
    """Deepest nesting of ``[``/``{`` in JSON text (brackets inside strings not counted)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _formula_safe(value: Any) -> Any:
    if (
        isinstance(value, str)
        and value.startswith(FORMULA_PREFIXES)
        and not _PLAIN_NUMBER.fullmatch(value)
    ):
        return "'" + value
    return value


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells cannot run as spreadsheet formulas.

    A text cell (customer id, investment name, column label...) that starts
    with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is written with
    a leading ``'``, so Excel, LibreOffice and Google Sheets show it as text
    instead of evaluating ``=HYPERLINK(...)`` or ``=cmd|...``. Text that is a
    plain number (``-12``, ``+3.5``) is left as it is: a spreadsheet reads it
    as that number, nothing else. Numeric columns are never changed.

    Examples
    --------
    >>> import pandas as pd
    >>> spreadsheet_safe(pd.DataFrame({"id": ["=1+1", "a", "-7", "@SUM(A1)"]}))["id"].tolist()
    ["'=1+1", 'a', '-7', "'@SUM(A1)"]
    """
    import pandas as pd

    out = frame.copy()
    for i in range(out.shape[1]):
        column = out.iloc[:, i]
        if column.dtype == object or isinstance(column.dtype, pd.StringDtype | pd.CategoricalDtype):
            out.isetitem(i, column.astype(object).map(_formula_safe).to_numpy())
    out.columns = out.columns.map(_formula_safe)
    if isinstance(out.index, pd.MultiIndex):
        # Index objects (pandas-stubs types the levels as plain sequences)
        levels: list[Any] = [
            level.map(_formula_safe) if level.dtype == object else level
            for level in out.index.levels
        ]
        out.index = out.index.set_levels(levels)
    elif out.index.dtype == object or isinstance(out.index.dtype, pd.StringDtype):
        out.index = out.index.map(_formula_safe)
    out.index.names = [_formula_safe(n) for n in out.index.names]
    return out


class JsonModel:
    """Base of every object saved as a model file.

    Subclasses write the two hooks, :meth:`to_dict` and :meth:`from_dict`
    (a JSON-ready document and its inverse); :meth:`to_json` and
    :meth:`from_json` are final: they add and check the file header
    (``schema_version``, ``model``, ``clv_version``) and write atomically, the
    same way for every model. A subclass that defines ``to_json`` or
    ``from_json`` is refused when the class is created.
    """

    _final_methods: ClassVar[tuple[str, ...]] = ("to_json", "from_json")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in JsonModel._final_methods:
            if name in cls.__dict__:
                raise TypeError(
                    f"{cls.__name__} overrides {name}(), which is final: override "
                    "the to_dict()/from_dict() hooks instead."
                )

    def to_dict(self) -> dict[str, Any]:
        """The state as a JSON-ready document (str keys; no file header)."""
        raise NotImplementedError

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], *, source: str = "the model document") -> Self:
        """Rebuild the object from :meth:`to_dict` output (``source`` names it in errors)."""
        raise NotImplementedError

    @final
    def to_json(self, path: str | os.PathLike[str]) -> None:
        """Save as a JSON model file (atomically; never pickle)."""
        write_model_json(path, type(self).__name__, self.to_dict())

    @final
    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> Self:
        """Load a file saved with :meth:`to_json`.

        Raises
        ------
        ModelFileError
            For a file of another model, an unknown schema version or a corrupt file.
        """
        return cls.from_dict(read_model_json(path, model=cls.__name__), source=str(path))
