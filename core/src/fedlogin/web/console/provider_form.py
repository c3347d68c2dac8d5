"""The identity provider form (P1-P19): its values, what it sends to the store, how it renders.

The form has the product document's sections (Basic Information, OIDC Configuration, User
Provisioning, Display Options, Attribute Mapping) plus the preset's own fields. Its values
are strings named like the store's fields (``preset_options.tenant``,
``attribute_mapping.email``), so a refusal's field errors land beside their inputs and a
re-render shows what the admin typed.

Editing sends the store only what the admin changed. That keeps the store's rules about
what *follows* what: a Domain built from the preset's fields (Azure's tenant) follows those
fields, and a default button text follows the provider's name, unless the admin changed
the Domain or the button text themselves.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import attrs
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from fedlogin.accounts.email_trust import trust_mode_warnings
from fedlogin.oidc import ConnectionReport
from fedlogin.presets import AUTH_METHODS, PROFILE_FIELDS, ProviderPreset
from fedlogin.store.logos import MAX_LOGO_BYTES, LogoRejected, check_logo
from fedlogin.store.provider_input import implied_domain, render_button_text
from fedlogin.store.provider_views import brand_callback_urls, callback_url
from fedlogin.store.tables import EMAIL_TRUST_MODES, PROVISIONING_MODES, IdentityProvider
from fedlogin.web.console import forms
from fedlogin.web.console.auth import ConsoleAdmin
from fedlogin.web.console.layout import console_page
from fedlogin.web.context import app_context

TEXT_FIELDS = (
    "identifier",
    "name",
    "description",
    "type",
    "domain",
    "client_id",
    "auth_method",
    "scopes",
    "provisioning_mode",
    "allowed_domains",
    "email_trust_mode",
    "button_text",
)
OPTION = "preset_options."
MAPPING = "attribute_mapping."

AUTH_METHOD_CHOICES = (
    ("client_secret_post", "client_secret_post", "Client ID and secret sent in the request body"),
    (
        "client_secret_basic",
        "client_secret_basic",
        "Client ID and secret sent in an HTTP Basic Authentication header",
    ),
    ("none", "none", "No client authentication: a public client using PKCE only"),
)
PROVISIONING_CHOICES = (
    (
        "auto_provision",
        "Auto Provision",
        "Create an account automatically at a user's first sign-in, filled from the "
        "provider's claims.",
    ),
    (
        "match_only",
        "Match Only",
        "Only users that already exist may sign in; others are refused.",
    ),
)
EMAIL_TRUST_CHOICES = (
    (
        "verify_with_claim",
        "Verify with Claim",
        "Trust the email only when the provider sends email_verified: true; otherwise send "
        "a verification email.",
    ),
    (
        "trust_idp",
        "Trust IdP",
        "Always trust this provider's emails. Only for providers whose user directory you control.",
    ),
    (
        "always_verify",
        "Always Verify",
        "Always send a verification email, whatever the provider says.",
    ),
)
MAPPING_LABELS = {
    "username": ("Username", "User's unique identifier"),
    "email": ("Email", "User's email address"),
    "name": ("Name", "User's full display name"),
    "picture": ("Picture", "Profile photo URL"),
    "website": ("Website", "User's website"),
    "company": ("Company", "Company or organization name"),
    "location": ("Location", "User's locale or location"),
}
assert tuple(MAPPING_LABELS) == PROFILE_FIELDS
assert {c[0] for c in AUTH_METHOD_CHOICES} == set(AUTH_METHODS)
assert {c[0] for c in PROVISIONING_CHOICES} == set(PROVISIONING_MODES)
assert {c[0] for c in EMAIL_TRUST_CHOICES} == set(EMAIL_TRUST_MODES)

Values = dict[str, str]


# -- values as the form shows them ------------------------------------------------------------


def preset_values(preset: ProviderPreset) -> Values:
    """A new provider's form, filled with the preset's defaults (P19)."""
    options = preset.default_options()
    values: Values = {
        "identifier": preset.id,
        "name": preset.name,
        "description": "",
        "type": "oidc",
        "enabled": "on",
        "domain": implied_domain(preset, options),
        "client_id": "",
        "auth_method": preset.auth_method,
        "scopes": " ".join(preset.scopes),
        "provisioning_mode": "auto_provision",
        "allowed_domains": "",
        "email_trust_mode": "verify_with_claim",
        "button_text": "",
    }
    values.update((OPTION + name, value) for name, value in options.items())
    values.update((MAPPING + f, preset.attribute_mapping.get(f, "")) for f in PROFILE_FIELDS)
    return values


def row_values(row: IdentityProvider, preset: ProviderPreset | None) -> Values:
    """A saved provider as its edit form shows it."""
    values: Values = {
        "identifier": row.identifier,
        "name": row.name,
        "description": row.description,
        "type": row.type,
        "enabled": "on" if row.enabled else "",
        "domain": row.domain,
        "client_id": row.client_id,
        "auth_method": row.auth_method,
        "scopes": " ".join(row.scope_list),
        "provisioning_mode": row.provisioning_mode,
        "allowed_domains": ", ".join(row.allowed_domains),
        "email_trust_mode": row.email_trust_mode,
        "button_text": row.button_text,
    }
    names = [f.name for f in preset.fields] if preset else list(row.preset_options)
    values.update((OPTION + name, row.preset_options.get(name, "")) for name in names)
    values.update((MAPPING + f, row.attribute_mapping.get(f, "")) for f in PROFILE_FIELDS)
    return values


def submitted_values(form: FormData, preset: ProviderPreset, identifier: str | None) -> Values:
    """The form as posted; ``identifier`` is fixed when editing (it never changes)."""
    values = {name: forms.text(form, name) for name in TEXT_FIELDS}
    values["enabled"] = "on" if forms.flag(form, "enabled") else ""
    if identifier is not None:
        values["identifier"] = identifier
    values.update((OPTION + f.name, forms.text(form, OPTION + f.name)) for f in preset.fields)
    values.update((MAPPING + f, forms.text(form, MAPPING + f)) for f in PROFILE_FIELDS)
    return values


# -- what the store receives ------------------------------------------------------------------


def store_data(values: Values) -> dict[str, Any]:
    """The form's values as the store's fields (a blank claim leaves a profile field unmapped)."""
    data: dict[str, Any] = {name: values.get(name, "") for name in TEXT_FIELDS}
    data["enabled"] = values.get("enabled") == "on"
    data["preset_options"] = {
        key.removeprefix(OPTION): value for key, value in values.items() if key.startswith(OPTION)
    }
    data["attribute_mapping"] = {
        key.removeprefix(MAPPING): (value.strip() or None)
        for key, value in values.items()
        if key.startswith(MAPPING)
    }
    return data


def create_data(values: Values, preset: ProviderPreset, secret: str) -> dict[str, Any]:
    data = store_data(values)
    data["preset"] = preset.id
    if values["domain"].strip() == preset_values(preset)["domain"]:
        # Left as the form showed it: the domain follows the preset's fields (Azure tenant).
        del data["domain"]
    if secret:
        data["client_secret"] = secret
    return data


def changes(values: Values, stored: Values, secret: str) -> dict[str, Any]:
    """Only the fields the admin changed (nested objects: only the changed keys)."""
    new, old = store_data(values), store_data(stored)
    found: dict[str, Any] = {}
    for key, value in new.items():
        if isinstance(value, dict):
            changed = {k: v for k, v in value.items() if old[key].get(k) != v}
            if changed:
                found[key] = changed
        elif value != old.get(key):
            found[key] = value
    found.pop("identifier", None)
    if secret:
        found["client_secret"] = secret
    return found


# -- the logo ---------------------------------------------------------------------------------


@attrs.frozen
class LogoInput:
    """A logo chosen in this submission (or kept from a refused one), checked by content."""

    data: bytes | None = attrs.field(default=None, repr=False)
    error: str | None = None
    remove: bool = False

    @property
    def pending(self) -> str:
        """The valid upload, carried in a hidden field when the form is shown again."""
        return base64.b64encode(self.data).decode() if self.data else ""

    @property
    def preview(self) -> str | None:
        if not self.data:
            return None
        media_type = check_logo(self.data).media_type
        return f"data:{media_type};base64,{self.pending}"


async def read_logo(form: FormData) -> LogoInput:
    remove = forms.flag(form, "remove_logo")
    data = await forms.upload(form, "logo", MAX_LOGO_BYTES)
    if data is None:
        pending = _raw(form.get("logo_pending"))
        if pending:
            try:
                data = base64.b64decode(pending, validate=True)
            except (binascii.Error, ValueError):
                return LogoInput(error="The logo chosen before could not be kept; choose it again.")
    if not data:
        return LogoInput(remove=remove)
    try:
        check_logo(data)
    except LogoRejected as exc:
        return LogoInput(error=exc.message)
    return LogoInput(data=data)


def _raw(value: object) -> str:
    # The pending logo is larger than forms.MAX_TEXT; it is checked by content anyway.
    return value if isinstance(value, str) and len(value) <= 2 * MAX_LOGO_BYTES else ""


# -- rendering --------------------------------------------------------------------------------


def logo_url(row: IdentityProvider) -> str:
    """The provider's logo as the console shows it (a new upload shows at once: ``?v=``)."""
    if row.logo_id is not None:
        return f"/api/v1/identity-providers/{row.identifier}/logo?v={row.logo_id}"
    return f"/api/v1/presets/{row.preset}/logo"


