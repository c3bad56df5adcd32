"""A lake run's rows put into a store, so that the store's readers (the report) read it;
and a sample of a lake run's input rows put into a store, for the predict stage."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from valueseg.store.derived import write_features, write_frame
from valueseg.store.store import Store

#: The input tables a lake run's rows go into.
_INPUTS = ("transactions", "events", "customers")
#: A lake run's tables under ``OUT`` (besides ``runs``) that :func:`import_run` copies
#: into a store, ``customer_features`` first (its columns are added as found).
RUN_TABLES = (
    "customer_features",
    "customer_scores",
    "customer_reasons",
    "segments",
    "model_fits",
    "predict_fits",
    "predict_validation",
    "run_notes",
)


def load_lines(store: Store, kind: str, rows: Any) -> int:
    """Insert a lake run's accepted rows of input ``kind`` (pandas or Arrow, in the store's
    column names) into ``store``'s table of that name, as load 0 numbered in their order;
    a customer attribute column the table lacks is added with the rows' type. Returns the
    number of rows inserted.

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     load_lines(store, "customers", pd.DataFrame({"customer_id": ["a"], "tier": [2]}))
    ...     store.columns("customers")
    1
    ['customer_id', 'load_id', 'line', 'tier']
    """
    if kind not in _INPUTS:
        raise ValueError(f"not an input table: {kind!r}")
    con = store.con
    existing = set(store.columns(kind))
    con.register("_vs_lines", rows)
    try:
        described = con.execute("DESCRIBE _vs_lines").fetchall()
        for name, dtype, *_ in described:
            if name not in existing:
                if kind != "customers":
                    raise ValueError(f"{kind} has no column {name!r}")
                con.execute(f'ALTER TABLE customers ADD COLUMN "{name}" {dtype}')
        con.execute(
            f'INSERT INTO "{kind}" BY NAME SELECT *, 0 AS load_id, '
            "row_number() OVER () AS line FROM _vs_lines"
        )
        row = con.execute("SELECT count(*) FROM _vs_lines").fetchone()
        return int(row[0]) if row else 0
    finally:
        con.unregister("_vs_lines")


def import_run(store: Store, run_id: int, tables: dict[str, Any]) -> None:
    """Insert a lake run's tables into ``store`` under ``run_id`` (one transaction).

    ``tables``: ``runs`` (its one row), ``customer_features``, ``customer_scores``,
    ``segments``, ``model_fits`` and optionally ``predict_fits``, ``predict_validation``
    and ``run_notes`` (frames, by name).
    """
    run = tables["runs"].iloc[0]
    with store.transaction():
        store.con.execute(
            "INSERT INTO runs (run_id, as_of, started_at, finished_at, status, parameters, "
            "input_fingerprint, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [run_id, *(_value(run[c]) for c in _RUN_COLUMNS)],
        )
        write_features(store, run_id, tables["customer_features"])
        for name in RUN_TABLES[1:]:
            frame = tables.get(name)
            if frame is not None and len(frame):
                write_frame(store, name, run_id, frame)


def held_run(store: Store, run_id: int) -> datetime | None:
    """When run ``run_id`` of ``store`` started (None: the store has no such run)."""
    row = store.con.execute("SELECT started_at FROM runs WHERE run_id = ?", [run_id]).fetchone()
    return None if row is None else row[0]


_RUN_COLUMNS = (
    "as_of",
    "started_at",
    "finished_at",
    "status",
    "parameters",
    "input_fingerprint",
    "message",
)


def _value(value: Any) -> Any:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value
