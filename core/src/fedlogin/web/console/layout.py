"""How every console page is rendered: the console's navigation around the page's content."""

from __future__ import annotations

from typing import Any

import attrs
from starlette.requests import Request
from starlette.responses import Response

from fedlogin.errors import FedloginError
from fedlogin.web.console.auth import ConsoleAdmin
from fedlogin.web.pages import render


@attrs.frozen
class NavItem:
    label: str
    href: str


NAVIGATION = (
    NavItem("Identity Providers", "/admin/identity-providers"),
    NavItem("Users", "/admin/users"),
    NavItem("Settings", "/admin/settings/accounts"),
    NavItem("Brands", "/admin/brands"),
    NavItem("Plugins", "/admin/plugins"),
)


def console_page(
    request: Request,
    admin: ConsoleAdmin,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
) -> Response:
    path = request.url.path
    current = next((item.href for item in NAVIGATION if path.startswith(item.href)), None)
    values = {"admin": admin, "navigation": NAVIGATION, "current_nav": current, **context}
    return render(request, template, values, status_code=status)


def error_fields(exc: FedloginError) -> dict[str, str]:
    """Field errors of a refused change; a refusal naming no field is shown under ``_form``."""
    return dict(exc.fields) if exc.fields else {"_form": exc.message}
