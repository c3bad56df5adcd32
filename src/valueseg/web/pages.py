"""The server-rendered pages: plain HTML forms, no script, one small stylesheet.

Each page gathers its data with :mod:`valueseg.web.views` (the API's own readers) under
the same roles as the API; a page that needs a key sends the browser to ``/login``, where
the key is posted once and kept in an HttpOnly, SameSite=Lax cookie.
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from valueseg.actions.experiments import METRICS
from valueseg.errors import ValuesegError
from valueseg.store import Store
from valueseg.store.web import SORTS, write_audit
from valueseg.web.auth import COOKIE, Caller, identify, role_at_least
from valueseg.web.charts import OVERVIEW, RUN, report_html, run_charts
from valueseg.web.deps import Admin, Analyst, ApiError, StoreDep, Viewer, WebState, web_state
from valueseg.web.errors import validation_message
from valueseg.web.events import post_event
from valueseg.web.experiments import ExperimentForm, design_for_segment
from valueseg.web.exports import MEDIA_TYPES, export_refusal
from valueseg.web.schemas import EventIn, LensName, SortName
from valueseg.web.templating import templates
from valueseg.web.views import (
    customer_view,
    orders_view,
    overview_view,
    quality_view,
    recommendations_view,
    run_view,
    runs_view,
    segment_page,
    segments_view,
)

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_LENS_TITLES = {
    "rfm": "RFM segments",
    "value_tier": "Value tiers",
    "cluster": "Behavioural clusters",
}
_CSS = resources.files("valueseg.web").joinpath("static", "style.css").read_bytes()


def _page(request: Request, name: str, caller: Caller | None, **context: Any) -> Response:
    context |= {
        "caller": caller,
        "keys_required": web_state(request).keys_required,
        "lens_titles": _LENS_TITLES,
    }
    return templates.TemplateResponse(request, name, context)


@router.get("/static/style.css")
def stylesheet() -> Response:
    return Response(_CSS, media_type="text/css", headers={"Cache-Control": "max-age=3600"})


@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    if not web_state(request).keys_required:
        return RedirectResponse("/", status_code=303)
    return _page(request, "login.html.j2", None, next=_local(next), message=None)


def _local(path: str) -> str:
    """``path`` when it is a path of this site, else ``/`` (no open redirect)."""
    return path if path.startswith("/") and not path.startswith("//") else "/"


@router.post("/login")
def login(
    request: Request,
    store: StoreDep,
    key: Annotated[str, Form(max_length=200)],
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    if identify(store, key) is None:
        message = "Unknown or revoked key. Check it, or ask an admin for a new one."
        response = _page(request, "login.html.j2", None, next=_local(next), message=message)
        response.status_code = 401
        return response
    response = RedirectResponse(_local(next), status_code=303)
    secure = request.url.scheme == "https"
    response.set_cookie(COOKIE, key, httponly=True, samesite="lax", secure=secure)
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/")
def overview(request: Request, store: StoreDep, caller: Viewer) -> Response:
    view = overview_view(store)
    drawn = [] if view["run_id"] is None else _drawn(store, view["run_id"], OVERVIEW)
    return _page(request, "overview.html.j2", caller, chart_sections=drawn, **view)


def _drawn(store: Store, run_id: int, keys: tuple[str, ...]) -> list[Any]:
    """The report's sections ``keys`` of a run for a page; none when they cannot be drawn
    (the page still shows its tables)."""
    try:
        return run_charts(store, run_id, keys)
    except ValuesegError:
        return []


@router.get("/segments")
def segments(request: Request, store: StoreDep, caller: Viewer) -> Response:
    return _page(request, "segments.html.j2", caller, **segments_view(store))


@router.get("/segments/{lens}/{name}")
def segment(
    request: Request,
    lens: LensName,
    name: str,
    store: StoreDep,
    caller: Viewer,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    sort: SortName = "predicted_clv_365d",
    order: Literal["desc", "asc"] = "desc",
) -> Response:
    context = _segment_context(store, caller, lens, name, page, sort, order)
    return _page(request, "segment.html.j2", caller, **context)


def _segment_context(
    store: Any, caller: Caller, lens: str, name: str, page: int = 1,
    sort: str = "predicted_clv_365d", order: str = "desc",
) -> dict[str, Any]:  # fmt: skip
    data = segment_page(store, lens, name, page, 50, sort, order)
    customers: dict[str, Any] | None = None
    if role_at_least(caller.role, "analyst"):
        customers = data
        detail = {"run_id": data["run_id"], "page": page, "sort": sort, "order": order}
        write_audit(store, caller.key_id, caller.role, "list_segment", f"{lens}/{name}", detail)
    context = {k: data[k] for k in ("run_id", "lens", "segment", "sort", "order", "profile")}
    return {
        **context,
        "customers": customers,
        "sorts": list(SORTS),
        "export_refusal": export_refusal(caller),
        "can_design": role_at_least(caller.role, "admin"),
        "formats": list(MEDIA_TYPES),
        "metrics": list(METRICS),
    }


@router.post("/segments/{lens}/{name}/experiment")
def design(
    request: Request,
    lens: LensName,
    name: str,
    store: StoreDep,
    caller: Admin,
    form: Annotated[ExperimentForm, Form()],
) -> Response:
    context = _segment_context(store, caller, lens, name)
    try:
        context["design"] = design_for_segment(web_state(request), store, caller, name, form)
    except ApiError as exc:
        context["design_error"] = exc.message
    context["form"] = form
    return _page(request, "segment.html.j2", caller, **context)


@router.get("/customers")
def customer(
    request: Request,
    store: StoreDep,
    caller: Analyst,
    id: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    context = _customer_context(web_state(request), store, caller, id)
    return _page(request, "customer.html.j2", caller, **context)


def _customer_context(
    state: WebState,
    store: Any,
    caller: Caller,
    customer_id: str | None,
    message: str | None = None,
) -> dict[str, Any]:
    context: dict[str, Any] = {"customer_id": customer_id, "customer": None, "message": message}
    if not customer_id:
        return context
    try:
        personal = role_at_least(caller.role, "admin")
        context["customer"] = customer_view(
            store, customer_id, personal=personal, staged=state.staged
        )
        context["orders"] = orders_view(store, customer_id, staged=state.staged)["orders"]
        context["recommendations"] = _recommendations(store, customer_id)
    except ApiError as exc:
        context["message"] = exc.message
        return context
    write_audit(store, caller.key_id, caller.role, "read_customer", customer_id)
    context["can_post"] = role_at_least(caller.role, "admin")
    context["now"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    return context


def _recommendations(store: Any, customer_id: str) -> list[dict[str, Any]]:
    try:
        recommendations: list[dict[str, Any]] = recommendations_view(store, customer_id)[
            "recommendations"
        ]
    except ApiError:  # no finished run yet
        return []
    return recommendations


@router.post("/customers/{customer_id}/orders")
def post_order(
    request: Request,
    customer_id: str,
    store: StoreDep,
    caller: Admin,
    timestamp: Annotated[str, Form(max_length=64)],
    amount: Annotated[str, Form(max_length=64)],
    order_id: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    posted, message = None, None
    try:
        event = EventIn(
            customer_id=customer_id,
            timestamp=timestamp,
            amount=_amount(amount),
            order_id=order_id or None,
        )
        posted = post_event(web_state(request), event, caller)
    except ValidationError as exc:
        message = validation_message(list(exc.errors()))[0]
    except ApiError as exc:
        message = exc.message
    context = _customer_context(web_state(request), store, caller, customer_id, message)
    return _page(request, "customer.html.j2", caller, posted=posted, **context)


def _amount(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ApiError(
            422, "invalid", f"Field 'amount' must be a number. Got {text!r}.", "amount"
        ) from None


@router.get("/runs")
def runs(request: Request, store: StoreDep, caller: Viewer) -> Response:
    return _page(request, "runs.html.j2", caller, runs=runs_view(store))


@router.get("/runs/{run_id}")
def run(request: Request, run_id: int, store: StoreDep, caller: Viewer) -> Response:
    view = run_view(store, run_id)
    drawn = _drawn(store, run_id, RUN)
    return _page(request, "run.html.j2", caller, run=view, chart_sections=drawn)


@router.get("/runs/{run_id}/report")
def run_report(run_id: int, store: StoreDep, caller: Analyst) -> Response:
    """The run's whole HTML report, as ``valueseg report --run N`` writes it (its example
    customers are customer-level: analyst and up); audited."""
    run_view(store, run_id)  # 404 for an unknown run
    html = report_html(store, run_id)
    write_audit(store, caller.key_id, caller.role, "report", None, {"run_id": run_id})
    return HTMLResponse(html)


@router.get("/quality")
def quality(request: Request, store: StoreDep, caller: Viewer) -> Response:
    examples = role_at_least(caller.role, "admin")
    return _page(request, "quality.html.j2", caller, **quality_view(store, examples=examples))
