"""Admin users with argon2 password hashes, and API tokens shown once and stored hashed."""

from __future__ import annotations

import json

import pytest
from fedlogin.store.admins import (
    AdminNotFound,
    TokenNotFound,
    create_admin,
    create_api_token,
    find_admin,
    has_admin,
    revoke_api_token,
    set_admin_password,
    token_owner,
    verify_admin_password,
    verify_api_token,
)
from fedlogin.store.database import Database
from fedlogin.store.fields import ValidationFailed
from fedlogin.store.tables import AdminUser, ApiToken, AuditEntry
from sqlmodel import Session, select

PASSWORD = "correct horse battery staple"


@pytest.fixture
def admin(db: Database) -> AdminUser:
    with db.transaction() as session:
        return create_admin(session, "Alice", PASSWORD, actor="cli")


def test_the_password_is_stored_as_an_argon2_hash_and_verified(
    db: Database, admin: AdminUser
) -> None:
    assert admin.username == "alice"
    assert admin.password_hash.startswith("$argon2id$")
    assert PASSWORD not in admin.password_hash
    assert PASSWORD not in repr(admin)
    with db.transaction() as session:
        assert has_admin(session)
        signed_in = verify_admin_password(session, "ALICE", PASSWORD)
        assert signed_in is not None and signed_in.last_login_at is not None
        assert verify_admin_password(session, "alice", PASSWORD + "!") is None
        assert verify_admin_password(session, "bob", PASSWORD) is None


def test_no_admin_yet(session: Session) -> None:
    assert not has_admin(session)


@pytest.mark.parametrize(
    ("username", "password", "field", "code"),
    [
        ("alice", PASSWORD, "username", "username_taken"),
        ("", PASSWORD, "username", "username_required"),
        ("al ice", PASSWORD, "username", "invalid_username"),
        ("bob", "short", "password", "password_too_short"),
        ("bob", "x" * 1025, "password", "password_too_long"),
    ],
)
def test_invalid_admins_are_field_errors(
    db: Database, admin: AdminUser, username: str, password: str, field: str, code: str
) -> None:
    with pytest.raises(ValidationFailed) as caught, db.transaction() as session:
        create_admin(session, username, password, actor="cli")
    assert caught.value.field_codes == {field: code}


def test_a_password_can_be_changed(db: Database, admin: AdminUser) -> None:
    with db.transaction() as session:
        set_admin_password(session, "alice", "a brand new passphrase", actor="cli")
    with db.transaction() as session:
        assert verify_admin_password(session, "alice", PASSWORD) is None
        assert verify_admin_password(session, "alice", "a brand new passphrase") is not None
    with pytest.raises(AdminNotFound), db.transaction() as session:
        set_admin_password(session, "nobody", "a brand new passphrase", actor="cli")


def test_a_token_is_shown_once_stored_hashed_and_verified(db: Database, admin: AdminUser) -> None:
    with db.transaction() as session:
        issued = create_api_token(session, "alice", "deploy script", actor="alice")
    token = issued.token
    assert token.startswith("fl_") and len(token) >= 40
    assert token not in repr(issued)
    with db.session() as session:
        row = session.exec(select(ApiToken)).one()
        assert token not in (row.token_hash, row.prefix, repr(row))
        assert token.startswith(row.prefix)
        entries = session.exec(select(AuditEntry)).all()
        assert token not in json.dumps([[e.before, e.after] for e in entries])
    with db.transaction() as session:
        found = verify_api_token(session, token)
        assert found is not None and found.name == "deploy script"
        assert found.last_used_at is not None
        assert token_owner(session, found).username == "alice"
        assert verify_api_token(session, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
        assert verify_api_token(session, "not-a-token") is None
        assert verify_api_token(session, "") is None


def test_a_revoked_token_no_longer_works(db: Database, admin: AdminUser) -> None:
    with db.transaction() as session:
        issued = create_api_token(session, "alice", "ci", actor="alice")
        other = create_api_token(session, "alice", "other", actor="alice")
    with db.transaction() as session:
        revoke_api_token(session, issued.row.id or 0, actor="alice")
    with db.transaction() as session:
        assert verify_api_token(session, issued.token) is None
        assert verify_api_token(session, other.token) is not None
    with pytest.raises(TokenNotFound), db.transaction() as session:
        revoke_api_token(session, 999_999, actor="alice")


def test_tokens_need_an_existing_admin_and_a_name(db: Database, admin: AdminUser) -> None:
    with pytest.raises(AdminNotFound), db.transaction() as session:
        create_api_token(session, "nobody", "x", actor="cli")
    with pytest.raises(ValidationFailed) as caught, db.transaction() as session:
        create_api_token(session, "alice", " ", actor="cli")
    assert caught.value.field_codes == {"name": "name_required"}


def test_deleting_an_admin_deletes_their_tokens(db: Database, admin: AdminUser) -> None:
    with db.transaction() as session:
        issued = create_api_token(session, "alice", "ci", actor="alice")
    with db.transaction() as session:
        row = find_admin(session, "alice")
        assert row is not None
        session.delete(row)
    with db.transaction() as session:
        assert verify_api_token(session, issued.token) is None
        assert session.exec(select(ApiToken)).all() == []
