"""A run's derived tables: writes of features, scores, segments and model fits, and reads.

Each writer inserts by column name with the run's ``run_id``; the caller wraps a run's
writes in one :meth:`Store.transaction`, so a run's rows land together or not at all.
Readers see succeeded runs' rows only where they pick "the latest".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from valueseg.store.store import Store


def write_frame(store: Store, table: str, run_id: int, frame: Any) -> None:
    """Insert ``frame``'s rows (pandas or Arrow) into ``table`` by name, with ``run_id``."""
    con = store.con
    con.register("_vs_frame", frame)
    try:
        con.execute(f'INSERT INTO "{table}" BY NAME SELECT {run_id} AS run_id, * FROM _vs_frame')
    finally:
        con.unregister("_vs_frame")


def write_features(store: Store, run_id: int, features: Any) -> None:
    """Add the feature columns ``customer_features`` lacks, then insert this run's rows."""
    con = store.con
    existing = set(store.columns("customer_features"))
    con.register("_vs_features", features)
    try:
        described = con.execute("DESCRIBE _vs_features").fetchall()
    finally:
        con.unregister("_vs_features")
    add_feature_columns(store, [(n, t) for n, t, *_ in described if n not in existing])
    write_frame(store, "customer_features", run_id, features)


def add_feature_columns(store: Store, columns: Iterable[tuple[str, str]]) -> None:
    """Add ``(name, SQL type)`` columns to ``customer_features``. DuckDB cannot add a
    column to a table with an index, so its index by customer (schema 6) is dropped first
    and built again after (seconds at millions of rows; only when the features change).

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     add_feature_columns(store, [("frequency", "DOUBLE")])
    ...     store.columns("customer_features")
    ['run_id', 'customer_id', 'frequency']
    """
    added = list(columns)
    if not added:
        return
    con = store.con
    con.execute(f"DROP INDEX IF EXISTS {_FEATURE_INDEX}")
    for name, dtype in added:
        con.execute(f'ALTER TABLE customer_features ADD COLUMN "{name}" {dtype}')
    con.execute(f"CREATE INDEX {_FEATURE_INDEX} ON customer_features (customer_id)")


_FEATURE_INDEX = "customer_features_customer"


def write_fits(store: Store, run_id: int, fits: Iterable[Mapping[str, Any]]) -> None:
    """One ``model_fits`` row per fitted model: parameters, fit statistics and back-test."""
    for fit in fits:
        store.con.execute(
            "INSERT INTO model_fits (run_id, model, params, loglik, aic, bic, converged, "
            "chosen, backtest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                fit["model"],
                json.dumps(fit["params"]),
                fit["loglik"],
                fit["aic"],
                fit["bic"],
                fit["converged"],
                fit["chosen"],
                json.dumps(fit["backtest"]),
            ],
        )


def latest_segmented_run(store: Store) -> int | None:
    """The newest succeeded run that wrote segments (None: none did).

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     latest_segmented_run(store) is None
    True
    """
    row = store.con.execute(
        "SELECT max(s.run_id) FROM segments s JOIN runs r USING (run_id) "
        "WHERE r.status = 'succeeded'"
    ).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def segmented_runs(store: Store) -> list[int]:
    """Every run id with rows in ``segments``, ascending."""
    rows = store.con.execute("SELECT DISTINCT run_id FROM segments ORDER BY 1").fetchall()
    return [int(r[0]) for r in rows]


def segment_rows(store: Store, run_id: int | None) -> pd.DataFrame:
    """``run_id, lens, segment, size, revenue_share, profile, rules`` of a run, largest first
    within each lens (no rows for None or a run without segments)."""
    return store.con.execute(
        "SELECT run_id, lens, segment, size, revenue_share, profile, rules FROM segments "
        "WHERE run_id = ? ORDER BY lens, size DESC",
        [run_id],
    ).df()


def customer_column(store: Store, run_id: int, column: str) -> pd.DataFrame:
    """``customer_id, <column>`` of a run's ``customer_scores`` (e.g. its segment)."""
    if column not in store.columns("customer_scores"):
        raise KeyError(column)  # the caller names the lens; a bad column is a bug
    return store.con.execute(
        f'SELECT customer_id, "{column}" FROM customer_scores WHERE run_id = ?', [run_id]
    ).df()
