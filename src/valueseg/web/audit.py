"""The API's audit rows, kept in memory a moment and appended to ``audit_log`` together.

Appending one row per request costs a commit each (about 4 ms, as much as the rest of a
customer lookup). The API's customer-level reads and posted events hand their row to
:class:`AuditBuffer` instead, stamped with the moment of the request; a thread of its own
appends what has gathered every half second (or at once past :data:`FLUSH_ROWS` rows), in
one transaction. The app flushes it when it stops (``valueseg serve`` stopped by Ctrl-C
or a TERM signal), so no row is lost then; whatever reads ``audit_log`` while the server
runs calls :meth:`AuditBuffer.flush` first. A server killed outright (``kill -9``) loses
the rows of its last half second. The pages, exports, runs and keys write their rows at
once, as before.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from valueseg.store import Store
from valueseg.store.web import request_store, write_audit_rows

__all__ = ["FLUSH_ROWS", "FLUSH_SECONDS", "AuditBuffer"]

_LOG = logging.getLogger("valueseg.web")
#: Seconds between appends of the gathered rows.
FLUSH_SECONDS = 0.5
#: Rows that make an append happen at once.
FLUSH_ROWS = 500

_Row = tuple[datetime, int | None, str, str, str | None, Mapping[str, Any] | None]


class AuditBuffer:
    """Audit rows of ``root``'s database, gathered and appended together (see the module)."""

    def __init__(self, root: Store, seconds: float = FLUSH_SECONDS) -> None:
        self.root, self.seconds = root, seconds
        self._rows: list[_Row] = []
        self._lock = threading.Lock()  # guards _rows
        self._flushing = threading.Lock()  # one append at a time, in order
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(
        self,
        key_id: int | None,
        role: str,
        action: str,
        target: str | None,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        """Keep one row, stamped now (UTC), for the next append."""
        row = (datetime.now(UTC).replace(tzinfo=None), key_id, role, action, target, detail)
        with self._lock:
            self._rows.append(row)
            full = len(self._rows) >= FLUSH_ROWS
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(
                    target=self._loop, name="valueseg-audit", daemon=True
                )
                self._thread.start()
        if full:
            self._wake.set()

    def pending(self) -> int:
        """Rows kept and not appended yet."""
        with self._lock:
            return len(self._rows)

    def flush(self) -> int:
        """Append every row kept so far; how many."""
        with self._flushing:
            with self._lock:
                rows, self._rows = self._rows, []
            if not rows:
                return 0
            store = request_store(self.root)
            try:
                return write_audit_rows(store, rows)
            except Exception:
                with self._lock:  # kept for the next append
                    self._rows[:0] = rows
                raise
            finally:
                store.close()

    def close(self) -> None:
        """Stop the thread and append what is left (the app's shutdown)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        self.flush()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.seconds)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # the store is closing or failing: log, keep the rows
                _LOG.exception("audit rows not appended yet")
