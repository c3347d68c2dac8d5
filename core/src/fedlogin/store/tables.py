"""The database tables (SQLModel ``table=True``); value objects live elsewhere (STYLE.md 3).

Every table is registered on this module's own :data:`metadata` (not SQLModel's global one)
so that the migrations compare against exactly fedlogin's schema. Constraint names follow
:data:`NAMING_CONVENTION`, so they are the same on SQLite and PostgreSQL and a later
migration can refer to them.

JSON columns are replaced, never mutated in place: SQLAlchemy only notices a new value.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Index,
    LargeBinary,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from fedlogin.presets import AUTH_METHODS
from fedlogin.store.types import UTCDateTime, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING_CONVENTION)


def table_of(model: type[SQLModel]) -> Table:
    """A table model's Core ``Table``, for statements without the ORM (SQLModel does not
    declare ``__table__`` to type checkers)."""
    table: Table = model.__table__  # type: ignore[attr-defined]
    return table


mapper_registry = registry(metadata=metadata)

PROVISIONING_MODES = ("auto_provision", "match_only")
EMAIL_TRUST_MODES = ("verify_with_claim", "trust_idp", "always_verify")
PROVIDER_TYPES = ("oidc",)


def _one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    quoted = ", ".join(f"'{value}'" for value in values)
    return CheckConstraint(f"{column} IN ({quoted})", name=column)


class StoreModel(SQLModel, registry=mapper_registry):
    """Base of fedlogin's tables (abstract: it only carries the registry)."""


class StoredLogo(StoreModel, table=True):
    """An uploaded provider logo, served from the database so every process can serve it."""

    __tablename__ = "logo"

    id: int | None = Field(default=None, primary_key=True)
    media_type: str = Field(max_length=32)
    data: bytes = Field(sa_type=LargeBinary, repr=False)
    sha256: str = Field(max_length=64)
    size: int
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class IdentityProvider(StoreModel, table=True):
    """One configured identity provider (P1 to P18). ``identifier`` never changes."""

    __tablename__ = "identity_provider"
    __table_args__ = (
        _one_of("type", PROVIDER_TYPES),
        _one_of("auth_method", AUTH_METHODS),
        _one_of("provisioning_mode", PROVISIONING_MODES),
        _one_of("email_trust_mode", EMAIL_TRUST_MODES),
    )

    id: int | None = Field(default=None, primary_key=True)
    identifier: str = Field(max_length=63, unique=True)
    name: str = Field(max_length=100)
    description: str = Field(default="", sa_type=Text)
    type: str = Field(default="oidc", max_length=16)
    enabled: bool = True
    preset: str = Field(max_length=63)
    preset_options: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    #: Canonical form (fedlogin.domains.normalize_domain, or what the preset's plugin built).
    domain: str = Field(max_length=1024)
    client_id: str = Field(max_length=255)
    #: Fernet token (fedlogin.store.secrets); ``None`` for public clients.
    client_secret_encrypted: str | None = Field(default=None, sa_type=Text, repr=False)
    auth_method: str = Field(default="client_secret_post", max_length=32)
    #: Space-separated, as in the OAuth ``scope`` parameter.
    scopes: str = Field(default="openid profile email", max_length=1024)
    provisioning_mode: str = Field(default="auto_provision", max_length=32)
    allowed_domains: list[str] = Field(default_factory=list, sa_type=JSON)
    email_trust_mode: str = Field(default="verify_with_claim", max_length=32)
    button_text: str = Field(max_length=150)
    attribute_mapping: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    logo_id: int | None = Field(default=None, foreign_key="logo.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    version: int = 1

    @property
    def scope_list(self) -> list[str]:
        return self.scopes.split()

    @property
    def has_client_secret(self) -> bool:
        return self.client_secret_encrypted is not None


class AccountSettings(StoreModel, table=True):
    """Settings → Accounts → Authentication (S1): a single row with id 1."""

    __tablename__ = "account_settings"

    id: int | None = Field(default=None, primary_key=True)
    federated_login_enabled: bool = False
    #: Provider identifiers in the order the login page shows them.
    identity_providers: list[str] = Field(default_factory=list, sa_type=JSON)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    version: int = 1


class Brand(StoreModel, table=True):
    """A brand (S2): the hosts it answers on and its own federated-login settings."""

    __tablename__ = "brand"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100, unique=True)
    #: Lower-cased host names, optionally with ``:port``; unique across brands.
    hosts: list[str] = Field(default_factory=list, sa_type=JSON)
    #: True: the global account settings apply; False: the three fields below.
    inherit: bool = True
    federated_login_enabled: bool = False
    identity_providers: list[str] = Field(default_factory=list, sa_type=JSON)
    #: Plugin names switched off for this brand (fedlogin.plugins.Plugins.for_brand).
    disabled_plugins: list[str] = Field(default_factory=list, sa_type=JSON)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    version: int = 1


