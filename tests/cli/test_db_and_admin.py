"""``fedlogin db`` and ``fedlogin admin``, run as subprocesses on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fedlogin.plugins import Plugins
from fedlogin.store import admins, migrate
from fedlogin.store.tables import AdminUser
from fedlogin.web.app import create_app
from fedlogin.web.context import AppContext
from sqlalchemy import text
from sqlmodel import select

from tests.cli.runner import Cli, assert_refused, clean_environment

PASSWORD = "a long admin password"


def admin_names(cli: Cli) -> list[str]:
    with cli.database.session() as session:
        return sorted(session.exec(select(AdminUser.username)).all())


async def get_presets(cli: Cli, token: str) -> httpx.Response:
    """``GET /api/v1/presets`` on the app serving the CLI's database."""
    context = AppContext.create(cli.config, database=cli.database, plugins=Plugins.load())
    transport = httpx.ASGITransport(app=create_app(context))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://login.test") as client:
            return await client.get("/api/v1/presets", headers={"Authorization": f"Bearer {token}"})
    finally:
        await context.outbound.aclose()


def test_db_upgrade_migrates_and_reports_the_revisions(cli: Cli) -> None:
    head = migrate.head_revision()
    before = cli("db", "status")
    assert before.returncode == 1
    assert "no schema (a fresh database)" in before.stdout
    assert "Run `fedlogin db upgrade`" in before.stdout

    upgraded = cli("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"Upgraded from no schema (a fresh database) to revision {head}." in upgraded.stdout
    assert migrate.current_revision(cli.database) == head

    again = cli("db", "upgrade")
    assert again.returncode == 0
    assert f"Already at the newest revision {head}" in again.stdout

    status = cli("db", "status")
    assert status.returncode == 0
    assert f"Current:  revision {head}" in status.stdout
    assert "Up to date." in status.stdout


# Only PostgreSQL: a SQLite URL has no password to leak.
@pytest.mark.parametrize(
    "backend", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_db_status_never_shows_a_database_password(cli: Cli) -> None:
    url = cli.database.url.set(password="hunter2-secret")
    result = cli("db", "status", env={"FEDLOGIN_DATABASE_URL": url.render_as_string(False)})
    assert "hunter2-secret" not in result.stdout + result.stderr
    assert "***" in result.stdout


@pytest.mark.parametrize(
    "command",
    [
        ("admin", "token", "ci"),
        ("providers", "test", "google"),
    ],
)
def test_commands_refuse_a_database_without_the_schema(cli: Cli, command: tuple[str, ...]) -> None:
    assert_refused(cli(*command), "no fedlogin schema", "Run `fedlogin db upgrade`")


def test_admin_create_reads_the_password_from_stdin(migrated_cli: Cli) -> None:
    cli = migrated_cli
    result = cli("admin", "create", "--username", "Root", stdin=PASSWORD + "\n")
    assert result.returncode == 0, result.stderr
    assert "Admin root created." in result.stdout
    assert PASSWORD not in result.stdout + result.stderr
    assert admin_names(cli) == ["root"]
    with cli.database.transaction() as session:
        assert admins.verify_admin_password(session, "root", PASSWORD) is not None


def test_admin_create_refuses_a_short_password_and_creates_nothing(migrated_cli: Cli) -> None:
    result = migrated_cli("admin", "create", "--username", "root", stdin="short\n")
    assert_refused(result, "Password must be at least 12 characters.")
    assert admin_names(migrated_cli) == []


def test_admin_create_refuses_an_empty_stdin_and_a_taken_name(migrated_cli: Cli) -> None:
    cli = migrated_cli
    assert_refused(cli("admin", "create", "--username", "root"), "No password on stdin")
    assert cli("admin", "create", "--username", "root", stdin=PASSWORD).returncode == 0
    taken = cli("admin", "create", "--username", "ROOT", stdin=PASSWORD + "\n")
    assert_refused(taken, "An admin named 'root' exists already.")
    assert admin_names(cli) == ["root"]


def test_bad_arguments_are_refused_without_a_traceback(tmp_path: Path) -> None:
    # argparse refuses these before any database is opened: one backend is enough.
    cli = Cli(env=clean_environment(), cwd=tmp_path)
    for args in (("admin", "create"), ("admin", "revoke", "one"), ("serve", "--port", "http")):
        result = cli(*args)
        assert result.returncode == 2
        assert "error:" in result.stderr
        assert "Traceback" not in result.stderr


async def test_admin_token_is_the_last_line_and_opens_the_api(migrated_cli: Cli) -> None:
    cli = migrated_cli
    assert cli("admin", "create", "--username", "root", stdin=PASSWORD).returncode == 0
    result = cli("admin", "token", "ci")
    assert result.returncode == 0, result.stderr
    token = result.stdout.splitlines()[-1]
    assert token.startswith(admins.TOKEN_PREFIX)
    assert "for admin root" in result.stdout

    response = await get_presets(cli, token)
    assert response.status_code == 200, response.text
    assert {"google", "azure-ad"} <= {preset["name"] for preset in response.json()["presets"]}

    listed = cli("admin", "tokens")
    assert listed.returncode == 0
    header, row = listed.stdout.splitlines()
    assert header.split()[:4] == ["ID", "NAME", "ADMIN", "PREFIX"]
    assert row.split()[:4] == ["1", "ci", "root", token[:11] + "…"]
    assert token not in listed.stdout

    revoked = cli("admin", "revoke", "1")
    assert revoked.returncode == 0
    assert "API token 1 'ci'" in revoked.stdout
    assert (await get_presets(cli, token)).status_code == 401
    # The REVOKED column, last, now has a time instead of "-".
    assert cli("admin", "tokens").stdout.splitlines()[1].endswith(" UTC")
    assert_refused(cli("admin", "revoke", "99"), "There is no API token 99.")


def test_admin_token_needs_an_admin_and_a_choice_among_several(migrated_cli: Cli) -> None:
    cli = migrated_cli
    assert_refused(cli("admin", "token", "ci"), "There is no admin yet")
    for name in ("alice", "bob"):
        assert cli("admin", "create", "--username", name, stdin=PASSWORD).returncode == 0
    assert_refused(cli("admin", "token", "ci"), "There are 2 admins (alice, bob)", "--username")
    assert_refused(cli("admin", "token", "ci", "--username", "carol"), "There is no admin 'carol'")
    chosen = cli("admin", "token", "ci", "--username", "bob")
    assert chosen.returncode == 0
    assert "for admin bob" in chosen.stdout


def test_serve_refuses_a_database_it_must_not_migrate_by_itself(cli: Cli) -> None:
    # Not fresh (another application's table) and not fedlogin's: only `db upgrade` may
    # migrate it, so serve stops before listening.
    with cli.database.engine.begin() as connection:
        connection.execute(text("CREATE TABLE other_application (id INTEGER PRIMARY KEY)"))
    result = cli("serve", "--port", "9")
    assert_refused(result, "no fedlogin schema", "Run `fedlogin db upgrade`")
    assert "/setup/" not in result.stdout
