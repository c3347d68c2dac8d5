"""Who is calling the admin API: a bearer token (``Authorization: Bearer fl_...``).

Every ``/api/v1`` route calls :func:`require_admin` first; the result names the actor the
audit log records. (The admin console's browser session joins here in the pages issue.)
"""

from __future__ import annotations

import attrs
from sqlmodel import Session
from starlette.requests import Request

from fedlogin.errors import FedloginError
from fedlogin.store import admins
from fedlogin.web.context import app_context


class Unauthenticated(FedloginError):
    code = "unauthenticated"
    status = 401

    def __init__(self, message: str, *, hint: str, token_sent: bool) -> None:
        super().__init__(message, hint=hint)
        self.token_sent = token_sent

    def headers(self) -> dict[str, str]:
        # RFC 6750 section 3: name the scheme; say invalid_token only when a token was sent.
        challenge = 'Bearer realm="fedlogin"'
        if self.token_sent:
            challenge += ', error="invalid_token"'
        return {"WWW-Authenticate": challenge}


@attrs.frozen
class AdminPrincipal:
    username: str
    #: The API token's name, when the call was made with one.
    token_name: str | None = None

    @property
    def actor(self) -> str:
        """How the audit log names this caller."""
        if self.token_name:
            return f"{self.username} (token {self.token_name})"
        return self.username


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


async def require_admin(request: Request) -> AdminPrincipal:
    token = bearer_token(request)
    if token is None:
        raise Unauthenticated(
            "This API needs an admin token: send `Authorization: Bearer <token>`.",
            hint="Create one with `fedlogin admin token NAME`.",
            token_sent=False,
        )

    def check(session: Session) -> AdminPrincipal | None:
        row = admins.verify_api_token(session, token)
        if row is None:
            return None
        return AdminPrincipal(admins.token_owner(session, row).username, row.name)

    principal = await app_context(request).transaction(check)
    if principal is None:
        raise Unauthenticated(
            "The admin token is not valid (unknown or revoked).",
            hint="Create a new one with `fedlogin admin token NAME`.",
            token_sent=True,
        )
    request.state.admin = principal
    return principal
