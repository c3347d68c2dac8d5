"""``/api/v1/users``: platform users for admins — list, show, create, change, disable,
unlock (issue 5).

The services (fedlogin.accounts.admin_users, .lockouts) validate and audit; this module adds
HTTP. Lists are newest first and paged by id like the audit log (``next_before``). A view
never holds a password hash, only ``has_password``. Disabling a user ends their sessions at
once. ``sign_in_locked_until`` says when a lock after repeated wrong passwords ends;
``unlock`` lifts it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fedlogin.accounts import admin_users, lockouts
from fedlogin.accounts.identities import identities_of
from fedlogin.accounts.passwords import hash_password
from fedlogin.store.types import utcnow
from fedlogin.web.admin_auth import require_admin
from fedlogin.web.api.io import ok, read_json
from fedlogin.web.api.openapi import Operation
from fedlogin.web.api.params import InvalidParameter, flag, integer, query
from fedlogin.web.api.routing import resource
from fedlogin.web.context import app_context

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_QUERY = 200
_MAX_ID = 2**63 - 1
View = dict[str, Any]


def user_id(request: Request) -> int:
    raw = request.path_params["id"]
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
        raise admin_users.UserNotFound(f"There is no user {raw!r}: user ids are numbers.")
    return int(raw)


def _view(session: Session, user_number: int) -> View:
    user = admin_users.get_user(session, user_number)
    locked_until = lockouts.user_locked_until(session, user, utcnow())
    return admin_users.user_fields(user, identities_of(session, user_number), locked_until)


async def list_users(request: Request) -> Response:
    await require_admin(request)
    params = query(request, ["limit", "before", "q", "email", "disabled"])
    limit = integer(params, "limit", default=DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
    before = integer(params, "before", default=None, minimum=1, maximum=_MAX_ID)
    disabled = flag(params, "disabled") if "disabled" in params else None
    for name in ("q", "email"):
        if len(params.get(name, "")) > MAX_QUERY:
            message = f"{name} must be at most {MAX_QUERY} characters."
            raise InvalidParameter(message, fields={name: message})
    assert limit is not None

    def load(session: Session) -> list[View]:
        rows = admin_users.list_users(
            session,
            q=params.get("q") or None,
            email=params.get("email"),
            disabled=disabled,
            before_id=before,
            limit=limit,
        )
        linked = admin_users.identities_by_user(session, [row.id for row in rows if row.id])
        locked = lockouts.users_locked_until(session, rows, utcnow())
        return [
            admin_users.user_fields(row, linked.get(row.id or 0, []), locked.get(row.id or 0))
            for row in rows
        ]

    users = await app_context(request).transaction(load)
    full = len(users) == limit
    return ok({"users": users, "next_before": users[-1]["id"] if full else None})


async def create_user(request: Request) -> Response:
    principal = await require_admin(request)
    new = admin_users.read_new_user(await read_json(request))
    password_hash = None
    if new.password is not None:
        password_hash = await run_in_threadpool(hash_password, new.password)

    def run(session: Session) -> View:
        user = admin_users.create_user(
            session, new, password_hash=password_hash, actor=principal.actor
        )
        # A name can be locked before its user exists (guesses at a name nobody had yet).
        locked_until = lockouts.user_locked_until(session, user, utcnow())
        return admin_users.user_fields(user, locked_until=locked_until)

    view = await app_context(request).transaction(run)
    location = str(request.url_for("user", id=str(view["id"])))
    return ok(view, 201, {"Location": location})


async def show_user(request: Request) -> Response:
    await require_admin(request)
    number = user_id(request)
    return ok(await app_context(request).transaction(lambda s: _view(s, number)))


async def update_user(request: Request) -> Response:
    principal = await require_admin(request)
    number = user_id(request)
    body = await read_json(request)

    def run(session: Session) -> View:
        admin_users.update_user(session, number, body, actor=principal.actor)
        return _view(session, number)

    return ok(await app_context(request).transaction(run))


def _switch(disabled: bool) -> Callable[[Request], Any]:
    async def switch(request: Request) -> Response:
        principal = await require_admin(request)
        number = user_id(request)

        def run(session: Session) -> View:
            admin_users.set_disabled(session, number, disabled, actor=principal.actor)
            return _view(session, number)

        return ok(await app_context(request).transaction(run))

    switch.__name__ = "disable_user" if disabled else "enable_user"
    return switch


async def unlock_user(request: Request) -> Response:
    """Lift the lock on the user's password sign-in names (nothing to lift is not an error)."""
    principal = await require_admin(request)
    number = user_id(request)

    def run(session: Session) -> View:
        user = admin_users.get_user(session, number)
        lockouts.unlock_user(session, user, actor=principal.actor, now=utcnow())
        return _view(session, number)

    return ok(await app_context(request).transaction(run))


async def user_identities(request: Request) -> Response:
    await require_admin(request)
    number = user_id(request)

    def load(session: Session) -> list[View]:
        admin_users.get_user(session, number)
        return [
            admin_users.identity_fields(identity, provider)
            for identity, provider in identities_of(session, number)
        ]

    return ok({"identities": await app_context(request).transaction(load)})


