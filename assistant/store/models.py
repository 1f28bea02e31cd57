"""Tables of the conversation log. Change them only together with a new migration."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

ID_LENGTH = 128
CHANNELS = ("api", "web", "slack", "cli")
RATINGS = ("up", "down")
RESOLUTIONS = ("resolved", "escalated", "unresolved")


def one_of(column: str, values: tuple[str, ...]) -> str:
    """The SQL check that ``column`` holds one of ``values``: the tuple is the one list of them."""
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


_clock_lock = threading.Lock()
_last_now = datetime.min.replace(tzinfo=timezone.utc)


def utcnow() -> datetime:
    """The current UTC time, strictly increasing within this process (orders same-µs rows)."""
    global _last_now
    with _clock_lock:
        now = datetime.now(timezone.utc)
        if now <= _last_now:
            now = _last_now + timedelta(microseconds=1)
        _last_now = now
        return now


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"timestamps must be timezone-aware, got naive {value!r}")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {datetime: UTCDateTime()}

    def __repr__(self) -> str:
        keys = []
        for column in self.__mapper__.primary_key:
            assert column.key is not None  # a table's columns always have one
            keys.append(f"{column.key}={getattr(self, column.key, None)!r}")
        return f"{type(self).__name__}({', '.join(keys)})"


class DocumentRow(Base):
    """One ingested document; ``origin`` is the absolute path of the file it came from."""

    __tablename__ = "documents"

    doc_id: Mapped[str] = mapped_column(String, primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    origin: Mapped[str] = mapped_column(Text, index=True)
    content_hash: Mapped[str] = mapped_column(String(128))
    chunk_count: Mapped[int] = mapped_column(Integer)
    ingested_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConversationRow(Base):
    """A thread of interactions in one channel; ``external_ref`` is e.g. a Slack thread ts."""

    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "external_ref"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str | None] = mapped_column(String)
    external_ref: Mapped[str | None] = mapped_column(String)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InteractionRow(Base):
    """One question and what the assistant did with it (sources, prompt, answer, release)."""

    __tablename__ = "interactions"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str | None] = mapped_column(String)
    question: Mapped[str] = mapped_column(Text)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    hits: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    prompt: Mapped[str | None] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    citations: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    abstained: Mapped[bool]
    confidence: Mapped[float] = mapped_column(Float)
    release_id: Mapped[str] = mapped_column(String, index=True)
    model_id: Mapped[str] = mapped_column(String)
    adapter_id: Mapped[str | None] = mapped_column(String)
    index_id: Mapped[str] = mapped_column(String)
    curated_answer_id: Mapped[str | None] = mapped_column(String)
    latency_ms: Mapped[dict[str, float]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class FeedbackRow(Base):
    """One feedback event; rows are only ever appended, never updated."""

    __tablename__ = "feedback_events"
    __table_args__ = (
        CheckConstraint(f"rating IS NULL OR {one_of('rating', RATINGS)}", name="rating"),
        CheckConstraint(f"resolution IS NULL OR {one_of('resolution', RESOLUTIONS)}", name="resolution"),
        CheckConstraint("rating IS NOT NULL OR resolution IS NOT NULL", name="has_signal"),
        # Flagging asks "has this interaction a 👎 / an escalation?" on every vote: answered from
        # these in one index seek each, however many votes a popular answer has.
        Index(None, "interaction_id", "rating"),
        Index(None, "interaction_id", "resolution"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    interaction_id: Mapped[str] = mapped_column(ForeignKey("interactions.id", ondelete="CASCADE"))
    rating: Mapped[str | None] = mapped_column(String(16))
    resolution: Mapped[str | None] = mapped_column(String(16))
    comment: Mapped[str | None] = mapped_column(Text)
    voter: Mapped[str | None] = mapped_column(String)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


FLAG_STATUSES = ("open", "approved", "corrected", "gap", "rejected", "cleared")
FLAG_REASONS = (
    "thumbs_down",
    "abstained",
    "low_confidence",
    "escalated",
    "unresolved",
    "vote_burst",
    "guarded",
    "degenerate",  # the model's answer looped, refused or was not grounded in the sources:
    "refused",  # the customer got an extractive answer instead (assistant/generation/answer_check.py)
    "ungrounded",
)


class FlagRow(Base):
    """An interaction waiting for (or settled by) a support lead; one per interaction.

    ``version`` grows with every change a lead could have missed (optimistic concurrency);
    ``cluster_id`` and ``priority`` are derived and recomputed without bumping it.
    """

    __tablename__ = "flags"
    __table_args__ = (CheckConstraint(one_of("status", FLAG_STATUSES), name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    interaction_id: Mapped[str] = mapped_column(
        ForeignKey("interactions.id", ondelete="CASCADE"), unique=True
    )
    reasons: Mapped[list[str]] = mapped_column(JSON)
    priority: Mapped[float] = mapped_column(Float, index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    cluster_id: Mapped[str | None] = mapped_column(String(64), index=True)
    embedding: Mapped[list[float] | None] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    curated_answer_id: Mapped[str | None] = mapped_column(
        ForeignKey("curated_answers.id", ondelete="SET NULL")
    )
    reviewed_by: Mapped[str | None] = mapped_column(String)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CuratedAnswerRow(Base):
    """A reviewed answer served as is for semantically close questions (live, not per release).

    Each serving is logged as an interaction with ``curated_answer_id`` set, and counted here.
    """

    __tablename__ = "curated_answers"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    doc_ids: Mapped[list[str]] = mapped_column(JSON)
    source_interaction_id: Mapped[str | None] = mapped_column(
        ForeignKey("interactions.id", ondelete="SET NULL")
    )
    created_by: Mapped[str] = mapped_column(String)
    enabled: Mapped[bool]
    embedding: Mapped[list[float] | None] = mapped_column(JSON)
    served_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class ReviewActionRow(Base):
    """The audit trail: who did what to which flag, when, with the state before and after."""

    __tablename__ = "review_actions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String)
    before: Mapped[dict[str, Any]] = mapped_column(JSON)
    after: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


ROLES = ("lead", "engineer", "admin")


class AdminUserRow(Base):
    """A person who may use the admin API (and, later, the admin UI); ``password_hash`` is argon2."""

    __tablename__ = "admin_users"
    __table_args__ = (CheckConstraint(one_of("role", ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    disabled: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiTokenRow(Base):
    """An API token for automation; only its SHA-256 is stored (the token is shown once)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("admin_users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked: Mapped[bool]


class AdminSessionRow(Base):
    """A browser session of the admin UI; only the cookie's SHA-256 is stored.

    ``csrf_token`` must come back with every state-changing request made with the cookie.
    """

    __tablename__ = "admin_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("admin_users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class SlackEventRow(Base):
    """A Slack event (or other once-only Slack job, e.g. ``review:<flag id>``) already taken.

    The key is the primary key, so of several deliveries (Slack retries, replicas racing) exactly
    one INSERT succeeds: that one does the work.
    """

    __tablename__ = "slack_events"

    event_id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


RUN_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled", "skipped")


class TrainingRunRow(Base):
    """One learning-cycle run: where it is (stage, step, loss, ETA), what it made, and its log.

    Written by the run as it goes; read by ``assistant flywheel status`` and the admin UI.
    ``cancel_requested`` is how anyone else asks it to stop (it checks between steps).
    """

    __tablename__ = "training_runs"
    __table_args__ = (CheckConstraint(one_of("status", RUN_STATUSES), name="status"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    stage: Mapped[str | None] = mapped_column(String(32))
    step: Mapped[int] = mapped_column(Integer, default=0)
    total_steps: Mapped[int] = mapped_column(Integer, default=0)
    loss: Mapped[float | None] = mapped_column(Float)
    examples: Mapped[int | None] = mapped_column(Integer)
    eta_s: Mapped[float | None] = mapped_column(Float)
    requested_by: Mapped[str | None] = mapped_column(String)
    cancel_requested: Mapped[bool]
    dataset_id: Mapped[str | None] = mapped_column(String)
    parent_release: Mapped[str | None] = mapped_column(String)
    candidate_release: Mapped[str | None] = mapped_column(String, index=True)
    verdict: Mapped[str | None] = mapped_column(String(16))
    activated: Mapped[bool]
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    log: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RunLockRow(Base):
    """A named lock held by one run (``flywheel``): the INSERT that succeeds holds it.

    A holder refreshes ``heartbeat_at``; a lock whose heartbeat is too old was left by a
    crashed run and may be taken over.
    """

    __tablename__ = "run_locks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_id: Mapped[str] = mapped_column(String(64))
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)


class ErasedUserRow(Base):
    """A tombstone of one erased customer: the SHA-256 of their user id, never the id itself.

    ``erased_ids`` lists the ids of the rows erased (``interactions``, ``feedback``,
    ``curated_answers``) and of curated answers kept with another question
    (``curated_rewritten``): random ids, no personal data. They let a later erase find dataset
    builds that named those rows, and keep a CSV re-import from bringing their words back.
    """

    __tablename__ = "erased_users"

    user_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    erased_ids: Mapped[dict[str, list[Any]]] = mapped_column(JSON)
    erased_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
