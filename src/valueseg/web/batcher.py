"""Posted orders gathered while others are scored, and loaded and scored together.

A posted order is loaded and scored again under the store's one write lock, so orders
wait for each other. Most of an order's cost is fixed (a statement has a cost of its own
whatever it reads; a scikit-learn estimator checks its input whatever its size), so the
orders that arrive while a batch is being scored are taken together as the next batch:
their rows read in a few statements, every estimator applied once to all of them
(:func:`valueseg.web.events.post_orders`). Under light load a batch is one order and
nothing waits; under heavy load the batches grow with it, so more orders a second are
scored at about the same latency.

Each request hands its order to :meth:`OrderBatcher.enqueue` and awaits its own answer
(or error); :meth:`OrderBatcher.submit` waits for it in a thread. A batch holds one order
per customer: a second order of a customer goes into the next batch, so it is scored from
the first's result, as if posted after it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = ["MAX_BATCH", "OrderBatcher", "Pending"]

#: The most orders scored together (a bound on one batch's latency).
MAX_BATCH: Final = 64


@dataclass
class Pending:
    """One posted order waiting for its batch: what was posted, by whom, and its answer."""

    customer_id: str
    order: Any  # the posted EventIn
    caller: Any  # its Caller
    answer: Future[dict[str, Any]] = field(default_factory=Future)


class OrderBatcher:
    """A thread that takes the orders waiting, one per customer, and hands them to
    ``process`` as one batch (see the module).

    ``process`` sets each :class:`Pending`'s answer; an answer it leaves unset gets the
    error it raised.
    """

    def __init__(
        self, process: Callable[[Sequence[Pending]], None], max_batch: int = MAX_BATCH
    ) -> None:
        self.process, self.max_batch = process, max_batch
        self._waiting: list[Pending] = []
        self._ready = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        self.batches = 0  # how many batches were taken (the bench prints their mean size)
        self.orders = 0

    def submit(self, customer_id: str, order: Any, caller: Any) -> dict[str, Any]:
        """Queue an order and wait for its answer (its error raised here)."""
        return self.enqueue(customer_id, order, caller).result()

    def enqueue(self, customer_id: str, order: Any, caller: Any) -> Future[dict[str, Any]]:
        """Queue an order; its answer comes in the future returned (the API awaits it
        without holding a worker thread)."""
        pending = Pending(customer_id, order, caller)
        with self._ready:
            if self._stop:
                raise RuntimeError("the web app is stopping: no order is taken")
            self._waiting.append(pending)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="valueseg-orders", daemon=True
                )
                self._thread.start()
            self._ready.notify()
        return pending.answer

    def waiting(self) -> int:
        """Orders queued and not taken into a batch yet."""
        with self._ready:
            return len(self._waiting)

    def close(self) -> None:
        """Score what is waiting, then stop the thread (the app's shutdown)."""
        with self._ready:
            self._stop = True
            self._ready.notify()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _take(self) -> list[Pending] | None:
        """The next batch (None: stopping with nothing left)."""
        with self._ready:
            while not self._waiting and not self._stop:
                self._ready.wait()
            if not self._waiting:
                return None
            batch: list[Pending] = []
            later: list[Pending] = []
            seen: set[str] = set()
            for pending in self._waiting:
                if pending.customer_id in seen or len(batch) >= self.max_batch:
                    later.append(pending)
                else:
                    seen.add(pending.customer_id)
                    batch.append(pending)
            self._waiting = later
            self.batches += 1
            self.orders += len(batch)
            return batch

    def _loop(self) -> None:
        while (batch := self._take()) is not None:
            try:
                self.process(batch)
            except BaseException as exc:  # every order of the batch gets the error
                for pending in batch:
                    if not pending.answer.done():
                        pending.answer.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
            for pending in batch:
                if not pending.answer.done():
                    pending.answer.set_exception(
                        RuntimeError("the order's batch ended without an answer for it")
                    )
