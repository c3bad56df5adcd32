"""Several customers' rows at once: the reads and writes of a batch of posted orders.

The web app gathers the orders posted while it scores others and scores them together
(:mod:`valueseg.web.batcher`). Each reader here takes the batch's customer ids as bound
parameters in one ``IN`` list, so DuckDB reads each customer's rows through the table's
index by customer (schemas 5, 6 and 8) in one statement instead of one statement per
customer (about 0.5 ms of a statement's own cost each, at any size of store).

As in :mod:`valueseg.store.one_customer`, the ids are the scan's only filter (a
materialised CTE where other conditions follow), and a table's every run is read and
the run picked in Python where a customer has a row or a few per run.

No SQL here is built from request text: table and column names are this module's own,
every id and value a bound parameter.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from valueseg.store.store import Store

__all__ = [
    "actions_of",
    "aside_customers",
    "earlier_loads",
    "feature_rows_of",
    "insert_order_lines",
    "latest_changes_of",
    "line_rows_of",
    "lines_and_keys_of",
    "next_load_id",
    "row_hashes",
    "run_latest_changes",
    "score_rows_of",
    "stored_lines_of",
    "views_of",
    "write_changes",
]

#: Ids per statement (DuckDB binds any number; this bounds a statement's text).
CHUNK: Final = 256


def _marks(count: int) -> str:
    return ", ".join(["?"] * count)


def _chunks(ids: Sequence[str]) -> list[list[str]]:
    unique = list(dict.fromkeys(ids))
    return [unique[i : i + CHUNK] for i in range(0, len(unique), CHUNK)]


def _of(table: str, columns: str, count: int) -> str:
    """``WITH c AS MATERIALIZED (SELECT columns FROM table WHERE customer_id IN (...))``."""
    return (
        f"WITH c AS MATERIALIZED (SELECT {columns} FROM {table} "
        f"WHERE customer_id IN ({_marks(count)})) "
    )


def _run_rows(
    store: Store, table: str, run_id: int, ids: Sequence[str], columns: Sequence[str] | None
) -> dict[str, dict[str, Any]]:
    """Customer id -> its row of run ``run_id`` in ``table`` (``customer_id`` and
    ``columns``, or every column but ``run_id``): every run's rows through the index, the
    run picked here."""
    wanted = None if columns is None else dict.fromkeys(("run_id", "customer_id", *columns))
    names = "*" if wanted is None else ", ".join(f'"{c}"' for c in wanted)
    out: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(ids):
        cursor = store.con.execute(
            f"SELECT {names} FROM {table} WHERE customer_id IN ({_marks(len(chunk))})", chunk
        )
        header = [d[0] for d in cursor.description or []]
        for values in cursor.fetchall():
            row = dict(zip(header, values, strict=True))
            if row.pop("run_id") == run_id:
                out[str(row["customer_id"])] = row
    return out


def score_rows_of(
    store: Store, run_id: int, ids: Sequence[str], columns: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Customer id -> its ``customer_scores`` row of run ``run_id`` (``customer_id`` and
    ``columns``); a customer the run did not score is absent."""
    return _run_rows(store, "customer_scores", run_id, ids, columns)


def feature_rows_of(
    store: Store, run_id: int, ids: Sequence[str], columns: Sequence[str] | None = None
) -> dict[str, dict[str, Any]]:
    """Customer id -> its ``customer_features`` row of run ``run_id`` (``customer_id`` and
    ``columns``, or every column but ``run_id``)."""
    return _run_rows(store, "customer_features", run_id, ids, columns)


