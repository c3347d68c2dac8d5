"""``/api/v1/sign-in-events``: every sign-in attempt, why it failed, and the claims it carried.

T4 ("Claims Not Mapping"): an admin sees which claims the provider actually sent and, under
``profile``, what the provider's *current* attribute mapping makes of them, so a fixed
mapping can be checked against past sign-ins. Newest first; pages are cut by id
(``next_before``), like the audit log.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fedlogin.accounts.mapping import map_attributes
from fedlogin.signin import events
from fedlogin.store.tables import IdentityProvider, SignInEvent
from fedlogin.web.admin_auth import require_admin
from fedlogin.web.api.io import ok
from fedlogin.web.api.openapi import Operation
from fedlogin.web.api.params import InvalidParameter, integer, query
from fedlogin.web.context import app_context

_MAX_ID = 2**63 - 1


def event_fields(event: SignInEvent, mapping: dict[str, str] | None) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "id": event.id,
        "at": event.at.isoformat(),
        "provider": event.provider_identifier,
        "outcome": event.outcome,
        "step": event.step,
        "code": event.code,
        "message": event.message,
        "claims": event.claims,
        "user_id": event.user_id,
        "brand_id": event.brand_id,
        "profile": None,
    }
    if event.claims is not None and mapping is not None:
        mapped = map_attributes(event.claims, mapping)
        fields["profile"] = {
            "values": dict(mapped.values),
            "unmapped": dict(mapped.unmapped),
        }
    return fields


async def list_sign_in_events(request: Request) -> Response:
    await require_admin(request)
    params = query(request, ["provider", "outcome", "limit", "before"])
    limit = integer(
        params, "limit", default=events.DEFAULT_LIMIT, minimum=1, maximum=events.MAX_LIMIT
    )
    before = integer(params, "before", default=None, minimum=1, maximum=_MAX_ID)
    outcome = params.get("outcome")
    if outcome is not None and outcome not in events.OUTCOMES:
        message = "outcome must be " + " or ".join(events.OUTCOMES) + "."
        raise InvalidParameter(message, fields={"outcome": message})
    assert limit is not None

    def load(session: Session) -> list[dict[str, Any]]:
        rows = events.list_events(
            session,
            provider=params.get("provider"),
            outcome=outcome,
            limit=limit,
            before_id=before,
        )
        names = {row.provider_identifier for row in rows}
        query = select(IdentityProvider).where(col(IdentityProvider.identifier).in_(names))
        mappings = {p.identifier: dict(p.attribute_mapping) for p in session.exec(query).all()}
        return [event_fields(row, mappings.get(row.provider_identifier)) for row in rows]

    found = await app_context(request).transaction(load)
    full = len(found) == limit
    return ok({"events": found, "next_before": found[-1]["id"] if full else None})


ROUTES = [Route("/sign-in-events", list_sign_in_events, methods=["GET"])]

EVENT = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "at": {"type": "string", "format": "date-time"},
        "provider": {"type": "string"},
        "outcome": {"type": "string", "enum": list(events.OUTCOMES)},
        "step": {"type": ["string", "null"], "enum": [*events.STEPS, None]},
        "code": {"type": ["string", "null"], "examples": ["invalid_client"]},
        "message": {"type": ["string", "null"]},
        "claims": {"type": ["object", "null"]},
        "user_id": {"type": ["integer", "null"]},
        "brand_id": {"type": ["integer", "null"]},
        "profile": {
            "type": ["object", "null"],
            "description": "The claims through the provider's current attribute mapping.",
        },
    },
}

OPERATIONS = [
    Operation(
        "GET",
        "/sign-in-events",
        "Sign-in attempts, newest first, with the refusing step and the claims received",
        "sign-in-events",
        query={
            "provider": "Only this provider's events (its identifier).",
            "outcome": "success or refused.",
            "limit": f"Events per page, 1 to {events.MAX_LIMIT} (default {events.DEFAULT_LIMIT}).",
            "before": "Only events with a smaller id: the previous page's next_before.",
        },
        response={
            "type": "object",
            "properties": {
                "events": {"type": "array", "items": EVENT},
                "next_before": {"type": ["integer", "null"]},
            },
        },
        errors={400: "A parameter is unknown or out of range (invalid_parameter)."},
    ),
]
