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
* a verified domain (``contoso.com``): the issuer of the tenant's *ID*
  (``https://login.microsoftonline.com/{that tenant's GUID}/v2.0``), which differs from the
  URL the admin typed and cannot be known before the document is fetched. The discovery
  target accepts any issuer of that shape on the same host (``issuer_pattern``); the issuer
  the document names is then the provider's, and every token is checked against it exactly.
  The target still shows (and accepts) the template, resolved per token like ``common``'s,
  should Microsoft ever answer with it.
"""

from __future__ import annotations

import re

from fedlogin import (
    DOMAIN_NAME_PATTERN,
    GUID_PATTERN,
    DiscoveryTarget,
    InvalidConfiguration,
    discovery_url,
    is_guid,
    normalize_domain,
)

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

TENANT_PATTERN = rf"(?i:common|organizations|consumers|{GUID_PATTERN}|{DOMAIN_NAME_PATTERN})"
TENANT_LIST_PATTERN = rf"{GUID_PATTERN}(?:[\s,]+{GUID_PATTERN})*"

_TENANT = re.compile(TENANT_PATTERN)


def is_verified_domain(tenant: str) -> bool:
    """Whether the tenant is named by one of its domains rather than its ID or an alias."""
    return tenant not in MULTI_TENANT and not is_guid(tenant)


def tenant_ids(text: str) -> frozenset[str]:
    """The tenant IDs of a comma- or space-separated list, lower-cased."""
    return frozenset(item.lower() for item in re.split(r"[\s,]+", text) if item)


def parse_domain(domain: str) -> tuple[str, str | None]:
    """The sign-in host and the tenant a Domain names (``None`` when it names none).

    An admin may paste a full authority or discovery URL
    (``https://login.microsoftonline.com/contoso.onmicrosoft.com/v2.0/``) instead of using
    the Tenant field; an empty Domain is the global cloud's host.
    """
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


def discovery_target(host: str, tenant: str) -> DiscoveryTarget:
    """Where the tenant's discovery document is and which issuer it must name."""
    canonical = f"{host}/{tenant}/v2.0"
    template = f"https://{host}/{TENANT_ID_PLACEHOLDER}/v2.0"
    issuer, pattern = template, ""
    aliases: tuple[str, ...] = ()
    if is_guid(tenant):
        issuer = f"https://{host}/{tenant}/v2.0"
    elif tenant == "consumers":
        issuer, aliases = f"https://{host}/{CONSUMERS_TENANT_ID}/v2.0", (template,)
    elif is_verified_domain(tenant):
        # Shown as the template; accepted as the tenant's own ID-based issuer.
        pattern = re.escape(f"https://{host}/") + GUID_PATTERN + re.escape("/v2.0")
    return DiscoveryTarget(
        url=discovery_url(canonical),
        issuer=issuer,
        domain=canonical,
        issuer_aliases=aliases,
        issuer_pattern=pattern,
    )


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
