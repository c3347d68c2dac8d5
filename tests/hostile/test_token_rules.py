"""SECURITY.md's ID token and identity key rules through the real routes: leeway, ``azp``,
weak keys, ``crit``, keys named only by the token's header, sizes, and the identity key.

HS256 signed with the client secret (never accepted: no setting enables it) is the
certification row ``rp-id_token-bad-sig-hs256`` in test_certification.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal

import pytest
from fedlogin.store.database import Database

from tests.hostile.helpers import (
    PRODUCTION_WARNINGS,
    Refusal,
    assert_refused,
    assert_signed_in,
    attempt,
    users,
)
from tests.hostile.provider import CertificateHeader, SuiteOP
from tests.support.hostile_op import Bend
from tests.support.sign_in import Browser, outcome


def _claims(**offsets: int) -> Callable[[], dict[str, Any]]:
    """Claims ``offsets`` seconds from the moment the case runs."""
    return lambda: {name: int(time.time()) + offset for name, offset in offsets.items()}


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        pytest.param(_claims(iat=-120, exp=-30), None, id="exp-30s-ago-accepted"),
        pytest.param(
            _claims(iat=-150, exp=-90),
            Refusal(400, "id_token", "id_token_expired", "has expired"),
            id="exp-90s-ago-refused",
        ),
        pytest.param(_claims(iat=30), None, id="iat-30s-ahead-accepted"),
        pytest.param(
            _claims(iat=90),
            Refusal(400, "id_token", "id_token_iat", "issued in the future"),
            id="iat-90s-ahead-refused",
        ),
    ],
)
async def test_exp_and_iat_get_an_explicit_leeway_of_at_most_60_seconds(
    browser: Browser,
    provider: SuiteOP,
    db: Database,
    claims: Callable[[], dict[str, Any]],
    expected: Refusal | None,
) -> None:
    provider.bend = Bend(extra_claims=claims())
    response = await attempt(browser, provider)
    if expected is None:
        assert_signed_in(response, db, browser)
    else:
        assert_refused(response, db, provider, expected, redeemed=True, browser=browser)


@pytest.mark.parametrize("azp", ["another-client", None], ids=["another-client", "this-client"])
async def test_azp_must_be_this_client_when_present(
    browser: Browser, provider: SuiteOP, db: Database, azp: str | None
) -> None:
    provider.bend = Bend(extra_claims={"azp": azp or provider.client_id})
    response = await attempt(browser, provider)
    if azp is None:
        assert_signed_in(response, db, browser)
    else:
        expected = Refusal(400, "id_token", "id_token_azp", "authorized party (azp) is another")
        assert_refused(response, db, provider, expected, redeemed=True, browser=browser)


@PRODUCTION_WARNINGS
async def test_an_rsa_key_under_2048_bits_is_ignored(
    browser: Browser, provider: SuiteOP, db: Database
) -> None:
    """The provider publishes a 1024-bit key and signs with it: as if the key were not there."""
    provider.bend = Bend(weak_rsa_key=True)
    response = await attempt(browser, provider)
    expected = Refusal(400, "id_token", "id_token_unknown_key", "key set does not contain")
    assert_refused(response, db, provider, expected, redeemed=True, browser=browser)


async def test_an_unknown_crit_header_is_refused(
    browser: Browser, provider: SuiteOP, db: Database
) -> None:
    provider.bend = Bend(unknown_crit=True)
    response = await attempt(browser, provider)
    expected = Refusal(400, "id_token", "id_token_crit", "requires header extensions (crit)")
    assert_refused(response, db, provider, expected, redeemed=True, browser=browser)


HeaderKey = Literal["jwk", "jku"] | CertificateHeader


@pytest.mark.parametrize("header", ["jwk", "jku", "x5u", "x5c"])
async def test_a_key_named_only_by_the_token_header_is_never_used(
    browser: Browser, provider: SuiteOP, db: Database, header: HeaderKey
) -> None:
    """Signed by the attacker's key, which the header embeds (jwk, x5c) or points at (jku,
    x5u), under the real key's kid: refused, and nothing fetched from where it points."""
    if header == "x5u" or header == "x5c":
        provider.certificate_header = header
    else:
        provider.bend = Bend(alg="ES256", embedded_key=header)
    response = await attempt(browser, provider)
    expected = Refusal(400, "id_token", "id_token_invalid_signature", "signature is invalid")
    assert_refused(response, db, provider, expected, redeemed=True, browser=browser)
    assert provider.recorded("attacker_jwks") == []
    assert provider.recorded("attacker_certificate") == []


async def test_an_oversized_id_token_is_refused(
    browser: Browser, provider: SuiteOP, db: Database
) -> None:
    provider.bend = Bend(oversized_id_token=True)
    response = await attempt(browser, provider)
    expected = Refusal(400, "id_token", "id_token_too_large", "larger than 16 KiB")
    assert_refused(response, db, provider, expected, redeemed=True, browser=browser)


@pytest.mark.parametrize("length", [255, 256])
async def test_a_subject_over_255_characters_is_refused(
    browser: Browser, provider: SuiteOP, db: Database, length: int
) -> None:
    provider.bend = Bend(sub="s" * length)
    response = await attempt(browser, provider)
    if length <= 255:
        assert_signed_in(response, db, browser)
        return
    expected = Refusal(400, "id_token", "id_token_sub", "over 255 characters")
    assert_refused(response, db, provider, expected, redeemed=True, browser=browser)


# -- the identity key ---------------------------------------------------------------------------


async def test_a_later_sign_in_finds_the_user_by_subject_whatever_the_email_says(
    browser: Browser, provider: SuiteOP, db: Database
) -> None:
    """(provider, issuer, sub), never the email or preferred_username."""
    first = assert_signed_in(await attempt(browser, provider), db, browser)
    provider.claims |= {"email": "renamed@example.org", "preferred_username": "renamed"}
    again = assert_signed_in(await attempt(browser, provider), db, browser)
    assert again.id == first.id and len(users(db)) == 1


async def test_another_subject_with_the_same_username_is_another_user(
    browser: Browser, provider: SuiteOP, db: Database
) -> None:
    """A provider that lets users pick their preferred_username cannot sign one into
    another's account with it (the emails differ, so no email match applies)."""
    first = assert_signed_in(await attempt(browser, provider), db, browser)
    provider.bend = Bend(sub="impostor")
    provider.claims["email"] = "impostor@example.org"
    second = assert_signed_in(await attempt(browser, provider), db, browser)
    assert second.id != first.id
    assert {u.username for u in users(db)} == {"hostile.user", second.username}
    assert outcome(db).identities == 2
