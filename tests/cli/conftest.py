"""Fixtures of the CLI tests, on SQLite and PostgreSQL.

``cli`` is a :class:`~tests.cli.runner.Cli` whose environment points at a fresh,
never-migrated database of the current backend (``new_database`` from
``tests/support/databases.py``), a data directory in ``tmp_path`` and a known secret key, so
that a test can also reach the same database in process (``cli.config``, ``cli.database``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from fedlogin.store import migrate
from fedlogin.store.database import Database

from tests.cli.runner import Cli, clean_environment


@pytest.fixture
def cli(new_database: Callable[[], Database], tmp_path: Path) -> Cli:
    database = new_database()
    env = clean_environment()
    env.update(
        FEDLOGIN_DATA_DIR=str(tmp_path / "data"),
        FEDLOGIN_DATABASE_URL=database.url.render_as_string(hide_password=False),
        FEDLOGIN_SECRET_KEY=Fernet.generate_key().decode(),
        FEDLOGIN_BASE_URL="http://login.test",
        FEDLOGIN_DEV_INSECURE_LOOPBACK="1",
    )
    return Cli(env=env, cwd=tmp_path, database=database)


@pytest.fixture
def migrated_cli(cli: Cli) -> Cli:
    """``cli`` on a migrated database (migrated in process: ``db upgrade`` has its own test)."""
    migrate.upgrade(cli.database)
    return cli
