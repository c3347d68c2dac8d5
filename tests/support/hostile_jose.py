"""Keys and ID-token signing for the hostile provider, including the ways of signing wrongly.

Tokens are assembled by hand (RFC 7515 compact serialization) so that a header or a signature
can be made exactly as wrong as a test needs; the signatures themselves come from joserfc's
algorithms (or HMAC / cryptography for the two that joserfc would refuse).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from joserfc.jwk import ECKey, RSAKey
from joserfc.jws import JWSRegistry

SigningAlg = Literal["RS256", "PS256", "ES256"]
SIGNING_ALGS: tuple[SigningAlg, ...] = ("RS256", "PS256", "ES256")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def half_hash(value: str) -> str:
    """``at_hash``: the left half of SHA-256 of the token (Core 1.0 section 3.1.3.6), for *256."""
    return b64url(hashlib.sha256(value.encode("ascii")).digest()[:16])


@dataclass(frozen=True)
class SigningKeys:
    """The provider's current key pair per family, named by kid."""

    rsa: RSAKey
    ec: ECKey

    @classmethod
    def generate(cls) -> SigningKeys:
        suffix = secrets.token_hex(4)
        return cls(
            rsa=RSAKey.generate_key(2048, parameters={"kid": f"rsa-{suffix}", "use": "sig"}),
            ec=ECKey.generate_key(
                "P-256", parameters={"kid": f"ec-{suffix}", "use": "sig", "alg": "ES256"}
            ),
        )

    def for_alg(self, alg: SigningAlg) -> RSAKey | ECKey:
        return self.ec if alg == "ES256" else self.rsa

    @property
    def kids(self) -> list[str]:
        return [str(self.rsa.kid), str(self.ec.kid)]


def public_jwk(key: RSAKey | ECKey, *, with_kid: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = dict(key.as_dict(private=False))
    if not with_kid:
        data.pop("kid", None)
    return data


def generate_like(alg: SigningAlg) -> RSAKey | ECKey:
    """A key (without kid) of the family ``alg`` needs: decoys, the attacker's key."""
    if alg == "ES256":
        return ECKey.generate_key("P-256")
    return RSAKey.generate_key(2048)


@dataclass(frozen=True)
class WeakRsaKey:
    """A 1024-bit RSA key (SECURITY.md: RSA keys under 2048 bits are ignored by the RP).

    Made with cryptography directly: joserfc warns on small keys, and tests run with warnings
    as errors.
    """

    private: rsa.RSAPrivateKey
    kid: str

    @classmethod
    def generate(cls) -> WeakRsaKey:
        weak = rsa.generate_private_key(65537, 1024)  # noqa: S505 - weak on purpose
        return cls(weak, f"weak-rsa-{secrets.token_hex(4)}")

    def public_jwk(self) -> dict[str, Any]:
        numbers = self.private.public_key().public_numbers()
        return {
            "kty": "RSA",
            "kid": self.kid,
            "use": "sig",
            "n": b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
            "e": b64url(numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")),
        }

    def sign_rs256(self, message: bytes) -> bytes:
        return self.private.sign(message, padding.PKCS1v15(), hashes.SHA256())


def signing_input(header: Mapping[str, Any], claims: Mapping[str, Any]) -> bytes:
    encoded_header = b64url(json.dumps(header, separators=(",", ":")).encode())
    encoded_claims = b64url(json.dumps(claims, separators=(",", ":")).encode())
    return f"{encoded_header}.{encoded_claims}".encode("ascii")


def sign_with_key(message: bytes, alg: SigningAlg, key: RSAKey | ECKey) -> bytes:
    signature: bytes = JWSRegistry.algorithms[alg].sign(message, key)
    return signature


def sign_hs256(message: bytes, secret: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()


def corrupt(signature: bytes) -> bytes:
    """The same length, one bit different: a signature that no longer verifies."""
    return bytes([signature[0] ^ 0x01]) + signature[1:]


def compact(message: bytes, signature: bytes) -> str:
    return f"{message.decode('ascii')}.{b64url(signature)}"
