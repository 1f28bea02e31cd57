"""Curated answers: reviewed answers served as is, at once, for semantically close questions.

Use :class:`CuratedMatcher` in the answering path (one per process): ``match(question)``
returns the closest enabled curated answer above ``settings.curated_min_similarity``. It keeps
a matrix of question embeddings in memory and reloads it when the table changes (row count or
latest ``updated_at``), which works across processes: a correction made with the CLI is
served by a running server on its next question. The functions below list, edit, enable,
disable, delete, import and export curated answers (CSV).
"""

from __future__ import annotations

import csv
import io
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from assistant.privacy import erased_record_ids
from assistant.store.models import ID_LENGTH, CuratedAnswerRow, utcnow

if TYPE_CHECKING:
    from assistant.retrieval.embedder import Embedder
    from assistant.store import Store

CSV_COLUMNS = ("id", "question", "answer", "doc_ids", "enabled")
_TRUE = {"1", "true", "yes", "y", "on"}
_FALSE = {"0", "false", "no", "n", "off"}


class CuratedError(ValueError):
    """Bad input for a curated answer (unknown id, bad CSV row); nothing was changed."""


@dataclass(frozen=True)
class CuratedMatch:
    """The curated answer to serve, and how close the question was."""

    id: str
    question: str
    answer: str
    doc_ids: tuple[str, ...]
    similarity: float


def curated_dict(row: CuratedAnswerRow) -> dict[str, Any]:
    """One curated answer as JSON (``assistant curated list --json``)."""
    return {
        "id": row.id,
        "question": row.question,
        "answer": row.answer,
        "doc_ids": list(row.doc_ids),
        "enabled": row.enabled,
        "served_count": row.served_count,
        "created_by": row.created_by,
        "source_interaction_id": row.source_interaction_id,
        "created_at": row.created_at.isoformat(),
        "updated_at": row.updated_at.isoformat(),
    }


def list_curated(session: Session) -> list[CuratedAnswerRow]:
    """Every curated answer, oldest first."""
    return list(session.scalars(select(CuratedAnswerRow).order_by(CuratedAnswerRow.created_at)))


def get_curated(session: Session, curated_id: str) -> CuratedAnswerRow:
    """One curated answer, or :class:`CuratedError` naming the id."""
    row = session.get(CuratedAnswerRow, curated_id)
    if row is None:
        raise CuratedError(f"no curated answer {curated_id!r}")
    return row


def edit_curated(
    session: Session,
    curated_id: str,
    *,
    question: str | None = None,
    answer: str | None = None,
    doc_ids: Sequence[str] | None = None,
    enabled: bool | None = None,
) -> CuratedAnswerRow:
    """Change a curated answer; a changed question drops its embedding (re-embedded on load)."""
    row = get_curated(session, curated_id)
    if question is not None:
        if not question.strip():
            raise CuratedError("the question is empty")
        if question.strip() != row.question:
            row.question, row.embedding = question.strip(), None
    if answer is not None:
        if not answer.strip():
            raise CuratedError("the answer is empty")
        row.answer = answer.strip()
    if doc_ids is not None:
        row.doc_ids = list(doc_ids)
    if enabled is not None:
        row.enabled = enabled
    row.updated_at = utcnow()
    session.flush()
    return row


def delete_curated(session: Session, curated_id: str) -> None:
    """Remove a curated answer for good (flags that made it keep their audit trail)."""
    session.delete(get_curated(session, curated_id))
    session.flush()


def record_serving(session: Session, curated_id: str) -> None:
    """Count one serving (the interaction itself logs which curated answer it got)."""
    session.execute(
        update(CuratedAnswerRow)
        .where(CuratedAnswerRow.id == curated_id)
        .values(served_count=CuratedAnswerRow.served_count + 1)
        .execution_options(synchronize_session=False)
    )


# --- CSV ---------------------------------------------------------------------------------------


