"""Warming DuckDB's buffer pool when the server starts.

A customer's lookup or posted order reads a few rows of six tables through their indexes
by customer; the first read of each block of those tables goes to the file (at 1M
customers, a lookup's reads took twice as long cold as warm). :func:`start_warming` reads
the latest run's rows of those tables and every order line once, in a background thread
on its own connection, while the server already answers; it stops when the app stops.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import duckdb

from valueseg.errors import ValuesegError
from valueseg.store import Store
from valueseg.store.web import request_store, warm_blocks
from valueseg.web.views import latest_run

__all__ = ["Warming", "start_warming"]

_LOG = logging.getLogger("valueseg.web")


@dataclass
class Warming:
    """The warming thread: :meth:`stop` asks it to end and waits for it."""

    thread: threading.Thread
    stopping: threading.Event = field(default_factory=threading.Event)
    rows: int = 0
    seconds: float | None = None  # when it ended
    error: str | None = None

    def stop(self, timeout: float = 10.0) -> None:
        self.stopping.set()
        self.thread.join(timeout)

    def status(self) -> dict[str, Any]:
        """``state`` (warming, warmed, stopped or failed), rows read, seconds taken."""
        if self.error is not None:
            state = "failed"
        elif self.seconds is None:
            state = "warming"
        else:
            state = "stopped" if self.stopping.is_set() else "warmed"
        return {"state": state, "rows": self.rows, "seconds": self.seconds}


def start_warming(root: Store) -> Warming:
    """Start reading the latest succeeded run's per-customer tables in the background."""
    warming = Warming(threading.Thread(target=lambda: None))
    warming.thread = threading.Thread(
        target=_warm, args=(root, warming), name="valueseg-warm", daemon=True
    )
    warming.thread.start()
    return warming


def _warm(root: Store, warming: Warming) -> None:
    started = time.perf_counter()
    view = request_store(root)
    try:
        run_id = latest_run(view)
        warming.rows = warm_blocks(view, run_id, warming.stopping.is_set)
    except (ValuesegError, duckdb.Error, OSError) as exc:  # a warm-up never stops the server
        warming.error = str(exc)
        _LOG.warning("warming the store's blocks stopped: %s", exc)
        return
    finally:
        view.close()
        warming.seconds = round(time.perf_counter() - started, 1)
    how = "stopped" if warming.stopping.is_set() else "done"
    _LOG.info(
        "warmed the store's blocks (%s rows, %s) in %.1f s",
        f"{warming.rows:,}",
        how,
        time.perf_counter() - started,
    )
