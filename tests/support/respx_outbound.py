"""respx for fedlogin's outbound calls only: ``respx.mock(using=OUTBOUND, ...)``.

respx's own mockers patch httpcore (which fedlogin no longer uses) or every
``httpx.AsyncClient`` (which would also catch the tests' ASGI clients talking to the app).
This one patches :meth:`fedlogin.oidc.transport.PinnedTransport.handle_async_request`, the
one place where an outbound request leaves the process: routes answer it, an unmatched request
is an error under ``assert_all_mocked=True``, and a ``pass_through()`` route reaches the real
transport (so the pinned addresses still apply).
"""

from __future__ import annotations

from typing import Any

import httpx
from respx.mocks import AbstractRequestMocker

OUTBOUND = "fedlogin-outbound"


class OutboundMocker(AbstractRequestMocker):
    """Registered with respx under :data:`OUTBOUND` when this module is imported."""

    name = OUTBOUND
    targets = ["fedlogin.oidc.transport.PinnedTransport"]  # noqa: RUF012 - respx's API
    target_methods = ["handle_async_request"]  # noqa: RUF012

    @classmethod
    def to_httpx_request(cls, **kwargs: Any) -> httpx.Request:
        request: httpx.Request = kwargs["request"]
        return request

    @classmethod
    async def from_async_httpx_response(
        cls, httpx_response: httpx.Response, target: Any, **kwargs: Any
    ) -> httpx.Response:
        return httpx_response
