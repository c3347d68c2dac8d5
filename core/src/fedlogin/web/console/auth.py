"""Who may use the admin console: an admin signed in with username and password.

The console's sessions are rows of the same ``browser_session`` table as users' sessions
(``admin_user_id`` set), but travel in their own cookie, ``fedlogin_admin``, scoped to
``/admin``: an admin who also signs in as a user in the same browser keeps both, a user
sign-in (which always replaces the ``fedlogin_session`` cookie) cannot end the admin's
session, and no page outside the console ever receives the admin cookie.

Every console form carries a CSRF token derived from the admin session's own secret; the
sign-in form, shown before there is a session, uses the ``fedlogin_browser`` cookie as the
login page does (:mod:`fedlogin.web.sessions`).

Failed sign-ins are rate-limited (:mod:`fedlogin.web.console.throttle`).
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

import attrs
from sqlmodel import Session
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from fedlogin.store.tables import AdminUser, BrowserSession
from fedlogin.web import sessions
from fedlogin.web.admin_auth import AdminPrincipal
from fedlogin.web.context import app_context
from fedlogin.web.errors import error_page

ADMIN_COOKIE = "fedlogin_admin"
CONSOLE_PREFIX = "/admin"
HOME = "/admin/identity-providers"
LOGIN = "/admin/login"
#: A console form is small; a logo upload (256 KiB) kept across a re-render is the largest part.
MAX_FORM_BYTES = 2 * 1024 * 1024
_MAX_FIELDS = 300
_NO_STORE = {"Cache-Control": "no-store"}


@attrs.frozen
class ConsoleAdmin:
    """The signed-in admin of a console request."""

    id: int
    username: str
    session_id: int
    csrf_token: str = attrs.field(repr=False)

    @property
    def principal(self) -> AdminPrincipal:
        """The actor the store's services record in the audit log (as the API's)."""
        return AdminPrincipal(self.username)


ConsoleHandler = Callable[[Request, ConsoleAdmin], Awaitable[Response]]


# -- the session cookie -----------------------------------------------------------------------


def set_admin_cookie(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        ADMIN_COOKIE,
        token,
        max_age=int(sessions.ABSOLUTE_TIMEOUT.total_seconds()),
        path=CONSOLE_PREFIX,
        httponly=True,
        samesite="lax",
        secure=sessions.secure_cookies(request),
    )


def clear_admin_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(
        ADMIN_COOKIE,
        path=CONSOLE_PREFIX,
        httponly=True,
        samesite="lax",
        secure=sessions.secure_cookies(request),
    )


async def current_admin(request: Request) -> ConsoleAdmin | None:
    """The admin whose live session the request's ``fedlogin_admin`` cookie names."""
    token = request.cookies.get(ADMIN_COOKIE)
    if not token or len(token) > 128:
        return None

    def load(session: Session) -> ConsoleAdmin | None:
        row: BrowserSession | None = sessions.find_session(session, token)
        if row is None or row.admin_user_id is None or row.id is None:
            return None
        admin = session.get(AdminUser, row.admin_user_id)
        if admin is None or admin.id is None:
            return None
        return ConsoleAdmin(
            admin.id, admin.username, row.id, sessions.csrf_token_for(row.csrf_secret)
        )

    return await app_context(request).transaction(load)


# -- forms ------------------------------------------------------------------------------------


async def read_form(request: Request) -> FormData:
    """The posted form (urlencoded or multipart), refused when it is far larger than any of ours."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM_BYTES:
        raise sessions.CsrfRefused(
            "The form is larger than this site accepts.",
            code="too_large",
            hint="A logo must be at most 256 KiB.",
        )
    return await request.form(max_files=2, max_fields=_MAX_FIELDS)


def check_origin(request: Request) -> None:
    """A form posted from another site is refused, whatever it carries (as for user forms)."""
    origin = request.headers.get("origin")
    host = request.headers.get("host", "")
    if origin is not None and origin.split("://", 1)[-1].lower() != host.lower():
        raise sessions.CsrfRefused(
            "This form was sent from another site, so it was refused.",
            hint="Open the admin console of this site and try again.",
        )


def check_admin_csrf(request: Request, admin: ConsoleAdmin, form: FormData) -> None:
    """Only the admin session's own token is accepted on console forms."""
    check_origin(request)
    submitted = form.get(sessions.CSRF_FIELD)
    if not isinstance(submitted, str) or not hmac.compare_digest(
        submitted.encode(), admin.csrf_token.encode()
    ):
        raise sessions.CsrfRefused(
            "The form has expired or did not come from this site, so nothing was changed.",
            hint="Reload the page and try again.",
        )


def login_redirect(request: Request) -> Response:
    target = request.url.path
    if request.method == "GET" and request.url.query:
        target += "?" + request.url.query
    return RedirectResponse(
        LOGIN + "?" + urlencode({"next": target}), status_code=303, headers=_NO_STORE
    )


def admin_page(handler: ConsoleHandler) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a console route: an admin session is required and a POST must pass the CSRF check.

    Without a session a page redirects to the sign-in (and back afterwards); a form post is
    refused with a page saying so, never carried out.
    """

    async def endpoint(request: Request) -> Response:
        admin = await current_admin(request)
        if admin is None:
            if request.method in ("GET", "HEAD"):
                return login_redirect(request)
            response = error_page(
                request,
                401,
                "Sign in to the admin console",
                "Your admin session has ended, so nothing was changed.",
                hint="Sign in again, then repeat the change.",
                code="unauthenticated",
            )
            return response
        try:
            if request.method == "POST":
                check_admin_csrf(request, admin, await read_form(request))
            request.state.csrf_token = admin.csrf_token
            request.state.console_admin = admin
            response = await handler(request, admin)
        finally:
            await request.close()  # uploaded files' temporary files
        response.headers.update(_NO_STORE)
        return response

    endpoint.__name__ = handler.__name__
    endpoint.__doc__ = handler.__doc__
    return endpoint


def safe_console_next(value: object) -> str:
    """Where to go after signing in: a console path only (no open redirect)."""
    if (
        isinstance(value, str)
        and value.startswith(CONSOLE_PREFIX + "/")
        and not value.startswith("//")
        and "\\" not in value
        and len(value) <= 2048
        and value.isprintable()
        and not any(ch.isspace() for ch in value)
        and not value.startswith((LOGIN, CONSOLE_PREFIX + "/logout"))
    ):
        return value
    return HOME
