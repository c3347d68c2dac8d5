"""fedlogin: federated login with OpenID Connect identity providers, built from plugins.

This module is the public API for plugin authors. A provider plugin needs nothing else::

    from fedlogin import hookimpl, ProviderPreset, SetupGuide, Logo

and, for claim quirks, the helpers of :mod:`fedlogin.claims` re-exported here
(``standard_claims``, ``claim_is_true``, ``is_guid``, ``normalize_email``).

Everything importable from here (and from :mod:`fedlogin.testing`) is stable; the other
modules are the core's own business.
"""

from __future__ import annotations

from fedlogin.claims import (
    GUID_PATTERN,
    claim_is_true,
    is_guid,
    normalize_email,
    standard_claims,
)
from fedlogin.domains import (
    DOMAIN_NAME_PATTERN,
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
    "DOMAIN_NAME_PATTERN",
    "GUID_PATTERN",
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
    "claim_is_true",
    "discovery_url",
    "email_domain",
    "hookimpl",
    "is_guid",
    "is_hostname",
    "normalize_domain",
    "normalize_email",
    "standard_claims",
]
