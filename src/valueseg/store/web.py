"""Every read and write of the web app: API keys, the audit log, real-time segment changes,
a segment's customers page by page, one customer's scores, orders and history, and the
overview and data-quality numbers of the pages.

No SQL here is built from request text: a sort column or a lens comes in as a name and is
looked up in a fixed table (:data:`SORTS`, :data:`LENS_COLUMNS`); every value is a bound
parameter.

One customer's rows are read through the tables' indexes by customer (schema 5 and 6) with
:func:`~valueseg.store.one_customer.of_customer`: DuckDB scans an ART index only when the
customer id is the scan's one filter.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import duckdb
import pandas as pd

from valueseg.store.one_customer import of_customer
from valueseg.store.store import Store

__all__ = [
    "CHANGE_COLUMNS",
    "LENS_COLUMNS",
    "LINE_COLUMNS",
    "SORTS",
    "LazyStore",
    "active_keys",
    "audit_rows",
    "chosen_value_model",
    "customer_action",
    "customer_feature_row",
    "customer_is_known",
    "customer_line_rows",
    "customer_orders",
    "customer_score_row",
    "customer_score_rows",
    "customer_views",
    "feature_types",
    "finished_runs",
    "insert_key",
    "key_by_hash",
    "list_keys",
    "loads_rows",
    "model_fit_rows",
    "overview_numbers",
    "rejected_by_reason",
    "request_store",
    "revoke_key",
    "run_customer_columns",
    "run_distribution",
    "run_row",
    "segment_changes",
    "segment_customers",
    "segment_history",
    "write_audit",
    "write_audit_rows",
]

#: Lens name -> the ``customer_scores`` column holding a customer's segment in it.
LENS_COLUMNS: Final = {"rfm": "rfm_segment", "value_tier": "value_tier", "cluster": "segment"}
#: The lenses real-time scoring logs in ``segment_changes``: the three, and the action.
CHANGE_COLUMNS: Final = {**LENS_COLUMNS, "action": "action"}
#: Sort name -> the ``customer_scores`` column a segment's customers may be sorted by.
SORTS: Final = {
    "predicted_clv_365d": "predicted_clv_365d",
    "churn_probability": "churn_probability",
    "p_alive": "p_alive",
}
#: The columns of a customer's scores row that the API shows.
SCORE_COLUMNS: Final = (
    "customer_id",
    "p_alive",
    "expected_purchases_90d",
    "expected_purchases_365d",
    "predicted_clv_365d",
    "churn_probability",
    "predicted_spend_90d",
    "expected_next_order_date",
    "rfm_r",
    "rfm_f",
    "rfm_m",
    "rfm_segment",
    "value_tier",
    "cluster",
    "segment",
)


def request_store(root: Store) -> Store:
    """A :class:`Store` on its own connection to ``root``'s database (DuckDB's ``cursor``).

    Each request reads through one of these: its own transaction context, the same
    database instance (so no second file lock), closed with :meth:`Store.close`.

    Examples
    --------
    >>> with Store(":memory:") as root:
    ...     view = request_store(root)
    ...     view.schema_version == root.schema_version
    ...     view.con.execute("SELECT current_setting('TimeZone')").fetchone()
    True
    ('UTC',)
    """
    view = Store.__new__(Store)
    view.path = root.path
    view.con = root.con.cursor()  # in UTC, as the root set for the whole database
    return view


class LazyStore(Store):
    """:func:`request_store`'s store, its connection opened at its first use (never, for a
    request that reads nothing: a posted order, whose key is known, is scored by the
    server's batcher on a connection of its own).

    Examples
    --------
    >>> with Store(":memory:") as root:
    ...     view = LazyStore(root)
    ...     view.opened, view.schema_version == root.schema_version, view.opened
    ...     view.close()
    (False, True, True)
    """

    def __init__(self, root: Store) -> None:  # no super().__init__: nothing is opened
        self.path, self._root = root.path, root
        self._con: duckdb.DuckDBPyConnection | None = None

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            self._con = self._root.con.cursor()
        return self._con

    @con.setter
    def con(self, value: duckdb.DuckDBPyConnection) -> None:
        self._con = value

    @property
    def opened(self) -> bool:
        """Whether the connection was opened."""
        return self._con is not None

    def close(self) -> None:
        if self._con is not None:
            self._con.close()


def _one(store: Store, sql: str, args: Iterable[Any] = ()) -> Any:
    row = store.con.execute(sql, list(args)).fetchone()
    return None if row is None else row[0]


def _record(store: Store, sql: str, args: Iterable[Any]) -> dict[str, Any] | None:
    cursor = store.con.execute(sql, list(args))
    row = cursor.fetchone()
    if row is None:
        return None
    names = [d[0] for d in cursor.description or []]
    return dict(zip(names, row, strict=True))


def _records(store: Store, sql: str, args: Iterable[Any]) -> list[dict[str, Any]]:
    """Every row of a small result as a dict (no DataFrame: a customer's few rows)."""
    cursor = store.con.execute(sql, list(args))
    rows = cursor.fetchall()
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, row, strict=True)) for row in rows]


