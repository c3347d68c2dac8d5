"""U2 and U4: a signed-in user links a provider's account to theirs, or unlinks one.

Linking goes by the signed-in user alone, never by email: the link flow was started by
that user from Account → Security and is bound to them (fedlogin.signin.flow), so the
email the provider sent plays no part in it and the user's own address is not changed.

* An identity already linked to *another* user is refused (SECURITY.md: a link never moves
  an identity between accounts); linked to the same user, linking again changes nothing.
* One identity per provider and user: a second account at the same provider is refused,
  so that Connected Accounts shows one line per provider (U3) and "disconnect" is clear.
* Unlinking is refused when the identity is the user's only way to sign in and no
  password is set (U4). Every linked identity counts as a way to sign in, even one whose
  provider is switched off for now: an admin may switch it on again.
* Each link and unlink is told to the user by email (outbox, same transaction), at their
  account's address when it is verified: an unverified address may be someone else's.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from fedlogin.accounts.identities import IdentityKey, find_identity, link_identity, record_use
from fedlogin.accounts.provisioning import Provisioned, ProvisioningRefused, check_enabled
from fedlogin.accounts.users import get_user
from fedlogin.mail import outbox, texts
from fedlogin.mail.message import MailMessage
from fedlogin.store.tables import FederatedIdentity, IdentityProvider, User


class LinkRefused(ProvisioningRefused):
    """The identity cannot be linked to this user; ``code`` says why."""

    code = "link_refused"
    status = 409


class UnlinkRefused(ProvisioningRefused):
    code = "unlink_refused"
    status = 409


class IdentityNotFound(UnlinkRefused):
    code = "identity_not_found"
    status = 404


def link(
    session: Session,
    *,
    user_id: int,
    key: IdentityKey,
    email: str | None,
    provider_name: str,
    site: str,
    now: datetime,
) -> Provisioned:
    """Link ``key`` to ``user_id`` (the user who started the link flow)."""
    user = get_user(session, user_id)
    if user is None:
        raise LinkRefused(
            "The account that started this connection no longer exists.",
            code="link_user_missing",
            hint="Sign in and start again from Account → Security.",
        )
    check_enabled(user)
    identity = find_identity(session, key)
    if identity is not None:
        if identity.user_id != user_id:
            raise LinkRefused(
                f"This {provider_name} account is already connected to another account here, "
                "so it was not connected to yours.",
                code="identity_linked_elsewhere",
                hint=f"Sign in with {provider_name} to use that other account, and disconnect "
                "it there first if it should be connected to this one.",
            )
        record_use(session, identity, email=email, now=now)
        return Provisioned(user, identity, linked_by_user=True)
    if _has_provider(session, user_id, key.provider_id):
        raise LinkRefused(
            f"Another {provider_name} account is already connected to yours.",
            code="provider_already_linked",
            hint=f"Disconnect it under Account → Security first, then connect this "
            f"{provider_name} account.",
        )
    identity = link_identity(session, user_id, key, email=email, now=now)
    _notify(
        session,
        user,
        texts.identity_linked(
            to=user.email or "",
            username=user.username,
            provider_name=provider_name,
            provider_email=email,
            site=site,
            at=now,
        ),
        now,
    )
    return Provisioned(user, identity, linked_by_user=True)


def unlink(
    session: Session, *, user_id: int, identity_id: int, site: str, now: datetime
) -> tuple[FederatedIdentity, IdentityProvider]:
    """Remove one of ``user_id``'s identities, unless it is their last way to sign in."""
    found = session.exec(
        select(FederatedIdentity, IdentityProvider)
        .join(IdentityProvider, col(IdentityProvider.id) == col(FederatedIdentity.provider_id))
        .where(col(FederatedIdentity.id) == identity_id, col(FederatedIdentity.user_id) == user_id)
    ).first()
    user = get_user(session, user_id)
    if found is None or user is None:
        raise IdentityNotFound(
            "That connected account is not linked to your account (any more).",
            hint="Reload Account → Security to see your connected accounts.",
        )
    identity, provider = found
    if user.password_hash is None and count_identities(session, user_id) <= 1:
        raise UnlinkRefused(
            f"{provider.name} is the only way you can sign in, and your account has no "
            "password, so it was not disconnected.",
            code="last_sign_in_method",
            hint="Set a password or connect another provider first, then disconnect "
            f"{provider.name}.",
        )
    session.delete(identity)
    session.flush()
    _notify(
        session,
        user,
        texts.identity_unlinked(
            to=user.email or "",
            username=user.username,
            provider_name=provider.name,
            provider_email=identity.email,
            site=site,
            at=now,
        ),
        now,
    )
    return identity, provider


def count_identities(session: Session, user_id: int) -> int:
    query = select(func.count()).where(col(FederatedIdentity.user_id) == user_id)
    return int(session.exec(query).one())


def _has_provider(session: Session, user_id: int, provider_id: int) -> bool:
    query = select(FederatedIdentity.id).where(
        col(FederatedIdentity.user_id) == user_id,
        col(FederatedIdentity.provider_id) == provider_id,
    )
    return session.exec(query).first() is not None


def _notify(session: Session, user: User, message: MailMessage, now: datetime) -> None:
    if user.email and user.email_verified:
        outbox.enqueue(session, message, now=now, user_id=user.id)
