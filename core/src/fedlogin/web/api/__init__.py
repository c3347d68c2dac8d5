"""The admin JSON API under ``/api/v1`` (issue 3), one module per resource.

Each module exports ``ROUTES`` (Starlette routes, paths relative to ``/api/v1``) and
``OPERATIONS`` (their OpenAPI description, :class:`~fedlogin.web.api.openapi.Operation`).
Every route authenticates with :func:`fedlogin.web.admin_auth.require_admin`, reads its body
with :func:`fedlogin.web.api.io.read_json`, and lets :class:`~fedlogin.errors.FedloginError`
propagate: ``fedlogin.web.errors`` turns it into ``{"error": {"code", "message", "fields"}}``.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from fedlogin.web.api import (
    audit,
    brands,
    connection,
    openapi,
    outbox,
    presets,
    provider_logos,
    providers,
    settings,
    sign_in_events,
    users,
)
from fedlogin.web.api.openapi import Operation

#: Add a module here to publish its routes and its OpenAPI operations.
MODULES = (
    presets,
    providers,
    provider_logos,
    connection,
    settings,
    brands,
    audit,
    sign_in_events,
    users,
    outbox,
)


def operations() -> list[Operation]:
    return [operation for module in MODULES for operation in module.OPERATIONS]


def routes() -> list[BaseRoute]:
    return [
        Route("/openapi.json", openapi.openapi_endpoint(operations()), methods=["GET"]),
        *(route for module in MODULES for route in module.ROUTES),
    ]
