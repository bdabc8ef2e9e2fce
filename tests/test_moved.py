"""Old module paths: importable for one release as the same module, with a DeprecationWarning."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

import clv
from clv._moved import MOVED


@pytest.fixture
def forget_old_paths():
    """Drop the aliases (``sys.modules`` entries, parent attributes) so each test imports afresh."""

    def forget() -> dict[str, object]:
        gone = {}
        for old in MOVED:
            if old in sys.modules:
                gone[old] = sys.modules.pop(old)
            parent, _, child = old.rpartition(".")
            if parent in sys.modules and child in vars(sys.modules[parent]):
                delattr(sys.modules[parent], child)
        return gone

    saved = forget()
    yield
    forget()
    sys.modules.update(saved)


@pytest.mark.parametrize(("old", "new"), sorted(MOVED.items()))
def test_old_path_is_the_new_module_and_warns(old, new, forget_old_paths):
    with pytest.warns(DeprecationWarning, match=f"{old} moved to {new}; the old path goes"):
        module = importlib.import_module(old)
    assert module is importlib.import_module(new)
    assert module.__name__ == new
    assert module.__spec__.name == new  # the alias does not clobber the module's own spec


def test_warning_points_at_the_importing_line(forget_old_paths):
    with pytest.warns(DeprecationWarning) as caught:
        import clv.roi.evaluate  # noqa: F401
    assert caught[0].filename == __file__


def test_from_import_of_an_old_submodule(forget_old_paths):
    with pytest.warns(DeprecationWarning, match="clv.io moved to clv.persistence"):
        from clv import io
    from clv import persistence

    assert io is persistence
    assert io.atomic_write is persistence.atomic_write


def test_old_paths_have_no_file_and_new_paths_exist():
    root = Path(clv.__file__).parent
    for old, new in MOVED.items():
        old_file = root.joinpath(*old.split(".")[1:])
        assert not old_file.with_suffix(".py").exists()
        assert not (old_file / "__init__.py").exists()
        assert importlib.util.find_spec(new) is not None


def test_unknown_names_are_not_served():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("clv.no_such_module")


def test_attribute_access_of_an_old_submodule_warns_at_the_caller(forget_old_paths):
    with pytest.warns(DeprecationWarning, match="clv.evaluate moved to clv.holdout") as caught:
        module = clv.evaluate
    assert module is importlib.import_module("clv.holdout")
    assert caught[0].filename == __file__
