"""P18: the provider's attribute mapping fills profile fields from the claims it sent.

A mapping names, per profile field, the claim to read (``username ← preferred_username``).
Claim names may be namespaced URLs (Auth0's ``https://example.com/company``) and are looked up
as written; a dotted name that is not itself a claim reads into nested objects
(``address.locality``). What could not be mapped is reported, not guessed: the sign-in event
shows the admin which claims arrived and which fields stayed empty (T4).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

from fedlogin.presets import DEFAULT_ATTRIBUTE_MAPPING, PROFILE_FIELDS

#: Cut to the columns' sizes (fedlogin.store.tables.User); URLs to what a page can show.
MAX_LENGTHS: Mapping[str, int] = MappingProxyType(
    {
        "username": 150,
        "email": 320,
        "name": 255,
        "picture": 2048,
        "website": 2048,
        "company": 255,
        "location": 255,
    }
)
#: Fields shown as links or images: only web URLs, never ``javascript:`` or ``data:``.
URL_FIELDS = frozenset({"picture", "website"})


def _frozen(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


@attrs.frozen
class MappedProfile:
    """Profile values read from the claims; ``unmapped`` says why a mapped field is empty."""

    values: Mapping[str, str] = attrs.field(converter=_frozen)
    #: field → ``"claim 'x' was not sent"`` (or not text, or not a web URL).
    unmapped: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen)

    def get(self, field: str) -> str | None:
        return self.values.get(field)


def map_attributes(claims: Mapping[str, Any], mapping: Mapping[str, str] | None) -> MappedProfile:
    """Apply ``mapping`` (profile field → claim name; the P18 defaults when ``None``)."""
    effective = DEFAULT_ATTRIBUTE_MAPPING if mapping is None else mapping
    values: dict[str, str] = {}
    unmapped: dict[str, str] = {}
    for field in PROFILE_FIELDS:
        claim = effective.get(field)
        if not claim:
            continue
        found, raw = read_claim(claims, claim)
        if not found:
            unmapped[field] = f"claim {claim!r} was not sent"
            continue
        text = _text(raw)
        if text is None:
            unmapped[field] = f"claim {claim!r} is not text"
            continue
        if field in URL_FIELDS and not text.lower().startswith(("https://", "http://")):
            unmapped[field] = f"claim {claim!r} is not a web address"
            continue
        values[field] = text[: MAX_LENGTHS[field]]
    return MappedProfile(values, unmapped)


def read_claim(claims: Mapping[str, Any], name: str) -> tuple[bool, Any]:
    """``(found, value)`` for a claim name, namespaced or dotted."""
    if name in claims:
        return True, claims[name]
    if "." not in name or "://" in name:
        return False, None
    value: Any = claims
    for part in name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return False, None
        value = value[part]
    return True, value


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        # Some providers send a list where one value is meant (groups, organizations).
        value = next((item for item in value if isinstance(item, str) and item.strip()), None)
    if isinstance(value, str) and value.strip() and value.strip().isprintable():
        return value.strip()
    return None
