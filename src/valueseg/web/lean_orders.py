"""A plain order posted to ``POST /v1/events``, answered by a lean ASGI layer.

At 200 posted orders a second the event loop's share of an order (FastAPI's routing, the
solving of its dependencies, the validation of the answer against its model before it is
serialised) held the interpreter about as long as the order's batch did, and the
interpreter runs one thread at a time (docs/web.md, "Speed"). This layer, one of the
app's middlewares, answers the common case itself with the same pieces the route uses:

- the caller from :func:`~valueseg.web.deps.caller_of` (an admin's key, as the route
  requires);
- the body parsed as JSON and validated by :class:`~valueseg.web.schemas.EventIn` as
  FastAPI validates it (from the parsed object);
- the order queued by :func:`~valueseg.web.events.queue_order` for the server's batcher;
- the answer validated by :class:`~valueseg.web.schemas.EventOut` and serialised to JSON
  as FastAPI serialises a route's ``response_model``;
- an error of the batch answered by the app's own exception handlers (one shape), an
  unexpected one raised to the app's outermost middleware (500), as from the route.

Anything else (another path or method, no key or a lesser role, a body that is not JSON
or does not validate, a browse event, an order without its amount, a body over 64 KiB)
goes on to FastAPI with the body as read, and is answered there as before: every refusal
keeps the route's wording. The route stays for the OpenAPI schema and those cases.
"""

from __future__ import annotations

import asyncio
import json
from typing import Final

from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from valueseg.web.auth import Caller, role_at_least
from valueseg.web.deps import caller_of, web_state
from valueseg.web.events import queue_order
from valueseg.web.schemas import EventIn, EventOut

__all__ = ["EVENTS_PATH", "LeanOrders"]

#: The path this layer answers (POST only).
EVENTS_PATH: Final = "/v1/events"
#: A larger body is left to FastAPI (an order is a few hundred bytes).
_MAX_BODY: Final = 64 * 1024
_ANSWER: Final = TypeAdapter(EventOut)


class LeanOrders:
    """The middleware (see the module): ``app`` is the rest of the app's stack."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != EVENTS_PATH:
            await self.app(scope, receive, send)
            return
        messages, whole = await _read(receive)
        if whole:
            body = b"".join(m.get("body", b"") for m in messages)
            response = await _answer(Request(scope), body)
            if response is not None:
                await response(scope, receive, send)
                return
        await self.app(scope, _replay(messages, receive), send)


async def _answer(request: Request, body: bytes) -> Response | None:
    """The answer to a plain order posted by an admin with ``body``; None: FastAPI's
    route answers it (see the module)."""
    try:
        event, caller = _order_of(request, body)
    except Exception:  # the route answers it, with its own wording (a store that cannot
        return None  # be read to find the key: 503 there, not 500 here)
    if event is None or caller is None:
        return None
    try:
        queued = queue_order(web_state(request), event, caller)
        if queued is None:  # pragma: no cover - an order with its amount is always queued
            return None
        out = await asyncio.wrap_future(queued)
        content = _ANSWER.dump_json(_ANSWER.validate_python(out, from_attributes=True))
    except Exception as exc:  # the batch's error: the app's handler for its type answers
        return await _handled(request, exc)
    return Response(content=content, media_type="application/json")


def _order_of(request: Request, body: bytes) -> tuple[EventIn | None, Caller | None]:
    """The plain order in ``body`` and its admin caller; (None, None) where the route is
    to answer (see the module). Raises what reading the caller's key or the body raised
    (not JSON, not UTF-8, nested too deep, not a valid event)."""
    if _media_type(request.headers.get("content-type")) != "application/json":
        return None, None
    caller = caller_of(request)
    if caller is None or not role_at_least(caller.role, "admin"):
        return None, None
    event = EventIn.model_validate(json.loads(body))
    if event.event_type is not None or event.amount is None:
        return None, None
    return event, caller


def _media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


async def _read(receive: Receive) -> tuple[list[Message], bool]:
    """The request's messages up to its whole body: (messages, True), or (those read,
    False) at a disconnect or past :data:`_MAX_BODY`."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, False
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            return messages, True
        if size > _MAX_BODY:
            return messages, False


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """``receive`` that gives ``messages`` again first."""
    waiting = list(messages)

    async def replayed() -> Message:
        return waiting.pop(0) if waiting else await receive()

    return replayed


async def _handled(request: Request, exc: Exception) -> Response:
    """The response of the app's exception handler for ``exc``'s type (the nearest in its
    class hierarchy), as FastAPI's exception middleware gives it; an error without one
    (unexpected) is raised again, for the app's outermost middleware to answer (500) and
    report, as from the route."""
    handlers = request.app.exception_handlers
    for kind in type(exc).__mro__:
        if kind is Exception:
            break
        handler = handlers.get(kind)
        if handler is not None:
            got = handler(request, exc)
            response: Response = await got if asyncio.iscoroutine(got) else got
            return response
    raise exc
