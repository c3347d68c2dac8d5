"""The database connection: a SQLite file by default, PostgreSQL for many processes (X4).

One :class:`Database` per process holds the SQLAlchemy engine and its connection pool.
Request code opens a short session per unit of work (:meth:`Database.transaction`).

SQLite is set up for a web server rather than a script: WAL journal (readers do not block
the writer), foreign keys enforced (off by default in SQLite), a busy timeout (a writer
waits for another instead of failing at once), and real transactions — pysqlite's own
transaction handling is switched off and SQLAlchemy emits ``BEGIN IMMEDIATE`` itself, as the
SQLAlchemy documentation recommends, so that savepoints work.

Durability on SQLite: a commit waits for the WAL to reach the disk (``synchronous=FULL``), so
a power loss undoes nothing committed, except in transactions begun with ``durable=False``
(``synchronous=NORMAL`` while they commit): those survive a crash of the process but a power
loss may undo the last of them. The sign-in flow's own transactions are such: a pending
flow, a browser session, a sign-in event, a user or link a sign-in created, all things a
person redoes by signing in again, whose fsync was a tenth of a sign-in's CPU. Everything
else (passwords, disabling, unlinking, the configuration, the audit log) stays durable; a
durable commit also makes every earlier one durable (the WAL is written in order).
PostgreSQL commits durably either way. The relaxed transactions run on the event loop
while the write lock is free (:mod:`fedlogin.store.loop_writer`).
"""

from __future__ import annotations

import select
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.pool import PoolProxiedConnection, StaticPool
from sqlmodel import Session

from fedlogin.config import DATABASE_URL_ENV, Config, ConfigError

SQLITE_BUSY_TIMEOUT_MS = 5000
#: Connections kept open, and opened beyond them under load (SQLAlchemy's defaults, named
#: here because the web layer sizes its database threads by them).
POOL_SIZE = 5
POOL_OVERFLOW = 10
_POSTGRES_SCHEMES = {"postgresql", "postgres", "postgresql+psycopg"}
_SQLITE_SCHEMES = {"sqlite", "sqlite+pysqlite"}


