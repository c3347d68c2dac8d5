"""The loop writer: relaxed SQLite transactions on the calling thread, never waiting there
for the write lock or the disk (fedlogin.store.loop_writer)."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fedlogin.store.database import Database
from fedlogin.store.loop_writer import LoopWriter, WriterBusy
from sqlalchemy import Connection

NORMAL = 1  # what PRAGMA synchronous answers


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    with database.engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE note (text TEXT)")
    yield database
    database.dispose()


@pytest.fixture
def executor() -> Iterator[ThreadPoolExecutor]:
    executor = ThreadPoolExecutor(1)
    yield executor
    executor.shutdown(wait=True)


@pytest.fixture
def writer(database: Database, executor: ThreadPoolExecutor) -> Iterator[LoopWriter]:
    writer = LoopWriter.for_database(database, executor)
    assert writer is not None
    yield writer
    writer.close()


def add_note(text: str) -> object:
    def work(connection: Connection) -> int:
        connection.exec_driver_sql("INSERT INTO note VALUES (?)", (text,))
        return threading.get_ident()

    return work


def notes(database: Database) -> list[str]:
    with database.engine.begin() as connection:
        return list(connection.exec_driver_sql("SELECT text FROM note").scalars())


def pragma(connection: Connection, name: str) -> int:
    value: int = connection.exec_driver_sql(f"PRAGMA {name}").scalar_one()
    return value


def test_work_runs_on_the_calling_thread_and_commits(
    writer: LoopWriter, database: Database
) -> None:
    ran_on = writer.transaction(add_note("first"))
    assert ran_on == threading.get_ident()
    assert notes(database) == ["first"]


def test_its_connection_neither_waits_for_the_lock_nor_syncs_nor_checkpoints(
    writer: LoopWriter,
) -> None:
    settings = writer.transaction(
        lambda connection: [
            pragma(connection, name)
            for name in ("busy_timeout", "synchronous", "wal_autocheckpoint", "foreign_keys")
        ]
    )
    assert settings == [0, NORMAL, 0, 1]


def test_an_exception_rolls_back_and_the_next_transaction_commits(
    writer: LoopWriter, database: Database
) -> None:
    def fails(connection: Connection) -> None:
        add_note("lost")(connection)
        raise RuntimeError("the work failed")

    with pytest.raises(RuntimeError):
        writer.transaction(fails)
    writer.transaction(add_note("kept"))
    assert notes(database) == ["kept"]


def test_a_held_write_lock_raises_writer_busy_and_leaves_the_writer_usable(
    writer: LoopWriter, database: Database, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "store.sqlite3", isolation_level=None)
    ran: list[str] = []
    try:
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(WriterBusy):
            writer.transaction(lambda connection: ran.append("work"))
        assert ran == []  # refused before any work
    finally:
        other.execute("ROLLBACK")
        other.close()
    writer.transaction(add_note("after the lock"))
    assert notes(database) == ["after the lock"]


def wal_size(tmp_path: Path) -> int:
    return (tmp_path / "store.sqlite3-wal").stat().st_size


@pytest.mark.parametrize("checkpoint_every", [10, None])
def test_the_wal_is_checkpointed_every_so_many_commits_on_a_worker_thread(
    database: Database, executor: ThreadPoolExecutor, tmp_path: Path, checkpoint_every: int | None
) -> None:
    """With checkpoints every 10 commits the WAL is written from its start again and stays
    the size 10 commits gave it; without them (the writer's connection never checkpoints by
    itself) it grows with every commit. (Each commit waits for a checkpoint it handed over:
    a passive checkpoint leaves the frames written while it ran, and the WAL starts again
    only once every frame is back in the database file.)"""
    writer = LoopWriter(database, executor, checkpoint_every=checkpoint_every or 10**9)
    blob = "x" * 8000  # two pages a commit

    def commits(count: int) -> None:
        for _ in range(count):
            writer.transaction(add_note(blob))
            executor.submit(lambda: None).result()  # the one worker thread: any checkpoint ran

    try:
        commits(10)
        after_ten = wal_size(tmp_path)
        commits(30)
        after_forty = wal_size(tmp_path)
    finally:
        writer.close()
    if checkpoint_every:
        assert after_forty == after_ten
    else:
        assert after_forty > 3 * after_ten
    assert len(notes(database)) == 40


def test_only_a_sqlite_file_gets_a_writer(executor: ThreadPoolExecutor) -> None:
    in_memory = Database("sqlite://")
    try:
        assert LoopWriter.for_database(in_memory, executor) is None
    finally:
        in_memory.dispose()


def test_a_commit_after_the_executor_stopped_skips_its_checkpoint(database: Database) -> None:
    """The commit stands; only the checkpoint it would have handed over is skipped."""
    stopped = ThreadPoolExecutor(1)
    stopped.shutdown()
    writer = LoopWriter(database, stopped, checkpoint_every=1)
    try:
        writer.transaction(add_note("while stopping"))
    finally:
        writer.close()
    assert notes(database) == ["while stopping"]
