"""Cheap argon2 for tests that check many passwords.

Production parameters cost a few hundred milliseconds per hash on the test machines; the
suites that sign in with passwords dozens of times swap in the smallest parameters argon2
accepts. Behaviour is the same — the same code paths hash and verify — only cheaper. The
dummy hash (verified for unknown names) is rebuilt with the cheap parameters too.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from fedlogin.accounts import passwords

CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture
def fast_passwords(monkeypatch: pytest.MonkeyPatch) -> Iterator[PasswordHasher]:
    passwords._dummy_hash.cache_clear()
    monkeypatch.setattr(passwords, "_hasher", CHEAP)
    yield CHEAP
    passwords._dummy_hash.cache_clear()
