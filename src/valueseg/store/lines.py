"""One order line appended as ingest would store it: the reads and writes of the one-row
fast path (:mod:`valueseg.io.one_order`), each a bound-parameter statement.

Ingest's bookkeeping for a one-row DataFrame is kept exactly: the load's fingerprint is
computed from DuckDB's own ``hash`` of the row (as ingest's is), a line stored before is
found by ingest's de-duplication key, and the line and its ``loads`` row are written in
one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from valueseg.store.one_customer import of_customer
from valueseg.store.schema import INPUT_COLUMNS, column_type
from valueseg.store.store import Store

__all__ = [
    "append_order_line",
    "earlier_load",
    "earlier_load_row",
    "row_hash",
    "stored_line_exists",
]

#: What makes two order lines the same line (ingest's de-duplication key).
DEDUP_COLUMNS = tuple(c.name for c in INPUT_COLUMNS["transactions"] if c.key)


def row_hash(store: Store, row: Mapping[str, Any]) -> int:
    """DuckDB's ``hash`` of ``row`` as a struct of VARCHAR and DOUBLE fields (in order),
    as ingest hashes a source row of those types.

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     row_hash(store, {"a": "x", "b": 1.5}) == row_hash(store, {"a": "x", "b": 1.5})
    True
    """
    fields = ", ".join(
        f"CAST(? AS {'DOUBLE' if isinstance(v, float) else 'VARCHAR'}) AS {_ident(name)}"
        for name, v in row.items()
    )
    found = store.con.execute(
        f"SELECT hash(s) FROM (SELECT {fields}) AS s", list(row.values())
    ).fetchone()
    assert found is not None
    return int(found[0])


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def earlier_load_row(store: Store, kind: str, fingerprint: str) -> tuple[int, ...] | None:
    """``(load_id, rows_read, accepted, rejected)`` of the first load of ``kind`` with this
    fingerprint (ingest's "loaded before"), or None.

    The fingerprint alone filters the scan (so DuckDB reads it through the index on it,
    schema 7; ``loads`` gains a row per posted order, so a scan grows with them: 15 ms at
    1M loads), the kind on its few rows.
    """
    found = store.con.execute(
        "WITH c AS MATERIALIZED (SELECT load_id, kind, rows_read, accepted, rejected "
        "FROM loads WHERE fingerprint = ?) SELECT load_id, rows_read, accepted, rejected "
        "FROM c WHERE kind = ? ORDER BY load_id LIMIT 1",
        [fingerprint, kind],
    ).fetchone()
    return None if found is None else tuple(int(v) for v in found)


def earlier_load(store: Store, kind: str, fingerprint: str) -> int | None:
    """The first load of ``kind`` with this fingerprint (ingest's "loaded before")."""
    found = earlier_load_row(store, kind, fingerprint)
    return None if found is None else found[0]


def stored_line_exists(store: Store, line: Mapping[str, Any]) -> bool:
    """Whether ``transactions`` or ``kept_aside`` holds a line with the same
    de-duplication key (missing key columns are NULL, matched as ingest matches them)."""
    # the customer id alone in the scan's filter (never NULL in a stored line), the other
    # key columns on its rows: DuckDB then reads the customer's lines through the index by
    # customer instead of scanning every line (135 ms at 7.9M lines)
    others = [k for k in DEDUP_COLUMNS if k != "customer_id"]
    match = " AND ".join(f'"{k}" IS NOT DISTINCT FROM CAST(? AS {column_type(k)})' for k in others)
    args = [line.get(k) for k in others]
    for table in ("transactions", "kept_aside"):
        found = store.con.execute(
            of_customer(table, ", ".join(f'"{k}"' for k in others))
            + f"SELECT EXISTS (SELECT 1 FROM c WHERE {match})",
            [line["customer_id"], *args],
        ).fetchone()
        if found and found[0]:
            return True
    return False


def append_order_line(
    store: Store,
    line: Mapping[str, Any],
    *,
    source: str,
    fingerprint: str,
    mapping: Mapping[str, str],
    loaded_at: datetime | None = None,
) -> int:
    """Insert one accepted order line (``line``: stored column -> value, ``is_return``
    included) and its load's row (one row read, one accepted), in one transaction;
    return the load's id. ``loaded_at``: by default now, in UTC."""
    names = ", ".join(f'"{c}"' for c in line)
    marks = ", ".join("?" for _ in line)
    when = "CAST(now() AT TIME ZONE 'UTC' AS TIMESTAMP)" if loaded_at is None else "?"
    with store.transaction() as con:
        found = con.execute("SELECT coalesce(max(load_id), 0) + 1 FROM loads").fetchone()
        load_id = int(found[0]) if found else 1
        con.execute(
            f"INSERT INTO transactions ({names}, load_id, line) VALUES ({marks}, ?, 1)",
            [*line.values(), load_id],
        )
        con.execute(
            "INSERT INTO loads (load_id, source, kind, fingerprint, rows_read, accepted, "
            f"rejected, mapping, loaded_at, currency) VALUES (?, ?, 'transactions', ?, 1, 1, "
            f"0, ?, {when}, NULL)",
            [
                load_id,
                source,
                fingerprint,
                json.dumps(dict(mapping)),
                *([] if loaded_at is None else [loaded_at]),
            ],
        )
    return load_id
