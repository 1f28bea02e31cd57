"""Flagging: which interactions a support lead should look at, and how urgently.

Call :func:`flag_interaction` after an interaction is logged or gets feedback; it upserts one
flag per interaction (only while the flag is open). Votes reach it through
:func:`assistant.feedback.record_feedback_and_flag`, which also watches for coordinated voting
(:mod:`assistant.review.bursts`); :mod:`assistant.review.clusters` groups open flags whose
questions are near-duplicates and recomputes their priority.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import ColumnElement, Exists, bindparam, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from assistant.config import Settings
from assistant.store.models import FeedbackRow, FlagRow, InteractionRow, utcnow

if TYPE_CHECKING:
    from assistant.retrieval.embedder import Embedder

NEGATIVE_REASONS = ("thumbs_down", "escalated", "unresolved", "guarded")
VOTE_BURST = "vote_burst"
GUARDED = "guarded"  # the output guard withheld a prompt leak or removed a link off the allow-list
# the model's answer was replaced by an extractive one (assistant.generation.answer_check): why
FALLBACK_REASONS = ("degenerate", "refused", "ungrounded")
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
    fallback: Sequence[str] = (),
) -> list[str]:
    """The reasons an interaction deserves review, in a fixed order (empty: it does not).

    ``feedback``: the interaction's feedback events, or the :class:`Outcome` pairs
    :func:`flag_interaction` reads; ``fallback``: why the model's answer was replaced.
    """
    found: set[str] = {VOTE_BURST} if vote_burst else set()
    found.update(fallback)
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
    order = (
        GUARDED,
        VOTE_BURST,
        "thumbs_down",
        "escalated",
        "unresolved",
        *FALLBACK_REASONS,
        "abstained",
        "low_confidence",
    )
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
    fallback: str | None = None,
) -> FlagRow | None:
    """Create or update the open flag of one interaction; None when it needs no review.

    A flag already reviewed (not open) is left as it is. With an ``embedder`` the question is
    embedded and the open flags re-clustered at once; without one that waits for
    :func:`~assistant.review.clusters.recluster` (e.g. ``assistant review list``). ``vote_burst``,
    ``guarded`` (the output guard intervened) and ``fallback`` (why the model's answer was
    replaced) add those reasons; an open flag keeps them once it has them.
    """
    interaction = session.get(InteractionRow, interaction_id)
    if interaction is None:
        raise LookupError(f"unknown interaction {interaction_id!r}")
    flag = session.scalars(_FLAG_OF, {"interaction_id": interaction_id}).one_or_none()
    kept = flag.reasons if flag is not None else []
    reasons = compute_reasons(
        abstained=interaction.abstained,
        confidence=interaction.confidence,
        feedback=_outcomes(session, interaction_id),
        settings=settings,
        vote_burst=vote_burst or (flag is not None and VOTE_BURST in flag.reasons),
        guarded=guarded or (flag is not None and GUARDED in flag.reasons),
        fallback=[reason for reason in (fallback, *kept) if reason in FALLBACK_REASONS],
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
        from assistant.review.clusters import recluster  # clusters reads priority() from here

        recluster(session, settings, embedder)
    return flag


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
