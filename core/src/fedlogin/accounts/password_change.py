"""Setting or changing one's own password from Account → Security (issue 5, point 1).

* A first password needs a recent sign-in (:data:`RECENT_SIGN_IN`): whoever holds an old,
  forgotten session must not be able to give the account a password they know.
* Changing it needs the current password *or* a recent sign-in. Checking the current
  password is a guess like any other: it counts against the same limits as signing in.
* Afterwards every other session of the user ends; the one that made the change stays.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from fedlogin.accounts import passwords, throttle
from fedlogin.accounts.password_sign_in import Transactions, limited
from fedlogin.accounts.signed_in import end_sessions
from fedlogin.errors import FedloginError
from fedlogin.store.fields import FieldErrors
from fedlogin.store.tables import User
from fedlogin.store.types import utcnow

RECENT_SIGN_IN = timedelta(minutes=10)
#: What happened, as the page announces it (outcome names, not passwords).
PASSWORD_SET = "password_set"  # noqa: S105
PASSWORD_CHANGED = "password_changed"  # noqa: S105


class PasswordChangeRefused(FedloginError):
    code = "password_change_refused"
    status = 403


@attrs.frozen
class Principal:
    """Who asks: the signed-in user's session."""

    user_id: int
    session_id: int
    authenticated_at: datetime


def signed_in_recently(authenticated_at: datetime, now: datetime | None = None) -> bool:
    return (now or utcnow()) - authenticated_at <= RECENT_SIGN_IN


def reauthentication_required() -> PasswordChangeRefused:
    minutes = int(RECENT_SIGN_IN.total_seconds() // 60)
    return PasswordChangeRefused(
        f"Setting a password needs a sign-in from the last {minutes} minutes.",
        code="reauthentication_required",
        hint="Sign in again, then set your password right away.",
    )


async def change_password(
    ctx: Transactions,
    principal: Principal,
    *,
    current_password: object,
    new_password: object,
    confirmation: object,
    address: str | None,
) -> str:
    """Set or change the password; :data:`PASSWORD_SET` or :data:`PASSWORD_CHANGED`."""
    now = utcnow()
    user = await ctx.transaction(lambda s: s.get(User, principal.user_id))
    if user is None or user.disabled:
        raise PasswordChangeRefused("Your account is disabled.", code="user_disabled")
    errors = FieldErrors()
    password = passwords.check_new_password(new_password, errors, user=user, field="new_password")
    if password is not None and confirmation != password:
        errors.add(
            "confirm_password", "passwords_differ", "The two new passwords are not the same."
        )
    errors.raise_if_any("The password")
    assert password is not None
    recent = signed_in_recently(principal.authenticated_at, now)
    old_hash = user.password_hash
    if old_hash is None:
        if not recent:
            raise reauthentication_required()
    elif isinstance(current_password, str) and current_password:
        await _check_current(ctx, user, old_hash, current_password, address, now)
    elif not recent:
        errors.add(
            "current_password",
            "current_password_required",
            "Enter your current password (or sign in again first).",
        )
        errors.raise_if_any("The password")
    new_hash = await run_in_threadpool(passwords.hash_password, password)

    def store(session: Session) -> str:
        row = session.get(User, principal.user_id, with_for_update=True)
        if row is None or row.disabled:
            raise PasswordChangeRefused("Your account is disabled.", code="user_disabled")
        if row.password_hash != old_hash:
            raise PasswordChangeRefused(
                "Your password was changed in another window meanwhile; nothing was saved.",
                code="password_changed_meanwhile",
                hint="Reload the page and try again.",
            )
        row.password_hash = new_hash
        session.add(row)
        end_sessions(session, principal.user_id, keep=principal.session_id)
        return PASSWORD_SET if old_hash is None else PASSWORD_CHANGED

    return await ctx.transaction(store)


async def _check_current(
    ctx: Transactions,
    user: User,
    stored_hash: str,
    current_password: str,
    address: str | None,
    now: datetime,
) -> None:
    buckets = [throttle.account_bucket(user.username), throttle.address_bucket(address)]
    blocked = await ctx.transaction(lambda s: throttle.attempt(s, buckets, now))
    if blocked is not None:
        raise limited(blocked)
    if not await run_in_threadpool(passwords.verify_password, stored_hash, current_password):
        errors = FieldErrors()
        errors.add("current_password", "current_password_wrong", "The current password is wrong.")
        errors.raise_if_any("The password")
    await ctx.transaction(lambda s: throttle.succeeded(s, buckets))
