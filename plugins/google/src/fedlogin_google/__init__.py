"""Google as a fedlogin preset: Google accounts and Google Workspace.

Google's quirks, each with its source:

* Google's ID tokens carry ``iss`` as ``https://accounts.google.com`` *or* the bare
  ``accounts.google.com`` ("Validating an ID token", Google Identity docs): both are accepted,
  in the discovery document and in tokens; nothing else is.
* ``hd`` (hosted domain) names the Google Workspace domain of the account. The ``hd``
  authorization parameter only tunes Google's account chooser and a user can remove it from
  the URL, so the restriction is enforced on the ``hd`` *claim* of the validated token.
* ``email_verified`` may arrive as the string ``"true"`` rather than a JSON boolean (Google's
  tokeninfo endpoint spells it so, and so did older tokens); only ``true`` in either form
  counts.
* Google rejects the ``offline_access`` scope; refresh tokens are requested with
  ``access_type=offline`` and, to get one again after the first consent, ``prompt=consent``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fedlogin import (
    DOMAIN_NAME_PATTERN,
    AuthorizationExtras,
    DiscoveryTarget,
    InvalidConfiguration,
    Logo,
    NormalizedClaims,
    PresetField,
    ProviderPreset,
    SetupGuide,
    Veto,
    claim_is_true,
    discovery_url,
    hookimpl,
    normalize_domain,
    standard_claims,
)

PRESET_ID = "google"
DOMAIN = "accounts.google.com"
ISSUER = "https://accounts.google.com"
#: The spelling without scheme that Google uses in some ID tokens.
BARE_ISSUER = "accounts.google.com"
OFFLINE_SCOPE = "offline_access"

HOSTED_DOMAIN = PresetField(
    name="hosted_domain",
    label="Hosted domain",
    help="Only admit Google Workspace accounts of this domain (checked on the token's hd "
    "claim). Leave empty to admit any Google account.",
    example="example.com",
    pattern=DOMAIN_NAME_PATTERN,
    pattern_error="must be a domain name such as example.com",
)

SETUP_GUIDE = SetupGuide(
    steps=(
        "Go to the Google Cloud Console.",
        "Create a new project or select an existing one.",
        "Navigate to APIs & Services → Credentials.",
        "Click Create Credentials → OAuth client ID.",
        "Select Web application.",
        "Add your callback URL to Authorized redirect URIs.",
        "Copy the Client ID and Client Secret.",
    ),
    domain=DOMAIN,
    scopes="openid profile email",
    notes=(
        "Google does not accept the offline_access scope: when you add it, fedlogin asks "
        "Google for a refresh token with access_type=offline instead.",
    ),
    field_help={
        "domain": "Always accounts.google.com.",
        "client_id": "The Client ID of the OAuth client (ends in .apps.googleusercontent.com).",
        "client_secret": "The Client Secret of the same OAuth client.",
        "scopes": "openid profile email. Add offline_access for refresh tokens (sent to "
        "Google as access_type=offline).",
        "hosted_domain": HOSTED_DOMAIN.help,
    },
    console_url="https://console.cloud.google.com/apis/credentials",
)

PRESET = ProviderPreset(
    id=PRESET_ID,
    name="Google",
    description="Google accounts, including Google Workspace accounts of your organisation.",
    domain=DOMAIN,
    domain_examples=(DOMAIN,),
    setup_guide=SETUP_GUIDE,
    logo=Logo.from_package(__name__, "logo.svg"),
    # Google's sign-in branding guidelines ask for "Sign in with Google".
    button_text="Sign in with {name}",
    fields=(HOSTED_DOMAIN,),
)


@hookimpl
def fedlogin_presets() -> Sequence[ProviderPreset]:
    return [PRESET]


@hookimpl
def fedlogin_discovery(preset: str, domain: str) -> DiscoveryTarget | None:
    if preset != PRESET_ID:
        return None
    canonical = normalize_domain(domain) if domain.strip() else DOMAIN
    if canonical != DOMAIN:
        raise InvalidConfiguration(
            f"Google's domain is {DOMAIN}, not {canonical}.",
            fields={"domain": f"Enter {DOMAIN} (Google has one domain for every account)."},
        )
    return DiscoveryTarget(
        url=discovery_url(DOMAIN), issuer=ISSUER, domain=DOMAIN, issuer_aliases=(BARE_ISSUER,)
    )


@hookimpl
def fedlogin_token_issuers(preset: str, issuer: str) -> Sequence[str] | None:
    if preset != PRESET_ID or issuer not in (ISSUER, BARE_ISSUER):
        return None  # not Google's issuer: the generic exact check applies
    return [ISSUER, BARE_ISSUER]


@hookimpl
def fedlogin_normalize_claims(preset: str, claims: Mapping[str, Any]) -> NormalizedClaims | None:
    if preset != PRESET_ID:
        return None
    return standard_claims(claims, email_verified=claim_is_true(claims.get("email_verified")))


@hookimpl
def fedlogin_validate_domain(
    preset: str, claims: NormalizedClaims, options: Mapping[str, str]
) -> Veto | None:
    if preset != PRESET_ID:
        return None
    wanted = HOSTED_DOMAIN.value_in(options).lower()
    if not wanted:
        return None
    hd = claims.claims.get("hd")
    if isinstance(hd, str) and hd.lower() == wanted:
        return None
    if isinstance(hd, str) and hd:
        account = f"a Google Workspace account of {hd}"
    else:
        account = "a personal Google account"
    return Veto(
        f"Only Google Workspace accounts of {wanted} may sign in here, and this is {account}.",
        code="hosted_domain_mismatch",
    )


@hookimpl
def fedlogin_authorization_params(
    preset: str, options: Mapping[str, str], scopes: Sequence[str]
) -> AuthorizationExtras | None:
    if preset != PRESET_ID:
        return None
    params: dict[str, str] = {}
    dropped: list[str] = []
    hosted_domain = HOSTED_DOMAIN.value_in(options).lower()
    if hosted_domain:
        params["hd"] = hosted_domain  # a hint for the account chooser, not the check
    if OFFLINE_SCOPE in scopes:
        params.update(access_type="offline", prompt="consent")
        dropped.append(OFFLINE_SCOPE)
    if not params:
        return None
    return AuthorizationExtras(params=params, drop_scopes=dropped)
