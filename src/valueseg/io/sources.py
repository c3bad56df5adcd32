"""Open any supported source as a DuckDB relation of raw rows with their line numbers.

The rows are copied once into temp table ``_vs_raw`` (in source order, so that DuckDB's
row id numbers them) and read through view ``_vs_src``, which adds ``_line``.

A source is a file (CSV/TSV, Parquet, JSON lines; compressed CSV too), a pandas or polars
DataFrame, or a table in a database reached by URL (``duckdb:///shop.duckdb?table=orders``,
``sqlite:///shop.db?table=orders``, ``postgresql://user@host/db?table=orders``).
Everything that cannot be read at all is refused here with one clear message.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import duckdb

from valueseg.errors import InputError, SourceNotFoundError

_SNIFF_BYTES = 1 << 20
_TEXT_FORMATS = {".csv": "csv", ".tsv": "csv", ".txt": "csv", ".tab": "csv"}
_FORMATS = {
    **_TEXT_FORMATS,
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".xlsx": "excel",
    ".xlsm": "excel",
}
_COMPRESSED = {".gz": "gzip", ".zst": "zstd"}
_DB_SCHEMES = ("duckdb", "sqlite", "postgresql", "postgres")
#: Bytes DuckDB reads a CSV in at a time. 64 MB (fewer, larger batches) reads a big file
#: into a table in file order about a quarter faster than DuckDB's default (BENCHMARKS.md).
_CSV_BUFFER = 64 << 20
#: Up to this many malformed lines, line numbers are fixed by a CASE; beyond, by a join
#: that copies the rows once.
_CASE_SHIFTS = 64


@dataclass(frozen=True)
class OpenedSource:
    """A source copied to temp table ``_vs_raw`` and seen through view ``_vs_src``: the
    source's columns in source order plus ``_line``, the line (or row) each came from."""

    name: str  # what messages call it: a file name, 'DataFrame', or a URL without password
    fmt: str  # csv | parquet | jsonl | excel | dataframe | database
    columns: tuple[str, ...]
    types: tuple[str, ...]
    header_lines: int  # lines before the first data row (1 for a CSV with a header)
    malformed: tuple[tuple[int, str, str], ...] = ()  # (line, reason, raw text) of broken lines
    notes: tuple[str, ...] = ()  # what the report should say about how the source was read

    @property
    def row_word(self) -> str:
        return "line" if self.fmt in ("csv", "jsonl") else "row"


def is_database_url(source: object) -> bool:
    """True for strings like ``sqlite:///shop.db?table=orders``."""
    return isinstance(source, str) and source.split(":", 1)[0].lower() in _DB_SCHEMES


def open_source(con: duckdb.DuckDBPyConnection, source: Any) -> OpenedSource:
    """Copy ``source`` into temp table ``_vs_raw`` and register view ``_vs_src`` on ``con``.

    :func:`drop_temp_objects` drops them again.
    """
    if _is_dataframe(source):
        return _open_dataframe(con, source)
    if is_database_url(source):
        return _open_database(con, str(source))
    if isinstance(source, (str, Path)):
        return _open_file(con, Path(source))
    raise InputError(
        f"Cannot read a source of type {type(source).__name__}. "
        "Expected a file path, a pandas or polars DataFrame, or a database URL "
        "such as sqlite:///shop.db?table=orders."
    )


# -- DataFrames ----------------------------------------------------------------------------
def _is_dataframe(obj: object) -> bool:
    module = type(obj).__module__
    return type(obj).__name__ == "DataFrame" and module.split(".")[0] in ("pandas", "polars")


def _open_dataframe(con: duckdb.DuckDBPyConnection, frame: Any) -> OpenedSource:
    if type(frame).__module__.startswith("pandas"):
        frame = frame.reset_index(drop=True)
        frame.columns = [str(c) for c in frame.columns]
    if len(frame) == 0:
        raise InputError("The DataFrame has no rows. Expected at least one row of data.")
    con.register("_vs_df", frame)
    return _finish(con, "DataFrame", "dataframe", "_vs_df", header_lines=0)


# -- databases -----------------------------------------------------------------------------
def _split_db_url(url: str) -> tuple[str, str, str]:
    """(scheme, table, URL safe to show: the password replaced by ***)."""
    parts = urlsplit(url)
    shown = re.sub(r"//([^/@:]+):[^/@]*@", r"//\1:***@", url)
    table = (parse_qs(parts.query).get("table") or [""])[0]
    if not table:
        raise InputError(
            f"Database URL {shown} names no table. "
            "Add ?table=NAME, e.g. sqlite:///shop.db?table=orders."
        )
    return parts.scheme.lower(), table, shown


