"""Run the real node ``oidc-provider`` (``tests/oidc_provider/server.mjs``) for end-to-end tests.

Usage from a test module::

    from tests.support.oidc_provider import OidcClient, OidcProviderConfig, oidc_provider_fixture

    op = oidc_provider_fixture(
        OidcProviderConfig(clients=[OidcClient("app", ["http://127.0.0.1:8000/cb"], "secret")]),
    )

    @pytest.mark.e2e
    def test_sign_in(op: OidcProvider) -> None: ...

or, per test, the ``oidc_provider_factory`` fixture (registered by ``tests/conftest.py``), which
returns ``start(config) -> OidcProvider`` and stops every provider it started at teardown.

Where node or ``tests/oidc_provider/node_modules`` is missing, the fixtures skip with the reason;
with ``FEDLOGIN_REQUIRE_E2E=1`` (CI) they fail instead.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import httpx
import pytest

NODE_PROJECT = Path(__file__).resolve().parents[1] / "oidc_provider"
SERVER_SCRIPT = NODE_PROJECT / "server.mjs"
REQUIRE_ENV = "FEDLOGIN_REQUIRE_E2E"
# Generous: on a loaded 2-core machine (a benchmark beside the tests) node has been seen to need
# well over 30 s to import oidc-provider and listen; a normal start takes under a second. Once
# in CI a node process printed nothing for the whole 120 s the only attempt then had, and the
# next start in the same run was instant: a start that times out is tried once more.
START_TIMEOUT = 60.0
START_ATTEMPTS = 2
STOP_TIMEOUT = 5.0

AuthMethod = Literal["client_secret_basic", "client_secret_post", "none"]
SigningAlg = Literal["RS256", "PS256", "ES256"]


class OidcProviderUnavailable(RuntimeError):
    """node or the installed ``oidc-provider`` package is missing on this machine."""


class OidcProviderStartError(RuntimeError):
    """The node server did not report ready (it exited, or the timeout passed)."""


class OidcProviderStartTimeout(OidcProviderStartError):
    """The node server printed no ready line in time (and was stopped)."""


@dataclass(frozen=True)
class OidcClient:
    """A client registered at the provider (OpenID Connect Dynamic Registration metadata)."""

    client_id: str
    redirect_uris: Sequence[str]
    client_secret: str | None = None
    token_endpoint_auth_method: AuthMethod = "client_secret_basic"
    id_token_signed_response_alg: SigningAlg = "RS256"
    extra: Mapping[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "client_id": self.client_id,
            "redirect_uris": list(self.redirect_uris),
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "id_token_signed_response_alg": self.id_token_signed_response_alg,
            **self.extra,
        }
        if self.token_endpoint_auth_method != "none":
            if not self.client_secret:
                raise ValueError(f"client {self.client_id!r} needs a client_secret")
            data["client_secret"] = self.client_secret
        return data


@dataclass(frozen=True)
class OidcProviderConfig:
    """What ``server.mjs`` reads from its JSON config file.

    ``accounts`` maps a login (which becomes ``sub``) to its claims; an unknown login gets
    ``{login}@example.com`` (verified), ``name`` and ``preferred_username`` equal to the login.
    ``claims`` optionally maps a scope to the claims it releases (adds custom claims).
    """

    clients: Sequence[OidcClient] = ()
    accounts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    conform_id_token_claims: bool = True
    claims: Mapping[str, Sequence[str]] | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "clients": [client.metadata() for client in self.clients],
            "accounts": {login: dict(claims) for login, claims in self.accounts.items()},
            "conformIdTokenClaims": self.conform_id_token_claims,
        }
        if self.claims is not None:
            data["claims"] = {scope: list(names) for scope, names in self.claims.items()}
        return data


def unavailable_reason() -> str | None:
    """Why the node provider cannot run here, or None when it can."""
    if not (NODE_PROJECT / "node_modules" / "oidc-provider" / "package.json").is_file():
        return (
            f"node_modules is missing: run npm ci in tests/oidc_provider "
            f"(npm ci --prefix {NODE_PROJECT})"
        )
    if shutil.which("node") is None:
        return "node is not installed (the e2e tests need node 20+)"
    return None


def require_oidc_provider() -> None:
    """Skip the calling test where the provider cannot run; fail instead when CI requires it."""
    reason = unavailable_reason()
    if reason is None:
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but {reason}", pytrace=False)
    pytest.skip(reason)


class OidcProvider:
    """A running ``server.mjs``. Start with :meth:`start`; use as a context manager or call stop."""

    def __init__(
        self,
        process: subprocess.Popen[str],
        ready: Mapping[str, Any],
        workdir: Path,
        stderr: collections.deque[str],
        threads: Sequence[threading.Thread],
    ) -> None:
        self._process = process
        self._workdir = workdir
        self._stderr = stderr
        self._threads = threads
        self.issuer: str = ready["issuer"]
        self.port: int = int(ready["port"])
        self.ready_line: Mapping[str, Any] = ready

    # -- lifecycle ---------------------------------------------------------------------------

    @classmethod
    def start(
        cls, config: OidcProviderConfig, *, port: int = 0, timeout: float = START_TIMEOUT
    ) -> OidcProvider:
        """Start the node server (port 0: the server picks a free one) and wait for its ready line.

        Raises OidcProviderUnavailable when node or node_modules is missing, and
        OidcProviderStartError with the server's output when it exits first or does not become
        ready in time (``timeout`` per attempt, :data:`START_ATTEMPTS` attempts; each retry is
        said on stderr).
        """
        reason = unavailable_reason()
        if reason is not None:
            raise OidcProviderUnavailable(reason)
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                return cls._start_once(config, port, timeout)
            except OidcProviderStartTimeout as error:
                if attempt == START_ATTEMPTS:
                    raise
                print(f"{error}\n(trying once more)", file=sys.stderr)
        raise AssertionError("unreachable")

    @classmethod
    def _start_once(cls, config: OidcProviderConfig, port: int, timeout: float) -> OidcProvider:
        node = shutil.which("node")
        assert node is not None
        workdir = Path(tempfile.mkdtemp(prefix="fedlogin-oidc-provider-"))
        config_path = workdir / "config.json"
        config_path.write_text(json.dumps(config.to_json()), encoding="utf-8")
        process = subprocess.Popen(
            [
                node,
                str(SERVER_SCRIPT),
                str(config_path),
                "--port",
                str(port),
                "--exit-on-stdin-close",
            ],
            cwd=NODE_PROJECT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        stderr: collections.deque[str] = collections.deque(maxlen=200)
        lines: queue.Queue[str | None] = queue.Queue()
        threads = [
            threading.Thread(
                target=_pump, args=(process.stdout, lines.put, lambda: lines.put(None)), daemon=True
            ),
            threading.Thread(
                target=_pump, args=(process.stderr, stderr.append, lambda: None), daemon=True
            ),
        ]
        for thread in threads:
            thread.start()
        try:
            ready = _wait_for_ready(lines, timeout)
        except OidcProviderStartError as error:
            _terminate(process)
            for thread in threads:
                thread.join(timeout=STOP_TIMEOUT)
            _close_pipes(process)
            shutil.rmtree(workdir, ignore_errors=True)
            output = "".join(stderr).strip() or "(no output on stderr)"
            raise type(error)(f"{error}\n--- server.mjs stderr ---\n{output}") from None
        return cls(process, ready, workdir, stderr, threads)

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after a few seconds) and remove its config."""
        _terminate(self._process)
        for thread in self._threads:
            thread.join(timeout=STOP_TIMEOUT)
        _close_pipes(self._process)
        shutil.rmtree(self._workdir, ignore_errors=True)

    @property
    def running(self) -> bool:
        return self._process.poll() is None

    def __enter__(self) -> OidcProvider:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stderr(self) -> str:
        """The server's latest stderr lines (oidc-provider warnings and server errors)."""
        return "".join(self._stderr)

    # -- where things are ---------------------------------------------------------------------

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    @property
    def jwks_uri(self) -> str:
        return f"{self.issuer}/jwks"

    # -- test-only admin endpoints ------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """``{"issuer", "generation", "kids", "retired_kids"}``."""
        return self._admin("GET", "state")

    def rotate_keys(self, *, keep_previous: bool = False) -> list[str]:
        """Replace the signing keys by new ones (new kids); returns the new kids.

        Sessions, interactions and unredeemed codes survive. With ``keep_previous`` the old public
        keys stay published at jwks_uri next to the new ones.
        """
        kids: list[str] = self._admin("POST", "rotate-keys", {"keep_previous": keep_previous})[
            "kids"
        ]
        return kids

    def set_accounts(self, accounts: Mapping[str, Mapping[str, Any]]) -> None:
        """Add or replace accounts' claims (login -> claims); effective for the next token."""
        self._admin("POST", "accounts", {k: dict(v) for k, v in accounts.items()})

    def add_clients(self, *clients: OidcClient) -> None:
        """Register clients (or replace them by client_id), e.g. once the app's port is known."""
        self._admin("POST", "clients", {"clients": [client.metadata() for client in clients]})

    def set_conform_id_token_claims(self, value: bool) -> None:
        self._admin("POST", "config", {"conformIdTokenClaims": value})

    def _admin(self, method: str, name: str, body: Any = None) -> dict[str, Any]:
        response = httpx.request(
            method, f"{self.issuer}/__test/{name}", json=body, timeout=10.0, trust_env=False
        )
        if response.status_code != 200:
            raise RuntimeError(f"{method} /__test/{name}: {response.status_code} {response.text}")
        result: dict[str, Any] = response.json()
        return result


