"""Preset for any OpenID Connect provider (Keycloak, authentik, Zitadel, Dex, ...).

It adds nothing to the core's generic behaviour except the preset itself: a provider that
follows the specifications needs no quirks. The Domain field accepts what admins usually have
at hand (the issuer URL, a trailing slash, the discovery URL); the core normalises it.
"""

from __future__ import annotations

from collections.abc import Sequence

from fedlogin import Logo, ProviderPreset, SetupGuide, hookimpl

PRESET_ID = "generic-oidc"

SETUP_GUIDE = SetupGuide(
    steps=(
        "Register an application (client) in your provider.",
        "Configure the callback URL shown on this page as an allowed redirect URI.",
        "Obtain the Client ID and Client Secret.",
        "Find the OIDC discovery URL (usually https://provider/.well-known/openid-configuration).",
        "Extract the domain from the issuer URL and enter it as the Domain.",
        "Use the Test Connection button to verify your configuration before saving.",
    ),
    domain="provider.example.com (or the issuer URL, with its path if it has one)",
    scopes="openid profile email",
    field_help={
        "domain": "The issuer of your provider without https:// (a path is allowed, e.g. "
        "sso.example.com/realms/main). Pasting the issuer or discovery URL also works.",
        "client_id": "The client identifier your provider issued for this application.",
        "client_secret": "The client secret; leave blank for a public client using "
        "authentication method 'none'.",
        "scopes": "openid is required; add groups or offline_access if your provider supports "
        "them.",
    },
)

PRESET = ProviderPreset(
    id=PRESET_ID,
    name="OpenID Connect",
    description="Any OpenID Connect compliant provider, such as Keycloak, authentik or Zitadel.",
    domain="",
    domain_examples=("sso.example.com", "sso.example.com/realms/main"),
    setup_guide=SETUP_GUIDE,
    logo=Logo.from_package(__name__, "logo.svg"),
)


@hookimpl
def fedlogin_presets() -> Sequence[ProviderPreset]:
    return [PRESET]
