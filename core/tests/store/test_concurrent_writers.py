"""Transactions that read and then write, at the same time, all commit (SQLite and PostgreSQL).

A sign-in reads (is this identity known?) and then writes (a new user, a session). On SQLite
a deferred ``BEGIN`` lets two such transactions both read; the second one to write then fails
at once with "database is locked", whatever the busy timeout. The store begins SQLite
transactions ``IMMEDIATE``, so the second waits for the first instead.
"""

from __future__ import annotations

import threading

import pytest
from fedlogin.store.database import Database
from fedlogin.store.tables import AuditEntry
from sqlmodel import func, select


@pytest.mark.parametrize("kind", ["transaction", "transaction_on_connection"])
def test_two_transactions_that_read_then_write_both_commit(db: Database, kind: str) -> None:
    have_read = [threading.Event(), threading.Event()]
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            with getattr(db, kind)() as session:
                session.exec(select(AuditEntry)).all()
                have_read[n].set()
                # Both have read, unless the database made this one wait for the other.
                have_read[1 - n].wait(timeout=1.0)
                session.add(
                    AuditEntry(actor=f"writer {n}", action="x", target_type="t", target_id="1")
                )
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert failures == []
    with db.session() as session:
        assert session.exec(select(func.count()).select_from(AuditEntry)).one() == 2
