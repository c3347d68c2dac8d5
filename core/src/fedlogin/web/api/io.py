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


async def read_json(request: Request) -> dict[str, Any]:
    """The body as a JSON object, or a 4xx naming what is wrong with it."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise FedloginError(
            "Send the body as JSON with `Content-Type: application/json`.",
            code="unsupported_media_type",
        )
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BYTES:
            raise FedloginError(
                f"The body is larger than {MAX_JSON_BYTES // 1024} KiB.", code="too_large"
            )
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("The body is not valid JSON.", code="invalid_json") from exc
    if not isinstance(value, dict):
        raise BadRequest("The body must be a JSON object.", code="invalid_json")
    return value


def ok(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status)
