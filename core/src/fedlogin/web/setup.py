"""``/setup/{token}``: the one-time page that creates the first admin (issue 3, point 6).

``fedlogin serve`` prints the link while no admin exists (rules in
:mod:`fedlogin.store.setup_tokens`). The token in the URL is the secret, so it also serves
as the form's CSRF protection: a cross-site form cannot know it. The pages are never cached
and send no referrer, so the token does not leak into caches or other sites' logs.

After the admin is created the page shows an API token, once, with the ``curl`` line that
uses it: a newcomer can drive the admin API without going back to the command line.
"""

from __future__ import annotations

from typing import Any

import attrs
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fedlogin.store import admins, setup_tokens
from fedlogin.store.admins import MIN_PASSWORD_LENGTH
from fedlogin.store.fields import ValidationFailed
from fedlogin.store.setup_tokens import SetupLinkState, SetupLinkUnusable
from fedlogin.web.context import app_context
from fedlogin.web.forms import read_form
from fedlogin.web.pages import render

#: Added to the usual page headers: the URL holds the secret.
SETUP_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
_STATUS = {
    SetupLinkState.VALID: 200,
    SetupLinkState.UNKNOWN: 404,
    SetupLinkState.USED: 410,
    SetupLinkState.EXPIRED: 410,
    SetupLinkState.ADMIN_EXISTS: 409,
}
_MAX_FIELD = 2048


@attrs.frozen
class FirstAdmin:
    username: str
    api_token: str = attrs.field(repr=False)


async def setup_form(request: Request) -> Response:
    token = request.path_params["token"]
    state = await app_context(request).transaction(
        lambda session: setup_tokens.state_of(session, token)
    )
    return _page(request, state)


async def create_first_admin(request: Request) -> Response:
    token = request.path_params["token"]
    form = await read_form(request)
    username = _field(form.get("username"))
    password = _field(form.get("password"))
    if password != _field(form.get("password_confirm")):
        state = await app_context(request).transaction(
            lambda session: setup_tokens.state_of(session, token)
        )
        mismatch = {"password_confirm": "The two passwords differ: type the same one twice."}
        return _page(request, state, username=username, errors=mismatch)

    def create(session: Session) -> FirstAdmin:
        admin = setup_tokens.consume(session, token, username, password)
        issued = admins.create_api_token(
            session, admin.username, setup_tokens.FIRST_TOKEN_NAME, actor=admin.username
        )
        return FirstAdmin(admin.username, issued.token)

    try:
        first = await app_context(request).transaction(create)
    except SetupLinkUnusable as exc:
        return _page(request, exc.state)
    except ValidationFailed as exc:
        return _page(request, SetupLinkState.VALID, username=username, errors=exc.fields)
    base_url = app_context(request).config.base_url
    response = render(
        request,
        "setup_done.html",
        {
            "title": "The first admin is ready",
            "username": first.username,
            "api_token": first.api_token,
            "base_url": base_url,
        },
    )
    response.headers.update(SETUP_HEADERS)
    return response


def _page(
    request: Request,
    state: SetupLinkState,
    *,
    username: str = "",
    errors: dict[str, str] | None = None,
) -> Response:
    context: dict[str, Any] = {
        "title": "Create the first admin" if state is SetupLinkState.VALID else "Setup link",
        "state": state.value,
        "message": state.message,
        "username": username,
        "errors": errors or {},
        "min_password_length": MIN_PASSWORD_LENGTH,
    }
    if state is not SetupLinkState.VALID:
        context["errors"] = {}
    status = 422 if context["errors"] else _STATUS[state]
    response = render(request, "setup.html", context, status_code=status)
    response.headers.update(SETUP_HEADERS)
    return response


def _field(value: object) -> str:
    """A text field of the form; a file upload or an oversized value counts as empty."""
    return value if isinstance(value, str) and len(value) <= _MAX_FIELD else ""


ROUTES = [
    Route("/setup/{token}", setup_form, methods=["GET"], name="setup"),
    Route("/setup/{token}", create_first_admin, methods=["POST"]),
]
