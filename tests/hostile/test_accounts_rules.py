"""SECURITY.md's account rules where no other suite proves them through the real routes
(docs/security-tests.md names the rest).

* Sessions are revocable: a disabled user keeps no session, even when an admin disables them
  while a sign-in through a provider is under way. The sign-in takes the user row's lock
  before it stores its session and reads ``disabled`` again (as password sign-in does), so on
  PostgreSQL a disable committed between the identity lookup and the session refuses the
  sign-in, and one committed later ends the new session with the others
  (fedlogin.accounts.admin_users).
* Linking starts only by POST: a GET, which any page can make a browser send, starts nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from fedlogin.accounts import admin_users
from fedlogin.signin import flow
from fedlogin.store.database import Database
from fedlogin.store.tables import BrowserSession, PendingFlow, User
from fedlogin.web.sessions import SESSION_COOKIE
from sqlmodel import Session, col, select

from tests.hostile.helpers import IDENTIFIER, assert_signed_in, attempt, page_text
from tests.hostile.provider import SuiteOP
from tests.support.sign_in import Browser, outcome

#: How long the sign-in waits for the racing disable to commit (PostgreSQL commits at once).
RACE_WAIT = 10.0


def _add_verified_user(db: Database, email: str) -> int:
    with db.transaction() as session:
        user = User(username="owner", email=email, email_verified=True)
        session.add(user)
        session.flush()
        assert user.id is not None
        return user.id


def _sessions_of(db: Database, user_id: int) -> list[BrowserSession]:
    with db.session() as session:
        query = select(BrowserSession).where(col(BrowserSession.user_id) == user_id)
        return list(session.exec(query).all())


def _disabled(db: Database, user_id: int) -> bool:
    with db.session() as session:
        user = session.get(User, user_id)
        assert user is not None
        return user.disabled


class _RacingDisable:
    """Wraps provisioning: once the sign-in has found its (enabled) user, an admin disables
    that user in another connection and commits, before the sign-in stores its session."""

    def __init__(self, db: Database, provision: Callable[..., Any]) -> None:
        self.db = db
        self.provision = provision
        self.thread: threading.Thread | None = None
        self.committed = threading.Event()
        self.failure: BaseException | None = None

    def __call__(self, session: Session, **kwargs: Any) -> Any:
        provisioned = self.provision(session, **kwargs)
        user_id = provisioned.user.id
        assert not provisioned.user.disabled
        self.thread = threading.Thread(target=self._disable, args=(user_id,), daemon=True)
        self.thread.start()
        # SQLite takes its write lock at BEGIN (BEGIN IMMEDIATE): the admin's transaction
        # waits for this one, so the disable cannot land in between; it ends the new
        # session once this sign-in commits. PostgreSQL commits the disable now.
        self.committed.wait(timeout=0 if self.db.is_sqlite else RACE_WAIT)
        assert self.db.is_sqlite or self.committed.is_set(), "the disable did not commit"
        return provisioned

    def _disable(self, user_id: int) -> None:
        try:
            with self.db.transaction() as session:
                admin_users.set_disabled(session, user_id, True, actor="racing admin")
            self.committed.set()
        except BaseException as exc:  # reported by join()
            self.failure = exc

    def join(self) -> None:
        assert self.thread is not None, "the sign-in never reached provisioning"
        self.thread.join(timeout=RACE_WAIT)
        assert not self.thread.is_alive() and self.failure is None, self.failure
        assert self.committed.is_set()


@pytest.mark.parametrize("path", ["known-identity", "matched-by-email"])
async def test_a_disable_racing_a_provider_sign_in_leaves_no_session(
    browser: Browser,
    provider: SuiteOP,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
    path: str,
) -> None:
    if path == "known-identity":
        first = assert_signed_in(await attempt(browser, provider), db, browser)
        assert first.id is not None
        user_id = first.id
        browser.client.cookies.delete(SESSION_COOKIE)
    else:
        user_id = _add_verified_user(db, str(provider.claims["email"]))
    race = _RacingDisable(db, flow.provision)
    monkeypatch.setattr(flow, "provision", race)

    response = await attempt(browser, provider)
    race.join()

    assert _disabled(db, user_id)
    assert _sessions_of(db, user_id) == [], "a disabled user kept a session"
    account = await browser.client.get("/account")
    assert account.status_code == 303 and account.headers["location"].startswith("/login")
    if not db.is_sqlite:
        # The disable landed before the session: the sign-in itself is refused.
        assert response.status_code == 403, page_text(response)[:800]
        assert "Your account is disabled" in page_text(response)
        event = outcome(db).event
        assert event is not None and (event.provider_identifier, event.outcome) == (
            IDENTIFIER,
            "refused",
        )
        assert (event.step, event.code) == ("provisioning", "user_disabled")


async def test_a_link_is_never_started_by_a_get(
    browser: Browser, provider: SuiteOP, db: Database
) -> None:
    """A link starts only by POST (with the session's CSRF token, tests/web/test_linking.py):
    a link or an image on another site makes a GET, which must start nothing."""
    assert_signed_in(await attempt(browser, provider), db, browser)
    started = len(provider.authorize_requests)
    response = await browser.client.get(f"/account/security/link/{IDENTIFIER}")
    assert response.status_code == 405
    assert len(provider.authorize_requests) == started
    with db.session() as session:
        assert session.exec(select(PendingFlow)).all() == []
