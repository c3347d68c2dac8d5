"""fedlogin's HTTP/1.1 transport against real sockets: a scripted server on a loopback address.

Each test's server answers every request on a connection with the test's next reply and
records which connection each request came on, so pooling, staleness and closing show as
connection numbers.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fedlogin.oidc.address_guard import AddressGuard, AddressRefused
from fedlogin.oidc.transport import MAX_HEAD_BYTES, PinnedTransport

Reply = bytes | Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
TIMEOUTS = {"connect": 2.0, "read": 2.0, "write": 2.0, "pool": 2.0}


class Server:
    """HTTP/1.1 on a real socket, answering with ``replies`` in order (then ``OK``)."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[tuple[int, bytes]] = []  # (connection number, request head)
        self.connections = 0
        self.closed = asyncio.Event()  # set whenever a connection ends on the server's side
        self.server: asyncio.Server | None = None

    async def start(self, host: str = "127.0.0.1", tls: ssl.SSLContext | None = None) -> int:
        self.server = await asyncio.start_server(self._handle, host, 0, ssl=tls)
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        number = self.connections
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.lower().split(b"\r\n")
                        if line.startswith(b"content-length:")
                    ),
                    0,
                )
                self.requests.append((number, head + await reader.readexactly(length)))
                reply = self.replies.pop(0) if self.replies else OK
                if isinstance(reply, bytes):
                    writer.write(reply)
                    await writer.drain()
                else:
                    await reply(reader, writer)
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            pass
        finally:
            writer.close()
            self.closed.set()

    @property
    def connection_numbers(self) -> list[int]:
        return [number for number, _ in self.requests]


@pytest.fixture
async def transport() -> AsyncIterator[PinnedTransport]:
    transport = PinnedTransport(AddressGuard(allow_loopback=True))
    yield transport
    await transport.aclose()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    server = Server()
    yield server
    await server.stop()


async def fetch(transport: PinnedTransport, url: str, **timeouts: float) -> httpx.Response:
    request = httpx.Request("GET", url, extensions={"timeout": {**TIMEOUTS, **timeouts}})
    response = await transport.handle_async_request(request)
    await response.aread()
    return response


async def settle() -> None:
    """Let the event loop take in what the server just did (a close, stray bytes)."""
    await asyncio.sleep(0.1)


# -- keep-alive -------------------------------------------------------------------------------


async def test_two_requests_share_one_kept_alive_connection(
    transport: PinnedTransport, server: Server
) -> None:
    port = await server.start()
    first = await fetch(transport, f"http://127.0.0.1:{port}/a")
    second = await fetch(transport, f"http://127.0.0.1:{port}/b")
    assert (first.status_code, first.content, second.content) == (200, b"ok", b"ok")
    assert server.connection_numbers == [1, 1]
    assert server.requests[1][1].startswith(b"GET /b HTTP/1.1\r\nHost: 127.0.0.1:")


