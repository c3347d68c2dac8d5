"""The suite's hostile provider: :class:`~tests.support.hostile_op.HostileOP`, reset between
tests, plus the one attack its ``Bend`` does not make: an ID token signed by the attacker's
key that only an ``x5u`` (certificate URL) or ``x5c`` (certificate chain) header names.
"""

from __future__ import annotations

import base64
import datetime
from collections.abc import Mapping
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support import hostile_jose as jose
from tests.support.hostile_endpoints import RecordedRequest
from tests.support.hostile_op import DEFAULT_CLAIMS, Bend, HostileOP

CertificateHeader = Literal["x5u", "x5c"]


class SuiteOP(HostileOP):
    """One provider per test module; :meth:`reset` makes it well-behaved again."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: Sign with the attacker's key and name its certificate in this header.
        self.certificate_header: CertificateHeader | None = None
        self._certificate: x509.Certificate | None = None
        self.app.router.routes.append(Route("/attacker/cert.pem", self._serve_certificate))

    def reset(self) -> None:
        self.bend = Bend()
        self.claims = dict(DEFAULT_CLAIMS)
        self.certificate_header = None
        with self._lock:
            self.requests.clear()
        self.codes.clear()
        self.access_tokens.clear()

    @property
    def certificate_url(self) -> str:
        return f"{self.issuer}/attacker/cert.pem"

    def attacker_certificate(self) -> x509.Certificate:
        """A self-signed certificate for the attacker's EC key (made on first use)."""
        if self._certificate is None:
            private = self.spare_key("ES256", attacker=True).private_key
            assert isinstance(private, ec.EllipticCurvePrivateKey)
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "attacker")])
            now = datetime.datetime.now(datetime.UTC)
            self._certificate = (
                x509.CertificateBuilder()
                .subject_name(name)
                .issuer_name(name)
                .public_key(private.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=1))
                .sign(private, hashes.SHA256())
            )
        return self._certificate

    def jwks(self) -> dict[str, Any]:
        document = super().jwks()
        if self.bend.kid_absent == "multiple":
            # The signing key last: only a relying party that tries each key finds it.
            document["keys"].reverse()
        return document

    def sign_id_token(self, claims: Mapping[str, Any]) -> str:
        if self.certificate_header is None:
            return super().sign_id_token(claims)
        # The real EC key's kid, so that only the header's certificate could make it verify.
        header: dict[str, Any] = {"alg": "ES256", "typ": "JWT", "kid": str(self.keys.ec.kid)}
        if self.certificate_header == "x5u":
            header["x5u"] = self.certificate_url
        else:
            der = self.attacker_certificate().public_bytes(Encoding.DER)
            header["x5c"] = [base64.b64encode(der).decode("ascii")]
        message = jose.signing_input(header, claims)
        attacker = self.spare_key("ES256", attacker=True)
        return jose.compact(message, jose.sign_with_key(message, "ES256", attacker))

    async def _serve_certificate(self, request: Request) -> Response:
        self.record(
            RecordedRequest(
                endpoint="attacker_certificate",
                method=request.method,
                url=str(request.url),
                headers={k.lower(): v for k, v in request.headers.items()},
                query=dict(request.query_params),
                form={},
            )
        )
        pem = self.attacker_certificate().public_bytes(Encoding.PEM)
        return Response(pem, media_type="application/pem-certificate-chain")
