"""``/api/v1/brands``: brands with their own hosts and federated-login settings (S2).

A brand ``inherit``\\ s the global account settings or sets its own switch and providers;
``disabled_plugins`` switches provider plugins off for its hosts (names from the list this
API returns with the brands; an unknown name is a field error). Optimistic locking as for
providers: ``If-Match`` or the body's ``version``.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from fedlogin.store.brands import (
    BrandNotFound,
    brand_fields,
    create_brand,
    delete_brand,
    get_brand,
    list_brands,
    update_brand,
)
from fedlogin.store.changes import begin_admin_change
from fedlogin.store.errors import VersionConflict
from fedlogin.web.admin_auth import require_admin
from fedlogin.web.api.io import ok, read_json
from fedlogin.web.api.openapi import Operation
from fedlogin.web.api.params import etag, expected_version
from fedlogin.web.api.routing import resource
from fedlogin.web.context import app_context

View = dict[str, Any]


def brand_id(request: Request) -> int:
    raw = request.path_params["id"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise BrandNotFound(f"There is no brand {raw!r}: brand ids are numbers.")
    return int(raw)


async def list_all(request: Request) -> Response:
    await require_admin(request)
    context = app_context(request)
    brands = await context.transaction(lambda s: [brand_fields(b) for b in list_brands(s)])
    plugins = [
        {"name": info.name, "status": info.status, "presets": list(info.presets)}
        for info in context.plugins.infos()
    ]
    return ok({"brands": brands, "plugins": plugins})


async def create(request: Request) -> Response:
    principal = await require_admin(request)
    body = await read_json(request)
    context = app_context(request)
    view = await context.transaction(
        lambda s: brand_fields(
            create_brand(s, body, actor=principal.actor, plugins=context.plugins)
        )
    )
    location = str(request.url_for("brand", id=str(view["id"])))
    return ok(view, 201, {**etag(view["version"]), "Location": location})


async def show(request: Request) -> Response:
    await require_admin(request)
    number = brand_id(request)
    view = await app_context(request).transaction(lambda s: brand_fields(get_brand(s, number)))
    return ok(view, headers=etag(view["version"]))


async def update(request: Request) -> Response:
    principal = await require_admin(request)
    number = brand_id(request)
    body = await read_json(request)
    expected = expected_version(request, body)
    context = app_context(request)

    def run(session: Session) -> View:
        row = update_brand(
            session,
            number,
            body,
            actor=principal.actor,
            plugins=context.plugins,
            expected_version=expected,
        )
        return brand_fields(row)

    view = await context.transaction(run)
    return ok(view, headers=etag(view["version"]))


async def delete(request: Request) -> Response:
    principal = await require_admin(request)
    number = brand_id(request)
    expected = expected_version(request)

    def run(session: Session) -> None:
        if expected is not None:
            begin_admin_change(session)
            row = get_brand(session, number)
            if row.version != expected:
                raise VersionConflict(
                    f"The brand {row.name!r} was changed by someone else; reload it."
                )
        delete_brand(session, number, actor=principal.actor)

    await app_context(request).transaction(run)
    return ok({"deleted": number})


ROUTES = [
    resource("/brands", {"GET": list_all, "POST": create}),
    resource("/brands/{id}", {"GET": show, "PATCH": update, "DELETE": delete}, name="brand"),
]

_STRINGS = {"type": "array", "items": {"type": "string"}}
BRAND = {
    "type": "object",
    "properties": {
        "id": {"type": "integer", "readOnly": True},
        "name": {"type": "string", "maxLength": 100},
        "hosts": {**_STRINGS, "description": "Host names (with :port when not default)."},
        "inherit": {
            "type": "boolean",
            "description": "Use the global Settings → Accounts instead of the two below.",
        },
        "federated_login_enabled": {"type": "boolean"},
        "identity_providers": {**_STRINGS, "description": "Identifiers, in login-page order."},
        "disabled_plugins": {**_STRINGS, "description": "Plugin names switched off here."},
        "created_at": {"type": "string", "format": "date-time", "readOnly": True},
        "updated_at": {"type": "string", "format": "date-time", "readOnly": True},
        "version": {"type": "integer"},
    },
}
_PLUGIN = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "status": {"type": "string", "enum": ["ok", "broken", "disabled"]},
        "presets": _STRINGS,
    },
}
_NOT_FOUND = {404: "There is no such brand (brand_not_found)."}
_INVALID = {
    400: "The body or If-Match is malformed (invalid_json, invalid_version).",
    413: "The body is too large (too_large).",
    415: "The body is not JSON (unsupported_media_type).",
    422: "Fields are invalid (brand_name_taken, host_taken, unknown_provider, unknown_plugin, "
    "...): `fields` and `field_codes` say which and why.",
}
_CONFLICT = {409: "The brand changed since the version you sent (version_conflict)."}

OPERATIONS = [
    Operation(
        "GET",
        "/brands",
        "List the brands, and the installed plugins a brand can switch off",
        "brands",
        response={
            "type": "object",
            "properties": {
                "brands": {"type": "array", "items": BRAND},
                "plugins": {"type": "array", "items": _PLUGIN},
            },
        },
    ),
    Operation(
        "POST",
        "/brands",
        "Create a brand",
        "brands",
        request={**BRAND, "required": ["name", "hosts"]},
        response=BRAND,
        status=201,
        errors=_INVALID,
    ),
    Operation("GET", "/brands/{id}", "A brand", "brands", response=BRAND, errors=_NOT_FOUND),
    Operation(
        "PATCH",
        "/brands/{id}",
        "Change the brand's fields given",
        "brands",
        request=BRAND,
        response=BRAND,
        errors={**_INVALID, **_NOT_FOUND, **_CONFLICT},
    ),
    Operation(
        "DELETE",
        "/brands/{id}",
        "Delete a brand (its hosts then use the global settings)",
        "brands",
        response={"type": "object", "properties": {"deleted": {"type": "integer"}}},
        errors={**_NOT_FOUND, **_CONFLICT},
    ),
]
