"""Tombstones of erased customers (a hash of the user id, never the id).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "erased_users",
        sa.Column("user_hash", sa.String(length=64), nullable=False),
        sa.Column("erased_ids", sa.JSON(), nullable=False),
        sa.Column("erased_at", UTC_TS, nullable=False),
        sa.Column("updated_at", UTC_TS, nullable=False),
        sa.PrimaryKeyConstraint("user_hash", name="pk_erased_users"),
    )


def downgrade() -> None:
    op.drop_table("erased_users")
