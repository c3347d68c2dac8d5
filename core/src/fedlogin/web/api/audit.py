"""``/api/v1/audit-log``: who changed which provider, setting, brand or credential, and when.

Newest first. Pages are cut by id, not offset, so that entries written while an admin
pages through do not shift the pages: ``next_before`` of one page is ``before`` of the next
(``null`` on the last page). Snapshots never hold a secret (fedlogin.store.audit).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fedlogin.store import audit
from fedlogin.store.tables import AuditEntry
from fedlogin.web.admin_auth import require_admin
from fedlogin.web.api.io import ok
from fedlogin.web.api.openapi import Operation
from fedlogin.web.api.params import integer, query
from fedlogin.web.context import app_context

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_MAX_ID = 2**63 - 1


def entry_fields(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "at": entry.at.isoformat(),
        "actor": entry.actor,
        "action": entry.action,
        "target_type": entry.target_type,
        "target_id": entry.target_id,
        "before": entry.before,
        "after": entry.after,
    }


async def audit_log(request: Request) -> Response:
    await require_admin(request)
    params = query(request, ["limit", "before", "target_type", "target_id"])
    limit = integer(params, "limit", default=DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
    before = integer(params, "before", default=None, minimum=1, maximum=_MAX_ID)
    assert limit is not None

    def load(session: Session) -> list[dict[str, Any]]:
        rows = audit.entries(
            session,
            target_type=params.get("target_type"),
            target_id=params.get("target_id"),
            before_id=before,
            limit=limit,
        )
        return [entry_fields(row) for row in rows]

    entries = await app_context(request).transaction(load)
    full = len(entries) == limit
    return ok({"entries": entries, "next_before": entries[-1]["id"] if full else None})


ROUTES = [Route("/audit-log", audit_log, methods=["GET"])]

ENTRY = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "at": {"type": "string", "format": "date-time"},
        "actor": {"type": "string"},
        "action": {"type": "string", "examples": ["identity_provider.update"]},
        "target_type": {"type": "string"},
        "target_id": {"type": "string"},
        "before": {"type": ["object", "null"]},
        "after": {"type": ["object", "null"]},
    },
}

OPERATIONS = [
    Operation(
        "GET",
        "/audit-log",
        "Admin changes, newest first",
        "audit-log",
        query={
            "limit": f"Entries per page, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT}).",
            "before": "Only entries with a smaller id: the previous page's next_before.",
            "target_type": "identity_provider, brand, account_settings, admin_user, ...",
            "target_id": "The provider identifier, brand id, ... (with target_type).",
        },
        response={
            "type": "object",
            "properties": {
                "entries": {"type": "array", "items": ENTRY},
                "next_before": {"type": ["integer", "null"]},
            },
        },
        errors={400: "A parameter is unknown or out of range (invalid_parameter)."},
    ),
]
