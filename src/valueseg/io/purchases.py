"""Write order lines: purchases to ``transactions``, the other orders kept aside, refunds
as return rows.

A plain export (no status, cancel time or refund column) is written by one INSERT, as
before. Otherwise the usable lines are parsed once into temp table ``_vs_ok``: lines of
orders that are purchases go to ``transactions``; lines of orders that are not (cancelled,
voided, failed, pending payment) go to ``kept_aside`` with their reason; and each refunded
order gets one return row in ``transactions`` for its refunded amount (the refund column,
else, for a 'refunded' status, the order's total), with the order's customer, id and time
and ``line_item`` 'refund'.

Refunds are worked out from every usable line, those already loaded included, so that a
later export of the same orders adds a refund that was not there before, replaces one that
changed, and adds nothing when nothing changed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from valueseg.io.dedupe import accepted_rows, key_match
from valueseg.io.rules import ParsePlan
from valueseg.store.schema import column_names, stored_columns

#: Temp tables this module creates.
TEMP_TABLES = ("_vs_ok", "_vs_refunds")
#: ``line_item`` of the return row ingest adds for a refunded order.
REFUND = "refund"
_CENT = 0.005


@dataclass
class Written:
    """What writing did besides inserting the accepted lines."""

    refunds_replaced: int = 0
    refunds_capped: int = 0
    partial_without_amount: int = 0
    moved: dict[str, int] = field(default_factory=dict)  # table left -> lines
    unknown_statuses: dict[str, int] = field(default_factory=dict)  # status -> orders


def needs_orders(plan: ParsePlan) -> bool:
    """Whether the export has a status, a cancel time or a refund column."""
    return "_aside" in plan.extras or "refund" in plan.columns


def write_transactions(
    con: duckdb.DuckDBPyConnection, plan: ParsePlan, load_id: int, is_return: str
) -> Written:
    """Insert the accepted lines of a transactions source (see the module's docstring)."""
    names = ", ".join(f'"{c}"' for c in stored_columns("transactions") if c in plan.columns)
    if not needs_orders(plan):
        con.execute(
            f"INSERT INTO transactions ({names}, is_return, load_id, line) "
            f"SELECT {names}, {is_return}, {load_id}, _line FROM ({accepted_rows(plan)}) AS a"
        )
        _apply_moves(con, plan, parsed=False)
        return Written(moved=_moved(con))
    aside = "_aside" if "_aside" in plan.extras else "false"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _vs_ok AS SELECT p.*, c._reason IS NOT NULL AS _dup, "
        "coalesce(c._reason LIKE '%(first on%', false) AS _again, "
        f"{aside} AS _away FROM ({plan.sql()}) AS p JOIN (SELECT _line, _reason FROM "
        "_vs_check WHERE _reason IS NULL OR _reason LIKE 'duplicate order line%') AS c "
        "USING (_line)"
    )
    con.execute(
        f"INSERT INTO transactions ({names}, is_return, load_id, line) SELECT {names}, "
        f"{is_return}, {load_id}, _line FROM _vs_ok WHERE NOT _dup AND NOT _away"
    )
    every = ", ".join(f'"{c}"' for c in column_names("transactions") if c in plan.columns)
    con.execute(
        f"INSERT INTO kept_aside ({every}, reason, load_id, line) "
        f"SELECT {every}, _why, {load_id}, _line FROM _vs_ok WHERE NOT _dup AND _away"
    )
    _apply_moves(con, plan, parsed=True)
    written = Written(moved=_moved(con))
    _write_refunds(con, plan, load_id, written)
    if "_meaning" in plan.extras:
        rows = con.execute(
            "SELECT status, count(DISTINCT order_id) FROM _vs_ok "
            "WHERE _meaning IS NULL AND status IS NOT NULL AND NOT _away "
            "GROUP BY status ORDER BY 2 DESC, 1"
        ).fetchall()
        written.unknown_statuses = {str(s): int(n) for s, n in rows}
    return written


