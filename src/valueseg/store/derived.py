"""Writes of a run's derived tables: features, scores, segments and model fits.

Each writer inserts by column name with the run's ``run_id``; the caller wraps a run's
writes in one :meth:`Store.transaction`, so a run's rows land together or not at all.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

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
        for name, dtype, *_ in con.execute("DESCRIBE _vs_features").fetchall():
            if name not in existing:
                con.execute(f'ALTER TABLE customer_features ADD COLUMN "{name}" {dtype}')
    finally:
        con.unregister("_vs_features")
    write_frame(store, "customer_features", run_id, features)


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
