"""Test Connection through the API (P7, T1): the report of ``fedlogin.oidc`` mapped faithfully
to JSON for saved providers and unsaved forms, each failure code with its step and hints, and
private addresses refused.

Most tests serve the provider with respx behind a fake DNS (``idp.example.com`` resolves to a
public address, anything else a test adds to ``dns``); the hostile provider runs on a real
127.0.0.1 port where a real socket matters.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from fedlogin.oidc import address_guard
from fedlogin.oidc.errors import CONNECTION_HINTS
from fedlogin.presets import DiscoveryTarget
from fedlogin.store.database import Database
from fedlogin.store.tables import IdentityProvider
from fedlogin.web.context import AppContext
from joserfc.jwk import ECKey, RSAKey
from sqlmodel import select

from tests.support.hostile_op import Bend, HostileOP
from tests.support.respx_outbound import OUTBOUND

PROVIDERS = "/api/v1/identity-providers"
UNSAVED = f"{PROVIDERS}/test-connection"
ISSUER = "https://idp.example.com"
DISCOVERY_URL = ISSUER + "/.well-known/openid-configuration"
JWKS_URI = ISSUER + "/jwks"
PUBLIC_ADDRESS = "93.184.215.14"


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Host name -> addresses for the outbound client's resolver; unknown names are NXDOMAIN."""
    table = {"idp.example.com": [PUBLIC_ADDRESS], "idp2.example.com": [PUBLIC_ADDRESS]}

    async def resolve(host: str, port: int) -> list[address_guard.IPAddress]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [ipaddress.ip_address(address) for address in table[host]]

    monkeypatch.setattr(address_guard, "resolve_host", resolve)
    return table


@pytest.fixture
def router(dns: dict[str, list[str]]) -> Iterator[respx.MockRouter]:
    """respx for the outbound client only (the test client talks ASGI, not httpcore)."""
    with respx.mock(using=OUTBOUND, assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


@pytest.fixture(scope="module")
def keys() -> list[dict[str, Any]]:
    rsa = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})
    ec = ECKey.generate_key("P-256", parameters={"kid": "ec-1"})
    return [dict(key.as_dict(private=False)) for key in (rsa, ec)]


def discovery(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "issuer": ISSUER,
        "authorization_endpoint": ISSUER + "/authorize",
        "token_endpoint": ISSUER + "/token",
        "userinfo_endpoint": ISSUER + "/userinfo",
        "jwks_uri": JWKS_URI,
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
    }
    document.update(overrides)
    return {k: v for k, v in document.items() if v is not None}


def form(**overrides: Any) -> dict[str, Any]:
    return {"preset": "generic-oidc", "domain": "idp.example.com", **overrides}


async def saved(admin: httpx.AsyncClient, **overrides: Any) -> str:
    body = {
        "identifier": "corp",
        "name": "Corp SSO",
        "client_id": "corp-app",
        "client_secret": "corp-secret-value",
        **form(**overrides),
    }
    response = await admin.post(PROVIDERS, json=body)
    assert response.status_code == 201, response.text
    return f"{PROVIDERS}/corp/test-connection"


async def report(admin: httpx.AsyncClient, url: str, body: Any = None) -> dict[str, Any]:
    response = await admin.post(url, json=body)
    assert response.status_code == 200, response.text  # the test ran, whatever it found
    result: dict[str, Any] = response.json()
    return result


# -- a provider that passes --------------------------------------------------------------------


async def test_a_saved_provider_passes_with_its_endpoints_keys_and_algorithms(
    admin: httpx.AsyncClient, router: respx.MockRouter, keys: list[dict[str, Any]]
) -> None:
    router.get(DISCOVERY_URL).respond(json=discovery())
    router.get(JWKS_URI).respond(json={"keys": keys})
    result = await report(admin, await saved(admin))
    assert result == {
        "ok": True,
        "domain": "idp.example.com",
        "discovery_url": DISCOVERY_URL,
        "issuer": ISSUER,
        "authorization_endpoint": ISSUER + "/authorize",
        "token_endpoint": ISSUER + "/token",
        "userinfo_endpoint": ISSUER + "/userinfo",
        "jwks_uri": JWKS_URI,
        "jwks_key_count": 2,
        "signing_algorithms": ["RS256", "ES256"],
        "warnings": [],
        "failure": None,
    }


async def test_an_unsaved_form_passes_and_nothing_is_saved(
    admin: httpx.AsyncClient, router: respx.MockRouter, keys: list[dict[str, Any]], db: Database
) -> None:
    router.get(DISCOVERY_URL).respond(json=discovery())
    router.get(JWKS_URI).respond(json={"keys": keys})
    # A half-filled form: only what a connection test needs, the domain as pasted.
    result = await report(admin, UNSAVED, form(domain="https://idp.example.com/"))
    assert result["ok"] is True
    assert result["domain"] == "idp.example.com"
    assert result["jwks_key_count"] == 2
    with db.transaction() as session:
        assert session.exec(select(IdentityProvider)).all() == []


