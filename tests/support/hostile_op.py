"""A hostile OpenID provider for negative tests: well-behaved by default, wrong in one chosen way.

It serves discovery, JWKS, authorize (auto-approves: redirects straight back with ``code``,
``state`` and ``iss``), token and UserInfo, signs ID tokens with joserfc, and records every request
it receives. Each test bends exactly one thing through a :class:`Bend`::

    def test_rejects_wrong_nonce(hostile_op: HostileOP) -> None:
        hostile_op.bend = Bend(nonce="not-the-nonce")       # rp-nonce-invalid
        ... point the relying party at hostile_op.issuer (client hostile_op.client_id /
        ... hostile_op.client_secret), start a sign-in, then
        callback = hostile_op.follow_authorize(authorization_url)   # the RP's callback URL
        ... deliver callback to the RP and assert it rejects
        assert hostile_op.token_requests[0].basic_credentials() == (client_id, secret)

``hostile_op`` (one provider on a real 127.0.0.1 port) and ``hostile_op_factory`` are fixtures
registered by ``tests/conftest.py``. In-process use without a port: ``HostileOP(issuer=
"http://hostile.test")`` and ``httpx.AsyncClient(transport=httpx.ASGITransport(app=op.app))``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal
from urllib.parse import urlencode

import httpx
import pytest
from joserfc.jwk import ECKey, RSAKey
from starlette.applications import Starlette

from tests.support import hostile_jose as jose
from tests.support.hostile_endpoints import Grant, RecordedRequest, routes
from tests.support.hostile_jose import SigningAlg
from tests.support.threaded_server import ThreadedServer

__all__ = ["Bend", "HostileOP", "RecordedRequest", "SigningAlg", "hostile_op", "hostile_op_factory"]

DEFAULT_CLAIMS: Mapping[str, Any] = {
    "sub": "hostile-user-1",
    "email": "hostile.user@example.com",
    "email_verified": True,
    "name": "Hostile User",
    "preferred_username": "hostile.user",
}
OVERSIZED_PADDING = 256 * 1024
DEFAULT_CLIENT_ID = "fedlogin-test-client"
DEFAULT_CLIENT_SECRET = "hostile-client-secret"
UNKNOWN_CRIT = "urn:fedlogin:test:unknown-critical"


@dataclass(frozen=True)
class Bend:
    """What the provider gets wrong. ``Bend()`` is a well-behaved provider.

    Each field names the OpenID RP certification test (SECURITY.md) it serves, where one exists.
    """

    # Valid signing (rp-id_token-sig-rs256 / -ps256 / -es256).
    alg: SigningAlg = "RS256"

    # ID token claims.
    id_token_issuer: str | None = None  # rp-id_token-issuer-mismatch
    omit_sub: bool = False  # rp-id_token-sub
    sub: str | None = None  # sub in ID token and UserInfo, e.g. "x" * 256
    omit_aud: bool = False  # rp-id_token-aud
    aud: str | list[str] | None = None  # rp-id_token-aud: an audience without our client_id
    omit_iat: bool = False  # rp-id_token-iat
    expired: bool = False  # exp an hour ago
    nonce: str | None = None  # rp-nonce-invalid
    wrong_at_hash: bool = False  # at_hash present and wrong
    claims_only_in_userinfo: bool = False  # rp-scope-userinfo-claims
    oversized_id_token: bool = False  # a 256 KiB padding claim
    extra_claims: Mapping[str, Any] = field(default_factory=dict)  # e.g. {"azp": "other"}
    remove_claims: frozenset[str] = frozenset()
    omit_id_token: bool = False

    # Header and signature.
    kid_absent: Literal["single", "multiple"] | None = None  # rp-id_token-kid-absent-*-jwks
    alg_none: bool = False  # rp-id_token-sig-none
    corrupt_signature: bool = False  # rp-id_token-bad-sig-rs256 / -es256
    hs256_with_client_secret: bool = False  # rp-id_token-bad-sig-hs256
    unknown_crit: bool = False  # crit names a header parameter nobody understands
    # Signed by an attacker's key that only the header names (under the real kid). joserfc caps
    # headers at 512 bytes, which an RSA `jwk` header exceeds: use alg="ES256" with "jwk".
    embedded_key: Literal["jwk", "jku"] | None = None
    weak_rsa_key: bool = False  # RS256 with a published 1024-bit key
    extra_header: Mapping[str, Any] = field(default_factory=dict)
    rotate_keys_before_signing: bool = False  # rp-key-rotation-op-sign-key: new kid mid-login

    # Discovery.
    discovery_issuer: str | None = None  # rp-discovery-issuer-not-matching-config
    advertise_iss_parameter: bool = True  # authorization_response_iss_parameter_supported

    # Authorization response (RFC 9207 and errors).
    callback_iss: str | None = None
    omit_callback_iss: bool = False
    authorize_error: str | None = None  # e.g. "access_denied"
    authorize_error_description: str | None = None  # e.g. "<script>alert(1)</script>"

    # Token endpoint and UserInfo.
    token_error: str | None = None  # "invalid_client" answers 401, others 400
    userinfo_sub: str | None = None  # rp-userinfo-bad-sub-claim


class HostileOP:
    """The provider: its settings, keys, recorded requests and (once started) its HTTP server."""

    def __init__(
        self,
        *,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str | None = DEFAULT_CLIENT_SECRET,
        claims: Mapping[str, Any] | None = None,
        issuer: str | None = None,
        require_pkce: bool = True,
    ) -> None:
        """``client_secret=None`` registers a public client (token auth method ``none``)."""
        self.client_id = client_id
        self.client_secret = client_secret
        self.claims: dict[str, Any] = dict(claims or DEFAULT_CLAIMS)
        self.require_pkce = require_pkce
        self.bend = Bend()
        self.keys = jose.SigningKeys.generate()
        self._spare_keys: dict[tuple[bool, bool], RSAKey | ECKey] = {}
        self._weak_key: jose.WeakRsaKey | None = None
        self.requests: list[RecordedRequest] = []
        self.codes: dict[str, Grant] = {}
        self.access_tokens: dict[str, Grant] = {}
        self._lock = threading.Lock()
        self._issuer = issuer
        self._server: ThreadedServer | None = None
        self.app = Starlette(routes=routes(self))

    # -- where things are ---------------------------------------------------------------------

    @property
    def issuer(self) -> str:
        if self._issuer is None:
            raise RuntimeError("HostileOP has no issuer yet: start() it or pass issuer=")
        return self._issuer

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def jwks_uri(self) -> str:
        return f"{self.issuer}/jwks"

    @property
    def attacker_jwks_uri(self) -> str:
        return f"{self.issuer}/attacker/jwks"

    def discovery(self) -> dict[str, Any]:
        bend = self.bend
        algs: list[str] = [*jose.SIGNING_ALGS]
        algs += ["none"] if bend.alg_none else []
        algs += ["HS256"] if bend.hs256_with_client_secret else []
        document: dict[str, Any] = {
            "issuer": bend.discovery_issuer or self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": self.jwks_uri,
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": algs,
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "email", "profile"],
            "claims_supported": sorted({"sub", "iss", "aud", "exp", "iat", "nonce", *self.claims}),
        }
        if bend.advertise_iss_parameter:
            document["authorization_response_iss_parameter_supported"] = True
        return document

    def jwks(self) -> dict[str, Any]:
        """The key set served at jwks_uri, shaped by the current bend."""
        bend = self.bend
        if bend.kid_absent == "single":
            return {"keys": [jose.public_jwk(self.keys.for_alg(bend.alg), with_kid=False)]}
        if bend.kid_absent == "multiple":
            candidates = [
                self.keys.for_alg(bend.alg),
                self.spare_key(bend.alg, attacker=False),
                self.keys.ec,
                self.keys.rsa,
            ]
            unique = list({id(key): key for key in candidates}.values())
            return {"keys": [jose.public_jwk(key, with_kid=False) for key in unique]}
        keys = [jose.public_jwk(self.keys.rsa), jose.public_jwk(self.keys.ec)]
        if bend.weak_rsa_key:
            keys.append(self.weak_key().public_jwk())
        return {"keys": keys}

    def attacker_jwks(self) -> dict[str, Any]:
        """The attacker's key under the real key's kid, served at attacker_jwks_uri (``jku``)."""
        attacker = jose.public_jwk(self.spare_key(self.bend.alg, attacker=True))
        return {"keys": [attacker | {"kid": str(self.keys.for_alg(self.bend.alg).kid)}]}

    # -- keys ---------------------------------------------------------------------------------

    def spare_key(self, alg: SigningAlg, *, attacker: bool) -> RSAKey | ECKey:
        """A key of ``alg``'s family that is not a signing key: a decoy, or the attacker's.

        Made on first use: RSA key generation is what makes starting the provider slow.
        """
        family = (alg == "ES256", attacker)  # (is EC, is the attacker's)
        if family not in self._spare_keys:
            self._spare_keys[family] = jose.generate_like(alg)
        return self._spare_keys[family]

    def weak_key(self) -> jose.WeakRsaKey:
        if self._weak_key is None:
            self._weak_key = jose.WeakRsaKey.generate()
        return self._weak_key

    def rotate_keys(self) -> list[str]:
        """Replace the signing keys by new ones with new kids; the old ones are no longer served."""
        self.keys = jose.SigningKeys.generate()
        return self.keys.kids

    # -- tokens -------------------------------------------------------------------------------

    def id_token_claims(self, grant: Grant, access_token: str) -> dict[str, Any]:
        bend = self.bend
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": bend.id_token_issuer or self.issuer,
            "sub": self.subject(),
            "aud": bend.aud if bend.aud is not None else grant.client_id,
            "iat": now - 7200 if bend.expired else now,
            "exp": now - 3600 if bend.expired else now + 300,
            "auth_time": now,
            "at_hash": jose.half_hash(("wrong" if bend.wrong_at_hash else "") + access_token),
        }
        nonce = bend.nonce if bend.nonce is not None else grant.nonce
        if nonce is not None:
            claims["nonce"] = nonce
        if not bend.claims_only_in_userinfo:
            claims |= {k: v for k, v in self.claims.items() if k != "sub"}
        if bend.oversized_id_token:
            claims["padding"] = "x" * OVERSIZED_PADDING
        claims |= dict(bend.extra_claims)
        drop = set(bend.remove_claims)
        drop |= {"sub"} if bend.omit_sub else set()
        drop |= {"aud"} if bend.omit_aud else set()
        drop |= {"iat"} if bend.omit_iat else set()
        return {k: v for k, v in claims.items() if k not in drop}

    def subject(self) -> str:
        return self.bend.sub if self.bend.sub is not None else str(self.claims["sub"])

    def sign_id_token(self, claims: Mapping[str, Any]) -> str:
        """Sign ``claims`` as the current bend says (also usable without HTTP in unit tests)."""
        bend = self.bend
        if bend.rotate_keys_before_signing:
            self.rotate_keys()
        key = self.keys.for_alg(bend.alg)
        header: dict[str, Any] = {"alg": bend.alg, "typ": "JWT", "kid": str(key.kid)}
        if bend.kid_absent:
            del header["kid"]
        if bend.unknown_crit:
            header |= {"crit": [UNKNOWN_CRIT], UNKNOWN_CRIT: True}
        if bend.embedded_key == "jwk":
            header["jwk"] = jose.public_jwk(self.spare_key(bend.alg, attacker=True), with_kid=False)
        elif bend.embedded_key == "jku":
            header["jku"] = self.attacker_jwks_uri
        header |= dict(bend.extra_header)

        if bend.alg_none:
            header = {k: v for k, v in header.items() if k != "kid"} | {"alg": "none"}
            return jose.compact(jose.signing_input(header, claims), b"")
        if bend.hs256_with_client_secret:
            if self.client_secret is None:
                raise ValueError("hs256_with_client_secret needs a client_secret")
            header = {k: v for k, v in header.items() if k != "kid"} | {"alg": "HS256"}
            message = jose.signing_input(header, claims)
            return jose.compact(message, jose.sign_hs256(message, self.client_secret))
        if bend.weak_rsa_key:
            header |= {"alg": "RS256", "kid": self.weak_key().kid}
            message = jose.signing_input(header, claims)
            return jose.compact(message, self.weak_key().sign_rs256(message))
        if bend.embedded_key:
            key = self.spare_key(bend.alg, attacker=True)
        message = jose.signing_input(header, claims)
        signature = jose.sign_with_key(message, bend.alg, key)
        if bend.corrupt_signature:
            signature = jose.corrupt(signature)
        return jose.compact(message, signature)

    # -- recording ----------------------------------------------------------------------------

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def recorded(self, endpoint: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.endpoint == endpoint]

    @property
    def token_requests(self) -> list[RecordedRequest]:
        return self.recorded("token")

    @property
    def userinfo_requests(self) -> list[RecordedRequest]:
        return self.recorded("userinfo")

    @property
    def authorize_requests(self) -> list[RecordedRequest]:
        return self.recorded("authorize")

    @property
    def jwks_fetches(self) -> int:
        return len(self.recorded("jwks"))

    # -- driving it ---------------------------------------------------------------------------

    def authorization_url(self, **params: str) -> str:
        """The authorize URL with ``client_id``, ``response_type`` and ``scope`` filled in."""
        query = {"response_type": "code", "client_id": self.client_id, "scope": "openid email"}
        return f"{self.issuer}/authorize?{urlencode(query | params)}"

    def follow_authorize(self, authorization_url: str) -> str:
        """Visit the authorization URL (as the browser would) and return the redirect target."""
        response = httpx.get(authorization_url, follow_redirects=False, trust_env=False)
        if not response.is_redirect:
            raise AssertionError(f"authorize answered {response.status_code}: {response.text}")
        return response.headers["location"]

    # -- serving ------------------------------------------------------------------------------

    def start(self) -> HostileOP:
        """Serve on a free 127.0.0.1 port in a background thread; the issuer is its base URL."""
        server = ThreadedServer(self.app)
        self._issuer = server.base_url
        self._server = server.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> HostileOP:
        return self if self._server is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@pytest.fixture
def hostile_op() -> Iterator[HostileOP]:
    """A started hostile provider, well-behaved until the test sets ``hostile_op.bend``."""
    with HostileOP() as op:
        yield op


@pytest.fixture
def hostile_op_factory() -> Iterator[Callable[..., HostileOP]]:
    """``make(**HostileOP kwargs) -> HostileOP``, started; all stop at teardown (mix-up tests)."""
    started: list[HostileOP] = []

    def make(**kwargs: Any) -> HostileOP:
        op = HostileOP(**kwargs).start()
        started.append(op)
        return op

    yield make
    for op in started:
        op.stop()
