"""The code flow's requests: the authorization URL, the token request, UserInfo, the callback."""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, parse_qsl, unquote_plus, urlsplit

import httpx
import pytest
import respx
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fedlogin.errors import InvalidConfiguration
from fedlogin.oidc.callback import check_callback_iss, parse_callback
from fedlogin.oidc.client import (
    ClientCredentials,
    basic_authorization,
    exchange_code,
    new_authorization,
    s256_code_challenge,
)
from fedlogin.oidc.discovery import ProviderMetadata, parse_metadata
from fedlogin.oidc.errors import CallbackError, OutboundError, TokenEndpointError, UserInfoError
from fedlogin.oidc.outbound import Outbound
from fedlogin.oidc.userinfo import fetch_userinfo
from fedlogin.presets import DiscoveryTarget

if TYPE_CHECKING:
    from conftest import Idp

REDIRECT_URI = "https://app.example.org/auth/callback/okta"
TOKEN_URL = "https://idp.example.com/token"
USERINFO_URL = "https://idp.example.com/userinfo"


@pytest.fixture
def metadata(idp: Idp, outbound: Outbound, target: DiscoveryTarget) -> ProviderMetadata:
    return parse_metadata(idp.discovery_document(), target, outbound)


def query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


# -- the authorization request ---------------------------------------------------------------


def test_the_authorization_url_carries_state_nonce_and_pkce(
    idp: Idp, metadata: ProviderMetadata
) -> None:
    request = new_authorization(
        metadata,
        client_id=idp.CLIENT_ID,
        redirect_uri=REDIRECT_URI,
        scopes=["openid", "profile", "email", "profile"],
        extra_params={"prompt": "select_account"},
    )
    assert request.url.startswith(idp.ISSUER + "/authorize?")
    params = query(request.url)
    assert params == {
        "client_id": idp.CLIENT_ID,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": "openid profile email",
        "state": request.state,
        "nonce": request.nonce,
        "code_challenge": create_s256_code_challenge(request.code_verifier),
        "code_challenge_method": "S256",
        "prompt": "select_account",
    }
    assert len(request.state) >= 32 and len(request.nonce) >= 32
    assert 43 <= len(request.code_verifier) <= 128
    assert request.code_verifier not in repr(request)


def test_every_authorization_is_fresh(idp: Idp, metadata: ProviderMetadata) -> None:
    made = [
        new_authorization(
            metadata, client_id=idp.CLIENT_ID, redirect_uri=REDIRECT_URI, scopes=["openid"]
        )
        for _ in range(3)
    ]
    for attribute in ("state", "nonce", "code_verifier"):
        assert len({getattr(r, attribute) for r in made}) == 3


def test_the_s256_challenge_follows_rfc_7636_appendix_b() -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert s256_code_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_an_endpoint_query_is_kept(idp: Idp, outbound: Outbound, target: DiscoveryTarget) -> None:
    document = idp.discovery_document(
        authorization_endpoint=idp.ISSUER + "/authorize?p=B2C_1_signin&state=stale"
    )
    metadata = parse_metadata(document, target, outbound)
    request = new_authorization(
        metadata, client_id=idp.CLIENT_ID, redirect_uri=REDIRECT_URI, scopes=["openid"]
    )
    params = parse_qs(urlsplit(request.url).query)
    assert params["p"] == ["B2C_1_signin"]
    assert params["state"] == [request.state]


@pytest.mark.parametrize("param", ["state", "nonce", "redirect_uri", "code_challenge", "scope"])
def test_extra_parameters_cannot_replace_the_protected_ones(
    param: str, idp: Idp, metadata: ProviderMetadata
) -> None:
    with pytest.raises(ValueError, match=param):
        new_authorization(
            metadata,
            client_id=idp.CLIENT_ID,
            redirect_uri=REDIRECT_URI,
            scopes=["openid"],
            extra_params={param: "attacker"},
        )


@pytest.mark.parametrize(
    "scopes",
    [["profile", "email"], ["openid", 'bad"scope'], ["openid", "a b"], ["openid", "email\n"]],
)
def test_scopes_need_openid_and_valid_tokens(
    scopes: list[str], idp: Idp, metadata: ProviderMetadata
) -> None:
    with pytest.raises(InvalidConfiguration) as caught:
        new_authorization(
            metadata, client_id=idp.CLIENT_ID, redirect_uri=REDIRECT_URI, scopes=scopes
        )
    assert "scopes" in caught.value.fields


# -- the token request -----------------------------------------------------------------------


def token_answer(**overrides: Any) -> dict[str, Any]:
    answer = {
        "access_token": "at-1",
        "token_type": "Bearer",
        "expires_in": 3600,
        "id_token": "header.payload.signature",
        "refresh_token": "rt-1",
        "scope": "openid profile",
    }
    answer.update(overrides)
    return {k: v for k, v in answer.items() if v is not None}


