"""Error pages say what happened in their title; status codes and stable codes stay as they are."""

from __future__ import annotations

import html
import re

import httpx
import pytest
from fedlogin.web.errors import page_title

from tests.web.console.conftest import Console, console

__all__ = ["console"]


def shown(page: httpx.Response) -> tuple[int, str, str]:
    """The status, the page's heading and its error code."""
    title = re.search(r'<h1 id="refusal-title">(.*?)</h1>', page.text, re.S)
    code = re.search(r"Error code: <code>(.*?)</code>", page.text)
    assert title and code, page.text[:500]
    return page.status_code, html.unescape(title.group(1)), code.group(1)


async def test_an_unknown_address_is_page_not_found(client: httpx.AsyncClient) -> None:
    page = await client.get("/no/such/page")
    assert shown(page) == (404, "Page not found", "not_found")
    assert "<title>Page not found" in page.text


async def test_a_wrong_method_says_so(client: httpx.AsyncClient) -> None:
    page = await client.get("/admin/logout")
    assert shown(page) == (405, "Method not allowed", "method_not_allowed")
    assert page.headers["allow"] == "POST"


async def test_a_form_without_its_token_is_form_not_accepted(client: httpx.AsyncClient) -> None:
    await client.get("/login")  # the browser cookie, so that only the token is missing
    page = await client.post("/verify-email/anything/resend", data={"csrf_token": "forged"})
    assert shown(page) == (403, "Form not accepted", "csrf_failed")


async def test_a_missing_thing_is_named(console: Console) -> None:
    page = await console.get("/admin/users/424242", status=404)
    assert shown(page) == (404, "User not found", "user_not_found")


@pytest.mark.parametrize(
    ("status", "code", "title"),
    [
        (404, "provider_not_found", "Identity provider not found"),
        (404, "brand_not_found", "Brand not found"),
        (404, "token_not_found", "API token not found"),
        (404, "not_found", "Page not found"),
        (403, "user_disabled", "Account disabled"),
        (429, "too_many_attempts", "Too many attempts"),
        (422, "invalid_configuration", "Some values are not valid"),
        (409, "something_new", "Conflicting change"),
        (400, "invalid_claims", "Request not accepted"),
        (418, "teapot", "Request not accepted"),
        (500, "plugin_failed", "Something went wrong"),
    ],
)
def test_titles_come_from_the_code_then_the_kind(status: int, code: str, title: str) -> None:
    assert page_title(status, code) == title
