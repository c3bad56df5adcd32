"""SQL expressions that parse raw source columns into typed canonical values.

Text is parsed strictly: a value that cannot be read becomes NULL here, and the row rules
(:mod:`valueseg.io.rules`) turn that NULL into a quarantine reason. Typed columns (Parquet,
DataFrames) are used as they are.
"""

from __future__ import annotations

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


def is_text(sql_type: str) -> bool:
    return sql_type.upper() == "VARCHAR"


def text_expr(col: str, sql_type: str) -> str:
    """An identifier as trimmed text, NULL when empty; integral floats lose their '.0'."""
    ref = _ident(col)
    base = sql_type.upper().split("(")[0]
    if base in ("FLOAT", "DOUBLE", "DECIMAL"):
        return (
            f"CASE WHEN {ref} = trunc({ref}) AND NOT isinf({ref}) "
            f"THEN CAST(CAST({ref} AS HUGEINT) AS VARCHAR) ELSE CAST({ref} AS VARCHAR) END"
        )
    text = f"trim(CAST({ref} AS VARCHAR), {_BLANKS})"
    return f"nullif({text}, '')"


def number_expr(col: str, sql_type: str) -> str:
    """A numeric value as DOUBLE, NULL when it cannot be read (NaN/inf kept for the rules)."""
    ref = _ident(col)
    base = sql_type.upper().split("(")[0]
    if base in _NUMERIC or base in _INTEGER:
        return f"CAST({ref} AS DOUBLE)"
    s = f"regexp_replace(trim(CAST({ref} AS VARCHAR)), '[\\s$€£¥]', '', 'g')"
    euro = f"replace(replace({s}, '.', ''), ',', '.')"
    return (
        f"coalesce(TRY_CAST({ref} AS DOUBLE), CASE "
        f"WHEN regexp_full_match({s}, '-?[0-9]{{1,3}}(\\.[0-9]{{3}})+,[0-9]+') "
        f"THEN TRY_CAST({euro} AS DOUBLE) "
        f"WHEN regexp_full_match({s}, '-?[0-9]+,[0-9]{{1,2}}') "
        f"THEN TRY_CAST(replace({s}, ',', '.') AS DOUBLE) "
        f"ELSE TRY_CAST(replace({s}, ',', '') AS DOUBLE) END)"
    )


def detect_timestamp_format(
    con: duckdb.DuckDBPyConnection, table: str, col: str
) -> tuple[str | None, bool]:
    """Pick the non-ISO format that reads most of a sample; flag day/month ambiguity.

    Returns ``(format or None, ambiguous)``; ``None`` when no listed format reads any value.
    ISO 8601 is always tried as well (see :func:`timestamp_expr`), so a column mixing ISO
    dates with one other format is read in full.
    """
    ref = _ident(col)
    sample = (
        f"(SELECT DISTINCT trim({ref}) AS v FROM {table} "
        f"WHERE {ref} IS NOT NULL AND trim({ref}) <> '' LIMIT 20000)"
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


def timestamp_expr(col: str, sql_type: str, fmt: str | None) -> str:
    """A timestamp as naive UTC; offsets ('Z', '+02:00') are converted, naive taken as is."""
    ref = _ident(col)
    base = sql_type.upper()
    if base.startswith("TIMESTAMP WITH TIME ZONE"):
        return f"timezone('UTC', {ref})"
    if base.startswith(("TIMESTAMP", "DATE")):
        return f"CAST({ref} AS TIMESTAMP)"
    text = f"trim(CAST({ref} AS VARCHAR))"
    iso = (
        f"CASE WHEN regexp_matches({text}, '{_OFFSET_RE}') "
        f"THEN timezone('UTC', TRY_CAST({text} AS TIMESTAMPTZ)) "
        f"ELSE TRY_CAST({text} AS TIMESTAMP) END"
    )
    if fmt is None:
        return iso
    return f"coalesce({iso}, try_strptime({text}, '{fmt}'))"