class AdminUser(StoreModel, table=True):
    __tablename__ = "admin_user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    password_hash: str = Field(max_length=255, repr=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiToken(StoreModel, table=True):
    """A bearer token for the admin API. Only its SHA-256 is stored; it is shown once."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    admin_user_id: int = Field(foreign_key="admin_user.id", ondelete="CASCADE", index=True)
    token_hash: str = Field(max_length=64, unique=True, repr=False)
    #: The first characters of the token, so an admin can tell tokens apart.
    prefix: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class AuditEntry(StoreModel, table=True):
    """Who changed what, when (X6). ``before``/``after`` never hold a secret."""

    __tablename__ = "audit_entry"
    __table_args__ = (Index(None, "target_type", "target_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor: str = Field(max_length=255)
    action: str = Field(max_length=64)
    target_type: str = Field(max_length=64)
    target_id: str = Field(max_length=255)
    before: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=JSON)


class ConfigVersion(StoreModel, table=True):
    """A single counter row (id 1) bumped by every admin change (X4).

    Each process compares it with the value it cached its configuration under; one indexed
    read per request tells it whether anything changed.
    """

    __tablename__ = "config_version"

    id: int | None = Field(default=None, primary_key=True)
    version: int = 0


class User(StoreModel, table=True):
    """A platform user. Minimal for now; the accounts package owns its behaviour.

    The table is ``user_account`` because ``user`` is a reserved word in PostgreSQL.
    """

    __tablename__ = "user_account"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=150, unique=True)
    #: Stored lower-cased; found by ``lower(email)`` (indexed below).
    email: str | None = Field(default=None, max_length=320)
    email_verified: bool = False
    password_hash: str | None = Field(default=None, max_length=255, repr=False)
    name: str | None = Field(default=None, max_length=255)
    picture: str | None = Field(default=None, sa_type=Text)
    website: str | None = Field(default=None, sa_type=Text)
    company: str | None = Field(default=None, max_length=255)
    location: str | None = Field(default=None, max_length=255)
    disabled: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


#: Every lookup by address compares ``lower(email)`` (a first sign-in's email match, a
#: password sign-in by address, the admin's filter): without this index each one read the
#: whole table.
Index("ix_user_account_lower_email", func.lower(table_of(User).c.email))


class FederatedIdentity(StoreModel, table=True):
    """A user's account at an identity provider (SECURITY.md: keyed by provider, issuer, sub).

    Deleting the provider deletes these links (ON DELETE CASCADE) but never the users.
    """

    __tablename__ = "federated_identity"
    __table_args__ = (UniqueConstraint("provider_id", "issuer", "subject"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", ondelete="CASCADE", index=True)
    provider_id: int = Field(foreign_key="identity_provider.id", ondelete="CASCADE")
    issuer: str = Field(max_length=512)
    subject: str = Field(max_length=255)
    #: The email the provider gave at the last sign-in (U3).
    email: str | None = Field(default=None, max_length=320)
    linked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


# -- server-side state of the web host (X4: nothing lives in one process's memory) ----------


class SetupToken(StoreModel, table=True):
    """The one-time link ``fedlogin serve`` prints while no admin exists (SHA-256 only)."""

    __tablename__ = "setup_token"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, repr=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class BrowserSession(StoreModel, table=True):
    """A signed-in browser: a user's or an admin's. The cookie holds a random value; only
    its SHA-256 is stored here, so a copy of the database signs nobody in.
    """

    __tablename__ = "browser_session"
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (admin_user_id IS NULL)", name="one_principal"),
    )

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True, repr=False)
    user_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="CASCADE", index=True
    )
    admin_user_id: int | None = Field(
        default=None, foreign_key="admin_user.id", ondelete="CASCADE", index=True
    )
    #: Per-session secret the CSRF tokens of its forms are derived from.
    csrf_secret: str = Field(max_length=64, repr=False)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    #: When the person last proved who they are (re-authentication before sensitive changes).
    authenticated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
    user_agent: str | None = Field(default=None, max_length=255)


class PendingFlow(StoreModel, table=True):
    """An authorization request waiting for its callback (single use, expiring).

    Keyed by the SHA-256 of ``state`` and bound to the browser that started it by the
    SHA-256 of a cookie value, so any process can finish what another started.
    """

    __tablename__ = "pending_flow"

    id: int | None = Field(default=None, primary_key=True)
    state_hash: str = Field(max_length=64, unique=True)
    browser_hash: str = Field(max_length=64, repr=False)
    provider_id: int = Field(foreign_key="identity_provider.id", ondelete="CASCADE")
    #: ``sign_in`` or ``link`` (started from Account → Security by ``link_user_id``).
    purpose: str = Field(default="sign_in", max_length=16)
    link_user_id: int | None = Field(
        default=None, foreign_key="user_account.id", ondelete="CASCADE"
    )
    nonce: str = Field(max_length=128, repr=False)
    code_verifier: str = Field(max_length=128, repr=False)
    redirect_uri: str = Field(sa_type=Text)
    next_url: str | None = Field(default=None, sa_type=Text)
    brand_id: int | None = Field(default=None, foreign_key="brand.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)


class SignInEvent(StoreModel, table=True):
    """One sign-in attempt through a provider (T4): outcome, refusing step, claims received.

    Never holds tokens, codes or secrets. The provider is kept by identifier as well, so
    events outlive a deleted provider.
    """

    __tablename__ = "sign_in_event"
    __table_args__ = (Index("ix_sign_in_event_provider_at", "provider_identifier", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    provider_id: int | None = Field(
        default=None, foreign_key="identity_provider.id", ondelete="SET NULL"
    )
    provider_identifier: str = Field(max_length=63)
    #: ``success`` or ``refused``.
    outcome: str = Field(max_length=16)
    #: The flow step that refused (fedlogin.oidc.errors step names), ``None`` on success.
    step: str | None = Field(default=None, max_length=32)
    code: str | None = Field(default=None, max_length=64)
    message: str | None = Field(default=None, sa_type=Text)
    claims: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    brand_id: int | None = Field(default=None, foreign_key="brand.id", ondelete="SET NULL")


# -- local accounts (issue 5: password sign-in) ----------------------------------------------


class SignInThrottle(StoreModel, table=True):
    """Password sign-in attempts counted per account name or per client address (X4).

    One row per bucket (``scope`` ``account`` or ``address``, ``key_hash`` the SHA-256 of the
    name typed or of the address), counted up atomically by every process
    (fedlogin.accounts.throttle), so a limit holds however many processes serve the site.
    """

    __tablename__ = "sign_in_throttle"
    __table_args__ = (UniqueConstraint("scope", "key_hash"),)

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=16)
    key_hash: str = Field(max_length=64, repr=False)
    #: Attempts in the current window that did not succeed (or are still being checked).
    failures: int = 0
    window_started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)


# -- email: the outbox and pending verifications (issue 5: email trust, linking) -------------


class OutboxMessage(StoreModel, table=True):
    """An email the platform sends: kept here first, so that nothing is lost when no SMTP
    server is configured or it is down (fedlogin.mail). Admins read it at ``/api/v1/outbox``.
    """

    __tablename__ = "mail_outbox"

    id: int | None = Field(default=None, primary_key=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    #: ``verification``, ``identity_linked`` or ``identity_unlinked``.
    kind: str = Field(max_length=32)
    to_address: str = Field(max_length=320, index=True)
    subject: str = Field(max_length=255)
    body: str = Field(sa_type=Text)
    user_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: Set while one process is sending it, so that two processes never send it twice.
    claimed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_type=Text)


class EmailVerification(StoreModel, table=True):
    """A sign-in waiting for its email address to be proven (P15), with no account yet.

    It holds what is needed to finish the sign-in once the address is proven: the identity
    key, the mapped profile, where to go next and the brand. It is bound to the browser that
    started the sign-in (SHA-256 of its cookie); the code and the link's token are stored as
    SHA-256 only. ``handle`` names the waiting page and proves nothing by itself.
    """

    __tablename__ = "email_verification"

    id: int | None = Field(default=None, primary_key=True)
    handle: str = Field(max_length=64, unique=True)
    token_hash: str = Field(max_length=64, unique=True, repr=False)
    code_hash: str = Field(max_length=64, repr=False)
    browser_hash: str = Field(max_length=64, repr=False)
    email: str = Field(max_length=320, index=True)
    provider_id: int = Field(foreign_key="identity_provider.id", ondelete="CASCADE")
    issuer: str = Field(max_length=512)
    subject: str = Field(max_length=255)
    #: The mapped profile values (fedlogin.accounts.mapping.MappedProfile.values).
    profile: dict[str, str] = Field(default_factory=dict, sa_type=JSON)
    next_url: str | None = Field(default=None, sa_type=Text)
    brand_id: int | None = Field(default=None, foreign_key="brand.id", ondelete="SET NULL")
    #: Wrong codes typed so far (all codes sent for this verification count together).
    attempts: int = 0
    sends: int = 0
    last_sent_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    message_id: int | None = Field(default=None, foreign_key="mail_outbox.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