async def test_an_unsaved_form_may_reuse_a_saved_identifier(
    admin: httpx.AsyncClient, router: respx.MockRouter, keys: list[dict[str, Any]]
) -> None:
    router.get(DISCOVERY_URL).respond(json=discovery())
    router.get(JWKS_URI).respond(json={"keys": keys})
    await saved(admin)
    body = form(identifier="corp", name="Corp copy", client_id="x", client_secret="y")
    assert (await report(admin, UNSAVED, body))["ok"] is True


async def test_warnings_are_mapped_with_code_and_message(
    admin: httpx.AsyncClient, router: respx.MockRouter, keys: list[dict[str, Any]]
) -> None:
    router.get(DISCOVERY_URL).respond(
        json=discovery(
            id_token_signing_alg_values_supported=["RS256", "none"],
            token_endpoint_auth_methods_supported=["client_secret_post"],
        )
    )
    router.get(JWKS_URI).respond(json={"keys": keys})
    result = await report(admin, UNSAVED, form(auth_method="client_secret_basic"))
    assert result["ok"] is True
    assert [w["code"] for w in result["warnings"]] == [
        "alg_none_advertised",
        "auth_method_unsupported",
    ]
    assert all(w["message"] for w in result["warnings"])
    assert "client_secret_basic" in result["warnings"][1]["message"]


# -- each failure ------------------------------------------------------------------------------


FAILURES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    # (code, step, discovery route mock, jwks route mock); {} = a good answer
    ("timeout", "discovery", {"side_effect": httpx.ReadTimeout("slow")}, {}),
    ("connect", "discovery", {"side_effect": httpx.ConnectError("refused")}, {}),
    ("http_status", "discovery", {"return_value": httpx.Response(404)}, {}),
    (
        "redirect",
        "discovery",
        {"return_value": httpx.Response(302, headers={"Location": "/x"})},
        {},
    ),
    ("too_large", "discovery", {"return_value": httpx.Response(200, content=b" " * 600_000)}, {}),
    ("not_json", "discovery", {"return_value": httpx.Response(200, html="<html>login</html>")}, {}),
    ("missing_fields", "discovery", {"json": discovery(jwks_uri=None)}, {}),
    ("issuer_mismatch", "discovery", {"json": discovery(issuer="https://evil.example")}, {}),
    ("insecure_scheme", "discovery", {"json": discovery(token_endpoint="http://x.example/t")}, {}),
    ("jwks_unreachable", "jwks", {}, {"return_value": httpx.Response(500)}),
    ("jwks_invalid", "jwks", {}, {"return_value": httpx.Response(200, json={"k": []})}),
    ("jwks_empty", "jwks", {}, {"return_value": httpx.Response(200, json={"keys": []})}),
]


@pytest.mark.parametrize(("code", "step", "discovery_mock", "jwks_mock"), FAILURES)
async def test_each_failure_names_its_step_code_message_and_hints(
    admin: httpx.AsyncClient,
    router: respx.MockRouter,
    keys: list[dict[str, Any]],
    code: str,
    step: str,
    discovery_mock: dict[str, Any],
    jwks_mock: dict[str, Any],
) -> None:
    route = router.get(DISCOVERY_URL)
    if "json" in discovery_mock:
        route.respond(json=discovery_mock["json"])
    elif discovery_mock:
        route.mock(**discovery_mock)
    else:
        route.respond(json=discovery())
    router.get(JWKS_URI).mock(**jwks_mock) if jwks_mock else router.get(JWKS_URI).respond(
        json={"keys": keys}
    )
    result = await report(admin, await saved(admin))
    assert result["ok"] is False
    failure = result["failure"]
    assert (failure["step"], failure["code"]) == (step, code)
    assert failure["message"]
    assert failure["hints"][-3:] == list(CONNECTION_HINTS)
    assert failure["hint"] == failure["hints"][0]
    assert failure["hint"] not in CONNECTION_HINTS  # the code's own hint comes first
    if step == "jwks":  # what discovery found is still shown
        assert result["issuer"] == ISSUER and result["jwks_uri"] == JWKS_URI
        assert result["jwks_key_count"] is None
    else:
        assert result["issuer"] is None


async def test_an_unknown_host_is_dns(admin: httpx.AsyncClient, router: respx.MockRouter) -> None:
    result = await report(admin, UNSAVED, form(domain="typo.idp.example.com"))
    assert result["failure"]["code"] == "dns"
    assert "does not resolve" in result["failure"]["hint"]


async def test_a_host_resolving_to_a_private_address_is_refused(
    admin: httpx.AsyncClient, router: respx.MockRouter, dns: dict[str, list[str]]
) -> None:
    dns["sso.corp.example"] = ["10.20.30.40"]
    route = router.get("https://sso.corp.example/.well-known/openid-configuration")
    result = await report(admin, UNSAVED, form(domain="sso.corp.example"))
    assert (result["failure"]["step"], result["failure"]["code"]) == (
        "discovery",
        "address_blocked",
    )
    assert "private or internal address" in result["failure"]["hint"]
    assert not route.called  # refused before connecting