# -- keys -----------------------------------------------------------------------------------
def insert_key(store: Store, key_hash: str, prefix: str, role: str, label: str | None) -> int:
    """Add an API key (its hash only) and return its id.

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     insert_key(store, "ab" * 32, "vs_ab12", "viewer", None)
    ...     key_by_hash(store, "ab" * 32), active_keys(store)
    1
    ((1, 'viewer'), 1)
    """
    key_id = int(_one(store, "SELECT coalesce(max(key_id), 0) + 1 FROM api_keys"))
    store.con.execute(
        "INSERT INTO api_keys (key_id, key_hash, prefix, role, label, created_at) "
        "VALUES (?, ?, ?, ?, ?, now()::TIMESTAMP)",
        [key_id, key_hash, prefix, role, label],
    )
    return key_id


def key_by_hash(store: Store, key_hash: str) -> tuple[int, str] | None:
    """``(key_id, role)`` of the key that is not revoked with this hash, or None."""
    row = store.con.execute(
        "SELECT key_id, role FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL",
        [key_hash],
    ).fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


def active_keys(store: Store) -> int:
    """How many keys are not revoked."""
    return int(_one(store, "SELECT count(*) FROM api_keys WHERE revoked_at IS NULL"))


def list_keys(store: Store) -> pd.DataFrame:
    """``key_id, prefix, role, label, created_at, revoked_at`` of every key (no hashes)."""
    return store.con.execute(
        "SELECT key_id, prefix, role, label, created_at, revoked_at FROM api_keys ORDER BY key_id"
    ).df()


def revoke_key(store: Store, key_id: int) -> bool:
    """Revoke key ``key_id``; False when there is no such key not yet revoked."""
    found = _one(
        store, "SELECT count(*) FROM api_keys WHERE key_id = ? AND revoked_at IS NULL", [key_id]
    )
    if not found:
        return False
    store.con.execute(
        "UPDATE api_keys SET revoked_at = now()::TIMESTAMP WHERE key_id = ?", [key_id]
    )
    return True


# -- audit log and segment changes ----------------------------------------------------------
def write_audit(
    store: Store,
    key_id: int | None,
    role: str,
    action: str,
    target: str | None,
    detail: Mapping[str, Any] | None = None,
) -> None:
    """One ``audit_log`` row: who (key and role) did what to which target, and when."""
    store.con.execute(
        "INSERT INTO audit_log (logged_at, key_id, role, action, target, detail) "
        "VALUES (now()::TIMESTAMP, ?, ?, ?, ?, ?)",
        [key_id, role, action, target, json.dumps(detail or {}, default=str)],
    )


#: Rows per multi-row INSERT (DuckDB's ``executemany`` runs one statement per row).
_ROWS_PER_INSERT: Final = 500


