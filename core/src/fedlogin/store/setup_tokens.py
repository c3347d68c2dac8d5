"""The one-time setup link ``fedlogin serve`` prints while no admin exists (issue 3, point 6).

Without it a fresh server would either run open (anyone reaching it could make themselves
admin) or need the command line before the browser. The link carries 256 random bits; only
their SHA-256 is stored, as for API tokens. Rules:

* a link expires after :data:`SETUP_TOKEN_TTL` and works once;
* each ``serve`` start issues a new link and ends every earlier unused one, so only the
  link in the newest output works;
* :func:`consume` marks the link used with one conditional ``UPDATE`` *before* anything
  else in its transaction: of two concurrent submissions only one finds the row unused (the
  other waits for the row or SQLite's write lock and then matches nothing), so only one
  admin is created. Creating the admin happens in the same transaction, so a refused form
  (a short password) leaves the link unused.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from fedlogin.errors import FedloginError
from fedlogin.store import admins
from fedlogin.store.tables import AdminUser, SetupToken
from fedlogin.store.types import utcnow

SETUP_TOKEN_TTL = timedelta(hours=1)
#: How the audit log names the person who used the link (nobody is signed in yet).
SETUP_ACTOR = "setup link"
#: The name of the API token created for the first admin on the setup page.
FIRST_TOKEN_NAME = "setup"  # noqa: S105 - a label, not a token
_MAX_TOKEN_LENGTH = 128


class SetupLinkState(enum.Enum):
    """What a setup link can do now, with the message a visitor reads."""

    VALID = "valid"
    UNKNOWN = "unknown"
    USED = "used"
    EXPIRED = "expired"
    ADMIN_EXISTS = "admin_exists"

    @property
    def message(self) -> str:
        return _MESSAGES[self]


_RESTART = "Restart `fedlogin serve` to print a new link (it prints one while no admin exists)."
_MESSAGES = {
    SetupLinkState.VALID: "This link creates the first admin.",
    SetupLinkState.UNKNOWN: "This setup link is not valid. " + _RESTART,
    SetupLinkState.USED: "This setup link was used already; it works only once. " + _RESTART,
    SetupLinkState.EXPIRED: "This setup link expired or was replaced by a newer one. " + _RESTART,
    SetupLinkState.ADMIN_EXISTS: "An admin exists already, so this setup link no longer "
    "works. Sign in as that admin, or add another one with "
    "`fedlogin admin create --username NAME`.",
}


class SetupLinkUnusable(FedloginError):
    """The link cannot create an admin; ``state`` says why."""

    status = 410

    def __init__(self, state: SetupLinkState) -> None:
        super().__init__(state.message, code=f"setup_link_{state.value}")
        self.state = state


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue(session: Session, *, ttl: timedelta = SETUP_TOKEN_TTL) -> str:
    """A new setup token (shown once); earlier unused ones stop working."""
    now = utcnow()
    session.execute(
        update(SetupToken)
        .where(col(SetupToken.used_at).is_(None), col(SetupToken.expires_at) > now)
        .values(expires_at=now),
        execution_options={"synchronize_session": False},
    )
    token = secrets.token_urlsafe(32)
    session.add(SetupToken(token_hash=_digest(token), created_at=now, expires_at=now + ttl))
    session.flush()
    return token


def state_of(session: Session, token: str, *, now: datetime | None = None) -> SetupLinkState:
    """Whether ``token`` can create the first admin now, and if not, why."""
    if admins.has_admin(session):
        return SetupLinkState.ADMIN_EXISTS
    row = _find(session, token)
    if row is None:
        return SetupLinkState.UNKNOWN
    if row.used_at is not None:
        return SetupLinkState.USED
    if row.expires_at <= (now or utcnow()):
        return SetupLinkState.EXPIRED
    return SetupLinkState.VALID


def consume(session: Session, token: str, username: str, password: str) -> AdminUser:
    """Use the link: create the first admin, or raise without changing anything.

    Raises :class:`SetupLinkUnusable` when the link cannot be used (any more), and the
    admin rules' :class:`~fedlogin.store.fields.ValidationFailed` for a bad username or
    password; the caller's rollback then leaves the link unused.
    """
    now = utcnow()
    if len(token) <= _MAX_TOKEN_LENGTH:
        # First statement of the transaction: it takes the write lock (see module docstring).
        claimed = session.execute(
            update(SetupToken)
            .where(
                col(SetupToken.token_hash) == _digest(token),
                col(SetupToken.used_at).is_(None),
                col(SetupToken.expires_at) > now,
            )
            .values(used_at=now),
            execution_options={"synchronize_session": False},
        )
        won = claimed.rowcount == 1  # type: ignore[attr-defined]
    else:
        won = False
    if not won:
        raise SetupLinkUnusable(state_of(session, token, now=now))
    if admins.has_admin(session):
        raise SetupLinkUnusable(SetupLinkState.ADMIN_EXISTS)
    return admins.create_admin(session, username, password, actor=SETUP_ACTOR)


def _find(session: Session, token: str) -> SetupToken | None:
    if len(token) > _MAX_TOKEN_LENGTH:
        return None
    return session.exec(select(SetupToken).where(SetupToken.token_hash == _digest(token))).first()
