"""Prepared statements write and read what SQLAlchemy's ``execute`` writes and reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy
import sqlmodel
from fedlogin.store.database import Database
from fedlogin.store.prepared import PreparedStatement, loaded
from fedlogin.store.tables import AuditEntry, User, table_of
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

_AUDIT = table_of(AuditEntry)
_USERS = table_of(User)
_AT = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
_ENTRY = {
    "at": _AT,
    "actor": "admin",
    "action": "provider.update",
    "target_type": "provider",
    "target_id": "7",
    "before": {"name": "Old", "domains": ["a.example"]},
    "after": None,
}
_INSERT_ENTRY = PreparedStatement(
    insert(_AUDIT).values({name: bindparam(name) for name in _ENTRY}).returning(_AUDIT.c.id)
)
_ENTRIES_SINCE = PreparedStatement(
    select(_AUDIT).where(_AUDIT.c.at >= bindparam("since")).order_by(_AUDIT.c.id)
)
_NEW_USER = {
    "username": "ada",
    "email": "ada@example.com",
    "email_verified": True,
    "disabled": False,
    "created_at": _AT,
}
_INSERT_USER = PreparedStatement(
    insert(_USERS).values({name: bindparam(name) for name in _NEW_USER}).returning(_USERS.c.id)
)
_DISABLE = PreparedStatement(
    update(_USERS).where(_USERS.c.username == bindparam("name")).values(disabled=True)
)


def test_rows_come_back_as_sqlalchemy_reads_them(db: Database) -> None:
    with db.engine.begin() as connection:
        ((entry_id,),) = _INSERT_ENTRY.rows(connection, _ENTRY)
        rows = _ENTRIES_SINCE.rows(connection, {"since": _AT - timedelta(seconds=1)})
        expected = connection.execute(select(_AUDIT)).all()
    assert [tuple(row) for row in expected] == rows
    (row,) = rows
    entry = dict(zip(_ENTRIES_SINCE.keys, row, strict=True))
    assert entry == {"id": entry_id, **_ENTRY}
    assert entry["at"].tzinfo is not None  # aware UTC on SQLite too


def test_what_it_writes_reads_back_through_the_orm(db: Database) -> None:
    with db.engine.begin() as connection:
        _INSERT_ENTRY.rows(connection, _ENTRY)
        _INSERT_USER.rows(connection, _NEW_USER)
        assert _DISABLE.run(connection, {"name": "ada"}) == 1
    with db.session() as session:
        (entry,) = session.exec(sqlmodel.select(AuditEntry)).all()
        (user,) = session.exec(sqlmodel.select(User)).all()
    assert (entry.at, entry.before, entry.after) == (_AT, _ENTRY["before"], None)
    assert (user.disabled, user.email_verified) == (True, True)


def test_it_runs_in_the_callers_transaction(db: Database) -> None:
    with pytest.raises(RuntimeError), db.transaction() as session:
        _INSERT_ENTRY.rows(session.connection(), _ENTRY)
        raise RuntimeError("rolled back")
    with db.engine.connect() as connection:
        assert _ENTRIES_SINCE.rows(connection, {"since": _AT - timedelta(days=1)}) == []


def test_a_duplicate_key_is_sqlalchemys_integrity_error_without_the_parameters(
    db: Database,
) -> None:
    with db.engine.begin() as connection:
        _INSERT_USER.rows(connection, _NEW_USER)
    with pytest.raises(IntegrityError) as caught, db.engine.begin() as connection:
        _INSERT_USER.rows(connection, {**_NEW_USER, "email": "secret-value@example.com"})
    assert "secret-value" not in str(caught.value)


def test_a_missing_parameter_is_an_error_not_a_default(db: Database) -> None:
    with pytest.raises(KeyError), db.engine.begin() as connection:
        _INSERT_USER.rows(connection, {"username": "bob"})


def test_in_lists_are_refused(db: Database) -> None:
    statement = PreparedStatement(select(_USERS.c.id).where(_USERS.c.id.in_([1, 2])))
    with pytest.raises(ValueError, match="IN lists"), db.engine.begin() as connection:
        statement.rows(connection, {})


def test_loaded_objects_are_the_rows_as_the_orm_loads_them(db: Database) -> None:
    with db.engine.begin() as connection:
        ((user_id,),) = _INSERT_USER.rows(connection, _NEW_USER)
    with db.session() as session:
        from_orm = session.get(User, user_id)
    assert from_orm is not None
    with db.engine.connect() as connection:
        row = connection.execute(select(_USERS)).one()
    user = loaded(User, row._asdict())
    assert user.model_dump() == from_orm.model_dump()
    assert sqlalchemy.inspect(user).detached
    # Detached, not new: changed in a later session, it is updated, not inserted again.
    with db.transaction() as session:
        session.add(user)
        user.name = "Ada Lovelace"
    with db.session() as session:
        (stored,) = session.exec(sqlmodel.select(User)).all()
    assert (stored.id, stored.name) == (user_id, "Ada Lovelace")
