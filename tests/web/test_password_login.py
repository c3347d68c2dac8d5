"""``POST /login``: signing in with a username or email address and a password, over HTTP.

The form sits above "Or continue with"; it is CSRF-checked; a success is a new server-side
session like a federated sign-in; every kind of wrong answers the same; the limits live in
the database, so they hold across processes and addresses."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fedlogin.accounts import passwords, throttle
from fedlogin.config import Config
from fedlogin.oidc import OutboundSettings
from fedlogin.plugins import Plugins
from fedlogin.store.admins import token_digest
from fedlogin.store.database import Database
from fedlogin.store.tables import BrowserSession, User
from fedlogin.web.app import create_app
from fedlogin.web.context import AppContext
from sqlmodel import select
from starlette.applications import Starlette

from tests.support.passwords import fast_passwords
from tests.support.sign_in import add_provider, browsers_from_addresses, csrf_token, outcome

__all__ = ["fast_passwords"]
pytestmark = pytest.mark.usefixtures("fast_passwords")

PASSWORD = "correct horse battery"
Opener = Callable[..., Awaitable[httpx.AsyncClient]]


def add_user(db: Database, username: str = "ada", **fields: Any) -> int:
    fields.setdefault("password_hash", passwords.hash_password(PASSWORD))
    with db.transaction() as session:
        user = User(username=username, **fields)
        session.add(user)
        session.flush()
        assert user.id is not None
        return user.id


@pytest.fixture
async def open_browser(app: Starlette) -> AsyncIterator[Opener]:
    """Browsers (one cookie jar each) on ``app`` or another app, from a given address."""
    async with browsers_from_addresses() as open_at:

        async def open_(
            address: str = "192.0.2.10", on: Starlette | None = None
        ) -> httpx.AsyncClient:
            return open_at(on or app, address)

        yield open_


async def submit(
    browser: httpx.AsyncClient, login: str, password: str, **extra: str
) -> httpx.Response:
    """Fill in the form on the login page and send it, as a person would."""
    page = await browser.get("/login")
    form = {"csrf_token": csrf_token(page), "login": login, "password": password, **extra}
    return await browser.post("/login", data=form)


async def test_the_login_page_offers_the_password_form_above_the_providers(
    context: AppContext, client: httpx.AsyncClient
) -> None:
    add_provider(
        context,
        identifier="corp",
        issuer="https://idp.example.com",
        client_id="c",
        client_secret="x",
    )
    page = (await client.get("/login")).text
    form = page.index('<form method="post" action="/login"')
    assert form < page.index("Or continue with") < page.index('action="/login/corp"')
    for label in ('<label for="login-name">Username or email', '<label for="login-password">'):
        assert label in page
    assert 'autocomplete="current-password"' in page and 'type="password"' in page


async def test_a_password_sign_in_by_username_or_email_opens_a_new_session(
    db: Database, open_browser: Opener
) -> None:
    user_id = add_user(db, email="ada@example.org")
    browser = await open_browser()
    done = await submit(browser, "Ada", PASSWORD)
    assert (done.status_code, done.headers["location"]) == (303, "/account")
    cookie = done.headers["set-cookie"]
    assert cookie.startswith("fedlogin_session=") and "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    first = browser.cookies["fedlogin_session"]
    account = await browser.get("/account/security")
    assert account.status_code == 200 and "ada" in account.text

    again = await submit(browser, "ADA@example.org", PASSWORD)
    assert again.status_code == 303
    second = browser.cookies["fedlogin_session"]
    assert second != first
    with db.session() as session:
        rows = session.exec(select(BrowserSession)).all()
    # The sign-in ended the browser's old session: one session, the new one.
    assert [(row.user_id, row.token_hash) for row in rows] == [(user_id, token_digest(second))]


@pytest.mark.parametrize(
    ("next_url", "lands"),
    [
        ("/account/security", "/account/security"),
        ("https://evil.example/", "/account"),
        ("//evil.example/", "/account"),
        ("/login", "/account"),
    ],
)
async def test_next_is_followed_only_to_a_same_origin_path(
    db: Database, open_browser: Opener, next_url: str, lands: str
) -> None:
    add_user(db)
    browser = await open_browser()
    page = await browser.get("/login", params={"next": next_url})
    if lands == next_url:
        assert f'name="next" value="{next_url}"' in page.text
    form = {"csrf_token": csrf_token(page), "login": "ada", "password": PASSWORD, "next": next_url}
    done = await browser.post("/login", data=form)
    assert (done.status_code, done.headers["location"]) == (303, lands)


async def test_every_kind_of_wrong_answers_the_same_page(
    db: Database, open_browser: Opener
) -> None:
    add_user(db)
    add_user(db, "bob", password_hash=None)
    browser = await open_browser()
    answers = []
    for login, password in (("ada", "wrong password"), ("nobody", PASSWORD), ("bob", PASSWORD)):
        response = await submit(browser, login, password)
        assert response.status_code == 401 and "fedlogin_session" not in response.cookies
        answers.append(response.text.replace(f'value="{login}"', 'value="?"'))
        assert PASSWORD not in response.text
    assert answers[0] == answers[1] == answers[2]
    assert "do not match an account here" in answers[0]
    assert outcome(db).sessions == 0


async def test_the_name_typed_is_kept_escaped_and_the_password_dropped(
    db: Database, open_browser: Opener
) -> None:
    typed = '"><script>alert(1)</script>'
    response = await submit(await open_browser(), typed, "a secret password")
    assert response.status_code == 401
    assert "<script>alert(1)" not in response.text
    kept = re.search(r'name="login" type="text" value="([^"]*)"', response.text)
    assert kept is not None and html.unescape(kept.group(1)) == typed
    assert "a secret password" not in response.text
    assert 'aria-describedby="password-error"' in response.text and 'role="alert"' in response.text


async def test_a_form_without_the_sites_csrf_token_signs_nobody_in(
    db: Database, open_browser: Opener
) -> None:
    add_user(db)
    browser = await open_browser()
    await browser.get("/login")
    forged = await browser.post("/login", data={"login": "ada", "password": PASSWORD})
    assert forged.status_code == 403 and "expired or did not come from this site" in forged.text
    other_site = await browser.post(
        "/login",
        data={"csrf_token": "x" * 64, "login": "ada", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert other_site.status_code == 403 and "from another site" in other_site.text
    assert outcome(db).sessions == 0


async def test_missing_fields_are_asked_for(open_browser: Opener) -> None:
    response = await submit(await open_browser(), "  ", "")
    assert response.status_code == 400 and "Enter your username or email" in response.text


async def test_after_five_failures_the_page_says_how_long_to_wait(
    db: Database, open_browser: Opener
) -> None:
    add_user(db)
    browser = await open_browser()
    for _ in range(throttle.ACCOUNT_LIMIT.max_failures):
        assert (await submit(browser, "ada", "wrong password")).status_code == 401
    limited = await submit(browser, "ada", PASSWORD)
    assert limited.status_code == 429
    assert 14 * 60 < int(limited.headers["retry-after"]) <= 15 * 60
    assert "Too many failed sign-in attempts for this username or email" in limited.text
    assert "Wait 15 minutes and try again." in limited.text
    assert outcome(db).sessions == 0


async def test_the_limit_holds_across_two_processes_sharing_the_database(
    config: Config, db: Database, app: Starlette, open_browser: Opener
) -> None:
    """Guesses alternate between two app processes (own engines); the sixth is refused on both."""
    add_user(db)
    second_db = Database(db.url)
    second = AppContext.create(
        config,
        database=second_db,
        plugins=Plugins.load(disabled=()),
        outbound_settings=OutboundSettings.from_config(config),
    )
    try:
        processes = [await open_browser(on=app), await open_browser(on=create_app(second))]
        for n in range(throttle.ACCOUNT_LIMIT.max_failures):
            assert (await submit(processes[n % 2], "ada", "wrong")).status_code == 401
        for browser in processes:
            assert (await submit(browser, "ada", PASSWORD)).status_code == 429
    finally:
        await second.close()
        second_db.dispose()


async def test_one_address_trying_many_names_is_limited(db: Database, open_browser: Opener) -> None:
    add_user(db)
    browser = await open_browser("198.51.100.23")
    for n in range(throttle.ADDRESS_LIMIT.max_failures):
        assert (await submit(browser, f"name-{n}", "wrong password")).status_code == 401
    limited = await submit(browser, "ada", PASSWORD)
    assert limited.status_code == 429 and "from your network address" in limited.text
    elsewhere = await submit(await open_browser("203.0.113.5"), "ada", PASSWORD)
    assert elsewhere.status_code == 303


async def test_a_disabled_user_is_refused_even_with_the_right_password(
    db: Database, open_browser: Opener
) -> None:
    add_user(db, disabled=True)
    response = await submit(await open_browser(), "ada", PASSWORD)
    assert response.status_code == 403 and "Your account is disabled." in response.text
    assert outcome(db).sessions == 0
