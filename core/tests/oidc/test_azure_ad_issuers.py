"""Azure AD's issuers end to end: discovery, Test Connection and the ID token's ``iss``.

The Microsoft preset's discovery targets go through the core's real discovery check, the
Test Connection report and ID token validation, with Microsoft's documents served by respx:

* ``common``/``organizations`` publish the template ``.../{tenantid}/v2.0``; each token's
  issuer is the template filled with that token's ``tid`` (never the check switched off);
* a tenant entered by a verified domain (``contoso.com``) is discovered at
  ``.../contoso.com/v2.0`` but names the tenant's GUID issuer, which then binds every token.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import fedlogin_azure_ad
import pytest
import respx
from fedlogin.oidc.connection_test import run_connection_test
from fedlogin.oidc.discovery import ProviderMetadata, fetch_metadata
from fedlogin.oidc.errors import DiscoveryError, IdTokenError
from fedlogin.oidc.id_token import IdTokenRules, validate_id_token
from fedlogin.oidc.jwks import StaticKeys, parse_jwks
from fedlogin.oidc.outbound import Outbound
from fedlogin.plugins import Plugins
from fedlogin.presets import DiscoveryTarget
from fedlogin.testing import load_plugins

if TYPE_CHECKING:
    from conftest import Idp

MICROSOFT = "https://login.microsoftonline.com"
TEMPLATE = MICROSOFT + "/{tenantid}/v2.0"
TENANT = "b7a1c2d3-0e4f-4a5b-8c6d-7e8f9a0b1c2d"
OTHER_TENANT = "11111111-2222-4333-8444-555555555555"
PERSONAL_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"


def issuer_of(tid: str) -> str:
    return f"{MICROSOFT}/{tid}/v2.0"


@pytest.fixture
def plugins() -> Plugins:
    return load_plugins(**{"azure-ad": fedlogin_azure_ad})


@pytest.fixture(autouse=True)
def microsoft_resolves(dns: dict[str, list[str]]) -> None:
    dns["login.microsoftonline.com"] = ["20.190.160.1"]


def serve(idp: Idp, router: respx.MockRouter, target: DiscoveryTarget, issuer: str) -> None:
    router.get(target.url).respond(json=idp.discovery_document(issuer=issuer))


async def discover(
    idp: Idp,
    router: respx.MockRouter,
    outbound: Outbound,
    plugins: Plugins,
    tenant: str,
    issuer: str,
) -> ProviderMetadata:
    target = plugins.discovery("azure-ad", "", {"tenant": tenant})
    serve(idp, router, target, issuer)
    return await fetch_metadata(outbound, target)


# -- discovery ----------------------------------------------------------------------------------


async def test_a_verified_domain_tenant_is_discovered_with_its_guid_issuer(
    idp: Idp, router: respx.MockRouter, outbound: Outbound, plugins: Plugins
) -> None:
    target = plugins.discovery("azure-ad", "", {"tenant": "contoso.com"})
    assert target.url == MICROSOFT + "/contoso.com/v2.0/.well-known/openid-configuration"
    route = router.get(target.url).respond(json=idp.discovery_document(issuer=issuer_of(TENANT)))
    metadata = await fetch_metadata(outbound, target)
    assert route.called
    assert metadata.issuer == issuer_of(TENANT)
    assert not metadata.issuer_is_template


@pytest.mark.parametrize(
    "named",
    [
        "https://login.microsoftonline.us/" + TENANT + "/v2.0",  # another cloud's host
        "https://evil.example/" + TENANT + "/v2.0",
        MICROSOFT + "/contoso.com/v2.0",  # not how Microsoft names an issuer
        issuer_of(TENANT) + "/",
        "https://sts.windows.net/" + TENANT + "/",  # the v1.0 issuer
    ],
)
async def test_a_verified_domain_tenant_refuses_any_other_issuer(
    idp: Idp, router: respx.MockRouter, outbound: Outbound, plugins: Plugins, named: str
) -> None:
    with pytest.raises(DiscoveryError) as refused:
        await discover(idp, router, outbound, plugins, "contoso.com", named)
    assert refused.value.code == "issuer_mismatch"


async def test_a_tenant_id_refuses_another_tenants_issuer(
    idp: Idp, router: respx.MockRouter, outbound: Outbound, plugins: Plugins
) -> None:
    with pytest.raises(DiscoveryError) as refused:
        await discover(idp, router, outbound, plugins, TENANT, issuer_of(OTHER_TENANT))
    assert refused.value.code == "issuer_mismatch"


@pytest.mark.parametrize("tenant", ["common", "organizations"])
async def test_multi_tenant_aliases_are_discovered_with_the_template(
    idp: Idp, router: respx.MockRouter, outbound: Outbound, plugins: Plugins, tenant: str
) -> None:
    metadata = await discover(idp, router, outbound, plugins, tenant, TEMPLATE)
    assert metadata.issuer == TEMPLATE
    assert metadata.issuer_is_template


# -- Test Connection ----------------------------------------------------------------------------


async def test_connection_report_warns_about_the_template_and_does_not_fail(
    idp: Idp, router: respx.MockRouter, outbound: Outbound, plugins: Plugins
) -> None:
    target = plugins.discovery("azure-ad", "", {"tenant": "common"})
    serve(idp, router, target, TEMPLATE)
    idp.serve_jwks()
    report = await run_connection_test(outbound, target, auth_method="client_secret_post")
    assert report.ok, report.failure
    assert report.issuer == TEMPLATE
    assert [w.code for w in report.warnings] == ["issuer_template"]


async def test_connection_report_of_a_verified_domain_shows_the_tenants_issuer(
    idp: Idp, router: respx.MockRouter, outbound: Outbound, plugins: Plugins
) -> None:
    target = plugins.discovery("azure-ad", "", {"tenant": "contoso.com"})
    serve(idp, router, target, issuer_of(TENANT))
    idp.serve_jwks()
    report = await run_connection_test(outbound, target, auth_method="client_secret_post")
    assert report.ok, report.failure
    assert report.issuer == issuer_of(TENANT)
    assert report.warnings == ()


# -- the ID token's issuer ----------------------------------------------------------------------


async def validate(
    idp: Idp, plugins: Plugins, metadata: ProviderMetadata, options: dict[str, str], **claims: Any
) -> str:
    """Validate a token carrying ``claims``; its ``iss`` on success, the error code otherwise."""
    now = time.time()
    token = idp.sign(idp.claims(now, **claims))
    try:
        result = await validate_id_token(
            token,
            rules=IdTokenRules(client_id=idp.CLIENT_ID),
            keys=StaticKeys(parse_jwks(idp.jwks_document(), idp.JWKS_URI)),
            nonce=idp.NONCE,
            accepted_issuers=lambda verified: plugins.token_issuers(
                "azure-ad", metadata.issuer, verified, options
            ),
            now=now,
        )
    except IdTokenError as exc:
        return exc.code
    return result.issuer


async def test_the_template_is_resolved_with_each_tokens_tenant(
    idp: Idp, router: respx.MockRouter, outbound: Outbound, plugins: Plugins
) -> None:
    options = {"tenant": "common"}
    metadata = await discover(idp, router, outbound, plugins, "common", TEMPLATE)
    for tid in (TENANT, OTHER_TENANT, PERSONAL_TENANT):
        assert await validate(idp, plugins, metadata, options, iss=issuer_of(tid), tid=tid) == (
            issuer_of(tid)
        )


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": issuer_of(OTHER_TENANT), "tid": TENANT},  # another tenant's issuer
        {"iss": TEMPLATE, "tid": TENANT},  # the template itself
        {"iss": issuer_of(TENANT), "tid": None},  # no tenant to resolve with
        {"iss": MICROSOFT + "/x/v2.0", "tid": "x"},  # a tid that is no GUID
    ],
)
async def test_the_template_never_switches_the_issuer_check_off(
    idp: Idp,
    router: respx.MockRouter,
    outbound: Outbound,
    plugins: Plugins,
    claims: dict[str, Any],
) -> None:
    metadata = await discover(idp, router, outbound, plugins, "common", TEMPLATE)
    code = await validate(idp, plugins, metadata, {"tenant": "common"}, **claims)
    assert code == "id_token_issuer_mismatch"


async def test_organizations_refuses_personal_accounts(
    idp: Idp, router: respx.MockRouter, outbound: Outbound, plugins: Plugins
) -> None:
    metadata = await discover(idp, router, outbound, plugins, "organizations", TEMPLATE)
    claims = {"iss": issuer_of(PERSONAL_TENANT), "tid": PERSONAL_TENANT}
    code = await validate(idp, plugins, metadata, {"tenant": "organizations"}, **claims)
    assert code == "id_token_issuer_mismatch"


async def test_a_verified_domain_binds_tokens_to_the_discovered_tenant(
    idp: Idp, router: respx.MockRouter, outbound: Outbound, plugins: Plugins
) -> None:
    options = {"tenant": "contoso.com"}
    metadata = await discover(idp, router, outbound, plugins, "contoso.com", issuer_of(TENANT))
    own = await validate(idp, plugins, metadata, options, iss=issuer_of(TENANT), tid=TENANT)
    assert own == issuer_of(TENANT)
    other = {"iss": issuer_of(OTHER_TENANT), "tid": OTHER_TENANT}
    assert await validate(idp, plugins, metadata, options, **other) == "id_token_issuer_mismatch"


async def test_the_tenant_allow_list_vetoes_a_valid_token_of_another_tenant(
    idp: Idp, router: respx.MockRouter, outbound: Outbound, plugins: Plugins
) -> None:
    options = {"tenant": "organizations", "allowed_tenants": TENANT}
    metadata = await discover(idp, router, outbound, plugins, "organizations", TEMPLATE)
    for tid, vetoes in ((TENANT, []), (OTHER_TENANT, ["tenant_not_allowed"])):
        assert await validate(idp, plugins, metadata, options, iss=issuer_of(tid), tid=tid) == (
            issuer_of(tid)
        )
        sent = {"sub": "s", "tid": tid, "oid": "00000000-0000-0000-66f3-3332eca7ea81"}
        claims = plugins.normalize_claims("azure-ad", sent, options)
        assert [v.code for v in plugins.validate_domain("azure-ad", claims, options, ())] == vetoes
