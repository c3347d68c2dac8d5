"""Accounts fixtures: a session on the shared ``db`` fixture (SQLite and PostgreSQL) and a
provider row to link identities to."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fedlogin.store.database import Database
from fedlogin.store.tables import IdentityProvider, User
from sqlmodel import Session


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    with db.session() as session:
        yield session


@pytest.fixture
def provider(session: Session) -> IdentityProvider:
    row = IdentityProvider(
        identifier="corp",
        name="Corp SSO",
        preset="generic-oidc",
        domain="idp.example.com",
        client_id="client",
        button_text="Login with Corp SSO",
    )
    session.add(row)
    session.commit()
    return row


def add_user(session: Session, username: str, email: str | None, *, verified: bool) -> User:
    user = User(username=username, email=email, email_verified=verified)
    session.add(user)
    session.commit()
    return user
