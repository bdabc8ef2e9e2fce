"""An output and its run record, committed as one unit.

A job writes two things: its output (a CSV or Parquet file, a model file, or a
table of a DuckDB database) and the run record ``<out>.run.json`` that
describes it (with the output's hash). Two atomic renames one after the other
are not atomic together: a process killed, or a disk filling up, between them
would leave new scores next to the old record. :class:`OutputCommit` makes the
pair one unit:

1. **stage** -- the new output is written completely to a hidden file in the
   target directory (``.clv-<random>.staged<ext>``), then the run record
   likewise; a full disk or any error here removes the staged files and
   leaves the previous output and record as they were.
2. **journal** -- under an exclusive lock of the directory (``flock``, so two
   jobs writing the same output commit one after the other), a small journal
   ``.clv-commit-<key>.json`` names the staged files and their targets; it is
   written atomically and ``fsync``ed before anything is replaced.
3. **install** -- the staged files are renamed over their targets (for a
   DuckDB output: the table is replaced in one database transaction, then the
   record renamed), the directory is ``fsync``ed and the journal removed.

A job killed during step 3 leaves the journal behind. The next job writing the
same output (or :func:`recover`) first completes that commit: it renames the
staged files that remain (for a DuckDB output only when the table holds the
rows the staged record describes; otherwise the staged record is dropped), so
output and record always end up describing each other. A journal on disk
means a commit was interrupted; until the next run completes it, the output's
hash in the record tells which of the two files is newer.

Names stay short (``.clv-...`` plus a hash of the output name), so an output
whose own name is close to the file-system limit still gets a run record, or
is refused before any work (:meth:`OutputCommit.check`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from clv.cli.config import UsageError

__all__ = ["OutputCommit", "refuse_input_as_output", "record_path", "recover", "same_file"]

logger = logging.getLogger("clv")

#: Longest file name (bytes) most file systems accept.
NAME_MAX = 255


class _IOError(OSError):
    """Raised for I/O failures; mapped to exit code 5 by the CLI (an ``OSError``)."""


def record_path(out: Path, table: str | None = None) -> Path:
    """The run record of an output: ``<out>.run.json`` or ``<out>.<table>.run.json``."""
    name = out.name.rstrip("/") or "output"
    suffix = f".{table}.run.json" if table else ".run.json"
    return out.with_name(name + suffix)


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """Whether two paths name the same file (following links; a missing file by its path)."""
    pa, pb = Path(a), Path(b)
    with contextlib.suppress(OSError):
        if pa.exists() and pb.exists():
            return pa.samefile(pb)
    return pa.resolve() == pb.resolve()


def refuse_input_as_output(
    out: Path,
    inputs: dict[str, str | os.PathLike[str] | None],
    *,
    table: str | None = None,
    input_table: str | None = None,
    input_query: str | None = None,
) -> None:
    """Refuse (usage error) an output, or its run record, that would replace an input.

    Parameters
    ----------
    out : Path
        The output file or DuckDB database.
    inputs : dict
        Flag -> path of every file the job reads (``None`` when not given).
    table : str, optional
        The output table of a DuckDB output.
    input_table, input_query : str, optional
        The table or query read from a DuckDB input: writing into the same
        database is fine, replacing the table the job reads is not.
    """
    record = record_path(out, table)
    for flag, source in inputs.items():
        if source is None:
            continue
        name = "the input" if flag == "input" else f"the {flag} file"
        if same_file(record, source):
            raise UsageError(
                f"the run record of --out '{out}' would be written over {name} "
                f"'{source}'. Choose another --out."
            )
        if not same_file(out, source):
            continue
        if table is None:
            raise UsageError(
                f"--out '{out}' is {name}: the job would replace what it reads. "
                "Write the output to another file."
            )
        read = {t.lower() for t in (input_table,) if t}
        if input_query is not None and table.lower() in input_query.lower():
            read.add(table.lower())
        if table.lower() in read:
            raise UsageError(
                f"--out-table '{table}' of '{out}' is the table {name} reads: the "
                "job would replace its own transactions. Choose another "
                "--out-table."
            )


def _key(target: Path) -> str:
    return hashlib.sha256(target.name.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Exclusive lock on ``directory`` itself (waits for other jobs committing there).

    Locking the directory (``flock`` on its descriptor) leaves no lock file behind.
    """
    import fcntl

    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError as exc:
        raise _IOError(f"cannot open directory '{directory}': {exc.strerror or exc}.") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _journal_path(out: Path) -> Path:
    return out.parent / f".clv-commit-{_key(out)}.json"


