"""The Microsoft / Azure AD preset: tenants, the {tenantid} issuer, the subject and nOAuth."""

from __future__ import annotations

from typing import Any

import fedlogin_azure_ad
import pytest
from fedlogin import InvalidConfiguration
from fedlogin.testing import Plugins, check_plugin, check_preset_logo

TENANT_ID = "b7a1c2d3-0e4f-4a5b-8c6d-7e8f9a0b1c2d"
OTHER_TENANT_ID = "11111111-2222-4333-8444-555555555555"
PERSONAL_TENANT_ID = "9188040d-6c67-4c5b-b112-36a304b66dad"
OBJECT_ID = "00000000-0000-0000-66f3-3332eca7ea81"
TEMPLATE = "https://login.microsoftonline.com/{tenantid}/v2.0"


def token(**claims: Any) -> dict[str, Any]:
    base = {
        "sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ",
        "tid": TENANT_ID,
        "oid": OBJECT_ID,
    }
    return {**base, **claims}


@pytest.fixture
def plugins() -> Plugins:
    return check_plugin(fedlogin_azure_ad, name="azure-ad")


def test_passes_the_plugin_contract_kit_as_the_azure_ad_preset(plugins: Plugins) -> None:
    assert plugins.owner_of("azure-ad") == "azure-ad"
    preset = plugins.preset("azure-ad")
    assert preset.default_options()["tenant"] == "common"
    assert preset.scopes == ("openid", "profile", "email")
    assert preset.auth_method == "client_secret_post"
    assert "login.microsoftonline.com/{tenant-id}/v2.0" in preset.domain_examples


# -- discovery: the tenant builds the domain ------------------------------------------------


@pytest.mark.parametrize(
    ("tenant", "domain", "issuer"),
    [
        ("common", "login.microsoftonline.com/common/v2.0", TEMPLATE),
        ("organizations", "login.microsoftonline.com/organizations/v2.0", TEMPLATE),
        (
            "consumers",
            "login.microsoftonline.com/consumers/v2.0",
            f"https://login.microsoftonline.com/{PERSONAL_TENANT_ID}/v2.0",
        ),
        (
            TENANT_ID.upper(),
            f"login.microsoftonline.com/{TENANT_ID}/v2.0",
            f"https://login.microsoftonline.com/{TENANT_ID}/v2.0",
        ),
        (
            "Contoso.onmicrosoft.com",
            "login.microsoftonline.com/contoso.onmicrosoft.com/v2.0",
            TEMPLATE,
        ),
    ],
)
def test_the_tenant_field_builds_the_domain_and_the_expected_issuer(
    plugins: Plugins, tenant: str, domain: str, issuer: str
) -> None:
    target = plugins.discovery("azure-ad", "", {"tenant": tenant})
    assert target.domain == domain
    assert target.url == f"https://{domain}/.well-known/openid-configuration"
    assert target.issuer == issuer


def test_a_single_tenant_issuer_is_exact_and_not_a_template(plugins: Plugins) -> None:
    target = plugins.discovery("azure-ad", "", {"tenant": TENANT_ID})
    assert not target.accepts_issuer(TEMPLATE)
    assert not target.accepts_issuer(f"https://login.microsoftonline.com/{OTHER_TENANT_ID}/v2.0")


@pytest.mark.parametrize("tenant", ["contoso.com", "Contoso.onmicrosoft.com"])
def test_a_verified_domain_accepts_its_tenants_guid_issuer_from_discovery(
    plugins: Plugins, tenant: str
) -> None:
    # Microsoft's document for .../contoso.com/v2.0 names the tenant by its ID.
    target = plugins.discovery("azure-ad", "", {"tenant": tenant})
    assert target.domain == f"login.microsoftonline.com/{tenant.lower()}/v2.0"
    assert target.accepts_issuer(f"https://login.microsoftonline.com/{TENANT_ID}/v2.0")
    assert target.accepts_issuer(f"https://login.microsoftonline.com/{TENANT_ID.upper()}/v2.0")


