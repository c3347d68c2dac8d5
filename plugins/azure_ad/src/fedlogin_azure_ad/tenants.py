"""Microsoft tenants: where to discover them and which issuer their tokens carry.

The Microsoft identity platform serves one authority per tenant,
``https://login.microsoftonline.com/{tenant}/v2.0``, where ``{tenant}`` is the directory
(tenant) ID, one of the tenant's verified domains, or one of three multi-tenant aliases:
``common`` (work, school and personal accounts), ``organizations`` (work and school only) and
``consumers`` (personal Microsoft accounts only).

The issuer named by the discovery document depends on that choice (Microsoft identity
platform, "OpenID Connect on the Microsoft identity platform" and "ID token claims"):

* a tenant ID: ``https://login.microsoftonline.com/{that id}/v2.0``;
* ``common`` and ``organizations``: the template
  ``https://login.microsoftonline.com/{tenantid}/v2.0``, which each token fills with its own
  ``tid``;
* ``consumers``: the fixed issuer of the personal-accounts tenant
  ``9188040d-6c67-4c5b-b112-36a304b66dad``;
* a verified domain: the issuer of the tenant's ID, which cannot be known before the document
  is fetched. We expect the template and resolve it from ``tid`` like the multi-tenant
  aliases; this needs the core to accept a document issuer that is the template filled with a
  GUID (see the plugin's README). Prefer the tenant ID, which pins the issuer exactly.
"""

from __future__ import annotations

import re
from typing import TypeGuard

from fedlogin import InvalidConfiguration, normalize_domain

#: Sign-in hosts of Microsoft's global and national clouds (US Government, China).
MICROSOFT_HOSTS = (
    "login.microsoftonline.com",
    "login.microsoftonline.us",
    "login.partner.microsoftonline.cn",
    "login.chinacloudapi.cn",
)
DEFAULT_HOST = MICROSOFT_HOSTS[0]
DEFAULT_TENANT = "common"
MULTI_TENANT = ("common", "organizations", "consumers")
#: The tenant every personal Microsoft account signs in through.
CONSUMERS_TENANT_ID = "9188040d-6c67-4c5b-b112-36a304b66dad"
TENANT_ID_PLACEHOLDER = "{tenantid}"

GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
VERIFIED_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
TENANT_PATTERN = rf"(?i:common|organizations|consumers|{GUID}|{VERIFIED_DOMAIN})"
TENANT_LIST_PATTERN = rf"{GUID}(?:[\s,]+{GUID})*"

_GUID = re.compile(GUID)
_TENANT = re.compile(TENANT_PATTERN)


def is_guid(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and _GUID.fullmatch(value) is not None


def tenant_ids(text: str) -> frozenset[str]:
    """The tenant IDs of a comma- or space-separated list, lower-cased."""
    return frozenset(item.lower() for item in re.split(r"[\s,]+", text) if item)


def locate(domain: str, tenant_field: str) -> tuple[str, str]:
    """The sign-in host and the tenant, from the Domain and the Tenant field.

    The Tenant field builds the domain. An admin may instead paste a full domain
    (``https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/``): its tenant is used
    when the Tenant field is empty or still at its default ``common``; a Domain and a Tenant
    field naming two different tenants is an error rather than a guess.
    """
    field = tenant_field.strip().lower()
    if field and not _TENANT.fullmatch(field):
        message = (
            "Tenant must be a tenant ID, a verified domain, common, organizations or consumers."
        )
        raise InvalidConfiguration(message, fields={"tenant": message})
    host, typed = _parse_domain(domain)
    if typed is None or typed == field:
        return host, field or DEFAULT_TENANT
    if field in ("", DEFAULT_TENANT):
        return host, typed
    message = (
        f"The Domain names the tenant {typed} but the Tenant field says {field}: "
        "make them agree, or clear the Domain to have it built from the Tenant field."
    )
    raise InvalidConfiguration(message, fields={"domain": message, "tenant": message})


def _parse_domain(domain: str) -> tuple[str, str | None]:
    if not domain.strip():
        return DEFAULT_HOST, None
    canonical = normalize_domain(domain)
    host, _, path = canonical.partition("/")
    if host not in MICROSOFT_HOSTS:
        message = (
            "The Microsoft domain is login.microsoftonline.com/{tenant}/v2.0 (or a national "
            "cloud's sign-in host). For Azure AD B2C or Entra External ID use the OpenID "
            "Connect preset."
        )
        raise InvalidConfiguration(message, fields={"domain": message})
    segments = path.split("/") if path else []
    if segments and segments[-1] == "v2.0":
        segments.pop()
    if len(segments) > 1:
        message = f"Expected {host}/{{tenant}}/v2.0, not {canonical}."
        raise InvalidConfiguration(message, fields={"domain": message})
    if not segments or _is_placeholder(segments[0]):
        return host, None  # the product document's own example, "{tenant-id}", left as is
    tenant = segments[0].lower()
    if not _TENANT.fullmatch(tenant):
        message = (
            f"{segments[0]!r} in the Domain is not a tenant ID, a verified domain, "
            "common, organizations or consumers."
        )
        raise InvalidConfiguration(message, fields={"domain": message})
    return host, tenant


def _is_placeholder(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def expected_issuer(host: str, tenant: str) -> tuple[str, tuple[str, ...]]:
    """The issuer the discovery document must name, and other spellings it may use."""
    template = f"https://{host}/{TENANT_ID_PLACEHOLDER}/v2.0"
    if is_guid(tenant):
        return f"https://{host}/{tenant}/v2.0", ()
    if tenant == "consumers":
        return f"https://{host}/{CONSUMERS_TENANT_ID}/v2.0", (template,)
    return template, ()


def resolve_issuer(template: str, tid: object, tenant: str) -> list[str]:
    """The issuer a token of tenant ``tid`` must carry, or nothing when ``tid`` cannot be one.

    ``tid`` is spliced into a URL, so it must be a GUID: anything else rejects the token.
    ``organizations`` never admits the personal-accounts tenant and ``consumers`` admits
    nothing else, whatever Microsoft let through.
    """
    if not is_guid(tid):
        return []
    personal = tid.lower() == CONSUMERS_TENANT_ID
    if (tenant == "organizations" and personal) or (tenant == "consumers" and not personal):
        return []
    resolved = template.replace(TENANT_ID_PLACEHOLDER, tid)
    return [] if "{" in resolved else [resolved]
