"""Coordinated voting: many distinct voters 👍 the same generated answer within a short window.

When ``settings.vote_burst_voters`` distinct voters 👍 generated answers with the same text within
``settings.vote_burst_minutes``, every such interaction is flagged ``vote_burst`` (a voter
count per 👍 that stops at the threshold; the window is scanned only when a vote completes a
burst). The reason sticks while the flag is open; a lead who rejects the item keeps it out of
every training set. :func:`assistant.feedback.feedback_write` runs :func:`burst_to_flag` on
every new 👍, inside the vote's transaction.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Integer, Select, String, and_, bindparam, cast, func, literal, or_, select
from sqlalchemy.orm import Session

from assistant.config import Settings
from assistant.review.flags import VOTE_BURST
from assistant.store.models import FeedbackRow, FlagRow, InteractionRow, utcnow

RECENT_VOTES_PER_VOTER = 4  # how many of the newest votes per wanted voter a burst check reads first


def burst_to_flag(
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
