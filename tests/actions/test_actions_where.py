"""The --where grammar: what it accepts, what it refuses and where, and SQL = pandas."""

from __future__ import annotations

import re

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from valueseg.actions.columns import AUDIENCE_COLUMNS
from valueseg.actions.where import MAX_DEPTH, MAX_LENGTH, parse_where
from valueseg.errors import InputError

COLS = {"tier": "text", "p": "number", "n": "number", "day": "date"}
EXAMPLE = "value_tier = 'Top 5%' and churn_probability > 0.5"


@pytest.mark.parametrize(
    ("text", "sql", "params"),
    [
        ("p > 0.5", '"p" > ?', [0.5]),
        ("P >= -1 AND n != 3", '("p" >= ? AND "n" <> ?)', [-1, 3]),
        ("tier in ['a', 'b']", '"tier" IN (?, ?)', ["a", "b"]),
        ("tier not in ('a')", '"tier" NOT IN (?)', ["a"]),
        ("not (p < 1e-3 or n = 2)", '(NOT ("p" < ? OR "n" = ?))', [0.001, 2]),
        ("tier = 'Can''t Lose Them'", '"tier" = ?', ["Can't Lose Them"]),
        ("n == 1 or n <> 2 and p <= .5", '("n" = ? OR ("n" <> ? AND "p" <= ?))', [1, 2, 0.5]),
    ],
)
def test_valid_filters_compile_to_placeholders(text, sql, params):
    where = parse_where(text, COLS)
    assert (where.sql, where.params) == (sql, params)


def test_a_date_column_compares_with_an_iso_date():
    where = parse_where("day >= '2025-03-01'", COLS)
    assert str(where.params[0]) == "2025-03-01"
    frame = pd.DataFrame({"day": pd.to_datetime(["2025-02-28", "2025-03-01", None])})
    assert where.mask(frame).tolist() == [False, True, False]


def _msg(text: str) -> str:
    with pytest.raises(InputError) as info:
        parse_where(text, COLS)
    return str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("foo = 1", "--where: unknown column 'foo' at position 1. Columns: day, n, p, tier."),
        (
            "p > 1 and tierr = 'a'",
            "--where: unknown column 'tierr' at position 11. Did you mean 'tier'? "
            "Columns: day, n, p, tier.",
        ),
        ("p > 'x'", "--where: expected a number at position 5, got \"'x'\"."),
        ("tier = 5", "--where: expected text in single quotes at position 8, got '5' (write '5')."),
        ("day = '2025-13-01'", "--where: expected a date such as '2025-03-01' at position 7, got"),
        ("p >", "--where: expected a value (a number or text in single quotes) at position 4, "
         "got the end of the filter."),
        ("p 1", "--where: expected a comparison (=, !=, <, <=, >, >=) or 'in' at position 3, "
         "got '1'."),
        ("(p > 1", "--where: expected ')' at position 7, got the end of the filter."),
        ("p > 1 p", "--where: expected 'and', 'or' or the end of the filter at position 7, "
         "got 'p'."),
        ("and = 1", "--where: expected a column name at position 1, got 'and'."),
        ("tier in 'a'", "--where: expected a list after 'in', e.g. ['Top 1%', 'Top 5%'] at "
         "position 9, got \"'a'\"."),
        ("tier in ['a' 'b']", "--where: expected ',' or ']' at position 14, got \"'b'\"."),
        ("   ", f"--where: the filter is empty. Expected e.g. {EXAMPLE}"),
    ],
)  # fmt: skip
def test_a_bad_filter_names_the_position_and_what_was_expected(text, message):
    assert _msg(text).startswith(message)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("tier = 'a'; DROP TABLE runs", "--where: unexpected character ';' at position 11."),
        ("p > 1 -- and everything", "--where: unexpected character '-' at position 7. "
         "Comments are not read."),
        ("p > 1 /* x */", "--where: unexpected character '/' at position 7."),
        ('tier = "a"', "--where: unexpected character '\"' at position 8. Text takes single "
         "quotes"),
        ("tier = 'a' or 'x'='x", "--where: unterminated string starting at position 19; close it"),
        ("tier = 'a'' or 1=1 --", "--where: unterminated string starting at position 8"),
        ("tier = 'a' or 1=1", "--where: expected a column name at position 15, got '1'."),
        ("p > 1\x00", "--where: unexpected character '\\x00' at position 6."),
        ("tier = 'a'\n;", "--where: unexpected character ';' at position 12."),
        ("p > 1 union select 1", "--where: expected 'and', 'or' or the end of the filter at "
         "position 7, got 'union'."),
        ("p > 1 and tier = 'x' ||", "--where: unexpected character '|' at position 22."),
    ],
)  # fmt: skip
def test_hostile_input_is_refused_with_its_position(text, message):
    assert _msg(text).startswith(message)


