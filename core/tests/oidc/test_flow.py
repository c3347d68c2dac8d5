"""A whole sign-in through the relying party, the way the web layer will drive it."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import respx
from fedlogin.oidc import (
    ClientCredentials,
    DiscoveryCache,
    IdTokenRules,
    JwksCache,
    exchange_code,
    fetch_userinfo,
    new_authorization,
    parse_callback,
    validate_id_token,
)
from fedlogin.oidc.errors import DiscoveryError, IdTokenError
from fedlogin.oidc.outbound import Outbound
from fedlogin.presets import DiscoveryTarget
from joserfc.jwk import RSAKey

if TYPE_CHECKING:
    from conftest import Idp

REDIRECT_URI = "https://app.example.org/auth/callback/generic"


class Provider:
    """The identity provider's side of the flow: it issues a code and tokens for it."""

    def __init__(self, idp: Idp, key: RSAKey) -> None:
        self.idp = idp
        self.key = key
        self.authorization: dict[str, str] = {}
        self.token_requests: list[dict[str, str]] = []
        self.id_token_claims: dict[str, Any] = {}

    def authorize(self, url: str) -> dict[str, str]:
        """What the browser brings back after the user signed in."""
        self.authorization = dict(parse_qsl(urlsplit(url).query))
        return {"code": "code-1", "state": self.authorization["state"], "iss": self.idp.ISSUER}

    def token(self, request: httpx.Request) -> httpx.Response:
        body = dict(parse_qsl(request.content.decode()))
        self.token_requests.append(body)
        verifier_hash = hashlib.sha256(body["code_verifier"].encode()).digest()
        challenge = base64.urlsafe_b64encode(verifier_hash).rstrip(b"=").decode()
        if challenge != self.authorization["code_challenge"]:
            return httpx.Response(400, json={"error": "invalid_grant"})
        access_token = "access-" + body["code"]
        claims = self.idp.claims(nonce=self.authorization["nonce"], **self.id_token_claims)
        digest = hashlib.sha256(access_token.encode()).digest()
        claims["at_hash"] = base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()
        id_token = self.idp.sign(claims, self.key)
        return httpx.Response(
            200, json={"access_token": access_token, "token_type": "Bearer", "id_token": id_token}
        )


async def sign_in(
    idp: Idp,
    provider: Provider,
    outbound: Outbound,
    discovery: DiscoveryCache,
    jwks: JwksCache,
    target: DiscoveryTarget,
) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    metadata = await discovery.get(target)
    started = new_authorization(
        metadata, client_id=idp.CLIENT_ID, redirect_uri=REDIRECT_URI, scopes=["openid", "email"]
    )
    callback = provider.authorize(started.url)
    assert callback["state"] == started.state  # the web layer's check, against its flow
    code = parse_callback(callback, metadata)
    tokens = await exchange_code(
        outbound,
        metadata,
        ClientCredentials(idp.CLIENT_ID, idp.CLIENT_SECRET, "client_secret_basic"),
        code=code,
        code_verifier=started.code_verifier,
        redirect_uri=started.redirect_uri,
    )
    id_token = await validate_id_token(
        tokens.id_token,
        rules=IdTokenRules(client_id=idp.CLIENT_ID),
        keys=jwks.source(metadata.jwks_uri),
        nonce=started.nonce,
        accepted_issuers=lambda claims: [metadata.issuer],
        access_token=tokens.access_token,
    )
    userinfo = await fetch_userinfo(
        outbound, metadata, access_token=tokens.access_token, subject=id_token.subject
    )
    return id_token.claims, userinfo


@pytest.fixture
def provider(idp: Idp, router: respx.MockRouter, rsa_key: RSAKey) -> Provider:
    provider = Provider(idp, rsa_key)
    router.post(idp.ISSUER + "/token").mock(side_effect=provider.token)
    return provider


async def test_a_code_flow_completes_and_userinfo_claims_are_used(
    idp: Idp,
    provider: Provider,
    router: respx.MockRouter,
    outbound: Outbound,
    target: DiscoveryTarget,
) -> None:
    # rp-response_type-code, rp-scope-userinfo-claims, rp-discovery-jwks_uri-keys
    discovery_route = idp.serve_discovery(authorization_response_iss_parameter_supported=True)
    jwks_route = idp.serve_jwks()  # only at the discovered jwks_uri, on another host
    userinfo = router.get(idp.ISSUER + "/userinfo").respond(
        json={"sub": "user-42", "email": "ada@example.org", "email_verified": True}
    )
    claims, info = await sign_in(
        idp, provider, outbound, DiscoveryCache(outbound), JwksCache(outbound), target
    )
    assert claims["sub"] == "user-42"
    assert "email" not in claims
    assert info["email"] == "ada@example.org"
    assert provider.authorization["code_challenge_method"] == "S256"
    assert provider.token_requests[0]["redirect_uri"] == REDIRECT_URI
    assert (discovery_route.call_count, jwks_route.call_count, userinfo.call_count) == (1, 1, 1)


async def test_a_second_sign_in_fetches_neither_discovery_nor_keys(
    idp: Idp,
    provider: Provider,
    router: respx.MockRouter,
    outbound: Outbound,
    target: DiscoveryTarget,
) -> None:
    discovery_route = idp.serve_discovery()
    jwks_route = idp.serve_jwks()
    router.get(idp.ISSUER + "/userinfo").respond(json={"sub": "user-42"})
    discovery, jwks = DiscoveryCache(outbound), JwksCache(outbound)
    for _ in range(3):
        await sign_in(idp, provider, outbound, discovery, jwks, target)
    assert (discovery_route.call_count, jwks_route.call_count) == (1, 1)
    assert len(provider.token_requests) == 3


async def test_a_provider_naming_another_issuer_never_gets_a_user_redirected(
    idp: Idp, provider: Provider, outbound: Outbound, target: DiscoveryTarget
) -> None:
    idp.serve_discovery(issuer="https://impostor.example.com")
    with pytest.raises(DiscoveryError):
        await sign_in(
            idp, provider, outbound, DiscoveryCache(outbound), JwksCache(outbound), target
        )
    assert provider.authorization == {}  # no authorization URL was ever produced


async def test_a_token_for_another_client_fails_the_sign_in(
    idp: Idp,
    provider: Provider,
    router: respx.MockRouter,
    outbound: Outbound,
    target: DiscoveryTarget,
) -> None:
    idp.serve_discovery()
    idp.serve_jwks()
    userinfo = router.get(idp.ISSUER + "/userinfo").respond(json={"sub": "user-42"})
    provider.id_token_claims = {"aud": "another-client"}
    with pytest.raises(IdTokenError) as caught:
        await sign_in(
            idp, provider, outbound, DiscoveryCache(outbound), JwksCache(outbound), target
        )
    assert caught.value.code == "id_token_audience"
    assert not userinfo.called
