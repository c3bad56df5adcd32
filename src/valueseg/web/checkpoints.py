"""DuckDB's checkpoints while the server writes: in a quiet moment, not in an order's way.

DuckDB folds its write-ahead log into the database file (a checkpoint) at the first
commit past its ``checkpoint_threshold`` (16 MiB by default), and that commit waits for
it. At 1M customers a checkpoint takes 0.4 to 1.8 s (the indexes by customer are
written again whole, that of ``transactions`` alone about 0.8 s), and the batch of
posted orders whose commit set it off, with every order posted behind it, waited: about
a hundred orders at 200 a second. A posted order adds about 1.8 KB of log (its line, its
load and its segment changes, staged and then moved: 34.5 MiB for 20,000 orders), so at
the default threshold that happens every 9,000 or so orders.

The server instead raises the threshold to :data:`THRESHOLD` (a commit sets a checkpoint
off every 150,000 or so orders) and checkpoints itself (:class:`Checkpointer`), under the
write lock, in the quietest moment it finds:

- once the log holds :data:`QUIET_BYTES`, when the server has had no request at all for
  :data:`QUIET_S` seconds (:mod:`valueseg.web.traffic`): a checkpoint writes every table
  with an index out again, and reads of a table wait while it is written (a lookup's
  60 to 130 ms a table, a customer's order lines 0.76 s, measured at 1M customers);
- once it holds :data:`BUSY_BYTES` (about 37,000 posted orders) with reads that never
  pause, when no write has come for :data:`QUIET_S` seconds: the reads wait as above.

An order posted meanwhile waits for it, as it waits for any write. A ``CHECKPOINT`` that
fails is logged and tried again at the next quiet moment. A store under writes with no
quiet moment is checkpointed by DuckDB at the threshold. When the server stops, DuckDB
checkpoints as it closes the store; a server killed outright leaves the log, replayed
when the store is next opened (0.5 s for a 64 MiB log at 1M customers).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from valueseg.store import Store
from valueseg.store.web import request_store

__all__ = ["BUSY_BYTES", "QUIET_BYTES", "QUIET_S", "THRESHOLD", "Checkpointer", "log_bytes"]

_LOG = logging.getLogger("valueseg.web")
#: DuckDB's own threshold while the server serves (its ``checkpoint_threshold``).
THRESHOLD: Final = "256MiB"
#: The log the server checkpoints when it has no request (DuckDB's default threshold).
QUIET_BYTES: Final = 16 * 1024 * 1024
#: The log the server checkpoints between writes, with reads going on.
BUSY_BYTES: Final = 64 * 1024 * 1024
#: Seconds without a request (or without a write) that make a quiet moment.
QUIET_S: Final = 2.0


def _always_idle() -> float:
    return math.inf


def log_bytes(db: Path) -> int:
    """The size of the store's write-ahead log (``<file>.wal``; 0 when there is none)."""
    try:
        return db.with_name(db.name + ".wal").stat().st_size
    except OSError:
        return 0


class Checkpointer:
    """A thread that checkpoints ``root``'s database in quiet moments (see the module).

    ``lock``: the server's write lock; ``last_write``: when the last write ended
    (:func:`time.monotonic`); ``idle_s``: the seconds the server has had no request
    (:meth:`valueseg.web.traffic.Traffic.idle_s`; by default, always idle).
    """

    def __init__(
        self,
        root: Store,
        lock: threading.Lock,
        last_write: Callable[[], float],
        idle_s: Callable[[], float] = _always_idle,
        *,
        quiet_bytes: int = QUIET_BYTES,
        busy_bytes: int = BUSY_BYTES,
        quiet_s: float = QUIET_S,
        poll_s: float = 0.5,
    ) -> None:
        self.root, self.lock, self.last_write, self.idle_s = root, lock, last_write, idle_s
        self.quiet_bytes, self.busy_bytes = quiet_bytes, busy_bytes
        self.quiet_s, self.poll_s = quiet_s, poll_s
        self.checkpoints = 0  # how many it ran
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def path(self) -> Path | None:
        """The database file (None: an in-memory store, which has no log)."""
        path = str(self.root.path)
        return None if path == ":memory:" else Path(path)

    def start(self) -> None:
        """Raise DuckDB's threshold and start the thread (nothing for an in-memory store)."""
        if self.path is None or self._thread is not None:
            return
        self.root.con.execute(f"SET GLOBAL checkpoint_threshold = '{THRESHOLD}'")
        self._thread = threading.Thread(target=self._loop, name="valueseg-checkpoint", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the thread (the store checkpoints as it closes)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def due(self) -> bool:
        """Whether the log is long enough and the server quiet long enough: no request
        for ``quiet_s`` (a log of ``quiet_bytes``), or no write (``busy_bytes``)."""
        path = self.path
        if path is None:
            return False
        size = log_bytes(path)
        if size < self.quiet_bytes or time.monotonic() - self.last_write() < self.quiet_s:
            return False
        return size >= self.busy_bytes or self.idle_s() >= self.quiet_s

    def try_checkpoint(self) -> bool:
        """Checkpoint now if :meth:`due` and no write holds the lock; whether it did."""
        if not self.due() or not self.lock.acquire(blocking=False):
            return False
        try:
            if not self.due():  # a write ended between the check and the lock
                return False
            store = request_store(self.root)
            try:
                store.con.execute("CHECKPOINT")
            finally:
                store.close()
        except Exception as exc:  # tried again at the next quiet moment
            _LOG.warning("checkpoint put off: %s", exc)
            return False
        finally:
            self.lock.release()
        self.checkpoints += 1
        return True

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.try_checkpoint()
            except Exception:  # never the server's end: DuckDB checkpoints at its threshold
                _LOG.exception("the quiet-moment checkpoint failed")
