"""ID token validation: OpenID Connect Core 1.0, sections 3.1.3.7 and 3.1.3.8.

The algorithm comes from our allow-list, never from the provider's metadata or the token
alone: RS256, PS256 and ES256 by default; HS256 (verified with the client secret) only when
the admin enables it; ``none`` never. The key comes from the provider's JWKS (fetched from
the discovered ``jwks_uri``), never from the token's ``jwk``, ``jku``, ``x5u`` or ``x5c``
headers, which are ignored.

Key selection: a token with a ``kid`` is verified with the keys of that ``kid`` (of the
algorithm's key type); a token without ``kid`` is tried against each key of the right type
(at most :data:`MAX_TRIAL_KEYS`), which accepts the single-key case and the several-keys
case alike (certification tests ``rp-id_token-kid-absent-*``). When no key fits, the JWKS is
refetched once (rate-limited by the cache) before the token is refused.

Order of the checks: size and shape, header (``crit``, ``alg``), signature, then the claims.
The issuer check needs the verified claims (Azure AD's issuer depends on the token's
``tid``), so the caller passes ``accepted_issuers``, a function of the claims, called only
after the signature has been verified.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import attrs
from joserfc import jws
from joserfc.errors import BadSignatureError, JoseError, SecurityWarning
from joserfc.jwk import OctKey

from fedlogin.oidc.errors import IdTokenError
from fedlogin.oidc.jwks import JsonWebKeys, KeySource, SigningKey

DEFAULT_ALGORITHMS = ("RS256", "PS256", "ES256")
SUPPORTED_ALGORITHMS = frozenset(
    f"{family}{bits}" for family in ("RS", "PS", "ES", "HS") for bits in ("256", "384", "512")
)
MAX_TOKEN_BYTES = 16 * 1024
MAX_SUBJECT_LENGTH = 255
MAX_LEEWAY = 60
MAX_TRIAL_KEYS = 10
_EC_CURVES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
_HASHES = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}

AcceptedIssuers = Callable[[Mapping[str, Any]], Sequence[str]]


def _check_algorithms(
    instance: IdTokenRules, attribute: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]
) -> None:
    unknown = set(value) - SUPPORTED_ALGORITHMS
    if unknown:
        # "none" lands here too: it is never allowed, whatever is configured.
        raise ValueError(f"unsupported ID token algorithms: {sorted(unknown)}")
    if not value:
        raise ValueError("at least one ID token algorithm must be allowed")


def _check_leeway(instance: IdTokenRules, attribute: attrs.Attribute[int], value: int) -> None:
    if not 0 <= value <= MAX_LEEWAY:
        raise ValueError(f"leeway must be between 0 and {MAX_LEEWAY} seconds")


def _strings(value: Sequence[str]) -> tuple[str, ...]:
    return tuple(value)


@attrs.frozen
class IdTokenRules:
    """What this relying party accepts from one identity provider."""

    client_id: str
    algorithms: tuple[str, ...] = attrs.field(
        default=DEFAULT_ALGORITHMS, converter=_strings, validator=_check_algorithms
    )
    #: Needed only when an HS* algorithm is allowed: HMAC keyed with the client secret.
    client_secret: str | None = attrs.field(default=None, repr=False)
    leeway: int = attrs.field(default=MAX_LEEWAY, validator=_check_leeway)
    #: Audiences besides ``client_id`` a token may name (3.1.3.7 step 3); none by default.
    trusted_audiences: tuple[str, ...] = attrs.field(default=(), converter=_strings)

    def __attrs_post_init__(self) -> None:
        if any(alg.startswith("HS") for alg in self.algorithms) and not self.client_secret:
            raise ValueError("HS* ID token algorithms need the client secret")


@attrs.frozen
class IdToken:
    """A validated ID token."""

    raw: str = attrs.field(repr=False)
    header: Mapping[str, Any]
    claims: Mapping[str, Any]

    @property
    def subject(self) -> str:
        subject: str = self.claims["sub"]
        return subject

    @property
    def issuer(self) -> str:
        issuer: str = self.claims["iss"]
        return issuer


def _reject(code: str, message: str) -> IdTokenError:
    return IdTokenError(message, code=code)


async def validate_id_token(
    id_token: str,
    *,
    rules: IdTokenRules,
    keys: KeySource,
    nonce: str,
    accepted_issuers: AcceptedIssuers,
    access_token: str | None = None,
    now: float | None = None,
) -> IdToken:
    """Validate ``id_token`` and return it; raise :class:`IdTokenError` otherwise.

    ``nonce`` is the one this flow sent. ``accepted_issuers(claims)`` returns the ``iss``
    values this token may carry (``Plugins.token_issuers``); it is called with the verified
    claims. ``access_token``, when given, is checked against ``at_hash`` if the token has one.
    Errors from ``accepted_issuers`` (a plugin's failure) propagate unchanged.
    """
    if not nonce:
        raise ValueError("the flow's nonce is required")
    header = _parse_header(id_token)
    alg = header["alg"]
    if alg not in rules.algorithms:
        raise _reject(
            "id_token_alg_not_allowed",
            f"The ID token is signed with {alg!r}, which is not allowed "
            f"(allowed: {', '.join(rules.algorithms)}).",
        )
    verified = await _verify_signature(id_token, header, rules, keys)
    claims = _parse_claims(verified)
    _check_claims(claims, rules, nonce, accepted_issuers, now)
    if access_token is not None and "at_hash" in claims:
        _check_at_hash(claims["at_hash"], access_token, alg)
    return IdToken(raw=id_token, header=MappingProxyType(header), claims=claims)


def _parse_header(token: str) -> dict[str, Any]:
    if not isinstance(token, str) or len(token) > MAX_TOKEN_BYTES:
        raise _reject(
            "id_token_too_large", f"The ID token is larger than {MAX_TOKEN_BYTES // 1024} KiB."
        )
    parts = token.split(".")
    if len(parts) == 5:
        raise _reject("id_token_malformed", "Encrypted ID tokens are not supported.")
    if len(parts) != 3 or not all(parts[:2]):
        raise _reject("id_token_malformed", "The ID token is not a signed JWT.")
    header = _json_object(parts[0], "header")
    if not isinstance(header.get("alg"), str):
        raise _reject("id_token_malformed", "The ID token header has no algorithm.")
    if "crit" in header:
        # RFC 7515 4.1.11: extensions listed in "crit" must be understood; we know none.
        raise _reject("id_token_crit", "The ID token requires header extensions (crit).")
    if "b64" in header:
        raise _reject("id_token_malformed", "Unencoded JWS payloads (b64) are not accepted.")
    kid = header.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise _reject("id_token_malformed", "The ID token's kid is not a string.")
    return header


def _json_object(segment: str, what: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = json.loads(raw, parse_constant=_reject_constant)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise _reject("id_token_malformed", f"The ID token's {what} is not JSON.") from exc
    if not isinstance(value, dict):
        raise _reject("id_token_malformed", f"The ID token's {what} is not a JSON object.")
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _registry(alg: str) -> jws.JWSRegistry:
    # Provider headers carry members joserfc does not register (Azure's x5t is fine, others
    # add their own); only "crit" could make one matter, and it is refused above.
    registry = jws.JWSRegistry(algorithms=[alg], strict_check_header=False)
    registry.max_header_length = 4096
    registry.max_payload_length = MAX_TOKEN_BYTES
    return registry


async def _verify_signature(
    token: str, header: Mapping[str, Any], rules: IdTokenRules, keys: KeySource
) -> bytes:
    alg: str = header["alg"]
    if alg.startswith("HS"):
        assert rules.client_secret is not None  # IdTokenRules requires it for HS*
        with warnings.catch_warnings():
            # A short secret is the provider's choice; the admin enabled HS* knowingly.
            warnings.simplefilter("ignore", SecurityWarning)
            secret = OctKey.import_key(rules.client_secret)
        payload = _verify_with(token, secret, alg)
        if payload is None:
            raise _reject("id_token_invalid_signature", "The ID token's signature is invalid.")
        return payload
    kid: str | None = header.get("kid")
    candidates = _candidates(await keys.current(), alg, kid)
    if not candidates:
        # A key we have not seen: the provider may have rotated its keys (Core 10.1.1).
        candidates = _candidates(await keys.refreshed(), alg, kid)
    if not candidates:
        named = f"key {kid!r}" if kid is not None else f"{alg} key"
        raise _reject(
            "id_token_unknown_key",
            f"The ID token is signed with a {named} the provider's key set does not contain.",
        )
    for candidate in candidates[:MAX_TRIAL_KEYS]:
        payload = _verify_with(token, candidate.key, alg)
        if payload is not None:
            return payload
    raise _reject("id_token_invalid_signature", "The ID token's signature is invalid.")


def _candidates(keys: JsonWebKeys, alg: str, kid: str | None) -> list[SigningKey]:
    kty = "EC" if alg.startswith("ES") else "RSA"
    return [
        key
        for key in keys.keys
        if key.kty == kty
        and key.curve == _EC_CURVES.get(alg)
        and key.alg in (None, alg)
        and (kid is None or key.kid == kid)
    ]


def _verify_with(token: str, key: Any, alg: str) -> bytes | None:
    try:
        verified = jws.deserialize_compact(token, key, algorithms=[alg], registry=_registry(alg))
    except BadSignatureError:
        return None
    except JoseError as exc:
        raise _reject("id_token_malformed", f"The ID token is malformed ({exc.error}).") from exc
    except ValueError as exc:  # the key cannot do this algorithm, a bad base64 segment...
        raise _reject("id_token_malformed", "The ID token is malformed.") from exc
    return verified.payload


def _parse_claims(payload: bytes) -> Mapping[str, Any]:
    try:
        claims = json.loads(payload, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise _reject("id_token_malformed", "The ID token's claims are not JSON.") from exc
    if not isinstance(claims, dict):
        raise _reject("id_token_malformed", "The ID token's claims are not a JSON object.")
    return MappingProxyType(claims)


def _check_claims(
    claims: Mapping[str, Any],
    rules: IdTokenRules,
    nonce: str,
    accepted_issuers: AcceptedIssuers,
    now: float | None,
) -> None:
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or issuer not in accepted_issuers(claims):
        raise _reject(
            "id_token_issuer_mismatch",
            f"The ID token's issuer {issuer!r} is not this provider's issuer.",
        )
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise _reject("id_token_sub", "The ID token has no subject (sub).")
    if len(subject) > MAX_SUBJECT_LENGTH:
        raise _reject(
            "id_token_sub", f"The ID token's subject is over {MAX_SUBJECT_LENGTH} characters."
        )
    _check_audience(claims, rules)
    current = time.time() if now is None else now
    expires = _timestamp(claims, "exp", "id_token_expired")
    if current > expires + rules.leeway:
        raise _reject("id_token_expired", "The ID token has expired.")
    issued = _timestamp(claims, "iat", "id_token_iat")
    if issued > current + rules.leeway:
        raise _reject("id_token_iat", "The ID token was issued in the future (check clocks).")
    if "nbf" in claims and _timestamp(claims, "nbf", "id_token_nbf") > current + rules.leeway:
        raise _reject("id_token_nbf", "The ID token is not valid yet (check clocks).")
    token_nonce = claims.get("nonce")
    if not isinstance(token_nonce, str) or not hmac.compare_digest(
        token_nonce.encode(), nonce.encode()
    ):
        raise _reject("id_token_nonce", "The ID token's nonce is not the one this sign-in sent.")


def _check_audience(claims: Mapping[str, Any], rules: IdTokenRules) -> None:
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        raise _reject("id_token_audience", "The ID token has no audience (aud).")
    if rules.client_id not in audiences:
        raise _reject("id_token_audience", "The ID token was not issued for this client.")
    untrusted = set(audiences) - {rules.client_id, *rules.trusted_audiences}
    if untrusted:
        raise _reject(
            "id_token_audience", "The ID token names audiences this client does not trust."
        )
    azp = claims.get("azp")
    if azp is None and len(audiences) > 1:
        raise _reject("id_token_azp", "The ID token has several audiences but no azp.")
    if azp is not None and azp != rules.client_id:
        raise _reject("id_token_azp", "The ID token's authorized party (azp) is another client.")


def _timestamp(claims: Mapping[str, Any], name: str, code: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _reject(code, f"The ID token has no valid {name}.")
    return float(value)


def _check_at_hash(at_hash: Any, access_token: str, alg: str) -> None:
    # Core 3.1.3.8 / 3.2.2.9: the left half of the hash the signing algorithm uses.
    digest = _HASHES[alg[-3:]](access_token.encode("ascii", "replace")).digest()
    half = digest[: len(digest) // 2]
    expected = base64.urlsafe_b64encode(half).rstrip(b"=").decode("ascii")
    if not isinstance(at_hash, str) or not hmac.compare_digest(at_hash.encode(), expected.encode()):
        raise _reject("id_token_at_hash", "The ID token's at_hash does not match the access token.")
