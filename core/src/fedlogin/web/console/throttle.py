"""Rate limit of the console's sign-in: failed attempts are counted in the audit log.

Each failed attempt is an audit entry (``admin_user.sign_in_failed``, the username tried,
the client's address): an admin can see the attempts, and every process counts the same
rows (X4) without a table of its own. Before a password is checked, the failures of the
last :data:`WINDOW` are counted, per username and per client address; past the limit the
attempt is refused without checking the password, so guessing costs the attacker time and
not the server's argon2 work.

The client address is the connection's peer: behind a reverse proxy every attempt comes
from the proxy and only the per-username limit is useful. (User passwords, from the
accounts issue, may bring a shared limiter; this one can then move onto it.)
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from fedlogin.store import audit
from fedlogin.store.tables import AuditEntry
from fedlogin.store.types import utcnow

FAILED = "admin_user.sign_in_failed"
SUCCEEDED = "admin_user.sign_in"
WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_USERNAME = 5
MAX_FAILURES_PER_ADDRESS = 20
_ADDRESS_PREFIX = "sign-in attempt from "


def actor_for(address: str) -> str:
    return _ADDRESS_PREFIX + (address or "unknown address")


def refused_for(session: Session, username: str, address: str, now: datetime | None = None) -> bool:
    """Whether too many sign-ins failed lately for this username or from this address."""
    since = (now or utcnow()) - WINDOW
    recent = select(func.count(col(AuditEntry.id))).where(
        col(AuditEntry.action) == FAILED, col(AuditEntry.at) >= since
    )
    by_username = session.exec(recent.where(col(AuditEntry.target_id) == username)).one()
    if int(by_username) >= MAX_FAILURES_PER_USERNAME:
        return True
    by_address = session.exec(recent.where(col(AuditEntry.actor) == actor_for(address))).one()
    return int(by_address) >= MAX_FAILURES_PER_ADDRESS


def record_failure(session: Session, username: str, address: str) -> None:
    audit.record(session, actor_for(address), FAILED, "admin_user", username)


def record_success(session: Session, username: str, address: str) -> None:
    audit.record(session, username, SUCCEEDED, "admin_user", username, after={"from": address})
