"""Exports split over several files: join them to the main source before mapping.

Olist publishes order items (the lines, with their price), orders (customer, status,
time) and customers (the customer behind each per-order customer id) as three files.
``valueseg ingest olist_order_items_dataset.csv --join olist_orders_dataset.csv --join
olist_customers_dataset.csv`` reads the items and adds, to each, the columns of the row
of each joined file that shares its values in the columns they have in common (here
``order_id``, then ``customer_id``). Every row of the main source stays one row, on its
own line; a row with no partner gets blanks, which the row rules then quarantine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import duckdb

from valueseg.errors import InputError
from valueseg.io.sources import OpenedSource, _ident, open_source

#: Temp tables this module creates.
TEMP_TABLES = ("_vs_main", "_vs_side")


def join_sources(
    con: duckdb.DuckDBPyConnection, opened: OpenedSource, others: Sequence[Any]
) -> OpenedSource:
    """Join each of ``others`` to ``opened`` (whose rows are in ``_vs_src``), in turn.

    Refuses a file that shares no column with what is joined so far, or that has more
    than one row for some value of the shared columns (the join would repeat lines).
    """
    con.execute("CREATE OR REPLACE TEMP TABLE _vs_main AS SELECT * FROM _vs_src")
    columns, types, notes = list(opened.columns), list(opened.types), list(opened.notes)
    for other in others:
        side = open_source(con, other)  # replaces _vs_raw and _vs_src with the side file
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _vs_side AS SELECT * EXCLUDE (_line) FROM _vs_src"
        )
        shared = [c for c in side.columns if c in columns]
        if not shared:
            raise InputError(
                f"Cannot join {side.name} to {opened.name}: they share no column. "
                f"{opened.name} has: {', '.join(columns)}; {side.name} has: "
                f"{', '.join(side.columns)}. Expected a common key column such as order_id."
            )
        _check_unique(con, side.name, shared)
        added = [c for c in side.columns if c not in shared]
        picked = "".join(f", s.{_ident(c)}" for c in added)
        on = " AND ".join(f"m.{_ident(c)} = s.{_ident(c)}" for c in shared)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE _vs_main AS SELECT m.*{picked} "
            f"FROM _vs_main AS m LEFT JOIN _vs_side AS s ON {on}"
        )
        if side.malformed:
            notes.append(f"{len(side.malformed):,} malformed lines of {side.name} were not joined")
        kinds = dict(zip(side.columns, side.types, strict=True))
        columns += added
        types += [kinds[c] for c in added]
        notes.append(f"joined {side.name} on {', '.join(shared)}")
    con.execute("CREATE OR REPLACE TEMP VIEW _vs_src AS SELECT * FROM _vs_main")
    return replace(opened, columns=tuple(columns), types=tuple(types), notes=tuple(notes))


def _check_unique(con: duckdb.DuckDBPyConnection, name: str, shared: list[str]) -> None:
    keys = ", ".join(_ident(c) for c in shared)
    row = con.execute(
        f"SELECT {keys}, count(*) FROM _vs_side GROUP BY ALL HAVING count(*) > 1 "
        "ORDER BY count(*) DESC LIMIT 1"
    ).fetchone()
    if row is not None:
        value = ", ".join(str(v) for v in row[:-1])
        raise InputError(
            f"Cannot join {name}: it has {row[-1]} rows for {', '.join(shared)} = {value}. "
            f"Expected one row per {', '.join(shared)}, so that each line stays one line; "
            "join a file of orders or customers, not of lines."
        )
