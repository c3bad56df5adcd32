"""SQL expressions that parse raw source columns into typed canonical values.

Text is parsed strictly: a value that cannot be read becomes NULL here, and the row rules
(:mod:`valueseg.io.rules`) turn that NULL into a quarantine reason. Typed columns (Parquet,
DataFrames) are used as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from valueseg.io.sources import _ident

_NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL")
_INTEGER = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
)
_OFFSET_RE = r"(Z|[+-]\d\d(:?\d\d)?)$"
_BLANKS = "' \t\r\n'"  # what trimming removes from text values
_SAMPLE_ROWS = 20_000  # rows sampled to pick a date format

#: Non-ISO date formats tried on a sample of a text timestamp column, best first on ties.
TIMESTAMP_FORMATS = (
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y",
    "%d/%m/%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y",
    "%m/%d/%y %H:%M",
    "%d/%m/%y %H:%M",
    "%m/%d/%y",
    "%d/%m/%y",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d.%m.%Y",
    "%Y%m%d",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d",
    "%d-%m-%Y %H:%M",
    "%d-%m-%Y",
    "%d %b %Y",
    "%b %d, %Y",
)


@dataclass(frozen=True)
class ValueSQL:
    """SQL reading one canonical value, in two steps so that the slow one runs only where
    the fast one cannot read a value.

    ``fast`` (SQL over the raw columns) reads most values. Where it gives NULL, ``prep``
    (SQL over the raw columns) is computed, and ``slow`` (SQL over that prepared text,
    written ``{p}``) gives the value. DuckDB evaluates a CASE branch only on the rows that
    take it, but computes on every row any expression that appears twice in one SELECT;
    so ``prep`` gets its own SELECT and ``slow`` refers to it by column name.
    """

    fast: str
    prep: str | None = None
    slow: str | None = None


def is_text(sql_type: str) -> bool:
    return sql_type.upper() == "VARCHAR"


def edge_blank(col: str) -> str:
    """SQL: the text starts or ends with a character trimming removes, or is empty.

    Cheaper than trimming: ``< '!'`` catches '' and any first character up to a space.
    """
    ref = _ident(col)
    ends = " OR ".join(f"{ref} LIKE '%{c}'" for c in (" ", "\t", "\r", "\n"))
    return f"({ref} < '!' OR {ends})"


def float_text(col: str) -> str:
    """SQL: the text may be an integral number written as a float ('17850.0').

    Spreadsheets and pandas write a numeric id column that has a blank as floats, so a
    customer's id reads '17850.0' in one export and '17850' in another.
    """
    ref = _ident(col)
    return f"({ref} LIKE '%.%0')"


def needs_care(col: str) -> str:
    """SQL: the identifier text needs the careful parse (trimming, or a float's '.0')."""
    return f"({edge_blank(col)} OR {float_text(col)})"


def text_expr(col: str, sql_type: str, careful: bool = True) -> str:
    """An identifier as trimmed text, NULL when empty; integral floats lose their '.0'.

    Text that is an integral number written as a float ('17850.0', ' 17850.00 ') loses
    the '.0' too, so ids match whichever way an export wrote them. ``careful=False`` says
    no value of the column :func:`needs_care`: text is kept as is.

    Examples
    --------
    >>> import duckdb
    >>> values = ["17850.0", " 13047.00", "85123A", "1.05", "", "2.0x"]
    >>> duckdb.sql(
    ...     f"SELECT {text_expr('v', 'VARCHAR')} FROM (SELECT unnest(?) AS v)", params=[values]
    ... ).fetchall()
    [('17850',), ('13047',), ('85123A',), ('1.05',), (None,), ('2.0x',)]
    """
    ref = _ident(col)
    base = sql_type.upper().split("(")[0]
    if base in ("FLOAT", "DOUBLE", "DECIMAL"):
        return (
            f"CASE WHEN {ref} = trunc({ref}) AND NOT isinf({ref}) "
            f"THEN CAST(CAST({ref} AS HUGEINT) AS VARCHAR) ELSE CAST({ref} AS VARCHAR) END"
        )
    if base != "VARCHAR":
        return f"nullif(trim(CAST({ref} AS VARCHAR), {_BLANKS}), '')"
    if not careful:
        return ref
    # Trimming is slow and most values need none ('' is an edge_blank).
    trimmed = f"nullif(trim({ref}, {_BLANKS}), '')"
    integral = f"regexp_extract({trimmed}, '^([0-9]+)\\.0+$', 1)"
    return (
        f"CASE WHEN {needs_care(col)} THEN coalesce(nullif({integral}, ''), {trimmed}) "
        f"ELSE {ref} END"
    )


def number_expr(col: str, sql_type: str) -> ValueSQL:
    """A numeric value as DOUBLE, NULL when it cannot be read (NaN/inf kept for the rules).

    Plain numbers are cast; only values the cast cannot read go through the money
    spellings ('1,234.50', '1.234,50', '12,5', '$ 7.25').
    """
    ref = _ident(col)
    base = sql_type.upper().split("(")[0]
    if base in _NUMERIC or base in _INTEGER:
        return ValueSQL(f"CAST({ref} AS DOUBLE)")
    euro = "replace(replace({p}, '.', ''), ',', '.')"
    return ValueSQL(
        fast=f"TRY_CAST({ref} AS DOUBLE)",
        prep=f"regexp_replace(trim(CAST({ref} AS VARCHAR)), '[\\s$€£¥]', '', 'g')",
        slow=(
            "CASE WHEN regexp_full_match({p}, '-?[0-9]{1,3}(\\.[0-9]{3})+,[0-9]+') "
            f"THEN TRY_CAST({euro} AS DOUBLE) "
            "WHEN regexp_full_match({p}, '-?[0-9]+,[0-9]{1,2}') "
            "THEN TRY_CAST(replace({p}, ',', '.') AS DOUBLE) "
            "ELSE TRY_CAST(replace({p}, ',', '') AS DOUBLE) END"
        ),
    )


def detect_timestamp_format(
    con: duckdb.DuckDBPyConnection, table: str, col: str
) -> tuple[str | None, bool]:
    """Pick the non-ISO format that reads most of a sample; flag day/month ambiguity.

    ``table`` has a ``_line`` column; the sample is about 20,000 rows spread over it.

    Returns ``(format or None, ambiguous)``; ``None`` when no listed format reads any value.
    ISO 8601 is always tried as well (see :func:`timestamp_expr`), so a column mixing ISO
    dates with one other format is read in full.
    """
    ref = _ident(col)
    count = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    stride = max(1, int(count[0] if count else 0) // _SAMPLE_ROWS)
    # Every stride-th line, spread over the whole file (a date-sorted file's first rows
    # may all fit both day-first and month-first). The LIMIT keeps DuckDB from trimming
    # every value to test it for '' before taking the sample. No listed format reads text
    # that starts like an ISO date ('2024-'), so such values are not tried.
    sample = (
        f"(SELECT DISTINCT v FROM (SELECT trim({ref}) AS v FROM {table} "
        f"WHERE _line % {stride} = 0 LIMIT {2 * _SAMPLE_ROWS}) AS s "
        f"WHERE v <> '' AND NOT regexp_matches(v, '^[0-9]{{4}}-'))"
    )
    parts = [
        f"count(*) FILTER (WHERE try_strptime(v, '{fmt}') IS NOT NULL)" for fmt in TIMESTAMP_FORMATS
    ]
    row = con.execute(f"SELECT {', '.join(parts)} FROM {sample}").fetchone()
    if row is None:
        return None, False
    counts = [int(x) for x in row]
    best = max(counts)
    if best == 0:
        return None, False
    fmt = TIMESTAMP_FORMATS[counts.index(best)]
    twin = _day_month_twin(fmt)
    ambiguous = twin is not None and counts[TIMESTAMP_FORMATS.index(twin)] == best
    return fmt, ambiguous


def _day_month_twin(fmt: str) -> str | None:
    if "%m/%d" in fmt:
        twin = fmt.replace("%m/%d", "%d/%m")
    elif "%d/%m" in fmt:
        twin = fmt.replace("%d/%m", "%m/%d")
    else:
        return None
    return twin if twin in TIMESTAMP_FORMATS else None


def maybe_offset(col: str) -> str:
    """SQL: the text may be read differently by a plain TIMESTAMP cast than by
    :func:`timestamp_expr`'s full parse: a leading or trailing space, or what may be a UTC
    offset ('Z', '+..', or a '-' after the time; the cast reads no date followed by
    '-05' alone). ISO dates ('2024-01-02'), whose day looks like an offset, stay on the
    fast path: the store's session is UTC, where both parses agree.
    tests/io/test_parse.py checks both parses agree wherever this is false.
    """
    ref = _ident(col)
    return (
        f"({ref} < '!' OR {ref} LIKE '% ' OR {ref} LIKE '%Z' OR contains({ref}, '+') "
        f"OR {ref} LIKE '%:%-%')"
    )


def timestamp_expr(col: str, sql_type: str, fmt: str | None, careful: bool = True) -> ValueSQL:
    """A timestamp as naive UTC; offsets ('Z', '+02:00') are converted, naive taken as is.

    Text is read in full (trimmed, offsets converted, then ``fmt``) only where a plain cast
    of the untouched text (then ``fmt``) cannot be trusted or reads nothing.
    ``careful=False`` says no value of the column is :func:`maybe_offset`.
    """
    ref = _ident(col)
    base = sql_type.upper()
    if base.startswith("TIMESTAMP WITH TIME ZONE"):
        return ValueSQL(f"timezone('UTC', {ref})")
    if base.startswith(("TIMESTAMP", "DATE")):
        return ValueSQL(f"CAST({ref} AS TIMESTAMP)")
    iso = (
        f"CASE WHEN regexp_matches({{p}}, '{_OFFSET_RE}') "
        f"THEN timezone('UTC', TRY_CAST({{p}} AS TIMESTAMPTZ)) "
        f"ELSE TRY_CAST({{p}} AS TIMESTAMP) END"
    )
    fast = f"TRY_CAST({ref} AS TIMESTAMP)"
    if fmt is not None:
        iso = f"coalesce({iso}, try_strptime({{p}}, '{fmt}'))"
        fast = f"coalesce({fast}, try_strptime({ref}, '{fmt}'))"
    if not is_text(sql_type):
        return ValueSQL("CAST(NULL AS TIMESTAMP)", f"trim(CAST({ref} AS VARCHAR))", iso)
    if careful:
        fast = f"CASE WHEN NOT {maybe_offset(col)} THEN {fast} END"
    return ValueSQL(
        fast=fast,
        prep=f"trim({ref})",
        slow=iso,
    )
