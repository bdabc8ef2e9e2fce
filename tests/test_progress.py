"""Progress bars: shown when someone watches or when asked, quiet in scheduled jobs."""

from __future__ import annotations

import io
import sys

import pytest

from clv._progress import progress_bar, progress_enabled


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_quiet_without_a_terminal(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert progress_enabled(None) is False
    assert list(progress_bar(range(4), desc="x")) == [0, 1, 2, 3]
    assert sys.stderr.getvalue() == ""


def test_terminal_and_explicit_progress_draw_a_bar(monkeypatch):
    pytest.importorskip("tqdm")
    monkeypatch.setattr(sys, "stderr", _Tty())
    assert progress_enabled(None) is True
    assert list(progress_bar(range(3), desc="valuing investments")) == [0, 1, 2]
    assert "valuing investments" in sys.stderr.getvalue()
    plain = io.StringIO()
    monkeypatch.setattr(sys, "stderr", plain)
    assert list(progress_bar(range(2), desc="forced", progress=True)) == [0, 1]
    assert "forced" in plain.getvalue()
    monkeypatch.setattr(sys, "stderr", _Tty())
    assert list(progress_bar(range(2), desc="off", progress=False)) == [0, 1]
    assert sys.stderr.getvalue() == ""


def test_cli_progress_flag(monkeypatch):
    from clv.cli.steps import Run

    monkeypatch.setattr(sys, "stderr", io.StringIO())

    def run(**opts):
        ns = type("Opts", (), {"quiet": False, "progress": False, "command": "score", **opts})
        return Run(ns, [])

    assert run().show_progress is False and run().progress_bars is None
    assert run(progress=True).show_progress is True and run(progress=True).progress_bars
    assert run(quiet=True, progress=True).progress_bars is False
