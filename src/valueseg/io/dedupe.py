"""Check every row, then mark the rows that repeat a row of the source or of the store.

The rows are checked in one pass that keeps only three small columns per row in
``_vs_check``: the line, the reason (NULL for an accepted row) and a hash of the
de-duplication key. The parsed values themselves are not kept: parsing them again while
writing costs less than keeping them (time and memory). Rows whose key hashes repeat are
then parsed again and compared on the key itself, so a hash collision never merges rows.
The source rows of every rejected line are copied to ``_vs_some`` for ``rejected_rows``.

An order line goes to ``transactions`` or, when its order is not a purchase, to
``kept_aside``. A line stored before in the table it goes to now is a duplicate; a line
stored in the other one (an order pending then, paid now) moves: its lines are listed in
``_vs_moved`` and the writer deletes the stored copies.
"""

from __future__ import annotations

import duckdb

from valueseg.io.rules import ParsePlan
from valueseg.store import Store
from valueseg.store.schema import INPUT_COLUMNS, column_type

#: Columns that make an order line (or event) the same line: loaded once.
DEDUP_KEYS = {kind: tuple(c.name for c in cols if c.key) for kind, cols in INPUT_COLUMNS.items()}
DUP_REASON = {
    "transactions": "duplicate order line",
    "events": "duplicate event",
    "customers": "duplicate customer_id",
}
#: Temp tables this module creates.
TEMP_TABLES = ("_vs_check", "_vs_same", "_vs_some", "_vs_dups", "_vs_moved", "_vs_hit")
#: The tables order lines are stored in, and whether a line stored there was kept aside.
LINE_TABLES = {"transactions": False, "kept_aside": True}


def _keys(kind: str, plan: ParsePlan, table: str) -> list[str]:
    """The de-duplication key of ``kind`` as columns of ``table`` (NULL where absent)."""
    return [
        f'{table}."{k}"' if k in plan.columns else f"CAST(NULL AS {column_type(k)})"
        for k in DEDUP_KEYS[kind]
    ]


def check_rows(con: duckdb.DuckDBPyConnection, plan: ParsePlan, kind: str) -> None:
    """Parse and check every row into ``_vs_check`` (``_line``, ``_reason``, ``_h``)."""
    keys = ", ".join(_keys(kind, plan, "p"))
    extras = "".join(f", {e}" for e in plan.extras if e in ("_aside", "_carried"))
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _vs_check AS SELECT _line, _reason{extras}, "
        f"CASE WHEN _reason IS NULL THEN hash({keys}) END AS _h FROM ({plan.sql()}) AS p"
    )


def accepted_rows(plan: ParsePlan) -> str:
    """A SELECT of the accepted rows, parsed again (rejected lines are skipped by line)."""
    return (
        f"SELECT * FROM ({plan.sql()}) AS p ANTI JOIN "
        f"(SELECT _line FROM _vs_check WHERE _reason IS NOT NULL) AS r USING (_line)"
    )


def fetched(lines: str) -> str:
    """The rows of ``_vs_some`` on the lines of table ``lines``, as a source to parse."""
    return f"(SELECT * FROM _vs_some WHERE _line IN (SELECT _line FROM {lines})) AS src"


def mark_duplicates(
    con: duckdb.DuckDBPyConnection, store: Store, kind: str, plan: ParsePlan
) -> None:
    """Rows repeating an earlier row of this source, or a row already stored, get a reason.

    Afterwards ``_vs_some`` holds the source rows of every rejected line.
    """
    # Sorting the hashes finds repeats faster than grouping by them.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _vs_same AS SELECT _line FROM _vs_check "
        "WHERE _reason IS NULL AND _h IN (SELECT _h FROM (SELECT _h, lag(_h) OVER "
        "(ORDER BY _h) AS _prev FROM _vs_check WHERE _reason IS NULL) AS s WHERE _h = _prev)"
    )
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _vs_some AS SELECT * FROM _vs_src WHERE _line IN ("
        "SELECT _line FROM _vs_check WHERE _reason IS NOT NULL "
        "UNION ALL SELECT _line FROM _vs_same)"
    )
    names = [k for k in DEDUP_KEYS[kind] if k in plan.columns]
    keys = ", ".join(f'"{k}"' for k in names)
    same = " AND ".join(f'c."{k}" IS NOT DISTINCT FROM f."{k}"' for k in names)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _vs_dups AS "
        f"WITH c AS (SELECT _line, {keys} FROM ({plan.sql(fetched('_vs_same'))}) AS p) "
        f"SELECT c._line, f.first_line FROM c JOIN "
        f"(SELECT {keys}, min(_line) AS first_line FROM c GROUP BY ALL) AS f "
        f"ON {same} WHERE c._line <> f.first_line"
    )
    reason = DUP_REASON[kind]
    con.execute(
        f"UPDATE _vs_check SET _reason = '{reason} (first on ' || d.first_line || ')' "
        f"FROM _vs_dups AS d WHERE _vs_check._line = d._line"
    )
    con.execute("CREATE OR REPLACE TEMP TABLE _vs_moved (_line BIGINT, _from VARCHAR)")
    if kind == "events" and _count(con, kind) > 0:
        _mark_stored(con, kind, kind, plan, f"{reason} already loaded")
    if kind == "transactions":
        for table in LINE_TABLES:
            if _count(con, table) > 0:
                _mark_stored(con, kind, table, plan, f"{reason} already loaded")


def key_match(kind: str, plan: ParsePlan) -> str:
    """SQL: the parsed row ``p`` and the stored row ``t`` have the same key."""
    pairs = zip(_keys(kind, plan, "p"), DEDUP_KEYS[kind], strict=True)
    return " AND ".join(f'{p} IS NOT DISTINCT FROM t."{k}"' for p, k in pairs)


def _mark_stored(
    con: duckdb.DuckDBPyConnection, kind: str, table: str, plan: ParsePlan, reason: str
) -> None:
    """Accepted rows equal to a row already in ``table`` get ``reason``; an order line
    stored in the table it does not go to now is listed in ``_vs_moved`` instead."""
    stored = ", ".join(f't."{k}"' for k in DEDUP_KEYS[kind])
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _vs_same AS SELECT c._line FROM _vs_check AS c "
        f"SEMI JOIN (SELECT hash({stored}) AS h FROM {table} AS t) AS s ON c._h = s.h "
        f"WHERE c._reason IS NULL"
    )
    con.execute(
        "INSERT INTO _vs_some SELECT * FROM _vs_src WHERE _line IN "
        "(SELECT _line FROM _vs_same EXCEPT SELECT _line FROM _vs_some)"
    )
    matched = (
        f"SELECT p._line FROM ({plan.sql(fetched('_vs_same'))}) AS p "
        f"SEMI JOIN {table} AS t ON {key_match(kind, plan)}"
    )
    if kind != "transactions":
        con.execute(f"UPDATE _vs_check SET _reason = '{reason}' WHERE _line IN ({matched})")
        return
    aside = "_aside" if "_aside" in plan.extras else "false"
    here = f"{aside} = {str(LINE_TABLES[table]).lower()}"
    con.execute(f"CREATE OR REPLACE TEMP TABLE _vs_hit AS {matched}")
    con.execute(
        f"INSERT INTO _vs_moved SELECT _line, '{table}' FROM _vs_check "
        f"WHERE _line IN (SELECT _line FROM _vs_hit) AND NOT ({here})"
    )
    con.execute(
        f"UPDATE _vs_check SET _reason = '{reason}' "
        f"WHERE _line IN (SELECT _line FROM _vs_hit) AND {here}"
    )


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0
