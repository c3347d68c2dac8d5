"""The sign-in benchmark (issue 4, point 10): one ``fedlogin serve`` process, measured from outside.

    uv run python -m benchmarks.signin                  # 3, 10 and 300 providers on SQLite
    uv run python -m benchmarks.signin --database postgresql --write docs/benchmarks.md

For each number of configured providers it starts a fresh ``fedlogin serve`` (its own SQLite
file, or a new database on the PostgreSQL server at 127.0.0.1:5432) next to the real node
``oidc-provider``, creates that many providers through the admin API (all at the one local
provider) and switches federated login on, offering the first ``--offered`` of them (10) on
the login page: the number configured must not matter, while a page with 300 buttons would be
300 times the HTML whatever the server did. Then:

(a) sign-ins, end to end, each by a new browser with a new account at the provider (so each
    one creates a user): the login page, the provider's button (form post with the page's
    CSRF token), the provider's login and consent pages, the callback. Reported: the server
    process's CPU time (user + system, psutil, read before and after) per completed
    sign-in, sign-ins per second, and the callback's latency (p50, p95). The provider (node)
    and the browsers (this process) do not count towards the server's CPU; they share the
    machine, so sign-ins per second says more about the machine than about the server.
(b) the login page under a concurrent load client in another process: ``wrk`` when it is
    installed, else :mod:`benchmarks.load`. Reported: requests per second and the server's
    CPU per request. The requests carry no cookies: each is a first visit (a new browser
    cookie is made and set each time).

The server is measured as shipped: ``fedlogin serve`` with its access log (written to a file).
"""