ROUTES = [
    resource("/users", {"GET": list_users, "POST": create_user}),
    resource("/users/{id}", {"GET": show_user, "PATCH": update_user}, name="user"),
    Route("/users/{id}/identities", user_identities, methods=["GET"]),
    Route("/users/{id}/disable", _switch(True), methods=["POST"]),
    Route("/users/{id}/enable", _switch(False), methods=["POST"]),
    Route("/users/{id}/unlock", unlock_user, methods=["POST"]),
]

# -- OpenAPI ----------------------------------------------------------------------------------

_TIME = {"type": "string", "format": "date-time", "readOnly": True}
IDENTITY = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "provider": {"type": "string", "description": "The provider's identifier."},
        "provider_name": {"type": "string"},
        "issuer": {"type": "string"},
        "subject": {"type": "string"},
        "email": {"type": ["string", "null"], "description": "As the provider last gave it."},
        "linked_at": {"type": "string", "format": "date-time"},
        "last_used_at": {"type": ["string", "null"], "format": "date-time"},
    },
}
_USER_FIELDS: dict[str, Any] = {
    "id": {"type": "integer", "readOnly": True},
    "username": {"type": "string", "pattern": admin_users.USERNAME_PATTERN.pattern},
    "email": {"type": ["string", "null"], "format": "email"},
    "email_verified": {"type": "boolean"},
    "name": {"type": ["string", "null"], "maxLength": 255},
    "disabled": {"type": "boolean"},
    "has_password": {"type": "boolean", "readOnly": True},
    "created_at": _TIME,
    "identities": {"type": "array", "items": IDENTITY, "readOnly": True},
    "sign_in_locked_until": {
        "type": ["string", "null"],
        "format": "date-time",
        "readOnly": True,
        "description": "Until when password sign-in is refused after repeated wrong passwords "
        "for the username or email address (null: not locked); POST .../unlock lifts it.",
    },
}
USER = {"type": "object", "properties": _USER_FIELDS}
USER_CREATE = {
    "type": "object",
    "required": ["username"],
    "additionalProperties": False,
    "properties": {
        "username": _USER_FIELDS["username"],
        "email": {"type": ["string", "null"], "format": "email"},
        "email_verified": {
            "type": "boolean",
            "description": "The admin vouches for the address (it can then match a provider's "
            "trusted email). Default false.",
        },
        "name": {"type": ["string", "null"], "maxLength": 255},
        "password": {
            "type": "string",
            "writeOnly": True,
            "minLength": 10,
            "maxLength": 1024,
            "description": "Optional: without one the user signs in through a provider.",
        },
    },
}
USER_UPDATE = {
    "type": "object",
    "description": "Read-only fields may be sent back unchanged; a new email is unverified "
    "unless email_verified says otherwise; disabled ends the user's sessions.",
    "properties": {
        key: _USER_FIELDS[key] for key in ("email", "email_verified", "name", "disabled")
    },
}
_NOT_FOUND = {404: "There is no such user (user_not_found)."}
_INVALID = {
    400: "The body is malformed (invalid_json).",
    413: "The body is too large (too_large).",
    415: "The body is not JSON (unsupported_media_type).",
    422: "Fields are invalid (username_taken, email_taken, invalid_username, invalid_email, "
    "password_too_short, password_is_login_name, ...): `fields` and `field_codes` say which.",
}

OPERATIONS = [
    Operation(
        "GET",
        "/users",
        "Users with their identities, newest first",
        "users",
        query={
            "limit": f"Users per page, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT}).",
            "before": "Only users with a smaller id: the previous page's next_before.",
            "q": "Part of the username, email or name (any case).",
            "email": "This exact address (any case).",
            "disabled": "true or false.",
        },
        response={
            "type": "object",
            "properties": {
                "users": {"type": "array", "items": USER},
                "next_before": {"type": ["integer", "null"]},
            },
        },
        errors={400: "A parameter is unknown or out of range (invalid_parameter)."},
    ),
    Operation(
        "POST",
        "/users",
        "Create a user, with or without a password",
        "users",
        request=USER_CREATE,
        response=USER,
        status=201,
        errors=_INVALID,
    ),
    Operation(
        "GET",
        "/users/{id}",
        "A user with identities and email status",
        "users",
        response=USER,
        errors=_NOT_FOUND,
    ),
    Operation(
        "PATCH",
        "/users/{id}",
        "Change a user's email, email_verified, name or disabled",
        "users",
        request=USER_UPDATE,
        response=USER,
        errors={**_INVALID, **_NOT_FOUND},
    ),
    Operation(
        "GET",
        "/users/{id}/identities",
        "The user's linked identity-provider accounts (U3)",
        "users",
        response={
            "type": "object",
            "properties": {"identities": {"type": "array", "items": IDENTITY}},
        },
        errors=_NOT_FOUND,
    ),
    *(
        Operation(
            "POST",
            f"/users/{{id}}/{action}",
            summary,
            "users",
            response=USER,
            errors=_NOT_FOUND,
        )
        for action, summary in (
            ("disable", "Disable a user: their sessions end and every sign-in is refused"),
            ("enable", "Enable a disabled user again"),
            (
                "unlock",
                "Lift the lock on a user's password sign-in after repeated wrong passwords "
                "(username and email address; audited as user.unlock)",
            ),
        )
    ),
]
