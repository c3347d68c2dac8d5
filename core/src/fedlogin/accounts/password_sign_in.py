"""Signing in with a username or email address and a password (issue 5, point 1).

    count the attempt (per name typed and per client address; refused when over a limit,
    before any password is checked) ▶ find the user ▶ argon2 verify, outside any
    transaction ▶ the user is still the one checked and is not disabled ▶ the caller's
    session, in the transaction that gives the attempt back

Every refusal is a :class:`PasswordSignInRefused`. An unknown name, an account without a
password and a wrong password get the same refusal after the same work (a dummy hash is
verified), so nobody learns who has an account. Only the right password of a disabled
account is told that the account is disabled.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import attrs
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from fedlogin.accounts import passwords, throttle
from fedlogin.errors import FedloginError
from fedlogin.signin.events import Every
from fedlogin.store.tables import User
from fedlogin.store.types import utcnow

T = TypeVar("T")
_sweeps = Every(60.0)


class Transactions(Protocol):
    """What sign-in needs from the process (:class:`fedlogin.web.context.AppContext`)."""

    def transaction(self, work: Callable[[Session], T]) -> Awaitable[T]: ...


class PasswordSignInRefused(FedloginError):
    """No session; ``code`` says why, ``retry_after`` (seconds) when a limit was reached."""

    code = "invalid_credentials"
    status = 401

    def __init__(self, message: str, *, retry_after: int | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        if retry_after is not None:
            self.status = 429
        elif self.code == "user_disabled":
            self.status = 403
        elif self.code == "credentials_missing":
            self.status = 400

    def details(self) -> dict[str, Any]:
        return {} if self.retry_after is None else {"retry_after": self.retry_after}


@attrs.frozen
class SignedIn:
    user_id: int
    username: str
    #: What the caller's ``on_success`` returned (the new session's cookie value).
    value: Any


def invalid_credentials() -> PasswordSignInRefused:
    return PasswordSignInRefused(
        "The username or email address and password do not match an account here.",
        hint="Check both and try again. If you usually sign in with an identity provider, "
        "use its button instead.",
    )


def limited(blocked: throttle.Blocked) -> PasswordSignInRefused:
    where = "for this username or email address"
    if blocked.scope == throttle.ADDRESS:
        where = "from your network address"
    unit = "minute" if blocked.minutes == 1 else "minutes"
    return PasswordSignInRefused(
        f"Too many failed sign-in attempts {where}. Wait {blocked.minutes} {unit} and try again.",
        code="too_many_attempts",
        retry_after=blocked.seconds,
        hint="If you forgot your password, sign in with a connected identity provider or ask "
        "an administrator.",
    )


def disabled() -> PasswordSignInRefused:
    return PasswordSignInRefused(
        "Your account is disabled.",
        code="user_disabled",
        hint="Ask an administrator to enable it again.",
    )


@attrs.frozen
class _Candidate:
    user_id: int | None
    password_hash: str | None


async def sign_in(
    ctx: Transactions,
    *,
    login_name: object,
    password: object,
    address: str | None,
    on_success: Callable[[Session, User], T],
) -> SignedIn:
    """Check the password of the account ``login_name`` designates and run ``on_success``."""
    name = passwords.normalize_login_name(login_name)
    if name is None or not isinstance(password, str) or not password:
        raise PasswordSignInRefused(
            "Enter your username or email address and your password.",
            code="credentials_missing",
        )
    buckets = [throttle.account_bucket(name), throttle.address_bucket(address)]
    now = utcnow()

    def begin(session: Session) -> throttle.Blocked | _Candidate:
        if _sweeps.due():
            throttle.sweep(session, now)
        blocked = throttle.attempt(session, buckets, now)
        if blocked is not None:
            return blocked
        user = passwords.find_user_for_login(session, name)
        if user is None:
            return _Candidate(None, None)
        return _Candidate(user.id, user.password_hash)

    found = await ctx.transaction(begin)
    if isinstance(found, throttle.Blocked):
        raise limited(found)
    matches = await run_in_threadpool(passwords.verify_password, found.password_hash, password)
    if not matches or found.user_id is None or found.password_hash is None:
        raise invalid_credentials()
    checked_hash = found.password_hash
    fresh_hash = None
    if passwords.needs_rehash(checked_hash):
        fresh_hash = await run_in_threadpool(passwords.hash_password, password)
    user_id = found.user_id

    def finish(session: Session) -> SignedIn:
        # Locked until the session is stored: an admin disabling the user meanwhile waits,
        # then ends this session too (fedlogin.accounts.admin_users).
        user = session.get(User, user_id, with_for_update=True)
        if user is None or user.password_hash != checked_hash:
            # Deleted, or its password changed while this one was being checked.
            raise invalid_credentials()
        if user.disabled:
            raise disabled()
        throttle.succeeded(session, buckets)
        if fresh_hash is not None:
            user.password_hash = fresh_hash
            session.add(user)
        value = on_success(session, user)
        return SignedIn(user_id, user.username, value)

    return await ctx.transaction(finish)
