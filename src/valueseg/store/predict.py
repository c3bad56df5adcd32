"""Reads and writes of the predict stage: window labels, the leaderboard and the reasons.

The labels of a cutoff are read from ``transactions`` only (purchase lines, returns left
out), for the window ``[start, end)``: a line at ``end`` belongs to the next window, so the
windows of cutoffs spaced by the horizon tile the history without overlap.

The tables they use (``predict_fits``, ``customer_reasons`` and two columns of
``customer_scores``) are schema version 3 (:data:`valueseg.store.schema.PREDICT_DDL`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import pandas as pd

from valueseg.store.one_customer import of_customer
from valueseg.store.store import Store

__all__ = [
    "customer_reasons",
    "first_purchase",
    "read_predict_fits",
    "read_reasons",
    "window_purchases",
    "write_predict_fits",
    "write_reasons",
]


def window_purchases(store: Store, start: datetime, end: datetime) -> pd.DataFrame:
    """``customer_id, spend, first_purchase``: the buyers of ``[start, end)``.

    ``spend`` sums the purchase lines in the window (zero-value lines make a buyer with
    spend 0); ``first_purchase`` is the time of the first of them.

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     window_purchases(store, datetime(2024, 1, 1), datetime(2024, 4, 1)).columns.tolist()
    ['customer_id', 'spend', 'first_purchase']
    """
    return store.con.execute(
        'SELECT customer_id, sum(amount) AS spend, min("timestamp") AS first_purchase '
        'FROM transactions WHERE NOT is_return AND "timestamp" >= ? AND "timestamp" < ? '
        "GROUP BY customer_id",
        [start, end],
    ).df()


def first_purchase(store: Store) -> datetime | None:
    """Time of the first purchase line in the store (None when there is none)."""
    row = store.con.execute(
        'SELECT min("timestamp") FROM transactions WHERE NOT is_return'
    ).fetchone()
    return None if row is None else row[0]


def write_predict_fits(store: Store, run_id: int, fits: Iterable[Mapping[str, Any]]) -> None:
    """One ``predict_fits`` row per learner and task (params and metrics as JSON)."""
    for fit in fits:
        store.con.execute(
            "INSERT INTO predict_fits (run_id, task, model, params, metrics, chosen, reason) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                run_id,
                fit["task"],
                fit["model"],
                json.dumps(fit["params"]),
                json.dumps(fit["metrics"]),
                bool(fit["chosen"]),
                fit.get("reason"),
            ],
        )


def write_reasons(store: Store, run_id: int, reasons: pd.DataFrame) -> None:
    """Insert the ``customer_reasons`` rows of a run (columns by name)."""
    con = store.con
    con.register("_vs_reasons", reasons)
    try:
        con.execute(
            "INSERT INTO customer_reasons BY NAME "
            f"SELECT {int(run_id)} AS run_id, customer_id, rank, feature, value, contribution, "
            "text FROM _vs_reasons"
        )
    finally:
        con.unregister("_vs_reasons")


def read_predict_fits(store: Store, run_id: int) -> list[dict[str, Any]]:
    """The ``predict_fits`` rows of a run as dicts, params and metrics parsed."""
    rows = store.con.execute(
        "SELECT task, model, params, metrics, chosen, reason FROM predict_fits "
        "WHERE run_id = ? ORDER BY task, model",
        [run_id],
    ).fetchall()
    return [
        {
            "task": task,
            "model": model,
            "params": json.loads(params) if params else None,
            "metrics": json.loads(metrics) if metrics else {},
            "chosen": bool(chosen),
            "reason": reason,
        }
        for task, model, params, metrics, chosen, reason in rows
    ]


def read_reasons(store: Store, run_id: int, customer_id: str | None = None) -> pd.DataFrame:
    """``customer_id, rank, feature, value, contribution, text`` of a run (one customer's)."""
    columns = "customer_id, rank, feature, value, contribution, text"
    if customer_id is not None:  # through the index by customer
        sql = of_customer("customer_reasons", f"run_id, {columns}")
        sql += f"SELECT {columns} FROM c WHERE run_id = ?"
        return store.con.execute(sql + " ORDER BY rank", [customer_id, run_id]).df()
    sql = f"SELECT {columns} FROM customer_reasons WHERE run_id = ? ORDER BY customer_id, rank"
    return store.con.execute(sql, [run_id]).df()


def customer_reasons(store: Store, run_id: int, customer_id: str) -> list[dict[str, Any]]:
    """``rank, feature, value, contribution, text`` of one customer's reasons in a run,
    first reason first (no DataFrame: a lookup's three rows). A lookup reads them with its
    other rows in one statement (:mod:`valueseg.store.lookup`); this plain reader is what
    that is tested against.

    The customer id is the scan's one filter (so the index by customer reads it); the run
    is picked in Python.
    """
    cursor = store.con.execute(
        "SELECT run_id, rank, feature, value, contribution, text FROM customer_reasons "
        "WHERE customer_id = ?",
        [customer_id],
    )
    rows = sorted(cursor.fetchall(), key=lambda row: row[1])  # no ORDER BY: 1 ms of 2
    names = [d[0] for d in cursor.description or []][1:]
    return [dict(zip(names, row[1:], strict=True)) for row in rows if row[0] == run_id]


def read_validation(store: Store, run_id: int, task: str) -> pd.DataFrame:
    """``row, target, model, prediction`` of a run's stored validation sample of ``task``
    (no rows: the task fell back to the baseline, or the run predates the sample)."""
    return store.con.execute(
        "SELECT row, target, model, prediction FROM predict_validation "
        "WHERE run_id = ? AND task = ? ORDER BY model, row",
        [run_id, task],
    ).df()
