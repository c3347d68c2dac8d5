"""The outbound rules: https only, deadlines, size cap, no redirects, clear error codes.

The last tests use real sockets on 127.0.0.1 (no respx): they prove the connection really
goes through fedlogin's pinned backend, and that TLS failures are told apart.
"""

from __future__ import annotations

import asyncio
import gzip
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
import respx
from fedlogin.config import Config
from fedlogin.oidc.errors import OutboundError
from fedlogin.oidc.outbound import Outbound, OutboundSettings

URL = "https://idp.example.com/.well-known/openid-configuration"


# -- schemes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://idp.example.com/x",
        "ftp://idp.example.com/x",
        "file:///etc/passwd",
        "https://user:pass@idp.example.com/x",
        "not a url",
        "http://127.0.0.1:3000/x",
    ],
)
async def test_only_https_is_fetched(
    url: str, outbound: Outbound, router: respx.MockRouter
) -> None:
    with pytest.raises(OutboundError) as caught:
        await outbound.get_json(url, step="discovery")
    assert caught.value.code == "insecure_scheme"
    assert not router.calls


async def test_plain_http_is_for_loopback_only_even_when_allowed(
    dns: dict[str, list[str]], router: respx.MockRouter
) -> None:
    dns["localhost"] = ["93.184.215.14"]  # a hostile resolver cannot take http off the machine
    router.get("http://localhost:3000/x").respond(json={})
    async with Outbound(OutboundSettings(allow_insecure_loopback=True)) as outbound:
        with pytest.raises(OutboundError) as caught:
            await outbound.get_json("http://localhost:3000/x", step="discovery")
        assert caught.value.code == "insecure_scheme"
        with pytest.raises(OutboundError) as caught:
            await outbound.get_json("http://idp.example.com/x", step="discovery")
        assert caught.value.code == "insecure_scheme"
    assert not router.calls


def test_the_loopback_setting_comes_from_the_environment(tmp_path: Path) -> None:
    config = Config.from_env({"FEDLOGIN_DEV_INSECURE_LOOPBACK": "1"}, cwd=tmp_path)
    assert OutboundSettings.from_config(config).allow_insecure_loopback is True
    config = Config.from_env({}, cwd=tmp_path)
    assert OutboundSettings.from_config(config).allow_insecure_loopback is False


# -- answers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308, 300, 304])
async def test_every_3xx_is_an_error(
    status: int, outbound: Outbound, router: respx.MockRouter
) -> None:
    router.get(URL).respond(status, headers={"Location": "https://elsewhere.example/"})
    with pytest.raises(OutboundError) as caught:
        await outbound.get_json(URL, step="discovery")
    assert caught.value.code == "redirect"


@pytest.mark.parametrize("status", [404, 500, 503, 204])
async def test_a_status_other_than_200_is_http_status(
    status: int, outbound: Outbound, router: respx.MockRouter
) -> None:
    router.get(URL).respond(status, text="nope")
    with pytest.raises(OutboundError) as caught:
        await outbound.get_json(URL, step="discovery")
    assert caught.value.code == "http_status"
    assert caught.value.status_code == status
    assert str(status) in caught.value.message


@pytest.mark.parametrize("body", [b"<html>login</html>", b"", b'{"a": NaN}', b"\xff\xfe{"])
async def test_a_body_that_is_not_json_is_not_json(
    body: bytes, outbound: Outbound, router: respx.MockRouter
) -> None:
    router.get(URL).respond(200, content=body)
    with pytest.raises(OutboundError) as caught:
        await outbound.get_json(URL, step="jwks")
    assert caught.value.code == "not_json"
    assert caught.value.step == "jwks"


async def test_a_body_over_the_cap_is_too_large(
    outbound: Outbound, router: respx.MockRouter
) -> None:
    router.get(URL).respond(200, content=b'{"a": "' + b"x" * (600 * 1024) + b'"}')
    with pytest.raises(OutboundError) as caught:
        await outbound.get_json(URL, step="discovery")
    assert caught.value.code == "too_large"


