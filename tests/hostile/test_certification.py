"""SECURITY.md's OpenID Foundation RP certification table, row by row, through the real routes.

Each case bends one thing at the hostile provider, signs in through ``/login``, the provider
and ``/auth/callback/hostile``, and checks what a person and an admin would see: signed in,
or a clear page, nothing created and a sign-in event naming the step and the code.
docs/security-tests.md maps every row to its tests and to the guard in the code.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

import pytest
from fedlogin.store.database import Database
from fedlogin.store.tables import FederatedIdentity
from sqlmodel import select

from tests.hostile.helpers import (
    BASE_URL,
    CLIENT_ID,
    CLIENT_SECRET,
    IDENTIFIER,
    PRODUCTION_WARNINGS,
    Refusal,
    assert_refused,
    assert_signed_in,
    attempt,
    page_text,
    query,
)
from tests.hostile.provider import SuiteOP
from tests.support.hostile_op import Bend, SigningAlg
from tests.support.sign_in import Browser, outcome

# -- accepted -----------------------------------------------------------------------------------


async def test_a_plain_code_flow_signs_in(
    browser: Browser, provider: SuiteOP, db: Database
) -> None:
    """rp-response_type-code"""
    user = assert_signed_in(await attempt(browser, provider), db, browser)
    authorize = query(provider.authorize_requests[0].url)
    assert authorize["response_type"] == "code"
    assert authorize["redirect_uri"] == f"{BASE_URL}/auth/callback/{IDENTIFIER}"
    assert "openid" in authorize["scope"].split()
    assert (user.username, user.email) == ("hostile.user", "hostile.user@example.com")
    with db.session() as session:
        identity = session.exec(select(FederatedIdentity)).one()
    assert (identity.user_id, identity.issuer, identity.subject) == (
        user.id,
        provider.issuer,
        "hostile-user-1",
    )


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES256"])
async def test_each_allowed_signature_algorithm_is_accepted(
    browser: Browser, provider: SuiteOP, db: Database, alg: SigningAlg
) -> None:
    """rp-id_token-sig-rs256, rp-id_token-sig-ps256, rp-id_token-sig-es256"""
    provider.bend = Bend(alg=alg)
    assert_signed_in(await attempt(browser, provider), db, browser)


async def test_a_single_key_without_kid_verifies_a_token_without_kid(
    browser: Browser, provider: SuiteOP, db: Database
) -> None:
    """rp-id_token-kid-absent-single-jwks"""
    provider.bend = Bend(kid_absent="single")
    assert_signed_in(await attempt(browser, provider), db, browser)


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
async def test_several_keys_without_kid_are_each_tried(
    browser: Browser, provider: SuiteOP, db: Database, alg: SigningAlg
) -> None:
    """rp-id_token-kid-absent-multiple-jwks: "reject or try each key"; fedlogin tries each
    key of the token's type (the provider lists the signing key last)."""
    provider.bend = Bend(kid_absent="multiple", alg=alg)
    assert_signed_in(await attempt(browser, provider), db, browser)


async def test_userinfo_gets_the_access_token_in_a_bearer_header(
    browser: Browser, provider: SuiteOP, db: Database
) -> None:
    """rp-userinfo-bearer-header (the provider accepts nothing else)"""
    assert_signed_in(await attempt(browser, provider), db, browser)
    [request] = provider.userinfo_requests
    [issued] = provider.access_tokens
    assert request.bearer_token() == issued
    assert request.method == "GET" and "access_token" not in request.query


async def test_client_secret_basic_form_url_encodes_the_id_and_the_secret(
    browser: Browser, provider: SuiteOP, db: Database
) -> None:
    """rp-token_endpoint-client_secret_basic, with an id and a secret holding ``:``, ``+``,
    ``%``, spaces and non-ASCII (RFC 6749 2.3.1)."""
    assert_signed_in(await attempt(browser, provider), db, browser)
    [request] = provider.token_requests
    pair = f"{quote_plus(CLIENT_ID)}:{quote_plus(CLIENT_SECRET)}".encode("ascii")
    assert request.headers["authorization"] == "Basic " + base64.b64encode(pair).decode()
    assert request.basic_credentials() == (CLIENT_ID, CLIENT_SECRET)
    assert "client_secret" not in request.form and "client_id" not in request.form


