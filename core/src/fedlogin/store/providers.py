"""The identity-provider service: create, read, update (partial), delete, logo.

Every change runs in the caller's transaction: the service takes the admin-change lock
(:func:`~fedlogin.store.changes.begin_admin_change`), validates everything before touching
a row, writes, and records an audit entry. When it raises, the caller rolls back
(:meth:`fedlogin.store.database.Database.transaction` does), so an invalid request changes
nothing.

Decisions the product document leaves open:

* The identifier is immutable: it is part of the callback URL registered at the IdP, so a
  rename would silently break sign-in. An update naming another identifier is refused with
  ``identifier_immutable``; create a new provider instead.
* Update is partial (PATCH). A missing or empty ``client_secret`` keeps the stored one;
  switching to ``auth_method: none`` drops it. ``preset_options`` and ``attribute_mapping``
  are merged key by key (JSON merge patch: ``null`` removes a mapping).
* A domain the preset built from its options (a template such as
  ``login.microsoftonline.com/{tenant}/v2.0``) follows the options when they change.
* A default button text (``Login with {name}``) follows renames of the provider's name.
* Deleting a provider that users are linked to requires ``confirm=True``. The users stay;
  their links to this provider (``federated_identity`` rows) are deleted with it, so no
  sign-in can reach an account through a provider that no longer exists. The provider is
  also removed from the global and per-brand provider lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete
from sqlmodel import Session, col, select

from fedlogin.errors import FedloginError, NotFound, UnknownPreset
from fedlogin.plugins import Plugins
from fedlogin.presets import DEFAULT_SCOPES, ProviderPreset
from fedlogin.store import audit
from fedlogin.store.changes import begin_admin_change
from fedlogin.store.errors import ConfirmationRequired, VersionConflict
from fedlogin.store.fields import FieldErrors, reject_unknown
from fedlogin.store.logos import store_logo
from fedlogin.store.provider_input import (
    READ_ONLY_FIELDS,
    WRITABLE_FIELDS,
    ProviderValues,
    check_client_secret_rule,
    implied_domain,
    read_client_secret,
    read_provider,
    render_button_text,
)
from fedlogin.store.provider_views import audit_snapshot, linked_user_count, logo_state
from fedlogin.store.secrets import Secret, SecretBox
from fedlogin.store.settings import remove_provider_references
from fedlogin.store.tables import FederatedIdentity, IdentityProvider, StoredLogo
from fedlogin.store.types import utcnow

DEFAULT_PRESET = "generic-oidc"
TARGET_TYPE = "identity_provider"


class ProviderNotFound(NotFound):
    code = "provider_not_found"


class IdentityProviders:
    """Identity providers as the admin manages them; ``actor`` is recorded in the audit log."""

    def __init__(
        self, session: Session, plugins: Plugins, secrets: SecretBox, *, actor: str
    ) -> None:
        self.session = session
        self.plugins = plugins
        self.secrets = secrets
        self.actor = actor

    # -- reading --------------------------------------------------------------------------

    def list(self) -> list[IdentityProvider]:
        query = select(IdentityProvider).order_by(col(IdentityProvider.identifier))
        return list(self.session.exec(query).all())

    def find(self, identifier: str) -> IdentityProvider | None:
        query = select(IdentityProvider).where(IdentityProvider.identifier == identifier)
        return self.session.exec(query).first()

    def get(self, identifier: str) -> IdentityProvider:
        row = self.find(identifier)
        if row is None:
            raise ProviderNotFound(f"There is no identity provider {identifier!r}.")
        return row

    def client_secret(self, row: IdentityProvider) -> Secret | None:
        """The decrypted client secret, for the token request only."""
        if row.client_secret_encrypted is None:
            return None
        return self.secrets.decrypt(row.client_secret_encrypted)

    # -- changing -------------------------------------------------------------------------

    def create(self, data: Mapping[str, Any]) -> IdentityProvider:
        """Create a provider; what ``data`` leaves out comes from its preset (P19 defaults)."""
        begin_admin_change(self.session)
        errors = FieldErrors()
        values, secret = self._read_new(data, errors, secret_stored=False)
        self._check_identifier_free(data.get("identifier"), errors)
        errors.raise_if_any("The identity provider")
        assert values is not None
        row = IdentityProvider(identifier=values.identifier, **_columns(values))
        if secret is not None and values.auth_method != "none":
            row.client_secret_encrypted = self.secrets.encrypt(secret)
        self.session.add(row)
        self.session.flush()
        audit.record(
            self.session,
            self.actor,
            "identity_provider.create",
            TARGET_TYPE,
            row.identifier,
            after=audit_snapshot(row),
        )
        return row

    def read_unsaved(
        self, data: Mapping[str, Any], *, stand_ins: Mapping[str, str], refusal: tuple[str, str]
    ) -> ProviderValues:
        """Read an unsaved form exactly as :meth:`create` would, saving nothing.

        For Test Connection of a form: the identifier need not be free (the admin may be
        testing a copy of a saved provider), ``stand_ins`` fill the fields left empty that the
        caller does not need, and a missing client secret is fine. Raises ValidationFailed
        whose summary reads ``refusal`` (what, outcome): ("The connection", "was not tested").
        """
        errors = FieldErrors()
        filled = dict(data)
        for field, stand_in in stand_ins.items():
            if filled.get(field) in (None, ""):
                filled[field] = stand_in
        values, _ = self._read_new(filled, errors, secret_stored=True)
        what, outcome = refusal
        errors.raise_if_any(what, outcome=outcome)
        assert values is not None
        return values

    def _read_new(
        self, data: Mapping[str, Any], errors: FieldErrors, *, secret_stored: bool
    ) -> tuple[ProviderValues | None, str | None]:
        reject_unknown(data, WRITABLE_FIELDS, READ_ONLY_FIELDS, errors)
        preset = self._preset(data.get("preset", DEFAULT_PRESET), errors)
        raw = self._create_raw(data, preset)
        values = read_provider(raw, preset, self.plugins, errors)
        secret = read_client_secret(data.get("client_secret"), errors)
        # stored=True: a missing secret is fine, a secret for a public client is not.
        check_client_secret_rule(raw["auth_method"], secret, stored=secret_stored, errors=errors)
        return values, secret

    def update(
        self,
        identifier: str,
        changes: Mapping[str, Any],
        *,
        expected_version: int | None = None,
    ) -> IdentityProvider:
        """Apply the fields present in ``changes``; the others keep their stored values."""
        begin_admin_change(self.session)
        row = self.get(identifier)
        if expected_version is not None and row.version != expected_version:
            raise VersionConflict(
                f"The identity provider {identifier!r} was changed by someone else "
                f"(version {row.version}, you edited version {expected_version}); reload it."
            )
        errors = FieldErrors()
        reject_unknown(changes, WRITABLE_FIELDS, READ_ONLY_FIELDS, errors)
        given = changes.get("identifier", row.identifier)
        if given != row.identifier:
            errors.add(
                "identifier",
                "identifier_immutable",
                "The identifier cannot be changed: it is part of the callback URL registered "
                "at the identity provider. Create a new provider with the new identifier "
                "instead.",
            )
        preset = self._preset(changes.get("preset", row.preset), errors)
        raw = self._update_raw(row, changes, preset)
        values = read_provider(raw, preset, self.plugins, errors)
        secret = read_client_secret(changes.get("client_secret"), errors)
        stored = row.client_secret_encrypted is not None
        check_client_secret_rule(raw["auth_method"], secret, stored=stored, errors=errors)
        errors.raise_if_any("The identity provider")
        assert values is not None
        before = audit_snapshot(row)
        for name, value in _columns(values).items():
            setattr(row, name, value)
        if values.auth_method == "none":
            row.client_secret_encrypted = None
        elif secret is not None:
            row.client_secret_encrypted = self.secrets.encrypt(secret)
        after = audit_snapshot(row)
        old, new = audit.diff(before, after)
        if secret is not None and "client_secret" not in new and values.auth_method != "none":
            old["client_secret"], new["client_secret"] = before["client_secret"], "changed"
        if new:
            self._touch(row, "identity_provider.update", old, new)
        return row

    def delete(self, identifier: str, *, confirm: bool = False) -> int:
        """Delete a provider; return how many users were linked to it (they are kept)."""
        begin_admin_change(self.session)
        row = self.get(identifier)
        assert row.id is not None
        linked = linked_user_count(self.session, row.id)
        if linked and not confirm:
            users = "1 user is" if linked == 1 else f"{linked} users are"
            raise ConfirmationRequired(
                f"{users} linked to {row.name} ({identifier}). Deleting the provider keeps "
                "the users but removes their link, so they must sign in another way. "
                "Confirm to delete it.",
                linked_users=linked,
            )
        before = audit_snapshot(row)
        references = remove_provider_references(self.session, identifier)
        self.session.execute(
            delete(FederatedIdentity).where(col(FederatedIdentity.provider_id) == row.id)
        )
        logo = self.session.get(StoredLogo, row.logo_id) if row.logo_id else None
        self.session.delete(row)
        if logo is not None:
            self.session.delete(logo)
        self.session.flush()
        audit.record(
            self.session,
            self.actor,
            "identity_provider.delete",
            TARGET_TYPE,
            identifier,
            before=before,
            after={"unlinked_users": linked, "removed_from": references},
        )
        return linked

    def set_logo(self, identifier: str, data: bytes) -> StoredLogo:
        """P16: replace the provider's logo by an upload checked by content (see logos)."""
        begin_admin_change(self.session)
        row = self.get(identifier)
        logo = store_logo(self.session, data)
        old = self.session.get(StoredLogo, row.logo_id) if row.logo_id else None
        old_state = logo_state(old)
        row.logo_id = logo.id
        if old is not None:
            self.session.delete(old)
        self._touch(row, "identity_provider.logo", {"logo": old_state}, {"logo": logo_state(logo)})
        return logo

    def remove_logo(self, identifier: str) -> None:
        begin_admin_change(self.session)
        row = self.get(identifier)
        old = self.session.get(StoredLogo, row.logo_id) if row.logo_id else None
        if old is None:
            return
        row.logo_id = None
        self.session.delete(old)
        self._touch(row, "identity_provider.logo", {"logo": logo_state(old)}, {"logo": None})

    # -- helpers --------------------------------------------------------------------------

    def _touch(
        self, row: IdentityProvider, action: str, before: dict[str, Any], after: dict[str, Any]
    ) -> None:
        row.version += 1
        row.updated_at = utcnow()
        self.session.add(row)
        self.session.flush()
        audit.record(self.session, self.actor, action, TARGET_TYPE, row.identifier, before, after)

    def _preset(self, preset_id: Any, errors: FieldErrors) -> ProviderPreset | None:
        if not isinstance(preset_id, str) or not preset_id.strip():
            errors.add("preset", "preset_required", "Preset is required.")
            return None
        try:
            return self.plugins.preset(preset_id.strip())
        except UnknownPreset as exc:
            errors.add("preset", exc.code, exc.message)
            return None

    def _check_identifier_free(self, identifier: Any, errors: FieldErrors) -> None:
        if errors.has("identifier") or not isinstance(identifier, str):
            return
        if self.find(identifier.strip()) is not None:
            errors.add(
                "identifier",
                "identifier_taken",
                f"Identifier {identifier.strip()!r} is already used by another identity provider.",
            )

    def _create_raw(self, data: Mapping[str, Any], preset: ProviderPreset | None) -> dict[str, Any]:
        options = _merge(preset.default_options() if preset else {}, data.get("preset_options"))
        domain = data.get("domain")
        if "domain" not in data and preset is not None:
            domain = implied_domain(preset, _text_values(options))
        return {
            "identifier": data.get("identifier"),
            "name": data.get("name"),
            "description": data.get("description", ""),
            "type": data.get("type", "oidc"),
            "enabled": data.get("enabled", True),
            "preset_options": options,
            "domain": domain,
            "client_id": data.get("client_id"),
            "auth_method": data.get(
                "auth_method", preset.auth_method if preset else "client_secret_post"
            ),
            "scopes": data.get("scopes", list(preset.scopes if preset else DEFAULT_SCOPES)),
            "provisioning_mode": data.get("provisioning_mode", "auto_provision"),
            "allowed_domains": data.get("allowed_domains", []),
            "email_trust_mode": data.get("email_trust_mode", "verify_with_claim"),
            "button_text": data.get("button_text") or "",
            "attribute_mapping": _merge(
                preset.attribute_mapping if preset else {}, data.get("attribute_mapping")
            ),
        }

    def _update_raw(
        self, row: IdentityProvider, changes: Mapping[str, Any], preset: ProviderPreset | None
    ) -> dict[str, Any]:
        raw: dict[str, Any] = {
            "identifier": row.identifier,
            "name": row.name,
            "description": row.description,
            "type": row.type,
            "enabled": row.enabled,
            "domain": row.domain,
            "client_id": row.client_id,
            "auth_method": row.auth_method,
            "scopes": row.scope_list,
            "provisioning_mode": row.provisioning_mode,
            "allowed_domains": list(row.allowed_domains),
            "email_trust_mode": row.email_trust_mode,
            "button_text": row.button_text,
        }
        raw.update(
            (key, value)
            for key, value in changes.items()
            if key in raw and key not in ("identifier", "button_text")
        )
        same_preset = preset is not None and preset.id == row.preset
        base_options = (
            row.preset_options if same_preset else (preset.default_options() if preset else {})
        )
        raw["preset_options"] = _merge(base_options, changes.get("preset_options"))
        raw["attribute_mapping"] = _merge(row.attribute_mapping, changes.get("attribute_mapping"))
        old_preset = self._find_preset(row.preset)
        moved = not same_preset or raw["preset_options"] != row.preset_options
        follows_options = (
            "domain" not in changes
            and moved
            and preset is not None
            and old_preset is not None
            and row.domain == self._implied_canonical(old_preset, row.preset_options)
        )
        if follows_options and preset is not None:
            raw["domain"] = implied_domain(preset, _text_values(raw["preset_options"]))
        if "button_text" in changes:
            raw["button_text"] = changes["button_text"] or ""
        elif row.button_text == render_button_text(
            old_preset.button_text if old_preset else "", row.name
        ):
            raw["button_text"] = ""  # a default text follows the new name or preset
        return raw

    def _find_preset(self, preset_id: str) -> ProviderPreset | None:
        try:
            return self.plugins.preset(preset_id)
        except UnknownPreset:
            return None

    def _implied_canonical(self, preset: ProviderPreset, options: Mapping[str, str]) -> str | None:
        try:
            return self.plugins.discovery(
                preset.id, implied_domain(preset, options), options
            ).domain
        except FedloginError:
            return None


def _columns(values: ProviderValues) -> dict[str, Any]:
    return {
        "name": values.name,
        "description": values.description,
        "type": values.type,
        "enabled": values.enabled,
        "preset": values.preset,
        "preset_options": dict(values.preset_options),
        "domain": values.domain,
        "client_id": values.client_id,
        "auth_method": values.auth_method,
        "scopes": " ".join(values.scopes),
        "provisioning_mode": values.provisioning_mode,
        "allowed_domains": list(values.allowed_domains),
        "email_trust_mode": values.email_trust_mode,
        "button_text": values.button_text,
        "attribute_mapping": dict(values.attribute_mapping),
    }


def _merge(base: Mapping[str, Any], given: Any) -> Any:
    """JSON merge patch of one level; a non-object ``given`` is passed on to fail validation."""
    if given is None:
        return dict(base)
    if not isinstance(given, Mapping):
        return given
    return {**base, **given}


def _text_values(options: Any) -> dict[str, str]:
    if not isinstance(options, Mapping):
        return {}
    return {str(k): v for k, v in options.items() if isinstance(v, str)}
