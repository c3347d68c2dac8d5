"""What the emails say, and how an address is shown masked."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fedlogin.mail import texts
from fedlogin.mail.message import MailMessage, mask_address

AT = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("ada@example.org", "a***@example.org"),
        ("a@example.org", "a***@example.org"),
        ("no-at-sign", "***"),
    ],
)
def test_an_address_is_masked_but_its_domain_kept(address: str, masked: str) -> None:
    assert mask_address(address) == masked


def test_the_verification_email_carries_the_code_the_link_and_the_rules() -> None:
    message = texts.verification(
        to="ada@example.org",
        code="012345",
        link="https://login.example.com/verify-email/link/TOKEN",
        provider_name="Corp SSO",
        site="login.example.com",
        minutes=30,
    )
    assert (message.kind, message.to) == ("verification", "ada@example.org")
    assert "012345" in message.subject and "login.example.com" in message.subject
    assert "Your verification code is: 012345" in message.body
    assert "https://login.example.com/verify-email/link/TOKEN" in message.body
    assert "30 minutes" in message.body and "same browser" in message.body
    assert "no account is created" in message.body


@pytest.mark.parametrize(
    ("build", "words"),
    [(texts.identity_linked, "was connected"), (texts.identity_unlinked, "was disconnected")],
)
def test_link_notices_say_what_changed_when_and_what_to_do(build: object, words: str) -> None:
    assert callable(build)
    message = build(
        to="ada@example.org",
        username="ada",
        provider_name="Corp SSO",
        provider_email="ada@corp.example",
        site="login.example.com",
        at=AT,
    )
    assert isinstance(message, MailMessage)
    assert words in message.subject or words in message.body
    assert "Corp SSO" in message.subject
    assert "ada@corp.example" in message.body and "2026-11-27 09:30 UTC" in message.body
    assert "If this was not you" in message.body


def test_a_message_kind_must_be_known() -> None:
    with pytest.raises(ValueError):
        MailMessage("newsletter", "ada@example.org", "Hi", "Hello")