@attrs.frozen
class FormState:
    """Everything one rendering of the form shows besides the preset and its values."""

    errors: Mapping[str, str] = attrs.field(factory=dict)
    summary: str | None = None
    notice: str | None = None
    conflict: bool = False
    secret_typed: bool = False
    logo: LogoInput = attrs.field(factory=LogoInput)
    report: ConnectionReport | None = None
    report_domain: str | None = None
    report_error: str | None = None
    report_fields: Mapping[str, str] = attrs.field(factory=dict)


async def render_form(
    request: Request,
    admin: ConsoleAdmin,
    preset: ProviderPreset,
    values: Values,
    state: FormState,
    *,
    row: IdentityProvider | None = None,
    version: int | None = None,
    status: int = 200,
) -> Response:
    ctx = app_context(request)
    base = ctx.config.base_url
    identifier = row.identifier if row else (values.get("identifier") or preset.id)
    brand_callbacks = await ctx.transaction(
        lambda session: brand_callback_urls(session, base, identifier)
    )
    guide = ctx.plugins.setup_guide(preset.id, callback_url(base, "{identifier}"))
    current_logo = logo_url(row) if row is not None else f"/api/v1/presets/{preset.id}/logo"
    if row is not None:
        title = f"{row.name}: Identity Provider"
        action = f"/admin/identity-providers/{row.identifier}/edit"
    else:
        title = f"Add Identity Provider: {preset.name}"
        action = f"/admin/identity-providers/new?preset={preset.id}"
    return console_page(
        request,
        admin,
        "console/provider_form.html",
        {
            "title": title,
            "preset": preset,
            "guide": guide,
            "values": values,
            "state": state,
            "errors": state.errors,
            "row": row,
            "version": version,
            "action": action,
            "callback_base": callback_url(base, ""),
            "callback_url": callback_url(base, identifier),
            "brand_callbacks": brand_callbacks,
            "trust_warnings": trust_mode_warnings(preset.id, values.get("email_trust_mode", "")),
            "default_button_text": render_button_text(
                preset.button_text, values.get("name") or preset.name
            ),
            "logo_url": current_logo,
            "has_own_logo": row is not None and row.logo_id is not None,
            "auth_methods": AUTH_METHOD_CHOICES,
            "provisioning_modes": PROVISIONING_CHOICES,
            "email_trust_modes": EMAIL_TRUST_CHOICES,
            "mapping_labels": MAPPING_LABELS,
            "max_logo_kib": MAX_LOGO_BYTES // 1024,
        },
        status=status,
    )
