"""Sign-in events of one provider (T4): ``GET /admin/identity-providers/{id}/events``.

Each attempt with its outcome and, when refused, the step, code and message; and the claims
the provider sent beside the provider's *current* attribute mapping: which claim filled each
profile field and which mapped claim was missing. So an admin sees why a claim did not map,
fixes the mapping, and checks the fix against the same past sign-in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from sqlmodel import Session, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fedlogin.accounts.mapping import map_attributes
from fedlogin.presets import PROFILE_FIELDS
from fedlogin.signin import events
from fedlogin.store.tables import IdentityProvider, SignInEvent, User
from fedlogin.web.console.auth import ConsoleAdmin, admin_page
from fedlogin.web.console.layout import console_page
from fedlogin.web.console.paging import before_cursor, next_before
from fedlogin.web.console.provider_form import MAPPING_LABELS
from fedlogin.web.context import app_context

PAGE_SIZE = 25


@attrs.frozen
class MappedField:
    field: str
    label: str
    claim: str | None
    value: str | None
    problem: str | None


@attrs.frozen
class EventView:
    event: SignInEvent
    username: str | None
    mapped: tuple[MappedField, ...]
    #: Claims read by the mapping (highlighted beside the others).
    used_claims: frozenset[str]


def mapped_fields(claims: Mapping[str, Any], mapping: Mapping[str, str]) -> list[MappedField]:
    profile = map_attributes(claims, mapping)
    return [
        MappedField(
            field=field,
            label=MAPPING_LABELS[field][0],
            claim=mapping.get(field),
            value=profile.values.get(field),
            problem=profile.unmapped.get(field),
        )
        for field in PROFILE_FIELDS
    ]


async def _events(request: Request, admin: ConsoleAdmin) -> Response:
    identifier = request.path_params["identifier"]
    before = before_cursor(request)
    outcome = request.query_params.get("outcome")
    if outcome not in events.OUTCOMES:
        outcome = None

    def load(session: Session) -> tuple[IdentityProvider | None, list[EventView]]:
        query = select(IdentityProvider).where(IdentityProvider.identifier == identifier)
        provider = session.exec(query).first()
        mapping = dict(provider.attribute_mapping) if provider else {}
        rows = events.list_events(
            session, provider=identifier, outcome=outcome, limit=PAGE_SIZE, before_id=before
        )
        views = []
        for row in rows:
            user = session.get(User, row.user_id) if row.user_id is not None else None
            claims = row.claims or {}
            views.append(
                EventView(
                    event=row,
                    username=user.username if user else None,
                    mapped=tuple(mapped_fields(claims, mapping)) if row.claims is not None else (),
                    used_claims=frozenset(c for c in mapping.values() if c in claims),
                )
            )
        return provider, views

    provider, views = await app_context(request).transaction(load)
    return console_page(
        request,
        admin,
        "console/events.html",
        {
            "title": f"Sign-in events: {provider.name if provider else identifier}",
            "identifier": identifier,
            "provider": provider,
            "views": views,
            "outcome": outcome,
            "next_before": next_before([view.event.id for view in views], PAGE_SIZE),
            "paged": before is not None,
        },
    )


ROUTES = [
    Route("/admin/identity-providers/{identifier}/events", admin_page(_events), methods=["GET"]),
]
