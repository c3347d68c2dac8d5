"""P15: the email trust modes, on the plugin's verdict about the provider's address."""

from __future__ import annotations

import pytest
from fedlogin.accounts.email_trust import decide_email_trust
from fedlogin.presets import NormalizedClaims


def claims(email: str | None, verified: bool) -> NormalizedClaims:
    return NormalizedClaims(subject="s", email=email, email_verified=verified, claims={})


@pytest.mark.parametrize(
    ("mode", "verified", "trusted", "reason"),
    [
        ("verify_with_claim", True, True, "provider_verified"),
        ("verify_with_claim", False, False, "provider_unverified"),
        ("trust_idp", False, True, "trust_idp"),
        ("always_verify", True, False, "always_verify"),
    ],
)
def test_each_mode_decides_as_the_product_document_says(
    mode: str, verified: bool, trusted: bool, reason: str
) -> None:
    decision = decide_email_trust(mode, claims("ada@example.org", verified))
    assert (decision.trusted, decision.reason) == (trusted, reason)
    assert decision.needs_verification is not trusted


def test_no_email_is_neither_trusted_nor_to_verify() -> None:
    decision = decide_email_trust("trust_idp", claims(None, True))
    assert decision.trusted is False
    assert decision.needs_verification is False


def test_an_unknown_mode_is_a_bug() -> None:
    with pytest.raises(ValueError, match="unknown email trust mode"):
        decide_email_trust("sometimes", claims("a@b.example", True))
