"""The Auth0 preset: the trailing-slash issuer, namespaced claims and updated_at."""

from __future__ import annotations

from typing import Any

import fedlogin_auth0
import pytest
from fedlogin import DEFAULT_ATTRIBUTE_MAPPING, InvalidConfiguration
from fedlogin.testing import Plugins, check_plugin, check_preset_logo

TENANT = "your-tenant.us.auth0.com"


def token(**claims: Any) -> dict[str, Any]:
    return {
        "sub": "auth0|65f0c0ffee",
        "email": "jane@example.com",
        "email_verified": True,
        **claims,
    }


@pytest.fixture
def plugins() -> Plugins:
    return check_plugin(fedlogin_auth0, name="auth0")


def test_passes_the_plugin_contract_kit_as_the_auth0_preset(plugins: Plugins) -> None:
    assert plugins.owner_of("auth0") == "auth0"
    preset = plugins.preset("auth0")
    assert preset.domain_examples[0] == TENANT
    assert preset.scopes == ("openid", "profile", "email")
    assert preset.auth_method == "client_secret_post"


@pytest.mark.parametrize(
    "entered",
    [TENANT, f"https://{TENANT}/", f"https://{TENANT}/.well-known/openid-configuration"],
)
def test_the_issuer_keeps_auth0s_trailing_slash_and_only_that_spelling(
    plugins: Plugins, entered: str
) -> None:
    target = plugins.discovery("auth0", entered, {})
    assert target.domain == TENANT
    assert target.url == f"https://{TENANT}/.well-known/openid-configuration"
    assert target.issuer == f"https://{TENANT}/"
    assert not target.accepts_issuer(f"https://{TENANT}")


def test_tokens_are_checked_against_the_trailing_slash_issuer(plugins: Plugins) -> None:
    target = plugins.discovery("auth0", TENANT, {})
    assert plugins.token_issuers("auth0", target.issuer, token(), {}) == [f"https://{TENANT}/"]


def test_a_custom_domain_is_any_host(plugins: Plugins) -> None:
    target = plugins.discovery("auth0", "https://login.example.com", {})
    assert target.issuer == "https://login.example.com/"


@pytest.mark.parametrize("domain", ["", f"{TENANT}/authorize", f"{TENANT}/u/login"])
def test_an_empty_domain_or_a_path_is_a_field_error(plugins: Plugins, domain: str) -> None:
    with pytest.raises(InvalidConfiguration) as refused:
        plugins.discovery("auth0", domain, {})
    assert "domain" in refused.value.fields


def test_namespaced_custom_claims_reach_the_attribute_mapping(plugins: Plugins) -> None:
    sent = token(**{"https://example.com/org": "Acme", "https://example.com/roles": ["admin"]})
    claims = plugins.normalize_claims("auth0", sent, {})
    mapping = {**DEFAULT_ATTRIBUTE_MAPPING, "company": "https://example.com/org"}
    assert claims.claims[mapping["company"]] == "Acme"
    assert claims.claims["https://example.com/roles"] == ["admin"]


@pytest.mark.parametrize(
    ("sent", "epoch"),
    [
        ("2024-05-01T09:30:00.000Z", 1714555800),
        ("2024-05-01T11:30:00+02:00", 1714555800),
        ("2024-05-01T09:30:00", 1714555800),
        ("1714555800", 1714555800),
        (1714555800, 1714555800),
    ],
)
def test_updated_at_becomes_seconds_since_the_epoch(
    plugins: Plugins, sent: object, epoch: int
) -> None:
    claims = plugins.normalize_claims("auth0", token(updated_at=sent), {})
    assert claims.claims["updated_at"] == epoch
    assert type(claims.claims["updated_at"]) is int


@pytest.mark.parametrize("sent", ["yesterday", "", True, None, {"at": 1}])
def test_an_unreadable_updated_at_is_dropped(plugins: Plugins, sent: object) -> None:
    claims = plugins.normalize_claims("auth0", token(updated_at=sent), {})
    assert "updated_at" not in claims.claims


def test_a_missing_updated_at_stays_missing(plugins: Plugins) -> None:
    claims = plugins.normalize_claims("auth0", token(), {})
    assert "updated_at" not in claims.claims
    assert claims.subject == "auth0|65f0c0ffee"
    assert claims.email_verified is True


def test_the_username_comes_from_auth0s_nickname(plugins: Plugins) -> None:
    mapping = plugins.preset("auth0").attribute_mapping
    assert mapping["username"] == "nickname"
    assert {k: v for k, v in mapping.items() if k != "username"} == {
        k: v for k, v in DEFAULT_ATTRIBUTE_MAPPING.items() if k != "username"
    }


def test_setup_guide_has_the_documents_steps_and_help_for_every_field(
    plugins: Plugins,
) -> None:
    guide = plugins.setup_guide("auth0")
    assert guide.steps == (
        "Go to your Auth0 Dashboard.",
        "Navigate to Applications → Create Application.",
        "Select Regular Web Application.",
        "Go to the Settings tab.",
        "Add your callback URL to Allowed Callback URLs.",
        "Copy the Domain, Client ID, and Client Secret.",
    )
    assert guide.domain.startswith(TENANT)
    assert guide.scopes == "openid profile email"
    assert {"domain", "client_id", "client_secret", "scopes"} <= set(guide.field_help)


def test_logo_is_a_64_pixel_svg_that_cannot_run_script(plugins: Plugins) -> None:
    preset = plugins.preset("auth0")
    assert preset.logo.media_type == "image/svg+xml"
    check_preset_logo(preset)
