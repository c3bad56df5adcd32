"""The ``runs`` table: a run's row from its start to its end, and the list of runs.

A run's row is written before its work starts (``running``) and ends ``succeeded`` inside
the transaction that writes the run's results, or ``failed`` with the error's message the
moment the run stops. A process killed outright cannot say so; the next run marks its row
``failed`` ("interrupted before it finished").
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final

import pandas as pd

from valueseg.errors import InputError
from valueseg.store.store import Store

#: What a run left ``running`` by a killed process is marked with.
INTERRUPTED: Final = "interrupted before it finished"


def input_fingerprint(store: Store) -> str:
    """A hash of every load's content fingerprint: the same inputs, the same value."""
    rows = store.con.execute("SELECT kind, fingerprint FROM loads ORDER BY load_id").fetchall()
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()[:32]


def start_run(store: Store, as_of: datetime, parameters: dict[str, Any]) -> int:
    """Write a new run's row (``running``) and return its id.

    Rows another process left ``running`` are marked failed first: only one process can
    write a store at a time, so they cannot still be running.
    """
    con = store.con
    con.execute(
        "UPDATE runs SET status = 'failed', message = ? WHERE status = 'running'", [INTERRUPTED]
    )
    row = con.execute("SELECT coalesce(max(run_id), 0) + 1 FROM runs").fetchone()
    run_id = int(row[0]) if row else 1
    con.execute(
        "INSERT INTO runs (run_id, as_of, started_at, status, parameters, input_fingerprint) "
        "VALUES (?, ?, now()::TIMESTAMP, 'running', ?, ?)",
        [run_id, as_of, json.dumps(parameters), input_fingerprint(store)],
    )
    return run_id


def finish_run(store: Store, run_id: int) -> None:
    """Mark the run succeeded (call inside the transaction that writes its results)."""
    store.con.execute(
        "UPDATE runs SET status = 'succeeded', finished_at = now()::TIMESTAMP WHERE run_id = ?",
        [run_id],
    )


def fail_run(store: Store, run_id: int, message: str) -> None:
    """Mark the run failed with ``message``; its results were never committed."""
    store.con.execute(
        "UPDATE runs SET status = 'failed', finished_at = now()::TIMESTAMP, message = ? "
        "WHERE run_id = ?",
        [message, run_id],
    )


def list_runs(store: Store) -> pd.DataFrame:
    """Every run, oldest first: id, as_of, status, started/finished, seconds, message.

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     list(list_runs(store).columns)
    ['run_id', 'as_of', 'status', 'started_at', 'finished_at', 'seconds', 'message']
    """
    return store.con.execute(
        "SELECT run_id, as_of, status, started_at, finished_at, "
        "date_diff('millisecond', started_at, finished_at) / 1000.0 AS seconds, message "
        "FROM runs ORDER BY run_id"
    ).df()


def write_notes(store: Store, run_id: int, notes: Iterable[tuple[str, str]]) -> None:
    """One ``run_notes`` row per (stage, note): what a stage chose, left out or fell back on."""
    rows = [[run_id, stage, note] for stage, note in notes]
    if rows:
        store.con.executemany("INSERT INTO run_notes (run_id, stage, note) VALUES (?, ?, ?)", rows)


def run_notes(store: Store, run_id: int) -> pd.DataFrame:
    """``stage, note`` of a run, in the order they were written.

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     run_notes(store, 1).columns.tolist()
    ['stage', 'note']
    """
    return store.con.execute(
        "SELECT stage, note FROM run_notes WHERE run_id = ? ORDER BY rowid", [run_id]
    ).df()


def chosen_run(store: Store, run_id: int | None = None) -> int:
    """``run_id`` when it succeeded, else the latest run that did (a CLI's ``--run``).

    Examples
    --------
    >>> with Store(":memory:") as store:
    ...     chosen_run(store)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    valueseg.errors.InputError: Store :memory: holds no finished run yet. ...
    """
    rows = store.con.execute(
        "SELECT run_id FROM runs WHERE status = 'succeeded' ORDER BY run_id"
    ).fetchall()
    done = [int(r[0]) for r in rows]
    if not done:
        raise InputError(
            f"Store {store.path} holds no finished run yet. Run the pipeline first: "
            f"valueseg run --db {store.path}"
        )
    if run_id is None:
        return done[-1]
    if run_id not in done:
        have = ", ".join(map(str, done[-10:]))
        raise InputError(
            f"Run {run_id} did not finish in {store.path}. Finished runs: {have}. "
            "Pass one of them with --run, or see them all with valueseg info."
        )
    return run_id
