"""Every refusal as a clear page or a JSON error with a stable code; never a stack trace.

API routes (``/api/...``) answer ``{"error": {"code", "message", "fields"}}``; everything else
renders ``error.html`` with the message and, where we have one, what to do about it.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from fedlogin.errors import FedloginError

log = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
}


def wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def json_error(
    status: int,
    code: str,
    message: str,
    fields: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message, "fields": dict(fields or {})}
    body.update(extra)
    return JSONResponse({"error": body}, status_code=status)


def error_page(
    request: Request,
    status: int,
    title: str,
    message: str,
    *,
    hint: str | None = None,
    code: str = "error",
) -> Response:
    from fedlogin.web.pages import render

    return render(
        request,
        "error.html",
        {"title": title, "message": message, "hint": hint, "code": code},
        status_code=status,
    )


async def on_fedlogin_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FedloginError)
    if wants_json(request):
        extra = exc.details()
        if exc.hint:
            extra["hint"] = exc.hint
        response = json_error(exc.status, exc.code, exc.message, exc.fields, **extra)
        response.headers.update(exc.headers())
        return response
    return error_page(
        request, exc.status, "That did not work", exc.message, hint=exc.hint, code=exc.code
    )


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else "The request failed."
    if exc.status_code == 404:
        message = "There is nothing at this address."
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow")
        message = f"This address does not accept {request.method}"
        message += f"; it accepts {allowed}." if allowed else "."
    if wants_json(request):
        response: Response = json_error(exc.status_code, code, message)
    else:
        response = error_page(request, exc.status_code, "Not here", message, code=code)
    # Allow (405), WWW-Authenticate (401)...: part of what the status means.
    response.headers.update(exc.headers or {})
    return response


async def on_unexpected_error(request: Request, exc: Exception) -> Response:
    # The details go to the log under an incident id; the user gets the id, never the trace.
    incident = secrets.token_hex(6)
    log.error(
        "unhandled error (incident %s) on %s %s",
        incident,
        request.method,
        request.url.path,
        exc_info=exc,
    )
    message = f"Something went wrong on our side (incident {incident}). Nothing was changed."
    if wants_json(request):
        return json_error(500, "internal_error", message, incident=incident)
    return error_page(request, 500, "Something went wrong", message, code="internal_error")


EXCEPTION_HANDLERS = {
    FedloginError: on_fedlogin_error,
    HTTPException: on_http_error,
    Exception: on_unexpected_error,
}
