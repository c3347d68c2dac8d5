"""Issue 4, point 9 (X4): two ``fedlogin serve`` processes on one PostgreSQL database.

Two real OS processes share a fresh PostgreSQL database, a secret key and a public URL, as two
instances behind a load balancer do; the test is the load balancer (it sends each request to
one process, keeping the public ``Host``). A sign-in started on process 1 finishes on
process 2; then a provider disabled through process 1's API is refused by process 2 at once:
its login page stops listing it and its sign-in route refuses it, though process 2 rendered
that login page (and so filled any per-process cache) just before. Every admin change bumps
the configuration version row; the test reads it before and after.

The provider is the real node ``oidc-provider``. PostgreSQL and node are required in CI
(``FEDLOGIN_REQUIRE_POSTGRES``, ``FEDLOGIN_REQUIRE_E2E``): missing, they fail there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from fedlogin.store.changes import config_version
from fedlogin.store.database import Database
from fedlogin.store.tables import BrowserSession, FederatedIdentity, User
from sqlmodel import func, select

from tests.cli.runner import Cli, clean_environment
from tests.support.databases import PostgresServer
from tests.support.oidc_provider import OidcClient, OidcProvider, OidcProviderConfig
from tests.support.served import ServedFedlogin, WebBrowser, csrf_token, free_port, offered

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

IDENTIFIER = "company-sso"
OTHER = "partner-sso"
CLIENT_ID = "two-processes"
CLIENT_SECRET = "two processes: one secret"
ACCOUNTS = {"alice": {"email": "alice@example.com", "email_verified": True, "name": "Alice"}}


@pytest.fixture
def database(postgres_server: PostgresServer) -> Iterator[Database]:
    url = postgres_server.create()
    database = Database(url)
    yield database
    database.dispose()
    postgres_server.drop(url)


@pytest.fixture
def public_url() -> str:
    """The site's one public address: process 1's port, which both processes are told."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def op(
    oidc_provider_factory: Callable[[OidcProviderConfig], OidcProvider], public_url: str
) -> OidcProvider:
    client = OidcClient(
        CLIENT_ID,
        [f"{public_url}/auth/callback/{name}" for name in (IDENTIFIER, OTHER)],
        CLIENT_SECRET,
        token_endpoint_auth_method="client_secret_post",
    )
    return oidc_provider_factory(OidcProviderConfig(clients=[client], accounts=ACCOUNTS))


@pytest.fixture
def cli(database: Database, tmp_path: Path, public_url: str) -> Cli:
    env = clean_environment()
    env.update(
        FEDLOGIN_DATA_DIR=str(tmp_path / "data"),
        FEDLOGIN_DATABASE_URL=database.url.render_as_string(hide_password=False),
        FEDLOGIN_SECRET_KEY=Fernet.generate_key().decode(),
        FEDLOGIN_BASE_URL=public_url,
        FEDLOGIN_DEV_INSECURE_LOOPBACK="1",
    )
    return Cli(env=env, cwd=tmp_path, database=database)


@pytest.fixture
def token(cli: Cli) -> str:
    for args, stdin in [
        (("db", "upgrade"), ""),
        (("admin", "create", "--username", "operator"), "two processes password\n"),
    ]:
        result = cli(*args, stdin=stdin)
        assert result.returncode == 0, result.stderr
    result = cli("admin", "token", "two-processes")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture
def processes(cli: Cli, token: str, public_url: str) -> Iterator[tuple[str, str]]:
    """Process 1 on the public URL's port, process 2 on another; both on the same database."""
    ports = [int(public_url.rsplit(":", 1)[1]), free_port()]
    servers = [
        ServedFedlogin(cli.env, cli.cwd, port, cli.cwd / f"serve-{n}.log")
        for n, port in enumerate(ports, start=1)
    ]
    try:
        for server in servers:
            server.wait_until_serving()
        yield servers[0].url, servers[1].url
    finally:
        for server in servers:
            server.stop()


