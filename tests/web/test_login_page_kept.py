"""The login page a first visit gets is rendered once per configuration version and host, with
each visitor's own CSRF token put in (fedlogin.web.login): it must be the very page a full
render gives that visitor, and nothing of one visitor may reach another."""

from __future__ import annotations

import re

import attrs
import httpx
import pytest
from fedlogin.store.providers import IdentityProviders
from fedlogin.web import login, sessions
from fedlogin.web.context import AppContext
from fedlogin.web.pages import render
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from tests.support.sign_in import add_provider

ISSUER = "https://idp.example.com"
_TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


def offer_two(ctx: AppContext) -> None:
    for offered in (["alpha"], ["alpha", "beta"]):
        add_provider(
            ctx,
            identifier=offered[-1],
            issuer=ISSUER,
            client_id="c",
            client_secret="s",
            offered=offered,
        )


async def first_visit(app: Starlette) -> tuple[httpx.Response, str]:
    """A new browser's login page and the browser cookie it was given."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
        page = await browser.get("/login")
        return page, browser.cookies[sessions.BROWSER_COOKIE]


async def test_each_first_visit_gets_the_page_with_its_own_csrf_token(
    context: AppContext, app: Starlette
) -> None:
    offer_two(context)
    (one, one_cookie), (two, two_cookie) = await first_visit(app), await first_visit(app)
    assert one_cookie != two_cookie
    assert set(_TOKEN.findall(one.text)) == {sessions.csrf_token_for(one_cookie)}
    assert set(_TOKEN.findall(two.text)) == {sessions.csrf_token_for(two_cookie)}
    assert len(_TOKEN.findall(one.text)) == 3  # the password form and both buttons
    assert login._SLOT not in one.text
    same = one.text.replace(sessions.csrf_token_for(one_cookie), "T")
    assert same == two.text.replace(sessions.csrf_token_for(two_cookie), "T")


async def test_the_kept_page_is_what_a_full_render_gives(
    context: AppContext, app: Starlette
) -> None:
    offer_two(context)
    kept, cookie = await first_visit(app)
    request = Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/login",
            "query_string": b"",
            "headers": [
                (b"host", b"testserver"),
                (b"cookie", f"fedlogin_browser={cookie}".encode()),
            ],
            "app": app,
        }
    )
    offer = await context.config_cache.get(
        ("login page", "testserver"),
        lambda session: login.load_offer(session, "testserver", context),
    )
    request.state.csrf_token = sessions.csrf_token_for(cookie)
    full = render(
        request,
        "login.html",
        {
            "title": "Sign in",
            "buttons": offer.buttons,
            "federated_login_enabled": True,
            "next": "",
            "signed_in": None,
            "password_form": {},
        },
    )
    full.headers.update({"Cache-Control": "no-store"})
    assert kept.content == full.body
    without_cookie = [(k, v) for k, v in kept.headers.raw if k.lower() != b"set-cookie"]
    assert without_cookie == full.raw_headers


async def test_pages_with_a_next_or_a_session_are_not_kept(
    context: AppContext, client: httpx.AsyncClient
) -> None:
    offer_two(context)
    with_next = await client.get("/login", params={"next": "/account/security"})
    assert with_next.text.count('name="next" value="/account/security"') == 3
    again = await client.get("/login")
    assert 'name="next"' not in again.text


async def test_an_admin_change_renders_the_page_again(context: AppContext, app: Starlette) -> None:
    offer_two(context)
    before, _ = await first_visit(app)
    assert "Login with Alpha" in before.text
    with context.database.transaction() as session:
        IdentityProviders(session, context.plugins, context.secrets, actor="test").update(
            "alpha", {"button_text": "Staff <sign-in>"}
        )
    after, _ = await first_visit(app)
    assert "Login with Alpha" not in after.text
    assert "Staff &lt;sign-in&gt;" in after.text


@pytest.mark.parametrize("secure", [False, True])
@pytest.mark.parametrize("value", ["x" * 43, "not plain; value"])
def test_cookies_are_the_header_starlette_would_write(
    context: AppContext, secure: bool, value: str
) -> None:
    base_url = "https://login.example.org" if secure else "http://testserver"
    app = Starlette()
    app.state.context = attrs.evolve(
        context, config=attrs.evolve(context.config, base_url=base_url)
    )
    request = Request({"type": "http", "scheme": "http", "headers": [], "app": app})
    ours, theirs = Response(), Response()
    sessions.set_browser_cookie(request, ours, value)
    theirs.set_cookie(
        sessions.BROWSER_COOKIE,
        value,
        max_age=int(sessions.BROWSER_COOKIE_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=secure,
    )
    assert ours.raw_headers == theirs.raw_headers
