"""``fedlogin db upgrade`` and ``fedlogin db status``: the schema revision of the database.

``serve`` migrates only a fresh SQLite database by itself; every other upgrade (a shared
PostgreSQL database, a newer fedlogin on an existing file) is this explicit step, run once
before the new version serves.
"""

from __future__ import annotations

import argparse
from typing import TextIO

from fedlogin.cli.common import Subparsers, describe_database, open_database
from fedlogin.store import migrate


def _upgrade(args: argparse.Namespace, out: TextIO) -> int:
    with open_database(check_schema=False) as (_, database):
        before = migrate.current_revision(database)
        migrate.upgrade(database)
        after = migrate.current_revision(database)
    out.write(f"Database: {describe_database(database)}\n")
    if before == after:
        out.write(f"Already at the newest revision {after}; nothing to do.\n")
    else:
        out.write(f"Upgraded from {_revision(before)} to revision {after}.\n")
    return 0


def _status(args: argparse.Namespace, out: TextIO) -> int:
    with open_database(check_schema=False) as (_, database):
        current = migrate.current_revision(database)
    head = migrate.head_revision()
    out.write(f"Database: {describe_database(database)}\n")
    out.write(f"Current:  {_revision(current)}\nNewest:   revision {head}\n")
    if current == head:
        out.write("Up to date.\n")
        return 0
    out.write("Run `fedlogin db upgrade` to migrate.\n")
    return 1


def _revision(revision: str | None) -> str:
    return "no schema (a fresh database)" if revision is None else f"revision {revision}"


def register(groups: Subparsers) -> None:
    group = groups.add_parser("db", help="the database schema")
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser(
        "upgrade", help="migrate the database to the newest schema revision"
    ).set_defaults(handler=_upgrade)
    actions.add_parser(
        "status",
        help="current and newest schema revision (exit status 1 when an upgrade is due)",
    ).set_defaults(handler=_status)
