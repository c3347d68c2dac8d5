"""Where the app's transactions run: durable ones on a worker thread; the sign-in's relaxed
ones, on a SQLite file, on the event loop itself unless another connection holds the write
lock, and then on a worker thread that waits for it while the loop goes on
(fedlogin.store.loop_writer)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fedlogin.config import Config
from fedlogin.store.database import SQLITE_BUSY_TIMEOUT_MS, Database
from fedlogin.web.context import AppContext
from sqlalchemy import Connection, create_engine
from sqlalchemy.pool import NullPool


def thread_of(_work: object) -> int:
    return threading.get_ident()


async def test_relaxed_work_runs_on_the_loop_on_sqlite_durable_work_on_a_worker(
    context: AppContext,
) -> None:
    loop_thread = threading.get_ident()
    relaxed = await context.core_transaction(thread_of, durable=False)
    relaxed_session = await context.transaction(thread_of, durable=False)
    durable = await context.core_transaction(thread_of)
    durable_session = await context.transaction(thread_of)
    assert loop_thread not in (durable, durable_session)
    if context.database.is_sqlite:
        assert relaxed == relaxed_session == loop_thread
    else:  # PostgreSQL: every statement is a round trip, made on a worker thread
        assert context.loop_writer is None
        assert loop_thread not in (relaxed, relaxed_session)


@pytest.fixture
async def file_context(config: Config, tmp_path: Path) -> AsyncIterator[AppContext]:
    database = Database(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    with database.engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE note (text TEXT)")
    context = AppContext.create(config, database=database)
    yield context
    await context.close()
    database.dispose()


async def test_a_taken_write_lock_is_waited_for_on_a_worker_while_the_loop_goes_on(
    file_context: AppContext, tmp_path: Path
) -> None:
    def add_note(connection: Connection) -> int:
        connection.exec_driver_sql("INSERT INTO note VALUES ('written')")
        return threading.get_ident()

    other = sqlite3.connect(tmp_path / "store.sqlite3", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another process's write, say
        waiting = asyncio.create_task(file_context.core_transaction(add_note, durable=False))
        began = time.monotonic()
        for _ in range(5):  # the loop is free: other tasks run while the write waits
            await asyncio.sleep(0.02)
        # Had the loop waited for the lock, these ticks would have waited out the timeout.
        assert time.monotonic() - began < SQLITE_BUSY_TIMEOUT_MS / 1000
        assert not waiting.done()
    finally:
        other.execute("ROLLBACK")
        other.close()
    ran_on = await asyncio.wait_for(waiting, timeout=10)
    assert ran_on != threading.get_ident()
    with file_context.database.engine.begin() as connection:
        assert connection.exec_driver_sql("SELECT text FROM note").scalars().all() == ["written"]
    # The loop's own connection was left as it was: the next relaxed write runs there.
    assert await file_context.core_transaction(thread_of, durable=False) == threading.get_ident()


@pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
async def test_connections_the_server_closed_cost_no_failed_transaction(
    context: AppContext, db: Database
) -> None:
    """A PostgreSQL restart (here: every connection of the process ended by the server)
    is found before a transaction uses a pooled connection (the pool's pre-ping), and the
    configuration-version read opens a new connection and reads again."""

    def backend_pid(connection: Connection) -> int:
        pid: int = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        return pid

    before = {
        await context.core_transaction(backend_pid, durable=False),
        await context.core_transaction(backend_pid),
    }
    version = await context.config_cache.current_version()
    outside = create_engine(db.url, poolclass=NullPool)  # not one of the pool's
    try:
        with outside.connect() as admin:
            ended = admin.exec_driver_sql(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).scalar_one()
            # As after a restart: the ended server processes are gone (each has sent its
            # last message), not still on their way out.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                admin.rollback()  # a new snapshot of pg_stat_activity each time
                left = admin.exec_driver_sql(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                ).scalar_one()
                if not left:
                    break
                await asyncio.sleep(0.01)
    finally:
        outside.dispose()
    assert ended >= 2  # the pooled connection(s) and the version reader's
    after = {
        await context.core_transaction(backend_pid, durable=False),
        await context.core_transaction(backend_pid),
    }
    assert not before & after  # new connections, no error
    assert await context.config_cache.current_version() == version
    await context.close()
