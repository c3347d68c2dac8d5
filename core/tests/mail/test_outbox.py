"""The outbox table: queued in the caller's transaction, claimed once, retried, then given up."""

from __future__ import annotations

from datetime import timedelta

from fedlogin.mail import outbox
from fedlogin.mail.message import MailMessage
from fedlogin.store.database import Database
from fedlogin.store.tables import OutboxMessage
from fedlogin.store.types import utcnow
from sqlalchemy import update
from sqlmodel import col


def queue(db: Database, to: str = "ada@example.org", kind: str = "verification") -> int:
    with db.transaction() as session:
        row = outbox.enqueue(session, MailMessage(kind, to, "Subject", "Body"), now=utcnow())
        assert row.id is not None
        return row.id


def age(db: Database, message_id: int, **columns: object) -> None:
    with db.transaction() as session:
        session.execute(
            update(OutboxMessage).where(col(OutboxMessage.id) == message_id).values(**columns)
        )


def claim(db: Database, *, for_smtp: bool = True) -> list[int]:
    with db.transaction() as session:
        return [row.id or 0 for row in outbox.claim(session, now=utcnow(), for_smtp=for_smtp)]


def status(db: Database, message_id: int) -> str:
    with db.session() as session:
        row = session.get(OutboxMessage, message_id)
        assert row is not None
        return outbox.status_of(row)


def test_a_queued_message_is_claimed_by_one_delivery_only(db: Database) -> None:
    first, second = queue(db), queue(db)
    assert status(db, first) == outbox.QUEUED
    assert claim(db) == [first, second]
    assert claim(db) == []  # another process delivering at the same time gets nothing
    assert status(db, first) == outbox.SENDING


def test_a_claim_left_by_a_dead_process_is_taken_again(db: Database) -> None:
    message = queue(db)
    assert claim(db) == [message]
    age(db, message, claimed_at=utcnow() - outbox.CLAIM_TIMEOUT - timedelta(seconds=1))
    assert claim(db) == [message]


def test_a_failure_releases_the_claim_until_the_attempts_are_used_up(db: Database) -> None:
    message = queue(db)
    for _ in range(outbox.MAX_ATTEMPTS):
        assert claim(db) == [message]
        with db.transaction() as session:
            outbox.mark_failed(session, message, "connection refused")
        assert status(db, message) == outbox.FAILED
    assert claim(db) == []
    with db.session() as session:
        row = session.get(OutboxMessage, message)
        assert row is not None
        assert (row.attempts, row.last_error) == (outbox.MAX_ATTEMPTS, "connection refused")


def test_a_sent_message_is_never_claimed_again(db: Database) -> None:
    message = queue(db)
    claim(db)
    with db.transaction() as session:
        outbox.mark_sent(session, message, now=utcnow())
    age(db, message, claimed_at=utcnow() - timedelta(hours=1))
    assert claim(db) == [] and status(db, message) == outbox.SENT


def test_without_smtp_a_message_is_announced_once_and_sent_once_a_server_exists(
    db: Database,
) -> None:
    message = queue(db)
    assert claim(db, for_smtp=False) == [message]
    assert claim(db, for_smtp=False) == []  # logged once, not at every delivery
    assert status(db, message) == outbox.QUEUED
    age(db, message, claimed_at=utcnow() - outbox.CLAIM_TIMEOUT - timedelta(seconds=1))
    assert claim(db, for_smtp=True) == [message]


def test_an_old_message_is_not_sent_any_more(db: Database) -> None:
    message = queue(db)
    age(db, message, created_at=utcnow() - outbox.SEND_WITHIN - timedelta(minutes=1))
    assert claim(db) == []


def test_messages_to_an_address_are_counted_by_kind_and_time(db: Database) -> None:
    queue(db, "Ada@Example.org")
    old = queue(db, "ada@example.org")
    queue(db, "ada@example.org", kind="identity_linked")
    queue(db, "bob@example.org")
    age(db, old, created_at=utcnow() - timedelta(hours=2))
    with db.session() as session:
        since = utcnow() - timedelta(hours=1)
        count = outbox.sent_recently(
            session, to="ADA@example.org", kind="verification", since=since
        )
    assert count == 1


def test_the_admin_list_is_newest_first_with_filters_and_pages(db: Database) -> None:
    ids = [queue(db, f"user{n}@example.org") for n in range(3)]
    linked = queue(db, "user0@example.org", kind="identity_linked")
    with db.session() as session:
        page = outbox.list_messages(session, limit=2)
        assert [row.id for row in page] == [linked, ids[2]]
        after = outbox.list_messages(session, limit=2, before_id=ids[2])
        assert [row.id for row in after] == [ids[1], ids[0]]
        to_user0 = outbox.list_messages(session, limit=10, to="USER0@example.org")
        assert [row.id for row in to_user0] == [linked, ids[0]]
        notices = outbox.list_messages(session, limit=10, kind="identity_linked")
        assert [row.id for row in notices] == [linked]
