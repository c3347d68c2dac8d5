"""fedlogin: federated login with OpenID Connect identity providers, built from plugins.

This module is the public API for plugin authors. A provider plugin needs nothing else::

    from fedlogin import hookimpl, ProviderPreset, SetupGuide, Logo

Everything importable from here (and from :mod:`fedlogin.testing`) is stable; the other
modules are the core's own business.
"""

from __future__ import annotations

from fedlogin.domains import (
    DomainError,
    base_url,
    discovery_url,
    email_domain,
    is_hostname,
    normalize_domain,
)
from fedlogin.errors import FedloginError, InvalidClaims, InvalidConfiguration
from fedlogin.hookspecs import hookimpl
from fedlogin.presets import (
    AUTH_METHODS,
    DEFAULT_ATTRIBUTE_MAPPING,
    DEFAULT_BUTTON_TEXT,
    DEFAULT_SCOPES,
    AuthorizationExtras,
    DiscoveryTarget,
    Logo,
    NormalizedClaims,
    PresetField,
    ProviderPreset,
    SetupGuide,
    Veto,
)

__all__ = [
    "AUTH_METHODS",
    "DEFAULT_ATTRIBUTE_MAPPING",
    "DEFAULT_BUTTON_TEXT",
    "DEFAULT_SCOPES",
    "AuthorizationExtras",
    "DiscoveryTarget",
    "DomainError",
    "FedloginError",
    "InvalidClaims",
    "InvalidConfiguration",
    "Logo",
    "NormalizedClaims",
    "PresetField",
    "ProviderPreset",
    "SetupGuide",
    "Veto",
    "base_url",
    "discovery_url",
    "email_domain",
    "hookimpl",
    "is_hostname",
    "normalize_domain",
]
