"""Pending flows: single use across processes, bound to one browser, expiring."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

from fedlogin.signin import pending
from fedlogin.store.database import Database
from fedlogin.store.tables import IdentityProvider, PendingFlow
from fedlogin.store.types import utcnow
from sqlmodel import select


def make_provider(db: Database) -> int:
    with db.transaction() as session:
        row = IdentityProvider(
            identifier="corp",
            name="Corp",
            preset="generic-oidc",
            domain="idp.example.com",
            client_id="c",
            button_text="Login with Corp",
        )
        session.add(row)
        session.flush()
        assert row.id is not None
        return row.id


def add_flow(
    db: Database,
    state: str = "state-1",
    browser: str = "browser-1",
    *,
    provider_id: int | None = None,
    now: datetime | None = None,
) -> None:
    provider_id = provider_id or make_provider(db)
    with db.engine.begin() as connection:
        pending.create_flow(
            connection,
            state=state,
            browser=browser,
            provider_id=provider_id,
            nonce="n",
            code_verifier="v" * 64,
            redirect_uri="http://testserver/auth/callback/corp",
            next_url="/account",
            brand_id=None,
            now=now or utcnow(),
        )


def test_only_hashes_of_state_and_browser_are_stored(db: Database) -> None:
    add_flow(db)
    with db.session() as session:
        row = session.exec(select(PendingFlow)).one()
    assert "state-1" not in (row.state_hash, row.browser_hash)
    assert len(row.state_hash) == 64
    assert row.expires_at - row.created_at == pending.FLOW_LIFETIME


def test_a_flow_is_consumed_once(db: Database) -> None:
    add_flow(db)
    with db.engine.begin() as connection:
        flow = pending.consume_flow(connection, "state-1")
        assert flow is not None and flow.next_url == "/account"
        assert pending.bound_to(flow, "browser-1")
        assert not pending.bound_to(flow, "browser-2")
        assert not pending.bound_to(flow, None)
    with db.engine.begin() as connection:
        assert pending.consume_flow(connection, "state-1") is None
        assert pending.consume_flow(connection, "never-issued") is None


def test_two_transactions_racing_for_one_state_get_it_once(db: Database) -> None:
    add_flow(db)
    results: list[pending.ConsumedFlow | None] = []
    first = db.engine.connect()
    got_first = pending.consume_flow(first, "state-1")

    def other_process() -> None:
        with db.engine.begin() as connection:
            results.append(pending.consume_flow(connection, "state-1"))

    racer = threading.Thread(target=other_process)
    racer.start()
    time.sleep(0.3)  # the other transaction is now waiting for our row (or write lock)
    first.commit()
    first.close()
    racer.join(timeout=10)
    assert got_first is not None
    assert results == [None]


def test_expired_flows_are_swept_and_fresh_ones_kept(db: Database) -> None:
    provider_id = make_provider(db)
    add_flow(db, "old", provider_id=provider_id, now=utcnow() - timedelta(minutes=11))
    add_flow(db, "new", provider_id=provider_id)
    with db.engine.begin() as connection:
        assert pending.sweep_expired(connection, utcnow()) == 1
    with db.session() as session:
        assert len(session.exec(select(PendingFlow)).all()) == 1


def test_recent_flows_count_one_browser_only(db: Database) -> None:
    provider_id = make_provider(db)
    for i in range(3):
        add_flow(db, f"s{i}", "mine", provider_id=provider_id)
    add_flow(db, "theirs", "other", provider_id=provider_id)
    with db.engine.begin() as connection:
        since = utcnow() - timedelta(minutes=1)
        assert pending.recent_flows(connection, "mine", since) == 3
        assert pending.recent_flows(connection, "mine", utcnow() + timedelta(seconds=1)) == 0
