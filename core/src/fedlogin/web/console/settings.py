"""Settings → Accounts → Authentication (S1): ``/admin/settings/accounts``.

The Federated Login switch and the providers the login page offers, in order, with a
preview of the platform's login buttons. Saved through
:func:`fedlogin.store.settings.update_settings` (audited) with the version the page was
loaded at, as the API's ``PATCH /settings/accounts`` does.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from fedlogin.errors import FedloginError
from fedlogin.store.changes import begin_admin_change
from fedlogin.store.errors import VersionConflict
from fedlogin.store.settings import get_settings, update_settings
from fedlogin.store.tables import AccountSettings, IdentityProvider
from fedlogin.web.console import forms
from fedlogin.web.console.auth import ConsoleAdmin, admin_page, read_form
from fedlogin.web.console.layout import console_page, error_fields
from fedlogin.web.console.offer import OfferInput, all_providers, offer_rows, read_offer
from fedlogin.web.console.preview import LoginPreview, login_preview
from fedlogin.web.context import app_context

PATH = "/admin/settings/accounts"


def platform_host(request: Request) -> str:
    """The host of the platform's own URL: the login page the settings preview shows."""
    return urlsplit(app_context(request).config.base_url).netloc


async def _load(
    request: Request,
) -> tuple[AccountSettings, list[IdentityProvider], LoginPreview]:
    ctx = app_context(request)
    host = platform_host(request)

    def load(session: Session) -> tuple[AccountSettings, list[IdentityProvider], LoginPreview]:
        return (
            get_settings(session),
            all_providers(session),
            login_preview(session, ctx, host),
        )

    return await ctx.transaction(load)


async def _settings(request: Request, admin: ConsoleAdmin) -> Response:
    settings, providers, preview = await _load(request)
    if request.method == "GET":
        done = request.query_params.get("done") == "saved"
        return _page(
            request,
            admin,
            enabled=settings.federated_login_enabled,
            offer=OfferInput(
                tuple(settings.identity_providers), frozenset(settings.identity_providers)
            ),
            providers=providers,
            preview=preview,
            version=settings.version,
            notice="Your settings were saved." if done else None,
        )
    form = await read_form(request)
    enabled = forms.flag(form, "federated_login_enabled")
    offer = read_offer(form)
    expected = forms.version(form)
    if offer.moved:
        return _page(
            request,
            admin,
            enabled=enabled,
            offer=offer,
            providers=providers,
            preview=preview,
            version=expected,
            notice="The order changed on this page only: Save to apply it.",
        )
    changes = {
        "federated_login_enabled": enabled,
        "identity_providers": offer.identity_providers,
    }

    def save(session: Session) -> None:
        begin_admin_change(session)  # the lock, so that the version read stays current
        current = get_settings(session).version
        if expected is not None and current != expected:
            raise VersionConflict(
                "The account settings were changed by someone else since you opened this "
                f"page (version {current}, you edited version {expected}). Nothing was "
                "saved: reload the page, then make your change again."
            )
        update_settings(session, changes, actor=admin.principal.actor)

    try:
        await app_context(request).transaction(save)
    except FedloginError as exc:
        return _page(
            request,
            admin,
            enabled=enabled,
            offer=offer,
            providers=providers,
            preview=preview,
            version=expected,
            errors=error_fields(exc),
            summary=exc.message,
            status=exc.status,
        )
    return RedirectResponse(PATH + "?done=saved", status_code=303)


def _page(
    request: Request,
    admin: ConsoleAdmin,
    *,
    enabled: bool,
    offer: OfferInput,
    providers: list[IdentityProvider],
    preview: LoginPreview,
    version: int | None,
    notice: str | None = None,
    errors: dict[str, str] | None = None,
    summary: str | None = None,
    status: int = 200,
) -> Response:
    return console_page(
        request,
        admin,
        "console/settings.html",
        {
            "title": "Settings → Accounts",
            "enabled": enabled,
            "rows": offer_rows(providers, offer.order, offer.offered),
            "preview": preview,
            "version": version,
            "notice": notice,
            "errors": errors or {},
            "summary": summary,
        },
        status=status,
    )


ROUTES = [Route(PATH, admin_page(_settings), methods=["GET", "POST"], name="console_settings")]
