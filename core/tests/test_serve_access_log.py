"""``fedlogin serve`` writes the access log itself (fedlogin.cli.serve.AccessLog): the lines
uvicorn's own access log would write, secrets redacted, one per request."""

from __future__ import annotations

import io
import logging

import httpx
import pytest
from fedlogin.cli.access_log import redact_path
from fedlogin.cli.serve import AccessLog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send
from uvicorn.config import LOGGING_CONFIG
from uvicorn.logging import AccessFormatter


async def ok(request: Request) -> Response:
    return PlainTextResponse("ok", status_code=int(request.headers.get("x-status", "200")))


def uvicorn_line(method: str, path: str, status: int) -> str:
    """What uvicorn's access formatter writes (without colours, as to a file)."""
    formatter = AccessFormatter(LOGGING_CONFIG["formatters"]["access"]["fmt"], use_colors=False)
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:123", method, redact_path(path), "1.1", status),
        None,
    )
    return formatter.format(record) + "\n"


async def served(
    app: AccessLog, path: str, method: str = "GET", status: int = 200
) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 123))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.request(method, path, headers={"x-status": str(status)})


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/login", 200),
        ("/login?next=%2Faccount", 404),
        ("/auth/callback/corp?code=abc&state=xyz&iss=https%3A%2F%2Fidp", 303),
        ("/setup/s3cret-token", 200),
        ("/verify-email/link/s3cret-token", 418),
        ("/caf%C3%A9", 200),
    ],
)
async def test_each_request_is_one_line_as_uvicorn_writes_it(path: str, status: int) -> None:
    stream = io.StringIO()
    app = Starlette(routes=[Route("/{rest:path}", ok)])
    answer = await served(AccessLog(app, stream), path, status=status)
    assert answer.status_code == status
    assert stream.getvalue() == uvicorn_line("GET", path, status)
    assert "s3cret" not in stream.getvalue() and "xyz" not in stream.getvalue()


async def test_a_request_that_fails_before_answering_is_logged_as_500() -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise RuntimeError("boom")

    stream = io.StringIO()
    with pytest.raises(RuntimeError):
        await served(AccessLog(broken, stream), "/login", method="POST")
    assert stream.getvalue() == uvicorn_line("POST", "/login", 500)


async def test_a_closed_stream_loses_the_line_not_the_request() -> None:
    stream = io.StringIO()
    stream.close()
    app = Starlette(routes=[Route("/{rest:path}", ok)])
    answer = await served(AccessLog(app, stream), "/login")
    assert answer.status_code == 200