def recover(out: str | os.PathLike[str]) -> bool:
    """Complete a commit of ``out`` that a killed job left half done.

    Returns
    -------
    bool
        Whether there was one.
    """
    out = Path(out)
    with _locked(out.parent):
        return _recover_locked(out)


def _recover_locked(out: Path) -> bool:
    journal = _journal_path(out)
    try:
        entry = json.loads(journal.read_text(encoding="utf-8"))
        renames = [(Path(a), Path(b)) for a, b in entry["renames"]]
        duckdb_check = entry.get("duckdb")
    except FileNotFoundError:
        return False
    except (OSError, ValueError, KeyError, TypeError):
        # a journal is written atomically, so a damaged one was never valid: nothing was
        # renamed under it
        with contextlib.suppress(OSError):
            journal.unlink()
        return False
    forward = True
    if duckdb_check is not None:
        forward = (
            _table_fingerprint(duckdb_check["path"], duckdb_check["table"])
            == duckdb_check["fingerprint"]
        )
    for staged, target in renames:
        if not staged.exists():
            continue
        if forward:
            staged.replace(target)
        else:
            staged.unlink()
    if entry.get("directory"):
        import shutil

        shutil.rmtree(entry["directory"], ignore_errors=True)
    _fsync_dir(out.parent)
    journal.unlink()
    _fsync_dir(out.parent)
    logger.warning(
        "completed the interrupted commit of '%s' (%s)",
        out,
        "new output and run record" if forward else "previous output kept",
    )
    return True


def _table_fingerprint(path: str, table: str) -> str | None:
    import duckdb

    from clv.cli.files import frame_fingerprint

    try:
        with duckdb.connect(path, read_only=True) as con:
            return frame_fingerprint(con.table(table).df())
    except duckdb.Error:
        return None


