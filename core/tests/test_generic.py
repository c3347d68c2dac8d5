"""The core's generic OpenID Connect behaviour (the trylast fallbacks every preset inherits)."""

from __future__ import annotations

import fedlogin_generic_oidc
from fedlogin.testing import check_plugin

PLUGINS = check_plugin(fedlogin_generic_oidc)


def test_discovery_expects_the_issuer_with_or_without_trailing_slash() -> None:
    target = PLUGINS.discovery("generic-oidc", "https://sso.example.com/realms/main/", {})
    assert target.url == "https://sso.example.com/realms/main/.well-known/openid-configuration"
    assert target.accepts_issuer("https://sso.example.com/realms/main")
    assert target.accepts_issuer("https://sso.example.com/realms/main/")
    assert not target.accepts_issuer("https://sso.example.com/realms/other")


def test_token_issuers_is_the_discovered_issuer_and_never_an_unresolved_template() -> None:
    claims = {"tid": "9188040d-6c67-4c5b-b112-36a304b66dad"}
    assert PLUGINS.token_issuers("generic-oidc", "https://op.example", claims, {}) == [
        "https://op.example"
    ]
    template = "https://login.microsoftonline.com/{tenantid}/v2.0"
    assert PLUGINS.token_issuers("generic-oidc", template, claims, {}) == []


def test_setup_guide_defaults_to_the_presets_own_guide() -> None:
    guide = PLUGINS.setup_guide("generic-oidc")
    assert guide == fedlogin_generic_oidc.PRESET.setup_guide


def test_string_email_verified_is_not_an_assertion_by_default() -> None:
    claims = PLUGINS.normalize_claims(
        "generic-oidc", {"sub": "1", "email": "a@b.org", "email_verified": "true"}, {}
    )
    assert claims.email_verified is False
