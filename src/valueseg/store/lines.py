"""Ingest's "loaded before" (a load of the same fingerprint) and its de-duplication key
of an order line. Posted orders are checked and appended in batches with the same rules
(:mod:`valueseg.store.many_customers`, :mod:`valueseg.io.one_order`).
"""

from __future__ import annotations

from valueseg.store.schema import INPUT_COLUMNS
from valueseg.store.store import Store

__all__ = [
    "earlier_load",
    "earlier_load_row",
]

#: What makes two order lines the same line (ingest's de-duplication key).
DEDUP_COLUMNS = tuple(c.name for c in INPUT_COLUMNS["transactions"] if c.key)


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