def count(database: Database, table: Any) -> int:
    with database.session() as session:
        return int(session.exec(select(func.count()).select_from(table)).one())


def version(database: Database) -> int:
    with database.session() as session:
        return config_version(session)


def admin_api(server: str, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{server}/api/v1",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
        trust_env=False,
    )


def test_a_sign_in_started_on_one_process_finishes_on_the_other_and_admin_changes_apply_at_once(
    op: OidcProvider,
    processes: tuple[str, str],
    token: str,
    database: Database,
    public_url: str,
) -> None:
    first, second = processes
    with admin_api(first, token) as api, WebBrowser(public_url) as browser:
        before_setup = version(database)
        for identifier in (IDENTIFIER, OTHER):
            created = api.post(
                "/identity-providers",
                json={
                    "identifier": identifier,
                    "name": identifier.replace("-", " ").title(),
                    "preset": "generic-oidc",
                    "domain": op.issuer,
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    "auth_method": "client_secret_post",
                },
            )
            assert created.status_code == 201, created.text
        # Process 2 renders its login page before federated login is on: nothing offered.
        assert offered(browser.login_page(second)) == []
        switched = api.patch(
            "/settings/accounts",
            json={"federated_login_enabled": True, "identity_providers": [IDENTIFIER, OTHER]},
        )
        assert switched.status_code == 200, switched.text
        assert version(database) >= before_setup + 3  # two providers and the settings
        assert offered(browser.login_page(second)) == [IDENTIFIER, OTHER]

        # Started on process 1, finished on process 2: the pending flow is in the database.
        authorization = browser.start(first, IDENTIFIER)
        assert authorization.startswith(op.issuer + "/")
        callback = browser.sign_in_at_provider(authorization, login="alice")
        assert callback.startswith(f"{public_url}/auth/callback/{IDENTIFIER}?")
        landed = browser.callback(second, callback)
        assert landed.status_code == 303, landed.text[:1000]
        assert landed.headers["location"] == "/account"
        for server in (second, first):  # the session is in the database too
            account = browser.get(server, "/account")
            assert account.status_code == 200
            assert "alice" in account.text
        assert (count(database, User), count(database, FederatedIdentity)) == (1, 1)
        assert count(database, BrowserSession) == 1

        # Process 2 has just rendered its page with the provider on it (its caches are warm).
        assert IDENTIFIER in offered(browser.login_page(second))
        before_disable = version(database)
        disabled = api.post(f"/identity-providers/{IDENTIFIER}/disable")
        assert disabled.status_code == 200, disabled.text
        assert version(database) == before_disable + 1

        page = browser.login_page(second)
        assert page.status_code == 200
        assert offered(page) == [OTHER]
        refused = browser.click(second, IDENTIFIER, csrf_token(page))
        assert refused.status_code == 403, refused.text[:1000]
        assert "switched off" in refused.text
        assert "location" not in refused.headers
        events = api.get("/sign-in-events", params={"provider": IDENTIFIER}).json()["events"]
        assert [(e["outcome"], e["code"]) for e in events[:2]] == [
            ("refused", "provider_disabled"),
            ("success", None),
        ]

        # And back: enabled through process 1, offered by process 2 at once.
        assert api.post(f"/identity-providers/{IDENTIFIER}/enable").status_code == 200
        assert offered(browser.login_page(second)) == [IDENTIFIER, OTHER]
        # Federated login switched off globally: process 2 offers nothing and refuses.
        off = api.patch("/settings/accounts", json={"federated_login_enabled": False})
        assert off.status_code == 200, off.text
        csrf = csrf_token(page)  # from the page before: bound to the browser cookie, still good
        assert offered(browser.login_page(second)) == []
        refused = browser.click(second, OTHER, csrf)
        assert refused.status_code == 403
        assert "not enabled on this site" in refused.text