def actions_of(store: Store, run_id: int, ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """Customer id -> ``(action, rule)``: the next-best action of run ``run_id``."""
    out: dict[str, tuple[str, str]] = {}
    for chunk in _chunks(ids):
        rows = store.con.execute(
            "SELECT run_id, customer_id, action, rule FROM customer_actions "
            f"WHERE customer_id IN ({_marks(len(chunk))})",
            chunk,
        ).fetchall()
        out |= {str(c): (str(a), str(r)) for run, c, a, r in rows if run == run_id}
    return out


_CHANGE_PICKS: Final = "rowid AS seq, run_id, customer_id, lens, after_value"


def latest_changes_of(
    store: Store, run_id: int, ids: Sequence[str]
) -> dict[str, dict[str, str | None]]:
    """Customer id -> lens -> the newest ``after_value`` logged under run ``run_id`` (a
    change to no value, NULL, included: ``arg_max`` would pass over it)."""
    out: dict[str, dict[str, str | None]] = {}
    for chunk in _chunks(ids):
        _fold_changes(
            out,
            store.con.execute(
                _of("segment_changes", _CHANGE_PICKS, len(chunk))
                + "SELECT customer_id, lens, arg_max_null(after_value, seq) FROM c "
                "WHERE run_id = ? GROUP BY customer_id, lens",
                [*chunk, run_id],
            ).fetchall(),
        )
    return out


def run_latest_changes(store: Store, run_id: int) -> dict[str, dict[str, str | None]]:
    """:func:`latest_changes_of` for every customer with a change logged under run
    ``run_id``, in one statement (the server keeps them while it scores orders)."""
    out: dict[str, dict[str, str | None]] = {}
    _fold_changes(
        out,
        store.con.execute(
            "SELECT customer_id, lens, arg_max_null(after_value, rowid) FROM segment_changes "
            "WHERE run_id = ? GROUP BY customer_id, lens",
            [run_id],
        ).fetchall(),
    )
    return out


def _fold_changes(
    out: dict[str, dict[str, str | None]], rows: Sequence[tuple[Any, Any, Any]]
) -> None:
    for customer, lens, value in rows:
        out.setdefault(str(customer), {})[str(lens)] = None if value is None else str(value)


def line_rows_of(
    store: Store, ids: Sequence[str], columns: Sequence[str]
) -> dict[str, list[tuple[Any, ...]]]:
    """Customer id -> its order lines (every one; ``columns`` in order), oldest first."""
    names = ", ".join(f'"{c}"' for c in columns)
    out: dict[str, list[tuple[Any, ...]]] = {}
    for chunk in _chunks(ids):
        rows = store.con.execute(
            _of("transactions", f"customer_id, {names}", len(chunk))
            + f'SELECT customer_id, {names} FROM c ORDER BY customer_id, "timestamp", order_id',
            chunk,
        ).fetchall()
        for row in rows:
            out.setdefault(str(row[0]), []).append(row[1:])
    return out


def views_of(store: Store, until: Mapping[str, datetime]) -> dict[str, int]:
    """Customer id -> product views (events of type ``view``) up to its own moment."""
    out = dict.fromkeys(until, 0)
    for chunk in _chunks(list(until)):
        pairs = ", ".join(["(?, CAST(? AS TIMESTAMP))"] * len(chunk))
        rows = store.con.execute(
            _of("events", 'customer_id, event_type, "timestamp"', len(chunk))
            + f"SELECT c.customer_id, count(*) FROM c JOIN (VALUES {pairs}) AS u(customer_id, "
            "until) ON c.customer_id = u.customer_id WHERE c.event_type = 'view' AND "
            'c."timestamp" <= u.until GROUP BY c.customer_id',
            [*chunk, *(v for c in chunk for v in (c, until[c]))],
        ).fetchall()
        out |= {str(c): int(n) for c, n in rows}
    return out


def write_changes(
    store: Store, run_id: int, rows: Sequence[tuple[str, str, str | None, str | None, str]]
) -> None:
    """``segment_changes`` rows ``(customer_id, lens, before, after, cause)`` of run
    ``run_id``, in one statement per :data:`CHUNK` rows."""
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        values = ", ".join(["(now()::TIMESTAMP, ?, ?, ?, ?, ?, ?)"] * len(chunk))
        store.con.execute(
            "INSERT INTO segment_changes (changed_at, run_id, customer_id, lens, before_value, "
            f"after_value, cause) VALUES {values}",
            [v for row in chunk for v in (run_id, *row)],
        )


# -- loading -------------------------------------------------------------------------------
def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def row_hashes(store: Store, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """DuckDB's ``hash`` of each row as a struct of VARCHAR and DOUBLE fields (in order),
    as ingest hashes a one-row source of those types (its fingerprint's), in one statement
    per shape of row.

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     a, b, c = row_hashes(store, [{"a": "x", "b": 1.5}, {"a": "y"}, {"a": "x", "b": 1.5}])
    ...     a == c != b
    True
    """
    out: list[int | None] = [None] * len(rows)
    shapes: dict[tuple[tuple[str, bool], ...], list[int]] = {}
    for i, row in enumerate(rows):
        shape = tuple((name, isinstance(v, float)) for name, v in row.items())
        shapes.setdefault(shape, []).append(i)
    for shape, members in shapes.items():
        # a struct of the row's fields hashes as the row of a one-row source does
        one = ", ".join(["?", *(f"CAST(? AS {'DOUBLE' if f else 'VARCHAR'})" for _, f in shape)])
        names = ", ".join(_ident(name) for name, _ in shape)
        packed = ", ".join(f"{_ident(name)} := {_ident(name)}" for name, _ in shape)
        args = [v for j, i in enumerate(members) for v in (j, *rows[i].values())]
        for j, h in store.con.execute(
            f"SELECT i, hash(struct_pack({packed})) FROM (VALUES "
            + ", ".join([f"({one})"] * len(members))
            + f") AS v(i, {names})",
            args,
        ).fetchall():
            out[members[int(j)]] = int(h)
    return [int(h) for h in out if h is not None]


def earlier_loads(store: Store, kind: str, fingerprints: Sequence[str]) -> dict[str, int]:
    """Fingerprint -> the first load of ``kind`` with it (ingest's "loaded before").

    The fingerprints alone filter the scan, so DuckDB reads it through the index on them;
    the kind and the first load are picked here from the few rows found (a statement that
    grouped them itself took twice as long, 0.7 against 0.3 ms for one fingerprint)."""
    out: dict[str, int] = {}
    for chunk in _chunks(fingerprints):
        rows = store.con.execute(
            f"SELECT fingerprint, load_id, kind FROM loads WHERE fingerprint IN "
            f"({_marks(len(chunk))})",
            chunk,
        ).fetchall()
        for fingerprint, load_id, found in rows:
            if found == kind and int(load_id) < out.get(str(fingerprint), int(load_id) + 1):
                out[str(fingerprint)] = int(load_id)
    return out


def stored_lines_of(store: Store, ids: Sequence[str], keys: Sequence[str]) -> set[tuple[Any, ...]]:
    """The de-duplication keys (``keys``, the customer id first) of the customers' lines in
    ``transactions`` (through its index) and ``kept_aside`` (unindexed: the lines set aside
    are few), as DuckDB returns them, in one statement. Posted orders read them with their
    lines (:func:`lines_and_keys_of`); this plain reader is what its tests compare with."""
    names = ", ".join(_ident(k) for k in keys)
    out: set[tuple[Any, ...]] = set()
    for chunk in _chunks(ids):
        marks = _marks(len(chunk))
        rows = store.con.execute(
            f"SELECT {names} FROM transactions WHERE customer_id IN ({marks}) UNION ALL "
            f"SELECT {names} FROM kept_aside WHERE customer_id IN ({marks})",
            [*chunk, *chunk],
        ).fetchall()
        out |= set(rows)
    return out


def lines_and_keys_of(
    store: Store,
    ids: Sequence[str],
    keys: Sequence[str],
    columns: Sequence[str],
    *,
    aside: bool = True,
) -> tuple[set[tuple[Any, ...]], dict[str, list[tuple[Any, ...]]]]:
    """:func:`stored_lines_of` (the de-duplication ``keys``) and :func:`line_rows_of` (each
    customer's lines in ``transactions``, ``columns`` in order, oldest first) in one
    statement: a batch of posted orders checks the customers' lines and then rescores
    them from the same lines.

    ``aside=False``: the caller knows that ``kept_aside`` holds no line of these
    customers (:func:`aside_customers`), and its branch is left out of the statement
    (0.3 to 0.5 ms of a batch's read, even when the table is empty)."""
    picks = list(dict.fromkeys([*keys, *columns]))
    names = ", ".join(_ident(k) for k in picks)
    gaps = ", ".join(_ident(k) if k in keys else f"NULL AS {_ident(k)}" for k in picks)
    found: set[tuple[Any, ...]] = set()
    lines: dict[str, list[tuple[Any, ...]]] = {}
    key_at = [picks.index(k) for k in keys]
    line_at = [picks.index(c) for c in columns]
    sort_at = [list(columns).index(c) for c in ("timestamp", "order_id") if c in columns]
    for chunk in _chunks(ids):
        marks = _marks(len(chunk))
        sql = (
            f"SELECT false AS aside, customer_id, {names} FROM transactions WHERE customer_id "
            f"IN ({marks})"
        )
        if aside:
            sql += (
                f" UNION ALL SELECT true, customer_id, {gaps} FROM kept_aside WHERE "
                f"customer_id IN ({marks})"
            )
        rows = store.con.execute(sql, [*chunk, *chunk] if aside else chunk).fetchall()
        for set_aside, customer, *values in rows:
            found.add(tuple(values[i] for i in key_at))
            if not set_aside:
                lines.setdefault(str(customer), []).append(tuple(values[i] for i in line_at))
    for rows in lines.values():  # line_rows_of's order (timestamp and order id: NOT NULL)
        rows.sort(key=lambda row: tuple(row[i] for i in sort_at))
    return found, lines


def aside_customers(store: Store) -> frozenset[str]:
    """The customers with lines in ``kept_aside`` (the web app keeps them between its
    writes, so that a batch of posted orders reads that table only for them)."""
    rows = store.con.execute("SELECT DISTINCT customer_id FROM kept_aside").fetchall()
    return frozenset(str(r[0]) for r in rows)


def next_load_id(store: Store, after: int | None = None) -> int:
    """The id the next load gets: one above the newest. ``after``: any load id the caller
    has seen (see :func:`insert_order_lines`)."""
    if after is None:
        found = store.con.execute("SELECT coalesce(max(load_id), 0) + 1 FROM loads").fetchone()
    else:
        found = store.con.execute(
            "SELECT coalesce(max(load_id), ?) + 1 FROM loads WHERE load_id >= ?", [after, after]
        ).fetchone()
    return int(found[0]) if found else 1


def insert_order_lines(
    store: Store,
    lines: Sequence[Mapping[str, Any]],
    *,
    source: str,
    fingerprints: Sequence[str],
    mappings: Sequence[Mapping[str, str]],
    loaded_at: datetime | None = None,
    after: int | None = None,
) -> list[int]:
    """Insert accepted order lines (stored column -> value, ``is_return`` included), each
    with its own load's row (one row read, one accepted), inside the caller's transaction
    (the web app's batch of orders commits its lines, loads and segment changes together);
    return their loads' ids, in order. ``loaded_at``: by default now, in UTC.

    ``after``: any load id the caller has seen (the newest it wrote, say): the next id is
    the newest from there on, read through the loads' index, instead of over every load
    (a scan that grows by a load per posted order: 0.4 ms at 30,000 loads, 1.6 at 3M).
    Any value gives a free id: one above every load stays above them."""
    if not lines:
        return []
    when = "CAST(now() AT TIME ZONE 'UTC' AS TIMESTAMP)" if loaded_at is None else "?"
    con = store.con
    first = next_load_id(store, after)
    ids = list(range(first, first + len(lines)))
    shapes: dict[tuple[str, ...], list[int]] = {}
    for i, line in enumerate(lines):
        shapes.setdefault(tuple(line), []).append(i)
    for shape, members in shapes.items():
        names = ", ".join(_ident(c) for c in shape)
        marks = ", ".join(["(" + _marks(len(shape) + 1) + ", 1)"] * len(members))
        con.execute(
            f"INSERT INTO transactions ({names}, load_id, line) VALUES {marks}",
            [v for i in members for v in (*lines[i].values(), ids[i])],
        )
    marks = ", ".join([f"(?, ?, 'transactions', ?, 1, 1, 0, ?, {when}, NULL)"] * len(lines))
    args: list[Any] = []
    for i in range(len(lines)):
        args += [ids[i], source, fingerprints[i], json.dumps(dict(mappings[i]))]
        args += [] if loaded_at is None else [loaded_at]
    con.execute(
        "INSERT INTO loads (load_id, source, kind, fingerprint, rows_read, accepted, "
        f"rejected, mapping, loaded_at, currency) VALUES {marks}",
        args,
    )
    return ids
