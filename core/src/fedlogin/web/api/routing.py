"""One Starlette route per resource path, dispatching on the method.

Starlette answers a wrong method with the ``Allow`` header of the *first* route whose path
matched; with one route per method, ``PUT /identity-providers`` would claim that only GET
is allowed. One route per path lists every method the path accepts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Endpoint = Callable[[Request], Awaitable[Response]]


def resource(path: str, handlers: dict[str, Endpoint], *, name: str | None = None) -> Route:
    """A route for ``path`` calling ``handlers[method]`` (HEAD is answered by GET)."""

    async def dispatch(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await handlers[method](request)

    dispatch.__name__ = name or "_".join(handler.__name__ for handler in handlers.values())
    return Route(path, dispatch, methods=list(handlers), name=name)
