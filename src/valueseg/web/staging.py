"""The posted orders the server has staged and not moved into their tables yet.

A batch of posted orders commits its rows (each order's line, its load and the segment
changes it made) into ``posted_orders`` by one cheap statement
(:mod:`valueseg.store.staged`), and :class:`StagedOrders` keeps the same rows in memory
until they move into ``transactions``, ``loads`` and ``segment_changes``. What must see
an order at once reads them here beside the store:

- the next batch: its duplicate checks, its customers' lines and the next load id
  (:func:`valueseg.io.one_order.check_orders` reads them as its ``staged``);
- a customer's lookup and page: whether the customer is known, their orders and their
  segment changes (:func:`valueseg.web.views.customer_view`, ``orders_view``).

**Moves.** A thread of its own moves the rows once the oldest has waited
:data:`MOVE_AFTER_S` (a move of 100 orders takes 10 to 25 ms at 1M customers: the
tables' indexes are kept for each row). It does not take the write lock: the batches go
on beside it and stage more, which stay for the next move (each row has its ``seq``).
Any other write moves what is staged first, under the write lock (:meth:`StagedOrders.move`;
one move at a time), and the server moves the rest when it stops. The other pages (the
overview's totals, the loads on the data-quality page) read the tables and are up to
that long behind.

A reader of both (the store, then this) must not see a move commit in between: it would
count the moved rows twice, or, reading the other way round, miss them.
:meth:`StagedOrders.read` runs such a read again when a move committed during it (a
sequence lock: the counter is odd from just before a move's commit until its rows are
dropped here).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from valueseg.store import Store
from valueseg.store.many_customers import next_load_id
from valueseg.store.staged import move_staged, stage_rows, staged_top

__all__ = ["MOVE_AFTER_S", "StagedOrders"]

_LOG = logging.getLogger("valueseg.web")
#: Seconds the oldest staged order waits before the staged rows move into their tables.
MOVE_AFTER_S: Final = 0.5
_T = TypeVar("_T")


@dataclass(frozen=True)
class _Staged:
    """One staged order (its line as stored, with its ``load`` row) or segment change,
    with the ``seq`` of its batch's last row."""

    seq: int
    row: dict[str, Any]


