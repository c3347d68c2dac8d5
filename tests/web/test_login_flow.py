"""The sign-in routes over HTTP, against a provider on a real 127.0.0.1 port (the hostile
test provider, well-behaved unless bent): CSRF, ``next``, refusal pages and the account page.
Each refusal leaves no user, identity link or session, and a sign-in event naming the step."""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fedlogin.accounts import provisioning
from fedlogin.store.database import Database
from fedlogin.web.context import AppContext
from fedlogin.web.login import safe_next
from starlette.applications import Starlette

from tests.support.hostile_op import Bend, HostileOP
from tests.support.sign_in import Browser, add_provider, csrf_token, outcome

BASE_URL = "http://testserver"


@pytest.fixture
def provider(context: AppContext, hostile_op: HostileOP) -> HostileOP:
    add_provider(
        context,
        identifier="hostile",
        issuer=hostile_op.issuer,
        client_id=hostile_op.client_id,
        client_secret=hostile_op.client_secret,
    )
    return hostile_op


@pytest.fixture
async def browser(app: Starlette, context: AppContext) -> AsyncIterator[Browser]:
    browser = Browser(app, BASE_URL)
    yield browser
    await browser.aclose()
    await context.close()  # the outbound client's connections to the provider


async def sign_in(browser: Browser, op: HostileOP, next_url: str | None = None) -> httpx.Response:
    started = await browser.click("hostile", next_url=next_url)
    assert started.status_code == 303, started.text
    return await browser.follow(op.follow_authorize(started.headers["location"]))


async def test_a_person_signs_in_sees_the_account_and_signs_out(
    browser: Browser, provider: HostileOP, db: Database
) -> None:
    done = await sign_in(browser, provider)
    assert done.status_code == 303 and done.headers["location"] == "/account"
    account = await browser.client.get("/account")
    assert account.status_code == 200
    assert "hostile.user" in account.text and "hostile.user@example.com" in account.text
    assert outcome(db).event is not None and outcome(db).event.outcome == "success"  # type: ignore[union-attr]
    out = await browser.client.post("/logout", data={"csrf_token": csrf_token(account)})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert outcome(db).sessions == 0
    again = await browser.client.get("/account")
    assert again.status_code == 303 and again.headers["location"].startswith("/login")


@pytest.mark.parametrize(
    ("given", "lands_on"),
    [
        ("/account?tab=security", "/account?tab=security"),
        ("https://evil.example/", "/account"),
        ("//evil.example/", "/account"),
        ("/\\evil.example", "/account"),
        ("/login", "/account"),
    ],
)
async def test_next_is_followed_only_when_it_is_a_path_on_this_site(
    browser: Browser, provider: HostileOP, given: str, lands_on: str
) -> None:
    done = await sign_in(browser, provider, next_url=given)
    assert done.headers["location"] == lands_on


def test_safe_next_refuses_every_way_out_of_the_site() -> None:
    for value in ("javascript:alert(1)", "http:/x", " /x", "/x\n", "", "x/y", "/auth/callback/x"):
        assert safe_next(value) is None, value
    assert safe_next("/a/b?c=d#e") == "/a/b?c=d#e"


async def test_a_form_without_the_csrf_token_is_refused(
    browser: Browser, provider: HostileOP, db: Database
) -> None:
    await browser.login_page()
    response = await browser.client.post("/login/hostile", data={"csrf_token": "forged"})
    assert response.status_code == 403
    assert "csrf_failed" in response.text
    assert provider.authorize_requests == [] and outcome(db).nothing_created


async def test_a_form_from_a_browser_without_cookies_is_explained(
    app: Starlette, browser: Browser, provider: HostileOP
) -> None:
    token = csrf_token(await browser.login_page())
    cookieless = Browser(app, BASE_URL)
    try:
        response = await cookieless.client.post("/login/hostile", data={"csrf_token": token})
    finally:
        await cookieless.aclose()
    assert response.status_code == 403
    assert "cookies_missing" in response.text and "HTTPS" in response.text


async def test_a_form_posted_from_another_site_is_refused(
    browser: Browser, provider: HostileOP
) -> None:
    token = csrf_token(await browser.login_page())
    response = await browser.client.post(
        "/login/hostile", data={"csrf_token": token}, headers={"Origin": "https://evil.example"}
    )
    assert response.status_code == 403 and "another site" in response.text


async def test_a_disabled_provider_refuses_with_a_page(
    context: AppContext, browser: Browser, provider: HostileOP, admin: httpx.AsyncClient
) -> None:
    token = csrf_token(await browser.login_page())  # the page was open when...
    switched = await admin.post("/api/v1/identity-providers/hostile/disable")  # ...this happened
    assert switched.status_code == 200, switched.text
    response = await browser.click("hostile", csrf=token)
    assert response.status_code == 403
    assert "switched off" in response.text and "provider_disabled" in response.text
    unknown = await browser.click("nobody", csrf=token)
    assert unknown.status_code == 404 and "unknown_provider" in unknown.text


