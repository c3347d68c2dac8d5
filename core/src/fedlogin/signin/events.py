"""Sign-in events (T4): every attempt, its outcome, the step that refused and the claims.

An admin reads them to see why a sign-in failed or why claims did not map, so the claims are
kept as the provider sent them, except what could replay or prove something elsewhere:
token hashes, the nonce, and tokens or secrets inside distributed claims. Tokens,
authorization codes and client secrets never reach this module.

Events older than the retention period (``FEDLOGIN_SIGN_IN_EVENT_RETENTION_DAYS``, 30 days by
default) are deleted on write, at most once per :data:`SWEEP_INTERVAL` per process.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete
from sqlmodel import Session, col, select

from fedlogin.store.prepared import PreparedStatement, insert_row
from fedlogin.store.tables import SignInEvent, table_of
from fedlogin.store.types import utcnow

SUCCESS = "success"
REFUSED = "refused"
#: Not signed in yet, and not refused: the sign-in waits on the person (a verification email
#: sent to an address the provider's trust mode does not take on its word).
PENDING = "pending"
OUTCOMES = (SUCCESS, REFUSED, PENDING)
#: Where a sign-in can stop, in the order it meets them (the OpenID steps are
#: fedlogin.oidc.errors.STEPS).
STEPS = (
    "provider",
    "browser",
    "state",
    "discovery",
    "jwks",
    "callback",
    "token",
    "id_token",
    "userinfo",
    "claims",
    "domain",
    "provisioning",
    "internal",
)
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
SWEEP_INTERVAL = 300.0
#: Claims that only matter for checking this one token, or that could be replayed.
DROPPED_CLAIMS = frozenset({"nonce", "at_hash", "c_hash", "s_hash"})
MAX_CLAIMS_BYTES = 32 * 1024
_MAX_VALUE_CHARS = 1024


class Every:
    """A per-process throttle (not state: any process doing the work is as good as another)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._last: float | None = None

    def due(self) -> bool:
        now = time.monotonic()
        if self._last is not None and now - self._last < self.seconds:
            return False
        self._last = now
        return True


_sweeps = Every(SWEEP_INTERVAL)
_EVENTS = table_of(SignInEvent)
_INSERT = PreparedStatement(insert_row(_EVENTS))


def record(
    session: Session,
    *,
    provider_identifier: str,
    outcome: str,
    provider_id: int | None = None,
    step: str | None = None,
    code: str | None = None,
    message: str | None = None,
    claims: Mapping[str, Any] | None = None,
    user_id: int | None = None,
    brand_id: int | None = None,
    retention_days: int | None = None,
) -> SignInEvent:
    """Add one event (and sweep old ones when due); the row, flushed."""
    event = SignInEvent(
        **_values(provider_identifier, outcome, provider_id, step, code, message, claims),
        user_id=user_id,
        brand_id=brand_id,
    )
    session.add(event)
    session.flush()
    if retention_days is not None and _sweeps.due():
        sweep(session, retention_days)
    return event


def write(
    connection: Connection,
    *,
    provider_identifier: str,
    outcome: str,
    provider_id: int | None = None,
    step: str | None = None,
    code: str | None = None,
    message: str | None = None,
    claims: Mapping[str, Any] | None = None,
    user_id: int | None = None,
    brand_id: int | None = None,
    retention_days: int | None = None,
) -> None:
    """:func:`record` for the sign-in flow, which never reads the row back: one prepared
    ``INSERT`` on a connection (a session's, or a transaction without one) instead of an ORM
    object and a flush (about a tenth of a sign-in's CPU; fedlogin.store.prepared)."""
    values = _values(provider_identifier, outcome, provider_id, step, code, message, claims)
    values.update(at=utcnow(), user_id=user_id, brand_id=brand_id)
    _INSERT.run(connection, values)
    if retention_days is not None and _sweeps.due():
        sweep(connection, retention_days)


def _values(
    provider_identifier: str,
    outcome: str,
    provider_id: int | None,
    step: str | None,
    code: str | None,
    message: str | None,
    claims: Mapping[str, Any] | None,
) -> dict[str, Any]:
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    if step is not None and step not in STEPS:
        raise ValueError(f"unknown step {step!r}")
    return {
        "provider_identifier": provider_identifier[:63],
        "provider_id": provider_id,
        "outcome": outcome,
        "step": step,
        "code": code[:64] if code else None,
        "message": message,
        "claims": claims_for_event(claims) if claims is not None else None,
    }


def claims_for_event(claims: Mapping[str, Any]) -> dict[str, Any]:
    """The claims as kept: JSON-safe, without :data:`DROPPED_CLAIMS`, size-capped."""
    kept: dict[str, Any] = {}
    for name, value in claims.items():
        if name in DROPPED_CLAIMS:
            continue
        if name == "_claim_sources":
            # Distributed claims (Core 5.6.2) may carry an access token for another server.
            value = {"omitted": "distributed claim sources are not kept"}
        kept[str(name)] = value
    # JSON-safe all at once (what is not JSON becomes its str()): one dump and one load
    # per event, not one per claim, and the dump's length is the size checked.
    text = json.dumps(kept, default=str)
    safe: dict[str, Any] = json.loads(text)
    if len(text) > MAX_CLAIMS_BYTES:
        safe = {name: _shortened(value) for name, value in safe.items()}
    return safe


def _shortened(value: Any) -> Any:
    text = json.dumps(value)
    if len(text) <= _MAX_VALUE_CHARS:
        return value
    return f"(cut: {len(text)} characters) {text[:_MAX_VALUE_CHARS]}"


def sweep(database: Session | Connection, retention_days: int, now: datetime | None = None) -> int:
    """Delete events older than ``retention_days``; return how many."""
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    # A Core DELETE (no ORM objects to keep in step): the same on a session or a connection.
    result = database.execute(delete(_EVENTS).where(_EVENTS.c.at < cutoff))
    return int(result.rowcount)  # type: ignore[attr-defined]


def list_events(
    session: Session,
    *,
    provider: str | None = None,
    outcome: str | None = None,
    limit: int = DEFAULT_LIMIT,
    before_id: int | None = None,
) -> list[SignInEvent]:
    """The newest events first, optionally of one provider and outcome."""
    query = select(SignInEvent)
    if provider is not None:
        query = query.where(col(SignInEvent.provider_identifier) == provider)
    if outcome is not None:
        query = query.where(col(SignInEvent.outcome) == outcome)
    if before_id is not None:
        query = query.where(col(SignInEvent.id) < before_id)
    query = query.order_by(col(SignInEvent.at).desc(), col(SignInEvent.id).desc())
    return list(session.exec(query.limit(min(max(limit, 1), MAX_LIMIT))).all())
