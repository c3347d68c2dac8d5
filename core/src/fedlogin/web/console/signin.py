"""``/admin/login`` and ``/admin/logout``: the console's own sign-in (username and password).

The sign-in form is CSRF-protected by the ``fedlogin_browser`` cookie (there is no session
yet); a successful sign-in always starts a new session (a session cookie planted before
sign-in is worth nothing). Messages never say whether the username exists.
"""

from __future__ import annotations

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from fedlogin.store import admins
from fedlogin.store.types import utcnow
from fedlogin.web import sessions
from fedlogin.web.console import throttle
from fedlogin.web.console.auth import (
    ADMIN_COOKIE,
    LOGIN,
    ConsoleAdmin,
    admin_page,
    clear_admin_cookie,
    current_admin,
    read_form,
    safe_console_next,
    set_admin_cookie,
)
from fedlogin.web.context import app_context
from fedlogin.web.pages import render

_NO_STORE = {"Cache-Control": "no-store"}
_MAX_FIELD = 1024


async def login_form(request: Request) -> Response:
    if await current_admin(request) is not None:
        return RedirectResponse(safe_console_next(request.query_params.get("next")), 303)
    return _page(
        request,
        next_url=safe_console_next(request.query_params.get("next")),
        signed_out=request.query_params.get("signed_out") == "1",
    )


async def login(request: Request) -> Response:
    try:
        return await _login(request)
    finally:
        await request.close()


async def _login(request: Request) -> Response:
    form = await read_form(request)
    await sessions.check_csrf(request, form.get(sessions.CSRF_FIELD))
    username = _text(form.get("username")).strip().lower()
    password = _text(form.get("password"))
    next_url = safe_console_next(form.get("next"))
    if not username or not password:
        return _page(
            request,
            username=username,
            next_url=next_url,
            error="Enter your admin username and password.",
            status=422,
        )
    ctx = app_context(request)
    address = request.client.host if request.client else ""
    user_agent = request.headers.get("user-agent")
    previous = request.cookies.get(ADMIN_COOKIE)

    def attempt(session: Session) -> str | None:
        blocked = throttle.attempt(session, username, address, utcnow())
        if blocked is not None:
            raise _Throttled(blocked.minutes)
        admin = admins.verify_admin_password(session, username, password)
        if admin is None or admin.id is None:
            throttle.record_failure(session, username, address)
            return None
        if previous:
            sessions.end_session(session, previous)
        token, _ = sessions.create_session(session, admin_user_id=admin.id, user_agent=user_agent)
        throttle.record_success(session, admin.username, address)
        return token

    try:
        token = await ctx.transaction(attempt)
    except _Throttled as throttled:
        minutes = throttled.minutes
        return _page(
            request,
            username=username,
            next_url=next_url,
            error="Too many failed sign-ins for this account or from this address. "
            f"Wait {minutes} minute{'s' if minutes != 1 else ''}, then try again.",
            status=429,
        )
    if token is None:
        return _page(
            request,
            username=username,
            next_url=next_url,
            error="The username or password is not right.",
            status=401,
        )
    response = RedirectResponse(next_url, status_code=303, headers=_NO_STORE)
    set_admin_cookie(request, response, token)
    return response


async def _logout(request: Request, admin: ConsoleAdmin) -> Response:
    token = request.cookies.get(ADMIN_COOKIE)
    if token:
        await app_context(request).transaction(lambda s: sessions.end_session(s, token))
    response = RedirectResponse(LOGIN + "?signed_out=1", status_code=303, headers=_NO_STORE)
    clear_admin_cookie(request, response)
    return response


logout = admin_page(_logout)


class _Throttled(Exception):
    def __init__(self, minutes: int) -> None:
        super().__init__(minutes)
        self.minutes = minutes


def _text(value: object) -> str:
    return value if isinstance(value, str) and len(value) <= _MAX_FIELD else ""


def _page(
    request: Request,
    *,
    username: str = "",
    next_url: str = "",
    error: str | None = None,
    signed_out: bool = False,
    status: int = 200,
) -> Response:
    browser, new_browser = sessions.browser_id(request)
    request.state.csrf_token = sessions.csrf_token_for(browser)
    response = render(
        request,
        "console/login.html",
        {
            "title": "Admin sign-in",
            "username": username,
            "next": next_url,
            "error": error,
            "signed_out": signed_out,
        },
        status_code=status,
    )
    response.headers.update(_NO_STORE)
    if new_browser:
        sessions.set_browser_cookie(request, response, browser)
    return response


ROUTES = [
    Route(LOGIN, login_form, methods=["GET"], name="console_login"),
    Route(LOGIN, login, methods=["POST"]),
    Route("/admin/logout", logout, methods=["POST"], name="console_logout"),
]
