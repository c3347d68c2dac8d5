"""Users: ``/admin/users`` finds a user, ``/admin/users/{id}`` shows one and lifts a lock.

================================  =================================================
``GET /admin/users``              the newest users, or those matching ``q``
``GET /admin/users/{id}``         a user's account, connected accounts, sign-in lock
``POST /admin/users/{id}/unlock`` lift the lock after repeated wrong passwords
================================  =================================================

The lock and its lifting are :mod:`fedlogin.accounts.lockouts` (audited as ``user.unlock``,
like the API's ``POST /api/v1/users/{id}/unlock``). The button is shown only while the user
is locked; a page left open after the lock ran out posts harmlessly and says so.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from fedlogin.accounts import admin_users, lockouts
from fedlogin.accounts.identities import identities_of
from fedlogin.store.types import utcnow
from fedlogin.web.console.auth import ConsoleAdmin, admin_page
from fedlogin.web.console.layout import console_page
from fedlogin.web.console.paging import before_cursor, next_before
from fedlogin.web.context import app_context

BASE = "/admin/users"
PAGE_SIZE = 50
MAX_QUERY = 200
_NOTICES = {
    "unlocked": "Sign-in is unlocked: the user can sign in with their password again.",
    "not_locked": "Sign-in was not locked (the lock may have run out meanwhile).",
}


def user_url(number: int, done: str | None = None) -> str:
    return f"{BASE}/{number}" + (f"?done={done}" if done else "")


def _number(request: Request) -> int:
    raw = request.path_params["id"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise admin_users.UserNotFound(f"There is no user {raw!r}: user ids are numbers.")
    return int(raw)


def _when(moment: str | datetime | None) -> str | None:
    if moment is None:
        return None
    value = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return value.strftime("%Y-%m-%d %H:%M UTC")


async def _list(request: Request, admin: ConsoleAdmin) -> Response:
    q = request.query_params.get("q", "").strip()[:MAX_QUERY]
    before = before_cursor(request)

    def load(session: Session) -> list[dict[str, Any]]:
        rows = admin_users.list_users(session, q=q or None, before_id=before, limit=PAGE_SIZE)
        locked = lockouts.users_locked_until(session, rows, utcnow())
        return [admin_users.user_fields(row, locked_until=locked.get(row.id or 0)) for row in rows]

    users = await app_context(request).transaction(load)
    for view in users:
        view["locked_label"] = _when(view["sign_in_locked_until"])
    return console_page(
        request,
        admin,
        "console/users.html",
        {
            "title": "Users",
            "users": users,
            "q": q,
            "next_before": next_before([user["id"] for user in users], PAGE_SIZE),
            "paged": before is not None,
        },
    )


async def _show(request: Request, admin: ConsoleAdmin) -> Response:
    number = _number(request)

    def load(session: Session) -> dict[str, Any]:
        user = admin_users.get_user(session, number)
        locked_until = lockouts.user_locked_until(session, user, utcnow())
        return admin_users.user_fields(user, identities_of(session, number), locked_until)

    view = await app_context(request).transaction(load)
    view["locked_label"] = _when(view["sign_in_locked_until"])
    view["created_label"] = _when(view["created_at"])
    for identity in view["identities"]:
        identity["linked_label"] = _when(identity["linked_at"])
    return console_page(
        request,
        admin,
        "console/user.html",
        {
            "title": f"User {view['username']}",
            "user": view,
            "notice": _NOTICES.get(request.query_params.get("done") or ""),
        },
    )


async def _unlock(request: Request, admin: ConsoleAdmin) -> Response:
    number = _number(request)

    def run(session: Session) -> bool:
        user = admin_users.get_user(session, number)
        return lockouts.unlock_user(session, user, actor=admin.principal.actor, now=utcnow())

    was_locked = await app_context(request).transaction(run)
    return RedirectResponse(
        user_url(number, "unlocked" if was_locked else "not_locked"), status_code=303
    )


ROUTES = [
    Route(BASE, admin_page(_list), methods=["GET"], name="console_users"),
    Route(BASE + "/{id}", admin_page(_show), methods=["GET"], name="console_user"),
    Route(BASE + "/{id}/unlock", admin_page(_unlock), methods=["POST"]),
]
