"""SECURITY.md's "Inputs from admins and the network" where no other suite proves them for
every route at once.

* Every form is CSRF-protected: each POST route of the site (the API aside) is posted the
  way a page on another site could, by a browser holding the cookies of the right person (a
  visitor, a signed-in user, a signed-in admin), with a forged token. Each is refused with
  403 and the database is left exactly as it was. The list of routes is read from the app,
  so a new form without a case here fails the suite.
* The admin API needs no CSRF token because a browser's cookies never make an admin there:
  only a bearer token does (a cross-site page cannot set the ``Authorization`` header).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from fedlogin.accounts import passwords, throttle
from fedlogin.accounts.identities import IdentityKey, link_identity
from fedlogin.store import admins
from fedlogin.store.brands import create_brand
from fedlogin.store.database import Database
from fedlogin.store.tables import IdentityProvider, User, metadata
from fedlogin.store.types import utcnow
from fedlogin.web.app import site_routes
from fedlogin.web.context import AppContext
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route

from tests.hostile.helpers import BASE_URL, IDENTIFIER, click
from tests.hostile.provider import SuiteOP
from tests.support.passwords import fast_passwords
from tests.support.sign_in import Browser, csrf_token

__all__ = ["fast_passwords"]
pytestmark = pytest.mark.usefixtures("fast_passwords")

PASSWORD = "ada's long password"
ADMIN_PASSWORD = "a long admin password"
FORGED = "0" * 64
#: The setup link's token is in its URL and is the form's CSRF protection (fedlogin.web.setup):
#: tests/web/test_setup.py posts unknown, used and expired links.
URL_TOKEN_FORMS = {"/setup/{token}"}


def post_routes(routes: list[BaseRoute], prefix: str = "") -> set[str]:
    """The paths of the site that take a POST (the API mount aside)."""
    found = set()
    for route in routes:
        if isinstance(route, Mount):
            if route.path != "/api/v1":
                found |= post_routes(route.routes, prefix + route.path)
        elif isinstance(route, Route) and "POST" in (route.methods or ()):
            found.add(prefix + route.path)
    return found


def dump(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table: what a refused form must leave exactly as it was."""
    with db.session() as session:
        return {
            table.name: sorted(
                (tuple(row) for row in session.execute(sa_select(table)).all()), key=repr
            )
            for table in metadata.sorted_tables
        }


class Site:
    """The app with a user ``ada`` (password, one connected identity), an admin ``root``, a
    brand and the suite's provider; browsers of a visitor, of ada and of root."""

    def __init__(self, app: Starlette, context: AppContext, op: SuiteOP) -> None:
        self.app = app
        self.db = context.database
        self.op = op
        self.browsers: list[Browser] = []
        with self.db.transaction() as session:
            user = User(
                username="ada",
                email="ada@example.org",
                email_verified=True,
                password_hash=passwords.hash_password(PASSWORD),
            )
            session.add(user)
            session.flush()
            assert user.id is not None
            self.user_id = user.id
            provider = session.exec(
                select(IdentityProvider).where(col(IdentityProvider.identifier) == IDENTIFIER)
            ).one()
            assert provider.id is not None
            key = IdentityKey(provider.id, op.issuer, "ada-at-hostile")
            self.identity_id = link_identity(session, user.id, key, email=None, now=utcnow()).id
            admins.create_admin(session, "root", ADMIN_PASSWORD, actor="test")
            self.brand_id = create_brand(
                session, {"name": "Acme", "hosts": ["login.acme.example"]}, actor="test"
            ).id

    def browser(self) -> Browser:
        opened = Browser(self.app, BASE_URL)
        self.browsers.append(opened)
        return opened

    async def visitor(self) -> Browser:
        """Has seen the login page (so holds the browser cookie its forms are checked with)."""
        visitor = self.browser()
        assert (await visitor.login_page()).status_code == 200
        return visitor

    async def user(self) -> Browser:
        ada = await self.visitor()
        form = {"csrf_token": csrf_token(await ada.login_page()), "login": "ada"}
        signed_in = await ada.client.post("/login", data={**form, "password": PASSWORD})
        assert signed_in.status_code == 303, signed_in.text
        assert (await ada.client.get("/account/security")).status_code == 200
        return ada

    async def admin(self) -> Browser:
        root = self.browser()
        page = await root.client.get("/admin/login")
        form = {"csrf_token": csrf_token(page), "username": "root", "password": ADMIN_PASSWORD}
        signed_in = await root.client.post("/admin/login", data=form)
        assert signed_in.status_code == 303, signed_in.text
        assert (await root.client.get("/admin/identity-providers")).status_code == 200
        return root

    async def waiting(self) -> tuple[Browser, str]:
        """A visitor whose sign-in waits for an email code; the waiting page's handle."""
        visitor = await self.visitor()
        self.op.claims["email_verified"] = False  # so the address must be proven first
        callback = self.op.follow_authorize(await click(visitor))
        waiting = await visitor.follow(callback)
        location = waiting.headers.get("location", "")
        assert waiting.status_code == 303 and location.startswith("/verify-email/"), waiting.text
        assert (await visitor.client.get(location)).status_code == 200
        return visitor, location.removeprefix("/verify-email/")

    async def aclose(self) -> None:
        for opened in self.browsers:
            await opened.aclose()


