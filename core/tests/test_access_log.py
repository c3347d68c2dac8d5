"""Setup tokens, verification links and authorization codes never reach the access log."""

from __future__ import annotations

import logging

import pytest
from fedlogin.cli.access_log import redact_secrets


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/verify-email/link/s3cret-token", "/verify-email/link/[redacted]"),
        ("/setup/s3cret-token", "/setup/[redacted]"),
        ("/verify-email/abc123", "/verify-email/abc123"),  # the waiting page: no secret
        (
            "/auth/callback/corp?code=s3cret-code&state=s3cret-state&iss=https%3A%2F%2Fidp",
            "/auth/callback/corp?code=[redacted]&state=[redacted]&iss=https%3A%2F%2Fidp",
        ),
        (
            "/auth/callback/corp?error=access_denied&state=s3cret-state",
            "/auth/callback/corp?error=access_denied&state=[redacted]",
        ),
        ("/login?next=%2Faccount", "/login?next=%2Faccount"),
    ],
)
def test_secrets_are_redacted_in_the_access_log(path: str, logged: str) -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", path, "1.1", 303),
        None,
    )
    assert redact_secrets(record)
    assert record.getMessage() == f'127.0.0.1:5000 - "GET {logged} HTTP/1.1" 303'
    assert "s3cret" not in record.getMessage()