async def test_a_streamed_body_stops_being_read_past_the_cap(
    outbound: Outbound, router: respx.MockRouter
) -> None:
    sent: list[int] = []

    async def endless() -> AsyncIterator[bytes]:
        for _ in range(10_000):
            sent.append(1)
            yield b"x" * 1024

    router.get(URL).mock(return_value=httpx.Response(200, content=endless()))
    with pytest.raises(OutboundError) as caught:
        await outbound.get_json(URL, step="discovery", max_bytes=64 * 1024)
    assert caught.value.code == "too_large"
    assert len(sent) < 100  # it stopped, it did not read 10 MiB first


async def test_a_body_under_the_cap_is_read(outbound: Outbound, router: respx.MockRouter) -> None:
    router.get(URL).respond(200, json={"a": "x" * (500 * 1024)})
    assert len((await outbound.get_json(URL, step="discovery"))["a"]) == 500 * 1024


async def test_a_body_compressed_unasked_is_decoded_and_capped_decoded(
    outbound: Outbound, router: respx.MockRouter
) -> None:
    # fedlogin asks for identity; a server that compresses anyway is still understood, and a
    # small compressed body that inflates past the cap (a zip bomb) is too large.
    router.get(URL).respond(
        200, content=gzip.compress(b'{"a": 1}'), headers={"Content-Encoding": "gzip"}
    )
    assert await outbound.get_json(URL, step="discovery") == {"a": 1}
    assert router.calls.last.request.headers["accept-encoding"] == "identity"
    bomb = gzip.compress(b'{"a": "' + b"x" * (2 * 1024 * 1024) + b'"}')
    assert len(bomb) < 64 * 1024
    router.get(URL).respond(200, content=bomb, headers={"Content-Encoding": "gzip"})
    with pytest.raises(OutboundError) as caught:
        await outbound.get_json(URL, step="discovery")
    assert caught.value.code == "too_large"


async def test_a_body_that_is_not_what_its_encoding_says_is_a_clear_error(
    outbound: Outbound, router: respx.MockRouter
) -> None:
    garbled = httpx.ByteStream(b"not gzip at all")  # a stream: respx would decode content=
    router.get(URL).mock(
        return_value=httpx.Response(200, headers={"Content-Encoding": "gzip"}, stream=garbled)
    )
    with pytest.raises(OutboundError) as caught:
        await outbound.get_json(URL, step="discovery")
    assert (caught.value.code, caught.value.step) == ("bad_encoding", "discovery")
    assert "could not be decompressed" in caught.value.message


async def test_a_form_is_sent_with_its_headers_and_the_callers_win(
    outbound: Outbound, router: respx.MockRouter
) -> None:
    route = router.post("https://idp.example.com:8443/token").respond(json={})
    await outbound.request(
        "POST",
        "https://idp.example.com:8443/token",
        step="token",
        headers={"accept": "application/jwt", "Authorization": "Basic eA=="},
        data={"grant_type": "authorization_code", "code": "a b&c"},
    )
    sent = route.calls.last.request
    assert sent.content == b"grant_type=authorization_code&code=a+b%26c"
    assert sent.headers.get_list("accept") == ["application/jwt"]
    assert sent.headers["host"] == "idp.example.com:8443"
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    assert sent.headers["content-length"] == str(len(sent.content))
    assert sent.headers["authorization"] == "Basic eA=="
    assert sent.headers["user-agent"] == "fedlogin"


# -- failures of the transport ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("exception", "code"),
    [
        (httpx.ConnectTimeout("connect timed out"), "timeout"),
        (httpx.ReadTimeout("read timed out"), "timeout"),
        (httpx.ConnectError("connection refused"), "connect"),
        (httpx.RemoteProtocolError("peer closed connection"), "connect"),
    ],
)
async def test_transport_failures_have_stable_codes(
    exception: Exception, code: str, outbound: Outbound, router: respx.MockRouter
) -> None:
    router.get(URL).mock(side_effect=exception)
    with pytest.raises(OutboundError) as caught:
        await outbound.get_json(URL, step="discovery")
    assert caught.value.code == code


