"""SQLite: the sign-in's own transactions on the event loop, while the write lock is free.

A sign-in makes three short transactions (store the pending flow, consume it, sign in). On a
worker thread each paid the trip there and back and a pool checkout and check-in, more than
its statements did: about 0.27M instructions a transaction, the three together an eighth of
a returning sign-in (docs/benchmarks.md, fifth round). Statements on a local SQLite file take
microseconds and wait for no network, so these transactions run on the event loop, on a
connection of the loop's own, as long as they need not wait there:

- not for the write lock: the connection's busy timeout is 0, so ``BEGIN IMMEDIATE`` fails
  at once when another connection holds the lock (a durable commit waiting for the disk,
  another process), and :class:`WriterBusy` tells the caller to run the transaction on a
  worker thread, whose connection waits for the lock there;
- not for the disk: the connection commits with ``synchronous=NORMAL`` (no fsync; these are
  the relaxed transactions of :mod:`fedlogin.store.database`) and never checkpoints the WAL
  itself (``wal_autocheckpoint=0``: a checkpoint writes pages back into the database file and
  syncs it). Every :data:`CHECKPOINT_EVERY` commits, a passive checkpoint is handed to a
  worker thread instead.

Only for a SQLite file (:meth:`LoopWriter.for_database`): an in-memory database is one
shared connection, and PostgreSQL's statements are round trips to a server.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import TypeVar

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import PoolProxiedConnection

from fedlogin.store.database import Database, own_connection

T = TypeVar("T")
log = logging.getLogger(__name__)

#: Commits between two checkpoints: a sign-in writes a few pages a commit, so this keeps the
#: WAL near the 1,000 pages at which SQLite's own automatic checkpoint would run.
CHECKPOINT_EVERY = 100


class WriterBusy(Exception):
    """Another connection holds the write lock: run the transaction where it may wait."""


class LoopWriter:
    """Transactions on the calling thread's own connection to a SQLite file (the event loop's).

    One connection per thread that asks (one event loop in a server; tests run several), so
    that no two loops share a connection.
    """

    def __init__(
        self, database: Database, executor: Executor, *, checkpoint_every: int = CHECKPOINT_EVERY
    ) -> None:
        self._engine = database.relaxed_engine
        self._durable_engine = database.engine
        self._executor = executor
        self._checkpoint_every = checkpoint_every
        self._commits = 0
        self._local = threading.local()

    @classmethod
    def for_database(cls, database: Database, executor: Executor) -> LoopWriter | None:
        """A writer for ``database``'s relaxed transactions; None where they stay on worker
        threads (PostgreSQL, an in-memory SQLite database)."""
        if not database.is_sqlite or database.relaxed_engine is database.engine:
            return None
        return cls(database, executor)

    def transaction(self, work: Callable[[Connection], T]) -> T:
        """``work`` in one transaction, committed on success and rolled back on any exception.

        Raises :class:`WriterBusy`, having done nothing, when the write lock is taken.
        """
        connection = self._connection()
        driver = _driver(connection.connection)
        _begin_without_waiting(driver)
        try:
            # SQLAlchemy's bookkeeping only: the begin listener sees the driver's transaction
            # begun already (store.database) and sends nothing.
            transaction = connection.begin()
        except BaseException:
            driver.rollback()
            raise
        try:
            with transaction:
                result = work(connection)
        finally:
            if connection.invalidated or connection.closed:
                self._local.connection = None
        self._committed()
        return result

    def close(self) -> None:
        """Close the calling thread's connection (the others close with their threads)."""
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None:
            connection.close()

    def _connection(self) -> Connection:
        connection: Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            proxied = own_connection(self._engine)
            driver = _driver(proxied)
            driver.execute("PRAGMA busy_timeout=0")
            driver.execute("PRAGMA wal_autocheckpoint=0")
            connection = self._local.connection = Connection(self._engine, proxied)
        return connection

    def _committed(self) -> None:
        # Counted on the event loops' threads without a lock: a lost increment only moves
        # one checkpoint by a commit.
        self._commits += 1
        if self._commits % self._checkpoint_every == 0:
            try:
                checkpoint = self._executor.submit(self._checkpoint)
            except RuntimeError:  # the executor is shut down: the process is stopping
                return
            checkpoint.add_done_callback(_log_failure)

    def _checkpoint(self) -> None:
        """A passive checkpoint (it waits for no reader or writer), on a durable connection:
        the pages written back are synced as any durable commit's."""
        proxied = self._durable_engine.raw_connection()
        try:
            _driver(proxied).execute("PRAGMA wal_checkpoint(PASSIVE)")
        finally:
            proxied.close()


def _driver(proxied: PoolProxiedConnection) -> sqlite3.Connection:
    driver = proxied.dbapi_connection  # pysqlite's own (store.prepared)
    assert isinstance(driver, sqlite3.Connection)
    return driver


def _begin_without_waiting(driver: sqlite3.Connection) -> None:
    try:
        driver.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY:  # and its extended codes
            raise WriterBusy from exc
        raise DBAPIError.instance("BEGIN IMMEDIATE", None, exc, sqlite3.Error) from exc


def _log_failure(done: Future[None]) -> None:
    error = done.exception()
    if error is not None:
        # The next checkpoint, or a durable commit's automatic one, catches up.
        log.warning("WAL checkpoint failed: %s", error)
