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
PAGE_SIZE = 50  # the console's users per page (fedlogin.web.console.users)
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


def listed(page: httpx.Response) -> list[str]:
    return re.findall(r'<tr data-user="([\w-]+)">', page.text)


def older_link(page: httpx.Response) -> str | None:
    found = re.search(r'<a href="(\?[^"]*before=\d+)">Older users</a>', page.text)
    return found.group(1).replace("&amp;", "&") if found else None


async def test_the_users_page_pages_through_every_user_newest_first(
    console: Console, db: Database
) -> None:
    for n in range(PAGE_SIZE + 5):
        add_user(db, f"user-{n:03d}", f"user{n}@example.org" if n % 2 else None)

    first = await console.get("/admin/users")
    assert listed(first) == [f"user-{n:03d}" for n in reversed(range(5, PAGE_SIZE + 5))]
    assert ">Newest</a>" not in first.text
    link = older_link(first)
    assert link is not None

    second = await console.get(f"/admin/users{link}")
    assert listed(second) == [f"user-{n:03d}" for n in reversed(range(5))]
    assert older_link(second) is None and '<a href="?">Newest</a>' in second.text

    # A search keeps its words from page to page.
    odd = await console.get("/admin/users?q=example.org")
    assert len(listed(odd)) == (PAGE_SIZE + 5) // 2
    assert older_link(odd) is None  # 27 matches: one page

    # A cursor past the oldest user says so and links back; a bad one is the newest page.
    oldest = await console.get("/admin/users?before=1")
    assert listed(oldest) == [] and "No older users" in oldest.text
    bogus = await console.get("/admin/users?before=x1")
    assert listed(bogus) == listed(first)


async def test_a_search_keeps_its_words_in_the_older_link(console: Console, db: Database) -> None:
    for n in range(PAGE_SIZE + 1):
        add_user(db, f"match-{n:03d}")
    add_user(db, "other")

    page = await console.get("/admin/users?q=match")
    link = older_link(page)
    assert link is not None and link.startswith("?q=match&before=")
    rest = await console.get(f"/admin/users{link}")
    assert listed(rest) == ["match-000"]
