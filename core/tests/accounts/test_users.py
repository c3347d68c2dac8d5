"""Users created and found by the sign-in's prepared statements, on both databases."""

from __future__ import annotations

import pytest
from fedlogin.accounts import users
from fedlogin.accounts.users import create_user, users_with_email
from fedlogin.store.tables import User
from sqlalchemy import inspect
from sqlmodel import Session, func, select

from .conftest import add_user


def test_the_tenth_taken_name_gives_way_to_a_random_suffix(session: Session) -> None:
    add_user(session, "ada", None, verified=False)
    for suffix in range(2, 11):
        add_user(session, f"ada-{suffix}", None, verified=False)

    user = create_user(session, "ada", {"email": "ada@example.org", "email_verified": True})
    session.commit()

    assert user.username.startswith("ada-")
    assert len(user.username) == len("ada-") + 6  # three random bytes in hex
    stored = session.get(User, user.id)
    assert stored is not None
    assert (stored.username, stored.email, stored.email_verified) == (
        user.username,
        "ada@example.org",
        True,
    )


def test_a_taken_name_leaves_the_transaction_usable(session: Session) -> None:
    """A conflict is ``DO NOTHING``, not an error: on PostgreSQL an IntegrityError would
    have aborted the transaction and the next statement would fail."""
    add_user(session, "grace", None, verified=False)
    first = create_user(session, "grace", {})
    second = create_user(session, "grace", {"name": "Grace H"})
    session.commit()

    assert (first.username, second.username) == ("grace-2", "grace-3")
    assert session.exec(select(func.count()).select_from(User)).one() == 3


def test_when_every_attempt_is_taken_it_says_so(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(users.secrets, "token_hex", lambda _n: "abcdef")
    add_user(session, "bob", None, verified=False)
    for name in [f"bob-{suffix}" for suffix in range(2, 11)] + ["bob-abcdef"]:
        add_user(session, name, None, verified=False)

    with pytest.raises(RuntimeError, match="no free username for 'bob'"):
        create_user(session, "bob", {})


def test_only_columns_of_a_user_are_accepted(session: Session) -> None:
    with pytest.raises(ValueError, match="password_hashh"):
        create_user(session, "eve", {"password_hashh": "x"})


def test_the_created_user_is_detached_with_every_column_loaded(session: Session) -> None:
    user = create_user(session, "ida", {"name": "Ida"})
    state = inspect(user)
    assert state.detached
    assert not state.unloaded  # reading any column later needs no session
    assert (user.disabled, user.email_verified, user.email) == (False, False, None)
    assert user.created_at.tzinfo is not None


def test_users_are_found_by_address_whatever_its_case(session: Session) -> None:
    older = add_user(session, "a1", "same@example.org", verified=True)
    newer = add_user(session, "a2", "same@example.org", verified=False)
    add_user(session, "a3", "other@example.org", verified=True)

    found = users_with_email(session, "Same@Example.ORG")

    assert [(user.id, user.username) for user in found] == [
        (older.id, "a1"),
        (newer.id, "a2"),
    ]
    assert all(inspect(user).detached for user in found)
