"""Inputs and outputs of the ``clv`` jobs.

Inputs: CSV, Parquet, or a DuckDB database (a table or a SQL query).
Outputs: CSV or Parquet tables and JSON documents, always written atomically
through :func:`clv.persistence.atomic_write` (temporary file in the target directory,
``fsync``, rename), so a failing or killed job never leaves a truncated file
and never destroys the previous output; or a table of a DuckDB database
(``--out db.duckdb --out-table scores``), replaced in one transaction.

CSV outputs use a fixed float format (``%.10g``, 10 significant digits) and
``\\n`` line ends, so rerunning the same job gives byte-identical files.

Errors follow the CLI's exit codes: a file that is missing or cannot be written
raises :class:`InputOutputError` (an :class:`OSError`, exit code 5); a file
whose *content* is unusable (malformed CSV, missing column, no rows) raises
:class:`~clv.exceptions.DataError` (exit code 3).

Model bundles (``clv fit --out model.json``) are read and written by
:mod:`clv.scoring.bundle`.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clv.cli.config import UsageError
from clv.exceptions import DataError, Problem
from clv.persistence import atomic_write, spreadsheet_safe
from clv.scoring.bundle import InputOutputError, json_ready

__all__ = [
    "InputOutputError",
    "check_output_path",
    "frame_fingerprint",
    "input_format",
    "output_format",
    "read_duckdb_table",
    "read_transactions",
    "write_duckdb_table",
    "write_json",
    "write_table",
]

CSV_FLOAT_FORMAT = "%.10g"
#: Table written by a DuckDB output when ``--out-table`` is not given.
DEFAULT_TABLE = "scores"

_CSV_EXT = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz", ".txt")
_PARQUET_EXT = (".parquet", ".pq")
_DUCKDB_EXT = (".duckdb", ".ddb", ".db")


# ---------------------------------------------------------------------- formats
def input_format(path: str | os.PathLike[str], explicit: str | None = None) -> str:
    """Return ``"csv"``, ``"parquet"`` or ``"duckdb"`` for an input path.

    Examples
    --------
    >>> input_format("data/tx.parquet")
    'parquet'
    >>> input_format("tx.dat", "csv")
    'csv'
    """
    if explicit is not None:
        return explicit
    name = str(path).lower()
    for fmt, exts in (("csv", _CSV_EXT), ("parquet", _PARQUET_EXT), ("duckdb", _DUCKDB_EXT)):
        if name.endswith(exts):
            return fmt
    raise UsageError(
        f"cannot tell the format of input '{path}' from its extension; use a "
        ".csv, .parquet or .duckdb file or pass --input-format csv|parquet|duckdb."
    )


def output_format(path: str | os.PathLike[str], *, directory: bool = False) -> str:
    """Return ``"csv"``, ``"parquet"`` or ``"duckdb"`` for an output table path.

    With ``directory=True`` (the Spark engine), a path ending with ``/`` is a
    Parquet dataset directory: ``"directory"``.

    Examples
    --------
    >>> output_format("scores.csv")
    'csv'
    >>> output_format("warehouse.duckdb")
    'duckdb'
    """
    name = str(path).lower()
    if directory and (name.endswith(("/", os.sep)) or Path(path).is_dir()):
        return "directory"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(_PARQUET_EXT):
        return "parquet"
    if name.endswith(_DUCKDB_EXT):
        return "duckdb"
    spark_dir = ", or with / for a Parquet directory written by Spark" if directory else ""
    raise UsageError(
        f"--out '{path}' must end with .csv or .parquet (a file) or .duckdb (a "
        f"table of a DuckDB database, see --out-table){spark_dir}."
    )


def check_output_path(path: str | os.PathLike[str], *, directory: bool = False) -> Path:
    """Fail early (before any work) if ``path`` cannot be written.

    Raises
    ------
    InputOutputError
        If the directory does not exist or is not writable, or ``path`` is a directory
        (a file, when ``directory`` is true).
    """
    target = Path(path)
    parent = target.parent
    if directory:
        if target.exists() and not target.is_dir():
            raise InputOutputError(
                f"output '{target}' is a file; a Parquet directory output "
                "needs a directory path (ending with /)."
            )
    elif target.is_dir():
        raise InputOutputError(f"output '{target}' is a directory; give a file name.")
    if not parent.is_dir():
        raise InputOutputError(
            f"cannot write '{target}': directory '{parent}' does not exist. "
            "Create it first (mkdir -p)."
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputOutputError(
            f"cannot write '{target}': directory '{parent}' is not writable. "
            "Fix its permissions or choose another --out."
        )
    return target


# ---------------------------------------------------------------------- reading
def read_transactions(
    path: str | os.PathLike[str],
    columns: Sequence[str],
    *,
    fmt: str | None = None,
    table: str | None = None,
    query: str | None = None,
    id_column: str | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Read the transaction columns a job needs.

    Parameters
    ----------
    path : path-like
        CSV or Parquet file, or DuckDB database.
    columns : sequence of str
        Columns to read (customer id, date and optionally value).
    fmt : {"csv", "parquet", "duckdb"}, optional
        Format; by default from the extension.
    table, query : str, optional
        For a DuckDB database: the table to read, or a SQL query (exactly one).
    id_column : str, optional
        Column read as text from CSV, so ids such as ``00042`` keep their zeros.

    Returns
    -------
    frame : DataFrame
        The requested columns, in file order.
    source_columns : list of str
        Every column of the source (to tell whether some were left unread).

    Raises
    ------
    InputOutputError
        If the file or table does not exist or cannot be opened.
    DataError
        If the content is malformed, a column is missing, or there are no rows.
    UsageError
        For a bad combination of ``table``/``query`` or a failing SQL query.
    """
    path = Path(path)
    fmt = input_format(path, fmt)
    if (table is not None or query is not None) and fmt != "duckdb":
        raise UsageError("--table and --query only apply to a DuckDB database input.")
    if not path.exists():
        raise InputOutputError(
            f"input file '{path}' does not exist. Check the path (relative "
            f"paths are from the current directory: {Path.cwd()})."
        )
    if path.is_dir():
        raise InputOutputError(f"input '{path}' is a directory; give a file.")
    if fmt == "csv":
        frame, source_columns = _read_csv(path, columns, id_column)
    elif fmt == "parquet":
        frame, source_columns = _read_parquet(path, columns)
    else:
        frame, source_columns = _read_duckdb(path, columns, table, query)
    if len(frame) == 0:
        raise DataError(
            [
                Problem(
                    None,
                    "there are no transaction rows",
                    "check the input (and the query or table) is the right one",
                )
            ],
            what=f"'{path}'",
        )
    return frame, [str(c) for c in source_columns]


