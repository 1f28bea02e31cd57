"""Feedback indexes on (interaction, rating) and (interaction, resolution).

Flagging checks on every vote whether the interaction has a 👎 or an escalation; with only an
index on the interaction that read every vote of a popular answer. The new indexes start with
the interaction too, so they replace its index.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_feedback_events_interaction_id_rating", "feedback_events", ["interaction_id", "rating"])
    op.create_index(
        "ix_feedback_events_interaction_id_resolution", "feedback_events", ["interaction_id", "resolution"]
    )
    op.drop_index("ix_feedback_events_interaction_id", table_name="feedback_events")


def downgrade() -> None:
    op.create_index("ix_feedback_events_interaction_id", "feedback_events", ["interaction_id"])
    op.drop_index("ix_feedback_events_interaction_id_resolution", table_name="feedback_events")
    op.drop_index("ix_feedback_events_interaction_id_rating", table_name="feedback_events")
