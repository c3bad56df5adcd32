"""The JSON API's read routes under ``/v1``: runs, segments, customers, data quality.

Roles: runs, segments and data quality are aggregates (``viewer``); a segment's customers
and anything about one customer are customer level (``analyst``), and each such read is
written to the audit log (gathered a moment and appended together: :mod:`.audit`).
Lenses and sort columns are closed lists (the schema says which); a customer id or
segment name is only ever a bound parameter.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool

from valueseg.web.auth import role_at_least
from valueseg.web.deps import Admin, Analyst, StoreDep, Viewer, web_state
from valueseg.web.events import post_browse, queue_order
from valueseg.web.schemas import (
    CustomerOut,
    CustomerPage,
    ErrorBody,
    EventIn,
    EventOut,
    LensName,
    OrdersOut,
    QualityOut,
    RecommendationsOut,
    RunDetail,
    RunSummary,
    SegmentsOut,
    SortName,
)
from valueseg.web.views import (
    customer_view,
    orders_view,
    quality_view,
    recommendations_view,
    run_view,
    runs_view,
    segment_page,
    segments_view,
)

__all__ = ["ERRORS", "router"]

#: The error answers every route may give, documented with their one shape.
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "A request valueseg cannot serve (the message says why)"),
        (401, "Missing or unknown API key"),
        (403, "The key's role is too low"),
        (404, "No such run, segment or customer"),
        (422, "A parameter or body field is invalid (the error names it)"),
    )
}

router = APIRouter(prefix="/v1", responses=ERRORS)

CustomerId = Annotated[str, Path(min_length=1, max_length=200, description="Exact id")]


@router.get("/runs", response_model=list[RunSummary], tags=["runs"])
def get_runs(store: StoreDep, caller: Viewer) -> list[dict[str, Any]]:
    """Every run, newest first: status, as-of date, duration and message."""
    return runs_view(store)


@router.get("/runs/{run_id}", response_model=RunDetail, tags=["runs"])
def get_run(
    run_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    request: Request,
    store: StoreDep,
    caller: Viewer,
) -> dict[str, Any]:
    """One run: parameters, notes, value models' back-tests and learners' leaderboard;
    for a run this server started (``POST /v1/runs``), its progress."""
    out = run_view(store, run_id)
    job = web_state(request).jobs.get(run_id)
    return {**out, "job": None if job is None else job.view()}


@router.get("/segments", response_model=SegmentsOut, tags=["segments"])
def get_segments(
    store: StoreDep,
    caller: Viewer,
    lens: LensName | None = None,
    run: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> dict[str, Any]:
    """The latest finished run's segments (or ``run``'s) in the three lenses (or one):
    size, revenue share, profile and rules."""
    return segments_view(store, lens, run)


@router.get("/segments/{lens}/{name}/customers", response_model=CustomerPage, tags=["segments"])
def get_segment_customers(
    lens: LensName,
    name: Annotated[str, Path(min_length=1, max_length=200)],
    request: Request,
    store: StoreDep,
    caller: Analyst,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    size: Annotated[int, Query(ge=1, le=500)] = 50,
    sort: SortName = "predicted_clv_365d",
    order: Literal["desc", "asc"] = "desc",
) -> dict[str, Any]:
    """A page of a segment's customers with their scores, sorted by an allowed column."""
    out = segment_page(store, lens, name, page, size, sort, order)
    detail = {"run_id": out["run_id"], "page": page, "size": size, "sort": sort, "order": order}
    audit = web_state(request).audit
    audit.add(caller.key_id, caller.role, "list_segment", f"{lens}/{name}", detail)
    return out


@router.get("/customers/{customer_id}", response_model=CustomerOut, tags=["customers"])
def get_customer(
    customer_id: CustomerId, request: Request, store: StoreDep, caller: Analyst
) -> dict[str, Any]:
    """A customer's scores, reasons, segments across runs, real-time changes and
    attributes (personal-data columns for an admin only)."""
    state = web_state(request)
    personal = role_at_least(caller.role, "admin")
    out = customer_view(
        store, customer_id, personal=personal, cache=state.cache, staged=state.staged
    )
    state.audit.add(caller.key_id, caller.role, "read_customer", customer_id)
    return out


@router.get(
    "/customers/{customer_id}/recommendations",
    response_model=RecommendationsOut,
    tags=["customers"],
)
def get_recommendations(
    customer_id: CustomerId, request: Request, store: StoreDep, caller: Analyst
) -> dict[str, Any]:
    """The customer's recommendations in the latest run, with the reason of each."""
    out = recommendations_view(store, customer_id)
    web_state(request).audit.add(caller.key_id, caller.role, "read_recommendations", customer_id)
    return out


@router.get("/customers/{customer_id}/orders", response_model=OrdersOut, tags=["customers"])
def get_orders(
    customer_id: CustomerId,
    request: Request,
    store: StoreDep,
    caller: Analyst,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """The customer's newest orders (returns as rows of their own)."""
    state = web_state(request)
    out = orders_view(store, customer_id, limit, staged=state.staged)
    state.audit.add(caller.key_id, caller.role, "read_orders", customer_id)
    return out


@router.get("/quality", response_model=QualityOut, tags=["data quality"])
def get_quality(store: StoreDep, caller: Viewer) -> dict[str, Any]:
    """The newest loads and the quarantined rows by reason (example rows: admin only)."""
    return quality_view(store, examples=role_at_least(caller.role, "admin"))


@router.post(
    "/events",
    response_model=EventOut,
    tags=["events"],
    responses={409: {"model": ErrorBody, "description": "The same event was loaded before"}},
)
async def post_events(event: EventIn, request: Request, caller: Admin) -> dict[str, Any]:
    """Store an order (or a browse event) as ingest would, and score an order's customer
    again at once with the latest run's estimators: scores before and after, and the
    segment changes (logged in ``segment_changes``)."""
    state = web_state(request)
    queued = queue_order(state, event, caller)
    if queued is not None:  # awaited here: no worker thread waits for the batch
        answer: dict[str, Any] = await asyncio.wrap_future(queued)
        return answer
    return await run_in_threadpool(post_browse, state, event, caller)
