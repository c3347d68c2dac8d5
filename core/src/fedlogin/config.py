"""Process settings, read once from the environment.

=================================  =========================================================
``FEDLOGIN_DATA_DIR``              Where the embedded defaults live: the SQLite database
                                   ``fedlogin.sqlite3`` and the secret key file
                                   ``secret.key``. Default: ``.fedlogin`` in the working
                                   directory (made absolute when read), created with mode
                                   0700 when first needed. A directory next to the checkout
                                   keeps ``fedlogin serve`` on a fresh clone self-contained.
``FEDLOGIN_DATABASE_URL``          ``postgresql+psycopg://user@host/db`` (``postgresql://``
                                   and ``postgres://`` are accepted and mean psycopg) or
                                   another ``sqlite:///path`` URL. Default: the SQLite file.
``FEDLOGIN_SECRET_KEY``            One or more comma-separated Fernet keys; the first
                                   encrypts, all decrypt (key rotation). Default: the key
                                   file in the data directory.
``FEDLOGIN_BASE_URL``              The platform's public URL, from which callback URLs are
                                   built. Default ``http://127.0.0.1:8000``.
``FEDLOGIN_DEV_INSECURE_LOOPBACK`` ``1`` allows plain-http identity providers on loopback
                                   addresses (development and tests only).
``FEDLOGIN_SIGN_IN_EVENT_RETENTION_DAYS``
                                   How many days sign-in events (with the claims received)
                                   are kept. Default 30.
``FEDLOGIN_SMTP_HOST``             The SMTP server that sends email (verification codes,
                                   link and unlink notices). Unset: mail waits in the
                                   outbox (``GET /api/v1/outbox``) and is logged.
``FEDLOGIN_SMTP_PORT``             Default 587.
``FEDLOGIN_SMTP_USERNAME``         With ``FEDLOGIN_SMTP_PASSWORD``: log in to the server.
``FEDLOGIN_SMTP_PASSWORD``
``FEDLOGIN_SMTP_FROM``             The sender address; required with the host.
``FEDLOGIN_SMTP_STARTTLS``         ``1`` (default) requires STARTTLS; ``0`` sends in clear
                                   (a relay on the same machine).
``FEDLOGIN_FORWARDED_ALLOW_IPS``   The reverse proxies whose ``X-Forwarded-For`` and
                                   ``X-Forwarded-Proto`` are believed: comma-separated
                                   addresses and networks (``10.0.0.5, 10.1.0.0/16``), or
                                   ``*`` for every peer. Default: none (see
                                   :data:`Config.forwarded_allow_ips`).
=================================  =========================================================
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import attrs

from fedlogin.errors import FedloginError

DATA_DIR_ENV = "FEDLOGIN_DATA_DIR"
DATABASE_URL_ENV = "FEDLOGIN_DATABASE_URL"
SECRET_KEY_ENV = "FEDLOGIN_SECRET_KEY"  # noqa: S105 - a variable name, not a secret
BASE_URL_ENV = "FEDLOGIN_BASE_URL"
DEV_INSECURE_LOOPBACK_ENV = "FEDLOGIN_DEV_INSECURE_LOOPBACK"
SIGN_IN_EVENT_RETENTION_ENV = "FEDLOGIN_SIGN_IN_EVENT_RETENTION_DAYS"
SMTP_HOST_ENV = "FEDLOGIN_SMTP_HOST"
SMTP_PORT_ENV = "FEDLOGIN_SMTP_PORT"
SMTP_USERNAME_ENV = "FEDLOGIN_SMTP_USERNAME"
SMTP_PASSWORD_ENV = "FEDLOGIN_SMTP_PASSWORD"  # noqa: S105 - a variable name, not a secret
SMTP_FROM_ENV = "FEDLOGIN_SMTP_FROM"
SMTP_STARTTLS_ENV = "FEDLOGIN_SMTP_STARTTLS"
FORWARDED_ALLOW_IPS_ENV = "FEDLOGIN_FORWARDED_ALLOW_IPS"
#: Trust every peer's forwarding headers (only when nothing but the proxy can reach the server).
TRUST_EVERY_PEER = "*"
DEFAULT_SMTP_PORT = 587

DEFAULT_DATA_DIR = ".fedlogin"
DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_SIGN_IN_EVENT_RETENTION_DAYS = 30
SQLITE_FILENAME = "fedlogin.sqlite3"
SECRET_KEY_FILENAME = "secret.key"  # noqa: S105 - a file name

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


class ConfigError(FedloginError):
    """A setting in the environment cannot be used. The message names the variable."""

    code = "invalid_setting"
    status = 500


@attrs.frozen
class SmtpSettings:
    """Where email goes when an SMTP server is configured (fedlogin.mail.smtp)."""

    host: str
    sender: str
    port: int = DEFAULT_SMTP_PORT
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    starttls: bool = True


@attrs.frozen
class Config:
    """The settings of one process. Build it with :meth:`from_env`."""

    data_dir: Path
    #: ``None`` means the SQLite file in :attr:`data_dir`; see :attr:`effective_database_url`.
    database_url: str | None = None
    #: The raw ``FEDLOGIN_SECRET_KEY`` value; never shown in a repr.
    secret_key: str | None = attrs.field(default=None, repr=False)
    base_url: str = DEFAULT_BASE_URL
    dev_insecure_loopback: bool = False
    sign_in_event_retention_days: int = DEFAULT_SIGN_IN_EVENT_RETENTION_DAYS
    #: ``None``: no SMTP server; mail stays in the outbox.
    smtp: SmtpSettings | None = None
    #: The peers (addresses and networks, normalised; or ``("*",)``) whose
    #: ``X-Forwarded-For``/``-Proto`` headers ``fedlogin serve`` believes. Empty by default,
    #: unlike uvicorn (which believes 127.0.0.1 and ::1 unless told otherwise): a same-host
    #: tunnel or proxy that passes the client's own header through would otherwise let any
    #: client pick the address the sign-in limits count and the access log shows.
    forwarded_allow_ips: tuple[str, ...] = ()

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, cwd: Path | None = None
    ) -> Config:
        env = os.environ if environ is None else environ
        data_dir = Path(env.get(DATA_DIR_ENV, "").strip() or DEFAULT_DATA_DIR).expanduser()
        if not data_dir.is_absolute():
            data_dir = (cwd or Path.cwd()) / data_dir
        return cls(
            data_dir=data_dir,
            database_url=env.get(DATABASE_URL_ENV, "").strip() or None,
            secret_key=env.get(SECRET_KEY_ENV, "").strip() or None,
            base_url=_base_url(env.get(BASE_URL_ENV, "").strip() or DEFAULT_BASE_URL),
            dev_insecure_loopback=_flag(DEV_INSECURE_LOOPBACK_ENV, env),
            sign_in_event_retention_days=_days(
                SIGN_IN_EVENT_RETENTION_ENV, env, DEFAULT_SIGN_IN_EVENT_RETENTION_DAYS
            ),
            smtp=_smtp(env),
            forwarded_allow_ips=parse_forwarded_allow_ips(
                env.get(FORWARDED_ALLOW_IPS_ENV, ""), FORWARDED_ALLOW_IPS_ENV
            ),
        )

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / SQLITE_FILENAME

    @property
    def secret_key_path(self) -> Path:
        return self.data_dir / SECRET_KEY_FILENAME

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path}"

    @property
    def uses_default_database(self) -> bool:
        return self.database_url is None

    def ensure_data_dir(self) -> Path:
        """Create the data directory (mode 0700: it holds the key file) if it is missing."""
        try:
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"The data directory {self.data_dir} cannot be created ({exc.strerror}); "
                f"set {DATA_DIR_ENV} to a writable directory."
            ) from exc
        return self.data_dir


def _flag(name: str, env: Mapping[str, str]) -> bool:
    value = env.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be 1 or 0, not {value!r}.")


def _days(name: str, env: Mapping[str, str], default: int) -> int:
    value = env.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or not 1 <= int(value) <= 3650:
        raise ConfigError(f"{name} must be a number of days from 1 to 3650, not {value!r}.")
    return int(value)


def _smtp(env: Mapping[str, str]) -> SmtpSettings | None:
    host = env.get(SMTP_HOST_ENV, "").strip()
    if not host:
        return None
    sender = env.get(SMTP_FROM_ENV, "").strip()
    if "@" not in sender:
        raise ConfigError(
            f"{SMTP_FROM_ENV} must be the sender's email address when "
            f"{SMTP_HOST_ENV} is set, not {sender!r}."
        )
    port = env.get(SMTP_PORT_ENV, "").strip() or str(DEFAULT_SMTP_PORT)
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ConfigError(f"{SMTP_PORT_ENV} must be a port number, not {port!r}.")
    username = env.get(SMTP_USERNAME_ENV, "").strip() or None
    password = env.get(SMTP_PASSWORD_ENV, "") or None
    if (username is None) != (password is None):
        raise ConfigError(f"Set both {SMTP_USERNAME_ENV} and {SMTP_PASSWORD_ENV}, or neither.")
    starttls = _flag(SMTP_STARTTLS_ENV, {SMTP_STARTTLS_ENV: env.get(SMTP_STARTTLS_ENV) or "1"})
    return SmtpSettings(host, sender, int(port), username, password, starttls)


def _base_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"{BASE_URL_ENV} must be an http or https URL such as https://login.example.com, "
            f"not {value!r}."
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigError(f"{BASE_URL_ENV} must not contain a query, fragment or credentials.")
    return value.rstrip("/")


def parse_forwarded_allow_ips(value: str, source: str) -> tuple[str, ...]:
    """Trusted proxies from ``a, b/n, ...`` (``source`` names the setting in errors).

    Each item must be an IP address or a network in CIDR form with no host bits set; names
    are refused (they are not resolved, and a name that moved would silently trust another
    machine). ``*`` alone trusts every peer.
    """
    items = [item.strip() for item in value.split(",")]
    items = [item for item in items if item]
    if TRUST_EVERY_PEER in items:
        if len(items) > 1:
            raise ConfigError(
                f"{source}: '*' trusts every peer and cannot be combined with others."
            )
        return (TRUST_EVERY_PEER,)
    trusted: list[str] = []
    for item in items:
        try:
            network = ipaddress.ip_network(item, strict=True)
        except ValueError:
            raise ConfigError(_not_a_proxy(source, item)) from None
        text = str(network.network_address) if network.num_addresses == 1 else str(network)
        if text not in trusted:
            trusted.append(text)
    return tuple(trusted)


def _not_a_proxy(source: str, item: str) -> str:
    message = (
        f"{source} must list IP addresses or networks (10.0.0.5, 10.0.0.0/8, fd00::/8) "
        f"separated by commas, or be '*'; {item!r} is not one"
    )
    if "/" in item:
        try:
            network = ipaddress.ip_network(item, strict=False)
        except ValueError:
            pass
        else:
            return f"{message} (did you mean {network}?)."
    if any(ch.isalpha() and ch.lower() not in "abcdef" for ch in item):
        return message + " (host names are not resolved)."
    return message + "."
