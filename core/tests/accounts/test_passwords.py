"""Local passwords: the rules for a new one, hashing, and which user a login name means."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from fedlogin.accounts import passwords
from fedlogin.accounts.passwords import (
    MAX_PASSWORD_LENGTH,
    check_new_password,
    find_user_for_login,
    hash_password,
    normalize_login_name,
    verify_password,
)
from fedlogin.store.fields import FieldErrors
from fedlogin.store.tables import User
from sqlmodel import Session

from tests.support.passwords import fast_passwords

__all__ = ["fast_passwords"]
pytestmark = pytest.mark.usefixtures("fast_passwords")

ADA = User(username="ada", email="ada@example.org")


def test_a_hash_verifies_its_password_and_nothing_else() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert verify_password(stored, "correct horse battery")
    assert not verify_password(stored, "correct horse battery ")
    assert not verify_password(stored, "")


def test_no_stored_hash_never_matches_even_the_dummy_password() -> None:
    # The dummy hash is verified to spend the same time; it must never let anyone in.
    assert not verify_password(None, "anything at all")
    assert not verify_password("not an argon2 hash", "anything at all")


def test_an_oversized_password_is_refused_without_matching() -> None:
    huge = "x" * (MAX_PASSWORD_LENGTH + 1)
    assert not verify_password(hash_password(huge[:MAX_PASSWORD_LENGTH]), huge)


def test_a_hash_made_with_weaker_parameters_needs_rehashing(
    fast_passwords: PasswordHasher,
) -> None:
    weaker = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, salt_len=8)
    assert passwords.needs_rehash(weaker.hash("a long enough password"))
    assert not passwords.needs_rehash(hash_password("a long enough password"))


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short", "password_too_short"),
        ("123456789", "password_too_short"),
        ("x" * (MAX_PASSWORD_LENGTH + 1), "password_too_long"),
        ("ADA", "password_too_short"),
        ("Ada@Example.org", "password_is_login_name"),
        (" ada@example.org ", "password_is_login_name"),
        (12345678901, "invalid_type"),
        (None, "invalid_type"),
    ],
)
def test_a_new_password_breaking_a_rule_is_a_field_error(password: object, code: str) -> None:
    errors = FieldErrors()
    assert check_new_password(password, errors, user=ADA, field="new_password") is None
    assert errors.errors["new_password"][0] == code


def test_the_username_itself_is_refused_when_it_is_long_enough() -> None:
    errors = FieldErrors()
    user = User(username="adalovelace1815")
    assert check_new_password("AdaLovelace1815", errors, user=user) is None
    assert errors.errors["password"][0] == "password_is_login_name"


def test_a_good_password_is_returned_unchanged_with_its_spaces() -> None:
    errors = FieldErrors()
    assert check_new_password("  ten chars or more  ", errors, user=ADA) == "  ten chars or more  "
    assert not errors


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("  Ada ", "ada"),
        ("Ada@Example.ORG", "ada@example.org"),
        ("", None),
        ("   ", None),
        ("a\x00b", None),
        ("a" * 321, None),
        (None, None),
        (["ada"], None),
    ],
)
def test_login_names_are_trimmed_and_lower_cased(typed: object, expected: str | None) -> None:
    assert normalize_login_name(typed) == expected


def _user(session: Session, username: str, email: str | None, *, password: bool) -> User:
    user = User(
        username=username,
        email=email,
        password_hash=hash_password("a long enough password") if password else None,
    )
    session.add(user)
    session.commit()
    return user


def test_a_login_name_is_a_username_or_an_email_address(session: Session) -> None:
    ada = _user(session, "ada", "Ada@Example.org", password=True)
    assert find_user_for_login(session, "ada") == ada
    assert find_user_for_login(session, "ada@example.org") == ada
    assert find_user_for_login(session, "ada@example.com") is None
    assert find_user_for_login(session, "adal") is None


def test_a_shared_address_signs_in_the_one_user_with_a_password(session: Session) -> None:
    local = _user(session, "ada", "ada@example.org", password=True)
    _user(session, "ada-2", "ada@example.org", password=False)  # signed up through a provider
    assert find_user_for_login(session, "ada@example.org") == local


def test_an_address_two_users_sign_in_with_signs_in_neither(session: Session) -> None:
    _user(session, "ada", "ada@example.org", password=True)
    second = _user(session, "ada-2", "ada@example.org", password=True)
    assert find_user_for_login(session, "ada@example.org") is None
    assert find_user_for_login(session, "ada-2") == second
