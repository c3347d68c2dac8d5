"""``fedlogin serve``: run the server with uvicorn.

Before serving it prepares the database (a fresh SQLite file is migrated here; anything
else must be at the newest revision, see :func:`fedlogin.store.migrate.prepare_for_serving`)
and, while no admin exists, prints a one-time setup link instead of running open (the API
answers 401 until an admin exists). It says where the data lives, never the secret key.

When ``FEDLOGIN_BASE_URL`` is not set, the public URL follows ``--host``/``--port``, so that
the setup link and the callback URLs point at the server just started.

Behind a reverse proxy, ``--forwarded-allow-ips`` (or ``FEDLOGIN_FORWARDED_ALLOW_IPS``) names
the proxies whose ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed: the client
address the sign-in limits count and the access log shows, and the scheme that makes cookies
``Secure`` and absolute URLs https. Nobody is believed by default; uvicorn's own handling
(which believes 127.0.0.1 and ``FORWARDED_ALLOW_IPS``) is switched off so that only this
setting decides.
"""

from __future__ import annotations

import argparse
import functools
import gc
import http
import ipaddress
import os
import signal
import sys
from importlib import metadata
from typing import TYPE_CHECKING, TextIO, cast
from urllib.parse import quote

import attrs

from fedlogin.cli.access_log import redact_path
from fedlogin.cli.common import Subparsers, describe_database
from fedlogin.config import (
    BASE_URL_ENV,
    FORWARDED_ALLOW_IPS_ENV,
    TRUST_EVERY_PEER,
    Config,
    parse_forwarded_allow_ips,
)
from fedlogin.store import admins, migrate, setup_tokens
from fedlogin.store.database import Database

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send
    from uvicorn._types import ASGI3Application

    from fedlogin.web.context import AppContext

_ALL_INTERFACES = {"0.0.0.0", "::", ""}  # noqa: S104 - names to recognise, not to bind
#: uvicorn's own setting, which fedlogin does not read (see the module's docstring).
UVICORN_FORWARDED_ENV = "FORWARDED_ALLOW_IPS"


