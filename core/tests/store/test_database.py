"""Settings from the environment and the database connection they select."""

from __future__ import annotations

import stat
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fedlogin.config import Config, ConfigError
from fedlogin.store.database import (
    Database,
    _ping_unless_quiet,
    connection_of,
    normalize_database_url,
)
from fedlogin.store.tables import AuditEntry, table_of
from sqlalchemy import create_engine, insert, text
from sqlalchemy.pool import NullPool
from sqlmodel import select

_AUDIT = table_of(AuditEntry)
_ENTRY = {"action": "x", "target_type": "t", "target_id": "1"}


def test_defaults_put_everything_in_a_data_directory_below_the_working_directory(
    tmp_path: Path,
) -> None:
    config = Config.from_env({}, cwd=tmp_path)
    assert config.data_dir == tmp_path / ".fedlogin"
    expected = tmp_path / ".fedlogin" / "fedlogin.sqlite3"
    assert config.effective_database_url == f"sqlite:///{expected}"
    assert config.base_url == "http://127.0.0.1:8000"
    assert config.dev_insecure_loopback is False
    assert config.secret_key is None


def test_environment_overrides(tmp_path: Path) -> None:
    key = "k" * 44
    config = Config.from_env(
        {
            "FEDLOGIN_DATA_DIR": str(tmp_path / "d"),
            "FEDLOGIN_DATABASE_URL": "postgresql://u:pw@db/fedlogin",
            "FEDLOGIN_SECRET_KEY": key,
            "FEDLOGIN_BASE_URL": "https://login.example.com/",
            "FEDLOGIN_DEV_INSECURE_LOOPBACK": "1",
        }
    )
    assert config.data_dir == tmp_path / "d"
    assert config.effective_database_url == "postgresql://u:pw@db/fedlogin"
    assert config.base_url == "https://login.example.com"
    assert config.dev_insecure_loopback is True
    assert key not in repr(config)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("FEDLOGIN_BASE_URL", "login.example.com"),
        ("FEDLOGIN_BASE_URL", "ftp://login.example.com"),
        ("FEDLOGIN_DEV_INSECURE_LOOPBACK", "maybe"),
    ],
)
def test_unusable_settings_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Config.from_env({name: value})


def test_the_default_database_creates_a_private_data_directory(tmp_path: Path) -> None:
    config = Config.from_env({"FEDLOGIN_DATA_DIR": str(tmp_path / "new" / "data")})
    database = Database.from_config(config)
    try:
        with database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        assert stat.S_IMODE(config.data_dir.stat().st_mode) == 0o700
        assert config.sqlite_path.exists()
    finally:
        database.dispose()


def test_sqlite_connections_use_wal_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    try:
        with database.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    finally:
        database.dispose()


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("sqlite:////tmp/x.sqlite3", "sqlite+pysqlite"),
    ],
)
def test_database_urls_select_the_installed_drivers(url: str, driver: str) -> None:
    assert normalize_database_url(url).drivername == driver


def test_an_unsupported_database_is_refused_without_echoing_its_password() -> None:
    with pytest.raises(ConfigError) as caught:
        normalize_database_url("mysql://root:hunter2hunter2@db/x")
    assert "hunter2hunter2" not in caught.value.message
    assert "FEDLOGIN_DATABASE_URL" in caught.value.message
    assert "hunter2hunter2" not in repr(Database("postgresql://u:hunter2hunter2@h/db"))


def test_times_come_back_aware_and_in_utc(db: Database) -> None:
    at = datetime(2024, 5, 1, 12, 30, tzinfo=UTC)
    with db.transaction() as session:
        session.add(AuditEntry(at=at, actor="a", action="x", target_type="t", target_id="1"))
    with db.session() as session:
        (entry,) = session.exec(select(AuditEntry)).all()
        assert entry.at == at
        assert entry.at.tzinfo is not None


def test_a_failed_transaction_leaves_nothing_behind(db: Database) -> None:
    with pytest.raises(RuntimeError), db.transaction() as session:
        session.add(AuditEntry(actor="a", action="x", target_type="t", target_id="1"))
        session.flush()
        raise RuntimeError("boom")
    with db.session() as session:
        assert session.exec(select(AuditEntry)).all() == []


def test_a_transaction_on_a_connection_commits_orm_and_plain_statements_together(
    db: Database,
) -> None:
    with db.transaction_on_connection() as session:
        connection_of(session).execute(insert(_AUDIT).values(**_ENTRY, actor="statement"))
        assert not session.in_transaction()  # no session transaction for plain statements
        session.add(AuditEntry(**_ENTRY, actor="orm"))
        with session.begin_nested():  # savepoints work in it
            session.add(AuditEntry(**_ENTRY, actor="nested"))
    with db.session() as session:
        actors = sorted(entry.actor for entry in session.exec(select(AuditEntry)).all())
    assert actors == ["nested", "orm", "statement"]


@pytest.mark.parametrize("orm_first", [True, False])
def test_a_failed_transaction_on_a_connection_leaves_nothing_behind(
    db: Database, orm_first: bool
) -> None:
    with pytest.raises(RuntimeError), db.transaction_on_connection() as session:
        if orm_first:
            session.add(AuditEntry(**_ENTRY, actor="orm"))
            session.flush()
        connection_of(session).execute(insert(_AUDIT).values(**_ENTRY, actor="statement"))
        raise RuntimeError("boom")
    with db.session() as session:
        assert session.exec(select(AuditEntry)).all() == []


@pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_the_pools_pre_ping_makes_a_round_trip_only_when_the_socket_is_not_quiet(
    db: Database,
) -> None:
    """A connection at rest is taken as alive without a query; one the server ended is
    pinged for real (and the ping fails)."""
    pinged: list[object] = []

    def ping(dbapi_connection: object) -> bool:
        pinged.append(dbapi_connection)
        return True

    ping_unless_quiet = _ping_unless_quiet(ping)
    outside = create_engine(db.url, poolclass=NullPool)  # not one of the pool's
    try:
        with db.engine.connect() as connection:
            pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
            connection.rollback()
            dbapi_connection = connection.connection.dbapi_connection
            assert ping_unless_quiet(dbapi_connection) is True
            assert pinged == []
            with outside.connect() as admin:
                admin.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
            deadline = time.monotonic() + 10
            while not pinged and time.monotonic() < deadline:
                ping_unless_quiet(dbapi_connection)
                time.sleep(0.01)
            assert pinged == [dbapi_connection]
            connection.invalidate()
    finally:
        outside.dispose()
