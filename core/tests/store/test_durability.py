"""SQLite commits durably (``synchronous=FULL``) unless a transaction is begun with
``durable=False`` (``NORMAL``: a power loss may undo it; the sign-in flow's own work)."""

from __future__ import annotations

from pathlib import Path

from fedlogin.store.database import Database
from sqlalchemy import Connection

FULL, NORMAL = 2, 1  # what PRAGMA synchronous answers


def synchronous(connection: Connection) -> int:
    level: int = connection.exec_driver_sql("PRAGMA synchronous").scalar_one()
    return level


def test_transactions_are_durable_unless_asked_otherwise(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    try:
        seen = []
        for durable in (True, False, False, True, False):
            with database.engine_for(durable=durable).begin() as connection:
                seen.append(synchronous(connection))
        with database.engine.begin() as connection:  # the plain engine: durable
            seen.append(synchronous(connection))
        with database.transaction_on_connection(durable=False) as session:
            seen.append(synchronous(session.connection()))
        with database.transaction_on_connection() as session:
            seen.append(synchronous(session.connection()))
    finally:
        database.dispose()
    assert seen == [FULL, NORMAL, NORMAL, FULL, NORMAL, FULL, NORMAL, FULL]


def test_both_kinds_see_each_others_commits(tmp_path: Path) -> None:
    """Two pools on one file: what a relaxed transaction committed, a durable one reads."""
    database = Database(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    try:
        with database.engine_for(durable=False).begin() as connection:
            connection.exec_driver_sql("CREATE TABLE note (text TEXT)")
            connection.exec_driver_sql("INSERT INTO note VALUES ('relaxed')")
        with database.engine.begin() as connection:
            connection.exec_driver_sql("INSERT INTO note VALUES ('durable')")
        with database.engine_for(durable=False).begin() as connection:
            notes = connection.exec_driver_sql("SELECT text FROM note").scalars().all()
    finally:
        database.dispose()
    assert notes == ["relaxed", "durable"]


def test_an_in_memory_database_has_one_engine() -> None:
    database = Database("sqlite://")
    try:
        assert database.engine_for(durable=False) is database.engine
    finally:
        database.dispose()
