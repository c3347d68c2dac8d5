"""Everything a request needs from the process, built once when the app starts.

Routes reach it with :func:`app_context`. It holds no per-user state: sessions, pending flows
and counters live in the database (X4); only caches of public documents (discovery, JWKS),
of the configuration (checked against its version on every use) and the one outbound HTTP
client live here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import attrs
from sqlalchemy import Connection
from sqlmodel import Session
from starlette.requests import HTTPConnection

from fedlogin.config import Config
from fedlogin.oidc import DiscoveryCache, JwksCache, Outbound, OutboundSettings
from fedlogin.plugins import Plugins
from fedlogin.store.config_cache import ConfigCache
from fedlogin.store.database import Database, joined_session
from fedlogin.store.loop_writer import LoopWriter, WriterBusy
from fedlogin.store.secrets import SecretBox

T = TypeVar("T")


@attrs.define
class AppContext:
    config: Config
    database: Database
    plugins: Plugins
    secrets: SecretBox
    outbound: Outbound
    discovery: DiscoveryCache
    jwks: JwksCache
    #: What pages derive from the configuration, dropped when an admin changes it (X4).
    config_cache: ConfigCache
    #: The threads :meth:`transaction` runs on: one per connection the pool can lend, so
    #: that a transaction never waits in a thread for a connection (more threads could only
    #: queue there).
    transactions: ThreadPoolExecutor = attrs.field(
        default=attrs.Factory(
            lambda self: ThreadPoolExecutor(
                self.database.max_connections, thread_name_prefix="fedlogin-db"
            ),
            takes_self=True,
        )
    )
    #: Relaxed transactions on a SQLite file, run on the event loop while the write lock is
    #: free (None elsewhere).
    loop_writer: LoopWriter | None = attrs.field(
        default=attrs.Factory(
            lambda self: LoopWriter.for_database(self.database, self.transactions),
            takes_self=True,
        )
    )

    @classmethod
    def create(
        cls,
        config: Config,
        *,
        database: Database | None = None,
        plugins: Plugins | None = None,
        outbound_settings: OutboundSettings | None = None,
    ) -> AppContext:
        outbound = Outbound(outbound_settings or OutboundSettings.from_config(config))
        database = database or Database.from_config(config)
        return cls(
            config=config,
            database=database,
            plugins=plugins or Plugins.load(),
            secrets=SecretBox.from_config(config),
            outbound=outbound,
            discovery=DiscoveryCache(outbound),
            jwks=JwksCache(outbound),
            config_cache=ConfigCache(database),
        )

    async def transaction(self, work: Callable[[Session], T], *, durable: bool = True) -> T:
        """Run ``work`` in one database transaction, on a worker thread.

        ``durable=False``: a power loss may undo this commit on SQLite (never a crash of
        the process); only for what a person redoes by signing in again (store.database).
        Such a transaction on a SQLite file runs on the event loop itself as long as it need
        not wait there for the write lock (:mod:`fedlogin.store.loop_writer`).

        The store is synchronous (SQLAlchemy sessions); a worker thread keeps a slow query
        from stalling every other request of the process. The thread is one of
        :attr:`transactions`, reached with ``loop.run_in_executor``: anyio's worker threads
        (Starlette's ``run_in_threadpool``) cost twice as much per trip. No context
        variables are carried over: the work gets all it needs as arguments.
        """

        def on_connection(connection: Connection) -> T:
            # A session that begins nothing of its own until the ORM is used: a returning
            # sign-in's statements run on its connection alone (store.database).
            with joined_session(connection) as session:
                return work(session)

        return await self.core_transaction(on_connection, durable=durable)

    async def core_transaction(self, work: Callable[[Connection], T], *, durable: bool = True) -> T:
        """:meth:`transaction` for work that needs no ORM objects: ``work`` gets a plain
        connection in one transaction (``BEGIN IMMEDIATE`` on SQLite, as a session's).

        The sign-in's own transactions (store the pending flow, consume it, record a refusal)
        run here: an ORM session around a few statements cost more than the statements.
        """
        if not durable and self.loop_writer is not None:
            try:
                return self.loop_writer.transaction(work)
            except WriterBusy:
                pass  # on a worker thread, whose connection waits for the lock

        def run() -> T:
            with self.database.engine_for(durable=durable).begin() as connection:
                return work(connection)

        return await asyncio.get_running_loop().run_in_executor(self.transactions, run)

    async def close(self) -> None:
        await self.outbound.aclose()
        self.config_cache.close()
        if self.loop_writer is not None:
            self.loop_writer.close()
        self.transactions.shutdown(wait=False)


def app_context(connection: HTTPConnection) -> AppContext:
    context = connection.app.state.context
    assert isinstance(context, AppContext)
    return context
