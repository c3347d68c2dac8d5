"""P13: from an identity the provider vouched for to a platform user.

1. An identity already linked signs in its user, whatever the email says now: later
   sign-ins go by identity key, never by email.
2. Otherwise an existing user may be matched by email, only when the email trust mode
   trusts the provider's address (P15) *and* the user's own address is verified: an
   account is never signed into through an address nobody proved, nor merged into an
   account whose owner never proved theirs (SECURITY.md, pre-hijacking).
3. Otherwise Auto Provision creates the user (with a trusted address, or none), and Match
   Only refuses. An address still to be verified creates nothing: the product document's
   "User Not Created" list names the email trust mode as a reason.
   :class:`EmailVerificationRequired` says so, and the sign-in flow then sends the
   verification email (fedlogin.accounts.verification); the account is created by
   :func:`create_account` once the address is proven.

Every refusal is a :class:`ProvisioningRefused` with a stable code and a message for the
person signing in; the caller rolls the transaction back, so nothing is created.
"""

from __future__ import annotations

from datetime import datetime

import attrs
from sqlalchemy import bindparam, select
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session

from fedlogin.accounts.email_trust import EmailTrust
from fedlogin.accounts.identities import (
    IdentityKey,
    find_identity_and_user,
    link_identity,
    record_use,
)
from fedlogin.accounts.mapping import MappedProfile
from fedlogin.accounts.users import create_user, username_base, users_with_email
from fedlogin.errors import FedloginError
from fedlogin.store.database import connection_of
from fedlogin.store.prepared import PreparedStatement
from fedlogin.store.tables import FederatedIdentity, User, table_of

AUTO_PROVISION = "auto_provision"
MATCH_ONLY = "match_only"
MODES = (AUTO_PROVISION, MATCH_ONLY)
_PROFILE_COLUMNS = ("name", "picture", "website", "company", "location")
_USERS = table_of(User)
_LOCK_USER = PreparedStatement(
    select(_USERS.c.disabled).where(_USERS.c.id == bindparam("user_id")).with_for_update()
)


class ProvisioningRefused(FedloginError):
    """No user may be signed in or created; ``code`` says why (T3)."""

    code = "provisioning_refused"
    status = 403


class EmailNotTrusted(ProvisioningRefused):
    """An account has this address, but the provider's address is not trusted (P15, X2):
    the person must sign in to that account another way and link the provider there."""

    code = "email_not_trusted"


class EmailVerificationRequired(ProvisioningRefused):
    """No account matches and the address is not trusted: prove it before one is created.

    A refusal to any caller that does not handle it; the sign-in flow handles it by sending
    the verification email.
    """

    code = "email_verification_required"


@attrs.frozen
class Provisioned:
    user: User
    identity: FederatedIdentity
    #: A new user was created by this sign-in.
    created_user: bool = False
    #: The identity was linked to an existing user (matched by a trusted, verified email).
    matched_by_email: bool = False
    #: The identity was linked by its signed-in user from Account → Security (a link flow).
    linked_by_user: bool = False


def provision(
    session: Session,
    *,
    mode: str,
    provider_name: str,
    key: IdentityKey,
    trust: EmailTrust,
    profile: MappedProfile,
    now: datetime,
) -> Provisioned:
    """The user this sign-in signs in, created or linked as ``mode`` allows."""
    if mode not in MODES:
        raise ValueError(f"unknown provisioning mode {mode!r}")
    found = find_identity_and_user(session, key)
    if found is not None:
        identity, user = found
        check_enabled(user)
        record_use(session, identity, email=trust.email, now=now)
        return Provisioned(user, identity)
    matched = _match_by_email(session, trust, provider_name, mode)
    if matched is not None:
        check_enabled(matched)
        assert matched.id is not None
        identity = link_identity(session, matched.id, key, email=trust.email, now=now)
        return Provisioned(matched, identity, matched_by_email=True)
    if mode == MATCH_ONLY:
        raise ProvisioningRefused(
            f"No account here matches your {provider_name} account, and {provider_name} only "
            "signs in people who already have an account (Match Only).",
            code="match_only_no_account",
            hint="Ask an administrator to create your account first, using the email address "
            f"your {provider_name} account has.",
        )
    if trust.needs_verification:
        raise EmailVerificationRequired(
            f"{provider_name} did not confirm that your email address {trust.email} is "
            "verified, so no account was created until the address is proven.",
            hint="Use the code sent to that address. Administrators: check the provider's "
            "email trust mode.",
        )
    return create_account(session, key=key, trust=trust, profile=profile, now=now)


