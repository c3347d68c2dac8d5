"""Microsoft's claims: who the user is, and whether their email address can be trusted.

* Identity: ``oid`` is the user's immutable object ID within the tenant ``tid``; together they
  identify the user across every application of the tenant, whereas ``sub`` is pairwise per
  application. The subject is ``{tid}:{oid}`` (SECURITY.md) and falls back to ``sub`` only
  when Microsoft did not send both (``oid`` needs the ``profile`` scope).
* nOAuth: the ``email`` claim is a mutable, unverified directory attribute that any tenant
  admin can set to anyone's address. Microsoft marks an address whose domain the tenant has
  verified with the optional claim ``xms_edov`` (emitted as a boolean, or as the strings
  ``"true"``/``"1"``); without it the email is never reported as verified, whatever
  ``email_verified`` says.
* Without ``email``, ``preferred_username`` or ``upn`` often hold the user's sign-in address;
  they are used only when they look like an address, and never as verified.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fedlogin import NormalizedClaims, claim_is_true, is_guid, normalize_email

#: Fallbacks for a missing ``email``, in order of preference.
ADDRESS_CLAIMS = ("preferred_username", "upn")
#: How Microsoft spells a true ``xms_edov`` when it does not send a JSON boolean.
XMS_EDOV_TRUE = ("true", "1")


def normalize(claims: Mapping[str, Any]) -> NormalizedClaims:
    merged = dict(claims)
    email = _address(claims.get("email"))
    verified = email is not None and claim_is_true(claims.get("xms_edov"), XMS_EDOV_TRUE)
    if email is None:
        email = next(
            (found for name in ADDRESS_CLAIMS if (found := _address(claims.get(name)))), None
        )
        if email is not None:
            merged["email"] = email  # so that the attribute mapping reads what we decided
    # The claims are read by the attribute mapping and maybe by others: make sure nothing
    # downstream can mistake Microsoft's email_verified for a verification we did not accept.
    merged["email_verified"] = verified
    return NormalizedClaims(
        subject=subject(claims), email=email, email_verified=verified, claims=merged
    )


def subject(claims: Mapping[str, Any]) -> str:
    tid, oid = claims.get("tid"), claims.get("oid")
    if is_guid(tid) and is_guid(oid):
        return f"{tid.lower()}:{oid.lower()}"
    sub = claims.get("sub")
    return sub if isinstance(sub, str) else ""


def _address(value: object) -> str | None:
    # Guest accounts' UPNs (jane_contoso.com#EXT#@fabrikam.onmicrosoft.com) look like
    # addresses but are no mailbox.
    if not isinstance(value, str) or "#EXT#" in value.upper():
        return None
    return normalize_email(value)
