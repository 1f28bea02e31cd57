"""Knowledge gaps: questions the help centre does not answer, grouped, exported, cleared.

A gap is an open flag the assistant abstained on, or any flag a lead marked ``gap``. Use
:func:`knowledge_gaps` to list them by cluster (count, example questions), :func:`gaps_csv` to
hand them to a writer, and :func:`clear_gaps` after an ingest: each gap question is retrieved
again and closed (status ``cleared``, audited) once retrieval is confident enough.
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from assistant.store.models import FlagRow, InteractionRow, ReviewActionRow, utcnow

if TYPE_CHECKING:
    from assistant.config import Settings
    from assistant.retrieval.retriever import Retriever
    from assistant.store import Store

EXAMPLES = 3
GAPS_ACTOR = "ingest"


def _gap_rows(session: Session) -> list[tuple[FlagRow, InteractionRow]]:
    abstained_open = (FlagRow.status == "open") & InteractionRow.abstained.is_(True)
    query = (
        select(FlagRow, InteractionRow)
        .join(InteractionRow, InteractionRow.id == FlagRow.interaction_id)
        .where(or_(FlagRow.status == "gap", abstained_open))
        .order_by(FlagRow.id)
    )
    return [(flag, interaction) for flag, interaction in session.execute(query)]


def knowledge_gaps(session: Session) -> list[dict[str, Any]]:
    """Gaps grouped by cluster, most asked first: count, example questions, flag ids, notes."""
    groups: dict[str, dict[str, Any]] = {}
    for flag, interaction in _gap_rows(session):
        key = flag.cluster_id or str(flag.id)
        group = groups.setdefault(
            key, {"cluster": key, "count": 0, "examples": [], "flag_ids": [], "notes": [], "marked": False}
        )
        group["count"] += 1
        group["flag_ids"].append(flag.id)
        group["marked"] = group["marked"] or flag.status == "gap"
        if len(group["examples"]) < EXAMPLES and interaction.question not in group["examples"]:
            group["examples"].append(interaction.question)
        if flag.note and flag.note not in group["notes"]:
            group["notes"].append(flag.note)
    return sorted(groups.values(), key=lambda g: (-g["count"], g["flag_ids"][0]))


def gaps_csv(session: Session) -> str:
    """:func:`knowledge_gaps` as CSV: cluster, count, examples and notes (`` | ``-separated)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["cluster", "count", "examples", "notes", "flag_ids"])
    for gap in knowledge_gaps(session):
        writer.writerow(
            [
                gap["cluster"],
                gap["count"],
                " | ".join(gap["examples"]),
                " | ".join(gap["notes"]),
                " ".join(map(str, gap["flag_ids"])),
            ]
        )
    return buffer.getvalue()


def clear_gaps(store: Store, retriever: Retriever, settings: Settings) -> list[int]:
    """Close the gaps the index now answers (confidence ≥ ``settings.min_confidence``); their ids.

    Call after an ingest changed the index. Each closed flag gets status ``cleared`` and an
    audit row by ``ingest``; a flag changed meanwhile is left for the next ingest.
    """
    with store.session() as session:
        pending = [(flag.id, flag.version, flag.status, q.question) for flag, q in _gap_rows(session)]
    cleared: list[int] = []
    for flag_id, version, status, question in pending:
        result = retriever.search(question, settings.top_k)
        if not result.hits or result.confidence < settings.min_confidence:
            continue
        with store.session() as session:
            changed = session.execute(
                update(FlagRow)
                .where(FlagRow.id == flag_id, FlagRow.version == version)
                .values(status="cleared", version=version + 1, reviewed_by=GAPS_ACTOR, updated_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            if changed.rowcount != 1:  # type: ignore[attr-defined]
                continue
            session.add(
                ReviewActionRow(
                    flag_id=flag_id,
                    action="clear",
                    actor=GAPS_ACTOR,
                    before={"status": status, "version": version},
                    after={
                        "status": "cleared",
                        "version": version + 1,
                        "confidence": round(result.confidence, 4),
                    },
                    note=f"answered by {result.hits[0].chunk.doc_id} after an ingest",
                    created_at=utcnow(),
                )
            )
        cleared.append(flag_id)
    return cleared
