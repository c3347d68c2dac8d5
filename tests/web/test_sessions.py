"""Server-side sessions (SECURITY.md "Sessions"): cookie flags, a new id at every sign-in,
idle and absolute expiry, sign-out, ending all of a user's sessions, CSRF on sign-out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import attrs
import httpx
import pytest
from fedlogin.config import Config
from fedlogin.oidc import OutboundSettings
from fedlogin.plugins import Plugins
from fedlogin.store.admins import token_digest
from fedlogin.store.database import Database
from fedlogin.store.tables import BrowserSession, User
from fedlogin.store.types import utcnow
from fedlogin.web import sessions
from fedlogin.web.app import create_app
from fedlogin.web.context import AppContext
from sqlmodel import select
from starlette.applications import Starlette
from starlette.requests import Request

from tests.support.hostile_op import HostileOP
from tests.support.sign_in import Browser, add_provider, csrf_token, outcome


def make_context(config: Config, db: Database, base_url: str) -> AppContext:
    config = attrs.evolve(config, base_url=base_url)
    return AppContext.create(
        config,
        database=db,
        plugins=Plugins.load(disabled=()),
        outbound_settings=OutboundSettings.from_config(config),
    )


@pytest.fixture(params=["http://testserver", "https://testserver"])
async def site(
    request: pytest.FixtureRequest, config: Config, db: Database, hostile_op: HostileOP
) -> AsyncIterator[tuple[Browser, HostileOP]]:
    context = make_context(config, db, request.param)
    add_provider(
        context,
        identifier="hostile",
        issuer=hostile_op.issuer,
        client_id=hostile_op.client_id,
        client_secret=hostile_op.client_secret,
    )
    browser = Browser(create_app(context), request.param)
    yield browser, hostile_op
    await browser.aclose()
    await context.close()


async def sign_in(browser: Browser, op: HostileOP) -> httpx.Response:
    started = await browser.click("hostile")
    return await browser.follow(op.follow_authorize(started.headers["location"]))


async def test_the_session_cookie_is_httponly_lax_and_secure_on_https(
    site: tuple[Browser, HostileOP], db: Database
) -> None:
    browser, op = site
    done = await sign_in(browser, op)
    cookie = next(
        c for c in done.headers.get_list("set-cookie") if c.startswith("fedlogin_session=")
    )
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert ("Secure" in cookie) is browser.base_url.startswith("https://")
    token = browser.cookie("fedlogin_session")
    assert token is not None
    with db.session() as session:
        stored = session.exec(select(BrowserSession)).one()
    assert stored.token_hash == token_digest(token) and token not in stored.token_hash


async def test_every_sign_in_gets_a_new_session_id_and_ends_the_old_one(
    site: tuple[Browser, HostileOP], db: Database
) -> None:
    browser, op = site
    await sign_in(browser, op)
    first = browser.cookie("fedlogin_session")
    await sign_in(browser, op)
    second = browser.cookie("fedlogin_session")
    assert first and second and first != second
    with db.session() as session:
        hashes = [row.token_hash for row in session.exec(select(BrowserSession)).all()]
    assert hashes == [token_digest(second)]


async def test_sign_out_needs_the_sessions_csrf_token(
    site: tuple[Browser, HostileOP], db: Database
) -> None:
    browser, op = site
    await sign_in(browser, op)
    refused = await browser.client.post("/logout", data={"csrf_token": "guess"})
    assert refused.status_code == 403
    assert outcome(db).sessions == 1
    account = await browser.client.get("/account")
    done = await browser.client.post("/logout", data={"csrf_token": csrf_token(account)})
    assert done.status_code == 303
    assert outcome(db).sessions == 0


def test_a_session_expires_when_idle_and_after_the_absolute_limit(db: Database) -> None:
    start = utcnow()
    with db.transaction() as session:
        user = User(username="ada")
        session.add(user)
        session.flush()
        assert user.id is not None
        idle_token, _ = sessions.create_session(session, user_id=user.id, now=start)
        busy_token, _ = sessions.create_session(session, user_id=user.id, now=start)
    # A request every few hours keeps a session alive, but never past the absolute limit.
    moment = start
    while moment < start + sessions.ABSOLUTE_TIMEOUT - timedelta(hours=4):
        moment += timedelta(hours=4)
        with db.transaction() as session:
            assert sessions.find_session(session, busy_token, now=moment) is not None
    with db.transaction() as session:
        late = start + sessions.ABSOLUTE_TIMEOUT + timedelta(minutes=1)
        assert sessions.find_session(session, busy_token, now=late) is None
        idle = start + sessions.IDLE_TIMEOUT + timedelta(minutes=1)
        assert sessions.find_session(session, idle_token, now=idle) is None
    with db.session() as session:
        assert session.exec(select(BrowserSession)).all() == []  # expired rows are removed


def test_all_sessions_of_a_user_can_be_ended(db: Database) -> None:
    with db.transaction() as session:
        ada, bob = User(username="ada"), User(username="bob")
        session.add_all([ada, bob])
        session.flush()
        assert ada.id is not None and bob.id is not None
        for _ in range(2):
            sessions.create_session(session, user_id=ada.id)
        kept, _ = sessions.create_session(session, user_id=bob.id)
        assert sessions.end_all_for_user(session, ada.id) == 2
        assert sessions.find_session(session, kept) is not None


def test_a_session_belongs_to_exactly_one_principal(db: Database) -> None:
    with db.session() as session, pytest.raises(ValueError, match="exactly one"):
        sessions.create_session(session)


@pytest.mark.parametrize(
    ("base_url", "scheme", "secure"),
    [
        ("https://login.example", "https", True),
        ("https://login.example", "http", True),  # the platform is https whatever a hop says
        ("http://127.0.0.1", "https", True),  # came over https (or a trusted proxy says so)
        ("http://127.0.0.1", "http", False),
    ],
)
def test_cookies_are_secure_when_the_platform_or_the_request_is_https(
    context: AppContext, base_url: str, scheme: str, secure: bool
) -> None:
    app = Starlette()
    app.state.context = attrs.evolve(
        context, config=attrs.evolve(context.config, base_url=base_url)
    )
    request = Request({"type": "http", "scheme": scheme, "headers": [], "app": app})
    assert sessions.secure_cookies(request) is secure
