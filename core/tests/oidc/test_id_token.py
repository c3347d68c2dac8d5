"""ID token validation (OpenID Connect Core 3.1.3.7) and the certification rows about it."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pytest
from fedlogin.oidc.errors import IdTokenError
from fedlogin.oidc.id_token import IdToken, IdTokenRules, validate_id_token
from fedlogin.oidc.jwks import JwksCache, KeySource, StaticKeys, parse_jwks
from fedlogin.oidc.outbound import Outbound
from joserfc.jwk import ECKey, Key, RSAKey

if TYPE_CHECKING:
    from conftest import Idp

NOW = 1_700_000_000.0


class IssuerCheck:
    """``accepted_issuers`` that records each call, to see when the issuer is checked."""

    def __init__(self, *issuers: str) -> None:
        self.issuers = list(issuers)
        self.calls: list[Mapping[str, Any]] = []

    def __call__(self, claims: Mapping[str, Any]) -> Sequence[str]:
        self.calls.append(claims)
        return self.issuers


def keys_of(idp: Idp, *keys: Key, **extra: Any) -> KeySource:
    return StaticKeys(parse_jwks(idp.jwks_document(*keys, **extra), idp.JWKS_URI))


async def validate(
    idp: Idp,
    token: str,
    *,
    keys: KeySource | None = None,
    rules: IdTokenRules | None = None,
    issuers: IssuerCheck | None = None,
    nonce: str | None = None,
    access_token: str | None = None,
    now: float = NOW,
) -> IdToken:
    return await validate_id_token(
        token,
        rules=rules or IdTokenRules(client_id=idp.CLIENT_ID),
        keys=keys or keys_of(idp),
        nonce=nonce or idp.NONCE,
        accepted_issuers=issuers or IssuerCheck(idp.ISSUER),
        access_token=access_token,
        now=now,
    )


async def rejected(idp: Idp, token: str, **kwargs: Any) -> str:
    with pytest.raises(IdTokenError) as caught:
        await validate(idp, token, **kwargs)
    assert caught.value.step == "id_token"
    return caught.value.code


# -- signatures and algorithms ----------------------------------------------------------------


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256"])
async def test_valid_signatures_of_the_default_algorithms_are_accepted(
    alg: str, idp: Idp, rsa_key: RSAKey, ec_key: ECKey
) -> None:
    # rp-id_token-sig-rs256 / -ps256 / -es256, and rp-response_type-code's token
    key = ec_key if alg == "ES256" else rsa_key
    token = idp.sign(idp.claims(NOW), key, alg)
    result = await validate(idp, token)
    assert result.subject == "user-42"
    assert result.issuer == idp.ISSUER
    assert result.header["alg"] == alg
    assert result.claims["nonce"] == idp.NONCE


async def test_alg_none_is_refused(idp: Idp) -> None:
    # rp-id_token-sig-none: never, whatever the metadata or configuration says.
    assert await rejected(idp, idp.unsigned(idp.claims(NOW))) == "id_token_alg_not_allowed"
    with pytest.raises(ValueError, match="none"):
        IdTokenRules(client_id=idp.CLIENT_ID, algorithms=("RS256", "none"))


@pytest.mark.parametrize("alg", ["RS256", "ES256", "PS256"])
async def test_a_corrupted_signature_is_refused(
    alg: str, idp: Idp, rsa_key: RSAKey, ec_key: ECKey
) -> None:
    # rp-id_token-bad-sig-rs256 / -es256
    token = idp.sign(idp.claims(NOW), ec_key if alg == "ES256" else rsa_key, alg)
    head, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[10] ^= 0x01
    bad = f"{head}.{payload}.{base64.urlsafe_b64encode(bytes(raw)).rstrip(b'=').decode()}"
    assert await rejected(idp, bad) == "id_token_invalid_signature"


async def test_claims_changed_after_signing_are_refused(idp: Idp) -> None:
    token = idp.sign(idp.claims(NOW))
    head, _, signature = token.split(".")
    forged = base64.urlsafe_b64encode(json.dumps(idp.claims(NOW, sub="admin")).encode())
    assert (
        await rejected(idp, f"{head}.{forged.rstrip(b'=').decode()}.{signature}")
        == "id_token_invalid_signature"
    )


async def test_hs256_is_refused_unless_enabled(idp: Idp) -> None:
    # rp-id_token-bad-sig-hs256: HMAC with the client secret, not configured.
    token = idp.sign(idp.claims(NOW), idp.hmac_key(), "HS256")
    assert await rejected(idp, token) == "id_token_alg_not_allowed"


async def test_hs256_is_verified_with_the_client_secret_when_enabled(idp: Idp) -> None:
    rules = IdTokenRules(
        client_id=idp.CLIENT_ID, algorithms=("RS256", "HS256"), client_secret=idp.CLIENT_SECRET
    )
    token = idp.sign(idp.claims(NOW), idp.hmac_key(), "HS256", kid=None)
    assert (await validate(idp, token, rules=rules)).subject == "user-42"
    forged = idp.sign(idp.claims(NOW), idp.hmac_key("another-secret-of-enough-length"), "HS256")
    assert await rejected(idp, forged, rules=rules) == "id_token_invalid_signature"


def test_hs256_cannot_be_enabled_without_a_client_secret(idp: Idp) -> None:
    with pytest.raises(ValueError, match="client secret"):
        IdTokenRules(client_id=idp.CLIENT_ID, algorithms=("HS256",))


async def test_an_algorithm_outside_the_allow_list_is_refused(idp: Idp, rsa_key: RSAKey) -> None:
    token = idp.sign(idp.claims(NOW), rsa_key, "RS512")
    assert await rejected(idp, token) == "id_token_alg_not_allowed"
    rules = IdTokenRules(client_id=idp.CLIENT_ID, algorithms=("RS512",))
    assert (await validate(idp, token, rules=rules)).subject == "user-42"


async def test_a_key_that_names_another_algorithm_is_not_used(idp: Idp, rsa_key: RSAKey) -> None:
    token = idp.sign(idp.claims(NOW), rsa_key, "PS256")
    keys = keys_of(idp, rsa_key, alg="RS256")
    assert await rejected(idp, token, keys=keys) == "id_token_unknown_key"


async def test_an_unknown_crit_header_is_refused(idp: Idp) -> None:
    token = idp.sign(idp.claims(NOW), header={"crit": ["x-ext"], "x-ext": True})
    assert await rejected(idp, token) == "id_token_crit"


async def test_an_embedded_jwk_is_never_used_to_verify(idp: Idp, attacker_key: RSAKey) -> None:
    # The attacker signs with their own key, embeds it, and claims the provider's kid.
    header = {"jwk": idp.public_jwk(attacker_key)}
    token = idp.sign(idp.claims(NOW), attacker_key, header=header)
    assert await rejected(idp, token) == "id_token_invalid_signature"


async def test_jku_and_x5u_headers_are_ignored(
    idp: Idp, attacker_key: RSAKey, rsa_key: RSAKey
) -> None:
    # The `router` refuses any request not mocked: following jku would fail loudly.
    header = {
        "jku": "https://attacker.example/jwks",
        "x5u": "https://attacker.example/cert.pem",
    }
    forged = idp.sign(idp.claims(NOW), attacker_key, header=header)
    assert await rejected(idp, forged) == "id_token_invalid_signature"
    genuine = idp.sign(idp.claims(NOW), rsa_key, header=header)
    assert (await validate(idp, genuine)).subject == "user-42"
    assert not idp.router.calls


# -- key selection and rotation ---------------------------------------------------------------


async def test_no_kid_and_a_single_key_without_kid_is_accepted(idp: Idp, rsa_key: RSAKey) -> None:
    # rp-id_token-kid-absent-single-jwks
    token = idp.sign(idp.claims(NOW), rsa_key, kid=None)
    assert (await validate(idp, token, keys=keys_of(idp, rsa_key, kid=None))).subject == "user-42"


async def test_no_kid_and_several_keys_without_kid_tries_each(
    idp: Idp, rsa_key: RSAKey, rsa_key_2: RSAKey, attacker_key: RSAKey
) -> None:
    # rp-id_token-kid-absent-multiple-jwks: we try each key of the right type.
    keys = keys_of(idp, rsa_key, rsa_key_2, kid=None)
    token = idp.sign(idp.claims(NOW), rsa_key_2, kid=None)
    assert (await validate(idp, token, keys=keys)).subject == "user-42"
    forged = idp.sign(idp.claims(NOW), attacker_key, kid=None)
    assert await rejected(idp, forged, keys=keys) == "id_token_invalid_signature"


async def test_a_kid_selects_its_key_only(idp: Idp, rsa_key: RSAKey, rsa_key_2: RSAKey) -> None:
    keys = keys_of(idp, rsa_key, rsa_key_2)
    # Signed by rsa-2 but claiming rsa-1: the kid decides, no fallback to other keys.
    token = idp.sign(idp.claims(NOW), rsa_key_2, kid="rsa-1")
    assert await rejected(idp, token, keys=keys) == "id_token_invalid_signature"


async def test_a_new_kid_makes_the_keys_refetch_once(
    idp: Idp, outbound: Outbound, rsa_key: RSAKey, rsa_key_2: RSAKey
) -> None:
    # rp-key-rotation-op-sign-key: a new kid between logins → refetch, accept.
    route = idp.serve_jwks(idp.jwks_document(rsa_key), idp.jwks_document(rsa_key, rsa_key_2))
    cache = JwksCache(outbound)
    keys = cache.source(idp.JWKS_URI)
    assert (await validate(idp, idp.sign(idp.claims(NOW), rsa_key), keys=keys)).subject
    assert route.call_count == 1
    rotated = idp.sign(idp.claims(NOW), rsa_key_2)
    assert (await validate(idp, rotated, keys=keys)).subject == "user-42"
    assert route.call_count == 2
    assert (await validate(idp, rotated, keys=keys)).subject == "user-42"
    assert route.call_count == 2


async def test_unknown_kids_do_not_refetch_more_than_once_per_interval(
    idp: Idp, outbound: Outbound, attacker_key: RSAKey, rsa_key: RSAKey
) -> None:
    route = idp.serve_jwks(idp.jwks_document(rsa_key))
    clock = [100.0]
    cache = JwksCache(outbound, refetch_interval=30, clock=lambda: clock[0])
    keys = cache.source(idp.JWKS_URI)
    for kid in ("made-up-1", "made-up-2", "made-up-3"):
        token = idp.sign(idp.claims(NOW), attacker_key, kid=kid)
        assert await rejected(idp, token, keys=keys) == "id_token_unknown_key"
    assert route.call_count == 2  # the first fetch and a single refetch


async def test_a_weak_key_is_not_used_even_when_the_kid_names_it(
    idp: Idp, outbound: Outbound, rsa_key: RSAKey
) -> None:
    document = idp.jwks_document(rsa_key)
    document["keys"].append(idp.weak_rsa_jwk("weak"))
    idp.serve_jwks(document)
    keys = JwksCache(outbound).source(idp.JWKS_URI)
    token = idp.sign(idp.claims(NOW), rsa_key, kid="weak")
    assert await rejected(idp, token, keys=keys) == "id_token_unknown_key"


async def test_an_encryption_key_is_not_used_for_signatures(
    idp: Idp, rsa_key: RSAKey, ec_key: ECKey
) -> None:
    document = {"keys": [idp.public_jwk(rsa_key, use="enc"), idp.public_jwk(ec_key)]}
    keys = StaticKeys(parse_jwks(document, idp.JWKS_URI))
    token = idp.sign(idp.claims(NOW), rsa_key)
    assert await rejected(idp, token, keys=keys) == "id_token_unknown_key"


# -- claims ---------------------------------------------------------------------------------


async def test_another_issuer_is_refused_and_checked_only_after_the_signature(
    idp: Idp, attacker_key: RSAKey
) -> None:
    # rp-id_token-issuer-mismatch
    check = IssuerCheck(idp.ISSUER)
    token = idp.sign(idp.claims(NOW, iss="https://evil.example.com"))
    assert await rejected(idp, token, issuers=check) == "id_token_issuer_mismatch"
    assert check.calls and check.calls[-1]["iss"] == "https://evil.example.com"
    # A token that fails its signature never reaches the (plugin-provided) issuer check.
    before = len(check.calls)
    forged = idp.sign(idp.claims(NOW), attacker_key)
    assert await rejected(idp, forged, issuers=check) == "id_token_invalid_signature"
    assert len(check.calls) == before


async def test_the_accepted_issuers_may_depend_on_the_claims(idp: Idp) -> None:
    # Azure AD multi-tenant: the issuer follows the token's tid.
    template = "https://login.example.com/{tenantid}/v2.0"

    def tenant_issuer(claims: Mapping[str, Any]) -> list[str]:
        return [template.replace("{tenantid}", claims["tid"])]

    iss = "https://login.example.com/t-1/v2.0"
    token = idp.sign(idp.claims(NOW, iss=iss, tid="t-1"))
    result = await validate_id_token(
        token,
        rules=IdTokenRules(client_id=idp.CLIENT_ID),
        keys=keys_of(idp),
        nonce=idp.NONCE,
        accepted_issuers=tenant_issuer,
        now=NOW,
    )
    assert result.issuer == iss
    other = idp.sign(idp.claims(NOW, iss=iss, tid="t-2"))
    assert await rejected(idp, other, issuers=IssuerCheck()) == "id_token_issuer_mismatch"


@pytest.mark.parametrize("iss", [None, 42, ["https://idp.example.com"]])
async def test_a_missing_or_odd_issuer_is_refused(iss: Any, idp: Idp) -> None:
    token = idp.sign(idp.claims(NOW, iss=iss))
    assert await rejected(idp, token) == "id_token_issuer_mismatch"


@pytest.mark.parametrize("sub", [None, "", 42, "x" * 256])
async def test_a_missing_or_oversized_subject_is_refused(sub: Any, idp: Idp) -> None:
    # rp-id_token-sub
    assert await rejected(idp, idp.sign(idp.claims(NOW, sub=sub))) == "id_token_sub"


async def test_a_subject_of_255_characters_is_accepted(idp: Idp) -> None:
    token = idp.sign(idp.claims(NOW, sub="s" * 255))
    assert len((await validate(idp, token)).subject) == 255


@pytest.mark.parametrize("aud", [None, "another-client", ["another-client"], [], 42])
async def test_an_audience_without_our_client_is_refused(aud: Any, idp: Idp) -> None:
    # rp-id_token-aud
    assert await rejected(idp, idp.sign(idp.claims(NOW, aud=aud))) == "id_token_audience"


async def test_an_untrusted_extra_audience_is_refused(idp: Idp) -> None:
    token = idp.sign(idp.claims(NOW, aud=[idp.CLIENT_ID, "api"], azp=idp.CLIENT_ID))
    assert await rejected(idp, token) == "id_token_audience"
    rules = IdTokenRules(client_id=idp.CLIENT_ID, trusted_audiences=("api",))
    assert (await validate(idp, token, rules=rules)).subject == "user-42"


async def test_several_audiences_require_azp(idp: Idp) -> None:
    rules = IdTokenRules(client_id=idp.CLIENT_ID, trusted_audiences=("api",))
    token = idp.sign(idp.claims(NOW, aud=[idp.CLIENT_ID, "api"]))
    assert await rejected(idp, token, rules=rules) == "id_token_azp"


async def test_azp_must_be_our_client_when_present(idp: Idp) -> None:
    token = idp.sign(idp.claims(NOW, azp="another-client"))
    assert await rejected(idp, token) == "id_token_azp"
    token = idp.sign(idp.claims(NOW, aud=[idp.CLIENT_ID], azp=idp.CLIENT_ID))
    assert (await validate(idp, token)).subject == "user-42"


async def test_expiry_is_checked_with_the_configured_leeway(idp: Idp) -> None:
    token = idp.sign(idp.claims(NOW - 600, exp=int(NOW) - 30))
    assert (await validate(idp, token)).subject == "user-42"  # 30 s late, 60 s leeway
    strict = IdTokenRules(client_id=idp.CLIENT_ID, leeway=10)
    assert await rejected(idp, token, rules=strict) == "id_token_expired"
    late = idp.sign(idp.claims(NOW - 600, exp=int(NOW) - 61))
    assert await rejected(idp, late) == "id_token_expired"


@pytest.mark.parametrize("exp", [None, "1700000300", True])
async def test_a_missing_or_odd_exp_is_refused(exp: Any, idp: Idp) -> None:
    assert await rejected(idp, idp.sign(idp.claims(NOW, exp=exp))) == "id_token_expired"


@pytest.mark.parametrize("iat", [None, "now", False])
async def test_a_missing_iat_is_refused(iat: Any, idp: Idp) -> None:
    # rp-id_token-iat
    assert await rejected(idp, idp.sign(idp.claims(NOW, iat=iat))) == "id_token_iat"


async def test_an_iat_in_the_future_beyond_the_leeway_is_refused(idp: Idp) -> None:
    assert (await validate(idp, idp.sign(idp.claims(NOW + 50)))).subject == "user-42"
    assert await rejected(idp, idp.sign(idp.claims(NOW + 120))) == "id_token_iat"


async def test_an_nbf_in_the_future_is_refused(idp: Idp) -> None:
    assert await rejected(idp, idp.sign(idp.claims(NOW, nbf=int(NOW) + 300))) == "id_token_nbf"


def test_the_leeway_cannot_exceed_sixty_seconds(idp: Idp) -> None:
    with pytest.raises(ValueError, match="leeway"):
        IdTokenRules(client_id=idp.CLIENT_ID, leeway=300)


@pytest.mark.parametrize("nonce", [None, "another-flows-nonce", "", 7])
async def test_a_wrong_or_missing_nonce_is_refused(nonce: Any, idp: Idp) -> None:
    # rp-nonce-invalid
    assert await rejected(idp, idp.sign(idp.claims(NOW, nonce=nonce))) == "id_token_nonce"


def _at_hash(access_token: str, digest: Any) -> str:
    full = digest(access_token.encode()).digest()
    return base64.urlsafe_b64encode(full[: len(full) // 2]).rstrip(b"=").decode()


async def test_at_hash_is_checked_when_present(idp: Idp, ec_key: ECKey) -> None:
    access_token = "access-token-xyz"
    good = idp.sign(idp.claims(NOW, at_hash=_at_hash(access_token, hashlib.sha256)))
    assert (await validate(idp, good, access_token=access_token)).subject == "user-42"
    wrong = idp.sign(idp.claims(NOW, at_hash=_at_hash("another-token", hashlib.sha256)))
    code = await rejected(idp, wrong, access_token=access_token)
    assert code == "id_token_at_hash"
    es = idp.sign(idp.claims(NOW, at_hash=_at_hash(access_token, hashlib.sha256)), ec_key, "ES256")
    assert (await validate(idp, es, access_token=access_token)).subject == "user-42"


async def test_at_hash_uses_the_hash_of_the_signing_algorithm(idp: Idp, rsa_key: RSAKey) -> None:
    rules = IdTokenRules(client_id=idp.CLIENT_ID, algorithms=("RS384",))
    access_token = "access-token-xyz"
    sha384 = idp.sign(
        idp.claims(NOW, at_hash=_at_hash(access_token, hashlib.sha384)), rsa_key, "RS384"
    )
    assert (await validate(idp, sha384, rules=rules, access_token=access_token)).subject
    sha256 = idp.sign(
        idp.claims(NOW, at_hash=_at_hash(access_token, hashlib.sha256)), rsa_key, "RS384"
    )
    assert await rejected(idp, sha256, rules=rules, access_token=access_token) == "id_token_at_hash"


# -- shape ----------------------------------------------------------------------------------


async def test_an_oversized_token_is_refused(idp: Idp) -> None:
    token = idp.sign(idp.claims(NOW, padding="x" * 17_000))
    assert await rejected(idp, token) == "id_token_too_large"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "abc",
        "a.b",
        "a.b.c.d.e",
        "!!!.e30.c2ln",
        base64.urlsafe_b64encode(b"[1]").decode() + ".e30.c2ln",
        base64.urlsafe_b64encode(b'{"typ":"JWT"}').decode() + ".e30.c2ln",
        base64.urlsafe_b64encode(b'{"alg":"RS256","kid":7}').decode() + ".e30.c2ln",
    ],
)
async def test_malformed_tokens_are_refused(token: str, idp: Idp) -> None:
    assert await rejected(idp, token) == "id_token_malformed"


async def test_claims_that_are_not_an_object_are_refused(idp: Idp, rsa_key: RSAKey) -> None:
    from joserfc import jws

    token = jws.serialize_compact({"alg": "RS256", "kid": "rsa-1"}, b"[1, 2]", rsa_key)
    assert await rejected(idp, token) == "id_token_malformed"


async def test_validation_uses_the_current_time_by_default(idp: Idp) -> None:
    token = idp.sign(idp.claims(time.time()))
    result = await validate_id_token(
        token,
        rules=IdTokenRules(client_id=idp.CLIENT_ID),
        keys=keys_of(idp),
        nonce=idp.NONCE,
        accepted_issuers=IssuerCheck(idp.ISSUER),
    )
    assert result.subject == "user-42"
    old = idp.sign(idp.claims(NOW))
    with pytest.raises(IdTokenError) as caught:
        await validate_id_token(
            old,
            rules=IdTokenRules(client_id=idp.CLIENT_ID),
            keys=keys_of(idp),
            nonce=idp.NONCE,
            accepted_issuers=IssuerCheck(idp.ISSUER),
        )
    assert caught.value.code == "id_token_expired"


def test_the_raw_token_and_secret_stay_out_of_reprs(idp: Idp) -> None:
    rules = IdTokenRules(
        client_id=idp.CLIENT_ID, algorithms=("HS256",), client_secret="s3cr3t-value-long"
    )
    assert "s3cr3t" not in repr(rules)
    token = IdToken(raw="eyJraw", header={}, claims={"sub": "x"})
    assert "eyJraw" not in repr(token)
