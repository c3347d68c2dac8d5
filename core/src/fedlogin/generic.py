"""The core's generic behaviour, registered as an ordinary plugin of ``trylast`` fallbacks.

Presets override any of these by answering first for their own preset id; everything a
preset leaves alone behaves as a standards-following OpenID provider would.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fedlogin.claims import standard_claims
from fedlogin.domains import base_url, discovery_url, email_domain, normalize_domain
from fedlogin.hookspecs import hookimpl
from fedlogin.presets import DiscoveryTarget, NormalizedClaims, ProviderPreset, SetupGuide, Veto

#: The plugin name under which the generic implementation is registered. It cannot be
#: blocked or switched off per brand.
CORE_PLUGIN_NAME = "fedlogin.core"


class GenericOpenIDConnect:
    """Generic OpenID Connect behaviour for every preset."""

    def __init__(self, find_preset: Callable[[str], ProviderPreset | None]) -> None:
        self._find_preset = find_preset

    @hookimpl(trylast=True)
    def fedlogin_discovery(self, domain: str) -> DiscoveryTarget:
        canonical = normalize_domain(domain)
        issuer = base_url(canonical)
        # OpenID Connect Discovery 4.1: the discovery URL is the issuer with any trailing
        # slash removed; some providers keep that slash in the issuer itself.
        return DiscoveryTarget(
            url=discovery_url(canonical),
            issuer=issuer,
            domain=canonical,
            issuer_aliases=(issuer + "/",),
        )

    @hookimpl(trylast=True)
    def fedlogin_token_issuers(self, issuer: str) -> Sequence[str]:
        # A template issuer (Azure's "{tenantid}") that no preset resolved matches nothing.
        return [] if "{" in issuer else [issuer]

    @hookimpl(trylast=True)
    def fedlogin_normalize_claims(self, claims: Mapping[str, Any]) -> NormalizedClaims:
        # OpenID Connect Core 5.1: email_verified is a JSON boolean. Anything else (a string,
        # a number) is not an assertion we can rely on; presets that know better say so.
        return standard_claims(claims)

    @hookimpl(trylast=True)
    def fedlogin_validate_domain(
        self, claims: NormalizedClaims, allowed_domains: Sequence[str]
    ) -> Veto | None:
        if not allowed_domains:
            return None
        domain = email_domain(claims.email)
        if domain is None:
            return Veto(
                "This provider only admits addresses of "
                + ", ".join(allowed_domains)
                + ", and it did not send an email address."
            )
        if domain not in allowed_domains:
            return Veto(
                f"Email addresses at {domain} are not allowed to sign in with this provider "
                "(allowed: " + ", ".join(allowed_domains) + ")."
            )
        return None

    @hookimpl(trylast=True)
    def fedlogin_setup_guide(self, preset: str) -> SetupGuide | None:
        found = self._find_preset(preset)
        return found.setup_guide if found else None
