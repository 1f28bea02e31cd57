"""Review queue: flags, curated answers, review audit trail.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "curated_answers",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("doc_ids", sa.JSON(), nullable=False),
        sa.Column("source_interaction_id", sa.String(length=128), nullable=True),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("embedding", sa.JSON(), nullable=True),
        sa.Column("served_count", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_TS, nullable=False),
        sa.Column("updated_at", UTC_TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["source_interaction_id"],
            ["interactions.id"],
            name="fk_curated_answers_source_interaction_id_interactions",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_curated_answers"),
    )
    op.create_index("ix_curated_answers_updated_at", "curated_answers", ["updated_at"])

    op.create_table(
        "flags",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("interaction_id", sa.String(length=128), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("cluster_id", sa.String(length=64), nullable=True),
        sa.Column("embedding", sa.JSON(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("curated_answer_id", sa.String(length=128), nullable=True),
        sa.Column("reviewed_by", sa.String(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC_TS, nullable=False),
        sa.Column("updated_at", UTC_TS, nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'approved', 'corrected', 'gap', 'rejected', 'cleared')",
            name="ck_flags_status",
        ),
        sa.ForeignKeyConstraint(
            ["interaction_id"],
            ["interactions.id"],
            name="fk_flags_interaction_id_interactions",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["curated_answer_id"],
            ["curated_answers.id"],
            name="fk_flags_curated_answer_id_curated_answers",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_flags"),
        sa.UniqueConstraint("interaction_id", name="uq_flags_interaction_id"),
    )
    op.create_index("ix_flags_priority", "flags", ["priority"])
    op.create_index("ix_flags_status", "flags", ["status"])
    op.create_index("ix_flags_cluster_id", "flags", ["cluster_id"])

    op.create_table(
        "review_actions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("flag_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=False),
        sa.Column("after", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["flag_id"], ["flags.id"], name="fk_review_actions_flag_id_flags", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_review_actions"),
    )
    op.create_index("ix_review_actions_flag_id", "review_actions", ["flag_id"])
    op.create_index("ix_review_actions_created_at", "review_actions", ["created_at"])


def downgrade() -> None:
    op.drop_table("review_actions")
    op.drop_table("flags")
    op.drop_table("curated_answers")