class Database:
    """An engine for ``url`` plus sessions on it."""

    def __init__(self, url: str | URL, *, echo: bool = False) -> None:
        self.url = normalize_database_url(url)
        self.engine: Engine = _create_engine(self.url, echo=echo)
        #: For transactions begun with ``durable=False``: on a SQLite file, an engine with a
        #: pool of its own whose connections commit with ``synchronous=NORMAL`` (a pooled
        #: connection keeps its level, so none is switched back and forth); otherwise the
        #: same engine.
        self.relaxed_engine: Engine = self.engine
        if self.is_sqlite and not isinstance(self.engine.pool, StaticPool):
            self.relaxed_engine = _create_engine(self.url, echo=echo, durable=False)

    @classmethod
    def from_config(cls, config: Config) -> Database:
        """The configured database; the default SQLite file's directory is created (0700)."""
        if config.uses_default_database:
            config.ensure_data_dir()
        return cls(config.effective_database_url)

    @property
    def dialect(self) -> str:
        return self.url.get_backend_name()

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def max_connections(self) -> int:
        """How many connections the pool lends at once (one for an in-memory SQLite
        database, which is one shared connection)."""
        if isinstance(self.engine.pool, StaticPool):
            return 1
        return POOL_SIZE + POOL_OVERFLOW

    def session(self) -> Session:
        """A new session; objects stay readable after commit (no lazy reload per attribute)."""
        return Session(self.engine, expire_on_commit=False)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed on success and rolled back on any exception."""
        with self.session() as session:
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def engine_for(self, *, durable: bool) -> Engine:
        """The engine whose transactions commit durably, or not (the module's docstring)."""
        return self.engine if durable else self.relaxed_engine

    @contextmanager
    def transaction_on_connection(self, *, durable: bool = True) -> Iterator[Session]:
        """:meth:`transaction` begun on a connection first, with a session that joins it only
        if the ORM is used (:func:`joined_session`)."""
        with (
            self.engine_for(durable=durable).begin() as connection,
            joined_session(connection) as session,
        ):
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        if self.relaxed_engine is not self.engine:
            self.relaxed_engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"


@contextmanager
def joined_session(connection: Connection) -> Iterator[Session]:
    """A session in the transaction ``connection`` has begun, beginning nothing of its own.

    Work that needs no ORM objects runs its statements on :func:`connection_of` the session,
    and no session transaction is begun: the session's own begin, commit and close cost more
    than a returning sign-in's statements. Work that does use the ORM gets an ordinary
    session (flushed before the commit; savepoints work), in the same transaction. The
    session commits nothing itself (``rollback_only``): the connection's transaction commits
    on success and rolls back on any exception.
    """
    session = Session(
        bind=connection, join_transaction_mode="rollback_only", expire_on_commit=False
    )
    try:
        yield session
        if session.in_transaction():
            session.commit()  # a flush: the connection's transaction commits next
    finally:
        session.close()


def own_connection(engine: Engine) -> PoolProxiedConnection:
    """A connection of ``engine``'s, set up as its pool's are (SQLite's WAL, busy timeout, no
    implicit transactions), but not one of the pool's: it holds no slot, and closing it
    closes it. For a connection kept by one user for the life of the process."""
    proxied = engine.raw_connection()
    proxied.detach()
    return proxied


def connection_of(session: Session) -> Connection:
    """The connection ``session`` works on, for statements without the ORM: the one it was
    made on (:meth:`Database.transaction_on_connection`), without beginning a session
    transaction; otherwise the session's own."""
    bind = session.bind
    if isinstance(bind, Connection):
        return bind
    return session.connection()


def normalize_database_url(url: str | URL) -> URL:
    """Parse ``url`` and pick the installed driver (psycopg 3 for PostgreSQL).

    Raises :class:`ConfigError` for anything but SQLite and PostgreSQL; the message never
    repeats a password the URL might hold.
    """
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError as exc:
        raise ConfigError(
            f"{DATABASE_URL_ENV} is not a database URL (expected postgresql+psycopg://... "
            "or sqlite:///path)."
        ) from exc
    scheme = parsed.drivername
    if scheme in _POSTGRES_SCHEMES:
        return parsed.set(drivername="postgresql+psycopg")
    if scheme in _SQLITE_SCHEMES:
        return parsed.set(drivername="sqlite+pysqlite")
    raise ConfigError(
        f"{DATABASE_URL_ENV} uses the unsupported scheme {scheme!r}: fedlogin runs on "
        "SQLite (sqlite:///path) or PostgreSQL (postgresql+psycopg://user@host/db)."
    )


def _create_engine(url: URL, *, echo: bool, durable: bool = True) -> Engine:
    if url.get_backend_name() != "sqlite":
        # pre-ping: a pooled connection the server closed (restart, idle timeout) is
        # replaced instead of failing the request that picked it.
        engine = create_engine(
            url,
            echo=echo,
            pool_pre_ping=True,
            pool_size=POOL_SIZE,
            max_overflow=POOL_OVERFLOW,
        )
        engine.dialect.do_ping = _ping_unless_quiet(engine.dialect.do_ping)  # type: ignore[method-assign,assignment]
        return engine
    kwargs: dict[str, Any] = {"pool_size": POOL_SIZE, "max_overflow": POOL_OVERFLOW}
    if url.database in (None, "", ":memory:"):
        # One shared connection, or every session would see its own empty database.
        kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    engine = create_engine(url, echo=echo, **kwargs)
    event.listen(engine, "connect", _sqlite_on_connect if durable else _sqlite_relaxed_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _ping_unless_quiet(ping: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """The pool's pre-ping, sending its ``SELECT 1`` only when the socket is not quiet.

    A pooled connection at rest has nothing to read; one the server ended (a restart, an
    idle timeout, ``pg_terminate_backend``) has the server's last message and the end of the
    stream waiting. A look at the socket (one ``poll``, no round trip) tells them apart; only
    a connection with something to read is pinged for real, which fails for an ended one and
    has SQLAlchemy replace the pool's connections. The round trip was three of a sign-in's
    twenty (docs/benchmarks.md). A connection ended in the instant before its checkout,
    its last message not yet arrived, is taken and fails that one transaction, as one ended
    just after a ``SELECT 1`` always could: during a restart, where the new connection
    would fail too.
    """

    def ping_unless_quiet(dbapi_connection: Any) -> bool:
        if not dbapi_connection.closed:
            poller = select.poll()
            poller.register(dbapi_connection.fileno(), select.POLLIN)
            if not poller.poll(0):
                return True
        return ping(dbapi_connection)

    return ping_unless_quiet


def _sqlite_relaxed_on_connect(dbapi_connection: Any, record: Any) -> None:
    _sqlite_on_connect(dbapi_connection, record, synchronous="NORMAL")


def _sqlite_on_connect(dbapi_connection: Any, _record: Any, synchronous: str = "FULL") -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN (see _sqlite_on_begin)
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    # IMMEDIATE: take the write lock at the start. A deferred transaction that reads and then
    # writes (a sign-in: find the identity, then create the user) fails at once with
    # "database is locked" when another connection wrote in between; the busy timeout cannot
    # help it. Waiting for the lock up front makes concurrent writers queue instead.
    # Sent on the driver's connection: through SQLAlchemy's statement execution it cost a
    # fifth of an empty transaction (every transaction begins here). Errors are wrapped as
    # SQLAlchemy would have wrapped them.
    driver = connection.connection.dbapi_connection  # pysqlite's (store.prepared)
    if driver.in_transaction:
        return  # begun on the driver already: the loop writer's (store.loop_writer)
    try:
        driver.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        raise DBAPIError.instance("BEGIN IMMEDIATE", None, exc, sqlite3.Error) from exc
