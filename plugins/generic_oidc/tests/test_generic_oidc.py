"""The generic OpenID Connect preset: what an admin pastes into the Domain is normalised."""

from __future__ import annotations

import fedlogin_generic_oidc
import pytest
from fedlogin import DEFAULT_ATTRIBUTE_MAPPING, InvalidConfiguration
from fedlogin.testing import Plugins, check_plugin, check_preset_logo


@pytest.fixture
def plugins() -> Plugins:
    return check_plugin(fedlogin_generic_oidc, name="generic-oidc")


def test_passes_the_plugin_contract_kit_with_the_documents_defaults(plugins: Plugins) -> None:
    assert plugins.owner_of("generic-oidc") == "generic-oidc"
    preset = plugins.preset("generic-oidc")
    assert preset.scopes == ("openid", "profile", "email")
    assert preset.auth_method == "client_secret_post"
    assert preset.attribute_mapping == DEFAULT_ATTRIBUTE_MAPPING
    assert preset.button_text == "Login with {name}"
    assert preset.fields == ()


@pytest.mark.parametrize(
    "pasted",
    [
        "sso.example.com",
        "https://sso.example.com",
        "https://sso.example.com/",
        "sso.example.com/",
        "https://SSO.Example.com/.well-known/openid-configuration",
        "  https://sso.example.com:443/  ",
    ],
)
def test_pasted_urls_normalise_to_the_same_domain(plugins: Plugins, pasted: str) -> None:
    target = plugins.discovery("generic-oidc", pasted, {})
    assert target.domain == "sso.example.com"
    assert target.url == "https://sso.example.com/.well-known/openid-configuration"
    assert target.issuer == "https://sso.example.com"


@pytest.mark.parametrize(
    "pasted",
    [
        "sso.example.com/realms/main",
        "https://sso.example.com/realms/main/",
        "https://sso.example.com/realms/main/.well-known/openid-configuration",
    ],
)
def test_a_path_is_kept(plugins: Plugins, pasted: str) -> None:
    target = plugins.discovery("generic-oidc", pasted, {})
    assert target.domain == "sso.example.com/realms/main"
    assert target.url == "https://sso.example.com/realms/main/.well-known/openid-configuration"
    assert target.issuer == "https://sso.example.com/realms/main"


@pytest.mark.parametrize("pasted", ["", "ftp://sso.example.com", "sso example.com"])
def test_what_names_no_provider_is_a_domain_field_error(plugins: Plugins, pasted: str) -> None:
    with pytest.raises(InvalidConfiguration) as refused:
        plugins.discovery("generic-oidc", pasted, {})
    assert "domain" in refused.value.fields


def test_setup_guide_has_the_documents_steps_and_help_for_every_field(
    plugins: Plugins,
) -> None:
    guide = plugins.setup_guide("generic-oidc")
    assert guide.steps[:3] == (
        "Register an application (client) in your provider.",
        "Configure the callback URL shown on this page as an allowed redirect URI.",
        "Obtain the Client ID and Client Secret.",
    )
    assert any("/.well-known/openid-configuration" in step for step in guide.steps)
    assert any("issuer URL" in step for step in guide.steps)
    assert any("Test Connection" in step for step in guide.steps)
    assert guide.scopes == "openid profile email"
    assert {"domain", "client_id", "client_secret", "scopes"} <= set(guide.field_help)


def test_logo_is_a_64_pixel_svg_that_cannot_run_script(plugins: Plugins) -> None:
    preset = plugins.preset("generic-oidc")
    assert preset.logo.media_type == "image/svg+xml"
    check_preset_logo(preset)
