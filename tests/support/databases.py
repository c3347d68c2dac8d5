"""Database fixtures shared by every suite (registered in the root ``conftest.py``).

Every database test runs on SQLite and on PostgreSQL. PostgreSQL is the server at
127.0.0.1:5432 (user postgres, trust authentication; override with
``FEDLOGIN_TEST_POSTGRES_URL``). Each test session creates databases of its own, named
uniquely, and drops them at the end. When the server is unreachable the PostgreSQL half is
skipped with the reason shown — unless ``FEDLOGIN_REQUIRE_POSTGRES`` is set (CI sets it), in
which case the tests fail instead of silently skipping.

``backend`` is parametrised over both; ``new_database()`` makes empty databases, ``migrated``
is one migrated database per backend and session, and ``db`` is that database emptied after
each test.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator

import pytest
from fedlogin.store import migrate
from fedlogin.store.database import Database
from fedlogin.store.tables import metadata
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError

POSTGRES_URL = os.environ.get(
    "FEDLOGIN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = "FEDLOGIN_REQUIRE_POSTGRES"
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


class PostgresServer:
    """Creates and drops uniquely named databases on the test server."""

    def __init__(self, url: URL) -> None:
        self.url = url
        self.engine = create_engine(url, isolation_level="AUTOCOMMIT")
        self.session_tag = f"fedlogin_test_{os.getpid()}_{secrets.token_hex(3)}"
        self.created: list[str] = []

    def create(self) -> URL:
        name = f"{self.session_tag}_{len(self.created)}"
        with self.engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return self.url.set(database=name)

    def drop(self, url: URL) -> None:
        name = url.database
        with self.engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        if name in self.created:
            self.created.remove(name)

    def close(self) -> None:
        for name in list(self.created):
            self.drop(self.url.set(database=name))
        self.engine.dispose()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    url = make_url(POSTGRES_URL)
    probe = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with probe.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        reason = f"PostgreSQL at {url.render_as_string(hide_password=True)} is unreachable: "
        reason += str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        if os.environ.get(REQUIRE_POSTGRES):
            pytest.fail(f"{reason} ({REQUIRE_POSTGRES} is set, so this is not skipped)")
        pytest.skip(reason)
    finally:
        probe.dispose()
    server = PostgresServer(url)
    yield server
    server.close()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def new_database(
    backend: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[], Database]]:
    """A factory of empty, never-migrated databases of the current backend."""
    made: list[tuple[Database, URL]] = []
    server: PostgresServer | None = None
    if backend == "postgresql":
        server = request.getfixturevalue("postgres_server")

    def make() -> Database:
        if server is not None:
            url = server.create()
        else:
            path = tmp_path_factory.mktemp("sqlite") / "fedlogin.sqlite3"
            url = make_url(f"sqlite:///{path}")
        database = Database(url)
        made.append((database, url))
        return database

    yield make
    for database, url in made:
        database.dispose()
        if server is not None:
            server.drop(url)


@pytest.fixture(scope="session")
def migrated(new_database: Callable[[], Database]) -> Database:
    database = new_database()
    migrate.upgrade(database)
    return database


@pytest.fixture
def db(migrated: Database) -> Iterator[Database]:
    """The migrated database of the current backend, emptied after each test."""
    yield migrated
    tables = list(reversed(metadata.sorted_tables))
    with migrated.engine.begin() as connection:
        if migrated.is_sqlite:
            for table in tables:
                connection.execute(table.delete())
        else:
            quoted = ", ".join(f'"{table.name}"' for table in tables)
            connection.execute(text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
