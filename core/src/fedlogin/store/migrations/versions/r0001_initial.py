"""Initial schema: identity providers, logos, settings, brands, admins, audit, users.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "account_settings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("federated_login_enabled", sa.Boolean(), nullable=False),
        sa.Column("identity_providers", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_settings")),
    )
    op.create_table(
        "admin_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admin_user")),
        sa.UniqueConstraint("username", name=op.f("uq_admin_user_username")),
    )
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target_type", sa.String(length=64), nullable=False),
        sa.Column("target_id", sa.String(length=255), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entry")),
    )
    op.create_index(op.f("ix_audit_entry_at"), "audit_entry", ["at"])
    op.create_index(
        op.f("ix_audit_entry_target_type_target_id"), "audit_entry", ["target_type", "target_id"]
    )
    op.create_table(
        "brand",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("hosts", sa.JSON(), nullable=False),
        sa.Column("inherit", sa.Boolean(), nullable=False),
        sa.Column("federated_login_enabled", sa.Boolean(), nullable=False),
        sa.Column("identity_providers", sa.JSON(), nullable=False),
        sa.Column("disabled_plugins", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_brand")),
        sa.UniqueConstraint("name", name=op.f("uq_brand_name")),
    )
    op.create_table(
        "config_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_config_version")),
    )
    op.create_table(
        "logo",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("media_type", sa.String(length=32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_logo")),
    )
    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=150), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("email_verified", sa.Boolean(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=True),
        sa.Column("picture", sa.Text(), nullable=True),
        sa.Column("website", sa.Text(), nullable=True),
        sa.Column("company", sa.String(length=255), nullable=True),
        sa.Column("location", sa.String(length=255), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_account")),
        sa.UniqueConstraint("username", name=op.f("uq_user_account_username")),
    )
    op.create_index(op.f("ix_user_account_email"), "user_account", ["email"])

    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("admin_user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["admin_user_id"],
            ["admin_user.id"],
            name=op.f("fk_api_token_admin_user_id_admin_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_token_token_hash")),
    )
    op.create_index(op.f("ix_api_token_admin_user_id"), "api_token", ["admin_user_id"])
    op.create_table(
        "identity_provider",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("preset", sa.String(length=63), nullable=False),
        sa.Column("preset_options", sa.JSON(), nullable=False),
        sa.Column("domain", sa.String(length=1024), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("client_secret_encrypted", sa.Text(), nullable=True),
        sa.Column("auth_method", sa.String(length=32), nullable=False),
        sa.Column("scopes", sa.String(length=1024), nullable=False),
        sa.Column("provisioning_mode", sa.String(length=32), nullable=False),
        sa.Column("allowed_domains", sa.JSON(), nullable=False),
        sa.Column("email_trust_mode", sa.String(length=32), nullable=False),
        sa.Column("button_text", sa.String(length=150), nullable=False),
        sa.Column("attribute_mapping", sa.JSON(), nullable=False),
        sa.Column("logo_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "auth_method IN ('client_secret_post', 'client_secret_basic', 'none')",
            name=op.f("ck_identity_provider_auth_method"),
        ),
        sa.CheckConstraint(
            "email_trust_mode IN ('verify_with_claim', 'trust_idp', 'always_verify')",
            name=op.f("ck_identity_provider_email_trust_mode"),
        ),
        sa.CheckConstraint(
            "provisioning_mode IN ('auto_provision', 'match_only')",
            name=op.f("ck_identity_provider_provisioning_mode"),
        ),
        sa.CheckConstraint("type IN ('oidc')", name=op.f("ck_identity_provider_type")),
        sa.ForeignKeyConstraint(
            ["logo_id"],
            ["logo.id"],
            name=op.f("fk_identity_provider_logo_id_logo"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identity_provider")),
        sa.UniqueConstraint("identifier", name=op.f("uq_identity_provider_identifier")),
    )
    op.create_table(
        "federated_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(length=512), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["identity_provider.id"],
            name=op.f("fk_federated_identity_provider_id_identity_provider"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
            name=op.f("fk_federated_identity_user_id_user_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_federated_identity")),
        sa.UniqueConstraint(
            "provider_id",
            "issuer",
            "subject",
            name=op.f("uq_federated_identity_provider_id_issuer_subject"),
        ),
    )
    op.create_index(op.f("ix_federated_identity_user_id"), "federated_identity", ["user_id"])
    # The two single-row tables start with their row, so that every process finds it.
    op.bulk_insert(
        sa.table("config_version", sa.column("id", sa.Integer), sa.column("version", sa.Integer)),
        [{"id": 1, "version": 0}],
    )
    op.bulk_insert(
        sa.table(
            "account_settings",
            sa.column("id", sa.Integer),
            sa.column("federated_login_enabled", sa.Boolean),
            sa.column("identity_providers", sa.JSON),
            sa.column("updated_at", sa.DateTime(timezone=True)),
            sa.column("version", sa.Integer),
        ),
        [
            {
                "id": 1,
                "federated_login_enabled": False,
                "identity_providers": [],
                "updated_at": datetime.now(UTC),
                "version": 1,
            }
        ],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_federated_identity_user_id"), table_name="federated_identity")
    op.drop_table("federated_identity")
    op.drop_table("identity_provider")
    op.drop_index(op.f("ix_api_token_admin_user_id"), table_name="api_token")
    op.drop_table("api_token")
    op.drop_index(op.f("ix_user_account_email"), table_name="user_account")
    op.drop_table("user_account")
    op.drop_table("logo")
    op.drop_table("config_version")
    op.drop_table("brand")
    op.drop_index(op.f("ix_audit_entry_target_type_target_id"), table_name="audit_entry")
    op.drop_index(op.f("ix_audit_entry_at"), table_name="audit_entry")
    op.drop_table("audit_entry")
    op.drop_table("admin_user")
    op.drop_table("account_settings")
