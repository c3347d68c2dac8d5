"""The login page (S1-S3, P5, P16, P17): the providers offered on this host, in order, as
buttons with their logo and text; nothing offered when federated login is off."""

from __future__ import annotations

import re

import httpx
from fedlogin.store import brands
from fedlogin.store.database import Database
from fedlogin.store.settings import update_settings
from fedlogin.web.context import AppContext
from starlette.applications import Starlette

from tests.support.sign_in import Browser, add_provider

ISSUER = "https://idp.example.com"


def provider(ctx: AppContext, identifier: str, offered: list[str], **fields: object) -> None:
    add_provider(
        ctx,
        identifier=identifier,
        issuer=ISSUER,
        client_id="c",
        client_secret="s",
        offered=offered,
        **fields,
    )


def buttons(page: httpx.Response) -> list[str]:
    return re.findall(r'data-provider="([^"]+)"', page.text)


async def test_offered_providers_are_shown_in_the_configured_order(
    context: AppContext, client: httpx.AsyncClient
) -> None:
    provider(context, "zeta", ["zeta"], button_text="Employee Login")
    provider(context, "alpha", ["zeta", "alpha"])
    page = await client.get("/login")
    assert page.status_code == 200
    assert "Or continue with" in page.text
    assert buttons(page) == ["zeta", "alpha"]
    assert "Employee Login" in page.text and "Login with Alpha" in page.text
    assert 'action="/login/zeta"' in page.text
    assert 'src="/api/v1/presets/generic-oidc/logo"' in page.text


async def test_disabled_and_unlisted_providers_are_not_shown(
    context: AppContext, client: httpx.AsyncClient
) -> None:
    provider(context, "off", ["off"], enabled=False)
    provider(context, "unlisted", [])
    provider(context, "on", ["off", "on"])
    page = await client.get("/login")
    assert buttons(page) == ["on"]


async def test_no_provider_is_offered_while_federated_login_is_off(
    context: AppContext, db: Database, client: httpx.AsyncClient
) -> None:
    provider(context, "corp", ["corp"])
    with db.transaction() as session:
        update_settings(session, {"federated_login_enabled": False}, actor="test")
    page = await client.get("/login")
    assert buttons(page) == []
    # The password form is the whole page: no empty "Or continue with", no message that
    # reads as if something were broken.
    assert 'action="/login"' in page.text and 'id="login-password"' in page.text
    assert "Or continue with" not in page.text
    assert "No identity provider" not in page.text and 'role="alert"' not in page.text


async def test_a_brand_offers_its_own_providers_and_switches_plugins_off(
    context: AppContext, db: Database, app: Starlette
) -> None:
    provider(context, "corp", ["corp"])
    provider(context, "brand-sso", ["corp"])
    with db.transaction() as session:
        brands.create_brand(
            session,
            {
                "name": "Acme",
                "hosts": ["acme.example"],
                "inherit": False,
                "federated_login_enabled": True,
                "identity_providers": ["brand-sso", "corp"],
            },
            actor="test",
        )
    browser = Browser(app, "http://acme.example")
    try:
        assert buttons(await browser.login_page()) == ["brand-sso", "corp"]
        with db.transaction() as session:
            brand = brands.list_brands(session)[0]
            assert brand.id is not None
            brands.update_brand(
                session,
                brand.id,
                {"disabled_plugins": ["generic-oidc"]},
                actor="test",
                plugins=context.plugins,
            )
        assert buttons(await browser.login_page()) == []
    finally:
        await browser.aclose()
    platform = Browser(app, "http://testserver")
    try:
        assert buttons(await platform.login_page()) == ["corp"]
    finally:
        await platform.aclose()


async def test_the_page_sets_the_browser_cookie_once_and_carries_a_csrf_token(
    context: AppContext, client: httpx.AsyncClient
) -> None:
    provider(context, "corp", ["corp"])
    first = await client.get("/login")
    cookie = first.headers["set-cookie"]
    assert cookie.startswith("fedlogin_browser=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    assert re.search(r'name="csrf_token" value="[0-9a-f]{64}"', first.text)
    second = await client.get("/login")
    assert "set-cookie" not in second.headers
    assert first.headers["cache-control"] == "no-store"
