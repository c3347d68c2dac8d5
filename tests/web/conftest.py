"""Web fixtures: the real app on the shared ``db`` fixture (SQLite and PostgreSQL), driven
in-process through httpx's ASGI transport, and an admin with a bearer token.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from fedlogin.config import Config
from fedlogin.oidc import OutboundSettings
from fedlogin.plugins import Plugins
from fedlogin.store import admins
from fedlogin.store.database import Database
from fedlogin.web.app import create_app
from fedlogin.web.context import AppContext
from starlette.applications import Starlette

BASE_URL = "http://testserver"


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(
        data_dir=tmp_path / "data",
        secret_key=Fernet.generate_key().decode(),
        base_url=BASE_URL,
        dev_insecure_loopback=True,
    )


@pytest.fixture
def context(config: Config, db: Database) -> AppContext:
    """The app's context on the test database, with every installed plugin."""
    return AppContext.create(
        config,
        database=db,
        plugins=Plugins.load(disabled=()),
        outbound_settings=OutboundSettings.from_config(config),
    )


@pytest.fixture
def app(context: AppContext) -> Starlette:
    return create_app(context)


@pytest.fixture
async def client(app: Starlette, context: AppContext) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        yield client
    await context.close()


@pytest.fixture
def admin_token(db: Database) -> str:
    with db.transaction() as session:
        admins.create_admin(session, "root", "a long admin password", actor="test")
        return admins.create_api_token(session, "root", "tests", actor="test").token


@pytest.fixture
def admin(client: httpx.AsyncClient, admin_token: str) -> httpx.AsyncClient:
    """The client, sending the admin's bearer token."""
    client.headers["Authorization"] = f"Bearer {admin_token}"
    return client
