"""The shipped migrations build exactly the schema the tables describe, on both databases."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fedlogin.store import migrate
from fedlogin.store.changes import config_version
from fedlogin.store.database import Database
from fedlogin.store.settings import get_settings
from fedlogin.store.tables import metadata


def schema_differences(database: Database, target: sa.MetaData = metadata) -> list[object]:
    """What autogenerate would change. SQLite's reflection skips expression indexes (with a
    warning): :func:`test_users_are_found_by_address_through_the_lower_email_index` checks
    that one on both databases."""
    with database.engine.connect() as connection, warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", "Skipped unsupported reflection of expression-based index", sa.exc.SAWarning
        )
        warnings.filterwarnings("ignore", "autogenerate skipping .* expression-based index")
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, target))


def test_a_fresh_database_is_migrated_to_the_tables_schema(
    new_database: Callable[[], Database],
) -> None:
    database = new_database()
    assert migrate.is_fresh(database)
    assert migrate.current_revision(database) is None

    migrate.upgrade(database)

    assert not migrate.is_fresh(database)
    assert migrate.current_revision(database) == migrate.head_revision()
    assert schema_differences(database) == []
    migrate.check_schema(database)  # does not raise


def test_the_comparison_would_notice_a_table_the_migrations_lack(
    new_database: Callable[[], Database],
) -> None:
    database = new_database()
    migrate.upgrade(database)
    extended = sa.MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(extended)
    sa.Table("not_migrated", extended, sa.Column("id", sa.Integer, primary_key=True))
    differences = schema_differences(database, extended)
    assert [d[0] for d in differences if isinstance(d, tuple)] == ["add_table"]


def test_the_migration_seeds_the_single_row_tables(migrated: Database) -> None:
    with migrated.session() as session:
        assert config_version(session) == 0
        settings = get_settings(session)
        assert settings.federated_login_enabled is False
        assert settings.identity_providers == []


def test_upgrading_twice_is_harmless_and_downgrade_round_trips(
    new_database: Callable[[], Database],
) -> None:
    database = new_database()
    migrate.upgrade(database)
    migrate.upgrade(database)
    with database.engine.begin() as connection:
        command.downgrade(migrate.alembic_config(connection), "base")
    assert sa.inspect(database.engine).get_table_names() == ["alembic_version"]
    migrate.upgrade(database)
    assert schema_differences(database) == []


def test_serving_an_unmigrated_database_is_refused_with_the_command_to_run(
    new_database: Callable[[], Database],
) -> None:
    database = new_database()
    with pytest.raises(migrate.SchemaOutdated) as caught:
        migrate.check_schema(database)
    assert caught.value.code == "schema_outdated"
    assert "fedlogin db upgrade" in caught.value.message


def test_serve_migrates_a_fresh_sqlite_database_but_not_postgresql(
    backend: str, new_database: Callable[[], Database]
) -> None:
    database = new_database()
    if backend == "sqlite":
        assert migrate.prepare_for_serving(database) is True
        assert migrate.prepare_for_serving(database) is False  # already at head
    else:
        with pytest.raises(migrate.SchemaOutdated):
            migrate.prepare_for_serving(database)
        migrate.upgrade(database)
        assert migrate.prepare_for_serving(database) is False


def test_users_are_found_by_address_through_the_lower_email_index(migrated: Database) -> None:
    """Each lookup by address compares ``lower(email)``; without the expression index (0005)
    the database reads every user (a first sign-in's email match, password sign-in)."""
    lookup = "SELECT id FROM user_account WHERE lower(email) = 'ada@example.org'"
    with migrated.engine.begin() as connection:
        if migrated.is_sqlite:
            plan = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {lookup}").all()
        else:
            # On an empty table the planner rightly prefers a scan; forbid it to see the index.
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = connection.exec_driver_sql(f"EXPLAIN {lookup}").all()
    assert "ix_user_account_lower_email" in " ".join(str(row) for row in plan)