def _db_file(url: str, shown: str) -> str:
    """File of a file database URL: sqlite:///rel.db is relative, sqlite:////abs.db absolute."""
    parts = urlsplit(url)
    path = parts.netloc + parts.path if parts.netloc else parts.path[1:]
    if not Path(path).exists():
        raise SourceNotFoundError(f"Database file not found: {path} (from {shown}).")
    return path


def _open_database(con: duckdb.DuckDBPyConnection, url: str) -> OpenedSource:
    scheme, table, shown = _split_db_url(url)
    if scheme == "duckdb":
        path = _db_file(url, shown)
        con.execute(f"ATTACH '{_sql_str(path)}' AS _vs_srcdb (READ_ONLY)")
        return _finish(con, shown, "database", f"_vs_srcdb.{_ident(table)}", 0)
    if scheme == "sqlite":
        path = _db_file(url, shown)
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as lite:
            arrow = _sqlite_table(lite, table, shown)
        con.register("_vs_df", arrow)
        return _finish(con, shown, "database", "_vs_df", header_lines=0)
    return _open_postgres(con, url, table, shown)


def _sqlite_table(lite: sqlite3.Connection, table: str, shown: str) -> Any:
    import pyarrow as pa

    try:
        cur = lite.execute(f"SELECT * FROM {_ident(table)}")
    except sqlite3.OperationalError as exc:
        raise InputError(f"Cannot read table '{table}' from {shown}: {exc}.") from exc
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    # SQLite is dynamically typed: read every value as text and let validation parse it.
    cols = [[None if r[i] is None else str(r[i]) for r in rows] for i in range(len(names))]
    return pa.table({n: pa.array(c, pa.string()) for n, c in zip(names, cols, strict=True)})


def _open_postgres(
    con: duckdb.DuckDBPyConnection, url: str, table: str, shown: str
) -> OpenedSource:
    try:
        import psycopg
    except ImportError as exc:
        raise InputError(
            f"Reading {shown} needs the PostgreSQL driver. Install it: "
            "pip install 'valueseg[postgres]'."
        ) from exc
    import pyarrow as pa

    dsn = urlunsplit(urlsplit(url)._replace(query="", scheme="postgresql"))
    try:
        with psycopg.connect(dsn) as pg, pg.cursor() as cur:
            cur.execute(f"SELECT * FROM {_ident(table)}")
            names = [d.name for d in cur.description or []]
            rows = cur.fetchall()
    except psycopg.Error as exc:
        raise InputError(f"Cannot read table '{table}' from {shown}: {exc}".strip()) from exc
    cols = [[None if r[i] is None else str(r[i]) for r in rows] for i in range(len(names))]
    arrow = pa.table({n: pa.array(c, pa.string()) for n, c in zip(names, cols, strict=True)})
    con.register("_vs_df", arrow)
    return _finish(con, shown, "database", "_vs_df", header_lines=0)


# -- files ---------------------------------------------------------------------------------
def _file_format(path: Path, head: bytes) -> tuple[str, str | None]:
    suffixes = [s.lower() for s in path.suffixes]
    compression = _COMPRESSED.get(suffixes[-1]) if suffixes else None
    if compression:
        suffixes = suffixes[:-1]
    declared = _FORMATS.get(suffixes[-1]) if suffixes else None
    if suffixes and suffixes[-1] == ".xls":
        raise InputError(
            f"File {path.name} is an Excel 97-2003 workbook (.xls), which valueseg does not "
            "read. Save it as .xlsx or as CSV (UTF-8) and ingest that."
        )
    if declared == "excel" and head.startswith(b"\xd0\xcf\x11\xe0"):  # an OLE container
        raise InputError(
            f"File {path.name} is a password-protected workbook (or an Excel 97-2003 file "
            "named .xlsx), which valueseg does not read. Remove the password, or save it as "
            ".xlsx or as CSV (UTF-8), and ingest that."
        )
    if declared == "excel" and not head.startswith(b"PK\x03\x04"):
        raise InputError(
            f"File {path.name} is not an Excel workbook (an .xlsx file is a zip archive, and "
            "this one is not). If it is CSV, rename it to .csv."
        )
    if declared == "parquet" and not head.startswith(b"PAR1"):
        raise InputError(
            f"File {path.name} is not a Parquet file (it does not start with the Parquet "
            "magic bytes 'PAR1'). Expected a Parquet file; if it is CSV, rename it to .csv."
        )
    if declared is None:
        if head.startswith(b"PAR1"):
            return "parquet", None
        stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
        declared = "jsonl" if stripped.startswith(b"{") else "csv"
    return declared, compression


