"""The PingOne preset: region and environment ID build the domain and the issuer."""

from __future__ import annotations

import fedlogin_pingone
import pytest
from fedlogin import InvalidConfiguration
from fedlogin.testing import Plugins, check_plugin, check_preset_logo

ENV = "5a1f3c2e-9d8b-4c7a-b6e5-0f1d2c3b4a59"
OTHER_ENV = "0b6f2a4c-1d3e-4f5a-8b7c-9d0e1f2a3b4c"


@pytest.fixture
def plugins() -> Plugins:
    return check_plugin(fedlogin_pingone, name="pingone")


def test_passes_the_plugin_contract_kit_as_the_pingone_preset(plugins: Plugins) -> None:
    assert plugins.owner_of("pingone") == "pingone"
    preset = plugins.preset("pingone")
    assert preset.domain_examples == ("auth.pingone.com/{environment-id}/as",)
    assert preset.default_options() == {"region": "com", "environment_id": ""}
    assert preset.scopes == ("openid", "profile", "email")
    assert preset.auth_method == "client_secret_post"


@pytest.mark.parametrize("region", ["com", "eu", "ca", "asia", "com.au", "sg"])
def test_region_and_environment_build_the_domain_and_issuer(plugins: Plugins, region: str) -> None:
    target = plugins.discovery("pingone", "", {"region": region, "environment_id": ENV})
    assert target.domain == f"auth.pingone.{region}/{ENV}/as"
    assert target.url == f"https://auth.pingone.{region}/{ENV}/as/.well-known/openid-configuration"
    assert target.issuer == f"https://auth.pingone.{region}/{ENV}/as"
    assert not target.accepts_issuer(f"https://auth.pingone.{region}/{ENV}/as/")


def test_the_environment_id_is_lower_cased(plugins: Plugins) -> None:
    target = plugins.discovery("pingone", "", {"region": "eu", "environment_id": ENV.upper()})
    assert target.issuer == f"https://auth.pingone.eu/{ENV}/as"


def test_the_documents_placeholder_domain_defers_to_the_fields(plugins: Plugins) -> None:
    target = plugins.discovery(
        "pingone", "auth.pingone.com/{environment-id}/as", {"region": "ca", "environment_id": ENV}
    )
    assert target.domain == f"auth.pingone.ca/{ENV}/as"


@pytest.mark.parametrize(
    "pasted",
    [
        f"https://auth.pingone.eu/{ENV}/as/.well-known/openid-configuration",
        f"https://auth.pingone.eu/{ENV}/as/",
        f"auth.pingone.eu/{ENV}",
    ],
)
def test_a_pasted_issuer_fills_fields_left_empty_or_at_their_default(
    plugins: Plugins, pasted: str
) -> None:
    target = plugins.discovery("pingone", pasted, {"region": "com", "environment_id": ""})
    assert target.domain == f"auth.pingone.eu/{ENV}/as"
    assert target.issuer == f"https://auth.pingone.eu/{ENV}/as"


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"region": "com", "environment_id": OTHER_ENV}, "environment_id"),
        ({"region": "ca", "environment_id": ENV}, "region"),
    ],
)
def test_a_domain_contradicting_the_fields_is_an_error(
    plugins: Plugins, options: dict[str, str], field: str
) -> None:
    with pytest.raises(InvalidConfiguration) as refused:
        plugins.discovery("pingone", f"auth.pingone.eu/{ENV}/as", options)
    assert set(refused.value.fields) == {"domain", field}


@pytest.mark.parametrize(
    "domain",
    [
        f"auth.pingone.de/{ENV}/as",
        f"sso.example.com/{ENV}/as",
        f"auth.pingone.com/{ENV}/as/authorize",
        "auth.pingone.com/not-an-environment/as",
    ],
)
def test_a_domain_that_is_no_pingone_environment_is_refused(plugins: Plugins, domain: str) -> None:
    with pytest.raises(InvalidConfiguration) as refused:
        plugins.discovery("pingone", domain, {"region": "com", "environment_id": ENV})
    assert "domain" in refused.value.fields


def test_without_an_environment_id_discovery_asks_for_one(plugins: Plugins) -> None:
    with pytest.raises(InvalidConfiguration) as refused:
        plugins.discovery("pingone", "", {"region": "com"})
    assert "environment_id" in refused.value.fields


def test_option_errors_check_region_and_environment_id(plugins: Plugins) -> None:
    preset = plugins.preset("pingone")
    assert preset.option_errors({"region": "eu", "environment_id": ENV}) == {}
    assert set(preset.option_errors({"region": "com"})) == {"environment_id"}
    assert set(preset.option_errors({"region": "de", "environment_id": ENV})) == {"region"}
    bad_env = preset.option_errors({"region": "com", "environment_id": "prod"})
    assert set(bad_env) == {"environment_id"}
    assert "UUID" in bad_env["environment_id"]


def test_setup_guide_has_the_documents_steps_and_help_for_every_field(
    plugins: Plugins,
) -> None:
    guide = plugins.setup_guide("pingone")
    assert guide.steps == (
        "Go to your PingOne Admin Console.",
        "Navigate to Connections → Applications.",
        "Create a new OIDC Web App.",
        "Add your callback URL to the redirect URIs.",
        "Copy the Client ID and Client Secret.",
        "Note your Environment ID.",
    )
    assert guide.domain == "auth.pingone.com/{environment-id}/as"
    assert guide.scopes == "openid profile email"
    expected = {"domain", "client_id", "client_secret", "scopes", "region", "environment_id"}
    assert expected <= set(guide.field_help)


def test_logo_is_a_64_pixel_svg_that_cannot_run_script(plugins: Plugins) -> None:
    preset = plugins.preset("pingone")
    assert preset.logo.media_type == "image/svg+xml"
    check_preset_logo(preset)
