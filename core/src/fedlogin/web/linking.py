"""Connecting and disconnecting identity providers from Account → Security (U2, U3, U4).

=======================================================  ====================================
``POST /account/security/link/{identifier}``              starts a link flow to the provider
``POST /account/security/identities/{id}/unlink``         disconnects one connected account
=======================================================  ====================================

Both need a signed-in user and the CSRF token of *that session* (SECURITY.md: "Linking
starts only by POST with a CSRF token from a signed-in session"); the token a browser gets
before signing in is not enough. Linking also needs a recent sign-in
(:data:`~fedlogin.accounts.password_change.RECENT_SIGN_IN`, as for setting a password):
whoever finds an old, forgotten session must not be able to attach their own provider
account to it. The flow (fedlogin.signin.flow, purpose ``link``) is bound to the user and
the browser; its callback is the ordinary callback URL, which links and never signs in.
A new session id follows the link (fedlogin.web.login's callback).
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import urlencode, urlsplit

import attrs
from sqlmodel import Session, select
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from fedlogin.accounts import linking
from fedlogin.accounts.password_change import RECENT_SIGN_IN, signed_in_recently
from fedlogin.errors import FedloginError, UnknownPreset
from fedlogin.mail.delivery import deliver_quietly
from fedlogin.plugins import Plugins
from fedlogin.signin import flow, purposes
from fedlogin.signin.errors import SignInRefused
from fedlogin.store.brands import LoginConfig, effective_login_config
from fedlogin.store.tables import BrowserSession, IdentityProvider, User
from fedlogin.store.types import utcnow
from fedlogin.web import sessions
from fedlogin.web.context import app_context
from fedlogin.web.forms import read_form
from fedlogin.web.login import logo_url, refusal_page, request_host
from fedlogin.web.pages import render

PAGE = "/account/security"
_NO_STORE = {"Cache-Control": "no-store"}


@attrs.frozen
class LinkableProvider:
    """A provider offered on this host that the user has not connected yet."""

    identifier: str
    name: str
    logo_url: str


class NotSignedIn(Exception):
    """Nobody (or a disabled user) is signed in: go to the login page."""


# -- what the Security page shows (fedlogin.web.account includes it) -----------------------------


async def page_context(
    request: Request, user: User, linked_provider_ids: set[int]
) -> dict[str, Any]:
    """The Connected Accounts block's data: what can still be connected, and a notice.

    The providers offered are those of the login page on this host (its brand's), in its
    order, enabled, with their plugin available, and not connected yet.
    """
    ctx = app_context(request)
    host = request_host(request)

    def load(session: Session) -> tuple[LoginConfig, list[IdentityProvider]]:
        login = effective_login_config(session, host)
        return login, list(session.exec(select(IdentityProvider)).all())

    login, providers = await ctx.transaction(load)
    plugins = ctx.plugins.for_brand(login.disabled_plugins)
    by_identifier = {row.identifier: row for row in providers}
    offered = [by_identifier[name] for name in login.identity_providers if name in by_identifier]
    linkable = [
        LinkableProvider(row.identifier, row.name, logo_url(row))
        for row in offered
        if login.federated_login_enabled
        and row.enabled
        and row.id not in linked_provider_ids
        and _preset_available(plugins, row.preset)
    ]
    return {
        "linkable": linkable,
        "linking_notice": _notice(request, {row.identifier: row.name for row in providers}),
        "reauthentication_minutes": int(RECENT_SIGN_IN.total_seconds() // 60),
    }


def _notice(request: Request, names: dict[str, str]) -> str | None:
    """The outcome a redirect back announces; only known provider identifiers are named."""
    connected = names.get(request.query_params.get("connected", ""))
    if connected:
        return f"{connected} is now connected to your account. You can sign in with it."
    disconnected = names.get(request.query_params.get("disconnected", ""))
    if disconnected:
        return f"{disconnected} was disconnected from your account."
    return None


# -- starting a link -----------------------------------------------------------------------------


async def start_link(request: Request) -> Response:
    ctx = app_context(request)
    identifier = request.path_params["identifier"]
    form = await read_form(request)
    try:
        browser_session = await _signed_in_session(request, form.get(sessions.CSRF_FIELD))
    except NotSignedIn:
        return _to_login()
    except sessions.CsrfRefused as refused:
        return _refused(request, refused, title="The account could not be connected")
    if not signed_in_recently(browser_session.authenticated_at):
        return _reauthenticate(request)
    assert browser_session.user_id is not None
    browser, new_browser = sessions.browser_id(request)
    try:
        url = await flow.start(
            ctx,
            identifier=identifier,
            host=request_host(request),
            browser=browser,
            next_url=f"{PAGE}?{urlencode({'connected': identifier})}",
            purpose=purposes.LINK,
            link_user_id=browser_session.user_id,
        )
    except SignInRefused as refusal:
        return refusal_page(request, refusal)
    response = RedirectResponse(url, status_code=303, headers=_NO_STORE)
    if new_browser:
        sessions.set_browser_cookie(request, response, browser)
    return response


# -- unlinking -----------------------------------------------------------------------------------


async def unlink(request: Request) -> Response:
    ctx = app_context(request)
    identity_id = request.path_params["identity_id"]
    form = await read_form(request)
    try:
        browser_session = await _signed_in_session(request, form.get(sessions.CSRF_FIELD))
    except NotSignedIn:
        return _to_login()
    except sessions.CsrfRefused as refused:
        return _refused(request, refused, title="Nothing was disconnected")
    user_id = browser_session.user_id
    assert user_id is not None
    site = urlsplit(ctx.config.base_url).netloc

    def remove(session: Session) -> str:
        _, provider = linking.unlink(
            session, user_id=user_id, identity_id=identity_id, site=site, now=utcnow()
        )
        return provider.identifier

    try:
        identifier = await ctx.transaction(remove)
    except linking.UnlinkRefused as refused:
        return _refused(request, refused, title="Nothing was disconnected")
    return RedirectResponse(
        f"{PAGE}?{urlencode({'disconnected': identifier})}",
        status_code=303,
        headers=_NO_STORE,
        # The "disconnected" notice, sent once the browser has its answer.
        background=BackgroundTask(deliver_quietly, ctx),
    )


# -- shared --------------------------------------------------------------------------------------


async def _signed_in_session(request: Request, submitted: object) -> BrowserSession:
    """The signed-in user's session, after checking the form's token is *that session's*."""
    browser_session = await sessions.current_session(request)
    if browser_session is None or browser_session.user_id is None:
        raise NotSignedIn
    user_id = browser_session.user_id
    user = await app_context(request).transaction(lambda s: s.get(User, user_id))
    if user is None or user.disabled:
        raise NotSignedIn
    await sessions.check_csrf(request, submitted)  # the Origin, and a token of ours at all
    expected = sessions.csrf_token_for(browser_session.csrf_secret)
    if not isinstance(submitted, str) or not hmac.compare_digest(
        submitted.encode(), expected.encode()
    ):
        raise sessions.CsrfRefused(
            "This form did not come from your signed-in Account → Security page.",
            hint="Open Account → Security and try again.",
        )
    request.state.csrf_token = expected
    return browser_session


def _to_login() -> Response:
    return RedirectResponse(
        "/login?" + urlencode({"next": PAGE}), status_code=303, headers=_NO_STORE
    )


def _reauthenticate(request: Request) -> Response:
    minutes = int(RECENT_SIGN_IN.total_seconds() // 60)
    refused = FedloginError(
        f"Connecting an identity provider needs a sign-in from the last {minutes} minutes.",
        code="reauthentication_required",
        hint="Sign in again, then connect the provider from Account → Security right away.",
    )
    return _refused(request, refused, title="Sign in again first", status=403)


def _refused(
    request: Request, refused: FedloginError, *, title: str, status: int | None = None
) -> Response:
    response = render(
        request,
        "linking_refused.html",
        {
            "title": title,
            "refused": refused,
            "reauthenticate_url": "/login?" + urlencode({"next": PAGE}),
        },
        status_code=status or refused.status,
    )
    response.headers.update(_NO_STORE)
    return response


def _preset_available(plugins: Plugins, preset: str) -> bool:
    try:
        plugins.preset(preset)
    except UnknownPreset:
        return False
    return True


ROUTES = [
    Route(f"{PAGE}/link/{{identifier}}", start_link, methods=["POST"], name="link_provider"),
    Route(
        f"{PAGE}/identities/{{identity_id:int}}/unlink",
        unlink,
        methods=["POST"],
        name="unlink_identity",
    ),
]