@pytest.mark.parametrize(
    "issuer",
    [
        "https://login.microsoftonline.com/contoso.com/v2.0",
        f"https://login.microsoftonline.us/{TENANT_ID}/v2.0",
        f"https://login.microsoftonline.com.evil.example/{TENANT_ID}/v2.0",
        f"https://login.microsoftonline.com/{TENANT_ID}/v2.0/",
        f"https://login.microsoftonline.com/{TENANT_ID}",
        f"https://sts.windows.net/{TENANT_ID}/",
    ],
)
def test_a_verified_domain_accepts_no_other_issuer(plugins: Plugins, issuer: str) -> None:
    target = plugins.discovery("azure-ad", "", {"tenant": "contoso.com"})
    assert not target.accepts_issuer(issuer)


def test_a_verified_domains_discovered_issuer_is_then_checked_exactly(plugins: Plugins) -> None:
    discovered = f"https://login.microsoftonline.com/{TENANT_ID}/v2.0"
    options = {"tenant": "contoso.com"}
    assert plugins.token_issuers("azure-ad", discovered, token(), options) == [discovered]
    other = token(tid=OTHER_TENANT_ID)
    assert plugins.token_issuers("azure-ad", discovered, other, options) == [discovered]


def test_only_a_verified_domain_gets_an_issuer_pattern(plugins: Plugins) -> None:
    for tenant in ("common", "organizations", "consumers", TENANT_ID):
        assert plugins.discovery("azure-ad", "", {"tenant": tenant}).issuer_pattern == ""
    national = plugins.discovery("azure-ad", "login.microsoftonline.us/contoso.us", {})
    assert national.accepts_issuer(f"https://login.microsoftonline.us/{TENANT_ID}/v2.0")
    assert not national.accepts_issuer(f"https://login.microsoftonline.com/{TENANT_ID}/v2.0")


@pytest.mark.parametrize(
    "pasted",
    [
        f"https://login.microsoftonline.com/{TENANT_ID}/v2.0/.well-known/openid-configuration",
        f"login.microsoftonline.com/{TENANT_ID}/v2.0/",
        f"https://login.microsoftonline.com/{TENANT_ID}",
    ],
)
def test_a_pasted_domain_gives_the_tenant_when_the_field_is_left_at_common(
    plugins: Plugins, pasted: str
) -> None:
    target = plugins.discovery("azure-ad", pasted, {"tenant": "common"})
    assert target.domain == f"login.microsoftonline.com/{TENANT_ID}/v2.0"
    assert target.issuer == f"https://login.microsoftonline.com/{TENANT_ID}/v2.0"


def test_the_documents_placeholder_domain_defers_to_the_tenant_field(plugins: Plugins) -> None:
    target = plugins.discovery(
        "azure-ad", "login.microsoftonline.com/{tenant-id}/v2.0", {"tenant": TENANT_ID}
    )
    assert target.domain == f"login.microsoftonline.com/{TENANT_ID}/v2.0"


def test_a_domain_and_a_tenant_field_naming_different_tenants_is_an_error(
    plugins: Plugins,
) -> None:
    with pytest.raises(InvalidConfiguration) as refused:
        plugins.discovery(
            "azure-ad", f"login.microsoftonline.com/{TENANT_ID}/v2.0", {"tenant": "organizations"}
        )
    assert set(refused.value.fields) == {"domain", "tenant"}


@pytest.mark.parametrize(
    "domain",
    [
        "contoso.b2clogin.com/contoso.onmicrosoft.com/v2.0",
        "login.microsoftonline.com/common/oauth2/v2.0",
        "login.microsoftonline.com/not_a_tenant/v2.0",
    ],
)
def test_a_domain_that_is_no_microsoft_tenant_authority_is_refused(
    plugins: Plugins, domain: str
) -> None:
    with pytest.raises(InvalidConfiguration) as refused:
        plugins.discovery("azure-ad", domain, {"tenant": "common"})
    assert "domain" in refused.value.fields


def test_national_clouds_keep_their_sign_in_host(plugins: Plugins) -> None:
    target = plugins.discovery("azure-ad", f"login.microsoftonline.us/{TENANT_ID}", {})
    assert target.issuer == f"https://login.microsoftonline.us/{TENANT_ID}/v2.0"