@pytest.fixture
async def site(app: Starlette, context: AppContext, provider: SuiteOP) -> AsyncIterator[Site]:
    opened = Site(app, context, provider)
    yield opened
    await opened.aclose()


Prepared = tuple[Browser, str]
#: path template -> who posts it (their browser) and the path to post.
CASES: dict[str, Callable[[Site], Awaitable[Prepared]]] = {}


def case(template: str) -> Callable[[Callable[[Site], Awaitable[Prepared]]], Any]:
    def register(prepare: Callable[[Site], Awaitable[Prepared]]) -> Any:
        CASES[template] = prepare
        return prepare

    return register


@case("/login/{identifier}")
async def _start_sign_in(site: Site) -> Prepared:
    return await site.visitor(), f"/login/{IDENTIFIER}"


@case("/login")
async def _password_sign_in(site: Site) -> Prepared:
    return await site.visitor(), "/login"


@case("/logout")
async def _logout(site: Site) -> Prepared:
    return await site.user(), "/logout"


@case("/verify-email/{handle}")
async def _submit_code(site: Site) -> Prepared:
    visitor, handle = await site.waiting()
    return visitor, f"/verify-email/{handle}"


@case("/verify-email/{handle}/resend")
async def _resend_code(site: Site) -> Prepared:
    visitor, handle = await site.waiting()
    return visitor, f"/verify-email/{handle}/resend"


@case("/account/security/password")
async def _set_password(site: Site) -> Prepared:
    return await site.user(), "/account/security/password"


@case("/account/security/sign-out-everywhere")
async def _sign_out_everywhere(site: Site) -> Prepared:
    return await site.user(), "/account/security/sign-out-everywhere"


@case("/account/security/link/{identifier}")
async def _link(site: Site) -> Prepared:
    return await site.user(), f"/account/security/link/{IDENTIFIER}"


@case("/account/security/identities/{identity_id:int}/unlink")
async def _unlink(site: Site) -> Prepared:
    return await site.user(), f"/account/security/identities/{site.identity_id}/unlink"


@case("/admin/login")
async def _admin_sign_in(site: Site) -> Prepared:
    visitor = site.browser()
    assert (await visitor.client.get("/admin/login")).status_code == 200
    return visitor, "/admin/login"


@case("/admin/users/{id}/unlock")
async def _unlock_user(site: Site) -> Prepared:
    root = await site.admin()
    # ada locked out, so that the form, were it accepted, would change the database.
    with site.db.transaction() as session:
        for _ in range(throttle.ACCOUNT_LIMIT.max_failures):
            throttle.attempt(session, [throttle.account_bucket("ada")], utcnow())
    return root, f"/admin/users/{site.user_id}/unlock"


def _console(path: str) -> Callable[[Site], Awaitable[Prepared]]:
    async def prepare(site: Site) -> Prepared:
        return await site.admin(), path.format(identifier=IDENTIFIER, id=site.brand_id)

    return prepare


for _template in (
    "/admin/logout",
    "/admin/identity-providers/new",
    "/admin/identity-providers/{identifier}/edit",
    "/admin/identity-providers/{identifier}/enable",
    "/admin/identity-providers/{identifier}/disable",
    "/admin/identity-providers/{identifier}/delete",
    "/admin/settings/accounts",
    "/admin/brands/new",
    "/admin/brands/{id}",
    "/admin/brands/{id}/delete",
):
    case(_template)(_console(_template))


def test_every_form_of_the_site_has_a_case() -> None:
    assert post_routes(site_routes()) == set(CASES) | URL_TOKEN_FORMS


@pytest.mark.parametrize("template", sorted(CASES))
@pytest.mark.parametrize("token", ["forged", "missing"])
async def test_every_form_refuses_a_post_without_its_csrf_token(
    site: Site, db: Database, template: str, token: str
) -> None:
    browser, path = await CASES[template](site)
    before = dump(db)
    form = {"csrf_token": FORGED} if token == "forged" else {}
    # What the form would change, had it come from our page.
    form |= {"login": "ada", "password": PASSWORD, "new_password": "x" * 20, "code": "000000"}
    response = await browser.client.post(path, data=form)
    assert response.status_code == 403, (path, response.status_code, response.text[:600])
    assert "did not come from" in response.text  # the CSRF refusal, not another one
    assert "Traceback" not in response.text
    assert dump(db) == before, f"{path}: a refused form changed the database"


async def test_the_admin_api_takes_no_browser_cookie_for_an_admin(site: Site, db: Database) -> None:
    root = await site.admin()
    admin_session = root.cookie("fedlogin_admin")
    assert admin_session
    # Even sent to the API (the console's cookie is scoped to /admin), it makes nobody an
    # admin there: a page on another site can make the browser send cookies, not a token.
    api = httpx.AsyncClient(transport=httpx.ASGITransport(app=site.app), base_url=BASE_URL)
    api.cookies.set("fedlogin_admin", admin_session)
    api.cookies.set("fedlogin_session", admin_session)
    before = dump(db)
    try:
        calls = [
            await api.post(
                "/api/v1/identity-providers/hostile/disable",
                headers={"Origin": "https://evil.example"},
            ),
            await api.patch("/api/v1/settings/accounts", json={"federated_login_enabled": False}),
            await api.post("/api/v1/users", json={"username": "mallory"}),
        ]
    finally:
        await api.aclose()
    for response in calls:
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "unauthenticated"
    assert dump(db) == before
