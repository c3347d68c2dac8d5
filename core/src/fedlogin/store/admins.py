"""Admin users (argon2 password hashes) and API tokens for the admin API.

An API token is ``fl_`` followed by 32 random bytes (url-safe base64). Only its SHA-256 is
stored — a token has 256 bits of entropy, so a fast hash is enough and lets a request find
its token by an indexed lookup; the digest is then compared in constant time. The token is
returned once, by :func:`create_api_token`, and never again.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
import secrets
from datetime import timedelta

import attrs
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from fedlogin.errors import NotFound
from fedlogin.store import audit
from fedlogin.store.fields import FieldErrors, text
from fedlogin.store.tables import AdminUser, ApiToken
from fedlogin.store.types import utcnow

TOKEN_PREFIX = "fl_"  # noqa: S105 - the visible prefix, not a token
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.@-]{0,63}$")
#: ``last_used_at`` is written at most this often per token, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified when the username is unknown, so that the answer takes as long either way."""
    return _hasher.hash(secrets.token_urlsafe(16))


class AdminNotFound(NotFound):
    code = "admin_not_found"


class TokenNotFound(NotFound):
    code = "token_not_found"


@attrs.frozen
class IssuedToken:
    """A newly created token: ``token`` is shown to the admin once and never stored."""

    row: ApiToken
    token: str = attrs.field(repr=False)


# -- admin users ---------------------------------------------------------------------------


def find_admin(session: Session, username: str) -> AdminUser | None:
    query = select(AdminUser).where(AdminUser.username == username.strip().lower())
    return session.exec(query).first()


def has_admin(session: Session) -> bool:
    return session.exec(select(AdminUser.id).limit(1)).first() is not None


def create_admin(session: Session, username: str, password: str, *, actor: str) -> AdminUser:
    """Create an admin; usernames are case-insensitive (stored lower-cased)."""
    errors = FieldErrors()
    name = text(username, "username", "Username", errors, max_length=64, required=True)
    if name is not None:
        name = name.lower()
        if not _USERNAME.match(name):
            errors.add(
                "username",
                "invalid_username",
                "Username may contain letters, digits, '_', '.', '@' and '-' (at most 64).",
            )
        elif find_admin(session, name) is not None:
            errors.add("username", "username_taken", f"An admin named {name!r} exists already.")
    _check_password(password, errors)
    errors.raise_if_any("The admin user")
    assert name is not None
    row = AdminUser(username=name, password_hash=_hasher.hash(password))
    try:
        with session.begin_nested():  # two admins created at once: the second is told why
            session.add(row)
    except IntegrityError:
        errors.add("username", "username_taken", f"An admin named {name!r} exists already.")
        errors.raise_if_any("The admin user")
    audit.record(session, actor, "admin_user.create", "admin_user", name, after={"username": name})
    return row


def verify_admin_password(session: Session, username: str, password: str) -> AdminUser | None:
    """The admin when the password is right, else ``None`` (in about the same time)."""
    row = find_admin(session, username) if len(password) <= MAX_PASSWORD_LENGTH else None
    try:
        _hasher.verify(row.password_hash if row else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    if _hasher.check_needs_rehash(row.password_hash):
        row.password_hash = _hasher.hash(password)
    row.last_login_at = utcnow()
    session.add(row)
    session.flush()
    return row


def set_admin_password(session: Session, username: str, password: str, *, actor: str) -> None:
    row = find_admin(session, username)
    if row is None:
        raise AdminNotFound(f"There is no admin {username!r}.")
    errors = FieldErrors()
    _check_password(password, errors)
    errors.raise_if_any("The password")
    row.password_hash = _hasher.hash(password)
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "admin_user.password",
        "admin_user",
        row.username,
        after={"password": "changed"},
    )


def _check_password(password: object, errors: FieldErrors) -> None:
    if not isinstance(password, str):
        errors.add("password", "invalid_type", "Password must be text.")
    elif len(password) < MIN_PASSWORD_LENGTH:
        errors.add(
            "password",
            "password_too_short",
            f"Password must be at least {MIN_PASSWORD_LENGTH} characters.",
        )
    elif len(password) > MAX_PASSWORD_LENGTH:
        errors.add(
            "password",
            "password_too_long",
            f"Password must be at most {MAX_PASSWORD_LENGTH} characters.",
        )


# -- API tokens ----------------------------------------------------------------------------


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_api_token(session: Session, username: str, name: str, *, actor: str) -> IssuedToken:
    """A new bearer token for the admin ``username``; the plaintext is in the result only."""
    admin = find_admin(session, username)
    if admin is None or admin.id is None:
        raise AdminNotFound(f"There is no admin {username!r}.")
    errors = FieldErrors()
    label = text(name, "name", "Token name", errors, max_length=100, required=True)
    errors.raise_if_any("The API token")
    assert label is not None
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        name=label,
        admin_user_id=admin.id,
        token_hash=token_digest(token),
        prefix=token[:11],
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor,
        "api_token.create",
        "api_token",
        str(row.id),
        after={"name": label, "admin": admin.username, "prefix": row.prefix},
    )
    return IssuedToken(row=row, token=token)


def verify_api_token(session: Session, token: str) -> ApiToken | None:
    """The token's row when ``token`` is valid and not revoked, else ``None``."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        return None
    digest = token_digest(token)
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == digest)).first()
    if row is None or not hmac.compare_digest(row.token_hash, digest):
        return None
    if row.revoked_at is not None:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        row.last_used_at = now
        session.add(row)
        session.flush()
    return row


def token_owner(session: Session, row: ApiToken) -> AdminUser:
    admin = session.get(AdminUser, row.admin_user_id)
    if admin is None:  # pragma: no cover - the foreign key cascades
        raise AdminNotFound("The token's admin no longer exists.")
    return admin


def list_api_tokens(session: Session) -> list[ApiToken]:
    return list(session.exec(select(ApiToken).order_by(col(ApiToken.id))).all())


def revoke_api_token(session: Session, token_id: int, *, actor: str) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise TokenNotFound(f"There is no API token {token_id}.")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        session.flush()
        audit.record(
            session,
            actor,
            "api_token.revoke",
            "api_token",
            str(row.id),
            before={"revoked": False},
            after={"revoked": True, "name": row.name},
        )
    return row
