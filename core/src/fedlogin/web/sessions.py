"""Browser sessions and CSRF tokens, kept server-side so any process can serve any request.

Sessions (SECURITY.md): the ``fedlogin_session`` cookie holds a random value; the database
keeps only its SHA-256, so a copy of the database signs nobody in. A sign-in always makes a
new session (the old one, if any, is ended). Cookies are ``HttpOnly``, ``SameSite=Lax`` and
``Secure`` when the platform's URL is https or the request came over https (directly, or
from a trusted reverse proxy's ``X-Forwarded-Proto``: ``fedlogin serve
--forwarded-allow-ips``). A session ends after :data:`IDLE_TIMEOUT`
without a request, after :data:`ABSOLUTE_TIMEOUT` in any case, and at sign-out. The same
table serves the admin console's sessions (``admin_user_id``).

CSRF: every form carries a token derived (HMAC) from a secret the attacker's page cannot
read: the session's ``csrf_secret`` once signed in, and before that the ``fedlogin_browser``
cookie, a random value set by the login page that also binds pending sign-ins to the
browser. A state-changing request whose ``Origin`` names another host is refused as well.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlmodel import Session, col, select
from starlette.requests import Request
from starlette.responses import Response

from fedlogin.errors import FedloginError
from fedlogin.store.admins import token_digest
from fedlogin.store.database import connection_of
from fedlogin.store.prepared import PreparedStatement, insert_row
from fedlogin.store.tables import BrowserSession, table_of
from fedlogin.store.types import utcnow
from fedlogin.web.context import app_context

SESSION_COOKIE = "fedlogin_session"
BROWSER_COOKIE = "fedlogin_browser"
CSRF_FIELD = "csrf_token"
IDLE_TIMEOUT = timedelta(hours=8)
ABSOLUTE_TIMEOUT = timedelta(days=7)
BROWSER_COOKIE_LIFETIME = timedelta(days=30)
#: last_seen_at is written at most this often: a page view is not a database write.
TOUCH_INTERVAL = timedelta(minutes=1)
_CSRF_PURPOSE = b"fedlogin csrf v1"
_NOT_LOOKED_UP = object()
_SESSIONS = table_of(BrowserSession)
_INSERT = PreparedStatement(insert_row(_SESSIONS).returning(_SESSIONS.c.id))
#: Cookie values written without quoting: what secrets.token_urlsafe makes.
_PLAIN_COOKIE_VALUE = re.compile(r"[A-Za-z0-9_-]+")


class CsrfRefused(FedloginError):
    code = "csrf_failed"
    status = 403


# -- the session table ------------------------------------------------------------------------


def create_session(
    session: Session,
    *,
    user_id: int | None = None,
    admin_user_id: int | None = None,
    user_agent: str | None = None,
    now: datetime | None = None,
) -> tuple[str, int]:
    """A new session for one user or admin: the cookie value (shown nowhere else) and the
    session's id."""
    if (user_id is None) == (admin_user_id is None):
        raise ValueError("a session belongs to exactly one user or admin")
    now = now or utcnow()
    token = secrets.token_urlsafe(32)
    values = {
        "token_hash": token_digest(token),
        "user_id": user_id,
        "admin_user_id": admin_user_id,
        "csrf_secret": secrets.token_hex(32),
        "created_at": now,
        "authenticated_at": now,
        "last_seen_at": now,
        "expires_at": min(now + IDLE_TIMEOUT, now + ABSOLUTE_TIMEOUT),
        "user_agent": (user_agent or "")[:255] or None,
    }
    # A prepared INSERT (fedlogin.store.prepared): every sign-in makes one, and an ORM
    # object and flush cost several times more.
    ((session_id,),) = _INSERT.rows(connection_of(session), values)
    return token, int(session_id)


def find_session(
    session: Session, token: str, now: datetime | None = None
) -> BrowserSession | None:
    """The live session of a cookie value; an expired one is deleted and ``None`` returned."""
    now = now or utcnow()
    query = select(BrowserSession).where(col(BrowserSession.token_hash) == token_digest(token))
    row = session.exec(query).first()
    if row is None:
        return None
    if row.expires_at <= now:
        session.delete(row)
        return None
    if now - row.last_seen_at >= TOUCH_INTERVAL:
        row.last_seen_at = now
        row.expires_at = min(now + IDLE_TIMEOUT, row.created_at + ABSOLUTE_TIMEOUT)
        session.add(row)
    return row


def end_session(session: Session, token: str) -> None:
    # A Core DELETE (no ORM objects to keep in step), on the connection: a sign-in from a
    # browser that was signed in makes it.
    connection_of(session).execute(
        delete(_SESSIONS).where(_SESSIONS.c.token_hash == token_digest(token))
    )


