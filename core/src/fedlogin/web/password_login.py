"""``POST /login``: signing in with a username or email address and a password (issue 5).

The form sits on the login page above "Or continue with" and posts back to ``/login``
(a path no provider identifier can take, unlike ``/login/{identifier}``). It is
CSRF-checked like the provider buttons; a success makes a new session exactly as the
federated path does (the browser's old session, if any, ends) and goes to the same-origin
``next``. A refusal shows the login page again with the message, the name typed (never the
password) and, when a limit was reached, ``Retry-After``.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from fedlogin.accounts import password_sign_in
from fedlogin.accounts.passwords import MAX_LOGIN_NAME
from fedlogin.errors import FedloginError
from fedlogin.store.tables import User
from fedlogin.web import sessions
from fedlogin.web.context import app_context
from fedlogin.web.forms import read_form
from fedlogin.web.login import DEFAULT_NEXT, render_login, safe_next

_NO_STORE = {"Cache-Control": "no-store"}


def client_address(request: Request) -> str | None:
    """The peer address, or the client a trusted proxy forwarded (fedlogin.cli.serve)."""
    return request.client.host if request.client else None


async def password_sign_in_route(request: Request) -> Response:
    ctx = app_context(request)
    form = await read_form(request)
    login_name = form.get("login")
    next_url = safe_next(form.get("next"))
    previous = request.cookies.get(sessions.SESSION_COOKIE)
    user_agent = request.headers.get("user-agent")

    def open_session(session: Session, user: User) -> str:
        assert user.id is not None
        if previous:
            sessions.end_session(session, previous)  # a new session id at every sign-in
        token, _ = sessions.create_session(session, user_id=user.id, user_agent=user_agent)
        return token

    try:
        await sessions.check_csrf(request, form.get(sessions.CSRF_FIELD))
        signed_in = await password_sign_in.sign_in(
            ctx,
            login_name=login_name,
            password=form.get("password"),
            address=client_address(request),
            on_success=open_session,
        )
    except FedloginError as refusal:
        return await _refused(request, refusal, login_name, next_url)
    response = RedirectResponse(next_url or DEFAULT_NEXT, status_code=303, headers=_NO_STORE)
    sessions.set_session_cookie(request, response, signed_in.value)
    return response


async def _refused(
    request: Request, refusal: FedloginError, login_name: Any, next_url: str | None
) -> Response:
    typed = login_name if isinstance(login_name, str) and len(login_name) <= MAX_LOGIN_NAME else ""
    response = await render_login(
        request,
        status_code=refusal.status,
        next_url=next_url,
        password_form={"error": refusal, "login": typed.strip()},
    )
    retry_after = getattr(refusal, "retry_after", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


ROUTES = [Route("/login", password_sign_in_route, methods=["POST"], name="password_sign_in")]
