"""The hostile provider behaves by default and bends exactly what a Bend says."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.errors import BadSignatureError, InvalidKeyIdError, JoseError
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey

from tests.support.hostile_jose import half_hash
from tests.support.hostile_op import Bend, HostileOP
from tests.support.op_login import callback_params

REDIRECT_URI = "http://127.0.0.1:8765/callback"


@dataclass
class SignIn:
    callback: dict[str, str]
    nonce: str
    token_response: httpx.Response

    @property
    def tokens(self) -> dict[str, Any]:
        assert self.token_response.status_code == 200, self.token_response.text
        body: dict[str, Any] = self.token_response.json()
        return body

    @property
    def id_token(self) -> str:
        return str(self.tokens["id_token"])


def sign_in(op: HostileOP, *, basic: bool = True, secret: str | None = None) -> SignIn:
    """What a relying party does: authorize with PKCE S256, then redeem the code."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    nonce = secrets.token_urlsafe(16)
    url = op.authorization_url(
        redirect_uri=REDIRECT_URI,
        state="the-state",
        nonce=nonce,
        code_challenge=challenge.rstrip(b"=").decode(),
        code_challenge_method="S256",
    )
    callback = callback_params(op.follow_authorize(url))
    form = {
        "grant_type": "authorization_code",
        "redirect_uri": REDIRECT_URI,
        "code": callback.get("code", ""),
        "code_verifier": verifier,
    }
    auth: tuple[str, str] | None = None
    secret = secret or op.client_secret
    assert secret is not None
    if basic:
        auth = (op.client_id, secret)
    else:
        form |= {"client_id": op.client_id, "client_secret": secret}
    response = httpx.post(f"{op.issuer}/token", data=form, auth=auth, trust_env=False)
    return SignIn(callback, nonce, response)


def jwks(op: HostileOP) -> KeySet:
    return KeySet.import_key_set(httpx.get(op.jwks_uri, trust_env=False).json())


def segments(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    header, claims, signature = token.split(".")

    def part(value: str) -> bytes:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))

    return json.loads(part(header)), json.loads(part(claims)), part(signature)


# -- well-behaved ------------------------------------------------------------------------------


def test_discovery_describes_the_provider(hostile_op: HostileOP) -> None:
    document = httpx.get(hostile_op.discovery_url, trust_env=False).json()
    assert document["issuer"] == hostile_op.issuer
    assert hostile_op.issuer.startswith("http://127.0.0.1:")
    assert document["jwks_uri"] == hostile_op.jwks_uri
    assert document["authorization_response_iss_parameter_supported"] is True
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["id_token_signing_alg_values_supported"] == ["RS256", "PS256", "ES256"]


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256"])
def test_a_normal_flow_yields_an_id_token_that_verifies(hostile_op: HostileOP, alg: Any) -> None:
    hostile_op.bend = Bend(alg=alg)
    result = sign_in(hostile_op)
    assert result.callback["state"] == "the-state"
    assert result.callback["iss"] == hostile_op.issuer

    token = jwt.decode(result.id_token, jwks(hostile_op), algorithms=[alg])
    assert token.header["alg"] == alg
    assert token.header["kid"] in hostile_op.keys.kids
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": hostile_op.issuer},
        aud={"essential": True, "value": hostile_op.client_id},
        sub={"essential": True, "value": "hostile-user-1"},
        nonce={"essential": True, "value": result.nonce},
        iat={"essential": True},
        exp={"essential": True},
    ).validate(token.claims)
    assert token.claims["at_hash"] == half_hash(result.tokens["access_token"])
    assert token.claims["email"] == "hostile.user@example.com"


def test_it_records_client_authentication_and_the_bearer_header(hostile_op: HostileOP) -> None:
    result = sign_in(hostile_op)
    access_token = result.tokens["access_token"]
    claims = httpx.get(
        f"{hostile_op.issuer}/userinfo",
        headers={"Authorization": f"Bearer {access_token}"},
        trust_env=False,
    ).json()
    assert claims["sub"] == "hostile-user-1"

    (token_request,) = hostile_op.token_requests
    assert token_request.basic_credentials() == (hostile_op.client_id, hostile_op.client_secret)
    assert "client_secret" not in token_request.form
    assert token_request.form["code_verifier"]
    (userinfo_request,) = hostile_op.userinfo_requests
    assert userinfo_request.bearer_token() == access_token
    assert hostile_op.authorize_requests[0].query["code_challenge_method"] == "S256"


