"""Query parameters and optimistic-locking versions, read the same way on every route.

A misspelt query parameter (``?confrim=true``) must not be silently ignored any more than a
misspelt body field is: each route names the parameters it knows and the rest is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from starlette.requests import Request

from fedlogin.errors import FedloginError
from fedlogin.store.fields import FieldErrors

_TRUE = frozenset({"1", "true", "yes"})
_FALSE = frozenset({"0", "false", "no"})


class InvalidParameter(FedloginError):
    code = "invalid_parameter"
    status = 400


def query(request: Request, known: Iterable[str]) -> Mapping[str, str]:
    """The query parameters, after refusing unknown and repeated ones."""
    allowed = set(known)
    params = request.query_params
    for name in params:
        if name not in allowed:
            message = f"{name!r} is not a parameter here"
            message += f" (known: {', '.join(sorted(allowed))})." if allowed else "."
            raise InvalidParameter(message, code="unknown_parameter", fields={name: message})
        if len(params.getlist(name)) > 1:
            message = f"{name!r} is given more than once."
            raise InvalidParameter(message, fields={name: message})
    return {name: params[name] for name in params}


def flag(params: Mapping[str, str], name: str) -> bool:
    value = params.get(name, "false").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    message = f"{name} must be true or false."
    raise InvalidParameter(message, fields={name: message})


def integer(
    params: Mapping[str, str], name: str, *, default: int | None, minimum: int, maximum: int
) -> int | None:
    raw = params.get(name)
    if raw is None:
        return default
    raw = raw.strip()
    if not (raw.isascii() and raw.isdigit()) or not minimum <= int(raw) <= maximum:
        message = f"{name} must be a whole number from {minimum} to {maximum}."
        raise InvalidParameter(message, fields={name: message})
    return int(raw)


def expected_version(request: Request, body: Mapping[str, Any] | None = None) -> int | None:
    """The version the caller edited: ``If-Match`` or the body's ``version``, if either is given.

    A client that sends back what it read (``version`` included) gets optimistic locking
    without doing anything; ``If-Match: "3"`` (the ``ETag`` of a read) works for any method.
    ``None`` means the caller did not ask for a check.
    """
    errors = FieldErrors()
    from_header = _if_match(request.headers.get("if-match"), errors)
    from_body = None
    if body is not None and body.get("version") is not None:
        value = body["version"]
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            from_body = value
        else:
            errors.add("version", "invalid_type", "version must be a positive whole number.")
    errors.raise_if_any("The request")
    if from_header is not None and from_body is not None and from_header != from_body:
        message = (
            f"If-Match names version {from_header} but the body's version is {from_body}; "
            "send one of them."
        )
        raise InvalidParameter(message, code="invalid_version", fields={"version": message})
    return from_header if from_header is not None else from_body


def _if_match(value: str | None, errors: FieldErrors) -> int | None:
    if value is None or value.strip() == "*":
        return None
    tag = value.strip().removeprefix("W/").strip('"')
    if tag.isascii() and tag.isdigit() and int(tag) > 0:
        return int(tag)
    errors.add(
        "If-Match",
        "invalid_version",
        'If-Match must be the version an earlier response gave in its ETag, such as "3".',
    )
    return None


def etag(version: int) -> dict[str, str]:
    """Headers announcing ``version``, so that a client can send it back in ``If-Match``."""
    return {"ETag": f'"{version}"'}
