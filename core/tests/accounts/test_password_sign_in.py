"""Password sign-in without the web: the same refusal for every kind of wrong, limits that
refuse before any password is checked, and disabled accounts refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from argon2 import PasswordHasher
from fedlogin.accounts import passwords, throttle
from fedlogin.accounts.password_sign_in import PasswordSignInRefused, SignedIn, sign_in
from fedlogin.store.database import Database
from fedlogin.store.tables import SignInThrottle, User
from sqlmodel import Session, select

from tests.support.passwords import fast_passwords

__all__ = ["fast_passwords"]
pytestmark = pytest.mark.usefixtures("fast_passwords")
T = TypeVar("T")
PASSWORD = "a long enough password"
ADDRESS = "192.0.2.7"


class Transactions:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def transaction(self, work: Callable[[Session], T]) -> T:
        with self.database.transaction() as session:
            return work(session)


def add_user(db: Database, username: str = "ada", **fields: Any) -> int:
    fields.setdefault("password_hash", passwords.hash_password(PASSWORD))
    with db.transaction() as session:
        user = User(username=username, **fields)
        session.add(user)
        session.flush()
        assert user.id is not None
        return user.id


async def attempt(
    db: Database, login_name: object, password: object, address: str = ADDRESS
) -> SignedIn:
    return await sign_in(
        Transactions(db),
        login_name=login_name,
        password=password,
        address=address,
        on_success=lambda session, user: f"session for {user.username}",
    )


async def refused(db: Database, login_name: object, password: object, **kw: Any) -> str:
    with pytest.raises(PasswordSignInRefused) as caught:
        await attempt(db, login_name, password, **kw)
    return f"{caught.value.status} {caught.value.code}: {caught.value.message}"


async def test_the_right_password_signs_in_by_username_or_email(db: Database) -> None:
    user_id = add_user(db, email="ada@example.org")
    by_name = await attempt(db, " ADA ", PASSWORD)
    assert (by_name.user_id, by_name.username, by_name.value) == (user_id, "ada", "session for ada")
    by_email = await attempt(db, "Ada@Example.org", PASSWORD)
    assert by_email.user_id == user_id


async def test_every_kind_of_wrong_gets_the_same_refusal(db: Database) -> None:
    add_user(db, email="ada@example.org")
    add_user(db, "bob", password_hash=None)  # signed up through a provider: no password
    wrong_password = await refused(db, "ada", "not the password")
    unknown_user = await refused(db, "nobody", PASSWORD)
    no_password = await refused(db, "bob", PASSWORD)
    assert wrong_password == unknown_user == no_password
    assert wrong_password.startswith("401 invalid_credentials: The username or email")


async def test_missing_fields_are_asked_for(db: Database) -> None:
    assert (await refused(db, "", PASSWORD)).startswith("400 credentials_missing")
    assert (await refused(db, "ada", "")).startswith("400 credentials_missing")
    assert (await refused(db, None, None)).startswith("400 credentials_missing")


async def test_a_disabled_user_is_told_only_after_the_right_password(db: Database) -> None:
    add_user(db, disabled=True)
    assert (await refused(db, "ada", "wrong password")).startswith("401 invalid_credentials")
    assert (await refused(db, "ada", PASSWORD)).startswith("403 user_disabled")


async def test_after_five_failures_even_the_right_password_waits(db: Database) -> None:
    add_user(db)
    for _ in range(throttle.ACCOUNT_LIMIT.max_failures):
        await refused(db, "ada", "wrong password")
    with pytest.raises(PasswordSignInRefused) as caught:
        await attempt(db, "ada", PASSWORD)
    limited = caught.value
    assert (limited.status, limited.code) == (429, "too_many_attempts")
    assert "Wait 15 minutes" in limited.message and "this username or email" in limited.message
    assert limited.retry_after is not None and 14 * 60 < limited.retry_after <= 15 * 60
    assert limited.details() == {"retry_after": limited.retry_after}
    # Another address does not help: the account is limited wherever the guesses come from.
    assert (await refused(db, "ada", PASSWORD, address="198.51.100.1")).startswith("429")


async def test_an_unknown_name_is_limited_exactly_like_a_real_one(db: Database) -> None:
    add_user(db)
    for name in ("ada", "nobody"):
        for _ in range(throttle.ACCOUNT_LIMIT.max_failures):
            await refused(db, name, "wrong password", address=f"198.51.100.{len(name)}")
    assert await refused(db, "ada", "x", address="203.0.113.1") == await refused(
        db, "nobody", "x", address="203.0.113.2"
    )


async def test_a_limited_attempt_checks_no_password(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_user(db)
    for _ in range(throttle.ACCOUNT_LIMIT.max_failures):
        await refused(db, "ada", "wrong password")
    checked: list[str] = []
    monkeypatch.setattr(passwords, "verify_password", lambda *args: checked.append("x"))
    await refused(db, "ada", PASSWORD)
    assert checked == []


async def test_one_address_guessing_many_names_is_limited(db: Database) -> None:
    for n in range(throttle.ADDRESS_LIMIT.max_failures):
        await refused(db, f"name-{n}", "wrong password")
    message = await refused(db, "someone-else", "wrong password")
    assert message.startswith("429 too_many_attempts") and "network address" in message


async def test_a_success_clears_the_account_and_does_not_count_for_the_address(
    db: Database,
) -> None:
    add_user(db)
    for _ in range(throttle.ACCOUNT_LIMIT.max_failures - 1):
        await refused(db, "ada", "wrong password")
    await attempt(db, "ada", PASSWORD)
    with db.session() as session:
        rows = {row.scope: row.failures for row in session.exec(select(SignInThrottle))}
    assert rows == {"address": throttle.ACCOUNT_LIMIT.max_failures - 1}
    for _ in range(throttle.ACCOUNT_LIMIT.max_failures):
        await refused(db, "ada", "wrong password")  # a fresh allowance after the success


async def test_a_hash_with_old_parameters_is_upgraded_at_sign_in(
    db: Database, fast_passwords: PasswordHasher
) -> None:
    old = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, salt_len=8).hash(PASSWORD)
    user_id = add_user(db, password_hash=old)
    await attempt(db, "ada", PASSWORD)
    with db.session() as session:
        user = session.get(User, user_id)
        assert user is not None and user.password_hash not in (None, old)
        assert not passwords.needs_rehash(user.password_hash or "")
    await attempt(db, "ada", PASSWORD)


async def test_a_password_changed_during_the_check_does_not_sign_in(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id = add_user(db)
    real_verify = passwords.verify_password

    def verify_then_change(stored: str | None, password: str) -> bool:
        result = real_verify(stored, password)
        with db.transaction() as session:  # another browser changes the password meanwhile
            user = session.get(User, user_id)
            assert user is not None
            user.password_hash = passwords.hash_password("the new password 123")
            session.add(user)
        return result

    monkeypatch.setattr(passwords, "verify_password", verify_then_change)
    assert (await refused(db, "ada", PASSWORD)).startswith("401 invalid_credentials")
