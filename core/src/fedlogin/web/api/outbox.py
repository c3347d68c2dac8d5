"""``/api/v1/outbox``: the emails the platform sent or is about to send, newest first.

Every email is an outbox row before it is sent (fedlogin.mail). Without an SMTP server this
is where an admin (or a developer) reads them: a verification email carries its code and
link, which work only in the browser that started the sign-in. ``status`` is ``queued``
(no SMTP server, or not tried yet), ``sending``, ``sent`` or ``failed`` (retried by the
next delivery, ``last_error`` says why). Pages are cut by id (``next_before``).
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fedlogin.mail import outbox
from fedlogin.mail.message import KINDS
from fedlogin.store.tables import OutboxMessage
from fedlogin.web.admin_auth import require_admin
from fedlogin.web.api.io import ok
from fedlogin.web.api.openapi import Operation
from fedlogin.web.api.params import InvalidParameter, integer, query
from fedlogin.web.context import app_context

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
_MAX_ID = 2**63 - 1


def message_fields(row: OutboxMessage) -> dict[str, Any]:
    return {
        "id": row.id,
        "created_at": row.created_at.isoformat(),
        "kind": row.kind,
        "to": row.to_address,
        "subject": row.subject,
        "body": row.body,
        "user_id": row.user_id,
        "status": outbox.status_of(row),
        "attempts": row.attempts,
        "sent_at": row.sent_at.isoformat() if row.sent_at else None,
        "last_error": row.last_error,
    }


async def list_outbox(request: Request) -> Response:
    await require_admin(request)
    params = query(request, ["to", "kind", "limit", "before"])
    limit = integer(params, "limit", default=DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
    before = integer(params, "before", default=None, minimum=1, maximum=_MAX_ID)
    kind = params.get("kind")
    if kind is not None and kind not in KINDS:
        message = "kind must be one of: " + ", ".join(KINDS) + "."
        raise InvalidParameter(message, fields={"kind": message})
    assert limit is not None

    def load(session: Session) -> list[dict[str, Any]]:
        rows = outbox.list_messages(
            session, limit=limit, before_id=before, to=params.get("to"), kind=kind
        )
        return [message_fields(row) for row in rows]

    found = await app_context(request).transaction(load)
    full = len(found) == limit
    return ok({"messages": found, "next_before": found[-1]["id"] if full else None})


ROUTES = [Route("/outbox", list_outbox, methods=["GET"])]

MESSAGE = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "created_at": {"type": "string", "format": "date-time"},
        "kind": {"type": "string", "enum": list(KINDS)},
        "to": {"type": "string"},
        "subject": {"type": "string"},
        "body": {"type": "string", "description": "Plain text."},
        "user_id": {"type": ["integer", "null"]},
        "status": {"type": "string", "enum": list(outbox.STATUSES)},
        "attempts": {"type": "integer", "description": "SMTP deliveries tried."},
        "sent_at": {"type": ["string", "null"], "format": "date-time"},
        "last_error": {"type": ["string", "null"]},
    },
}

OPERATIONS = [
    Operation(
        "GET",
        "/outbox",
        "Emails sent or waiting to be sent (verification codes, link and unlink notices)",
        "outbox",
        query={
            "to": "Only messages to this address (case-insensitive).",
            "kind": "verification, identity_linked or identity_unlinked.",
            "limit": f"Messages per page, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT}).",
            "before": "Only messages with a smaller id: the previous page's next_before.",
        },
        response={
            "type": "object",
            "properties": {
                "messages": {"type": "array", "items": MESSAGE},
                "next_before": {"type": ["integer", "null"]},
            },
        },
        errors={400: "A parameter is unknown or out of range (invalid_parameter)."},
    ),
]
