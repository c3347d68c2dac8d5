"""Reading an identity provider's fields (P1 to P18) from admin input.

:func:`read_provider` takes a *complete* set of raw values — the service fills what a
request left out from the preset's defaults (create) or the stored provider (update) — and
returns a :class:`ProviderValues` with every field normalised, or ``None`` after recording
field errors. The client secret is read apart (:func:`read_client_secret`) so that it never
travels in a value object that might be printed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs

from fedlogin.domains import is_hostname
from fedlogin.errors import InvalidConfiguration
from fedlogin.plugins import Plugins
from fedlogin.presets import AUTH_METHODS, DEFAULT_BUTTON_TEXT, PROFILE_FIELDS, ProviderPreset
from fedlogin.store.fields import FieldErrors, boolean, choice, text, word_list
from fedlogin.store.tables import EMAIL_TRUST_MODES, PROVIDER_TYPES, PROVISIONING_MODES

IDENTIFIER_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
#: Path segments beside ``/api/v1/identity-providers/{identifier}`` that an identifier
#: would shadow.
RESERVED_IDENTIFIERS = frozenset({"test-connection"})
# RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")
_PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")
MAX_SCOPES = 50
MAX_ALLOWED_DOMAINS = 200
MAX_CLAIM_NAME = 255
MAX_CLIENT_SECRET = 1024

#: Fields an admin writes (``client_secret`` is write-only).
WRITABLE_FIELDS = (
    "identifier",
    "name",
    "description",
    "type",
    "enabled",
    "preset",
    "preset_options",
    "domain",
    "client_id",
    "client_secret",
    "auth_method",
    "scopes",
    "provisioning_mode",
    "allowed_domains",
    "email_trust_mode",
    "button_text",
    "attribute_mapping",
)
#: Fields the API shows but ignores on input, so that a client may send back what it read.
READ_ONLY_FIELDS = (
    "id",
    "callback_url",
    "brand_callback_urls",
    "warnings",
    "client_secret_set",
    "logo_id",
    "logo_url",
    "created_at",
    "updated_at",
    "version",
)


def _frozen(value: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(value))


@attrs.frozen
class ProviderValues:
    """Every field of an identity provider, validated and normalised (no secret here)."""

    identifier: str
    name: str
    description: str
    type: str
    enabled: bool
    preset: str
    preset_options: Mapping[str, str] = attrs.field(converter=_frozen)
    domain: str
    client_id: str
    auth_method: str
    scopes: tuple[str, ...]
    provisioning_mode: str
    allowed_domains: tuple[str, ...]
    email_trust_mode: str
    button_text: str
    attribute_mapping: Mapping[str, str] = attrs.field(converter=_frozen)


def render_button_text(template: str, name: str) -> str:
    """P17: the preset's button text (default ``Login with {name}``) for a provider name."""
    return (template or DEFAULT_BUTTON_TEXT).replace("{name}", name)


def implied_domain(preset: ProviderPreset, options: Mapping[str, str]) -> str:
    """The preset's domain with ``{field}`` placeholders filled from the options.

    Empty when a placeholder has no value yet: the admin must enter the domain (or the
    preset's plugin builds it from the options in ``fedlogin_discovery``).
    """
    missing = False

    def fill(match: re.Match[str]) -> str:
        nonlocal missing
        value = options.get(match.group(1), "").strip()
        missing = missing or not value
        return value

    filled = _PLACEHOLDER.sub(fill, preset.domain)
    return "" if missing else filled


def read_identifier(value: Any, errors: FieldErrors) -> str | None:
    """P1: lowercase letters, digits and '-', starting with a letter or digit, at most 63."""
    identifier = text(value, "identifier", "Identifier", errors, max_length=63, required=True)
    if identifier is None:
        return None
    if not IDENTIFIER_PATTERN.match(identifier):
        errors.add(
            "identifier",
            "invalid_identifier",
            "Identifier may contain only lowercase letters, digits and '-', must start with a "
            "letter or digit and be at most 63 characters (for example okta-prod).",
        )
        return None
    if identifier in RESERVED_IDENTIFIERS:
        errors.add(
            "identifier",
            "identifier_reserved",
            f"Identifier {identifier!r} is reserved by the platform's URLs; choose another.",
        )
        return None
    return identifier


