"""The authorization code flow (OpenID Connect Core 3.1): the client's two requests.

The web layer stores what :func:`new_authorization` returns (state, nonce, PKCE verifier) in
the pending flow and redirects the browser. On the way back it calls
:func:`~fedlogin.oidc.callback.parse_callback`, :func:`exchange_code`,
:func:`~fedlogin.oidc.id_token.validate_id_token` and, for claims the ID token lacks,
:func:`~fedlogin.oidc.userinfo.fetch_userinfo`.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import secrets
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import SplitResult, parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

import attrs

from fedlogin.errors import InvalidConfiguration
from fedlogin.oidc.discovery import ProviderMetadata
from fedlogin.oidc.errors import (
    INVALID_CLIENT_HINTS,
    OutboundError,
    TokenEndpointError,
    provider_error_text,
    safe_error_code,
)
from fedlogin.oidc.outbound import FetchedResponse, Outbound
from fedlogin.plugins import PROTECTED_AUTHORIZATION_PARAMS
from fedlogin.presets import AUTH_METHODS

#: RFC 6749 appendix A.4 (scope-token).
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
#: What to check for OAuth errors of the token endpoint (RFC 6749 5.2), for the admin.
_TOKEN_ERROR_HINTS = {
    "invalid_grant": "The code expired, was used already, or the callback URL or PKCE "
    "verifier does not match the authorization request: start the sign-in again.",
    "unauthorized_client": "The application is not allowed the authorization code grant "
    "at the provider: enable it in the provider's console.",
    "unsupported_grant_type": "The provider does not support the authorization code grant.",
}


@attrs.frozen
class ClientCredentials:
    """How this relying party authenticates at the token endpoint (P8-P10)."""

    client_id: str
    client_secret: str | None = attrs.field(default=None, repr=False)
    auth_method: str = attrs.field(
        default="client_secret_post", validator=attrs.validators.in_(AUTH_METHODS)
    )

    def __attrs_post_init__(self) -> None:
        if not self.client_id:
            raise InvalidConfiguration(
                "The client ID is required.", fields={"client_id": "is required"}
            )
        if self.auth_method != "none" and not self.client_secret:
            raise InvalidConfiguration(
                f"The {self.auth_method} method needs a client secret.",
                fields={"client_secret": f"is required for {self.auth_method}"},
            )


@attrs.frozen
class AuthorizationRequest:
    """Where to send the browser, and what the pending flow must remember."""

    url: str
    state: str
    nonce: str
    code_verifier: str = attrs.field(repr=False)
    redirect_uri: str


@attrs.frozen
class TokenResponse:
    """A successful token response (RFC 6749 5.1, OpenID Connect Core 3.1.3.3)."""

    access_token: str = attrs.field(repr=False)
    id_token: str = attrs.field(repr=False)
    token_type: str
    expires_in: int | None = None
    refresh_token: str | None = attrs.field(default=None, repr=False)
    scope: str | None = None


def new_authorization(
    metadata: ProviderMetadata,
    *,
    client_id: str,
    redirect_uri: str,
    scopes: Sequence[str],
    extra_params: Mapping[str, str] | None = None,
) -> AuthorizationRequest:
    """A fresh state, nonce and PKCE verifier, and the authorization URL carrying them.

    PKCE (S256) is used with every client, confidential ones too (SECURITY.md).
    ``extra_params`` (a preset's ``access_type``, ``prompt``...) may not set the parameters
    the flow's security rests on: that is a :class:`ValueError`, a bug in the caller.
    """
    scope = _scope(scopes)
    clash = PROTECTED_AUTHORIZATION_PARAMS & set(extra_params or {})
    if clash:
        raise ValueError(f"extra parameters may not set {sorted(clash)}")
    state = secrets.token_urlsafe(32)
    nonce = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(48)  # 64 characters, RFC 7636 4.1 allows 43 to 128
    params = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": scope,
        "code_challenge_method": "S256",
        **(extra_params or {}),
    }
    # token_urlsafe and unpadded base64url use only characters a query leaves as they are
    # (RFC 3986 "unreserved"): these three need no quoting, and change at every start.
    fresh = {"state": state, "nonce": nonce, "code_challenge": s256_code_challenge(verifier)}
    return AuthorizationRequest(
        url=_with_query(metadata.authorization_endpoint, params, fresh),
        state=state,
        nonce=nonce,
        code_verifier=verifier,
        redirect_uri=redirect_uri,
    )


def s256_code_challenge(verifier: str) -> str:
    """RFC 7636 4.2: BASE64URL(SHA256(ASCII(code_verifier))) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _scope(scopes: Sequence[str]) -> str:
    unique = list(dict.fromkeys(scopes))
    bad = [s for s in unique if not _SCOPE_TOKEN.fullmatch(s)]
    if bad:
        raise InvalidConfiguration(
            f"Invalid scope {bad[0]!r}.", fields={"scopes": "contain an invalid scope"}
        )
    if "openid" not in unique:
        raise InvalidConfiguration(
            "The scopes must include openid.", fields={"scopes": "must include openid"}
        )
    return " ".join(unique)


def _with_query(
    endpoint: str, params: Mapping[str, str], fresh: Mapping[str, str] | None = None
) -> str:
    """``endpoint`` with ``params`` (quoted) and ``fresh`` (URL-safe already) as its query.

    An endpoint may carry its own query (Azure AD B2C's ?p=policy): it is kept, ours win.
    The same endpoint and parameters come back at every start, so their quoted form is
    kept (:func:`_quoted_pairs`): quoting them was a quarter of a start's own work.
    """
    fresh = fresh or {}
    query = _quoted_pairs(endpoint, tuple(params.items()), tuple(fresh))
    extra = "&".join(f"{name}={value}" for name, value in fresh.items())
    return urlunsplit(_split(endpoint)._replace(query=f"{query}&{extra}" if query else extra))


@functools.lru_cache(maxsize=256)
def _split(endpoint: str) -> SplitResult:
    return urlsplit(endpoint)


@functools.lru_cache(maxsize=256)
def _quoted_pairs(
    endpoint: str, params: tuple[tuple[str, str], ...], fresh_names: tuple[str, ...]
) -> str:
    ours = {name for name, _ in params} | set(fresh_names)
    theirs = parse_qsl(_split(endpoint).query, keep_blank_values=True)
    kept = [(k, v) for k, v in theirs if k not in ours]
    return urlencode([*kept, *params])


async def exchange_code(
    outbound: Outbound,
    metadata: ProviderMetadata,
    credentials: ClientCredentials,
    *,
    code: str,
    code_verifier: str,
    redirect_uri: str,
) -> TokenResponse:
    """Redeem the authorization code at the token endpoint (Core 3.1.3.1).

    Raises :class:`TokenEndpointError` (``invalid_client`` with the T2 hints, ``token_error``
    with the provider's ``error``/``error_description``, ``token_response_invalid``,
    ``id_token_missing``) or :class:`OutboundError` (step ``token``: ``not_json``,
    ``http_status`` and the network codes).
    """
    body = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": code_verifier,
    }
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if credentials.auth_method == "client_secret_basic":
        headers["Authorization"] = basic_authorization(
            credentials.client_id, credentials.client_secret or ""
        )
    else:
        body["client_id"] = credentials.client_id
        if credentials.auth_method == "client_secret_post":
            body["client_secret"] = credentials.client_secret or ""
    response = await outbound.request(
        "POST", metadata.token_endpoint, step="token", headers=headers, data=body
    )
    if response.status_code != 200:
        raise _token_failure(response)
    return _token_response(response.json())


