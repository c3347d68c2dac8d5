"""The OpenID Connect relying party, without the web.

==========================  =================================================================
:mod:`.outbound`            the one HTTP client of the process and its rules
:mod:`.address_guard`       SSRF: which addresses may be connected to, DNS pinning
:mod:`.discovery`           discovery documents (OpenID Connect Discovery 1.0), cached
:mod:`.jwks`                signing keys (RFC 7517), cached, refetched on an unknown key
:mod:`.client`              the authorization request (state, nonce, PKCE) and the token request
:mod:`.callback`            the redirect back: provider errors, RFC 9207 ``iss``
:mod:`.id_token`            ID token validation (Core 3.1.3.7)
:mod:`.userinfo`            UserInfo, about the same ``sub`` or refused
:mod:`.connection_test`     Test Connection (P7)
:mod:`.errors`              every failure, with a stable ``code`` and the flow ``step``
==========================  =================================================================
"""

from __future__ import annotations

from fedlogin.oidc.callback import check_callback_iss, parse_callback
from fedlogin.oidc.client import (
    AuthorizationRequest,
    ClientCredentials,
    TokenResponse,
    exchange_code,
    new_authorization,
)
from fedlogin.oidc.connection_test import (
    ConnectionFailure,
    ConnectionReport,
    ConnectionWarning,
    run_connection_test,
)
from fedlogin.oidc.discovery import DiscoveryCache, ProviderMetadata, fetch_metadata
from fedlogin.oidc.errors import (
    CallbackError,
    DiscoveryError,
    IdTokenError,
    JwksError,
    OidcError,
    OutboundError,
    TokenEndpointError,
    UserInfoError,
)
from fedlogin.oidc.id_token import IdToken, IdTokenRules, validate_id_token
from fedlogin.oidc.jwks import JsonWebKeys, JwksCache, KeySource, fetch_jwks
from fedlogin.oidc.outbound import Outbound, OutboundSettings
from fedlogin.oidc.userinfo import fetch_userinfo

__all__ = [
    "AuthorizationRequest",
    "CallbackError",
    "ClientCredentials",
    "ConnectionFailure",
    "ConnectionReport",
    "ConnectionWarning",
    "DiscoveryCache",
    "DiscoveryError",
    "IdToken",
    "IdTokenError",
    "IdTokenRules",
    "JsonWebKeys",
    "JwksCache",
    "JwksError",
    "KeySource",
    "OidcError",
    "Outbound",
    "OutboundError",
    "OutboundSettings",
    "ProviderMetadata",
    "TokenEndpointError",
    "TokenResponse",
    "UserInfoError",
    "check_callback_iss",
    "exchange_code",
    "fetch_jwks",
    "fetch_metadata",
    "fetch_userinfo",
    "new_authorization",
    "parse_callback",
    "run_connection_test",
    "validate_id_token",
]
