"""Local passwords: the rules for a new one, argon2 hashing, and finding who signs in.

A user may have no password at all (signed up through a provider); ``password_hash`` is then
``None``. Verification always runs argon2, against a dummy hash when there is nothing to
check against, so that an unknown name, an account without a password and a wrong password
take the same time (no user enumeration by timing).

Hashing costs tens of milliseconds on purpose: callers run it outside database transactions
(a SQLite write lock held meanwhile would stall every other writer).
"""

from __future__ import annotations

import functools
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func
from sqlmodel import Session, col, select

from fedlogin.store.fields import FieldErrors
from fedlogin.store.tables import User

MIN_PASSWORD_LENGTH = 10
#: argon2 takes any length, but a megabyte "password" is a denial of service, not a secret.
MAX_PASSWORD_LENGTH = 1024
#: Longer than any username or email: a longer login name cannot belong to anyone.
MAX_LOGIN_NAME = 320

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches ``stored_hash``; argon2 runs even when there is none."""
    if len(password) > MAX_PASSWORD_LENGTH:
        stored_hash, password = None, ""  # same work, never a match
    try:
        _hasher.verify(stored_hash or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return stored_hash is not None


def needs_rehash(stored_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's (rehash on sign-in)."""
    return _hasher.check_needs_rehash(stored_hash)


def check_new_password(
    password: object, errors: FieldErrors, *, user: User, field: str = "password"
) -> str | None:
    """``password`` if it may become ``user``'s password, else ``None`` with a field error."""
    if not isinstance(password, str):
        errors.add(field, "invalid_type", "The password must be text.")
        return None
    if len(password) < MIN_PASSWORD_LENGTH:
        errors.add(
            field,
            "password_too_short",
            f"The password must be at least {MIN_PASSWORD_LENGTH} characters long.",
        )
        return None
    if len(password) > MAX_PASSWORD_LENGTH:
        errors.add(
            field,
            "password_too_long",
            f"The password must be at most {MAX_PASSWORD_LENGTH} characters long.",
        )
        return None
    folded = password.strip().casefold()
    if folded in {name.casefold() for name in (user.username, user.email) if name}:
        errors.add(
            field,
            "password_is_login_name",
            "The password must not be your username or email address.",
        )
        return None
    return password


def normalize_login_name(value: object) -> str | None:
    """What a person typed as username or email, as it is looked up (trimmed, lower-cased)."""
    if not isinstance(value, str):
        return None
    name = value.strip().lower()
    if not name or len(name) > MAX_LOGIN_NAME or not name.isprintable():
        return None
    return name


def find_user_for_login(session: Session, login_name: str) -> User | None:
    """The user a normalised login name designates, or ``None``.

    Usernames never contain ``@``, so a name with one is an email address. Several users
    may share an address (an admin-created account and a provider's); the address then
    signs in only the one of them that has a password, and nobody when several have one —
    the username still works for each.
    """
    if "@" not in login_name:
        return session.exec(select(User).where(col(User.username) == login_name)).first()
    query = (
        select(User)
        .where(func.lower(col(User.email)) == login_name)
        .where(col(User.password_hash).is_not(None))
        .limit(2)
    )
    found = list(session.exec(query).all())
    return found[0] if len(found) == 1 else None
