"""After a transaction that queued mail: send it (SMTP configured) or announce it (not).

Call :func:`deliver_queued` once the transaction that wrote the outbox rows has committed.
It sends every message due, not just the caller's: any process finishing what another
left (an SMTP outage, a crash) is as good as the one that queued it (X4).

A page that reports the delivery (the verification page says whether the code was sent)
awaits it before answering; a notice nobody waits for (an identity connected or
disconnected) is sent by :func:`deliver_quietly` after the response, so a slow or
unreachable mail server never holds up the page.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar
from urllib.parse import urlsplit

import attrs
from sqlmodel import Session

from fedlogin.config import Config, SmtpSettings
from fedlogin.mail import outbox, smtp
from fedlogin.mail.message import MailMessage, mask_address
from fedlogin.store.tables import OutboxMessage
from fedlogin.store.types import utcnow

T = TypeVar("T")
logger = logging.getLogger("fedlogin.mail")

_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
#: The tokens of links in our mails (verification links): never written to a log.
_LINK_TOKEN = re.compile(r"(/verify-email/link/)[A-Za-z0-9_\-]+")


class MailContext(Protocol):
    config: Config

    def transaction(self, work: Callable[[Session], T]) -> Awaitable[T]: ...


@attrs.frozen
class Delivery:
    """What happened to each claimed message: ``sent``, ``failed`` or ``queued`` (no SMTP)."""

    outcomes: dict[int, str] = attrs.field(factory=dict)
    errors: dict[int, str] = attrs.field(factory=dict)


def is_development(config: Config) -> bool:
    """A loopback platform URL: a developer's machine, where the log may show mail bodies."""
    return (urlsplit(config.base_url).hostname or "") in _LOOPBACK


async def deliver_queued(ctx: MailContext) -> Delivery:
    settings = ctx.config.smtp
    claimed = await ctx.transaction(
        lambda s: outbox.claim(s, now=utcnow(), for_smtp=settings is not None)
    )
    delivery = Delivery()
    for row in claimed:
        assert row.id is not None
        if settings is None:
            _announce(ctx.config, row)
            delivery.outcomes[row.id] = outbox.QUEUED
            continue
        error = await _send(ctx, settings, row, row.id)
        delivery.outcomes[row.id] = outbox.SENT if error is None else outbox.FAILED
        if error is not None:
            delivery.errors[row.id] = error
    return delivery


async def deliver_quietly(ctx: MailContext) -> None:
    """:func:`deliver_queued` where a mail failure must never undo or fail the request that
    queued it (a sign-in, a link): the failure is logged and the mail stays in the outbox."""
    try:
        await deliver_queued(ctx)
    except Exception:
        logger.exception("Queued email could not be delivered; it stays in the outbox")


async def _send(
    ctx: MailContext, settings: SmtpSettings, row: OutboxMessage, message_id: int
) -> str | None:
    """Send one claimed message and record the result; the error message, if any."""
    try:
        await smtp.send(settings, _message(row))
    except smtp.SmtpFailure as failure:
        error = failure.message
    else:
        await ctx.transaction(lambda s: outbox.mark_sent(s, message_id, now=utcnow()))
        return None
    logger.warning("Email %s to %s not sent: %s", message_id, mask_address(row.to_address), error)
    await ctx.transaction(lambda s: outbox.mark_failed(s, message_id, error))
    return error


def _message(row: OutboxMessage) -> MailMessage:
    return MailMessage(row.kind, row.to_address, row.subject, row.body)


def _announce(config: Config, row: OutboxMessage) -> None:
    where = "No SMTP server is configured (FEDLOGIN_SMTP_HOST), so it waits in the outbox"
    if not is_development(config):
        logger.info(
            "Email %s (%s) to %s queued. %s (GET /api/v1/outbox).",
            row.id,
            row.kind,
            mask_address(row.to_address),
            where,
        )
        return
    # Development: the message itself, so that a developer can sign in without a mail
    # server. The code is shown (it works only in the browser that asked for it); the
    # link's token is not.
    body = _LINK_TOKEN.sub(r"\1…", row.body)
    logger.warning(
        "%s. Email %s to %s\nSubject: %s\n\n%s", where, row.id, row.to_address, row.subject, body
    )
