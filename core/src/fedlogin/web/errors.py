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


#: A page's title says what happened: by the error's code where one is common enough to
#: deserve its own words, else by its kind (the HTTP status it maps to).
_TITLES_BY_CODE = {
    "csrf_failed": "Form not accepted",
    "cookies_missing": "Cookies are needed to continue",
    "user_disabled": "Account disabled",
    "too_many_attempts": "Too many attempts",
    "invalid_credentials": "Sign-in failed",
    "version_conflict": "Changed by someone else meanwhile",
    "unknown_preset": "Preset not found",
    "unknown_provider": "Identity provider not found",
}
_TITLES_BY_STATUS = {
    400: "Request not accepted",
    401: "Sign-in required",
    403: "Not allowed",
    404: "Page not found",
    405: "Method not allowed",
    409: "Conflicting change",
    413: "Too large",
    415: "Unsupported content type",
    422: "Some values are not valid",
    429: "Too many requests",
}
_NOT_FOUND_SUFFIX = "_not_found"
#: What the codes of the NotFound errors name, where the code's own words are not enough.
_THINGS = {"provider": "Identity provider", "identity": "Connected account", "token": "API token"}


def page_title(status: int, code: str) -> str:
    """The title of an error page: what happened, in a few words, from its code and status.

    ``user_not_found`` and the like name the missing thing ("User not found"); anything
    without a title of its own is named by its status, 5xx as our fault.
    """
    if code in _TITLES_BY_CODE:
        return _TITLES_BY_CODE[code]
    if code.endswith(_NOT_FOUND_SUFFIX) and code != "not_found":
        thing = code.removesuffix(_NOT_FOUND_SUFFIX)
        return f"{_THINGS.get(thing, thing.replace('_', ' ').capitalize())} not found"
    if status >= 500:
        return "Something went wrong"
    return _TITLES_BY_STATUS.get(status, "Request not accepted")


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
    title = page_title(exc.status, exc.code)
    return error_page(request, exc.status, title, exc.message, hint=exc.hint, code=exc.code)


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
        title = page_title(exc.status_code, code)
        response = error_page(request, exc.status_code, title, message, code=code)
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