def export_csv(session: Session) -> str:
    """Every curated answer as CSV: id, question, answer, doc_ids (space-separated), enabled."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in list_curated(session):
        writer.writerow([row.id, row.question, row.answer, " ".join(row.doc_ids), str(row.enabled).lower()])
    return buffer.getvalue()


def _parse_csv(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("question", "answer") if c not in (reader.fieldnames or [])]
    if missing:
        raise CuratedError(f"the CSV has no {missing[0]!r} column (expected {', '.join(CSV_COLUMNS)})")
    rows = []
    for line, raw in enumerate(reader, start=2):
        question, answer = (raw.get("question") or "").strip(), (raw.get("answer") or "").strip()
        if not question or not answer:
            raise CuratedError(f"line {line}: question and answer must not be empty")
        enabled_text = (raw.get("enabled") or "true").strip().lower()
        if enabled_text not in _TRUE | _FALSE:
            raise CuratedError(f"line {line}: enabled must be true or false, not {enabled_text!r}")
        if len((raw.get("id") or "").strip()) > ID_LENGTH:
            raise CuratedError(f"line {line}: id is longer than {ID_LENGTH} characters")
        rows.append(
            {
                "id": (raw.get("id") or "").strip() or None,
                "question": question,
                "answer": answer,
                "doc_ids": (raw.get("doc_ids") or "").split(),
                "enabled": enabled_text in _TRUE,
            }
        )
    return rows


def import_csv(session: Session, text: str, *, actor: str) -> dict[str, int]:
    """Add or update curated answers from CSV (rows with a known id update it); all or nothing.

    Every row is checked before anything is written; a bad row raises :class:`CuratedError`
    naming its line. An old export does not bring an erased customer's words back
    (:mod:`assistant.privacy`): a row whose curated answer was erased with them is skipped, and
    one whose question was replaced keeps today's question; both count as ``erased``.
    """
    rows = _parse_csv(text)
    erased = erased_record_ids(session, "curated_answers")
    rewritten = erased_record_ids(session, "curated_rewritten")
    added = updated = skipped = 0
    for data in rows:
        if data["id"] in erased:
            skipped += 1
            continue
        row = session.get(CuratedAnswerRow, data["id"]) if data["id"] else None
        if row is not None and row.id in rewritten and data["question"] != row.question:
            data["question"] = row.question
            skipped += 1
        if row is None:
            now = utcnow()
            session.add(
                CuratedAnswerRow(
                    id=data["id"] or str(uuid.uuid4()),
                    question=data["question"],
                    answer=data["answer"],
                    doc_ids=data["doc_ids"],
                    created_by=actor,
                    enabled=data["enabled"],
                    embedding=None,
                    served_count=0,
                    created_at=now,
                    updated_at=now,
                )
            )
            added += 1
        else:
            edit_curated(
                session,
                row.id,
                question=data["question"],
                answer=data["answer"],
                doc_ids=data["doc_ids"],
                enabled=data["enabled"],
            )
            updated += 1
    session.flush()
    return {"added": added, "updated": updated, "erased": skipped}


# --- matching ----------------------------------------------------------------------------------


class CuratedMatcher:
    """Finds the enabled curated answer closest to a question (in memory, refreshed on change)."""

    def __init__(self, store: Store, embedder: Embedder) -> None:
        self.store = store
        self.embedder = embedder
        self._lock = threading.Lock()
        self._signature: tuple[int, datetime | None] | None = None
        self._rows: list[CuratedMatch] = []
        self._matrix = np.zeros((0, embedder.dimension), dtype=np.float32)

    def _refresh(self) -> None:
        with self.store.session() as session:
            count, updated_at = session.execute(
                select(func.count(CuratedAnswerRow.id), func.max(CuratedAnswerRow.updated_at))
            ).one()
            signature = (int(count), updated_at)
            if signature == self._signature:
                return
            rows = list(session.scalars(select(CuratedAnswerRow).where(CuratedAnswerRow.enabled.is_(True))))
        missing = [row for row in rows if not row.embedding or len(row.embedding) != self.embedder.dimension]
        fresh: np.ndarray | list[np.ndarray] = (
            self.embedder.encode([row.question for row in missing]) if missing else []
        )
        by_id = {row.id: vector for row, vector in zip(missing, fresh, strict=True)}
        vectors = [by_id[row.id] if row.id in by_id else np.asarray(row.embedding) for row in rows]
        matrix = np.asarray(vectors, dtype=np.float32).reshape(len(rows), self.embedder.dimension)
        with self._lock:
            self._rows = [CuratedMatch(r.id, r.question, r.answer, tuple(r.doc_ids), 0.0) for r in rows]
            self._matrix = matrix
            self._signature = signature

    def match(self, query_vector: np.ndarray, min_similarity: float) -> CuratedMatch | None:
        """The best enabled curated answer with cosine ≥ ``min_similarity``, or None.

        ``query_vector`` is the question's embedding, computed once per question by the caller
        (the retriever reuses it).
        """
        self._refresh()
        with self._lock:
            rows, matrix = self._rows, self._matrix
        if not rows:
            return None
        scores = matrix @ query_vector
        best = int(np.argmax(scores))
        if float(scores[best]) < min_similarity:
            return None
        found = rows[best]
        return CuratedMatch(found.id, found.question, found.answer, found.doc_ids, float(scores[best]))
