"""A real SMTP server for tests: aiosmtpd's ``Controller`` on 127.0.0.1, keeping what it gets.

``smtp_sink`` (a fixture: import it into a test module and list it in ``__all__``) starts one
server per test on a free port; ``sink.settings()`` are the ``Config.smtp`` that send to it.
Messages arrive before ``aiosmtplib.send`` returns (the server answers 250 after the
handler ran), so a test reads ``sink.messages`` right after the code that sent them.
``SmtpSink(auth={"user": "password"})`` requires AUTH LOGIN/PLAIN with those credentials.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections.abc import Iterator, Mapping
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from fedlogin.config import SmtpSettings

SENDER = "fedlogin@login.test"
_CODE = re.compile(r"verification code is: (\d{6})")
_LINK = re.compile(r"(https?://\S+/verify-email/link/\S+)")


def free_port() -> int:
    # aiosmtpd's Controller cannot take port 0 (TOOLING.md): ask the kernel for one first.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def settings_for(port: int, **overrides: Any) -> SmtpSettings:
    """Settings for a server on 127.0.0.1:``port``, plain SMTP unless overridden."""
    values: dict[str, Any] = {"host": "127.0.0.1", "port": port, "sender": SENDER}
    values["starttls"] = False
    values.update(overrides)
    return SmtpSettings(**values)


class SmtpSink:
    """The server's handler and its controller; ``messages`` in the order received."""

    def __init__(self, auth: Mapping[str, str] | None = None) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.logins: list[str] = []
        self._auth = dict(auth) if auth is not None else None
        self._lock = threading.Lock()
        self.port = free_port()
        options: dict[str, Any] = {}
        if self._auth is not None:
            options = {
                "authenticator": self._authenticate,
                "auth_required": True,
                "auth_require_tls": False,
            }
        # Our own loop, closed in stop(): the Controller would leave its own unclosed.
        self._loop = asyncio.new_event_loop()
        self.controller = Controller(
            self, hostname="127.0.0.1", port=self.port, loop=self._loop, **options
        )

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()
        self._loop.close()

    def settings(self, **overrides: Any) -> SmtpSettings:
        return settings_for(overrides.pop("port", self.port), **overrides)

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content
        assert isinstance(content, bytes)
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self._lock:
            self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
            self.messages.append(message)
        return "250 Message accepted for delivery"

    def _authenticate(
        self, server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert self._auth is not None
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = data.login.decode(), data.password.decode()
        if self._auth.get(login) != password:
            return AuthResult(success=False, handled=False)
        self.logins.append(login)
        return AuthResult(success=True)

    # -- reading what arrived ---------------------------------------------------------------

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if str(m["To"]).lower() == address.lower()]

    def last_to(self, address: str) -> EmailMessage:
        found = self.to(address)
        assert found, f"no mail to {address}; got {[str(m['To']) for m in self.messages]}"
        return found[-1]


def body_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    text = part.get_content()
    assert isinstance(text, str)
    return text


def code_in(message: EmailMessage) -> str:
    found = _CODE.search(body_of(message))
    assert found, body_of(message)
    return found.group(1)


def link_in(message: EmailMessage) -> str:
    found = _LINK.search(body_of(message))
    assert found, body_of(message)
    return found.group(1)


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()
