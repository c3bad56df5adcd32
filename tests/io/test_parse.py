"""The fast paths of the value parsers read every value as the full parse does.

Each parser reads most values with a cheap expression and sends only the rest through
the full (slow) parse; a column that passed its check in one pass over the data skips
the per-value test as well. The reference expressions below are the full parses, as
valueseg wrote them before it had fast paths.
"""

from __future__ import annotations

import itertools
from datetime import datetime

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from valueseg.io import ingest
from valueseg.io.parse import (
    TIMESTAMP_FORMATS,
    ValueSQL,
    maybe_offset,
    needs_care,
    number_expr,
    text_expr,
    timestamp_expr,
    zone_text,
)

_OFFSET_RE = r"(Z|[+-]\d\d(:?\d\d)?)$"


def _reference_timestamp(fmt: str | None) -> str:
    text = zone_text('trim(CAST("x" AS VARCHAR))')  # zones written as the cast reads them
    iso = (
        f"CASE WHEN regexp_matches({text}, '{_OFFSET_RE}') "
        f"THEN timezone('UTC', TRY_CAST({text} AS TIMESTAMPTZ)) "
        f"ELSE TRY_CAST({text} AS TIMESTAMP) END"
    )
    return iso if fmt is None else f"coalesce({iso}, try_strptime({text}, '{fmt}'))"


def _reference_number() -> str:
    s = "regexp_replace(trim(CAST(\"x\" AS VARCHAR)), '[\\s$€£¥]', '', 'g')"
    euro = f"replace(replace({s}, '.', ''), ',', '.')"
    return (
        f'coalesce(TRY_CAST("x" AS DOUBLE), CASE '
        f"WHEN regexp_full_match({s}, '-?[0-9]{{1,3}}(\\.[0-9]{{3}})+,[0-9]+') "
        f"THEN TRY_CAST({euro} AS DOUBLE) "
        f"WHEN regexp_full_match({s}, '-?[0-9]+,[0-9]{{1,2}}') "
        f"THEN TRY_CAST(replace({s}, ',', '.') AS DOUBLE) "
        f"ELSE TRY_CAST(replace({s}, ',', '') AS DOUBLE) END)"
    )


_TRIMMED = "nullif(trim(CAST(\"x\" AS VARCHAR), ' \t\r\n'), '')"
# an integral number written as a float ('17850.0') is the integer's text
_REFERENCE_TEXT = (
    f"CASE WHEN regexp_full_match({_TRIMMED}, '[0-9]+\\.0+') "
    f"THEN split_part({_TRIMMED}, '.', 1) ELSE {_TRIMMED} END"
)


def _composed(value: ValueSQL) -> str:
    """The value as rules.py assembles it: fast, then slow only where fast gave NULL."""
    sql = f'SELECT "x", {value.fast} AS v FROM t'
    if value.prep is None or value.slow is None:
        return f"SELECT x, v FROM ({sql})"
    sql = f"SELECT *, CASE WHEN v IS NULL THEN {value.prep} END AS p FROM ({sql})"
    return f"SELECT x, coalesce(v, {value.slow.replace('{p}', 'p')}) AS v FROM ({sql})"


def _mismatches(values: list[str], new: ValueSQL, reference: str, where: str = "true") -> list:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")  # as valueseg's store does
    con.execute("CREATE TABLE t AS SELECT unnest(?::VARCHAR[]) AS x", [values])
    rows = con.execute(
        f"SELECT n.x, n.v, r.v FROM ({_composed(new)}) AS n "
        f"JOIN (SELECT x, {reference} AS v FROM t) AS r ON n.x = r.x "
        f"WHERE n.v IS DISTINCT FROM r.v AND n.x IN (SELECT x FROM t WHERE {where})"
    ).fetchall()
    con.close()
    return rows


