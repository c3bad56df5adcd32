"""The web app: :func:`create_app` builds it over one store.

FastAPI's "bigger applications" layout: one router for the JSON API (:mod:`.api`), one for
the pages (:mod:`.pages`), dependencies for the store and the caller's role
(:mod:`.deps`), one error handler (:mod:`.errors`). ``valueseg serve`` runs it with
uvicorn (:mod:`.serve`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from valueseg.store import Store
from valueseg.web.deps import WebState
from valueseg.web.errors import install_handlers

__all__ = ["create_app"]

_DESCRIPTION = """
valueseg's API over one store: runs, segments, customers' scores and recommendations, and
real-time scoring of posted orders. Send `Authorization: Bearer <key>`
(`valueseg keys create --role viewer|analyst|admin`). Every error has one shape:
`{"error": {"status", "code", "message", "field"}}`.
"""


def create_app(db: str | Path, *, keys_required: bool = True) -> FastAPI:
    """The web app (JSON API under ``/v1`` and the pages) over the store ``db``.

    Parameters
    ----------
    db : str or Path
        The DuckDB store; opened for writing (migrated if needed) for the app's lifetime.
    keys_required : bool, default True
        False: every caller is the local admin (``valueseg serve`` on 127.0.0.1 over a
        store without keys).

    Examples
    --------
    >>> app = create_app(":memory:")
    >>> sorted(p for p in app.openapi()["paths"] if p.startswith("/v1/runs"))
    ['/v1/runs', '/v1/runs/{run_id}']
    """
    from valueseg import __version__
    from valueseg.web import api, pages

    root = Store(db)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        root.close()

    app = FastAPI(
        title="valueseg",
        version=__version__,
        description=_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # Swagger UI and ReDoc load scripts from a CDN: the schema is enough
        redoc_url=None,
    )
    app.state.web = WebState(root, keys_required)
    install_handlers(app)
    app.include_router(api.router)
    app.include_router(pages.router)
    return app
