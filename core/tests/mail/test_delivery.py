"""Delivery after a transaction: send through SMTP and record it, retry a failure, or, with
no server configured, leave the message in the outbox and log it (in development with the
code, never with the link's token)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from fedlogin.config import Config
from fedlogin.mail import outbox, texts
from fedlogin.mail.delivery import deliver_queued, is_development
from fedlogin.store.database import Database
from fedlogin.store.tables import OutboxMessage
from fedlogin.store.types import utcnow

from tests.support.smtp import SmtpSink, body_of, code_in, free_port

from .conftest import MailContext

TOKEN = "the-link-token-value_0123456789"


def queue_verification(db: Database, code: str = "654321") -> int:
    message = texts.verification(
        to="ada@example.org",
        code=code,
        link=f"http://127.0.0.1:8000/verify-email/link/{TOKEN}",
        provider_name="Corp SSO",
        site="127.0.0.1:8000",
        minutes=30,
    )
    with db.transaction() as session:
        row = outbox.enqueue(session, message, now=utcnow())
        assert row.id is not None
        return row.id


def row_of(db: Database, message_id: int) -> OutboxMessage:
    with db.session() as session:
        row = session.get(OutboxMessage, message_id)
        assert row is not None
        return row


async def test_a_queued_message_is_sent_and_marked_sent(
    tmp_path: Path, db: Database, smtp_sink: SmtpSink
) -> None:
    message_id = queue_verification(db)
    ctx = MailContext(Config(data_dir=tmp_path, smtp=smtp_sink.settings()), db)
    delivery = await deliver_queued(ctx)
    assert delivery.outcomes == {message_id: "sent"}
    assert code_in(smtp_sink.last_to("ada@example.org")) == "654321"
    row = row_of(db, message_id)
    assert row.sent_at is not None and outbox.status_of(row) == "sent"
    assert (await deliver_queued(ctx)).outcomes == {}  # never twice
    assert len(smtp_sink.messages) == 1


async def test_a_failed_send_is_recorded_and_sent_by_a_later_delivery(
    tmp_path: Path, db: Database, smtp_sink: SmtpSink
) -> None:
    message_id = queue_verification(db)
    down = MailContext(Config(data_dir=tmp_path, smtp=smtp_sink.settings(port=free_port())), db)
    delivery = await deliver_queued(down)
    assert delivery.outcomes == {message_id: "failed"}
    assert "did not take the message" in delivery.errors[message_id]
    row = row_of(db, message_id)
    assert outbox.status_of(row) == "failed" and row.last_error and row.attempts == 1
    up = MailContext(Config(data_dir=tmp_path, smtp=smtp_sink.settings()), db)
    assert (await deliver_queued(up)).outcomes == {message_id: "sent"}
    assert len(smtp_sink.messages) == 1


async def test_without_smtp_in_development_the_log_shows_the_code_but_not_the_link_token(
    tmp_path: Path, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    message_id = queue_verification(db)
    config = Config(data_dir=tmp_path, base_url="http://127.0.0.1:8000")
    assert is_development(config)
    with caplog.at_level(logging.INFO, logger="fedlogin.mail"):
        delivery = await deliver_queued(MailContext(config, db))
        again = await deliver_queued(MailContext(config, db))
    assert delivery.outcomes == {message_id: "queued"} and again.outcomes == {}
    logged = caplog.text
    assert "654321" in logged and "outbox" in logged and "FEDLOGIN_SMTP_HOST" in logged
    assert TOKEN not in logged and "/verify-email/link/…" in logged
    assert logged.count("654321") == 2  # subject and body, once: announced only once
    row = row_of(db, message_id)
    assert row.sent_at is None and TOKEN in row.body  # the outbox keeps it whole


async def test_without_smtp_in_production_the_log_shows_no_code(
    tmp_path: Path, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    message_id = queue_verification(db)
    config = Config(data_dir=tmp_path, base_url="https://login.example.com")
    assert not is_development(config)
    with caplog.at_level(logging.INFO, logger="fedlogin.mail"):
        await deliver_queued(MailContext(config, db))
    assert f"Email {message_id} (verification) to a***@example.org queued" in caplog.text
    assert "654321" not in caplog.text and "ada@example.org" not in caplog.text


async def test_the_body_sent_is_the_body_queued(
    tmp_path: Path, db: Database, smtp_sink: SmtpSink
) -> None:
    message_id = queue_verification(db, code="000007")
    await deliver_queued(MailContext(Config(data_dir=tmp_path, smtp=smtp_sink.settings()), db))
    # SMTP carries CRLF line ends (RFC 5321); the text is the same.
    assert body_of(smtp_sink.messages[0]).replace("\r\n", "\n") == row_of(db, message_id).body