def _pump(stream: Any, on_line: Callable[[str], None], on_eof: Callable[[], None]) -> None:
    for line in stream:
        on_line(line)
    on_eof()


def _wait_for_ready(lines: queue.Queue[str | None], timeout: float) -> dict[str, Any]:
    try:
        while True:
            line = lines.get(timeout=timeout)
            if line is None:
                raise OidcProviderStartError("server.mjs exited before it was ready")
            with contextlib.suppress(json.JSONDecodeError):
                message = json.loads(line)
                if isinstance(message, dict) and message.get("ready") is True:
                    return message
    except queue.Empty:
        raise OidcProviderStartTimeout(
            f"server.mjs printed no ready line within {timeout:.0f} s"
        ) from None


def _terminate(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_TIMEOUT)


def _close_pipes(process: subprocess.Popen[str]) -> None:
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


# -- pytest fixtures ----------------------------------------------------------------------------


def oidc_provider_fixture(
    config: OidcProviderConfig | Callable[[], OidcProviderConfig],
    *,
    scope: Literal["function", "class", "module", "package", "session"] = "module",
    name: str | None = None,
) -> Any:
    """Make a fixture that runs one provider with ``config`` for ``scope`` (module by default).

    Assign the result to a module-level name in a test module; that name is the fixture's name
    unless ``name`` is given.
    """

    @pytest.fixture(scope=scope, name=name)
    def _oidc_provider() -> Iterator[OidcProvider]:
        require_oidc_provider()
        resolved = config() if callable(config) else config
        with OidcProvider.start(resolved) as provider:
            yield provider

    return _oidc_provider


@pytest.fixture
def oidc_provider_factory() -> Iterator[Callable[[OidcProviderConfig], OidcProvider]]:
    """``start(config) -> OidcProvider``; every provider started is stopped at teardown."""
    require_oidc_provider()
    started: list[OidcProvider] = []

    def start(config: OidcProviderConfig) -> OidcProvider:
        provider = OidcProvider.start(config)
        started.append(provider)
        return provider

    yield start
    for provider in started:
        provider.stop()