def _serve(args: argparse.Namespace, out: TextIO) -> int:
    # Imported here: every other command starts faster without the web stack.
    from fedlogin.web.context import AppContext

    config = Config.from_env()
    if args.forwarded_allow_ips is not None:
        trusted = parse_forwarded_allow_ips(args.forwarded_allow_ips, "--forwarded-allow-ips")
        config = attrs.evolve(config, forwarded_allow_ips=trusted)
    url_source = BASE_URL_ENV
    if not os.environ.get(BASE_URL_ENV, "").strip():
        config = attrs.evolve(config, base_url=local_base_url(args.host, args.port))
        url_source = f"from --host and --port; {BASE_URL_ENV} sets another"
    database = Database.from_config(config)
    migrated = migrate.prepare_for_serving(database)
    with database.transaction() as session:
        setup_token = None if admins.has_admin(session) else setup_tokens.issue(session)
    context = AppContext.create(config, database=database)

    out.write(f"fedlogin {_version()}\n")
    out.write(f"  Database:        {describe_database(database)}\n")
    if migrated:
        out.write(f"                   (fresh: migrated to revision {migrate.head_revision()})\n")
    out.write(f"  Data directory:  {config.data_dir}\n")
    out.write(f"  Public URL:      {config.base_url}  ({url_source})\n")
    out.write(f"  Trusted proxies: {describe_proxies(config.forwarded_allow_ips)}\n")
    if os.environ.get(UVICORN_FORWARDED_ENV, "").strip():
        out.write(
            f"                   ({UVICORN_FORWARDED_ENV} is uvicorn's setting and is ignored: "
            f"set {FORWARDED_ALLOW_IPS_ENV} instead)\n"
        )
    broken = [info.name for info in context.plugins.infos() if info.status == "broken"]
    if broken:
        out.write(f"  Broken plugins:  {', '.join(broken)} (see `fedlogin plugins list`)\n")
    if not _is_loopback(args.host):
        out.write(
            f"\n  Listening on {args.host}: set {BASE_URL_ENV} to the public URL that users "
            "and identity providers reach (it builds the callback URLs and the setup link).\n"
        )
    if setup_token is not None:
        minutes = int(setup_tokens.SETUP_TOKEN_TTL.total_seconds() // 60)
        out.write(
            "\n  No admin exists yet. Open this one-time link to create the first admin\n"
            f"  (it works once, for {minutes} minutes; a restart prints a new one):\n\n"
            f"      {config.base_url}/setup/{setup_token}\n\n"
        )
    out.write(f"Serving on http://{_url_host(args.host)}:{args.port} (Ctrl+C stops).\n")
    out.flush()
    _run(context, args.host, args.port)
    out.write("fedlogin stopped.\n")
    out.flush()
    return 0


def _run(context: AppContext, host: str, port: int) -> None:
    import uvicorn

    app = serving_app(context, sys.stdout)
    # proxy_headers=False: uvicorn would otherwise believe forwarding headers from 127.0.0.1
    # (or FORWARDED_ALLOW_IPS) on top of what the operator configured here.
    server_config = uvicorn.Config(
        app, host=host, port=port, log_level="info", access_log=False, proxy_headers=False
    )
    server = uvicorn.Server(server_config)
    # What exists now (modules, the app, plugins: over 100,000 objects) lives as long as the
    # process: moved out of the collector's sight, a full collection looks only at what
    # requests made since (measured: 75 ms -> a few ms, once every few hundred sign-ins).
    gc.collect()
    gc.freeze()
    # uvicorn shuts down gracefully on SIGINT/SIGTERM and then raises the signal again with
    # the handlers found before it started; these make that end a normal exit (status 0).
    previous = {sig: signal.signal(sig, _stopped) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        context.database.dispose()


def serving_app(context: AppContext, stream: TextIO) -> ASGIApp:
    """The app as ``serve`` runs it: the access log, behind the trusted-proxy headers."""
    from fedlogin.web.app import create_app

    return behind_proxies(
        AccessLog(create_app(context), stream), context.config.forwarded_allow_ips
    )


def behind_proxies(app: ASGIApp, trusted: tuple[str, ...]) -> ASGIApp:
    """``app`` seeing the client and scheme that trusted proxies forward (itself when none).

    uvicorn's middleware takes, from a trusted peer, ``X-Forwarded-Proto`` as the scheme and
    the right-most ``X-Forwarded-For`` entry that is not itself a trusted proxy as the
    client; from any other peer it changes nothing, whatever the headers say.
    """
    if not trusted:
        return app
    from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

    return cast(
        "ASGIApp", ProxyHeadersMiddleware(cast("ASGI3Application", app), _with_mapped(trusted))
    )


def _with_mapped(trusted: tuple[str, ...]) -> list[str]:
    """``trusted`` plus each IPv4 entry's IPv4-mapped IPv6 form (how a peer looks on ``::``)."""
    found = list(trusted)
    for item in trusted:
        if item == TRUST_EVERY_PEER:
            continue
        network = ipaddress.ip_network(item)
        if isinstance(network, ipaddress.IPv4Network):
            mapped = ipaddress.IPv6Address(f"::ffff:{network.network_address}")
            found.append(str(ipaddress.IPv6Network((mapped, 96 + network.prefixlen))))
    return found


def describe_proxies(trusted: tuple[str, ...]) -> str:
    if not trusted:
        return (
            "none (X-Forwarded-For and X-Forwarded-Proto are ignored; behind a reverse proxy "
            f"set {FORWARDED_ALLOW_IPS_ENV} to its address)"
        )
    if trusted == (TRUST_EVERY_PEER,):
        return "every peer (*): only safe when nothing but the proxy can reach this server"
    return ", ".join(trusted)


class AccessLog:
    """The access log, one line per request as uvicorn writes it, secrets redacted.

    ``INFO:     127.0.0.1:50000 - "GET /login HTTP/1.1" 200 OK``: written here instead of
    by uvicorn's ``logging`` handler, which cost a fifth of a login page's CPU (a log
    record, a caller lookup, a copy of the record and a formatter per request); this is one
    formatted line. Written when the response starts, as uvicorn does, and for a request
    that failed before any response (uvicorn then answers 500).
    """

    def __init__(self, app: ASGIApp, stream: TextIO) -> None:
        self.app = app
        self.stream = stream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def logged(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                self.write(scope, message["status"])
            await send(message)

        try:
            await self.app(scope, receive, logged)
        except Exception:
            if not started:
                self.write(scope, 500)
            raise

    def write(self, scope: Scope, status: int) -> None:
        client = scope.get("client")
        address = f"{client[0]}:{client[1]}" if client else ""
        path = quote(scope["path"])
        if scope["query_string"]:
            path = f"{path}?{scope['query_string'].decode('ascii')}"
        line = (
            f'INFO:     {address} - "{scope["method"]} {redact_path(path)} '
            f'HTTP/{scope["http_version"]}" {status} {_phrase(status)}\n'
        )
        try:
            self.stream.write(line)
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken stream loses a line, not a request
            pass


@functools.cache
def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


def _stopped(signum: int, frame: object) -> None:
    """The server has already stopped when uvicorn re-raises the signal: nothing to do."""


def local_base_url(host: str, port: int) -> str:
    """The URL of a server bound to ``host``:``port`` as seen from this machine."""
    return f"http://{_url_host(host)}:{port}"


def _url_host(host: str) -> str:
    if host in _ALL_INTERFACES:
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _version() -> str:
    try:
        return metadata.version("fedlogin")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "(not installed)"


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number (1-65535)")
    return port


def register(groups: Subparsers) -> None:
    serve = groups.add_parser(
        "serve",
        help="run the server (migrates a fresh SQLite database; prints the setup link)",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=_port, default=8000, help="port to bind (default 8000)")
    serve.add_argument(
        "--forwarded-allow-ips",
        metavar="ADDRESSES",
        default=None,
        help="reverse proxies whose X-Forwarded-For/-Proto are believed: comma-separated "
        f"addresses or networks, or '*' (default: {FORWARDED_ALLOW_IPS_ENV}, else none)",
    )
    serve.set_defaults(handler=_serve)
