"""What a finished flow does, by the purpose stored with it (fedlogin.signin.flow).

* ``sign_in`` (the login page): provisioning decides the user; an address the email trust
  mode does not trust, matching no account, stops at :func:`start_verification`: no account,
  a verification email, a waiting page (:class:`VerificationStarted`).
* ``link`` (Account → Security): :func:`check_purpose` lets it finish only for the user who
  started it, still signed in in this browser, before anything is redeemed; :func:`link`
  then links the identity to that user and signs nobody else in.

The purpose is fixed when the flow starts and read from the stored flow, never from the
request: a sign-in can never become a link, nor a link a sign-in (SECURITY.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import attrs
from sqlmodel import Session

from fedlogin.accounts import linking, verification
from fedlogin.accounts.email_trust import EmailTrust
from fedlogin.accounts.identities import IdentityKey
from fedlogin.accounts.mapping import MappedProfile
from fedlogin.accounts.provisioning import Provisioned
from fedlogin.mail.message import mask_address
from fedlogin.signin import events
from fedlogin.signin.errors import SignInRefused
from fedlogin.signin.pending import ConsumedFlow
from fedlogin.store.tables import IdentityProvider

SIGN_IN = "sign_in"
LINK = "link"
PURPOSES = (SIGN_IN, LINK)
LINK_REFUSED_TITLE = "The account could not be connected"


@attrs.frozen
class VerificationStarted:
    """No account yet: the address must be proven on the waiting page ``handle`` names."""

    handle: str
    masked_email: str


def check_purpose(flow: ConsumedFlow, session_user_id: int | None) -> None:
    """A link flow finishes only for the user who started it, still signed in here."""
    if flow.purpose == SIGN_IN:
        return
    if flow.purpose != LINK or flow.link_user_id is None:
        raise SignInRefused(
            "This response belongs to a flow this site does not know how to finish.",
            code="flow_purpose_unknown",
            step="state",
            hint="Start again from the login page.",
        )
    if session_user_id != flow.link_user_id:
        raise SignInRefused(
            "This connection was started by an account that is no longer the one signed in "
            "here, so nothing was connected and nobody was signed in.",
            code="link_session_changed",
            step="state",
            title=LINK_REFUSED_TITLE,
            hint="Sign in to your account and start again from Account → Security.",
            status=403,
        )


def link(
    session: Session,
    flow: ConsumedFlow,
    *,
    provider: IdentityProvider,
    key: IdentityKey,
    trust: EmailTrust,
    now: datetime,
) -> Provisioned:
    """Link ``key`` to the user who started the link flow (checked by :func:`check_purpose`)."""
    assert flow.purpose == LINK and flow.link_user_id is not None
    try:
        return linking.link(
            session,
            user_id=flow.link_user_id,
            key=key,
            email=trust.email,
            provider_name=provider.name,
            site=urlsplit(flow.redirect_uri).netloc,
            now=now,
        )
    except linking.LinkRefused as exc:
        raise SignInRefused(
            exc.message,
            code=exc.code,
            step="provisioning",
            title=LINK_REFUSED_TITLE,
            hint=exc.hint,
            status=exc.status,
        ) from exc


def start_verification(
    session: Session,
    flow: ConsumedFlow,
    *,
    provider: IdentityProvider,
    key: IdentityKey,
    trust: EmailTrust,
    profile: MappedProfile,
    browser: str,
    claims: Mapping[str, Any],
    retention_days: int,
    now: datetime,
) -> VerificationStarted:
    """P15: no account until the address is proven; the email goes out after the commit."""
    assert trust.email is not None  # needs_verification
    pending_sign_in = verification.PendingSignIn(
        email=trust.email,
        key=key,
        profile=profile,
        provider_name=provider.name,
        next_url=flow.next_url,
        brand_id=flow.brand_id,
    )
    parts = urlsplit(flow.redirect_uri)
    try:
        row = verification.start(
            session,
            pending_sign_in,
            browser=browser,
            origin=f"{parts.scheme}://{parts.netloc}",  # the host holding this browser's cookie
            now=now,
        )
    except verification.VerificationRefused as exc:
        raise SignInRefused(
            exc.message, code=exc.code, step="provisioning", hint=exc.hint, status=exc.status
        ) from exc
    masked = mask_address(trust.email)
    events.write(
        session.connection(),
        provider_identifier=provider.identifier,
        provider_id=provider.id,
        outcome=events.PENDING,
        step="provisioning",
        code="email_verification_sent",
        message=f"No account yet: the address {masked} is not trusted ({trust.reason}), so a "
        "verification email was sent; the account is created once it is proven.",
        claims=claims,
        brand_id=flow.brand_id,
        retention_days=retention_days,
    )
    return VerificationStarted(row.handle, masked)
