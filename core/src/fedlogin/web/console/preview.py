"""The login buttons a host's login page shows, for the console's previews (S2, S3).

It resolves the host exactly as the login page does
(:func:`fedlogin.store.brands.effective_login_config`), keeps the providers whose preset a
plugin still offers on that brand, and shows each one's logo and button text.
"""

from __future__ import annotations

import attrs
from sqlmodel import Session, col, select

from fedlogin.errors import UnknownPreset
from fedlogin.plugins import Plugins
from fedlogin.store.brands import LoginConfig, effective_login_config
from fedlogin.store.tables import IdentityProvider


@attrs.frozen
class PreviewButton:
    identifier: str
    text: str
    logo_url: str


@attrs.frozen
class LoginPreview:
    host: str
    config: LoginConfig
    buttons: tuple[PreviewButton, ...]

    @property
    def shows_providers(self) -> bool:
        return self.config.federated_login_enabled and bool(self.buttons)


def login_preview(session: Session, plugins: Plugins, host: str) -> LoginPreview:
    config = effective_login_config(session, host)
    rows: dict[str, IdentityProvider] = {}
    if config.federated_login_enabled and config.identity_providers:
        query = select(IdentityProvider).where(
            col(IdentityProvider.identifier).in_(config.identity_providers)
        )
        rows = {row.identifier: row for row in session.exec(query).all()}
    brand_plugins = plugins.for_brand(config.disabled_plugins)
    buttons = []
    for identifier in config.identity_providers:
        row = rows.get(identifier)
        if row is None or not _offered(brand_plugins, row.preset):
            continue
        logo = (
            f"/api/v1/identity-providers/{row.identifier}/logo?v={row.logo_id}"
            if row.logo_id is not None
            else f"/api/v1/presets/{row.preset}/logo"
        )
        buttons.append(PreviewButton(row.identifier, row.button_text, logo))
    return LoginPreview(host, config, tuple(buttons))


def _offered(plugins: Plugins, preset: str) -> bool:
    try:
        plugins.preset(preset)
    except UnknownPreset:
        return False
    return True