async def test_claims_only_at_userinfo_are_used(
    browser: Browser, provider: SuiteOP, db: Database
) -> None:
    """rp-scope-userinfo-claims"""
    provider.bend = Bend(claims_only_in_userinfo=True)
    user = assert_signed_in(await attempt(browser, provider), db, browser)
    assert (user.email, user.email_verified, user.name) == (
        "hostile.user@example.com",
        True,
        "Hostile User",
    )


async def test_keys_are_fetched_at_the_discovered_jwks_uri(
    browser: Browser, provider: SuiteOP, db: Database
) -> None:
    """rp-discovery-jwks_uri-keys: the key set lives at /jwks, a path only discovery names."""
    assert_signed_in(await attempt(browser, provider), db, browser)
    documents = ("discovery", "jwks", "attacker_jwks", "attacker_certificate")
    fetched = [(r.endpoint, r.url) for r in provider.requests if r.endpoint in documents]
    assert fetched == [("discovery", provider.discovery_url), ("jwks", provider.jwks_uri)]


# -- refused after the code is redeemed ---------------------------------------------------------


def _bend(**fields: Any) -> Callable[[SuiteOP], Bend]:
    return lambda _op: Bend(**fields)


ID_TOKEN_REFUSALS = [
    pytest.param(
        _bend(id_token_issuer="https://attacker.example"),
        Refusal(400, "id_token", "id_token_issuer_mismatch", "is not this provider's issuer"),
        id="rp-id_token-issuer-mismatch",
    ),
    pytest.param(
        _bend(omit_sub=True),
        Refusal(400, "id_token", "id_token_sub", "has no subject (sub)"),
        id="rp-id_token-sub",
    ),
    pytest.param(
        _bend(aud="another-client"),
        Refusal(400, "id_token", "id_token_audience", "not issued for this client"),
        id="rp-id_token-aud-another-client",
    ),
    pytest.param(
        _bend(omit_aud=True),
        Refusal(400, "id_token", "id_token_audience", "has no audience (aud)"),
        id="rp-id_token-aud-missing",
    ),
    pytest.param(
        _bend(omit_iat=True),
        Refusal(400, "id_token", "id_token_iat", "has no valid iat"),
        id="rp-id_token-iat",
    ),
    pytest.param(
        _bend(alg_none=True),
        Refusal(400, "id_token", "id_token_alg_not_allowed", "signed with 'none'"),
        id="rp-id_token-sig-none",
        marks=PRODUCTION_WARNINGS,
    ),
    pytest.param(
        _bend(corrupt_signature=True),
        Refusal(400, "id_token", "id_token_invalid_signature", "signature is invalid"),
        id="rp-id_token-bad-sig-rs256",
    ),
    pytest.param(
        _bend(alg="ES256", corrupt_signature=True),
        Refusal(400, "id_token", "id_token_invalid_signature", "signature is invalid"),
        id="rp-id_token-bad-sig-es256",
    ),
    pytest.param(
        _bend(hs256_with_client_secret=True),
        Refusal(400, "id_token", "id_token_alg_not_allowed", "signed with 'HS256'"),
        id="rp-id_token-bad-sig-hs256",
    ),
    pytest.param(
        _bend(nonce="not-the-nonce-this-sign-in-sent"),
        Refusal(400, "id_token", "id_token_nonce", "nonce is not the one this sign-in sent"),
        id="rp-nonce-invalid",
    ),
    pytest.param(
        _bend(userinfo_sub="someone-else"),
        Refusal(502, "userinfo", "userinfo_sub_mismatch", "about another user"),
        id="rp-userinfo-bad-sub-claim",
    ),
    pytest.param(
        _bend(wrong_at_hash=True),
        Refusal(400, "id_token", "id_token_at_hash", "at_hash does not match"),
        id="at_hash",
    ),
]


