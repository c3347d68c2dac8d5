"""Signing keys: which are kept, how failures are named, how the cache refetches."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest
import respx
from fedlogin.oidc.errors import JwksError, OutboundError
from fedlogin.oidc.jwks import JwksCache, fetch_jwks, parse_jwks
from fedlogin.oidc.outbound import Outbound
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey

if TYPE_CHECKING:
    from conftest import Idp


def test_rsa_and_ec_signing_keys_are_kept_with_their_published_kid(
    idp: Idp, rsa_key: RSAKey, ec_key: ECKey
) -> None:
    document = idp.jwks_document(rsa_key, ec_key)
    document["keys"].append(idp.public_jwk(rsa_key, kid=None))  # one without kid
    keys = parse_jwks(document, idp.JWKS_URI)
    assert [(k.kid, k.kty) for k in keys.keys] == [("rsa-1", "RSA"), ("ec-1", "EC"), (None, "RSA")]
    assert keys.keys[1].curve == "P-256"
    assert keys.ignored == ()
    assert isinstance(keys.key_set(), KeySet)
    assert len(keys.key_set().keys) == 3


def test_weak_rsa_keys_and_keys_not_for_signing_are_ignored(
    idp: Idp, rsa_key: RSAKey, ec_key: ECKey
) -> None:
    document = {
        "keys": [
            idp.weak_rsa_jwk("weak"),
            idp.public_jwk(ec_key, kid="enc", use="enc"),
            idp.public_jwk(rsa_key, kid="wrap", key_ops=["wrapKey"]),
            {"kty": "oct", "kid": "sym", "k": "c2VjcmV0c2VjcmV0c2VjcmV0"},
            {
                "kty": "OKP",
                "kid": "ed",
                "crv": "Ed25519",
                "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
            },
            {"kty": "EC", "kid": "k1", "crv": "secp256k1", "x": "a", "y": "b"},
            {"kty": "RSA", "kid": "broken", "n": 42, "e": "AQAB"},
            "not a key",
            idp.public_jwk(rsa_key, use="sig"),
        ]
    }
    keys = parse_jwks(document, idp.JWKS_URI)
    assert [k.kid for k in keys.keys] == ["rsa-1"]
    codes = {key.kid: key.code for key in keys.ignored}
    assert codes == {
        "weak": "weak_rsa_key",
        "enc": "not_for_signing",
        "wrap": "not_for_signing",
        "sym": "unsupported_key",
        "ed": "unsupported_key",
        "k1": "unsupported_key",
        "broken": "malformed_key",
        None: "malformed_key",
    }
    assert "1024 bits" in next(k.reason for k in keys.ignored if k.kid == "weak")


def test_private_members_published_by_mistake_are_not_kept(idp: Idp, rsa_key: RSAKey) -> None:
    jwk = dict(rsa_key.as_dict(private=True))
    keys = parse_jwks({"keys": [jwk]}, idp.JWKS_URI)
    assert keys.keys[0].key.private_key is None


@pytest.mark.parametrize("document", [{"keys": []}, {"keys": [{"kty": "oct", "k": "AAAA"}]}])
def test_a_set_without_usable_keys_is_jwks_empty(document: dict[str, Any]) -> None:
    with pytest.raises(JwksError) as caught:
        parse_jwks(document, "https://keys.example/jwks")
    assert caught.value.code == "jwks_empty"
    assert caught.value.step == "jwks"


@pytest.mark.parametrize("document", [[], {"keys": "none"}, {"key": []}, "keys"])
def test_a_document_that_is_not_a_key_set_is_jwks_invalid(document: Any) -> None:
    with pytest.raises(JwksError) as caught:
        parse_jwks(document, "https://keys.example/jwks")
    assert caught.value.code == "jwks_invalid"


async def test_a_weak_only_key_set_is_jwks_empty_when_fetched(idp: Idp, outbound: Outbound) -> None:
    idp.serve_jwks({"keys": [idp.weak_rsa_jwk()]})
    with pytest.raises(JwksError) as caught:
        await fetch_jwks(outbound, idp.JWKS_URI)
    assert caught.value.code == "jwks_empty"
    assert "2048" in caught.value.message


@pytest.mark.parametrize(
    ("response", "cause"),
    [
        (httpx.Response(404), "http_status"),
        (httpx.Response(500, text="oops"), "http_status"),
        (httpx.Response(302, headers={"Location": "https://elsewhere.example/"}), "redirect"),
        (httpx.ConnectTimeout("slow"), "timeout"),
        (httpx.ConnectError("refused"), "connect"),
    ],
)
async def test_a_key_set_that_cannot_be_fetched_is_jwks_unreachable(
    response: Any, cause: str, router: respx.MockRouter, outbound: Outbound, idp: Idp
) -> None:
    if isinstance(response, Exception):
        router.get(idp.JWKS_URI).mock(side_effect=response)
    else:
        router.get(idp.JWKS_URI).mock(return_value=response)
    with pytest.raises(JwksError) as caught:
        await fetch_jwks(outbound, idp.JWKS_URI)
    assert caught.value.code == "jwks_unreachable"
    assert caught.value.cause_code == cause


async def test_an_unresolvable_jwks_host_is_jwks_unreachable(outbound: Outbound) -> None:
    with pytest.raises(JwksError) as caught:
        await fetch_jwks(outbound, "https://keys.nowhere.example/jwks")
    assert caught.value.code == "jwks_unreachable"
    assert caught.value.cause_code == "dns"


async def test_a_key_set_that_is_not_json_is_jwks_invalid(
    router: respx.MockRouter, outbound: Outbound, idp: Idp
) -> None:
    router.get(idp.JWKS_URI).respond(200, text="<html>")
    with pytest.raises(JwksError) as caught:
        await fetch_jwks(outbound, idp.JWKS_URI)
    assert caught.value.code == "jwks_invalid"


async def test_a_jwks_uri_on_an_internal_address_stays_address_blocked(
    dns: dict[str, list[str]], outbound: Outbound
) -> None:
    dns["keys.internal.example"] = ["10.0.0.5"]
    with pytest.raises(OutboundError) as caught:
        await fetch_jwks(outbound, "https://keys.internal.example/jwks")
    assert caught.value.code == "address_blocked"
    assert caught.value.step == "jwks"


# -- the cache ------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


async def test_keys_are_cached_for_their_ttl(idp: Idp, outbound: Outbound) -> None:
    route = idp.serve_jwks()
    clock = Clock()
    cache = JwksCache(outbound, ttl=3600, clock=clock)
    await cache.get(idp.JWKS_URI)
    clock.now += 3000
    await cache.get(idp.JWKS_URI)
    assert route.call_count == 1
    clock.now += 601
    await cache.get(idp.JWKS_URI)
    assert route.call_count == 2


async def test_a_refresh_is_rate_limited_per_jwks_uri(
    idp: Idp, outbound: Outbound, rsa_key: RSAKey, rsa_key_2: RSAKey
) -> None:
    route = idp.serve_jwks(
        idp.jwks_document(rsa_key),
        idp.jwks_document(rsa_key_2),
        idp.jwks_document(rsa_key),
        idp.jwks_document(rsa_key_2),
    )
    clock = Clock()
    cache = JwksCache(outbound, refetch_interval=30, clock=clock)
    assert [k.kid for k in (await cache.get(idp.JWKS_URI)).keys] == ["rsa-1"]
    # A rotation right after the first fetch is followed at once...
    assert [k.kid for k in (await cache.refresh(idp.JWKS_URI)).keys] == ["rsa-2"]
    assert route.call_count == 2
    # ...but another refetch within the interval is not made.
    clock.now += 29
    assert [k.kid for k in (await cache.refresh(idp.JWKS_URI)).keys] == ["rsa-2"]
    assert route.call_count == 2
    clock.now += 2
    assert [k.kid for k in (await cache.refresh(idp.JWKS_URI)).keys] == ["rsa-1"]
    assert route.call_count == 3
    assert [k.kid for k in (await cache.get(idp.JWKS_URI)).keys] == ["rsa-1"]
    assert route.call_count == 3
    other = JwksCache(outbound, refetch_interval=30, clock=clock)
    await other.refresh(idp.JWKS_URI)  # the limit is per cache and jwks_uri, not global
    assert route.call_count == 4


async def test_a_failed_refetch_counts_against_the_rate_limit(
    idp: Idp, router: respx.MockRouter, outbound: Outbound
) -> None:
    route = router.get(idp.JWKS_URI)
    route.side_effect = [
        httpx.Response(200, json=idp.jwks_document()),
        httpx.Response(503),
        httpx.Response(200, json=idp.jwks_document()),
    ]
    clock = Clock()
    cache = JwksCache(outbound, refetch_interval=30, clock=clock)
    await cache.get(idp.JWKS_URI)
    with pytest.raises(JwksError):
        await cache.refresh(idp.JWKS_URI)
    clock.now += 1
    assert len(await cache.refresh(idp.JWKS_URI)) == 2  # the keys still cached, no fetch
    assert route.call_count == 2


async def test_an_hmac_key_is_never_taken_from_a_key_set(idp: Idp) -> None:
    secret = OctKey.import_key(idp.CLIENT_SECRET, {"kid": "hmac"})
    keys = parse_jwks(
        {"keys": [dict(secret.as_dict(private=True)), idp.public_jwk(idp.keys[0])]}, idp.JWKS_URI
    )
    assert [k.kid for k in keys.keys] == ["rsa-1"]
