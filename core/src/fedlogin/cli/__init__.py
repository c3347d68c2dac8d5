"""The ``fedlogin`` command line: one module per command group.

==============  ==================================================================
``serve``       run the server; migrates a fresh SQLite database; prints the
                one-time setup link while no admin exists
``db``          ``upgrade`` and ``status`` of the schema
``admin``       ``create``, ``token``, ``tokens``, ``revoke``, ``unlock``
``providers``   ``list``, ``show``, ``test`` (Test Connection)
``plugins``     ``plugins list``, ``presets list|show``
==============  ==================================================================

They share one rule: a bad argument, a database without the schema, an unknown name or a
broken plugin ends in one readable line on stderr and a non-zero exit status (2; 1 for a
connection test that ran and failed), never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from sqlalchemy.exc import SQLAlchemyError

from fedlogin.cli import admin, db, plugins, providers, serve
from fedlogin.cli.common import Command
from fedlogin.errors import FedloginError
from fedlogin.store.fields import ValidationFailed

#: Exit status of a refused command (argparse uses the same for bad arguments).
EXIT_REFUSED = 2
GROUPS = (serve, db, admin, providers, plugins)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fedlogin", description="Federated login server.")
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")
    for group in GROUPS:
        group.register(groups)
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Command = args.handler
    try:
        return handler(args, out or sys.stdout)
    except FedloginError as exc:
        return _refuse(_explain(exc))
    except SQLAlchemyError as exc:
        # The database is unreachable or refused the statement; psycopg and sqlite3 messages
        # name the server or file, never the password.
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        return _refuse(f"The database could not be used: {reason}")
    except KeyboardInterrupt:
        return 130


def _explain(exc: FedloginError) -> str:
    message = exc.message
    if isinstance(exc, ValidationFailed) and len(exc.fields) > 1:
        message += " " + "; ".join(f"{field}: {text}" for field, text in exc.fields.items())
    if exc.hint:
        message += f" {exc.hint}"
    return message


def _refuse(message: str) -> int:
    sys.stderr.write("fedlogin: " + " ".join(message.split()) + "\n")
    return EXIT_REFUSED
