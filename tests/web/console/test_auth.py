"""The console's sign-in (issue 6, point 6): admin pages only for admins, a session of their own,
CSRF on every form, failed sign-ins limited."""

from __future__ import annotations

import httpx
import pytest
from fedlogin.store import audit
from fedlogin.store.database import Database
from fedlogin.store.settings import get_settings
from fedlogin.store.tables import User
from fedlogin.web.console import throttle
from fedlogin.web.sessions import create_session

from tests.web.console.conftest import ADMIN_PASSWORD, Console, csrf_token

CONSOLE_PAGES = [
    "/admin/identity-providers",
    "/admin/identity-providers/new",
    "/admin/identity-providers/new?preset=google",
    "/admin/identity-providers/some-idp/edit",
    "/admin/identity-providers/some-idp/events",
    "/admin/identity-providers/some-idp/delete",
    "/admin/settings/accounts",
    "/admin/brands",
    "/admin/brands/new",
    "/admin/brands/1",
    "/admin/plugins",
]


@pytest.mark.parametrize("path", CONSOLE_PAGES)
async def test_every_console_page_sends_a_visitor_to_the_sign_in(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/admin/login?next=%2Fadmin%2F")


async def test_a_form_posted_without_a_session_changes_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    response = await client.post(
        "/admin/settings/accounts", data={"federated_login_enabled": "on", "csrf_token": "x"}
    )
    assert response.status_code == 401
    assert "Your admin session has ended, so nothing was changed." in response.text
    with db.session() as session:
        assert get_settings(session).federated_login_enabled is False


async def test_signing_in_starts_a_console_session_in_its_own_cookie(
    client: httpx.AsyncClient, admin_token: str
) -> None:
    console = Console(client)
    response = await console.sign_in()
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/identity-providers"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("fedlogin_admin=")
    for attribute in ("HttpOnly", "Path=/admin", "SameSite=lax"):
        assert attribute in cookie
    page = await console.get("/admin/identity-providers")
    assert "Add Identity Provider" in page.text and ">root<" in page.text


async def test_sign_in_returns_to_the_page_asked_for_but_only_within_the_console(
    client: httpx.AsyncClient, admin_token: str
) -> None:
    for next_url, expected in [
        ("/admin/plugins", "/admin/plugins"),
        ("https://evil.example/admin/", "/admin/identity-providers"),
        ("//evil.example/admin/x", "/admin/identity-providers"),
        ("/account", "/admin/identity-providers"),
    ]:
        client.cookies.clear()
        page = await client.get("/admin/login", params={"next": next_url})
        response = await client.post(
            "/admin/login",
            data={
                "csrf_token": csrf_token(page),
                "username": "root",
                "password": ADMIN_PASSWORD,
                "next": next_url,
            },
        )
        assert response.headers["location"] == expected, next_url


async def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(
    client: httpx.AsyncClient, admin_token: str, db: Database
) -> None:
    console = Console(client)
    for username in ("root", "nobody"):
        response = await console.sign_in(username, "not the password")
        assert response.status_code == 401
        assert "The username or password is not right." in response.text
        assert "fedlogin_admin" not in response.headers.get("set-cookie", "")
    with db.session() as session:
        failed = [e for e in audit.entries(session) if e.action == throttle.FAILED]
    assert sorted(e.target_id for e in failed) == ["nobody", "root"]


async def test_failed_sign_ins_are_limited_per_username(
    client: httpx.AsyncClient, admin_token: str, db: Database
) -> None:
    console = Console(client)
    for _ in range(throttle.MAX_FAILURES_PER_USERNAME):
        assert (await console.sign_in("root", "wrong password")).status_code == 401
    refused = await console.sign_in("root", ADMIN_PASSWORD)  # even the right one, for now
    assert refused.status_code == 429
    assert "Too many failed sign-ins" in refused.text
    assert "fedlogin_admin" not in refused.headers.get("set-cookie", "")
    with db.transaction() as session:
        from fedlogin.store.admins import create_admin

        create_admin(session, "other", "another long password", actor="test")
    assert (await console.sign_in("other", "another long password")).status_code == 303


async def test_the_console_limit_has_its_own_buckets_and_forgives_a_success(
    client: httpx.AsyncClient, admin_token: str
) -> None:
    # Wrong passwords for the *user* "root" on /login do not lock the admin "root" out...
    page = await client.get("/login")
    for _ in range(throttle.MAX_FAILURES_PER_USERNAME + 1):
        form = {"csrf_token": csrf_token(page), "login": "root", "password": "wrong password"}
        await client.post("/login", data=form)
    console = Console(client)
    # ...and a success empties the admin name's bucket: the next mistakes start from zero.
    for _ in range(throttle.MAX_FAILURES_PER_USERNAME - 1):
        assert (await console.sign_in("root", "wrong password")).status_code == 401
    assert (await console.sign_in()).status_code == 303
    client.cookies.delete("fedlogin_admin")
    for _ in range(throttle.MAX_FAILURES_PER_USERNAME - 1):
        assert (await console.sign_in("root", "wrong password")).status_code == 401
    assert (await console.sign_in()).status_code == 303


async def test_the_sign_in_form_needs_its_csrf_token(
    client: httpx.AsyncClient, admin_token: str
) -> None:
    await client.get("/admin/login")
    response = await client.post(
        "/admin/login", data={"csrf_token": "forged", "username": "root", "password": "x"}
    )
    assert response.status_code == 403
    assert "fedlogin_admin" not in response.headers.get("set-cookie", "")


async def test_console_forms_accept_only_the_admin_sessions_token(
    console: Console, client: httpx.AsyncClient, db: Database
) -> None:
    await console.get("/admin/settings/accounts")
    login_page = await client.get("/login")  # the public page's token (browser cookie)
    data = {"federated_login_enabled": "on"}
    for token in (csrf_token(login_page), "", "0" * 64):
        response = await console.post("/admin/settings/accounts", data, csrf=token)
        assert response.status_code == 403, token
        assert "nothing was changed" in response.text
    cross_site = await console.post(
        "/admin/settings/accounts", data, headers={"Origin": "https://evil.example"}
    )
    assert cross_site.status_code == 403
    with db.session() as session:
        assert get_settings(session).federated_login_enabled is False
    accepted = await console.post("/admin/settings/accounts", data)
    assert accepted.status_code == 303


async def test_a_users_session_is_no_admin_session(
    client: httpx.AsyncClient, db: Database, admin_token: str
) -> None:
    with db.transaction() as session:
        user = User(username="mallory")
        session.add(user)
        session.flush()
        assert user.id is not None
        token, _ = create_session(session, user_id=user.id)
    # Even placed in the admin cookie, a user's session opens nothing.
    client.cookies.set("fedlogin_admin", token, path="/admin")
    client.cookies.set("fedlogin_session", token)
    response = await client.get("/admin/identity-providers")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/admin/login")


async def test_signing_out_ends_the_session(console: Console, client: httpx.AsyncClient) -> None:
    await console.get("/admin/plugins")
    token = client.cookies.get("fedlogin_admin")
    assert token
    response = await console.post("/admin/logout")
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/login?signed_out=1"
    client.cookies.set("fedlogin_admin", token, path="/admin")  # a copy kept by someone
    again = await client.get("/admin/plugins")
    assert again.status_code == 303 and again.headers["location"].startswith("/admin/login")
