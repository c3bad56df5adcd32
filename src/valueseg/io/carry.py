"""Order-level fields an export writes on an order's first line only.

Shopify's orders export writes one row per line item and fills the order's status,
currency, discount, refund and cancel time on its first row only; a later row of the
order leaves them blank. Ingest carries each such field from the order's first line
that has it to the order's blank lines: a blank time or customer on a line of a known
order too. The first non-blank value of each field per order is kept in temp table
``_vs_carry`` (one row per order), which the parse joins on the order id, so that any
part of the source parses the same as the whole.

Nothing is carried, at no cost, when the export has no order id or no order-level column;
an export whose only order-level columns are the discount and the channel is carried
when its first lines show an order with those fields blank on some lines only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import duckdb

from valueseg.io.columns import ColumnMap
from valueseg.io.parse import is_text, text_expr
from valueseg.io.sources import _ident

#: Order-level canonical columns: always carried when mapped.
ORDER_FIELDS = ("status", "cancelled_at", "refund", "currency")
#: Order-level columns carried when the file's first lines show the need.
MAYBE_ORDER_FIELDS = ("discount", "channel")
#: Line fields taken from the order's first line only when blank.
LINE_FIELDS = ("customer_id", "timestamp")
_SAMPLE_ROWS = 20_000
#: Temp tables this module creates.
TEMP_TABLES = ("_vs_carry",)


@dataclass(frozen=True)
class Carry:
    """What is carried: canonical column -> (source column, column of ``_vs_carry``)."""

    fields: dict[str, tuple[str, str]]
    order: str  # SQL of the order id over the raw source columns
    blanks: dict[str, str]  # source column -> SQL true where its raw value is blank

    @property
    def join(self) -> str:
        """The join a parse of the raw rows adds to read the carried values."""
        return f" LEFT JOIN _vs_carry ON _vs_carry._o = {self.order}"

    def raw(self, src: str) -> str:
        """SQL of source column ``src`` with a blank value taken from its order."""
        for source, column in self.fields.values():
            if source == src:
                return f"CASE WHEN {self.blanks[src]} THEN {column} ELSE {_ident(src)} END"
        return _ident(src)

    def carried(self) -> str:
        """SQL: a bit per carried field (in ``fields`` order), set where the line's own
        value was blank and its order's was not."""
        bits = [
            f"CASE WHEN {self.blanks[src]} AND {column} IS NOT NULL THEN {1 << i} ELSE 0 END"
            for i, (src, column) in enumerate(self.fields.values())
        ]
        return " + ".join(bits)


def _blank(src: str, sql_type: str) -> str:
    ref = _ident(src)
    return f"(nullif(trim({ref}), '') IS NULL)" if is_text(sql_type) else f"({ref} IS NULL)"


def plan_carry(
    con: duckdb.DuckDBPyConnection, cmap: ColumnMap, types: Mapping[str, str]
) -> Carry | None:
    """Decide what to carry and build ``_vs_carry``; None when nothing is carried."""
    order = cmap.source("order_id")
    if cmap.kind != "transactions" or order is None:
        return None
    names = [n for n in ORDER_FIELDS if cmap.source(n)]
    maybe = [n for n in MAYBE_ORDER_FIELDS if cmap.source(n)]
    order_sql = text_expr(order, types[order])
    if maybe and not names:
        maybe = [n for n in maybe if _first_line_only(con, order_sql, cmap.fields[n], types)]
    names += maybe
    if not names:
        return None
    names += [n for n in LINE_FIELDS if cmap.source(n)]
    sources = {n: cmap.fields[n] for n in names}
    fields = {n: (src, f"_vs_carry._c{i}") for i, (n, src) in enumerate(sources.items())}
    blanks = {src: _blank(src, types[src]) for src in sources.values()}
    firsts = ", ".join(
        f"arg_min({_ident(src)}, _line) FILTER (WHERE NOT {blanks[src]}) AS _c{i}"
        for i, src in enumerate(sources.values())
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _vs_carry AS SELECT {order_sql} AS _o, {firsts} "
        f"FROM _vs_src WHERE {order_sql} IS NOT NULL GROUP BY ALL"
    )
    return Carry(fields, order_sql, blanks)


def _first_line_only(
    con: duckdb.DuckDBPyConnection, order: str, src: str, types: Mapping[str, str]
) -> bool:
    """Whether, in the file's first lines, an order has ``src`` on some lines only."""
    blank = _blank(src, types[src])
    row = con.execute(
        f"SELECT count(*) FROM (SELECT {order} AS o, {blank} AS b FROM _vs_src "
        f"ORDER BY _line LIMIT {_SAMPLE_ROWS}) AS s WHERE o IS NOT NULL "
        "GROUP BY o HAVING bool_or(b) AND NOT bool_and(b) LIMIT 1"
    ).fetchall()
    return bool(row)


def carried_counts(con: duckdb.DuckDBPyConnection, carry: Carry) -> dict[str, int]:
    """Canonical column -> accepted lines that took it from their order's first line."""
    parts = ", ".join(
        f"count(*) FILTER (WHERE _carried & {1 << i} <> 0)" for i in range(len(carry.fields))
    )
    row = con.execute(
        f"SELECT {parts} FROM _vs_check WHERE _reason IS NULL AND _carried <> 0"
    ).fetchone()
    counts = [int(x) for x in row] if row else [0] * len(carry.fields)
    return {n: c for n, c in zip(carry.fields, counts, strict=True) if c}
