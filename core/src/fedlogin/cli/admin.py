"""``fedlogin admin create|token|tokens|revoke|unlock``: admin users and their API tokens.

A password is never an argument (it would land in the shell history and the process list):
``admin create`` reads it from stdin, one line, or asks twice when stdin is a terminal.
``admin token`` prints the bearer token as its last line, so scripts can take it with
``tail -n 1``; it is shown once and only its SHA-256 is stored.

``admin unlock NAME`` lifts the lock on the admin console's sign-in after too many wrong
passwords (``--address`` also the one on an address). An admin locked out of the console
may have no other way back in than a shell on the server.
"""

from __future__ import annotations

import argparse
import getpass
import ipaddress
import sys
from datetime import datetime
from typing import TextIO

from sqlmodel import Session, col, select

from fedlogin.accounts import lockouts
from fedlogin.cli.common import CommandError, Subparsers, open_database, write_table
from fedlogin.store import admins
from fedlogin.store.tables import AdminUser, ApiToken
from fedlogin.store.types import utcnow

#: How the audit log names changes made from the command line.
CLI_ACTOR = "command line"


def _create(args: argparse.Namespace, out: TextIO) -> int:
    password = _read_password()
    with open_database() as (_, database), database.transaction() as session:
        admin = admins.create_admin(session, args.username, password, actor=CLI_ACTOR)
    out.write(f"Admin {admin.username} created.\n")
    out.write(
        f"Next: `fedlogin admin token NAME --username {admin.username}` makes an API token.\n"
    )
    return 0


def _read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Password, again: ") != first:
            raise CommandError("The two passwords differ; nothing was created.")
        return first
    line = sys.stdin.readline()
    password = line.removesuffix("\n").removesuffix("\r")
    if not password:
        raise CommandError(
            "No password on stdin: pipe it in as one line, e.g. "
            "`printf '%s\\n' \"$PASSWORD\" | fedlogin admin create --username NAME`."
        )
    return password


def _token(args: argparse.Namespace, out: TextIO) -> int:
    with open_database() as (_, database), database.transaction() as session:
        username = args.username or _only_admin(session)
        issued = admins.create_api_token(session, username, args.name, actor=CLI_ACTOR)
    out.write(
        f"API token {issued.row.id} {issued.row.name!r} for admin {username}. "
        "It is shown only now; use it as `Authorization: Bearer <token>`:\n"
    )
    out.write(issued.token + "\n")
    return 0


def _only_admin(session: Session) -> str:
    names = list(session.exec(select(AdminUser.username).order_by(col(AdminUser.username))))
    if not names:
        raise CommandError(
            "There is no admin yet: create one with `fedlogin admin create --username NAME` "
            "(or open the setup link `fedlogin serve` prints)."
        )
    if len(names) > 1:
        raise CommandError(
            f"There are {len(names)} admins ({', '.join(names)}): choose one with --username."
        )
    return names[0]


def _tokens(args: argparse.Namespace, out: TextIO) -> int:
    with open_database() as (_, database), database.session() as session:
        owners = dict(session.exec(select(AdminUser.id, AdminUser.username)).all())
        tokens = admins.list_api_tokens(session)
    if not tokens:
        out.write("No API tokens yet: `fedlogin admin token NAME` makes one.\n")
        return 0
    rows = [
        (
            str(row.id),
            row.name,
            owners.get(row.admin_user_id, "?"),
            row.prefix + "…",
            _when(row.created_at),
            _when(row.last_used_at),
            _when(row.revoked_at),
        )
        for row in tokens
    ]
    write_table(out, ("ID", "NAME", "ADMIN", "PREFIX", "CREATED", "LAST USED", "REVOKED"), rows)
    return 0


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def _revoke(args: argparse.Namespace, out: TextIO) -> int:
    with open_database() as (_, database), database.transaction() as session:
        was_revoked = _is_revoked(session, args.id)
        row = admins.revoke_api_token(session, args.id, actor=CLI_ACTOR)
    state = "was revoked already" if was_revoked else "revoked"
    out.write(f"API token {row.id} {row.name!r} ({row.prefix}…) {state}.\n")
    return 0


def _is_revoked(session: Session, token_id: int) -> bool:
    row = session.get(ApiToken, token_id)
    return row is not None and row.revoked_at is not None


def _unlock(args: argparse.Namespace, out: TextIO) -> int:
    address = _address(args.address)
    with open_database() as (_, database), database.transaction() as session:
        admin = admins.find_admin(session, args.username)
        if admin is None:
            raise CommandError(f"There is no admin {args.username.strip().lower()!r}.")
        was_locked = lockouts.unlock_admin(
            session, admin.username, actor=CLI_ACTOR, now=utcnow(), address=address
        )
    where = f" (and from {address})" if address else ""
    if was_locked:
        out.write(f"Unlocked: {admin.username} can sign in to the admin console again{where}.\n")
    else:
        out.write(f"The admin console's sign-in was not locked for {admin.username}{where}.\n")
        if address is None:
            out.write(
                "If the console still says there were too many failed sign-ins, the lock is "
                "on the address: add --address (the audit log's admin_user.sign_in_failed "
                "entries name it).\n"
            )
    return 0


def _address(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise CommandError(
            f"--address must be an IP address such as 203.0.113.7, not {value!r}."
        ) from None


def register(groups: Subparsers) -> None:
    group = groups.add_parser("admin", help="admin users and API tokens")
    actions = group.add_subparsers(dest="action", required=True, metavar="ACTION")

    create = actions.add_parser(
        "create", help="create an admin; the password is read from stdin (one line)"
    )
    create.add_argument("--username", required=True, help="the admin's username")
    create.set_defaults(handler=_create)

    token = actions.add_parser(
        "token", help="make an API token; the token is the last line of the output"
    )
    token.add_argument("name", help="what the token is for, e.g. ci or terraform")
    token.add_argument("--username", help="the admin it acts as (default: the only admin)")
    token.set_defaults(handler=_token)

    actions.add_parser("tokens", help="list API tokens (never the tokens themselves)").set_defaults(
        handler=_tokens
    )

    revoke = actions.add_parser("revoke", help="revoke an API token by its ID")
    revoke.add_argument("id", type=int, help="the token's ID (see `fedlogin admin tokens`)")
    revoke.set_defaults(handler=_revoke)

    unlock = actions.add_parser(
        "unlock", help="let an admin locked out after wrong passwords sign in to the console"
    )
    unlock.add_argument("username", help="the admin's username")
    unlock.add_argument(
        "--address",
        help="also lift the limit on this client address (the audit log's failed sign-ins name it)",
    )
    unlock.set_defaults(handler=_unlock)