def write_audit_rows(
    store: Store,
    rows: Iterable[tuple[datetime, int | None, str, str, str | None, Mapping[str, Any] | None]],
) -> int:
    """``audit_log`` rows logged earlier (``logged_at, key_id, role, action, target,
    detail``), appended in one transaction; how many.

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     write_audit_rows(store, [(datetime(2025, 1, 2), 3, "analyst", "read_customer",
    ...                               "c1", None)])
    ...     audit_rows(store)[["key_id", "action", "detail"]].to_dict("records")
    1
    [{'key_id': 3, 'action': 'read_customer', 'detail': '{}'}]
    """
    args = [
        [when, key_id, role, action, target, json.dumps(detail or {}, default=str)]
        for when, key_id, role, action, target, detail in rows
    ]
    if args:
        with store.transaction() as con:
            for start in range(0, len(args), _ROWS_PER_INSERT):  # not executemany: a
                chunk = args[start : start + _ROWS_PER_INSERT]  # statement per row
                values = ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(chunk))
                con.execute(
                    "INSERT INTO audit_log (logged_at, key_id, role, action, target, detail) "
                    f"VALUES {values}",
                    [v for row in chunk for v in row],
                )
    return len(args)


def audit_rows(store: Store, limit: int = 100) -> pd.DataFrame:
    """The newest ``limit`` rows of the audit log, newest first."""
    return store.con.execute(
        "SELECT logged_at, key_id, role, action, target, detail FROM audit_log "
        "ORDER BY logged_at DESC, rowid DESC LIMIT ?",
        [limit],
    ).df()


def segment_changes(store: Store, customer_id: str) -> list[dict[str, Any]]:
    """``changed_at, run_id, lens, before_value, after_value, cause`` of a customer, oldest
    first.

    A lookup reads them with its other rows in one statement
    (:mod:`valueseg.store.lookup`); this plain reader is what that is tested against."""
    return _records(
        store,
        "SELECT changed_at, run_id, lens, before_value, after_value, cause FROM segment_changes "
        "WHERE customer_id = ? ORDER BY changed_at, rowid",
        [customer_id],
    )


# -- runs -----------------------------------------------------------------------------------
def run_row(store: Store, run_id: int) -> dict[str, Any] | None:
    """A run's row (parameters parsed), or None when there is no such run."""
    row = _record(
        store,
        "SELECT run_id, as_of, status, started_at, finished_at, "
        "date_diff('millisecond', started_at, finished_at) / 1000.0 AS seconds, parameters, "
        "input_fingerprint, message FROM runs WHERE run_id = ?",
        [run_id],
    )
    if row is not None:
        row["parameters"] = json.loads(row["parameters"]) if row["parameters"] else {}
    return row


def model_fit_rows(store: Store, run_id: int) -> list[dict[str, Any]]:
    """The ``model_fits`` rows of a run, params and back-test parsed."""
    cursor = store.con.execute(
        "SELECT model, params, loglik, aic, bic, converged, chosen, backtest FROM model_fits "
        "WHERE run_id = ? ORDER BY model",
        [run_id],
    )
    names = [d[0] for d in cursor.description or []]
    out = []
    for row in cursor.fetchall():
        record = dict(zip(names, row, strict=True))
        for key in ("params", "backtest"):
            record[key] = json.loads(record[key]) if record[key] else {}
        out.append(record)
    return out


def chosen_value_model(store: Store, run_id: int) -> str | None:
    """The purchase model a run chose (``bg_nbd`` …), None when it chose none."""
    value = _one(
        store,
        "SELECT model FROM model_fits WHERE run_id = ? AND chosen AND model <> 'gamma_gamma' "
        "ORDER BY model LIMIT 1",
        [run_id],
    )
    return None if value is None else str(value)


