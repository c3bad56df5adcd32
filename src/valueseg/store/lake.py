"""A lake run's rows put into a store, so that the store's readers (the report) read it."""

from __future__ import annotations

from typing import Any

import pandas as pd

from valueseg.store.derived import write_features, write_frame
from valueseg.store.store import Store


def import_run(store: Store, run_id: int, tables: dict[str, Any]) -> None:
    """Insert a lake run's tables into ``store`` under ``run_id`` (one transaction).

    ``tables``: ``runs`` (its one row), ``customer_features``, ``customer_scores``,
    ``segments``, ``model_fits`` and optionally ``run_notes`` (frames, by name).
    """
    run = tables["runs"].iloc[0]
    with store.transaction():
        store.con.execute(
            "INSERT INTO runs (run_id, as_of, started_at, finished_at, status, parameters, "
            "input_fingerprint, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [run_id, *(_value(run[c]) for c in _RUN_COLUMNS)],
        )
        write_features(store, run_id, tables["customer_features"])
        for name in ("customer_scores", "segments", "model_fits", "run_notes"):
            frame = tables.get(name)
            if frame is not None and len(frame):
                write_frame(store, name, run_id, frame)


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
