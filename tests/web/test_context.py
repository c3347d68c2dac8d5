"""The app context's database transactions: off the event loop, queued by the pool's size."""

from __future__ import annotations

import asyncio
import threading

from fedlogin.web.context import AppContext
from sqlmodel import Session


async def test_a_slow_transaction_does_not_stall_the_event_loop(context: AppContext) -> None:
    release = threading.Event()

    def slow(session: Session) -> bool:
        # On the event loop this would wait out its timeout: nothing could set the event.
        return release.wait(timeout=5)

    transaction = asyncio.create_task(context.transaction(slow))
    await asyncio.sleep(0.01)
    release.set()
    assert await transaction is True
    await context.close()


async def test_more_transactions_than_connections_queue_and_all_finish(
    context: AppContext,
) -> None:
    running = 0
    most = 0
    lock = threading.Lock()

    def work(session: Session) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        threading.Event().wait(0.01)
        with lock:
            running -= 1
        return 1

    count = context.database.max_connections * 2
    results = await asyncio.gather(*(context.transaction(work) for _ in range(count)))
    assert sum(results) == count
    assert most <= context.database.max_connections
    await context.close()
