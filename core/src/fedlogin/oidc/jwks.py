"""The provider's signing keys (RFC 7517), fetched from the discovered ``jwks_uri`` only.

Keys are cached per process for :data:`DEFAULT_TTL` seconds. A token signed with a key we do
not know (key rotation, OpenID Connect Core 10.1.1) makes the validator ask for a refetch,
which happens at most once per :data:`REFETCH_INTERVAL` seconds per ``jwks_uri``, so a stream
of tokens with made-up ``kid`` values cannot turn us into a load generator against the
provider.

Only keys that can verify one of the algorithms we allow are kept: RSA of at least 2048 bits
and EC on P-256, P-384 or P-521, whose ``use`` (when given) is ``sig`` and whose ``key_ops``
(when given) include ``verify``. The rest are listed in :attr:`JsonWebKeys.ignored` with the
reason, for the connection test's warnings.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from collections.abc import Callable
from typing import Any, Protocol

import attrs
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, RSAKey

from fedlogin.oidc.errors import JwksError, OutboundError
from fedlogin.oidc.outbound import Outbound

DEFAULT_TTL = 3600.0
REFETCH_INTERVAL = 30.0
MIN_RSA_BITS = 2048
#: A key set is a handful of keys; more than this is not a key set we want to try tokens on.
MAX_KEYS = 100
EC_CURVES = ("P-256", "P-384", "P-521")
STEP = "jwks"


@attrs.frozen
class SigningKey:
    """One usable verification key. ``kid`` is as published (``None`` when it had none)."""

    kid: str | None
    key: RSAKey | ECKey = attrs.field(eq=False)
    alg: str | None = None

    @property
    def kty(self) -> str:
        return self.key.key_type

    @property
    def curve(self) -> str | None:
        return self.key.curve_name if isinstance(self.key, ECKey) else None


@attrs.frozen
class IgnoredKey:
    """A published key left out: ``code`` is ``weak_rsa_key``, ``not_for_signing``,
    ``unsupported_key`` or ``malformed_key``."""

    kid: str | None
    code: str
    reason: str


@attrs.frozen
class JsonWebKeys:
    """A provider's usable signing keys, and the keys left out with the reason."""

    keys: tuple[SigningKey, ...]
    ignored: tuple[IgnoredKey, ...] = ()

    def __len__(self) -> int:
        return len(self.keys)

    def key_set(self) -> KeySet:
        """The usable keys as a joserfc :class:`KeySet`.

        joserfc gives a ``kid``-less key its thumbprint as ``kid``; :attr:`SigningKey.kid`
        keeps what the provider published, which is what key selection goes by.
        """
        return KeySet([signing_key.key for signing_key in self.keys])


def parse_jwks(document: Any, jwks_uri: str) -> JsonWebKeys:
    """The usable keys of a JWKS document: ``jwks_invalid`` or ``jwks_empty`` otherwise."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise JwksError(
            f"The document at {jwks_uri} is not a JSON Web Key Set.", code="jwks_invalid"
        )
    keys: list[SigningKey] = []
    ignored: list[IgnoredKey] = []
    for jwk in document["keys"][:MAX_KEYS]:
        kid = jwk.get("kid") if isinstance(jwk, dict) else None
        kid = kid if isinstance(kid, str) else None
        problem = _unusable(jwk)
        if problem is None:
            try:
                keys.append(SigningKey(kid, _import(jwk), _alg(jwk)))
                continue
            except (JoseError, ValueError, TypeError, KeyError) as exc:
                problem = (
                    "malformed_key",
                    f"malformed {jwk.get('kty')} key ({type(exc).__name__})",
                )
        ignored.append(IgnoredKey(kid, *problem))
    if not keys:
        reasons = "; ".join(sorted({key.reason for key in ignored})) or "it has no keys"
        raise JwksError(
            f"The key set at {jwks_uri} has no usable signing key ({reasons}).",
            code="jwks_empty",
        )
    return JsonWebKeys(tuple(keys), tuple(ignored))


def _unusable(jwk: Any) -> tuple[str, str] | None:
    """Why a published key is left out, as (code, reason), or ``None`` to keep it."""
    if not isinstance(jwk, dict):
        return ("malformed_key", "not a JSON object")
    use = jwk.get("use")
    if use is not None and use != "sig":
        return ("not_for_signing", f"use is {use!r}, not 'sig'")
    ops = jwk.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        return ("not_for_signing", "key_ops does not include 'verify'")
    kty = jwk.get("kty")
    if kty == "RSA":
        bits = _rsa_bits(jwk.get("n"))
        if bits is None:
            return ("malformed_key", "malformed RSA key (n)")
        if bits < MIN_RSA_BITS:
            return ("weak_rsa_key", f"RSA key of {bits} bits, under {MIN_RSA_BITS}")
        return None
    if kty == "EC":
        crv = jwk.get("crv")
        return None if crv in EC_CURVES else ("unsupported_key", f"EC curve {crv!r}")
    return ("unsupported_key", f"key type {kty!r} is not used for ID tokens")


def _rsa_bits(n: Any) -> int | None:
    if not isinstance(n, str):
        return None
    try:
        raw = base64.urlsafe_b64decode(n + "=" * (-len(n) % 4))
    except (binascii.Error, ValueError):
        return None
    return int.from_bytes(raw, "big").bit_length()


def _import(jwk: dict[str, Any]) -> RSAKey | ECKey:
    # Only the public members: a provider that publishes "d" by mistake must not make us
    # hold a private key, and unrelated members (x5c...) must not fail the import.
    if jwk["kty"] == "RSA":
        return RSAKey.import_key({"kty": "RSA", "n": jwk["n"], "e": jwk["e"]})
    return ECKey.import_key({"kty": "EC", "crv": jwk["crv"], "x": jwk["x"], "y": jwk["y"]})


def _alg(jwk: dict[str, Any]) -> str | None:
    alg = jwk.get("alg")
    return alg if isinstance(alg, str) else None


async def fetch_jwks(outbound: Outbound, jwks_uri: str) -> JsonWebKeys:
    """Fetch and parse the key set now, bypassing any cache.

    Raises :class:`JwksError` (``jwks_unreachable`` with the network failure as
    ``cause_code``, ``jwks_invalid``, ``jwks_empty``), or :class:`OutboundError`
    ``address_blocked`` / ``insecure_scheme`` when the outbound rules refuse the URL.
    """
    try:
        document = await outbound.get_json(jwks_uri, step=STEP)
    except OutboundError as exc:
        if exc.code in ("address_blocked", "insecure_scheme"):
            raise
        if exc.code == "not_json":
            raise JwksError(
                f"The key set at {jwks_uri} is not JSON.", code="jwks_invalid", cause_code=exc.code
            ) from exc
        raise JwksError(
            f"The key set could not be fetched: {exc.message}",
            code="jwks_unreachable",
            cause_code=exc.code,
        ) from exc
    return parse_jwks(document, jwks_uri)


class KeySource(Protocol):
    """Where the ID-token validator gets a provider's keys."""

    async def current(self) -> JsonWebKeys:
        """The keys as they are known now (fetched when not known yet)."""

    async def refreshed(self) -> JsonWebKeys:
        """Keys refetched because a token named a key we do not know (may be rate-limited)."""


