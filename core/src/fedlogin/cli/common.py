"""What the command groups share: settings, the database, tables, and the one error rule.

Every command ends a refusal with :class:`CommandError` (or any other
:class:`~fedlogin.errors.FedloginError`); :func:`fedlogin.cli.main` prints it as one line on
stderr and exits non-zero. Nothing here prints a secret: database URLs are shown with the
password hidden.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TextIO, TypeAlias

from fedlogin.config import Config
from fedlogin.errors import FedloginError
from fedlogin.store import migrate
from fedlogin.store.database import Database

#: A command: parsed arguments and stdout in, exit status out.
Command = Callable[[argparse.Namespace, TextIO], int]
#: ``groups.add_parser`` of the top-level parser (argparse keeps its class private).
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class CommandError(FedloginError):
    """A command cannot do what was asked; the message says what to do instead."""

    code = "command_failed"


@contextmanager
def open_database(*, check_schema: bool = True) -> Iterator[tuple[Config, Database]]:
    """The settings and the configured database, disposed of when the command is done.

    With ``check_schema`` (every command but ``db``) the database must be at the newest
    schema revision: a missing or outdated schema ends the command with the
    ``fedlogin db upgrade`` advice (:class:`~fedlogin.store.migrate.SchemaOutdated`) before
    anything is read or written.
    """
    config = Config.from_env()
    database = Database.from_config(config)
    try:
        if check_schema:
            migrate.check_schema(database)
        yield config, database
    finally:
        database.dispose()


def describe_database(database: Database) -> str:
    """Where the data is, for people: the SQLite file, or the URL without its password."""
    if database.is_sqlite:
        return f"SQLite file {database.url.database}"
    return f"PostgreSQL {database.url.render_as_string(hide_password=True)}"


def write_table(out: TextIO, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Columns padded to their widest cell, separated by two spaces."""
    table = [list(header), *(list(row) for row in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        line = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        out.write(line.rstrip() + "\n")
