"""The verification link's token never reaches the server's access log (uvicorn logs paths)."""

from __future__ import annotations

import logging

import pytest
from fedlogin.cli.serve import _redact_setup_links


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/verify-email/link/s3cret-token", "/verify-email/link/[redacted]"),
        ("/setup/s3cret-token", "/setup/[redacted]"),
        ("/verify-email/abc123", "/verify-email/abc123"),  # the waiting page: no secret
    ],
)
def test_secret_paths_are_redacted_in_the_access_log(path: str, logged: str) -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", path, "1.1", 303),
        None,
    )
    assert _redact_setup_links(record)
    assert record.getMessage() == f'127.0.0.1:5000 - "GET {logged} HTTP/1.1" 303'