def read_provider(
    raw: Mapping[str, Any], preset: ProviderPreset | None, plugins: Plugins, errors: FieldErrors
) -> ProviderValues | None:
    """Validate a complete set of raw values; ``preset`` is ``None`` when it was unknown."""
    identifier = read_identifier(raw.get("identifier"), errors)
    name = text(raw.get("name"), "name", "Name", errors, max_length=100, required=True)
    description = text(
        raw.get("description"),
        "description",
        "Description",
        errors,
        max_length=2000,
        multiline=True,
    )
    kind = raw.get("type")
    if kind not in PROVIDER_TYPES:
        errors.add(
            "type",
            "unsupported_type",
            "Type must be oidc: only OpenID Connect providers are supported.",
        )
    enabled = boolean(raw.get("enabled"), "enabled", "Enabled", errors)
    options = read_preset_options(raw.get("preset_options"), preset, errors)
    domain = None
    if preset is not None and options is not None:
        domain = read_domain(raw.get("domain"), preset, options, plugins, errors)
    client_id = text(
        raw.get("client_id"), "client_id", "Client ID", errors, max_length=255, required=True
    )
    auth_method = choice(
        raw.get("auth_method"), "auth_method", "Authentication method", AUTH_METHODS, errors
    )
    scopes = read_scopes(raw.get("scopes"), errors)
    provisioning_mode = choice(
        raw.get("provisioning_mode"),
        "provisioning_mode",
        "Provisioning mode",
        PROVISIONING_MODES,
        errors,
    )
    allowed_domains = read_allowed_domains(raw.get("allowed_domains"), errors)
    email_trust_mode = choice(
        raw.get("email_trust_mode"),
        "email_trust_mode",
        "Email trust mode",
        EMAIL_TRUST_MODES,
        errors,
    )
    button_text = text(raw.get("button_text"), "button_text", "Button text", errors, max_length=150)
    if button_text == "" and name:
        button_text = render_button_text(preset.button_text if preset else "", name)[:150]
    mapping = read_attribute_mapping(raw.get("attribute_mapping"), errors)
    if (
        errors
        or preset is None
        or identifier is None
        or name is None
        or description is None
        or enabled is None
        or options is None
        or domain is None
        or client_id is None
        or auth_method is None
        or scopes is None
        or provisioning_mode is None
        or allowed_domains is None
        or email_trust_mode is None
        or button_text is None
        or mapping is None
    ):
        return None
    return ProviderValues(
        identifier=identifier,
        name=name,
        description=description,
        type="oidc",
        enabled=enabled,
        preset=preset.id,
        preset_options=options,
        domain=domain,
        client_id=client_id,
        auth_method=auth_method,
        scopes=tuple(scopes),
        provisioning_mode=provisioning_mode,
        allowed_domains=tuple(allowed_domains),
        email_trust_mode=email_trust_mode,
        button_text=button_text,
        attribute_mapping=mapping,
    )


def read_preset_options(
    value: Any, preset: ProviderPreset | None, errors: FieldErrors
) -> dict[str, str] | None:
    """The preset's own fields (Azure tenant, PingOne region): defaults filled, then checked."""
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        errors.add("preset_options", "invalid_type", "Preset options must be an object.")
        return None
    given: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(item, str):
            errors.add(f"preset_options.{key}", "invalid_type", f"{key} must be text.")
            continue
        given[str(key)] = item.strip()
    if preset is None or any(field.startswith("preset_options.") for field in errors.errors):
        return None
    options = {**preset.default_options(), **given}
    problems = preset.option_errors(options)
    for field, message in problems.items():
        errors.add(f"preset_options.{field}", "invalid_preset_option", message + ".")
    return None if problems else options


def read_domain(
    value: Any,
    preset: ProviderPreset,
    options: Mapping[str, str],
    plugins: Plugins,
    errors: FieldErrors,
) -> str | None:
    """P6: normalised by the preset's plugin (``fedlogin_discovery``), never just rejected.

    An empty domain is fine when the preset builds it from its options.
    """
    domain = text(value, "domain", "Domain", errors, max_length=1024)
    if domain is None:
        return None
    try:
        target = plugins.discovery(preset.id, domain, options)
    except InvalidConfiguration as exc:
        fields = exc.fields or {"domain": exc.message}
        names = {field.name for field in preset.fields}
        for field, message in fields.items():
            key = f"preset_options.{field}" if field in names else field
            errors.add(key, exc.code, message)
        return None
    if len(target.domain) > 1024:
        errors.add("domain", "domain_too_long", "Domain must be at most 1024 characters.")
        return None
    return target.domain


