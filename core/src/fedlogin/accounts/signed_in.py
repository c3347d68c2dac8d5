"""Ending a user's browser sessions from the accounts layer.

The web layer owns sessions (fedlogin.web.sessions); account changes that must sign a user
out — disabled by an admin, password changed — end them here, in the same transaction as
the change, so that no caller can make the change and forget the sessions.
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlmodel import Session, col

from fedlogin.store.tables import BrowserSession


def end_sessions(session: Session, user_id: int, *, keep: int | None = None) -> int:
    """End every session of ``user_id`` but ``keep`` (a session id); how many ended."""
    statement = delete(BrowserSession).where(col(BrowserSession.user_id) == user_id)
    if keep is not None:
        statement = statement.where(col(BrowserSession.id) != keep)
    result = session.execute(statement, execution_options={"synchronize_session": False})
    return int(result.rowcount)  # type: ignore[attr-defined]
