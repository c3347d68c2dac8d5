"""Posted forms are read within a cap (``fedlogin.web.forms``): an oversized body is refused
while it is read, with a clear page, and nothing is stored; ordinary forms read as before."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fedlogin.store.tables import PendingFlow
from fedlogin.web.context import AppContext
from fedlogin.web.forms import MAX_FORM_BYTES, MAX_FORM_FIELDS
from sqlmodel import func, select

from tests.support.hostile_op import HostileOP
from tests.support.sign_in import add_provider, csrf_token


@pytest.fixture
def provider(context: AppContext, hostile_op: HostileOP) -> str:
    add_provider(
        context,
        identifier="corp",
        issuer=hostile_op.issuer,
        client_id=hostile_op.client_id,
        client_secret=hostile_op.client_secret,
    )
    return "corp"


def pending_flows(context: AppContext) -> int:
    with context.database.session() as session:
        return session.exec(select(func.count()).select_from(PendingFlow)).one()


async def chunks(total: int, size: int = 16 * 1024) -> AsyncIterator[bytes]:
    """A body without Content-Length (chunked), as a client that hides its size sends it."""
    sent = 0
    yield b"csrf_token=x&next="
    while sent < total:
        yield b"a" * size
        sent += size


def assert_refused_as_too_large(response: httpx.Response) -> None:
    assert response.status_code == 413
    assert "form_too_large" in response.text
    assert "larger than any form of this site" in response.text


async def test_an_oversized_body_without_a_length_is_refused_while_read(
    client: httpx.AsyncClient, context: AppContext, provider: str
) -> None:
    read: list[int] = []

    async def counted() -> AsyncIterator[bytes]:
        async for chunk in chunks(50 * MAX_FORM_BYTES):
            read.append(len(chunk))
            yield chunk

    response = await client.post(
        f"/login/{provider}",
        content=counted(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_refused_as_too_large(response)
    assert pending_flows(context) == 0
    # Reading stopped at the cap, not at the end of the 3 MiB the client had to send.
    assert sum(read) < 2 * MAX_FORM_BYTES


async def test_an_announced_oversized_body_is_refused_unread(
    client: httpx.AsyncClient, context: AppContext, provider: str
) -> None:
    body = b"csrf_token=x&next=" + b"a" * MAX_FORM_BYTES
    response = await client.post(
        f"/login/{provider}",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_refused_as_too_large(response)
    assert pending_flows(context) == 0


async def test_too_many_fields_are_refused(
    client: httpx.AsyncClient, context: AppContext, provider: str
) -> None:
    fields = {f"f{n}": "x" for n in range(MAX_FORM_FIELDS + 1)}
    response = await client.post(f"/login/{provider}", data=fields)
    assert_refused_as_too_large(response)
    assert pending_flows(context) == 0


async def test_the_sign_in_button_form_still_starts_a_flow(
    client: httpx.AsyncClient, context: AppContext, provider: str, hostile_op: HostileOP
) -> None:
    page = await client.get("/login")
    next_url = "/account?tab=security&name=Zoë+Ørsted"
    response = await client.post(
        f"/login/{provider}", data={"csrf_token": csrf_token(page), "next": next_url}
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith(hostile_op.issuer)
    with context.database.session() as session:
        flow = session.exec(select(PendingFlow)).one()
    assert flow.next_url == next_url  # decoded as UTF-8, "+" a plus sign inside the value
    await context.close()


async def test_a_file_in_a_form_is_refused(
    client: httpx.AsyncClient, context: AppContext, provider: str
) -> None:
    page = await client.get("/login")
    response = await client.post(
        f"/login/{provider}",
        data={"csrf_token": csrf_token(page)},
        files={"upload": ("a.txt", b"hello", "text/plain")},
    )
    assert response.status_code == 400
    assert pending_flows(context) == 0
