"""Console fixtures: the admin ``root`` (from ``admin_token``) signed in to the admin console
through its own sign-in form, driven in-process like the other web tests (SQLite and
PostgreSQL)."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import pytest

ADMIN = "root"
ADMIN_PASSWORD = "a long admin password"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')

FormValues = Mapping[str, str | Sequence[str]]


class Console:
    """A browser on the admin console: one cookie jar, the CSRF token of the last page."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.csrf = ""

    async def sign_in(
        self, username: str = ADMIN, password: str = ADMIN_PASSWORD
    ) -> httpx.Response:
        page = await self.get("/admin/login")
        return await self.client.post(
            "/admin/login",
            data={"csrf_token": csrf_token(page), "username": username, "password": password},
        )

    async def get(self, path: str, *, status: int = 200) -> httpx.Response:
        response = await self.client.get(path)
        assert response.status_code == status, (path, response.status_code, response.text[:2000])
        if _CSRF.search(response.text):
            self.csrf = csrf_token(response)
        return response

    async def post(
        self,
        path: str,
        data: FormValues | None = None,
        *,
        files: Mapping[str, Any] | None = None,
        csrf: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        form: dict[str, Any] = {"csrf_token": self.csrf if csrf is None else csrf}
        form.update(data or {})
        response = await self.client.post(path, data=form, files=files, headers=headers)
        if _CSRF.search(response.text):
            self.csrf = csrf_token(response)
        return response


def csrf_token(page: httpx.Response) -> str:
    match = _CSRF.search(page.text)
    assert match, f"no CSRF token on the page: {page.text[:300]}"
    return html.unescape(match.group(1))


def field_value(page: httpx.Response, name: str) -> str | None:
    """The value attribute of the input named ``name`` (as the browser would submit it)."""
    for tag in re.findall(r"<input\b[^>]*>", page.text):
        if re.search(rf'\bname="{re.escape(name)}"', tag):
            found = re.search(r'\bvalue="([^"]*)"', tag)
            return html.unescape(found.group(1)) if found else ""
    return None


def field_error(page: httpx.Response, field_id: str) -> str | None:
    found = re.search(
        rf'<p class="field-error" id="{re.escape(field_id)}-error">(.*?)</p>', page.text, re.S
    )
    return html.unescape(found.group(1)) if found else None


@pytest.fixture
async def console(client: httpx.AsyncClient, admin_token: str) -> Console:
    """Signed in to the console as ``root``."""
    browser = Console(client)
    signed_in = await browser.sign_in()
    assert signed_in.status_code == 303, signed_in.text[:500]
    await browser.get(signed_in.headers["location"])  # the session's CSRF token from now on
    return browser
