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
    "%a, %d %b %Y %H:%M:%S %z",
)

#: Numbers a timestamp column may hold, as (name, lowest, highest, SQL of a DOUBLE ``{v}``):
#: Unix epoch seconds and milliseconds (1973–2286) and Excel serial dates (1954–2119,
#: days since 1899-12-30, read to the second). The ranges do not overlap each other or a
#: ``%Y%m%d`` date, so the sample tells them apart.
NUMBER_FORMATS: tuple[tuple[str, float, float, str], ...] = (
    ("Unix epoch seconds", 1e8, 1e10, "make_timestamp(CAST(round({v} * 1e6) AS BIGINT))"),
    ("Unix epoch milliseconds", 1e11, 1e13, "make_timestamp(CAST(round({v} * 1e3) AS BIGINT))"),
    (
        "Excel serial dates",
        2e4,
        8e4,
        "make_timestamp(CAST(round(({v} - 25569) * 86400) * 1000000 AS BIGINT))",
    ),
)
_NUMBER_FORMATS = {name: (lo, hi, sql) for name, lo, hi, sql in NUMBER_FORMATS}
#: An ISO date and time whose zone the plain cast does not read: '+0200' or 'Z' after a
#: space, an offset after minutes without seconds, ' UTC' or ' GMT'.
_ISO_TIME = r"^(\d{4}-\d\d-\d\d[T ]\d\d?:\d\d)"
_ZONE = r"(Z|z|UTC|GMT|[+-]\d\d(?::?\d\d)?)$"
_ISO_SECONDS = r"^(\d{4}-\d\d-\d\d[T ]\d\d?:\d\d:\d\d(?:\.\d+)?)"
_OFFSET = r"(Z|z|[+-]\d\d(?::?\d\d)?)$"


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
    number = "regexp_full_match(v, '[0-9]+(\\.[0-9]+)?') AND TRY_CAST(v AS DOUBLE)"
    parts += [
        f"count(*) FILTER (WHERE {number} >= {lo} AND {number} < {hi})"
        for lo, hi in ((lo, hi) for _, lo, hi, _ in NUMBER_FORMATS)
    ]
    row = con.execute(f"SELECT {', '.join(parts)} FROM {sample}").fetchone()
    if row is None:
        return None, False
    counts = [int(x) for x in row]
    best = max(counts)
    if best == 0:
        return None, False
    names = [*TIMESTAMP_FORMATS, *(name for name, *_ in NUMBER_FORMATS)]
    fmt = names[counts.index(best)]
    twin = _day_month_twin(fmt)
    ambiguous = twin is not None and counts[TIMESTAMP_FORMATS.index(twin)] == best
    return fmt, ambiguous


