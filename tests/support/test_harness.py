"""The node oidc-provider harness works: discovery, JWKS, a hand-driven code flow with PKCE S256
for each client authentication method and signing algorithm, conformIdTokenClaims both ways,
key rotation that keeps sessions and codes, and runtime accounts and clients."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route

from tests.support import oidc_provider as harness
from tests.support.oidc_provider import (
    OidcClient,
    OidcProvider,
    OidcProviderConfig,
    oidc_provider_fixture,
)
from tests.support.op_login import callback_params, complete_login, drive_login
from tests.support.threaded_server import ThreadedServer

# The relying party's callback: op_login returns the redirect to it without fetching it.
REDIRECT_URI = "http://127.0.0.1:8765/callback"
BASIC = OidcClient(
    "basic-rs256",
    [REDIRECT_URI],
    # RFC 6749 section 2.3.1: id and secret are form-url-encoded before Basic encoding.
    client_secret="s3cret with:colon+plus/slash",
    token_endpoint_auth_method="client_secret_basic",
    id_token_signed_response_alg="RS256",
)
POST = OidcClient(
    "post-ps256",
    [REDIRECT_URI],
    client_secret="post-secret",
    token_endpoint_auth_method="client_secret_post",
    id_token_signed_response_alg="PS256",
)
PUBLIC = OidcClient(
    "public-es256",
    [REDIRECT_URI],
    token_endpoint_auth_method="none",
    id_token_signed_response_alg="ES256",
)
ALICE = {
    "email": "alice@example.com",
    "email_verified": True,
    "name": "Alice Liddell",
    "preferred_username": "alice",
    "locale": "en-GB",
}
CONFIG = OidcProviderConfig(clients=[BASIC, POST, PUBLIC], accounts={"alice": ALICE})

op = oidc_provider_fixture(CONFIG)


@pytest.fixture
def browser() -> Iterator[httpx.Client]:
    """One cookie jar for the whole flow, as a browser has."""
    with httpx.Client(timeout=10.0, trust_env=False) as client:
        yield client


@dataclass
class Flow:
    client: OidcClient
    url: str
    state: str
    nonce: str
    verifier: str


def discovery(provider: OidcProvider) -> dict[str, Any]:
    document: dict[str, Any] = httpx.get(provider.discovery_url, trust_env=False).json()
    return document


def start_flow(provider: OidcProvider, client: OidcClient, **extra: str) -> Flow:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid email profile",
        "state": state,
        "nonce": nonce,
        "code_challenge": challenge.decode(),
        "code_challenge_method": "S256",
        **extra,
    }
    url = f"{discovery(provider)['authorization_endpoint']}?{urlencode(params)}"
    return Flow(client, url, state, nonce, verifier)


def redeem(
    provider: OidcProvider,
    client: OidcClient,
    code: str,
    verifier: str,
    *,
    secret: str | None = None,
) -> httpx.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "code_verifier": verifier,
    }
    headers = {}
    secret = secret if secret is not None else client.client_secret
    if client.token_endpoint_auth_method == "client_secret_basic":
        assert secret is not None
        pair = f"{quote(client.client_id, safe='')}:{quote(secret, safe='')}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    elif client.token_endpoint_auth_method == "client_secret_post":
        form |= {"client_id": client.client_id, "client_secret": secret or ""}
    else:
        form["client_id"] = client.client_id
    return httpx.post(
        discovery(provider)["token_endpoint"], data=form, headers=headers, trust_env=False
    )


def sign_in(
    provider: OidcProvider, browser: httpx.Client, client: OidcClient, login: str = "alice"
) -> dict[str, Any]:
    flow = start_flow(provider, client)
    params = callback_params(complete_login(browser, flow.url, login=login))
    assert params["state"] == flow.state
    response = redeem(provider, client, params["code"], flow.verifier)
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    tokens["nonce"] = flow.nonce
    return tokens


def verify_id_token(provider: OidcProvider, token: str, alg: str) -> jwt.Token:
    jwks = httpx.get(discovery(provider)["jwks_uri"], trust_env=False).json()
    decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=[alg])
    assert decoded.header["alg"] == alg
    return decoded


def userinfo(provider: OidcProvider, access_token: str) -> dict[str, Any]:
    response = httpx.get(
        discovery(provider)["userinfo_endpoint"],
        headers={"Authorization": f"Bearer {access_token}"},
        trust_env=False,
    )
    assert response.status_code == 200, response.text
    claims: dict[str, Any] = response.json()
    return claims


# -- discovery and keys --


@pytest.mark.e2e
def test_discovery_document_describes_the_provider(op: OidcProvider) -> None:
    document = discovery(op)
    assert op.issuer.startswith("http://127.0.0.1:")
    assert document["issuer"] == op.issuer
    assert document["jwks_uri"] == op.jwks_uri
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["authorization_response_iss_parameter_supported"] is True
    assert {"openid", "profile", "email", "offline_access"} <= set(document["scopes_supported"])
    assert {"RS256", "PS256", "ES256"} <= set(document["id_token_signing_alg_values_supported"])
    assert {"client_secret_basic", "client_secret_post", "none"} <= set(
        document["token_endpoint_auth_methods_supported"]
    )


@pytest.mark.e2e
def test_jwks_holds_an_rsa_key_and_an_es256_key_with_kids(op: OidcProvider) -> None:
    keys = httpx.get(op.jwks_uri, trust_env=False).json()["keys"]
    by_type = {key["kty"]: key for key in keys}
    assert set(by_type) == {"RSA", "EC"}
    assert by_type["EC"]["alg"] == "ES256"
    assert by_type["EC"]["crv"] == "P-256"
    assert all(key["kid"] for key in keys)
    assert not any("d" in key for key in keys), "private key material published"
    assert sorted(key["kid"] for key in keys) == sorted(op.state()["kids"])


# -- the code flow --


@pytest.mark.e2e
@pytest.mark.parametrize("client", [BASIC, POST, PUBLIC], ids=lambda c: c.client_id)
def test_code_flow_with_pkce_yields_a_verifiable_id_token(
    op: OidcProvider, browser: httpx.Client, client: OidcClient
) -> None:
    flow = start_flow(op, client)
    result = drive_login(browser, flow.url, login="alice")
    assert result.prompts == ["login", "consent"]
    assert result.callback_url.startswith(REDIRECT_URI + "?")
    params = result.params
    assert params["state"] == flow.state
    assert params["iss"] == op.issuer
    assert params["code"]
    assert {"_session"} <= set(browser.cookies.keys())

    response = redeem(op, client, params["code"], flow.verifier)
    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"].lower() == "bearer"
    decoded = verify_id_token(op, tokens["id_token"], client.id_token_signed_response_alg)
    assert decoded.header["kid"] in op.state()["kids"]
    claims = decoded.claims
    assert claims["iss"] == op.issuer
    assert claims["aud"] == client.client_id
    assert claims["sub"] == "alice"
    assert claims["nonce"] == flow.nonce


@pytest.mark.e2e
def test_conform_id_token_claims_puts_scope_claims_only_in_userinfo(
    op: OidcProvider, browser: httpx.Client
) -> None:
    tokens = sign_in(op, browser, BASIC)
    claims = verify_id_token(op, tokens["id_token"], "RS256").claims
    assert "email" not in claims
    assert "name" not in claims
    assert userinfo(op, tokens["access_token"]) == {"sub": "alice", **ALICE}


@pytest.mark.e2e
def test_without_conform_id_token_claims_the_id_token_carries_them(
    oidc_provider_factory: Callable[[OidcProviderConfig], OidcProvider], browser: httpx.Client
) -> None:
    provider = oidc_provider_factory(
        OidcProviderConfig(
            clients=[BASIC], accounts={"alice": ALICE}, conform_id_token_claims=False
        )
    )
    tokens = sign_in(provider, browser, BASIC)
    claims = verify_id_token(provider, tokens["id_token"], "RS256").claims
    assert claims["email"] == ALICE["email"]
    assert claims["email_verified"] is True
    assert claims["name"] == ALICE["name"]


@pytest.mark.e2e
def test_offline_access_with_consent_prompt_yields_a_refresh_token(
    op: OidcProvider, browser: httpx.Client
) -> None:
    flow = start_flow(op, BASIC, scope="openid offline_access", prompt="consent")
    params = callback_params(complete_login(browser, flow.url))
    response = redeem(op, BASIC, params["code"], flow.verifier)
    assert response.status_code == 200, response.text
    assert response.json()["refresh_token"]


@pytest.mark.e2e
def test_login_can_start_at_the_relying_partys_sign_in_url(
    op: OidcProvider, browser: httpx.Client
) -> None:
    flow = start_flow(op, PUBLIC)

    async def sign_in_start(request: Request) -> RedirectResponse:
        return RedirectResponse(flow.url, status_code=303)

    with ThreadedServer(Starlette(routes=[Route("/login", sign_in_start)])) as relying_party:
        url = complete_login(browser, f"{relying_party.base_url}/login", provider_origin=op.issuer)
    assert callback_params(url)["state"] == flow.state


# -- the provider refuses what it should --


@pytest.mark.e2e
def test_authorization_without_pkce_is_refused(op: OidcProvider, browser: httpx.Client) -> None:
    flow = start_flow(op, BASIC)
    url = flow.url.replace("code_challenge=", "ignored=")
    response = browser.get(url, follow_redirects=False)
    params = callback_params(response.headers["location"])
    assert params["error"] == "invalid_request"
    assert "code_challenge" in params["error_description"]


@pytest.mark.e2e
def test_wrong_code_verifier_is_refused(op: OidcProvider, browser: httpx.Client) -> None:
    flow = start_flow(op, PUBLIC)
    params = callback_params(complete_login(browser, flow.url))
    response = redeem(op, PUBLIC, params["code"], secrets.token_urlsafe(48))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.e2e
def test_wrong_client_secret_is_refused(op: OidcProvider, browser: httpx.Client) -> None:
    flow = start_flow(op, BASIC)
    params = callback_params(complete_login(browser, flow.url))
    response = redeem(op, BASIC, params["code"], flow.verifier, secret="not-the-secret")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.e2e
def test_a_code_is_redeemed_once(op: OidcProvider, browser: httpx.Client) -> None:
    flow = start_flow(op, POST)
    params = callback_params(complete_login(browser, flow.url))
    assert redeem(op, POST, params["code"], flow.verifier).status_code == 200
    again = redeem(op, POST, params["code"], flow.verifier)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"


@pytest.mark.e2e
def test_consent_refused_redirects_with_access_denied(
    op: OidcProvider, browser: httpx.Client
) -> None:
    flow = start_flow(op, BASIC)
    result = drive_login(browser, flow.url, consent=False)
    assert result.params["error"] == "access_denied"
    assert result.params["state"] == flow.state


# -- runtime changes --


@pytest.mark.e2e
@pytest.mark.parametrize("keep_previous", [False, True])
def test_key_rotation_changes_the_kid_and_keeps_sessions_and_codes(
    oidc_provider_factory: Callable[[OidcProviderConfig], OidcProvider],
    browser: httpx.Client,
    keep_previous: bool,
) -> None:
    provider = oidc_provider_factory(CONFIG)
    first = sign_in(provider, browser, BASIC)
    old_kid = verify_id_token(provider, first["id_token"], "RS256").header["kid"]

    flow = start_flow(provider, BASIC)
    code = callback_params(complete_login(browser, flow.url))["code"]  # issued before rotation
    new_kids = provider.rotate_keys(keep_previous=keep_previous)
    assert old_kid not in new_kids

    published = {key["kid"] for key in httpx.get(provider.jwks_uri, trust_env=False).json()["keys"]}
    assert set(new_kids) <= published
    assert (old_kid in published) is keep_previous

    response = redeem(provider, BASIC, code, flow.verifier)
    assert response.status_code == 200, response.text
    decoded = verify_id_token(provider, response.json()["id_token"], "RS256")
    assert decoded.header["kid"] in new_kids
    assert decoded.claims["nonce"] == flow.nonce

    # The browser's session at the provider survived: no login form, no consent this time.
    later = start_flow(provider, BASIC)
    result = drive_login(browser, later.url)
    assert result.prompts == []
    assert result.params["state"] == later.state


@pytest.mark.e2e
def test_accounts_can_be_added_at_runtime_and_unknown_logins_get_defaults(
    op: OidcProvider, browser: httpx.Client
) -> None:
    op.set_accounts({"bob": {"email": "bob@example.org", "email_verified": False, "locale": "de"}})
    bob = userinfo(op, sign_in(op, browser, BASIC, login="bob")["access_token"])
    assert bob == {
        "sub": "bob",
        "email": "bob@example.org",
        "email_verified": False,
        "locale": "de",
    }

    with httpx.Client(trust_env=False) as other_browser:
        zed = userinfo(op, sign_in(op, other_browser, BASIC, login="zed")["access_token"])
    assert zed["sub"] == "zed"
    assert zed["email"] == "zed@example.com"
    assert zed["email_verified"] is True


@pytest.mark.e2e
def test_clients_can_be_registered_at_runtime(op: OidcProvider, browser: httpx.Client) -> None:
    late = OidcClient("late-client", [REDIRECT_URI], "late-secret", "client_secret_post", "ES256")
    op.add_clients(late)
    tokens = sign_in(op, browser, late)
    assert verify_id_token(op, tokens["id_token"], "ES256").claims["aud"] == "late-client"


# -- skipping and requiring --


def test_missing_node_modules_skips_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness, "NODE_PROJECT", harness.NODE_PROJECT / "does-not-exist")
    monkeypatch.delenv(harness.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="run npm ci in tests/oidc_provider"):
        harness.require_oidc_provider()


def test_missing_node_modules_fails_when_e2e_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(harness, "NODE_PROJECT", harness.NODE_PROJECT / "does-not-exist")
    monkeypatch.setenv(harness.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match="run npm ci in tests/oidc_provider"):
        harness.require_oidc_provider()
    with pytest.raises(harness.OidcProviderUnavailable):
        OidcProvider.start(CONFIG)


def fake_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, then: str) -> Path:
    """Serve with a script that notes each start in the returned file, then runs ``then``."""
    harness.require_oidc_provider()
    starts = tmp_path / "starts"
    script = tmp_path / "fake-server.mjs"
    script.write_text(
        "import { appendFileSync } from 'node:fs';\n"
        f"appendFileSync({str(starts)!r}, 'started\\n');\n{then}\n"
    )
    monkeypatch.setattr(harness, "SERVER_SCRIPT", script)
    return starts


def test_a_start_that_prints_nothing_is_tried_twice_then_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    starts = fake_server(tmp_path, monkeypatch, then="setInterval(() => {}, 1000);")
    with pytest.raises(harness.OidcProviderStartTimeout, match="no ready line within 1 s"):
        OidcProvider.start(CONFIG, timeout=1.0)
    assert starts.read_text().splitlines() == ["started", "started"]
    assert "trying once more" in capsys.readouterr().err


def test_a_server_that_exits_is_not_started_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    then = "process.stderr.write('bad config\\n'); process.exit(3);"
    starts = fake_server(tmp_path, monkeypatch, then=then)
    with pytest.raises(harness.OidcProviderStartError, match="exited before it was ready") as e:
        OidcProvider.start(CONFIG, timeout=5.0)
    assert not isinstance(e.value, harness.OidcProviderStartTimeout)
    assert "bad config" in str(e.value)
    assert starts.read_text().splitlines() == ["started"]
