"""The README's quick start, for real: ``fedlogin serve`` on a fresh data directory, the setup
link it prints, the first admin created through the form, the API token shown used against
``/api/v1/presets``, and a clean stop on SIGINT and on SIGTERM.

Nothing is set in the environment but the data directory (as on a fresh clone the default
``./.fedlogin`` would be) and the port: the defaults must be enough.
"""

from __future__ import annotations

import html
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli.runner import clean_environment

START_TIMEOUT = 60.0
SETUP_LINK = re.compile(r"^\s+(http://127\.0\.0\.1:\d+/setup/[A-Za-z0-9_-]+)\s*$")
API_TOKEN = re.compile(r'<code id="api-token">(fl_[A-Za-z0-9_-]+)</code>')
PASSWORD = "quick start password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``python -m fedlogin.cli serve`` with its stdout read line by line in a thread."""

    def __init__(self, cwd: Path, port: int) -> None:
        self.port = port
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.output: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fedlogin.cli", "serve", "--port", str(port)],
            cwd=cwd,
            env={**clean_environment(), "FEDLOGIN_DATA_DIR": str(cwd / ".fedlogin")},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stderr: list[str] = []
        self.pumps = [
            threading.Thread(target=self._pump_stdout, daemon=True),
            threading.Thread(target=self._pump_stderr, daemon=True),
        ]
        for pump in self.pumps:
            pump.start()

    def _pump_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.output.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def _pump_stderr(self) -> None:
        assert self.process.stderr is not None
        self.stderr.extend(self.process.stderr)

    def wait_for_line(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=deadline - time.monotonic())
            except queue.Empty:
                break
            if line is None:
                break
            match = pattern.match(line)
            if match:
                return match
        return None

    def wait_until_answering(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.report()
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/api/v1/openapi.json", timeout=2)
                return
            except httpx.TransportError:
                time.sleep(0.2)
        pytest.fail("the server did not answer in time\n" + self.report())

    def stop(self, sig: signal.Signals) -> int:
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"the server did not stop on {sig.name}\n" + self.report())

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for pump in self.pumps:
            pump.join(timeout=5)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()

    def report(self) -> str:
        return "stdout:\n" + "".join(self.output) + "\nstderr:\n" + "".join(self.stderr)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[[], Server]]:
    started: list[Server] = []

    def make() -> Server:
        server = Server(tmp_path, free_port())
        started.append(server)
        return server

    yield make
    for server in started:
        server.close()


def test_the_quick_start_from_setup_link_to_first_api_call(
    start: Callable[[], Server], tmp_path: Path
) -> None:
    server = start()
    match = server.wait_for_line(SETUP_LINK)
    assert match, "no setup link printed\n" + server.report()
    link = match.group(1)
    assert link.startswith(f"http://127.0.0.1:{server.port}/setup/")
    server.wait_until_answering()
    printed = "".join(server.output)
    assert f"Data directory:  {tmp_path / '.fedlogin'}" in printed
    assert str(tmp_path / ".fedlogin" / "fedlogin.sqlite3") in printed
    key = (tmp_path / ".fedlogin" / "secret.key").read_text().strip()
    assert key not in printed + "".join(server.stderr)

    with httpx.Client(timeout=10) as http:
        # Until the admin exists the API is closed, as always.
        closed = http.get(f"http://127.0.0.1:{server.port}/api/v1/presets")
        assert closed.status_code == 401

        form = http.get(link)
        assert form.status_code == 200
        assert form.headers["cache-control"] == "no-store"
        done = http.post(
            link,
            data={"username": "admin", "password": PASSWORD, "password_confirm": PASSWORD},
        )
        assert done.status_code == 200, done.text
        token_match = API_TOKEN.search(done.text)
        assert token_match, done.text
        token = token_match.group(1)
        curl = re.search(r'<code id="curl-presets">([^<]*)</code>', done.text)
        assert curl, done.text
        presets_url = html.unescape(curl.group(1)).split()[-1]
        assert presets_url == f"http://127.0.0.1:{server.port}/api/v1/presets"

        presets = http.get(presets_url, headers={"Authorization": f"Bearer {token}"})
        assert presets.status_code == 200
        names = {preset["name"] for preset in presets.json()["presets"]}
        assert {"google", "azure-ad", "auth0", "okta", "pingone", "generic-oidc"} <= names

        assert http.get(link).status_code == 409  # the link is spent

    assert server.stop(signal.SIGINT) == 0, server.report()
    assert "fedlogin stopped." in "".join(server.output)
    # The setup token is printed once, in the banner; the access log never holds it.
    everything = server.report()
    assert everything.count(link.rsplit("/", 1)[1]) == 1, everything
    assert '"GET /setup/[redacted] HTTP/1.1" 200' in everything

    # A restart with an admin prints no setup link, serves the same data, stops on SIGTERM.
    again = start()
    again.wait_until_answering()
    with httpx.Client(timeout=10) as http:
        url = f"http://127.0.0.1:{again.port}/api/v1/presets"
        assert http.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert again.stop(signal.SIGTERM) == 0, again.report()
    assert "/setup/" not in "".join(again.output)
