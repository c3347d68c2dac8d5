"""Brands (S2): ``/admin/brands``, a brand's hosts and its own federated-login settings.

A brand inherits the platform's Federated Login switch and providers, or overrides them;
whichever it does, it may switch provider plugins off for its hosts (a provider whose
preset comes from a switched-off plugin is not offered there). Each brand's page previews
the login buttons of its first host, resolved as the login page resolves it.

Changes go through :mod:`fedlogin.store.brands` (validation, host uniqueness, audit) with
the version the page was loaded at.
"""

from __future__ import annotations

from typing import Any

import attrs
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from fedlogin.errors import FedloginError, NotFound
from fedlogin.store.brands import (
    BrandNotFound,
    create_brand,
    delete_brand,
    get_brand,
    list_brands,
    update_brand,
)
from fedlogin.store.changes import begin_admin_change
from fedlogin.store.errors import VersionConflict
from fedlogin.store.tables import Brand, IdentityProvider
from fedlogin.web.console import forms
from fedlogin.web.console.auth import ConsoleAdmin, admin_page, read_form
from fedlogin.web.console.layout import console_page, error_fields
from fedlogin.web.console.offer import OfferInput, all_providers, offer_rows, read_offer
from fedlogin.web.console.preview import LoginPreview, login_preview
from fedlogin.web.context import AppContext, app_context

BASE = "/admin/brands"


@attrs.frozen
class BrandForm:
    """A brand's form as typed (strings and choices, kept for a re-render)."""

    name: str = ""
    hosts: str = ""
    inherit: bool = True
    federated_login_enabled: bool = False
    offer: OfferInput = attrs.field(factory=lambda: OfferInput((), frozenset()))
    disabled_plugins: frozenset[str] = frozenset()

    @classmethod
    def of(cls, row: Brand) -> BrandForm:
        return cls(
            name=row.name,
            hosts="\n".join(row.hosts),
            inherit=row.inherit,
            federated_login_enabled=row.federated_login_enabled,
            offer=OfferInput(tuple(row.identity_providers), frozenset(row.identity_providers)),
            disabled_plugins=frozenset(row.disabled_plugins),
        )

    @classmethod
    def read(cls, form: Any) -> BrandForm:
        return cls(
            name=forms.text(form, "name"),
            hosts=forms.text(form, "hosts"),
            inherit=forms.text(form, "mode") != "override",
            federated_login_enabled=forms.flag(form, "federated_login_enabled"),
            offer=read_offer(form),
            disabled_plugins=frozenset(forms.names(form, "disabled_plugins")),
        )

    def store_data(self, plugin_order: list[str]) -> dict[str, Any]:
        return {
            "name": self.name,
            "hosts": self.hosts,
            "inherit": self.inherit,
            "federated_login_enabled": self.federated_login_enabled,
            "identity_providers": self.offer.identity_providers,
            # In the plugins page's order, so that an unchanged form changes nothing.
            "disabled_plugins": [p for p in plugin_order if p in self.disabled_plugins]
            + sorted(self.disabled_plugins - set(plugin_order)),
        }


