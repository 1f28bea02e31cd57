"""Flagging: which interactions a support lead should look at, how urgently, grouped by meaning.

Call :func:`flag_interaction` after an interaction is logged or gets feedback; it upserts one
flag per interaction (only while the flag is open). :func:`recluster` groups open flags whose
questions are near-duplicates and recomputes their priority.

:func:`record_feedback_and_flag` also watches for coordinated voting: when
``settings.vote_burst_voters`` distinct voters 👍 generated answers with the same text within
``settings.vote_burst_minutes``, every such interaction is flagged ``vote_burst`` (a voter
count per 👍 that stops at the threshold; the window is scanned only when a vote completes a
burst). The reason sticks while the flag is open; a lead who rejects the item keeps it out of
every training set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple, Required, TypedDict, Unpack

import numpy as np
from sqlalchemy import (
    ColumnElement,
    Exists,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    cast,
    exists,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, load_only

from assistant.config import Settings
from assistant.store.models import FeedbackRow, FlagRow, InteractionRow, utcnow
from assistant.store.repository import record_feedback

if TYPE_CHECKING:
    from assistant.retrieval.embedder import Embedder
    from assistant.store import Store

RECENT_VOTES_PER_VOTER = 4  # how many of the newest votes per wanted voter a burst check reads first
NEGATIVE_REASONS = ("thumbs_down", "escalated", "unresolved", "guarded")
VOTE_BURST = "vote_burst"
GUARDED = "guarded"  # the output guard withheld a prompt leak or removed a link off the allow-list
# priority = UNCERTAINTY_WEIGHT * (1 - confidence) + NEGATIVE_WEIGHT * negative outcomes
#          + BURST_WEIGHT * vote burst + ABSTAIN_WEIGHT * abstained
#          + SIMILAR_WEIGHT * other open flags in the cluster
UNCERTAINTY_WEIGHT = 1.0
NEGATIVE_WEIGHT = 1.0
BURST_WEIGHT = 2.0
ABSTAIN_WEIGHT = 0.5
SIMILAR_WEIGHT = 0.25


def compute_reasons(
    *,
    abstained: bool,
    confidence: float,
    feedback: Sequence[FeedbackRow | Outcome],
    settings: Settings,
    vote_burst: bool = False,
    guarded: bool = False,
) -> list[str]:
    """The reasons an interaction deserves review, in a fixed order (empty: it does not).

    ``feedback``: the interaction's feedback events, or the :class:`Outcome` pairs
    :func:`flag_interaction` reads.
    """
    found: set[str] = {VOTE_BURST} if vote_burst else set()
    if guarded:
        found.add(GUARDED)
    if abstained:
        found.add("abstained")
    elif confidence < settings.flag_below_confidence:
        found.add("low_confidence")
    for event in feedback:
        if event.rating == "down":
            found.add("thumbs_down")
        if event.resolution in ("escalated", "unresolved"):
            found.add(event.resolution)
    order = (GUARDED, VOTE_BURST, "thumbs_down", "escalated", "unresolved", "abstained", "low_confidence")
    return [reason for reason in order if reason in found]


def priority(reasons: Sequence[str], confidence: float, similar: int = 0) -> float:
    """How urgent a flag is: uncertainty, negative outcomes, and how often the question comes."""
    uncertainty = 1.0 - min(max(confidence, 0.0), 1.0)
    negatives = sum(reason in NEGATIVE_REASONS for reason in reasons)
    score = (
        UNCERTAINTY_WEIGHT * uncertainty
        + NEGATIVE_WEIGHT * negatives
        + BURST_WEIGHT * (VOTE_BURST in reasons)
        + ABSTAIN_WEIGHT * ("abstained" in reasons)
        + SIMILAR_WEIGHT * similar
    )
    return round(score, 4)


# built once, as the other statements run on every vote
_FLAG_OF = select(FlagRow).where(FlagRow.interaction_id == bindparam("interaction_id"))


def flag_interaction(
    session: Session,
    interaction_id: str,
    settings: Settings,
    embedder: Embedder | None = None,
    *,
    vote_burst: bool = False,
    guarded: bool = False,
) -> FlagRow | None:
    """Create or update the open flag of one interaction; None when it needs no review.

    A flag already reviewed (not open) is left as it is. With an ``embedder`` the question is
    embedded and the open flags re-clustered at once; without one that waits for
    :func:`recluster` (e.g. ``assistant review list``). ``vote_burst`` and ``guarded`` (the
    output guard intervened) add those reasons; an open flag keeps them once it has them.
    """
    interaction = session.get(InteractionRow, interaction_id)
    if interaction is None:
        raise LookupError(f"unknown interaction {interaction_id!r}")
    flag = session.scalars(_FLAG_OF, {"interaction_id": interaction_id}).one_or_none()
    reasons = compute_reasons(
        abstained=interaction.abstained,
        confidence=interaction.confidence,
        feedback=_outcomes(session, interaction_id),
        settings=settings,
        vote_burst=vote_burst or (flag is not None and VOTE_BURST in flag.reasons),
        guarded=guarded or (flag is not None and GUARDED in flag.reasons),
    )
    if not reasons:
        return flag
    now = utcnow()
    if flag is None:
        flag = FlagRow(
            interaction_id=interaction_id,
            reasons=reasons,
            priority=priority(reasons, interaction.confidence),
            status="open",
            version=1,
            created_at=now,
            updated_at=now,
        )
        try:
            with session.begin_nested():
                session.add(flag)
        except IntegrityError:  # flagged concurrently: the other writer's flag stands
            return session.scalars(_FLAG_OF, {"interaction_id": interaction_id}).one()
    elif flag.status == "open" and flag.reasons != reasons:
        flag.reasons = reasons
        flag.priority = priority(reasons, interaction.confidence)
        flag.version += 1
        flag.updated_at = now
    else:
        return flag
    session.flush()
    if embedder is not None:
        recluster(session, settings, embedder)
    return flag


_FLAGGING_COLUMNS = (
    InteractionRow.answer,
    InteractionRow.abstained,
    InteractionRow.confidence,
    InteractionRow.curated_answer_id,
    InteractionRow.user_id,
    InteractionRow.conversation_id,
)
_LOAD_FLAGGING_COLUMNS = load_only(*_FLAGGING_COLUMNS)  # built once: an option costs as much as a query


class FeedbackEvent(TypedDict, total=False):
    """A vote and/or an outcome for one interaction, as :func:`record_feedback` takes it."""

    interaction_id: Required[str]
    rating: str | None
    resolution: str | None
    comment: str | None
    voter: str | None
    idempotency_key: str | None


def record_feedback_and_flag(
    store: Store, settings: Settings, **event: Unpack[FeedbackEvent]
) -> tuple[int, bool]:
    """Store one feedback event and (re)flag its interaction, in one transaction: ``(event id, created)``.

    What every channel (API, widget, Slack, CLI) calls for a vote or an outcome. Raises
    ``LookupError`` for an unknown interaction and ``ValueError`` for invalid or conflicting feedback.
    Clusters are not recomputed here (that is O(open flags²) inside the write transaction, and it
    held up every vote under load): the queue's readers call :func:`recluster` first. Votes
    arriving together are committed together (:meth:`Store.write`); this returns once its vote
    is committed. Async code hands :func:`feedback_write` to :meth:`Store.write_async` instead.
    """
    return store.write(feedback_write(settings, **event))


def feedback_write(
    settings: Settings, **event: Unpack[FeedbackEvent]
) -> Callable[[Session], tuple[int, bool]]:
    """The write unit of :func:`record_feedback_and_flag`, for :meth:`Store.write` or ``write_async``."""
    interaction_id = event["interaction_id"]

    def record(session: Session) -> tuple[int, bool]:
        # Flagging reads a few scalars of the interaction, never its prompt or JSON columns (the
        # bulk of the row): load just those, once. While this reference lives, the session's
        # (weak) identity map hands the same object to the gets in record_feedback and
        # flag_interaction instead of loading the row again.
        interaction = session.get(InteractionRow, interaction_id, options=[_LOAD_FLAGGING_COLUMNS])
        row, created = record_feedback(session, **event)
        upvote = created and event.get("rating") == "up"
        burst = _vote_burst(session, row, interaction, settings) if upvote else []
        for other in burst:
            if other != row.interaction_id:
                flag_interaction(session, other, settings, vote_burst=True)
        flag_interaction(session, row.interaction_id, settings, vote_burst=row.interaction_id in burst)
        return row.id, created

    return record


def _vote_burst(
    session: Session, vote: FeedbackRow, interaction: InteractionRow | None, settings: Settings
) -> list[str]:
    """The interactions a new 👍 shows to be in a vote burst, to flag ``vote_burst`` now.

    A burst: at least ``vote_burst_voters`` distinct voters (the voter given, else the asker,
    else the conversation) rated generated answers with this text 👍 within the last
    ``vote_burst_minutes``. An attack means thousands of votes in the window and every one
    runs this, so the window is scanned in full only when this vote completes a burst (the
    other voters were one short): then every interaction of the burst still missing the reason
    is returned (open flags without it, or none; reviewed flags stand). While a burst goes on,
    a vote returns only its own interaction, found by a voter count that stops at the
    threshold. Curated and abstained answers are never a burst (a lead wrote them, or nothing
    was said).
    """
    if interaction is None or interaction.curated_answer_id or interaction.abstained:
        return []
    params = {
        "since": utcnow() - timedelta(minutes=settings.vote_burst_minutes),
        "answer": interaction.answer,
        "vote_id": vote.id,
    }
    others = _voters(session, params, settings.vote_burst_voters)
    if len(others) < settings.vote_burst_voters and _serialize_burst_checks(session, interaction.answer):
        others = _voters(session, params, settings.vote_burst_voters)  # a vote committed meanwhile?
    if len(others) >= settings.vote_burst_voters:
        return [vote.interaction_id]  # the burst was complete before this vote
    user, conversation = interaction.user_id, interaction.conversation_id
    this_voter = vote.voter or (f"user:{user}" if user else f"conversation:{conversation}")
    if len(others | {this_voter}) < settings.vote_burst_voters:
        return []
    return sorted(session.scalars(_BURST_INTERACTIONS_TO_FLAG, params))


def _burst_votes(column: Any) -> Select:
    """The 👍 since ``:since`` on generated answers whose text is ``:answer``, as ``column``."""
    return (
        select(column)
        .select_from(FeedbackRow)
        .join(InteractionRow, InteractionRow.id == FeedbackRow.interaction_id)
        .where(
            FeedbackRow.created_at >= bindparam("since"),
            FeedbackRow.rating == "up",
            InteractionRow.answer == bindparam("answer"),
            InteractionRow.curated_answer_id.is_(None),
        )
    )


# The burst check runs on every 👍, so its statements are built once, here.
_OTHER_VOTERS = _burst_votes(
    func.coalesce(
        FeedbackRow.voter,
        literal("user:") + InteractionRow.user_id,
        literal("conversation:") + InteractionRow.conversation_id,
    )
).where(FeedbackRow.id != bindparam("vote_id"))
_RECENT_OTHER_VOTERS = _OTHER_VOTERS.order_by(FeedbackRow.created_at.desc()).limit(
    bindparam("rows", type_=Integer)
)
_DISTINCT_OTHER_VOTERS = _OTHER_VOTERS.distinct().limit(bindparam("enough", type_=Integer))
_BURST_INTERACTIONS_TO_FLAG = (  # open flags without the reason yet, or none
    _burst_votes(FeedbackRow.interaction_id)
    .outerjoin(FlagRow, FlagRow.interaction_id == FeedbackRow.interaction_id)
    .where(
        or_(
            FlagRow.id.is_(None),
            and_(
                FlagRow.status == "open",
                ~cast(FlagRow.reasons, String).contains(f'"{VOTE_BURST}"', autoescape=True),
            ),
        )
    )
    .distinct()
)


def _voters(session: Session, params: dict[str, Any], enough: int) -> set[str]:
    """The distinct other voters of a burst check (``params``), stopping once ``enough`` are found.

    The newest votes are read first, a few per voter wanted: during a burst of distinct
    voters that settles it in one short, index-ordered read. Only when those rows repeat
    voters is the whole window read (PostgreSQL sorts it all for ``DISTINCT``).
    """
    rows_read = RECENT_VOTES_PER_VOTER * enough
    recent = session.scalars(_RECENT_OTHER_VOTERS, {**params, "rows": rows_read}).all()
    found = set(recent)
    if len(found) >= enough or len(recent) < rows_read:
        return found
    return set(session.scalars(_DISTINCT_OTHER_VOTERS, {**params, "enough": enough}))


def _serialize_burst_checks(session: Session, answer: str) -> bool:
    """Make the checks that may complete a burst of ``answer`` wait for each other's commits.

    True when this had to wait (PostgreSQL), so what was counted before may be out of date.

    Else two votes committing together could each count the other's voter as missing, and the
    interactions they saw would never get the reason. SQLite transactions already run one at
    a time (``BEGIN IMMEDIATE``); on PostgreSQL a transaction-level advisory lock per answer
    text does it.
    """
    if session.get_bind().dialect.name != "postgresql":
        return False
    session.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(answer, 0))))
    return True


class Outcome(NamedTuple):
    """A (rating, resolution) pair of an interaction's feedback, as flagging reads it."""

    rating: str | None
    resolution: str | None


