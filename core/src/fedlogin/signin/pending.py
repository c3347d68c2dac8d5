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

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from fedlogin.store.admins import token_digest
from fedlogin.store.tables import PendingFlow

FLOW_LIFETIME = timedelta(minutes=10)


def create_flow(
    session: Session,
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
) -> PendingFlow:
    row = PendingFlow(
        state_hash=token_digest(state),
        browser_hash=token_digest(browser),
        provider_id=provider_id,
        purpose=purpose,
        link_user_id=link_user_id,
        nonce=nonce,
        code_verifier=code_verifier,
        redirect_uri=redirect_uri,
        next_url=next_url,
        brand_id=brand_id,
        created_at=now,
        expires_at=now + FLOW_LIFETIME,
    )
    session.add(row)
    session.flush()
    return row


def consume_flow(session: Session, state: str) -> PendingFlow | None:
    """Remove and return the flow of ``state`` (expired or not); ``None`` if there is none.

    The row is gone once this transaction commits, even when the caller then refuses the
    callback: a state is good for one attempt only.
    """
    table = PendingFlow.__table__  # type: ignore[attr-defined]
    statement = (
        delete(PendingFlow)
        .where(col(PendingFlow.state_hash) == token_digest(state))
        .returning(*table.c)
    )
    row = session.execute(statement, execution_options={"synchronize_session": False}).first()
    if row is None:
        return None
    return PendingFlow.model_validate(dict(row._mapping))


def bound_to(flow: PendingFlow, browser: str | None) -> bool:
    """Whether ``browser`` (the cookie value) is the browser that started ``flow``."""
    if not browser:
        return False
    return hmac.compare_digest(flow.browser_hash, token_digest(browser))


def recent_flows(session: Session, browser: str, since: datetime) -> int:
    """How many unfinished flows this browser started since ``since`` (loop detection)."""
    query = select(func.count()).where(
        col(PendingFlow.browser_hash) == token_digest(browser),
        col(PendingFlow.created_at) >= since,
    )
    return int(session.exec(query).one())


def sweep_expired(session: Session, now: datetime) -> int:
    result = session.execute(
        delete(PendingFlow).where(col(PendingFlow.expires_at) <= now),
        execution_options={"synchronize_session": False},
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