def create_account(
    session: Session, *, key: IdentityKey, trust: EmailTrust, profile: MappedProfile, now: datetime
) -> Provisioned:
    """A new user from the profile, with ``key`` linked; the address verified when trusted."""
    user = _create(session, profile, trust)
    assert user.id is not None
    identity = link_identity(session, user.id, key, email=trust.email, now=now)
    return Provisioned(user, identity, created_user=True)


def _match_by_email(
    session: Session, trust: EmailTrust, provider_name: str, mode: str
) -> User | None:
    if trust.email is None:
        if mode == MATCH_ONLY:
            raise ProvisioningRefused(
                f"{provider_name} did not send an email address, which is needed to find "
                "your existing account (Match Only).",
                code="email_missing",
                hint="Administrators: make sure the scopes include email and the attribute "
                "mapping reads the provider's email claim.",
            )
        return None
    candidates = users_with_email(session, trust.email)
    if not candidates:
        return None
    if not trust.trusted:
        raise EmailNotTrusted(
            f"An account with the address {trust.email} exists, but {provider_name} did not "
            "confirm the address is verified, so it cannot sign in to that account.",
            hint=f"Sign in to your account another way, then connect {provider_name} from "
            "Account → Security. Administrators: check the provider's email trust mode.",
        )
    verified = [user for user in candidates if user.email_verified]
    if len(verified) > 1:
        raise ProvisioningRefused(
            f"Several accounts use the address {trust.email}, so it cannot tell which is yours.",
            code="email_ambiguous",
            hint=f"Sign in to your account another way and connect {provider_name} from "
            "Account → Security.",
        )
    if not verified:
        raise ProvisioningRefused(
            f"An account with the address {trust.email} exists, but its address was never "
            "verified, so it cannot be joined to your " + provider_name + " account.",
            code="account_email_unverified",
            hint=f"Sign in to that account another way, verify its email address or connect "
            f"{provider_name} from Account → Security.",
        )
    return verified[0]


def _create(session: Session, profile: MappedProfile, trust: EmailTrust) -> User:
    base = username_base(profile.get("username"), trust.email, profile.get("name"))
    fields: dict[str, object] = {name: profile.get(name) for name in _PROFILE_COLUMNS}
    fields["email"] = trust.email
    fields["email_verified"] = trust.email is not None and trust.trusted
    return create_user(session, base, fields)  # one INSERT with the address, no UPDATE after


def lock_and_check_enabled(session: Session, user: User) -> None:
    """Lock ``user``'s row until the transaction ends and read ``disabled`` again.

    Password sign-in does the same before it stores a session: an admin disabling the user
    meanwhile either committed first (refused here) or waits for this transaction and then
    ends its session with the others. Only the flag is read (a prepared ``SELECT ... FOR
    UPDATE``; the ORM refresh of the whole row cost several times more).
    """
    ((disabled,),) = _LOCK_USER.rows(connection_of(session), {"user_id": user.id})
    set_committed_value(user, "disabled", disabled)
    check_enabled(user)


def check_enabled(user: User) -> None:
    if user.disabled:
        raise ProvisioningRefused(
            "Your account is disabled.",
            code="user_disabled",
            hint="Ask an administrator to enable it again.",
        )