class StagedOrders:
    """The staged rows in memory, by customer and fingerprint, and the thread that
    moves them (see the module). ``connect``: a new connection to the server's store."""

    def __init__(
        self, connect: Callable[[], Store] | None = None, move_after: float = MOVE_AFTER_S
    ) -> None:
        self.connect, self.move_after = connect, move_after
        self._lock = threading.Lock()  # the rows here
        self._moving = threading.Lock()  # one move at a time
        self._wake = threading.Condition()
        self._mover: threading.Thread | None = None
        self._stop = False
        self._moves = 0  # odd while a move commits and its rows are dropped here
        self._seq: int | None = None  # the newest staged row's seq (None: not read yet)
        self._next_load: int | None = None
        self._lines: dict[str, list[_Staged]] = {}
        self._prints: dict[str, _Staged] = {}
        self._changes: dict[str, list[_Staged]] = {}
        self._batches: dict[int, float] = {}  # batch's last seq -> when staged, oldest first

    # -- writing (the batch thread, under the write lock) ---------------------------------
    def next_loads(self, store: Store, count: int) -> int:
        """The first of ``count`` load ids for a batch's orders (the server is the one
        writer: after :meth:`forget_loads` the next is read from the store again)."""
        if self._next_load is None:
            self._next_load = next_load_id(store)
        first = self._next_load
        self._next_load += count
        return first

    def forget_loads(self) -> None:
        """Read the next load id from the store again (another write may have loaded)."""
        self._next_load = None

    def stage(
        self,
        store: Store,
        lines: Sequence[dict[str, Any]],
        run_id: int | None,
        changed: Sequence[tuple[str, str, str | None, str | None, str]],
    ) -> None:
        """Commit a batch's ``lines`` (as stored, each with its ``load`` row) and the
        segment changes ``changed`` ``(customer_id, lens, before, after, cause)`` it made
        under run ``run_id`` to ``posted_orders``, then keep them here. Nothing is kept
        when the commit fails (the load ids are read again)."""
        now = datetime.now(UTC).replace(tzinfo=None)
        changes = [
            {"changed_at": now, "run_id": run_id, "customer_id": customer, "lens": lens}
            | {"before_value": before, "after_value": after, "cause": cause}
            for customer, lens, before, after, cause in (changed if run_id is not None else ())
        ]
        seq = staged_top(store) if self._seq is None else self._seq
        rows: list[tuple[int, str, dict[str, Any]]] = []
        for line in lines:
            stored = {k: v for k, v in line.items() if k != "load"}
            rows += [(seq + 1, "transactions", stored), (seq + 2, "loads", line["load"])]
            seq += 2
        for change in changes:
            seq += 1
            rows.append((seq, "segment_changes", change))
        try:
            stage_rows(store, rows)
        except BaseException:
            self._next_load = None
            raise
        if not rows:
            return
        with self._lock:
            self._seq = seq
            self._batches[seq] = time.monotonic()
            for line in lines:
                kept = _Staged(seq, line)
                self._lines.setdefault(str(line["customer_id"]), []).append(kept)
                self._prints.setdefault(str(line["load"]["fingerprint"]), kept)
            for change in changes:
                kept = _Staged(seq, change)
                self._changes.setdefault(str(change["customer_id"]), []).append(kept)
        self._start_mover()

    def _due_in(self) -> float | None:
        """Seconds until the oldest staged batch has waited :attr:`move_after` (None:
        nothing staged)."""
        with self._lock:
            oldest = next(iter(self._batches.values()), None)
        return None if oldest is None else oldest + self.move_after - time.monotonic()

    # -- moving ---------------------------------------------------------------------------
    def move(self, store: Store) -> int:
        """Move what is staged now into its tables (one move at a time; batches may stage
        more meanwhile, which stays); the number of rows moved. On an error nothing moved
        and everything stays staged."""
        with self._moving:
            with self._lock:
                upto = self._seq
                if upto is None or not self._batches:
                    return 0
            committing = False

            def before_commit() -> None:
                nonlocal committing
                with self._lock:
                    self._moves += 1
                committing = True

            try:
                moved = move_staged(store, upto, before_commit)
                with self._lock:
                    self._drop(upto)
            finally:
                if committing:
                    with self._lock:
                        self._moves += 1
            return moved

    def _drop(self, upto: int) -> None:
        """Forget the rows moved (``seq <= upto``); the caller holds ``_lock``."""
        for group in (self._lines, self._changes):
            for key in list(group):
                left = [s for s in group[key] if s.seq > upto]
                if left:
                    group[key] = left
                else:
                    del group[key]
        self._prints = {f: s for f, s in self._prints.items() if s.seq > upto}
        self._batches = {seq: at for seq, at in self._batches.items() if seq > upto}

    def _start_mover(self) -> None:
        with self._wake:
            if self._mover is None and self.connect is not None and not self._stop:
                self._mover = threading.Thread(
                    target=self._move_when_due, name="valueseg-mover", daemon=True
                )
                self._mover.start()
            self._wake.notify()

    def _move_when_due(self) -> None:
        connect = self.connect
        if connect is None:  # started only with a way to connect
            return
        while True:
            with self._wake:
                wait = self._due_in()
                if not self._stop and (wait is None or wait > 0):
                    self._wake.wait(wait)
                if self._stop:
                    return
            wait = self._due_in()
            if wait is None or wait > 0:
                continue
            try:
                store = connect()
                try:
                    self.move(store)
                finally:
                    store.close()
            except Exception:  # tried again at the next due moment
                _LOG.exception("the staged posted orders were not moved; trying again")
                time.sleep(self.move_after)

    def close(self) -> None:
        """Stop the moving thread (the server moves what is left itself)."""
        with self._wake:
            self._stop = True
            self._wake.notify()
            mover = self._mover
        if mover is not None:
            mover.join()

    # -- reading (any thread) -------------------------------------------------------------
    def read(self, reader: Callable[[], _T]) -> _T:
        """``reader()`` (which reads the store and this), run again until no move
        committed during it."""
        while True:
            moves = self._moves
            if moves % 2:
                time.sleep(0.001)
                continue
            got = reader()
            if self._moves == moves:
                return got

    def loads_of(self, fingerprints: Sequence[str]) -> dict[str, int]:
        """Fingerprint -> the staged load with it."""
        with self._lock:
            found = {f: self._prints[f] for f in fingerprints if f in self._prints}
        return {f: int(s.row["load_id"]) for f, s in found.items()}

    def lines_of(
        self, customers: Sequence[str], keys: Sequence[str], columns: Sequence[str]
    ) -> tuple[set[tuple[Any, ...]], dict[str, list[tuple[Any, ...]]]]:
        """The staged lines' de-duplication ``keys`` and each customer's staged lines
        (``columns``), in the order they were staged."""
        found: set[tuple[Any, ...]] = set()
        lines: dict[str, list[tuple[Any, ...]]] = {}
        with self._lock:
            for customer in customers:
                for staged in self._lines.get(customer, []):
                    found.add(tuple(staged.row.get(k) for k in keys))
                    row = tuple(staged.row.get(c) for c in columns)
                    lines.setdefault(customer, []).append(row)
        return found, lines

    def orders_of(self, customer: str) -> list[dict[str, Any]]:
        """The customer's staged lines, as stored."""
        with self._lock:
            return [
                {k: v for k, v in s.row.items() if k != "load"}
                for s in self._lines.get(customer, [])
            ]

    def changes_of(self, customer: str) -> list[dict[str, Any]]:
        """The customer's staged segment changes, oldest first."""
        with self._lock:
            return [dict(s.row) for s in self._changes.get(customer, [])]
