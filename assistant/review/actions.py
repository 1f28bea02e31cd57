"""Review actions on flags: approve, correct, mark a knowledge gap, reject — audited, race-safe.

Every action takes the ``expected_version`` the lead saw; if the flag changed meanwhile (another
lead acted, new feedback arrived) it raises :class:`ReviewConflict` and changes nothing. The
version check is one ``UPDATE … WHERE id = ? AND version = ?``, so of two leads acting at once
exactly one wins. Each action writes a ``review_actions`` row (who, when, before/after).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from assistant.store.models import (
    CuratedAnswerRow,
    DocumentRow,
    FlagRow,
    InteractionRow,
    ReviewActionRow,
    utcnow,
)

if TYPE_CHECKING:
    from assistant.retrieval.embedder import Embedder

Action = Literal["approve", "correct", "gap", "reject"]
ACTIONS: tuple[Action, ...] = ("approve", "correct", "gap", "reject")
STATUS_OF: dict[str, str] = {
    "approve": "approved",
    "correct": "corrected",
    "gap": "gap",
    "reject": "rejected",
}
MAX_ANSWER_CHARS = 8000


class ReviewError(ValueError):
    """A review action that cannot apply (unknown flag, bad input, already reviewed)."""


class ReviewConflict(ReviewError):
    """The flag changed since the lead looked at it; reload and decide again."""


def _state(flag: FlagRow) -> dict[str, Any]:
    return {
        "status": flag.status,
        "version": flag.version,
        "reasons": list(flag.reasons),
        "note": flag.note,
        "curated_answer_id": flag.curated_answer_id,
    }


def get_flag(session: Session, flag_id: int) -> FlagRow:
    """The flag with ``flag_id``, or :class:`ReviewError` naming it."""
    flag = session.get(FlagRow, flag_id)
    if flag is None:
        raise ReviewError(f"no flag {flag_id}")
    return flag


def _check_doc_ids(session: Session, doc_ids: Sequence[str]) -> list[str]:
    doc_ids = list(dict.fromkeys(d.strip() for d in doc_ids if d.strip()))
    if doc_ids:
        known = set(session.scalars(select(DocumentRow.doc_id).where(DocumentRow.doc_id.in_(doc_ids))))
        unknown = [d for d in doc_ids if d not in known]
        if unknown:
            raise ReviewError(f"unknown document {unknown[0]!r} (see `assistant search` for ids)")
    return doc_ids


def _curate(
    session: Session,
    interaction: InteractionRow,
    answer: str,
    doc_ids: list[str],
    actor: str,
    embedder: Embedder | None,
) -> CuratedAnswerRow:
    now = utcnow()
    embedding = None
    if embedder is not None:
        embedding = [round(float(x), 6) for x in embedder.encode([interaction.question])[0]]
    row = CuratedAnswerRow(
        id=str(uuid.uuid4()),
        question=interaction.question,
        answer=answer,
        doc_ids=doc_ids,
        source_interaction_id=interaction.id,
        created_by=actor,
        enabled=True,
        embedding=embedding,
        served_count=0,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return row


def review(
    session: Session,
    flag_id: int,
    action: Action,
    *,
    expected_version: int,
    actor: str,
    answer: str | None = None,
    doc_ids: Sequence[str] = (),
    note: str | None = None,
    embedder: Embedder | None = None,
    curated_answer_id: str | None = None,
) -> FlagRow:
    """Apply one action to one open flag, or raise (nothing written) on bad input or conflict.

    ``approve`` turns the logged answer into a curated answer; ``correct`` needs ``answer``
    (and optional ``doc_ids``, checked against the ingested documents) and curates that;
    ``gap`` records ``note``; ``reject`` keeps the item out of curation and training.
    Pass ``embedder`` so the curated answer is matchable without re-embedding later.
    ``curated_answer_id`` links the flag to an existing curated answer (bulk actions).
    """
    if action not in ACTIONS:
        raise ReviewError(f"action must be one of {', '.join(ACTIONS)}; got {action!r}")
    if not actor or not actor.strip():
        raise ReviewError("actor must be a non-empty string")
    flag = get_flag(session, flag_id)
    if flag.version != expected_version:
        raise ReviewConflict(
            f"flag {flag_id} changed since you loaded it (version {expected_version}, now {flag.version}); "
            "reload it and decide again"
        )
    if flag.status != "open":
        raise ReviewConflict(f"flag {flag_id} was already reviewed ({flag.status} by {flag.reviewed_by})")
    interaction = session.get(InteractionRow, flag.interaction_id)
    assert interaction is not None  # the FK guarantees it
    before = _state(flag)
    curated_id = curated_answer_id
    if action == "approve" and curated_id is None:
        if interaction.abstained or not interaction.answer.strip():
            raise ReviewError(f"flag {flag_id} has no answer to approve (it abstained): correct it instead")
        cited = [c["doc_id"] for c in interaction.citations if c.get("doc_id")]
        curated_id = _curate(
            session, interaction, interaction.answer, _check_doc_ids(session, cited), actor, embedder
        ).id
    elif action == "correct" and curated_id is None:
        text = (answer or "").strip()
        if not text:
            raise ReviewError("a correction needs the answer text (--answer)")
        if len(text) > MAX_ANSWER_CHARS:
            raise ReviewError(f"the answer is longer than {MAX_ANSWER_CHARS} characters")
        curated_id = _curate(session, interaction, text, _check_doc_ids(session, doc_ids), actor, embedder).id
    new_note = (note or "").strip() or flag.note
    result = session.execute(
        update(FlagRow)
        .where(FlagRow.id == flag_id, FlagRow.version == expected_version, FlagRow.status == "open")
        .values(
            status=STATUS_OF[action],
            version=FlagRow.version + 1,
            note=new_note,
            curated_answer_id=curated_id,
            reviewed_by=actor,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ReviewConflict(
            f"flag {flag_id} was changed by someone else just now; reload it and decide again"
        )
    session.refresh(flag)
    session.add(
        ReviewActionRow(
            flag_id=flag_id,
            action=action,
            actor=actor,
            before=before,
            after=_state(flag),
            note=(note or "").strip() or None,
            created_at=utcnow(),
        )
    )
    session.flush()
    return flag


def review_cluster(
    session: Session,
    flag_id: int,
    action: Action,
    *,
    expected_version: int,
    actor: str,
    answer: str | None = None,
    doc_ids: Sequence[str] = (),
    note: str | None = None,
    embedder: Embedder | None = None,
) -> list[FlagRow]:
    """Apply ``action`` to ``flag_id`` and every other open flag of its cluster (one curated answer).

    ``expected_version`` guards the flag the lead looked at; the rest are taken as they are now.
    """
    first = review(
        session,
        flag_id,
        action,
        expected_version=expected_version,
        actor=actor,
        answer=answer,
        doc_ids=doc_ids,
        note=note,
        embedder=embedder,
    )
    done = [first]
    if first.cluster_id is None:
        return done
    others = session.scalars(
        select(FlagRow)
        .where(FlagRow.cluster_id == first.cluster_id, FlagRow.status == "open", FlagRow.id != flag_id)
        .order_by(FlagRow.id)
    )
    for flag in list(others):
        done.append(
            review(
                session,
                flag.id,
                action,
                expected_version=flag.version,
                actor=actor,
                note=note,
                curated_answer_id=first.curated_answer_id,
            )
        )
    return done


def audit_trail(session: Session, flag_id: int) -> list[ReviewActionRow]:
    """Every action taken on one flag, oldest first."""
    query = select(ReviewActionRow).where(ReviewActionRow.flag_id == flag_id).order_by(ReviewActionRow.id)
    return list(session.scalars(query))
