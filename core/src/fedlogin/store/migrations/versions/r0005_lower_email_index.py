"""Users are found by ``lower(email)``: index that expression instead of the bare column.

Every lookup by address (a first sign-in's email match, a password sign-in by address, the
admin's filter) compares ``lower(email)``, which the index on ``email`` could not serve: each
read the whole ``user_account`` table.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index(op.f("ix_user_account_email"), table_name="user_account")
    op.create_index("ix_user_account_lower_email", "user_account", [sa.text("lower(email)")])


def downgrade() -> None:
    op.drop_index("ix_user_account_lower_email", table_name="user_account")
    op.create_index(op.f("ix_user_account_email"), "user_account", ["email"])
