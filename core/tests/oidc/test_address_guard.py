"""SSRF: an identity provider's URL never makes fedlogin connect to an internal address."""

from __future__ import annotations

import ipaddress

import httpx
import pytest
import respx
from fedlogin.oidc.address_guard import AddressGuard, AddressRefused, blocked_reason
from fedlogin.oidc.errors import OutboundError
from fedlogin.oidc.outbound import Outbound, OutboundSettings
from fedlogin.oidc.transport import PinnedTransport

BLOCKED = [
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "127.0.0.1",
    "127.8.9.10",
    "169.254.169.254",
    "169.254.10.1",
    "100.64.0.1",
    "0.0.0.0",
    "224.0.0.1",
    "240.0.0.1",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd00:ec2::254",
    "ff02::1",
    "::ffff:10.0.0.1",
    "::ffff:169.254.169.254",
    "64:ff9b::a00:1",
]


@pytest.mark.parametrize("address", BLOCKED)
async def test_a_name_resolving_to_an_internal_address_is_refused_before_any_request(
    address: str, dns: dict[str, list[str]], outbound: Outbound, router: respx.MockRouter
) -> None:
    dns["idp.attacker.example"] = [address]
    route = router.get("https://idp.attacker.example/.well-known/openid-configuration")

    with pytest.raises(OutboundError) as caught:
        await outbound.get_json(
            "https://idp.attacker.example/.well-known/openid-configuration", step="discovery"
        )

    assert caught.value.code == "address_blocked"
    assert caught.value.step == "discovery"
    assert not route.called


@pytest.mark.parametrize(
    "url", ["https://10.0.0.1/x", "https://[::1]/x", "https://169.254.169.254/"]
)
async def test_an_ip_literal_url_is_checked_too(
    url: str, outbound: Outbound, router: respx.MockRouter
) -> None:
    route = router.get(url)
    with pytest.raises(OutboundError) as caught:
        await outbound.get_json(url, step="jwks")
    assert caught.value.code == "address_blocked"
    assert not route.called


async def test_one_internal_address_among_public_ones_is_enough_to_refuse(
    dns: dict[str, list[str]], outbound: Outbound, router: respx.MockRouter
) -> None:
    dns["mixed.example"] = ["93.184.215.14", "10.1.2.3"]
    route = router.get("https://mixed.example/x")
    with pytest.raises(OutboundError) as caught:
        await outbound.get_json("https://mixed.example/x", step="discovery")
    assert caught.value.code == "address_blocked"
    assert "10.1.2.3" in caught.value.message
    assert not route.called


async def test_a_public_address_is_fetched(outbound: Outbound, router: respx.MockRouter) -> None:
    router.get("https://idp.example.com/x").respond(json={"ok": True})
    assert await outbound.get_json("https://idp.example.com/x", step="discovery") == {"ok": True}


async def test_loopback_is_allowed_when_the_operator_allows_it(
    dns: dict[str, list[str]], router: respx.MockRouter
) -> None:
    dns["localhost"] = ["127.0.0.1"]
    router.get("https://localhost:8443/x").respond(json={"ok": 1})
    router.get("http://127.0.0.1:3000/x").respond(json={"ok": 2})
    async with Outbound(OutboundSettings(allow_insecure_loopback=True)) as outbound:
        assert await outbound.get_json("https://localhost:8443/x", step="jwks") == {"ok": 1}
        assert await outbound.get_json("http://127.0.0.1:3000/x", step="jwks") == {"ok": 2}


async def test_allowing_loopback_does_not_allow_private_networks(
    dns: dict[str, list[str]], router: respx.MockRouter
) -> None:
    dns["internal.example"] = ["10.0.0.1"]
    router.get("https://internal.example/x").respond(json={})
    async with Outbound(OutboundSettings(allow_insecure_loopback=True)) as outbound:
        with pytest.raises(OutboundError) as caught:
            await outbound.get_json("https://internal.example/x", step="discovery")
    assert caught.value.code == "address_blocked"


