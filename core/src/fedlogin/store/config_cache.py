"""Per-process values derived from the configuration, valid while the config version stands (X4).

Pages that every visitor opens (the login page) read providers, settings and brands that
change only when an admin changes them. Each process keeps what it derived from them here,
under the configuration version (:mod:`fedlogin.store.changes`) it was read at. Every
:meth:`ConfigCache.get` first reads the version — one primary-key read of one row — and drops
everything when it moved, so an admin change made through any process applies to the very
next request on every process, as if nothing were cached.

The version is read on a connection of its own, outside the pool and outside any
transaction (autocommit): a single ``SELECT`` with no ``BEGIN``, no session and no pool
checkout costs a few microseconds. On SQLite it runs on the event loop (a local file, read
without waiting for writers in WAL mode); on PostgreSQL, a network round trip, it runs on
psycopg's own asynchronous connection, so the event loop waits for the answer without
blocking and without a worker thread (the trip to a thread cost more than the read); requests
that arrive while a read is under way share the next one (:meth:`ConfigCache._shared_read`),
so a busy process does not queue one round trip per request on that connection.

A value is stored under the version read *in the transaction that loaded it*, read before the
rows it derives from: the rows are at least as new as the version, so nothing older than
what the version says is ever served. Entries are kept least-recently-used first and at most
:data:`MAX_ENTRIES` (keys may come from a request, such as its ``Host``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

import psycopg
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from fedlogin.store.changes import config_version
from fedlogin.store.database import Database, own_connection

T = TypeVar("T")

MAX_ENTRIES = 1024
_VERSION_QUERY = "SELECT version FROM config_version WHERE id = 1"


class ConfigCache:
    """Values keyed by the caller's key, all dropped when the configuration version moves."""

    def __init__(self, database: Database, *, max_entries: int = MAX_ENTRIES) -> None:
        self._database = database
        self._max_entries = max_entries
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._version: int | None = None
        self._lock = threading.Lock()  # the entries; held only in memory, never over a query
        self._connection_lock = threading.Lock()
        self._connection: Any = None  # the connection for version reads
        self._connecting: asyncio.Lock | None = None  # PostgreSQL: while one is opened
        self._next_read: asyncio.Future[int] | None = None  # PostgreSQL: see _shared_read
        self._reading = False
        # Closes it when this cache is dropped without close() (a test's app context).
        self._closer: weakref.finalize[Any, Any] | None = None

    async def get(self, key: Hashable, load: Callable[[Session], T]) -> T:
        """The value of ``key``; ``load(session)`` computes it when the cached one is stale."""
        version = await self.current_version()
        with self._lock:
            self._adopt(version)
            if key in self._entries:
                self._entries.move_to_end(key)
                return cast(T, self._entries[key])

        def run() -> tuple[int, T]:
            with self._database.transaction() as session:
                return config_version(session), load(session)

        loaded_at, value = await run_in_threadpool(run)
        with self._lock:
            self._adopt(loaded_at)
            self._entries[key] = value
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        return value

    async def current_version(self) -> int:
        if self._database.is_sqlite:
            return self._read_version()
        return await self._shared_read()

    async def _shared_read(self) -> int:
        """PostgreSQL: the answer of a read that starts after the caller arrived, shared.

        Requests that arrive while a read is on its way wait for the next one, which every
        request waiting by then shares: each still sees a version read after it came in (as
        if it had read alone), and a busy process makes one round trip per round trip's time
        instead of one per request, queued on the one connection.
        """
        if self._next_read is None:
            self._next_read = asyncio.get_running_loop().create_future()
            # Marked retrieved: if every waiter was cancelled, a failure is not logged as lost.
            self._next_read.add_done_callback(_retrieve)
            if not self._reading:
                self._reading = True
                asyncio.get_running_loop().create_task(self._read_for_waiters())
        # Shielded: one request cancelled (a client gone) must not cancel the others' read.
        return await asyncio.shield(self._next_read)

    async def _read_for_waiters(self) -> None:
        try:
            while self._next_read is not None:
                waiting, self._next_read = self._next_read, None
                try:
                    waiting.set_result(await self._read_version_retrying())
                except Exception as exc:
                    waiting.set_exception(exc)
        finally:
            self._reading = False

    async def _read_version_retrying(self) -> int:
        try:
            return await self._read_version_async()
        except psycopg.Error:
            # A connection the server closed (a restart): one new connection, one retry.
            self._drop_connection()
            return await self._read_version_async()

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._version = None

    def close(self) -> None:
        with self._connection_lock:
            self._drop_connection()

    def _adopt(self, version: int) -> None:
        """Keep only entries loaded at ``version``: any other version, older or newer, clears.

        A load that raced an admin change may store its value under the version before it; the
        next request reads the new version and clears it again. Entries are therefore always
        of the version just read, and a version that goes back (the row recreated) clears too.
        """
        if version != self._version:
            self._entries.clear()
            self._version = version

    async def _read_version_async(self) -> int:
        connection = self._connection
        if connection is None:
            if self._connecting is None:
                self._connecting = asyncio.Lock()
            async with self._connecting:  # one connection, whoever asks first
                connection = self._connection
                if connection is None:
                    connection = await _AsyncVersionConnection.open(self._database)
                    self._connection = connection
                    self._closer = weakref.finalize(self, _close_quietly, connection)
        assert isinstance(connection, _AsyncVersionConnection)
        return await connection.read()

    def _read_version(self) -> int:
        """SQLite: the version read on a connection of the engine's, on the event loop."""
        with self._connection_lock:
            try:
                return self._query_version()
            except self._database.engine.dialect.loaded_dbapi.Error:
                # A connection the server closed (a restart): one new connection, one retry.
                self._drop_connection()
                return self._query_version()

    def _query_version(self) -> int:
        if self._connection is None:
            self._connection = self._new_connection()
        cursor = self._connection.cursor()
        try:
            cursor.execute(_VERSION_QUERY)
            row = cursor.fetchone()
        finally:
            cursor.close()
        return int(row[0]) if row else 0

    def _new_connection(self) -> Any:
        connection: Any = own_connection(self._database.engine).dbapi_connection
        self._closer = weakref.finalize(self, _close_quietly, connection)
        return connection

    def _drop_connection(self) -> None:
        if self._closer is not None:
            self._closer()
            self._closer = None
        self._connection = None


class _AsyncVersionConnection:
    """PostgreSQL: psycopg's asynchronous connection for the version read, in autocommit."""

    def __init__(self, connection: psycopg.AsyncConnection[Any]) -> None:
        self._connection = connection

    @classmethod
    async def open(cls, database: Database) -> _AsyncVersionConnection:
        # The engine's own connection arguments: the same server, user and options.
        args, kwargs = database.engine.dialect.create_connect_args(database.engine.url)
        return cls(await psycopg.AsyncConnection.connect(*args, autocommit=True, **kwargs))

    @property
    def info(self) -> psycopg.ConnectionInfo:
        return self._connection.info

    async def read(self) -> int:
        cursor = await self._connection.execute(_VERSION_QUERY)
        row = await cursor.fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        # What psycopg's (asynchronous) close does, synchronously, so that the cache can be
        # closed or dropped from anywhere: end the libpq connection.
        self._connection.pgconn.finish()


def _retrieve(future: asyncio.Future[int]) -> None:
    if not future.cancelled():
        future.exception()


def _close_quietly(connection: Any) -> None:
    with contextlib.suppress(Exception):  # already broken or closed: nothing left to free
        connection.close()
