"""Fixtures of the hostile-provider suite.

One hostile provider per test module on a real 127.0.0.1 port (starting one generates keys),
made well-behaved again before each test; the whole app per test on the ``db`` fixture
(SQLite and PostgreSQL), with fresh discovery and JWKS caches, driven by a :class:`Browser`.

The provider's client id and secret (:mod:`tests.hostile.helpers`) contain characters that
HTTP Basic needs form-url-encoded (RFC 6749 2.3.1), and the suite's provider uses
``client_secret_basic``: every sign-in of the suite proves the encoding.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from fedlogin.config import Config
from fedlogin.oidc import OutboundSettings
from fedlogin.plugins import Plugins
from fedlogin.store.database import Database
from fedlogin.web.app import create_app
from fedlogin.web.context import AppContext
from starlette.applications import Starlette

from tests.hostile.helpers import AUTH_METHOD, BASE_URL, CLIENT_ID, CLIENT_SECRET, IDENTIFIER
from tests.hostile.provider import SuiteOP
from tests.support.sign_in import Browser, add_provider


@pytest.fixture(scope="module")
def plugins() -> Plugins:
    return Plugins.load(disabled=())


@pytest.fixture(scope="module")
def module_op() -> Iterator[SuiteOP]:
    op = SuiteOP(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    op.start()
    try:
        yield op
    finally:
        op.stop()


@pytest.fixture
def op(module_op: SuiteOP) -> SuiteOP:
    """The module's provider, well-behaved until the test bends it."""
    module_op.reset()
    return module_op


@pytest.fixture
async def context(tmp_path: Path, db: Database, plugins: Plugins) -> AsyncIterator[AppContext]:
    config = Config(
        data_dir=tmp_path / "data",
        secret_key=Fernet.generate_key().decode(),
        base_url=BASE_URL,
        dev_insecure_loopback=True,
    )
    ctx = AppContext.create(
        config,
        database=db,
        plugins=plugins,
        outbound_settings=OutboundSettings.from_config(config),
    )
    yield ctx
    await ctx.close()


@pytest.fixture
def app(context: AppContext) -> Starlette:
    return create_app(context)


@pytest.fixture
async def browser(app: Starlette) -> AsyncIterator[Browser]:
    browser = Browser(app, BASE_URL)
    yield browser
    await browser.aclose()


@pytest.fixture
def provider(context: AppContext, op: SuiteOP) -> SuiteOP:
    """``op`` configured as the provider ``hostile`` and offered on the login page."""
    add_provider(
        context,
        identifier=IDENTIFIER,
        issuer=op.issuer,
        client_id=op.client_id,
        client_secret=op.client_secret,
        auth_method=AUTH_METHOD,
    )
    return op
