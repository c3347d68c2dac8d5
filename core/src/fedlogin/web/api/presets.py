"""``/api/v1/presets``: the presets the installed plugins offer, with their setup guides."""

from __future__ import annotations

from typing import Any

import attrs
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fedlogin.presets import ProviderPreset
from fedlogin.store.logos import LOGO_RESPONSE_HEADERS
from fedlogin.store.provider_views import callback_url
from fedlogin.web.admin_auth import require_admin
from fedlogin.web.api.io import ok
from fedlogin.web.api.openapi import Operation
from fedlogin.web.context import app_context


def preset_summary(request: Request, preset: ProviderPreset) -> dict[str, Any]:
    plugins = app_context(request).plugins
    return {
        "name": preset.id,
        "display_name": preset.name,
        "description": preset.description,
        "plugin": plugins.owner_of(preset.id),
        "logo_url": str(request.url_for("preset_logo", name=preset.id)),
    }


async def list_presets(request: Request) -> Response:
    await require_admin(request)
    presets = app_context(request).plugins.presets()
    return ok({"presets": [preset_summary(request, preset) for preset in presets]})


async def show_preset(request: Request) -> Response:
    await require_admin(request)
    context = app_context(request)
    preset = context.plugins.preset(request.path_params["name"])
    # The guide quotes the callback URL; "{identifier}" stands for the one the admin picks.
    callback = callback_url(context.config.base_url, "{identifier}")
    guide = context.plugins.setup_guide(preset.id, callback)
    return ok(
        {
            **preset_summary(request, preset),
            "defaults": {
                "domain": preset.domain,
                "domain_examples": list(preset.domain_examples),
                "scopes": list(preset.scopes),
                "auth_method": preset.auth_method,
                "button_text": preset.button_text,
                "attribute_mapping": dict(preset.attribute_mapping),
            },
            "fields": [attrs.asdict(field) for field in preset.fields],
            "setup_guide": {
                "callback_url": callback,
                "steps": list(guide.steps),
                "domain": guide.domain,
                "scopes": guide.scopes,
                "notes": list(guide.notes),
                "field_help": dict(guide.field_help),
                "console_url": guide.console_url,
            },
        }
    )


async def preset_logo(request: Request) -> Response:
    # Public: the login page shows preset logos for providers without their own upload.
    logo = app_context(request).plugins.preset(request.path_params["name"]).logo
    return Response(logo.data, media_type=logo.media_type, headers=LOGO_RESPONSE_HEADERS)


ROUTES = [
    Route("/presets", list_presets, methods=["GET"]),
    Route("/presets/{name}", show_preset, methods=["GET"]),
    Route("/presets/{name}/logo", preset_logo, methods=["GET"], name="preset_logo"),
]

_PRESET = {"type": "object", "required": ["name", "display_name", "description", "plugin"]}

OPERATIONS = [
    Operation(
        "GET",
        "/presets",
        "List the presets of the installed plugins",
        "presets",
        response={"type": "object", "properties": {"presets": {"type": "array", "items": _PRESET}}},
    ),
    Operation(
        "GET",
        "/presets/{name}",
        "A preset's defaults, extra fields and setup guide",
        "presets",
        response=_PRESET,
        errors={404: "No installed plugin offers this preset (unknown_preset)."},
    ),
    Operation(
        "GET",
        "/presets/{name}/logo",
        "The preset's logo image",
        "presets",
        public=True,
        response={"type": "string", "format": "binary"},
        errors={404: "No installed plugin offers this preset (unknown_preset)."},
    ),
]
