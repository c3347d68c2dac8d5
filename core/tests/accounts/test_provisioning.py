"""P13 with the takeover rules of SECURITY.md: who is signed in, created or refused."""

from __future__ import annotations

import pytest
from fedlogin.accounts.email_trust import EmailTrust
from fedlogin.accounts.identities import IdentityKey, find_identity, link_identity
from fedlogin.accounts.mapping import MappedProfile
from fedlogin.accounts.provisioning import (
    EmailNotTrusted,
    EmailVerificationRequired,
    Provisioned,
    ProvisioningRefused,
    provision,
)
from fedlogin.store.tables import FederatedIdentity, IdentityProvider, User
from fedlogin.store.types import utcnow
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, func, select

from .conftest import add_user

PROFILE = MappedProfile({"username": "Ada.L", "name": "Ada Lovelace", "company": "Engines"})
TRUSTED = EmailTrust("ada@example.org", True, "provider_verified")
UNTRUSTED = EmailTrust("ada@example.org", False, "provider_unverified")


def key(provider: IdentityProvider, subject: str = "sub-1") -> IdentityKey:
    assert provider.id is not None
    return IdentityKey(provider.id, "https://idp.example.com", subject)


def run(
    session: Session,
    provider: IdentityProvider,
    *,
    mode: str = "auto_provision",
    trust: EmailTrust = TRUSTED,
    subject: str = "sub-1",
    profile: MappedProfile = PROFILE,
) -> Provisioned:
    result = provision(
        session,
        mode=mode,
        provider_name=provider.name,
        key=key(provider, subject),
        trust=trust,
        profile=profile,
        now=utcnow(),
    )
    session.commit()
    return result


def counts(session: Session) -> tuple[int, int]:
    users = session.exec(select(func.count()).select_from(User)).one()
    links = session.exec(select(func.count()).select_from(FederatedIdentity)).one()
    return users, links


def test_auto_provision_creates_the_user_from_the_mapped_profile(
    session: Session, provider: IdentityProvider
) -> None:
    result = run(session, provider)
    assert result.created_user
    user = result.user
    assert (user.username, user.email, user.email_verified) == ("ada.l", "ada@example.org", True)
    assert (user.name, user.company) == ("Ada Lovelace", "Engines")
    assert find_identity(session, key(provider)) is not None


def test_a_later_sign_in_goes_by_identity_key_not_by_email(
    session: Session, provider: IdentityProvider
) -> None:
    first = run(session, provider)
    # The address changed at the provider and is not even trusted now: the key still signs in.
    changed = EmailTrust("new@example.org", False, "provider_unverified")
    again = run(session, provider, trust=changed)
    assert again.user.id == first.user.id and not again.created_user
    assert again.identity.email == "new@example.org"
    assert counts(session) == (1, 1)


def test_another_subject_with_the_same_email_never_reuses_the_identity(
    session: Session, provider: IdentityProvider
) -> None:
    run(session, provider)
    # A second account at the provider with the same trusted address is matched by email
    # (the local address is verified): it is linked to the same user, not a second user.
    other = run(session, provider, subject="sub-2")
    assert other.matched_by_email
    assert counts(session) == (1, 2)


def test_usernames_are_made_unique(session: Session, provider: IdentityProvider) -> None:
    add_user(session, "ada.l", "someone@example.org", verified=True)
    add_user(session, "ada.l-2", "else@example.org", verified=True)
    result = run(session, provider)
    assert result.user.username == "ada.l-3"


def test_match_only_refuses_a_person_without_an_account(
    session: Session, provider: IdentityProvider
) -> None:
    with pytest.raises(ProvisioningRefused) as caught:
        run(session, provider, mode="match_only")
    assert caught.value.code == "match_only_no_account"
    session.rollback()
    assert counts(session) == (0, 0)


def test_match_only_signs_in_an_existing_user_with_a_trusted_and_verified_email(
    session: Session, provider: IdentityProvider
) -> None:
    existing = add_user(session, "ada", "ada@example.org", verified=True)
    result = run(session, provider, mode="match_only")
    assert result.user.id == existing.id
    assert result.matched_by_email and not result.created_user
    assert counts(session) == (1, 1)


@pytest.mark.parametrize("mode", ["match_only", "auto_provision"])
def test_an_untrusted_email_never_reaches_an_existing_account(
    session: Session, provider: IdentityProvider, mode: str
) -> None:
    add_user(session, "ada", "ada@example.org", verified=True)
    with pytest.raises(EmailNotTrusted) as caught:
        run(session, provider, mode=mode, trust=UNTRUSTED)
    assert caught.value.code == "email_not_trusted"
    session.rollback()
    assert counts(session) == (1, 0)


@pytest.mark.parametrize("mode", ["match_only", "auto_provision"])
def test_an_account_whose_own_email_is_unverified_is_never_joined(
    session: Session, provider: IdentityProvider, mode: str
) -> None:
    add_user(session, "squatter", "ada@example.org", verified=False)
    with pytest.raises(ProvisioningRefused) as caught:
        run(session, provider, mode=mode)
    assert caught.value.code == "account_email_unverified"
    session.rollback()
    assert counts(session) == (1, 0)


def test_auto_provision_creates_nothing_for_an_address_still_to_verify(
    session: Session, provider: IdentityProvider
) -> None:
    with pytest.raises(EmailVerificationRequired):
        run(session, provider, trust=UNTRUSTED)
    session.rollback()
    assert counts(session) == (0, 0)


def test_auto_provision_without_any_email_creates_a_user_without_one(
    session: Session, provider: IdentityProvider
) -> None:
    result = run(
        session, provider, trust=EmailTrust(None, False, "no_email"), profile=MappedProfile({})
    )
    assert (result.user.username, result.user.email) == ("user", None)


def test_match_only_without_an_email_says_the_email_is_needed(
    session: Session, provider: IdentityProvider
) -> None:
    with pytest.raises(ProvisioningRefused) as caught:
        run(session, provider, mode="match_only", trust=EmailTrust(None, False, "no_email"))
    assert caught.value.code == "email_missing"


def test_a_disabled_user_is_not_signed_in(session: Session, provider: IdentityProvider) -> None:
    user = run(session, provider).user
    user.disabled = True
    session.add(user)
    session.commit()
    with pytest.raises(ProvisioningRefused) as caught:
        run(session, provider)
    assert caught.value.code == "user_disabled"


def test_the_database_refuses_a_second_link_of_the_same_identity(
    session: Session, provider: IdentityProvider
) -> None:
    first = run(session, provider).user
    other = add_user(session, "bob", "bob@example.org", verified=True)
    assert first.id is not None and other.id is not None
    with pytest.raises(IntegrityError):
        link_identity(session, other.id, key(provider), email=None, now=utcnow())