def _check_text(path: Path, head: bytes) -> str:
    """Refuse binary content; return the encoding DuckDB should read the file with."""
    if b"\x00" in head:
        raise InputError(
            f"File {path.name} does not look like text: it contains binary (NUL) bytes. "
            "Expected a CSV, Parquet, JSON lines or Excel (.xlsx) file."
        )
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the sample's end
            return "latin-1"
    return "utf-8"


def _open_file(con: duckdb.DuckDBPyConnection, path: Path) -> OpenedSource:
    if path.is_dir():
        raise InputError(f"{path} is a folder. Expected a file; pass the files inside it.")
    if not path.exists():
        raise SourceNotFoundError(f"File not found: {path}.")
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if not head.strip():
        raise InputError(
            f"File {path.name} is empty. Expected a header line and at least one data row."
        )
    fmt, compression = _file_format(path, head)
    if fmt == "excel":
        return _open_excel(con, path)
    if fmt == "parquet":
        query = f"read_parquet('{_sql_str(str(path))}')"
        return _finish(con, path.name, "parquet", query, header_lines=0)
    if compression is None:
        encoding = _check_text(path, head)
    else:
        encoding = "utf-8"
    if fmt == "jsonl":
        query = f"read_json('{_sql_str(str(path))}', format='newline_delimited')"
        return _finish(con, path.name, "jsonl", query, header_lines=0)
    return _open_csv(con, path, encoding, head)


def _open_csv(
    con: duckdb.DuckDBPyConnection, path: Path, encoding: str, head: bytes
) -> OpenedSource:
    con.execute("DROP TABLE IF EXISTS reject_errors; DROP TABLE IF EXISTS reject_scans")
    query = (
        f"read_csv('{_sql_str(str(path))}', all_varchar=true, header=true, "
        f"encoding='{encoding}', store_rejects=true, buffer_size={_CSV_BUFFER})"
    )
    try:
        columns, types, row = _materialize(con, path.name, "csv", query)
        if len(columns) == 1 and len(columns[0].split()) > 1:
            # one column whose name holds spaces: a whitespace-aligned text export
            return _open_csv_slowly(con, path, encoding, head, whitespace=True)
    except InputError as exc:
        cause = str(exc.__cause__).lower()
        if encoding == "utf-8" and "unicode" in cause:
            return _open_csv(con, path, "latin-1", head)
        if "sniffing" in cause:  # DuckDB could not guess the dialect: read it in Python
            return _open_csv_slowly(con, path, encoding, head)
        raise
    # One row per error: a line with two extra fields has two. Take each line once.
    rows = con.execute(
        "SELECT line, arg_min(error_type, byte_position), arg_min(csv_line, byte_position) "
        "FROM reject_errors GROUP BY line ORDER BY line"
    ).fetchall()
    bad = tuple((int(r[0]), f"malformed CSV line ({r[1]})", str(r[2])) for r in rows)
    _number_lines(con, row, 1, [line for line, _, _ in bad])
    _check_not_empty(con, path.name, "csv", 1)
    return OpenedSource(path.name, "csv", columns, types, 1, bad)


class _WhitespaceReader:
    """csv.reader's interface over lines whose fields are separated by runs of blanks."""

    def __init__(self, lines: Any) -> None:
        self._lines = lines
        self.line_num = 0

    def __iter__(self) -> _WhitespaceReader:
        return self

    def __next__(self) -> list[str]:
        self.line_num += 1
        return next(self._lines).split()


