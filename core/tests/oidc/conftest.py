"""A fake identity provider for the relying-party tests: respx routes and joserfc-signed tokens.

Tests get it as the ``idp`` fixture (an :class:`Idp`); its constants are class attributes.
DNS is faked for every test in this folder (``fedlogin.oidc.address_guard.resolve_host`` is
replaced): ``idp.example.com`` and ``keys.idp.example.com`` resolve to a public address, other
names to what a test puts in the ``dns`` fixture, unknown names fail like NXDOMAIN. No test
here opens a connection to anything but a loopback address (127.0.0.1, 127.0.0.2).
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import socket
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from fedlogin.oidc import address_guard
from fedlogin.oidc.outbound import Outbound, OutboundSettings
from fedlogin.presets import DiscoveryTarget
from joserfc import jws
from joserfc.jwk import ECKey, Key, OctKey, RSAKey
from joserfc.registry import HeaderParameter

from tests.support.respx_outbound import OUTBOUND

ISSUER = "https://idp.example.com"
DISCOVERY_URL = ISSUER + "/.well-known/openid-configuration"
JWKS_URI = "https://keys.idp.example.com/oauth/jwks"
CLIENT_ID = "client-123"
CLIENT_SECRET = "a-client-secret-long-enough-for-hmac"
NONCE = "nonce-of-this-flow"
PUBLIC_ADDRESS = "93.184.215.14"


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Host name → addresses; edit it in a test. Resolutions are counted in ``dns_calls``."""
    table: dict[str, list[str]] = {
        "idp.example.com": [PUBLIC_ADDRESS],
        "keys.idp.example.com": [PUBLIC_ADDRESS],
    }
    return table


@pytest.fixture
def dns_calls() -> list[str]:
    return []


@pytest.fixture(autouse=True)
def fake_resolver(
    monkeypatch: pytest.MonkeyPatch, dns: dict[str, list[str]], dns_calls: list[str]
) -> None:
    async def resolve(host: str, port: int) -> list[address_guard.IPAddress]:
        dns_calls.append(host)
        if host not in dns:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [ipaddress.ip_address(a) for a in dns[host]]

    monkeypatch.setattr(address_guard, "resolve_host", resolve)