class OutputCommit:
    """Stage an output and its run record, then install both as one unit.

    Parameters
    ----------
    out : Path
        The output file (CSV, Parquet, model file) or DuckDB database.
    table : str, optional
        The table of a DuckDB output.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> commit = OutputCommit(out)
    >>> commit.stage(lambda p: p.write_text("new"))
    >>> commit.commit({"output": commit.staged_sha256()}).name
    'a.txt.run.json'
    >>> out.read_text()
    'new'
    """

    def __init__(self, out: Path, table: str | None = None, *, record: Path | None = None) -> None:
        self.out = Path(out)
        self.table = table
        self.record = record_path(self.out, table) if record is None else Path(record)
        self._staged: Path | None = None
        self._many: list[tuple[Path, Path]] = []
        self._dir: Path | None = None
        self._frame: Any = None
        self.check()
        if _journal_path(self.out).exists():
            recover(self.out)

    def check(self) -> None:
        """Refuse (usage error) an output whose run record name is too long to create."""
        if len(self.record.name.encode("utf-8", "surrogateescape")) > NAME_MAX:
            what = "--out-table" if self.table else "--out"
            raise UsageError(
                f"{what} is too long: the run record '{self.record.name[:60]}...' would have "
                f"{len(self.record.name)} characters, more than the {NAME_MAX} a file name "
                f"may have. Choose a shorter {what}."
            )

    def _staged_name(self) -> Path:
        suffix = "".join(self.out.suffixes[-1:])[:16]
        return self.out.parent / f".clv-{secrets.token_hex(8)}.staged{suffix}"

    def stage(self, writer: Callable[[Path], None], *, in_directory: bool = False) -> None:
        """Write the new output completely to a hidden file next to ``out``.

        ``writer(path)`` writes the file; on any error the staged file is removed.
        With ``in_directory``, the file is staged in a hidden directory of its
        own, removed with everything in it (a database's side files) on failure.
        """
        import shutil
        import tempfile

        from clv.cli.files import InputOutputError

        if in_directory:
            self._dir = Path(
                tempfile.mkdtemp(prefix=".clv-", suffix=".staged", dir=self.out.parent)
            )
            staged = self._dir / f"output{''.join(self.out.suffixes[-1:])[:16]}"
        else:
            staged = self._staged_name()
        try:
            writer(staged)
        except BaseException as exc:
            with contextlib.suppress(OSError):
                staged.unlink()
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)
                self._dir = None
            if isinstance(exc, OSError):
                # name the output the user asked for, not the hidden staged file
                text = str(exc).replace(str(staged), str(self.out))
                if not isinstance(exc, InputOutputError):
                    text = f"cannot write '{self.out}': {exc.strerror or text}."
                raise InputOutputError(text + " The previous output is unchanged.") from None
            raise
        self._staged = staged

    def stage_files(self, writer: Callable[[Path], dict[str, Path]]) -> dict[str, Path]:
        """Stage several outputs of one directory (``clv roi``): they are installed together.

        ``writer(directory)`` writes every file into a hidden staging directory
        next to ``out`` and returns name -> path; the result maps the names to
        their final paths. On any error the staging directory is removed.
        """
        import shutil
        import tempfile

        from clv.cli.files import InputOutputError

        self._dir = Path(tempfile.mkdtemp(prefix=".clv-", suffix=".staged", dir=self.out.parent))
        try:
            written = writer(self._dir)
        except BaseException as exc:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
            if isinstance(exc, OSError) and not isinstance(exc, InputOutputError):
                raise InputOutputError(
                    f"cannot write to '{self.out.parent}': "
                    f"{exc.strerror or exc}. The previous outputs are "
                    "unchanged."
                ) from None
            raise
        self._many = [(Path(p), self.out.parent / Path(p).name) for p in written.values()]
        return {name: self.out.parent / Path(p).name for name, p in written.items()}

    def stage_table(self, frame: Any) -> None:
        """Keep a DuckDB output's rows for :meth:`commit` (a new database file is staged)."""
        from clv.cli.files import write_duckdb_table

        self._frame = frame
        if not self.out.exists():  # a new database: build it aside, install it by a rename
            self.stage(lambda p: write_duckdb_table(frame, p, str(self.table)), in_directory=True)
            self._frame = None

    def staged_sha256(self) -> str | None:
        """SHA-256 of the staged output file (``None`` for a DuckDB table)."""
        from clv.scoring.bundle import file_sha256

        return None if self._staged is None else file_sha256(self._staged)

    def discard(self) -> None:
        """Remove the staged output (after a failure before :meth:`commit`)."""

        if self._staged is not None:
            with contextlib.suppress(OSError):
                self._staged.unlink()
            self._staged = None
        self._remove_dir()

    def _remove_dir(self) -> None:
        import shutil

        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def commit(self, record: dict[str, Any]) -> Path:
        """Write the run record and install output and record together; return its path."""
        from clv.cli.files import InputOutputError, write_json

        staged_record = self.out.parent / f".clv-{secrets.token_hex(8)}.staged.run.json"
        journal = _journal_path(self.out)
        try:
            write_json(record, staged_record)
            renames = list(self._many)
            if self._staged is not None:
                renames.append((self._staged, self.out))
            renames.append((staged_record, self.record))
            with _locked(self.out.parent):
                _recover_locked(self.out)
                entry: dict[str, Any] = {
                    "renames": [[str(a), str(b)] for a, b in renames],
                    "directory": None if self._dir is None else str(self._dir),
                }
                if self._frame is not None:
                    from clv.cli.files import frame_fingerprint

                    entry["duckdb"] = {
                        "path": str(self.out),
                        "table": self.table,
                        "fingerprint": frame_fingerprint(self._frame),
                    }
                write_json(entry, journal)
                _fsync_dir(self.out.parent)
                try:
                    if self._frame is not None:
                        from clv.cli.files import write_duckdb_table

                        write_duckdb_table(self._frame, self.out, str(self.table))
                except BaseException:
                    with contextlib.suppress(OSError):
                        journal.unlink()
                    raise
                for staged, target in renames:
                    staged.replace(target)
                _fsync_dir(self.out.parent)
                journal.unlink()
                _fsync_dir(self.out.parent)
                self._remove_dir()
        except OSError as exc:
            self.discard()
            with contextlib.suppress(OSError):
                staged_record.unlink()
            if isinstance(exc, InputOutputError):
                raise
            raise InputOutputError(
                f"cannot write '{self.out}': {exc.strerror or exc}; the "
                "previous output and run record are unchanged."
            ) from None
        except BaseException:
            self.discard()
            with contextlib.suppress(OSError):
                staged_record.unlink()
            raise
        self._staged = None
        return self.record
