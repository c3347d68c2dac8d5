"""The waiting page of a sign-in whose email address must be proven first (P15, T3).

=======================================  ===================================================
``GET /verify-email/{handle}``           where the mail went (masked), the code form,
                                         resend, and when it all expires
``POST /verify-email/{handle}``          the code (CSRF); right: the account is created and
                                         this browser signed in
``POST /verify-email/{handle}/resend``   a new code and link (CSRF, rate-limited)
``GET /verify-email/link/{token}``       the email's link: the same, in the same browser
=======================================  ===================================================

Everything is bound to the ``fedlogin_browser`` cookie of the browser that started the
sign-in (fedlogin.accounts.verification): the handle in the URL proves nothing by itself,
and the link opened anywhere else (another browser, a mail scanner) changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import attrs
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from fedlogin.accounts import verification
from fedlogin.accounts.provisioning import Provisioned, ProvisioningRefused
from fedlogin.errors import FedloginError
from fedlogin.mail import outbox
from fedlogin.mail.delivery import deliver_queued
from fedlogin.signin import events
from fedlogin.store.tables import EmailVerification, IdentityProvider, OutboxMessage
from fedlogin.store.types import utcnow
from fedlogin.web import sessions
from fedlogin.web.context import AppContext, app_context
from fedlogin.web.errors import error_page
from fedlogin.web.forms import read_form
from fedlogin.web.pages import render

DEFAULT_NEXT = "/account"
# Not "no-referrer": a browser then sends "Origin: null" with the page's own forms (the code,
# resend), which the CSRF check refuses as another site's. "same-origin" keeps the handle in
# the URL from ever reaching another site all the same.
_NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "same-origin"}
_TITLES = {
    "verification_other_browser": "Open this in the browser you signed in with",
    "verification_expired": "This verification expired",
    "verification_unknown": "No verification in progress",
    "verification_link_unknown": "This link does not work any more",
}


@attrs.frozen
class WaitingPage:
    """What the waiting page shows."""

    handle: str
    masked_email: str
    provider_name: str
    expires_at: datetime
    attempts_left: int
    #: ``sent``, ``sending``, ``queued``, ``failed`` (fedlogin.mail.outbox), ``None``: unknown.
    delivery: str | None


@attrs.frozen
class _SignedIn:
    token: str
    next_url: str


def waiting_url(handle: str) -> str:
    return f"/verify-email/{handle}"


async def waiting_page(request: Request) -> Response:
    return await _show(request, request.path_params["handle"])


async def _show(
    request: Request,
    handle: str,
    *,
    status_code: int = 200,
    error: str | None = None,
    notice: str | None = None,
) -> Response:
    ctx = app_context(request)
    browser = request.cookies.get(sessions.BROWSER_COOKIE)
    try:
        page = await ctx.transaction(lambda s: _load(s, handle, browser))
    except verification.VerificationRefused as refused:
        return _refusal(request, refused)
    assert browser is not None  # _load checked the binding
    request.state.csrf_token = sessions.csrf_token_for(browser)
    context: dict[str, Any] = {
        "title": "Check your email",
        "page": page,
        "error": error,
        "notice": notice,
        "mail_server": ctx.config.smtp is not None,
        "code_digits": verification.CODE_DIGITS,
    }
    response = render(request, "verify_email.html", context, status_code=status_code)
    response.headers.update(_NO_STORE)
    return response


def _load(session: Session, handle: str, browser: str | None) -> WaitingPage:
    row = verification.find(session, handle, browser, utcnow())
    provider = session.get(IdentityProvider, row.provider_id)
    message = session.get(OutboxMessage, row.message_id) if row.message_id else None
    return WaitingPage(
        handle=row.handle,
        masked_email=verification.masked_email(row),
        provider_name=provider.name if provider else "the identity provider",
        expires_at=row.expires_at,
        attempts_left=verification.MAX_ATTEMPTS - row.attempts,
        delivery=outbox.status_of(message) if message else None,
    )


async def submit_code(request: Request) -> Response:
    ctx = app_context(request)
    handle = request.path_params["handle"]
    form = await read_form(request)
    await sessions.check_csrf(request, form.get(sessions.CSRF_FIELD))
    code = form.get("code")
    browser = request.cookies.get(sessions.BROWSER_COOKIE)
    previous = request.cookies.get(sessions.SESSION_COOKIE)
    user_agent = request.headers.get("user-agent")

    def check(session: Session) -> _SignedIn | verification.CodeCheck:
        now = utcnow()
        row = verification.find(session, handle, browser, now)
        result = verification.check_code(session, row, code if isinstance(code, str) else "")
        if not result.ok:
            if result.attempts_left == 0:
                _record(ctx, session, row, "verification_attempts_exhausted", refused=True)
            return result
        return _sign_in(ctx, session, row, previous, user_agent, now)

    try:
        outcome = await ctx.transaction(check)
    except (verification.VerificationRefused, ProvisioningRefused) as refused:
        if refused.code == "code_malformed":
            return await _show(request, handle, status_code=400, error=refused.message)
        return _refusal(request, refused)
    if isinstance(outcome, _SignedIn):
        return _signed_in(request, outcome)
    if outcome.attempts_left == 0:
        return _refusal(
            request,
            verification.VerificationRefused(
                f"The code was wrong {verification.MAX_ATTEMPTS} times, so this verification "
                "was stopped and no account was created.",
                code="verification_attempts_exhausted",
                hint="Start the sign-in again from the login page to get a new code.",
                status=429,
            ),
        )
    left = outcome.attempts_left
    return await _show(
        request,
        handle,
        status_code=400,
        error=f"That code is not right. {left} more {'try' if left == 1 else 'tries'} left.",
    )


async def open_link(request: Request) -> Response:
    ctx = app_context(request)
    token = request.path_params["token"]
    browser = request.cookies.get(sessions.BROWSER_COOKIE)
    previous = request.cookies.get(sessions.SESSION_COOKIE)
    user_agent = request.headers.get("user-agent")

    def finish(session: Session) -> _SignedIn:
        now = utcnow()
        row = verification.find_by_token(session, token, browser, now)
        return _sign_in(ctx, session, row, previous, user_agent, now)

    try:
        signed_in = await ctx.transaction(finish)
    except (verification.VerificationRefused, ProvisioningRefused) as refused:
        return _refusal(request, refused)
    return _signed_in(request, signed_in)


async def resend(request: Request) -> Response:
    ctx = app_context(request)
    handle = request.path_params["handle"]
    form = await read_form(request)
    await sessions.check_csrf(request, form.get(sessions.CSRF_FIELD))
    browser = request.cookies.get(sessions.BROWSER_COOKIE)
    # The host this browser holds its cookie for (a brand's own host, or the platform's),
    # with the platform's scheme, or https when the request came so (directly or from a
    # trusted proxy; an untrusted proxy's plain-http hop says nothing).
    scheme = "https" if sessions.secure_cookies(request) else urlsplit(ctx.config.base_url).scheme
    origin = f"{scheme}://{request.headers.get('host', request.url.netloc)}"

    def again(session: Session) -> None:
        now = utcnow()
        row = verification.find(session, handle, browser, now)
        provider = session.get(IdentityProvider, row.provider_id)
        assert provider is not None
        verification.resend(session, row, provider_name=provider.name, origin=origin, now=now)

    try:
        await ctx.transaction(again)
    except verification.VerificationRefused as refused:
        if refused.code in ("resend_too_soon", "resend_limit", "verification_mail_limit"):
            return await _show(request, handle, status_code=429, error=refused.message)
        return _refusal(request, refused)
    await deliver_queued(ctx)
    return await _show(
        request,
        handle,
        notice="A new code is on its way. Codes sent before it no longer work.",
    )


# -- finishing ---------------------------------------------------------------------------------


def _sign_in(
    ctx: AppContext,
    session: Session,
    row: EmailVerification,
    previous: str | None,
    user_agent: str | None,
    now: datetime,
) -> _SignedIn:
    """Create the account (fedlogin.accounts.verification.finish) and its session."""
    next_url = row.next_url or DEFAULT_NEXT
    provisioned = verification.finish(session, row, now)
    user_id = provisioned.user.id
    assert user_id is not None
    if previous:
        sessions.end_session(session, previous)  # a new session id at every sign-in
    token, _ = sessions.create_session(session, user_id=user_id, user_agent=user_agent, now=now)
    _record(ctx, session, row, None, provisioned=provisioned)
    return _SignedIn(token, next_url)


def _record(
    ctx: AppContext,
    session: Session,
    row: EmailVerification,
    code: str | None,
    *,
    refused: bool = False,
    provisioned: Provisioned | None = None,
) -> None:
    provider = session.get(IdentityProvider, row.provider_id)
    if provider is None:
        return
    if provisioned is not None:
        how = "a new account" if provisioned.created_user else "an existing account"
        message = (
            f"Signed in as {provisioned.user.username} ({how}) after the address "
            f"{verification.masked_email(row)} was proven by email."
        )
    else:
        message = f"Email verification of {verification.masked_email(row)} stopped ({code})."
    events.record(
        session,
        provider_identifier=provider.identifier,
        provider_id=provider.id,
        outcome=events.REFUSED if refused else events.SUCCESS,
        step="provisioning" if refused else None,
        code=code,
        message=message,
        user_id=provisioned.user.id if provisioned else None,
        brand_id=row.brand_id,
        retention_days=ctx.config.sign_in_event_retention_days,
    )


def _signed_in(request: Request, signed_in: _SignedIn) -> Response:
    response = RedirectResponse(signed_in.next_url, status_code=303, headers=_NO_STORE)
    sessions.set_session_cookie(request, response, signed_in.token)
    return response


def _refusal(request: Request, refused: FedloginError) -> Response:
    title = _TITLES.get(refused.code, "Your email address could not be verified")
    response = error_page(
        request, refused.status, title, refused.message, hint=refused.hint, code=refused.code
    )
    response.headers.update(_NO_STORE)
    return response


ROUTES = [
    Route("/verify-email/link/{token}", open_link, methods=["GET"], name="verify_email_link"),
    Route("/verify-email/{handle}", waiting_page, methods=["GET"], name="verify_email"),
    Route("/verify-email/{handle}", submit_code, methods=["POST"], name="verify_email_code"),
    Route("/verify-email/{handle}/resend", resend, methods=["POST"], name="verify_email_resend"),
]