async def redeem(
    outbound: Outbound, metadata: ProviderMetadata, credentials: ClientCredentials
) -> Any:
    return await exchange_code(
        outbound,
        metadata,
        credentials,
        code="the-code",
        code_verifier="the-verifier",
        redirect_uri=REDIRECT_URI,
    )


def form(request: httpx.Request) -> dict[str, str]:
    return dict(parse_qsl(request.content.decode()))


async def test_client_secret_post_sends_the_credentials_in_the_body(
    idp: Idp, router: respx.MockRouter, outbound: Outbound, metadata: ProviderMetadata
) -> None:
    route = router.post(TOKEN_URL).respond(json=token_answer())
    credentials = ClientCredentials(idp.CLIENT_ID, "s3cret", "client_secret_post")
    tokens = await redeem(outbound, metadata, credentials)
    request = route.calls.last.request
    assert form(request) == {
        "grant_type": "authorization_code",
        "code": "the-code",
        "redirect_uri": REDIRECT_URI,
        "code_verifier": "the-verifier",
        "client_id": idp.CLIENT_ID,
        "client_secret": "s3cret",
    }
    assert "authorization" not in request.headers
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert (tokens.access_token, tokens.id_token, tokens.token_type) == (
        "at-1",
        "header.payload.signature",
        "Bearer",
    )
    assert (tokens.expires_in, tokens.refresh_token, tokens.scope) == (
        3600,
        "rt-1",
        "openid profile",
    )
    assert "at-1" not in repr(tokens) and "rt-1" not in repr(tokens)


async def test_client_secret_basic_form_encodes_id_and_secret_first(
    router: respx.MockRouter, outbound: Outbound, metadata: ProviderMetadata
) -> None:
    # rp-token_endpoint-client_secret_basic, RFC 6749 2.3.1
    route = router.post(TOKEN_URL).respond(json=token_answer())
    credentials = ClientCredentials("a b:c%", "s:e c/r@t+", "client_secret_basic")
    await redeem(outbound, metadata, credentials)
    request = route.calls.last.request
    scheme, _, encoded = request.headers["authorization"].partition(" ")
    assert scheme == "Basic"
    raw = base64.b64decode(encoded).decode()
    assert raw == "a+b%3Ac%25:s%3Ae+c%2Fr%40t%2B"
    user, _, password = raw.partition(":")  # the one unencoded colon separates them
    assert (unquote_plus(user), unquote_plus(password)) == ("a b:c%", "s:e c/r@t+")
    body = form(request)
    assert "client_secret" not in body and "client_id" not in body
    assert body["code_verifier"] == "the-verifier"


def test_basic_authorization_of_plain_values() -> None:
    assert (
        basic_authorization("client", "secret")
        == "Basic " + base64.b64encode(b"client:secret").decode()
    )


async def test_a_public_client_sends_its_id_and_no_secret(
    idp: Idp, router: respx.MockRouter, outbound: Outbound, metadata: ProviderMetadata
) -> None:
    route = router.post(TOKEN_URL).respond(json=token_answer())
    await redeem(outbound, metadata, ClientCredentials(idp.CLIENT_ID, None, "none"))
    request = route.calls.last.request
    body = form(request)
    assert body["client_id"] == idp.CLIENT_ID
    assert body["code_verifier"] == "the-verifier"
    assert "client_secret" not in body
    assert "authorization" not in request.headers


def test_confidential_methods_need_a_secret_which_stays_out_of_reprs() -> None:
    with pytest.raises(InvalidConfiguration) as caught:
        ClientCredentials("client", None, "client_secret_basic")
    assert "client_secret" in caught.value.fields
    assert "hunter2" not in repr(ClientCredentials("client", "hunter2"))
    with pytest.raises(ValueError, match="auth_method"):
        ClientCredentials("client", "x", "private_key_jwt")


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (401, {"error": "invalid_client", "error_description": "Client authentication failed"}),
        (400, {"error": "invalid_client"}),
        (401, None),
    ],
)
async def test_invalid_client_says_what_to_check(
    status: int,
    body: dict[str, str] | None,
    idp: Idp,
    router: respx.MockRouter,
    outbound: Outbound,
    metadata: ProviderMetadata,
) -> None:
    response = httpx.Response(status, json=body) if body else httpx.Response(status, text="")
    router.post(TOKEN_URL).mock(return_value=response)
    with pytest.raises(TokenEndpointError) as caught:
        await redeem(outbound, metadata, ClientCredentials(idp.CLIENT_ID, "wrong"))
    error = caught.value
    assert error.code == "invalid_client"
    assert error.step == "token"
    assert error.hint is not None
    for words in ("Client ID and Client Secret", "callback URL", "not disabled"):
        assert words in error.hint
    assert "wrong" not in error.message + error.hint