# -- token issuers: {tenantid} resolved from tid, never switched off ---------------------


@pytest.mark.parametrize("tenant", ["common", "organizations", "contoso.onmicrosoft.com"])
def test_the_issuer_template_is_resolved_with_the_tokens_tenant(
    plugins: Plugins, tenant: str
) -> None:
    issuers = plugins.token_issuers("azure-ad", TEMPLATE, token(), {"tenant": tenant})
    assert issuers == [f"https://login.microsoftonline.com/{TENANT_ID}/v2.0"]


@pytest.mark.parametrize(
    "tid",
    [None, "", "contoso.onmicrosoft.com", f"{TENANT_ID}/../evil", "{tenantid}", 42],
)
def test_a_template_issuer_without_a_guid_tid_accepts_no_token(
    plugins: Plugins, tid: object
) -> None:
    claims = token(tid=tid) if tid is not None else {"sub": "x"}
    assert plugins.token_issuers("azure-ad", TEMPLATE, claims, {"tenant": "common"}) == []


def test_organizations_never_admits_a_personal_account(plugins: Plugins) -> None:
    claims = token(tid=PERSONAL_TENANT_ID)
    assert plugins.token_issuers("azure-ad", TEMPLATE, claims, {"tenant": "organizations"}) == []


def test_consumers_admits_only_personal_accounts(plugins: Plugins) -> None:
    options = {"tenant": "consumers"}
    assert plugins.token_issuers("azure-ad", TEMPLATE, token(), options) == []
    assert plugins.token_issuers("azure-ad", TEMPLATE, token(tid=PERSONAL_TENANT_ID), options) == [
        f"https://login.microsoftonline.com/{PERSONAL_TENANT_ID}/v2.0"
    ]


def test_a_single_tenant_issuer_is_checked_exactly_whatever_the_token_says(
    plugins: Plugins,
) -> None:
    issuer = f"https://login.microsoftonline.com/{TENANT_ID}/v2.0"
    issuers = plugins.token_issuers("azure-ad", issuer, token(tid=OTHER_TENANT_ID), {})
    assert issuers == [issuer]


# -- claims: the subject and nOAuth ----------------------------------------------------------


def test_the_subject_is_tenant_and_object_id(plugins: Plugins) -> None:
    claims = plugins.normalize_claims("azure-ad", token(tid=TENANT_ID.upper()), {})
    assert claims.subject == f"{TENANT_ID}:{OBJECT_ID}"


def test_the_subject_falls_back_to_sub_without_an_object_id(plugins: Plugins) -> None:
    claims = plugins.normalize_claims("azure-ad", {"sub": "pairwise-sub", "tid": TENANT_ID}, {})
    assert claims.subject == "pairwise-sub"


def test_email_verified_alone_does_not_make_microsofts_email_verified(plugins: Plugins) -> None:
    sent = token(email="ceo@victim.example", email_verified=True)
    claims = plugins.normalize_claims("azure-ad", sent, {})
    assert claims.email == "ceo@victim.example"
    assert claims.email_verified is False
    assert claims.claims["email_verified"] is False


@pytest.mark.parametrize(
    ("xms_edov", "verified"),
    [(True, True), ("true", True), ("1", True), (False, False), ("false", False), (1, False)],
)
def test_xms_edov_decides_whether_the_email_is_verified(
    plugins: Plugins, xms_edov: object, verified: bool
) -> None:
    claims = plugins.normalize_claims(
        "azure-ad", token(email="jane@contoso.com", xms_edov=xms_edov), {}
    )
    assert claims.email_verified is verified


@pytest.mark.parametrize(
    ("sent", "email"),
    [
        ({"preferred_username": "jane@contoso.com", "upn": "j@contoso.com"}, "jane@contoso.com"),
        ({"preferred_username": "jane", "upn": "Jane@Contoso.com"}, "jane@contoso.com"),
        ({"preferred_username": "jane_fabrikam.com#EXT#@contoso.onmicrosoft.com"}, None),
        ({"preferred_username": "jane"}, None),
    ],
)
def test_a_missing_email_falls_back_to_an_address_shaped_username_never_verified(
    plugins: Plugins, sent: dict[str, str], email: str | None
) -> None:
    claims = plugins.normalize_claims("azure-ad", token(xms_edov=True, **sent), {})
    assert claims.email == email
    assert claims.email_verified is False


