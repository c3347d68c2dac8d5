"""The admin JSON API under ``/api/v1`` (issue 3), one module per resource.

Every route authenticates with :func:`fedlogin.web.admin_auth.require_admin`, reads its body
with :func:`fedlogin.web.api.io.read_json`, and lets :class:`~fedlogin.errors.FedloginError`
propagate: ``fedlogin.web.errors`` turns it into ``{"error": {"code", "message", "fields"}}``.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from fedlogin.web.api import presets


def routes() -> list[BaseRoute]:
    return [*presets.ROUTES]
