"""Browser tests: real Chromium (Playwright) against a real ``fedlogin serve`` and the real node
``oidc-provider``.

The server is the installed ``fedlogin`` command on a free 127.0.0.1 port with its default
SQLite database in a temporary data directory, and with the sample third-party plugins
(``tests/third_party``: gitlab, and the broken ones) installed next to it as distributions, so
the console sees them exactly as an operator's server would.

Where Chromium is missing the tests skip with the reason; with ``FEDLOGIN_REQUIRE_BROWSER=1``
(CI) they fail instead. ``FEDLOGIN_SCREENSHOTS=1`` writes the pages' screenshots into
``docs/screenshots/`` (the README and the admin guide show them); otherwise they go to a
temporary directory, so that a test run leaves the working tree alone.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs
import httpx
import pytest
from cryptography.fernet import Fernet

from tests.cli.runner import clean_environment
from tests.support.oidc_provider import (
    OidcClient,
    OidcProvider,
    OidcProviderConfig,
    require_oidc_provider,
)
from tests.support.third_party import install_sample_plugins

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("FEDLOGIN_CHROMIUM", "/usr/bin/chromium")
#: TOOLING.md: the flags Debian's Chromium needs here (no sandbox, no network side trips).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
REQUIRE_ENV = "FEDLOGIN_REQUIRE_BROWSER"
SCREENSHOTS_ENV = "FEDLOGIN_SCREENSHOTS"
START_TIMEOUT = 60.0
ADMIN = "admin"
ADMIN_PASSWORD = "browser-test admin password"
CLIENT_ID = "fedlogin-browser"
CLIENT_SECRET = "browser-client-secret-51c2"
#: The identifiers the tests give the providers they create (callback URLs registered at the OP).
PROVIDER_IDENTIFIERS = ("company-sso", "partner-sso", "nojs-sso")
#: Timeouts for a loaded 2-core machine; a step that takes longer is a failure worth seeing.
STEP_TIMEOUT_MS = 30_000
FAILURES = Path(tempfile.gettempdir()) / "fedlogin-browser-failures"


def unavailable_reason() -> str | None:
    if not Path(CHROMIUM).is_file():
        return f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (uv sync installs the dev group)"
    return None


def require_browser() -> None:
    reason = unavailable_reason()
    if reason is None:
        return
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{REQUIRE_ENV}=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@attrs.frozen
class Site:
    """The running ``fedlogin serve``."""

    base_url: str
    port: int
    setup_link: str
    log: Path

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


class Screenshots:
    """Where the tests save the pages they show (``docs/screenshots`` when asked)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.saved: list[Path] = []

    def take(self, page: Any, name: str, *, full_page: bool = True) -> Path:
        path = self.folder / f"{name}.png"
        page.evaluate("window.scrollTo(0, 0)")  # sticky side panels sit where they belong
        page.screenshot(path=str(path), full_page=full_page, animations="disabled")
        self.saved.append(path)
        return path


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Screenshots:
    if os.environ.get(SCREENSHOTS_ENV) == "1":
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        return Screenshots(SCREENSHOTS)
    return Screenshots(tmp_path_factory.mktemp("screenshots"))


