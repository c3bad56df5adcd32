"""What every route depends on: the app's state, a store per request, the caller's role.

**Connections.** The server opens the store once, for writing (DuckDB lets one process
write a file; the server is that process while it runs). Every request then reads through
its own connection to that one database (:func:`valueseg.store.web.request_store`, a
DuckDB cursor), closed when the request ends: reads run in parallel, each in its own
transaction, and see what was committed when they started. **Writes** that change what
a customer is (a posted order: ingest, then the rescoring and its segment changes) take
one lock, so one runs at a time; appends to the audit log do not need it (DuckDB appends
from several connections do not conflict), and the API's are gathered and appended
together (:mod:`valueseg.web.audit`). What every request reads and only writes change
(the finished runs, the known keys, the personal-data columns) is kept in memory until
the next write (:mod:`valueseg.web.cache`). Posted orders are written by one thread of
their own, in batches (:mod:`valueseg.web.batcher`), under the same lock, and staged
(:mod:`valueseg.web.staging`): every other write moves them into their tables first.
"""

from __future__ import annotations

import contextlib
import gc
import hmac
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

from valueseg.errors import ValuesegError
from valueseg.store import Store
from valueseg.store.web import LazyStore, request_store
from valueseg.web.audit import AuditBuffer
from valueseg.web.auth import COOKIE, Caller, bearer, identify, role_at_least
from valueseg.web.batcher import OrderBatcher
from valueseg.web.cache import ReadCache
from valueseg.web.checkpoints import Checkpointer
from valueseg.web.realtime import RunModels, load_run_models
from valueseg.web.staging import StagedOrders
from valueseg.web.traffic import Traffic

__all__ = [
    "WRITE_WAIT_S",
    "Admin",
    "Analyst",
    "ApiError",
    "StoreDep",
    "Viewer",
    "WebState",
    "caller_of",
    "get_store",
    "not_found",
    "require",
    "settle_heap",
    "web_state",
]

_LOG = logging.getLogger("valueseg.web")
#: Seconds a short write (an order, a load) waits for the one before it; a run is not
#: waited for (it takes minutes): the write is refused at once with a 409.
WRITE_WAIT_S = 10.0


class ApiError(Exception):
    """An error the API answers with its status, code, message and field."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


@dataclass
class WebState:
    """The app's one store, whether keys are required, the local admin token, the write
    lock (and what holds it), the background run, the loaded runs' estimators and the
    API's audit rows not appended yet."""

    root: Store
    keys_required: bool
    local_token: str | None = None
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    writer: str | None = None
    job: Any = None  # the valueseg.web.jobs.RunJob in progress or last finished
    jobs: dict[int, Any] = field(default_factory=dict)  # run id -> its RunJob
    _models_lock: threading.Lock = field(default_factory=threading.Lock)
    _models: dict[int, RunModels] = field(default_factory=dict)
    audit: AuditBuffer = field(init=False)
    #: The posted orders' batcher: loads and scores them together (valueseg.web.batcher).
    orders: OrderBatcher = field(init=False)
    #: Reads a batch's order lines on a second connection while the batch's own thread
    #: finds its fingerprints (valueseg.io.one_order.check_orders).
    reader: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="valueseg-lines")
    )
    #: The finished runs, known keys and personal-data columns, until the next write.
    cache: ReadCache = field(default_factory=ReadCache)
    #: The posted orders staged and not moved into their tables yet (valueseg.web.staging).
    staged: StagedOrders = field(init=False)
    #: When the last write ended (time.monotonic): the checkpointer waits for quiet.
    last_write: float = field(default_factory=time.monotonic)
    #: The HTTP requests in flight and when the last ended (valueseg.web.traffic).
    traffic: Traffic = field(default_factory=Traffic)
    #: Checkpoints the store in quiet moments (valueseg.web.checkpoints), once started.
    checkpoints: Checkpointer = field(init=False)

    def __post_init__(self) -> None:
        from valueseg.web.events import post_orders  # it scores with this state's models

        self.audit = AuditBuffer(self.root)
        self.orders = OrderBatcher(lambda batch: post_orders(self, batch))
        self.staged = StagedOrders(lambda: request_store(self.root))
        self.checkpoints = Checkpointer(
            self.root, self.write_lock, lambda: self.last_write, self.traffic.idle_s
        )

    def run_models(self, store: Store, run_id: int) -> RunModels:
        """Run ``run_id``'s estimators and rankings, read from ``store`` the first time."""
        with self._models_lock:
            if run_id not in self._models:
                self._models[run_id] = load_run_models(store, run_id)
                settle_heap()
            return self._models[run_id]

    def advance_models(self, store: Store, run_id: int) -> None:
        """Load run ``run_id``'s estimators and drop the older runs' (a run just finished)."""
        try:
            models = {run_id: load_run_models(store, run_id)}
        except ValuesegError as exc:  # loaded (and its error shown) at the next order
            _LOG.warning("run %s's estimators were not loaded: %s", run_id, exc)
            models = {}
        with self._models_lock:
            self._models = models
        self.cache.clear()
        settle_heap()

    def loaded_runs(self) -> list[int]:
        """The runs whose estimators are in memory."""
        with self._models_lock:
            return sorted(self._models)

    def acquire_write(self, what: str, wait: float = WRITE_WAIT_S, *, orders: bool = False) -> None:
        """Take the write lock for ``what``, or answer 409 naming the write holding it.

        A run in progress is not waited for; another short write is, up to ``wait`` s.
        Posted orders staged are moved into their tables first (:mod:`valueseg.web.staging`),
        unless ``orders`` (the batches of posted orders and the moves themselves).
        """
        busy = self.writer is not None and self.writer.startswith("run")
        taken = self.write_lock.acquire(timeout=wait) if wait > 0 and not busy else False
        if not taken and not self.write_lock.acquire(blocking=False):
            holder = self.writer or "another write"
            raise ApiError(
                409,
                "conflict",
                f"The store is busy: {holder} is writing to it, and one write runs at a "
                "time. Try again when it has finished (GET /v1/runs shows a run's status); "
                "reads go on meanwhile.",
            )
        self.writer = what
        if orders:
            return
        try:
            self._move_staged()
        except BaseException:
            self.release_write(clears=False)
            raise
        self.staged.forget_loads()  # this write may load: the next id is read again

    def _move_staged(self) -> None:
        store = LazyStore(self.root)  # opened only when something is staged
        try:
            self.staged.move(store)
        finally:
            store.close()

    def settle_orders(self) -> None:
        """Move every staged order into its tables now, under the write lock (the server
        stopping; a test that reads the tables). Between, the staged orders' own thread
        moves them (valueseg.web.staging)."""
        with self.writing("moving posted orders into their tables", clears=False):
            pass  # taking the lock for a write moves them

    def release_write(self, clears: bool = True) -> None:
        """Give the write lock back (from whichever thread finished the write); ``clears``:
        empty the read cache (False: the write changed nothing it keeps)."""
        self.writer = None
        if clears:
            self.cache.clear()
        self.last_write = time.monotonic()
        self.write_lock.release()

    @contextlib.contextmanager
    def writing(
        self, what: str, wait: float = WRITE_WAIT_S, *, clears: bool = True, orders: bool = False
    ) -> Iterator[None]:
        """Hold the write lock for ``what`` (409 when it cannot be had); ``clears`` as for
        :meth:`release_write`, ``orders`` as for :meth:`acquire_write`."""
        self.acquire_write(what, wait, orders=orders)
        try:
            yield
        finally:
            self.release_write(clears)


