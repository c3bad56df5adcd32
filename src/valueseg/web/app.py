"""The web app: :func:`create_app` builds it over one store.

FastAPI's "bigger applications" layout: one router for the JSON API (:mod:`.api`), one for
the pages (:mod:`.pages`), dependencies for the store and the caller's role
(:mod:`.deps`), one error handler (:mod:`.errors`). ``valueseg serve`` runs it with
uvicorn (:mod:`.serve`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from fastapi import FastAPI

from valueseg.io.pii import tag_personal_columns
from valueseg.store import Store
from valueseg.web.deps import WebState
from valueseg.web.errors import install_handlers
from valueseg.web.lean_orders import LeanOrders
from valueseg.web.traffic import TrafficMeter

__all__ = ["create_app"]

_LOG = logging.getLogger("valueseg.web")
#: Requests handled in worker threads at once (FastAPI runs a plain ``def`` route and its
#: dependencies in anyio's pool, 40 threads by default). The work is mostly Python, which
#: runs one thread at a time: 40 threads taking turns served fewer requests a second than a
#: few, and under a burst the server fell behind for good (BENCHMARKS.md, web API). The
#: requests beyond these wait in the event loop, where waiting costs nothing.
WORKER_THREADS = 8

_DESCRIPTION = """
valueseg's API over one store: runs, segments, customers' scores and recommendations, and
real-time scoring of posted orders. Send `Authorization: Bearer <key>`
(`valueseg keys create --role viewer|analyst|admin`). Every error has one shape:
`{"error": {"status", "code", "message", "field"}}`.
"""


def create_app(
    db: str | Path,
    *,
    keys_required: bool = True,
    local_token: str | None = None,
    lean_orders: bool = True,
) -> FastAPI:
    """The web app (JSON API under ``/v1`` and the pages) over the store ``db``.

    Parameters
    ----------
    db : str or Path
        The DuckDB store; opened for writing (migrated if needed) for the app's lifetime.
    keys_required : bool, default True
        False: every caller is the local admin (``valueseg serve`` on 127.0.0.1 over a
        store without keys).
    local_token : str, optional
        A bearer token that makes its caller the local admin (``valueseg serve`` writes it
        in the file beside the store, for the CLI: :mod:`valueseg.store.server_file`).
    lean_orders : bool, default True
        Plain orders posted by an admin are answered by a lean layer in front of FastAPI's
        routing (:mod:`valueseg.web.lean_orders`); False: by the route, as every other
        request (the layer's tests compare the two).

    Examples
    --------
    >>> app = create_app(":memory:")
    >>> sorted(p for p in app.openapi()["paths"] if p.startswith("/v1/runs"))
    ['/v1/runs', '/v1/runs/{run_id}']
    """
    from valueseg import __version__
    from valueseg.web import api, api_admin, api_export, api_writes, pages

    root = Store(db)
    with root.transaction():  # a store loaded before personal-data tags (schema 4) gets them
        tag_personal_columns(root)
    state = WebState(root, keys_required, local_token)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = WORKER_THREADS
        state.checkpoints.start()  # in quiet moments, not in a posted order's commit
        yield
        job = state.job
        if job is not None and not job.done.is_set():  # the run's results are not written yet
            _LOG.warning("waiting for run %s to finish before stopping", job.run_id)
            await anyio.to_thread.run_sync(job.done.wait)
        state.orders.close()  # the orders posted and not scored yet
        state.staged.close()
        state.settle_orders()  # and those staged, into their tables
        state.reader.shutdown()
        state.audit.close()  # the API's audit rows gathered since the last append
        state.checkpoints.close()
        root.close()

    app = FastAPI(
        title="valueseg",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # Swagger UI and ReDoc load scripts from a CDN: the schema is enough
        redoc_url=None,
    )
    app.state.web = state
    install_handlers(app)
    if lean_orders:
        app.add_middleware(LeanOrders)
    app.add_middleware(TrafficMeter, traffic=state.traffic)  # the outermost: every request
    app.include_router(api.router)
    app.include_router(api_writes.router)
    app.include_router(api_export.router)
    app.include_router(api_admin.router)
    app.include_router(pages.router)
    return app
