"""``fedlogin providers list|show|test`` against the real node oidc-provider on 127.0.0.1."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest
from fedlogin.plugins import Plugins
from fedlogin.store.providers import IdentityProviders
from fedlogin.store.secrets import SecretBox

from tests.cli.runner import Cli, assert_refused
from tests.support.oidc_provider import OidcClient, OidcProvider, OidcProviderConfig

CLIENT_SECRET = "cli-test-client-secret-9f3a"


def create_provider(cli: Cli, **fields: Any) -> None:
    config = cli.config
    with cli.database.transaction() as session:
        service = IdentityProviders(
            session, Plugins.load(), SecretBox.from_config(config), actor="test"
        )
        defaults = {"preset": "generic-oidc", "client_id": "app", "client_secret": CLIENT_SECRET}
        service.create({**defaults, **fields})


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def op(oidc_provider_factory: Callable[[OidcProviderConfig], OidcProvider]) -> OidcProvider:
    client = OidcClient("app", ["http://login.test/auth/callback/local"], CLIENT_SECRET)
    return oidc_provider_factory(OidcProviderConfig(clients=[client]))


def test_list_is_empty_then_shows_each_provider(migrated_cli: Cli) -> None:
    cli = migrated_cli
    empty = cli("providers", "list")
    assert empty.returncode == 0
    assert "No identity providers yet" in empty.stdout
    create_provider(cli, identifier="beta", name="Beta", domain="beta.example.com")
    create_provider(
        cli,
        identifier="alpha",
        name="Alpha",
        preset="okta",
        domain="alpha.okta.com",
        enabled=False,
    )
    listed = cli("providers", "list")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()]
    assert rows[0] == ["IDENTIFIER", "NAME", "PRESET", "ENABLED", "DOMAIN"]
    assert rows[1] == ["alpha", "Alpha", "okta", "no", "alpha.okta.com"]
    assert rows[2] == ["beta", "Beta", "generic-oidc", "yes", "beta.example.com"]
    assert CLIENT_SECRET not in listed.stdout


def test_show_prints_every_field_and_never_the_secret(migrated_cli: Cli) -> None:
    cli = migrated_cli
    create_provider(
        cli,
        identifier="corp",
        name="Corp SSO",
        domain="sso.corp.example.com",
        client_secret=CLIENT_SECRET,
        allowed_domains=["corp.example.com"],
    )
    shown = cli("providers", "show", "corp")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    for expected in (
        "identifier: corp",
        "name: Corp SSO",
        "preset: generic-oidc",
        "domain: sso.corp.example.com",
        "client id: app",
        "auth method: client_secret_post",
        "scopes: openid profile email",
        "allowed domains: corp.example.com",
        "provisioning mode: auto_provision",
        "email trust mode: verify_with_claim",
        "button text: Login with Corp SSO",
        "client secret: set",
        "callback URL: http://login.test/auth/callback/corp",
    ):
        assert expected in lines, (expected, shown.stdout)
    assert "attribute mapping:" in lines
    assert CLIENT_SECRET not in shown.stdout + shown.stderr

    create_provider(
        cli,
        identifier="public",
        name="Public",
        domain="x.example.com",
        auth_method="none",
        client_secret=None,
    )
    assert "client secret: not set" in cli("providers", "show", "public").stdout.splitlines()


def test_unknown_providers_are_refused_with_one_line(migrated_cli: Cli) -> None:
    for action in ("show", "test"):
        result = migrated_cli("providers", action, "nope")
        assert_refused(result, "There is no identity provider 'nope'", "fedlogin providers list")


@pytest.mark.e2e
def test_test_reports_the_real_provider(migrated_cli: Cli, op: OidcProvider) -> None:
    cli = migrated_cli
    create_provider(
        cli, identifier="local", name="Local OP", domain=op.issuer, client_secret=CLIENT_SECRET
    )
    result = cli("providers", "test", "local")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert f"Discovery URL:          {op.discovery_url}" in out
    assert f"Issuer:                 {op.issuer}" in out
    assert f"Token endpoint:         {op.issuer}/token" in out
    assert f"JWKS URI:               {op.jwks_uri}" in out
    assert f"Signing keys:           {len(op.state()['kids'])}" in out
    assert "RS256" in out.split("Signing algorithms:")[1].splitlines()[0]
    assert out.rstrip().endswith("Result: OK")
    assert CLIENT_SECRET not in out + result.stderr


def test_test_exits_1_with_the_failed_step_and_what_to_check(migrated_cli: Cli) -> None:
    cli = migrated_cli
    create_provider(cli, identifier="gone", name="Gone", domain=f"http://127.0.0.1:{closed_port()}")
    result = cli("providers", "test", "gone")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Result: FAILED at step discovery (code connect)" in result.stdout
    assert "What to check:" in result.stdout
    assert "The provider could not be reached." in result.stdout
    assert "Traceback" not in result.stderr


def test_test_refuses_loopback_without_the_development_setting(migrated_cli: Cli) -> None:
    cli = migrated_cli
    create_provider(cli, identifier="inner", name="Inner", domain="http://127.0.0.1:9")
    result = cli("providers", "test", "inner", env={"FEDLOGIN_DEV_INSECURE_LOOPBACK": "0"})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Result: FAILED at step discovery" in result.stdout
    assert "(code insecure_scheme)" in result.stdout or "(code address_blocked)" in result.stdout
