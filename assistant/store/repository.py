"""Reads and writes of the conversation log: plain functions taking a ``Session`` first.

Functions flush but never commit: the caller's ``Store.session()`` block is the transaction.
Bad input raises ``ValueError`` and unknown ids raise ``LookupError``, both before anything
is written.

Over 400 lines: documents, conversations, interactions and feedback events share their
validation and the transaction rules above; cutting them apart is the next step when it grows.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import bindparam, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assistant.store.models import (
    CHANNELS,
    ID_LENGTH,
    RATINGS,
    RESOLUTIONS,
    ConversationRow,
    DocumentRow,
    FeedbackRow,
    InteractionRow,
    utcnow,
)
from assistant.types import Citation, Hit, Turn

MAX_COMMENT_CHARS = 2000
MAX_IDEMPOTENCY_KEY_CHARS = 200
_BATCH = 500  # ids per IN (...) clause; well under every backend's parameter limit

RowT = TypeVar("RowT")


class IdempotencyConflict(ValueError):
    """An idempotency key was reused for a different feedback event."""


# --- helpers -------------------------------------------------------------------------------


def _batches(values: Iterable[str]) -> Iterable[list[str]]:
    batch: list[str] = []
    for value in values:
        batch.append(value)
        if len(batch) == _BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _check_id(value: str, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty string")
    if len(value) > ID_LENGTH:
        raise ValueError(f"{what} is longer than {ID_LENGTH} characters")
    return value


def _check_channel(channel: str) -> str:
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(CHANNELS)}; got {channel!r}")
    return channel


def _insert_or_get(session: Session, row: RowT, find: Callable[[], RowT | None]) -> tuple[RowT, bool]:
    """Insert ``row`` in a SAVEPOINT; if a unique key already holds it, return that row instead.

    Race-safe: when a concurrent transaction inserted the same key first, our INSERT fails,
    only the savepoint is rolled back, and ``find`` then sees the committed row.
    """
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        existing = find()
        if existing is None:
            raise
        return existing, False
    return row, True


def _blank_to_none(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


# --- documents -----------------------------------------------------------------------------


def upsert_document(
    session: Session,
    *,
    doc_id: str,
    title: str,
    source: str,
    origin: str,
    content_hash: str,
    chunk_count: int,
) -> None:
    """Record a document after (re-)indexing it; replaces the stored row with the same id."""
    if not doc_id:
        raise ValueError("doc_id must be a non-empty string")
    row = session.get(DocumentRow, doc_id)
    if row is None:
        row = DocumentRow(doc_id=doc_id)
        session.add(row)
    row.title = title
    row.source = source
    row.origin = origin
    row.content_hash = content_hash
    row.chunk_count = chunk_count
    row.ingested_at = utcnow()
    session.flush()


def delete_documents(session: Session, doc_ids: Iterable[str]) -> int:
    """Forget documents removed from the knowledge base; returns how many rows went."""
    deleted = 0
    for batch in _batches(dict.fromkeys(doc_ids)):
        result = session.execute(
            delete(DocumentRow).where(DocumentRow.doc_id.in_(batch)),
            execution_options={"synchronize_session": "fetch"},
        )
        deleted += result.rowcount  # type: ignore[attr-defined]
    return deleted


def get_document(session: Session, doc_id: str) -> DocumentRow | None:
    """The stored row of one document, or None."""
    return session.get(DocumentRow, doc_id)


def list_documents(session: Session) -> list[DocumentRow]:
    """Every stored document, by id."""
    return list(session.scalars(select(DocumentRow).order_by(DocumentRow.doc_id)))


def get_conversation(session: Session, conversation_id: str) -> ConversationRow | None:
    """One conversation by id, or None."""
    return session.get(ConversationRow, conversation_id)


def conversation_by_ref(session: Session, channel: str, external_ref: str) -> ConversationRow | None:
    """The conversation a channel knows by its own reference (a Slack thread, a widget session), or None."""
    query = select(ConversationRow).where(
        ConversationRow.channel == channel, ConversationRow.external_ref == external_ref
    )
    return session.scalars(query).one_or_none()


def get_or_create_conversation(
    session: Session,
    *,
    conversation_id: str | None,
    channel: str,
    user_id: str | None,
    external_ref: str | None = None,
) -> ConversationRow:
    """The conversation a new message belongs to, created on first use (race-safe).

    Found by ``conversation_id`` (a client-chosen id that does not exist yet is created with
    that id), else by ``(channel, external_ref)`` such as a Slack thread; otherwise a new one.
    """
    check_conversation_key(conversation_id, channel)
    if conversation_id is not None:
        row = session.get(ConversationRow, conversation_id)
        if row is not None:
            return row
    if external_ref is not None:
        row = conversation_by_ref(session, channel, external_ref)
        if row is not None:
            return row
    new = ConversationRow(
        id=conversation_id or str(uuid.uuid4()),
        channel=channel,
        user_id=user_id,
        external_ref=external_ref,
        created_at=utcnow(),
    )

    def find() -> ConversationRow | None:
        if conversation_id is not None and (row := session.get(ConversationRow, conversation_id)):
            return row
        return conversation_by_ref(session, channel, external_ref) if external_ref is not None else None

    return _insert_or_get(session, new, find)[0]


class ConversationKeyError(ValueError):
    """A conversation id or channel the log cannot take (blank, too long, unknown channel)."""


def check_conversation_key(conversation_id: str | None, channel: str) -> None:
    """Raise :class:`ConversationKeyError` unless :func:`get_or_create_conversation` accepts
    this id and channel."""
    try:
        _check_channel(channel)
        if conversation_id is not None:
            _check_id(conversation_id, "conversation_id")
    except ValueError as exc:
        raise ConversationKeyError(str(exc)) from None


SHARED_CHANNELS = frozenset({"slack"})  # a Slack thread is one conversation for everyone in it


def may_join(row: ConversationRow, *, channel: str, user_id: str | None) -> bool:
    """True when ``user_id`` on ``channel`` may add to the existing conversation ``row``.

    Knowing another customer's conversation id must not give their history as context, nor a
    place in their log.
    """
    return row.channel == channel and (channel in SHARED_CHANNELS or row.user_id == user_id)


def conversation_turns(session: Session, conversation_id: str, limit: int) -> list[Turn]:
    """The last ``limit`` question/answer pairs as user/assistant turns, oldest first."""
    if limit <= 0:
        return []
    query = (
        select(InteractionRow.question, InteractionRow.answer)
        .where(InteractionRow.conversation_id == conversation_id)
        .order_by(InteractionRow.created_at.desc(), InteractionRow.id.desc())
        .limit(limit)
    )
    turns: list[Turn] = []
    for question, answer in reversed(session.execute(query).all()):
        turns += [Turn("user", question), Turn("assistant", answer)]
    return turns


# --- interactions --------------------------------------------------------------------------


def _turn_dict(turn: Turn | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(turn, Turn):
        return {"role": turn.role, "content": turn.content}
    return dict(turn)


def _hit_dict(hit: Hit | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(hit, Hit):
        data = hit.to_dict()
        del data["text"]
        return data
    return dict(hit)


def _citation_dict(citation: Citation | Mapping[str, Any]) -> dict[str, Any]:
    return citation.to_dict() if isinstance(citation, Citation) else dict(citation)


def record_interaction(
    session: Session,
    *,
    conversation_id: str,
    question: str,
    answer: str,
    release_id: str,
    model_id: str,
    index_id: str,
    channel: str | None = None,
    user_id: str | None = None,
    history: Sequence[Turn | Mapping[str, Any]] = (),
    hits: Sequence[Hit | Mapping[str, Any]] = (),
    prompt: str | None = None,
    citations: Sequence[Citation | Mapping[str, Any]] = (),
    abstained: bool = False,
    confidence: float = 0.0,
    adapter_id: str | None = None,
    curated_answer_id: str | None = None,
    latency_ms: Mapping[str, float] | None = None,
    interaction_id: str | None = None,
    created_at: datetime | None = None,
) -> str:
    """Log one answered (or abstained) question; returns its id (``interaction_id`` or a uuid4).

    ``channel`` and ``user_id`` default to the conversation's. ``hits`` may be :class:`Hit`
    objects (stored without their text), ``history`` :class:`Turn` objects, ``citations``
    :class:`Citation` objects, or plain dicts.
    """
    conversation = session.get(ConversationRow, conversation_id)
    if conversation is None:
        raise LookupError(f"unknown conversation {conversation_id!r}")
    row = InteractionRow(
        id=_check_id(interaction_id, "interaction_id") if interaction_id is not None else str(uuid.uuid4()),
        conversation_id=conversation_id,
        channel=_check_channel(channel) if channel is not None else conversation.channel,
        user_id=user_id if user_id is not None else conversation.user_id,
        question=question,
        history=[_turn_dict(turn) for turn in history],
        hits=[_hit_dict(hit) for hit in hits],
        prompt=prompt,
        answer=answer,
        citations=[_citation_dict(citation) for citation in citations],
        abstained=bool(abstained),
        confidence=float(confidence),
        release_id=release_id,
        model_id=model_id,
        adapter_id=adapter_id,
        index_id=index_id,
        curated_answer_id=curated_answer_id,
        latency_ms={key: float(value) for key, value in (latency_ms or {}).items()},
        created_at=created_at or utcnow(),
    )
    session.add(row)
    session.flush()
    return row.id


def get_interaction(session: Session, interaction_id: str) -> InteractionRow | None:
    """One logged interaction by id, or None."""
    return session.get(InteractionRow, interaction_id)


# --- feedback ------------------------------------------------------------------------------


def feedback_key(
    interaction_id: str,
    voter: str | None,
    rating: str | None,
    resolution: str | None,
    comment: str | None,
) -> str:
    """The idempotency key of a vote posted without one: equal votes get equal keys."""
    payload = json.dumps([interaction_id, voter, rating, resolution, comment], ensure_ascii=False)
    return "auto:" + hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _check_feedback(rating: str | None, resolution: str | None, comment: str | None) -> None:
    if rating is not None and rating not in RATINGS:
        raise ValueError(f"rating must be 'up' or 'down' (or omitted), not {rating!r}")
    if resolution is not None and resolution not in RESOLUTIONS:
        raise ValueError(
            f"resolution must be one of {', '.join(map(repr, RESOLUTIONS))} (or omitted), not {resolution!r}"
        )
    if rating is None and resolution is None:
        raise ValueError("feedback needs a rating or a resolution")
    if comment is not None and len(comment) > MAX_COMMENT_CHARS:
        raise ValueError(f"comment is longer than {MAX_COMMENT_CHARS} characters ({len(comment)})")


_FEEDBACK_BY_KEY = select(FeedbackRow).where(FeedbackRow.idempotency_key == bindparam("key"))  # run per vote


def _find_feedback(session: Session, idempotency_key: str) -> FeedbackRow | None:
    return session.scalars(_FEEDBACK_BY_KEY, {"key": idempotency_key}).one_or_none()


def _same_feedback(row: FeedbackRow, new: FeedbackRow) -> bool:
    fields = ("interaction_id", "rating", "resolution", "comment", "voter")
    return all(getattr(row, name) == getattr(new, name) for name in fields)


def record_feedback(
    session: Session,
    *,
    interaction_id: str,
    rating: str | None = None,
    resolution: str | None = None,
    comment: str | None = None,
    voter: str | None = None,
    idempotency_key: str | None = None,
) -> tuple[FeedbackRow, bool]:
    """Append a feedback event once; returns ``(row, created)``.

    Posting the same event again (same ``idempotency_key``, or without one the same
    interaction, voter, rating, resolution and comment) returns the stored row with
    ``created=False``, also when the posts race. Reusing a key for a different event raises
    :class:`IdempotencyConflict`; an unknown interaction raises ``LookupError``.
    """
    comment, voter = _blank_to_none(comment), _blank_to_none(voter)
    _check_feedback(rating, resolution, comment)
    if idempotency_key is None:
        idempotency_key = feedback_key(interaction_id, voter, rating, resolution, comment)
    elif not idempotency_key.strip() or len(idempotency_key) > MAX_IDEMPOTENCY_KEY_CHARS:
        raise ValueError(f"idempotency_key must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} characters")
    if session.get(InteractionRow, interaction_id) is None:
        raise LookupError(f"unknown interaction {interaction_id!r}")

    new = FeedbackRow(
        idempotency_key=idempotency_key,
        interaction_id=interaction_id,
        rating=rating,
        resolution=resolution,
        comment=comment,
        voter=voter,
        created_at=utcnow(),
    )
    existing = _find_feedback(session, idempotency_key)
    if existing is None:
        row, created = _insert_or_get(session, new, lambda: _find_feedback(session, idempotency_key))
    else:
        row, created = existing, False
    if not created and not _same_feedback(row, new):
        raise IdempotencyConflict(f"idempotency_key {idempotency_key!r} was already used for other feedback")
    return row, created


def feedback_for(session: Session, interaction_id: str) -> list[FeedbackRow]:
    """Every feedback event of one interaction, oldest first."""
    query = select(FeedbackRow).where(FeedbackRow.interaction_id == interaction_id).order_by(FeedbackRow.id)
    return list(session.scalars(query))


__all__ = [
    "IdempotencyConflict",
    "MAX_COMMENT_CHARS",
    "ConversationKeyError",
    "check_conversation_key",
    "conversation_turns",
    "delete_documents",
    "feedback_for",
    "feedback_key",
    "get_conversation",
    "get_document",
    "get_interaction",
    "get_or_create_conversation",
    "list_documents",
    "record_feedback",
    "record_interaction",
    "upsert_document",
]
