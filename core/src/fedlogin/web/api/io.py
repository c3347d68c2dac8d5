"""Reading requests and writing responses the same way on every API route."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from fedlogin.errors import FedloginError

#: Admin API bodies are small; logos have their own, larger cap (fedlogin.store.logos).
MAX_JSON_BYTES = 256 * 1024


class BadRequest(FedloginError):
    code = "bad_request"
    status = 400


class UnsupportedMediaType(FedloginError):
    code = "unsupported_media_type"
    status = 415


class TooLarge(FedloginError):
    code = "too_large"
    status = 413


def media_type(request: Request) -> str:
    """The request's ``Content-Type`` without parameters, lower-cased."""
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_body(request: Request, limit: int, too_large: TooLarge) -> bytes:
    """The raw body, refused with ``too_large`` as soon as it passes ``limit`` bytes.

    A declared ``Content-Length`` over the limit is refused before anything is read; the
    stream is counted too, since a chunked body declares nothing.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    return bytes(body)


async def read_json(request: Request) -> dict[str, Any]:
    """The body as a JSON object, or a 4xx naming what is wrong with it."""
    if media_type(request) != "application/json":
        raise UnsupportedMediaType("Send the body as JSON with `Content-Type: application/json`.")
    body = await read_body(
        request,
        MAX_JSON_BYTES,
        TooLarge(f"The body is larger than {MAX_JSON_BYTES // 1024} KiB."),
    )
    try:
        # NaN and Infinity are not JSON (RFC 8259); Python would accept them.
        value = json.loads(body, parse_constant=_not_json)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("The body is not valid JSON.", code="invalid_json") from exc
    if not isinstance(value, dict):
        raise BadRequest("The body must be a JSON object.", code="invalid_json")
    return value


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def ok(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)
