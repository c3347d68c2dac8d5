"""Password guessing limits in the database: counted atomically, per window, across processes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fedlogin.accounts import throttle
from fedlogin.accounts.throttle import (
    ACCOUNT_LIMIT,
    ADDRESS_LIMIT,
    Limit,
    account_bucket,
    address_bucket,
    attempt,
    client_network,
    succeeded,
    sweep,
)
from fedlogin.store.database import Database
from fedlogin.store.tables import SignInThrottle
from fedlogin.store.types import utcnow
from sqlmodel import select


@pytest.fixture
def second_process(db: Database) -> Iterator[Database]:
    """Another engine on the same database: what a second server process has."""
    other = Database(db.url)
    yield other
    other.dispose()


def attempts(
    database: Database, buckets: list[throttle.Bucket], now: datetime | None = None
) -> throttle.Blocked | None:
    with database.transaction() as session:
        return attempt(session, buckets, now or utcnow())


def test_the_attempt_after_the_limit_is_blocked_until_the_window_ends(db: Database) -> None:
    bucket = account_bucket("ada")
    start = utcnow()
    for n in range(ACCOUNT_LIMIT.max_failures):
        assert attempts(db, [bucket], start + timedelta(seconds=n)) is None
    blocked = attempts(db, [bucket], start + timedelta(minutes=5))
    assert blocked is not None and blocked.scope == "account"
    assert blocked.retry_after == ACCOUNT_LIMIT.window - timedelta(minutes=5)
    assert blocked.minutes == 10
    # Still blocked a moment before the window ends, free again once it has.
    assert attempts(db, [bucket], start + ACCOUNT_LIMIT.window - timedelta(seconds=1))
    assert attempts(db, [bucket], start + ACCOUNT_LIMIT.window) is None


def test_buckets_are_separate_per_name_and_scope(db: Database) -> None:
    ada, bob = account_bucket("ada"), account_bucket("bob")
    for _ in range(ACCOUNT_LIMIT.max_failures):
        attempts(db, [ada])
    assert attempts(db, [ada]) is not None
    assert attempts(db, [bob]) is None
    assert attempts(db, [address_bucket("ada")]) is None  # same text, other scope


def test_the_longest_wait_of_several_blocked_buckets_is_reported(db: Database) -> None:
    short = throttle.Bucket(Limit("account", 1, timedelta(minutes=1), forgive_all=True), "a" * 64)
    long = throttle.Bucket(Limit("address", 1, timedelta(minutes=30), forgive_all=False), "b" * 64)
    now = utcnow()
    attempts(db, [short, long], now)
    blocked = attempts(db, [short, long], now)
    assert blocked is not None and blocked.scope == "address" and blocked.minutes == 30


def test_a_success_empties_the_account_and_gives_one_back_to_the_address(db: Database) -> None:
    account, address = account_bucket("ada"), address_bucket("192.0.2.7")
    for _ in range(3):
        attempts(db, [account, address])
    with db.transaction() as session:
        succeeded(session, [account, address])
    with db.session() as session:
        rows = {row.scope: row.failures for row in session.exec(select(SignInThrottle))}
    assert rows == {"address": 2}


def test_keys_are_stored_as_digests_only(db: Database) -> None:
    attempts(db, [account_bucket("ada@example.org"), address_bucket("192.0.2.7")])
    with db.session() as session:
        stored = [row.key_hash for row in session.exec(select(SignInThrottle))]
    assert len(stored) == 2 and all(len(key) == 64 for key in stored)
    assert not any("ada" in key or "192.0.2" in key for key in stored)


def test_old_rows_are_swept(db: Database) -> None:
    now = utcnow()
    attempts(db, [account_bucket("old")], now - timedelta(hours=2))
    attempts(db, [account_bucket("new")], now)
    with db.transaction() as session:
        assert sweep(session, now) == 1
    with db.session() as session:
        assert len(session.exec(select(SignInThrottle)).all()) == 1


def test_two_processes_guessing_at_once_get_no_more_than_the_limit(
    db: Database, second_process: Database
) -> None:
    """Concurrent attempts from two engines: exactly max_failures pass, the rest are blocked."""
    bucket = account_bucket("ada")
    passed: list[bool] = []
    lock = threading.Lock()
    barrier = threading.Barrier(12)

    def guess(database: Database) -> None:
        barrier.wait()
        result = attempts(database, [bucket])
        with lock:
            passed.append(result is None)

    threads = [
        threading.Thread(target=guess, args=(db if n % 2 else second_process,)) for n in range(12)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert passed.count(True) == ACCOUNT_LIMIT.max_failures
    assert len(passed) == 12


def test_the_address_limit_is_larger_than_the_account_limit() -> None:
    assert ADDRESS_LIMIT.max_failures > ACCOUNT_LIMIT.max_failures


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("TestClient", "testclient"),
        (None, "unknown"),
        ("", "unknown"),
    ],
)
def test_addresses_are_limited_by_ipv4_address_or_ipv6_slash_64(
    address: str | None, network: str
) -> None:
    assert client_network(address) == network


def test_a_bucket_is_locked_from_its_last_allowed_failure_until_its_window_ends(
    db: Database,
) -> None:
    name, other = account_bucket("ada"), account_bucket("bob")
    start = utcnow()
    for n in range(ACCOUNT_LIMIT.max_failures):
        with db.session() as session:
            assert throttle.locked_until(session, [name, other], start) is None
        attempts(db, [name], start + timedelta(seconds=n))
    with db.session() as session:
        ends = start + ACCOUNT_LIMIT.window
        assert throttle.lock_ends(session, [name, other], start) == [ends, None]
        assert throttle.locked_until(session, [other, name], start) == ends
        assert throttle.locked_until(session, [name], ends) is None  # ran out
    assert attempts(db, [name], start + timedelta(minutes=1)) is not None


def test_forgiving_empties_a_bucket_whatever_its_limit(db: Database) -> None:
    name, address = account_bucket("ada"), address_bucket("192.0.2.1")
    for _ in range(ADDRESS_LIMIT.max_failures):
        attempts(db, [name, address])
    with db.transaction() as session:
        assert throttle.forgive(session, [name, address, account_bucket("bob")]) == 2
    with db.session() as session:
        assert throttle.lock_ends(session, [name, address], utcnow()) == [None, None]
    assert attempts(db, [name, address]) is None
