"""Setting or changing one's own password: recent sign-in or current password, the rules,
the limits on guessing the current one, and the other sessions ended."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from fedlogin.accounts import passwords, throttle
from fedlogin.accounts.password_change import (
    PASSWORD_CHANGED,
    PASSWORD_SET,
    RECENT_SIGN_IN,
    PasswordChangeRefused,
    Principal,
    change_password,
)
from fedlogin.accounts.password_sign_in import PasswordSignInRefused
from fedlogin.store.database import Database
from fedlogin.store.fields import ValidationFailed
from fedlogin.store.tables import BrowserSession, User
from fedlogin.store.types import utcnow
from sqlmodel import Session, col, select

from tests.support.passwords import fast_passwords

__all__ = ["fast_passwords"]
pytestmark = pytest.mark.usefixtures("fast_passwords")
T = TypeVar("T")
OLD = "the old password"
NEW = "a brand new password"


class Transactions:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def transaction(self, work: Callable[[Session], T]) -> T:
        with self.database.transaction() as session:
            return work(session)


def setup_user(db: Database, *, password: str | None, signed_in_ago: timedelta) -> Principal:
    """A user with two sessions; the principal is the first, signed in ``signed_in_ago``."""
    now = utcnow()
    with db.transaction() as session:
        user = User(
            username="ada",
            email="ada@example.org",
            password_hash=passwords.hash_password(password) if password else None,
        )
        session.add(user)
        session.flush()
        assert user.id is not None
        rows = [
            BrowserSession(
                token_hash=f"{n}" * 64,
                user_id=user.id,
                csrf_secret="c" * 64,
                authenticated_at=now - signed_in_ago,
                expires_at=now + timedelta(hours=1),
            )
            for n in (1, 2)
        ]
        session.add_all(rows)
        session.flush()
        assert rows[0].id is not None
        return Principal(user.id, rows[0].id, rows[0].authenticated_at)


async def change(db: Database, principal: Principal, **fields: Any) -> str:
    fields.setdefault("current_password", "")
    fields.setdefault("new_password", NEW)
    fields.setdefault("confirmation", fields["new_password"])
    return await change_password(Transactions(db), principal, address="192.0.2.7", **fields)


def state(db: Database, user_id: int) -> tuple[str | None, list[int]]:
    with db.session() as session:
        user = session.get(User, user_id)
        assert user is not None
        ids = session.exec(select(BrowserSession.id).order_by(col(BrowserSession.id))).all()
        return user.password_hash, [i for i in ids if i is not None]


async def test_a_first_password_after_a_recent_sign_in_is_set(db: Database) -> None:
    principal = setup_user(db, password=None, signed_in_ago=timedelta(minutes=2))
    assert await change(db, principal) == PASSWORD_SET
    stored, sessions = state(db, principal.user_id)
    assert passwords.verify_password(stored, NEW)
    assert sessions == [principal.session_id]  # the other session ended, this one stays


async def test_a_first_password_needs_a_recent_sign_in(db: Database) -> None:
    principal = setup_user(db, password=None, signed_in_ago=RECENT_SIGN_IN + timedelta(minutes=1))
    with pytest.raises(PasswordChangeRefused) as caught:
        await change(db, principal, current_password="anything")
    assert caught.value.code == "reauthentication_required" and caught.value.status == 403
    stored, sessions = state(db, principal.user_id)
    assert stored is None and len(sessions) == 2


async def test_a_change_with_the_current_password_needs_no_recent_sign_in(db: Database) -> None:
    principal = setup_user(db, password=OLD, signed_in_ago=timedelta(hours=3))
    assert await change(db, principal, current_password=OLD) == PASSWORD_CHANGED
    stored, sessions = state(db, principal.user_id)
    assert passwords.verify_password(stored, NEW) and not passwords.verify_password(stored, OLD)
    assert sessions == [principal.session_id]


async def test_a_change_after_a_recent_sign_in_needs_no_current_password(db: Database) -> None:
    principal = setup_user(db, password=OLD, signed_in_ago=timedelta(minutes=9))
    assert await change(db, principal) == PASSWORD_CHANGED


async def test_an_old_session_must_give_the_current_password(db: Database) -> None:
    principal = setup_user(db, password=OLD, signed_in_ago=timedelta(minutes=11))
    with pytest.raises(ValidationFailed) as caught:
        await change(db, principal)
    assert caught.value.field_codes == {"current_password": "current_password_required"}
    with pytest.raises(ValidationFailed) as caught:
        await change(db, principal, current_password="not the old one")
    assert caught.value.field_codes == {"current_password": "current_password_wrong"}
    stored, sessions = state(db, principal.user_id)
    assert passwords.verify_password(stored, OLD) and len(sessions) == 2


async def test_guessing_the_current_password_is_limited_like_signing_in(db: Database) -> None:
    principal = setup_user(db, password=OLD, signed_in_ago=timedelta(hours=1))
    for _ in range(throttle.ACCOUNT_LIMIT.max_failures):
        with pytest.raises(ValidationFailed):
            await change(db, principal, current_password="a wrong guess")
    with pytest.raises(PasswordSignInRefused) as caught:
        await change(db, principal, current_password=OLD)
    assert caught.value.code == "too_many_attempts" and caught.value.status == 429


@pytest.mark.parametrize(
    ("fields", "codes"),
    [
        ({"new_password": "short"}, {"new_password": "password_too_short"}),
        ({"new_password": "ADA@example.org"}, {"new_password": "password_is_login_name"}),
        (
            {"new_password": NEW, "confirmation": NEW + "!"},
            {"confirm_password": "passwords_differ"},
        ),
    ],
)
async def test_a_new_password_breaking_a_rule_changes_nothing(
    db: Database, fields: dict[str, str], codes: dict[str, str]
) -> None:
    principal = setup_user(db, password=OLD, signed_in_ago=timedelta(minutes=1))
    with pytest.raises(ValidationFailed) as caught:
        await change(db, principal, **fields)
    assert caught.value.field_codes == codes
    stored, sessions = state(db, principal.user_id)
    assert passwords.verify_password(stored, OLD) and len(sessions) == 2


async def test_a_disabled_user_cannot_change_a_password(db: Database) -> None:
    principal = setup_user(db, password=OLD, signed_in_ago=timedelta(minutes=1))
    with db.transaction() as session:
        user = session.get(User, principal.user_id)
        assert user is not None
        user.disabled = True
    with pytest.raises(PasswordChangeRefused) as caught:
        await change(db, principal)
    assert caught.value.code == "user_disabled"