# ruff: noqa: S105, S106, S603 - a benchmark: fixed test credentials, our own commands

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.support.oidc_provider import OidcClient, OidcProvider, OidcProviderConfig
from tests.support.served import ServedFedlogin, WebBrowser, free_port

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get(
    "FEDLOGIN_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
CLIENT_ID = "benchmark"
CLIENT_SECRET = "benchmark client secret"
WARM_UP_SIGN_INS = 3


@dataclass
class SignIns:
    """One phase of sign-ins: how long it took, the server's CPU, each callback's latency."""

    seconds: float
    cpu_ms: float
    #: Of ``cpu_ms``, the kernel's (system time: sockets, fsync, thread wake-ups).
    system_ms: float
    callback_ms: list[float]

    @property
    def cpu_per_sign_in(self) -> float:
        return self.cpu_ms / len(self.callback_ms)

    @property
    def system_per_sign_in(self) -> float:
        return self.system_ms / len(self.callback_ms)

    @property
    def per_second(self) -> float:
        return len(self.callback_ms) / self.seconds

    def callback_percentile(self, p: int) -> float:
        ordered = sorted(self.callback_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@dataclass
class Figures:
    providers: int
    #: Each sign-in a new account at the provider: the user is created (Auto Provision).
    first: SignIns
    #: The same accounts again: the user is found by the identity (the usual sign-in).
    returning: SignIns
    page_requests: int
    page_seconds: float
    page_cpu_ms: float
    page_errors: int
    load_client: str

    @property
    def page_rps(self) -> float:
        return self.page_requests / self.page_seconds

    @property
    def cpu_per_page(self) -> float:
        return self.page_cpu_ms / self.page_requests


# -- the server under test ----------------------------------------------------------------------


def cli(env: dict[str, str], cwd: Path, *args: str, stdin: str = "") -> str:
    done = subprocess.run(
        [sys.executable, "-m", "fedlogin.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"fedlogin {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


@contextmanager
def database_url(kind: str, workdir: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'fedlogin.sqlite3'}"
        return
    server = make_url(POSTGRES_URL)
    name = f"fedlogin_bench_{os.getpid()}_{secrets.token_hex(3)}"
    engine = create_engine(server, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        engine.dispose()


@contextmanager
def served(
    kind: str,
    op: OidcProvider,
    providers: int,
    offered: int,
    *,
    server_class: type[ServedFedlogin] = ServedFedlogin,
    start_timeout: float = 30.0,
) -> Iterator[tuple[ServedFedlogin, str]]:
    """A configured ``fedlogin serve`` and the admin token; removed afterwards.

    ``server_class`` runs the server (:mod:`benchmarks.instructions` runs it under callgrind).
    """
    workdir = Path(tempfile.mkdtemp(prefix="fedlogin-bench-"))
    try:
        with database_url(kind, workdir) as url:
            port = free_port()
            public = f"http://127.0.0.1:{port}"
            env = {k: v for k, v in os.environ.items() if not k.startswith("FEDLOGIN_")}
            env.update(
                FEDLOGIN_DATA_DIR=str(workdir / "data"),
                FEDLOGIN_DATABASE_URL=url,
                FEDLOGIN_SECRET_KEY=Fernet.generate_key().decode(),
                FEDLOGIN_BASE_URL=public,
                FEDLOGIN_DEV_INSECURE_LOOPBACK="1",
            )
            cli(env, workdir, "db", "upgrade")
            cli(env, workdir, "admin", "create", "--username", "bench", stdin="bench password\n")
            token = cli(env, workdir, "admin", "token", "bench").strip().splitlines()[-1]
            identifiers = [f"idp-{n:03d}" for n in range(providers)]
            op.add_clients(
                OidcClient(
                    CLIENT_ID,
                    [f"{public}/auth/callback/{identifier}" for identifier in identifiers],
                    CLIENT_SECRET,
                    token_endpoint_auth_method="client_secret_post",
                )
            )
            server = server_class(env, workdir, port, workdir / "serve.log")
            try:
                server.wait_until_serving(start_timeout)
                configure(server.url, token, op, identifiers, offered)
                yield server, token
            except BaseException:
                print(f"--- fedlogin serve output ---\n{server.output()[-6000:]}", file=sys.stderr)
                raise
            finally:
                server.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def configure(url: str, token: str, op: OidcProvider, identifiers: list[str], offered: int) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=f"{url}/api/v1", headers=headers, timeout=60) as api:
        for identifier in identifiers:
            created = api.post(
                "/identity-providers",
                json={
                    "identifier": identifier,
                    "name": f"Provider {identifier}",
                    "preset": "generic-oidc",
                    "domain": op.issuer,
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    "auth_method": "client_secret_post",
                },
            )
            created.raise_for_status()
        api.patch(
            "/settings/accounts",
            json={"federated_login_enabled": True, "identity_providers": identifiers[:offered]},
        ).raise_for_status()


def cpu_ms(pid: int) -> float:
    times = psutil.Process(pid).cpu_times()
    return (times.user + times.system) * 1000


def system_ms(pid: int) -> float:
    return psutil.Process(pid).cpu_times().system * 1000


# -- (a) sign-ins -------------------------------------------------------------------------------


def sign_in(server: ServedFedlogin, identifier: str, login: str) -> float:
    """One whole sign-in by a new browser; the callback's latency in milliseconds."""
    with WebBrowser(server.url) as browser:
        authorization = browser.start(server.url, identifier)
        callback = browser.sign_in_at_provider(authorization, login=login)
        began = time.perf_counter()
        landed = browser.callback(server.url, callback)
        took = (time.perf_counter() - began) * 1000
    if landed.status_code != 303 or landed.headers.get("location") != "/account":
        raise SystemExit(f"a sign-in failed ({landed.status_code}):\n{landed.text[:2000]}")
    return took


def warm_up(server: ServedFedlogin, run: int) -> None:
    """Discovery and keys fetched, pools filled, before anything is measured."""
    for n in range(WARM_UP_SIGN_INS):
        sign_in(server, "idp-000", f"warm-{run}-{n}")


def sign_ins(
    server: ServedFedlogin, offered: int, count: int, concurrency: int, run: int
) -> SignIns:
    """``count`` sign-ins of accounts ``user-{run}-{n}``, ``concurrency`` browsers at a time."""
    latencies: list[float] = []
    failures: list[BaseException] = []
    lock = threading.Lock()
    queue = list(range(count))

    def worker() -> None:
        while True:
            with lock:
                if not queue or failures:
                    return
                n = queue.pop()
            try:
                took = sign_in(server, f"idp-{n % offered:03d}", f"user-{run}-{n}")
            except BaseException as exc:  # reported by the main thread
                with lock:
                    failures.append(exc)
                return
            with lock:
                latencies.append(took)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    before, kernel_before, began = cpu_ms(server.pid), system_ms(server.pid), time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds, spent = time.perf_counter() - began, cpu_ms(server.pid) - before
    kernel = system_ms(server.pid) - kernel_before
    if failures:
        raise failures[0]
    return SignIns(seconds, spent, kernel, latencies)


# -- (b) the login page -------------------------------------------------------------------------


def login_page_load(
    server: ServedFedlogin, connections: int, duration: float
) -> tuple[int, float, float, int, str]:
    """(requests, seconds, server CPU ms, non-2xx answers, which client)."""
    url = f"{server.url}/login"
    warm = httpx.get(url, timeout=10)
    warm.raise_for_status()
    before = cpu_ms(server.pid)
    if shutil.which("wrk"):
        threads = min(2, connections)
        command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", "--latency", url]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
        spent = cpu_ms(server.pid) - before
        requests, seconds = _wrk_totals(output)
        errors = _wrk_errors(output)
        client = f"wrk ({threads} threads, {connections} connections)"
    else:
        command = [
            sys.executable,
            "-m",
            "benchmarks.load",
            url,
            f"--connections={connections}",
            f"--duration={duration}",
        ]
        output = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
        spent = cpu_ms(server.pid) - before
        result = json.loads(output.stdout)
        requests, seconds, errors = result["requests"], result["seconds"], result["non_2xx"]
        client = f"benchmarks.load (asyncio, one process, {connections} connections)"
    return requests, seconds, spent, errors, client


def _wrk_totals(output: str) -> tuple[int, float]:
    match = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", output)
    if not match:
        raise SystemExit(f"unexpected wrk output:\n{output}")
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0}[match.group(3)]
    return int(match.group(1)), float(match.group(2)) * scale


def _wrk_errors(output: str) -> int:
    match = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return int(match.group(1)) if match else 0


# -- reporting ----------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": f"{cpu}, {psutil.cpu_count()} cores",
        "memory": f"{psutil.virtual_memory().total / 2**30:.0f} GiB",
        "python": platform.python_version(),
        "os": platform.platform(terse=True),
    }


def busy_elsewhere() -> str:
    """How busy the machine was just before the benchmark started (other work running)."""
    percent = psutil.cpu_percent(interval=2.0)
    load = os.getloadavg()[0]
    measured = f"{percent:.0f}% CPU in use, load average {load:.2f}, before the benchmark started"
    if percent >= 10:
        return f"yes, other work was running ({measured}): the figures are pessimistic"
    return f"none to speak of ({measured})"


def busy_during() -> str:
    """The load averages as the benchmark ends: work that started during it shows here.

    The benchmark itself keeps about two processes busy (the server and the browsers or
    wrk, with the node provider between them), so a load average well above 2 means other
    work shared the two cores.
    """
    one, five, _ = os.getloadavg()
    verdict = "other work shared the machine" if one > 3 else "no sign of other work"
    return f"load average {one:.2f} (1 min) and {five:.2f} (5 min) as it ended: {verdict}"


def table(figures: list[Figures]) -> str:
    rows = [
        "| providers | sign-in | server CPU per sign-in (kernel) | sign-ins/s | callback p50 "
        "| callback p95 | login page req/s | server CPU per page |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for f in figures:
        for name, phase in (("first (new user)", f.first), ("returning", f.returning)):
            page = f"{f.page_rps:,.0f} | {f.cpu_per_page:.3f} ms" if phase is f.first else " | "
            rows.append(
                f"| {f.providers} | {name} | {phase.cpu_per_sign_in:.2f} ms "
                f"({phase.system_per_sign_in:.2f}) "
                f"| {phase.per_second:.1f} | {phase.callback_percentile(50):.1f} ms "
                f"| {phase.callback_percentile(95):.1f} ms | {page} |"
            )
    return "\n".join(rows)


def report(
    figures: list[Figures], args: argparse.Namespace, busy: str, during: str, command: str
) -> str:
    about = machine()
    lines = [
        "# Benchmarks",
        "",
        'Written by `benchmarks/signin.py` (README, "Benchmarks"); the latest run is below.',
        "",
        f"- Date: {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Command: `{command}`",
        f"- Machine: {about['cpu']}, {about['memory']}; Python {about['python']}; {about['os']}",
        f"- Database: {'SQLite (a file)' if args.database == 'sqlite' else 'PostgreSQL'}; "
        "one `fedlogin serve` process; the node `oidc-provider` on the same machine",
        f"- Providers: as many configured as the row says, the first {args.offered} of them "
        "offered on the login page (sign-ins go through each of those in turn)",
        f"- Sign-ins: {args.sign_ins} per row, {args.concurrency} browsers at a time, each a "
        "new browser (no cookies); first: a new account at the provider each time, so each "
        "sign-in creates a user; returning: the same accounts again",
        f"- Login page: {figures[0].load_client}, {args.duration:g} s per row, no cookies "
        "(first visits)",
        f"- Other work on the machine: {busy}; {during}",
        "",
        table(figures),
        "",
        "Targets (one process): at most 5 ms of server CPU per completed sign-in; at least "
        "5,000 login-page requests per second with 10 providers; neither growing from 3 to "
        "300 providers. Server CPU is the `fedlogin serve` process's user + system time "
        "(psutil) over the phase, divided by the sign-ins (or page requests) completed.",
    ]
    errors = sum(f.page_errors for f in figures)
    if errors:
        lines += ["", f"**{errors} login-page answers were not 2xx.**"]
    return "\n".join(lines) + "\n"


NOTES_HEADING = "\n## Notes"


def kept_notes(path: Path) -> str:
    """The hand-written part of an earlier report (from its "## Notes" heading on), if any."""
    if not path.is_file():
        return ""
    text = path.read_text(encoding="utf-8")
    at = text.find(NOTES_HEADING)
    return text[at:] if at >= 0 else ""


def main() -> None:
    parser = argparse.ArgumentParser(description="fedlogin's sign-in and login-page benchmark")
    parser.add_argument("--providers", default="3,10,300", help="comma-separated counts")
    parser.add_argument("--offered", type=int, default=10, help="providers on the login page")
    parser.add_argument("--sign-ins", type=int, default=200, help="sign-ins per count")
    parser.add_argument("--concurrency", type=int, default=4, help="browsers at a time")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--connections", type=int, default=32, help="login-page connections")
    parser.add_argument("--duration", type=float, default=10.0, help="login-page seconds")
    parser.add_argument("--write", type=Path, help="write the figures to this Markdown file")
    args = parser.parse_args()
    counts = [int(n) for n in args.providers.split(",")]
    command = "uv run python -m benchmarks.signin " + " ".join(sys.argv[1:])

    busy = busy_elsewhere()
    print(f"machine: {machine()}; {busy}", flush=True)
    figures: list[Figures] = []
    with OidcProvider.start(OidcProviderConfig()) as op:
        for run, providers in enumerate(counts):
            offered = min(providers, args.offered)
            with served(args.database, op, providers, offered) as (server, _token):
                warm_up(server, run)
                first = sign_ins(server, offered, args.sign_ins, args.concurrency, run)
                returning = sign_ins(server, offered, args.sign_ins, args.concurrency, run)
                requests, page_seconds, page_cpu, errors, client = login_page_load(
                    server, args.connections, args.duration
                )
            figures.append(
                Figures(
                    providers=providers,
                    first=first,
                    returning=returning,
                    page_requests=requests,
                    page_seconds=page_seconds,
                    page_cpu_ms=page_cpu,
                    page_errors=errors,
                    load_client=client,
                )
            )
            print(table(figures[-1:]), flush=True)
    text_report = report(figures, args, busy, busy_during(), command)
    print()
    print(text_report)
    if args.write:
        args.write.write_text(text_report + kept_notes(args.write), encoding="utf-8")


if __name__ == "__main__":
    main()
