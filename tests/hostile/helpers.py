"""What every case of the suite does: sign in through the real routes and read what is left.

SECURITY.md's "Reject": no code redeemed (where the check comes before), no user row, no
link, no session; a clear error page and a sign-in event recording why.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from fedlogin.store.database import Database
from fedlogin.store.tables import User
from fedlogin.web.sessions import SESSION_COOKIE
from sqlmodel import select

from tests.support.hostile_op import HostileOP
from tests.support.sign_in import Browser, Outcome, outcome

BASE_URL = "http://testserver"
IDENTIFIER = "hostile"
#: ``:`` splits id from secret in HTTP Basic; ``+`` and ``%`` change meaning when decoded.
CLIENT_ID = "fedlogin:hostile client+1%2F"
CLIENT_SECRET = "s3cret:with spaces+plus/&=%41é"
AUTH_METHOD = "client_secret_basic"

#: joserfc warns before it verifies ``none`` or uses a weak key; the tests turn warnings into
#: errors, which would refuse such a token even without our own check. Production does not,
#: so the cases about those checks let the warning pass and rely on the check alone.
PRODUCTION_WARNINGS = pytest.mark.filterwarnings("ignore::joserfc.errors.SecurityWarning")

_TAGS = re.compile(r"<[^>]+>")
_CODE_LINE = re.compile(r"Error code: (\S+) \(step: (\S+) \)")


async def click(browser: Browser, identifier: str = IDENTIFIER) -> str:
    """Press the provider's button; the authorization URL the browser is sent to."""
    started = await browser.click(identifier)
    assert started.status_code == 303, started.text
    return started.headers["location"]


async def attempt(browser: Browser, op: HostileOP) -> httpx.Response:
    """A whole sign-in: button, provider (auto-approves), callback; the callback's answer."""
    return await browser.follow(op.follow_authorize(await click(browser)))


def query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def with_query(url: str, **changes: str | None) -> str:
    """``url`` with query parameters replaced (``None`` removes one)."""
    params = query(url)
    for name, value in changes.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = value
    return urlunsplit(urlsplit(url)._replace(query=urlencode(params)))


def callback_at(url: str, identifier: str) -> str:
    """The same redirect back, delivered to another provider's callback URL."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/auth/callback/{identifier}"))


def page_text(response: httpx.Response) -> str:
    """The page as a person reads it: tags dropped, entities decoded, spaces folded."""
    return " ".join(html.unescape(_TAGS.sub(" ", response.text)).split())


@dataclass(frozen=True)
class Refusal:
    """How a refusal must look: HTTP status, sign-in event step and code, and a phrase of
    the page's explanation."""

    status: int
    step: str
    code: str
    says: str


def assert_refused(
    response: httpx.Response,
    db: Database,
    op: HostileOP,
    expected: Refusal,
    *,
    redeemed: bool,
    browser: Browser | None = None,
    before: Outcome | None = None,
    identifier: str = IDENTIFIER,
) -> None:
    """The attempt ended on a clear page, created nothing and left an event naming why.

    ``redeemed``: whether the code reached the token endpoint (checks that come before
    redemption must refuse without it). ``before``: what existed before this attempt, when
    earlier sign-ins of the test created things. ``identifier``: the provider the event
    names (the one whose URL the response reached).
    """
    assert response.status_code == expected.status, response.text[:800]
    text = page_text(response)
    assert expected.says in text, text[:800]
    shown = _CODE_LINE.search(text)
    assert shown is not None and shown.groups() == (expected.code, expected.step), text[:800]
    assert "Back to sign-in" in text
    assert "Traceback" not in text
    assert len(op.token_requests) == (1 if redeemed else 0), op.token_requests
    result = outcome(db)
    if before is None:
        assert result.nothing_created, result
    else:
        assert (result.users, result.identities, result.sessions) == (
            before.users,
            before.identities,
            before.sessions,
        ), result
    assert SESSION_COOKIE not in response.cookies
    if browser is not None and before is None:
        assert browser.cookie(SESSION_COOKIE) is None
    event = result.event
    assert event is not None, "no sign-in event was recorded"
    assert (event.provider_identifier, event.outcome) == (identifier, "refused")
    assert (event.step, event.code) == (expected.step, expected.code)


def assert_signed_in(response: httpx.Response, db: Database, browser: Browser) -> User:
    """The callback signed the browser in; the user it signed in."""
    assert response.status_code == 303, page_text(response)[:800]
    assert response.headers["location"] == "/account"
    assert browser.cookie(SESSION_COOKIE)
    result = outcome(db)
    assert result.users >= 1 and result.identities >= 1 and result.sessions >= 1, result
    event = result.event
    assert event is not None and event.outcome == "success", event
    with db.session() as session:
        user = session.get(User, event.user_id)
        assert user is not None
        return user


def users(db: Database) -> list[User]:
    with db.session() as session:
        return list(session.exec(select(User)).all())