async def test_an_allow_listed_host_may_be_internal(
    dns: dict[str, list[str]], router: respx.MockRouter
) -> None:
    dns["keycloak.corp"] = ["10.20.30.40"]
    router.get("https://keycloak.corp/realms/x").respond(json={"ok": True})
    async with Outbound(OutboundSettings(allowed_hosts={"Keycloak.Corp"})) as outbound:
        assert await outbound.get_json("https://keycloak.corp/realms/x", step="discovery") == {
            "ok": True
        }


async def test_cloud_metadata_stays_refused_even_for_an_allow_listed_host(
    dns: dict[str, list[str]], router: respx.MockRouter
) -> None:
    dns["metadata.corp"] = ["169.254.169.254"]
    router.get("https://metadata.corp/latest").respond(json={})
    async with Outbound(
        OutboundSettings(allowed_hosts={"metadata.corp"}, allow_insecure_loopback=True)
    ) as outbound:
        with pytest.raises(OutboundError) as caught:
            await outbound.get_json("https://metadata.corp/latest", step="discovery")
    assert caught.value.code == "address_blocked"
    assert "metadata" in caught.value.message


async def test_an_unknown_name_is_a_dns_error(outbound: Outbound, router: respx.MockRouter) -> None:
    with pytest.raises(OutboundError) as caught:
        await outbound.get_json("https://no-such-host.example/x", step="discovery")
    assert caught.value.code == "dns"
    assert "no-such-host.example" in caught.value.message


async def test_a_name_without_addresses_is_a_dns_error(
    dns: dict[str, list[str]], outbound: Outbound
) -> None:
    dns["empty.example"] = []
    with pytest.raises(OutboundError) as caught:
        await outbound.get_json("https://empty.example/x", step="discovery")
    assert caught.value.code == "dns"


async def test_the_connection_layer_refuses_too_so_nothing_can_bypass_the_check(
    dns: dict[str, list[str]],
) -> None:
    # The pre-request check gives the clear error; this is the layer that opens sockets.
    dns["rebound.example"] = ["10.0.0.1"]
    transport = PinnedTransport(AddressGuard())
    with pytest.raises(AddressRefused) as caught:
        await transport.handle_async_request(httpx.Request("GET", "https://rebound.example/"))
    assert caught.value.code == "address_blocked"


async def test_a_checked_answer_is_reused_rather_than_resolved_again(
    dns: dict[str, list[str]], dns_calls: list[str]
) -> None:
    # DNS rebinding: the second lookup would say 10.0.0.1; the connection must use the first.
    clock = [0.0]
    guard = AddressGuard(clock=lambda: clock[0])
    dns["flip.example"] = ["93.184.215.14"]
    first = await guard.addresses("flip.example", 443)
    dns["flip.example"] = ["10.0.0.1"]
    second = await guard.addresses("flip.example", 443)
    assert first == second == (ipaddress.ip_address("93.184.215.14"),)
    assert dns_calls == ["flip.example"]
    clock[0] = 31.0
    with pytest.raises(AddressRefused):
        await guard.addresses("flip.example", 443)


def test_public_addresses_are_not_blocked() -> None:
    for address in ("93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"):
        assert blocked_reason(ipaddress.ip_address(address)) is None


async def test_redirects_are_not_followed_even_to_allowed_places(
    outbound: Outbound, router: respx.MockRouter
) -> None:
    router.get("https://idp.example.com/a").respond(
        302, headers={"Location": "https://idp.example.com/b"}
    )
    target = router.get("https://idp.example.com/b").respond(json={})
    with pytest.raises(OutboundError) as caught:
        await outbound.get_json("https://idp.example.com/a", step="discovery")
    assert caught.value.code == "redirect"
    assert caught.value.status_code == 302
    assert not target.called


async def test_a_redirect_towards_an_internal_address_is_not_followed(
    outbound: Outbound, router: respx.MockRouter
) -> None:
    router.get("https://idp.example.com/a").respond(
        307, headers={"Location": "http://169.254.169.254/latest/meta-data/"}
    )
    metadata = router.get("http://169.254.169.254/latest/meta-data/").mock(
        return_value=httpx.Response(200)
    )
    with pytest.raises(OutboundError) as caught:
        await outbound.get_json("https://idp.example.com/a", step="discovery")
    assert caught.value.code == "redirect"
    assert not metadata.called
