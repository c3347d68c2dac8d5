"""The login page and the sign-in routes (U1, S3, P5, P12).

=============================  ==========================================================
``GET /login``                 the providers offered on this host, in the configured order
``POST /login/{identifier}``   CSRF-checked; starts the flow and redirects to the provider
``GET /auth/callback/{id}``    the callback URL the admin registers at the provider
``POST /logout``               ends the session
=============================  ==========================================================

Password sign-in (``POST /login``) is in :mod:`fedlogin.web.password_login`, the account
pages in :mod:`fedlogin.web.account`. The flow itself (:mod:`fedlogin.signin.flow`) knows
nothing of HTTP; this module reads the request, keeps the cookies and turns a
:class:`~fedlogin.signin.errors.SignInRefused` into a page saying what happened and what to do.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlsplit

import attrs
from sqlmodel import Session, col, select
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from fedlogin.accounts.provisioning import Provisioned
from fedlogin.errors import UnknownPreset
from fedlogin.mail.delivery import deliver_quietly
from fedlogin.signin import flow
from fedlogin.signin.errors import SignInRefused
from fedlogin.signin.purposes import VerificationStarted
from fedlogin.store.brands import LoginConfig, effective_login_config
from fedlogin.store.tables import IdentityProvider, User
from fedlogin.web import sessions
from fedlogin.web.context import AppContext, app_context
from fedlogin.web.forms import read_form
from fedlogin.web.pages import KeptPage, render, render_text
from fedlogin.web.verification import waiting_url

#: Where a sign-in lands when it was not given a ``next``.
DEFAULT_NEXT = "/account"
_MAX_NEXT = 2048
#: Going back to these after a sign-in would start over: a loop, not a destination.
_NOT_NEXT = ("/login", "/logout", "/auth/")
_NO_STORE = {"Cache-Control": "no-store"}
_NO_STORE_RAW = [(b"cache-control", b"no-store")]
#: Stands for the CSRF token in a kept login page. Random per process, so that no text an
#: admin configures (a button's label) can contain it; hex, as the tokens are, so that
#: escaping leaves it as it is.
_SLOT = secrets.token_hex(32)


@attrs.frozen
class LoginButton:
    identifier: str
    text: str
    logo_url: str


def safe_next(value: object) -> str | None:
    """A same-origin relative path to go to after signing in, or ``None`` (SECURITY.md)."""
    if not isinstance(value, str) or not value or len(value) > _MAX_NEXT:
        return None
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return None
    if not value.isprintable() or any(ch.isspace() for ch in value):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path.startswith(_NOT_NEXT):
        return None
    return value


def request_host(request: Request) -> str:
    return request.headers.get("host", "").lower()


# -- the login page ---------------------------------------------------------------------------


async def login_page(request: Request) -> Response:
    return await render_login(request)


async def render_login(
    request: Request,
    *,
    status_code: int = 200,
    next_url: str | None = None,
    password_form: dict[str, Any] | None = None,
) -> Response:
    """The login page; after a refused password sign-in, with its message (password_login)."""
    ctx = app_context(request)
    host = request_host(request)

    # Per process, until an admin changes anything (one version read per request, X4).
    offer = await ctx.config_cache.get(
        ("login page", host), lambda session: load_offer(session, host, ctx)
    )
    login, buttons = offer.login, offer.buttons
    browser, new_browser = sessions.browser_id(request)
    csrf_token = sessions.csrf_token_for(browser)
    request.state.csrf_token = csrf_token
    signed_in = await _signed_in_user(request)
    next_value = next_url or ""
    if not next_value and request.scope["query_string"]:
        next_value = safe_next(request.query_params.get("next")) or ""
    context = {
        "title": "Sign in",
        "buttons": buttons,
        "federated_login_enabled": login.federated_login_enabled,
        "next": next_value,
        "signed_in": signed_in,
        "password_form": password_form or {},
    }
    if status_code == 200 and not next_value and signed_in is None and not password_form:
        # Every first visit gets this page: the same for everyone on this host but for the
        # CSRF token, so it is rendered once per configuration version and the token put in.
        if offer.anonymous_page is None:
            text = render_text("login.html", {**context, "csrf_token": _SLOT})
            offer.anonymous_page = KeptPage(text, _SLOT, _NO_STORE_RAW)
        response = offer.anonymous_page.response(csrf_token)
    else:
        response = render(request, "login.html", context, status_code=status_code)
        response.headers.update(_NO_STORE)
    if new_browser:
        sessions.set_browser_cookie(request, response, browser)
    return response


@attrs.define
class LoginOffer:
    """What the login page on one host offers: its settings and its provider buttons."""

    login: LoginConfig
    buttons: tuple[LoginButton, ...]
    #: The page a visitor with no session sees, with :data:`_SLOT` for the CSRF token;
    #: rendered at the first such visit (kept as long as this offer: one config version).
    anonymous_page: KeptPage | None = attrs.field(default=None, eq=False, repr=False)


def load_offer(session: Session, host: str, ctx: AppContext) -> LoginOffer:
    login = effective_login_config(session, host)
    rows: list[IdentityProvider] = []
    if login.federated_login_enabled and login.identity_providers:
        query = select(IdentityProvider).where(
            col(IdentityProvider.identifier).in_(login.identity_providers)
        )
        rows = list(session.exec(query).all())
    plugins = ctx.plugins.for_brand(login.disabled_plugins)
    by_identifier = {row.identifier: row for row in rows}
    buttons = []
    for identifier in login.identity_providers:
        row = by_identifier.get(identifier)
        if row is None or not _preset_available(plugins, row.preset):
            continue
        buttons.append(LoginButton(identifier, row.button_text, logo_url(row)))
    return LoginOffer(login, tuple(buttons))


def _preset_available(plugins: Any, preset: str) -> bool:
    try:
        plugins.preset(preset)
    except UnknownPreset:
        return False
    return True


def logo_url(row: IdentityProvider) -> str:
    if row.logo_id is not None:
        return f"/api/v1/identity-providers/{row.identifier}/logo"
    return f"/api/v1/presets/{row.preset}/logo"


# -- the flow -----------------------------------------------------------------------------------


async def start_sign_in(request: Request) -> Response:
    ctx = app_context(request)
    identifier = request.path_params["identifier"]
    form = await read_form(request)
    try:
        await sessions.check_csrf(request, form.get(sessions.CSRF_FIELD))
    except sessions.CsrfRefused as exc:
        return refusal_page(
            request,
            SignInRefused(exc.message, code=exc.code, step="browser", hint=exc.hint, status=403),
        )
    # Signed in, a form may pass CSRF by the session alone: bind the flow to a new cookie then.
    browser, new_browser = sessions.browser_id(request)
    try:
        url = await flow.start(
            ctx,
            identifier=identifier,
            host=request_host(request),
            browser=browser,
            next_url=safe_next(form.get("next")),
        )
    except SignInRefused as refusal:
        return refusal_page(request, refusal)
    response = RedirectResponse(url, status_code=303, headers=_NO_STORE)
    if new_browser:
        sessions.set_browser_cookie(request, response, browser)
    return response


async def callback(request: Request) -> Response:
    ctx = app_context(request)
    previous = request.cookies.get(sessions.SESSION_COOKIE)
    user_agent = request.headers.get("user-agent")

    def open_session(session: Session, provisioned: Provisioned) -> str:
        user_id = provisioned.user.id
        assert user_id is not None
        if previous:
            sessions.end_session(session, previous)  # a new session id at every sign-in
        if provisioned.matched_by_email:
            # Joined to an existing account: nobody else stays signed in to it unnoticed.
            sessions.end_all_for_user(session, user_id)
        token, _ = sessions.create_session(session, user_id=user_id, user_agent=user_agent)
        return token

    params = {name: request.query_params[name] for name in request.query_params}
    signed_in = await sessions.current_session(request)
    try:
        result = await flow.finish(
            ctx,
            identifier=request.path_params["identifier"],
            params=params,
            browser=request.cookies.get(sessions.BROWSER_COOKIE),
            host=request_host(request),
            on_success=open_session,
            # A link flow finishes only for the user who started it (fedlogin.web.linking).
            session_user_id=signed_in.user_id if signed_in else None,
        )
    except SignInRefused as refusal:
        if refusal.code == "state_unknown" and signed_in:
            # The callback reloaded after it signed this browser in: nothing to do again.
            return RedirectResponse(DEFAULT_NEXT, status_code=303, headers=_NO_STORE)
        return refusal_page(request, refusal)
    if isinstance(result, VerificationStarted):
        # No account until the address is proven (fedlogin.web.verification).
        return RedirectResponse(waiting_url(result.handle), status_code=303, headers=_NO_STORE)
    response = RedirectResponse(result.next_url or DEFAULT_NEXT, status_code=303, headers=_NO_STORE)
    sessions.set_session_cookie(request, response, result.value)
    if result.linked:
        # The "connected" notice, sent once the browser has its answer (fedlogin.mail.delivery).
        response.background = BackgroundTask(deliver_quietly, ctx)
    return response


def refusal_page(request: Request, refusal: SignInRefused) -> Response:
    browser, new_browser = sessions.browser_id(request)
    request.state.csrf_token = sessions.csrf_token_for(browser)
    response = render(
        request,
        "sign_in_error.html",
        {"title": refusal.title, "refusal": refusal},
        status_code=refusal.status,
    )
    response.headers.update(_NO_STORE)
    if new_browser:
        sessions.set_browser_cookie(request, response, browser)
    return response


# -- signed in ----------------------------------------------------------------------------------


async def _signed_in_user(request: Request) -> User | None:
    browser_session = await sessions.current_session(request)
    if browser_session is None or browser_session.user_id is None:
        return None
    user_id = browser_session.user_id
    return await app_context(request).transaction(lambda s: s.get(User, user_id))


async def logout(request: Request) -> Response:
    ctx = app_context(request)
    form = await read_form(request)
    await sessions.check_csrf(request, form.get(sessions.CSRF_FIELD))
    token = request.cookies.get(sessions.SESSION_COOKIE)
    if token:
        await ctx.transaction(lambda s: sessions.end_session(s, token))
    response = RedirectResponse("/login", status_code=303, headers=_NO_STORE)
    sessions.clear_session_cookie(request, response)
    return response


ROUTES = [
    Route("/login", login_page, methods=["GET"], name="login"),
    Route("/login/{identifier}", start_sign_in, methods=["POST"], name="start_sign_in"),
    Route("/auth/callback/{identifier}", callback, methods=["GET"], name="sign_in_callback"),
    Route("/logout", logout, methods=["POST"], name="logout"),
]
