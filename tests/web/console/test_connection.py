"""Test Connection from the provider form (P7, T1): the values on the screen, tested against a
real provider on a loopback port, shown in place (console.js fragment) or with the whole page
(no JavaScript); nothing is saved."""

from __future__ import annotations

import re

import httpx
from fedlogin.store import audit
from fedlogin.store.database import Database
from fedlogin.store.tables import IdentityProvider
from sqlmodel import select

from tests.support.hostile_op import HostileOP
from tests.web.console.conftest import Console, field_value
from tests.web.console.test_providers import NEW, create, edit_form, form, stored

FRAGMENT = {"X-Fedlogin-Fragment": "connection-report"}


def report_value(page: httpx.Response, name: str) -> str:
    found = re.search(rf'data-report="{name}">([^<]*)<', page.text)
    assert found, f"no {name} in the report: {page.text[:2000]}"
    return found.group(1)


async def test_the_unsaved_form_is_tested_and_the_report_shown_in_place(
    console: Console, hostile_op: HostileOP, db: Database
) -> None:
    await console.get(NEW + "?preset=generic-oidc")
    values = {**form(domain=hostile_op.issuer), "action": "test"}
    response = await console.post(NEW + "?preset=generic-oidc", values, headers=FRAGMENT)
    assert response.status_code == 200
    assert "<html" not in response.text  # only the report, for console.js to insert
    assert 'data-ok="true"' in response.text
    discovery = hostile_op.discovery()
    for name in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
        assert report_value(response, name) == discovery[name]
    assert report_value(response, "jwks_key_count") == str(len(hostile_op.jwks()["keys"]))
    assert report_value(response, "signing_algorithms") == ", ".join(
        discovery["id_token_signing_alg_values_supported"]
    )
    with db.session() as session:
        assert session.exec(select(IdentityProvider)).first() is None


async def test_without_javascript_the_page_comes_back_with_the_report_and_the_values(
    console: Console, hostile_op: HostileOP, db: Database
) -> None:
    await console.get(NEW + "?preset=generic-oidc")
    values = {**form(domain=hostile_op.issuer, description="my notes"), "action": "test"}
    page = await console.post(NEW + "?preset=generic-oidc", values)
    assert page.status_code == 200
    assert "<html" in page.text and 'data-ok="true"' in page.text
    assert field_value(page, "domain") == hostile_op.issuer
    assert field_value(page, "identifier") == "corp"
    assert "my notes" in page.text
    assert field_value(page, "client_secret") == ""  # never sent back into a page
    with db.session() as session:
        assert session.exec(select(IdentityProvider)).first() is None


async def test_a_failed_test_names_the_step_and_what_to_check(console: Console) -> None:
    await console.get(NEW + "?preset=generic-oidc")
    values = {**form(domain="http://127.0.0.1:9"), "action": "test"}  # nothing listens there
    response = await console.post(NEW + "?preset=generic-oidc", values, headers=FRAGMENT)
    assert 'data-ok="false"' in response.text
    assert "Connection failed at step “discovery”" in response.text
    assert "What to check:" in response.text
    assert "Verify the domain is correct and accessible" in response.text


async def test_a_form_the_test_cannot_use_says_which_fields(console: Console) -> None:
    await console.get(NEW + "?preset=generic-oidc")
    values = {**form(domain="", scopes="profile", name=""), "action": "test"}
    response = await console.post(NEW + "?preset=generic-oidc", values, headers=FRAGMENT)
    assert "The connection was not tested" in response.text
    assert "Scopes must include openid" in response.text
    assert 'href="#f-domain"' in response.text
    assert "Name is required" not in response.text  # a test needs no name


async def test_an_edited_provider_is_tested_with_the_values_on_the_page_and_nothing_is_saved(
    console: Console, hostile_op: HostileOP, db: Database
) -> None:
    await create(console, domain="http://127.0.0.1:9")
    before = stored(db)
    page = await console.get("/admin/identity-providers/corp/edit")
    values = {**edit_form(page), "domain": hostile_op.issuer, "client_secret": "", "action": "test"}
    response = await console.post(
        "/admin/identity-providers/corp/edit",
        {**values, "version": str(before.version)},
        headers=FRAGMENT,
    )
    assert 'data-ok="true"' in response.text
    assert report_value(response, "issuer") == hostile_op.issuer
    after = stored(db)
    assert (after.domain, after.version) == (before.domain, before.version)
    with db.session() as session:
        changes = [e.action for e in audit.entries(session, target_type="identity_provider")]
    assert changes == ["identity_provider.create"]
