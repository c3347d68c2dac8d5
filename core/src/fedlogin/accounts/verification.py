"""P15: proving an email address before an account is created for it.

When the email trust mode does not trust the address a provider sent and no account
matches, the sign-in stops at a waiting page and the address gets a code and a link. No
account exists meanwhile (the product document's "User Not Created": the email is not
verified yet). The :class:`~fedlogin.store.tables.EmailVerification` row holds what is
needed to finish: the identity key (provider, issuer, subject), the mapped profile, the
``next`` URL and the brand. Once the address is proven — the code typed on the waiting
page, or the email's link opened — *in the browser that started the sign-in*, the account
is created with the address verified, the identity linked, and the row deleted.

Limits: a code is :data:`CODE_DIGITS` digits, lives :data:`LIFETIME`, and allows
:data:`MAX_ATTEMPTS` wrong guesses in all (resending does not reset them, so resending
cannot buy guesses); a resend waits :data:`RESEND_INTERVAL`, at most :data:`MAX_SENDS` per
verification; an address gets at most :data:`MAILS_PER_ADDRESS` verification emails per
:data:`MAIL_WINDOW`, whoever asks (nobody can flood a mailbox through a provider that lets
them type any address). Code and link token are stored as SHA-256 only.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import attrs
from sqlalchemy import delete
from sqlmodel import Session, col, select

from fedlogin.accounts.email_trust import EmailTrust
from fedlogin.accounts.identities import IdentityKey, find_identity, record_use
from fedlogin.accounts.mapping import MappedProfile
from fedlogin.accounts.provisioning import (
    MATCH_ONLY,
    Provisioned,
    ProvisioningRefused,
    check_enabled,
    create_account,
)
from fedlogin.accounts.users import users_with_email
from fedlogin.errors import FedloginError
from fedlogin.mail import outbox, texts
from fedlogin.mail.message import VERIFICATION, mask_address
from fedlogin.store.admins import token_digest
from fedlogin.store.tables import EmailVerification, IdentityProvider, User

CODE_DIGITS = 6
LIFETIME = timedelta(minutes=30)
MAX_ATTEMPTS = 5
RESEND_INTERVAL = timedelta(seconds=60)
MAX_SENDS = 5
MAILS_PER_ADDRESS = 10
MAIL_WINDOW = timedelta(hours=1)
#: The trust reason an address proven here carries (fedlogin.accounts.email_trust).
PROVEN_BY_CODE = "verified_by_email"
LINK_PATH = "/verify-email/link/"


class VerificationRefused(FedloginError):
    """The verification cannot go on; ``code`` says why."""

    code = "verification_refused"
    status = 400

    def __init__(self, message: str, *, code: str, hint: str, status: int = 400) -> None:
        super().__init__(message, code=code, hint=hint)
        self.status = status


@attrs.frozen
class PendingSignIn:
    """What a sign-in waiting for its address needs to finish."""

    email: str
    key: IdentityKey
    profile: MappedProfile
    provider_name: str
    next_url: str | None
    brand_id: int | None


@attrs.frozen
class CodeCheck:
    """The result of a typed code: ``ok``, or wrong with the attempts left (0: used up)."""

    ok: bool
    attempts_left: int


def start(
    session: Session, pending: PendingSignIn, *, browser: str, origin: str, now: datetime
) -> EmailVerification:
    """Store the pending sign-in for ``browser`` and queue the email (in this transaction).

    ``origin`` is where the sign-in runs (the platform's URL or the brand's host): the link
    must lead to the host whose cookies the browser holds.
    """
    _check_mail_budget(session, pending.email, now)
    sweep_expired(session, now)
    # A second attempt from the same browser replaces the first: one waiting page at a time.
    session.execute(
        delete(EmailVerification).where(
            col(EmailVerification.browser_hash) == token_digest(browser),
            col(EmailVerification.provider_id) == pending.key.provider_id,
            col(EmailVerification.subject) == pending.key.subject,
        ),
        execution_options={"synchronize_session": False},
    )
    row = EmailVerification(
        handle=secrets.token_urlsafe(16),
        token_hash="",
        code_hash="",
        browser_hash=token_digest(browser),
        email=pending.email,
        provider_id=pending.key.provider_id,
        issuer=pending.key.issuer,
        subject=pending.key.subject,
        profile=dict(pending.profile.values),
        next_url=pending.next_url,
        brand_id=pending.brand_id,
        created_at=now,
        expires_at=now + LIFETIME,
    )
    _send_code(session, row, pending.provider_name, origin, now)
    return row


def resend(
    session: Session, row: EmailVerification, *, provider_name: str, origin: str, now: datetime
) -> None:
    """A new code and link (the old ones stop working), within the resend limits."""
    if row.sends >= MAX_SENDS:
        raise VerificationRefused(
            f"The code was already sent {MAX_SENDS} times for this sign-in.",
            code="resend_limit",
            hint="Start the sign-in again from the login page.",
            status=429,
        )
    wait = row.last_sent_at + RESEND_INTERVAL - now
    if wait > timedelta(0):
        raise VerificationRefused(
            f"A code was sent moments ago. You can ask for another one in "
            f"{int(wait.total_seconds()) + 1} seconds.",
            code="resend_too_soon",
            hint="Check your spam folder while you wait.",
            status=429,
        )
    _check_mail_budget(session, row.email, now)
    _send_code(session, row, provider_name, origin, now)


def _send_code(
    session: Session, row: EmailVerification, provider_name: str, origin: str, now: datetime
) -> None:
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    token = secrets.token_urlsafe(32)
    row.code_hash = _code_digest(row.handle, code)
    row.token_hash = token_digest(token)
    row.sends += 1
    row.last_sent_at = now
    message = texts.verification(
        to=row.email,
        code=code,
        link=f"{origin.rstrip('/')}{LINK_PATH}{token}",
        provider_name=provider_name,
        site=urlsplit(origin).netloc or origin,
        minutes=int(LIFETIME.total_seconds() // 60),
    )
    row.message_id = outbox.enqueue(session, message, now=now).id
    session.add(row)
    session.flush()


def _check_mail_budget(session: Session, email: str, now: datetime) -> None:
    sent = outbox.sent_recently(session, to=email, kind=VERIFICATION, since=now - MAIL_WINDOW)
    if sent >= MAILS_PER_ADDRESS:
        raise VerificationRefused(
            f"Too many verification emails went to {mask_address(email)} in the last hour, "
            "so no other one was sent.",
            code="verification_mail_limit",
            hint="Use the code of an email you already received, or try again in an hour.",
            status=429,
        )


def _code_digest(handle: str, code: str) -> str:
    return token_digest(f"{handle}:{code}")


# -- finding and checking -----------------------------------------------------------------------


def find(session: Session, handle: str, browser: str | None, now: datetime) -> EmailVerification:
    """The verification of the waiting page ``handle``, if this browser started it."""
    row = session.exec(
        select(EmailVerification).where(col(EmailVerification.handle) == handle)
    ).first()
    return _usable(session, row, browser, now)


def find_by_token(
    session: Session, token: str, browser: str | None, now: datetime
) -> EmailVerification:
    """The verification of the email's link, if it is opened in the browser that started it.

    Opened elsewhere (another browser, a mail scanner following links), it is refused and
    left untouched: the person can still type the code in the right browser.
    """
    row = session.exec(
        select(EmailVerification).where(col(EmailVerification.token_hash) == token_digest(token))
    ).first()
    if row is None:
        raise VerificationRefused(
            "This verification link is not valid any more: it was used already, a newer "
            "email replaced it, or the sign-in expired.",
            code="verification_link_unknown",
            hint="Use the newest email, or start the sign-in again from the login page.",
            status=404,
        )
    return _usable(session, row, browser, now)


def _usable(
    session: Session, row: EmailVerification | None, browser: str | None, now: datetime
) -> EmailVerification:
    if row is None:
        raise VerificationRefused(
            "There is no email verification in progress here: it was finished, replaced by "
            "a newer sign-in, or it expired.",
            code="verification_unknown",
            hint="Start the sign-in again from the login page.",
            status=404,
        )
    if not browser or not hmac.compare_digest(row.browser_hash, token_digest(browser)):
        raise VerificationRefused(
            "This email verification belongs to a sign-in started in another browser, so it "
            "cannot be finished in this one.",
            code="verification_other_browser",
            hint="Open the link, or type the code, in the browser where you started signing "
            "in (it shows the page asking for the code).",
            status=403,
        )
    if row.expires_at <= now:  # swept later: a refusal's transaction writes nothing
        raise VerificationRefused(
            "This email verification expired before the address was proven.",
            code="verification_expired",
            hint="Start the sign-in again from the login page.",
            status=410,
        )
    return row


def check_code(session: Session, row: EmailVerification, code: str) -> CodeCheck:
    """Compare a typed code; a wrong one counts, and the last allowed one ends the verification.

    The caller commits either way: the attempt is counted even when the code is wrong. What
    is not a code at all (letters, too short) is refused without counting: a typo, not a guess.
    """
    typed = code.replace(" ", "").replace("-", "")
    if len(typed) != CODE_DIGITS or not typed.isascii() or not typed.isdigit():
        raise VerificationRefused(
            f"The code is the {CODE_DIGITS} digits in the email.",
            code="code_malformed",
            hint="Copy the code from the newest email you received.",
        )
    if hmac.compare_digest(row.code_hash, _code_digest(row.handle, typed)):
        return CodeCheck(True, MAX_ATTEMPTS - row.attempts)
    row.attempts += 1
    left = max(MAX_ATTEMPTS - row.attempts, 0)
    if left == 0:
        session.delete(row)
    else:
        session.add(row)
    return CodeCheck(False, left)


def masked_email(row: EmailVerification) -> str:
    return mask_address(row.email)


# -- finishing ------------------------------------------------------------------------------------


def finish(session: Session, row: EmailVerification, now: datetime) -> Provisioned:
    """The address is proven: create the account (or find the identity's) and drop the row.

    Checked again now, since time passed: the provider must still be enabled and still
    auto-provision, and an account that took this address meanwhile is not joined (it is
    matched by email only through the sign-in's own rules: sign in to it and link).
    """
    provider = session.get(IdentityProvider, row.provider_id)
    assert provider is not None  # the foreign key cascades
    if not provider.enabled:
        raise ProvisioningRefused(
            f"Signing in with {provider.name} was switched off meanwhile.",
            code="provider_disabled",
            hint="Choose another way to sign in on the login page.",
        )
    key = IdentityKey(row.provider_id, row.issuer, row.subject)
    identity = find_identity(session, key)
    if identity is not None:
        # Linked meanwhile (the same person finished in another tab): its user, as any
        # later sign-in through this identity would. Its row is locked and read afresh, as
        # password sign-in does (SELECT ... FOR UPDATE; SQLite's BEGIN IMMEDIATE already
        # serialises writers), so ``disabled`` is checked as it is now: an admin disabling
        # the user meanwhile either waits for this transaction (and then ends the session
        # it makes, fedlogin.accounts.admin_users) or has committed, and this one refuses.
        user = session.get(User, identity.user_id, with_for_update=True, populate_existing=True)
        assert user is not None  # the identity's foreign key cascades
        check_enabled(user)
        record_use(session, identity, email=row.email, now=now)
        session.delete(row)
        return Provisioned(user, identity)
    if provider.provisioning_mode == MATCH_ONLY:
        raise ProvisioningRefused(
            f"{provider.name} now only signs in people who already have an account "
            "(Match Only), so no account was created.",
            code="match_only_no_account",
            hint="Ask an administrator to create your account first.",
        )
    if users_with_email(session, row.email):
        raise ProvisioningRefused(
            f"An account with the address {row.email} was created while you were verifying "
            "it, so no second one was made.",
            code="account_exists",
            hint=f"Sign in to that account, then connect {provider.name} from Account → Security.",
        )
    trust = EmailTrust(row.email, True, PROVEN_BY_CODE)
    profile = MappedProfile(dict(row.profile))
    session.delete(row)
    return create_account(session, key=key, trust=trust, profile=profile, now=now)


def sweep_expired(session: Session, now: datetime) -> int:
    result = session.execute(
        delete(EmailVerification).where(col(EmailVerification.expires_at) <= now),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
