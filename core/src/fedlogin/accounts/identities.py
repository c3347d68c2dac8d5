"""Federated identities: a user's account at a provider, keyed by (provider, issuer, subject).

SECURITY.md: the key is never the email or ``preferred_username``, which a provider may let
users change; later sign-ins find the user by this key alone. The subject is what the
provider's plugin made stable (Azure AD: ``{tid}:{oid}``). The database enforces uniqueness.
"""

from __future__ import annotations

from datetime import datetime

import attrs
from sqlalchemy import bindparam, update
from sqlalchemy import select as core_select
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from fedlogin.store.database import connection_of
from fedlogin.store.prepared import PreparedStatement, insert_row, loaded
from fedlogin.store.tables import FederatedIdentity, IdentityProvider, User, table_of

_IDENTITIES = table_of(FederatedIdentity)
_USED = update(_IDENTITIES).where(_IDENTITIES.c.id == bindparam("identity_id"))
#: Without and with the email the provider gave.
_RECORD_USE = (
    PreparedStatement(_USED.values(last_used_at=bindparam("last_used_at"))),
    PreparedStatement(
        _USED.values(last_used_at=bindparam("last_used_at"), email=bindparam("email"))
    ),
)


@attrs.frozen
class IdentityKey:
    provider_id: int
    issuer: str
    subject: str


def find_identity(session: Session, key: IdentityKey) -> FederatedIdentity | None:
    query = select(FederatedIdentity).where(
        col(FederatedIdentity.provider_id) == key.provider_id,
        col(FederatedIdentity.issuer) == key.issuer,
        col(FederatedIdentity.subject) == key.subject,
    )
    return session.exec(query).first()


def find_identity_and_user(
    session: Session, key: IdentityKey
) -> tuple[FederatedIdentity, User] | None:
    """:func:`find_identity` and its user, in one statement (every returning sign-in).

    A prepared statement (fedlogin.store.prepared) and the two objects made from its row
    as the ORM would have loaded them, detached: the ORM's select and loading cost twice as
    much. Nothing here changes them through the session (:func:`record_use` and the user
    lock write with statements of their own).
    """
    params = {"provider_id": key.provider_id, "issuer": key.issuer, "subject": key.subject}
    rows = _IDENTITY_AND_USER.rows(connection_of(session), params)
    if not rows:
        return None
    row = rows[0]
    split = len(_IDENTITY_COLUMNS)
    identity = loaded(FederatedIdentity, dict(zip(_IDENTITY_COLUMNS, row[:split], strict=True)))
    user = loaded(User, dict(zip(_USER_COLUMNS, row[split:], strict=True)))
    return identity, user


_USERS = table_of(User)
_IDENTITY_COLUMNS = tuple(column.key for column in _IDENTITIES.c)
_USER_COLUMNS = tuple(column.key for column in _USERS.c)
_IDENTITY_AND_USER = PreparedStatement(
    core_select(*_IDENTITIES.c, *_USERS.c)
    .join_from(_IDENTITIES, _USERS, _USERS.c.id == _IDENTITIES.c.user_id)
    .where(
        _IDENTITIES.c.provider_id == bindparam("provider_id"),
        _IDENTITIES.c.issuer == bindparam("issuer"),
        _IDENTITIES.c.subject == bindparam("subject"),
    )
)


def link_identity(
    session: Session, user_id: int, key: IdentityKey, *, email: str | None, now: datetime
) -> FederatedIdentity:
    """Record that ``key`` signs in ``user_id``; the link, detached. A key linked already
    raises ``IntegrityError`` here (the database's unique constraint).

    A prepared ``INSERT`` (every first sign-in makes one; the ORM's add and flush cost
    several times more).
    """
    values: dict[str, object] = {
        "user_id": user_id,
        "provider_id": key.provider_id,
        "issuer": key.issuer,
        "subject": key.subject,
        "email": email,
        "linked_at": now,
        "last_used_at": now,
    }
    ((identity_id,),) = _LINK.rows(connection_of(session), values)
    return loaded(FederatedIdentity, {"id": identity_id, **values})


_LINK = PreparedStatement(insert_row(_IDENTITIES).returning(_IDENTITIES.c.id))


def record_use(
    session: Session, identity: FederatedIdentity, *, email: str | None, now: datetime
) -> None:
    """A sign-in through ``identity``: when, and the email the provider gave this time (U3).

    One prepared ``UPDATE`` (every returning sign-in makes it; the ORM's flush of the
    changed object cost four times more); ``identity`` gets the new values as its stored
    ones.
    """
    values: dict[str, object] = {"identity_id": identity.id, "last_used_at": now}
    if email is not None:
        values["email"] = email
    _RECORD_USE[email is not None].run(connection_of(session), values)
    set_committed_value(identity, "last_used_at", now)
    if email is not None:
        set_committed_value(identity, "email", email)


def identities_of(
    session: Session, user_id: int
) -> list[tuple[FederatedIdentity, IdentityProvider]]:
    """A user's linked identities with their providers, oldest link first."""
    query = (
        select(FederatedIdentity, IdentityProvider)
        .join(IdentityProvider, col(IdentityProvider.id) == col(FederatedIdentity.provider_id))
        .where(col(FederatedIdentity.user_id) == user_id)
        .order_by(col(FederatedIdentity.linked_at), col(FederatedIdentity.id))
    )
    return [(identity, provider) for identity, provider in session.exec(query).all()]
