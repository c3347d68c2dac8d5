"""Account → Security: password, connected accounts, sign out everywhere (U3, issue 5).

===========================================  ================================================
``GET /account/security`` (and ``/account``)  the page; signed-in users only
``POST /account/security/password``           set a first password or change it
``POST /account/security/sign-out-everywhere``  ends every session of the user, this one too
===========================================  ================================================

Every form is CSRF-checked with the session's token. The rules of a password change are
fedlogin.accounts.password_change's; this module shows them. Linking and unlinking
(fedlogin.web.linking) add their forms to the page's Connected Accounts block and use the
``identities`` this page lists (each with its ``id`` and ``provider_identifier``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import attrs
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from fedlogin.accounts import password_change
from fedlogin.accounts.identities import identities_of
from fedlogin.accounts.signed_in import end_sessions
from fedlogin.errors import FedloginError
from fedlogin.store.fields import ValidationFailed
from fedlogin.store.tables import BrowserSession, User
from fedlogin.web import linking, sessions
from fedlogin.web.context import app_context
from fedlogin.web.forms import read_form
from fedlogin.web.login import logo_url
from fedlogin.web.pages import render
from fedlogin.web.password_login import client_address

PAGE = "/account/security"
_NO_STORE = {"Cache-Control": "no-store"}
#: Outcomes a redirect back to the page may announce (``?done=``); anything else is ignored.
NOTICES = {
    password_change.PASSWORD_SET: "Your password is set. You can now sign in with it.",
    password_change.PASSWORD_CHANGED: "Your password was changed. Your other sessions were "
    "signed out.",
}


@attrs.frozen
class ConnectedAccount:
    """One linked identity as the page shows it (U3)."""

    id: int
    provider_id: int
    provider_identifier: str
    provider_name: str
    logo_url: str
    email: str | None
    linked_at: datetime
    last_used_at: datetime | None


@attrs.frozen
class _Viewer:
    browser_session: BrowserSession
    user: User


async def _viewer(request: Request) -> _Viewer | Response:
    """The signed-in user, or where to go instead (the login page, back here afterwards)."""
    browser_session = await sessions.current_session(request)
    to_login = RedirectResponse(
        "/login?" + urlencode({"next": PAGE}), status_code=303, headers=_NO_STORE
    )
    if browser_session is None or browser_session.user_id is None:
        return to_login
    user_id = browser_session.user_id

    def load(session: Session) -> User | None:
        user = session.get(User, user_id)
        if user is not None and user.disabled:
            end_sessions(session, user_id)  # disabling ended them; a straggler ends now
            return None
        return user

    user = await app_context(request).transaction(load)
    if user is None:
        sessions.clear_session_cookie(request, to_login)
        return to_login
    request.state.csrf_token = sessions.csrf_token_for(browser_session.csrf_secret)
    return _Viewer(browser_session, user)


def connected_accounts(session: Session, user_id: int) -> list[ConnectedAccount]:
    found = []
    for identity, provider in identities_of(session, user_id):
        assert identity.id is not None and provider.id is not None
        found.append(
            ConnectedAccount(
                id=identity.id,
                provider_id=provider.id,
                provider_identifier=provider.identifier,
                provider_name=provider.name,
                logo_url=logo_url(provider),
                email=identity.email,
                linked_at=identity.linked_at,
                last_used_at=identity.last_used_at,
            )
        )
    return found


async def _page(
    request: Request,
    viewer: _Viewer,
    *,
    status_code: int = 200,
    password_error: FedloginError | None = None,
) -> Response:
    user = viewer.user
    assert user.id is not None
    user_id = user.id
    identities = await app_context(request).transaction(lambda s: connected_accounts(s, user_id))
    field_errors = password_error.fields if isinstance(password_error, ValidationFailed) else {}
    minutes = int(password_change.RECENT_SIGN_IN.total_seconds() // 60)
    context: dict[str, Any] = {
        "title": "Account security",
        "user": user,
        "has_password": user.password_hash is not None,
        "identities": identities,
        "recent_sign_in": password_change.signed_in_recently(
            viewer.browser_session.authenticated_at
        ),
        "recent_minutes": minutes,
        "reauthenticate_url": "/login?" + urlencode({"next": PAGE}),
        "notice": NOTICES.get(request.query_params.get("done", "")),
        "password_error": None if field_errors else password_error,
        "field_errors": field_errors,
    }
    # Connected Accounts: what can still be linked, and a link or unlink notice.
    context.update(await linking.page_context(request, user, {i.provider_id for i in identities}))
    response = render(request, "account_security.html", context, status_code=status_code)
    response.headers.update(_NO_STORE)
    return response


async def security_page(request: Request) -> Response:
    viewer = await _viewer(request)
    if isinstance(viewer, Response):
        return viewer
    return await _page(request, viewer)


async def set_password(request: Request) -> Response:
    viewer = await _viewer(request)
    if isinstance(viewer, Response):
        return viewer
    form = await read_form(request)
    await sessions.check_csrf(request, form.get(sessions.CSRF_FIELD))
    row = viewer.browser_session
    assert row.user_id is not None and row.id is not None
    try:
        outcome = await password_change.change_password(
            app_context(request),
            password_change.Principal(row.user_id, row.id, row.authenticated_at),
            current_password=form.get("current_password"),
            new_password=form.get("new_password"),
            confirmation=form.get("confirm_password"),
            address=client_address(request),
        )
    except FedloginError as refused:
        response = await _page(request, viewer, status_code=refused.status, password_error=refused)
        retry_after = refused.details().get("retry_after")
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response
    return RedirectResponse(f"{PAGE}?done={outcome}", status_code=303, headers=_NO_STORE)


async def sign_out_everywhere(request: Request) -> Response:
    viewer = await _viewer(request)
    if isinstance(viewer, Response):
        return viewer
    form = await read_form(request)
    await sessions.check_csrf(request, form.get(sessions.CSRF_FIELD))
    user_id = viewer.user.id
    assert user_id is not None
    ctx = app_context(request)
    await ctx.transaction(lambda s: end_sessions(s, user_id))
    response = RedirectResponse("/login", status_code=303, headers=_NO_STORE)
    sessions.clear_session_cookie(request, response)
    return response


ROUTES = [
    Route("/account", security_page, methods=["GET"], name="account"),
    Route(PAGE, security_page, methods=["GET"], name="account_security"),
    Route(f"{PAGE}/password", set_password, methods=["POST"], name="account_password"),
    Route(
        f"{PAGE}/sign-out-everywhere",
        sign_out_everywhere,
        methods=["POST"],
        name="sign_out_everywhere",
    ),
]
