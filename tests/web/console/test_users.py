"""Users in the console: the list, a user's page, and **Unlock sign-in** for a user locked out
after wrong passwords (CSRF-protected, audited as ``user.unlock`` like the API)."""

from __future__ import annotations

import re

import httpx
import pytest
from fedlogin.accounts import passwords, throttle
from fedlogin.store import audit
from fedlogin.store.database import Database
from fedlogin.store.tables import AuditEntry, User
from starlette.applications import Starlette

from tests.support.passwords import fast_passwords
from tests.support.sign_in import password_sign_in
from tests.web.console.conftest import Console

__all__ = ["fast_passwords"]
pytestmark = pytest.mark.usefixtures("fast_passwords")

PASSWORD = "a long enough password"
UNLOCK_BUTTON = re.compile(r'<form method="post" action="/admin/users/(\d+)/unlock"')


def add_user(db: Database, username: str, email: str | None = None) -> int:
    with db.transaction() as session:
        user = User(username=username, email=email, password_hash=passwords.hash_password(PASSWORD))
        session.add(user)
        session.flush()
        assert user.id is not None
        return user.id


async def sign_in(app: Starlette, login: str, password: str = PASSWORD) -> int:
    return await password_sign_in(app, login, password)


async def lock_out(app: Starlette, login: str) -> None:
    for _ in range(throttle.ACCOUNT_LIMIT.max_failures):
        assert await sign_in(app, login, "not the password") == 401
    assert await sign_in(app, login) == 429


def unlocks(db: Database) -> list[AuditEntry]:
    with db.session() as session:
        return [e for e in audit.entries(session, target_type="user") if e.action == "user.unlock"]


async def test_the_users_page_lists_users_and_marks_the_locked_ones(
    console: Console, app: Starlette, db: Database
) -> None:
    add_user(db, "ada", "ada@example.org")
    add_user(db, "bob")
    await lock_out(app, "bob")
    page = await console.get("/admin/users")
    assert '<a href="/admin/users" aria-current="page">Users</a>' in page.text
    rows = dict(re.findall(r'<tr data-user="(\w+)">(.*?)</tr>', page.text, re.S))
    assert set(rows) == {"ada", "bob"}
    assert "Sign-in locked" in rows["bob"] and "Sign-in locked" not in rows["ada"]
    found = await console.get("/admin/users?q=EXAMPLE.org")
    assert re.findall(r'<tr data-user="(\w+)">', found.text) == ["ada"]


async def test_an_admin_unlocks_a_locked_user_from_the_user_page(
    console: Console, app: Starlette, db: Database
) -> None:
    number = add_user(db, "ada", "ada@example.org")
    page = await console.get(f"/admin/users/{number}")
    assert "Not locked." in page.text and not UNLOCK_BUTTON.search(page.text)

    await lock_out(app, "ada@example.org")
    page = await console.get(f"/admin/users/{number}")
    assert "Sign-in is locked until" in page.text
    assert UNLOCK_BUTTON.findall(page.text) == [str(number)]
    assert "Unlock sign-in</button>" in page.text

    done = await console.post(f"/admin/users/{number}/unlock")
    assert done.status_code == 303
    assert done.headers["location"] == f"/admin/users/{number}?done=unlocked"
    page = await console.get(done.headers["location"])
    assert "Sign-in is unlocked" in page.text and not UNLOCK_BUTTON.search(page.text)
    assert await sign_in(app, "ada@example.org") == 303
    [entry] = unlocks(db)
    assert entry.actor == "root" and entry.target_id == str(number)


async def test_unlocking_needs_the_consoles_csrf_token(
    console: Console, app: Starlette, db: Database
) -> None:
    number = add_user(db, "ada")
    await lock_out(app, "ada")
    refused = await console.post(f"/admin/users/{number}/unlock", csrf="forged")
    assert refused.status_code == 403
    assert await sign_in(app, "ada") == 429
    assert unlocks(db) == []


async def test_unlocking_needs_an_admin_session(
    client: httpx.AsyncClient, app: Starlette, db: Database, admin_token: str
) -> None:
    number = add_user(db, "ada")
    await lock_out(app, "ada")
    refused = await client.post(f"/admin/users/{number}/unlock", data={"csrf_token": "x"})
    assert refused.status_code == 401
    assert await sign_in(app, "ada") == 429


async def test_a_page_left_open_after_the_lock_ran_out_says_so(
    console: Console, db: Database
) -> None:
    number = add_user(db, "ada")
    done = await console.post(f"/admin/users/{number}/unlock")
    assert done.headers["location"] == f"/admin/users/{number}?done=not_locked"
    assert unlocks(db) == []


@pytest.mark.parametrize("number", ["999999", "abc"])
async def test_an_unknown_user_is_a_clear_404_page(console: Console, number: str) -> None:
    page = await console.get(f"/admin/users/{number}", status=404)
    assert "user_not_found" in page.text
    refused = await console.post(f"/admin/users/{number}/unlock")
    assert refused.status_code == 404