class JwksCache:
    """Key sets of this process, per ``jwks_uri``."""

    def __init__(
        self,
        outbound: Outbound,
        *,
        ttl: float = DEFAULT_TTL,
        refetch_interval: float = REFETCH_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._outbound = outbound
        self._ttl = ttl
        self._refetch_interval = refetch_interval
        self._clock = clock
        self._entries: dict[str, tuple[float, JsonWebKeys]] = {}  # uri -> (fetched at, keys)
        self._refreshed: dict[str, float] = {}  # uri -> last refetch attempt, failed ones too
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, jwks_uri: str) -> JsonWebKeys:
        """The cached keys, fetched when missing or older than ``ttl``."""
        fresh = self._fresh(jwks_uri)
        if fresh is not None:
            return fresh
        async with self._locks.setdefault(jwks_uri, asyncio.Lock()):
            # Another task may have fetched while this one waited for the lock.
            return self._fresh(jwks_uri) or await self._fetch(jwks_uri)

    async def refresh(self, jwks_uri: str) -> JsonWebKeys:
        """Refetch because a token named an unknown key, unless such a refetch was attempted
        less than ``refetch_interval`` ago (then the cached keys are returned).

        Only these refetches count: a provider that rotates its keys right after our first
        fetch is still followed at once (certification test rp-key-rotation-op-sign-key).
        """
        async with self._locks.setdefault(jwks_uri, asyncio.Lock()):
            entry = self._entries.get(jwks_uri)
            last = self._refreshed.get(jwks_uri)
            recent = last is not None and self._clock() < last + self._refetch_interval
            if entry is not None and recent:
                return entry[1]
            self._refreshed[jwks_uri] = self._clock()
            return await self._fetch(jwks_uri)

    def _fresh(self, jwks_uri: str) -> JsonWebKeys | None:
        entry = self._entries.get(jwks_uri)
        if entry is not None and self._clock() < entry[0] + self._ttl:
            return entry[1]
        return None

    async def _fetch(self, jwks_uri: str) -> JsonWebKeys:
        keys = await fetch_jwks(self._outbound, jwks_uri)
        self._entries[jwks_uri] = (self._clock(), keys)
        return keys

    def source(self, jwks_uri: str) -> KeySource:
        return _CachedKeys(self, jwks_uri)

    def invalidate(self, jwks_uri: str | None = None) -> None:
        if jwks_uri is None:
            self._entries.clear()
            self._refreshed.clear()
        else:
            self._entries.pop(jwks_uri, None)
            self._refreshed.pop(jwks_uri, None)


@attrs.frozen
class _CachedKeys:
    cache: JwksCache
    jwks_uri: str

    async def current(self) -> JsonWebKeys:
        return await self.cache.get(self.jwks_uri)

    async def refreshed(self) -> JsonWebKeys:
        return await self.cache.refresh(self.jwks_uri)


@attrs.frozen
class StaticKeys:
    """A fixed key set (tests, or keys the admin pasted): refreshing changes nothing."""

    keys: JsonWebKeys

    async def current(self) -> JsonWebKeys:
        return self.keys

    async def refreshed(self) -> JsonWebKeys:
        return self.keys