def _open_csv_slowly(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    encoding: str,
    head: bytes,
    *,
    whitespace: bool = False,
) -> OpenedSource:
    """Read an odd CSV with Python's csv module (exact line numbers; slower).

    ``whitespace``: fields are separated by runs of spaces or tabs (aligned text exports).
    """
    import pyarrow as pa

    first = head.split(b"\n", 1)[0]
    delim = max((b",", b";", b"\t", b"|"), key=first.count).decode()
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rt", encoding=encoding, errors="replace", newline="") as fh:
        reader: Any = _WhitespaceReader(fh) if whitespace else csv.reader(fh, delimiter=delim)
        if whitespace:
            delim = " "
        names = [n.lstrip("\ufeff") for n in next(reader, [])]
        cols: list[list[str]] = [[] for _ in names]
        lines: list[int] = []
        bad: list[tuple[int, str, str]] = []
        start = reader.line_num + 1
        for fields in reader:
            if not fields:
                start = reader.line_num + 1
                continue
            if len(fields) != len(names):
                bad.append(
                    (start, "malformed CSV line (wrong number of fields)", delim.join(fields))
                )
            else:
                for col, value in zip(cols, fields, strict=True):
                    col.append(value)
                lines.append(start)
            start = reader.line_num + 1
    table = pa.table(
        {
            **{n: pa.array(c, pa.string()) for n, c in zip(names, cols, strict=True)},
            "_vs_lines": pa.array(lines, pa.int64()),
        }
    )
    con.register("_vs_df", table)
    con.execute("CREATE OR REPLACE TEMP TABLE _vs_raw AS SELECT * FROM _vs_df")
    con.execute(
        "CREATE OR REPLACE TEMP VIEW _vs_src AS "
        "SELECT * EXCLUDE (_vs_lines), _vs_lines AS _line FROM _vs_raw"
    )
    if not lines and not bad:
        raise InputError(
            f"File {path.name} has a header but no data rows. Expected at least one data row."
        )
    return OpenedSource(path.name, "csv", tuple(names), ("VARCHAR",) * len(names), 1, tuple(bad))


def _open_excel(con: duckdb.DuckDBPyConnection, path: Path) -> OpenedSource:
    """The first sheet of an .xlsx workbook, header in row 1; rows keep their sheet numbers.

    Cells are read as Excel typed them (numbers, dates, text); a column that mixes types
    becomes text, read as a CSV's text is, so a bad cell is quarantined, not lost.
    """
    import pandas as pd

    try:
        with pd.ExcelFile(path, engine="calamine") as book:  # one open for names and sheet
            sheets = [str(name) for name in book.sheet_names]
            frame = pd.read_excel(book, sheet_name=0)
    except Exception as exc:  # calamine raises its own errors on a broken archive or sheet
        raise InputError(
            f"Cannot read {path.name} as an Excel workbook: {str(exc).rstrip('.')}. "
            "Expected an .xlsx file "
            "saved by Excel or a compatible program; or save the sheet as CSV and ingest that."
        ) from exc
    frame.columns = [str(c) for c in frame.columns]
    for column in frame.columns:
        values = frame[column]
        if values.dtype == object:  # mixed cells: their text, as a CSV would give it
            frame[column] = values.map(lambda v: None if pd.isna(v) else str(v)).astype(object)
    notes: tuple[str, ...] = ()
    if len(sheets) > 1:
        others = ", ".join(repr(name) for name in sheets[1:])
        notes = (
            f"read the first sheet, {sheets[0]!r}; the workbook's other sheets ({others}) "
            "were not read. Save each as CSV to ingest it.",
        )
    con.register("_vs_df", frame)
    return _finish(con, path.name, "excel", "_vs_df", header_lines=1, notes=notes)


def _finish(
    con: duckdb.DuckDBPyConnection,
    name: str,
    fmt: str,
    query: str,
    header_lines: int,
    notes: tuple[str, ...] = (),
) -> OpenedSource:
    columns, types, row = _materialize(con, name, fmt, query)
    _number_lines(con, row, header_lines, ())
    _check_not_empty(con, name, fmt, header_lines)
    return OpenedSource(name, fmt, columns, types, header_lines, notes=notes)