_DATES = ["2024-01-02", "2024/01/02", "2024.01.02", "20240102", "2024-1-2", "02/01/2024"]
_DATES += ["1/2/2024", "13/01/2024", "02-01-2024", "24-01-02", "-2024-01-02", "2 Jan 2024"]
_TIMES = ["", " 10:00", "T10:00", " 10:00:00", "T10:00:00.123456", " 8:26", "T10"]
_OFFSETS = ["", "Z", "z", "+02", "-02", "+0200", "-0530", "+02:00", "-05:00", " +02:00"]
_OFFSETS += [" UTC", " -05", "-5", " Europe/Berlin", "+02:00:00"]
_PADS = [("", ""), (" ", ""), ("", " "), ("\t", ""), ("", "\t")]
TIMESTAMPS = sorted(
    {a + d + t + o + b for d, t, o, (a, b) in itertools.product(_DATES, _TIMES, _OFFSETS, _PADS)}
)
FORMATS = [None, "%m/%d/%Y %H:%M", "%d/%m/%Y", "%Y%m%d", "%d-%m-%Y", "%Y/%m/%d %H:%M:%S"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_timestamps_read_as_the_full_parse_reads_them(fmt):
    reference = _reference_timestamp(fmt)
    assert _mismatches(TIMESTAMPS, timestamp_expr("x", "VARCHAR", fmt), reference) == []
    # A column none of whose values needs care skips the test; those values still agree.
    plain = timestamp_expr("x", "VARCHAR", fmt, careful=False)
    assert _mismatches(TIMESTAMPS, plain, reference, f"NOT {maybe_offset('x')}") == []


_stamp_text = st.text(alphabet="0123456789-+:/. TZzJan,", max_size=26)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(_stamp_text, min_size=1, max_size=300, unique=True))
def test_random_timestamp_text_reads_as_the_full_parse_reads_it(values):
    for fmt in (None, "%d-%m-%Y"):
        reference = _reference_timestamp(fmt)
        assert _mismatches(values, timestamp_expr("x", "VARCHAR", fmt), reference) == []


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(
        st.one_of(
            st.text(alphabet="0123456789-+.,$€ \tEe", max_size=14),
            st.sampled_from(["1,234.50", "1.234,50", "12,5", "$ 7.25", "nan", "-inf", "1e3"]),
        ),
        min_size=1,
        max_size=200,
        unique=True,
    )
)
def test_numbers_read_as_the_full_parse_reads_them(values):
    assert _mismatches(values, number_expr("x", "VARCHAR"), _reference_number()) == []


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    values=st.lists(
        st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=6),
        min_size=1,
        max_size=200,
        unique=True,
    )
)
def test_text_is_trimmed_as_before(values):
    assert _mismatches(values, ValueSQL(text_expr("x", "VARCHAR")), _REFERENCE_TEXT) == []
    plain = ValueSQL(text_expr("x", "VARCHAR", careful=False))
    assert _mismatches(values, plain, _REFERENCE_TEXT, f"NOT {needs_care('x')}") == []


_IDS = ["17850.0", "17850.00", " 17850.0\t", "17850", "0.0", "1.05", "1.0e3", "-3.0", ".0"]
_IDS += ["7.0x", "12.000", "A1.0", "1.50", "１２.0", "", " "]


def test_ids_written_as_floats_read_as_integers():
    assert _mismatches(_IDS, ValueSQL(text_expr("x", "VARCHAR")), _REFERENCE_TEXT) == []
    con = duckdb.connect()
    got = con.execute(
        f"SELECT {text_expr('x', 'VARCHAR')} FROM (SELECT unnest(?::VARCHAR[]) AS x)", [_IDS]
    ).fetchall()
    assert [v for (v,) in got] == [
        *("17850", "17850", "17850", "17850", "0", "1.05", "1.0e3", "-3.0", ".0", "7.0x"),
        *("12", "A1.0", "1.50", "１２.0", None, None),
    ]


