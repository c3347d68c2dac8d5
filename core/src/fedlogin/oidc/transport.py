"""fedlogin's HTTP/1.1 client transport: asyncio sockets, httptools' C parser, pinned addresses.

:class:`PinnedTransport` is the ``httpx`` transport under :class:`.outbound.Outbound`. It
replaces httpcore, which cost about 1.8M instructions per request (two per sign-in: token and
UserInfo); an exchange here costs a small fraction of that (benchmarks/instructions.py).

What it keeps from the rules of :mod:`fedlogin.oidc.outbound`:

* a connection is opened only to an address of :class:`.address_guard.AddressGuard`'s checked
  answer, never to a second DNS lookup (DNS rebinding); TLS is verified against the URL's host
  (``server_hostname``) with one SSL context made at start-up;
* the connect and read deadlines of ``request.extensions["timeout"]`` raise
  ``httpx.ConnectTimeout`` and ``httpx.ReadTimeout``; failures are ``httpx.ConnectError``,
  ``ReadError`` or ``RemoteProtocolError`` with the ``ssl.SSLError`` as ``__cause__`` when TLS
  failed (Outbound tells ``tls`` from ``connect`` by it);
* the body is streamed (Outbound stops reading past its size cap): a body not read to its end
  closes the connection, only a complete exchange returns it to the pool;
* connections are kept alive per (scheme, host, port) for :data:`IDLE_EXPIRY` seconds, at most
  ``max_idle`` of them; one the server closed, or that received bytes while idle, is discarded;
* HTTP/1.1 only; no proxy, no cookies (httpx's client has none either, see Outbound).
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
import typing
from collections.abc import AsyncIterator, Callable

import httptools
import httpx

from fedlogin.oidc.address_guard import AddressGuard

#: Like httpx's default keep-alive expiry: providers close idle connections after 5 s or more.
IDLE_EXPIRY = 5.0
#: A response head (status line and headers) larger than this is refused, as httpcore does.
MAX_HEAD_BYTES = 100 * 1024
#: Body bytes read ahead of the reader before the socket stops being read.
_READ_AHEAD = 256 * 1024
#: CR, LF or NUL in a header would split the request (header injection); h11 refused them too.
_UNSAFE_HEADER = re.compile(rb"[\r\n\x00]")

Key = tuple[str, str, int]


class _Exchange:
    """One response being parsed: httptools calls the ``on_*`` methods from ``feed``."""

    def __init__(self, connection: _Connection, request: httpx.Request) -> None:
        self.connection = connection
        self.parser = httptools.HttpResponseParser(self)
        self.head_only = request.method == "HEAD"
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_done = False
        self.head_bytes = 0
        self.chunks: list[bytes] = []
        self.buffered = 0
        self.complete = False
        self.reusable = False
        self.error: httpx.TransportError | None = None
        self.waiter: asyncio.Future[None] | None = None

    # -- httptools callbacks ------------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.complete:  # a second answer to one request: the connection is out of step
            self.reusable = False

    # After the head is done, anything more belongs to a second, unasked message: ignored.

    def on_status(self, status: bytes) -> None:
        if not self.head_done:
            self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.head_done:
            self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 200:  # 1xx informational (103 Early Hints): the real answer follows
            self.reason = b""
            self.headers = []
            return
        self.status = status
        self.head_done = True
        if self.head_only:
            self.complete = True  # a HEAD answer has no body whatever its length says

    def on_body(self, body: bytes) -> None:
        if not self.complete:
            self.chunks.append(body)
            self.buffered += len(body)

    def on_message_complete(self) -> None:
        if not self.head_done or self.complete:
            return
        self.complete = True
        self.reusable = self.parser.should_keep_alive()

    # -- events from the connection -----------------------------------------------------------

    def feed(self, data: bytes) -> None:
        if not self.head_done:
            self.head_bytes += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(httpx.RemoteProtocolError("The server switched protocols unasked."))
        except httptools.HttpParserError as exc:
            if self.complete:
                self.reusable = False  # bytes after the answer: not a connection to reuse
            else:
                self._fail(httpx.RemoteProtocolError(f"Invalid HTTP response: {exc}."))
        if not self.head_done and self.head_bytes > MAX_HEAD_BYTES:
            self._fail(httpx.RemoteProtocolError("The response headers are too large."))
        if self.buffered > _READ_AHEAD:
            self.connection.pause_reading()
        self._wake()

    def ended(self, exc: Exception | None) -> None:
        """The server closed the connection (``exc`` is ``None``) or it broke (``exc``)."""
        self.reusable = False
        if self.complete or self.error is not None:
            pass
        elif exc is not None:
            error = httpx.ReadError(str(exc) or type(exc).__name__)
            error.__cause__ = exc  # Outbound finds an ssl.SSLError here
            self.error = error
        elif not self.head_done:
            self.error = httpx.RemoteProtocolError(
                "Server disconnected without sending a response."
            )
        elif self._framed():
            self.error = httpx.RemoteProtocolError(
                "Server disconnected before the end of the response body."
            )
        else:
            self.complete = True  # no length and not chunked: the body ends with the connection
        self._wake()

    def _framed(self) -> bool:
        for name, value in self.headers:
            lowered = name.lower()
            if lowered == b"content-length" or (
                lowered == b"transfer-encoding" and b"chunked" in value.lower()
            ):
                return True
        return False

    def _fail(self, error: httpx.TransportError) -> None:
        if self.error is None:
            self.error = error
        self.reusable = False
        self.connection.close()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def wait(self, timeout: float | None) -> None:
        """Until something happened (bytes, end, error); ``ReadTimeout`` after ``timeout``."""
        if self.error is not None:
            raise self.error
        loop = asyncio.get_running_loop()
        waiter = self.waiter = loop.create_future()
        timer = None if timeout is None else loop.call_later(timeout, _expire, waiter)
        try:
            await waiter
        finally:
            self.waiter = None
            if timer is not None:
                timer.cancel()
        if self.error is not None:
            raise self.error

    def take(self) -> list[bytes]:
        chunks, self.chunks, self.buffered = self.chunks, [], 0
        self.connection.resume_reading()
        return chunks


def _expire(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_exception(httpx.ReadTimeout("The server did not answer in time."))


class _Connection(asyncio.Protocol):
    """One socket. Idle in the pool it has no exchange: any byte or close makes it stale."""

    def __init__(self, key: Key, discard: Callable[[_Connection], None]) -> None:
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.exchange: _Exchange | None = None
        self.stale = False
        self.idle_since = 0.0
        self._discard = discard
        self._paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = typing.cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.exchange is not None:
            self.exchange.feed(data)
        else:  # unasked bytes while idle (a 408 before closing, say): never pair them up
            self.close()

    def eof_received(self) -> bool:
        self.stale = True
        if self.exchange is not None:
            self.exchange.ended(None)
        return False  # asyncio closes the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.stale = True
        if self.exchange is not None:
            self.exchange.ended(exc)
        else:
            self._discard(self)

    def pause_reading(self) -> None:
        if not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()

    def close(self) -> None:
        self.stale = True
        if self.transport is not None:
            self.transport.abort()


class _ResponseBody(httpx.AsyncByteStream):
    def __init__(
        self, pool: PinnedTransport, exchange: _Exchange, read_timeout: float | None
    ) -> None:
        self._pool = pool
        self._exchange = exchange
        self._read_timeout = read_timeout
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        exchange = self._exchange
        while True:
            if exchange.chunks:
                for chunk in exchange.take():
                    yield chunk
            elif exchange.complete:
                return
            else:
                await exchange.wait(self._read_timeout)

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._pool.release(self._exchange)


class PinnedTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 to the guard's checked addresses, with a keep-alive pool. One per process."""

    def __init__(
        self,
        guard: AddressGuard,
        *,
        ssl_context: ssl.SSLContext | None = None,
        max_connections: int = 50,
        max_idle: int = 20,
        idle_expiry: float = IDLE_EXPIRY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._guard = guard
        # Loading the CA bundle costs ~20 ms: one context serves every connection.
        self._ssl = ssl_context or httpx.create_ssl_context()
        self._ssl.set_alpn_protocols(["http/1.1"])
        self._slots = asyncio.Semaphore(max_connections)
        self._max_idle = max_idle
        self._idle_expiry = idle_expiry
        self._clock = clock
        self._idle: dict[Key, list[_Connection]] = {}
        self._idle_count = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"{url.scheme!r} is not http or https.")
        host = url.raw_host.decode("ascii")
        key = (url.scheme, host, url.port or (443 if url.scheme == "https" else 80))
        timeouts = request.extensions.get("timeout", {})
        read_timeout = timeouts.get("read")
        message = _serialize(request, await request.aread())
        await self._acquire_slot(timeouts.get("pool"))
        connection: _Connection | None = None
        try:
            connection = self._reuse(key) or await self._connect(key, timeouts.get("connect"))
            exchange = connection.exchange = _Exchange(connection, request)
            assert connection.transport is not None
            connection.transport.write(message)
            while not exchange.head_done:
                await exchange.wait(read_timeout)
        except BaseException:
            if connection is not None:
                connection.close()
            self._slots.release()
            raise
        return httpx.Response(
            exchange.status,
            headers=exchange.headers,
            stream=_ResponseBody(self, exchange, read_timeout),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": exchange.reason},
        )

    async def _acquire_slot(self, timeout: float | None) -> None:
        if not self._slots.locked():
            await self._slots.acquire()  # free: returns without waiting
            return
        try:
            async with asyncio.timeout(timeout):
                await self._slots.acquire()
        except TimeoutError:
            raise httpx.PoolTimeout("Every outbound connection is busy.") from None

    def _reuse(self, key: Key) -> _Connection | None:
        idle = self._idle.get(key)
        now = self._clock()
        while idle:
            connection = idle.pop()
            self._idle_count -= 1
            if not connection.stale and now - connection.idle_since < self._idle_expiry:
                return connection
            connection.close()
        return None

    async def _connect(self, key: Key, timeout: float | None) -> _Connection:
        scheme, host, port = key
        tls = scheme == "https"
        loop = asyncio.get_running_loop()
        failure: httpx.TransportError | None = None
        # The guard answers from its cache (Outbound checked the name just before): the
        # connection goes to an address it checked, never to a new lookup.
        for address in await self._guard.addresses(host, port):
            try:
                async with asyncio.timeout(timeout):
                    _, connection = await loop.create_connection(
                        lambda: _Connection(key, self._forget),
                        str(address),
                        port,
                        ssl=self._ssl if tls else None,
                        server_hostname=host if tls else None,
                    )
                return connection
            except ssl.SSLError as exc:  # the server answered: another address would not help
                raise httpx.ConnectError(f"TLS with {host} failed: {exc}") from exc
            except TimeoutError as exc:
                failure = httpx.ConnectTimeout(f"Connecting to {address} timed out.")
                failure.__cause__ = exc
            except OSError as exc:
                failure = httpx.ConnectError(f"Connecting to {address} failed: {exc}")
                failure.__cause__ = exc
        assert failure is not None  # the guard never returns an empty answer
        raise failure

    def release(self, exchange: _Exchange) -> None:
        """The response was closed: pool its connection if the exchange ended cleanly."""
        self._slots.release()
        connection = exchange.connection
        connection.exchange = None
        reusable = exchange.complete and exchange.reusable and not exchange.chunks
        if not reusable or connection.stale or self._idle_count >= self._max_idle:
            connection.close()
            return
        connection.idle_since = self._clock()
        self._idle.setdefault(connection.key, []).append(connection)
        self._idle_count += 1

    def _forget(self, connection: _Connection) -> None:
        idle = self._idle.get(connection.key)
        if idle and connection in idle:
            idle.remove(connection)
            self._idle_count -= 1

    async def aclose(self) -> None:
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()
        self._idle_count = 0


def _serialize(request: httpx.Request, body: bytes) -> bytes:
    lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), request.url.raw_path)]
    chunked = False
    for name, value in request.headers.raw:
        if _UNSAFE_HEADER.search(name) or _UNSAFE_HEADER.search(value):
            raise httpx.LocalProtocolError("A request header contains CR, LF or NUL.")
        if name.lower() == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        lines.append(name + b": " + value)
    lines.append(b"\r\n")
    head = b"\r\n".join(lines)
    if not chunked:
        return head + body
    # httpx sends a body of unknown length chunked; it was read in full, so one chunk.
    return head + (b"%x\r\n%s\r\n" % (len(body), body) if body else b"") + b"0\r\n\r\n"
