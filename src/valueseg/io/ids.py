"""Customer ids that are e-mail addresses or phone numbers, compared as a person would.

``Anna@Example.org`` and ``anna@example.org`` are one customer, and so are
``+49 170 123-4567`` and ``+491701234567``. Whether a column holds such ids is decided
from a sample of its values, so a column of plain ids (``17850``) costs nothing.
"""

from __future__ import annotations

import duckdb

from valueseg.io.sources import _ident

_SAMPLE_ROWS = 20_000
#: A phone number: digits with blanks, dashes, dots or brackets, 7 digits at least.
_PHONE = r"\+?[0-9 ().-]*[0-9]"
_SEPARATORS = r"[ ().-]"
#: What :func:`id_modes` may find: e-mail addresses, phone numbers.
EMAIL, PHONE = "e-mail", "phone"


def id_modes(con: duckdb.DuckDBPyConnection, table: str, col: str) -> tuple[str, ...]:
    """Which normalisations a text id column needs, from a sample of its values.

    ``"e-mail"`` when at least half the sampled ids contain '@'; ``"phone"`` when at least
    half are phone numbers and some are written with separators (blanks, dashes, dots,
    brackets). ``table`` has a ``_line`` column.
    """
    ref = _ident(col)
    count = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    stride = max(1, int(count[0] if count else 0) // _SAMPLE_ROWS)
    digits = "length(regexp_replace(v, '[^0-9]', '', 'g'))"
    phone = f"regexp_full_match(v, '{_PHONE}') AND {digits} >= 7"
    row = con.execute(
        f"SELECT count(v), count(*) FILTER (WHERE contains(v, '@')), "
        f"count(*) FILTER (WHERE {phone}), "
        f"count(*) FILTER (WHERE {phone} AND regexp_matches(v, '{_SEPARATORS}')) "
        f"FROM (SELECT nullif(trim({ref}), '') AS v FROM {table} "
        f"WHERE _line % {stride} = 0 LIMIT {2 * _SAMPLE_ROWS}) AS s"
    ).fetchone()
    if row is None or not row[0]:
        return ()
    total, emails, phones, written = (int(x) for x in row)
    modes = []
    if 2 * emails >= total:
        modes.append(EMAIL)
    if 2 * phones >= total and written > 0:
        modes.append(PHONE)
    return tuple(modes)


def normalised_id(text: str, modes: tuple[str, ...]) -> str:
    """SQL: the id ``text`` (trimmed already) as compared: e-mail addresses in lower case,
    phone numbers without separators; other ids as they are.

    Examples
    --------
    >>> import duckdb
    >>> ids = ["Anna@Example.org", "+49 170 123-4567", "(030) 1234 567", "17850", "AB-12"]
    >>> sql = normalised_id("v", ("e-mail", "phone"))
    >>> [v for (v,) in duckdb.sql(f"SELECT {sql} FROM unnest(?) AS u(v)", params=[ids]).fetchall()]
    ['anna@example.org', '+491701234567', '0301234567', '17850', 'AB-12']
    """
    out = text
    if PHONE in modes:
        digits = f"length(regexp_replace({out}, '[^0-9]', '', 'g'))"
        out = (
            f"CASE WHEN regexp_full_match({out}, '{_PHONE}') AND {digits} >= 7 "
            f"THEN regexp_replace({out}, '{_SEPARATORS}', '', 'g') ELSE {out} END"
        )
    if EMAIL in modes:
        out = f"CASE WHEN contains({text}, '@') THEN lower({text}) ELSE {out} END"
    return out


def merged_ids(
    con: duckdb.DuckDBPyConnection, table: str, text: str, modes: tuple[str, ...]
) -> int:
    """How many distinct ids of ``text`` (SQL over ``table``) the normalisation merged."""
    row = con.execute(
        f"SELECT count(DISTINCT v) - count(DISTINCT {normalised_id('v', modes)}) "
        f"FROM (SELECT {text} AS v FROM {table}) AS s"
    ).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def describe(modes: tuple[str, ...], merged: int) -> str:
    """The load report's line about ids.

    Examples
    --------
    >>> describe(("e-mail",), 24)
    '24 e-mail ids differed only in case and were merged'
    """
    words: dict[tuple[str, ...], tuple[str, str]] = {
        (EMAIL,): ("e-mail ids", "in case"),
        (PHONE,): ("phone ids", "in blanks or dashes"),
    }
    what, how = words.get(modes, ("ids", "in case, blanks or dashes"))
    if merged == 1:
        return f"1 {what[:-1]} differed only {how} and was merged"
    return f"{merged:,} {what} differed only {how} and were merged"