def _given(condition: ColumnElement[bool]) -> Exists:
    return exists().where(FeedbackRow.interaction_id == bindparam("interaction_id"), condition)


_NEGATIVES = (Outcome("down", None), Outcome(None, "escalated"), Outcome(None, "unresolved"))
# Built once (building a statement costs as much as running it): which of _NEGATIVES were given?
_NEGATIVE_OUTCOMES = select(
    _given(FeedbackRow.rating == "down"),
    _given(FeedbackRow.resolution == "escalated"),
    _given(FeedbackRow.resolution == "unresolved"),
)


def _outcomes(session: Session, interaction_id: str) -> list[Outcome]:
    """The negative outcomes among one interaction's feedback: all flagging needs of it.

    Not the events themselves: a popular (or attacked) answer has thousands of 👍, and every
    new vote re-flags it. Each outcome is one seek in an index of (interaction, rating or
    resolution), however many votes there are.
    """
    seen = session.execute(_NEGATIVE_OUTCOMES, {"interaction_id": interaction_id}).one()
    return [outcome for outcome, given in zip(_NEGATIVES, seen, strict=True) if given]


@dataclass(frozen=True)
class _Open:
    flag: FlagRow
    question: str
    confidence: float


def recluster(session: Session, settings: Settings, embedder: Embedder | None = None) -> int:
    """Group open flags with cosine ≥ ``settings.cluster_similarity``; returns the cluster count.

    Greedy union of every pair above the threshold; a cluster's id is its oldest flag's id,
    so it stays put as new flags join. Questions not embedded yet are embedded when an
    ``embedder`` is given, else they stay alone. Priorities are recomputed with the cluster
    size; neither touches ``version``.
    """
    query = (
        select(FlagRow, InteractionRow.question, InteractionRow.confidence)
        .join(InteractionRow, InteractionRow.id == FlagRow.interaction_id)
        .where(FlagRow.status == "open")
        .order_by(FlagRow.id)
    )
    rows = [_Open(flag, question, confidence) for flag, question, confidence in session.execute(query)]
    missing = [row for row in rows if row.flag.embedding is None]
    if missing and embedder is not None:
        vectors = embedder.encode([row.question for row in missing])
        for row, vector in zip(missing, vectors, strict=True):
            row.flag.embedding = [round(float(x), 6) for x in vector]
    parent = list(range(len(rows)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    embedded = [i for i, row in enumerate(rows) if row.flag.embedding is not None]
    if embedded:
        matrix = np.asarray([rows[i].flag.embedding for i in embedded], dtype=np.float32)
        similar = matrix @ matrix.T
        for a, b in zip(*np.nonzero(np.triu(similar >= settings.cluster_similarity, k=1)), strict=True):
            root_a, root_b = find(embedded[a]), find(embedded[b])
            if root_a != root_b:
                parent[max(root_a, root_b)] = min(root_a, root_b)  # the oldest flag stays the root
    members: dict[int, list[int]] = {}
    for i in range(len(rows)):
        members.setdefault(find(i), []).append(i)
    for root, group in members.items():
        for i in group:
            flag = rows[i].flag
            flag.cluster_id = str(rows[root].flag.id)
            flag.priority = priority(flag.reasons, rows[i].confidence, similar=len(group) - 1)
    session.flush()
    return len(members)


def flag_dict(flag: FlagRow, interaction: InteractionRow) -> dict[str, Any]:
    """One queue item as JSON: what ``assistant review list --json`` prints."""
    return {
        "id": flag.id,
        "interaction_id": flag.interaction_id,
        "question": interaction.question,
        "answer": interaction.answer,
        "reasons": list(flag.reasons),
        "priority": flag.priority,
        "cluster": flag.cluster_id,
        "status": flag.status,
        "version": flag.version,
        "confidence": round(interaction.confidence, 4),
        "channel": interaction.channel,
        "release": interaction.release_id,
        "created_at": flag.created_at.isoformat(),
    }


def list_flags(
    session: Session,
    *,
    reason: str | None = None,
    status: str | None = "open",
    channel: str | None = None,
    release: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """The review queue, most urgent first; each filter given narrows it.

    ``since``/``until`` bound when the question was asked (``until`` excluded).
    """
    query = select(FlagRow, InteractionRow).join(InteractionRow, InteractionRow.id == FlagRow.interaction_id)
    if status is not None:
        query = query.where(FlagRow.status == status)
    if channel is not None:
        query = query.where(InteractionRow.channel == channel)
    if release is not None:
        query = query.where(InteractionRow.release_id == release)
    if since is not None:
        query = query.where(InteractionRow.created_at >= since)
    if until is not None:
        query = query.where(InteractionRow.created_at < until)
    query = query.order_by(FlagRow.priority.desc(), FlagRow.id)
    items = [flag_dict(flag, interaction) for flag, interaction in session.execute(query)]
    if reason is not None:  # reasons is a JSON list: filtered here, the same on every backend
        items = [item for item in items if reason in item["reasons"]]
    return items[:limit]