def _materialize(
    con: duckdb.DuckDBPyConnection, name: str, fmt: str, query: str
) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """Copy the source into temp table ``_vs_raw`` in source order, without numbering it
    (numbering while reading keeps DuckDB to one thread); the row number is ``rowid``.

    Returns the columns, their types and the expression for the 0-based row number.
    """
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _vs_raw AS SELECT * FROM {query}")
    except duckdb.Error as exc:
        message = str(exc).splitlines()[0]
        raise InputError(
            f"Cannot read {name} as {fmt.upper()}: {message}. "
            "Expected a well-formed CSV, Parquet or JSON lines file."
        ) from exc
    described = con.execute("DESCRIBE _vs_raw").fetchall()
    columns = tuple(str(r[0]) for r in described)
    types = tuple(str(r[1]) for r in described)
    if not any(c.lower() == "rowid" for c in columns):
        return columns, types, "rowid"
    # A source column named 'rowid' hides DuckDB's row id: number the rows explicitly.
    con.execute(
        "ALTER TABLE _vs_raw RENAME TO _vs_raw0; "
        "CREATE TEMP TABLE _vs_raw AS SELECT *, row_number() OVER () - 1 AS _vs_row "
        "FROM _vs_raw0; DROP TABLE _vs_raw0"
    )
    return columns, types, "_vs_row"


def _number_lines(
    con: duckdb.DuckDBPyConnection, row: str, header_lines: int, bad_lines: Sequence[int]
) -> None:
    """Create view ``_vs_src``: ``_vs_raw`` plus ``_line``, the line each row came from.

    Row ``r`` (0-based) of a file with ``header_lines`` header lines is on line
    ``r + header_lines + 1``, moved down by each malformed line before it (DuckDB skips
    those and reports their line numbers). Lines are exact for one record per line; blank
    lines (which DuckDB skips silently) and quoted values spanning several lines shift
    the numbers after them.
    """
    first = header_lines + 1
    drop = " EXCLUDE (_vs_row)" if row == "_vs_row" else ""
    # The j-th malformed line (0-based) comes after this many rows that were read:
    after = [max(0, line - first - j) for j, line in enumerate(sorted(set(bad_lines)))]
    # rows_before -> how many malformed lines come before a row with that number
    shifts = {n: j + 1 for j, n in enumerate(after)}
    if len(shifts) <= _CASE_SHIFTS:
        cases = " ".join(f"WHEN {row} >= {n} THEN {k}" for n, k in sorted(shifts.items())[::-1])
        shift = f" + CASE {cases} ELSE 0 END" if shifts else ""
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW _vs_src AS "
            f"SELECT *{drop}, {row} + {first}{shift} AS _line FROM _vs_raw"
        )
        return
    # Many malformed lines: number the rows once, by a join, into a copy of the rows.
    con.execute(
        "CREATE TEMP TABLE _vs_shift AS SELECT unnest(?::BIGINT[]) AS n, unnest(?::BIGINT[]) AS k",
        [list(shifts), list(shifts.values())],
    )
    con.execute(
        f"CREATE TEMP TABLE _vs_raw0 AS SELECT r.*{drop}, "
        f"r.{row} + {first} + coalesce(s.k, 0) AS _vs_line "
        f"FROM _vs_raw AS r ASOF LEFT JOIN _vs_shift AS s ON r.{row} >= s.n; "
        "DROP TABLE _vs_raw; ALTER TABLE _vs_raw0 RENAME TO _vs_raw; DROP TABLE _vs_shift"
    )
    con.execute(
        "CREATE OR REPLACE TEMP VIEW _vs_src AS "
        "SELECT * EXCLUDE (_vs_line), _vs_line AS _line FROM _vs_raw"
    )


def _check_not_empty(
    con: duckdb.DuckDBPyConnection, name: str, fmt: str, header_lines: int
) -> None:
    count = con.execute("SELECT count(*) FROM _vs_raw").fetchone()
    if not count or count[0] == 0:
        what = "a header but no data rows" if header_lines else "no rows"
        raise InputError(
            f"File {name} has {what}. Expected at least one data row."
            if fmt in ("csv", "parquet", "jsonl", "excel")
            else f"{name} has no rows. Expected at least one row of data."
        )


def drop_temp_objects(con: duckdb.DuckDBPyConnection) -> None:
    """Drop what :func:`open_source` created on ``con``."""
    con.execute(
        "DROP VIEW IF EXISTS _vs_src; DROP TABLE IF EXISTS _vs_raw; "
        "DROP TABLE IF EXISTS _vs_raw0; DROP TABLE IF EXISTS _vs_shift"
    )
    with contextlib.suppress(duckdb.Error):
        con.unregister("_vs_df")
    attached = con.execute(
        "SELECT count(*) FROM duckdb_databases() WHERE database_name = '_vs_srcdb'"
    ).fetchone()
    if attached != (0,):
        con.execute("DETACH _vs_srcdb")


def _sql_str(text: str) -> str:
    return text.replace("'", "''")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