async def test_other_oauth_errors_carry_the_providers_words_as_data(
    idp: Idp, router: respx.MockRouter, outbound: Outbound, metadata: ProviderMetadata
) -> None:
    description = "<script>alert(1)</script> code expired"
    router.post(TOKEN_URL).respond(
        400, json={"error": "invalid_grant", "error_description": description}
    )
    with pytest.raises(TokenEndpointError) as caught:
        await redeem(outbound, metadata, ClientCredentials(idp.CLIENT_ID, "s"))
    error = caught.value
    assert error.code == "token_error"
    assert error.error == "invalid_grant"
    assert error.error_description == description
    assert "<script>" not in error.message
    assert "invalid_grant" in error.message
    assert error.hint is not None and "start the sign-in again" in error.hint


async def test_an_unreadable_error_code_is_not_echoed(
    idp: Idp, router: respx.MockRouter, outbound: Outbound, metadata: ProviderMetadata
) -> None:
    router.post(TOKEN_URL).respond(400, json={"error": "<b>bad</b>\n"})
    with pytest.raises(TokenEndpointError) as caught:
        await redeem(outbound, metadata, ClientCredentials(idp.CLIENT_ID, "s"))
    assert "<b>" not in caught.value.message
    assert caught.value.error == "<b>bad</b>\n"


async def test_a_server_error_page_is_http_status(
    idp: Idp, router: respx.MockRouter, outbound: Outbound, metadata: ProviderMetadata
) -> None:
    router.post(TOKEN_URL).respond(502, html="<h1>Bad gateway</h1>")
    with pytest.raises(OutboundError) as caught:
        await redeem(outbound, metadata, ClientCredentials(idp.CLIENT_ID, "s"))
    assert (caught.value.code, caught.value.step, caught.value.status_code) == (
        "http_status",
        "token",
        502,
    )


async def test_a_200_that_is_not_json_is_not_json(
    idp: Idp, router: respx.MockRouter, outbound: Outbound, metadata: ProviderMetadata
) -> None:
    router.post(TOKEN_URL).respond(200, text="access_token=x&token_type=bearer")
    with pytest.raises(OutboundError) as caught:
        await redeem(outbound, metadata, ClientCredentials(idp.CLIENT_ID, "s"))
    assert (caught.value.code, caught.value.step) == ("not_json", "token")


async def test_a_token_response_without_id_token_is_id_token_missing(
    idp: Idp, router: respx.MockRouter, outbound: Outbound, metadata: ProviderMetadata
) -> None:
    router.post(TOKEN_URL).respond(json=token_answer(id_token=None))
    with pytest.raises(TokenEndpointError) as caught:
        await redeem(outbound, metadata, ClientCredentials(idp.CLIENT_ID, "s"))
    assert caught.value.code == "id_token_missing"


@pytest.mark.parametrize(
    "answer",
    [
        token_answer(access_token=None),
        token_answer(token_type="mac"),
        token_answer(token_type=None),
        ["x"],
    ],
)
async def test_an_unusable_token_response_is_token_response_invalid(
    answer: Any, idp: Idp, router: respx.MockRouter, outbound: Outbound, metadata: ProviderMetadata
) -> None:
    router.post(TOKEN_URL).respond(json=answer)
    with pytest.raises(TokenEndpointError) as caught:
        await redeem(outbound, metadata, ClientCredentials(idp.CLIENT_ID, "s"))
    assert caught.value.code == "token_response_invalid"


async def test_the_token_type_is_compared_without_case(
    idp: Idp, router: respx.MockRouter, outbound: Outbound, metadata: ProviderMetadata
) -> None:
    router.post(TOKEN_URL).respond(json=token_answer(token_type="bearer", expires_in="soon"))
    tokens = await redeem(outbound, metadata, ClientCredentials(idp.CLIENT_ID, "s"))
    assert tokens.token_type == "bearer"
    assert tokens.expires_in is None


# -- UserInfo ---------------------------------------------------------------------------------


async def test_userinfo_sends_the_access_token_as_a_bearer_header(
    router: respx.MockRouter, outbound: Outbound, metadata: ProviderMetadata
) -> None:
    # rp-userinfo-bearer-header, rp-scope-userinfo-claims
    route = router.get(USERINFO_URL).respond(
        json={"sub": "user-42", "email": "ada@example.org", "email_verified": True}
    )
    claims = await fetch_userinfo(outbound, metadata, access_token="at-1", subject="user-42")
    request = route.calls.last.request
    assert request.headers["authorization"] == "Bearer at-1"
    assert "access_token" not in str(request.url)
    assert claims["email"] == "ada@example.org"