def _apply_moves(con: duckdb.DuckDBPyConnection, plan: ParsePlan, parsed: bool) -> None:
    """Delete the stored copies of lines that move to the other table (``_vs_moved``);
    ``parsed``: the lines are in ``_vs_ok``, else they are parsed again."""
    tables = [str(r[0]) for r in con.execute("SELECT DISTINCT _from FROM _vs_moved").fetchall()]
    for table in tables:
        lines = f"SELECT _line FROM _vs_moved WHERE _from = '{table}'"
        source = (
            f"(SELECT * FROM _vs_ok WHERE _line IN ({lines}))"
            if parsed
            else f"({plan.sql(f'(SELECT * FROM _vs_src WHERE _line IN ({lines})) AS src')})"
        )
        con.execute(
            f"DELETE FROM {table} AS t USING {source} AS p WHERE {key_match('transactions', plan)}"
        )


def _moved(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    rows = con.execute("SELECT _from, count(*) FROM _vs_moved GROUP BY 1 ORDER BY 1").fetchall()
    return {str(t): int(n) for t, n in rows}


def _write_refunds(
    con: duckdb.DuckDBPyConnection, plan: ParsePlan, load_id: int, written: Written
) -> None:
    has = set(plan.columns)
    meaning = "arg_min(_meaning, _line)" if "_meaning" in plan.extras else "NULL"
    refund = "arg_min(refund, _line) FILTER (WHERE refund IS NOT NULL)"
    if "refund" not in has:
        refund = "CAST(NULL AS DOUBLE)"
    carried = [c for c in ("channel",) if c in has]
    firsts = "".join(f', arg_min("{c}", _line) AS "{c}"' for c in carried)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _vs_refunds AS SELECT *, CASE "
        f"WHEN abs(given) >= {_CENT} THEN least(abs(given), total) "
        "WHEN meaning = 'refunded' THEN total END AS refunded FROM ("
        'SELECT order_id, arg_min(customer_id, _line) AS customer_id, min("timestamp") AS ts, '
        f"min(_line) AS line, sum(amount) FILTER (WHERE NOT _again) AS total, "
        f"{refund} AS given, {meaning} AS meaning"
        f"{firsts} FROM _vs_ok WHERE NOT _away GROUP BY order_id) AS o"
    )
    row = con.execute(
        f"SELECT count(*) FILTER (WHERE abs(given) > total + {_CENT}), "
        "count(*) FILTER (WHERE meaning = 'partially_refunded' AND given IS NULL) "
        "FROM _vs_refunds"
    ).fetchone()
    if row is not None:
        written.refunds_capped, written.partial_without_amount = int(row[0]), int(row[1])
    # A refund row stored before for the same order: the same amount is not added again;
    # another amount replaces it.
    stored = (
        "SELECT customer_id, order_id, -amount AS refund FROM transactions "
        f"WHERE line_item = '{REFUND}' AND load_id <> {load_id}"
    )
    con.execute(
        f"DELETE FROM _vs_refunds AS r USING ({stored}) AS t WHERE t.order_id = r.order_id "
        f"AND t.customer_id = r.customer_id AND abs(t.refund - r.refunded) < {_CENT}"
    )
    replaced = con.execute(
        f"DELETE FROM transactions AS t USING _vs_refunds AS r WHERE t.line_item = '{REFUND}' "
        f"AND t.order_id = r.order_id AND t.customer_id = r.customer_id "
        f"AND r.refunded >= {_CENT}"
    ).fetchone()
    written.refunds_replaced = int(replaced[0]) if replaced else 0
    cols = "".join(f', "{c}"' for c in carried)
    con.execute(
        f'INSERT INTO transactions (customer_id, order_id, "timestamp", amount, line_item{cols}, '
        f"is_return, load_id, line) SELECT customer_id, order_id, ts, -refunded, '{REFUND}'"
        f"{cols}, true, {load_id}, line FROM _vs_refunds WHERE refunded >= {_CENT}"
    )
    # An order that is not a purchase any more keeps no refund row.
    con.execute(
        f"DELETE FROM transactions AS t WHERE line_item = '{REFUND}' AND order_id IN "
        "(SELECT order_id FROM _vs_ok WHERE _away) AND NOT EXISTS (SELECT 1 FROM "
        "transactions AS u WHERE u.order_id = t.order_id AND u.customer_id = t.customer_id "
        f"AND u.line_item IS DISTINCT FROM '{REFUND}')"
    )