async def test_a_connection_the_server_closed_while_idle_is_not_used(
    transport: PinnedTransport,
) -> None:
    async def answer_and_close(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(OK)  # keep-alive by default in HTTP/1.1, then closed anyway
        await writer.drain()
        writer.close()

    server = Server(answer_and_close)
    port = await server.start()
    try:
        await fetch(transport, f"http://127.0.0.1:{port}/")
        await server.closed.wait()
        await settle()
        second = await fetch(transport, f"http://127.0.0.1:{port}/")
    finally:
        await server.stop()
    assert second.content == b"ok"
    assert server.connection_numbers == [1, 2]


async def test_bytes_received_while_idle_make_a_connection_stale(
    transport: PinnedTransport,
) -> None:
    stray = b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n"

    async def answer_then_stray(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(OK)
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(stray)  # never the answer to the next request
        await writer.drain()

    server = Server(answer_then_stray)
    port = await server.start()
    try:
        await fetch(transport, f"http://127.0.0.1:{port}/")
        await asyncio.sleep(0.05)
        await settle()
        second = await fetch(transport, f"http://127.0.0.1:{port}/")
    finally:
        await server.stop()
    assert (second.status_code, second.content) == (200, b"ok")
    assert server.connection_numbers == [1, 2]


async def test_connection_close_is_honoured(transport: PinnedTransport, server: Server) -> None:
    server.replies.append(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
    port = await server.start()  # the server keeps the socket open: only the header says close
    await fetch(transport, f"http://127.0.0.1:{port}/")
    await fetch(transport, f"http://127.0.0.1:{port}/")
    assert server.connection_numbers == [1, 2]


async def test_an_http_1_0_answer_is_not_kept_alive(
    transport: PinnedTransport, server: Server
) -> None:
    server.replies.append(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
    port = await server.start()
    await fetch(transport, f"http://127.0.0.1:{port}/")
    await fetch(transport, f"http://127.0.0.1:{port}/")
    assert server.connection_numbers == [1, 2]


async def test_an_idle_connection_expires() -> None:
    now = [0.0]
    transport = PinnedTransport(AddressGuard(allow_loopback=True), clock=lambda: now[0])
    server = Server()
    port = await server.start()
    try:
        await fetch(transport, f"http://127.0.0.1:{port}/")
        now[0] = 4.0
        await fetch(transport, f"http://127.0.0.1:{port}/")
        now[0] = 9.5  # idle 5.5 s: a server with a 5 s keep-alive may be closing it now
        await fetch(transport, f"http://127.0.0.1:{port}/")
    finally:
        await transport.aclose()
        await server.stop()
    assert server.connection_numbers == [1, 1, 2]


async def test_at_most_max_idle_connections_are_kept(server: Server) -> None:
    transport = PinnedTransport(AddressGuard(allow_loopback=True), max_idle=1)
    port = await server.start()
    request = httpx.Request("GET", f"http://127.0.0.1:{port}/", extensions={"timeout": TIMEOUTS})
    try:
        open_at_once = [await transport.handle_async_request(request) for _ in range(2)]
        for response in open_at_once:
            await response.aread()  # read to the end: both connections could be reused
        await fetch(transport, f"http://127.0.0.1:{port}/")
        await fetch(transport, f"http://127.0.0.1:{port}/")
    finally:
        await transport.aclose()
    assert server.connection_numbers == [1, 2, 1, 1] or server.connection_numbers == [1, 2, 2, 2]
    assert server.connections == 2


async def test_a_request_waits_no_longer_than_the_pool_timeout_for_a_connection(
    server: Server,
) -> None:
    transport = PinnedTransport(AddressGuard(allow_loopback=True), max_connections=1)
    port = await server.start()
    request = httpx.Request("GET", f"http://127.0.0.1:{port}/", extensions={"timeout": TIMEOUTS})
    held = await transport.handle_async_request(request)
    try:
        with pytest.raises(httpx.PoolTimeout):
            await fetch(transport, f"http://127.0.0.1:{port}/", pool=0.1)
        await held.aclose()
        assert (await fetch(transport, f"http://127.0.0.1:{port}/", pool=0.1)).content == b"ok"
    finally:
        await transport.aclose()


# -- bodies -----------------------------------------------------------------------------------


async def test_a_chunked_body_is_read_across_writes(
    transport: PinnedTransport, server: Server
) -> None:
    async def chunked(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"1;ext=1\r\n \r\n5\r\nworld\r\n")
        await writer.drain()
        await asyncio.sleep(0.05)
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    server.replies.append(chunked)
    port = await server.start()
    first = await fetch(transport, f"http://127.0.0.1:{port}/")
    second = await fetch(transport, f"http://127.0.0.1:{port}/")
    assert (first.content, second.content) == (b"hello world", b"ok")
    assert server.connection_numbers == [1, 1]  # a complete chunked body: the connection stays


async def test_a_body_without_length_ends_with_the_connection(
    transport: PinnedTransport, server: Server
) -> None:
    async def until_close(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of ")
        await writer.drain()
        writer.write(b"it")
        writer.close()

    server.replies.append(until_close)
    port = await server.start()
    assert (await fetch(transport, f"http://127.0.0.1:{port}/")).content == b"all of it"
    assert (await fetch(transport, f"http://127.0.0.1:{port}/")).content == b"ok"
    assert server.connection_numbers == [1, 2]


async def test_a_body_cut_short_is_a_protocol_error(
    transport: PinnedTransport, server: Server
) -> None:
    async def cut(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
        writer.close()

    server.replies.append(cut)
    port = await server.start()
    with pytest.raises(httpx.RemoteProtocolError):
        await fetch(transport, f"http://127.0.0.1:{port}/")


async def test_a_body_closed_before_its_end_does_not_return_to_the_pool(
    transport: PinnedTransport, server: Server
) -> None:
    async def large(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1048576\r\n\r\n" + b"x" * 65536)
        await writer.drain()
        await asyncio.sleep(0.2)
        writer.write(b"x" * (1048576 - 65536))  # the rest, after the client gave up
        await writer.drain()

    server.replies.append(large)
    port = await server.start()
    request = httpx.Request("GET", f"http://127.0.0.1:{port}/", extensions={"timeout": TIMEOUTS})
    response = await transport.handle_async_request(request)
    async for chunk in response.aiter_raw():
        assert chunk.startswith(b"x")
        break
    await response.aclose()
    # At once: on the same connection the rest of that body would be taken for the answer.
    assert (await fetch(transport, f"http://127.0.0.1:{port}/")).content == b"ok"
    assert server.connection_numbers == [1, 2]


async def test_informational_answers_are_skipped(
    transport: PinnedTransport, server: Server
) -> None:
    server.replies.append(b"HTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n" + OK)
    port = await server.start()
    response = await fetch(transport, f"http://127.0.0.1:{port}/")
    assert (response.status_code, response.content) == (200, b"ok")
    assert "link" not in response.headers


async def test_an_endless_response_head_is_refused(
    transport: PinnedTransport, server: Server
) -> None:
    async def endless(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\n")
        for _ in range(MAX_HEAD_BYTES // 1000 + 10):
            writer.write(b"X-Filler: " + b"f" * 988 + b"\r\n")
            await writer.drain()

    server.replies.append(endless)
    port = await server.start()
    with pytest.raises(httpx.RemoteProtocolError, match="too large"):
        await fetch(transport, f"http://127.0.0.1:{port}/")


async def test_a_garbled_answer_is_a_protocol_error(
    transport: PinnedTransport, server: Server
) -> None:
    server.replies.append(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
    port = await server.start()
    with pytest.raises(httpx.RemoteProtocolError):
        await fetch(transport, f"http://127.0.0.1:{port}/")


async def test_a_request_body_is_sent_with_its_length(
    transport: PinnedTransport, server: Server
) -> None:
    port = await server.start()
    request = httpx.Request(
        "POST",
        f"http://127.0.0.1:{port}/token",
        data={"grant_type": "authorization_code", "code": "c 1"},
        extensions={"timeout": TIMEOUTS},
    )
    await (await transport.handle_async_request(request)).aread()
    sent = server.requests[0][1]
    assert sent.startswith(b"POST /token HTTP/1.1\r\n")
    assert b"\r\nContent-Length: 38\r\n" in sent
    assert sent.endswith(b"\r\n\r\ngrant_type=authorization_code&code=c+1")


async def test_a_header_that_would_split_the_request_is_refused(
    transport: PinnedTransport, server: Server
) -> None:
    port = await server.start()
    request = httpx.Request(
        "GET",
        f"http://127.0.0.1:{port}/userinfo",
        headers={"Authorization": "Bearer token\r\nX-Injected: 1"},
        extensions={"timeout": TIMEOUTS},
    )
    with pytest.raises(httpx.LocalProtocolError):
        await transport.handle_async_request(request)
    assert server.connections == 0


# -- deadlines and failures -------------------------------------------------------------------


async def test_a_silent_server_is_a_read_timeout(
    transport: PinnedTransport, server: Server
) -> None:
    async def silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(10)

    server.replies.append(silent)
    port = await server.start()
    started = time.monotonic()
    async with asyncio.timeout(5):  # without a read deadline: TimeoutError, not ReadTimeout
        with pytest.raises(httpx.ReadTimeout):
            await fetch(transport, f"http://127.0.0.1:{port}/", read=0.2)
    assert time.monotonic() - started < 2


async def test_a_body_that_stops_coming_is_a_read_timeout(
    transport: PinnedTransport, server: Server
) -> None:
    async def stalls(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf")
        await writer.drain()
        await asyncio.sleep(10)

    server.replies.append(stalls)
    port = await server.start()
    async with asyncio.timeout(5):
        with pytest.raises(httpx.ReadTimeout):
            await fetch(transport, f"http://127.0.0.1:{port}/", read=0.2)


async def test_a_server_that_closes_without_answering_is_a_protocol_error(
    transport: PinnedTransport, server: Server
) -> None:
    async def hang_up(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server.replies.append(hang_up)
    port = await server.start()
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        await fetch(transport, f"http://127.0.0.1:{port}/")


async def test_a_closed_port_is_a_connect_error(transport: PinnedTransport) -> None:
    server = Server()
    port = await server.start()
    await server.stop()
    with pytest.raises(httpx.ConnectError) as caught:
        await fetch(transport, f"http://127.0.0.1:{port}/")
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A port whose listener never accepts and whose queue is full: the kernel drops further
    connection attempts unanswered (no refusal), as a firewall that drops packets does."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port: int = listener.getsockname()[1]
    queued: list[socket.socket] = []
    try:
        for _ in range(4):  # fill the accept queue (its size is the backlog plus one or so)
            client = socket.socket()
            client.setblocking(False)
            client.connect_ex(("127.0.0.1", port))
            queued.append(client)
        time.sleep(0.1)
        yield port
    finally:
        for client in queued:
            client.close()
        listener.close()


async def test_an_unanswered_connection_attempt_is_a_connect_timeout(
    transport: PinnedTransport, black_hole: int
) -> None:
    started = time.monotonic()
    async with asyncio.timeout(5):  # without a connect deadline: TimeoutError, not ConnectTimeout
        with pytest.raises(httpx.ConnectTimeout) as caught:
            await fetch(transport, f"http://127.0.0.1:{black_hole}/", connect=0.3)
    assert time.monotonic() - started < 2
    assert isinstance(caught.value.__cause__, TimeoutError)


async def test_a_tls_handshake_left_unanswered_is_a_connect_timeout(
    transport: PinnedTransport, dns: dict[str, list[str]]
) -> None:
    """The handshake is part of connecting: a server that takes the connection and never
    answers the TLS hello times out on the connect deadline, not the read one."""

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up
        writer.close()

    silent = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    dns["localhost"] = ["127.0.0.1"]
    try:
        async with asyncio.timeout(5):
            with pytest.raises(httpx.ConnectTimeout):
                await fetch(transport, f"https://localhost:{port}/", connect=0.3, read=30)
    finally:
        silent.close()
        await silent.wait_closed()


# -- pinned addresses -------------------------------------------------------------------------


async def test_the_connection_goes_to_the_checked_address_only(
    transport: PinnedTransport, dns: dict[str, list[str]], dns_calls: list[str]
) -> None:
    # Listening on 127.0.0.2, which only the fake DNS names; after the first answer DNS says
    # 10.0.0.1 (rebinding), but the checked answer is what new connections use.
    server = Server(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
    port = await server.start(host="127.0.0.2")
    dns["idp.test"] = ["127.0.0.2"]
    try:
        await fetch(transport, f"http://idp.test:{port}/")
        dns["idp.test"] = ["10.0.0.1"]
        second = await fetch(transport, f"http://idp.test:{port}/")
    finally:
        await server.stop()
    assert second.content == b"ok"
    assert server.connection_numbers == [1, 2]  # a new connection, to the checked address
    assert dns_calls == ["idp.test"]
    assert server.requests[0][1].split(b"\r\n")[1] == f"Host: idp.test:{port}".encode()


async def test_a_refused_address_is_never_connected_to(
    transport: PinnedTransport, dns: dict[str, list[str]]
) -> None:
    dns["rebound.example"] = ["10.0.0.1"]
    request = httpx.Request("GET", "https://rebound.example/", extensions={"timeout": TIMEOUTS})
    with pytest.raises(AddressRefused) as caught:
        await transport.handle_async_request(request)
    assert caught.value.code == "address_blocked"


# -- TLS --------------------------------------------------------------------------------------


async def test_an_untrusted_certificate_fails_with_the_tls_error_as_cause(
    transport: PinnedTransport,
    server: Server,
    dns: dict[str, list[str]],
    self_signed: tuple[ssl.SSLContext, Path],
) -> None:
    port = await server.start(tls=self_signed[0])
    dns["localhost"] = ["127.0.0.1"]
    with pytest.raises(httpx.ConnectError) as caught:
        await fetch(transport, f"https://localhost:{port}/")
    assert isinstance(caught.value.__cause__, ssl.SSLCertVerificationError)
    assert server.requests == []


async def test_tls_is_verified_against_the_host_name_not_the_address(
    server: Server, dns: dict[str, list[str]], self_signed: tuple[ssl.SSLContext, Path]
) -> None:
    trusting = ssl.create_default_context(cafile=self_signed[1])
    transport = PinnedTransport(AddressGuard(allow_loopback=True), ssl_context=trusting)
    port = await server.start(tls=self_signed[0])
    dns["localhost"] = ["127.0.0.1"]
    try:
        # The certificate names localhost: the connection to 127.0.0.1 is accepted because
        # the name checked is the URL's, and kept alive like a plain one.
        assert (await fetch(transport, f"https://localhost:{port}/")).content == b"ok"
        assert (await fetch(transport, f"https://localhost:{port}/")).content == b"ok"
        with pytest.raises(httpx.ConnectError) as caught:
            await fetch(transport, f"https://127.0.0.1:{port}/")
    finally:
        await transport.aclose()
    assert isinstance(caught.value.__cause__, ssl.SSLCertVerificationError)
    assert server.connection_numbers == [1, 1]
