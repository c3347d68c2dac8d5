"""Users as admins manage them (issue 5, point 7): list, show, create, change, disable.

* Views never hold the password hash: only ``has_password``.
* A username is lower-case letters, digits, ``.``, ``_`` and ``-`` (never ``@``: a sign-in
  name with ``@`` is an email address, fedlogin.accounts.passwords). An address is stored
  lower-cased, and no two users are given the same one here, so it can sign in.
* An admin may mark an address verified. That is a real grant: a verified address lets a
  provider's trusted email join that account (fedlogin.accounts.provisioning), so it is
  audited like every change here. Changing the address un-verifies it unless the same
  request says otherwise.
* Disabling ends every session of the user at once, and every sign-in method refuses a
  disabled user (password: fedlogin.accounts.password_sign_in; providers: provisioning).

The password of a new user is hashed by the caller before the transaction (argon2 is slow
on purpose); :func:`read_new_user` checks it first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs
from sqlalchemy import func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from fedlogin.accounts.passwords import check_new_password
from fedlogin.accounts.signed_in import end_sessions
from fedlogin.claims import normalize_email
from fedlogin.errors import NotFound
from fedlogin.store import audit
from fedlogin.store.fields import FieldErrors, boolean, reject_unknown, text
from fedlogin.store.tables import FederatedIdentity, IdentityProvider, User

TARGET_TYPE = "user"
USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,149}$")
CREATE_FIELDS = ("username", "email", "email_verified", "name", "password")
UPDATE_FIELDS = ("email", "email_verified", "name", "disabled")
#: What a read returns but a write does not set; a client may send them back unchanged.
READ_ONLY = (
    "id",
    "username",
    "has_password",
    "created_at",
    "identities",
    "sign_in_locked_until",
)
_AUDITED = ("username", "email", "email_verified", "name", "disabled", "has_password")


class UserNotFound(NotFound):
    code = "user_not_found"


@attrs.frozen
class NewUser:
    username: str
    email: str | None
    email_verified: bool
    name: str | None
    password: str | None = attrs.field(repr=False)


# -- views ------------------------------------------------------------------------------------


def identity_fields(identity: FederatedIdentity, provider: IdentityProvider) -> dict[str, Any]:
    return {
        "id": identity.id,
        "provider": provider.identifier,
        "provider_name": provider.name,
        "issuer": identity.issuer,
        "subject": identity.subject,
        "email": identity.email,
        "linked_at": identity.linked_at.isoformat(),
        "last_used_at": identity.last_used_at.isoformat() if identity.last_used_at else None,
    }


def user_fields(
    user: User,
    identities: Iterable[tuple[FederatedIdentity, IdentityProvider]] = (),
    locked_until: datetime | None = None,
) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "email_verified": user.email_verified,
        "name": user.name,
        "disabled": user.disabled,
        "has_password": user.password_hash is not None,
        "created_at": user.created_at.isoformat(),
        "identities": [identity_fields(identity, provider) for identity, provider in identities],
        "sign_in_locked_until": locked_until.isoformat() if locked_until else None,
    }


def _snapshot(user: User) -> dict[str, Any]:
    fields = user_fields(user)
    return {key: fields[key] for key in _AUDITED}


# -- reading ----------------------------------------------------------------------------------


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise UserNotFound(f"There is no user {user_id}.")
    return user


def identities_by_user(
    session: Session, user_ids: Iterable[int]
) -> dict[int, list[tuple[FederatedIdentity, IdentityProvider]]]:
    """The identities of several users in one query, oldest link first."""
    ids = list(user_ids)
    found: dict[int, list[tuple[FederatedIdentity, IdentityProvider]]] = {i: [] for i in ids}
    if not ids:
        return found
    query = (
        select(FederatedIdentity, IdentityProvider)
        .join(IdentityProvider, col(IdentityProvider.id) == col(FederatedIdentity.provider_id))
        .where(col(FederatedIdentity.user_id).in_(ids))
        .order_by(col(FederatedIdentity.linked_at), col(FederatedIdentity.id))
    )
    for identity, provider in session.exec(query).all():
        found[identity.user_id].append((identity, provider))
    return found


def list_users(
    session: Session,
    *,
    q: str | None = None,
    email: str | None = None,
    disabled: bool | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[User]:
    """Newest first; ``q`` is a case-insensitive part of the username, email or name."""
    query = select(User).order_by(col(User.id).desc()).limit(max(1, min(limit, 500)))
    if q:
        pattern = "%" + _escape_like(q.lower()) + "%"
        query = query.where(
            or_(
                *(
                    func.lower(column).like(pattern, escape="\\")
                    for column in (col(User.username), col(User.email), col(User.name))
                )
            )
        )
    if email is not None:
        query = query.where(func.lower(col(User.email)) == email.strip().lower())
    if disabled is not None:
        query = query.where(col(User.disabled) == disabled)
    if before_id is not None:
        query = query.where(col(User.id) < before_id)
    return list(session.exec(query).all())


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# -- writing ----------------------------------------------------------------------------------


def read_new_user(data: Mapping[str, Any]) -> NewUser:
    """A new user's fields, checked (every bad field at once) before anything is stored."""
    errors = FieldErrors()
    reject_unknown(data, CREATE_FIELDS, (), errors)
    username = _username(data.get("username"), errors)
    email = _email(data.get("email"), errors)
    verified = False
    if data.get("email_verified") is not None:
        verified = bool(boolean(data["email_verified"], "email_verified", "email_verified", errors))
        if verified and email is None and not errors.has("email"):
            errors.add("email_verified", "email_missing", "Only an email address can be verified.")
    name = text(data.get("name"), "name", "Name", errors, max_length=255) or None
    password = None
    if data.get("password") is not None and username is not None:
        probe = User(username=username, email=email)
        password = check_new_password(data["password"], errors, user=probe)
    errors.raise_if_any("The user")
    assert username is not None
    return NewUser(username, email, verified, name, password)


