"""Settings → Accounts → Authentication (S1): federated login on or off, providers offered.

A single ``account_settings`` row (id 1), created by the initial migration and recreated on
demand. ``identity_providers`` is ordered: the login page shows the providers in that order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from fedlogin.store import audit
from fedlogin.store.changes import begin_admin_change
from fedlogin.store.fields import FieldErrors, boolean, name_list, reject_unknown
from fedlogin.store.tables import AccountSettings, Brand, IdentityProvider
from fedlogin.store.types import utcnow

_ROW_ID = 1
SETTINGS_FIELDS = ("federated_login_enabled", "identity_providers")
SETTINGS_READ_ONLY = ("version", "updated_at")


def get_settings(session: Session) -> AccountSettings:
    row = session.get(AccountSettings, _ROW_ID)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = AccountSettings(id=_ROW_ID)
            session.add(row)
    except IntegrityError:  # another process created it first
        return get_settings(session)
    return row


def settings_fields(row: AccountSettings) -> dict[str, Any]:
    return {
        "federated_login_enabled": row.federated_login_enabled,
        "identity_providers": list(row.identity_providers),
        "updated_at": row.updated_at.isoformat(),
        "version": row.version,
    }


def update_settings(session: Session, changes: Mapping[str, Any], *, actor: str) -> AccountSettings:
    """Apply the fields present in ``changes`` (partial update)."""
    begin_admin_change(session)
    row = get_settings(session)
    errors = FieldErrors()
    reject_unknown(changes, SETTINGS_FIELDS, SETTINGS_READ_ONLY, errors)
    enabled = row.federated_login_enabled
    if "federated_login_enabled" in changes:
        read = boolean(
            changes["federated_login_enabled"],
            "federated_login_enabled",
            "Federated login",
            errors,
        )
        enabled = bool(read)
    providers = list(row.identity_providers)
    if "identity_providers" in changes:
        providers = (
            read_provider_identifiers(
                session, changes["identity_providers"], "identity_providers", errors
            )
            or []
        )
    errors.raise_if_any("The account settings")
    before = {
        "federated_login_enabled": row.federated_login_enabled,
        "identity_providers": list(row.identity_providers),
    }
    after = {"federated_login_enabled": enabled, "identity_providers": providers}
    old, new = audit.diff(before, after)
    if not new:
        return row
    row.federated_login_enabled = enabled
    row.identity_providers = providers
    row.version += 1
    row.updated_at = utcnow()
    session.add(row)
    session.flush()
    audit.record(session, actor, "settings.update", "account_settings", "accounts", old, new)
    return row


def read_provider_identifiers(
    session: Session, value: Any, field: str, errors: FieldErrors
) -> list[str] | None:
    """An ordered list of distinct identifiers of existing providers."""
    identifiers = name_list(value, field, "Identity providers", errors)
    if identifiers is None:
        return None
    if not identifiers:
        return []
    query = select(IdentityProvider.identifier).where(
        col(IdentityProvider.identifier).in_(identifiers)
    )
    known = set(session.exec(query).all())
    unknown = [identifier for identifier in identifiers if identifier not in known]
    if unknown:
        errors.add(
            field,
            "unknown_provider",
            "No identity provider is named " + ", ".join(repr(u) for u in unknown) + ".",
        )
        return None
    return identifiers


def remove_provider_references(session: Session, identifier: str) -> list[str]:
    """Drop a deleted provider from the settings and every brand; say where it was listed."""
    removed = []
    settings = get_settings(session)
    if identifier in settings.identity_providers:
        settings.identity_providers = [i for i in settings.identity_providers if i != identifier]
        settings.version += 1
        settings.updated_at = utcnow()
        session.add(settings)
        removed.append("settings")
    for brand in session.exec(select(Brand)).all():
        if identifier in brand.identity_providers:
            brand.identity_providers = [i for i in brand.identity_providers if i != identifier]
            brand.version += 1
            brand.updated_at = utcnow()
            session.add(brand)
            removed.append(f"brand:{brand.name}")
    return removed
