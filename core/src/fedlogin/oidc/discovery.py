"""OpenID Connect Discovery 1.0: fetch, check and cache a provider's metadata.

Section 3 lists the members an OpenID provider must publish; section 4.3 says the ``issuer``
it names must be the one the relying party expected, and that a mismatch means the metadata
must not be used. We stop there, before any user is redirected to an endpoint it names.

Documents are cached per process, keyed by discovery URL, for :data:`DEFAULT_TTL` seconds,
so that a sign-in never waits for discovery when the document is cached; the issuer is
checked against the caller's :class:`~fedlogin.presets.DiscoveryTarget` on every use.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import attrs

from fedlogin.oidc.errors import DiscoveryError
from fedlogin.oidc.outbound import Outbound
from fedlogin.presets import DiscoveryTarget

DEFAULT_TTL = 3600.0
STEP = "discovery"

#: OpenID Connect Discovery 1.0, section 3: REQUIRED members (``jwks_uri`` and
#: ``token_endpoint`` are required for the code flow we run).
REQUIRED_MEMBERS = (
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "response_types_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
)
_ENDPOINTS = ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint")
_LISTS = (
    "response_types_supported",
    "subject_types_supported",
    "id_token_signing_alg_values_supported",
    "token_endpoint_auth_methods_supported",
    "scopes_supported",
    "code_challenge_methods_supported",
)


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(value)


def _frozen(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


@attrs.frozen
class ProviderMetadata:
    """The parts of a discovery document the relying party uses, checked."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    response_types_supported: tuple[str, ...] = attrs.field(converter=_strings)
    subject_types_supported: tuple[str, ...] = attrs.field(converter=_strings)
    id_token_signing_alg_values_supported: tuple[str, ...] = attrs.field(converter=_strings)
    userinfo_endpoint: str | None = None
    #: Discovery 3: when absent, the default is ``client_secret_basic``.
    token_endpoint_auth_methods_supported: tuple[str, ...] = attrs.field(
        default=("client_secret_basic",), converter=_strings
    )
    scopes_supported: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    code_challenge_methods_supported: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    #: RFC 9207 section 3: the provider sends ``iss`` with every authorization response.
    authorization_response_iss_parameter_supported: bool = False
    #: The whole document, for display (T4) and provider-specific members.
    document: Mapping[str, Any] = attrs.field(factory=dict, converter=_frozen, repr=False, eq=False)

    @property
    def issuer_is_template(self) -> bool:
        """Azure AD multi-tenant publishes ``.../{tenantid}/v2.0``; plugins resolve it per token."""
        return "{" in self.issuer


def parse_metadata(document: Any, target: DiscoveryTarget, outbound: Outbound) -> ProviderMetadata:
    """Check a discovery document against ``target``.

    Raises :class:`DiscoveryError`: ``invalid_metadata`` (not an object, a member of the
    wrong type), ``missing_fields``, ``issuer_mismatch``; and the outbound rules'
    ``insecure_scheme`` for an endpoint that is not https.
    """
    if not isinstance(document, dict):
        raise DiscoveryError(
            f"The discovery document at {target.url} is not a JSON object.",
            code="invalid_metadata",
        )
    missing = [m for m in REQUIRED_MEMBERS if document.get(m) in (None, "", [])]
    if missing:
        raise DiscoveryError(
            f"The discovery document at {target.url} lacks required members: "
            + ", ".join(missing)
            + ".",
            code="missing_fields",
        )
    issuer = document["issuer"]
    if not isinstance(issuer, str) or not target.accepts_issuer(issuer):
        raise DiscoveryError(
            f"The discovery document names the issuer {issuer!r}, but {target.issuer!r} "
            "was expected: the domain does not point at the provider it names.",
            code="issuer_mismatch",
            hint="Check the domain (and the tenant or environment in its path).",
        )
    for member in _ENDPOINTS:
        value = document.get(member)
        if value is None and member == "userinfo_endpoint":
            continue
        if not isinstance(value, str):
            raise _wrong_type(member, "a URL")
        outbound.check_url(value, step=STEP)
    for member in _LISTS:
        value = document.get(member)
        if value is not None and not (
            isinstance(value, list) and all(isinstance(item, str) for item in value)
        ):
            raise _wrong_type(member, "a list of strings")
    iss_parameter = document.get("authorization_response_iss_parameter_supported", False)
    if not isinstance(iss_parameter, bool):
        raise _wrong_type("authorization_response_iss_parameter_supported", "a boolean")
    optional = {m: document[m] for m in _LISTS[3:] if document.get(m) is not None}
    return ProviderMetadata(
        issuer=issuer,
        authorization_endpoint=document["authorization_endpoint"],
        token_endpoint=document["token_endpoint"],
        jwks_uri=document["jwks_uri"],
        userinfo_endpoint=document.get("userinfo_endpoint"),
        response_types_supported=document["response_types_supported"],
        subject_types_supported=document["subject_types_supported"],
        id_token_signing_alg_values_supported=document["id_token_signing_alg_values_supported"],
        authorization_response_iss_parameter_supported=iss_parameter,
        document=document,
        **optional,
    )


def _wrong_type(member: str, expected: str) -> DiscoveryError:
    return DiscoveryError(
        f"The discovery document's {member} is not {expected}.", code="invalid_metadata"
    )


async def fetch_metadata(outbound: Outbound, target: DiscoveryTarget) -> ProviderMetadata:
    """Fetch and check the discovery document now, bypassing any cache.

    Raises :class:`~fedlogin.oidc.errors.OutboundError` (step ``discovery``) or
    :class:`DiscoveryError`.
    """
    document = await outbound.get_json(target.url, step=STEP)
    return parse_metadata(document, target, outbound)


class DiscoveryCache:
    """Discovery documents of this process, keyed by URL, kept ``ttl`` seconds.

    Concurrent sign-ins on a cold cache wait for one fetch rather than each fetching.
    A failed fetch is not cached: the next sign-in tries again.
    """

    def __init__(
        self,
        outbound: Outbound,
        *,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._outbound = outbound
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, target: DiscoveryTarget) -> ProviderMetadata:
        """The provider's metadata, fetched only when not cached or expired."""
        entry = self._entries.get(target.url)
        if entry is None or entry.expires <= self._clock():
            async with self._locks.setdefault(target.url, asyncio.Lock()):
                entry = self._entries.get(target.url)
                if entry is None or entry.expires <= self._clock():
                    document = await self._outbound.get_json(target.url, step=STEP)
                    # Checked before caching, so that a broken document is never kept.
                    metadata = parse_metadata(document, target, self._outbound)
                    entry = _Entry(self._clock() + self._ttl, document, target, metadata)
                    self._entries[target.url] = entry
        if entry.target == target:
            return entry.metadata
        # Two providers may share a URL while expecting different issuers (an admin's edit):
        # the issuer is checked against this caller's own target.
        return parse_metadata(entry.document, target, self._outbound)

    def invalidate(self, url: str | None = None) -> None:
        """Forget one document (an admin edited the provider) or all of them."""
        if url is None:
            self._entries.clear()
        else:
            self._entries.pop(url, None)


@attrs.frozen
class _Entry:
    expires: float
    document: Any
    target: DiscoveryTarget
    metadata: ProviderMetadata
