"""Newest-first lists in the console, a page at a time (users, sign-in events).

A page is the ``size`` rows older than ``?before=ID``, the oldest id the previous page
showed: a row added meanwhile never shifts a page, as an offset would. A ``before`` that is
not a plain number is ignored (the newest page), not an error: it only ever comes from our
own "Older" link.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.requests import Request

_MAX_DIGITS = 18  # within a 64-bit id


def before_cursor(request: Request) -> int | None:
    raw = request.query_params.get("before")
    if raw and raw.isascii() and raw.isdigit() and len(raw) <= _MAX_DIGITS:
        return int(raw)
    return None


def next_before(ids: Sequence[int | None], size: int) -> int | None:
    """The ``before`` of the page after a page of ``ids`` (``None``: it was the last)."""
    if len(ids) < size or not ids:
        return None
    return ids[-1]
