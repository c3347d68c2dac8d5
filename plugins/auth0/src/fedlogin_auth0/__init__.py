"""Auth0 as a fedlogin preset: an Auth0 tenant domain or its custom domain.

Auth0's quirks, each with its source (Auth0 docs):

* The issuer is the tenant's URL *with* a trailing slash (``https://tenant.us.auth0.com/``),
  in the discovery document and in every ID token; the discovery URL has no double slash.
  We expect exactly that spelling.
* Custom claims must be namespaced with a URL (``https://example.com/roles``, "Create custom
  claims"); they are handed on unchanged so that the attribute mapping can name them.
* ``updated_at`` is an ISO-8601 string (``2024-05-01T09:30:00.000Z``) where OpenID Connect Core
  5.1 wants seconds since the epoch; it is converted, and dropped when it cannot be read.
* Auth0's normalised profile has no ``preferred_username``; ``nickname`` is always there, so
  the username is mapped from it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from fedlogin import (
    DEFAULT_ATTRIBUTE_MAPPING,
    DiscoveryTarget,
    InvalidConfiguration,
    Logo,
    NormalizedClaims,
    ProviderPreset,
    SetupGuide,
    base_url,
    discovery_url,
    hookimpl,
    normalize_domain,
    standard_claims,
)

PRESET_ID = "auth0"

SETUP_GUIDE = SetupGuide(
    steps=(
        "Go to your Auth0 Dashboard.",
        "Navigate to Applications → Create Application.",
        "Select Regular Web Application.",
        "Go to the Settings tab.",
        "Add your callback URL to Allowed Callback URLs.",
        "Copy the Domain, Client ID, and Client Secret.",
    ),
    domain="your-tenant.us.auth0.com (or your custom domain)",
    scopes="openid profile email",
    notes=(
        "Custom claims added by an Auth0 Action are namespaced (https://example.com/roles): "
        "use that full name in the attribute mapping.",
    ),
    field_help={
        "domain": "The Domain from the application's Settings tab (your-tenant.us.auth0.com), "
        "or your custom domain if you use one for sign-in.",
        "client_id": "The Client ID from the application's Settings tab.",
        "client_secret": "The Client Secret from the same tab.",
        "scopes": "openid profile email; add offline_access for refresh tokens.",
    },
    console_url="https://manage.auth0.com/",
)

PRESET = ProviderPreset(
    id=PRESET_ID,
    name="Auth0",
    description="An Auth0 tenant, on its auth0.com domain or a custom domain.",
    domain="",
    domain_examples=("your-tenant.us.auth0.com", "login.example.com"),
    setup_guide=SETUP_GUIDE,
    logo=Logo.from_package(__name__, "logo.svg"),
    attribute_mapping={**DEFAULT_ATTRIBUTE_MAPPING, "username": "nickname"},
)

_EPOCH_DIGITS = re.compile(r"[0-9]{1,12}")


@hookimpl
def fedlogin_presets() -> Sequence[ProviderPreset]:
    return [PRESET]


@hookimpl
def fedlogin_discovery(preset: str, domain: str) -> DiscoveryTarget | None:
    if preset != PRESET_ID:
        return None
    if not domain.strip():
        message = "Enter your Auth0 domain, such as your-tenant.us.auth0.com."
        raise InvalidConfiguration(message, fields={"domain": message})
    canonical = normalize_domain(domain)
    if "/" in canonical.removeprefix("http://"):
        message = (
            "An Auth0 domain is a host name (your-tenant.us.auth0.com or your custom domain) "
            "without a path."
        )
        raise InvalidConfiguration(message, fields={"domain": message})
    return DiscoveryTarget(
        url=discovery_url(canonical), issuer=base_url(canonical) + "/", domain=canonical
    )


@hookimpl
def fedlogin_normalize_claims(preset: str, claims: Mapping[str, Any]) -> NormalizedClaims | None:
    if preset != PRESET_ID:
        return None
    merged = dict(claims)  # namespaced custom claims included, for the attribute mapping
    if "updated_at" in claims:
        updated_at = epoch_seconds(claims["updated_at"])
        if updated_at is None:
            del merged["updated_at"]
        else:
            merged["updated_at"] = updated_at
    return standard_claims(claims, mapped=merged)


def epoch_seconds(value: object) -> int | None:
    """Seconds since the epoch from a number or an ISO-8601 string, or ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _EPOCH_DIGITS.fullmatch(text):
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # Auth0 writes UTC; a bare time is read as UTC
    return int(moment.timestamp())
