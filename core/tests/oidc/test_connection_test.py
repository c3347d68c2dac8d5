"""Test Connection (P7, T1): what an admin sees for a good provider and for each failure."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import attrs
import httpx
import pytest
import respx
from fedlogin.oidc.connection_test import ConnectionReport, run_connection_test
from fedlogin.oidc.errors import CONNECTION_HINTS
from fedlogin.oidc.outbound import Outbound, OutboundSettings
from fedlogin.presets import DiscoveryTarget
from joserfc.jwk import ECKey, RSAKey

if TYPE_CHECKING:
    from conftest import Idp


async def check(
    outbound: Outbound, target: DiscoveryTarget, auth_method: str = "client_secret_post"
) -> ConnectionReport:
    return await run_connection_test(outbound, target, auth_method=auth_method)


async def test_a_good_provider_shows_its_endpoints_keys_and_algorithms(
    idp: Idp, outbound: Outbound, target: DiscoveryTarget
) -> None:
    idp.serve_discovery()
    idp.serve_jwks()
    report = await check(outbound, target)
    assert report.ok
    assert report.failure is None
    assert report.discovery_url == idp.DISCOVERY_URL
    assert report.issuer == idp.ISSUER
    assert report.authorization_endpoint == idp.ISSUER + "/authorize"
    assert report.token_endpoint == idp.ISSUER + "/token"
    assert report.userinfo_endpoint == idp.ISSUER + "/userinfo"
    assert report.jwks_uri == idp.JWKS_URI
    assert report.jwks_key_count == 2
    assert report.signing_algorithms == ("RS256", "ES256")
    assert report.warnings == ()


async def test_the_report_renders_as_json(
    idp: Idp, outbound: Outbound, target: DiscoveryTarget
) -> None:
    idp.serve_discovery()
    idp.serve_jwks()
    rendered = json.loads(json.dumps(attrs.asdict(await check(outbound, target))))
    assert rendered["jwks_key_count"] == 2
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        (await check(outbound, target)).issuer = "x"  # type: ignore[misc]


async def test_nothing_is_cached_between_tests(
    idp: Idp, outbound: Outbound, target: DiscoveryTarget
) -> None:
    discovery = idp.serve_discovery()
    jwks = idp.serve_jwks()
    await check(outbound, target)
    await check(outbound, target)
    assert (discovery.call_count, jwks.call_count) == (2, 2)


async def test_warnings_name_what_deserves_attention(
    idp: Idp, outbound: Outbound, target: DiscoveryTarget, rsa_key: RSAKey, ec_key: ECKey
) -> None:
    idp.serve_discovery(
        id_token_signing_alg_values_supported=["RS256", "none"],
        token_endpoint_auth_methods_supported=["client_secret_post"],
        userinfo_endpoint=None,
        code_challenge_methods_supported=["plain"],
    )
    idp.serve_jwks({"keys": [idp.public_jwk(rsa_key), idp.weak_rsa_jwk("old-1024")]})
    report = await check(outbound, target, auth_method="client_secret_basic")
    assert report.ok
    assert report.jwks_key_count == 1
    codes = [w.code for w in report.warnings]
    assert codes == [
        "alg_none_advertised",
        "auth_method_unsupported",
        "no_userinfo_endpoint",
        "pkce_s256_unsupported",
        "weak_rsa_key",
    ]
    weak = report.warnings[-1].message
    assert "old-1024" in weak and "1024 bits" in weak


async def test_a_template_issuer_is_a_warning_not_a_failure(
    idp: Idp, router: respx.MockRouter, outbound: Outbound, dns: dict[str, list[str]]
) -> None:
    # Azure AD multi-tenant ("common") publishes a {tenantid} issuer.
    dns["login.microsoftonline.com"] = ["20.190.160.1"]
    issuer = "https://login.microsoftonline.com/{tenantid}/v2.0"
    target = DiscoveryTarget(
        "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration",
        issuer,
        "login.microsoftonline.com/common/v2.0",
    )
    router.get(target.url).respond(json=idp.discovery_document(issuer=issuer))
    idp.serve_jwks()
    report = await check(outbound, target)
    assert report.ok
    assert "issuer_template" in [w.code for w in report.warnings]


async def test_no_allowed_signing_algorithm_is_warned_about(
    idp: Idp, outbound: Outbound, target: DiscoveryTarget
) -> None:
    idp.serve_discovery(id_token_signing_alg_values_supported=["HS256"])
    idp.serve_jwks()
    codes = [w.code for w in (await check(outbound, target)).warnings]
    assert "no_allowed_algorithm" in codes


FAILURES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    # (code, step, discovery route mock, jwks route mock)
    ("timeout", "discovery", {"side_effect": httpx.ConnectTimeout("slow")}, {}),
    ("connect", "discovery", {"side_effect": httpx.ConnectError("refused")}, {}),
    ("http_status", "discovery", {"return_value": httpx.Response(404)}, {}),
    (
        "redirect",
        "discovery",
        {"return_value": httpx.Response(301, headers={"Location": "https://x.example/"})},
        {},
    ),
    ("too_large", "discovery", {"return_value": httpx.Response(200, content=b" " * 600_000)}, {}),
    ("not_json", "discovery", {"return_value": httpx.Response(200, html="<html></html>")}, {}),
    ("jwks_unreachable", "jwks", {}, {"return_value": httpx.Response(500)}),
    ("jwks_empty", "jwks", {}, {"return_value": httpx.Response(200, json={"keys": []})}),
    ("jwks_invalid", "jwks", {}, {"return_value": httpx.Response(200, json={"k": 1})}),
]


@pytest.mark.parametrize(("code", "step", "discovery", "jwks"), FAILURES)
async def test_each_failure_names_its_step_code_and_what_to_check(
    code: str,
    step: str,
    discovery: dict[str, Any],
    jwks: dict[str, Any],
    idp: Idp,
    router: respx.MockRouter,
    outbound: Outbound,
    target: DiscoveryTarget,
) -> None:
    if discovery:
        router.get(idp.DISCOVERY_URL).mock(**discovery)
    else:
        idp.serve_discovery()
    if jwks:
        router.get(idp.JWKS_URI).mock(**jwks)
    report = await check(outbound, target)
    assert not report.ok
    assert report.failure is not None
    assert (report.failure.code, report.failure.step) == (code, step)
    assert report.failure.message
    assert report.failure.hints[-3:] == CONNECTION_HINTS
    assert len(report.failure.hints) == 4  # a specific hint first
    if step == "jwks":
        assert report.issuer == idp.ISSUER  # what discovery found is still shown
        assert report.jwks_key_count is None


async def test_missing_fields_and_issuer_mismatch_fail_at_discovery(
    idp: Idp, outbound: Outbound, target: DiscoveryTarget
) -> None:
    idp.serve_discovery(jwks_uri=None)
    report = await check(outbound, target)
    assert report.failure is not None and report.failure.code == "missing_fields"
    assert "jwks_uri" in report.failure.message
    idp.serve_discovery(issuer="https://impostor.example.com")
    report = await check(outbound, target)
    assert report.failure is not None
    assert (report.failure.code, report.failure.step) == ("issuer_mismatch", "discovery")
    assert report.issuer is None


async def test_an_unknown_domain_is_dns(outbound: Outbound) -> None:
    target = DiscoveryTarget(
        "https://typo.example.net/.well-known/openid-configuration",
        "https://typo.example.net",
        "typo.example.net",
    )
    report = await check(outbound, target)
    assert report.failure is not None
    assert report.failure.code == "dns"
    assert report.failure.hints[0].startswith("The domain's host name does not resolve")


async def test_an_internal_domain_is_address_blocked(
    dns: dict[str, list[str]], outbound: Outbound
) -> None:
    dns["sso.internal.example"] = ["192.168.0.10"]
    target = DiscoveryTarget(
        "https://sso.internal.example/.well-known/openid-configuration",
        "https://sso.internal.example",
        "sso.internal.example",
    )
    report = await check(outbound, target)
    assert report.failure is not None and report.failure.code == "address_blocked"


async def test_plain_http_is_insecure_scheme(outbound: Outbound) -> None:
    target = DiscoveryTarget(
        "http://idp.example.com/.well-known/openid-configuration",
        "http://idp.example.com",
        "http://idp.example.com",
    )
    report = await check(outbound, target)
    assert report.failure is not None and report.failure.code == "insecure_scheme"


async def test_a_jwks_uri_on_an_internal_address_fails_at_the_jwks_step(
    idp: Idp, dns: dict[str, list[str]], outbound: Outbound, target: DiscoveryTarget
) -> None:
    dns["keys.idp.example.com"] = ["10.9.9.9"]
    idp.serve_discovery()
    report = await check(outbound, target)
    assert report.failure is not None
    assert (report.failure.code, report.failure.step) == ("address_blocked", "jwks")


async def test_a_loopback_provider_passes_in_development(
    idp: Idp, router: respx.MockRouter, dns: dict[str, list[str]]
) -> None:
    issuer = "http://127.0.0.1:3000"
    target = DiscoveryTarget(issuer + "/.well-known/openid-configuration", issuer, issuer)
    router.get(target.url).respond(
        json=idp.discovery_document(
            issuer=issuer,
            authorization_endpoint=issuer + "/auth",
            token_endpoint=issuer + "/token",
            userinfo_endpoint=issuer + "/me",
            jwks_uri=issuer + "/jwks",
        )
    )
    router.get(issuer + "/jwks").respond(json=idp.jwks_document())
    async with Outbound(OutboundSettings(allow_insecure_loopback=True)) as outbound:
        report = await check(outbound, target)
    assert report.ok and report.jwks_key_count == 2
