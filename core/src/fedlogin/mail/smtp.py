"""Send one message through the SMTP server of ``FEDLOGIN_SMTP_*`` (aiosmtplib).

STARTTLS is required unless the operator turned it off (a relay on the same machine); port
465 means TLS from the first byte (SMTPS). A failure is an :class:`SmtpFailure` whose
message says what went wrong without the password.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import aiosmtplib

from fedlogin.config import SmtpSettings
from fedlogin.errors import FedloginError
from fedlogin.mail.message import MailMessage

SMTPS_PORT = 465
TIMEOUT = 10.0


class SmtpFailure(FedloginError):
    code = "smtp_failed"
    status = 502


def build(settings: SmtpSettings, message: MailMessage) -> EmailMessage:
    email = EmailMessage()
    email["From"] = settings.sender
    email["To"] = message.to
    email["Subject"] = message.subject
    email["Date"] = formatdate(localtime=False)
    email["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or None)
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to us
    email.set_content(message.body)
    return email


async def send(settings: SmtpSettings, message: MailMessage) -> None:
    implicit_tls = settings.port == SMTPS_PORT
    try:
        await aiosmtplib.send(
            build(settings, message),
            hostname=settings.host,
            port=settings.port,
            username=settings.username,
            password=settings.password,
            use_tls=implicit_tls,
            start_tls=settings.starttls and not implicit_tls,
            timeout=TIMEOUT,
        )
    except (aiosmtplib.SMTPException, OSError, ValueError) as exc:  # ValueError: bad header
        raise SmtpFailure(
            f"The SMTP server {settings.host}:{settings.port} did not take the message: "
            f"{_describe(exc)}",
            hint="Check FEDLOGIN_SMTP_HOST, FEDLOGIN_SMTP_PORT, FEDLOGIN_SMTP_STARTTLS and "
            "the SMTP credentials.",
        ) from exc


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]