def brand_number(request: Request) -> int:
    raw = request.path_params["id"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise BrandNotFound(f"There is no brand {raw!r}.")
    return int(raw)


# -- the list -------------------------------------------------------------------------------


async def _list(request: Request, admin: ConsoleAdmin) -> Response:
    ctx = app_context(request)

    def load(session: Session) -> list[tuple[Brand, LoginPreview | None]]:
        return [
            (row, login_preview(session, ctx, row.hosts[0]) if row.hosts else None)
            for row in list_brands(session)
        ]

    brands = await ctx.transaction(load)
    done = request.query_params.get("done")
    notice = {"deleted": "The brand was deleted."}.get(done or "")
    return console_page(
        request,
        admin,
        "console/brands.html",
        {"title": "Brands", "brands": brands, "notice": notice},
    )


# -- new and edit ---------------------------------------------------------------------------


async def _new(request: Request, admin: ConsoleAdmin) -> Response:
    providers = await _providers(request)
    if request.method == "GET":
        return _form_page(request, admin, BrandForm(), providers)
    form = BrandForm.read(await read_form(request))
    if form.offer.moved:
        return _form_page(request, admin, form, providers, notice=_MOVED)
    ctx = app_context(request)
    data = form.store_data(_plugin_names(request))

    def create(session: Session) -> int:
        row = create_brand(session, data, actor=admin.principal.actor, plugins=ctx.plugins)
        assert row.id is not None
        return row.id

    try:
        number = await ctx.transaction(create)
    except FedloginError as exc:
        return _form_page(request, admin, form, providers, error=exc)
    return RedirectResponse(f"{BASE}/{number}?done=created", status_code=303)


async def _load_brand(
    ctx: AppContext, number: int
) -> tuple[Brand, list[IdentityProvider], LoginPreview | None]:
    """The brand, every provider it may offer, and a preview of its first host's login page."""

    def load(session: Session) -> tuple[Brand, list[IdentityProvider], LoginPreview | None]:
        row = get_brand(session, number)
        preview = login_preview(session, ctx, row.hosts[0]) if row.hosts else None
        return row, all_providers(session), preview

    return await ctx.transaction(load)


async def _edit(request: Request, admin: ConsoleAdmin) -> Response:
    ctx = app_context(request)
    number = brand_number(request)

    row, providers, preview = await _load_brand(ctx, number)
    if request.method == "GET":
        done = request.query_params.get("done")
        notice = {"created": "The brand was added.", "saved": "Your changes were saved."}
        return _form_page(
            request,
            admin,
            BrandForm.of(row),
            providers,
            row=row,
            version=row.version,
            preview=preview,
            notice=notice.get(done or ""),
        )
    raw = await read_form(request)
    form = BrandForm.read(raw)
    expected = forms.version(raw)
    if form.offer.moved:
        return _form_page(
            request,
            admin,
            form,
            providers,
            row=row,
            version=expected,
            preview=preview,
            notice=_MOVED,
        )
    data = form.store_data(_plugin_names(request))

    def save(session: Session) -> None:
        update_brand(
            session,
            number,
            data,
            actor=admin.principal.actor,
            plugins=ctx.plugins,
            expected_version=expected,
        )

    try:
        await ctx.transaction(save)
    except FedloginError as exc:
        if isinstance(exc, NotFound):
            raise
        return _form_page(
            request,
            admin,
            form,
            providers,
            row=row,
            version=expected,
            preview=preview,
            error=exc,
        )
    return RedirectResponse(f"{BASE}/{number}?done=saved", status_code=303)


async def _delete(request: Request, admin: ConsoleAdmin) -> Response:
    number = brand_number(request)
    raw = await read_form(request)
    expected = forms.version(raw)

    def delete(session: Session) -> None:
        begin_admin_change(session)
        row = get_brand(session, number)
        if expected is not None and row.version != expected:
            raise VersionConflict(
                f"The brand {row.name!r} was changed by someone else since you opened it; "
                "nothing was deleted. Reload it and look again."
            )
        delete_brand(session, number, actor=admin.principal.actor)

    if not forms.flag(raw, "confirm"):
        message = "Tick the box to confirm that the brand should be deleted."
        return await _refuse_delete(request, admin, number, message)
    try:
        await app_context(request).transaction(delete)
    except VersionConflict as exc:
        return await _refuse_delete(request, admin, number, exc.message)
    return RedirectResponse(f"{BASE}?done=deleted", status_code=303)


async def _refuse_delete(
    request: Request, admin: ConsoleAdmin, number: int, message: str
) -> Response:
    ctx = app_context(request)

    row, providers, preview = await _load_brand(ctx, number)
    return _form_page(
        request,
        admin,
        BrandForm.of(row),
        providers,
        row=row,
        version=row.version,
        preview=preview,
        delete_error=message,
        status=409,
    )


# -- rendering ------------------------------------------------------------------------------

_MOVED = "The order changed on this page only: Save to apply it."


async def _providers(request: Request) -> list[IdentityProvider]:
    return await app_context(request).transaction(all_providers)


def _plugin_names(request: Request) -> list[str]:
    return [info.name for info in app_context(request).plugins.infos()]


def _form_page(
    request: Request,
    admin: ConsoleAdmin,
    form: BrandForm,
    providers: list[IdentityProvider],
    *,
    row: Brand | None = None,
    version: int | None = None,
    preview: LoginPreview | None = None,
    notice: str | None = None,
    error: FedloginError | None = None,
    delete_error: str | None = None,
    status: int = 200,
) -> Response:
    plugins = app_context(request).plugins
    return console_page(
        request,
        admin,
        "console/brand_form.html",
        {
            "title": f"Brand: {row.name}" if row else "Add brand",
            "form": form,
            "row": row,
            "version": version,
            "rows": offer_rows(providers, form.offer.order, form.offer.offered),
            "plugins": plugins.infos(),
            "preview": preview,
            "notice": notice,
            "errors": error_fields(error) if error else {},
            "summary": error.message if error else None,
            "conflict": isinstance(error, VersionConflict),
            "delete_error": delete_error,
            "action": f"{BASE}/{row.id}" if row else f"{BASE}/new",
        },
        status=error.status if error else status,
    )


ROUTES = [
    Route(BASE, admin_page(_list), methods=["GET"], name="console_brands"),
    Route(f"{BASE}/new", admin_page(_new), methods=["GET", "POST"]),
    Route(BASE + "/{id}", admin_page(_edit), methods=["GET", "POST"]),
    Route(BASE + "/{id}/delete", admin_page(_delete), methods=["POST"]),
]
