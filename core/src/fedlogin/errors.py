"""The one small error hierarchy: each error has a stable ``code`` and a message safe to show.

The web layer turns these into pages and JSON (``{"error": {"code", "message", "fields"}}``);
nothing else in the core needs to know about HTTP, so ``status`` is only a suggestion for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class FedloginError(Exception):
    """Base class. ``message`` is shown to users or admins as is: never put a secret in it."""

    code = "error"
    status = 400

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: Mapping[str, str] | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.fields = dict(fields or {})
        self.hint = hint

    def details(self) -> dict[str, Any]:
        """Machine-readable facts beyond code, message and fields (JSON error bodies)."""
        return {}

    def headers(self) -> dict[str, str]:
        """HTTP headers that are part of what the status means (401's WWW-Authenticate)."""
        return {}


class InvalidConfiguration(FedloginError):
    """What an admin entered cannot be used; ``fields`` says which field and why.

    Plugins raise this from their hooks for bad admin input (an Azure tenant that is not a
    GUID, say); it is shown as a field error and does not mark the plugin as broken.
    """

    code = "invalid_configuration"
    status = 422


class InvalidClaims(FedloginError):
    """The provider's claims cannot identify a user (no subject, an unusable tenant...)."""

    code = "invalid_claims"


class NotFound(FedloginError):
    code = "not_found"
    status = 404


class UnknownPreset(NotFound):
    code = "unknown_preset"


class PluginFailure(FedloginError):
    """A plugin broke its hook contract while we needed its answer."""

    code = "plugin_failed"
    status = 500
