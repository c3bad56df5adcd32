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

The rows move (:meth:`StagedOrders.move`, under the write lock) once the oldest has waited
:data:`MOVE_AFTER_S`, before any other write, and when the server stops. The other pages
(the overview's totals, the loads on the data-quality page) read the tables and are up
to that long behind.

A reader of both (the store, then this) must not see a move in between: it would count
the moved rows twice, or, reading the other way round, miss them. :meth:`StagedOrders.read`
runs such a read again when a move ran during it (a sequence lock: the counter is odd
while rows move).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from valueseg.store import Store
from valueseg.store.many_customers import next_load_id
from valueseg.store.staged import move_staged, stage_rows, staged_top

__all__ = ["MOVE_AFTER_S", "StagedOrders"]

#: Seconds the oldest staged order waits before the staged rows move into their tables.
MOVE_AFTER_S: Final = 0.5
_T = TypeVar("_T")


class StagedOrders:
    """The staged rows in memory, by customer and fingerprint (see the module)."""

    def __init__(self, move_after: float = MOVE_AFTER_S) -> None:
        self.move_after = move_after
        self._lock = threading.Lock()
        self._moves = 0  # odd while rows move
        self._seq: int | None = None  # the newest staged row's seq (None: not read yet)
        self._next_load: int | None = None
        self._lines: dict[str, list[dict[str, Any]]] = {}
        self._prints: dict[str, int] = {}
        self._changes: dict[str, list[dict[str, Any]]] = {}
        self._oldest: float | None = None  # when the oldest staged row was staged

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
        with self._lock:
            self._seq = seq
            for line in lines:
                self._lines.setdefault(str(line["customer_id"]), []).append(line)
                self._prints.setdefault(str(line["load"]["fingerprint"]), line["load_id"])
            for change in changes:
                self._changes.setdefault(str(change["customer_id"]), []).append(change)
            if self._oldest is None and rows:
                self._oldest = time.monotonic()

    @property
    def waiting(self) -> int:
        """How many orders are staged."""
        with self._lock:
            return sum(len(lines) for lines in self._lines.values())

    def due(self) -> bool:
        """Whether the oldest staged row has waited :attr:`move_after` seconds."""
        oldest = self._oldest
        return oldest is not None and time.monotonic() - oldest >= self.move_after

    def move(self, store: Store) -> int:
        """Move what is staged into its tables (the caller holds the write lock); the
        number of rows moved. On an error nothing moved and everything stays staged."""
        with self._lock:
            if self._oldest is None:
                return 0
            upto = self._seq
            self._moves += 1
        try:
            moved = move_staged(store, upto)
            with self._lock:
                self._lines, self._prints, self._changes = {}, {}, {}
                self._oldest = None
        finally:
            with self._lock:
                self._moves += 1
        return moved

    # -- reading (any thread) -------------------------------------------------------------
    def read(self, reader: Callable[[], _T]) -> _T:
        """``reader()`` (which reads the store and this), run again until no move ran
        during it."""
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
            return {f: self._prints[f] for f in fingerprints if f in self._prints}

    def lines_of(
        self, customers: Sequence[str], keys: Sequence[str], columns: Sequence[str]
    ) -> tuple[set[tuple[Any, ...]], dict[str, list[tuple[Any, ...]]]]:
        """The staged lines' de-duplication ``keys`` and each customer's staged lines
        (``columns``), in the order they were staged."""
        found: set[tuple[Any, ...]] = set()
        lines: dict[str, list[tuple[Any, ...]]] = {}
        with self._lock:
            for customer in customers:
                for line in self._lines.get(customer, []):
                    found.add(tuple(line.get(k) for k in keys))
                    lines.setdefault(customer, []).append(tuple(line.get(c) for c in columns))
        return found, lines

    def orders_of(self, customer: str) -> list[dict[str, Any]]:
        """The customer's staged lines, as stored."""
        with self._lock:
            return [
                {k: v for k, v in line.items() if k != "load"}
                for line in self._lines.get(customer, [])
            ]

    def changes_of(self, customer: str) -> list[dict[str, Any]]:
        """The customer's staged segment changes, oldest first."""
        with self._lock:
            return list(self._changes.get(customer, []))
