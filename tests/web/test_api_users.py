"""``/api/v1/users`` (issue 5, point 7): create, list, show, change, disable and enable users,
their identities; audited; never a password hash; disabling refuses every sign-in method."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fedlogin.accounts import passwords, throttle
from fedlogin.store.database import Database
from fedlogin.store.tables import BrowserSession, User
from fedlogin.web.context import AppContext
from sqlmodel import select
from starlette.applications import Starlette

from tests.support.hostile_op import HostileOP
from tests.support.passwords import fast_passwords
from tests.support.sign_in import Browser, add_provider, csrf_token, outcome, password_sign_in

__all__ = ["fast_passwords"]
pytestmark = pytest.mark.usefixtures("fast_passwords")

USERS = "/api/v1/users"
ACTOR = "root (token tests)"
PASSWORD = "a long enough password"


async def create(admin: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    response = await admin.post(USERS, json=fields)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def audit(admin: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await admin.get("/api/v1/audit-log?target_type=user")
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


async def test_an_admin_creates_a_user_with_a_password_who_can_then_sign_in(
    admin: httpx.AsyncClient, app: Starlette, db: Database
) -> None:
    response = await admin.post(
        USERS,
        json={"username": "Ada", "email": "Ada@Example.org", "name": "Ada L", "password": PASSWORD},
    )
    assert response.status_code == 201
    user = response.json()
    assert response.headers["location"] == f"http://testserver{USERS}/{user['id']}"
    assert {k: user[k] for k in ("username", "email", "email_verified", "name", "disabled")} == {
        "username": "ada",
        "email": "ada@example.org",
        "email_verified": False,
        "name": "Ada L",
        "disabled": False,
    }
    assert user["has_password"] is True and user["identities"] == []
    assert "password_hash" not in user and "argon2" not in response.text
    assert PASSWORD not in response.text
    [entry] = await audit(admin)
    assert (entry["action"], entry["actor"], entry["target_id"]) == (
        "user.create",
        ACTOR,
        str(user["id"]),
    )
    assert entry["after"]["has_password"] is True and "argon2" not in str(entry)
    assert await password_sign_in(app, "ada", PASSWORD) == 303
    assert await password_sign_in(app, "ada@example.org", PASSWORD) == 303


async def test_a_user_without_a_password_cannot_sign_in_with_one(
    admin: httpx.AsyncClient, app: Starlette
) -> None:
    user = await create(admin, username="bob", email="bob@example.org", email_verified=True)
    assert user["has_password"] is False and user["email_verified"] is True
    assert await password_sign_in(app, "bob", PASSWORD) == 401


@pytest.mark.parametrize(
    ("body", "codes"),
    [
        ({}, {"username": "username_required"}),
        ({"username": "-ada"}, {"username": "invalid_username"}),
        ({"username": "ada@example.org"}, {"username": "invalid_username"}),
        ({"username": "ada", "email": "not an email"}, {"email": "invalid_email"}),
        ({"username": "ada", "password": "short"}, {"password": "password_too_short"}),
        (
            {"username": "adalovelace", "password": "AdaLovelace"},
            {"password": "password_is_login_name"},
        ),
        ({"username": "ada", "email_verified": True}, {"email_verified": "email_missing"}),
        ({"username": "ada", "email_verified": "yes"}, {"email_verified": "invalid_type"}),
        ({"username": "ada", "password_hash": "$argon2id$..."}, {"password_hash": "unknown_field"}),
        ({"username": "ada", "disabled": True}, {"disabled": "unknown_field"}),
    ],
)
async def test_invalid_fields_are_refused_with_their_codes(
    admin: httpx.AsyncClient, db: Database, body: dict[str, Any], codes: dict[str, str]
) -> None:
    response = await admin.post(USERS, json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field_codes"] == codes and set(error["fields"]) == set(codes)
    assert outcome(db).users == 0


async def test_a_taken_username_or_address_is_refused(admin: httpx.AsyncClient) -> None:
    await create(admin, username="ada", email="ada@example.org")
    response = await admin.post(USERS, json={"username": "ADA", "email": "Ada@example.org"})
    assert response.status_code == 422
    assert response.json()["error"]["field_codes"] == {
        "username": "username_taken",
        "email": "email_taken",
    }


async def test_bodies_that_are_not_json_objects_are_refused(admin: httpx.AsyncClient) -> None:
    assert (await admin.post(USERS, content=b"[1]", headers=_JSON)).status_code == 400
    assert (await admin.post(USERS, content=b"username=ada")).status_code == 415


_JSON = {"Content-Type": "application/json"}


async def test_the_list_is_newest_first_paged_and_filtered(admin: httpx.AsyncClient) -> None:
    for n in range(5):
        await create(admin, username=f"user-{n}", email=f"user{n}@example.org")
    await create(admin, username="zed", email="zed@corp.example", name="Zed Smith")
    page = (await admin.get(f"{USERS}?limit=4")).json()
    assert [u["username"] for u in page["users"]] == ["zed", "user-4", "user-3", "user-2"]
    rest = (await admin.get(f"{USERS}?limit=4&before={page['next_before']}")).json()
    assert [u["username"] for u in rest["users"]] == ["user-1", "user-0"]
    assert rest["next_before"] is None

    async def names(query: str) -> list[str]:
        response = await admin.get(f"{USERS}?{query}")
        assert response.status_code == 200, response.text
        return [u["username"] for u in response.json()["users"]]

    assert await names("q=SMITH") == ["zed"]
    assert await names("q=corp.example") == ["zed"]
    assert await names("q=user-_") == []  # LIKE wildcards are literal
    assert await names("q=%25") == []
    assert await names("email=USER3@example.org") == ["user-3"]
    await admin.post(f"{USERS}/{(await _id(admin, 'user-1'))}/disable")
    assert await names("disabled=true") == ["user-1"]
    assert "user-1" not in await names("disabled=false")


async def _id(admin: httpx.AsyncClient, username: str) -> int:
    users = (await admin.get(f"{USERS}?q={username}")).json()["users"]
    return int(next(u["id"] for u in users if u["username"] == username))


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=501", "before=x", "disabled=maybe", "colour=red", "q=" + "x" * 201],
)
async def test_bad_list_parameters_are_refused(admin: httpx.AsyncClient, query: str) -> None:
    response = await admin.get(f"{USERS}?{query}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] in {"invalid_parameter", "unknown_parameter"}


async def test_unknown_users_are_not_found(admin: httpx.AsyncClient) -> None:
    for path in ("/999", "/abc", "/999/identities", "/999/disable"):
        method = admin.post if path.endswith("disable") else admin.get
        response = await method(f"{USERS}{path}")
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "user_not_found"
    patched = await admin.patch(f"{USERS}/999", json={"name": "x"})
    assert patched.status_code == 404


async def test_the_api_needs_an_admin_token(client: httpx.AsyncClient) -> None:
    for method, path in (("GET", USERS), ("POST", USERS), ("GET", f"{USERS}/1/identities")):
        response = await client.request(method, path, json={"username": "x"})
        assert response.status_code == 401 and response.json()["error"]["code"] == "unauthenticated"


async def test_changing_the_email_unverifies_it_unless_said_otherwise(
    admin: httpx.AsyncClient,
) -> None:
    user = await create(admin, username="ada", email="ada@example.org", email_verified=True)
    path = f"{USERS}/{user['id']}"
    moved = (await admin.patch(path, json={"email": "ada@new.example"})).json()
    assert (moved["email"], moved["email_verified"]) == ("ada@new.example", False)
    vouched = (await admin.patch(path, json={"email_verified": True})).json()
    assert vouched["email_verified"] is True
    both = (await admin.patch(path, json={"email": "a@x.example", "email_verified": True})).json()
    assert (both["email"], both["email_verified"]) == ("a@x.example", True)
    cleared = (await admin.patch(path, json={"email": None})).json()
    assert (cleared["email"], cleared["email_verified"]) == (None, False)
    # What a read returned may be sent back as it is.
    assert (await admin.patch(path, json=cleared)).status_code == 200
    renamed = await admin.patch(path, json={"username": "eve"})
    assert renamed.status_code == 422
    assert renamed.json()["error"]["field_codes"] == {"username": "username_read_only"}
    entries = await audit(admin)
    assert entries[0]["action"] == "user.update"
    assert entries[-2]["before"] == {"email": "ada@example.org", "email_verified": True}
    assert entries[-2]["after"] == {"email": "ada@new.example", "email_verified": False}


async def test_another_users_address_cannot_be_taken(admin: httpx.AsyncClient) -> None:
    await create(admin, username="ada", email="ada@example.org")
    bob = await create(admin, username="bob")
    response = await admin.patch(f"{USERS}/{bob['id']}", json={"email": "ADA@example.org"})
    assert response.status_code == 422
    assert response.json()["error"]["field_codes"] == {"email": "email_taken"}


async def test_disabling_ends_sessions_and_refuses_password_sign_in(
    admin: httpx.AsyncClient, app: Starlette, db: Database
) -> None:
    user = await create(admin, username="ada", password=PASSWORD)
    browser = Browser(app, "http://testserver")
    try:
        page = await browser.login_page()
        form = {"csrf_token": csrf_token(page), "login": "ada", "password": PASSWORD}
        assert (await browser.client.post("/login", data=form)).status_code == 303
        assert outcome(db).sessions == 1
        disabled = await admin.post(f"{USERS}/{user['id']}/disable")
        assert disabled.status_code == 200 and disabled.json()["disabled"] is True
        assert outcome(db).sessions == 0
        assert (await browser.client.get("/account/security")).status_code == 303
        assert await password_sign_in(app, "ada", PASSWORD) == 403
        enabled = await admin.post(f"{USERS}/{user['id']}/enable")
        assert enabled.json()["disabled"] is False
        assert await password_sign_in(app, "ada", PASSWORD) == 303
    finally:
        await browser.aclose()
    actions = [e["action"] for e in await audit(admin)]
    assert actions == ["user.enable", "user.disable", "user.create"]


async def test_patch_disabled_ends_sessions_too(
    admin: httpx.AsyncClient, app: Starlette, db: Database
) -> None:
    user = await create(admin, username="ada", password=PASSWORD)
    assert await password_sign_in(app, "ada", PASSWORD) == 303
    response = await admin.patch(f"{USERS}/{user['id']}", json={"disabled": True})
    assert response.json()["disabled"] is True and outcome(db).sessions == 0


@pytest.fixture
def provider(context: AppContext, hostile_op: HostileOP) -> HostileOP:
    add_provider(
        context,
        identifier="hostile",
        issuer=hostile_op.issuer,
        client_id=hostile_op.client_id,
        client_secret=hostile_op.client_secret,
    )
    return hostile_op


async def federated_sign_in(app: Starlette, op: HostileOP) -> httpx.Response:
    browser = Browser(app, "http://testserver")
    try:
        started = await browser.click("hostile")
        return await browser.follow(op.follow_authorize(started.headers["location"]))
    finally:
        await browser.aclose()


async def test_identities_are_shown_with_the_user_and_on_their_own(
    admin: httpx.AsyncClient, app: Starlette, provider: HostileOP, db: Database
) -> None:
    assert (await federated_sign_in(app, provider)).status_code == 303
    [listed] = (await admin.get(USERS)).json()["users"]
    assert (listed["username"], listed["email"], listed["email_verified"]) == (
        "hostile.user",
        "hostile.user@example.com",
        True,
    )
    [identity] = listed["identities"]
    assert identity["provider"] == "hostile" and identity["provider_name"] == "Hostile"
    assert identity["email"] == "hostile.user@example.com"
    assert identity["subject"] == "hostile-user-1" and identity["issuer"] == provider.issuer
    assert identity["linked_at"] and identity["last_used_at"]
    shown = (await admin.get(f"{USERS}/{listed['id']}")).json()
    assert shown == listed
    alone = (await admin.get(f"{USERS}/{listed['id']}/identities")).json()
    assert alone == {"identities": [identity]}


async def test_a_disabled_user_cannot_sign_in_through_a_provider(
    admin: httpx.AsyncClient, app: Starlette, provider: HostileOP, db: Database
) -> None:
    assert (await federated_sign_in(app, provider)).status_code == 303
    with db.session() as session:
        user = session.exec(select(User)).one()
    await admin.post(f"{USERS}/{user.id}/disable")
    refused = await federated_sign_in(app, provider)
    assert refused.status_code == 403 and "Your account is disabled." in refused.text
    assert outcome(db).sessions == 0
    event = outcome(db).event
    assert event is not None and (event.outcome, event.code) == ("refused", "user_disabled")


async def test_no_response_ever_holds_a_password_hash(
    admin: httpx.AsyncClient, db: Database
) -> None:
    user = await create(admin, username="ada", password=PASSWORD)
    with db.session() as session:
        stored = session.exec(select(User)).one().password_hash
    assert stored is not None and passwords.verify_password(stored, PASSWORD)
    for path in ("", f"/{user['id']}", f"/{user['id']}/identities"):
        body = (await admin.get(f"{USERS}{path}")).text
        assert stored not in body and "argon2" not in body and "password_hash" not in body
    body = (await admin.post(f"{USERS}/{user['id']}/disable")).text
    assert "argon2" not in body
    with db.session() as session:
        assert session.exec(select(BrowserSession)).all() == []


# -- unlocking password sign-in -------------------------------------------------------------


async def lock_out(app: Starlette, login: str) -> None:
    """Wrong passwords until the name is locked: the next attempt, right or not, is refused."""
    for _ in range(throttle.ACCOUNT_LIMIT.max_failures):
        assert await password_sign_in(app, login, "not the password") == 401
    assert await password_sign_in(app, login, PASSWORD) == 429


async def test_an_admin_unlocks_a_user_locked_out_after_wrong_passwords(
    admin: httpx.AsyncClient, app: Starlette
) -> None:
    user = await create(admin, username="ada", email="ada@example.org", password=PASSWORD)
    assert user["sign_in_locked_until"] is None
    await lock_out(app, "ada")
    await lock_out(app, "ADA@example.org")  # the email address is a second name, locked too
    shown = (await admin.get(f"{USERS}/{user['id']}")).json()
    assert shown["sign_in_locked_until"] is not None
    listed = (await admin.get(USERS)).json()["users"]
    assert [u["sign_in_locked_until"] is not None for u in listed] == [True]

    unlocked = await admin.post(f"{USERS}/{user['id']}/unlock")
    assert unlocked.status_code == 200
    assert unlocked.json()["username"] == "ada"
    assert unlocked.json()["sign_in_locked_until"] is None
    assert await password_sign_in(app, "ada@example.org", PASSWORD) == 303
    await lock_out(app, "ada")
    assert (await admin.post(f"{USERS}/{user['id']}/unlock")).status_code == 200
    assert await password_sign_in(app, "ada", PASSWORD) == 303

    entries = [e for e in await audit(admin) if e["action"] == "user.unlock"]
    assert len(entries) == 2
    assert entries[0]["actor"] == ACTOR and entries[0]["target_id"] == str(user["id"])
    assert entries[0]["after"] == {"sign_in_locked_until": None}
    assert entries[0]["before"]["sign_in_locked_until"] is not None


async def test_unlocking_a_user_who_is_not_locked_changes_nothing(
    admin: httpx.AsyncClient,
) -> None:
    user = await create(admin, username="bob")
    answer = await admin.post(f"{USERS}/{user['id']}/unlock")
    assert answer.status_code == 200
    assert answer.json()["sign_in_locked_until"] is None
    assert not [e for e in await audit(admin) if e["action"] == "user.unlock"]


@pytest.mark.parametrize("number", ["999999", "abc"])
async def test_unlocking_an_unknown_user_is_a_404_with_a_stable_code(
    admin: httpx.AsyncClient, number: str
) -> None:
    answer = await admin.post(f"{USERS}/{number}/unlock")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "user_not_found"


async def test_only_an_admin_unlocks(client: httpx.AsyncClient, admin_token: str) -> None:
    answer = await client.post(f"{USERS}/1/unlock")
    assert answer.status_code == 401
