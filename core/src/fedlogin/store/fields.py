"""Reading admin input field by field, collecting every error with a stable code.

Input arrives as JSON-like mappings (the admin API's body, a form turned into a dict). Each
reader returns the normalised value or records a field error and returns ``None``, so that
one request reports every bad field at once. :meth:`FieldErrors.raise_if_any` then raises
:class:`ValidationFailed`: an :class:`~fedlogin.errors.InvalidConfiguration` whose ``fields``
maps each field to its message and ``field_codes`` each field to its code. Its own ``code``
is the fields' code when they share one, ``invalid_configuration`` otherwise.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from fedlogin.domains import is_hostname, is_ip_address
from fedlogin.errors import InvalidConfiguration

_SPLIT = re.compile(r"[\s,]+")
_HOST_PORT = re.compile(r"^(?P<host>\[[0-9a-f:.]+\]|[^:\[\]]+)(?::(?P<port>[0-9]{1,5}))?$")


class ValidationFailed(InvalidConfiguration):
    """Some fields are invalid; ``fields`` has the messages, ``field_codes`` the codes."""

    def __init__(self, summary: str, errors: Mapping[str, tuple[str, str]]) -> None:
        codes = {field: code for field, (code, _) in errors.items()}
        distinct = set(codes.values())
        super().__init__(
            summary,
            code=distinct.pop() if len(distinct) == 1 else None,
            fields={field: message for field, (_, message) in errors.items()},
        )
        self.field_codes = codes

    def details(self) -> dict[str, Any]:
        return {"field_codes": dict(self.field_codes)}


class FieldErrors:
    """Errors collected while reading one request; the first error of a field wins."""

    def __init__(self) -> None:
        self.errors: dict[str, tuple[str, str]] = {}

    def add(self, field: str, code: str, message: str) -> None:
        self.errors.setdefault(field, (code, message))

    def has(self, field: str) -> bool:
        return field in self.errors

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self, what: str, *, outcome: str = "was not saved") -> None:
        if not self.errors:
            return
        if len(self.errors) == 1:
            ((_, message),) = self.errors.values()
            raise ValidationFailed(message, self.errors)
        raise ValidationFailed(
            f"{what} {outcome}: {len(self.errors)} fields need attention "
            f"({', '.join(self.errors)}).",
            self.errors,
        )


def reject_unknown(
    data: Mapping[str, Any], known: Iterable[str], ignored: Iterable[str], errors: FieldErrors
) -> None:
    """A misspelt field (``scope`` for ``scopes``) must not be silently dropped."""
    allowed = set(known) | set(ignored)
    for key in data:
        if key not in allowed:
            errors.add(str(key), "unknown_field", f"{key!r} is not a field here.")


def text(
    value: Any,
    field: str,
    label: str,
    errors: FieldErrors,
    *,
    max_length: int,
    required: bool = False,
    multiline: bool = False,
) -> str | None:
    """A trimmed string (``None`` counts as empty) or ``None`` after recording an error."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors.add(field, "invalid_type", f"{label} must be text.")
        return None
    result = value.strip()
    if required and not result:
        errors.add(field, f"{field}_required", f"{label} is required.")
        return None
    if len(result) > max_length:
        errors.add(field, f"{field}_too_long", f"{label} must be at most {max_length} characters.")
        return None
    allowed_controls = "\n\r\t" if multiline else ""
    if any(not ch.isprintable() and ch not in allowed_controls for ch in result):
        errors.add(field, "invalid_characters", f"{label} contains control characters.")
        return None
    return result


def boolean(value: Any, field: str, label: str, errors: FieldErrors) -> bool | None:
    if isinstance(value, bool):
        return value
    errors.add(field, "invalid_type", f"{label} must be true or false.")
    return None


def choice(
    value: Any, field: str, label: str, choices: Iterable[str], errors: FieldErrors
) -> str | None:
    options = tuple(choices)
    if isinstance(value, str) and value.strip() in options:
        return value.strip()
    errors.add(field, f"invalid_{field}", f"{label} must be one of: {', '.join(options)}.")
    return None


def word_list(value: Any, field: str, label: str, errors: FieldErrors) -> list[str] | None:
    """A list given as a JSON list of strings or as one comma- or space-separated string.

    The items of a JSON list are not split further: ``["not a host"]`` is one bad item.

    Order is kept and duplicates are dropped.
    """
    if value is None:
        return []
    if isinstance(value, str):
        items = _SPLIT.split(value)
    elif isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        items = [item.strip() for item in value]  # a list's items are taken whole
    else:
        errors.add(field, "invalid_type", f"{label} must be a list or a comma-separated text.")
        return None
    return list(dict.fromkeys(item for item in items if item))


def name_list(value: Any, field: str, label: str, errors: FieldErrors) -> list[str] | None:
    """An ordered JSON list of distinct strings (identifiers, plugin names)."""
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(item, str) for item in value):
        errors.add(field, "invalid_type", f"{label} must be a list of names.")
        return None
    items = [item.strip() for item in value]
    duplicates = sorted({item for item in items if items.count(item) > 1})
    if duplicates:
        errors.add(field, "duplicate", f"{label} names {', '.join(duplicates)} more than once.")
        return None
    return items


def normalize_host(value: str) -> str | None:
    """A Host header value as brands store it: lower-cased host, ``:port`` only if given.

    Accepts what an admin pastes (``https://Brand.example.com/``); returns ``None`` for
    anything that is not a host name or IP address with an optional port.
    """
    host = value.strip().lower()
    if "://" in host:
        host = host.split("://", 1)[1]
    host = host.rstrip("/").rstrip(".")
    match = _HOST_PORT.match(host)
    if not match:
        return None
    name, port = match.group("host"), match.group("port")
    if not (is_hostname(name) or is_ip_address(name)):
        return None
    if port is not None and not 0 < int(port) < 65536:
        return None
    return f"{name}:{int(port)}" if port else name
