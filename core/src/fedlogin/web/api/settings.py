"""``/api/v1/settings/accounts``: Settings → Accounts → Authentication (S1).

``federated_login_enabled`` and ``identity_providers`` (identifiers, in the order the login
page shows them; an unknown identifier is a field error). PATCH changes the fields given;
PUT replaces the settings and so needs both. Optimistic locking as for providers:
``If-Match`` or the body's ``version``.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from fedlogin.store.changes import begin_admin_change
from fedlogin.store.errors import VersionConflict
from fedlogin.store.fields import FieldErrors
from fedlogin.store.settings import (
    SETTINGS_FIELDS,
    get_settings,
    settings_fields,
    update_settings,
)
from fedlogin.web.admin_auth import require_admin
from fedlogin.web.api.io import ok, read_json
from fedlogin.web.api.openapi import Operation
from fedlogin.web.api.params import etag, expected_version
from fedlogin.web.api.routing import resource
from fedlogin.web.context import app_context

_PATH = "/settings/accounts"


async def show_settings(request: Request) -> Response:
    await require_admin(request)
    view = await app_context(request).transaction(lambda s: settings_fields(get_settings(s)))
    return ok(view, headers=etag(view["version"]))


async def change_settings(request: Request) -> Response:
    principal = await require_admin(request)
    body = await read_json(request)
    if request.method == "PUT":
        errors = FieldErrors()
        for field in SETTINGS_FIELDS:
            if field not in body:
                errors.add(field, "field_required", f"{field} is required (PUT replaces).")
        errors.raise_if_any("The account settings")
    expected = expected_version(request, body)

    def run(session: Session) -> dict[str, Any]:
        if expected is not None:
            begin_admin_change(session)  # the lock, so the version read stays current
            current = get_settings(session).version
            if current != expected:
                raise VersionConflict(
                    f"The account settings were changed by someone else (version {current}, "
                    f"you edited version {expected}); reload them."
                )
        return settings_fields(update_settings(session, body, actor=principal.actor))

    view = await app_context(request).transaction(run)
    return ok(view, headers=etag(view["version"]))


ROUTES = [resource(_PATH, {"GET": show_settings, "PUT": change_settings, "PATCH": change_settings})]

SETTINGS = {
    "type": "object",
    "properties": {
        "federated_login_enabled": {"type": "boolean"},
        "identity_providers": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Identifiers of the providers offered, in login-page order.",
        },
        "updated_at": {"type": "string", "format": "date-time", "readOnly": True},
        "version": {"type": "integer"},
    },
}
_ERRORS = {
    400: "The body or If-Match is malformed (invalid_json, invalid_version).",
    409: "The settings changed since the version you sent (version_conflict).",
    413: "The body is too large (too_large).",
    415: "The body is not JSON (unsupported_media_type).",
    422: "Fields are invalid (unknown_provider, invalid_type, unknown_field, field_required).",
}

OPERATIONS = [
    Operation("GET", _PATH, "Settings → Accounts: federated login", "settings", response=SETTINGS),
    Operation(
        "PUT",
        _PATH,
        "Replace the account settings (both fields required)",
        "settings",
        request={**SETTINGS, "required": list(SETTINGS_FIELDS)},
        response=SETTINGS,
        errors=_ERRORS,
    ),
    Operation(
        "PATCH",
        _PATH,
        "Change the account settings given",
        "settings",
        request=SETTINGS,
        response=SETTINGS,
        errors=_ERRORS,
    ),
]
