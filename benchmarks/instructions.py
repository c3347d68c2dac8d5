"""Instructions the server executes per login page and per sign-in, counted by callgrind.

    uv run python -m benchmarks.instructions                 # 10 providers, SQLite
    uv run python -m benchmarks.instructions --database postgresql

CPU time per request moves by 20-30% with whatever else the machine is doing (the shared
2-core machines these figures come from); an instruction count does not: the same code does
the same work, run after run, to within 1%. So this is how a change to the hot paths is
judged (a change of 1% shows); :mod:`benchmarks.signin` then says what it means in
milliseconds and requests per second.

It runs the same ``fedlogin serve`` as :mod:`benchmarks.signin`, under
``valgrind --tool=callgrind`` with counting switched off until everything is warm: every
offered provider signed in through once (caches of discovery, keys and the configuration
loaded, pools filled), then counts, one phase at a time:

* ``login page``: ``GET /login`` on one kept-alive connection (as the load client does);
* ``login page, new browser``: a new connection and no cookies (the first step of a sign-in);
* ``start``: a new browser's login page and a provider's button (``POST /login/{id}``);
* ``first sign-in``: the whole sign-in of a new account (the user is created);
* ``returning sign-in``: the same accounts again.

Counts are user-space instructions of the server process alone (not the kernel's work for
its sockets and files, nor the provider's or the browsers'). Needs ``valgrind``
(``apt-get install valgrind``); a run takes one to two minutes.
"""

# ruff: noqa: S603, S607 - a benchmark: our own commands

from __future__ import annotations

import argparse
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.signin import WARM_UP_SIGN_INS, served, sign_ins
from tests.support.oidc_provider import OidcProvider, OidcProviderConfig
from tests.support.served import ServedFedlogin, WebBrowser

#: Callgrind runs the server 20-50 times slower: starting it takes a while.
START_TIMEOUT = 600.0


class CountedFedlogin(ServedFedlogin):
    """``fedlogin serve`` under callgrind, counting nothing until :meth:`count` says so."""

    out_dir: Path

    def __init__(self, env: dict[str, str], cwd: Path, port: int, log_path: Path) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path
        self._log = log_path.open("w", encoding="utf-8")
        self.out_dir = Path(tempfile.mkdtemp(prefix="fedlogin-callgrind-"))
        self.process = subprocess.Popen(
            [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={self.out_dir}/callgrind.out.%p",
                sys.executable,
                "-m",
                "fedlogin.cli",
                "serve",
                "--port",
                str(port),
            ],
            env=env,
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._dumps = 0

    def count(self, work: Callable[[], object]) -> int:
        """The instructions the server executed while ``work`` ran."""
        self._control("--instr=on")
        self._control("--zero")
        work()
        self._dumps += 1
        self._control("--dump")
        self._control("--instr=off")
        dump = self.out_dir / f"callgrind.out.{self.pid}.{self._dumps}"
        deadline = time.monotonic() + 60
        while not dump.is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        match = re.search(r"^(?:summary|totals): (\d+)", dump.read_text(), re.MULTILINE)
        if match is None:
            raise SystemExit(f"no instruction total in {dump}")
        return int(match.group(1))

    def _control(self, option: str) -> None:
        command = ["callgrind_control", option, str(self.pid)]
        subprocess.run(command, check=True, capture_output=True)

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.out_dir, ignore_errors=True)


def login_pages(url: str, count: int) -> None:
    """``count`` login pages, one after another on one kept-alive connection."""
    host_port = url.split("//", 1)[1]
    host, port = host_port.split(":")
    request = f"GET /login HTTP/1.1\r\nHost: {host_port}\r\n\r\n".encode()
    with socket.create_connection((host, int(port))) as connection:
        answers = connection.makefile("rb")
        for _ in range(count):
            connection.sendall(request)
            length = 0
            while (line := answers.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            answers.read(length)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--providers", type=int, default=10, help="providers configured")
    parser.add_argument("--offered", type=int, default=10, help="providers on the login page")
    parser.add_argument("--pages", type=int, default=200, help="login pages counted")
    parser.add_argument("--sign-ins", type=int, default=10, help="sign-ins counted per kind")
    args = parser.parse_args()
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    offered = min(args.providers, args.offered)

    with (
        OidcProvider.start(OidcProviderConfig()) as op,
        served(
            args.database,
            op,
            args.providers,
            offered,
            server_class=CountedFedlogin,
            start_timeout=START_TIMEOUT,
        ) as (server, _token),
    ):
        assert isinstance(server, CountedFedlogin)
        for n in range(max(offered, WARM_UP_SIGN_INS)):
            with WebBrowser(server.url) as browser:
                browser.start(server.url, f"idp-{n % offered:03d}")
        sign_ins(server, offered, WARM_UP_SIGN_INS, 1, run=99)
        login_pages(server.url, 20)

        def new_browsers(work: Callable[[WebBrowser], object]) -> Callable[[], None]:
            def run() -> None:
                for _ in range(args.pages // 10):
                    with WebBrowser(server.url) as browser:
                        work(browser)

            return run

        each = args.pages // 10
        rows = [
            ("login page", server.count(lambda: login_pages(server.url, args.pages)) / args.pages),
            (
                "login page, new browser",
                server.count(new_browsers(lambda b: b.login_page(server.url))) / each,
            ),
            (
                "start (login page and button)",
                server.count(new_browsers(lambda b: b.start(server.url, "idp-000"))) / each,
            ),
        ]
        # Accounts user-0-*: new the first time (each sign-in creates its user), then returning.
        for name in ("first sign-in", "returning sign-in"):
            counted = server.count(lambda: sign_ins(server, offered, args.sign_ins, 1, 0))
            rows.append((name, counted / args.sign_ins))

    print(f"server instructions ({args.database}, {args.providers} providers configured):")
    for name, instructions in rows:
        millions = instructions >= 1e6
        figure = f"{instructions / 1e6:.2f}M" if millions else f"{instructions / 1e3:.0f}k"
        print(f"  {name:32s} {figure:>8s}")


if __name__ == "__main__":
    main()
