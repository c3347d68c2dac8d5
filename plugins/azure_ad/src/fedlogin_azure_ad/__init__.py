"""Microsoft Entra ID (Azure AD) as a fedlogin preset: work, school and personal accounts.

The quirks live in two modules: :mod:`fedlogin_azure_ad.tenants` (tenant → domain and issuer,
the ``{tenantid}`` issuer template) and :mod:`fedlogin_azure_ad.claims` (the ``{tid}:{oid}``
subject and the nOAuth email rule). This module declares the preset and wires the hooks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fedlogin import (
    DOMAIN_NAME_PATTERN,
    AuthorizationExtras,
    DiscoveryTarget,
    Logo,
    NormalizedClaims,
    PresetField,
    ProviderPreset,
    SetupGuide,
    Veto,
    hookimpl,
    is_guid,
)

from fedlogin_azure_ad import claims as _claims
from fedlogin_azure_ad import tenants

PRESET_ID = "azure-ad"

TENANT = PresetField(
    name="tenant",
    label="Tenant",
    help="Your directory (tenant) ID for a single-tenant app, or common for multi-tenant apps "
    "(organizations: work and school accounts only; consumers: personal Microsoft accounts "
    "only). A verified domain such as contoso.onmicrosoft.com also works.",
    default=tenants.DEFAULT_TENANT,
    example="contoso.onmicrosoft.com",
    pattern=tenants.TENANT_PATTERN,
    pattern_error="must be a tenant ID (GUID), a verified domain, common, organizations or "
    "consumers",
)
ALLOWED_TENANTS = PresetField(
    name="allowed_tenants",
    label="Allowed tenants",
    help="For a multi-tenant app: the tenant IDs whose users may sign in, separated by commas "
    "or spaces. Leave empty to admit every tenant the Tenant field admits.",
    example="00000000-0000-0000-0000-0000000000aa, 00000000-0000-0000-0000-0000000000bb",
    pattern=tenants.TENANT_LIST_PATTERN,
    pattern_error="must be tenant IDs (GUIDs) separated by commas or spaces",
)
DOMAIN_HINT = PresetField(
    name="domain_hint",
    label="Domain hint",
    help="Sent to Microsoft as domain_hint so that users of this domain skip the account "
    "picker (for example contoso.com, or consumers for personal accounts). Optional.",
    example="contoso.com",
    pattern=DOMAIN_NAME_PATTERN + "|consumers|organizations",
    pattern_error="must be a domain name such as contoso.com, consumers or organizations",
)

SETUP_GUIDE = SetupGuide(
    steps=(
        "Go to the Azure Portal.",
        "Navigate to Azure Active Directory (Microsoft Entra ID) → App registrations.",
        "Click New registration.",
        "Enter a name and select the appropriate account types.",
        "Add your callback URL as a Redirect URI (Web platform).",
        "After creation, copy the Application (client) ID.",
        "Go to Certificates & secrets → New client secret.",
        "Copy the secret value.",
    ),
    domain="login.microsoftonline.com/{tenant-id}/v2.0",
    scopes="openid profile email",
    notes=(
        "Use common for multi-tenant apps.",
        "Use your specific tenant ID for single-tenant apps.",
        "Microsoft's email claim is trusted as verified only when the token carries "
        "xms_edov=true: add the optional claims email and xms_edov under Token configuration.",
    ),
    field_help={
        "domain": "Built from the Tenant field: login.microsoftonline.com/{tenant}/v2.0. You may "
        "paste the full authority or discovery URL instead.",
        "client_id": "The Application (client) ID from the app's Overview page.",
        "client_secret": "The secret's Value (not its Secret ID), shown once when you create it.",
        "scopes": "openid profile email. Keep profile: it brings the object ID (oid) that "
        "identifies users together with their tenant.",
        TENANT.name: TENANT.help,
        ALLOWED_TENANTS.name: ALLOWED_TENANTS.help,
        DOMAIN_HINT.name: DOMAIN_HINT.help,
    },
    console_url="https://portal.azure.com/#view/Microsoft_AAD_RegisteredApps/ApplicationsListBlade",
)

PRESET = ProviderPreset(
    id=PRESET_ID,
    name="Microsoft",
    description="Microsoft Entra ID (Azure AD): work and school accounts of one or many "
    "tenants, and personal Microsoft accounts.",
    domain=f"{tenants.DEFAULT_HOST}/{{tenant}}/v2.0",
    domain_examples=(
        "login.microsoftonline.com/{tenant-id}/v2.0",
        "login.microsoftonline.com/common/v2.0",
    ),
    setup_guide=SETUP_GUIDE,
    logo=Logo.from_package(__name__, "logo.svg"),
    fields=(TENANT, ALLOWED_TENANTS, DOMAIN_HINT),
)


@hookimpl
def fedlogin_presets() -> Sequence[ProviderPreset]:
    return [PRESET]


@hookimpl
def fedlogin_discovery(
    preset: str, domain: str, options: Mapping[str, str]
) -> DiscoveryTarget | None:
    if preset != PRESET_ID:
        return None
    entered = TENANT.value_in(options).lower()
    host, typed = tenants.parse_domain(domain)
    return tenants.discovery_target(host, TENANT.reconcile(entered, typed))


@hookimpl
def fedlogin_token_issuers(
    preset: str, issuer: str, claims: Mapping[str, Any], options: Mapping[str, str]
) -> Sequence[str] | None:
    if preset != PRESET_ID or tenants.TENANT_ID_PLACEHOLDER not in issuer:
        return None  # a tenant ID's issuer is checked exactly, as for any provider
    tenant = TENANT.value_in(options).lower() or TENANT.default
    return tenants.resolve_issuer(issuer, claims.get("tid"), tenant)


@hookimpl
def fedlogin_normalize_claims(preset: str, claims: Mapping[str, Any]) -> NormalizedClaims | None:
    if preset != PRESET_ID:
        return None
    return _claims.normalize(claims)


@hookimpl
def fedlogin_validate_domain(
    preset: str, claims: NormalizedClaims, options: Mapping[str, str]
) -> Veto | None:
    if preset != PRESET_ID:
        return None
    allowed = tenants.tenant_ids(ALLOWED_TENANTS.value_in(options))
    if not allowed:
        return None
    tid = claims.claims.get("tid")
    if not is_guid(tid):
        reason = (
            "Microsoft did not say which organisation (tenant) this account belongs to, and "
            "only listed organisations may sign in with this provider."
        )
    elif tid.lower() in allowed:
        return None
    else:
        reason = (
            f"Accounts of the Microsoft organisation (tenant) {tid} are not allowed to sign in "
            "with this provider."
        )
    return Veto(reason, code="tenant_not_allowed")


@hookimpl
def fedlogin_authorization_params(
    preset: str, options: Mapping[str, str]
) -> AuthorizationExtras | None:
    if preset != PRESET_ID:
        return None
    hint = DOMAIN_HINT.value_in(options)
    if not hint:
        return None
    return AuthorizationExtras(params={"domain_hint": hint.lower()})