async def test_the_providers_error_description_is_shown_escaped(
    browser: Browser, provider: HostileOP, db: Database
) -> None:
    provider.bend = Bend(
        authorize_error="access_denied", authorize_error_description="<script>alert(1)</script>"
    )
    response = await sign_in(browser, provider)
    assert response.status_code == 400
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    assert "cancelled or denied" in response.text
    result = outcome(db)
    assert result.nothing_created and result.event is not None
    assert (result.event.step, result.event.code) == ("callback", "authorization_error")


async def test_invalid_client_tells_what_to_check(
    browser: Browser, provider: HostileOP, db: Database
) -> None:
    provider.bend = Bend(token_error="invalid_client")
    response = await sign_in(browser, provider)
    assert response.status_code == 502
    for text in ("Client ID and Client Secret", "callback URL", "not disabled"):
        assert text in response.text
    assert provider.client_secret is not None and provider.client_secret not in response.text
    result = outcome(db)
    assert result.nothing_created and result.event is not None
    assert (result.event.step, result.event.code) == ("token", "invalid_client")


async def test_a_reloaded_callback_keeps_the_signed_in_browser_where_it_is(
    app: Starlette, browser: Browser, provider: HostileOP, db: Database
) -> None:
    started = await browser.click("hostile")
    callback = provider.follow_authorize(started.headers["location"])
    assert (await browser.follow(callback)).status_code == 303
    reload = await browser.follow(callback)
    assert reload.status_code == 303 and reload.headers["location"] == "/account"
    assert len(provider.token_requests) == 1
    stranger = Browser(app, BASE_URL)
    try:
        replayed = await stranger.follow(callback)
    finally:
        await stranger.aclose()
    assert replayed.status_code == 400 and "state_unknown" in replayed.text


async def test_a_callback_in_a_browser_that_lost_the_cookie_is_explained(
    app: Starlette, browser: Browser, provider: HostileOP, db: Database
) -> None:
    started = await browser.click("hostile")
    callback = provider.follow_authorize(started.headers["location"])
    other = Browser(app, BASE_URL)
    try:
        response = await other.follow(callback)
    finally:
        await other.aclose()
    assert response.status_code == 400
    assert "browser_cookie_missing" in response.text and "plain HTTP" in response.text
    assert provider.token_requests == []
    result = outcome(db)
    assert result.nothing_created and result.event is not None
    assert result.event.step == "state"


async def test_signing_in_from_another_address_than_the_callback_is_explained(
    app: Starlette, provider: HostileOP
) -> None:
    elsewhere = Browser(app, "http://localhost")
    try:
        response = await elsewhere.click("hostile")
    finally:
        await elsewhere.aclose()
    assert response.status_code == 400
    assert "wrong_host" in response.text and "http://testserver/login" in response.text
    assert provider.authorize_requests == []


async def test_a_signed_in_browser_that_lost_its_binding_cookie_still_signs_in(
    browser: Browser, provider: HostileOP
) -> None:
    await sign_in(browser, provider)
    token = csrf_token(await browser.client.get("/account"))  # the session's own token
    browser.client.cookies.delete("fedlogin_browser")
    started = await browser.click("hostile", csrf=token)
    assert started.status_code == 303
    assert browser.cookie("fedlogin_browser")  # a new binding for this flow
    done = await browser.follow(provider.follow_authorize(started.headers["location"]))
    assert done.status_code == 303 and done.headers["location"] == "/account"


@pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
async def test_one_identity_signing_in_twice_at_once_makes_one_user(
    app: Starlette,
    context: AppContext,
    provider: HostileOP,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both first sign-ins find no identity; one links it, the other's link hits the unique
    key, its transaction (and the user it made) is rolled back and run again, and it signs
    in to the winner's user. PostgreSQL only: SQLite's writers queue (BEGIN IMMEDIATE), so
    the second would find the identity already."""
    lookups = threading.Barrier(2, timeout=10)
    calls = itertools.count()
    looked_up = provisioning.find_identity_and_user

    def both_look_first(session: Any, key: Any) -> Any:
        found = looked_up(session, key)
        if next(calls) < 2:  # each first attempt; the retry must not wait
            lookups.wait()
        return found

    monkeypatch.setattr(provisioning, "find_identity_and_user", both_look_first)
    one, two = Browser(app, BASE_URL), Browser(app, BASE_URL)
    try:
        started = [await b.click("hostile") for b in (one, two)]
        callbacks = [provider.follow_authorize(s.headers["location"]) for s in started]
        done = await asyncio.gather(
            *(b.follow(c) for b, c in zip((one, two), callbacks, strict=True))
        )
    finally:
        await one.aclose()
        await two.aclose()
        await context.close()
    assert [r.status_code for r in done] == [303, 303], [r.text[:500] for r in done]
    assert [r.headers["location"] for r in done] == ["/account", "/account"]
    assert next(calls) == 3  # two first attempts (0, 1) and the loser's second (2)
    counted = outcome(db)
    assert (counted.users, counted.identities, counted.sessions) == (1, 1, 2)
