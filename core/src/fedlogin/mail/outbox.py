"""The ``mail_outbox`` table: queue a message, claim messages to send, record what happened.

A message is claimed (``claimed_at``) by one ``UPDATE ... RETURNING`` whose ``WHERE``
repeats the "not claimed" test, so that of two processes delivering at once only one sends
it (on PostgreSQL the second ``UPDATE`` re-checks the row the first one changed). A claim
older than :data:`CLAIM_TIMEOUT` is a process that died while sending: the message is
claimed again. Messages older than :data:`SEND_WITHIN` are not sent any more (a code that
expired, a notice about an old change) and rows older than :data:`RETENTION` are deleted.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, or_, update
from sqlmodel import Session, col, func, select

from fedlogin.mail.message import MailMessage
from fedlogin.signin.events import Every
from fedlogin.store.tables import OutboxMessage, table_of

CLAIM_TIMEOUT = timedelta(minutes=2)
SEND_WITHIN = timedelta(hours=1)
MAX_ATTEMPTS = 5
RETENTION = timedelta(days=30)
CLAIM_BATCH = 20
_sweeps = Every(300.0)

QUEUED = "queued"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
STATUSES = (QUEUED, SENDING, SENT, FAILED)


def enqueue(
    session: Session, message: MailMessage, *, now: datetime, user_id: int | None = None
) -> OutboxMessage:
    """Queue ``message`` in the caller's transaction (flushed: the row has its id)."""
    if _sweeps.due():
        session.execute(
            delete(OutboxMessage).where(col(OutboxMessage.created_at) < now - RETENTION),
            execution_options={"synchronize_session": False},
        )
    row = OutboxMessage(
        created_at=now,
        kind=message.kind,
        to_address=message.to,
        subject=message.subject,
        body=message.body,
        user_id=user_id,
    )
    session.add(row)
    session.flush()
    return row


def status_of(row: OutboxMessage) -> str:
    if row.sent_at is not None:
        return SENT
    if row.last_error is not None and row.claimed_at is None:
        return FAILED
    if row.claimed_at is not None and row.attempts > 0:
        return SENDING
    return QUEUED


def claim(session: Session, *, now: datetime, for_smtp: bool) -> list[OutboxMessage]:
    """Claim unsent messages for this process.

    ``for_smtp=False`` (no server configured) claims only messages nobody looked at yet, to
    log them once; they stay unsent, and are sent once a server is configured, while they
    are younger than :data:`SEND_WITHIN`.
    """
    unclaimed: ColumnElement[bool] = col(OutboxMessage.claimed_at).is_(None)
    if for_smtp:
        unclaimed = or_(unclaimed, col(OutboxMessage.claimed_at) < now - CLAIM_TIMEOUT)
    due = (
        col(OutboxMessage.sent_at).is_(None),
        col(OutboxMessage.attempts) < MAX_ATTEMPTS,
        col(OutboxMessage.created_at) > now - SEND_WITHIN,
        unclaimed,
    )
    candidates = (
        select(OutboxMessage.id).where(*due).order_by(col(OutboxMessage.id)).limit(CLAIM_BATCH)
    )
    table = table_of(OutboxMessage)
    statement = (
        update(OutboxMessage)
        .where(col(OutboxMessage.id).in_(candidates.scalar_subquery()), *due)
        .values(
            claimed_at=now,
            attempts=col(OutboxMessage.attempts) + (1 if for_smtp else 0),
        )
        .returning(*table.c)
    )
    rows = session.execute(statement, execution_options={"synchronize_session": False}).all()
    return sorted(
        (OutboxMessage.model_validate(dict(row._mapping)) for row in rows),
        key=lambda message: message.id or 0,
    )


def mark_sent(session: Session, message_id: int, *, now: datetime) -> None:
    session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == message_id)
        .values(sent_at=now, last_error=None),
        execution_options={"synchronize_session": False},
    )


def mark_failed(session: Session, message_id: int, error: str) -> None:
    """Release the claim, so that the next delivery tries again (up to MAX_ATTEMPTS)."""
    session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == message_id)
        .values(claimed_at=None, last_error=error[:2000]),
        execution_options={"synchronize_session": False},
    )


def sent_recently(session: Session, *, to: str, kind: str, since: datetime) -> int:
    """How many messages of ``kind`` went to ``to`` since ``since`` (queued ones count)."""
    query = select(func.count()).where(
        func.lower(col(OutboxMessage.to_address)) == to.lower(),
        col(OutboxMessage.kind) == kind,
        col(OutboxMessage.created_at) >= since,
    )
    return int(session.exec(query).one())


def list_messages(
    session: Session,
    *,
    limit: int,
    before_id: int | None = None,
    to: str | None = None,
    kind: str | None = None,
) -> list[OutboxMessage]:
    """Newest first, for the admin API."""
    query = select(OutboxMessage).order_by(col(OutboxMessage.id).desc()).limit(limit)
    if before_id is not None:
        query = query.where(col(OutboxMessage.id) < before_id)
    if to is not None:
        query = query.where(func.lower(col(OutboxMessage.to_address)) == to.lower())
    if kind is not None:
        query = query.where(col(OutboxMessage.kind) == kind)
    return list(session.exec(query).all())
