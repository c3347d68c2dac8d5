"""Every outbound HTTP call of the relying party, and the rules it obeys.

One :class:`Outbound` lives as long as the process, with one
:class:`~fedlogin.oidc.transport.PinnedTransport`: its TLS context (loading the CA bundle costs
about 20 ms, ARCHITECTURE.md, "Where the time goes") and its pool of kept-alive connections.
The host creates it at start-up and closes it at shutdown. Requests are ``httpx.Request`` and
``httpx.Response`` handed straight to the transport: no ``httpx.AsyncClient`` in between.

The rules (SECURITY.md, "Inputs from admins and the network"):

* https only; plain http only to a loopback host when the operator allows it
  (``FEDLOGIN_DEV_INSECURE_LOOPBACK=1``, development and tests);
* a connect, read and overall deadline; the body is streamed and reading stops past a size cap;
* redirects are never followed: a 3xx is an error;
* SSRF: every address the host resolves to must be public unless the host is allow-listed,
  and the connection goes to an address of that checked answer (DNS rebinding): see
  :mod:`fedlogin.oidc.address_guard`. The check runs before the request (for a clear error)
  and again where the transport opens the connection (so that nothing bypasses it);
* no cookies are kept (one client serves every user), no proxy or ``.netrc`` from the
  environment (a proxy would connect to the address for us, past the check): the transport
  has neither.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import ssl
import typing
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import attrs
import httpx

from fedlogin.config import Config
from fedlogin.oidc.address_guard import AddressGuard, AddressRefused
from fedlogin.oidc.errors import OutboundError
from fedlogin.oidc.transport import PinnedTransport

#: Discovery documents and key sets are a few KiB; 512 KiB leaves room and stops a flood.
DEFAULT_MAX_BYTES = 512 * 1024
#: Accepted URLs remembered by Outbound.check_url (forgotten all at once past this).
_KNOWN_URLS = 1024
_LOCALHOST_NAMES = frozenset({"localhost", "localhost.localdomain"})


def _hosts(value: typing.Iterable[str]) -> frozenset[str]:
    return frozenset(host.strip().lower().strip("[]") for host in value if host.strip())


@attrs.frozen
class OutboundSettings:
    """What the operator decides about outbound calls.

    ``allowed_hosts`` are host names (or IP literals) that may resolve to private, loopback or
    link-local addresses: an identity provider on the internal network.
    """

    allow_insecure_loopback: bool = False
    allowed_hosts: frozenset[str] = attrs.field(factory=frozenset, converter=_hosts)
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    #: Whole call, DNS to last byte: a server dribbling bytes cannot hold a sign-in longer.
    total_timeout: float = 20.0
    max_bytes: int = DEFAULT_MAX_BYTES
    user_agent: str = "fedlogin"

    @classmethod
    def from_config(cls, config: Config, **overrides: Any) -> OutboundSettings:
        return cls(allow_insecure_loopback=config.dev_insecure_loopback, **overrides)


@attrs.frozen
class FetchedResponse:
    """A response read in full (within the size cap)."""

    url: str
    status_code: int
    headers: Mapping[str, str]
    content: bytes = attrs.field(repr=False)
    step: str

    @property
    def media_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    def json(self) -> Any:
        """The body as JSON, or ``not_json``. NaN and Infinity are not JSON."""
        try:
            return json.loads(self.content, parse_constant=_reject_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise OutboundError(
                f"{self.url} did not answer with JSON.", code="not_json", step=self.step
            ) from exc


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class Outbound:
    """The process's outbound HTTP client with the rules above. Use one per process."""

    def __init__(self, settings: OutboundSettings | None = None) -> None:
        self.settings = settings or OutboundSettings()
        self.guard = AddressGuard(
            allowed_hosts=self.settings.allowed_hosts,
            allow_loopback=self.settings.allow_insecure_loopback,
            resolve_timeout=self.settings.connect_timeout,
        )
        self._transport = PinnedTransport(self.guard, max_connections=50, max_idle=20)
        read = self.settings.read_timeout
        connect = self.settings.connect_timeout
        self._timeout = {"connect": connect, "read": read, "write": read, "pool": read}
        self._headers = [
            ("User-Agent", self.settings.user_agent),
            ("Accept", "application/json"),
            # Uncompressed: the documents are small, and the body is then read as it comes
            # (a server that compresses anyway is decoded by httpx, see _send).
            ("Accept-Encoding", "identity"),
        ]
        self._known_urls: dict[str, httpx.URL] = {}

    async def aclose(self) -> None:
        await self._transport.aclose()

    async def __aenter__(self) -> Outbound:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def check_url(self, url: str, *, step: str) -> httpx.URL:
        """``url`` parsed, if its scheme and host may be used (no DNS): ``insecure_scheme``."""
        # A provider's endpoints are the same at every sign-in, and parsing one costs more
        # than sending the request: an accepted URL is remembered (refusals are not).
        known = self._known_urls.get(url) if isinstance(url, str) else None
        if known is not None:
            return known
        parsed = self._parse_url(url, step)
        if len(self._known_urls) >= _KNOWN_URLS:
            self._known_urls.clear()
        self._known_urls[url] = parsed
        return parsed

    def _parse_url(self, url: str, step: str) -> httpx.URL:
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise OutboundError(
                f"{url!r} is not a valid URL.", code="insecure_scheme", step=step
            ) from exc
        if parsed.userinfo or not parsed.host:
            raise OutboundError(
                f"{url!r} must be an https URL with a host and no credentials.",
                code="insecure_scheme",
                step=step,
            )
        if parsed.scheme == "https":
            return parsed
        if (
            parsed.scheme == "http"
            and self.settings.allow_insecure_loopback
            and _is_loopback_name(parsed.host)
        ):
            return parsed
        raise OutboundError(
            f"{url} is not an https URL; plain http is allowed only to loopback addresses "
            "in development (FEDLOGIN_DEV_INSECURE_LOOPBACK=1).",
            code="insecure_scheme",
            step=step,
        )

    async def request(
        self,
        method: str,
        url: str,
        *,
        step: str,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
    ) -> FetchedResponse:
        """Send one request under the rules and read the answer, whatever its status.

        Raises :class:`OutboundError`: ``insecure_scheme``, ``dns``, ``address_blocked``,
        ``tls``, ``timeout``, ``connect``, ``redirect``, ``too_large``.
        """
        parsed = self.check_url(url, step=step)
        limit = self.settings.max_bytes if max_bytes is None else max_bytes
        try:
            async with asyncio.timeout(self.settings.total_timeout):
                addresses = await self.guard.addresses(
                    parsed.raw_host.decode("ascii"), _port(parsed)
                )
                if parsed.scheme == "http" and not all(a.is_loopback for a in addresses):
                    raise AddressRefused(
                        "insecure_scheme", f"{parsed.host} is not a loopback address: use https."
                    )
                return await self._send(method, parsed, step, headers, data, limit)
        except AddressRefused as exc:
            raise OutboundError(exc.message, code=exc.code, step=step) from None
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise OutboundError(
                f"{url} did not answer in time.", code="timeout", step=step
            ) from exc
        except httpx.DecodingError as exc:
            # We ask for identity; a server that compresses anyway must compress correctly.
            raise OutboundError(
                f"{url} sent a compressed body that could not be decompressed.",
                code="bad_encoding",
                step=step,
            ) from exc
        except httpx.TransportError as exc:
            if _caused_by_tls(exc):
                raise OutboundError(
                    f"The TLS connection to {parsed.host} failed: {_tls_reason(exc)}.",
                    code="tls",
                    step=step,
                ) from exc
            raise OutboundError(
                f"The connection to {parsed.host} failed ({type(exc).__name__}).",
                code="connect",
                step=step,
            ) from exc

    async def _send(
        self,
        method: str,
        url: httpx.URL,
        step: str,
        headers: Mapping[str, str] | None,
        data: Mapping[str, str] | None,
        limit: int,
    ) -> FetchedResponse:
        # The transport directly, not through an httpx.AsyncClient: its redirect, auth, cookie
        # and hook machinery cost ~0.3M instructions per call and Outbound wants none of it.
        # The request is built complete (a stream rather than data=): httpx's own encoding
        # and header preparation cost twice what the form encoding does.
        body = urlencode(data).encode("ascii") if data else b""
        request = httpx.Request(
            method,
            url,
            headers=self._request_headers(method, url, headers, body),
            stream=httpx.ByteStream(body),
            extensions={"timeout": self._timeout},
        )
        response = await self._transport.handle_async_request(request)
        try:
            if 300 <= response.status_code < 400:
                raise OutboundError(
                    f"{url} answered with a redirect (HTTP {response.status_code}); "
                    "redirects are not followed.",
                    code="redirect",
                    step=step,
                    status_code=response.status_code,
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise _too_large(url, limit, step)
            coding = response.headers.get("content-encoding", "identity").strip().lower()
            chunks = (
                typing.cast(httpx.AsyncByteStream, response.stream)
                if coding == "identity"
                else response.aiter_bytes()  # decoded, so the cap counts decoded bytes
            )
            content = bytearray()
            async for chunk in chunks:
                content.extend(chunk)
                if len(content) > limit:
                    raise _too_large(url, limit, step)
        finally:
            await response.aclose()  # a body not read to its end closes the connection
        return FetchedResponse(
            url=str(url),
            status_code=response.status_code,
            headers={k.lower(): v for k, v in response.headers.items()},
            content=bytes(content),
            step=step,
        )

    def _request_headers(
        self, method: str, url: httpx.URL, headers: Mapping[str, str] | None, body: bytes
    ) -> list[tuple[str, str]]:
        given = {name.lower() for name in headers} if headers else set()
        result = [] if "host" in given else [("Host", url.netloc.decode("ascii"))]
        result += [header for header in self._headers if header[0].lower() not in given]
        if headers:
            result += headers.items()
        if body and "content-type" not in given:
            result.append(("Content-Type", "application/x-www-form-urlencoded"))
        if (body or method in ("POST", "PUT", "PATCH")) and "content-length" not in given:
            result.append(("Content-Length", str(len(body))))
        return result

    async def get_json(
        self,
        url: str,
        *,
        step: str,
        headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
    ) -> Any:
        """GET a JSON document that must come with HTTP 200 (else ``http_status``)."""
        response = await self.request("GET", url, step=step, headers=headers, max_bytes=max_bytes)
        if response.status_code != 200:
            raise OutboundError(
                f"{url} answered HTTP {response.status_code}.",
                code="http_status",
                step=step,
                status_code=response.status_code,
            )
        return response.json()


def _port(url: httpx.URL) -> int:
    return url.port or (443 if url.scheme == "https" else 80)


def _is_loopback_name(host: str) -> bool:
    if host.lower() in _LOCALHOST_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _too_large(url: httpx.URL, limit: int, step: str) -> OutboundError:
    return OutboundError(f"{url} sent more than {limit // 1024} KiB.", code="too_large", step=step)


def _chain(exc: BaseException) -> typing.Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _caused_by_tls(exc: BaseException) -> bool:
    return any(isinstance(e, ssl.SSLError) for e in _chain(exc))


def _tls_reason(exc: BaseException) -> str:
    for e in _chain(exc):
        if isinstance(e, ssl.SSLCertVerificationError):
            return f"the certificate was not accepted ({e.verify_message})"
        if isinstance(e, ssl.SSLError):
            return e.reason or "handshake failed"
    return "handshake failed"