@pytest.mark.parametrize(("bend", "expected"), ID_TOKEN_REFUSALS)
async def test_refused(
    browser: Browser,
    provider: SuiteOP,
    db: Database,
    bend: Callable[[SuiteOP], Bend],
    expected: Refusal,
) -> None:
    provider.bend = bend(provider)
    response = await attempt(browser, provider)
    assert_refused(response, db, provider, expected, redeemed=True, browser=browser)
    event = outcome(db).event
    assert event is not None and event.claims is None  # nothing unverified is kept


async def test_the_refused_userinfo_is_discarded(
    browser: Browser, provider: SuiteOP, db: Database
) -> None:
    """rp-userinfo-bad-sub-claim: the other user's claims are neither used nor recorded."""
    provider.bend = Bend(userinfo_sub="someone-else", claims_only_in_userinfo=True)
    response = await attempt(browser, provider)
    assert "hostile.user@example.com" not in page_text(response)
    event = outcome(db).event
    assert event is not None and event.code == "userinfo_sub_mismatch"
    assert event.claims is None and "hostile.user@example.com" not in (event.message or "")


# -- discovery ----------------------------------------------------------------------------------


async def test_a_discovery_document_naming_another_issuer_stops_before_redirecting(
    browser: Browser, provider: SuiteOP, db: Database
) -> None:
    """rp-discovery-issuer-not-matching-config"""
    provider.bend = Bend(discovery_issuer="https://attacker.example")
    response = await browser.click(IDENTIFIER)
    assert "location" not in response.headers
    assert_refused(
        response,
        db,
        provider,
        Refusal(502, "discovery", "issuer_mismatch", "names the issuer 'https://attacker.example'"),
        redeemed=False,
    )
    assert provider.authorize_requests == []
    assert provider.jwks_fetches == 0


# -- key rotation -------------------------------------------------------------------------------


async def test_a_key_rotation_between_sign_ins_is_followed(
    browser: Browser, provider: SuiteOP, db: Database
) -> None:
    """rp-key-rotation-op-sign-key: new kid between two sign-ins."""
    assert_signed_in(await attempt(browser, provider), db, browser)
    provider.rotate_keys()
    assert_signed_in(await attempt(browser, provider), db, browser)
    assert provider.jwks_fetches == 2
    assert outcome(db).users == 1


async def test_a_key_rotation_during_a_sign_in_is_followed(
    browser: Browser, provider: SuiteOP, db: Database
) -> None:
    """rp-key-rotation-op-sign-key(-native): the keys change after the sign-in started, while
    the relying party holds the old ones."""
    assert_signed_in(await attempt(browser, provider), db, browser)
    provider.bend = Bend(rotate_keys_before_signing=True, alg="ES256")
    assert_signed_in(await attempt(browser, provider), db, browser)
    assert provider.jwks_fetches == 2


async def test_tokens_naming_unknown_keys_refetch_the_key_set_once_per_interval(
    browser: Browser, provider: SuiteOP, db: Database
) -> None:
    """rp-key-rotation-op-sign-key: the refetch is rate-limited, so made-up kids cannot turn
    fedlogin into a load generator against the provider."""
    assert_signed_in(await attempt(browser, provider), db, browser)
    before = outcome(db)
    expected = Refusal(400, "id_token", "id_token_unknown_key", "key set does not contain")
    for kid, refetches in (("made-up-1", 1), ("made-up-2", 0)):
        provider.reset()
        provider.bend = Bend(extra_header={"kid": kid})
        response = await attempt(browser, provider)
        assert_refused(response, db, provider, expected, redeemed=True, before=before)
        assert provider.jwks_fetches == refetches, kid
