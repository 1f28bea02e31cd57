"""One review item in full: what a lead needs to decide on a flag, as JSON-ready data.

Used by the admin UI's conversation view and ``GET /admin/api/review/{id}``: the question,
the earlier turns, the answer, the retrieved sources with their scores, every feedback event,
the audit trail, the other open flags of the same cluster and the curated answer it made.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.review.actions import audit_trail, get_flag
from assistant.review.curated import curated_dict
from assistant.review.flags import flag_dict
from assistant.store.models import CuratedAnswerRow, FeedbackRow, FlagRow, InteractionRow
from assistant.store.repository import feedback_for

CLUSTER_SHOWN = 50


def _earlier_turns(session: Session, interaction: InteractionRow) -> list[dict[str, Any]]:
    """The turns before this question: the stored conversation, else the history the client sent."""
    query = (
        select(InteractionRow.question, InteractionRow.answer)
        .where(
            InteractionRow.conversation_id == interaction.conversation_id,
            InteractionRow.created_at < interaction.created_at,
        )
        .order_by(InteractionRow.created_at, InteractionRow.id)
    )
    turns: list[dict[str, Any]] = []
    for question, answer in session.execute(query):
        turns += [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
    return turns or [dict(turn) for turn in interaction.history]


def _feedback_dict(event: FeedbackRow) -> dict[str, Any]:
    return {
        "rating": event.rating,
        "resolution": event.resolution,
        "comment": event.comment,
        "voter": event.voter,
        "created_at": event.created_at.isoformat(),
    }


def _cluster(session: Session, flag: FlagRow) -> list[dict[str, Any]]:
    if flag.cluster_id is None:
        return []
    query = (
        select(FlagRow.id, InteractionRow.question)
        .join(InteractionRow, InteractionRow.id == FlagRow.interaction_id)
        .where(FlagRow.cluster_id == flag.cluster_id, FlagRow.status == "open", FlagRow.id != flag.id)
        .order_by(FlagRow.priority.desc(), FlagRow.id)
        .limit(CLUSTER_SHOWN)
    )
    return [{"id": flag_id, "question": question} for flag_id, question in session.execute(query)]


def review_item(session: Session, flag_id: int) -> dict[str, Any]:
    """The flag ``flag_id`` with its whole context; ``ReviewError`` if there is none."""
    flag = get_flag(session, flag_id)
    interaction = session.get(InteractionRow, flag.interaction_id)
    assert interaction is not None  # the foreign key guarantees it
    curated = session.get(CuratedAnswerRow, flag.curated_answer_id) if flag.curated_answer_id else None
    cited = {citation.get("doc_id") for citation in interaction.citations}
    return {
        **flag_dict(flag, interaction),
        "note": flag.note,
        "reviewed_by": flag.reviewed_by,
        "conversation_id": interaction.conversation_id,
        "asked_at": interaction.created_at.isoformat(),
        "abstained": interaction.abstained,
        "served_curated_answer_id": interaction.curated_answer_id,
        "latency_ms": dict(interaction.latency_ms),
        "earlier_turns": _earlier_turns(session, interaction),
        "sources": [{**hit, "cited": hit.get("doc_id") in cited} for hit in interaction.hits],
        "citations": [dict(citation) for citation in interaction.citations],
        "feedback": [_feedback_dict(event) for event in feedback_for(session, interaction.id)],
        "audit": [
            {
                "action": row.action,
                "actor": row.actor,
                "before": row.before,
                "after": row.after,
                "note": row.note,
                "created_at": row.created_at.isoformat(),
            }
            for row in audit_trail(session, flag.id)
        ],
        "cluster_open": _cluster(session, flag),
        "curated": curated_dict(curated) if curated is not None else None,
    }
