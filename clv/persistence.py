"""Safe file output and the model-file format.

Every file clv writes goes through :func:`atomic_write`: the content is written
to a temporary file in the target directory, flushed to disk and then renamed
over the target, so a crash or a kill never leaves a truncated file and never
destroys the previous output.

Model files are JSON documents with a ``schema_version``; pickle is never used.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any, ClassVar, Self, final

from clv._version import __version__
from clv.exceptions import ModelFileError

__all__ = [
    "MODEL_SCHEMA_VERSION",
    "JsonModel",
    "atomic_write",
    "read_model_json",
    "write_model_json",
]

MODEL_SCHEMA_VERSION = 1


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


def write_model_json(path: str | os.PathLike[str], model: str, payload: dict[str, Any]) -> None:
    """Write a model file: ``payload`` plus ``schema_version``, ``model`` and ``clv_version``."""
    document = {
        "schema_version": MODEL_SCHEMA_VERSION,
        "model": model,
        "clv_version": __version__,
        **payload,
    }
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
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFileError(f"model file '{path}' does not exist.") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(
            f"'{path}' is not a clv model file (not valid JSON: {exc}). "
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
    return document


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
                raise TypeError(f"{cls.__name__} overrides {name}(), which is final: override "
                                "the to_dict()/from_dict() hooks instead.")

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
