"""Server-rendered pages: one Jinja2 environment, one ``render`` used by every route."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.templating import Jinja2Templates

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
# The templates ship with the package: checking each file's modification time at every render
# (two stat calls per page) costs about a fifth of rendering the login page.
TEMPLATES.env.auto_reload = False

#: Pages never change behaviour on framing, sniffing or referrers; a strict policy by default.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self' https: http://127.0.0.1:* http://localhost:*"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> Response:
    values = {"csrf_token": getattr(request.state, "csrf_token", "")}
    values.update(context or {})
    return TEMPLATES.TemplateResponse(
        request, template, values, status_code=status_code, headers=PAGE_HEADERS
    )


def render_text(template: str, context: dict[str, Any]) -> str:
    """A template as :func:`render` renders it, but without the request: for a page kept and
    served again (the login page), which must not depend on whoever asked first. A template
    that reads ``request`` fails here instead of serving one visitor's request to another."""
    return TEMPLATES.get_template(template).render(context)


_PAGE_RAW_HEADERS = [
    (name.lower().encode(), value.encode()) for name, value in PAGE_HEADERS.items()
]


class KeptPage:
    """A page rendered once and served to many visitors, one value (a CSRF token) filled in
    where ``slot`` stands; its responses carry :func:`render`'s headers, then ``extra_headers``
    (lower-case names)."""

    def __init__(self, text: str, slot: str, extra_headers: list[tuple[bytes, bytes]]) -> None:
        self._parts = text.encode().split(slot.encode())
        self._extra_headers = extra_headers

    def response(self, value: str) -> Response:
        body = value.encode().join(self._parts)
        headers = [
            *_PAGE_RAW_HEADERS,
            (b"content-length", str(len(body)).encode()),
            (b"content-type", b"text/html; charset=utf-8"),
            *self._extra_headers,
        ]
        return _FilledPage(body, headers)


class _FilledPage(HTMLResponse):
    """A :class:`KeptPage`'s response: body and headers made already, nothing to encode."""

    def __init__(self, body: bytes, raw_headers: list[tuple[bytes, bytes]]) -> None:
        self.status_code = 200
        self.background = None
        self.body = body
        self.raw_headers = raw_headers