def settle_heap() -> None:
    """Keep the objects alive now out of Python's full garbage collections.

    The server holds a run's estimators and its customers' rows for as long as it serves
    the run: a few hundred thousand objects, which every full collection walked, pausing
    every thread for 90 to 180 ms at 1M customers (the slowest posted orders at 200 a
    second were waiting for them). Called once the server has loaded what it keeps (at
    start, and when a run's estimators are loaded): it collects what is garbage, then
    moves what is left to the collector's permanent generation (:func:`gc.freeze`), where
    later collections do not walk it. What was frozen and is dropped later is still freed when
    nothing refers to it; it is unfrozen first, so the run's models a new run replaces
    are collected with it."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def web_state(request: Request) -> WebState:
    """The :class:`WebState` of the app serving ``request``."""
    state: WebState = request.app.state.web
    return state


async def get_store(request: Request) -> AsyncIterator[Store]:
    """A store on a connection of the request's own, closed after it.

    This and the caller's dependencies are ``async``: they only open a DuckDB cursor and
    look a key up (in memory, but for a key's first use), so they run in the event loop
    instead of a worker thread each (a thread's turn costs more than the work). The
    connection is opened at the store's first use (:class:`LazyStore`): a posted order
    whose key is known reads nothing here (opening and closing a connection was a quarter
    of the event loop's time for an order)."""
    store = LazyStore(web_state(request).root)
    try:
        yield store
    finally:
        store.close()


StoreDep = Annotated[Store, Depends(get_store)]


def caller_of(request: Request) -> Caller | None:
    """The caller of ``request``: its bearer key's (or login cookie's) role; None for no
    key, or one unknown or revoked. A known key's role is kept in the server's read cache,
    so a request reads the store here only at its key's first use (on a connection of its
    own). A plain function that the role dependencies (:func:`require`) call, not a
    dependency of its own: FastAPI's solving of each level of dependencies cost more of
    the event loop's time than the lookup itself."""
    state = web_state(request)
    if not state.keys_required:
        return Caller(None, "admin")
    key = bearer(request.headers.get("authorization")) or request.cookies.get(COOKIE)
    if key and state.local_token and hmac.compare_digest(key, state.local_token):
        return Caller(None, "admin")  # the CLI beside the server (valueseg.store.server_file)
    store = LazyStore(state.root)  # opened only when the key is not in the cache
    try:
        return identify(store, key, state.cache)
    finally:
        store.close()


def require(role: str) -> Callable[..., Coroutine[Any, Any, Caller]]:
    """A dependency giving the caller when their role is at least ``role`` (401, 403)."""

    async def dependency(request: Request) -> Caller:
        caller = caller_of(request)
        if caller is None:
            db = web_state(request).root.path
            raise ApiError(
                401,
                "unauthorized",
                "Missing or unknown API key. Send the header 'Authorization: Bearer <key>'; "
                f"an admin creates keys with: valueseg keys create --role viewer --db {db}",
            )
        if not role_at_least(caller.role, role):
            raise ApiError(
                403,
                "forbidden",
                f"This needs the {role} role; the key given is {caller.role}. Ask an admin for "
                f"a key: valueseg keys create --role {role}",
            )
        return caller

    return dependency


Viewer = Annotated[Caller, Depends(require("viewer"))]
Analyst = Annotated[Caller, Depends(require("analyst"))]
Admin = Annotated[Caller, Depends(require("admin"))]


def not_found(what: str, hint: str = "") -> ApiError:
    """A 404 naming what was not found."""
    return ApiError(404, "not_found", f"{what} not found.{' ' + hint if hint else ''}")
