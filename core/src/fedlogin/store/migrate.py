"""Alembic migrations shipped inside the package, run without an ``alembic.ini``.

``fedlogin db upgrade`` calls :func:`upgrade`; ``fedlogin serve`` upgrades a fresh SQLite
database by itself (:func:`is_fresh`) and otherwise refuses to serve an outdated schema
(:func:`check_schema`). On PostgreSQL, processes starting together take an advisory lock so
that only one of them migrates.

A developer adding a table or column writes a new revision in ``migrations/versions`` (for a
first draft: :func:`autogenerate_revision`) and the test suite checks that the migrations
and :mod:`fedlogin.store.tables` describe the same schema.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, text

from fedlogin.errors import FedloginError
from fedlogin.store.database import Database

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
#: pg_advisory_lock key: "fedlogin" in ASCII, so other applications sharing the server
#: are unlikely to collide with it.
_ADVISORY_LOCK_KEY = 0x6665646C6F67696E


class SchemaOutdated(FedloginError):
    """The database is not at the schema this version of fedlogin expects."""

    code = "schema_outdated"
    status = 503


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    """An Alembic configuration pointing at the shipped migrations (and ``connection``)."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships the initial revision
        raise RuntimeError("no migrations are shipped")
    return head


def current_revision(database: Database) -> str | None:
    """The database's schema revision, ``None`` for a database never migrated."""
    with database.engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_fresh(database: Database) -> bool:
    """Whether the database has no fedlogin table and no migration history."""
    with database.engine.connect() as connection:
        return not inspect(connection).get_table_names()


def upgrade(database: Database, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (default: the newest)."""
    with database.engine.begin() as connection:
        if database.dialect == "postgresql":
            # Held until this transaction ends; Alembic runs in the same transaction.
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK_KEY}
            )
        command.upgrade(alembic_config(connection), revision)


def check_schema(database: Database) -> None:
    """Raise :class:`SchemaOutdated` unless the database is at the newest revision."""
    current = current_revision(database)
    head = head_revision()
    if current != head:
        found = "no fedlogin schema" if current is None else f"schema revision {current}"
        raise SchemaOutdated(
            f"The database has {found}; this version of fedlogin needs revision {head}. "
            "Run `fedlogin db upgrade`.",
        )


def prepare_for_serving(database: Database) -> bool:
    """What ``fedlogin serve`` does at start; return whether it migrated.

    The embedded default needs no setup step: a fresh SQLite database is migrated here.
    Anything else must already be at the newest revision (``fedlogin db upgrade``), so that
    several processes never race to migrate a shared PostgreSQL database while serving.
    """
    migrated = False
    if database.is_sqlite and is_fresh(database):
        upgrade(database)
        migrated = True
    check_schema(database)
    return migrated


def autogenerate_revision(database: Database, message: str) -> None:
    """Write a draft revision for the difference between ``database`` and the tables.

    For developers: review the draft (Alembic misses renames and CHECK constraints) and
    run it against both SQLite and PostgreSQL.
    """
    with database.engine.begin() as connection:
        command.revision(alembic_config(connection), message=message, autogenerate=True)
