"""Account → Security over HTTP: connected accounts (U3), setting and changing the password
(recent sign-in or current password), sign out everywhere; signed-in users only, CSRF on
every form."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fedlogin.accounts import passwords
from fedlogin.store.database import Database
from fedlogin.store.tables import BrowserSession, FederatedIdentity, User
from fedlogin.web.context import AppContext
from sqlalchemy import event, update
from sqlmodel import col, select
from starlette.applications import Starlette

from tests.support.hostile_op import HostileOP
from tests.support.passwords import fast_passwords
from tests.support.sign_in import Browser, add_provider, csrf_token, outcome

__all__ = ["fast_passwords"]
pytestmark = pytest.mark.usefixtures("fast_passwords")

BASE_URL = "http://testserver"
PAGE = "/account/security"
OLD = "the old password"
NEW = "a brand new password"


@pytest.fixture
async def browsers(app: Starlette, context: AppContext) -> AsyncIterator[list[Browser]]:
    """Two browsers of the same person (two devices)."""
    opened = [Browser(app, BASE_URL), Browser(app, BASE_URL)]
    yield opened
    for browser in opened:
        await browser.aclose()
    await context.close()


def add_user(db: Database, password: str | None = OLD, **fields: Any) -> int:
    with db.transaction() as session:
        user = User(
            username="ada",
            email="ada@example.org",
            password_hash=passwords.hash_password(password) if password else None,
            **fields,
        )
        session.add(user)
        session.flush()
        assert user.id is not None
        return user.id


async def password_sign_in(browser: Browser, login: str = "ada", password: str = OLD) -> int:
    page = await browser.login_page()
    form = {"csrf_token": csrf_token(page), "login": login, "password": password}
    return (await browser.client.post("/login", data=form)).status_code


async def federated_sign_in(browser: Browser, op: HostileOP) -> None:
    started = await browser.click("hostile")
    done = await browser.follow(op.follow_authorize(started.headers["location"]))
    assert done.status_code == 303, done.text


def age_sessions(db: Database, by: timedelta) -> None:
    """Pretend every sign-in happened ``by`` ago."""
    with db.transaction() as session:
        for row in session.exec(select(BrowserSession)).all():
            row.authenticated_at = row.authenticated_at - by
            session.add(row)


async def post_password(browser: Browser, **fields: str) -> httpx.Response:
    page = await browser.client.get(PAGE)
    fields.setdefault("confirm_password", fields.get("new_password", ""))
    return await browser.client.post(
        f"{PAGE}/password", data={"csrf_token": csrf_token(page), **fields}
    )


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


@pytest.mark.parametrize("path", ["/account", PAGE])
async def test_the_page_sends_a_signed_out_browser_to_the_login_page(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Faccount%2Fsecurity"


async def test_connected_accounts_show_the_provider_its_email_and_dates(
    browsers: list[Browser], provider: HostileOP, db: Database
) -> None:
    browser = browsers[0]
    await federated_sign_in(browser, provider)
    page = await browser.client.get(PAGE)
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    with db.session() as session:
        identity = session.exec(select(FederatedIdentity)).one()
    assert identity.last_used_at is not None
    listed = r'<li data-identity="(\d+)" data-provider="hostile">(.*?)</li>'
    item = re.search(listed, page.text, re.S)
    assert item is not None and int(item.group(1)) == identity.id
    text = item.group(2)
    assert "<strong>Hostile</strong>" in text and "hostile.user@example.com" in text
    assert f'Linked <time datetime="{identity.linked_at.isoformat()}">' in text
    assert f'last used <time datetime="{identity.last_used_at.isoformat()}">' in text
    assert '<img src="/api/v1/presets/generic-oidc/logo" alt=""' in text
    # The same page answers at /account, where every sign-in lands.
    assert "hostile.user@example.com" in (await browser.client.get("/account")).text


async def test_a_federated_user_sets_a_first_password_and_signs_in_with_it(
    browsers: list[Browser], provider: HostileOP, db: Database
) -> None:
    first, second = browsers
    await federated_sign_in(first, provider)
    page = await first.client.get(PAGE)
    assert "You have no password" in page.text and 'id="set-password"' in page.text
    assert 'id="current-password"' not in page.text
    done = await post_password(first, new_password=NEW)
    assert (done.status_code, done.headers["location"]) == (303, f"{PAGE}?done=password_set")
    after = await first.client.get(done.headers["location"])
    assert 'role="status">Your password is set.' in after.text
    assert 'id="change-password"' in after.text
    assert await password_sign_in(second, "hostile.user", NEW) == 303


async def test_setting_a_first_password_needs_a_recent_sign_in(
    browsers: list[Browser], provider: HostileOP, db: Database
) -> None:
    browser = browsers[0]
    await federated_sign_in(browser, provider)
    age_sessions(db, timedelta(minutes=11))
    page = await browser.client.get(PAGE)
    assert 'id="set-password"' not in page.text
    assert "needs a sign-in from the last 10 minutes" in page.text
    assert 'href="/login?next=%2Faccount%2Fsecurity">Sign in again</a>' in page.text
    refused = await post_password(browser, new_password=NEW)
    assert refused.status_code == 403
    assert "Setting a password needs a sign-in from the last 10 minutes." in refused.text
    assert '<p><a href="/login?next=%2Faccount%2Fsecurity">Sign in again</a></p>' in refused.text
    with db.session() as session:
        assert session.exec(select(User)).one().password_hash is None
    # Signing in again (the provider's button, next=this page) opens the form again.
    started = await browser.click("hostile", next_url=PAGE)
    back = await browser.follow(provider.follow_authorize(started.headers["location"]))
    assert back.headers["location"] == PAGE
    assert 'id="set-password"' in (await browser.client.get(PAGE)).text


async def test_a_change_with_the_current_password_ends_the_other_sessions(
    browsers: list[Browser], db: Database
) -> None:
    add_user(db)
    this, other = browsers
    assert await password_sign_in(this) == 303 and await password_sign_in(other) == 303
    age_sessions(db, timedelta(hours=1))
    page = await this.client.get(PAGE)
    assert re.search(r'id="current-password"[^>]* required', page.text)
    done = await post_password(this, current_password=OLD, new_password=NEW)
    assert done.headers["location"] == f"{PAGE}?done=password_changed"
    assert (await this.client.get(PAGE)).status_code == 200
    assert (await other.client.get(PAGE)).status_code == 303  # signed out
    assert outcome(db).sessions == 1
    assert await password_sign_in(other, password=OLD) == 401
    assert await password_sign_in(other, password=NEW) == 303


async def test_a_recent_sign_in_changes_the_password_without_the_current_one(
    browsers: list[Browser], db: Database
) -> None:
    add_user(db)
    assert await password_sign_in(browsers[0]) == 303
    page = await browsers[0].client.get(PAGE)
    assert "not needed: you signed in less than 10 minutes ago" in page.text
    done = await post_password(browsers[0], new_password=NEW)
    assert done.status_code == 303


async def test_a_wrong_current_password_is_shown_at_its_field(
    browsers: list[Browser], db: Database
) -> None:
    add_user(db)
    assert await password_sign_in(browsers[0]) == 303
    age_sessions(db, timedelta(hours=1))
    refused = await post_password(browsers[0], current_password="a wrong guess", new_password=NEW)
    assert refused.status_code == 422
    assert '<p class="field-error" id="current_password-error">The current password is wrong.' in (
        refused.text
    )
    assert 'aria-describedby="current_password-error" aria-invalid="true"' in refused.text
    short = await post_password(browsers[0], current_password=OLD, new_password="short")
    assert short.status_code == 422 and "at least 10 characters" in short.text
    with db.session() as session:
        assert passwords.verify_password(session.exec(select(User)).one().password_hash, OLD)


async def test_the_password_form_needs_the_sessions_csrf_token(
    browsers: list[Browser], db: Database
) -> None:
    add_user(db)
    assert await password_sign_in(browsers[0]) == 303
    forged = await browsers[0].client.post(
        f"{PAGE}/password", data={"new_password": NEW, "confirm_password": NEW}
    )
    assert forged.status_code == 403
    with db.session() as session:
        assert passwords.verify_password(session.exec(select(User)).one().password_hash, OLD)


async def test_sign_out_everywhere_ends_every_session_of_the_user(
    browsers: list[Browser], db: Database
) -> None:
    add_user(db)
    this, other = browsers
    assert await password_sign_in(this) == 303 and await password_sign_in(other) == 303
    action = f"{PAGE}/sign-out-everywhere"
    forged = await this.client.post(action, data={"csrf_token": "guess"})
    assert forged.status_code == 403 and outcome(db).sessions == 2
    page = await this.client.get(PAGE)
    assert f'action="{action}"' in page.text
    done = await this.client.post(action, data={"csrf_token": csrf_token(page)})
    assert (done.status_code, done.headers["location"]) == (303, "/login")
    assert 'fedlogin_session=""' in done.headers["set-cookie"]
    assert outcome(db).sessions == 0
    assert (await other.client.get(PAGE)).status_code == 303


async def test_a_disabled_users_session_no_longer_opens_the_page(
    browsers: list[Browser], db: Database
) -> None:
    user_id = add_user(db)
    assert await password_sign_in(browsers[0]) == 303
    with db.transaction() as session:
        session.execute(update(User).where(col(User.id) == user_id).values(disabled=True))
    response = await browsers[0].client.get(PAGE)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert outcome(db).sessions == 0


async def test_the_sign_in_may_be_undone_by_a_power_loss_a_new_password_may_not(
    browsers: list[Browser], provider: HostileOP, db: Database, context: AppContext
) -> None:
    """On SQLite the sign-in flow's transactions commit without waiting for the disk (a
    person redoes a lost sign-in by signing in again); setting a password waits for it."""
    database = context.database
    begun: list[str] = []
    listeners = {
        "durable": lambda _connection: begun.append("durable"),
        "relaxed": lambda _connection: begun.append("relaxed"),
    }
    event.listen(database.engine, "begin", listeners["durable"])
    event.listen(database.relaxed_engine, "begin", listeners["relaxed"])
    try:
        await federated_sign_in(browsers[0], provider)
        signed_in = list(begun)
        begun.clear()
        done = await post_password(browsers[0], new_password=NEW)
        assert done.status_code == 303
        password = list(begun)
    finally:
        event.remove(database.engine, "begin", listeners["durable"])
        event.remove(database.relaxed_engine, "begin", listeners["relaxed"])
    if database.is_sqlite:
        # Store the flow, consume it, sign in (reads of the configuration and the session
        # around them are durable ones that write nothing).
        assert signed_in.count("relaxed") == 3, signed_in
        assert password and set(password) == {"durable"}, password
    else:  # PostgreSQL commits durably either way: one engine
        assert database.relaxed_engine is database.engine
