"""Okta as a fedlogin preset: the org authorization server or a custom one.

Okta's quirks, each with its source (Okta developer docs, "Authorization servers"):

* Every Okta org has an *org authorization server* whose issuer is the org itself
  (``https://your-org.okta.com``) and may have *custom authorization servers* (``default`` or
  an ID starting with ``aus``) whose issuer is ``https://your-org.okta.com/oauth2/{id}``. The
  preset's Authorization server field picks one; an admin who pasted ``/oauth2/{id}`` into the
  Domain gets the same result. Pasting the admin console's host (``your-org-admin.okta.com``)
  is a common slip: its OpenID Connect issuer is the org host without ``-admin``.
* ``groups`` is a list when a user has several groups but may be a single string, depending
  on the groups claim's filter; it is always handed on as a list of strings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from fedlogin import (
    DiscoveryTarget,
    InvalidConfiguration,
    Logo,
    NormalizedClaims,
    PresetField,
    ProviderPreset,
    SetupGuide,
    base_url,
    discovery_url,
    hookimpl,
    normalize_domain,
    standard_claims,
)

PRESET_ID = "okta"
SERVER_PATTERN = r"default|aus[0-9A-Za-z]{1,60}"
#: Okta's own cells, whose admin console lives on ``{org}-admin.{cell}``.
OKTA_CELLS = ("okta.com", "oktapreview.com", "okta-emea.com")

AUTHORIZATION_SERVER = PresetField(
    name="authorization_server",
    label="Authorization server",
    help="Leave empty for the org authorization server (issuer https://your-org.okta.com). "
    "Enter default, or the ID of a custom authorization server (aus…), to use that server "
    "(issuer https://your-org.okta.com/oauth2/{id}).",
    example="default",
    pattern=SERVER_PATTERN,
    pattern_error="must be empty, default, or an authorization server ID starting with aus",
)

SETUP_GUIDE = SetupGuide(
    steps=(
        "Go to your Okta Admin Console.",
        "Navigate to Applications → Create App Integration.",
        "Select OIDC - OpenID Connect and Web Application.",
        "Add your callback URL to Sign-in redirect URIs.",
        "Copy the Client ID and Client Secret.",
    ),
    domain="your-org.okta.com",
    scopes="openid profile email",
    notes=(
        "Groups: with the org authorization server add the groups scope; with a custom "
        "authorization server add a groups claim to it (Security → API).",
    ),
    field_help={
        "domain": "Your Okta domain, such as your-org.okta.com or your custom domain (not the "
        "-admin console address).",
        "client_id": "The Client ID from the app integration's General tab.",
        "client_secret": "The Client Secret from the same tab.",
        "scopes": "openid profile email; add groups to receive group memberships and "
        "offline_access for refresh tokens.",
        AUTHORIZATION_SERVER.name: AUTHORIZATION_SERVER.help,
    },
)

PRESET = ProviderPreset(
    id=PRESET_ID,
    name="Okta",
    description="Okta workforce identity: the org authorization server or a custom one.",
    domain="",
    domain_examples=("your-org.okta.com", "your-org.okta.com/oauth2/default"),
    setup_guide=SETUP_GUIDE,
    logo=Logo.from_package(__name__, "logo.svg"),
    fields=(AUTHORIZATION_SERVER,),
)

_SERVER = re.compile(SERVER_PATTERN)


@hookimpl
def fedlogin_presets() -> Sequence[ProviderPreset]:
    return [PRESET]


@hookimpl
def fedlogin_discovery(
    preset: str, domain: str, options: Mapping[str, str]
) -> DiscoveryTarget | None:
    if preset != PRESET_ID:
        return None
    entered = AUTHORIZATION_SERVER.value_in(options)
    if not domain.strip():
        message = "Enter your Okta domain, such as your-org.okta.com."
        raise InvalidConfiguration(message, fields={"domain": message})
    org, typed = _split_domain(normalize_domain(domain))
    server = AUTHORIZATION_SERVER.reconcile(entered, typed)
    canonical = f"{org}/oauth2/{server}" if server else org
    # Okta's issuers never end in a slash: no alias for one.
    return DiscoveryTarget(
        url=discovery_url(canonical), issuer=base_url(canonical), domain=canonical
    )


def _split_domain(canonical: str) -> tuple[str, str | None]:
    """The org's location and the authorization server named in its path, if any."""
    scheme = "http://" if canonical.startswith("http://") else ""
    host, _, path = canonical.removeprefix(scheme).partition("/")
    label, dot, cell = host.partition(".")
    if cell in OKTA_CELLS and label.endswith("-admin"):
        host = label.removesuffix("-admin") + dot + cell
    if not path:
        return scheme + host, None
    segments = path.split("/")
    if len(segments) == 2 and segments[0] == "oauth2" and _SERVER.fullmatch(segments[1]):
        return scheme + host, segments[1]
    message = (
        f"Expected your Okta domain ({host}) or {host}/oauth2/{{authorization server}}, "
        f"not {canonical}."
    )
    raise InvalidConfiguration(message, fields={"domain": message})


@hookimpl
def fedlogin_normalize_claims(preset: str, claims: Mapping[str, Any]) -> NormalizedClaims | None:
    if preset != PRESET_ID:
        return None
    merged = dict(claims)
    if "groups" in claims:
        groups = _groups(claims["groups"])
        if groups is None:
            del merged["groups"]
        else:
            merged["groups"] = groups
    return standard_claims(claims, mapped=merged)


def _groups(value: object) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [group for group in value if isinstance(group, str)]
    return None  # not something the attribute mapping could make sense of
