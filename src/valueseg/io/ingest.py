"""Load a source into the store: parse, check, quarantine, de-duplicate, write atomically."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from valueseg.errors import InputError
from valueseg.io import carry as carry_mod
from valueseg.io import joins, purchases
from valueseg.io.carry import Carry, carried_counts, plan_carry
from valueseg.io.columns import ColumnMap, resolve_columns
from valueseg.io.currency import check_pick, load_currency
from valueseg.io.customers import plan_customers, write_customers
from valueseg.io.dedupe import (
    TEMP_TABLES,
    accepted_rows,
    check_rows,
    mark_duplicates,
)
from valueseg.io.ids import merged_ids
from valueseg.io.joins import join_sources
from valueseg.io.parse import count_offsets
from valueseg.io.pii import tag_personal_columns
from valueseg.io.progress import Progress, run_with_progress
from valueseg.io.report import IngestReport, add_transactions_summary
from valueseg.io.rules import ParsePlan, care_checks, plan_parse
from valueseg.io.sources import OpenedSource, _ident, drop_temp_objects, open_source
from valueseg.io.status import load_statuses
from valueseg.store import DEFAULT_DB, Store
from valueseg.store.lines import earlier_load_row
from valueseg.store.schema import column_names


def ingest(
    source: Any,
    kind: str = "transactions",
    db: str | Path | Store = DEFAULT_DB,
    mapping: Mapping[str, str] | None = None,
    *,
    now: datetime | None = None,
    progress: Progress | None = None,
    statuses: str | Path | Mapping[str, str] | None = None,
    currency: str | None = None,
    join: Sequence[Any] = (),
) -> IngestReport:
    """Load one source of ``kind`` into the store and report what happened.

    Parameters
    ----------
    source : path, DataFrame or database URL
        A CSV/TSV (delimiter and encoding sniffed), Parquet or JSON lines file; a pandas
        or polars DataFrame; or ``duckdb:///file.duckdb?table=T``,
        ``sqlite:///file.db?table=T``, ``postgresql://user@host/db?table=T``.
    kind : {"transactions", "events", "customers"}
    db : path or Store, default "valueseg.duckdb"
    mapping : dict, optional
        Canonical column -> source column, for names valueseg does not recognise
        (``{"amount": "Revenue"}``; the CLI's ``--map amount=Revenue``).
    now : datetime, optional
        The moment of loading (UTC); rows more than a day after it are rejected.
    progress : callable(stage, percent), optional
        Called while the load runs; the CLI draws a progress bar with it.
    statuses : path or dict, optional
        What order statuses mean, over the packaged ``valueseg/io/statuses.toml``: a TOML
        file laid out like it (``--statuses``), or status -> meaning (``{"awaiting
        shipment": "purchase"}``; ``--status``). Meanings: purchase, not_purchase (kept
        aside in ``kept_aside``), refunded, partially_refunded.
    currency : str, optional
        The currency of the amounts (``"EUR"``). Needed when a currency column holds
        several: the rows in others are quarantined ('other currency').
    join : sequence of sources, optional
        Further files joined to ``source`` on the columns they share (each must have one
        row per value of those), e.g. Olist's orders and customers files to its order
        items: ``join=["olist_orders_dataset.csv", "olist_customers_dataset.csv"]``.

    Returns
    -------
    IngestReport
        ``rows_read == accepted + rejected``; every rejected row is in ``rejected_rows``.
        Accepted lines of orders that are not purchases (``kept_aside`` of them) are in
        table ``kept_aside``, the others in ``transactions``, with one return row per
        refunded order.

    Notes
    -----
    ``line`` (in ``transactions``, ``events``, ``customers`` and ``rejected_rows``) is the
    line of a CSV or JSON lines file the row came from, 1 being a CSV's header, malformed
    lines counted; for other sources, the row number from 1. It is exact for one record
    per line: blank lines (skipped) and quoted values spanning lines shift the lines after
    them. Rows are written in parallel, so a table's physical order is not the file's:
    order by ``line``.

    Examples
    --------
    >>> import pandas as pd
    >>> orders = pd.DataFrame({
    ...     "CustomerID": ["a", "a", None], "InvoiceDate": ["2024-01-02"] * 3,
    ...     "Revenue": ["10.5", "oops", "3"]})
    >>> report = ingest(orders, db=":memory:", mapping={"amount": "Revenue"})
    >>> report.accepted, report.rejected_by_reason
    (1, {'missing customer_id': 1, 'non-numeric amount': 1})
    """
    started = time.perf_counter()
    options = _Options(
        _statuses(statuses), check_pick(currency), tuple(join), mapping, now, progress
    )
    own = not isinstance(db, Store)
    store = Store(db) if not isinstance(db, Store) else db
    try:
        report = _ingest(store, source, kind, options)
    finally:
        drop_temp_objects(store.con)
        temp = (*TEMP_TABLES, *carry_mod.TEMP_TABLES, *purchases.TEMP_TABLES, *joins.TEMP_TABLES)
        store.con.execute("".join(f"DROP TABLE IF EXISTS {t};" for t in temp))
        if own:
            store.close()
    report.seconds = time.perf_counter() - started
    return report


@dataclass(frozen=True)
class _Options:
    statuses: dict[str, str] | None  # None: the packaged table, read when needed
    currency: str | None
    join: tuple[Any, ...]
    mapping: Mapping[str, str] | None
    now: datetime | None
    progress: Progress | None


def _statuses(statuses: str | Path | Mapping[str, str] | None) -> dict[str, str] | None:
    if statuses is None:
        return None
    if isinstance(statuses, Mapping):
        return load_statuses(overrides=statuses)
    return load_statuses(statuses)


def _ingest(store: Store, source: Any, kind: str, options: _Options) -> IngestReport:
    con = store.con
    progress = options.progress

    def read() -> OpenedSource:
        opened = open_source(con, source)
        return join_sources(con, opened, options.join) if options.join else opened

    opened = run_with_progress(con, progress, "reading", read)
    cmap = resolve_columns(kind, opened.columns, opened.name, options.mapping)
    fingerprint, careful = _fingerprint(con, opened, kind, care_checks(opened, cmap))
    earlier = earlier_load_row(store, kind, fingerprint)
    rows_read = _count(con, "_vs_src") + len(opened.malformed)
    if earlier is not None:
        return IngestReport(
            opened.name,
            kind,
            rows_read,
            0,
            0,
            already_loaded=int(earlier[0]),
            mapping=dict(cmap.fields),
        )
    now_sql = _now_sql(options.now)
    planned = _plan(con, store, opened, cmap, options, now_sql, careful)
    plan = planned.plan
    run_with_progress(con, progress, "checking", lambda: check_rows(con, plan, kind))
    run_with_progress(
        con, progress, "de-duplicating", lambda: mark_duplicates(con, store, kind, plan)
    )
    load_id = _next_load_id(con)
    load = _Load(load_id, fingerprint, now_sql, planned.currency)
    with store.transaction():
        written = run_with_progress(
            con, progress, "writing", lambda: _write(con, store, opened, cmap, plan, load)
        )
        personal = tag_personal_columns(store) if kind == "customers" else []
    report = _report(con, opened, cmap, kind, load_id, rows_read)
    report.notes.extend([*opened.notes, *plan.notes, *planned.notes])
    if personal:
        report.notes.append(
            "personal data tagged (shown to admins only in the web app): "
            + ", ".join(t.describe() for t in personal)
        )
    if kind != "customers":
        report.currency = planned.currency
        _normalised(con, report, plan, cmap, planned.carry, careful)
    if kind == "transactions":
        add_transactions_summary(con, report, written)
    return report


@dataclass(frozen=True)
class _Planned:
    plan: ParsePlan
    carry: Carry | None  # order-level fields taken from an order's first line
    currency: str | None  # the load's
    notes: list[str]


def _plan(
    con: duckdb.DuckDBPyConnection,
    store: Store,
    opened: OpenedSource,
    cmap: ColumnMap,
    options: _Options,
    now_sql: str,
    careful: set[str],
) -> _Planned:
    """How the rows are parsed: carried fields, the currency kept, what statuses mean."""
    if cmap.kind == "customers":
        return _Planned(plan_customers(con, opened, cmap, store), None, None, [])
    types = dict(zip(opened.columns, opened.types, strict=True))
    carry = plan_carry(con, cmap, types)
    currency, notes = load_currency(con, opened, cmap, carry, options.currency)
    statuses = options.statuses
    if statuses is None and (cmap.source("status") or cmap.source("cancelled_at")):
        statuses = load_statuses()
    plan = plan_parse(
        con,
        opened,
        cmap,
        now_sql,
        careful,
        carry=carry,
        statuses=statuses,
        currency=options.currency,
    )
    return _Planned(plan, carry, currency, notes)


def _normalised(
    con: duckdb.DuckDBPyConnection,
    report: IngestReport,
    plan: ParsePlan,
    cmap: ColumnMap,
    carry: Carry | None,
    careful: set[str],
) -> None:
    """What the load wrote differently from the export: ids merged, offsets converted,
    fields carried from an order's first line."""
    src = cmap.source("customer_id")
    if plan.id_modes and src is not None:
        report.ids_merged = merged_ids(
            con, "_vs_src", f"nullif(trim({_ident(src)}), '')", plan.id_modes
        )
        report.id_modes = plan.id_modes
    ts = cmap.source("timestamp")
    if ts is not None and ts in careful:
        report.offsets = count_offsets(con, "_vs_src", ts)
    if carry is not None:
        report.carried = carried_counts(con, carry)


def _now_sql(now: datetime | None) -> str:
    if now is None:
        return "CAST(now() AT TIME ZONE 'UTC' AS TIMESTAMP)"
    return f"TIMESTAMP '{now.replace(tzinfo=None).isoformat(sep=' ')}'"


def _count(con: duckdb.DuckDBPyConnection, table: str, where: str = "") -> int:
    row = con.execute(f"SELECT count(*) FROM {table} {where}").fetchone()
    return int(row[0]) if row else 0


def _fingerprint(
    con: duckdb.DuckDBPyConnection, opened: OpenedSource, kind: str, checks: dict[str, str]
) -> tuple[str, set[str]]:
    """Content hash of the rows (order-free), the column names and the kind; and, from the
    same pass, the columns some value of which fails its check (see ``care_checks``)."""
    tests = "".join(f", count(*) FILTER (WHERE {cond}) > 0" for cond in checks.values())
    row = con.execute(
        f"SELECT count(*), sum(hash(s) % 1000000007), bit_xor(hash(s)){tests} "
        "FROM (SELECT * EXCLUDE (_line) FROM _vs_src) AS s"
    ).fetchone()
    assert row is not None
    digest = hashlib.sha256()
    digest.update("\x1f".join(opened.columns).encode())
    for _, _, raw in opened.malformed:
        digest.update(raw.encode())
    careful = {src for src, hit in zip(checks, row[3:], strict=True) if hit}
    return f"{kind}:{row[0]}:{row[1]}:{row[2]}:{digest.hexdigest()[:32]}", careful


def _next_load_id(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT coalesce(max(load_id), 0) + 1 FROM loads").fetchone()
    return int(row[0]) if row else 1


@dataclass(frozen=True)
class _Load:
    load_id: int
    fingerprint: str
    now_sql: str
    currency: str | None


def _write(
    con: duckdb.DuckDBPyConnection,
    store: Store,
    opened: OpenedSource,
    cmap: ColumnMap,
    plan: ParsePlan,
    load: _Load,
) -> purchases.Written | None:
    kind, load_id = cmap.kind, load.load_id
    written = None
    if kind == "customers":
        write_customers(con, store, load_id, accepted_rows(plan))
    elif kind == "transactions":
        written = purchases.write_transactions(con, plan, load_id, _is_return(plan))
    else:
        names = ", ".join(f'"{c}"' for c in column_names(kind) if c in plan.columns)
        con.execute(
            f"INSERT INTO {kind} ({names}, load_id, line) "
            f"SELECT {names}, {load_id}, _line FROM ({accepted_rows(plan)}) AS a"
        )
    con.execute(
        "INSERT INTO rejected_rows SELECT ?, ?, ?, c._line, c._reason, "
        "CAST(json_merge_patch(to_json(s), '{\"_line\": null}') AS VARCHAR) "
        "FROM (SELECT _line, _reason FROM _vs_check WHERE _reason IS NOT NULL) AS c "
        "JOIN _vs_some AS s ON s._line = c._line ORDER BY c._line",
        [load_id, opened.name, kind],
    )
    if opened.malformed:
        con.executemany(
            "INSERT INTO rejected_rows VALUES (?, ?, ?, ?, ?, ?)",
            [[load_id, opened.name, kind, ln, why, raw] for ln, why, raw in opened.malformed],
        )
    accepted = _count(con, "_vs_check", "WHERE _reason IS NULL")
    rejected = _count(con, "_vs_check", "WHERE _reason IS NOT NULL") + len(opened.malformed)
    con.execute(
        "INSERT INTO loads (load_id, source, kind, fingerprint, rows_read, accepted, "
        f"rejected, mapping, loaded_at, currency) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
        f"{load.now_sql}, ?)",
        [
            load_id,
            opened.name,
            kind,
            load.fingerprint,
            accepted + rejected,
            accepted,
            rejected,
            json.dumps(cmap.fields),
            load.currency,
        ],
    )
    return written


def _is_return(plan: ParsePlan) -> str:
    """A negative amount or quantity, or an order id like 'C536379' (UCI cancellations).

    A CASE, so that the regular expression runs only on ids starting with C or c.
    """
    negative = "amount < 0"
    if "quantity" in plan.columns:
        negative += " OR coalesce(quantity < 0, false)"
    return (
        f"CASE WHEN {negative} THEN true "
        "WHEN order_id LIKE 'C%' OR order_id LIKE 'c%' "
        "THEN regexp_full_match(order_id, '[Cc][0-9]+') ELSE false END"
    )


def _report(
    con: duckdb.DuckDBPyConnection,
    opened: OpenedSource,
    cmap: ColumnMap,
    kind: str,
    load_id: int,
    rows_read: int,
) -> IngestReport:
    reasons = con.execute(
        "SELECT reason, count(*) FROM rejected_rows WHERE load_id = ? "
        "GROUP BY reason ORDER BY count(*) DESC, reason",
        [load_id],
    ).fetchall()
    by_reason = {_reason_group(str(r)): 0 for r, _ in reasons}
    for r, n in reasons:
        by_reason[_reason_group(str(r))] += int(n)
    rejected = sum(by_reason.values())
    report = IngestReport(
        opened.name,
        kind,
        rows_read,
        rows_read - rejected,
        rejected,
        by_reason,
        load_id=load_id,
        mapping=dict(cmap.fields),
    )
    if report.accepted + report.rejected != rows_read:  # the invariant: never lose a row
        raise InputError(
            f"Internal check failed for {opened.name}: {report.accepted} accepted + "
            f"{report.rejected} rejected != {rows_read} rows read. Please report this."
        )
    if kind == "transactions":
        row = con.execute(
            'SELECT min("timestamp"), max("timestamp"), count(DISTINCT customer_id), '
            "count(DISTINCT order_id) FILTER (WHERE NOT is_return), "
            "coalesce(sum(amount) FILTER (WHERE NOT is_return), 0), "
            "count(*) FILTER (WHERE is_return), coalesce(sum(amount), 0), "
            f"count(*) FILTER (WHERE line_item = '{purchases.REFUND}'), "
            f"-coalesce(sum(amount) FILTER (WHERE line_item = '{purchases.REFUND}'), 0) "
            "FROM transactions WHERE load_id = ?",
            [load_id],
        ).fetchone()
        if row is not None:
            report.first_timestamp, report.last_timestamp = row[0], row[1]
            report.customers, report.orders = int(row[2]), int(row[3])
            report.revenue, report.returns = float(row[4]), int(row[5])
            report.net_revenue, report.refunds = float(row[6]), int(row[7])
            report.refunded = float(row[8])
    elif kind == "events":
        row = con.execute(
            'SELECT min("timestamp"), max("timestamp"), count(DISTINCT customer_id) '
            "FROM events WHERE load_id = ?",
            [load_id],
        ).fetchone()
        if row is not None:
            report.first_timestamp, report.last_timestamp = row[0], row[1]
            report.customers = int(row[2])
    else:
        report.customers = report.accepted
    return report


def _reason_group(reason: str) -> str:
    """'duplicate order line (first on 12)' counts under 'duplicate order line'."""
    return reason.split(" (first on", 1)[0]
