"""``fedlogin admin unlock NAME``: the way back into the admin console for an admin locked out
after wrong passwords (the console's sign-in is limited per admin name and per address)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fedlogin.accounts import lockouts, throttle
from fedlogin.store import admins, audit
from fedlogin.store.types import utcnow
from fedlogin.web.app import create_app
from fedlogin.web.context import AppContext

from tests.cli.runner import Cli, assert_refused
from tests.web.console.conftest import Console

PASSWORD = "a long admin password"
ADDRESS = "203.0.113.7"


@pytest.fixture
async def console(migrated_cli: Cli) -> AsyncIterator[Console]:
    """The console of the server the CLI's environment names, from ``ADDRESS``."""
    assert migrated_cli.database is not None
    with migrated_cli.database.transaction() as session:
        admins.create_admin(session, "root", PASSWORD, actor="test")
    context = AppContext.create(migrated_cli.config, database=migrated_cli.database)
    transport = httpx.ASGITransport(app=create_app(context), client=(ADDRESS, 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://login.test") as client:
        yield Console(client)
    await context.close()


async def test_a_locked_out_admin_is_let_back_in_from_the_command_line(
    migrated_cli: Cli, console: Console
) -> None:
    for _ in range(throttle.ADMIN_ACCOUNT_LIMIT.max_failures):
        assert (await console.sign_in("root", "wrong password")).status_code == 401
    assert (await console.sign_in("root", PASSWORD)).status_code == 429

    result = migrated_cli("admin", "unlock", "ROOT")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Unlocked: root can sign in to the admin console again.\n"
    assert (await console.sign_in("root", PASSWORD)).status_code == 303

    assert migrated_cli.database is not None
    with migrated_cli.database.session() as session:
        [entry] = [e for e in audit.entries(session) if e.action == lockouts.ADMIN_UNLOCKED]
    assert (entry.actor, entry.target_id) == ("command line", "root")


async def test_the_address_is_unlocked_only_when_named(migrated_cli: Cli, console: Console) -> None:
    # Guesses at many names from one address lock the address, the real admin's name too.
    for n in range(throttle.ADMIN_ADDRESS_LIMIT.max_failures):
        assert (await console.sign_in(f"guess{n}", "wrong password")).status_code == 401
    assert (await console.sign_in("root", PASSWORD)).status_code == 429

    not_locked = migrated_cli("admin", "unlock", "root")
    assert not_locked.stdout.startswith("The admin console's sign-in was not locked for root.\n")
    assert "the lock is on the address: add --address" in not_locked.stdout
    assert (await console.sign_in("root", PASSWORD)).status_code == 429

    unlocked = migrated_cli("admin", "unlock", "root", "--address", ADDRESS)
    assert unlocked.stdout == (
        f"Unlocked: root can sign in to the admin console again (and from {ADDRESS}).\n"
    )
    assert (await console.sign_in("root", PASSWORD)).status_code == 303


def test_an_unknown_admin_or_a_bad_address_is_refused(migrated_cli: Cli) -> None:
    assert migrated_cli.database is not None
    with migrated_cli.database.transaction() as session:
        admins.create_admin(session, "root", PASSWORD, actor="test")
    assert_refused(migrated_cli("admin", "unlock", "nobody"), "There is no admin 'nobody'")
    assert_refused(
        migrated_cli("admin", "unlock", "root", "--address", "proxy.local"),
        "--address must be an IP address",
    )
    with migrated_cli.database.session() as session:
        assert lockouts.admin_locked_until(session, "root", utcnow()) is None
