"""Issue 3, "Done when": an operator sets up fedlogin with the CLI and manages an identity
provider through the admin API of a running server, against the real node ``oidc-provider``.

Everything is real: ``fedlogin db upgrade``, ``fedlogin admin create`` and ``admin token`` as
subprocesses, ``fedlogin serve`` on a free 127.0.0.1 port, HTTP to it, and the server's Test
Connection fetching the provider's discovery document and keys over the network. Runs on
SQLite and PostgreSQL (``new_database``).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from fedlogin.store.database import Database

from tests.cli.runner import Cli, clean_environment
from tests.support.oidc_provider import (
    OidcClient,
    OidcProvider,
    OidcProviderConfig,
    oidc_provider_fixture,
)

pytestmark = pytest.mark.e2e

PASSWORD = "a long operator password"
CLIENT_SECRET = "e2e-client-secret-0d9f"
IDENTIFIER = "company-sso"
START_TIMEOUT = 30.0

op = oidc_provider_fixture(
    lambda: OidcProviderConfig(
        clients=[
            OidcClient(
                "fedlogin-e2e",
                [f"http://127.0.0.1/auth/callback/{IDENTIFIER}"],
                CLIENT_SECRET,
                token_endpoint_auth_method="client_secret_post",
            )
        ]
    )
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def cli(new_database: Callable[[], Database], tmp_path: Path) -> Cli:
    database = new_database()
    env = clean_environment()
    env.update(
        FEDLOGIN_DATA_DIR=str(tmp_path / "data"),
        FEDLOGIN_DATABASE_URL=database.url.render_as_string(hide_password=False),
        FEDLOGIN_SECRET_KEY=Fernet.generate_key().decode(),
        FEDLOGIN_DEV_INSECURE_LOOPBACK="1",
    )
    return Cli(env=env, cwd=tmp_path, database=database)


@pytest.fixture
def token(cli: Cli) -> str:
    """The operator's bearer token, made the documented way (before serving: no setup link)."""
    for args, stdin in [
        (("db", "upgrade"), ""),
        (("admin", "create", "--username", "operator"), PASSWORD + "\n"),
    ]:
        result = cli(*args, stdin=stdin)
        assert result.returncode == 0, result.stderr
    result = cli("admin", "token", "e2e")
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture
def server(cli: Cli, token: str) -> Iterator[str]:
    """``fedlogin serve`` on a free port; yields its base URL once it answers."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "fedlogin.cli", "serve", "--port", str(port)],
        env=cli.env,
        cwd=cli.cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until_serving(process, base_url)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def wait_until_serving(process: subprocess.Popen[str], base_url: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            pytest.fail(f"fedlogin serve exited with {process.returncode}:\n{output}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{base_url}/api/v1/openapi.json", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    pytest.fail(f"fedlogin serve did not answer at {base_url} within {START_TIMEOUT:.0f} s")


def provider_documents(op: OidcProvider) -> tuple[dict[str, Any], dict[str, Any]]:
    """The provider's own discovery document and key set, fetched directly for comparison."""
    metadata = httpx.get(op.discovery_url, timeout=10).json()
    jwks = httpx.get(metadata["jwks_uri"], timeout=10).json()
    return metadata, jwks


def assert_tested_ok(result: dict[str, Any], op: OidcProvider) -> None:
    metadata, jwks = provider_documents(op)
    assert result["ok"] is True, result
    assert result["failure"] is None
    assert result["issuer"] == op.issuer
    for endpoint in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri"):
        assert result[endpoint] == metadata[endpoint]
    assert result["jwks_key_count"] == len(jwks["keys"]) > 0
    assert result["signing_algorithms"] == metadata["id_token_signing_alg_values_supported"]


def test_an_operator_creates_tests_updates_and_deletes_a_provider(
    op: OidcProvider, token: str, server: str
) -> None:
    api = httpx.Client(
        base_url=f"{server}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    with api:
        assert api.get("/identity-providers").json() == {"identity_providers": []}

        created = api.post(
            "/identity-providers",
            json={
                "identifier": IDENTIFIER,
                "name": "Company SSO",
                "preset": "generic-oidc",
                "domain": op.issuer,
                "client_id": "fedlogin-e2e",
                "client_secret": CLIENT_SECRET,
            },
        )
        assert created.status_code == 201, created.text
        provider = created.json()
        assert provider["domain"] == op.issuer  # http kept visibly: loopback development only
        assert provider["callback_url"] == f"{server}/auth/callback/{IDENTIFIER}"
        assert provider["client_secret_set"] is True
        assert CLIENT_SECRET not in created.text

        tested = api.post(f"/identity-providers/{IDENTIFIER}/test-connection")
        assert tested.status_code == 200
        assert_tested_ok(tested.json(), op)

        updated = api.patch(
            f"/identity-providers/{IDENTIFIER}",
            json={
                "name": "Company Login",
                "domain": op.discovery_url,  # pasted discovery URL, normalised
                "auth_method": "client_secret_basic",
                "scopes": "openid email",
                "version": provider["version"],
            },
        )
        assert updated.status_code == 200, updated.text
        assert updated.json()["domain"] == op.issuer
        assert updated.json()["scopes"] == ["openid", "email"]
        assert updated.json()["client_secret_set"] is True  # kept without resending it
        stale = api.patch(
            f"/identity-providers/{IDENTIFIER}",
            json={"name": "Lost update", "version": provider["version"]},
        )
        assert stale.status_code == 409

        tested_again = api.post(f"/identity-providers/{IDENTIFIER}/test-connection")
        assert_tested_ok(tested_again.json(), op)
        assert "auth_method_unsupported" not in [w["code"] for w in tested_again.json()["warnings"]]

        deleted = api.delete(f"/identity-providers/{IDENTIFIER}")
        assert deleted.status_code == 200, deleted.text
        assert deleted.json() == {"deleted": IDENTIFIER, "unlinked_users": 0}
        assert api.get(f"/identity-providers/{IDENTIFIER}").status_code == 404

        actions = [
            e["action"]
            for e in api.get("/audit-log?target_type=identity_provider").json()["entries"]
        ]
        assert actions == [
            "identity_provider.delete",
            "identity_provider.update",
            "identity_provider.create",
        ]
        assert all(
            e["actor"] == "operator (token e2e)"
            for e in api.get("/audit-log").json()["entries"][:3]
        )
