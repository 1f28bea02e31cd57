"""Lead-verified answers as training examples, each with its provenance.

The learning cycle reads these (with :func:`training_examples`) to build its SFT set and its
retriever pairs. The source of truth is the set of *enabled* curated answers: what a lead
approved, corrected, edited or imported, as it stands now. A disabled or deleted curated
answer is no longer vouched for, so it yields nothing; rejected flags never make a curated
answer, so they never yield one either. Every example names where it came from: the flags and
interactions it settled, who reviewed it and when, and the answer the model first gave.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assistant.store.models import CuratedAnswerRow, FlagRow, InteractionRow, ReviewActionRow


def _reviews(session: Session, curated_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """For each curated answer, the flags it settled with their interaction and review action."""
    if not curated_ids:
        return {}
    query = (
        select(FlagRow, InteractionRow)
        .join(InteractionRow, InteractionRow.id == FlagRow.interaction_id)
        .where(FlagRow.curated_answer_id.in_(curated_ids))
        .order_by(FlagRow.id)
    )
    rows = session.execute(query).all()
    acted = {
        row.flag_id: row
        for row in session.scalars(
            select(ReviewActionRow)
            .where(ReviewActionRow.flag_id.in_([flag.id for flag, _ in rows]))
            .order_by(ReviewActionRow.id)
        )
    }  # the latest action per flag wins
    found: dict[str, list[dict[str, Any]]] = {}
    for flag, interaction in rows:
        action = acted.get(flag.id)
        assert flag.curated_answer_id is not None  # the query selects flags of curated_ids only
        found.setdefault(flag.curated_answer_id, []).append(
            {
                "flag_id": flag.id,
                "status": flag.status,
                "interaction_id": interaction.id,
                "conversation_id": interaction.conversation_id,
                "channel": interaction.channel,
                "question": interaction.question,
                "original_answer": interaction.answer,
                "reasons": list(flag.reasons),
                "release_id": interaction.release_id,
                "model_id": interaction.model_id,
                "adapter_id": interaction.adapter_id,
                "reviewed_by": action.actor if action else flag.reviewed_by,
                "reviewed_at": action.created_at.isoformat() if action else None,
                "history": [dict(turn) for turn in interaction.history],
                "sources": [dict(hit) for hit in interaction.hits],
            }
        )
    return found


def training_examples(session: Session) -> Iterator[dict[str, Any]]:
    """One example per enabled curated answer, oldest first: question, answer, documents, provenance.

    ``kind`` is ``corrected`` or ``approved`` when a review made it (the first flag it settled
    decides), ``imported`` when a lead wrote or imported it directly. ``history`` and
    ``sources`` are those of the interaction it settled first (empty for imported answers).
    """
    curated = list(
        session.scalars(
            select(CuratedAnswerRow)
            .where(CuratedAnswerRow.enabled.is_(True))
            .order_by(CuratedAnswerRow.created_at, CuratedAnswerRow.id)
        )
    )
    reviews = _reviews(session, [row.id for row in curated])
    for row in curated:
        settled = reviews.get(row.id, [])
        first = settled[0] if settled else None
        yield {
            "id": row.id,
            "kind": first["status"] if first else "imported",  # approved or corrected
            "question": row.question,
            "answer": row.answer,
            "doc_ids": list(row.doc_ids),
            "history": first["history"] if first else [],
            "sources": first["sources"] if first else [],
            "provenance": {
                "curated_answer_id": row.id,
                "created_by": row.created_by,
                "created_at": row.created_at.isoformat(),
                "updated_at": row.updated_at.isoformat(),
                "reviews": [
                    {key: value for key, value in review.items() if key not in ("history", "sources")}
                    for review in settled
                ],
            },
        }
