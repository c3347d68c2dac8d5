"""The per-process configuration cache: one version read per use, reloaded after any admin change.

On SQLite and PostgreSQL. A second ``Database`` on the same database stands for another
process: its admin changes must reach this process's cache at the next use (X4).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import psycopg
import pytest
from fedlogin.store.changes import begin_admin_change
from fedlogin.store.config_cache import ConfigCache
from fedlogin.store.database import Database
from fedlogin.store.settings import get_settings
from fedlogin.store.tables import ConfigVersion
from sqlalchemy import delete
from sqlmodel import Session


@pytest.fixture
def cache(db: Database) -> Iterator[ConfigCache]:
    cache = ConfigCache(db)
    yield cache
    cache.close()


class CountingLoad:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, session: Session) -> bool:
        self.calls += 1
        return get_settings(session).federated_login_enabled


def admin_change(database: Database, *, enabled: bool | None = None) -> None:
    with database.transaction() as session:
        begin_admin_change(session)
        if enabled is not None:
            row = get_settings(session)
            row.federated_login_enabled = enabled
            session.add(row)


async def test_a_value_is_loaded_once_per_configuration_version(
    db: Database, cache: ConfigCache
) -> None:
    load = CountingLoad()
    assert await cache.get("switch", load) is False
    assert await cache.get("switch", load) is False
    assert load.calls == 1

    admin_change(db, enabled=True)
    assert await cache.get("switch", load) is True
    assert await cache.get("switch", load) is True
    assert load.calls == 2


async def test_a_change_made_by_another_process_applies_at_the_next_use(
    db: Database, cache: ConfigCache
) -> None:
    other_process = Database(db.url)
    try:
        load = CountingLoad()
        assert await cache.get("switch", load) is False
        admin_change(other_process, enabled=True)
        assert await cache.get("switch", load) is True
    finally:
        other_process.dispose()


async def test_a_change_that_does_not_bump_the_version_is_not_seen(
    db: Database, cache: ConfigCache
) -> None:
    # The other side of the contract: the version is what invalidates, so every admin change
    # must bump it (fedlogin.store.changes.begin_admin_change).
    load = CountingLoad()
    assert await cache.get("switch", load) is False
    with db.transaction() as session:
        row = get_settings(session)
        row.federated_login_enabled = True
        session.add(row)
    assert await cache.get("switch", load) is False
    admin_change(db)
    assert await cache.get("switch", load) is True


async def test_a_version_that_goes_back_clears_too(db: Database, cache: ConfigCache) -> None:
    admin_change(db)
    admin_change(db)
    load = CountingLoad()
    await cache.get("switch", load)
    with db.transaction() as session:  # the row removed and recreated: version 1 again
        session.execute(delete(ConfigVersion))
    admin_change(db, enabled=True)
    assert await cache.get("switch", load) is True
    assert load.calls == 2


async def test_keys_are_cached_apart_and_bounded(db: Database) -> None:
    cache = ConfigCache(db, max_entries=2)
    try:
        loads: list[str] = []

        def loader(name: str) -> object:
            def load(session: Session) -> str:
                loads.append(name)
                return name.upper()

            return load

        for name in ("a", "b", "a", "c", "a", "b"):
            assert await cache.get(name, loader(name)) == name.upper()  # type: ignore[arg-type]
        # a, b loaded; a hit; c evicts b (least recently used); a hit; b loaded again.
        assert loads == ["a", "b", "c", "b"]
    finally:
        cache.close()


async def test_a_broken_version_connection_is_replaced(db: Database, cache: ConfigCache) -> None:
    first = await cache.current_version()
    cache._connection.close()  # what a database restart does to it
    admin_change(db)
    assert await cache.current_version() == first + 1


async def test_the_version_read_leaves_no_transaction_open(
    db: Database, cache: ConfigCache
) -> None:
    # An open transaction would pin a snapshot (SQLite: hold back checkpoints; PostgreSQL:
    # "idle in transaction", holding back vacuum) between two requests.
    await cache.current_version()
    connection = cache._connection
    if db.is_sqlite:
        assert connection.in_transaction is False
    else:
        assert connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE


# -- PostgreSQL: one read shared by the requests waiting for it ---------------------------------

ON_POSTGRES = pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)


class CountedReads:
    """Wraps the cache's round trip: how many were made; optionally held after the answer."""

    def __init__(self, cache: ConfigCache) -> None:
        self.count = 0
        self.hold: asyncio.Event | None = None
        self._read = cache._read_version_async
        cache._read_version_async = self  # type: ignore[method-assign]

    async def __call__(self) -> int:
        self.count += 1
        version = await self._read()
        if self.hold is not None:
            await self.hold.wait()  # an answer still on its way back
        return version


@ON_POSTGRES
async def test_requests_arriving_together_share_one_read(db: Database, cache: ConfigCache) -> None:
    reads = CountedReads(cache)
    admin_change(db)
    versions = await asyncio.gather(*(cache.current_version() for _ in range(50)))
    assert len(set(versions)) == 1
    assert reads.count < 5  # one per round trip, not one per request


@ON_POSTGRES
async def test_a_request_arriving_during_a_read_waits_for_a_newer_one(
    db: Database, cache: ConfigCache
) -> None:
    before = await cache.current_version()
    reads = CountedReads(cache)
    reads.hold = asyncio.Event()
    early = asyncio.create_task(cache.current_version())
    while reads.count == 0:  # the early read has been sent (and answered: the old version)
        await asyncio.sleep(0.01)
    admin_change(db)  # an admin's change commits while that answer is on its way
    late = asyncio.create_task(cache.current_version())
    await asyncio.sleep(0.05)
    reads.hold.set()
    assert await early == before
    assert await late == before + 1  # not the answer of the read it found under way
    assert reads.count == 2


@ON_POSTGRES
async def test_a_cancelled_request_does_not_cancel_the_shared_read(
    db: Database, cache: ConfigCache
) -> None:
    expected = await cache.current_version()
    reads = CountedReads(cache)
    reads.hold = asyncio.Event()
    gone = asyncio.create_task(cache.current_version())
    staying = asyncio.create_task(cache.current_version())
    await asyncio.sleep(0.05)
    gone.cancel()
    reads.hold.set()
    assert await staying == expected
    with pytest.raises(asyncio.CancelledError):
        await gone
