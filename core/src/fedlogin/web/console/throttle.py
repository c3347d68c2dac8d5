"""Rate limit of the console's sign-in, on the shared limiter of fedlogin.accounts.throttle.

Admin names and addresses get buckets of their own (``admin_account``, ``admin_address``),
counted atomically before the password is checked, so the limit holds across processes (X4)
and under concurrent guesses. Each failed attempt is also an audit entry
(``admin_user.sign_in_failed``, the username tried, the client's address), so that an admin
can see the attempts; the audit log is not what is counted.

The client address is the connection's peer, or the client a trusted reverse proxy forwards
(``fedlogin serve --forwarded-allow-ips``). Behind a proxy that is not trusted every attempt
comes from the proxy's address and shares its limit.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from fedlogin.accounts import throttle
from fedlogin.store import audit

FAILED = "admin_user.sign_in_failed"
SUCCEEDED = "admin_user.sign_in"
MAX_FAILURES_PER_USERNAME = throttle.ADMIN_ACCOUNT_LIMIT.max_failures
_ADDRESS_PREFIX = "sign-in attempt from "


def buckets(username: str, address: str) -> list[throttle.Bucket]:
    return [
        throttle.account_bucket(username, throttle.ADMIN_ACCOUNT_LIMIT),
        throttle.address_bucket(address, throttle.ADMIN_ADDRESS_LIMIT),
    ]


def attempt(
    session: Session, username: str, address: str, now: datetime
) -> throttle.Blocked | None:
    """Count this attempt; how long to wait when it is over a limit (nothing checked then)."""
    return throttle.attempt(session, buckets(username, address), now)


def record_failure(session: Session, username: str, address: str) -> None:
    audit.record(
        session, _ADDRESS_PREFIX + (address or "unknown address"), FAILED, "admin_user", username
    )


def record_success(session: Session, username: str, address: str) -> None:
    throttle.succeeded(session, buckets(username, address))
    audit.record(session, username, SUCCEEDED, "admin_user", username, after={"from": address})