def test_basic_credentials_are_form_url_decoded(
    hostile_op_factory: Callable[..., HostileOP],
) -> None:
    op = hostile_op_factory(client_id="id:with/odd+chars", client_secret="s3cret: +/%")
    pair = "id%3Awith%2Fodd%2Bchars:s3cret%3A+%2B%2F%25"  # RFC 6749 section 2.3.1
    form = {"grant_type": "authorization_code", "code": "unknown"}
    headers = {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
    response = httpx.post(f"{op.issuer}/token", data=form, headers=headers, trust_env=False)
    assert response.json()["error"] == "invalid_grant"  # authenticated; only the code is bad
    assert op.token_requests[0].basic_credentials() == ("id:with/odd+chars", "s3cret: +/%")


def test_client_secret_post_is_accepted_and_a_wrong_secret_is_not(hostile_op: HostileOP) -> None:
    assert sign_in(hostile_op, basic=False).token_response.status_code == 200
    response = sign_in(hostile_op, secret="not-the-secret").token_response
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_userinfo_accepts_only_the_authorization_header(hostile_op: HostileOP) -> None:
    access_token = sign_in(hostile_op).tokens["access_token"]
    response = httpx.get(
        f"{hostile_op.issuer}/userinfo", params={"access_token": access_token}, trust_env=False
    )
    assert response.status_code == 401


def test_pkce_is_required(hostile_op: HostileOP) -> None:
    url = hostile_op.authorization_url(redirect_uri=REDIRECT_URI, state="s", nonce="n")
    code = callback_params(hostile_op.follow_authorize(url))["code"]
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    assert hostile_op.client_secret is not None
    response = httpx.post(
        f"{hostile_op.issuer}/token",
        data=form,
        auth=(hostile_op.client_id, hostile_op.client_secret),
        trust_env=False,
    )
    assert response.json() == {"error": "invalid_grant", "error_description": "PKCE is required"}


async def test_it_works_in_process_through_asgi_transport() -> None:
    op = HostileOP(issuer="http://hostile.test")
    transport = httpx.ASGITransport(app=op.app)
    async with httpx.AsyncClient(transport=transport, base_url=op.issuer) as client:
        document = (await client.get("/.well-known/openid-configuration")).json()
    assert document["issuer"] == "http://hostile.test"
    assert op.recorded("discovery")


# -- bends ----------------------------------------------------------------------------------------

CLAIM_BENDS: list[tuple[Bend, Callable[[dict[str, Any]], bool]]] = [
    (Bend(id_token_issuer="https://evil.example"), lambda c: c["iss"] == "https://evil.example"),
    (Bend(omit_sub=True), lambda c: "sub" not in c),
    (Bend(sub="x" * 256), lambda c: len(c["sub"]) == 256),
    (Bend(omit_aud=True), lambda c: "aud" not in c),
    (Bend(aud="someone-else"), lambda c: c["aud"] == "someone-else"),
    (Bend(omit_iat=True), lambda c: "iat" not in c),
    (Bend(expired=True), lambda c: c["exp"] < time.time() - 60),
    (Bend(nonce="not-the-nonce"), lambda c: c["nonce"] == "not-the-nonce"),
    (Bend(claims_only_in_userinfo=True), lambda c: "email" not in c and "name" not in c),
    (Bend(extra_claims={"azp": "other"}), lambda c: c["azp"] == "other"),
    (Bend(oversized_id_token=True), lambda c: len(c["padding"]) >= 256 * 1024),
]


@pytest.mark.parametrize(
    ("bend", "check"),
    CLAIM_BENDS,
    ids=[next(f for f, v in vars(b).items() if v != getattr(Bend(), f)) for b, _ in CLAIM_BENDS],
)
def test_claim_bends_bend_the_claims(
    hostile_op: HostileOP, bend: Bend, check: Callable[[dict[str, Any]], bool]
) -> None:
    hostile_op.bend = bend
    _, claims, _ = segments(sign_in(hostile_op).id_token)
    assert check(claims), claims


def test_expired_tokens_fail_joserfc_validation(hostile_op: HostileOP) -> None:
    hostile_op.bend = Bend(expired=True)
    token = jwt.decode(sign_in(hostile_op).id_token, jwks(hostile_op), algorithms=["RS256"])
    with pytest.raises(JoseError):
        jwt.JWTClaimsRegistry(leeway=60).validate(token.claims)


def test_wrong_at_hash(hostile_op: HostileOP) -> None:
    hostile_op.bend = Bend(wrong_at_hash=True)
    result = sign_in(hostile_op)
    _, claims, _ = segments(result.id_token)
    assert claims["at_hash"] != half_hash(result.tokens["access_token"])


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_corrupted_signature_does_not_verify(hostile_op: HostileOP, alg: Any) -> None:
    hostile_op.bend = Bend(alg=alg, corrupt_signature=True)
    with pytest.raises(BadSignatureError):
        jwt.decode(sign_in(hostile_op).id_token, jwks(hostile_op), algorithms=[alg])


def test_alg_none_has_no_signature_and_is_advertised(hostile_op: HostileOP) -> None:
    hostile_op.bend = Bend(alg_none=True)
    header, _, signature = segments(sign_in(hostile_op).id_token)
    assert header == {"alg": "none", "typ": "JWT"}
    assert signature == b""
    document = httpx.get(hostile_op.discovery_url, trust_env=False).json()
    assert "none" in document["id_token_signing_alg_values_supported"]


def test_hs256_is_signed_with_the_client_secret(hostile_op: HostileOP) -> None:
    hostile_op.bend = Bend(hs256_with_client_secret=True)
    assert hostile_op.client_secret is not None
    secret = OctKey.import_key(hostile_op.client_secret.encode())
    token = jwt.decode(sign_in(hostile_op).id_token, secret, algorithms=["HS256"])
    assert token.header["alg"] == "HS256"


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_kid_absent_with_a_single_key(hostile_op: HostileOP, alg: Any) -> None:
    hostile_op.bend = Bend(alg=alg, kid_absent="single")
    id_token = sign_in(hostile_op).id_token
    keys = httpx.get(hostile_op.jwks_uri, trust_env=False).json()["keys"]
    assert len(keys) == 1
    assert "kid" not in keys[0]
    assert "kid" not in segments(id_token)[0]
    key = (ECKey if alg == "ES256" else RSAKey).import_key(keys[0])
    jwt.decode(id_token, key, algorithms=[alg])


def test_kid_absent_with_several_keys(hostile_op: HostileOP) -> None:
    hostile_op.bend = Bend(kid_absent="multiple")
    id_token = sign_in(hostile_op).id_token
    keys = httpx.get(hostile_op.jwks_uri, trust_env=False).json()["keys"]
    assert len(keys) >= 2
    assert [key["kty"] for key in keys].count("RSA") >= 2
    assert not any("kid" in key for key in keys)
    verified = 0
    for jwk in keys:
        if jwk["kty"] == "RSA":
            try:
                jwt.decode(id_token, RSAKey.import_key(jwk), algorithms=["RS256"])
                verified += 1
            except BadSignatureError:
                pass
    assert verified == 1


@pytest.mark.parametrize(("where", "alg"), [("jwk", "ES256"), ("jku", "RS256"), ("jku", "ES256")])
def test_embedded_key_signs_with_a_key_not_in_the_jwks(
    hostile_op: HostileOP, where: Any, alg: Any
) -> None:
    hostile_op.bend = Bend(alg=alg, embedded_key=where)
    id_token = sign_in(hostile_op).id_token
    header, _, _ = segments(id_token)
    assert header["kid"] in hostile_op.keys.kids
    with pytest.raises(BadSignatureError):
        jwt.decode(id_token, jwks(hostile_op), algorithms=[alg])
    if where == "jwk":
        attacker: Any = ECKey.import_key(header["jwk"])
    else:
        assert header["jku"] == hostile_op.attacker_jwks_uri
        attacker = KeySet.import_key_set(httpx.get(header["jku"], trust_env=False).json())
    jwt.decode(id_token, attacker, algorithms=[alg])  # the trap: it does verify with that key


def test_unknown_crit_header(hostile_op: HostileOP) -> None:
    hostile_op.bend = Bend(unknown_crit=True)
    header, _, _ = segments(sign_in(hostile_op).id_token)
    assert header["crit"] == ["urn:fedlogin:test:unknown-critical"]
    assert header["urn:fedlogin:test:unknown-critical"] is True


def test_weak_rsa_key_is_published_and_used(hostile_op: HostileOP) -> None:
    hostile_op.bend = Bend(weak_rsa_key=True)
    header, _, signature = segments(sign_in(hostile_op).id_token)
    keys = {key["kid"]: key for key in hostile_op.jwks()["keys"]}
    weak = keys[header["kid"]]
    assert len(base64.urlsafe_b64decode(weak["n"] + "==")) * 8 == 1024
    assert len(signature) == 128


def test_key_rotation_between_logins_changes_the_kid(hostile_op: HostileOP) -> None:
    first = segments(sign_in(hostile_op).id_token)[0]["kid"]
    new_kids = hostile_op.rotate_keys()
    second = sign_in(hostile_op).id_token
    assert segments(second)[0]["kid"] in new_kids
    assert first not in new_kids
    assert first not in {key["kid"] for key in hostile_op.jwks()["keys"]}
    jwt.decode(second, jwks(hostile_op), algorithms=["RS256"])
    assert hostile_op.jwks_fetches == 1


def test_key_rotation_during_a_login(hostile_op: HostileOP) -> None:
    before = jwks(hostile_op)
    hostile_op.bend = Bend(rotate_keys_before_signing=True)
    id_token = sign_in(hostile_op).id_token
    with pytest.raises(InvalidKeyIdError):
        jwt.decode(id_token, before, algorithms=["RS256"])
    jwt.decode(id_token, jwks(hostile_op), algorithms=["RS256"])


def test_discovery_issuer_and_iss_parameter_bends(hostile_op: HostileOP) -> None:
    hostile_op.bend = Bend(
        discovery_issuer="https://elsewhere.example", advertise_iss_parameter=False
    )
    document = httpx.get(hostile_op.discovery_url, trust_env=False).json()
    assert document["issuer"] == "https://elsewhere.example"
    assert "authorization_response_iss_parameter_supported" not in document

    hostile_op.bend = Bend(callback_iss="https://evil.example")
    assert sign_in(hostile_op).callback["iss"] == "https://evil.example"
    hostile_op.bend = Bend(omit_callback_iss=True)
    assert "iss" not in sign_in(hostile_op).callback


def test_error_redirect_carries_html_in_error_description(hostile_op: HostileOP) -> None:
    hostile_op.bend = Bend(
        authorize_error="access_denied", authorize_error_description="<script>alert(1)</script>"
    )
    result = sign_in(hostile_op)
    assert result.callback["error"] == "access_denied"
    assert result.callback["error_description"] == "<script>alert(1)</script>"
    assert result.callback["state"] == "the-state"
    assert "code" not in result.callback


def test_token_endpoint_says_invalid_client(hostile_op: HostileOP) -> None:
    hostile_op.bend = Bend(token_error="invalid_client")
    response = sign_in(hostile_op).token_response
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_userinfo_sub_differs(hostile_op: HostileOP) -> None:
    hostile_op.bend = Bend(userinfo_sub="someone-else")
    result = sign_in(hostile_op)
    assert segments(result.id_token)[1]["sub"] == "hostile-user-1"
    claims = httpx.get(
        f"{hostile_op.issuer}/userinfo",
        headers={"Authorization": f"Bearer {result.tokens['access_token']}"},
        trust_env=False,
    ).json()
    assert claims["sub"] == "someone-else"