def basic_authorization(client_id: str, client_secret: str) -> str:
    """RFC 6749 2.3.1: id and secret are each form-url-encoded before HTTP Basic encoding."""
    pair = f"{quote_plus(client_id)}:{quote_plus(client_secret)}"
    return "Basic " + base64.b64encode(pair.encode("ascii")).decode("ascii")


def _token_failure(response: FetchedResponse) -> Exception:
    try:
        document = response.json()
    except OutboundError:
        document = None
    error = document.get("error") if isinstance(document, dict) else None
    if not isinstance(error, str):
        if response.status_code == 401:  # RFC 6749 5.2: failed client authentication
            return _invalid_client(None, None)
        return OutboundError(
            f"The token endpoint answered HTTP {response.status_code}.",
            code="http_status",
            step="token",
            status_code=response.status_code,
        )
    assert isinstance(document, dict)
    description = provider_error_text(document.get("error_description"))
    if error == "invalid_client":
        return _invalid_client(error, description)
    return TokenEndpointError(
        f"The identity provider refused the authorization code ({safe_error_code(error)}).",
        code="token_error",
        hint=_TOKEN_ERROR_HINTS.get(error),
        error=error,
        error_description=description,
        error_uri=document.get("error_uri") if isinstance(document.get("error_uri"), str) else None,
    )


def _invalid_client(error: str | None, description: str | None) -> TokenEndpointError:
    return TokenEndpointError(
        "The identity provider did not accept the client credentials (invalid_client).",
        code="invalid_client",
        hint=" ".join(INVALID_CLIENT_HINTS),
        error=error,
        error_description=description,
    )


def _token_response(document: Any) -> TokenResponse:
    if not isinstance(document, dict):
        raise TokenEndpointError(
            "The token response is not a JSON object.", code="token_response_invalid"
        )
    access_token = document.get("access_token")
    token_type = document.get("token_type")
    if not isinstance(access_token, str) or not access_token:
        raise TokenEndpointError(
            "The token response has no access token.", code="token_response_invalid"
        )
    # Core 3.1.3.3: the token type must be Bearer (compared case-insensitively, RFC 6749 5.1).
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise TokenEndpointError(
            "The token response's token_type is not Bearer.", code="token_response_invalid"
        )
    id_token = document.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise TokenEndpointError(
            "The token response has no ID token: is the openid scope allowed for this application?",
            code="id_token_missing",
        )
    expires_in = document.get("expires_in")
    refresh_token = document.get("refresh_token")
    scope = document.get("scope")
    return TokenResponse(
        access_token=access_token,
        id_token=id_token,
        token_type=token_type,
        expires_in=expires_in if isinstance(expires_in, int) and expires_in >= 0 else None,
        refresh_token=refresh_token if isinstance(refresh_token, str) else None,
        scope=scope if isinstance(scope, str) else None,
    )