def read_frame(path: str | os.PathLike[str], what: str) -> pd.DataFrame:
    """A whole side table (CX events, customers, new-customer counts) from CSV or Parquet.

    ``what`` names the option in messages (e.g. ``"--cx-events"``).
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{what} file '{p}' does not exist")
    suffix = p.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(p)
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(p)
    raise UsageError(f"{what} '{p}' must be a .csv or .parquet file.")


def _missing_columns(path: Path, wanted: Sequence[str], available: Sequence[str]) -> DataError:
    shown = ", ".join(repr(str(c)) for c in list(available)[:20])
    flags = {0: "--customer-col", 1: "--date-col", 2: "--value-col"}
    problems = [
        Problem(
            c,
            "is not in the input",
            f"pass {flags.get(i, 'the right column')} with one of its columns: {shown}",
        )
        for i, c in enumerate(wanted)
        if c not in available
    ]
    return DataError(problems, what=f"'{path}'")


def _read_csv(
    path: Path, columns: Sequence[str], id_column: str | None
) -> tuple[pd.DataFrame, list[str]]:
    try:
        header = pd.read_csv(path, nrows=0)
        if any(c not in header.columns for c in columns):
            raise _missing_columns(path, columns, list(header.columns))
        names = [str(c) for c in header.columns]
        # Every column is tokenized (not only ``usecols``): pandas drops the extra fields
        # of a row longer than the header without a word when it reads some columns only.
        # Unused columns are kept as text and dropped at once.
        dtype = {c: "str" for c in names if c not in columns}
        if id_column is not None:
            dtype[id_column] = "str"
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(path, index_col=False, dtype=dtype)
        if list(frame.columns) != names:
            raise pd.errors.ParserError("the header changed while reading")
        return frame[list(columns)], names
    except pd.errors.EmptyDataError:
        raise DataError(
            [
                Problem(
                    None,
                    "the file is empty (no header, no rows)",
                    "write the transactions with a header row",
                )
            ],
            what=f"'{path}'",
        ) from None
    except (pd.errors.ParserError, pd.errors.ParserWarning, UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(
            [
                Problem(
                    None,
                    f"cannot be parsed as CSV ({_one_line(exc)})",
                    "write a comma-separated, UTF-8 file with one header row",
                )
            ],
            what=f"'{path}'",
        ) from None
    except OSError as exc:
        raise InputOutputError(f"cannot read '{path}': {exc.strerror or exc}.") from None


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _read_parquet(path: Path, columns: Sequence[str]) -> tuple[pd.DataFrame, list[str]]:
    import duckdb

    con = duckdb.connect()
    try:
        try:
            rel = con.read_parquet(str(path))
        except duckdb.IOException as exc:
            raise InputOutputError(f"cannot read '{path}': {_one_line(exc)}.") from None
        except duckdb.Error as exc:
            raise DataError(
                [
                    Problem(
                        None,
                        f"is not a readable Parquet file ({_one_line(exc)})",
                        "write it again, or pass --input-format",
                    )
                ],
                what=f"'{path}'",
            ) from None
        return _select(rel, path, columns, "write the Parquet file again")
    finally:
        con.close()


def _select(
    rel: Any, path: Path, columns: Sequence[str], fix: str
) -> tuple[pd.DataFrame, list[str]]:
    """``columns`` of a DuckDB relation as a frame, with the relation's column names."""
    import duckdb

    if any(c not in rel.columns for c in columns):
        raise _missing_columns(path, columns, rel.columns)
    _refuse_nested(rel, columns, path)
    try:
        return rel.select(*(duckdb.ColumnExpression(c) for c in columns)).df(), rel.columns
    except duckdb.Error as exc:
        raise DataError(
            [Problem(None, f"cannot be read ({_one_line(exc)})", fix)], what=f"'{path}'"
        ) from None


