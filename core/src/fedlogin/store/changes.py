"""The configuration version: how every process notices an admin change cheaply (X4).

Every admin change calls :func:`begin_admin_change` *first* in its transaction. It bumps
the single ``config_version`` row, which does two things:

* processes that cache configuration (providers, settings, brands) compare the version with
  :func:`config_version` — one primary-key read — and reload when it moved;
* the row lock taken by the ``UPDATE`` serialises admin changes on PostgreSQL (and SQLite
  serialises writers anyway), so the checks the services make before writing (identifier
  and host uniqueness, providers named in settings) cannot race with another admin.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from fedlogin.store.tables import ConfigVersion

_ROW_ID = 1


def config_version(session: Session) -> int:
    row = session.get(ConfigVersion, _ROW_ID)
    return row.version if row else 0


def begin_admin_change(session: Session) -> int:
    """Bump the configuration version (taking the admin-change lock); return the new one."""
    statement = (
        update(ConfigVersion)
        .where(col(ConfigVersion.id) == _ROW_ID)
        .values(version=col(ConfigVersion.version) + 1)
        .returning(col(ConfigVersion.version))
    )
    new = session.execute(statement, execution_options={"synchronize_session": False}).scalar()
    if new is not None:
        session.expire_all()  # rows read before the lock may be stale
        return int(new)
    # The row is created by the initial migration; recreate it if someone removed it.
    try:
        with session.begin_nested():
            session.add(ConfigVersion(id=_ROW_ID, version=1))
    except IntegrityError:
        return begin_admin_change(session)
    return 1
