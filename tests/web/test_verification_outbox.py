"""Without an SMTP server, verification emails wait in the outbox: admins read them through
``GET /api/v1/outbox``, the waiting page says so, and the code from there works."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fedlogin.store.database import Database
from fedlogin.web.context import AppContext
from starlette.applications import Starlette

from tests.support.hostile_op import HostileOP
from tests.support.sign_in import Browser, add_provider, csrf_token, outcome

BASE_URL = "http://testserver"
EMAIL = "hostile.user@example.com"


@pytest.fixture
async def browser(app: Starlette, context: AppContext) -> AsyncIterator[Browser]:
    browser = Browser(app, BASE_URL)
    yield browser
    await browser.aclose()


@pytest.fixture
def provider(context: AppContext, hostile_op: HostileOP) -> HostileOP:
    hostile_op.claims["email_verified"] = False
    add_provider(
        context,
        identifier="hostile",
        issuer=hostile_op.issuer,
        client_id=hostile_op.client_id,
        client_secret=hostile_op.client_secret,
    )
    return hostile_op


async def start_waiting(browser: Browser, op: HostileOP) -> str:
    started = await browser.click("hostile")
    back = await browser.follow(op.follow_authorize(started.headers["location"]))
    assert back.status_code == 303 and back.headers["location"].startswith("/verify-email/")
    return str(back.headers["location"])


async def test_the_email_waits_in_the_outbox_where_an_admin_reads_it(
    browser: Browser, provider: HostileOP, admin: httpx.AsyncClient, db: Database
) -> None:
    waiting = await start_waiting(browser, provider)
    page = await browser.client.get(waiting)
    assert "no mail server configured" in page.text and "outbox" in page.text

    listed = await admin.get("/api/v1/outbox")
    assert listed.status_code == 200
    [message] = listed.json()["messages"]
    assert (message["kind"], message["to"], message["status"]) == ("verification", EMAIL, "queued")
    assert message["attempts"] == 0 and message["sent_at"] is None
    code = re.search(r"verification code is: (\d{6})", message["body"])
    assert code is not None and code.group(1) in message["subject"]
    assert (await admin.get("/api/v1/outbox", params={"to": "HOSTILE.user@example.com"})).json()[
        "messages"
    ] == [message]
    assert (await admin.get("/api/v1/outbox", params={"kind": "identity_linked"})).json()[
        "messages"
    ] == []

    done = await browser.client.post(
        waiting, data={"csrf_token": csrf_token(page), "code": code.group(1)}
    )
    assert done.status_code == 303 and outcome(db).users == 1


async def test_the_outbox_is_for_admins_only_and_checks_its_parameters(
    client: httpx.AsyncClient, admin_token: str
) -> None:
    assert (await client.get("/api/v1/outbox")).status_code == 401
    headers = {"Authorization": f"Bearer {admin_token}"}
    for params, code in [
        ({"kind": "newsletter"}, "invalid_parameter"),
        ({"limit": "0"}, "invalid_parameter"),
        ({"status": "sent"}, "unknown_parameter"),
    ]:
        answer = await client.get("/api/v1/outbox", params=params, headers=headers)
        assert answer.status_code == 400 and answer.json()["error"]["code"] == code
    page = await client.get("/api/v1/outbox", headers=headers)
    assert page.json() == {"messages": [], "next_before": None}