# -- vetoes and authorization parameters -----------------------------------------------------


def allowed_tenants_vetoes(plugins: Plugins, tid: str | None, allowed: str) -> list[str]:
    sent = token(tid=tid) if tid else {"sub": "x"}
    options = {"tenant": "organizations", "allowed_tenants": allowed}
    claims = plugins.normalize_claims("azure-ad", sent, options)
    return [veto.code for veto in plugins.validate_domain("azure-ad", claims, options, ())]


def test_allowed_tenants_vetoes_other_tenants(plugins: Plugins) -> None:
    assert allowed_tenants_vetoes(plugins, OTHER_TENANT_ID, TENANT_ID) == ["tenant_not_allowed"]
    assert allowed_tenants_vetoes(plugins, None, TENANT_ID) == ["tenant_not_allowed"]


def test_allowed_tenants_admits_listed_tenants(plugins: Plugins) -> None:
    allowed = f"{OTHER_TENANT_ID}, {TENANT_ID.upper()}"
    assert allowed_tenants_vetoes(plugins, TENANT_ID, allowed) == []
    assert allowed_tenants_vetoes(plugins, OTHER_TENANT_ID, "") == []


def test_domain_hint_is_sent_to_microsoft(plugins: Plugins) -> None:
    extras = plugins.authorization_params("azure-ad", {"domain_hint": "Contoso.com"}, ("openid",))
    assert dict(extras.params) == {"domain_hint": "contoso.com"}
    assert dict(plugins.authorization_params("azure-ad", {}, ("openid",)).params) == {}


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"tenant": "contoso"}, "tenant"),
        ({"tenant": "common/../x"}, "tenant"),
        ({"allowed_tenants": f"{TENANT_ID}, contoso.com"}, "allowed_tenants"),
        ({"domain_hint": "https://contoso.com"}, "domain_hint"),
    ],
)
def test_preset_fields_refuse_malformed_values(
    plugins: Plugins, options: dict[str, str], field: str
) -> None:
    assert field in plugins.preset("azure-ad").option_errors(options)


def test_preset_fields_accept_the_documented_values(plugins: Plugins) -> None:
    preset = plugins.preset("azure-ad")
    for tenant in ("common", "organizations", "consumers", TENANT_ID, "contoso.onmicrosoft.com"):
        assert preset.option_errors({"tenant": tenant}) == {}
    options = {"allowed_tenants": f"{TENANT_ID} {OTHER_TENANT_ID},{PERSONAL_TENANT_ID}"}
    assert preset.option_errors(options) == {}


# -- what the admin sees ---------------------------------------------------------------------


def test_setup_guide_has_the_documents_steps_and_help_for_every_field(
    plugins: Plugins,
) -> None:
    guide = plugins.setup_guide("azure-ad")
    assert guide.steps[0] == "Go to the Azure Portal."
    assert "Click New registration." in guide.steps
    assert "Add your callback URL as a Redirect URI (Web platform)." in guide.steps
    assert "After creation, copy the Application (client) ID." in guide.steps
    assert guide.steps[-2:] == (
        "Go to Certificates & secrets → New client secret.",
        "Copy the secret value.",
    )
    assert guide.domain == "login.microsoftonline.com/{tenant-id}/v2.0"
    assert guide.scopes == "openid profile email"
    assert "Use common for multi-tenant apps." in guide.notes
    expected = {
        "domain",
        "client_id",
        "client_secret",
        "scopes",
        "tenant",
        "allowed_tenants",
        "domain_hint",
    }
    assert expected <= set(guide.field_help)


def test_logo_is_a_64_pixel_svg_that_cannot_run_script(plugins: Plugins) -> None:
    preset = plugins.preset("azure-ad")
    assert preset.logo.media_type == "image/svg+xml"
    check_preset_logo(preset)