def create_user(session: Session, new: NewUser, *, password_hash: str | None, actor: str) -> User:
    """Store ``new`` (its password already hashed) and audit it."""
    errors = FieldErrors()
    if session.exec(select(User.id).where(col(User.username) == new.username)).first():
        errors.add("username", "username_taken", f"The username {new.username!r} is taken.")
    if new.email is not None:
        _check_email_free(session, new.email, None, errors)
    errors.raise_if_any("The user")
    user = User(
        username=new.username,
        email=new.email,
        email_verified=new.email_verified,
        name=new.name,
        password_hash=password_hash,
    )
    try:
        with session.begin_nested():  # created by someone else since we looked
            session.add(user)
    except IntegrityError:
        errors.add("username", "username_taken", f"The username {new.username!r} is taken.")
        errors.raise_if_any("The user")
    assert user.id is not None
    audit.record(session, actor, "user.create", TARGET_TYPE, user.id, after=_snapshot(user))
    return user


def update_user(session: Session, user_id: int, data: Mapping[str, Any], *, actor: str) -> User:
    """Change the fields ``data`` gives (email, email_verified, name, disabled)."""
    user = get_user(session, user_id)
    errors = FieldErrors()
    reject_unknown(data, UPDATE_FIELDS, READ_ONLY, errors)
    if "username" in data and data["username"] != user.username:
        errors.add("username", "username_read_only", "A username cannot be changed.")
    changes: dict[str, Any] = {}
    if "email" in data:
        email = _email(data["email"], errors)
        if email != user.email:
            if email is not None:
                _check_email_free(session, email, user_id, errors)
            changes["email"] = email
            changes["email_verified"] = False
    if data.get("email_verified") is not None:
        verified = boolean(data["email_verified"], "email_verified", "email_verified", errors)
        if verified and changes.get("email", user.email) is None and not errors.has("email"):
            errors.add("email_verified", "email_missing", "Only an email address can be verified.")
        changes["email_verified"] = verified
    if "name" in data:
        changes["name"] = text(data["name"], "name", "Name", errors, max_length=255) or None
    if "disabled" in data:
        changes["disabled"] = boolean(data["disabled"], "disabled", "disabled", errors)
    errors.raise_if_any("The user")
    return _apply(session, user, changes, actor=actor)


def set_disabled(session: Session, user_id: int, disabled: bool, *, actor: str) -> User:
    return _apply(session, get_user(session, user_id), {"disabled": disabled}, actor=actor)


def _apply(session: Session, user: User, changes: Mapping[str, Any], *, actor: str) -> User:
    before = _snapshot(user)
    for name, value in changes.items():
        setattr(user, name, value)
    session.add(user)
    session.flush()
    assert user.id is not None
    if user.disabled:
        # Also when it was disabled already: a session slipped in by a racing sign-in ends.
        end_sessions(session, user.id)
    old, new = audit.diff(before, _snapshot(user))
    if new:
        action = "user.update"
        if set(new) == {"disabled"}:
            action = "user.disable" if user.disabled else "user.enable"
        audit.record(session, actor, action, TARGET_TYPE, user.id, before=old, after=new)
    return user


def _username(value: Any, errors: FieldErrors) -> str | None:
    name = text(value, "username", "Username", errors, max_length=150, required=True)
    if name is None:
        return None
    name = name.lower()
    if not USERNAME_PATTERN.match(name):
        errors.add(
            "username",
            "invalid_username",
            "A username starts with a letter or digit and holds only letters, digits, "
            "'.', '_' and '-' (at most 150).",
        )
        return None
    return name


def _email(value: Any, errors: FieldErrors) -> str | None:
    raw = text(value, "email", "Email", errors, max_length=320)
    if not raw:
        return None
    email = normalize_email(raw)
    if email is None:
        errors.add("email", "invalid_email", f"{raw!r} is not an email address.")
    return email


def _check_email_free(
    session: Session, email: str, user_id: int | None, errors: FieldErrors
) -> None:
    query = select(User.id).where(func.lower(col(User.email)) == email)
    if user_id is not None:
        query = query.where(col(User.id) != user_id)
    if session.exec(query).first() is not None:
        errors.add("email", "email_taken", f"Another user has the address {email}.")