def _read_duckdb(
    path: Path, columns: Sequence[str], table: str | None, query: str | None
) -> tuple[pd.DataFrame, list[str]]:
    import duckdb

    if (table is None) == (query is None):
        raise UsageError(f"a DuckDB input ('{path}') needs exactly one of --table or --query.")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise InputOutputError(f"cannot open DuckDB database '{path}': {_one_line(exc)}.") from None
    try:
        if table is not None:
            try:
                rel = con.table(table)
            except duckdb.CatalogException:
                names = sorted(
                    r[0]
                    for r in con.execute(
                        "SELECT table_name FROM information_schema.tables"
                    ).fetchall()
                )
                raise InputOutputError(
                    f"table '{table}' is not in DuckDB database '{path}'; it has: "
                    f"{', '.join(names) or '(no tables)'}. Check --table."
                ) from None
        elif query is not None:  # exactly one of table and query (checked above)
            try:
                rel = con.sql(query)
            except duckdb.Error as exc:
                raise UsageError(f"--query failed on '{path}': {_one_line(exc)}") from None
            if rel is None:
                raise UsageError("--query must be a SELECT returning the transactions.")
            missing = [c for c in columns if c not in rel.columns]
            if missing:
                shown = ", ".join(repr(str(c)) for c in list(rel.columns)[:20])
                raise UsageError(
                    f"--query returns the columns {shown}, not {missing}: select "
                    "them (or alias them: SELECT id AS customer_id, ...), or pass "
                    "--customer-col/--date-col/--value-col."
                )
        return _select(rel, path, columns, "check the column types of the table or query")
    finally:
        con.close()