def detect_number_format(con: duckdb.DuckDBPyConnection, table: str, col: str) -> str | None:
    """The :data:`NUMBER_FORMATS` name that reads most of a sample of a numeric column.

    ``None`` when no sampled value is in any of their ranges.
    """
    ref = _ident(col)
    count = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    stride = max(1, int(count[0] if count else 0) // _SAMPLE_ROWS)
    sample = (
        f"(SELECT CAST({ref} AS DOUBLE) AS v FROM {table} "
        f"WHERE _line % {stride} = 0 LIMIT {2 * _SAMPLE_ROWS})"
    )
    parts = [f"count(*) FILTER (WHERE v >= {lo} AND v < {hi})" for _, lo, hi, _ in NUMBER_FORMATS]
    row = con.execute(f"SELECT {', '.join(parts)} FROM {sample} AS s").fetchone()
    counts = [int(x) for x in row] if row else [0]
    if max(counts) == 0:
        return None
    return NUMBER_FORMATS[counts.index(max(counts))][0]


def describe_format(fmt: str) -> str:
    """How the load report says a timestamp format was read.

    Examples
    --------
    >>> describe_format("%d/%m/%Y"), describe_format("Excel serial dates")
    ('read with format %d/%m/%Y', 'read as Excel serial dates')
    """
    return f"read as {fmt}" if fmt in _NUMBER_FORMATS else f"read with format {fmt}"


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


def zone_text(text: str) -> str:
    """SQL: ISO text with its zone written the way DuckDB's cast reads it.

    Seconds are added where an offset follows the minutes; ' UTC' and ' GMT' become 'Z';
    the space before an offset ('2024-07-23 12:06:00 +0200', Shopify's export) goes.
    Other text is returned unchanged.

    Examples
    --------
    >>> import duckdb
    >>> values = ["2024-07-23 12:06:00 +0200", "2024-07-23 12:06 UTC", "23/07/2024 12:06"]
    >>> duckdb.sql(f"SELECT {zone_text('v')} FROM unnest(?) AS u(v)", params=[values]).fetchall()
    [('2024-07-23 12:06:00+0200',), ('2024-07-23 12:06:00Z',), ('23/07/2024 12:06',)]
    """
    seconds = f"regexp_replace({text}, '{_ISO_TIME}\\s*{_ZONE}', '\\1:00\\2')"
    utc = f"regexp_replace({seconds}, '{_ISO_SECONDS}\\s*(?:UTC|GMT)$', '\\1Z')"
    return f"regexp_replace({utc}, '{_ISO_SECONDS}\\s+{_OFFSET}', '\\1\\2')"


def _strptime(text: str, fmt: str) -> str:
    """SQL reading ``text`` with strptime format ``fmt``, as naive UTC."""
    if "%z" in fmt:
        return f"timezone('UTC', try_strptime({text}, '{fmt}'))"
    return f"try_strptime({text}, '{fmt}')"


def timestamp_expr(col: str, sql_type: str, fmt: str | None, careful: bool = True) -> ValueSQL:
    """A timestamp as naive UTC; offsets ('Z', '+02:00', ' +0200') are converted, naive
    taken as is.

    Text is read in full (trimmed, zone written as the cast reads it (:func:`zone_text`),
    offsets converted, then ``fmt``) only where a plain cast of the untouched text (then
    ``fmt``) cannot be trusted or reads nothing. ``fmt`` is a strptime format or one of
    :data:`NUMBER_FORMATS` (epoch seconds or milliseconds, Excel serial dates), which
    numeric columns may have too. ``careful=False`` says no value of the column is
    :func:`maybe_offset`.
    """
    ref = _ident(col)
    base = sql_type.upper().split("(")[0]
    if base.startswith("TIMESTAMP WITH TIME ZONE"):
        return ValueSQL(f"timezone('UTC', {ref})")
    if base.startswith(("TIMESTAMP", "DATE")):
        return ValueSQL(f"CAST({ref} AS TIMESTAMP)")
    numeric = fmt in _NUMBER_FORMATS
    if numeric and (base in _NUMERIC or base in _INTEGER):
        assert fmt is not None
        return ValueSQL(_number_ts(f"CAST({ref} AS DOUBLE)", fmt))
    iso = (
        f"CASE WHEN regexp_matches({{p}}, '{_OFFSET_RE}') "
        f"THEN timezone('UTC', TRY_CAST({{p}} AS TIMESTAMPTZ)) "
        f"ELSE TRY_CAST({{p}} AS TIMESTAMP) END"
    )
    fast = f"TRY_CAST({ref} AS TIMESTAMP)"
    if fmt is not None and numeric:
        iso = f"coalesce({iso}, {_number_ts('TRY_CAST({p} AS DOUBLE)', fmt)})"
        fast = f"coalesce({fast}, {_number_ts(f'TRY_CAST({ref} AS DOUBLE)', fmt)})"
    elif fmt is not None:
        iso = f"coalesce({iso}, {_strptime('{p}', fmt)})"
        fast = f"coalesce({fast}, {_strptime(ref, fmt)})"
    if not is_text(sql_type):
        prep = zone_text(f"trim(CAST({ref} AS VARCHAR))")
        return ValueSQL("CAST(NULL AS TIMESTAMP)", prep, iso)
    if careful:
        fast = f"CASE WHEN NOT {maybe_offset(col)} THEN {fast} END"
    return ValueSQL(
        fast=fast,
        prep=zone_text(f"trim({ref})"),
        slow=iso,
    )


def _number_ts(number: str, fmt: str) -> str:
    """SQL: the DOUBLE ``number`` read as :data:`NUMBER_FORMATS` ``fmt``; NULL out of range."""
    lo, hi, sql = _NUMBER_FORMATS[fmt]
    return f"CASE WHEN {number} >= {lo} AND {number} < {hi} THEN {sql.replace('{v}', number)} END"


def count_offsets(con: duckdb.DuckDBPyConnection, table: str, col: str) -> int:
    """How many times of text column ``col`` are written with a zone (converted to UTC)."""
    ref = _ident(col)
    zoned = r":\d\d(:\d\d(\.\d+)?)?\s*(Z|z|UTC|GMT|[+-]\d\d(:?\d\d)?)$"
    row = con.execute(
        f"SELECT count(*) FROM {table} WHERE regexp_matches(trim({ref}), '{zoned}')"
    ).fetchone()
    return int(row[0]) if row else 0
