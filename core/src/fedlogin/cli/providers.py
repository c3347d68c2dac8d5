"""``fedlogin providers list|show|test``: the identity providers, read-only.

Changes go through the admin API (one place validates and audits them); the command line
shows what is stored and runs Test Connection (P7) from the server's own network, which is
where sign-ins will fetch discovery and keys from. The client secret is never printed: only
whether one is set.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import TYPE_CHECKING, Any, TextIO

from sqlmodel import col, select

from fedlogin.cli.common import Subparsers, open_database, write_table
from fedlogin.config import Config
from fedlogin.plugins import Plugins
from fedlogin.store.provider_views import callback_url, provider_fields
from fedlogin.store.providers import ProviderNotFound
from fedlogin.store.tables import IdentityProvider

if TYPE_CHECKING:
    from fedlogin.oidc import ConnectionReport

#: Exit status of a connection test that ran and failed (2 means the command was refused).
EXIT_TEST_FAILED = 1


def _list(args: argparse.Namespace, out: TextIO) -> int:
    with open_database() as (_, database), database.session() as session:
        query = select(IdentityProvider).order_by(col(IdentityProvider.identifier))
        rows = list(session.exec(query).all())
    if not rows:
        out.write("No identity providers yet: create one with POST /api/v1/identity-providers.\n")
        return 0
    table = [
        (row.identifier, row.name, row.preset, "yes" if row.enabled else "no", row.domain)
        for row in rows
    ]
    write_table(out, ("IDENTIFIER", "NAME", "PRESET", "ENABLED", "DOMAIN"), table)
    return 0


def _show(args: argparse.Namespace, out: TextIO) -> int:
    config, row = _load(args.identifier)
    fields = provider_fields(row)
    secret_set = fields.pop("client_secret_set")
    for key, value in fields.items():
        if isinstance(value, dict):
            out.write(f"{_label(key)}:\n")
            for inner, item in value.items():
                out.write(f"    {inner}: {item}\n")
        else:
            out.write(f"{_label(key)}: {_text(value)}\n")
    out.write(f"client secret: {'set' if secret_set else 'not set'}\n")
    out.write(f"callback URL: {callback_url(config.base_url, row.identifier)}\n")
    return 0


def _label(key: str) -> str:
    return key.replace("_", " ")


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return " ".join(str(item) for item in value) or "-"
    return str(value)


def _test(args: argparse.Namespace, out: TextIO) -> int:
    # Imported here: the other commands start faster without the HTTP and JOSE stack.
    from fedlogin.oidc import Outbound, OutboundSettings, run_connection_test

    config, row = _load(args.identifier)
    target = Plugins.load().discovery(row.preset, row.domain, row.preset_options)

    async def run() -> ConnectionReport:
        outbound = Outbound(OutboundSettings.from_config(config))
        try:
            return await run_connection_test(outbound, target, auth_method=row.auth_method)
        finally:
            await outbound.aclose()

    report = asyncio.run(run())
    out.write(f"Test Connection: {row.identifier} ({row.name})\n")
    _write_report(report, out)
    return 0 if report.ok else EXIT_TEST_FAILED


def _write_report(report: ConnectionReport, out: TextIO) -> None:
    found = [
        ("Discovery URL", report.discovery_url),
        ("Issuer", report.issuer),
        ("Authorization endpoint", report.authorization_endpoint),
        ("Token endpoint", report.token_endpoint),
        ("UserInfo endpoint", report.userinfo_endpoint),
        ("JWKS URI", report.jwks_uri),
        ("Signing keys", None if report.jwks_key_count is None else str(report.jwks_key_count)),
        ("Signing algorithms", ", ".join(report.signing_algorithms) or None),
    ]
    for label, value in found:
        if value is not None:
            out.write(f"  {label + ':':<24}{value}\n")
    for warning in report.warnings:
        out.write(f"  Warning ({warning.code}): {warning.message}\n")
    failure = report.failure
    if failure is None:
        out.write("Result: OK\n")
        return
    out.write(f"Result: FAILED at step {failure.step} (code {failure.code})\n")
    out.write(f"  {failure.message}\n  What to check:\n")
    for hint in failure.hints:
        out.write(f"    - {hint}\n")


def _load(identifier: str) -> tuple[Config, IdentityProvider]:
    with open_database() as (config, database), database.session() as session:
        query = select(IdentityProvider).where(IdentityProvider.identifier == identifier)
        row = session.exec(query).first()
    if row is None:
        raise ProviderNotFound(
            f"There is no identity provider {identifier!r}; `fedlogin providers list` "
            "shows the identifiers."
        )
    return config, row


def register(groups: Subparsers) -> None:
    group = groups.add_parser("providers", help="identity providers (read-only) and tests")
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="list identity providers").set_defaults(handler=_list)
    show = actions.add_parser("show", help="every field of a provider (never the secret)")
    show.add_argument("identifier", help="the provider's identifier")
    show.set_defaults(handler=_show)
    test = actions.add_parser(
        "test",
        help="Test Connection: fetch discovery and keys now (exit status 1 when it fails)",
    )
    test.add_argument("identifier", help="the provider's identifier")
    test.set_defaults(handler=_test)
