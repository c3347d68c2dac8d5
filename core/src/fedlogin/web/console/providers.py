"""Admin console → Identity Providers: the list, Add Identity Provider, edit, enable, delete.

==================================================  =========================================
``GET  /admin/identity-providers``                  the list, with each provider's last
                                                    successful and failed sign-in
``GET  /admin/identity-providers/new``              the preset picker (every installed
                                                    plugin's presets)
``GET|POST /admin/identity-providers/new?preset=``  the form with the preset's defaults;
                                                    Save, or Test Connection
``GET|POST /admin/identity-providers/{id}/edit``    the same form for a saved provider
``POST /admin/identity-providers/{id}/enable``      and ``/disable``
``GET|POST /admin/identity-providers/{id}/delete``  delete, confirming the users it unlinks
==================================================  =========================================

Changes go through :class:`~fedlogin.store.providers.IdentityProviders` (validation, audit,
the encrypted secret) with the admin as actor, exactly as the API's do, and with the
version the page was loaded at (a change made meanwhile is refused, not overwritten).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

from sqlalchemy import func
from sqlmodel import Session, col, select
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from fedlogin.errors import FedloginError, UnknownPreset
from fedlogin.presets import ProviderPreset
from fedlogin.store.errors import ConfirmationRequired, VersionConflict
from fedlogin.store.fields import ValidationFailed
from fedlogin.store.provider_views import linked_user_count
from fedlogin.store.providers import IdentityProviders
from fedlogin.store.tables import IdentityProvider, SignInEvent
from fedlogin.web.api.providers import check_version, discovery_url_of
from fedlogin.web.console import connection, forms
from fedlogin.web.console.auth import ConsoleAdmin, admin_page, read_form
from fedlogin.web.console.layout import console_page
from fedlogin.web.console.provider_form import (
    FormState,
    LogoInput,
    Values,
    changes,
    create_data,
    logo_url,
    preset_values,
    read_logo,
    render_form,
    row_values,
    submitted_values,
)
from fedlogin.web.context import app_context
from fedlogin.web.pages import render

T = TypeVar("T")
BASE = "/admin/identity-providers"


def provider_url(identifier: str, page: str = "edit", **query: str) -> str:
    url = f"{BASE}/{identifier}/{page}"
    return url + ("?" + urlencode(query) if query else "")


async def with_service(
    request: Request, admin: ConsoleAdmin, work: Callable[[IdentityProviders], T]
) -> T:
    """Run ``work`` in one transaction with the provider service, the admin as actor.

    The discovery documents cached for a provider's old and new domain are the API's
    business too: :func:`drop_cached_discovery` after a change.
    """
    ctx = app_context(request)

    def run(session: Session) -> T:
        return work(IdentityProviders(session, ctx.plugins, ctx.secrets, actor=admin.username))

    return await ctx.transaction(run)


def drop_cached_discovery(request: Request, urls: set[str | None]) -> None:
    """A changed domain (or tenant) is fetched afresh at the next sign-in on this process."""
    for url in urls - {None}:
        assert url is not None
        app_context(request).discovery.invalidate(url)


# -- the list -------------------------------------------------------------------------------


async def _list(request: Request, admin: ConsoleAdmin) -> Response:
    return await _list_page(request, admin, notice=_notice(request))


async def _list_page(
    request: Request,
    admin: ConsoleAdmin,
    *,
    notice: str | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    ctx = app_context(request)

    def load(session: Session) -> tuple[list[IdentityProvider], dict[tuple[str, str], Any]]:
        rows = IdentityProviders(session, ctx.plugins, ctx.secrets, actor=admin.username).list()
        query = select(
            SignInEvent.provider_identifier, SignInEvent.outcome, func.max(SignInEvent.at)
        ).group_by(col(SignInEvent.provider_identifier), col(SignInEvent.outcome))
        last = {(name, outcome): at for name, outcome, at in session.exec(query).all()}
        return rows, last

    rows, last = await ctx.transaction(load)
    presets = {p.id: p.name for p in ctx.plugins.presets()}
    items = [
        {
            "row": row,
            "preset_name": presets.get(row.preset),
            "last_success": last.get((row.identifier, "success")),
            "last_failure": last.get((row.identifier, "refused")),
            "logo_url": logo_url(row),
        }
        for row in rows
    ]
    return console_page(
        request,
        admin,
        "console/providers.html",
        {
            "title": "Identity Providers",
            "items": items,
            "notice": notice,
            "error": error,
        },
        status=status,
    )


_NOTICES = {
    "created": "The identity provider was added.",
    "saved": "Your changes were saved.",
    "deleted": "The identity provider was deleted.",
    "enabled": "The identity provider is enabled.",
    "disabled": "The identity provider is disabled: it no longer appears on the login page.",
    "unchanged": "Nothing was changed.",
}


def _notice(request: Request) -> str | None:
    return _NOTICES.get(request.query_params.get("done", ""))


# -- add: the preset picker and the form ------------------------------------------------------


async def _new(request: Request, admin: ConsoleAdmin) -> Response:
    ctx = app_context(request)
    preset_id = request.query_params.get("preset")
    if preset_id is None:
        plugins = ctx.plugins
        return console_page(
            request,
            admin,
            "console/preset_picker.html",
            {
                "title": "Add Identity Provider",
                "presets": [(p, plugins.owner_of(p.id)) for p in plugins.presets()],
            },
        )
    preset = _preset(request, preset_id)
    if request.method == "GET":
        return await render_form(request, admin, preset, preset_values(preset), FormState())
    form = await read_form(request)
    values = submitted_values(form, preset, None)
    secret = forms.text(form, "client_secret").strip()
    logo = await read_logo(form)
    data = create_data(values, preset, secret)
    if forms.text(form, "action") == "test":
        return await _tested(request, admin, preset, values, logo, secret, data=data)

    def create(service: IdentityProviders) -> tuple[str, str | None]:
        row = service.create(data)
        _check_logo(logo)
        if logo.data:
            service.set_logo(row.identifier, logo.data)
        return row.identifier, discovery_url_of(service.plugins, row)

    try:
        identifier, stale = await with_service(request, admin, create)
    except ValidationFailed as exc:
        state = _refused_state(exc, logo, secret)
        return await render_form(request, admin, preset, values, state, status=422)
    drop_cached_discovery(request, {stale})
    return RedirectResponse(provider_url(identifier, done="created"), status_code=303)


def _preset(request: Request, preset_id: str) -> ProviderPreset:
    try:
        return app_context(request).plugins.preset(preset_id)
    except UnknownPreset as exc:
        raise UnknownPreset(
            exc.message, hint="Choose a preset from the list of Add Identity Provider."
        ) from exc


def _check_logo(logo: LogoInput) -> None:
    """Refuse the whole save (rolling back) when the chosen logo is not acceptable."""
    if logo.error:
        raise ValidationFailed(logo.error, {"logo": ("logo_invalid", logo.error)})


#: The secret typed is never put back into a page (SECURITY.md), so a refused form asks for it.
_RETYPE_SECRET = (
    "Nothing was saved, and the client secret you typed is never shown again: type it again."  # noqa: S105
)


def _refused_state(exc: ValidationFailed, logo: LogoInput, secret: str) -> FormState:
    errors = dict(exc.fields)
    if logo.error:
        errors.setdefault("logo", logo.error)
    if secret and "client_secret" not in errors:
        errors["client_secret"] = _RETYPE_SECRET
    count = len(errors)
    summary = exc.message if count == 1 else f"Nothing was saved: {count} fields need attention."
    return FormState(errors=errors, summary=summary, secret_typed=bool(secret), logo=logo)


async def _tested(
    request: Request,
    admin: ConsoleAdmin,
    preset: ProviderPreset,
    values: Values,
    logo: LogoInput,
    secret: str,
    *,
    data: dict[str, Any] | None = None,
    row: IdentityProvider | None = None,
    version: int | None = None,
) -> Response:
    """Test Connection: the fragment for console.js, or the whole form with the report."""
    if row is None:
        assert data is not None
        outcome = await connection.run_for_new_form(request, admin, data)
    else:
        edits = changes(values, row_values(row, preset), "")
        outcome = await connection.run_for_edited_form(request, admin, row.identifier, edits)
    state = FormState(
        report=outcome.report,
        report_domain=outcome.domain,
        report_error=outcome.error,
        report_fields=outcome.fields,
        errors=outcome.fields,
        secret_typed=bool(secret),
        logo=logo,
    )
    if connection.wants_fragment(request):
        return render(request, "console/_connection_report.html", {"state": state})
    return await render_form(request, admin, preset, values, state, row=row, version=version)


# -- edit -------------------------------------------------------------------------------------


async def _load(request: Request, admin: ConsoleAdmin) -> IdentityProvider:
    identifier = request.path_params["identifier"]
    return await with_service(request, admin, lambda service: service.get(identifier))


def _row_preset(request: Request, row: IdentityProvider) -> ProviderPreset:
    try:
        return app_context(request).plugins.preset(row.preset)
    except UnknownPreset as exc:
        raise UnknownPreset(
            f"The identity provider {row.identifier!r} uses the preset {row.preset!r}, which "
            "no installed and enabled plugin provides any more, so it cannot be edited here.",
            hint="Install or enable the plugin again (see Plugins), or delete the provider.",
        ) from exc


async def _edit(request: Request, admin: ConsoleAdmin) -> Response:
    row = await _load(request, admin)
    preset = _row_preset(request, row)
    if request.method == "GET":
        state = FormState(notice=_notice(request))
        return await render_form(
            request, admin, preset, row_values(row, preset), state, row=row, version=row.version
        )
    form = await read_form(request)
    values = submitted_values(form, preset, row.identifier)
    secret = forms.text(form, "client_secret").strip()
    logo = await read_logo(form)
    expected = forms.version(form)
    if forms.text(form, "action") == "test":
        return await _tested(
            request, admin, preset, values, logo, secret, row=row, version=expected
        )

    def update(service: IdentityProviders) -> tuple[bool, set[str | None]]:
        current = service.get(row.identifier)
        old = discovery_url_of(service.plugins, current)
        edits = changes(values, row_values(current, preset), secret)
        before = current.version
        if edits or logo.data or logo.remove:
            updated = service.update(row.identifier, edits, expected_version=expected)
        else:
            check_version(service, current, expected)
            updated = current
        _check_logo(logo)
        if logo.data:
            service.set_logo(row.identifier, logo.data)
        elif logo.remove:
            service.remove_logo(row.identifier)
        return updated.version != before, {old, discovery_url_of(service.plugins, updated)}

    try:
        changed, stale = await with_service(request, admin, update)
    except ValidationFailed as exc:
        state = _refused_state(exc, logo, secret)
        return await render_form(
            request, admin, preset, values, state, row=row, version=expected, status=422
        )
    except VersionConflict as exc:
        state = FormState(summary=exc.message, conflict=True, secret_typed=bool(secret), logo=logo)
        return await render_form(
            request, admin, preset, values, state, row=row, version=expected, status=409
        )
    drop_cached_discovery(request, stale)
    done = "saved" if changed else "unchanged"
    return RedirectResponse(provider_url(row.identifier, done=done), status_code=303)


async def _show(request: Request, admin: ConsoleAdmin) -> Response:
    row = await _load(request, admin)
    return RedirectResponse(provider_url(row.identifier), status_code=303)


# -- enable, disable, delete -----------------------------------------------------------------


def _switch(enabled: bool) -> Callable[[Request, ConsoleAdmin], Any]:
    async def switch(request: Request, admin: ConsoleAdmin) -> Response:
        identifier = request.path_params["identifier"]
        form = await read_form(request)
        expected = forms.version(form)

        def run(service: IdentityProviders) -> None:
            service.update(identifier, {"enabled": enabled}, expected_version=expected)

        try:
            await with_service(request, admin, run)
        except FedloginError as exc:
            return await _list_page(request, admin, error=exc.message, status=exc.status)
        back = forms.text(form, "back")
        done = "enabled" if enabled else "disabled"
        if back == "edit":
            return RedirectResponse(provider_url(identifier, done=done), status_code=303)
        return RedirectResponse(f"{BASE}?done={done}", status_code=303)

    switch.__name__ = "enable_provider" if enabled else "disable_provider"
    return switch


async def _delete(request: Request, admin: ConsoleAdmin) -> Response:
    identifier = request.path_params["identifier"]

    def count(service: IdentityProviders) -> tuple[IdentityProvider, int]:
        row = service.get(identifier)
        assert row.id is not None
        return row, linked_user_count(service.session, row.id)

    if request.method == "GET":
        row, linked = await with_service(request, admin, count)
        return _delete_page(request, admin, row, linked)
    form = await read_form(request)
    confirm = forms.flag(form, "confirm")
    expected = forms.version(form)

    def delete(service: IdentityProviders) -> str | None:
        row = service.get(identifier)
        check_version(service, row, expected)
        stale = discovery_url_of(service.plugins, row)
        service.delete(identifier, confirm=confirm)
        return stale

    try:
        stale = await with_service(request, admin, delete)
    except ConfirmationRequired as exc:
        row, linked = await with_service(request, admin, count)
        return _delete_page(request, admin, row, linked, error=exc.message, status=409)
    except VersionConflict as exc:
        row, linked = await with_service(request, admin, count)
        return _delete_page(request, admin, row, linked, error=exc.message, status=409)
    drop_cached_discovery(request, {stale})
    return RedirectResponse(f"{BASE}?done=deleted", status_code=303)


def _delete_page(
    request: Request,
    admin: ConsoleAdmin,
    row: IdentityProvider,
    linked: int,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    return console_page(
        request,
        admin,
        "console/provider_delete.html",
        {"title": f"Delete {row.name}", "row": row, "linked": linked, "error": error},
        status=status,
    )


async def _home(request: Request) -> Response:
    return RedirectResponse(BASE, status_code=303)


_ID = "/{identifier}"
ROUTES = [
    Route("/admin", _home, methods=["GET"]),
    Route("/admin/", _home, methods=["GET"]),
    Route(BASE, admin_page(_list), methods=["GET"], name="console_providers"),
    Route(f"{BASE}/new", admin_page(_new), methods=["GET", "POST"], name="console_new_provider"),
    Route(BASE + _ID, admin_page(_show), methods=["GET"]),
    Route(f"{BASE}{_ID}/edit", admin_page(_edit), methods=["GET", "POST"]),
    Route(f"{BASE}{_ID}/enable", admin_page(_switch(True)), methods=["POST"]),
    Route(f"{BASE}{_ID}/disable", admin_page(_switch(False)), methods=["POST"]),
    Route(f"{BASE}{_ID}/delete", admin_page(_delete), methods=["GET", "POST"]),
]
