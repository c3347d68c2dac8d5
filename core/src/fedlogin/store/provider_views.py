"""How an identity provider is shown: to the API (never the secret) and to the audit log."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func
from sqlmodel import Session, col, select

from fedlogin.store.tables import Brand, FederatedIdentity, IdentityProvider, StoredLogo


def callback_url(base_url: str, identifier: str) -> str:
    """P12: the redirect URI to register at the IdP (read-only in the console)."""
    return f"{base_url.rstrip('/')}/auth/callback/{identifier}"


def brand_callback_urls(session: Session, base_url: str, identifier: str) -> list[dict[str, str]]:
    """P12: the callback URL on each brand host, where users of that brand sign in.

    Every brand host is listed, offered there today or not, so that the admin can register
    them all at the IdP once; the scheme is the platform URL's.
    """
    scheme = urlsplit(base_url).scheme
    return [
        {
            "brand": brand.name,
            "host": host,
            "callback_url": callback_url(f"{scheme}://{host}", identifier),
        }
        for brand in session.exec(select(Brand).order_by(col(Brand.name))).all()
        for host in brand.hosts
    ]


def linked_user_count(session: Session, provider_id: int) -> int:
    """How many users have an account at this provider linked."""
    query = select(func.count(func.distinct(FederatedIdentity.user_id))).where(
        FederatedIdentity.provider_id == provider_id
    )
    return int(session.exec(query).one())


def provider_fields(row: IdentityProvider) -> dict[str, Any]:
    """The provider as the API shows it: JSON-ready, the secret only as ``client_secret_set``."""
    return {
        "id": row.id,
        "identifier": row.identifier,
        "name": row.name,
        "description": row.description,
        "type": row.type,
        "enabled": row.enabled,
        "preset": row.preset,
        "preset_options": dict(row.preset_options),
        "domain": row.domain,
        "client_id": row.client_id,
        "client_secret_set": row.has_client_secret,
        "auth_method": row.auth_method,
        "scopes": row.scope_list,
        "provisioning_mode": row.provisioning_mode,
        "allowed_domains": list(row.allowed_domains),
        "email_trust_mode": row.email_trust_mode,
        "button_text": row.button_text,
        "attribute_mapping": dict(row.attribute_mapping),
        "logo_id": row.logo_id,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
        "version": row.version,
    }


def audit_snapshot(row: IdentityProvider) -> dict[str, Any]:
    snapshot = provider_fields(row)
    for key in ("id", "client_secret_set", "created_at", "updated_at", "version"):
        del snapshot[key]
    snapshot["client_secret"] = "set" if row.has_client_secret else "unset"
    return snapshot


def logo_state(logo: StoredLogo | None) -> dict[str, Any] | None:
    if logo is None:
        return None
    return {"media_type": logo.media_type, "sha256": logo.sha256, "size": logo.size}
