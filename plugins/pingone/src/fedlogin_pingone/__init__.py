"""PingOne as a fedlogin preset: one PingOne environment in one region.

PingOne's quirk (PingOne platform docs, "OpenID Connect discovery"): an environment's issuer is
``https://auth.pingone.{region}/{environment ID}/as``, the region being the top-level domain
of the geography the environment lives in. The preset asks for both and builds the domain; an
admin who pasted the issuer or discovery URL instead gets the same result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fedlogin import (
    GUID_PATTERN,
    DiscoveryTarget,
    InvalidConfiguration,
    Logo,
    PresetField,
    ProviderPreset,
    SetupGuide,
    base_url,
    discovery_url,
    hookimpl,
    is_guid,
    normalize_domain,
)

PRESET_ID = "pingone"
#: Top-level domains of PingOne's geographies: North America, Europe, Canada, Asia-Pacific,
#: Australia, Singapore.
REGIONS = ("com", "eu", "ca", "asia", "com.au", "sg")
DEFAULT_REGION = "com"
HOST_PREFIX = "auth.pingone."

REGION = PresetField(
    name="region",
    label="Region",
    help="Where your PingOne environment lives: com (North America), eu (Europe), ca (Canada), "
    "asia (Asia-Pacific), com.au (Australia) or sg (Singapore), as in auth.pingone.{region}.",
    default=DEFAULT_REGION,
    choices=REGIONS,
)
ENVIRONMENT_ID = PresetField(
    name="environment_id",
    label="Environment ID",
    help="The Environment ID from Settings → Environment Properties in the PingOne console "
    "(a UUID).",
    required=True,
    example="5a1f3c2e-9d8b-4c7a-b6e5-0f1d2c3b4a59",
    pattern=GUID_PATTERN,
    pattern_error="must be a UUID such as 5a1f3c2e-9d8b-4c7a-b6e5-0f1d2c3b4a59",
)

SETUP_GUIDE = SetupGuide(
    steps=(
        "Go to your PingOne Admin Console.",
        "Navigate to Connections → Applications.",
        "Create a new OIDC Web App.",
        "Add your callback URL to the redirect URIs.",
        "Copy the Client ID and Client Secret.",
        "Note your Environment ID.",
    ),
    domain="auth.pingone.com/{environment-id}/as",
    scopes="openid profile email",
    field_help={
        "domain": "Built from the Region and Environment ID: auth.pingone.{region}/"
        "{environment-id}/as. You may paste the issuer or discovery URL instead.",
        "client_id": "The Client ID from the application's Configuration tab.",
        "client_secret": "The Client Secret from the same tab.",
        "scopes": "openid profile email; the application must grant these scopes under Resources.",
        REGION.name: REGION.help,
        ENVIRONMENT_ID.name: ENVIRONMENT_ID.help,
    },
)

PRESET = ProviderPreset(
    id=PRESET_ID,
    name="PingOne",
    description="A PingOne environment (Ping Identity's cloud directory) in any region.",
    domain=HOST_PREFIX + "{region}/{environment_id}/as",
    domain_examples=("auth.pingone.com/{environment-id}/as",),
    setup_guide=SETUP_GUIDE,
    logo=Logo.from_package(__name__, "logo.svg"),
    fields=(REGION, ENVIRONMENT_ID),
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
    region_field = REGION.value_in(options).lower()
    environment_field = ENVIRONMENT_ID.value_in(options).lower()
    typed_region, typed_environment = _parse_domain(domain)
    region = REGION.reconcile(region_field, typed_region)
    environment = ENVIRONMENT_ID.reconcile(environment_field, typed_environment)
    if not environment:
        raise _invalid("Environment ID is required.", ENVIRONMENT_ID.name)
    canonical = f"{HOST_PREFIX}{region}/{environment}/as"
    return DiscoveryTarget(
        url=discovery_url(canonical), issuer=base_url(canonical), domain=canonical
    )


def _parse_domain(domain: str) -> tuple[str | None, str | None]:
    """The region and environment ID a pasted domain names (``None`` where it names none)."""
    if not domain.strip():
        return None, None
    canonical = normalize_domain(domain)
    host, _, path = canonical.partition("/")
    region = host.removeprefix(HOST_PREFIX)
    segments = path.split("/") if path else []
    if segments[-1:] == ["as"]:
        segments.pop()
    if not host.startswith(HOST_PREFIX) or region not in REGIONS or len(segments) > 1:
        raise _invalid(
            f"Expected auth.pingone.{{region}}/{{environment-id}}/as, not {canonical}.", "domain"
        )
    if not segments:
        return region, None
    if segments[0].startswith("{"):
        return None, None  # the product document's example, "{environment-id}": a template
    if not is_guid(segments[0]):
        raise _invalid(f"{segments[0]!r} in the Domain is not an environment ID.", "domain")
    return region, segments[0].lower()


def _invalid(message: str, field: str) -> InvalidConfiguration:
    return InvalidConfiguration(message, fields={field: message})