@pytest.fixture
async def outbound() -> AsyncIterator[Outbound]:
    async with Outbound(OutboundSettings()) as client:
        yield client


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    """respx for every test that asks for it: an unmocked request is an error."""
    with respx.mock(using=OUTBOUND, assert_all_mocked=True, assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def self_signed(tmp_path: Path) -> tuple[ssl.SSLContext, Path]:
    """A TLS server context with a fresh self-signed certificate for ``localhost``, and the
    certificate's file (a client that should trust it loads it)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file = tmp_path / "cert.pem"
    key_file = tmp_path / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file


@pytest.fixture
def target() -> DiscoveryTarget:
    return DiscoveryTarget(
        url=DISCOVERY_URL, issuer=ISSUER, domain="idp.example.com", issuer_aliases=(ISSUER + "/",)
    )


# -- keys (made once per session: RSA generation is the slow part) ---------------------------


@pytest.fixture(scope="session")
def rsa_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})


@pytest.fixture(scope="session")
def rsa_key_2() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "rsa-2"})


@pytest.fixture(scope="session")
def ec_key() -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": "ec-1"})


@pytest.fixture(scope="session")
def attacker_key() -> RSAKey:
    """Not the provider's key, but it claims the provider's kid."""
    return RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})


@pytest.fixture
def idp(router: respx.MockRouter, rsa_key: RSAKey, ec_key: ECKey) -> Idp:
    return Idp(router, [rsa_key, ec_key])


_EXTENSION_REGISTRY = {"x-ext": HeaderParameter("a test extension", lambda value: None)}


class Idp:
    """The provider: its documents, its routes on ``router``, and tokens signed its way."""

    ISSUER = ISSUER
    DISCOVERY_URL = DISCOVERY_URL
    JWKS_URI = JWKS_URI
    CLIENT_ID = CLIENT_ID
    CLIENT_SECRET = CLIENT_SECRET
    NONCE = NONCE

    def __init__(self, router: respx.MockRouter, keys: list[Key]) -> None:
        self.router = router
        self.keys = keys

    # documents

    def discovery_document(self, **overrides: Any) -> dict[str, Any]:
        """A discovery document; an override of ``None`` removes the member."""
        document: dict[str, Any] = {
            "issuer": ISSUER,
            "authorization_endpoint": ISSUER + "/authorize",
            "token_endpoint": ISSUER + "/token",
            "userinfo_endpoint": ISSUER + "/userinfo",
            "jwks_uri": JWKS_URI,
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "client_secret_basic",
            ],
            "code_challenge_methods_supported": ["S256"],
        }
        document.update(overrides)
        return {k: v for k, v in document.items() if v is not None}

    @staticmethod
    def public_jwk(key: Key, **extra: Any) -> dict[str, Any]:
        jwk = dict(key.as_dict(private=False))
        jwk.update(extra)
        return {k: v for k, v in jwk.items() if v is not None}

    def jwks_document(self, *keys: Key, **extra: Any) -> dict[str, Any]:
        return {"keys": [self.public_jwk(key, **extra) for key in (keys or self.keys)]}

    @staticmethod
    def weak_rsa_jwk(kid: str = "weak") -> dict[str, Any]:
        """A 1024-bit RSA public JWK, made by hand: joserfc rightly warns about making one."""
        numbers = rsa.generate_private_key(65537, 1024).public_key().public_numbers()  # noqa: S505
        return {"kty": "RSA", "kid": kid, "n": _b64int(numbers.n), "e": _b64int(numbers.e)}

    # routes

    def serve_discovery(self, **overrides: Any) -> respx.Route:
        return self.router.get(DISCOVERY_URL).respond(json=self.discovery_document(**overrides))

    def serve_jwks(self, *documents: dict[str, Any]) -> respx.Route:
        """Serve the JWKS; several documents are served one per request, in order."""
        route = self.router.get(JWKS_URI)
        if len(documents) > 1:
            route.side_effect = [httpx.Response(200, json=d) for d in documents]
            return route
        return route.respond(json=documents[0] if documents else self.jwks_document())

    # tokens

    @staticmethod
    def claims(now: float | None = None, **overrides: Any) -> dict[str, Any]:
        """Valid ID token claims; an override of ``None`` removes the claim."""
        issued = int(time.time() if now is None else now)
        values: dict[str, Any] = {
            "iss": ISSUER,
            "sub": "user-42",
            "aud": CLIENT_ID,
            "exp": issued + 300,
            "iat": issued,
            "nonce": NONCE,
        }
        values.update(overrides)
        return {k: v for k, v in values.items() if v is not None}

    def sign(
        self,
        payload: dict[str, Any],
        key: Key | None = None,
        alg: str = "RS256",
        *,
        kid: str | None = "use-key",
        header: dict[str, Any] | None = None,
    ) -> str:
        """A compact JWS of ``payload``. ``kid="use-key"`` copies the key's own kid."""
        key = key or self.keys[0]
        protected: dict[str, Any] = {"alg": alg, "typ": "JWT"}
        if kid == "use-key":
            kid = key.kid
        if kid is not None:
            protected["kid"] = kid
        protected.update(header or {})
        registry = jws.JWSRegistry(
            header_registry=_EXTENSION_REGISTRY, algorithms=[alg], strict_check_header=False
        )
        registry.max_header_length = 8192
        return jws.serialize_compact(protected, json.dumps(payload), key, registry=registry)

    @staticmethod
    def unsigned(payload: dict[str, Any]) -> str:
        header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        return f"{header}.{_b64(json.dumps(payload).encode())}."

    @staticmethod
    def hmac_key(secret: str = CLIENT_SECRET) -> OctKey:
        return OctKey.import_key(secret)


def _b64int(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
