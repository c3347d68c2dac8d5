"""Brands (S2): host names with their own federated-login settings and plugin switches.

A request's ``Host`` selects its brand (:func:`effective_login_config`). A brand either
inherits the global account settings (switch and providers) or sets its own. Plugins a
brand switches off are switched off whether or not it inherits: switching a plugin off is a
restriction, and inheriting the provider list must not undo it.

Host names are unique across brands. The JSON ``hosts`` column cannot carry a unique index,
so the service checks it under the admin-change lock (fedlogin.store.changes), which
serialises admin changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
from sqlmodel import Session, col, select

from fedlogin.errors import NotFound
from fedlogin.plugins import Plugins
from fedlogin.store import audit
from fedlogin.store.changes import begin_admin_change
from fedlogin.store.errors import VersionConflict
from fedlogin.store.fields import (
    FieldErrors,
    boolean,
    name_list,
    normalize_host,
    reject_unknown,
    text,
    word_list,
)
from fedlogin.store.settings import get_settings, read_provider_identifiers
from fedlogin.store.tables import Brand, IdentityProvider
from fedlogin.store.types import utcnow

BRAND_FIELDS = (
    "name",
    "hosts",
    "inherit",
    "federated_login_enabled",
    "identity_providers",
    "disabled_plugins",
)
BRAND_READ_ONLY = ("id", "created_at", "updated_at", "version")
MAX_HOSTS = 50
TARGET_TYPE = "brand"


class BrandNotFound(NotFound):
    code = "brand_not_found"


@attrs.frozen
class LoginConfig:
    """What the login page on one host offers."""

    federated_login_enabled: bool
    #: Enabled providers, in the order the page shows them.
    identity_providers: tuple[str, ...]
    #: Plugin names to switch off (``Plugins.for_brand``).
    disabled_plugins: tuple[str, ...]
    #: The brand the host belongs to, ``None`` for the platform's own hosts.
    brand: str | None = None


def brand_fields(row: Brand) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "hosts": list(row.hosts),
        "inherit": row.inherit,
        "federated_login_enabled": row.federated_login_enabled,
        "identity_providers": list(row.identity_providers),
        "disabled_plugins": list(row.disabled_plugins),
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "version": row.version,
    }


def list_brands(session: Session) -> list[Brand]:
    return list(session.exec(select(Brand).order_by(col(Brand.name))).all())


def get_brand(session: Session, brand_id: int) -> Brand:
    row = session.get(Brand, brand_id)
    if row is None:
        raise BrandNotFound(f"There is no brand {brand_id}.")
    return row


def brand_for_host(session: Session, host: str) -> Brand | None:
    """The brand serving ``host`` (a Host header): exact ``host:port`` first, then the host."""
    normalized = normalize_host(host)
    if normalized is None:
        return None
    bare = normalized.rsplit(":", 1)[0] if not normalized.endswith("]") else normalized
    fallback = None
    for brand in session.exec(select(Brand)).all():
        if normalized in brand.hosts:
            return brand
        if bare in brand.hosts:
            fallback = brand
    return fallback


def effective_login_config(session: Session, host: str) -> LoginConfig:
    """Resolve a request's Host to its brand's (or the global) federated-login settings.

    Providers that are disabled or no longer exist are left out, keeping the order.
    """
    brand = brand_for_host(session, host)
    if brand is None or brand.inherit:
        settings = get_settings(session)
        enabled, listed = settings.federated_login_enabled, settings.identity_providers
    else:
        enabled, listed = brand.federated_login_enabled, brand.identity_providers
    usable: set[str] = set()
    if listed:
        query = select(IdentityProvider.identifier).where(
            col(IdentityProvider.identifier).in_(listed), col(IdentityProvider.enabled)
        )
        usable = set(session.exec(query).all())
    return LoginConfig(
        federated_login_enabled=enabled,
        identity_providers=tuple(i for i in listed if i in usable),
        disabled_plugins=tuple(brand.disabled_plugins) if brand else (),
        brand=brand.name if brand else None,
    )


def create_brand(
    session: Session, data: Mapping[str, Any], *, actor: str, plugins: Plugins | None = None
) -> Brand:
    begin_admin_change(session)
    raw = {
        "name": data.get("name"),
        "hosts": data.get("hosts"),
        "inherit": data.get("inherit", True),
        "federated_login_enabled": data.get("federated_login_enabled", False),
        "identity_providers": data.get("identity_providers", []),
        "disabled_plugins": data.get("disabled_plugins", []),
    }
    values = _read_brand(session, data, raw, None, plugins)
    row = Brand(**values)
    session.add(row)
    session.flush()
    assert row.id is not None
    audit.record(session, actor, "brand.create", TARGET_TYPE, row.id, after=_snapshot(row))
    return row


def update_brand(
    session: Session,
    brand_id: int,
    changes: Mapping[str, Any],
    *,
    actor: str,
    plugins: Plugins | None = None,
    expected_version: int | None = None,
) -> Brand:
    begin_admin_change(session)
    row = get_brand(session, brand_id)
    if expected_version is not None and row.version != expected_version:
        raise VersionConflict(f"The brand {row.name!r} was changed by someone else; reload it.")
    raw = {**_snapshot(row), **{k: v for k, v in changes.items() if k in BRAND_FIELDS}}
    values = _read_brand(session, changes, raw, row, plugins)
    before = _snapshot(row)
    for name, value in values.items():
        setattr(row, name, value)
    old, new = audit.diff(before, _snapshot(row))
    if new:
        row.version += 1
        row.updated_at = utcnow()
        session.add(row)
        session.flush()
        audit.record(session, actor, "brand.update", TARGET_TYPE, brand_id, old, new)
    return row


def delete_brand(session: Session, brand_id: int, *, actor: str) -> None:
    begin_admin_change(session)
    row = get_brand(session, brand_id)
    before = _snapshot(row)
    session.delete(row)
    session.flush()
    audit.record(session, actor, "brand.delete", TARGET_TYPE, brand_id, before=before)


def _snapshot(row: Brand) -> dict[str, Any]:
    snapshot = brand_fields(row)
    for key in ("id", "created_at", "updated_at", "version"):
        del snapshot[key]
    return snapshot


def _read_brand(
    session: Session,
    given: Mapping[str, Any],
    raw: Mapping[str, Any],
    current: Brand | None,
    plugins: Plugins | None,
) -> dict[str, Any]:
    errors = FieldErrors()
    reject_unknown(given, BRAND_FIELDS, BRAND_READ_ONLY, errors)
    name = text(raw["name"], "name", "Name", errors, max_length=100, required=True)
    if name is not None:
        query = select(Brand).where(col(Brand.name) == name)
        other = session.exec(query).first()
        if other is not None and other is not current:
            errors.add("name", "brand_name_taken", f"Another brand is named {name!r}.")
    hosts = _read_hosts(session, raw["hosts"], current, errors)
    inherit = boolean(raw["inherit"], "inherit", "Inherit", errors)
    enabled = boolean(
        raw["federated_login_enabled"], "federated_login_enabled", "Federated login", errors
    )
    providers = read_provider_identifiers(
        session, raw["identity_providers"], "identity_providers", errors
    )
    disabled = _read_plugins(raw["disabled_plugins"], plugins, errors)
    errors.raise_if_any("The brand")
    return {
        "name": name,
        "hosts": hosts,
        "inherit": inherit,
        "federated_login_enabled": enabled,
        "identity_providers": providers,
        "disabled_plugins": disabled,
    }


def _read_hosts(
    session: Session, value: Any, current: Brand | None, errors: FieldErrors
) -> list[str] | None:
    items = word_list(value, "hosts", "Host names", errors)
    if items is None:
        return None
    if not items:
        errors.add("hosts", "hosts_required", "A brand needs at least one host name.")
        return None
    hosts = []
    for item in items:
        host = normalize_host(item)
        if host is None:
            errors.add(
                "hosts",
                "invalid_host",
                f"{item!r} is not a host name (such as login.brand.example or "
                "login.brand.example:8443).",
            )
            return None
        hosts.append(host)
    hosts = list(dict.fromkeys(hosts))
    if len(hosts) > MAX_HOSTS:
        errors.add("hosts", "too_many_hosts", f"A brand can have at most {MAX_HOSTS} hosts.")
        return None
    for other in session.exec(select(Brand)).all():
        if other is current:
            continue
        taken = sorted(set(hosts) & set(other.hosts))
        if taken:
            errors.add(
                "hosts",
                "host_taken",
                f"{', '.join(taken)} already belongs to the brand {other.name!r}.",
            )
            return None
    return hosts


def _read_plugins(value: Any, plugins: Plugins | None, errors: FieldErrors) -> list[str] | None:
    names = name_list(value, "disabled_plugins", "Disabled plugins", errors)
    if names is None or plugins is None:
        return names
    known = {info.name for info in plugins.infos()}
    unknown = [name for name in names if name not in known]
    if unknown:
        errors.add(
            "disabled_plugins",
            "unknown_plugin",
            "No plugin is named " + ", ".join(repr(n) for n in unknown) + ".",
        )
        return None
    return names
