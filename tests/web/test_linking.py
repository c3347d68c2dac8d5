"""Linking and unlinking from Account → Security over HTTP (U2, U3, U4; SECURITY.md).

A signed-in user connects a provider with a POST carrying *their session's* CSRF token, after
a recent sign-in; the link flow is bound to that user and that browser, and its callback
links and never signs anyone in, while a sign-in flow never links. An identity of another
user is refused; unlinking the last way in without a password is refused; every link and
unlink is mailed (a real SMTP server). Each takeover attempt leaves nothing linked.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from fedlogin.accounts import passwords
from fedlogin.accounts.identities import IdentityKey, link_identity
from fedlogin.config import Config
from fedlogin.store.database import Database
from fedlogin.store.tables import (
    BrowserSession,
    FederatedIdentity,
    IdentityProvider,
    PendingFlow,
    User,
)
from fedlogin.store.types import utcnow
from fedlogin.web.context import AppContext
from sqlmodel import col, select
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.support.hostile_op import HostileOP
from tests.support.passwords import fast_passwords
from tests.support.sign_in import Browser, add_provider, csrf_token, outcome
from tests.support.smtp import SmtpSink, body_of, smtp_sink

__all__ = ["fast_passwords", "smtp_sink"]
pytestmark = pytest.mark.usefixtures("fast_passwords")

BASE_URL = "http://testserver"
PAGE = "/account/security"
PASSWORD = "ada's long password"


@pytest.fixture
def config(tmp_path: Path, smtp_sink: SmtpSink) -> Config:
    return Config(
        data_dir=tmp_path / "data",
        secret_key=Fernet.generate_key().decode(),
        base_url=BASE_URL,
        dev_insecure_loopback=True,
        smtp=smtp_sink.settings(),
    )


@pytest.fixture
def provider(context: AppContext, hostile_op: HostileOP) -> HostileOP:
    configure(context, hostile_op, "hostile", offered=["hostile"])
    return hostile_op


@pytest.fixture
def second(
    context: AppContext, provider: HostileOP, hostile_op_factory: Callable[..., HostileOP]
) -> HostileOP:
    op = hostile_op_factory(claims={"sub": "second-user", "email": "ada@second.example"})
    configure(context, op, "second", offered=["hostile", "second"])
    return op


def configure(context: AppContext, op: HostileOP, identifier: str, offered: list[str]) -> None:
    add_provider(
        context,
        identifier=identifier,
        issuer=op.issuer,
        client_id=op.client_id,
        client_secret=op.client_secret,
        offered=offered,
    )


@pytest.fixture
async def browsers(app: Starlette, context: AppContext) -> AsyncIterator[list[Browser]]:
    opened = [Browser(app, BASE_URL), Browser(app, BASE_URL)]
    yield opened
    for browser in opened:
        await browser.aclose()
    await context.close()


def add_user(
    db: Database, username: str = "ada", *, password: str | None = PASSWORD, **fields: Any
) -> int:
    fields.setdefault("email", f"{username}@example.org")
    fields.setdefault("email_verified", True)
    with db.transaction() as session:
        user = User(
            username=username,
            password_hash=passwords.hash_password(password) if password else None,
            **fields,
        )
        session.add(user)
        session.flush()
        assert user.id is not None
        return user.id


async def password_sign_in(browser: Browser, login: str = "ada") -> None:
    page = await browser.login_page()
    form = {"csrf_token": csrf_token(page), "login": login, "password": PASSWORD}
    assert (await browser.client.post("/login", data=form)).status_code == 303


async def start_link(
    browser: Browser, identifier: str = "hostile", csrf: str | None = None
) -> httpx.Response:
    """Press "Connect ..." on Account → Security (the page fetched first, as a person would)."""
    if csrf is None:
        page = await browser.client.get(PAGE)
        assert f'data-link-provider="{identifier}"' in page.text, page.text
        csrf = csrf_token(page)
    return await browser.client.post(f"{PAGE}/link/{identifier}", data={"csrf_token": csrf})


async def link(browser: Browser, op: HostileOP, identifier: str = "hostile") -> httpx.Response:
    started = await start_link(browser, identifier)
    assert started.status_code == 303, started.text
    return await browser.follow(op.follow_authorize(started.headers["location"]))


def linked_to(db: Database, user_id: int) -> list[FederatedIdentity]:
    with db.session() as session:
        query = select(FederatedIdentity).where(col(FederatedIdentity.user_id) == user_id)
        return list(session.exec(query).all())


def user_sessions(db: Database, user_id: int) -> list[BrowserSession]:
    with db.session() as session:
        query = select(BrowserSession).where(col(BrowserSession.user_id) == user_id)
        return list(session.exec(query).all())


def pending_flows(db: Database) -> int:
    with db.session() as session:
        return len(session.exec(select(PendingFlow)).all())


def give_identity(db: Database, user_id: int, op: HostileOP, identifier: str = "hostile") -> None:
    with db.transaction() as session:
        provider = session.exec(
            select(IdentityProvider).where(col(IdentityProvider.identifier) == identifier)
        ).one()
        assert provider.id is not None
        key = IdentityKey(provider.id, op.issuer, str(op.claims["sub"]))
        link_identity(session, user_id, key, email=str(op.claims["email"]), now=utcnow())


def age_sessions(db: Database, by: timedelta) -> None:
    with db.transaction() as session:
        for row in session.exec(select(BrowserSession)).all():
            row.authenticated_at = row.authenticated_at - by
            session.add(row)


# -- linking (U2) ----------------------------------------------------------------------------------


async def test_a_password_user_links_a_provider_and_sees_it_connected(
    browsers: list[Browser], provider: HostileOP, smtp_sink: SmtpSink, db: Database
) -> None:
    ada = add_user(db)
    browser = browsers[0]
    await password_sign_in(browser)
    before = browser.cookie("fedlogin_session")
    done = await link(browser, provider)
    assert done.status_code == 303 and done.headers["location"] == f"{PAGE}?connected=hostile"
    [identity] = linked_to(db, ada)
    assert (identity.subject, identity.email) == ("hostile-user-1", "hostile.user@example.com")
    # A new session id after linking (SECURITY.md), still ada's.
    assert browser.cookie("fedlogin_session") not in (None, before)
    [session_row] = user_sessions(db, ada)
    page = await browser.client.get(done.headers["location"])
    assert "Hostile is now connected" in page.text
    assert "hostile.user@example.com" in page.text and f'data-identity="{identity.id}"' in page.text
    assert 'data-link-provider="hostile"' not in page.text  # connected: no button any more
    assert outcome(db).users == 1  # nobody else was created or signed in
    event = outcome(db).event
    assert event is not None and event.outcome == "success" and "Connected" in str(event.message)
    notice = smtp_sink.last_to("ada@example.org")
    assert "Hostile was connected" in str(notice["Subject"])
    assert "hostile.user@example.com" in body_of(notice)
    assert session_row.user_id == ada


async def test_only_providers_not_connected_yet_are_offered(
    browsers: list[Browser], provider: HostileOP, second: HostileOP, db: Database
) -> None:
    ada = add_user(db)
    give_identity(db, ada, provider)
    await password_sign_in(browsers[0])
    page = await browsers[0].client.get(PAGE)
    assert 'data-link-provider="hostile"' not in page.text
    assert 'data-link-provider="second"' in page.text


async def test_linking_the_same_identity_again_changes_nothing(
    browsers: list[Browser], provider: HostileOP, smtp_sink: SmtpSink, db: Database
) -> None:
    ada = add_user(db)
    give_identity(db, ada, provider)
    await password_sign_in(browsers[0])
    token = csrf_token(await browsers[0].client.get(PAGE))
    started = await start_link(browsers[0], csrf=token)  # a form kept open in another tab
    done = await browsers[0].follow(provider.follow_authorize(started.headers["location"]))
    assert done.status_code == 303 and done.headers["location"] == f"{PAGE}?connected=hostile"
    assert len(linked_to(db, ada)) == 1 and smtp_sink.messages == []


async def test_a_second_account_at_the_same_provider_is_refused(
    browsers: list[Browser], provider: HostileOP, db: Database
) -> None:
    ada = add_user(db)
    await password_sign_in(browsers[0])
    page = await browsers[0].client.get(PAGE)
    give_identity(db, ada, provider)  # connected meanwhile (another tab)
    provider.claims["sub"] = "another-hostile-account"
    started = await start_link(browsers[0], csrf=csrf_token(page))
    refused = await browsers[0].follow(provider.follow_authorize(started.headers["location"]))
    assert refused.status_code == 409 and "provider_already_linked" in refused.text
    assert [i.subject for i in linked_to(db, ada)] == ["hostile-user-1"]


async def test_an_identity_linked_to_another_user_is_refused(
    browsers: list[Browser], provider: HostileOP, smtp_sink: SmtpSink, db: Database
) -> None:
    ada = add_user(db)
    bob = add_user(db, "bob")
    give_identity(db, bob, provider)
    await password_sign_in(browsers[0])
    refused = await link(browsers[0], provider)
    assert refused.status_code == 409 and "identity_linked_elsewhere" in refused.text
    assert "already connected to another account" in refused.text
    assert "The account could not be connected" in refused.text
    assert linked_to(db, ada) == [] and len(linked_to(db, bob)) == 1
    assert user_sessions(db, bob) == []  # bob was not signed in either
    assert smtp_sink.messages == []


# -- the guards of starting a link -----------------------------------------------------------------


@pytest.mark.parametrize("token", ["", "forged-token"])
async def test_linking_without_the_sessions_csrf_token_is_refused(
    browsers: list[Browser], provider: HostileOP, db: Database, token: str
) -> None:
    add_user(db)
    await password_sign_in(browsers[0])
    refused = await start_link(browsers[0], csrf=token)
    assert refused.status_code == 403 and "csrf_failed" in refused.text
    assert pending_flows(db) == 0 and provider.authorize_requests == []


async def test_the_token_of_the_login_page_does_not_start_a_link(
    browsers: list[Browser], provider: HostileOP, db: Database
) -> None:
    # Tokens derived from the browser cookie sign in; only the session's token links.
    add_user(db)
    browser = browsers[0]
    await password_sign_in(browser)
    browser_token = csrf_token(await browser.client.get("/login"))
    session_token = csrf_token(await browser.client.get(PAGE))
    assert browser_token != session_token
    refused = await start_link(browser, csrf=browser_token)
    assert refused.status_code == 403 and "csrf_failed" in refused.text
    assert pending_flows(db) == 0


async def test_a_link_posted_from_another_site_is_refused(
    browsers: list[Browser], provider: HostileOP, db: Database
) -> None:
    add_user(db)
    await password_sign_in(browsers[0])
    token = csrf_token(await browsers[0].client.get(PAGE))
    refused = await browsers[0].client.post(
        f"{PAGE}/link/hostile", data={"csrf_token": token}, headers={"Origin": "https://evil.test"}
    )
    assert refused.status_code == 403 and pending_flows(db) == 0


async def test_linking_needs_a_recent_sign_in(
    browsers: list[Browser], provider: HostileOP, db: Database
) -> None:
    add_user(db)
    await password_sign_in(browsers[0])
    age_sessions(db, timedelta(minutes=11))
    page = await browsers[0].client.get(PAGE)
    assert "sign in again" in page.text
    refused = await start_link(browsers[0], csrf=csrf_token(page))
    assert refused.status_code == 403 and "reauthentication_required" in refused.text
    assert 'href="/login?next=%2Faccount%2Fsecurity"' in refused.text
    assert pending_flows(db) == 0 and provider.authorize_requests == []


async def test_linking_signed_out_goes_to_the_login_page(
    browsers: list[Browser], provider: HostileOP, db: Database
) -> None:
    token = csrf_token(await browsers[0].login_page())
    response = await start_link(browsers[0], csrf=token)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Faccount%2Fsecurity"
    assert pending_flows(db) == 0


# -- a link flow never signs in, a sign-in flow never links ----------------------------------


async def test_a_link_callback_after_signing_out_signs_nobody_in(
    browsers: list[Browser], provider: HostileOP, db: Database
) -> None:
    ada = add_user(db)
    browser = browsers[0]
    await password_sign_in(browser)
    started = await start_link(browser)
    callback = provider.follow_authorize(started.headers["location"])
    page = await browser.client.get(PAGE)
    await browser.client.post("/logout", data={"csrf_token": csrf_token(page)})
    replayed = await browser.follow(callback)
    assert replayed.status_code == 403 and "link_session_changed" in replayed.text
    assert linked_to(db, ada) == [] and outcome(db).sessions == 0
    assert browser.cookie("fedlogin_session") is None
    assert provider.token_requests == []  # refused before the code was redeemed


async def test_a_link_callback_after_another_user_signed_in_links_nobody(
    browsers: list[Browser], provider: HostileOP, db: Database
) -> None:
    ada = add_user(db)
    bob = add_user(db, "bob")
    browser = browsers[0]
    await password_sign_in(browser)
    started = await start_link(browser)
    callback = provider.follow_authorize(started.headers["location"])
    await password_sign_in(browser, "bob")  # the same browser, now bob's
    refused = await browser.follow(callback)
    assert refused.status_code == 403 and "link_session_changed" in refused.text
    assert linked_to(db, ada) == [] and linked_to(db, bob) == []
    assert len(user_sessions(db, bob)) == 1 and user_sessions(db, ada) == []


async def test_a_link_callback_delivered_to_another_browser_links_nobody(
    browsers: list[Browser], provider: HostileOP, db: Database
) -> None:
    # Eve starts linking her account and sends the callback URL to ada's signed-in browser.
    eve = add_user(db, "eve")
    ada = add_user(db)
    eves, adas = browsers
    await password_sign_in(eves, "eve")
    await password_sign_in(adas)
    started = await start_link(eves)
    callback = provider.follow_authorize(started.headers["location"])
    refused = await adas.follow(callback)
    assert refused.status_code == 400 and "browser_mismatch" in refused.text
    assert linked_to(db, eve) == [] and linked_to(db, ada) == []
    assert provider.token_requests == []


async def test_a_sign_in_flow_of_a_signed_in_user_never_links_to_them(
    browsers: list[Browser], provider: HostileOP, db: Database
) -> None:
    ada = add_user(db)
    browser = browsers[0]
    await password_sign_in(browser)
    started = await browser.click("hostile")  # the login page's button: a sign-in
    done = await browser.follow(provider.follow_authorize(started.headers["location"]))
    assert done.status_code == 303 and done.headers["location"] == "/account"
    assert linked_to(db, ada) == [] and user_sessions(db, ada) == []
    with db.session() as session:
        newcomer = session.exec(select(User).where(col(User.username) == "hostile.user")).one()
    assert newcomer.id is not None and len(linked_to(db, newcomer.id)) == 1
    assert len(user_sessions(db, newcomer.id)) == 1


# -- unlinking (U4) --------------------------------------------------------------------------------


async def unlink(browser: Browser, identity_id: int, csrf: str | None = None) -> httpx.Response:
    if csrf is None:
        csrf = csrf_token(await browser.client.get(PAGE))
    return await browser.client.post(
        f"{PAGE}/identities/{identity_id}/unlink", data={"csrf_token": csrf}
    )


async def test_a_user_with_a_password_unlinks_a_provider_and_is_told_by_email(
    browsers: list[Browser], provider: HostileOP, smtp_sink: SmtpSink, db: Database
) -> None:
    ada = add_user(db)
    give_identity(db, ada, provider)
    await password_sign_in(browsers[0])
    [identity] = linked_to(db, ada)
    assert identity.id is not None
    done = await unlink(browsers[0], identity.id)
    assert done.status_code == 303 and done.headers["location"] == f"{PAGE}?disconnected=hostile"
    assert linked_to(db, ada) == []
    page = await browsers[0].client.get(done.headers["location"])
    assert "Hostile was disconnected" in page.text
    notice = smtp_sink.last_to("ada@example.org")
    assert "Hostile was disconnected" in str(notice["Subject"])


class AnsweredWatch:
    """The app, noting how many mails the SMTP server had when each answer was complete."""

    def __init__(self, app: ASGIApp, sink: SmtpSink) -> None:
        self.app, self.sink = app, sink
        self.mails_when_answered: list[int] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def watched(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.mails_when_answered.append(len(self.sink.messages))

        await self.app(scope, receive, watched)


async def test_connected_and_disconnected_notices_are_sent_after_the_answer(
    app: Starlette, context: AppContext, provider: HostileOP, smtp_sink: SmtpSink, db: Database
) -> None:
    """A notice nobody waits for never holds up the page (a slow or unreachable mail server
    would): it is sent once the redirect is complete, yet still by the same request."""
    ada = add_user(db)  # with a password: the identity may be disconnected again
    watch = AnsweredWatch(app, smtp_sink)
    browser = Browser(watch, BASE_URL)
    try:
        await password_sign_in(browser)
        watch.mails_when_answered.clear()
        done = await link(browser, provider)
        assert done.headers["location"] == f"{PAGE}?connected=hostile"
        assert watch.mails_when_answered[-1] == 0  # the callback's answer: no mail yet
        assert "Hostile was connected" in str(smtp_sink.last_to("ada@example.org")["Subject"])

        [identity] = linked_to(db, ada)
        assert identity.id is not None
        done = await unlink(browser, identity.id)
        assert done.headers["location"] == f"{PAGE}?disconnected=hostile"
        assert watch.mails_when_answered[-1] == 1  # only the connected notice so far
        assert "Hostile was disconnected" in str(smtp_sink.messages[-1]["Subject"])
    finally:
        await browser.aclose()
        await context.close()  # as the browsers fixture does: its outbound connections


async def test_the_only_way_in_without_a_password_cannot_be_unlinked(
    browsers: list[Browser], provider: HostileOP, smtp_sink: SmtpSink, db: Database
) -> None:
    ada = add_user(db, password=None)
    give_identity(db, ada, provider)
    started = await browsers[0].click("hostile")
    await browsers[0].follow(provider.follow_authorize(started.headers["location"]))
    page = await browsers[0].client.get(PAGE)
    assert "only way to sign in" in page.text
    [identity] = linked_to(db, ada)
    assert identity.id is not None
    refused = await unlink(browsers[0], identity.id, csrf_token(page))
    assert refused.status_code == 409 and "last_sign_in_method" in refused.text
    assert "Set a password or connect another provider first" in refused.text
    assert len(linked_to(db, ada)) == 1 and smtp_sink.messages == []


async def test_without_a_password_one_of_two_providers_can_be_unlinked(
    browsers: list[Browser], provider: HostileOP, second: HostileOP, db: Database
) -> None:
    ada = add_user(db, password=None)
    give_identity(db, ada, provider)
    started = await browsers[0].click("hostile")
    await browsers[0].follow(provider.follow_authorize(started.headers["location"]))
    linked = await link(browsers[0], second, "second")
    assert linked.headers["location"] == f"{PAGE}?connected=second"
    first, other = linked_to(db, ada)
    assert first.id is not None and other.id is not None
    assert (await unlink(browsers[0], first.id)).status_code == 303
    refused = await unlink(browsers[0], other.id)
    assert refused.status_code == 409 and [i.id for i in linked_to(db, ada)] == [other.id]


async def test_another_users_identity_cannot_be_unlinked(
    browsers: list[Browser], provider: HostileOP, db: Database
) -> None:
    add_user(db)
    bob = add_user(db, "bob")
    give_identity(db, bob, provider)
    [bobs] = linked_to(db, bob)
    assert bobs.id is not None
    await password_sign_in(browsers[0])
    refused = await unlink(browsers[0], bobs.id)
    assert refused.status_code == 404 and "identity_not_found" in refused.text
    assert len(linked_to(db, bob)) == 1


async def test_unlinking_needs_the_sessions_csrf_token(
    browsers: list[Browser], provider: HostileOP, db: Database
) -> None:
    ada = add_user(db)
    give_identity(db, ada, provider)
    [identity] = linked_to(db, ada)
    assert identity.id is not None
    await password_sign_in(browsers[0])
    refused = await unlink(browsers[0], identity.id, csrf="forged")
    assert refused.status_code == 403 and len(linked_to(db, ada)) == 1


async def test_no_notice_goes_to_an_address_the_user_never_proved(
    browsers: list[Browser], provider: HostileOP, smtp_sink: SmtpSink, db: Database
) -> None:
    ada = add_user(db, email_verified=False)
    await password_sign_in(browsers[0])
    assert (await link(browsers[0], provider)).status_code == 303
    assert len(linked_to(db, ada)) == 1 and smtp_sink.messages == []