@pytest.mark.parametrize("sub", ["user-43", None, 42])
async def test_userinfo_about_another_subject_is_discarded(
    sub: Any, router: respx.MockRouter, outbound: Outbound, metadata: ProviderMetadata
) -> None:
    # rp-userinfo-bad-sub-claim
    body = {"email": "mallory@example.org"} if sub is None else {"sub": sub, "email": "m@x.org"}
    router.get(USERINFO_URL).respond(json=body)
    with pytest.raises(UserInfoError) as caught:
        await fetch_userinfo(outbound, metadata, access_token="at-1", subject="user-42")
    assert (caught.value.code, caught.value.step) == ("userinfo_sub_mismatch", "userinfo")


async def test_signed_userinfo_is_refused_with_its_own_code(
    router: respx.MockRouter, outbound: Outbound, metadata: ProviderMetadata
) -> None:
    router.get(USERINFO_URL).respond(
        200, content=b"eyJ.eyJ.sig", headers={"Content-Type": "application/jwt"}
    )
    with pytest.raises(UserInfoError) as caught:
        await fetch_userinfo(outbound, metadata, access_token="at-1", subject="user-42")
    assert caught.value.code == "userinfo_signed_unsupported"


async def test_userinfo_failures_have_codes(
    router: respx.MockRouter,
    outbound: Outbound,
    metadata: ProviderMetadata,
    idp: Idp,
    target: DiscoveryTarget,
) -> None:
    route = router.get(USERINFO_URL)
    route.side_effect = [
        httpx.Response(401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}),
        httpx.Response(200, json=["sub"]),
        httpx.Response(200, text="<html>"),
    ]
    codes = []
    for _ in range(3):
        with pytest.raises((UserInfoError, OutboundError)) as caught:
            await fetch_userinfo(outbound, metadata, access_token="at-1", subject="user-42")
        codes.append(caught.value.code)
    assert codes == ["http_status", "userinfo_invalid", "not_json"]
    without = parse_metadata(idp.discovery_document(userinfo_endpoint=None), target, outbound)
    with pytest.raises(UserInfoError) as unavailable:
        await fetch_userinfo(outbound, without, access_token="at-1", subject="user-42")
    assert unavailable.value.code == "userinfo_unavailable"


# -- the callback -----------------------------------------------------------------------------


def with_iss_support(idp: Idp, outbound: Outbound, target: DiscoveryTarget) -> ProviderMetadata:
    document = idp.discovery_document(authorization_response_iss_parameter_supported=True)
    return parse_metadata(document, target, outbound)


def test_the_callback_gives_the_code(idp: Idp, metadata: ProviderMetadata) -> None:
    assert parse_callback({"code": "c-1", "state": "s"}, metadata) == "c-1"
    assert parse_callback({"code": "c-1", "iss": idp.ISSUER}, metadata) == "c-1"


def test_an_iss_parameter_must_be_the_issuer_exactly(idp: Idp, metadata: ProviderMetadata) -> None:
    for iss in ("https://evil.example.com", idp.ISSUER + "/", idp.ISSUER.upper(), ""):
        with pytest.raises(CallbackError) as caught:
            check_callback_iss(iss, metadata)
        assert (caught.value.code, caught.value.step) == ("iss_mismatch", "callback")
    check_callback_iss(idp.ISSUER, metadata)


def test_a_missing_iss_is_refused_when_the_provider_promises_it(
    idp: Idp, outbound: Outbound, target: DiscoveryTarget, metadata: ProviderMetadata
) -> None:
    check_callback_iss(None, metadata)  # not promised: RFC 9207 cannot be required
    promising = with_iss_support(idp, outbound, target)
    with pytest.raises(CallbackError) as caught:
        parse_callback({"code": "c-1"}, promising)
    assert caught.value.code == "iss_missing"
    assert parse_callback({"code": "c-1", "iss": idp.ISSUER}, promising) == "c-1"


def test_a_provider_error_in_the_callback_is_kept_as_data(metadata: ProviderMetadata) -> None:
    params = {"error": "access_denied", "error_description": "<i>User cancelled</i>"}
    with pytest.raises(CallbackError) as caught:
        parse_callback(params, metadata)
    assert caught.value.code == "authorization_error"
    assert caught.value.error == "access_denied"
    assert caught.value.error_description == "<i>User cancelled</i>"
    assert "<i>" not in caught.value.message


def test_a_callback_without_code_is_code_missing(metadata: ProviderMetadata) -> None:
    with pytest.raises(CallbackError) as caught:
        parse_callback({"state": "s"}, metadata)
    assert caught.value.code == "code_missing"


def test_error_reprs_name_code_and_step(metadata: ProviderMetadata) -> None:
    with pytest.raises(CallbackError) as caught:
        parse_callback({}, metadata)
    assert "code_missing" in repr(caught.value) and "callback" in repr(caught.value)
    assert json.dumps({"code": caught.value.code, "step": caught.value.step})
