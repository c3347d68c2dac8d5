"""``fedlogin serve`` behind a reverse proxy, as a real process on 127.0.0.1.

uvicorn on its own believes ``X-Forwarded-For`` from 127.0.0.1; ``fedlogin serve`` believes
it only from the proxies named by ``--forwarded-allow-ips`` or
``FEDLOGIN_FORWARDED_ALLOW_IPS``, and refuses a value it cannot read before listening.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli.runner import Cli, assert_refused, clean_environment
from tests.support.served import ServedFedlogin, free_port

CLIENT = "198.51.100.7"


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., ServedFedlogin]]:
    servers: list[ServedFedlogin] = []

    def start_(*args: str, **env: str) -> ServedFedlogin:
        environment = {
            **clean_environment(),
            "FEDLOGIN_DATA_DIR": str(tmp_path / "data"),
            "FORWARDED_ALLOW_IPS": "*",  # uvicorn's own setting: must change nothing
            **env,
        }
        server = ServedFedlogin(
            environment, tmp_path, free_port(), tmp_path / f"serve-{len(servers)}.log", args
        )
        servers.append(server)
        server.wait_until_serving()
        return server

    yield start_
    for server in servers:
        server.stop()


def logged_address(server: ServedFedlogin) -> str:
    answer = httpx.get(
        f"{server.url}/login",
        headers={"X-Forwarded-For": CLIENT, "X-Forwarded-Proto": "https"},
        trust_env=False,
    )
    assert answer.status_code == 200
    secure = "secure" in answer.headers["set-cookie"].lower()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = re.search(r'INFO:     (\S+) - "GET /login HTTP/1.1" 200', server.output())
        if found:
            return f"{found.group(1)} secure={secure}"
        time.sleep(0.05)
    raise AssertionError(server.output())


def test_by_default_no_peer_is_trusted_not_even_loopback(
    start: Callable[..., ServedFedlogin],
) -> None:
    server = start()
    address = logged_address(server)
    assert address.startswith("127.0.0.1:") and address.endswith("secure=False"), address
    assert "Trusted proxies: none" in server.output()
    assert "FORWARDED_ALLOW_IPS is uvicorn's setting and is ignored" in server.output()


def test_the_option_trusts_the_named_proxy_and_wins_over_the_environment(
    start: Callable[..., ServedFedlogin],
) -> None:
    server = start("--forwarded-allow-ips", "127.0.0.1", FEDLOGIN_FORWARDED_ALLOW_IPS="10.0.0.5")
    assert logged_address(server) == f"{CLIENT}:0 secure=True"
    assert "Trusted proxies: 127.0.0.1" in server.output()


def test_the_environment_trusts_the_named_proxy(start: Callable[..., ServedFedlogin]) -> None:
    server = start(FEDLOGIN_FORWARDED_ALLOW_IPS="127.0.0.0/8")
    assert logged_address(server) == f"{CLIENT}:0 secure=True"


@pytest.mark.parametrize(
    ("args", "env", "named"),
    [
        (("--forwarded-allow-ips", "proxy.internal"), {}, "--forwarded-allow-ips"),
        ((), {"FEDLOGIN_FORWARDED_ALLOW_IPS": "10.0.0.5/8"}, "FEDLOGIN_FORWARDED_ALLOW_IPS"),
    ],
)
def test_a_value_that_is_not_an_address_stops_serve_before_it_listens(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], named: str
) -> None:
    cli = Cli(
        env={**clean_environment(), "FEDLOGIN_DATA_DIR": str(tmp_path / "data")}, cwd=tmp_path
    )
    result = cli("serve", "--port", "9", *args, env=env)
    assert_refused(result, named, "must list IP addresses or networks")
    assert "/setup/" not in result.stdout
