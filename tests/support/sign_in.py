"""Drive fedlogin's own sign-in like a browser: login page, button, callback, account.

``Browser`` wraps one ``httpx.AsyncClient`` over the app's ASGI transport (one cookie jar, as
a browser has). ``add_provider`` configures a provider the way an admin would (the store's
services) and offers it on the login page. ``Outcome`` reads what a sign-in left behind:
users, identity links, sessions and the last sign-in event. The hostile-provider suite and the
end-to-end tests share these.
"""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from fedlogin.store.database import Database
from fedlogin.store.providers import IdentityProviders
from fedlogin.store.settings import update_settings
from fedlogin.store.tables import BrowserSession, FederatedIdentity, SignInEvent, User
from fedlogin.web.context import AppContext
from sqlmodel import col, func, select
from starlette.types import ASGIApp

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """A browser on the relying party (in-process ASGI), with one cookie jar."""

    def __init__(self, app: ASGIApp, base_url: str) -> None:
        self.base_url = base_url
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=base_url, follow_redirects=False
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def login_page(self, next_url: str | None = None) -> httpx.Response:
        params = {"next": next_url} if next_url else None
        return await self.client.get("/login", params=params)

    async def click(
        self, identifier: str, *, next_url: str | None = None, csrf: str | None = None
    ) -> httpx.Response:
        """Press the provider's button on the login page (fetched first, as a person would)."""
        if csrf is None:
            csrf = csrf_token(await self.login_page())
        form = {"csrf_token": csrf}
        if next_url is not None:
            form["next"] = next_url
        return await self.client.post(f"/login/{identifier}", data=form)

    async def follow(self, url: str) -> httpx.Response:
        """Open a URL of the relying party (the provider's redirect back, say)."""
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        return await self.client.get(target)

    def cookie(self, name: str) -> str | None:
        return self.client.cookies.get(name)


@asynccontextmanager
async def browsers_from_addresses() -> AsyncIterator[Callable[[ASGIApp, str], httpx.AsyncClient]]:
    """``open(app, address)``: a browser (its own cookie jar) on ``app`` whose requests come
    from ``address``, as a proxy or a client far away would send them; all closed at the end."""
    opened: list[httpx.AsyncClient] = []

    def open_(app: ASGIApp, address: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(address, 50000))
        browser = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        opened.append(browser)
        return browser

    try:
        yield open_
    finally:
        for browser in opened:
            await browser.aclose()


def csrf_token(page: httpx.Response) -> str:
    match = _CSRF.search(page.text)
    assert match, f"no CSRF token on the page: {page.text[:300]}"
    return html.unescape(match.group(1))


def add_provider(
    ctx: AppContext,
    *,
    identifier: str,
    issuer: str,
    client_id: str,
    client_secret: str | None,
    auth_method: str = "client_secret_post",
    offered: Sequence[str] | None = None,
    **fields: Any,
) -> None:
    """Create a generic OIDC provider at ``issuer`` and offer ``offered`` (default: it)."""
    data = {
        "identifier": identifier,
        "name": identifier.replace("-", " ").title(),
        "preset": "generic-oidc",
        "domain": issuer,
        "client_id": client_id,
        "client_secret": client_secret,
        "auth_method": auth_method,
        **fields,
    }
    with ctx.database.transaction() as session:
        IdentityProviders(session, ctx.plugins, ctx.secrets, actor="test").create(data)
        update_settings(
            session,
            {
                "federated_login_enabled": True,
                "identity_providers": list(offered if offered is not None else [identifier]),
            },
            actor="test",
        )


@dataclass
class Outcome:
    """What the database holds after a sign-in attempt."""

    users: int
    identities: int
    sessions: int
    event: SignInEvent | None

    @property
    def nothing_created(self) -> bool:
        return (self.users, self.identities, self.sessions) == (0, 0, 0)


def outcome(database: Database) -> Outcome:
    with database.session() as session:

        def count(table: Any) -> int:
            return int(session.exec(select(func.count()).select_from(table)).one())

        event = session.exec(select(SignInEvent).order_by(col(SignInEvent.id).desc())).first()
        return Outcome(count(User), count(FederatedIdentity), count(BrowserSession), event)


async def password_sign_in(app: ASGIApp, login: str, password: str) -> int:
    """A new browser fills in the login page's password form; the answer's status code."""
    browser = Browser(app, "http://testserver")
    try:
        page = await browser.login_page()
        form = {"csrf_token": csrf_token(page), "login": login, "password": password}
        return (await browser.client.post("/login", data=form)).status_code
    finally:
        await browser.aclose()
