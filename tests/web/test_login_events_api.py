"""``GET /api/v1/sign-in-events`` (T4): admins see each attempt, its refusing step and the
claims received, filtered by provider and outcome; nobody else does."""

from __future__ import annotations

import httpx
from fedlogin.signin import events
from fedlogin.store.database import Database
from fedlogin.web.context import AppContext

from tests.support.sign_in import add_provider

URL = "/api/v1/sign-in-events"


def record(db: Database, provider: str, outcome: str, **values: object) -> None:
    with db.transaction() as session:
        events.record(session, provider_identifier=provider, outcome=outcome, **values)  # type: ignore[arg-type]


async def test_only_admins_read_sign_in_events(client: httpx.AsyncClient) -> None:
    response = await client.get(URL)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


async def test_events_are_filtered_by_provider_and_outcome(
    admin: httpx.AsyncClient, db: Database
) -> None:
    record(db, "corp", "success")
    record(db, "corp", "refused", step="token", code="invalid_client", message="m")
    record(db, "other", "refused", step="state", code="state_unknown")
    everything = (await admin.get(URL)).json()
    assert [e["code"] for e in everything["events"]] == [
        "state_unknown",
        "invalid_client",
        None,
    ]
    refused = (await admin.get(URL, params={"provider": "corp", "outcome": "refused"})).json()
    assert [(e["provider"], e["step"], e["code"]) for e in refused["events"]] == [
        ("corp", "token", "invalid_client")
    ]
    first = (await admin.get(URL, params={"limit": 2})).json()
    assert len(first["events"]) == 2 and first["next_before"] == first["events"][-1]["id"]
    rest = (await admin.get(URL, params={"before": first["next_before"]})).json()
    assert [e["code"] for e in rest["events"]] == [None] and rest["next_before"] is None


async def test_claims_are_shown_through_the_current_attribute_mapping(
    admin: httpx.AsyncClient, context: AppContext, db: Database
) -> None:
    add_provider(
        context,
        identifier="corp",
        issuer="https://idp.example.com",
        client_id="c",
        client_secret="s",
        attribute_mapping={"company": "https://corp.example/org"},
    )
    claims = {"sub": "u1", "email": "ada@example.org", "https://corp.example/org": "Engines"}
    record(db, "corp", "refused", step="domain", code="domain_not_allowed", claims=claims)
    event = (await admin.get(URL)).json()["events"][0]
    assert event["claims"] == claims
    assert event["profile"]["values"]["company"] == "Engines"
    assert event["profile"]["unmapped"]["username"] == "claim 'preferred_username' was not sent"


async def test_bad_parameters_are_refused_with_the_field(admin: httpx.AsyncClient) -> None:
    for params, field in (
        ({"outcome": "maybe"}, "outcome"),
        ({"limit": "0"}, "limit"),
        ({"providr": "x"}, "providr"),
    ):
        response = await admin.get(URL, params=params)
        assert response.status_code == 400, params
        assert field in response.json()["error"]["fields"]