def _refuse_nested(rel: Any, columns: Sequence[str], path: Path) -> None:
    """DataError for a needed column of LIST, STRUCT, MAP, UNION or BLOB type."""
    types = dict(zip(rel.columns, (str(t) for t in rel.types), strict=True))
    problems = []
    for name in columns:
        kind = types.get(name, "")
        if kind.endswith("]") or kind.startswith(("STRUCT", "MAP", "UNION", "BLOB")):
            problems.append(
                Problem(
                    name,
                    f"has the nested or binary type {kind[:80]}",
                    "store one plain value per row (text or integer ids, "
                    "dates, numbers): extract it from the nested value first",
                )
            )
    if problems:
        raise DataError(problems, what=f"'{path}'")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 300 else text[:297] + "..."


# ---------------------------------------------------------------------- writing
def write_table(
    frame: pd.DataFrame, path: str | os.PathLike[str], *, table: str | None = None
) -> None:
    """Write a table atomically as CSV, Parquet or a DuckDB table (by the extension of ``path``).

    The index is not written: put ids in columns first. CSV floats are written
    with ``%.10g`` so reruns are byte-identical. A DuckDB output replaces the
    table ``table`` (default ``scores``) of the database in one transaction
    (:func:`write_duckdb_table`); other tables of the database are untouched.

    Raises
    ------
    InputOutputError
        If the file cannot be written; the previous file (or table) is then unchanged.
    """
    target = Path(path)
    fmt = output_format(target)
    try:
        if fmt == "csv":
            with atomic_write(target, newline="") as fh:
                spreadsheet_safe(frame).to_csv(
                    fh, index=False, float_format=CSV_FLOAT_FORMAT, lineterminator="\n"
                )
        elif fmt == "duckdb":
            write_duckdb_table(frame, target, table or DEFAULT_TABLE)
        else:
            _write_parquet(frame, target)
    except OSError as exc:
        if isinstance(exc, InputOutputError):
            raise
        raise InputOutputError(
            f"cannot write '{target}': {exc.strerror or exc}. Check that the "
            "directory exists, is writable and has free space."
        ) from None


def write_duckdb_table(frame: pd.DataFrame, path: str | os.PathLike[str], table: str) -> None:
    """Replace (or create) a table of a DuckDB database with ``frame``, atomically.

    In one transaction: the rows are written to a staging table
    ``<table>__clv_staging_<random>`` (a name no table of the database has, so a
    user's table is never touched), the old table is dropped and the staging table is
    renamed to ``table``. A failure at any step (or a killed process) rolls the
    transaction back: readers see the old table or the new one, never a part.
    Rows keep the order of ``frame``, so the same frame gives the same table.

    Raises
    ------
    InputOutputError
        If the database cannot be opened (missing directory, locked by another
        writer, not a DuckDB file) or the write fails.
    UsageError
        If ``table`` is not a plain name.
    """
    import duckdb

    if not table or not table.replace("_", "a").isalnum() or table[0].isdigit():
        raise UsageError(
            f"--out-table must be a plain table name (letters, digits, _), got {table!r}."
        )
    try:
        con = duckdb.connect(str(path))
    except duckdb.Error as exc:
        raise InputOutputError(
            f"cannot open DuckDB database '{path}' for writing: {_one_line(exc)}."
        ) from None
    try:
        con.execute("SET preserve_insertion_order = true")
        view = f"clv_output_{secrets.token_hex(8)}"
        con.register(view, frame)
        con.begin()
        try:
            staging = _unused_table_name(con, f"{table}__clv_staging")
            con.execute(
                f"CREATE TABLE {_quote_ident(staging)} AS SELECT * FROM {_quote_ident(view)}"
            )
            _replace_table(con, staging, table)
            con.commit()
        except BaseException:
            con.rollback()
            raise
    except duckdb.Error as exc:
        raise InputOutputError(
            f"cannot write table '{table}' of '{path}': "
            f"{_one_line(exc)}; the previous table is unchanged."
        ) from None
    finally:
        con.close()