def test_quotes_and_sql_inside_a_string_stay_a_value():
    text = "tier = 'x'' OR 1=1; DROP TABLE t; --'"
    where = parse_where(text, COLS)
    assert where.params == ["x' OR 1=1; DROP TABLE t; --"]
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT 'x' AS tier, 1.0 AS p, 1 AS n, DATE '2025-01-01' AS day")
    rows = con.execute(f"SELECT count(*) FROM t WHERE {where.sql}", where.params).fetchone()
    assert rows == (0,)
    assert con.execute("SELECT count(*) FROM t").fetchone() == (1,)  # still there


def test_too_long_a_filter_is_refused():
    text = " or ".join(["p > 1"] * 400)
    assert len(text) > MAX_LENGTH
    assert _msg(text).startswith(
        f"--where: the filter is {len(text):,} characters long; at most 2,000 are read."
    )
    ok = " or ".join(["p > 1"] * 200)  # within the cap: a long flat chain is fine
    assert len(parse_where(ok, COLS).params) == 200


@pytest.mark.parametrize("opener", ["(", "not "])
def test_deep_nesting_is_refused_before_python_recursion_is(opener):
    deep = opener * 300 + "p > 1" + (")" * 300 if opener == "(" else "")
    assert _msg(deep).startswith(f"--where: nested more than {MAX_DEPTH} deep at position")
    fine = opener * (MAX_DEPTH - 1) + "p > 1" + (")" * (MAX_DEPTH - 1) if opener == "(" else "")
    assert parse_where(fine, COLS).params == [1]


def test_keywords_and_columns_are_case_insensitive_and_used_columns_listed():
    where = parse_where("TIER = 'a' Or NOT P > 1 and tier = 'b'", COLS)
    assert where.columns == ("tier", "p")


def test_the_audience_allow_list_refuses_other_tables_columns():
    assert "action" in AUDIENCE_COLUMNS
    with pytest.raises(InputError, match=re.escape("unknown column 'run_id' at position 1.")):
        parse_where("run_id = 1", AUDIENCE_COLUMNS)


def test_missing_values_meet_neither_a_comparison_nor_its_negation():
    frame = pd.DataFrame({"p": [0.9, None, 0.1], "tier": ["a", None, "b"]})
    assert parse_where("p > 0.5", COLS).mask(frame).tolist() == [True, False, False]
    assert parse_where("not p > 0.5", COLS).mask(frame).tolist() == [False, False, True]
    assert parse_where("tier not in ['a']", COLS).mask(frame).tolist() == [False, False, True]
    # unknown or true is true; unknown and false is false
    assert parse_where("p > 0.5 or tier = 'x'", COLS).mask(frame).tolist() == [
        True, False, False
    ]  # fmt: skip
    assert parse_where("not (p > 0.5 and n = 1)", COLS).mask(frame).tolist() == [
        False,
        False,
        True,
    ]  # fmt: skip  (column n is absent: unknown)


# -- SQL and pandas agree, on random filters over random frames with missing values --------

