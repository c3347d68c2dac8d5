"""Real ``fedlogin serve`` processes and a browser that signs in through them over HTTP.

The two-process test (tests/e2e/test_two_processes.py) and the sign-in benchmark
(benchmarks/signin.py) both run the server as an operator does — ``python -m fedlogin.cli
serve`` on a free 127.0.0.1 port, configured by the environment — and drive it like a
browser: the login page, the provider's button (with the page's CSRF token and the cookies
it set), the provider's own login pages (tests/support/op_login.py) and the callback.

``WebBrowser`` keeps two cookie jars, one for fedlogin and one for the provider, as the e2e
tests do: cookies ignore ports, and both servers are on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import html
import re
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tests.support.op_login import complete_login

START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_BUTTON = re.compile(r'data-provider="([^"]+)"')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class ServedFedlogin:
    """One ``fedlogin serve`` OS process; its output goes to ``log_path``."""

    def __init__(
        self,
        env: dict[str, str],
        cwd: Path,
        port: int,
        log_path: Path,
        args: Sequence[str] = (),
    ) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self._log = log_path.open("w", encoding="utf-8")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fedlogin.cli", "serve", "--port", str(port), *args],
            env=env,
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_until_serving(self, timeout: float = START_TIMEOUT) -> None:
        """Return once the server answers; raise with its output if it exits or stays silent."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"fedlogin serve exited with {self.process.returncode}:\n{self.output()}"
                )
            with contextlib.suppress(httpx.TransportError):
                answer = httpx.get(f"{self.url}/api/v1/openapi.json", timeout=1, trust_env=False)
                if answer.status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(
            f"fedlogin serve did not answer within {timeout:.0f} s:\n{self.output()}"
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)
        self._log.close()


def csrf_token(page: httpx.Response) -> str:
    match = _CSRF.search(page.text)
    assert match, f"no CSRF token on the page ({page.status_code}): {page.text[:300]}"
    return html.unescape(match.group(1))


def offered(page: httpx.Response) -> list[str]:
    """The identifiers of the provider buttons a login page shows, in order."""
    return [html.unescape(found) for found in _BUTTON.findall(page.text)]


class WebBrowser:
    """A browser signing in to fedlogin at ``public_url`` through whichever process it is sent to.

    ``server`` arguments name the process a request goes to (its ``http://127.0.0.1:port``);
    the ``Host`` header stays the public URL's, as behind a load balancer, so that every
    process sees the same site whichever one answers.
    """

    def __init__(self, public_url: str, *, timeout: float = 30.0) -> None:
        self.public_url = public_url
        self.host = urlsplit(public_url).netloc
        self.site = httpx.Client(timeout=timeout, trust_env=False, follow_redirects=False)
        self.op = httpx.Client(timeout=timeout, trust_env=False, follow_redirects=False)

    def close(self) -> None:
        self.site.close()
        self.op.close()

    def __enter__(self) -> WebBrowser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, server: str, path: str) -> httpx.Response:
        return self.site.get(server + path, headers={"Host": self.host})

    def login_page(self, server: str) -> httpx.Response:
        return self.get(server, "/login")

    def click(self, server: str, identifier: str, csrf: str) -> httpx.Response:
        """Press a provider's button: the form post the login page's button sends."""
        return self.site.post(
            f"{server}/login/{identifier}",
            data={"csrf_token": csrf},
            headers={"Host": self.host, "Origin": self.public_url},
        )

    def start(self, server: str, identifier: str) -> str:
        """Open the login page, press the provider's button; the provider's authorization URL."""
        page = self.login_page(server)
        assert page.status_code == 200, page.text[:500]
        started = self.click(server, identifier, csrf_token(page))
        assert started.status_code == 303, started.text[:500]
        return started.headers["location"]

    def sign_in_at_provider(self, authorization_url: str, login: str) -> str:
        """The provider's login (and consent) pages; the callback URL it redirects back to."""
        return complete_login(self.op, authorization_url, login=login)

    def callback(self, server: str, callback_url: str) -> httpx.Response:
        """Deliver the provider's redirect back (a URL on the public address) to ``server``."""
        parts = urlsplit(callback_url)
        assert f"{parts.scheme}://{parts.netloc}" == self.public_url, callback_url
        return self.get(server, f"{parts.path}?{parts.query}")
