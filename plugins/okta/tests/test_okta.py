"""The Okta preset: org and custom authorization servers, and the groups claim."""

from __future__ import annotations

import fedlogin_okta
import pytest
from fedlogin import InvalidConfiguration
from fedlogin.testing import Plugins, check_plugin, check_preset_logo

ORG = "your-org.okta.com"


@pytest.fixture
def plugins() -> Plugins:
    return check_plugin(fedlogin_okta, name="okta")


def test_passes_the_plugin_contract_kit_as_the_okta_preset(plugins: Plugins) -> None:
    assert plugins.owner_of("okta") == "okta"
    preset = plugins.preset("okta")
    assert preset.domain_examples[0] == ORG
    assert preset.scopes == ("openid", "profile", "email")
    assert preset.auth_method == "client_secret_post"


def test_an_empty_authorization_server_is_the_org_authorization_server(
    plugins: Plugins,
) -> None:
    target = plugins.discovery("okta", f"https://{ORG}/", {"authorization_server": ""})
    assert target.domain == ORG
    assert target.url == f"https://{ORG}/.well-known/openid-configuration"
    assert target.issuer == f"https://{ORG}"
    assert not target.accepts_issuer(f"https://{ORG}/")


@pytest.mark.parametrize("server", ["default", "aus1a2b3c4d5e6f7g8h9"])
def test_an_authorization_server_builds_its_oauth2_path(plugins: Plugins, server: str) -> None:
    target = plugins.discovery("okta", ORG, {"authorization_server": server})
    assert target.domain == f"{ORG}/oauth2/{server}"
    assert target.url == f"https://{ORG}/oauth2/{server}/.well-known/openid-configuration"
    assert target.issuer == f"https://{ORG}/oauth2/{server}"
    assert not target.accepts_issuer(f"https://{ORG}")


@pytest.mark.parametrize("server", ["", "default"])
def test_an_oauth2_path_typed_into_the_domain_is_understood(plugins: Plugins, server: str) -> None:
    pasted = f"https://{ORG}/oauth2/default/.well-known/openid-configuration"
    target = plugins.discovery("okta", pasted, {"authorization_server": server})
    assert target.domain == f"{ORG}/oauth2/default"
    assert target.issuer == f"https://{ORG}/oauth2/default"


def test_a_domain_and_a_field_naming_different_servers_is_an_error(plugins: Plugins) -> None:
    with pytest.raises(InvalidConfiguration) as refused:
        plugins.discovery("okta", f"{ORG}/oauth2/default", {"authorization_server": "aus9xyz"})
    assert set(refused.value.fields) == {"domain", "authorization_server"}


@pytest.mark.parametrize(
    "domain", [f"{ORG}/oauth2/default/v1/authorize", f"{ORG}/oauth2", f"{ORG}/app/home"]
)
def test_other_paths_in_the_domain_are_refused_with_a_field_error(
    plugins: Plugins, domain: str
) -> None:
    with pytest.raises(InvalidConfiguration) as refused:
        plugins.discovery("okta", domain, {})
    assert "domain" in refused.value.fields


def test_the_admin_console_host_becomes_the_org_host(plugins: Plugins) -> None:
    target = plugins.discovery("okta", "https://your-org-admin.okta.com", {})
    assert target.domain == ORG
    custom = plugins.discovery("okta", "login-admin.example.com", {})
    assert custom.domain == "login-admin.example.com"


def test_a_domain_is_required(plugins: Plugins) -> None:
    with pytest.raises(InvalidConfiguration) as refused:
        plugins.discovery("okta", " ", {"authorization_server": "default"})
    assert "domain" in refused.value.fields


def test_the_authorization_server_field_refuses_anything_but_default_or_an_id(
    plugins: Plugins,
) -> None:
    preset = plugins.preset("okta")
    for good in ("", "default", "aus1a2b3c4d5e6f7g8h9"):
        assert preset.option_errors({"authorization_server": good}) == {}
    for bad in ("Default", "oauth2/default", "aus/../x", "0oa1b2c3"):
        assert "authorization_server" in preset.option_errors({"authorization_server": bad})


@pytest.mark.parametrize(
    ("sent", "groups"),
    [("Everyone", ["Everyone"]), (["Everyone", "Admins"], ["Everyone", "Admins"]), ([], [])],
)
def test_groups_are_always_a_list_of_strings(
    plugins: Plugins, sent: object, groups: list[str]
) -> None:
    claims = plugins.normalize_claims("okta", {"sub": "00u1", "groups": sent}, {})
    assert claims.claims["groups"] == groups


def test_groups_drop_what_is_not_a_group_name(plugins: Plugins) -> None:
    claims = plugins.normalize_claims("okta", {"sub": "00u1", "groups": ["a", 7, None]}, {})
    assert claims.claims["groups"] == ["a"]
    odd = plugins.normalize_claims("okta", {"sub": "00u1", "groups": {"a": 1}}, {})
    assert "groups" not in odd.claims


def test_missing_groups_stay_missing(plugins: Plugins) -> None:
    claims = plugins.normalize_claims(
        "okta", {"sub": "00u1", "email": "a@example.com", "email_verified": True}, {}
    )
    assert "groups" not in claims.claims
    assert claims.subject == "00u1"
    assert claims.email_verified is True


def test_setup_guide_has_the_documents_steps_and_help_for_every_field(
    plugins: Plugins,
) -> None:
    guide = plugins.setup_guide("okta")
    assert guide.steps == (
        "Go to your Okta Admin Console.",
        "Navigate to Applications → Create App Integration.",
        "Select OIDC - OpenID Connect and Web Application.",
        "Add your callback URL to Sign-in redirect URIs.",
        "Copy the Client ID and Client Secret.",
    )
    assert guide.domain == ORG
    assert guide.scopes == "openid profile email"
    expected = {"domain", "client_id", "client_secret", "scopes", "authorization_server"}
    assert expected <= set(guide.field_help)


def test_logo_is_a_64_pixel_svg_that_cannot_run_script(plugins: Plugins) -> None:
    preset = plugins.preset("okta")
    assert preset.logo.media_type == "image/svg+xml"
    check_preset_logo(preset)
