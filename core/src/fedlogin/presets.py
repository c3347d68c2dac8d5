"""Value objects that cross the plugin boundary.

Plugins build and return these; the core reads them. They are frozen attrs classes so that a
plugin can never change a preset after the core has checked it, and so that the plugin
manager can validate what a plugin returned before anything else sees it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from importlib.resources import files
from types import MappingProxyType
from typing import Any

import attrs

from fedlogin.errors import InvalidConfiguration

#: Token-endpoint authentication methods the product supports (P10).
AUTH_METHODS = ("client_secret_post", "client_secret_basic", "none")

#: The product document's default attribute mapping (P18): profile field ← claim name.
DEFAULT_ATTRIBUTE_MAPPING: Mapping[str, str] = MappingProxyType(
    {
        "username": "preferred_username",
        "email": "email",
        "name": "name",
        "picture": "picture",
        "website": "website",
        "company": "organization",
        "location": "locale",
    }
)

#: Profile fields an attribute mapping may fill.
PROFILE_FIELDS = tuple(DEFAULT_ATTRIBUTE_MAPPING)

DEFAULT_SCOPES = ("openid", "profile", "email")

#: ``{name}`` is replaced by the identity provider's display name (P17).
DEFAULT_BUTTON_TEXT = "Login with {name}"

_PRESET_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
LOGO_MEDIA_TYPES = ("image/svg+xml", "image/png", "image/jpeg")


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _preset_fields(value: Iterable[PresetField]) -> tuple[PresetField, ...]:
    return tuple(value)


def _frozen_mapping(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


def _check_preset_id(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not _PRESET_ID.match(value):
        raise ValueError(
            f"{attribute.name} {value!r} must be lowercase letters, digits and '-' "
            "(at most 63 characters)"
        )


def _check_non_empty(_: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not value.strip():
        raise ValueError(f"{attribute.name} must not be empty")


@attrs.frozen
class PresetField:
    """An extra field a preset asks the admin for (Azure tenant, PingOne region, ...).

    ``pattern`` is a regular expression the whole value must match; ``choices`` restricts the
    value to a list. The core validates option values against both before a provider is saved,
    so a plugin's hooks only ever see values that passed.
    """

    name: str = attrs.field()
    label: str = attrs.field(validator=_check_non_empty)
    help: str = attrs.field(validator=_check_non_empty)
    required: bool = False
    default: str = ""
    example: str = ""
    choices: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    pattern: str = ""
    pattern_error: str = "has an invalid format"

    @name.validator
    def _check_name(self, attribute: attrs.Attribute[str], value: str) -> None:
        if not _FIELD_NAME.match(value):
            raise ValueError(f"field name {value!r} must be snake_case")

    def value_in(self, options: Mapping[str, str]) -> str:
        """This field's value among the admin's ``options``, trimmed (``""`` when absent).

        The core validates options before it saves them; hooks may also be called with
        options nobody checked yet (Test Connection on an unsaved form, a plugin's tests), so
        a value breaking the field's ``choices`` or ``pattern`` raises
        :class:`~fedlogin.InvalidConfiguration` on this field here too. An empty value is
        returned as is: the Domain may still supply it (see :meth:`reconcile`).
        """
        value = options.get(self.name, "").strip()
        message = self.error_for(value) if value else None
        if message:
            text = f"{self.label} {message}."
            raise InvalidConfiguration(text, fields={self.name: text})
        return value

    def reconcile(self, entered: str, from_domain: str | None) -> str:
        """The value to use when the Domain may name this field's value too.

        Presets that build the Domain from fields (Azure's tenant, PingOne's region, Okta's
        authorization server) also understand a Domain the admin pasted whole. The field wins
        when the Domain names nothing (``from_domain`` is ``None``); the Domain wins when the
        field is empty or still at its default; two different explicit answers are an error on
        both fields rather than a guess. Pass both values already normalised (case, spaces).
        """
        if from_domain is None or from_domain == entered:
            return entered or self.default
        if entered in ("", self.default):
            return from_domain
        message = (
            f"The Domain names {from_domain} but the {self.label} field says {entered}: "
            f"make them agree, or leave the {self.label} field "
            + (f"at {self.default}." if self.default else "empty.")
        )
        raise InvalidConfiguration(message, fields={"domain": message, self.name: message})

    def error_for(self, value: str) -> str | None:
        """The message for an invalid ``value``, or ``None`` when it is acceptable."""
        if not value:
            return "is required" if self.required else None
        if self.choices and value not in self.choices:
            return "must be one of: " + ", ".join(self.choices)
        if self.pattern and not re.fullmatch(self.pattern, value):
            return self.pattern_error
        return None


@attrs.frozen
class SetupGuide:
    """How to register the application at the provider (P19), shown beside the admin form.

    ``field_help`` maps a form field (``domain``, ``client_id``, ``scopes``, or one of the
    preset's own fields) to a sentence of help for that field.
    """

    steps: tuple[str, ...] = attrs.field(converter=_strings)
    domain: str = ""
    scopes: str = " ".join(DEFAULT_SCOPES)
    notes: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    field_help: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_mapping)
    console_url: str = ""

    @steps.validator
    def _check_steps(
        self, attribute: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]
    ) -> None:
        if not value or not all(isinstance(step, str) and step.strip() for step in value):
            raise ValueError("a setup guide needs at least one non-empty step")


@attrs.frozen
class Logo:
    """A logo image shipped with a preset: our own drawing, never copied trademark artwork."""

    media_type: str = attrs.field(validator=attrs.validators.in_(LOGO_MEDIA_TYPES))
    data: bytes = attrs.field(repr=False)

    @classmethod
    def from_package(cls, package: str, resource: str) -> Logo:
        """Load a logo file shipped inside a plugin's package (``logo.svg`` next to it)."""
        suffix = resource.rsplit(".", 1)[-1].lower()
        media_type = {"svg": "image/svg+xml", "png": "image/png"}.get(suffix, "image/jpeg")
        return cls(media_type, files(package).joinpath(resource).read_bytes())

    @data.validator
    def _check_data(self, attribute: attrs.Attribute[bytes], value: bytes) -> None:
        if not isinstance(value, bytes) or not value:
            raise ValueError("logo data must be non-empty bytes")
        if len(value) > 64 * 1024:
            raise ValueError("a preset logo must be at most 64 KiB")


@attrs.frozen
class ProviderPreset:
    """A kind of identity provider an admin can start from (Google, Okta, ...).

    Everything here is a default the admin may change when creating a provider, except the
    ``fields``, which define the preset-specific options the admin is asked for.
    ``domain`` may be a template with ``{field}`` placeholders naming fields of the preset.
    """

    id: str = attrs.field(validator=_check_preset_id)
    name: str = attrs.field(validator=_check_non_empty)
    description: str = attrs.field(validator=_check_non_empty)
    setup_guide: SetupGuide = attrs.field(validator=attrs.validators.instance_of(SetupGuide))
    logo: Logo = attrs.field(validator=attrs.validators.instance_of(Logo))
    domain: str = ""
    domain_examples: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    scopes: tuple[str, ...] = attrs.field(default=DEFAULT_SCOPES, converter=_strings)
    auth_method: str = attrs.field(
        default="client_secret_post", validator=attrs.validators.in_(AUTH_METHODS)
    )
    attribute_mapping: Mapping[str, str] = attrs.field(
        default=DEFAULT_ATTRIBUTE_MAPPING, converter=_frozen_mapping
    )
    button_text: str = DEFAULT_BUTTON_TEXT
    fields: tuple[PresetField, ...] = attrs.field(default=(), converter=_preset_fields)

    @scopes.validator
    def _check_scopes(
        self, attribute: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]
    ) -> None:
        if "openid" not in value:
            raise ValueError("default scopes must include 'openid'")

    @attribute_mapping.validator
    def _check_mapping(
        self, attribute: attrs.Attribute[Mapping[str, str]], value: Mapping[str, str]
    ) -> None:
        unknown = set(value) - set(PROFILE_FIELDS)
        if unknown:
            raise ValueError(f"attribute mapping names unknown profile fields: {sorted(unknown)}")

    @fields.validator
    def _check_fields(
        self, attribute: attrs.Attribute[tuple[PresetField, ...]], value: tuple[PresetField, ...]
    ) -> None:
        names = [f.name for f in value]
        if len(names) != len(set(names)):
            raise ValueError("preset fields must have distinct names")
        if not all(isinstance(f, PresetField) for f in value):
            raise ValueError("preset fields must be PresetField instances")

    def field(self, name: str) -> PresetField | None:
        return next((f for f in self.fields if f.name == name), None)

    def option_errors(self, options: Mapping[str, str]) -> dict[str, str]:
        """Field-level errors for the admin's preset options, keyed by field name."""
        errors = {
            name: "is not a field of the " + self.name + " preset"
            for name in options
            if self.field(name) is None
        }
        for f in self.fields:
            message = f.error_for(options.get(f.name, "").strip())
            if message:
                errors[f.name] = f"{f.label} {message}"
        return errors

    def default_options(self) -> dict[str, str]:
        return {f.name: f.default for f in self.fields}

    def example_options(self) -> dict[str, str]:
        """Options filled with each field's example: used by docs and the plugin test kit."""
        return {f.name: f.example or f.default for f in self.fields}


@attrs.frozen
class DiscoveryTarget:
    """Where to fetch a provider's discovery document and which issuer it must name.

    ``domain`` is the canonical domain the admin's input resolves to (shown in the console).
    ``issuer`` is the issuer the discovery document must name exactly; ``issuer_aliases`` are
    other spellings the provider is known to use. For multi-tenant Azure AD the issuer is the
    template ``https://login.microsoftonline.com/{tenantid}/v2.0``; ``fedlogin_token_issuers``
    resolves such a template per token.

    ``issuer_pattern`` (a regular expression the whole issuer must match) is for an issuer that
    cannot be known before the document is fetched: an Azure AD tenant entered by one of its
    verified domains (``contoso.com``) is discovered at ``.../contoso.com/v2.0`` but names its
    issuer by the tenant's ID. The issuer the document then names is the provider's issuer:
    every ID token is checked against it exactly. Build patterns with :func:`re.escape`; the
    https scheme is required.
    """

    url: str
    issuer: str
    domain: str
    issuer_aliases: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    issuer_pattern: str = attrs.field(default="")

    @issuer_pattern.validator
    def _check_issuer_pattern(self, attribute: attrs.Attribute[str], value: str) -> None:
        if value:
            re.compile(value)  # a plugin's typo fails when the target is built, not later
            if not value.startswith("https://"):
                raise ValueError("an issuer pattern must start with https://")

    def accepts_issuer(self, issuer: str) -> bool:
        """Whether a discovery document naming ``issuer`` is this provider's."""
        if issuer == self.issuer or issuer in self.issuer_aliases:
            return True
        return bool(self.issuer_pattern) and re.fullmatch(self.issuer_pattern, issuer) is not None


@attrs.frozen
class NormalizedClaims:
    """Claims after a preset has smoothed over its provider's quirks.

    ``subject`` is the stable identifier of the user at this provider (for Azure AD the tenant
    and object id); ``email_verified`` is whether the *provider* asserts it verified the email —
    the email trust mode (P15) then decides whether the platform trusts it. ``claims`` is what
    the attribute mapping reads.
    """

    subject: str
    email: str | None
    email_verified: bool
    claims: Mapping[str, Any] = attrs.field(converter=_frozen_mapping)


@attrs.frozen
class Veto:
    """A reason, readable by an admin and the user, why a sign-in must not go ahead."""

    reason: str
    code: str = "domain_not_allowed"


@attrs.frozen
class AuthorizationExtras:
    """Extra authorization-request parameters a preset adds, and scopes it drops.

    Google wants ``access_type=offline`` instead of the ``offline_access`` scope, so it adds
    the parameter and drops the scope.
    """

    params: Mapping[str, str] = attrs.field(factory=dict, converter=_frozen_mapping)
    drop_scopes: tuple[str, ...] = attrs.field(default=(), converter=_strings)
