"""Pending flows: an authorization request waiting for its callback, kept in the database.

Any process can finish what another started (X4). A flow is found by the SHA-256 of its
``state`` and bound to the browser that started it by the SHA-256 of that browser's cookie
value; neither value itself is stored. Consuming is one ``DELETE ... RETURNING``: of two
callbacks carrying the same state, in one process or two, exactly one gets the flow.
Expired flows are refused when consumed and swept when new ones are created.
"""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta

import attrs
from sqlalchemy import Connection, bindparam, delete, func, select

from fedlogin.store.admins import token_digest
from fedlogin.store.prepared import PreparedStatement, insert_row
from fedlogin.store.tables import PendingFlow, table_of

FLOW_LIFETIME = timedelta(minutes=10)

# Every sign-in runs these, in transactions of their own on a plain connection: prepared
# statements skip the ORM's session and SQLAlchemy's statement execution
# (fedlogin.store.prepared).
_FLOWS = table_of(PendingFlow)
_INSERT = PreparedStatement(insert_row(_FLOWS))
_CONSUME = PreparedStatement(
    delete(_FLOWS).where(_FLOWS.c.state_hash == bindparam("state_hash")).returning(*_FLOWS.c)
)
_RECENT = PreparedStatement(
    select(func.count())
    .select_from(_FLOWS)
    .where(_FLOWS.c.browser_hash == bindparam("browser_hash"))
    .where(_FLOWS.c.created_at >= bindparam("since"))
)
_SWEEP = delete(_FLOWS).where(_FLOWS.c.expires_at <= bindparam("now"))


@attrs.frozen
class ConsumedFlow:
    """A pending flow taken out of the table: the row as read, nothing more (a
    :class:`PendingFlow` built from it cost as much as the statement that read it)."""

    id: int
    state_hash: str
    browser_hash: str
    provider_id: int
    purpose: str
    link_user_id: int | None
    nonce: str
    code_verifier: str
    redirect_uri: str
    next_url: str | None
    brand_id: int | None
    created_at: datetime
    expires_at: datetime


def create_flow(
    connection: Connection,
    *,
    state: str,
    browser: str,
    provider_id: int,
    nonce: str,
    code_verifier: str,
    redirect_uri: str,
    next_url: str | None,
    brand_id: int | None,
    now: datetime,
    purpose: str = "sign_in",
    link_user_id: int | None = None,
) -> None:
    _INSERT.run(
        connection,
        {
            "state_hash": token_digest(state),
            "browser_hash": token_digest(browser),
            "provider_id": provider_id,
            "purpose": purpose,
            "link_user_id": link_user_id,
            "nonce": nonce,
            "code_verifier": code_verifier,
            "redirect_uri": redirect_uri,
            "next_url": next_url,
            "brand_id": brand_id,
            "created_at": now,
            "expires_at": now + FLOW_LIFETIME,
        },
    )


def consume_flow(connection: Connection, state: str) -> ConsumedFlow | None:
    """Remove and return the flow of ``state`` (expired or not); ``None`` if there is none.

    The row is gone once this transaction commits, even when the caller then refuses the
    callback: a state is good for one attempt only.
    """
    rows = _CONSUME.rows(connection, {"state_hash": token_digest(state)})
    if not rows:
        return None
    return ConsumedFlow(**dict(zip(_CONSUME.keys, rows[0], strict=True)))


def bound_to(flow: ConsumedFlow, browser: str | None) -> bool:
    """Whether ``browser`` (the cookie value) is the browser that started ``flow``."""
    if not browser:
        return False
    return hmac.compare_digest(flow.browser_hash, token_digest(browser))


def recent_flows(connection: Connection, browser: str, since: datetime) -> int:
    """How many unfinished flows this browser started since ``since`` (loop detection)."""
    params = {"browser_hash": token_digest(browser), "since": since}
    ((count,),) = _RECENT.rows(connection, params)
    return int(count)


def sweep_expired(connection: Connection, now: datetime) -> int:
    result = connection.execute(_SWEEP, {"now": now})
    return int(result.rowcount)