def _unused_table_name(con: Any, prefix: str) -> str:
    """``prefix`` plus a random suffix naming no table or view of the database."""
    existing = {
        str(r[0]).lower()
        for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()
    }
    while True:
        name = f"{prefix}_{secrets.token_hex(6)}"
        if name.lower() not in existing:
            return name


def _replace_table(con: Any, staging: str, table: str) -> None:
    """Inside the caller's transaction: drop ``table`` and rename ``staging`` to it."""
    con.execute(f"DROP TABLE IF EXISTS {_quote_ident(table)}")
    con.execute(f"ALTER TABLE {_quote_ident(staging)} RENAME TO {_quote_ident(table)}")


def read_duckdb_table(path: str | os.PathLike[str], table: str) -> pd.DataFrame:
    """Read a table written by :func:`write_duckdb_table` (read-only connection)."""
    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        return con.table(table).df()


def _write_parquet(frame: pd.DataFrame, target: Path) -> None:
    import duckdb

    with tempfile.TemporaryDirectory(prefix="clv-") as tmpdir:
        staged = Path(tmpdir) / "table.parquet"
        con = duckdb.connect()
        try:
            con.register("clv_output", frame)
            quoted = str(staged).replace("'", "''")
            con.execute(f"COPY clv_output TO '{quoted}' (FORMAT parquet)")
        finally:
            con.close()
        with staged.open("rb") as src, atomic_write(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)


def write_json(document: Mapping[str, Any], path: str | os.PathLike[str]) -> None:
    """Write a JSON document atomically (NaN and infinities become ``null``)."""
    target = Path(path)
    try:
        with atomic_write(target) as fh:
            json.dump(json_ready(document), fh, indent=2, allow_nan=False)
            fh.write("\n")
    except OSError as exc:
        raise InputOutputError(f"cannot write '{target}': {exc.strerror or exc}.") from None


# ---------------------------------------------------------------------- hashes
def frame_fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 of a table's content (column names, dtypes and values; not the index).

    The same rows from the same source give the same fingerprint on every run
    and machine; it identifies the training data inside a model bundle and the
    scored data in a run record.

    Examples
    --------
    >>> a = pd.DataFrame({"id": ["x", "y"], "v": [1.0, 2.0]})
    >>> frame_fingerprint(a) == frame_fingerprint(a.copy())
    True
    >>> frame_fingerprint(a) == frame_fingerprint(a.iloc[::-1])
    False
    """
    digest = hashlib.sha256()
    for name in frame.columns:
        column = frame[name]
        digest.update(f"{name}\x00{column.dtype}\x00".encode())
        digest.update(np.ascontiguousarray(_hash_values(column)).tobytes())
    return "sha256:" + digest.hexdigest()


def _hash_values(column: pd.Series) -> np.ndarray:
    """``pandas.util.hash_pandas_object(column, index=False)`` as a uint64 array.

    Arrow-backed text without missing values (customer ids read from Parquet or
    DuckDB) is factorized in Arrow and only its distinct values are hashed, which
    gives the same hashes without turning every row into a Python string.

    Examples
    --------
    >>> col = pd.Series(["C2", "C10", "C2"], dtype=pd.StringDtype("pyarrow"))
    >>> bool((_hash_values(col) == pd.util.hash_pandas_object(col, index=False)).all())
    True
    """
    dtype = column.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow" and not column.hasnans:
        from clv.data.transactions import _factorize_customers

        codes, uniques = _factorize_customers(column)
        hashed = pd.util.hash_array(np.asarray(uniques, dtype=object), categorize=False)
        return hashed[codes]
    return pd.util.hash_pandas_object(column, index=False).to_numpy()
