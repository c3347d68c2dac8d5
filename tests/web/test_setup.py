"""The one-time setup link: it creates the first admin once, and explains itself otherwise.

Runs on SQLite and PostgreSQL (the ``db`` fixture), through the real app.
"""

from __future__ import annotations

import asyncio
import html
import re
from datetime import timedelta

import httpx
import pytest
from fedlogin.store import admins, setup_tokens
from fedlogin.store.database import Database
from fedlogin.store.tables import AdminUser, ApiToken, AuditEntry, SetupToken
from fedlogin.store.types import utcnow
from sqlmodel import select

PASSWORD = "correct horse battery"
TOKEN_RE = re.compile(r'<code id="api-token">(fl_[A-Za-z0-9_-]+)</code>')


def issue(db: Database, ttl: timedelta = setup_tokens.SETUP_TOKEN_TTL) -> str:
    with db.transaction() as session:
        return setup_tokens.issue(session, ttl=ttl)


def form(username: str = "Root", password: str = PASSWORD, confirm: str | None = None) -> dict:
    return {
        "username": username,
        "password": password,
        "password_confirm": password if confirm is None else confirm,
    }


def admin_names(db: Database) -> list[str]:
    with db.session() as session:
        return list(session.exec(select(AdminUser.username)).all())


def assert_private(response: httpx.Response) -> None:
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_a_valid_link_shows_the_form_and_is_never_cached(
    client: httpx.AsyncClient, db: Database
) -> None:
    token = issue(db)
    response = await client.get(f"/setup/{token}")
    assert response.status_code == 200
    assert '<form method="post"' in response.text
    assert 'name="password_confirm"' in response.text
    assert_private(response)


async def test_the_form_creates_the_admin_and_shows_a_working_api_token_once(
    client: httpx.AsyncClient, db: Database
) -> None:
    token = issue(db)
    response = await client.post(f"/setup/{token}", data=form())
    assert response.status_code == 200, response.text
    assert_private(response)
    assert admin_names(db) == ["root"]
    match = TOKEN_RE.search(response.text)
    assert match, response.text
    api_token = match.group(1)
    curl = f'curl -H "Authorization: Bearer {api_token}" http://testserver/api/v1/presets'
    assert curl in html.unescape(response.text)
    assert PASSWORD not in response.text

    presets = await client.get("/api/v1/presets", headers={"Authorization": f"Bearer {api_token}"})
    assert presets.status_code == 200
    assert "google" in {preset["name"] for preset in presets.json()["presets"]}

    again = await client.get(f"/setup/{token}")
    assert again.status_code == 409
    assert "An admin exists already" in again.text
    assert "fedlogin admin create" in again.text
    assert_private(again)


async def test_the_api_stays_closed_while_no_admin_exists(
    client: httpx.AsyncClient, db: Database
) -> None:
    issue(db)
    response = await client.get("/api/v1/presets")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (form(password="too short"), "password", "at least 12 characters"),
        (form(username="no spaces please"), "username", "Username may contain"),
        (form(username=""), "username", "Username"),
        (form(confirm="another long password"), "password_confirm", "The two passwords differ"),
    ],
)
async def test_field_errors_keep_the_username_but_never_the_passwords_and_the_link_works_on(
    client: httpx.AsyncClient, db: Database, fields: dict, field: str, message: str
) -> None:
    token = issue(db)
    response = await client.post(f"/setup/{token}", data=fields)
    assert response.status_code == 422
    assert_private(response)
    error = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', response.text)
    assert error, response.text
    assert message in error.group(1)
    assert f'value="{fields["username"]}"' in response.text
    assert fields["password"] not in response.text
    assert admin_names(db) == []
    # Nothing was used up: the corrected form goes through.
    retry = await client.post(f"/setup/{token}", data=form())
    assert retry.status_code == 200
    assert admin_names(db) == ["root"]


async def test_an_unknown_link_is_refused_with_a_clear_page(
    client: httpx.AsyncClient, db: Database
) -> None:
    issue(db)
    for method in ("GET", "POST"):
        response = await client.request(method, "/setup/not-the-token", data=form())
        assert response.status_code == 404
        assert 'data-state="unknown"' in response.text
        assert "Restart `fedlogin serve`" in response.text
        assert_private(response)
    assert admin_names(db) == []


async def test_a_used_link_stays_used(client: httpx.AsyncClient, db: Database) -> None:
    token = issue(db)
    with db.transaction() as session:
        row = session.exec(select(SetupToken)).one()
        row.used_at = utcnow()
        session.add(row)
    response = await client.post(f"/setup/{token}", data=form())
    assert response.status_code == 410
    assert "was used already" in response.text
    assert admin_names(db) == []


async def test_an_expired_link_is_refused(client: httpx.AsyncClient, db: Database) -> None:
    token = issue(db, ttl=timedelta(seconds=-1))
    shown = await client.get(f"/setup/{token}")
    assert shown.status_code == 410
    assert 'data-state="expired"' in shown.text
    posted = await client.post(f"/setup/{token}", data=form())
    assert posted.status_code == 410
    assert admin_names(db) == []


async def test_a_new_link_replaces_the_earlier_unused_one(
    client: httpx.AsyncClient, db: Database
) -> None:
    first = issue(db)
    second = issue(db)
    assert (await client.get(f"/setup/{first}")).status_code == 410
    assert (await client.get(f"/setup/{second}")).status_code == 200


async def test_an_existing_admin_closes_every_link(client: httpx.AsyncClient, db: Database) -> None:
    token = issue(db)
    with db.transaction() as session:
        admins.create_admin(session, "existing", PASSWORD, actor="test")
    response = await client.post(f"/setup/{token}", data=form(username="intruder"))
    assert response.status_code == 409
    assert 'data-state="admin_exists"' in response.text
    assert admin_names(db) == ["existing"]


async def test_two_concurrent_submissions_create_one_admin(
    client: httpx.AsyncClient, db: Database
) -> None:
    token = issue(db)
    responses = await asyncio.gather(
        *(client.post(f"/setup/{token}", data=form(username=f"admin{n}")) for n in range(4))
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses.count(200) == 1, statuses
    assert all(status in (409, 410) for status in statuses if status != 200)
    assert len(admin_names(db)) == 1
    with db.session() as session:
        assert len(session.exec(select(ApiToken)).all()) == 1


async def test_the_setup_is_recorded_in_the_audit_log_without_the_password(
    client: httpx.AsyncClient, db: Database
) -> None:
    token = issue(db)
    assert (await client.post(f"/setup/{token}", data=form())).status_code == 200
    with db.session() as session:
        entries = session.exec(select(AuditEntry)).all()
    created = [entry for entry in entries if entry.action == "admin_user.create"]
    assert [entry.actor for entry in created] == [setup_tokens.SETUP_ACTOR]
    assert all(PASSWORD not in repr(entry) for entry in entries)
