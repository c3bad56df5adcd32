"""The one error handler: every error, one shape.

The API answers ``{"error": {"status", "code", "message", "field"}}``
(:class:`valueseg.web.schemas.ErrorBody`) for its own errors (:class:`ApiError`), FastAPI's
and Starlette's (``HTTPException``, request validation: 422 naming the field), valueseg's
(:class:`~valueseg.errors.ValuesegError`: 400; a store that cannot be opened: 503) and
anything unexpected (500, the details in the server's log only). A page (any path outside
``/v1`` and the schema) gets the same fields as HTML, and a page that needs a key sends
the browser to the login form instead of a 401.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException

from valueseg.errors import StoreError, ValuesegError
from valueseg.web.deps import ApiError
from valueseg.web.templating import templates

__all__ = ["error_response", "install_handlers", "validation_message"]

_LOG = logging.getLogger("valueseg.web")
_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    422: "invalid",
    500: "internal",
    503: "unavailable",
}
_API_PATHS = ("/v1", "/openapi.json")


def _is_page(request: Request) -> bool:
    return not request.url.path.startswith(_API_PATHS)


def error_response(
    request: Request, status: int, code: str, message: str, field: str | None = None
) -> Response:
    """The error as the API's JSON shape, or as a page (a 401 page: the login form)."""
    if _is_page(request):
        if status == 401:
            return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
        context = {"status": status, "code": code, "message": message, "field": field}
        return templates.TemplateResponse(request, "error.html.j2", context, status_code=status)
    body = {"error": {"status": status, "code": code, "message": message, "field": field}}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def _field(loc: tuple[Any, ...]) -> str | None:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:] or parts
    return ".".join(parts) or None


def validation_message(errors: list[Any]) -> tuple[str, str | None]:
    """The message and field of pydantic's first error (and how many more there are)."""
    first = errors[0]
    field = _field(tuple(first.get("loc", ())))
    got = repr(first.get("input"))
    got = got if len(got) <= 80 else got[:77] + "..."
    message = f"Field {field!r}: {first.get('msg', 'invalid value')}. Got {got}."
    if len(errors) > 1:
        message += f" ({len(errors) - 1} more problem(s) in the request.)"
    return message, field


def install_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``."""

    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> Response:
        return error_response(request, exc.status, exc.code, exc.message, exc.field)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        code = _CODES.get(exc.status_code, "error")
        message = str(exc.detail) if exc.detail else code.replace("_", " ")
        if exc.status_code == 404 and message == "Not Found":
            path = request.url.path
            message = f"No such page or endpoint: {path}. The API is described at /openapi.json."
        return error_response(request, exc.status_code, code, message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        message, field = validation_message(list(exc.errors()))
        return error_response(request, 422, "invalid", message, field)

    @app.exception_handler(ValuesegError)
    async def _valueseg(request: Request, exc: ValuesegError) -> Response:
        if isinstance(exc, StoreError):
            return error_response(request, 503, "unavailable", str(exc))
        return error_response(request, 400, "bad_request", str(exc))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        _LOG.exception("unexpected error on %s %s", request.method, request.url.path)
        message = f"Internal error ({type(exc).__name__}); the server's log has the details."
        return error_response(request, 500, "internal", message)
