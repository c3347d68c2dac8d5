"""Discovery: the document is checked before anything it names is used, and cached."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import respx
from fedlogin.oidc.discovery import REQUIRED_MEMBERS, DiscoveryCache, fetch_metadata
from fedlogin.oidc.errors import DiscoveryError, OutboundError
from fedlogin.oidc.outbound import Outbound, OutboundSettings
from fedlogin.presets import DiscoveryTarget

if TYPE_CHECKING:
    from conftest import Idp


async def test_a_valid_document_gives_the_endpoints(
    idp: Idp, outbound: Outbound, target: DiscoveryTarget
) -> None:
    idp.serve_discovery(authorization_response_iss_parameter_supported=True)
    metadata = await fetch_metadata(outbound, target)
    assert metadata.issuer == idp.ISSUER
    assert metadata.authorization_endpoint == idp.ISSUER + "/authorize"
    assert metadata.token_endpoint == idp.ISSUER + "/token"
    assert metadata.userinfo_endpoint == idp.ISSUER + "/userinfo"
    assert metadata.jwks_uri == idp.JWKS_URI
    assert metadata.id_token_signing_alg_values_supported == ("RS256", "ES256")
    assert metadata.authorization_response_iss_parameter_supported is True
    assert not metadata.issuer_is_template


async def test_token_endpoint_auth_methods_default_to_client_secret_basic(
    idp: Idp, outbound: Outbound, target: DiscoveryTarget
) -> None:
    idp.serve_discovery(token_endpoint_auth_methods_supported=None, userinfo_endpoint=None)
    metadata = await fetch_metadata(outbound, target)
    assert metadata.token_endpoint_auth_methods_supported == ("client_secret_basic",)
    assert metadata.userinfo_endpoint is None


@pytest.mark.parametrize("member", REQUIRED_MEMBERS)
async def test_a_missing_required_member_is_missing_fields(
    member: str, idp: Idp, outbound: Outbound, target: DiscoveryTarget
) -> None:
    idp.serve_discovery(**{member: None})
    with pytest.raises(DiscoveryError) as caught:
        await fetch_metadata(outbound, target)
    assert caught.value.code == "missing_fields"
    assert caught.value.step == "discovery"
    assert member in caught.value.message


async def test_another_issuer_is_refused(
    idp: Idp, outbound: Outbound, target: DiscoveryTarget
) -> None:
    # rp-discovery-issuer-not-matching-config: stop before any user is redirected.
    idp.serve_discovery(issuer="https://evil.example.com")
    with pytest.raises(DiscoveryError) as caught:
        await fetch_metadata(outbound, target)
    assert caught.value.code == "issuer_mismatch"
    assert "https://evil.example.com" in caught.value.message


async def test_a_known_alias_of_the_issuer_is_accepted(
    idp: Idp, outbound: Outbound, target: DiscoveryTarget
) -> None:
    idp.serve_discovery(issuer=idp.ISSUER + "/")  # Auth0 keeps the trailing slash
    assert (await fetch_metadata(outbound, target)).issuer == idp.ISSUER + "/"


@pytest.mark.parametrize(
    "member", ["authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"]
)
async def test_an_endpoint_that_is_not_https_is_refused(
    member: str, idp: Idp, outbound: Outbound, target: DiscoveryTarget
) -> None:
    idp.serve_discovery(**{member: "http://idp.example.com/endpoint"})
    with pytest.raises(OutboundError) as caught:
        await fetch_metadata(outbound, target)
    assert caught.value.code == "insecure_scheme"
    assert caught.value.step == "discovery"


async def test_http_loopback_endpoints_are_accepted_in_development(
    router: respx.MockRouter, dns: dict[str, list[str]], idp: Idp
) -> None:
    dns["localhost"] = ["127.0.0.1"]
    issuer = "http://127.0.0.1:3000"
    target = DiscoveryTarget(issuer + "/.well-known/openid-configuration", issuer, issuer)
    router.get(target.url).respond(
        json=idp.discovery_document(
            issuer=issuer,
            authorization_endpoint=issuer + "/auth",
            token_endpoint="http://localhost:3000/token",
            userinfo_endpoint=issuer + "/me",
            jwks_uri=issuer + "/jwks",
        )
    )
    async with Outbound(OutboundSettings(allow_insecure_loopback=True)) as outbound:
        metadata = await fetch_metadata(outbound, target)
    assert metadata.token_endpoint == "http://localhost:3000/token"


@pytest.mark.parametrize("endpoint", ["http://idp.example.com/token", "http://10.0.0.5/token"])
async def test_http_endpoints_off_loopback_are_refused_even_in_development(
    idp: Idp, target: DiscoveryTarget, endpoint: str
) -> None:
    # Plain http only to loopback, even when the operator allows it: the document is refused
    # before the endpoint it names is used (SECURITY.md).
    idp.serve_discovery(token_endpoint=endpoint)
    async with Outbound(OutboundSettings(allow_insecure_loopback=True)) as outbound:
        with pytest.raises(OutboundError) as caught:
            await fetch_metadata(outbound, target)
    assert caught.value.code == "insecure_scheme"


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("authorization_endpoint", 42),
        ("id_token_signing_alg_values_supported", "RS256"),
        ("response_types_supported", ["code", 1]),
        ("authorization_response_iss_parameter_supported", "true"),
    ],
)
async def test_a_member_of_the_wrong_type_is_invalid_metadata(
    member: str, value: Any, idp: Idp, outbound: Outbound, target: DiscoveryTarget
) -> None:
    idp.serve_discovery(**{member: value})
    with pytest.raises(DiscoveryError) as caught:
        await fetch_metadata(outbound, target)
    assert caught.value.code == "invalid_metadata"


async def test_a_json_array_is_not_a_discovery_document(
    router: respx.MockRouter, outbound: Outbound, target: DiscoveryTarget
) -> None:
    router.get(target.url).respond(json=["issuer"])
    with pytest.raises(DiscoveryError) as caught:
        await fetch_metadata(outbound, target)
    assert caught.value.code == "invalid_metadata"


async def test_an_html_page_is_not_json(
    router: respx.MockRouter, outbound: Outbound, target: DiscoveryTarget
) -> None:
    router.get(target.url).respond(200, html="<html>Sign in</html>")
    with pytest.raises(OutboundError) as caught:
        await fetch_metadata(outbound, target)
    assert caught.value.code == "not_json"


# -- the cache ------------------------------------------------------------------------------


async def test_a_cached_document_is_not_fetched_again(
    idp: Idp, outbound: Outbound, target: DiscoveryTarget
) -> None:
    route = idp.serve_discovery()
    cache = DiscoveryCache(outbound)
    first = await cache.get(target)
    second = await cache.get(target)
    assert first == second
    assert route.call_count == 1


async def test_the_document_is_fetched_again_after_its_ttl(
    idp: Idp, outbound: Outbound, target: DiscoveryTarget
) -> None:
    route = idp.serve_discovery()
    clock = [1000.0]
    cache = DiscoveryCache(outbound, ttl=3600, clock=lambda: clock[0])
    await cache.get(target)
    clock[0] += 3599
    await cache.get(target)
    assert route.call_count == 1
    clock[0] += 2
    await cache.get(target)
    assert route.call_count == 2


async def test_concurrent_sign_ins_on_a_cold_cache_fetch_once(
    idp: Idp, outbound: Outbound, target: DiscoveryTarget
) -> None:
    route = idp.serve_discovery()
    cache = DiscoveryCache(outbound)
    results = await asyncio.gather(*(cache.get(target) for _ in range(5)))
    assert len({r.issuer for r in results}) == 1
    assert route.call_count == 1


async def test_a_broken_document_is_not_cached(
    idp: Idp, router: respx.MockRouter, outbound: Outbound, target: DiscoveryTarget
) -> None:
    route = router.get(target.url)
    route.side_effect = [
        httpx.Response(200, json=idp.discovery_document(issuer="https://x.example")),
        httpx.Response(200, json=idp.discovery_document()),
    ]
    cache = DiscoveryCache(outbound)
    with pytest.raises(DiscoveryError):
        await cache.get(target)
    assert (await cache.get(target)).issuer == idp.ISSUER
    assert route.call_count == 2


async def test_the_issuer_is_checked_for_each_caller_even_from_the_cache(
    idp: Idp, outbound: Outbound, target: DiscoveryTarget
) -> None:
    route = idp.serve_discovery()
    cache = DiscoveryCache(outbound)
    await cache.get(target)
    edited = DiscoveryTarget(target.url, "https://other.example.com", target.domain)
    with pytest.raises(DiscoveryError) as caught:
        await cache.get(edited)
    assert caught.value.code == "issuer_mismatch"
    assert route.call_count == 1


async def test_invalidate_forgets_a_document(
    idp: Idp, outbound: Outbound, target: DiscoveryTarget
) -> None:
    route = idp.serve_discovery()
    cache = DiscoveryCache(outbound)
    await cache.get(target)
    cache.invalidate(target.url)
    await cache.get(target)
    cache.invalidate()
    await cache.get(target)
    assert route.call_count == 3
