"""The hostile provider's HTTP endpoints (Starlette), each recording what it received."""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote_plus, urlencode

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.support.hostile_jose import b64url

if TYPE_CHECKING:
    from tests.support.hostile_op import HostileOP


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the provider received it (header names lower-cased)."""

    endpoint: str  # discovery, jwks, attacker_jwks, authorize, token, userinfo
    method: str
    url: str
    headers: Mapping[str, str]
    query: Mapping[str, str]
    form: Mapping[str, str]

    def basic_credentials(self) -> tuple[str, str] | None:
        """``(client_id, client_secret)`` from HTTP Basic, form-url-decoded (RFC 6749 2.3.1)."""
        scheme, _, value = self.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        client_id, sep, secret = decoded.partition(":")
        return (unquote_plus(client_id), unquote_plus(secret)) if sep else None

    def bearer_token(self) -> str | None:
        scheme, _, value = self.headers.get("authorization", "").partition(" ")
        return value if scheme.lower() == "bearer" and value else None


@dataclass
class Grant:
    """What an authorization request left for the token and UserInfo endpoints."""

    client_id: str
    redirect_uri: str
    scope: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    access_token: str | None = None
    sub: str | None = None


async def _record(op: HostileOP, endpoint: str, request: Request) -> RecordedRequest:
    form: dict[str, str] = {}
    if request.method == "POST":
        form = dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))
    recorded = RecordedRequest(
        endpoint=endpoint,
        method=request.method,
        url=str(request.url),
        headers={k.lower(): v for k, v in request.headers.items()},
        query=dict(request.query_params),
        form=form,
    )
    op.record(recorded)
    return recorded


def _oauth_error(status: int, error: str, description: str) -> JSONResponse:
    headers = {"WWW-Authenticate": 'Basic realm="hostile"'} if status == 401 else {}
    body = {"error": error, "error_description": description}
    return JSONResponse(body, status_code=status, headers=headers)


def routes(op: HostileOP) -> list[Route]:
    async def discovery(request: Request) -> Response:
        await _record(op, "discovery", request)
        return JSONResponse(op.discovery())

    async def jwks(request: Request) -> Response:
        await _record(op, "jwks", request)
        return JSONResponse(op.jwks(), media_type="application/jwk-set+json")

    async def attacker_jwks(request: Request) -> Response:
        await _record(op, "attacker_jwks", request)
        return JSONResponse(op.attacker_jwks(), media_type="application/jwk-set+json")

    async def authorize(request: Request) -> Response:
        params = (await _record(op, "authorize", request)).query
        if params.get("client_id") != op.client_id:
            return HTMLResponse("<h1>unknown client_id</h1>", status_code=400)
        redirect_uri = params.get("redirect_uri")
        if not redirect_uri:
            return HTMLResponse("<h1>redirect_uri is required</h1>", status_code=400)
        bend = op.bend
        answer: dict[str, str] = {}
        if bend.authorize_error:
            answer["error"] = bend.authorize_error
            if bend.authorize_error_description is not None:
                answer["error_description"] = bend.authorize_error_description
        else:
            code = secrets.token_urlsafe(24)
            op.codes[code] = Grant(
                client_id=op.client_id,
                redirect_uri=redirect_uri,
                scope=params.get("scope", ""),
                nonce=params.get("nonce"),
                code_challenge=params.get("code_challenge"),
                code_challenge_method=params.get("code_challenge_method"),
            )
            answer["code"] = code
        if "state" in params:
            answer["state"] = params["state"]
        if not bend.omit_callback_iss:
            answer["iss"] = bend.callback_iss if bend.callback_iss is not None else op.issuer
        separator = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(f"{redirect_uri}{separator}{urlencode(answer)}", status_code=302)

    async def token(request: Request) -> Response:
        recorded = await _record(op, "token", request)
        bend = op.bend
        if bend.token_error:
            status = 401 if bend.token_error == "invalid_client" else 400
            return _oauth_error(status, bend.token_error, "the hostile provider says no")
        problem = _client_problem(op, recorded)
        if problem:
            return _oauth_error(401, "invalid_client", problem)
        form = recorded.form
        if form.get("grant_type") != "authorization_code":
            return _oauth_error(400, "unsupported_grant_type", "only authorization_code")
        grant = op.codes.pop(form.get("code", ""), None)
        if grant is None:
            return _oauth_error(400, "invalid_grant", "unknown or used code")
        if form.get("redirect_uri") != grant.redirect_uri:
            return _oauth_error(400, "invalid_grant", "redirect_uri differs from the authorize one")
        problem = _pkce_problem(op, grant, form.get("code_verifier"))
        if problem:
            return _oauth_error(400, "invalid_grant", problem)
        access_token = secrets.token_urlsafe(32)
        grant.access_token, grant.sub = access_token, op.subject()
        op.access_tokens[access_token] = grant
        body: dict[str, Any] = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "scope": grant.scope,
        }
        if not bend.omit_id_token:
            body["id_token"] = op.sign_id_token(op.id_token_claims(grant, access_token))
        return JSONResponse(body, headers={"Cache-Control": "no-store"})

    async def userinfo(request: Request) -> Response:
        recorded = await _record(op, "userinfo", request)
        # RFC 6750 section 2.1 only: a token in the query or the body is not accepted here.
        grant = op.access_tokens.get(recorded.bearer_token() or "")
        if grant is None:
            return Response(
                status_code=401, headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
            )
        sub = op.bend.userinfo_sub if op.bend.userinfo_sub is not None else grant.sub
        return JSONResponse({**op.claims, "sub": sub})

    return [
        Route("/.well-known/openid-configuration", discovery),
        Route("/jwks", jwks),
        Route("/attacker/jwks", attacker_jwks),
        Route("/authorize", authorize),
        Route("/token", token, methods=["POST"]),
        Route("/userinfo", userinfo, methods=["GET", "POST"]),
    ]


def _client_problem(op: HostileOP, recorded: RecordedRequest) -> str | None:
    basic = recorded.basic_credentials()
    form = recorded.form
    client_id: str
    secret: str | None
    if basic is not None:
        client_id, secret = basic
    else:
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
    if client_id != op.client_id:
        return "unknown client"
    if op.client_secret is None:
        return None if secret is None else "a public client has no secret"
    return None if secret == op.client_secret else "wrong client secret"


def _pkce_problem(op: HostileOP, grant: Grant, verifier: str | None) -> str | None:
    if grant.code_challenge is None:
        return "PKCE is required" if op.require_pkce else None
    if grant.code_challenge_method != "S256":
        return "only S256 is accepted"
    if verifier is None:
        return "code_verifier missing"
    expected = b64url(hashlib.sha256(verifier.encode("utf-8")).digest())
    return None if expected == grant.code_challenge else "code_verifier does not match"
