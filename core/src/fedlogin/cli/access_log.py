"""Secrets kept out of the server's access log, which uvicorn writes with every path.

A path whose last part is a secret (setup tokens, email verification links) loses that part;
a query's ``code`` and ``state`` (the authorization response at the callback URL) lose their
values. A code is single use and bound to PKCE, but a log is read by more people than the
sign-in it belongs to, and a state could still be live.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, urlencode

#: Paths whose last part is a secret: setup tokens, email verification links.
SECRET_PATHS = ("/setup/", "/verify-email/link/")
#: Query parameters whose values are secrets.
SECRET_PARAMETERS = frozenset({"code", "state"})
REDACTED = "[redacted]"


def redact_path(path: str) -> str:
    """``path`` as it may be logged: a path with its query string, as uvicorn logs it."""
    route, question, query = path.partition("?")
    prefix = next((p for p in SECRET_PATHS if route.startswith(p)), None)
    if prefix is not None:
        route = prefix + REDACTED
    if question:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(name, REDACTED if name in SECRET_PARAMETERS else value) for name, value in pairs],
            safe="[]",
        )
    return route + question + query


def redact_secrets(record: logging.LogRecord) -> bool:
    """A ``logging`` filter for ``uvicorn.access``: rewrites the path argument, drops nothing."""
    args = record.args
    if isinstance(args, tuple) and len(args) >= 3:
        record.args = (*args[:2], redact_path(str(args[2])), *args[3:])
    return True