def read_scopes(value: Any, errors: FieldErrors) -> list[str] | None:
    """P11: commas or spaces, duplicates dropped, ``openid`` required."""
    scopes = word_list(value, "scopes", "Scopes", errors)
    if scopes is None:
        return None
    bad = [scope for scope in scopes if not _SCOPE_TOKEN.match(scope)]
    if bad:
        errors.add("scopes", "invalid_scope", f"Scope {bad[0]!r} contains invalid characters.")
        return None
    if len(scopes) > MAX_SCOPES or len(" ".join(scopes)) > 1024:
        errors.add("scopes", "too_many_scopes", f"At most {MAX_SCOPES} scopes are allowed.")
        return None
    if "openid" not in scopes:
        errors.add("scopes", "openid_required", "Scopes must include openid (required for OIDC).")
        return None
    return scopes


def read_allowed_domains(value: Any, errors: FieldErrors) -> list[str] | None:
    """P14: email domains, lower-cased; a leading '@' as admins often type it is dropped."""
    items = word_list(value, "allowed_domains", "Allowed domains", errors)
    if items is None:
        return None
    domains = list(dict.fromkeys(item.lower().removeprefix("@") for item in items))
    bad = [domain for domain in domains if not is_hostname(domain)]
    if bad:
        errors.add(
            "allowed_domains",
            "invalid_allowed_domain",
            "Allowed domains must be domain names such as company.com; not valid: "
            + ", ".join(repr(domain) for domain in bad[:5])
            + ".",
        )
        return None
    if len(domains) > MAX_ALLOWED_DOMAINS:
        errors.add(
            "allowed_domains",
            "too_many_allowed_domains",
            f"At most {MAX_ALLOWED_DOMAINS} allowed domains can be listed.",
        )
        return None
    return domains


def read_attribute_mapping(value: Any, errors: FieldErrors) -> dict[str, str] | None:
    """P18: profile field → claim name. ``None`` as a claim leaves the field unmapped.

    Claim names may be namespaced URLs (Auth0: ``https://example.com/roles``), so '/', ':'
    and '.' are allowed; whitespace and control characters are not.
    """
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        errors.add("attribute_mapping", "invalid_type", "Attribute mapping must be an object.")
        return None
    mapping: dict[str, str] = {}
    for field, claim in value.items():
        key = f"attribute_mapping.{field}"
        if field not in PROFILE_FIELDS:
            errors.add(
                key,
                "unknown_profile_field",
                f"{field!r} is not a profile field; known fields: {', '.join(PROFILE_FIELDS)}.",
            )
            continue
        if claim is None:
            continue
        if not isinstance(claim, str) or not claim.strip():
            errors.add(
                key,
                "claim_required",
                f"The claim for {field} must be a claim name (null leaves {field} unmapped).",
            )
            continue
        claim = claim.strip()
        if len(claim) > MAX_CLAIM_NAME or any(ch.isspace() or not ch.isprintable() for ch in claim):
            errors.add(
                key,
                "invalid_claim_name",
                f"The claim for {field} must be at most {MAX_CLAIM_NAME} characters without "
                "spaces.",
            )
            continue
        mapping[field] = claim
    return mapping


def read_client_secret(value: Any, errors: FieldErrors) -> str | None:
    """The new client secret, or ``None`` to keep the stored one. Never echoed in messages."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        errors.add("client_secret", "invalid_type", "Client secret must be text.")
        return None
    secret = value.strip()
    if not secret:
        return None
    if len(secret) > MAX_CLIENT_SECRET or not secret.isprintable():
        errors.add(
            "client_secret",
            "invalid_client_secret",
            f"Client secret must be at most {MAX_CLIENT_SECRET} printable characters.",
        )
        return None
    return secret


def check_client_secret_rule(
    auth_method: Any, secret: str | None, *, stored: bool, errors: FieldErrors
) -> None:
    """P9/P10: a confidential client needs a secret; a public client (``none``) has none."""
    if not isinstance(auth_method, str) or auth_method.strip() not in AUTH_METHODS:
        return  # the auth_method field itself is reported
    auth_method = auth_method.strip()
    if auth_method == "none" and secret is not None:
        errors.add(
            "client_secret",
            "client_secret_not_allowed",
            "A public client (authentication method none) has no client secret; leave it "
            "empty or choose client_secret_post or client_secret_basic.",
        )
    elif auth_method != "none" and secret is None and not stored:
        errors.add(
            "client_secret",
            "client_secret_required",
            f"Client secret is required for authentication method {auth_method}.",
        )
