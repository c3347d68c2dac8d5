"""``/admin/plugins``: the installed plugins, their versions and presets, and broken ones.

A plugin that failed to import or broke a hook contract is left out by the host (which
keeps running) and listed here with the reason, as ``fedlogin plugins list`` does.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fedlogin.plugins import DISABLED_ENV
from fedlogin.web.console.auth import ConsoleAdmin, admin_page
from fedlogin.web.console.layout import console_page
from fedlogin.web.context import app_context


async def _plugins(request: Request, admin: ConsoleAdmin) -> Response:
    plugins = app_context(request).plugins
    presets = {preset.id: preset for preset in plugins.presets()}
    infos = plugins.infos()
    return console_page(
        request,
        admin,
        "console/plugins.html",
        {
            "title": "Plugins",
            "infos": infos,
            "presets": presets,
            "broken": [info for info in infos if info.status == "broken"],
            "disabled_env": DISABLED_ENV,
        },
    )


ROUTES = [Route("/admin/plugins", admin_page(_plugins), methods=["GET"], name="console_plugins")]
