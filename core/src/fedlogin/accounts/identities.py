"""Federated identities: a user's account at a provider, keyed by (provider, issuer, subject).

SECURITY.md: the key is never the email or ``preferred_username``, which a provider may let
users change; later sign-ins find the user by this key alone. The subject is what the
provider's plugin made stable (Azure AD: ``{tid}:{oid}``). The database enforces uniqueness.
"""

from __future__ import annotations

from datetime import datetime

import attrs
from sqlmodel import Session, col, select

from fedlogin.store.tables import FederatedIdentity, IdentityProvider


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


def link_identity(
    session: Session, user_id: int, key: IdentityKey, *, email: str | None, now: datetime
) -> FederatedIdentity:
    """Record that ``key`` signs in ``user_id`` (flushed: a duplicate raises here)."""
    identity = FederatedIdentity(
        user_id=user_id,
        provider_id=key.provider_id,
        issuer=key.issuer,
        subject=key.subject,
        email=email,
        linked_at=now,
        last_used_at=now,
    )
    session.add(identity)
    session.flush()
    return identity


def record_use(
    session: Session, identity: FederatedIdentity, *, email: str | None, now: datetime
) -> None:
    """A sign-in through ``identity``: when, and the email the provider gave this time (U3)."""
    identity.last_used_at = now
    if email is not None:
        identity.email = email
    session.add(identity)


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
