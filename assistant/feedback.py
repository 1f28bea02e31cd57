"""Recording a vote or an outcome, and the flags it raises: what every channel calls.

The HTTP API (``POST /v1/feedback``), the widget (``POST /widget/v1/feedback``), Slack's answer
buttons and ``assistant feedback`` all store feedback through :func:`record_feedback_and_flag`
(async code through :func:`feedback_write`), so a vote means the same thing wherever it comes
from: the event is stored once (idempotent), its interaction is (re)flagged, and a new 👍 is
checked for coordinated voting (:mod:`assistant.review.bursts`). Telling people about an
escalation is the channel's part (:mod:`assistant.escalation`): when, and with what link,
differs per channel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Required, TypedDict, Unpack

from sqlalchemy.orm import Session, load_only

from assistant.config import Settings
from assistant.review.bursts import burst_to_flag
from assistant.review.flags import flag_interaction
from assistant.store.models import InteractionRow
from assistant.store.repository import record_feedback

if TYPE_CHECKING:
    from assistant.store import Store


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
    held up every vote under load): the queue's readers call
    :func:`~assistant.review.clusters.recluster` first. Votes arriving together are committed
    together (:meth:`Store.write`); this returns once its vote is committed. Async code hands
    :func:`feedback_write` to :meth:`Store.write_async` instead.
    """
    return store.write(feedback_write(settings, **event))


_FLAGGING_COLUMNS = (
    InteractionRow.answer,
    InteractionRow.abstained,
    InteractionRow.confidence,
    InteractionRow.curated_answer_id,
    InteractionRow.user_id,
    InteractionRow.conversation_id,
)
_LOAD_FLAGGING_COLUMNS = load_only(*_FLAGGING_COLUMNS)  # built once: an option costs as much as a query


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
        burst = burst_to_flag(session, row, interaction, settings) if upvote else []
        for other in burst:
            if other != row.interaction_id:
                flag_interaction(session, other, settings, vote_burst=True)
        flag_interaction(session, row.interaction_id, settings, vote_burst=row.interaction_id in burst)
        return row.id, created

    return record