def run_distribution(store: Store, run_id: int) -> pd.DataFrame:
    """Every customer of a run with what the RFM scores and value tiers rank them by, and
    whether the run recommended them anything: ``customer_id, days_since_last_order,
    orders_total, spend_total, predicted_clv_365d, recommended``."""
    return store.con.execute(
        "SELECT f.customer_id, f.days_since_last_order, f.orders_total, f.spend_total, "
        "s.predicted_clv_365d, f.customer_id IN (SELECT customer_id FROM recommendations "
        "WHERE run_id = ?) AS recommended FROM customer_features f LEFT JOIN customer_scores s "
        "ON s.run_id = f.run_id AND s.customer_id = f.customer_id WHERE f.run_id = ?",
        [run_id, run_id],
    ).df()


def run_customer_columns(
    store: Store, run_id: int, score_columns: Sequence[str], feature_columns: Sequence[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Every customer of run ``run_id`` (in its scores or its features), as columns:
    ``customer_id``, ``scored`` and ``featured`` (whether the run has that row),
    ``score_columns`` of ``customer_scores`` as ``s.<name>``, ``feature_columns`` of
    ``customer_features`` as ``f.<name>``, and the next-best ``action`` and its
    ``action_rule`` (the first by priority). Column -> numpy array (masked where NULL,
    DuckDB's ``fetchnumpy``), and column -> SQL type.

    Names come from the caller's constants, never from a request."""
    picks = ["coalesce(s.customer_id, f.customer_id) AS customer_id"]
    picks += ["s.customer_id IS NOT NULL AS scored", "f.customer_id IS NOT NULL AS featured"]
    picks += [f's."{c}" AS "s.{c}"' for c in score_columns]
    picks += [f'f."{c}" AS "f.{c}"' for c in feature_columns]
    picks += ["a.action AS action", "a.rule AS action_rule"]
    cursor = store.con.execute(
        f"SELECT {', '.join(picks)} FROM (SELECT * FROM customer_scores WHERE run_id = ?) s "
        "FULL JOIN (SELECT * FROM customer_features WHERE run_id = ?) f "
        "ON s.customer_id = f.customer_id LEFT JOIN (SELECT customer_id, "
        "arg_min(action, priority) AS action, arg_min(rule, priority) AS rule "
        "FROM customer_actions WHERE run_id = ? GROUP BY customer_id) a "
        "ON a.customer_id = coalesce(s.customer_id, f.customer_id)",
        [run_id, run_id, run_id],
    )
    types = {str(d[0]): str(d[1]) for d in cursor.description or []}
    return cursor.fetchnumpy(), types


# -- segments and customers -----------------------------------------------------------------
def segment_customers(
    store: Store,
    run_id: int,
    lens: str,
    segment: str,
    *,
    sort: str = "predicted_clv_365d",
    descending: bool = True,
    limit: int = 50,
    offset: int = 0,
) -> tuple[pd.DataFrame, int]:
    """One page of a segment's customers (:data:`SCORE_COLUMNS`) and how many it holds.

    ``lens`` and ``sort`` are names from :data:`LENS_COLUMNS` and :data:`SORTS` (anything
    else raises ``KeyError``: the caller checks them); customers without a value of the
    sort column come last, ties in customer id order.
    """
    column, order = LENS_COLUMNS[lens], SORTS[sort]
    direction = "DESC" if descending else "ASC"
    where = f'FROM customer_scores WHERE run_id = ? AND "{column}" = ?'
    total = int(_one(store, f"SELECT count(*) {where}", [run_id, segment]))
    page = store.con.execute(
        f"SELECT {', '.join(SCORE_COLUMNS)} {where} "
        f'ORDER BY "{order}" {direction} NULLS LAST, customer_id LIMIT ? OFFSET ?',
        [run_id, segment, limit, offset],
    ).df()
    return page, total


def customer_score_rows(store: Store, customer_id: str) -> list[dict[str, Any]]:
    """The customer's ``customer_scores`` rows of every run (``run_id`` and
    :data:`SCORE_COLUMNS`), oldest run first.

    The customer id is the scan's one filter, so DuckDB reads the rows through the index
    by customer; the caller picks its run in Python (cheaper than a materialised CTE for
    the few rows a customer has: about 1.3 ms against 3 at 1M customers).
    """
    rows = _records(
        store,
        f"SELECT run_id, {', '.join(SCORE_COLUMNS)} FROM customer_scores WHERE customer_id = ?",
        [customer_id],
    )
    return sorted(rows, key=lambda row: int(row["run_id"]))  # no ORDER BY: it costs a ms


def customer_score_row(store: Store, run_id: int, customer_id: str) -> dict[str, Any] | None:
    """A customer's ``customer_scores`` row of a run (:data:`SCORE_COLUMNS`), or None."""
    for row in customer_score_rows(store, customer_id):
        if row.pop("run_id") == run_id:
            return row
    return None


def customer_action(store: Store, run_id: int, customer_id: str) -> tuple[str, str] | None:
    """``(action, rule)``: the customer's next-best action in a run (None: none).

    A lookup reads it with the others in one statement (:mod:`valueseg.store.lookup`);
    this plain reader is what that is tested against."""
    rows = store.con.execute(
        "SELECT run_id, action, rule FROM customer_actions WHERE customer_id = ?", [customer_id]
    ).fetchall()
    return next(((str(a), str(r)) for run, a, r in rows if run == run_id), None)


def customer_feature_row(store: Store, run_id: int, customer_id: str) -> dict[str, Any] | None:
    """A customer's ``customer_features`` row of a run (every column but ``run_id``)."""
    # every run's rows through the index by customer, the run picked here: 3 ms against 7
    # for a materialised CTE of every column at 1M customers
    for row in _records(
        store, "SELECT * FROM customer_features WHERE customer_id = ?", [customer_id]
    ):
        if row.pop("run_id") == run_id:
            return row
    return None


def feature_types(store: Store) -> dict[str, str]:
    """Column -> SQL type of ``customer_features`` (every run's columns).

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     feature_types(store)
    {'run_id': 'INTEGER', 'customer_id': 'VARCHAR'}
    """
    rows = store.con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = 'customer_features' ORDER BY ordinal_position"
    ).fetchall()
    return {str(name): str(kind) for name, kind in rows}


def customer_is_known(store: Store, customer_id: str) -> bool:
    """Whether the store has any order line or score of the customer."""
    return bool(
        _one(
            store,
            "SELECT EXISTS (SELECT 1 FROM transactions WHERE customer_id = ?) "
            "OR EXISTS (SELECT 1 FROM customer_scores WHERE customer_id = ?)",
            [customer_id, customer_id],
        )
    )


#: The columns of one customer's order lines, in the order they are read.
LINE_COLUMNS: Final = (
    "order_id",
    "timestamp",
    "amount",
    "product_id",
    "category",
    "discount",
    "channel",
    "is_return",
)
_LINES_SQL: Final = ", ".join(f'"{c}"' for c in LINE_COLUMNS)


def customer_line_rows(store: Store, customer_id: str, until: datetime) -> list[tuple[Any, ...]]:
    """The customer's order lines (purchases and returns) up to ``until``, oldest first, as
    rows of :data:`LINE_COLUMNS` values (no DataFrame: a posted order's rescoring reads
    them)."""
    return store.con.execute(
        of_customer("transactions", _LINES_SQL)
        + f'SELECT {_LINES_SQL} FROM c WHERE "timestamp" <= ? ORDER BY "timestamp", order_id',
        [customer_id, until],
    ).fetchall()


def customer_views(store: Store, customer_id: str, until: datetime) -> int:
    """The customer's product views up to ``until`` (events of type ``view``), through the
    index by customer (schema 8)."""
    return int(
        _one(
            store,
            of_customer("events", 'event_type, "timestamp"')
            + "SELECT count(*) FROM c WHERE event_type = 'view' AND \"timestamp\" <= ?",
            [customer_id, until],
        )
    )


def customer_orders(
    store: Store,
    customer_id: str,
    limit: int = 100,
    staged: Sequence[Mapping[str, Any]] = (),
) -> pd.DataFrame:
    """The customer's newest ``limit`` orders: ``order_id, timestamp, amount, lines,
    is_return`` (returns as their own rows), newest first. ``staged``: their lines not in
    ``transactions`` yet (posted orders staged by the web app, :mod:`valueseg.store.staged`),
    counted with the stored ones."""
    rows = "c"
    args: list[Any] = [customer_id]
    if staged:
        marks = ", ".join(["(?, CAST(? AS TIMESTAMP), CAST(? AS DOUBLE), ?)"] * len(staged))
        rows = f"(SELECT * FROM c UNION ALL SELECT * FROM (VALUES {marks}))"
        for line in staged:
            args += [line["order_id"], line["timestamp"], line["amount"], line["is_return"]]
    return store.con.execute(
        of_customer("transactions", 'order_id, "timestamp", amount, is_return')
        + 'SELECT order_id, min("timestamp") AS "timestamp", sum(amount) AS amount, '
        f"count(*) AS lines, is_return FROM {rows} GROUP BY order_id, is_return ORDER BY "
        '"timestamp" DESC, order_id LIMIT ?',
        [*args, limit],
    ).df()


def segment_history(
    store: Store,
    customer_id: str,
    rows: list[dict[str, Any]] | None = None,
    finished: Mapping[int, datetime] | None = None,
) -> list[dict[str, Any]]:
    """The customer's segments in every finished run: ``run_id, as_of, rfm_segment,
    value_tier, segment``, oldest run first.

    ``rows`` (:func:`customer_score_rows`) and ``finished`` (:func:`finished_runs`) when
    the caller has them already; else they are read.
    """
    rows = customer_score_rows(store, customer_id) if rows is None else rows
    finished = finished_runs(store) if finished is None else finished
    return [
        {"run_id": r["run_id"], "as_of": finished[r["run_id"]]}
        | {k: r[k] for k in ("rfm_segment", "value_tier", "segment")}
        for r in rows
        if r["run_id"] in finished
    ]


def finished_runs(store: Store) -> dict[int, datetime]:
    """Run id -> ``as_of`` of every run that succeeded, oldest first.

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     finished_runs(store)
    {}
    """
    rows = store.con.execute(
        "SELECT run_id, as_of FROM runs WHERE status = 'succeeded' ORDER BY run_id"
    ).fetchall()
    return {int(run_id): as_of for run_id, as_of in rows}


# -- pages: overview and data quality -------------------------------------------------------
def overview_numbers(store: Store, run_id: int) -> dict[str, Any]:
    """The overview's KPIs of a run: customers, mean P(alive), predicted CLV in total and
    per customer, mean churn probability, customers more likely gone than not."""
    row = _record(
        store,
        "SELECT count(*) AS customers, avg(p_alive) AS mean_p_alive, "
        "sum(predicted_clv_365d) AS total_clv_365d, avg(predicted_clv_365d) AS mean_clv_365d, "
        "avg(churn_probability) AS mean_churn_probability, "
        "count(*) FILTER (WHERE churn_probability > 0.5) AS likely_churners "
        "FROM customer_scores WHERE run_id = ?",
        [run_id],
    )
    assert row is not None  # an aggregate always gives a row
    return row


def loads_rows(store: Store, limit: int = 50) -> pd.DataFrame:
    """The newest ``limit`` loads: id, source, kind, rows read, accepted, rejected, when."""
    return store.con.execute(
        "SELECT load_id, source, kind, rows_read, accepted, rejected, loaded_at FROM loads "
        "ORDER BY load_id DESC LIMIT ?",
        [limit],
    ).df()


def rejected_by_reason(store: Store) -> pd.DataFrame:
    """``kind, reason, rows, example`` of the quarantined rows, the most frequent first
    (reasons like 'duplicate order line (first on 12)' counted under their first part)."""
    return store.con.execute(
        "SELECT kind, split_part(reason, ' (first on', 1) AS reason, count(*) AS rows, "
        "min(raw) AS example FROM rejected_rows GROUP BY ALL ORDER BY rows DESC, kind, reason"
    ).df()
