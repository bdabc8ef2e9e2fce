"""Old module paths that still import, for one release, as aliases of where the code lives now.

:data:`MOVED` maps each old dotted module name to its new one. :func:`install`
(called by ``clv/__init__.py``) puts a finder at the front of ``sys.meta_path``
that serves an old name as the *same module object* as the new name and emits a
:class:`DeprecationWarning` naming the new path. No file is left at an old path.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import sys
import warnings
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    import importlib.abc

__all__ = ["MOVED", "install"]

#: Old module path -> new module path.
MOVED: dict[str, str] = {
    "clv.evaluate": "clv.holdout",
    "clv.io": "clv.persistence",
    "clv.datasets": "clv.data.datasets",
    "clv.roi.evaluate": "clv.roi.finance",
    "clv.plotting.roi": "clv.roi.plots",
    "clv.cli.io": "clv.cli.files",
    "clv.cli.scoring": "clv.scoring.tables",
    "clv.cli.posterior": "clv.scoring.posterior",
    "clv.cli.posterior_scoring": "clv.scoring.posterior_scores",
}

#: Frames a warning passes over: this module, clv's lazy ``__getattr__``, importlib.import_module.
_PASS_THROUGH = (__file__, os.path.join(os.path.dirname(__file__), "__init__.py"))  # noqa: PTH118,PTH120
_IMPORT_MODULE = f"importlib{os.sep}__init__.py"


def _caller_stacklevel() -> int:
    """``stacklevel`` that points a warning at the code that imported an old path.

    Counts frames the way :func:`warnings.warn` does (it skips the frames of
    the import machinery) from the caller of this function up to the first
    frame outside this module, ``clv/__init__.py`` and ``importlib.import_module``.
    """
    frame = sys._getframe(1)
    level = 1
    while frame.f_back is not None:
        frame = frame.f_back
        name = frame.f_code.co_filename
        if "importlib" in name and "_bootstrap" in name:
            continue
        level += 1
        if name not in _PASS_THROUGH and not name.endswith(_IMPORT_MODULE):
            return level
    return 1


class _Alias:
    """Loader that returns the new module for an old name.

    Duck-typed (``importlib.abc`` costs milliseconds at ``import clv``).
    """

    def __init__(self, old: str, new: str) -> None:
        self.old = old
        self.new = new
        self._spec: importlib.machinery.ModuleSpec | None = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        warnings.warn(
            f"{self.old} moved to {self.new}; the old path goes in the next release",
            DeprecationWarning,
            stacklevel=_caller_stacklevel(),
        )
        module = importlib.import_module(self.new)
        self._spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # the import system set ``__spec__`` to the alias' spec: give the module its own back
        module.__spec__ = self._spec


class _MovedFinder:
    """Finds the old names of :data:`MOVED` (and nothing else)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        new = MOVED.get(fullname)
        if new is None:
            return None
        # the alias is duck-typed; typeshed asks for an ``importlib.abc.Loader`` subclass
        loader = cast("importlib.abc.Loader", _Alias(fullname, new))
        return importlib.machinery.ModuleSpec(fullname, loader)


def install() -> None:
    """Put the finder of old module paths on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _MovedFinder())