_leaf = st.one_of(
    st.builds(
        lambda op, v: f"p {op} {v}",
        st.sampled_from(["=", "!=", "<", "<=", ">", ">="]),
        st.sampled_from(["0", "0.5", "1", "-1"]),
    ),
    st.builds(
        lambda neg, vals: f"tier {'not ' if neg else ''}in [{', '.join(vals)}]",
        st.booleans(),
        st.lists(st.sampled_from(["'a'", "'b'", "'c'", "'Can''t'"]), min_size=1, max_size=3),
    ),
    st.builds(lambda op: f"n {op} 2", st.sampled_from(["=", "<", ">="])),
)
_filters = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"({a} and {b})", inner, inner),
        st.builds(lambda a, b: f"{a} or {b}", inner, inner),
        st.builds(lambda a: f"not ({a})", inner),
    ),
    max_leaves=6,
)


@settings(max_examples=60, deadline=None)
@given(text=_filters, seed=st.integers(0, 2**16))
def test_sql_and_pandas_select_the_same_rows(text, seed):
    rng = np.random.default_rng(seed)
    n = 30
    frame = pd.DataFrame(
        {
            "p": np.where(rng.uniform(size=n) < 0.2, np.nan, rng.choice([-1, 0, 0.5, 1, 2], n)),
            "tier": pd.Series(rng.choice(["a", "b", "c", "Can't"], n)).where(
                rng.uniform(size=n) > 0.2
            ),
            "n": pd.Series(rng.integers(0, 4, n), dtype="Int64").where(rng.uniform(size=n) > 0.2),
            "day": pd.Timestamp("2025-01-01"),
        }
    )
    where = parse_where(text, COLS)
    con = duckdb.connect()
    con.register("f", frame.assign(i=np.arange(n)))
    rows = con.execute(f"SELECT i FROM f WHERE {where.sql} ORDER BY i", where.params).fetchall()
    assert [r[0] for r in rows] == np.flatnonzero(where.mask(frame)).tolist()


# -- row by row (real-time scoring's few rows) and the frame agree -------------------------

_day_leaf = st.builds(
    lambda op, d: f"day {op} '{d}'",
    st.sampled_from(["=", "<", ">="]),
    st.sampled_from(["2025-01-01", "2025-02-01"]),
)
_row_filters = st.recursive(
    st.one_of(_leaf, _day_leaf),
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"({a} and {b})", inner, inner),
        st.builds(lambda a, b: f"{a} or {b}", inner, inner),
        st.builds(lambda a: f"not ({a})", inner),
    ),
    max_leaves=6,
)
_row = st.fixed_dictionaries(
    {},
    optional={
        "p": st.one_of(st.none(), st.just(float("nan")), st.sampled_from([-1, 0, 0.5, 1, 2])),
        "tier": st.one_of(st.none(), st.sampled_from(["a", "b", "c", "Can't"])),
        "n": st.one_of(st.none(), st.integers(0, 3), st.booleans(), st.just(np.int64(2))),
        "day": st.one_of(
            st.none(),
            st.sampled_from(
                [__import__("datetime").date(2025, 1, 1), __import__("datetime").date(2025, 3, 1)]
            ),
        ),
    },
)


@settings(max_examples=150, deadline=None)
@given(text=_row_filters, rows=st.lists(_row, min_size=1, max_size=6))
def test_row_by_row_and_the_frame_select_the_same_rows(text, rows):
    where = parse_where(text, COLS)
    columns = {c for row in rows for c in row}
    got = where.mask_rows(rows, columns)
    assert got is not None
    assert got.tolist() == where.mask(pd.DataFrame(rows, columns=sorted(columns))).tolist()


def test_row_by_row_leaves_values_of_another_kind_to_the_frame():
    where = parse_where("p > 0.5 or tier = 'a'", COLS)
    assert where.mask_rows([{"p": "0.7", "tier": "b"}], {"p", "tier"}) is None  # text number
    assert where.mask_rows([{"p": 0.7, "tier": 3}], {"p", "tier"}) is None  # a number as text
    assert where.mask_rows([{"p": None, "tier": "a"}], {"p", "tier"}).tolist() == [True]