def test_no_date_format_reads_text_that_starts_like_an_iso_date():
    # detect_timestamp_format does not try the formats on such values.
    assert not any(fmt.startswith("%Y-") for fmt in TIMESTAMP_FORMATS)
    values = [f"2024-{rest}" for rest in ("01-02", "1/2/2024", "01.02.2024", "0102", "02 Jan")]
    con = duckdb.connect()
    for fmt in TIMESTAMP_FORMATS:
        got = con.execute(
            f"SELECT count(try_strptime(v, '{fmt}')) FROM unnest(?::VARCHAR[]) AS u(v)", [values]
        ).fetchone()
        assert got == (0,), fmt


# The README's table of time formats: (example, UTC time it means). Each is read with no flag.
TIME_FORMATS = [
    ("2024-07-23T12:06:00+02:00", datetime(2024, 7, 23, 10, 6)),
    ("2024-07-23 12:06:00 +0200", datetime(2024, 7, 23, 10, 6)),
    ("2024-07-23 12:06:00+0200", datetime(2024, 7, 23, 10, 6)),
    ("2024-07-23 12:06 +02:00", datetime(2024, 7, 23, 10, 6)),
    ("2024-07-23T10:06:00Z", datetime(2024, 7, 23, 10, 6)),
    ("2024-07-23T10:06:00.250Z", datetime(2024, 7, 23, 10, 6, 0, 250000)),
    ("2024-07-23 10:06:00 UTC", datetime(2024, 7, 23, 10, 6)),
    ("2024-07-23 10:06:00", datetime(2024, 7, 23, 10, 6)),
    ("7/23/2024 10:06", datetime(2024, 7, 23, 10, 6)),
    ("23/07/2024 10:06", datetime(2024, 7, 23, 10, 6)),
    ("23.07.2024 10:06", datetime(2024, 7, 23, 10, 6)),
    ("Tue, 23 Jul 2024 12:06:00 +0200", datetime(2024, 7, 23, 10, 6)),
    ("1721729160", datetime(2024, 7, 23, 10, 6)),
    ("1721729160000", datetime(2024, 7, 23, 10, 6)),
    ("45496.42083", datetime(2024, 7, 23, 10, 6)),
]


@pytest.mark.parametrize(("text", "expected"), TIME_FORMATS)
def test_every_listed_time_format_is_read_as_utc(store, write, text, expected):
    path = write("o.csv", f'customer_id,timestamp,amount\na,"{text}",1\n')
    report = ingest(path, db=store, now=datetime(2025, 1, 1))
    assert report.accepted == 1, report.rejected_by_reason
    got = store.con.execute('SELECT "timestamp" FROM transactions').fetchone()
    assert got == (expected,)


@pytest.mark.parametrize(
    ("values", "note"),
    [
        ([1721729160, 1721815560], "read as Unix epoch seconds"),
        ([1721729160000, 1721815560000], "read as Unix epoch milliseconds"),
        ([45496.42083, 45497.42083], "read as Excel serial dates"),
    ],
)
def test_numeric_time_columns_are_read_by_their_range(store, values, note):
    frame = pd.DataFrame({"customer_id": ["a", "b"], "ts": values, "amount": [1.0, 2.0]})
    report = ingest(frame, db=store, now=datetime(2025, 1, 1))
    assert f"timestamps in column 'ts' {note}" in report.notes
    got = store.con.execute('SELECT "timestamp" FROM transactions ORDER BY line').fetchall()
    assert got == [(datetime(2024, 7, 23, 10, 6),), (datetime(2024, 7, 24, 10, 6),)]


def test_numbers_out_of_the_detected_range_are_unparseable(store, write):
    path = write("o.csv", "customer_id,timestamp,amount\na,1721729160,1\nb,1721815560,1\nc,45,1\n")
    report = ingest(path, db=store, now=datetime(2025, 1, 1))
    assert report.rejected_by_reason == {"unparseable timestamp": 1}
