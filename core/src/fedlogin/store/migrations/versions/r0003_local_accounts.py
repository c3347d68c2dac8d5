"""Local accounts: password sign-in throttling (issue 5, points 1 and 7).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_throttle",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_throttle")),
        sa.UniqueConstraint("scope", "key_hash", name=op.f("uq_sign_in_throttle_scope_key_hash")),
    )
    op.create_index(
        op.f("ix_sign_in_throttle_window_started_at"), "sign_in_throttle", ["window_started_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_sign_in_throttle_window_started_at"), table_name="sign_in_throttle")
    op.drop_table("sign_in_throttle")
