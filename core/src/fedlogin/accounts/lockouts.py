"""Admins lifting a password-guessing lock (fedlogin.accounts.throttle) before it runs out.

After :data:`~fedlogin.accounts.throttle.ACCOUNT_LIMIT` wrong passwords a sign-in name is
locked for the rest of its window. A user can be reached by two names, the username and
the email address, each with its own bucket: a user is locked while either is, and
unlocking empties both. The admin console's sign-in has buckets of its own
(``admin_account``, ``admin_address``); a locked-out admin may have no other way back in
than ``fedlogin admin unlock`` on the server.

Unlocking removes the buckets, failed attempts below the limit included, and is audited
when it removed anything (``user.unlock``, ``admin_user.unlock``). Addresses are not
unlocked per user: an address's bucket is shared by everyone behind it and keyed by a
digest, so it is lifted only by naming the address, as ``fedlogin admin unlock --address``
does for the console's.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlmodel import Session

from fedlogin.accounts import throttle
from fedlogin.accounts.passwords import normalize_login_name
from fedlogin.store import audit
from fedlogin.store.tables import User

USER_UNLOCKED = "user.unlock"
ADMIN_UNLOCKED = "admin_user.unlock"


def user_buckets(user: User) -> list[throttle.Bucket]:
    """The buckets of every name that signs ``user`` in with a password."""
    names = {normalize_login_name(user.username), normalize_login_name(user.email)}
    return [throttle.account_bucket(name) for name in sorted(n for n in names if n)]


def user_locked_until(session: Session, user: User, now: datetime) -> datetime | None:
    return throttle.locked_until(session, user_buckets(user), now)


def users_locked_until(
    session: Session, users: Iterable[User], now: datetime
) -> dict[int, datetime]:
    """The users of a page that are locked, by id (one query for the page)."""
    listed = [(user.id, user_buckets(user)) for user in users if user.id is not None]
    every = [bucket for _, buckets in listed for bucket in buckets]
    ends = dict(zip(every, throttle.lock_ends(session, every, now), strict=True))
    found: dict[int, datetime] = {}
    for user_id, buckets in listed:
        until = max(
            (e for e in (ends[bucket] for bucket in buckets) if e is not None), default=None
        )
        if user_id is not None and until is not None:
            found[user_id] = until
    return found


def unlock_user(session: Session, user: User, *, actor: str, now: datetime) -> bool:
    """Empty the user's buckets; whether a lock was in force (audited if anything went)."""
    buckets = user_buckets(user)
    until = throttle.locked_until(session, buckets, now)
    if throttle.forgive(session, buckets):
        assert user.id is not None
        audit.record(
            session,
            actor,
            USER_UNLOCKED,
            "user",
            user.id,
            before={"sign_in_locked_until": until.isoformat() if until else None},
            after={"sign_in_locked_until": None},
        )
    return until is not None


def admin_buckets(username: str, address: str | None = None) -> list[throttle.Bucket]:
    buckets = [throttle.account_bucket(username.strip().lower(), throttle.ADMIN_ACCOUNT_LIMIT)]
    if address is not None:
        buckets.append(throttle.address_bucket(address, throttle.ADMIN_ADDRESS_LIMIT))
    return buckets


def admin_locked_until(
    session: Session, username: str, now: datetime, address: str | None = None
) -> datetime | None:
    return throttle.locked_until(session, admin_buckets(username, address), now)


def unlock_admin(
    session: Session, username: str, *, actor: str, now: datetime, address: str | None = None
) -> bool:
    """Let ``username`` (and anyone from ``address``) try the console's sign-in again."""
    buckets = admin_buckets(username, address)
    until = throttle.locked_until(session, buckets, now)
    if throttle.forgive(session, buckets):
        after: dict[str, str | None] = {"sign_in_locked_until": None}
        if address is not None:
            after["address"] = throttle.client_network(address)
        audit.record(
            session,
            actor,
            ADMIN_UNLOCKED,
            "admin_user",
            username,
            before={"sign_in_locked_until": until.isoformat() if until else None},
            after=after,
        )
    return until is not None
