"""The Google preset: its contracts and each of Google's quirks."""

from __future__ import annotations

import fedlogin_google
import pytest
from fedlogin import InvalidConfiguration
from fedlogin.testing import Plugins, check_plugin, check_preset_logo

GOOGLE_ISSUER = "https://accounts.google.com"
CLAIMS = {"sub": "1099511627776", "email": "jane@example.com", "email_verified": True}


@pytest.fixture
def plugins() -> Plugins:
    return check_plugin(fedlogin_google, name="google")


def test_passes_the_plugin_contract_kit_as_the_google_preset(plugins: Plugins) -> None:
    assert plugins.owner_of("google") == "google"
    preset = plugins.preset("google")
    assert preset.domain == "accounts.google.com"
    assert preset.scopes == ("openid", "profile", "email")
    assert preset.auth_method == "client_secret_post"


@pytest.mark.parametrize(
    "entered",
    [
        "accounts.google.com",
        "https://accounts.google.com/",
        "https://accounts.google.com/.well-known/openid-configuration",
        "",
    ],
)
def test_discovery_is_always_accounts_google_com(plugins: Plugins, entered: str) -> None:
    target = plugins.discovery("google", entered, {})
    assert target.domain == "accounts.google.com"
    assert target.url == "https://accounts.google.com/.well-known/openid-configuration"
    assert target.issuer == GOOGLE_ISSUER


def test_discovery_accepts_googles_bare_issuer_spelling_and_nothing_looser(
    plugins: Plugins,
) -> None:
    target = plugins.discovery("google", "accounts.google.com", {})
    assert target.accepts_issuer("accounts.google.com")
    assert target.accepts_issuer(GOOGLE_ISSUER)
    assert not target.accepts_issuer("https://accounts.google.com.evil.example")
    assert not target.accepts_issuer("http://accounts.google.com")


def test_discovery_refuses_a_domain_that_is_not_googles(plugins: Plugins) -> None:
    with pytest.raises(InvalidConfiguration) as refused:
        plugins.discovery("google", "google.com", {})
    assert "accounts.google.com" in refused.value.fields["domain"]


def test_tokens_may_carry_either_spelling_of_googles_issuer(plugins: Plugins) -> None:
    issuers = plugins.token_issuers("google", GOOGLE_ISSUER, CLAIMS, {})
    assert sorted(issuers) == ["accounts.google.com", GOOGLE_ISSUER]


def test_a_foreign_issuer_still_gets_the_exact_generic_check(plugins: Plugins) -> None:
    assert plugins.token_issuers("google", "https://op.example", CLAIMS, {}) == [
        "https://op.example"
    ]


@pytest.mark.parametrize(("sent", "verified"), [("true", True), ("TRUE", True), ("false", False)])
def test_email_verified_sent_as_a_string_is_understood(
    plugins: Plugins, sent: str, verified: bool
) -> None:
    claims = plugins.normalize_claims("google", {**CLAIMS, "email_verified": sent}, {})
    assert claims.email_verified is verified


def test_a_missing_email_verified_is_not_verified(plugins: Plugins) -> None:
    claims = plugins.normalize_claims("google", {"sub": "1", "email": "a@example.com"}, {})
    assert claims.email_verified is False


@pytest.mark.parametrize("hd", [None, "other.example"])
def test_hosted_domain_vetoes_accounts_outside_it(plugins: Plugins, hd: str | None) -> None:
    sent = {**CLAIMS, "hd": hd} if hd else CLAIMS
    options = {"hosted_domain": "example.com"}
    claims = plugins.normalize_claims("google", sent, options)
    vetoes = plugins.validate_domain("google", claims, options, ())
    assert [veto.code for veto in vetoes] == ["hosted_domain_mismatch"]


def test_hosted_domain_admits_its_own_workspace_accounts(plugins: Plugins) -> None:
    options = {"hosted_domain": "Example.com"}
    claims = plugins.normalize_claims("google", {**CLAIMS, "hd": "example.com"}, options)
    assert plugins.validate_domain("google", claims, options, ()) == []


def test_hosted_domain_is_also_sent_as_the_hd_hint(plugins: Plugins) -> None:
    extras = plugins.authorization_params(
        "google", {"hosted_domain": "example.com"}, ("openid", "email")
    )
    assert dict(extras.params) == {"hd": "example.com"}
    assert extras.drop_scopes == ()


def test_offline_access_becomes_access_type_offline(plugins: Plugins) -> None:
    extras = plugins.authorization_params(
        "google", {}, ("openid", "profile", "email", "offline_access")
    )
    assert dict(extras.params) == {"access_type": "offline", "prompt": "consent"}
    assert extras.drop_scopes == ("offline_access",)


def test_no_extras_without_offline_access_or_hosted_domain(plugins: Plugins) -> None:
    extras = plugins.authorization_params("google", {}, ("openid", "profile", "email"))
    assert dict(extras.params) == {}
    assert extras.drop_scopes == ()


def test_hosted_domain_must_be_a_domain_name(plugins: Plugins) -> None:
    preset = plugins.preset("google")
    assert preset.option_errors({"hosted_domain": "example.com"}) == {}
    assert preset.option_errors({"hosted_domain": ""}) == {}
    assert "hosted_domain" in preset.option_errors({"hosted_domain": "https://example.com"})


def test_setup_guide_has_the_documents_steps_and_help_for_every_field(
    plugins: Plugins,
) -> None:
    guide = plugins.setup_guide("google")
    assert guide.steps == (
        "Go to the Google Cloud Console.",
        "Create a new project or select an existing one.",
        "Navigate to APIs & Services → Credentials.",
        "Click Create Credentials → OAuth client ID.",
        "Select Web application.",
        "Add your callback URL to Authorized redirect URIs.",
        "Copy the Client ID and Client Secret.",
    )
    assert guide.domain == "accounts.google.com"
    assert guide.scopes == "openid profile email"
    expected = {"domain", "client_id", "client_secret", "scopes", "hosted_domain"}
    assert expected <= set(guide.field_help)


def test_logo_is_a_64_pixel_svg_that_cannot_run_script(plugins: Plugins) -> None:
    preset = plugins.preset("google")
    assert preset.logo.media_type == "image/svg+xml"
    check_preset_logo(preset)
