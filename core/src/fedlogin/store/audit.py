"""The audit log (X6): who changed which provider, setting, brand or credential, and when.

``before`` and ``after`` are JSON snapshots of the fields that changed. Secrets never enter
them: the client secret appears only as ``"set"``, ``"changed"`` or ``"unset"``, and
:func:`strip_secrets` runs on every snapshot whatever the caller passed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from fedlogin.store.tables import AuditEntry

#: How a client secret may appear in an audit snapshot.
SECRET_STATES = frozenset({"set", "changed", "unset"})
#: Keys whose values are secret wherever they appear in a snapshot.
SECRET_KEYS = frozenset(
    {
        "client_secret",
        "client_secret_encrypted",
        "password",
        "password_hash",
        "token",
        "token_hash",
        "secret",
        "secret_key",
    }
)
REDACTED = "[redacted]"


def strip_secrets(snapshot: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """``snapshot`` with every secret replaced (recursively, in nested objects and lists)."""
    if snapshot is None:
        return None
    return {key: _clean(key, value) for key, value in snapshot.items()}


def _clean(key: str, value: Any) -> Any:
    if key in SECRET_KEYS:
        if key == "client_secret" and value in SECRET_STATES:
            return value
        if key == "client_secret":
            return "set" if value else "unset"
        return REDACTED
    if isinstance(value, Mapping):
        return {str(k): _clean(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean("", item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def secret_state(before: bool, after: bool, *, changed: bool) -> str:
    """How a client secret change is recorded: ``set``, ``changed`` or ``unset``."""
    if not after:
        return "unset"
    return "changed" if changed and before else "set"


def record(
    session: Session,
    actor: str,
    action: str,
    target_type: str,
    target_id: str | int,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Add an audit entry to the caller's transaction (it is written when that commits)."""
    entry = AuditEntry(
        actor=actor[:255],
        action=action,
        target_type=target_type,
        target_id=str(target_id)[:255],
        before=strip_secrets(before),
        after=strip_secrets(after),
    )
    session.add(entry)
    session.flush()
    return entry


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    """The fields that differ, as ``(before, after)`` snapshots holding only those fields."""
    keys = [key for key in after if before.get(key) != after.get(key)]
    return {key: before.get(key) for key in keys}, {key: after[key] for key in keys}


def entries(
    session: Session,
    *,
    target_type: str | None = None,
    target_id: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[AuditEntry]:
    """Newest first; page with ``before_id`` (the smallest id of the previous page)."""
    query = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(max(1, min(limit, 500)))
    if target_type is not None:
        query = query.where(AuditEntry.target_type == target_type)
    if target_id is not None:
        query = query.where(AuditEntry.target_id == target_id)
    if before_id is not None:
        query = query.where(col(AuditEntry.id) < before_id)
    return list(session.exec(query).all())
