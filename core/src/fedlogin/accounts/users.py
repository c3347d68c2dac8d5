"""Platform users: found by id or verified email, created with a unique username.

Usernames are lower-cased words of letters, digits, ``.``, ``_`` and ``-``, derived from
what the provider sent (the mapped username, else the email's local part, else the name)
and made unique with a numeric suffix. Uniqueness is the database's: two processes picking
the same name at once make one of them retry with the next suffix.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Mapping

from sqlalchemy import bindparam, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from fedlogin.store.tables import User

MAX_USERNAME = 150
FALLBACK_USERNAME = "user"
_NOT_ALLOWED = re.compile(r"[^a-z0-9._-]+")
_ATTEMPTS = 20


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def users_with_email(session: Session, email: str) -> list[User]:
    """Users whose address is ``email`` (compared lower-cased, as it is stored)."""
    return list(session.exec(_WITH_EMAIL, params={"email": email.lower()}).all())


def username_base(*candidates: str | None) -> str:
    """The first candidate that yields a usable username, cleaned; ``user`` otherwise."""
    for candidate in candidates:
        if not candidate:
            continue
        if "@" in candidate:
            candidate = candidate.split("@", 1)[0]
        ascii_text = (
            unicodedata.normalize("NFKD", candidate).encode("ascii", "ignore").decode("ascii")
        )
        cleaned = _NOT_ALLOWED.sub("-", ascii_text.lower()).strip(".-_")
        if cleaned:
            return cleaned[: MAX_USERNAME - 8]  # room for a suffix
    return FALLBACK_USERNAME


def create_user(session: Session, base: str, fields: Mapping[str, object]) -> User:
    """A new user named ``base`` (or ``base-2``, ``base-3``...) with the profile ``fields``."""
    taken = _names_like(session, base)
    suffix = 1
    for attempt in range(_ATTEMPTS):
        name = base if suffix == 1 else f"{base}-{suffix}"
        if attempt >= _ATTEMPTS // 2:
            name = f"{base}-{secrets.token_hex(3)}"  # a crowd is racing for the same base
        suffix += 1
        if name in taken:
            continue
        user = User(username=name)
        for column, value in fields.items():
            setattr(user, column, value)
        try:
            with session.begin_nested():
                session.add(user)
        except IntegrityError:
            taken.add(name)  # created by another process since we looked
            continue
        return user
    raise RuntimeError(f"no free username for {base!r} after {_ATTEMPTS} attempts")


def _names_like(session: Session, base: str) -> set[str]:
    escaped = base.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return set(session.exec(_NAMES_LIKE, params={"pattern": f"{escaped}%"}).all())


# Built once: every first sign-in runs them, and building a statement (and its cache key)
# each time cost as much as running it.
_WITH_EMAIL = (
    select(User).where(func.lower(col(User.email)) == bindparam("email")).order_by(col(User.id))
)
_NAMES_LIKE = select(User.username).where(
    col(User.username).like(bindparam("pattern"), escape="\\")
)