# Module scope, not session: Playwright's sync API keeps its event loop marked running in this
# thread until it stops, and the asyncio tests of the modules that follow could not run.
@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample third-party plugins, installed as distributions into a folder."""
    return install_sample_plugins(tmp_path_factory.mktemp("plugins"))


@pytest.fixture(scope="module")
def port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def op(port: int) -> Iterator[OidcProvider]:
    """The real node OpenID provider, with a client for each provider the tests create."""
    require_oidc_provider()
    callbacks = [f"http://127.0.0.1:{port}/auth/callback/{i}" for i in PROVIDER_IDENTIFIERS]
    callbacks += [f"http://localhost:{port}/auth/callback/{i}" for i in PROVIDER_IDENTIFIERS]
    config = OidcProviderConfig(
        clients=[
            OidcClient(
                CLIENT_ID, callbacks, CLIENT_SECRET, token_endpoint_auth_method="client_secret_post"
            )
        ],
        accounts={
            "alice": {
                "email": "alice@example.com",
                "email_verified": True,
                "name": "Alice Example",
                "preferred_username": "alice",
            }
        },
    )
    with OidcProvider.start(config) as provider:
        yield provider


@pytest.fixture(scope="module")
def site(port: int, plugin_site: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """``fedlogin serve`` with a fresh SQLite database; yields once it printed the setup link."""
    require_browser()
    workdir = tmp_path_factory.mktemp("server")
    log = workdir / "serve.log"
    env = clean_environment()
    env.update(
        PYTHONPATH=str(plugin_site),
        FEDLOGIN_DATA_DIR=str(workdir / "data"),
        FEDLOGIN_SECRET_KEY=Fernet.generate_key().decode(),
        FEDLOGIN_DEV_INSECURE_LOOPBACK="1",
        PYTHONUNBUFFERED="1",
    )
    with log.open("w", encoding="utf-8") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "fedlogin.cli", "serve", "--port", str(port)],
            env=env,
            cwd=workdir,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        yield Site(base_url, port, _wait_for_setup_link(process, log, base_url), log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _answers(base_url: str) -> bool:
    try:
        return httpx.get(base_url + "/login", timeout=2.0, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


def _wait_for_setup_link(process: subprocess.Popen[str], log: Path, base_url: str) -> str:
    pattern = re.compile(re.escape(base_url) + r"/setup/\S+")
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        text = log.read_text(encoding="utf-8", errors="replace")
        found = pattern.search(text)
        if found and "Serving on" in text and _answers(base_url):
            return found.group(0)
        if process.poll() is not None:
            raise RuntimeError(f"fedlogin serve exited ({process.returncode}):\n{text}")
        time.sleep(0.1)
    raise RuntimeError(f"fedlogin serve printed no setup link:\n{log.read_text()}")


# -- the console, signed in ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def first_admin(site: Site, chromium: Any) -> str:
    """The first admin, created through the one-time setup link as the README tells."""
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.set_default_timeout(STEP_TIMEOUT_MS)
        page.goto(site.setup_link)
        page.fill("#username", ADMIN)
        page.fill("#password", ADMIN_PASSWORD)
        page.fill("#password_confirm", ADMIN_PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#admin-username")
        assert page.inner_text("#admin-username") == ADMIN
        API_TOKENS[site.base_url] = page.inner_text("#api-token").strip()
        # The page leads a newcomer on to the console (README quick start).
        page.click("#open-console")
        page.wait_for_selector("#admin-username")
        assert page.url == site.url("/admin/login")
    finally:
        context.close()
    return ADMIN


#: The API token the setup page showed, per site (base URL).
API_TOKENS: dict[str, str] = {}


@pytest.fixture(scope="module")
def admin_api(site: Site, first_admin: str) -> Iterator[httpx.Client]:
    """The admin JSON API as the first admin (the token the setup page showed)."""
    token = API_TOKENS[site.base_url]
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(
        base_url=site.base_url, headers=headers, timeout=30.0, trust_env=False
    ) as client:
        yield client


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def new_page(chromium: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """``new_page(**context_options)``: a page in a fresh browser context (its own cookies).

    When the test fails, each page's screenshot and HTML are kept in :data:`FAILURES` (outside
    pytest's temporary folders, which other runs rotate away). When it passed, no page of the
    server may have logged an error to the browser console: a script error or a refused
    inline script or style (the pages' Content-Security-Policy) fails the test.
    """
    contexts: list[Any] = []
    errors: list[str] = []

    def record(where: str, text: str) -> None:
        errors.append(f"{where}: {text}")

    def make(**options: Any) -> Any:
        options.setdefault("viewport", {"width": 1280, "height": 900})
        context = chromium.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(STEP_TIMEOUT_MS)
        page.on(
            "console",
            lambda message: (
                message.type == "error"
                and not _page_status(message.location.get("url", ""), message.text)
                and record(message.location.get("url", page.url), message.text)
            ),
        )
        page.on("pageerror", lambda error: record(page.url, str(error)))
        return page

    yield make
    failed = request.node.stash.get(_FAILED, False)
    folder = FAILURES / request.node.name
    for number, context in enumerate(contexts):
        for page in context.pages if failed else ():
            folder.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(folder / f"page-{number}.png"), full_page=True)
            (folder / f"page-{number}.html").write_text(page.content(), "utf-8")
            print(f"page {number} was at {page.url}: see {folder}/page-{number}.png")
        context.close()
    if not failed and "site" in request.fixturenames:
        port = request.getfixturevalue("site").port
        ours = [e for e in errors if f"127.0.0.1:{port}/" in e or f"localhost:{port}/" in e]
        assert not ours, "the browser console shows errors:\n" + "\n".join(ours)


def _page_status(url: str, text: str) -> bool:
    """A page answered 4xx on purpose (a refused form is 422): not a broken resource.

    Logos, scripts and stylesheets (``/api/``, ``/static/``) failing to load stay errors.
    """
    path = urlsplit(url).path
    return text.startswith("Failed to load resource") and not path.startswith(("/api/", "/static/"))


def sign_in_to_console(page: Any, site: Site) -> None:
    page.goto(site.url("/admin"))
    page.wait_for_url("**/admin/login**")
    page.fill("#admin-username", ADMIN)
    page.fill("#admin-password", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/identity-providers")


@pytest.fixture
def admin(site: Site, first_admin: str, new_page: Any) -> Any:
    """A page of the admin console, signed in."""
    page = new_page()
    sign_in_to_console(page, site)
    return page
