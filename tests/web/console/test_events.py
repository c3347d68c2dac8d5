"""A provider's sign-in events in the console (T4): outcome, refusing step and code, and the
claims received beside the current mapping, saying which claim each field came from and
which mapped claim was missing."""

from __future__ import annotations

import re

from fedlogin.signin import events
from fedlogin.store.database import Database
from fedlogin.web.context import AppContext

from tests.support.sign_in import add_provider
from tests.web.console.conftest import Console

CLAIMS = {
    "sub": "u-1",
    "email": "ann@corp.example",
    "name": "Ann Example",
    "preferred_username": "ann",
    "org": "Corp",  # the provider's name for the company claim
    "nonce": "never kept",
}


def row_of(page: str, field: str) -> str:
    found = re.search(rf'<tr class="(\w+)" data-field="{field}">(.*?)</tr>', page, re.S)
    assert found, field
    cells = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(2))).strip()
    return f"{found.group(1)}: {cells}"


async def test_events_show_the_claims_beside_the_mapping_and_what_was_missing(
    console: Console, context: AppContext, db: Database
) -> None:
    add_provider(
        context, identifier="corp", issuer="https://idp.example", client_id="c", client_secret="s"
    )
    with db.transaction() as session:
        events.record(session, provider_identifier="corp", outcome="success", claims=CLAIMS)
        events.record(
            session,
            provider_identifier="corp",
            outcome="refused",
            step="domain",
            code="domain_not_allowed",
            message="Email addresses at evil.example are not allowed.",
            claims={"sub": "u-2", "email": "eve@evil.example"},
        )
        events.record(
            session,
            provider_identifier="corp",
            outcome="refused",
            step="token",
            code="invalid_client",
            message="The provider refused the client credentials.",
        )
    page = (await console.get("/admin/identity-providers/corp/events")).text
    assert page.count('class="event ') == 3
    assert "Refused at step <code>token</code> with code <code>invalid_client</code>" in page
    assert "The provider refused the client credentials." in page
    assert "No claims were received" in page
    assert "Refused at step <code>domain</code> with code <code>domain_not_allowed</code>" in page
    assert "eve@evil.example" in page
    # The successful sign-in (the oldest, so last): its claims and how they mapped.
    success = page[page.index('class="event success"') :]
    assert row_of(success, "email") == "filled: Email email ann@corp.example"
    assert row_of(success, "company").startswith("missing: Company organization Missing: claim")
    assert "&#39;organization&#39; was not sent" in success
    assert "never kept" not in page  # the nonce is not stored
    assert "<code>org</code>" in success  # what the provider did send


async def test_the_mapping_shown_is_the_current_one(
    console: Console, context: AppContext, db: Database
) -> None:
    add_provider(
        context,
        identifier="corp",
        issuer="https://idp.example",
        client_id="c",
        client_secret="s",
        attribute_mapping={"company": "org"},
    )
    with db.transaction() as session:
        events.record(session, provider_identifier="corp", outcome="success", claims=CLAIMS)
    page = (await console.get("/admin/identity-providers/corp/events")).text
    assert row_of(page, "company") == "filled: Company org Corp"


async def test_events_filter_by_outcome_and_page(
    console: Console, context: AppContext, db: Database
) -> None:
    add_provider(
        context, identifier="corp", issuer="https://idp.example", client_id="c", client_secret="s"
    )
    with db.transaction() as session:
        for _ in range(30):
            events.record(session, provider_identifier="corp", outcome="success", claims={})
        events.record(
            session,
            provider_identifier="corp",
            outcome="refused",
            step="state",
            code="state_unknown",
        )
        events.record(
            session,
            provider_identifier="other",
            outcome="refused",
            step="state",
            code="state_unknown",
        )
    refused = (await console.get("/admin/identity-providers/corp/events?outcome=refused")).text
    assert refused.count('class="event ') == 1
    first = (await console.get("/admin/identity-providers/corp/events")).text
    assert first.count('class="event ') == 25
    older = re.search(r'href="\?before=(\d+)">Older events', first)
    assert older
    second = (await console.get(f"/admin/identity-providers/corp/events?before={older[1]}")).text
    assert second.count('class="event ') == 6
    assert "Older events" not in second


async def test_a_deleted_providers_events_are_still_shown(console: Console, db: Database) -> None:
    with db.transaction() as session:
        events.record(session, provider_identifier="gone", outcome="success", claims={"sub": "x"})
    page = (await console.get("/admin/identity-providers/gone/events")).text
    assert "no longer exists" in page
    assert page.count('class="event ') == 1
