"""GitLab (gitlab.com or self-managed) as a fedlogin preset: the plugin guide's example."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fedlogin import Logo, NormalizedClaims, ProviderPreset, SetupGuide, hookimpl

PRESET = ProviderPreset(
    id="gitlab",
    name="GitLab",
    description="GitLab.com or a self-managed GitLab instance.",
    domain="gitlab.com",
    domain_examples=("gitlab.com", "gitlab.example.com"),
    setup_guide=SetupGuide(
        steps=(
            "In GitLab, open Edit profile → Applications (or Admin → Applications).",
            "Add a new application with the scopes openid, profile and email.",
            "Enter the callback URL shown on this page as the Redirect URI.",
            "Copy the Application ID and Secret into Client ID and Client Secret.",
        ),
        domain="gitlab.com (or your instance's host name)",
        field_help={"domain": "gitlab.com, or the host name of your self-managed instance."},
    ),
    logo=Logo(
        "image/svg+xml",
        b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">'
        b'<path d="M32 58 6 26l8-20 8 20h20l8-20 8 20z" fill="#e24329"/></svg>',
    ),
)


@hookimpl
def fedlogin_presets() -> Sequence[ProviderPreset]:
    return [PRESET]


@hookimpl
def fedlogin_normalize_claims(preset: str, claims: Mapping[str, Any]) -> NormalizedClaims | None:
    if preset != PRESET.id:
        return None
    # GitLab names the groups claim "groups_direct" for direct memberships only.
    merged = dict(claims)
    merged.setdefault("groups", claims.get("groups_direct", []))
    return NormalizedClaims(
        subject=str(claims.get("sub", "")),
        email=claims.get("email"),
        email_verified=claims.get("email_verified") is True,
        claims=merged,
    )
