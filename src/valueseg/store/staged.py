"""Posted orders staged: committed in one cheap statement, moved into their tables later.

A posted order is three rows: its line in ``transactions``, its load in ``loads`` and the
segment changes it made in ``segment_changes``. Appending them to those tables costs a
transaction of four statements whose indexes (by customer, by load id, by fingerprint)
are kept on each: 5.4 ms for a batch of four orders at 1M customers, the largest part of
what a batch of posted orders waits for. The web app instead commits a batch's rows into
``posted_orders`` (no index, one row each: its target table and its values as JSON) by
one autocommitted INSERT, and moves them into their tables in bulk a little later
(:func:`move_staged`): in a thread of its own every half second (beside the batches,
which stage more meanwhile), before any other write, when it stops, and when the store is
next opened for writing (a server killed outright
leaves its staged rows; :class:`~valueseg.store.Store` moves them as it opens). A
committed staged row is as durable as a row of its table: the order is stored when its
answer is sent.

What the server shows at once of an order still staged, it keeps in memory
(:mod:`valueseg.web.staging`); everything else that reads these tables reads them after a
move, or up to half a second behind the server.

Values round-trip exactly: a DOUBLE is written by :func:`json.dumps` as the shortest text
that reads back as the same float, a TIMESTAMP as ISO text to the microsecond, and each
is cast to its column's type as it moves (tests/store/test_staged.py compares the moved
rows with rows inserted directly).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, Final

from valueseg.store.store import Store

__all__ = ["STAGED_TABLES", "move_staged", "stage_rows", "staged_count", "staged_top"]

#: The tables a posted order's rows are staged for, in the order they move.
STAGED_TABLES: Final = ("transactions", "loads", "segment_changes")


def _text(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"a staged value of type {type(value).__name__} has no JSON form")


def stage_rows(store: Store, rows: Sequence[tuple[int, str, Mapping[str, Any]]]) -> None:
    """Write ``rows`` ``(seq, table, column -> value)`` to ``posted_orders`` in one
    statement (committed by it unless the caller holds a transaction). ``seq`` orders the
    rows as they move; ``table`` is one of :data:`STAGED_TABLES`."""
    if not rows:
        return
    unknown = {table for _, table, _ in rows} - set(STAGED_TABLES)
    if unknown:
        raise ValueError(f"posted_orders stages rows of {STAGED_TABLES}, not of {unknown}")
    bodies = [json.dumps(dict(values), default=_text, allow_nan=False) for _, _, values in rows]
    store.con.execute(  # three lists, whatever the rows: one statement text, bound once
        "INSERT INTO posted_orders (seq, target, body) SELECT unnest($1::BIGINT[]), "
        "unnest($2::VARCHAR[]), unnest($3::VARCHAR[])",
        [[seq for seq, _, _ in rows], [table for _, table, _ in rows], bodies],
    )


def staged_count(store: Store) -> int:
    """How many rows wait in ``posted_orders``."""
    found = store.con.execute("SELECT count(*) FROM posted_orders").fetchone()
    return int(found[0]) if found else 0


def staged_top(store: Store) -> int:
    """The highest ``seq`` staged (0: none)."""
    found = store.con.execute("SELECT coalesce(max(seq), 0) FROM posted_orders").fetchone()
    return int(found[0]) if found else 0


#: Table -> its columns and types, read once: a store is brought to this valueseg's
#: schema when it is opened for writing, so every store that moves rows has the same
#: (reading them took 3.4 ms a table, a third of a move of 100 orders).
_COLUMNS: dict[str, list[tuple[str, str]]] = {}


def _columns(store: Store, table: str) -> list[tuple[str, str]]:
    if table not in _COLUMNS:
        _COLUMNS[table] = [
            (str(name), str(kind))
            for name, kind in store.con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
                [table],
            ).fetchall()
        ]
    return _COLUMNS[table]


def move_staged(
    store: Store, upto: int | None = None, before_commit: Callable[[], None] | None = None
) -> int:
    """Move the staged rows (those with ``seq <= upto``; None: all) into their tables,
    oldest first, and delete them from ``posted_orders``, in one transaction; return how
    many moved. A column a row does not name is NULL, as in a direct INSERT that leaves
    it out (these tables have no defaults). ``before_commit`` is called just before the
    transaction commits.

    Rows staged meanwhile by another connection (with a higher ``seq``) stay staged: the
    web app moves rows beside the batches of orders that stage more."""
    top = staged_top(store) if upto is None else upto
    if top <= 0:
        return 0
    with store.transaction() as con:
        for table in STAGED_TABLES:
            columns = _columns(store, table)
            names = ", ".join(f'"{name}"' for name, _ in columns)
            values = ", ".join(
                f"CAST(json_extract_string(body, '$.\"{name}\"') AS {kind})"
                for name, kind in columns
            )
            con.execute(
                f"INSERT INTO {table} ({names}) SELECT {values} FROM posted_orders "
                "WHERE target = ? AND seq <= ? ORDER BY seq",
                [table, top],
            )
        found = con.execute(
            "DELETE FROM posted_orders WHERE seq <= ? RETURNING seq", [top]
        ).fetchall()
        if before_commit is not None:
            before_commit()
    return len(found)
