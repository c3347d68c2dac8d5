"""Mail fixtures: a real SMTP server (aiosmtpd on 127.0.0.1) and a context to deliver with."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import attrs
from fedlogin.config import Config
from fedlogin.store.database import Database
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from tests.support.smtp import smtp_sink

__all__ = ["MailContext", "smtp_sink"]
T = TypeVar("T")


@attrs.define
class MailContext:
    """What fedlogin.mail.delivery needs of the app context: the settings and transactions."""

    config: Config
    database: Database

    def transaction(self, work: Callable[[Session], T]) -> Awaitable[T]:
        def run() -> T:
            with self.database.transaction() as session:
                return work(session)

        return run_in_threadpool(run)


def config(tmp_path: Any, **values: Any) -> Config:
    return Config(data_dir=tmp_path, **values)
