"""The Domain field (P6): what an admin pastes, normalised rather than rejected.

An admin may paste ``https://login.example.com/``, ``login.example.com/tenant/v2.0`` or the
discovery URL itself; all name the same provider. We store the canonical form: host (with a
port only when it is not the default), an optional path, no trailing slash, no query. Plain
``http`` is kept visibly in the stored form (``http://127.0.0.1:3000``) because it is only
allowed for loopback development providers and must never be mistaken for https.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from fedlogin.errors import InvalidConfiguration

DISCOVERY_SUFFIX = "/.well-known/openid-configuration"
#: A DNS domain name with a top-level domain of letters (``example.com``, ``contoso.com``), as
#: a :class:`~fedlogin.PresetField` ``pattern`` for fields such as Google's hosted domain.
DOMAIN_NAME_PATTERN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_PATH_SEGMENT = re.compile(r"^[A-Za-z0-9._~!$&'()*+,;=:@{}%-]+$")


class DomainError(InvalidConfiguration):
    """The Domain field cannot be understood as a provider location."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="invalid_domain", fields={"domain": message})


def is_hostname(value: str) -> bool:
    """Whether ``value`` is a DNS name (letters, digits, hyphens, dots) of at most 253 chars."""
    if not value or len(value) > 253 or value.endswith("."):
        return False
    return all(_LABEL.match(label) for label in value.split("."))


def is_ip_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return False
    return True


def normalize_domain(text: str) -> str:
    """Return the canonical Domain for ``text`` or raise :class:`DomainError`.

    >>> normalize_domain("https://Accounts.Google.com/.well-known/openid-configuration")
    'accounts.google.com'
    >>> normalize_domain("login.microsoftonline.com/common/v2.0/")
    'login.microsoftonline.com/common/v2.0'
    """
    raw = text.strip()
    if not raw:
        raise DomainError("Domain is required")
    if any(ch.isspace() for ch in raw):
        raise DomainError("Domain must not contain spaces")
    if "://" not in raw:
        raw = "https://" + raw
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise DomainError("Domain must be an https address")
    if parts.username or parts.password:
        raise DomainError("Domain must not contain a user name or password")
    host = (parts.hostname or "").lower()
    if not host or not (is_hostname(host) or is_ip_address(host)):
        raise DomainError(f"{parts.netloc or raw!r} is not a valid host name")
    try:
        port = parts.port
    except ValueError as exc:
        raise DomainError("Domain has an invalid port") from exc
    path = parts.path
    if path.endswith(DISCOVERY_SUFFIX):
        path = path[: -len(DISCOVERY_SUFFIX)]
    path = path.rstrip("/")
    for segment in path.split("/")[1:]:
        if not _PATH_SEGMENT.match(segment) or segment in (".", ".."):
            raise DomainError(f"Domain path segment {segment!r} is not allowed")
    netloc = f"[{host}]" if ":" in host else host
    default_port = 443 if scheme == "https" else 80
    if port is not None and port != default_port:
        netloc = f"{netloc}:{port}"
    canonical = netloc + path
    return canonical if scheme == "https" else f"http://{canonical}"


def base_url(domain: str) -> str:
    """The issuer-shaped URL of a canonical domain (``https://`` unless it says ``http://``)."""
    return domain if domain.startswith("http://") else "https://" + domain


def discovery_url(domain: str) -> str:
    return base_url(domain) + DISCOVERY_SUFFIX


def email_domain(email: str | None) -> str | None:
    """The lower-cased domain part of an email address, or ``None``."""
    if not email or "@" not in email:
        return None
    return email.rsplit("@", 1)[1].lower()
