"""The example notebooks are edited as jupytext percent-format ``.py`` files; the paired
``.ipynb`` (stored with outputs) must hold the same cells.

After editing ``notebooks/NN_name.py``: ``jupytext --sync notebooks/NN_name.py`` updates
the notebook's cells and keeps its outputs; ``jupytext --sync --execute ...`` also re-runs it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).parents[2] / "notebooks"
SOURCES = sorted(NOTEBOOKS.glob("[0-9]*.py"))


def _cells(nb) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip("\n")) for c in nb.cells]


def test_every_notebook_has_a_percent_source_and_back():
    assert SOURCES, "no notebook sources found"
    assert {p.stem for p in SOURCES} == {p.stem for p in NOTEBOOKS.glob("*.ipynb")}


@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_notebook_cells_equal_their_source(source):
    jupytext = pytest.importorskip("jupytext")
    nbformat = pytest.importorskip("nbformat")
    from_source = jupytext.read(source)
    stored = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    assert _cells(stored) == _cells(from_source), (
        f"{source.name} and its .ipynb differ: run `jupytext --sync {source}`"
    )
    assert stored.metadata.get("jupytext", {}).get("formats") == "ipynb,py:percent"
