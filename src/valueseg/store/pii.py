"""Reads and writes of personal-data tags (table ``pii_columns``) and of the customer
attributes they guard.

Column names come from the store's own catalogue (the ``customers`` table's columns) and
are quoted; every value is a bound parameter.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from valueseg.store.store import Store

__all__ = [
    "attribute_types",
    "customer_attributes",
    "examined_columns",
    "personal_columns",
    "text_sample",
    "write_tags",
]

_BOOKKEEPING = ("customer_id", "load_id", "line")


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def attribute_types(store: Store) -> dict[str, str]:
    """Attribute column -> SQL type of ``customers`` (less the id and load bookkeeping).

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     attribute_types(store)
    {}
    """
    rows = store.con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = 'customers' ORDER BY ordinal_position"
    ).fetchall()
    return {str(n): str(t) for n, t in rows if n not in _BOOKKEEPING}


def text_sample(store: Store, column: str, limit: int = 1000) -> list[str]:
    """Up to ``limit`` non-empty values of ``customers.<column>`` as text (``column`` must
    be one of :func:`attribute_types`)."""
    if column not in attribute_types(store):
        raise KeyError(column)
    ref = f"nullif(trim(CAST({_ident(column)} AS VARCHAR)), '')"
    rows = store.con.execute(
        f"SELECT {ref} FROM customers WHERE {ref} IS NOT NULL LIMIT ?", [limit]
    ).fetchall()
    return [str(r[0]) for r in rows]


def write_tags(
    store: Store, tags: Iterable[tuple[str, str | None, str | None, float | None]]
) -> None:
    """Record ``(column, kind, how, share)`` of ``customers`` columns (replacing older rows)."""
    rows = [["customers", c, kind, how, share] for c, kind, how, share in tags]
    if rows:
        store.con.executemany(
            "INSERT OR REPLACE INTO pii_columns (table_name, column_name, kind, how, share, "
            "tagged_at) VALUES (?, ?, ?, ?, ?, now()::TIMESTAMP)",
            rows,
        )


def examined_columns(store: Store) -> dict[str, str | None]:
    """Column -> kind (None: not personal) of every ``customers`` column examined."""
    rows = store.con.execute(
        "SELECT column_name, kind FROM pii_columns WHERE table_name = 'customers'"
    ).fetchall()
    return {str(c): (None if k is None else str(k)) for c, k in rows}


def personal_columns(store: Store) -> dict[str, str]:
    """Column -> kind of the ``customers`` columns tagged as personal data.

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     write_tags(store, [("email", "email", "name", 1.0), ("region", None, None, None)])
    ...     personal_columns(store)
    {'email': 'email'}
    """
    return {c: k for c, k in examined_columns(store).items() if k is not None}


def customer_attributes(store: Store, customer_id: str) -> dict[str, Any] | None:
    """The customer's row of ``customers`` (attributes only), or None when it has none."""
    cursor = store.con.execute("SELECT * FROM customers WHERE customer_id = ?", [customer_id])
    row = cursor.fetchone()
    if row is None:
        return None
    names = [d[0] for d in cursor.description or []]
    return {n: v for n, v in zip(names, row, strict=True) if n not in _BOOKKEEPING}
