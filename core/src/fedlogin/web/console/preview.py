"""The login buttons a host's login page shows, for the console's previews (S2, S3).

It is the login page's own reading of a host (:func:`fedlogin.web.login.load_offer`: the
brand, its settings, the providers whose preset a plugin still offers there), so a preview
cannot differ from the page it previews.
"""

from __future__ import annotations

import attrs
from sqlmodel import Session

from fedlogin.store.brands import LoginConfig
from fedlogin.web.context import AppContext
from fedlogin.web.login import LoginButton, load_offer


@attrs.frozen
class LoginPreview:
    host: str
    config: LoginConfig
    buttons: tuple[LoginButton, ...]

    @property
    def shows_providers(self) -> bool:
        return self.config.federated_login_enabled and bool(self.buttons)


def login_preview(session: Session, ctx: AppContext, host: str) -> LoginPreview:
    offer = load_offer(session, host, ctx)
    return LoginPreview(host, offer.login, offer.buttons)
