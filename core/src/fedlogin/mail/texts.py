"""The words of each email. Plain text: nothing in a mail needs markup, and nothing a
provider sent (names, addresses) can then turn into a link or a script in a mail client.
"""

from __future__ import annotations

from datetime import datetime

from fedlogin.mail.message import IDENTITY_LINKED, IDENTITY_UNLINKED, VERIFICATION, MailMessage


def verification(
    *, to: str, code: str, link: str, provider_name: str, site: str, minutes: int
) -> MailMessage:
    body = (
        f"Someone, hopefully you, is signing in to {site} with {provider_name} and gave this "
        "email address.\n\n"
        f"Your verification code is: {code}\n\n"
        "Type it on the page that asked for it, or open this link in the same browser:\n"
        f"{link}\n\n"
        f"The code and the link work for {minutes} minutes, only in the browser where the "
        "sign-in started.\n\n"
        "If you did not try to sign in, ignore this email: no account is created until the "
        "code is used.\n"
    )
    return MailMessage(VERIFICATION, to, f"Your verification code for {site}: {code}", body)


def identity_linked(
    *,
    to: str,
    username: str,
    provider_name: str,
    provider_email: str | None,
    site: str,
    at: datetime,
) -> MailMessage:
    which = f" ({provider_email})" if provider_email else ""
    body = (
        f"Hello {username},\n\n"
        f"A {provider_name} account{which} was connected to your account on {site} at "
        f"{_when(at)}. You can now sign in with it.\n\n"
        "If this was not you, sign in, disconnect it under Account → Security, and change "
        "your password.\n"
    )
    return MailMessage(IDENTITY_LINKED, to, f"{provider_name} was connected to your account", body)


def identity_unlinked(
    *,
    to: str,
    username: str,
    provider_name: str,
    provider_email: str | None,
    site: str,
    at: datetime,
) -> MailMessage:
    which = f" ({provider_email})" if provider_email else ""
    body = (
        f"Hello {username},\n\n"
        f"The {provider_name} account{which} was disconnected from your account on {site} at "
        f"{_when(at)}. It no longer signs you in.\n\n"
        "If this was not you, sign in and review Account → Security now.\n"
    )
    return MailMessage(
        IDENTITY_UNLINKED, to, f"{provider_name} was disconnected from your account", body
    )


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")
