"""Progress reporting for long loads: DuckDB's own query progress, polled from a thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import duckdb

#: ``progress(stage, percent)``: percent of the current stage, 0–100.
Progress = Callable[[str, float], None]
T = TypeVar("T")


def run_with_progress(
    con: duckdb.DuckDBPyConnection,
    progress: Progress | None,
    stage: str,
    work: Callable[[], T],
    interval: float = 0.2,
) -> T:
    """Run ``work`` (which runs queries on ``con``), reporting their progress meanwhile."""
    if progress is None:
        return work()
    progress(stage, 0.0)
    stop = threading.Event()

    def poll() -> None:
        while not stop.wait(interval):
            try:
                percent = con.query_progress()
            except duckdb.Error:
                return
            if percent >= 0:
                progress(stage, min(percent, 99.0))

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        return work()
    finally:
        stop.set()
        thread.join()
        progress(stage, 100.0)
