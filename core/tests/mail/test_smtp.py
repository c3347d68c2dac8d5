"""Sending through a real SMTP server (aiosmtpd on 127.0.0.1): headers, login, STARTTLS and
failures."""

from __future__ import annotations

import pytest
from fedlogin.mail import smtp
from fedlogin.mail.message import MailMessage

from tests.support.smtp import SENDER, SmtpSink, body_of, free_port, settings_for

MESSAGE = MailMessage(
    "verification",
    "ada@example.org",
    "Your verification code for login.test: 123456",
    "Your verification code is: 123456\nÜmlauts and → arrows survive.\n",
)


async def test_a_message_arrives_with_its_headers_and_body(smtp_sink: SmtpSink) -> None:
    await smtp.send(smtp_sink.settings(), MESSAGE)
    [received] = smtp_sink.messages
    assert smtp_sink.envelopes == [(SENDER, ["ada@example.org"])]
    assert (received["From"], received["To"]) == (SENDER, "ada@example.org")
    assert received["Subject"] == MESSAGE.subject
    assert received["Auto-Submitted"] == "auto-generated"
    assert received["Message-ID"].endswith("@login.test>") and received["Date"]
    assert body_of(received).replace("\r\n", "\n") == MESSAGE.body  # SMTP's CRLF


# The test server takes AUTH without TLS (no certificate here); aiosmtpd warns about that.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
async def test_the_credentials_log_in_to_a_server_that_requires_them() -> None:
    sink = SmtpSink(auth={"mailer": "s3cret pass"}).start()
    try:
        await smtp.send(sink.settings(username="mailer", password="s3cret pass"), MESSAGE)
        assert sink.logins == ["mailer"] and len(sink.messages) == 1
        with pytest.raises(smtp.SmtpFailure) as caught:
            await smtp.send(sink.settings(username="mailer", password="wrong pass"), MESSAGE)
        assert "wrong pass" not in caught.value.message
        with pytest.raises(smtp.SmtpFailure):
            await smtp.send(sink.settings(), MESSAGE)  # no credentials at all
        assert len(sink.messages) == 1
    finally:
        sink.stop()


async def test_starttls_required_refuses_a_server_without_it_and_sends_nothing_in_clear(
    smtp_sink: SmtpSink,
) -> None:
    with pytest.raises(smtp.SmtpFailure) as caught:
        await smtp.send(smtp_sink.settings(starttls=True), MESSAGE)
    assert caught.value.code == "smtp_failed"
    assert f"127.0.0.1:{smtp_sink.port}" in caught.value.message
    assert smtp_sink.messages == []


async def test_an_unreachable_server_is_a_clear_failure() -> None:
    # Nothing listens on a port just handed out as free.
    settings = settings_for(free_port(), username="mailer", password="hunter2 secret")
    with pytest.raises(smtp.SmtpFailure) as caught:
        await smtp.send(settings, MESSAGE)
    assert "did not take the message" in caught.value.message
    assert "hunter2" not in caught.value.message and caught.value.hint


async def test_a_header_injection_attempt_is_refused_not_sent(smtp_sink: SmtpSink) -> None:
    forged = MailMessage("verification", "ada@example.org\r\nBcc: eve@evil.example", "Hi", "x")
    with pytest.raises(smtp.SmtpFailure):
        await smtp.send(smtp_sink.settings(), forged)
    assert smtp_sink.messages == []
