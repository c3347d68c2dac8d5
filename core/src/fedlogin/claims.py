"""Reading a provider's claims: the small rules every preset needs, in one place.

Plugins use these from ``fedlogin`` (they are part of the public API) instead of each writing
its own: the standard OpenID Connect reading of ``sub``/``email``/``email_verified``
(:func:`standard_claims`), a flag claim some providers send as a string
(:func:`claim_is_true`), what counts as an email address (:func:`normalize_email`) and as a
Microsoft-style tenant or PingOne environment identifier (:func:`is_guid`). The core applies
the same :func:`normalize_email` to every plugin's answer, so a plugin using it decides exactly
as the core will.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any, TypeGuard

from fedlogin.presets import NormalizedClaims

#: A GUID / UUID in its usual 8-4-4-4-12 hexadecimal form, either case (no braces).
GUID_PATTERN = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_GUID = re.compile(GUID_PATTERN)
_MAX_EMAIL = 320


def is_guid(value: object) -> TypeGuard[str]:
    """Whether ``value`` is a string holding exactly one GUID (Azure ``tid``/``oid``...).

    Claims that get spliced into a URL or a subject (``tid`` into an issuer) must pass this
    first: anything else, however plausible, is refused.
    """
    return isinstance(value, str) and _GUID.fullmatch(value) is not None


def claim_is_true(value: object, true_strings: Collection[str] = ("true",)) -> bool:
    """Whether a flag claim says *true*: the JSON boolean, or one of ``true_strings``.

    OpenID Connect Core 5.1 makes ``email_verified`` a JSON boolean, which is all the generic
    behaviour accepts. Some providers send a string instead (Google's ``"true"``, Microsoft's
    ``xms_edov`` as ``"true"`` or ``"1"``); the strings are compared trimmed and without
    case. Numbers are never true: ``1`` may be a count, not an assertion.
    """
    if isinstance(value, str):
        return value.strip().lower() in {s.lower() for s in true_strings}
    return value is True


def normalize_email(value: object) -> str | None:
    """A trimmed, lower-cased address, or ``None`` for anything that is not one.

    >>> normalize_email("  Jane.Doe@Example.COM ")
    'jane.doe@example.com'
    >>> normalize_email("jane") is None
    True
    """
    if not isinstance(value, str):
        return None
    email = value.strip().lower()
    local, sep, domain = email.rpartition("@")
    if not sep or not local or len(email) > _MAX_EMAIL or any(ch.isspace() for ch in email):
        return None
    if "." not in domain or domain.startswith(".") or domain.endswith("."):
        return None
    return email


def standard_claims(
    claims: Mapping[str, Any],
    *,
    email_verified: bool | None = None,
    mapped: Mapping[str, Any] | None = None,
) -> NormalizedClaims:
    """The standard OpenID Connect reading of ``claims`` as :class:`NormalizedClaims`.

    The subject is ``sub``, the email is ``email`` when it is a string, and the email counts as
    verified only when ``email_verified`` is the JSON boolean ``true`` — unless the preset
    passes its own ``email_verified`` decision. ``mapped`` is what the attribute mapping will
    read (default: ``claims`` as they are), for presets that reshape a claim. The core's
    invariants (a usable subject, a normalised email) are enforced afterwards whatever this
    returns.
    """
    email = claims.get("email")
    subject = claims.get("sub")
    return NormalizedClaims(
        subject=subject if isinstance(subject, str) else "",
        email=email if isinstance(email, str) else None,
        email_verified=(
            claims.get("email_verified") is True if email_verified is None else email_verified
        ),
        claims=claims if mapped is None else mapped,
    )
