"""Platform users: found by id or verified email, created with a unique username.

Usernames are lower-cased words of letters, digits, ``.``, ``_`` and ``-``, derived from
what the provider sent (the mapped username, else the email's local part, else the name)
and made unique with a numeric suffix. Uniqueness is the database's: two processes picking
the same name at once make one of them retry with the next suffix.

Creating a user and finding users by email are every first sign-in's work, so they run as
prepared statements (fedlogin.store.prepared) and hand back detached ``User`` objects, as
the returning sign-in's lookups do: change a user through a session with an object the
session loaded itself (:func:`get_user`).
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Mapping

from sqlalchemy import bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from fedlogin.store.database import connection_of
from fedlogin.store.prepared import PreparedStatement, loaded, row_parameters
from fedlogin.store.tables import User, table_of
from fedlogin.store.types import utcnow

MAX_USERNAME = 150
FALLBACK_USERNAME = "user"
_NOT_ALLOWED = re.compile(r"[^a-z0-9._-]+")
_ATTEMPTS = 20


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def users_with_email(session: Session, email: str) -> list[User]:
    """Users whose address is ``email`` (compared lower-cased, as it is stored), detached."""
    rows = _WITH_EMAIL.rows(connection_of(session), {"email": email.lower()})
    return [loaded(User, dict(zip(_WITH_EMAIL.keys, row, strict=True))) for row in rows]


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
    """A new user named ``base`` (or ``base-2``, ``base-3``...) with the profile ``fields``
    (columns of ``User``; the others take their defaults), detached.

    Each name is simply tried: an ``INSERT ... ON CONFLICT (username) DO NOTHING`` returns
    no row for a name taken (by anyone, committed or racing us), without an error that
    would end a PostgreSQL transaction. Reading the taken names first needed a ``LIKE``
    that no index serves, a read of every user per first sign-in.
    """
    unknown = set(fields) - set(_NEW_USER)
    if unknown:
        raise ValueError(f"not columns of a new user: {sorted(unknown)}")
    connection = connection_of(session)
    values = {**_NEW_USER, **fields, "created_at": utcnow()}
    for attempt in range(_ATTEMPTS):
        if attempt == 0:
            values["username"] = base
        elif attempt < _ATTEMPTS // 2:
            values["username"] = f"{base}-{attempt + 1}"
        else:
            values["username"] = f"{base}-{secrets.token_hex(3)}"  # a crowd shares the base
        rows = _INSERT_USER.rows(connection, values)
        if rows:
            ((user_id,),) = rows
            return loaded(User, {"id": user_id, **values})
    raise RuntimeError(f"no free username for {base!r} after {_ATTEMPTS} attempts")


_USERS = table_of(User)


def _plain_defaults() -> dict[str, object]:
    """A new user's columns with their defaults (all but ``id``, ``username`` and
    ``created_at``, which :func:`create_user` fills in). A column added later without a plain
    default (a factory, or none) stops the import here rather than inserting nonsense."""
    defaults: dict[str, object] = {}
    for column in _USERS.c:
        if column.key in ("id", "username", "created_at"):
            continue
        field = User.model_fields[column.key]
        if field.default_factory is not None or field.is_required():
            raise TypeError(
                f"user_account.{column.key} has no plain default: set it in create_user"
            )
        defaults[column.key] = field.default
    return defaults


_NEW_USER = _plain_defaults()
_WITH_EMAIL = PreparedStatement(
    select(*_USERS.c).where(func.lower(_USERS.c.email) == bindparam("email")).order_by(_USERS.c.id)
)
#: Both dialects say ``ON CONFLICT (username) DO NOTHING`` alike, each through its own
#: ``insert`` construct.
_INSERT_USER = PreparedStatement(
    postgresql.insert(_USERS)
    .values(row_parameters(_USERS))
    .on_conflict_do_nothing(index_elements=["username"])
    .returning(_USERS.c.id),
    variants={
        "sqlite": sqlite.insert(_USERS)
        .values(row_parameters(_USERS))
        .on_conflict_do_nothing(index_elements=["username"])
        .returning(_USERS.c.id)
    },
)
