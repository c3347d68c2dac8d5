"""Password guessing limits, per account name and per client address, in the database (X4).

Each bucket is a row of ``sign_in_throttle`` counting attempts in a fixed window. An attempt
is counted *before* the password is checked, by one atomic upsert whose ``RETURNING`` gives
the new count: however many processes serve the site and however many guesses arrive at
once, at most ``max_failures`` of them per window are ever checked. A success then gives
its attempt back: the account's bucket is emptied, the address's bucket loses one (people
behind one address signing in correctly never lock each other out).

The account bucket is keyed by the name *typed*, known or not: an unknown name is limited
exactly like a real one, so the limit tells an attacker nothing about who exists. A person
can be reached by two names (username and email), so an attacker gets twice the attempts
per account; the address limit bounds them both.

Keys are stored as SHA-256 digests: neither the names people type (sometimes a password in
the wrong field) nor their addresses are kept in clear.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs
from sqlalchemy import case, delete, literal, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from fedlogin.store.tables import SignInThrottle, metadata
from fedlogin.store.types import UTCDateTime

ACCOUNT = "account"
ADDRESS = "address"
#: Rows older than this are swept (longer than any window).
SWEEP_AFTER = timedelta(hours=1)


@attrs.frozen
class Limit:
    #: The bucket's kind, part of its key (at most 16 characters).
    scope: str
    max_failures: int
    window: timedelta
    #: On a success: empty the bucket (an account's), or give back only that one attempt
    #: (an address's, shared by other people).
    forgive_all: bool


#: Five wrong passwords for one name, then wait out the quarter hour.
ACCOUNT_LIMIT = Limit(ACCOUNT, 5, timedelta(minutes=15), forgive_all=True)
#: Enough for an office behind one address mistyping; not enough to spray many accounts.
ADDRESS_LIMIT = Limit(ADDRESS, 20, timedelta(minutes=15), forgive_all=False)
#: The admin console's sign-in: the same limits, in buckets of their own.
ADMIN_ACCOUNT_LIMIT = attrs.evolve(ACCOUNT_LIMIT, scope="admin_account")
ADMIN_ADDRESS_LIMIT = attrs.evolve(ADDRESS_LIMIT, scope="admin_address")


@attrs.frozen
class Bucket:
    limit: Limit
    key_hash: str


@attrs.frozen
class Blocked:
    """The attempt was refused before any password was checked."""

    scope: str
    retry_after: timedelta

    @property
    def minutes(self) -> int:
        """The wait rounded up to whole minutes (at least one), as people are told."""
        return max(1, math.ceil(self.retry_after.total_seconds() / 60))

    @property
    def seconds(self) -> int:
        return max(1, math.ceil(self.retry_after.total_seconds()))


def account_bucket(login_name: str, limit: Limit = ACCOUNT_LIMIT) -> Bucket:
    return Bucket(limit, _digest(login_name))


def address_bucket(address: str | None, limit: Limit = ADDRESS_LIMIT) -> Bucket:
    return Bucket(limit, _digest(client_network(address)))


def client_network(address: str | None) -> str:
    """The address a limit applies to: IPv4 as is, IPv6 by its /64 (one subscriber's)."""
    if not address:
        return "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address.lower()
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def attempt(session: Session, buckets: Sequence[Bucket], now: datetime) -> Blocked | None:
    """Count one attempt in every bucket; the longest wait if any bucket is over its limit."""
    blocked: Blocked | None = None
    for bucket in buckets:
        count, started = _count(session, bucket, now)
        if count > bucket.limit.max_failures:
            wait = started + bucket.limit.window - now
            if blocked is None or wait > blocked.retry_after:
                blocked = Blocked(bucket.limit.scope, wait)
    return blocked


def succeeded(session: Session, buckets: Sequence[Bucket]) -> None:
    """Give back the attempt of a success: account buckets emptied, address buckets minus one."""
    for bucket in buckets:
        where = (
            col(SignInThrottle.scope) == bucket.limit.scope,
            col(SignInThrottle.key_hash) == bucket.key_hash,
        )
        if bucket.limit.forgive_all:
            statement: Any = delete(SignInThrottle).where(*where)
        else:
            statement = (
                update(SignInThrottle)
                .where(*where, col(SignInThrottle.failures) > 0)
                .values(failures=col(SignInThrottle.failures) - 1)
            )
        session.execute(statement, execution_options={"synchronize_session": False})


def locked_until(session: Session, buckets: Sequence[Bucket], now: datetime) -> datetime | None:
    """When the last lock in force among ``buckets`` ends; ``None`` when none is locked."""
    return max((end for end in lock_ends(session, buckets, now) if end is not None), default=None)


def lock_ends(session: Session, buckets: Sequence[Bucket], now: datetime) -> list[datetime | None]:
    """For each bucket, when its lock ends (``None``: not locked), in one query.

    A bucket is locked once it holds ``max_failures`` attempts in its window: the next
    attempt is refused (:func:`attempt` counts it first, so it exceeds the limit).
    """
    ends: list[datetime | None] = []
    for bucket, row in zip(buckets, _rows(session, buckets), strict=True):
        end = None if row is None else row.window_started_at + bucket.limit.window
        if row is None or row.failures < bucket.limit.max_failures or end is None or end <= now:
            end = None
        ends.append(end)
    return ends


def forgive(session: Session, buckets: Sequence[Bucket]) -> int:
    """Empty ``buckets`` whatever their limit (an admin lifting a lock); rows removed."""
    removed = 0
    for bucket in buckets:
        result = session.execute(
            delete(SignInThrottle).where(
                col(SignInThrottle.scope) == bucket.limit.scope,
                col(SignInThrottle.key_hash) == bucket.key_hash,
            ),
            execution_options={"synchronize_session": False},
        )
        removed += int(result.rowcount)  # type: ignore[attr-defined]
    return removed


def _rows(session: Session, buckets: Sequence[Bucket]) -> list[SignInThrottle | None]:
    if not buckets:
        return []
    found = {
        (row.scope, row.key_hash): row
        for row in session.exec(
            select(SignInThrottle).where(
                col(SignInThrottle.scope).in_({bucket.limit.scope for bucket in buckets}),
                col(SignInThrottle.key_hash).in_({bucket.key_hash for bucket in buckets}),
            )
        )
    }
    return [found.get((bucket.limit.scope, bucket.key_hash)) for bucket in buckets]


def sweep(session: Session, now: datetime) -> int:
    result = session.execute(
        delete(SignInThrottle).where(col(SignInThrottle.window_started_at) <= now - SWEEP_AFTER),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _count(session: Session, bucket: Bucket, now: datetime) -> tuple[int, datetime]:
    """Add one to the bucket (a new window if the last one ended); its count and start."""
    table = metadata.tables[SignInThrottle.__tablename__]
    at = literal(now, UTCDateTime())
    ended = table.c.window_started_at <= literal(now - bucket.limit.window, UTCDateTime())
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(table)
        .values(
            scope=bucket.limit.scope, key_hash=bucket.key_hash, failures=1, window_started_at=now
        )
        .on_conflict_do_update(
            index_elements=[table.c.scope, table.c.key_hash],
            # Both right-hand sides read the row as it was (SQL evaluates SET against the old row).
            set_={
                "failures": case((ended, 1), else_=table.c.failures + 1),
                "window_started_at": case((ended, at), else_=table.c.window_started_at),
            },
        )
        .returning(table.c.failures, table.c.window_started_at)
    )
    count, started = session.execute(statement).one()
    assert isinstance(started, datetime)
    return int(count), started


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()