def end_all_for_user(session: Session, user_id: int) -> int:
    """End every session of a user (an account merged, disabled or its password changed)."""
    result = session.execute(
        delete(BrowserSession).where(col(BrowserSession.user_id) == user_id),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def sweep_expired(session: Session, now: datetime | None = None) -> int:
    result = session.execute(
        delete(BrowserSession).where(col(BrowserSession.expires_at) <= (now or utcnow())),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


# -- requests and cookies ---------------------------------------------------------------------


async def current_session(request: Request) -> BrowserSession | None:
    """The request's live session (looked up once per request)."""
    cached = getattr(request.state, "browser_session", _NOT_LOOKED_UP)
    if cached is not _NOT_LOOKED_UP:
        assert cached is None or isinstance(cached, BrowserSession)
        return cached
    token = request.cookies.get(SESSION_COOKIE)
    row = None
    if token:
        row = await app_context(request).transaction(lambda s: find_session(s, token))
    request.state.browser_session = row
    return row


def secure_cookies(request: Request) -> bool:
    """``Secure`` cookies: the platform is https, or this request arrived over https.

    The request's scheme is what the connection says, or what a *trusted* proxy forwarded
    (an untrusted peer's ``X-Forwarded-Proto`` never reaches the scope). A platform URL of
    https keeps cookies ``Secure`` even on a request that claims plain http.
    """
    if request.scope.get("scheme") == "https":
        return True
    return app_context(request).config.base_url.startswith("https://")


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    _set_cookie(request, response, SESSION_COOKIE, token, ABSOLUTE_TIMEOUT)


def _set_cookie(
    request: Request, response: Response, name: str, value: str, lifetime: timedelta
) -> None:
    max_age = int(lifetime.total_seconds())
    secure = secure_cookies(request)
    if not _PLAIN_COOKIE_VALUE.fullmatch(value):
        response.set_cookie(
            name, value, max_age=max_age, httponly=True, samesite="lax", secure=secure
        )
        return
    # Our own random values need no quoting: the header http.cookies would build, written
    # directly (a SimpleCookie per response was 5% of the login page's CPU).
    header = f"{name}={value}; HttpOnly; Max-Age={max_age}; Path=/; SameSite=lax"
    if secure:
        header += "; Secure"
    response.raw_headers.append((b"set-cookie", header.encode("latin-1")))


def clear_session_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="lax", secure=secure_cookies(request)
    )


def browser_id(request: Request) -> tuple[str, bool]:
    """The ``fedlogin_browser`` cookie's value, or a new one (``True``: set it on the response)."""
    value = request.cookies.get(BROWSER_COOKIE)
    if value and 32 <= len(value) <= 64:
        return value, False
    return secrets.token_urlsafe(32), True


def set_browser_cookie(request: Request, response: Response, value: str) -> None:
    _set_cookie(request, response, BROWSER_COOKIE, value, BROWSER_COOKIE_LIFETIME)


# -- CSRF --------------------------------------------------------------------------------------


def csrf_token_for(secret: str) -> str:
    return hmac.new(secret.encode(), _CSRF_PURPOSE, hashlib.sha256).hexdigest()


def csrf_candidates(request: Request, browser_session: BrowserSession | None) -> list[str]:
    """The tokens a form of this request may carry: the session's, then the browser's."""
    found = []
    if browser_session is not None:
        found.append(csrf_token_for(browser_session.csrf_secret))
    browser = request.cookies.get(BROWSER_COOKIE)
    if browser:
        found.append(csrf_token_for(browser))
    return found


async def check_csrf(request: Request, submitted: object) -> None:
    """Refuse a form post that does not prove it came from one of our pages."""
    origin = request.headers.get("origin")
    host = request.headers.get("host", "")
    if origin is not None and origin.split("://", 1)[-1].lower() != host.lower():
        raise CsrfRefused(
            "This form was sent from another site, so it was refused.",
            hint="Open the login page of this site and try again.",
        )
    candidates = csrf_candidates(request, await current_session(request))
    if not candidates:
        raise CsrfRefused(
            "Your browser did not send back the cookie this site set on the login page, "
            "so the form could not be checked. Cookies may be blocked, or the site may be "
            "configured for HTTPS but opened over plain HTTP.",
            code="cookies_missing",
            hint="Allow cookies for this site, open it at its usual (https) address, and "
            "reload the login page.",
        )
    if not isinstance(submitted, str) or not any(
        hmac.compare_digest(submitted.encode(), token.encode()) for token in candidates
    ):
        raise CsrfRefused(
            "The form has expired or did not come from this site.",
            hint="Reload the page and try again.",
        )
