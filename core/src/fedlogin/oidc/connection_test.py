"""Test Connection (P7): fetch discovery and the JWKS now, and say what was found or why not.

Nothing is cached or read from a cache: the admin tests what the provider serves right now.
The report is a frozen value the API renders as JSON; a failure names its step, a stable
code, a message and what to check (the product document's troubleshooting list, T1).
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from fedlogin.oidc.discovery import ProviderMetadata, fetch_metadata
from fedlogin.oidc.errors import CONNECTION_HINTS, OidcError
from fedlogin.oidc.id_token import DEFAULT_ALGORITHMS
from fedlogin.oidc.jwks import JsonWebKeys, fetch_jwks
from fedlogin.oidc.outbound import Outbound
from fedlogin.presets import DiscoveryTarget

#: What to check first, per failure code; the document's list follows.
_SPECIFIC_HINTS = {
    "dns": "The domain's host name does not resolve: check its spelling.",
    "tls": "The provider's TLS certificate was not accepted: it must be valid for the "
    "domain and issued by a trusted authority.",
    "timeout": "The provider did not answer in time.",
    "connect": "The provider could not be reached.",
    "http_status": "The discovery URL does not serve a discovery document: check the domain "
    "and its path (tenant, environment or authorization server).",
    "redirect": "The discovery URL redirects; enter the domain it redirects to.",
    "too_large": "The provider sent an unexpectedly large document.",
    "not_json": "The discovery URL does not serve JSON: check the domain and its path.",
    "missing_fields": "This is not a complete OpenID Connect discovery document.",
    "invalid_metadata": "This is not a valid OpenID Connect discovery document.",
    "issuer_mismatch": "The provider names another issuer than the domain: check the domain "
    "and the tenant or environment in its path.",
    "jwks_unreachable": "The provider's signing keys (jwks_uri) could not be fetched.",
    "jwks_invalid": "The provider's jwks_uri does not serve a JSON Web Key Set.",
    "jwks_empty": "The provider publishes no signing key fedlogin can use.",
    "address_blocked": "The domain resolves to a private or internal address; an operator "
    "must allow that host explicitly.",
    "insecure_scheme": "The provider must be reached over https.",
}


@attrs.frozen
class ConnectionWarning:
    code: str
    message: str


@attrs.frozen
class ConnectionFailure:
    step: str
    code: str
    message: str
    hints: tuple[str, ...]


@attrs.frozen
class ConnectionReport:
    """What Test Connection shows: the endpoints found, or the step that failed and why."""

    discovery_url: str
    issuer: str | None = None
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    userinfo_endpoint: str | None = None
    jwks_uri: str | None = None
    jwks_key_count: int | None = None
    signing_algorithms: tuple[str, ...] = ()
    warnings: tuple[ConnectionWarning, ...] = ()
    failure: ConnectionFailure | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


async def run_connection_test(
    outbound: Outbound,
    target: DiscoveryTarget,
    *,
    auth_method: str,
    algorithms: Sequence[str] = DEFAULT_ALGORITHMS,
) -> ConnectionReport:
    """Test ``target`` now. Never raises an :class:`OidcError`: it ends up in the report."""
    report = ConnectionReport(discovery_url=target.url)
    try:
        metadata = await fetch_metadata(outbound, target)
    except OidcError as exc:
        return attrs.evolve(report, failure=_failure(exc))
    report = attrs.evolve(
        report,
        issuer=metadata.issuer,
        authorization_endpoint=metadata.authorization_endpoint,
        token_endpoint=metadata.token_endpoint,
        userinfo_endpoint=metadata.userinfo_endpoint,
        jwks_uri=metadata.jwks_uri,
        signing_algorithms=metadata.id_token_signing_alg_values_supported,
        warnings=tuple(_metadata_warnings(metadata, auth_method, algorithms)),
    )
    try:
        keys = await fetch_jwks(outbound, metadata.jwks_uri)
    except OidcError as exc:
        return attrs.evolve(report, failure=_failure(exc, step="jwks"))
    return attrs.evolve(
        report, jwks_key_count=len(keys), warnings=report.warnings + _key_warnings(keys)
    )


def _failure(exc: OidcError, step: str | None = None) -> ConnectionFailure:
    specific = _SPECIFIC_HINTS.get(exc.code)
    hints = (specific, *CONNECTION_HINTS) if specific else CONNECTION_HINTS
    return ConnectionFailure(step=step or exc.step, code=exc.code, message=exc.message, hints=hints)


def _metadata_warnings(
    metadata: ProviderMetadata, auth_method: str, algorithms: Sequence[str]
) -> list[ConnectionWarning]:
    found: list[ConnectionWarning] = []
    signing = metadata.id_token_signing_alg_values_supported
    if "none" in signing:
        found.append(
            ConnectionWarning(
                "alg_none_advertised",
                "The provider advertises unsigned ID tokens (alg none); "
                "fedlogin never accepts them.",
            )
        )
    if not set(signing) & set(algorithms):
        found.append(
            ConnectionWarning(
                "no_allowed_algorithm",
                "None of the provider's signing algorithms ("
                + ", ".join(signing)
                + ") is allowed: sign-ins will fail.",
            )
        )
    if auth_method not in metadata.token_endpoint_auth_methods_supported:
        found.append(
            ConnectionWarning(
                "auth_method_unsupported",
                f"The provider does not list {auth_method} among its token endpoint "
                "authentication methods ("
                + ", ".join(metadata.token_endpoint_auth_methods_supported)
                + ").",
            )
        )
    if metadata.issuer_is_template:
        found.append(
            ConnectionWarning(
                "issuer_template",
                f"The issuer {metadata.issuer} is a template (multi-tenant): each sign-in's "
                "issuer is resolved from the token's tenant by the provider's preset.",
            )
        )
    if not metadata.userinfo_endpoint:
        found.append(
            ConnectionWarning(
                "no_userinfo_endpoint",
                "The provider has no UserInfo endpoint: only the ID token's claims are available.",
            )
        )
    if "code" not in metadata.response_types_supported:
        found.append(
            ConnectionWarning(
                "code_flow_unsupported",
                "The provider does not list the authorization code flow (response type code).",
            )
        )
    methods = metadata.code_challenge_methods_supported
    if methods and "S256" not in methods:
        found.append(
            ConnectionWarning(
                "pkce_s256_unsupported",
                "The provider does not list PKCE S256, which fedlogin always sends.",
            )
        )
    return found


def _key_warnings(keys: JsonWebKeys) -> tuple[ConnectionWarning, ...]:
    return tuple(
        ConnectionWarning(key.code, f"Key {key.kid or '(without kid)'} is ignored: {key.reason}.")
        for key in keys.ignored
    )