async def test_a_slow_provider_hits_the_overall_deadline(router: respx.MockRouter) -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, json={})

    router.get(URL).mock(side_effect=slow)
    async with Outbound(OutboundSettings(total_timeout=0.2)) as outbound:
        with pytest.raises(OutboundError) as caught:
            await outbound.get_json(URL, step="discovery")
    assert caught.value.code == "timeout"


async def test_no_cookie_set_by_one_answer_is_sent_with_the_next(
    outbound: Outbound, router: respx.MockRouter
) -> None:
    router.get(URL).respond(200, json={}, headers={"Set-Cookie": "session=victim; Path=/"})
    second = router.get("https://idp.example.com/next").respond(200, json={})
    await outbound.get_json(URL, step="discovery")
    await outbound.get_json("https://idp.example.com/next", step="discovery")
    assert "cookie" not in second.calls.last.request.headers


# -- real sockets on 127.0.0.1 ----------------------------------------------------------------

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _serve(
    handler: Handler, context: ssl.SSLContext | None = None, host: str = "127.0.0.1"
) -> asyncio.Server:
    return await asyncio.start_server(handler, host, 0, ssl=context)


async def _answer_json(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        await reader.readuntil(b"\r\n\r\n")
        body = b'{"served": "for real"}'
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def test_a_real_loopback_provider_is_reached_through_the_pinned_connection(
    dns: dict[str, list[str]], dns_calls: list[str]
) -> None:
    # Listening on 127.0.0.2, which only fedlogin's (fake) DNS answer names: the system
    # resolver says 127.0.0.1 for localhost, so reaching the server proves the connection
    # went to the checked answer, not to a lookup of its own.
    server = await _serve(_answer_json, host="127.0.0.2")
    port = server.sockets[0].getsockname()[1]
    dns["localhost"] = ["127.0.0.2"]
    try:
        async with Outbound(OutboundSettings(allow_insecure_loopback=True)) as outbound:
            answer = await outbound.get_json(f"http://localhost:{port}/x", step="discovery")
    finally:
        server.close()
        await server.wait_closed()
    assert answer == {"served": "for real"}
    assert dns_calls == ["localhost"]  # checked once, no second lookup


async def test_a_real_loopback_provider_is_refused_without_the_setting() -> None:
    connected: list[bool] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connected.append(True)
        await _answer_json(reader, writer)

    server = await _serve(record)
    port = server.sockets[0].getsockname()[1]
    try:
        async with Outbound(OutboundSettings()) as outbound:
            with pytest.raises(OutboundError) as caught:
                await outbound.get_json(f"https://127.0.0.1:{port}/x", step="discovery")
    finally:
        server.close()
        await server.wait_closed()
    assert caught.value.code == "address_blocked"
    assert connected == []


async def test_an_untrusted_certificate_is_a_tls_error(
    self_signed: tuple[ssl.SSLContext, Path], dns: dict[str, list[str]]
) -> None:
    server = await _serve(_answer_json, self_signed[0])
    port = server.sockets[0].getsockname()[1]
    dns["localhost"] = ["127.0.0.1"]
    try:
        async with Outbound(OutboundSettings(allow_insecure_loopback=True)) as outbound:
            with pytest.raises(OutboundError) as caught:
                await outbound.get_json(f"https://localhost:{port}/x", step="discovery")
    finally:
        server.close()
        await server.wait_closed()
    assert caught.value.code == "tls"
    assert "certificate" in caught.value.message


async def test_a_closed_port_is_a_connect_error(dns: dict[str, list[str]]) -> None:
    server = await _serve(_answer_json)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    async with Outbound(OutboundSettings(allow_insecure_loopback=True)) as outbound:
        with pytest.raises(OutboundError) as caught:
            await outbound.get_json(f"http://127.0.0.1:{port}/x", step="jwks")
    assert caught.value.code == "connect"
    assert caught.value.step == "jwks"