@pytest.mark.parametrize("address", ["169.254.169.254", "10.0.0.7", "192.168.1.1", "[fd00::1]"])
async def test_private_and_metadata_addresses_are_refused_without_a_connection(
    admin: httpx.AsyncClient, address: str
) -> None:
    # No respx and no fake DNS: a connection attempt would reach the real network.
    result = await report(admin, UNSAVED, form(domain=address))
    assert result["ok"] is False
    assert result["failure"]["code"] == "address_blocked"


async def test_plain_http_is_refused_for_a_public_host(
    admin: httpx.AsyncClient, router: respx.MockRouter
) -> None:
    result = await report(admin, UNSAVED, form(domain="http://idp.example.com"))
    assert result["failure"]["code"] == "insecure_scheme"


# -- against the hostile provider on a real port -----------------------------------------------


async def test_the_hostile_provider_passes_then_fails_with_issuer_mismatch(
    admin: httpx.AsyncClient, hostile_op: HostileOP
) -> None:
    url = await saved(admin, domain=hostile_op.issuer)
    result = await report(admin, url)
    assert result["ok"] is True, result
    assert result["issuer"] == hostile_op.issuer
    assert result["jwks_key_count"] == 2
    assert set(result["signing_algorithms"]) >= {"RS256", "ES256"}

    hostile_op.bend = Bend(discovery_issuer="http://127.0.0.1:1/impostor")
    result = await report(admin, url)
    assert result["ok"] is False
    assert result["failure"]["code"] == "issuer_mismatch"
    assert result["failure"]["step"] == "discovery"


async def test_https_to_a_server_without_tls_is_a_tls_failure(
    admin: httpx.AsyncClient, hostile_op: HostileOP
) -> None:
    # The hostile provider speaks plain http: the TLS handshake fails for real.
    domain = hostile_op.issuer.replace("http://", "https://")
    result = await report(admin, UNSAVED, form(domain=domain))
    assert (result["failure"]["step"], result["failure"]["code"]) == ("discovery", "tls")
    assert "TLS" in result["failure"]["message"]
    assert "certificate" in result["failure"]["hint"]


async def test_a_weak_key_at_the_hostile_provider_is_a_warning(
    admin: httpx.AsyncClient, hostile_op: HostileOP
) -> None:
    hostile_op.bend = Bend(weak_rsa_key=True)
    result = await report(admin, UNSAVED, form(domain=hostile_op.issuer))
    assert result["ok"] is True
    assert result["jwks_key_count"] == 2  # the 1024-bit key is not counted
    assert "weak_rsa_key" in [w["code"] for w in result["warnings"]]


# -- requests that cannot be tested ------------------------------------------------------------


async def test_an_invalid_form_is_a_422_with_field_errors(admin: httpx.AsyncClient) -> None:
    response = await admin.post(
        UNSAVED,
        json=form(domain="not a domain", scopes="profile", identifier="Bad!", colour="red"),
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field_codes"] == {
        "colour": "unknown_field",
        "identifier": "invalid_identifier",
        "domain": "invalid_domain",
        "scopes": "openid_required",
    }
    assert error["message"].startswith("The connection was not tested: 4 fields")


async def test_a_secret_for_a_public_client_is_refused_like_on_save(
    admin: httpx.AsyncClient,
) -> None:
    response = await admin.post(UNSAVED, json=form(auth_method="none", client_secret="x"))
    assert response.status_code == 422
    assert response.json()["error"]["field_codes"] == {"client_secret": "client_secret_not_allowed"}


async def test_preset_options_are_checked(admin: httpx.AsyncClient) -> None:
    response = await admin.post(
        UNSAVED, json={"preset": "azure-ad", "preset_options": {"tenant": "not a tenant!"}}
    )
    assert response.status_code == 422
    fields = response.json()["error"]["fields"]
    assert list(fields) == ["preset_options.tenant"]


async def test_an_unknown_saved_provider_is_a_404(admin: httpx.AsyncClient) -> None:
    response = await admin.post(f"{PROVIDERS}/nobody/test-connection")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "provider_not_found"


# -- the discovery cache follows edits ---------------------------------------------------------


async def test_editing_the_domain_drops_the_cached_discovery_document(
    admin: httpx.AsyncClient, router: respx.MockRouter, context: AppContext
) -> None:
    route = router.get(DISCOVERY_URL).respond(json=discovery())
    await saved(admin)
    target = DiscoveryTarget(DISCOVERY_URL, ISSUER, "idp.example.com")
    await context.discovery.get(target)
    await context.discovery.get(target)
    assert route.call_count == 1  # cached

    response = await admin.patch(f"{PROVIDERS}/corp", json={"domain": "idp2.example.com"})
    assert response.status_code == 200, response.text
    await context.discovery.get(target)
    assert route.call_count == 2  # the old domain's document was forgotten
