"""Behind a reverse proxy: forwarding headers count only from the proxies the operator trusts.

Driven through the app exactly as ``fedlogin serve`` runs it (:func:`serving_app`: the
access log behind the trusted-proxy headers), with the connection's peer set in the ASGI
scope. A client that sends ``X-Forwarded-For`` itself must neither pick the address the
password limits count nor the one the access log shows; ``X-Forwarded-Proto`` from a
trusted proxy makes cookies ``Secure`` and absolute URLs https.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Awaitable, Callable

import attrs
import httpx
import pytest
from fedlogin.accounts import throttle
from fedlogin.cli.serve import serving_app
from fedlogin.store.database import Database
from fedlogin.store.tables import SignInThrottle
from fedlogin.web.context import AppContext
from sqlmodel import col, select
from starlette.types import ASGIApp

from tests.support.passwords import fast_passwords
from tests.support.sign_in import browsers_from_addresses, csrf_token

__all__ = ["fast_passwords"]
pytestmark = pytest.mark.usefixtures("fast_passwords")

PROXY = "10.0.0.5"
CLIENT = "198.51.100.7"
SPOOFED = "192.0.2.99"
Opener = Callable[..., Awaitable[httpx.AsyncClient]]


@attrs.define
class Served:
    app: ASGIApp
    log: io.StringIO


@pytest.fixture
def serve(context: AppContext) -> Callable[..., Served]:
    """The app as ``serve`` runs it, trusting ``trusted`` (a tuple as in the config)."""

    def make(trusted: tuple[str, ...] = ()) -> Served:
        log = io.StringIO()
        context.config = attrs.evolve(context.config, forwarded_allow_ips=trusted)
        return Served(serving_app(context, log), log)

    return make


@pytest.fixture
async def open_browser(context: AppContext) -> AsyncIterator[Opener]:
    async with browsers_from_addresses() as open_at:

        async def open_(served: Served, peer: str) -> httpx.AsyncClient:
            return open_at(served.app, peer)

        yield open_
    await context.close()


async def fail_sign_in(
    browser: httpx.AsyncClient, headers: dict[str, str], login: str = "nobody"
) -> httpx.Response:
    page = await browser.get("/login", headers=headers)
    return await browser.post(
        "/login",
        data={"csrf_token": csrf_token(page), "login": login, "password": "wrong password"},
        headers=headers,
    )


def address_buckets(db: Database) -> set[str]:
    with db.session() as session:
        rows = session.exec(
            select(SignInThrottle.key_hash).where(
                col(SignInThrottle.scope) == throttle.ADDRESS_LIMIT.scope
            )
        ).all()
    return set(rows)


def bucket_of(address: str) -> str:
    return throttle.address_bucket(address).key_hash


@pytest.mark.parametrize("trusted", [(), ("10.9.0.0/16",), ("127.0.0.1", "::1")])
async def test_a_spoofed_forwarded_for_from_an_untrusted_peer_changes_nothing(
    serve: Callable[..., Served], open_browser: Opener, db: Database, trusted: tuple[str, ...]
) -> None:
    served = serve(trusted)
    browser = await open_browser(served, PROXY)
    refused = await fail_sign_in(browser, {"X-Forwarded-For": SPOOFED})
    assert refused.status_code == 401
    assert address_buckets(db) == {bucket_of(PROXY)}
    assert SPOOFED not in served.log.getvalue()
    assert f"INFO:     {PROXY}:50000 - " in served.log.getvalue()


async def test_the_limiter_counts_the_peer_however_the_spoofed_header_changes(
    serve: Callable[..., Served], open_browser: Opener
) -> None:
    browser = await open_browser(serve(), PROXY)
    for n in range(throttle.ADDRESS_LIMIT.max_failures):
        refused = await fail_sign_in(browser, {"X-Forwarded-For": f"192.0.2.{n}"}, f"name{n}")
        assert refused.status_code == 401
    blocked = await fail_sign_in(browser, {"X-Forwarded-For": "192.0.2.200"}, "another")
    assert blocked.status_code == 429
    assert "from your network address" in blocked.text


@pytest.mark.parametrize("trusted", [(PROXY,), ("10.0.0.0/8",), ("*",)])
async def test_a_trusted_proxy_forwards_the_client_address(
    serve: Callable[..., Served], open_browser: Opener, db: Database, trusted: tuple[str, ...]
) -> None:
    served = serve(trusted)
    browser = await open_browser(served, PROXY)
    # What a client wrote itself stays on the left; the proxy appended the real peer.
    refused = await fail_sign_in(browser, {"X-Forwarded-For": f"{SPOOFED}, {CLIENT}"})
    assert refused.status_code == 401
    expected = SPOOFED if trusted == ("*",) else CLIENT  # '*' trusts every hop, as uvicorn
    assert address_buckets(db) == {bucket_of(expected)}
    assert f"INFO:     {expected}:0 - " in served.log.getvalue()


async def test_each_client_behind_a_trusted_proxy_has_its_own_limit(
    serve: Callable[..., Served], open_browser: Opener
) -> None:
    browser = await open_browser(serve((PROXY,)), PROXY)
    for n in range(throttle.ADDRESS_LIMIT.max_failures):
        headers = {"X-Forwarded-For": CLIENT}
        assert (await fail_sign_in(browser, headers, f"name{n}")).status_code == 401
    assert (await fail_sign_in(browser, {"X-Forwarded-For": CLIENT}, "x")).status_code == 429
    other = await fail_sign_in(browser, {"X-Forwarded-For": "198.51.100.8"}, "y")
    assert other.status_code == 401


async def test_an_ipv4_proxy_is_trusted_when_it_connects_over_a_dual_stack_socket(
    serve: Callable[..., Served], open_browser: Opener, db: Database
) -> None:
    browser = await open_browser(serve(("10.0.0.0/8",)), f"::ffff:{PROXY}")
    await fail_sign_in(browser, {"X-Forwarded-For": CLIENT})
    assert address_buckets(db) == {bucket_of(CLIENT)}


def secure(response: httpx.Response) -> bool:
    cookies = response.headers.get_list("set-cookie")
    assert cookies, response.headers
    return all("; secure" in cookie.lower() for cookie in cookies)


async def test_forwarded_https_from_a_trusted_proxy_makes_cookies_secure(
    serve: Callable[..., Served], open_browser: Opener
) -> None:
    served = serve((PROXY,))
    trusted = await open_browser(served, PROXY)
    assert secure(await trusted.get("/login", headers={"X-Forwarded-Proto": "https"}))
    plain = await open_browser(served, PROXY)
    assert not secure(await plain.get("/login", headers={"X-Forwarded-Proto": "http"}))
    stranger = await open_browser(served, "203.0.113.1")
    assert not secure(await stranger.get("/login", headers={"X-Forwarded-Proto": "https"}))


async def test_forwarded_https_from_a_trusted_proxy_makes_absolute_urls_https(
    serve: Callable[..., Served], open_browser: Opener, admin_token: str
) -> None:
    served = serve((PROXY,))
    auth = {"Authorization": f"Bearer {admin_token}", "X-Forwarded-Proto": "https"}
    locations = []
    for peer, name in ((PROXY, "ada"), ("203.0.113.1", "bob")):
        browser = await open_browser(served, peer)
        created = await browser.post("/api/v1/users", json={"username": name}, headers=auth)
        assert created.status_code == 201, created.text
        locations.append(created.headers["location"])
    assert locations[0].startswith("https://testserver/api/v1/users/")
    assert locations[1].startswith("http://testserver/api/v1/users/")
